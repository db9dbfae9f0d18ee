//! Web URLs, read once for the workspace by one parser (the `url` crate, the WHATWG URL
//! standard that reqwest also connects with): the server's public URL, a client's `--server`
//! and identity file's `apiUrl`, webhook targets, workload issuers and SSO providers. Each of
//! those parses here, so what one calls loopback, or a host, the others call the same.
//!
//! Parse, don't normalise: a URL is taken only when the parser writes it back exactly as it was
//! given, so the text an operator sees, stores or compares (an issuer's `iss`) is the URL that
//! is connected to. `HTTP://Host`, `http://host:80`, `http://127.1`, `http://[0::1]`,
//! `http://[::1]:08080`, `http://exa%6dple.com` and a URL with spaces around it are all refused
//! with the form the parser would have made of them, rather than silently rewritten. The one
//! spelling tolerated is an empty path written as nothing (`https://vault.example`), which the
//! parser writes as `/`.
//!
//! Besides that, every web URL here is `http` or `https`, at most [`MAX_LEN`] bytes, without
//! user info (`http://localhost@evil.example` goes to `evil.example`), without a fragment (never
//! sent to a server), with a port from 1 to 65535, and a host that is a DNS name of ASCII
//! letters, digits, `-`, `.` and `_`, a dotted-quad IPv4 address or a bracketed IPv6 address.
//! Whether the host is loopback is [`crate::loopback`]'s rule on the parsed host.

use std::net::IpAddr;

/// The longest URL accepted, in bytes.
pub const MAX_LEN: usize = 2048;

/// Why a URL was refused. The messages name no setting: callers prefix the one they read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UrlError {
    /// Longer than [`MAX_LEN`].
    #[error("is longer than {MAX_LEN} bytes")]
    TooLong,
    /// The parser refused it outright.
    #[error("is not a URL ({0})")]
    Unparsable(url::ParseError),
    /// Not `http` or `https`.
    #[error("must start with https:// or http://")]
    Scheme,
    /// A user name or password before the host.
    #[error("must not carry a user name or password (user@host)")]
    UserInfo,
    /// A `#fragment`.
    #[error("must not have a fragment (#...)")]
    Fragment,
    /// Port 0.
    #[error("must have a port from 1 to 65535")]
    PortZero,
    /// A host name with characters DNS names do not have.
    #[error(
        "must have a host that is a DNS name of ASCII letters, digits, `-`, `.` and `_`, a \
         dotted-quad IPv4 address or a bracketed IPv6 address"
    )]
    Host,
    /// Scheme, host or port as the parser would not write them.
    #[error(
        "is not written as a URL parser reads it: write its scheme, host and port as {0} \
         (lower case, no default port, no leading zeros, IPv4 as four decimal numbers, IPv6 in \
         its shortest form, nothing around it)"
    )]
    Origin(String),
    /// Path or query as the parser would not write them.
    #[error(
        "is not written as a URL parser reads it: its path or query would be rewritten \
         (percent-encode spaces and special characters; no `.` or `..` segments or backslashes)"
    )]
    PathOrQuery,
    /// A path or query where only `scheme://host[:port]` belongs.
    #[error("must be scheme://host[:port], with no path, trailing slash or query")]
    NotOrigin,
}

/// A parsed `http` or `https` URL, exactly as it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebUrl {
    url: url::Url,
}

impl WebUrl {
    /// Parses a web URL as written (see the module's rules).
    pub fn parse(text: &str) -> Result<Self, UrlError> {
        if text.len() > MAX_LEN {
            return Err(UrlError::TooLong);
        }
        let url = url::Url::parse(text).map_err(UrlError::Unparsable)?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err(UrlError::Scheme);
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(UrlError::UserInfo);
        }
        if url.fragment().is_some() {
            return Err(UrlError::Fragment);
        }
        if url.port() == Some(0) {
            return Err(UrlError::PortZero);
        }
        let parsed = Self { url };
        // The parser lower-cases and punycodes names; the characters left are checked here, and
        // the spelling by the comparison below.
        if let Some(url::Host::Domain(name)) = parsed.url.host()
            && !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
        {
            return Err(UrlError::Host);
        }
        let canonical = parsed.url.as_str();
        let as_written = canonical == text
            || (parsed.url.path() == "/"
                && parsed.url.query().is_none()
                && canonical.strip_suffix('/') == Some(text));
        if !as_written {
            let origin = parsed.origin();
            return Err(
                if text.starts_with(&origin) && text[origin.len()..].starts_with(['/', '?']) {
                    UrlError::PathOrQuery
                } else {
                    UrlError::Origin(origin)
                },
            );
        }
        Ok(parsed)
    }

    /// Parses `scheme://host[:port]` as written, with nothing after it, not even `/`: the form
    /// of the server's public URL and of an identity file's `apiUrl`, to which paths are
    /// appended as they are.
    pub fn parse_origin(text: &str) -> Result<Self, UrlError> {
        let url = Self::parse(text)?;
        if text.len() != url.origin().len() {
            return Err(UrlError::NotOrigin);
        }
        Ok(url)
    }

    /// Parses a server URL given to a client: `scheme://host[:port]`, or the same with one
    /// trailing `/` (which people type).
    pub fn parse_server(text: &str) -> Result<Self, UrlError> {
        let url = Self::parse(text)?;
        if url.url.path() != "/" || url.url.query().is_some() {
            return Err(UrlError::NotOrigin);
        }
        Ok(url)
    }

    /// `scheme://host[:port]`, without the path: the base requests are made against, and the
    /// browser's `Origin` for this URL.
    pub fn origin(&self) -> String {
        format!("{}://{}", self.url.scheme(), self.authority())
    }

    /// `host[:port]`, the port only when written.
    pub fn authority(&self) -> String {
        let host = self.url.host_str().unwrap_or_default();
        match self.url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        }
    }

    /// The URL as the parser writes it (an empty path as `/`).
    pub fn as_str(&self) -> &str {
        self.url.as_str()
    }

    /// The parsed URL, for an HTTP client.
    pub fn url(&self) -> &url::Url {
        &self.url
    }

    /// Whether the scheme is `https`.
    pub fn is_https(&self) -> bool {
        self.url.scheme() == "https"
    }

    /// Whether the host is loopback, by the workspace's one rule ([`crate::loopback`]).
    pub fn is_loopback(&self) -> bool {
        self.url
            .host()
            .is_some_and(|h| crate::loopback::is_loopback_url_host(&h))
    }

    /// `https://`, or `http://` to a loopback host: where signed requests and tokens may go.
    pub fn is_secure(&self) -> bool {
        self.is_https() || self.is_loopback()
    }

    /// The host as written in the URL: a name, a dotted quad, or a bracketed IPv6 address.
    pub fn host_str(&self) -> &str {
        self.url.host_str().unwrap_or_default()
    }

    /// The host's address when it is an IP literal.
    pub fn ip(&self) -> Option<IpAddr> {
        match self.url.host()? {
            url::Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
            url::Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
            url::Host::Domain(_) => None,
        }
    }

    /// The port, written or the scheme's default.
    pub fn port(&self) -> u16 {
        // Every URL here is http or https, which have default ports.
        self.url.port_or_known_default().unwrap_or(443)
    }

    /// Whether there is a query (`?...`).
    pub fn has_query(&self) -> bool {
        self.url.query().is_some()
    }
}

impl std::fmt::Display for WebUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.url.as_str())
    }
}

/// An IP address as a URL's host, as the parser writes it: a dotted quad, or a bracketed IPv6
/// address in the parser's shortest form (`[::ffff:a00:1]`, which Rust would write
/// `::ffff:10.0.0.1`).
pub fn ip_host(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => url::Host::<String>::Ipv4(v4).to_string(),
        IpAddr::V6(v6) => url::Host::<String>::Ipv6(v6).to_string(),
    }
}

/// Who reads a URL, for [`CASES`].
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdicts {
    /// An identity file's `apiUrl` (`Identity::check_url`): a bare origin, https or loopback.
    pub identity: bool,
    /// A client's `--server` (the SDK's base URL): as `identity`, with one trailing `/` allowed.
    pub server_flag: bool,
    /// The server's public URL (`--api-url`, `SIGNET_API_URL`): a bare origin, any host
    /// (plain HTTP off loopback is `--insecure-http`'s business).
    pub api_url: bool,
    /// A webhook or issuer URL's form, before any address check: any path and query.
    pub outbound: bool,
    /// Whether the host is loopback, for the ones that parse (the cookie policy, plain-HTTP
    /// rules).
    pub loopback: bool,
}

const fn v(
    identity: bool,
    server_flag: bool,
    api_url: bool,
    outbound: bool,
    loopback: bool,
) -> Verdicts {
    Verdicts {
        identity,
        server_flag,
        api_url,
        outbound,
        loopback,
    }
}

/// Tricky URLs and what each caller must make of them. Every caller's tests walk this one list
/// (`identity`, the client's base URL, the server's config and cookie policy, the webhook guard,
/// the issuer check), so they cannot drift apart again.
#[doc(hidden)]
pub const CASES: &[(&str, Verdicts)] = &[
    // Loopback, plain HTTP: fine everywhere.
    ("http://localhost", v(true, true, true, true, true)),
    ("http://localhost:8420", v(true, true, true, true, true)),
    ("http://127.0.0.1:8420", v(true, true, true, true, true)),
    ("http://127.9.8.7", v(true, true, true, true, true)),
    ("http://[::1]:8420", v(true, true, true, true, true)),
    (
        "http://[::ffff:7f00:1]:8420",
        v(true, true, true, true, true),
    ),
    // Not loopback: plain HTTP only where the server's own flag decides.
    ("http://localhost.:8420", v(false, false, true, true, false)),
    (
        "http://x.localhost:8420",
        v(false, false, true, true, false),
    ),
    ("http://0.0.0.0:8420", v(false, false, true, true, false)),
    ("http://[::]:8420", v(false, false, true, true, false)),
    (
        "http://127.0.0.1.evil.example",
        v(false, false, true, true, false),
    ),
    (
        "http://localhost.evil.example",
        v(false, false, true, true, false),
    ),
    ("http://10.0.0.1:8420", v(false, false, true, true, false)),
    ("http://vault.example", v(false, false, true, true, false)),
    ("https://vault.example", v(true, true, true, true, false)),
    (
        "https://vault.example:8443",
        v(true, true, true, true, false),
    ),
    (
        "https://signet_server:8443",
        v(true, true, true, true, false),
    ),
    ("https://[2001:db8::1]", v(true, true, true, true, false)),
    // A trailing slash: a client's --server may have it; an origin may not.
    ("https://vault.example/", v(false, true, false, true, false)),
    ("http://localhost:8420/", v(false, true, false, true, true)),
    // Paths and queries: outbound URLs only.
    (
        "https://vault.example/hook?a=b",
        v(false, false, false, true, false),
    ),
    (
        "https://vault.example//",
        v(false, false, false, true, false),
    ),
    // Written otherwise than the parser writes them: refused by every caller.
    ("HTTP://localhost:8420", v(false, false, false, false, true)),
    ("http://LOCALHOST:8420", v(false, false, false, false, true)),
    (
        "https://Vault.Example",
        v(false, false, false, false, false),
    ),
    ("http://localhost:80", v(false, false, false, false, true)),
    (
        "https://vault.example:443",
        v(false, false, false, false, false),
    ),
    ("http://[::1]:08080", v(false, false, false, false, true)),
    (
        "http://[0:0:0:0:0:0:0:1]",
        v(false, false, false, false, true),
    ),
    (
        "http://[::ffff:127.0.0.1]:8420",
        v(false, false, false, false, true),
    ),
    ("http://127.1", v(false, false, false, false, true)),
    ("http://0177.0.0.1", v(false, false, false, false, true)),
    ("http://2130706433", v(false, false, false, false, true)),
    ("http://0x7f.0.0.1", v(false, false, false, false, true)),
    (
        "http://%31%32%37.0.0.1",
        v(false, false, false, false, true),
    ),
    (
        "https://exa%6dple.com",
        v(false, false, false, false, false),
    ),
    (
        "https://vault.example/a/../b",
        v(false, false, false, false, false),
    ),
    (
        "https://vault.example\\hook",
        v(false, false, false, false, false),
    ),
    (
        "https://vault.example/a b",
        v(false, false, false, false, false),
    ),
    (
        " https://vault.example",
        v(false, false, false, false, false),
    ),
    (
        "https://vault.example ",
        v(false, false, false, false, false),
    ),
    (
        "https://vault.example\n",
        v(false, false, false, false, false),
    ),
    (
        "https://vault.exampl\te",
        v(false, false, false, false, false),
    ),
    (
        "https://bücher.example",
        v(false, false, false, false, false),
    ),
    // User info: the host is the part after `@`.
    (
        "http://127.0.0.1@evil.example",
        v(false, false, false, false, false),
    ),
    (
        "http://localhost:8420@evil.example",
        v(false, false, false, false, false),
    ),
    ("http://a@b", v(false, false, false, false, false)),
    (
        "https://user:pw@vault.example",
        v(false, false, false, false, false),
    ),
    // Fragments are never sent.
    (
        "https://vault.example#x",
        v(false, false, false, false, false),
    ),
    (
        "https://vault.example/hook#",
        v(false, false, false, false, false),
    ),
    // A zone id names an interface, not loopback.
    (
        "http://[::1%25lo]:8420",
        v(false, false, false, false, false),
    ),
    (
        "http://[fe80::1%25eth0]:8420",
        v(false, false, false, false, false),
    ),
    // Bad ports, hosts and schemes.
    ("http://localhost:0", v(false, false, false, false, true)),
    (
        "http://localhost:65536",
        v(false, false, false, false, true),
    ),
    ("http://localhost:", v(false, false, false, false, true)),
    ("http://localhost:84a0", v(false, false, false, false, true)),
    ("https://a'b.example", v(false, false, false, false, false)),
    (
        "https://a$(id).example",
        v(false, false, false, false, false),
    ),
    ("https://", v(false, false, false, false, false)),
    ("https://:8443", v(false, false, false, false, false)),
    ("http://[::1", v(false, false, false, false, true)),
    ("ftp://vault.example", v(false, false, false, false, false)),
    ("file:///etc/passwd", v(false, false, false, false, false)),
    ("vault.example", v(false, false, false, false, false)),
    ("//vault.example", v(false, false, false, false, false)),
    ("", v(false, false, false, false, false)),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// The parser's own verdicts on the table: parse for outbound URLs, parse_origin for the
    /// API URL, parse_server for a client's flag; and the loopback column for every URL that
    /// parses.
    #[test]
    fn the_table() {
        for (text, want) in CASES {
            let parsed = WebUrl::parse(text);
            assert_eq!(parsed.is_ok(), want.outbound, "parse {text:?}: {parsed:?}");
            assert_eq!(
                WebUrl::parse_origin(text).is_ok(),
                want.api_url,
                "parse_origin {text:?}"
            );
            assert_eq!(
                WebUrl::parse_origin(text).is_ok_and(|u| u.is_secure()),
                want.identity,
                "identity {text:?}"
            );
            assert_eq!(
                WebUrl::parse_server(text).is_ok_and(|u| u.is_secure()),
                want.server_flag,
                "parse_server {text:?}"
            );
            if let Ok(url) = parsed {
                assert_eq!(url.is_loopback(), want.loopback, "loopback {text:?}");
            }
        }
    }

    #[test]
    fn refusals_say_what_to_write() {
        let origin = |t: &str| match WebUrl::parse(t) {
            Err(UrlError::Origin(o)) => o,
            other => panic!("{t}: {other:?}"),
        };
        assert_eq!(origin("HTTP://Host"), "http://host");
        assert_eq!(origin("http://host:80"), "http://host");
        assert_eq!(origin("http://127.1"), "http://127.0.0.1");
        assert_eq!(origin("http://[::1]:08080"), "http://[::1]:8080");
        assert_eq!(
            origin("http://[::ffff:127.0.0.1]/x"),
            "http://[::ffff:7f00:1]"
        );
        assert_eq!(WebUrl::parse("https://h/a/./b"), Err(UrlError::PathOrQuery));
        assert_eq!(WebUrl::parse("http://a@b"), Err(UrlError::UserInfo));
        let long = format!("https://h/{}", "a".repeat(MAX_LEN));
        assert_eq!(WebUrl::parse(&long), Err(UrlError::TooLong));
    }

    #[test]
    fn parts() {
        let u = WebUrl::parse("https://vault.example:8443/hook?x=1").unwrap();
        assert_eq!(u.origin(), "https://vault.example:8443");
        assert_eq!(u.host_str(), "vault.example");
        assert_eq!(u.port(), 8443);
        assert!(u.is_https() && u.has_query() && u.ip().is_none());
        let u = WebUrl::parse("http://[::1]").unwrap();
        assert_eq!(u.host_str(), "[::1]");
        assert_eq!(u.port(), 80);
        assert_eq!(u.ip(), Some("::1".parse().unwrap()));
        assert_eq!(u.as_str(), "http://[::1]/");
    }
}
