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
//! - the name `localhost`, in any letter case (host names are case-insensitive);
//! - nothing else: not `0.0.0.0` or `::` (unspecified, not loopback, though a connection to them
//!   reaches the host on Linux), not `localhost.` with a trailing dot or `x.localhost` (names
//!   a resolver may answer for), not an IPv6 address with a zone id, not shorthand or octal
//!   IPv4 (`127.1`, `0177.0.0.1`) or a percent-encoded host, which a parser would have to
//!   normalise first: parse, don't normalise.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Whether an address is loopback, in any of its forms.
pub fn is_loopback_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// Whether a URL's host, as written between `://` (and any user info) and the port, is a
/// loopback host: `localhost`, a dotted-decimal IPv4 address, or a bracketed IPv6 address.
pub fn is_loopback_host(host: &str) -> bool {
    if let Some(inside) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return inside
            .parse::<Ipv6Addr>()
            .is_ok_and(|v6| is_loopback_ip(IpAddr::V6(v6)));
    }
    if let Ok(v4) = host.parse::<Ipv4Addr>() {
        return is_loopback_ip(IpAddr::V4(v4));
    }
    host.eq_ignore_ascii_case("localhost")
}

/// Public URLs and whether each is plain HTTP to a loopback host, for every entry point that
/// decides it to be tested against (`identity::Identity::check_url`, the server's cookie
/// policy): the tricky forms that hand-written parsers have disagreed on. `None`: the URL must
/// be refused outright where a bare origin is required.
#[doc(hidden)]
pub const CASES: &[(&str, Option<bool>)] = &[
    ("http://localhost", Some(true)),
    ("http://localhost:8420", Some(true)),
    ("http://LOCALHOST:8420", Some(true)),
    ("http://127.0.0.1:8420", Some(true)),
    ("http://127.9.8.7", Some(true)),
    ("http://[::1]:8420", Some(true)),
    ("http://[::ffff:127.0.0.1]:8420", Some(true)),
    ("http://localhost.:8420", Some(false)),
    ("http://x.localhost:8420", Some(false)),
    ("http://0.0.0.0:8420", Some(false)),
    ("http://[::]:8420", Some(false)),
    ("http://127.0.0.1.evil.example", Some(false)),
    ("http://localhost.evil.example", Some(false)),
    ("http://10.0.0.1:8420", Some(false)),
    ("http://vault.example", Some(false)),
    // User info: the host is the part after `@`.
    ("http://127.0.0.1@evil.example", None),
    ("http://localhost:8420@evil.example", None),
    // Shorthand, octal and percent-encoded forms a WHATWG parser would rewrite to 127.0.0.1.
    ("http://127.1", None),
    ("http://0177.0.0.1", None),
    ("http://%31%32%37.0.0.1", None),
    // A zone id names an interface, not loopback.
    ("http://[::1%25lo]:8420", None),
    ("http://[fe80::1%25eth0]:8420", None),
    // Bad ports.
    ("http://localhost:0", None),
    ("http://localhost:65536", None),
    ("http://localhost:", None),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule() {
        for (host, want) in [
            ("localhost", true),
            ("LocalHost", true),
            ("127.0.0.1", true),
            ("127.255.255.254", true),
            ("[::1]", true),
            ("[0:0:0:0:0:0:0:1]", true),
            ("[::ffff:127.0.0.1]", true),
            ("[::ffff:7f00:1]", true),
            ("localhost.", false),
            ("localhost.localdomain", false),
            ("0.0.0.0", false),
            ("[::]", false),
            ("::1", false),
            ("[::1%lo]", false),
            ("127.1", false),
            ("0177.0.0.1", false),
            ("127.0.0.01", false),
            ("%31%32%37.0.0.1", false),
            ("128.0.0.1", false),
            ("[::2]", false),
            ("[::ffff:10.0.0.1]", false),
            ("", false),
        ] {
            assert_eq!(is_loopback_host(host), want, "{host}");
        }
    }

    /// The identity file's rule agrees with the table: plain HTTP only to a loopback host, and
    /// every tricky form refused.
    #[test]
    fn identity_urls_follow_the_table() {
        use crate::identity::{Identity, IdentityError};
        for (url, loopback) in CASES {
            let got = Identity::check_url(url);
            match loopback {
                Some(true) => assert_eq!(got, Ok(()), "{url}"),
                Some(false) => assert_eq!(got, Err(IdentityError::InsecureUrl), "{url}"),
                None => assert!(got.is_err(), "{url}"),
            }
            // Over HTTPS only the refusals stay refusals.
            let https = url.replacen("http://", "https://", 1);
            assert_eq!(
                Identity::check_url(&https).is_ok(),
                loopback.is_some(),
                "{https}"
            );
        }
    }
}
