//! Browser sessions at the HTTP edge: the cookie, and the cross-site request checks.
//!
//! Core decides whether a session is alive; this module only finds its secret in the request
//! and refuses requests that a browser made on behalf of another site. The checks are layered:
//!
//! * the cookie is `SameSite=Strict`, so browsers do not attach it to cross-site requests;
//! * `Sec-Fetch-Site`, when sent, must be `same-origin`;
//! * `Origin` must name this server on every state-changing request (and, when sent, on reads);
//! * every state-changing request carries `X-CSRF-Token`, which only a page that could read
//!   `GET /v1/auth/session` (same origin, no CORS) can know.

use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use signet_core::session::SessionSecret;
use signet_proto::web_url::WebUrl;

use crate::error::{ApiError, ErrorCode};

/// Cookie name when the browser reaches us over HTTPS or on a loopback address (a secure
/// context): `__Host-` makes browsers insist on `Secure`, `Path=/` and no `Domain`, so no
/// sibling host can plant or overwrite it.
const SECURE_COOKIE: &str = "__Host-signet_session";
/// Cookie name on plain HTTP to a non-loopback address (`--insecure-http` without a TLS proxy),
/// where browsers refuse `Secure` cookies.
const PLAIN_COOKIE: &str = "signet_session";
/// The CSRF header.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// How this server's dashboard is reached, from its public URL.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// `scheme://host[:port]` of the public URL, as browsers send it in `Origin`.
    origin: String,
    /// Whether cookies get `Secure` and the `__Host-` name.
    secure: bool,
}

impl WebConfig {
    /// Derives the origin and cookie policy from the public URL (`--api-url`), parsed as every
    /// URL is ([`signet_proto::web_url`]), so the cookie policy calls loopback what the identity
    /// file's rule calls loopback.
    pub fn from_public_url(url: &str) -> Self {
        match WebUrl::parse(url) {
            Ok(parsed) => Self {
                origin: parsed.origin(),
                secure: parsed.is_secure(),
            },
            // The configuration refuses such a URL before this is made; were one to arrive
            // anyway, cookies stay `Secure` and only `Host` can vouch for an origin.
            Err(_) => Self {
                origin: url.to_owned(),
                secure: true,
            },
        }
    }

    fn cookie_name(&self) -> &'static str {
        if self.secure {
            SECURE_COOKIE
        } else {
            PLAIN_COOKIE
        }
    }

    /// `Set-Cookie` for a new session. No `Max-Age`: the cookie ends with the browser, and the
    /// server ends the session on its own clock regardless.
    pub fn set_cookie(&self, secret: &SessionSecret) -> Option<HeaderValue> {
        let secure = if self.secure { "; Secure" } else { "" };
        HeaderValue::from_str(&format!(
            "{}={}; Path=/; HttpOnly; SameSite=Strict{secure}",
            self.cookie_name(),
            secret.expose()
        ))
        .ok()
    }

    /// `Set-Cookie` that makes the browser forget the session cookie.
    pub fn clear_cookie(&self) -> Option<HeaderValue> {
        let secure = if self.secure { "; Secure" } else { "" };
        HeaderValue::from_str(&format!(
            "{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}",
            self.cookie_name()
        ))
        .ok()
    }

    /// The session secret from the `Cookie` headers. Absent, malformed or sent twice (which one
    /// would we believe?) is `None`.
    pub fn session_secret(&self, headers: &HeaderMap) -> Option<SessionSecret> {
        let name = self.cookie_name();
        let mut found = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .filter(|(k, _)| *k == name)
            .map(|(_, v)| v);
        match (found.next(), found.next()) {
            (Some(v), None) => SessionSecret::parse(v),
            _ => None,
        }
    }

    /// Whether `origin` (an `Origin` header value) is this server: the configured public
    /// origin, or the authority the browser itself addressed (`Host`), which a cross-site page
    /// cannot choose.
    fn is_own_origin(&self, origin: &str, host: Option<&str>) -> bool {
        if origin.eq_ignore_ascii_case(&self.origin) {
            return true;
        }
        let authority = origin.split_once("://").map(|(_, a)| a).unwrap_or_default();
        host.is_some_and(|h| !authority.is_empty() && authority.eq_ignore_ascii_case(h))
    }

    /// Refuses a request a browser sent on behalf of another site. With a session, a
    /// state-changing request must also carry `Origin` and the session's CSRF token. Without
    /// one (sign-in and setup, which non-browsers use too), only headers that are present are
    /// judged: a login forged from another site still carries its foreign `Origin`.
    pub fn check_same_origin(
        &self,
        parts: &Parts,
        session: Option<&SessionSecret>,
    ) -> Result<(), ApiError> {
        let refused = || Err(ApiError::new(ErrorCode::CsrfRefused));
        let headers = &parts.headers;
        let single = |name: &str| {
            let mut all = headers.get_all(name).iter();
            match (all.next(), all.next()) {
                // A value that is not visible ASCII cannot be judged, so it is judged foreign:
                // treating it as absent would skip the check (found by fuzzing).
                (Some(v), None) => Some(v.to_str().unwrap_or("\u{0}")),
                (None, None) => None,
                // Two values: refuse rather than pick one.
                _ => Some("\u{0}"),
            }
        };
        if let Some(site) = single("sec-fetch-site")
            && site != "same-origin"
        {
            return refused();
        }
        let changes_state = parts.method != Method::GET;
        let host = single(header::HOST.as_str());
        match single(header::ORIGIN.as_str()) {
            Some(origin) if !self.is_own_origin(origin, host) => return refused(),
            None if changes_state && session.is_some() => return refused(),
            _ => {}
        }
        if changes_state && let Some(secret) = session {
            match single(CSRF_HEADER) {
                Some(token) if secret.csrf_matches(token) => {}
                _ => return refused(),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use axum::http::Request;

    use super::*;

    fn parts(method: Method, headers: &[(&str, &str)]) -> Parts {
        let mut b = Request::builder().method(method).uri("/v1/admin/projects");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    /// The cookie policy calls a public URL loopback exactly when the identity file's rule
    /// does (`signet_proto::web_url::CASES`): cookies lose `Secure` only on plain HTTP to a
    /// loopback host.
    #[test]
    fn cookies_follow_the_one_loopback_rule() {
        for (url, want) in signet_proto::web_url::CASES {
            if want.api_url {
                let web = WebConfig::from_public_url(url);
                assert_eq!(
                    web.secure,
                    want.loopback || url.starts_with("https://"),
                    "{url}"
                );
                assert_eq!(web.origin, *url, "{url}");
            } else {
                // Refused by the configuration; should it arrive, the cookie stays `Secure`.
                assert!(
                    WebConfig::from_public_url(url).secure || WebUrl::parse(url).is_ok(),
                    "{url}"
                );
            }
        }
    }

    #[test]
    fn unreadable_fetch_metadata_or_origin_is_refused() {
        let web = WebConfig::from_public_url("http://localhost:8420");
        let with = |name: &str, value: &[u8]| {
            let mut p = parts(Method::POST, &[]);
            p.headers.insert(
                axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                axum::http::HeaderValue::from_bytes(value).unwrap(),
            );
            p
        };
        // The fuzzer's input: `same-origin` with non-ASCII bytes in the middle.
        let site = with("sec-fetch-site", b"same\xD3\x94rigin");
        assert!(web.check_same_origin(&site, None).is_err());
        let origin = with("origin", b"http://localhost:8420\xff");
        assert!(web.check_same_origin(&origin, None).is_err());
        // Readable and same-origin still passes.
        let ok = with("sec-fetch-site", b"same-origin");
        assert!(web.check_same_origin(&ok, None).is_ok());
    }

    #[test]
    fn cookie_policy_follows_the_public_url() {
        assert_eq!(
            WebConfig::from_public_url("https://vault.example/").cookie_name(),
            SECURE_COOKIE
        );
        assert_eq!(
            WebConfig::from_public_url("http://localhost:8420").cookie_name(),
            SECURE_COOKIE
        );
        assert_eq!(
            WebConfig::from_public_url("http://10.0.0.5:8420").cookie_name(),
            PLAIN_COOKIE
        );
        assert_eq!(
            WebConfig::from_public_url("https://vault.example:8443/").origin,
            "https://vault.example:8443"
        );
        assert!(WebConfig::from_public_url("HTTP://10.0.0.5:8420").secure);
    }

    #[test]
    fn a_cookie_sent_twice_or_malformed_is_ignored() {
        let web = WebConfig::from_public_url("http://localhost:1");
        let good = "a".repeat(43);
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("x=1; __Host-signet_session={good}")).unwrap(),
        );
        assert!(web.session_secret(&h).is_some());
        h.append(
            header::COOKIE,
            HeaderValue::from_str(&format!("__Host-signet_session={good}")).unwrap(),
        );
        assert!(web.session_secret(&h).is_none());
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("__Host-signet_session=short"),
        );
        assert!(web.session_secret(&h).is_none());
    }

    #[test]
    fn cross_site_and_tokenless_writes_are_refused() {
        let web = WebConfig::from_public_url("http://localhost:8420");
        let secret = SessionSecret::parse(&"b".repeat(43)).unwrap();
        let token = secret.csrf_token();
        let own = [
            ("origin", "http://localhost:8420"),
            ("host", "localhost:8420"),
        ];
        let with = |extra: &[(&str, &str)]| {
            let mut h: Vec<(&str, &str)> = own.to_vec();
            h.extend_from_slice(extra);
            parts(Method::POST, &h)
        };
        assert!(
            web.check_same_origin(&with(&[(CSRF_HEADER, &token)]), Some(&secret))
                .is_ok()
        );
        // No token, a wrong token, another session's token.
        assert!(web.check_same_origin(&with(&[]), Some(&secret)).is_err());
        assert!(
            web.check_same_origin(&with(&[(CSRF_HEADER, "x")]), Some(&secret))
                .is_err()
        );
        let other = SessionSecret::parse(&"c".repeat(43)).unwrap().csrf_token();
        assert!(
            web.check_same_origin(&with(&[(CSRF_HEADER, &other)]), Some(&secret))
                .is_err()
        );
        // A cross-site page, even with the token.
        let evil = parts(
            Method::POST,
            &[
                ("origin", "http://evil.test"),
                ("host", "localhost:8420"),
                (CSRF_HEADER, &token),
            ],
        );
        assert!(web.check_same_origin(&evil, Some(&secret)).is_err());
        let fetch_meta = with(&[(CSRF_HEADER, &token), ("sec-fetch-site", "cross-site")]);
        assert!(web.check_same_origin(&fetch_meta, Some(&secret)).is_err());
        // A write with no Origin at all.
        let bare = parts(
            Method::POST,
            &[("host", "localhost:8420"), (CSRF_HEADER, &token)],
        );
        assert!(web.check_same_origin(&bare, Some(&secret)).is_err());
        // Reads need no token, but still no foreign Origin.
        assert!(
            web.check_same_origin(
                &parts(Method::GET, &[("host", "localhost:8420")]),
                Some(&secret)
            )
            .is_ok()
        );
        let evil_get = parts(
            Method::GET,
            &[("origin", "http://evil.test"), ("host", "localhost:8420")],
        );
        assert!(web.check_same_origin(&evil_get, Some(&secret)).is_err());
    }
}
