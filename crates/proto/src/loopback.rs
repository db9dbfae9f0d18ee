//! What "loopback" means, once for the workspace: an identity file's `apiUrl` may be plain HTTP
//! only to a loopback host, the dashboard's cookies are `Secure` unless the public URL is one,
//! the outbound guard (webhooks, OIDC key fetches) refuses loopback unless allowed, and the
//! server refuses plain HTTP, the metrics listener and the benchmark mode off loopback. Each of
//! those asks here, so they cannot disagree.
//!
//! The rule:
//!
//! - an IPv4 address in `127.0.0.0/8`, the IPv6 address `::1`, and an IPv4-mapped IPv6 address
//!   of `127.0.0.0/8` (`::ffff:127.0.0.1`: a dual-stack socket reaches loopback through it);
//! - the name `localhost` (in lower case: [`crate::web_url`] refuses a URL the parser would
//!   lower-case);
//! - nothing else: not `0.0.0.0` or `::` (unspecified, not loopback, though a connection to them
//!   reaches the host on Linux), not `localhost.` with a trailing dot or `x.localhost` (names
//!   a resolver may answer for), not an IPv6 address with a zone id, not shorthand or octal
//!   IPv4 (`127.1`, `0177.0.0.1`) or a percent-encoded host, which a parser would have to
//!   normalise first: parse, don't normalise.
//!
//! URLs are parsed by [`crate::web_url`] only, which asks [`is_loopback_url_host`] of the
//! parsed host; the tricky cases every caller is tested against are [`crate::web_url::CASES`].

use std::net::IpAddr;

/// Whether an address is loopback, in any of its forms.
pub fn is_loopback_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// Whether a parsed URL's host is loopback: `localhost` (the parser has lower-cased it) or a
/// loopback address. Hosts reach this only through [`crate::web_url::WebUrl`], which has
/// already refused every spelling it would have had to rewrite.
pub fn is_loopback_url_host(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(name) => name.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(v4) => is_loopback_ip(IpAddr::V4(*v4)),
        url::Host::Ipv6(v6) => is_loopback_ip(IpAddr::V6(*v6)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule() {
        for (host, want) in [
            ("localhost", true),
            ("127.0.0.1", true),
            ("127.255.255.254", true),
            ("[::1]", true),
            ("[::ffff:7f00:1]", true),
            ("localhost.", false),
            ("localhost.localdomain", false),
            ("0.0.0.0", false),
            ("[::]", false),
            ("128.0.0.1", false),
            ("[::2]", false),
            ("[::ffff:a00:1]", false),
        ] {
            let url = crate::web_url::WebUrl::parse(&format!("http://{host}")).unwrap();
            assert_eq!(url.is_loopback(), want, "{host}");
        }
        assert!(is_loopback_ip("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!is_loopback_ip("::".parse().unwrap()));
    }

    /// The identity file's rule agrees with the table: plain HTTP only to a loopback host, and
    /// every tricky form refused.
    #[test]
    fn identity_urls_follow_the_table() {
        use crate::identity::Identity;
        for (url, want) in crate::web_url::CASES {
            assert_eq!(Identity::check_url(url).is_ok(), want.identity, "{url:?}");
        }
    }
}
