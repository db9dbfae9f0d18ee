//! The dashboard's edge: the session cookie, and the cross-site checks (`Sec-Fetch-Site`,
//! `Origin`, `X-CSRF-Token`). Input: a request in the plain form of `signet_fuzz::RawRequest`;
//! its target also serves as a public URL for `WebConfig::from_public_url`.

use super::RawRequest;
use signet_core::session::SessionSecret;
use signet_server::error::ErrorCode;
use signet_server::fuzzing::http::{HeaderMap, HeaderValue, Method, Request, header};
use signet_server::session::{CSRF_HEADER, WebConfig};

const ORIGINS: [&str; 3] = [
    "https://signet.example",
    "http://127.0.0.1:8420",
    "http://signet.lan",
];

/// The target: one input.
pub fn check(data: &[u8]) {
    let Some(req) = RawRequest::parse(data) else {
        return;
    };
    let _ = WebConfig::from_public_url(req.target);
    let method = req.http_method().unwrap_or(Method::GET);
    let mut builder = Request::builder().method(method.clone());
    if let Some(h) = builder.headers_mut() {
        *h = req.headers.clone();
    }
    let Ok(request) = builder.body(()) else {
        return;
    };
    let (parts, ()) = request.into_parts();
    let fixed = SessionSecret::parse(&"A".repeat(43)).expect("43 base64url characters");

    for origin in ORIGINS {
        let web = WebConfig::from_public_url(origin);
        let cookie = web.session_secret(&req.headers);
        if let Some(secret) = &cookie {
            // The cookie we set is the cookie we read back, and nothing else.
            let value = secret.expose();
            assert!(
                value.len() == 43
                    && value
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            );
            let set = web
                .set_cookie(secret)
                .expect("a parsed secret makes a header");
            let mut back = HeaderMap::new();
            back.insert(header::COOKIE, set);
            assert_eq!(
                web.session_secret(&back)
                    .map(|s| s.expose().to_owned())
                    .as_deref(),
                Some(value)
            );
        }
        for session in [None, Some(&fixed), cookie.as_ref()] {
            let verdict = web.check_same_origin(&parts, session);
            let Err(e) = verdict else {
                passed(&parts.headers, &method, session, origin);
                continue;
            };
            assert_eq!(e.code(), ErrorCode::CsrfRefused);
        }
    }
}

/// What a request the checks let through must look like.
fn passed(headers: &HeaderMap, method: &Method, session: Option<&SessionSecret>, own: &str) {
    let single = |name: &str| -> Option<&HeaderValue> {
        let mut all = headers.get_all(name).iter();
        match (all.next(), all.next()) {
            (Some(v), None) => Some(v),
            (None, None) => None,
            _ => panic!("a repeated {name} passed"),
        }
    };
    if let Some(site) = single("sec-fetch-site") {
        assert_eq!(site.as_bytes(), b"same-origin");
    }
    if let Some(origin) = single(header::ORIGIN.as_str()) {
        let origin = origin.to_str().expect("an unreadable Origin passed");
        // Host may be repeated: the server then reads it as no host, and only the configured
        // origin can pass (found by fuzzing: the property, not the server, was wrong).
        let mut hosts = headers.get_all(header::HOST).iter();
        let host = match (hosts.next(), hosts.next()) {
            (Some(h), None) => h.to_str().ok(),
            _ => None,
        };
        let authority = origin.split_once("://").map(|(_, a)| a);
        let own_host = host
            .is_some_and(|h| authority.is_some_and(|a| !a.is_empty() && a.eq_ignore_ascii_case(h)));
        assert!(
            origin.eq_ignore_ascii_case(own) || own_host,
            "foreign Origin {origin:?} passed"
        );
    }
    if *method != Method::GET
        && let Some(secret) = session
    {
        assert!(
            single(header::ORIGIN.as_str()).is_some(),
            "a session write without Origin passed"
        );
        let token = single(CSRF_HEADER).expect("a session write without a CSRF token passed");
        assert_eq!(token.as_bytes(), secret.csrf_token().as_bytes());
    }
}
