//! Browser sessions through the router, in-process with `oneshot`: first-run setup, the
//! cookie's attributes, the cross-site checks, logout, and the dashboard's headers.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly by design.

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use serde_json::{Value, json};
use signet_core::SignetConfig;
use signet_testkit::app::{TestApp, call};

const ORIGIN: &str = "http://localhost:8420";
const PASSWORD: &str = signet_testkit::PASSWORD;

struct App {
    router: axum::Router,
    setup_code: String,
    _dir: tempfile::TempDir,
}

async fn app() -> App {
    let app = TestApp::sqlite(SignetConfig {
        api_url: ORIGIN.to_owned(),
        ..SignetConfig::default()
    })
    .await;
    let setup_code = app
        .signet
        .sessions()
        .issue_setup_code()
        .await
        .unwrap()
        .expect("fresh install")
        .to_string();
    App {
        router: app.router,
        setup_code,
        _dir: app.dir,
    }
}

async fn send(app: &App, req: Request<Body>) -> (StatusCode, Value, HeaderMap) {
    call(&app.router, req).await
}

/// A browser-like request: same-origin headers, and the cookie and CSRF token when given.
fn browser(
    method: &str,
    uri: &str,
    cookie: Option<&str>,
    csrf: Option<&str>,
    body: Value,
) -> Request<Body> {
    let mut b = Request::builder()
        .method(method)
        .uri(uri)
        .header("host", "localhost:8420")
        .header("origin", ORIGIN)
        .header("sec-fetch-site", "same-origin")
        .header("content-type", "application/json");
    if let Some(c) = cookie {
        b = b.header("cookie", c);
    }
    if let Some(t) = csrf {
        b = b.header("x-csrf-token", t);
    }
    let body = if method == "GET" {
        Body::empty()
    } else {
        Body::from(body.to_string())
    };
    b.body(body).expect("request")
}

/// Runs first-run setup and signs in; returns the cookie pair and the CSRF token.
async fn signed_in(app: &App) -> (String, String) {
    let setup = json!({
        "code": app.setup_code,
        "username": "alice",
        "email": "alice@example.test",
        "password": PASSWORD,
    });
    let (status, made, _) = send(app, browser("POST", "/v1/auth/setup", None, None, setup)).await;
    assert_eq!(status, StatusCode::OK, "{made}");
    assert_eq!(made["recoveryCodes"].as_array().unwrap().len(), 10);
    let totp = totp_rs::Totp::from_url(made["otpauthUri"].as_str().unwrap()).unwrap();
    assert_eq!(
        made["totpSecret"].as_str().unwrap().len(),
        32,
        "160-bit base32 seed"
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let login =
        json!({"login": "Alice", "password": PASSWORD, "totp": totp.generate(now).to_string()});
    let (status, view, headers) =
        send(app, browser("POST", "/v1/auth/session", None, None, login)).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    let set_cookie = headers
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    for attr in ["Path=/", "HttpOnly", "SameSite=Strict", "Secure"] {
        assert!(set_cookie.contains(attr), "{set_cookie} lacks {attr}");
    }
    assert!(set_cookie.starts_with("__Host-signet_session="));
    assert!(
        !set_cookie.contains("Domain"),
        "__Host- cookies have no Domain"
    );
    let pair = set_cookie.split(';').next().unwrap().to_owned();
    (pair, view["csrfToken"].as_str().unwrap().to_owned())
}

async fn project_count(app: &App, cookie: &str) -> usize {
    let (status, list, _) = send(
        app,
        browser("GET", "/v1/admin/projects", Some(cookie), None, Value::Null),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list["projects"].as_array().unwrap().len()
}

#[tokio::test]
async fn setup_is_once_and_needs_the_printed_code() {
    let app = app().await;
    let (_, open, _) = send(
        &app,
        browser("GET", "/v1/auth/setup", None, None, Value::Null),
    )
    .await;
    assert_eq!(open["open"], true);
    let wrong = json!({"code": "x".repeat(43), "username": "eve", "email": "eve@example.test", "password": PASSWORD});
    let (status, body, _) = send(&app, browser("POST", "/v1/auth/setup", None, None, wrong)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("setup_closed"))
    );
    signed_in(&app).await;
    let (_, open, _) = send(
        &app,
        browser("GET", "/v1/auth/setup", None, None, Value::Null),
    )
    .await;
    assert_eq!(open["open"], false);
    let again = json!({"code": app.setup_code, "username": "eve", "email": "eve@example.test", "password": PASSWORD});
    let (status, body, _) = send(&app, browser("POST", "/v1/auth/setup", None, None, again)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("setup_closed"))
    );
}

#[tokio::test]
async fn cross_site_writes_are_refused_and_change_nothing() {
    let app = app().await;
    let (cookie, csrf) = signed_in(&app).await;
    let body = json!({"name": "demo"});

    let no_token = browser(
        "POST",
        "/v1/admin/projects",
        Some(&cookie),
        None,
        body.clone(),
    );
    let wrong_token = browser(
        "POST",
        "/v1/admin/projects",
        Some(&cookie),
        Some("forged"),
        body.clone(),
    );
    let mut foreign = browser(
        "POST",
        "/v1/admin/projects",
        Some(&cookie),
        Some(&csrf),
        body.clone(),
    );
    foreign
        .headers_mut()
        .insert("origin", "http://evil.test".parse().unwrap());
    let mut cross_site = browser(
        "POST",
        "/v1/admin/projects",
        Some(&cookie),
        Some(&csrf),
        body.clone(),
    );
    cross_site
        .headers_mut()
        .insert("sec-fetch-site", "cross-site".parse().unwrap());
    let mut no_origin = browser(
        "POST",
        "/v1/admin/projects",
        Some(&cookie),
        Some(&csrf),
        body.clone(),
    );
    no_origin.headers_mut().remove("origin");
    for (what, req) in [
        ("no token", no_token),
        ("wrong token", wrong_token),
        ("foreign origin", foreign),
        ("cross-site fetch", cross_site),
        ("no origin", no_origin),
    ] {
        let (status, err, _) = send(&app, req).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{what}");
        assert_eq!(err["code"], "csrf_refused", "{what}");
    }
    assert_eq!(project_count(&app, &cookie).await, 0);

    let ok = browser(
        "POST",
        "/v1/admin/projects",
        Some(&cookie),
        Some(&csrf),
        body,
    );
    let (status, made, _) = send(&app, ok).await;
    assert_eq!(status, StatusCode::OK, "{made}");
    assert_eq!(project_count(&app, &cookie).await, 1);
}

#[tokio::test]
async fn a_logged_out_cookie_is_dead() {
    let app = app().await;
    let (cookie, csrf) = signed_in(&app).await;
    let (status, view, _) = send(
        &app,
        browser("GET", "/v1/auth/session", Some(&cookie), None, Value::Null),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(view["csrfToken"], csrf.as_str());
    assert_eq!(view["user"]["role"], "owner");

    let (status, _, headers) = send(
        &app,
        browser(
            "POST",
            "/v1/auth/session/logout",
            Some(&cookie),
            Some(&csrf),
            json!({}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let cleared = headers.get("set-cookie").unwrap().to_str().unwrap();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");

    for uri in [
        "/v1/auth/session",
        "/v1/admin/projects",
        "/v1/admin/account",
    ] {
        let (status, body, _) =
            send(&app, browser("GET", uri, Some(&cookie), None, Value::Null)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{uri}");
        assert_eq!(body["code"], "authentication_failed");
    }
}

#[tokio::test]
async fn the_dashboard_is_served_with_a_strict_policy() {
    let app = app().await;
    let (status, _, headers) = send(&app, Request::get("/").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    let csp = headers
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert_eq!(headers.get("x-frame-options").unwrap(), "DENY");
    assert!(
        headers
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let (status, _, _) = send(
        &app,
        Request::get("/assets/app.js").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = send(
        &app,
        Request::get("/assets/nope.js").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

// ---- issue 16: what the dashboard's shell relies on ----

/// The audit records so far, read through the signed-in session.
async fn audit_records(app: &App, cookie: &str, csrf: &str) -> Vec<Value> {
    let (status, body, _) = send(
        app,
        browser(
            "POST",
            "/v1/admin/audit/query",
            Some(cookie),
            Some(csrf),
            json!({"limit": 500}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["records"].as_array().unwrap().clone()
}

#[tokio::test]
async fn opening_the_dashboard_on_a_fresh_vault_records_no_failure() {
    let app = app().await;
    // The dashboard's first request: who is signed in? Nobody, and nobody tried to be.
    let (status, body, _) = send(
        &app,
        browser("GET", "/v1/auth/session", None, None, Value::Null),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["code"], "authentication_failed", "the uniform 401");
    let (cookie, csrf) = signed_in(&app).await;
    let records = audit_records(&app, &cookie, &csrf).await;
    let refused: Vec<&Value> = records.iter().filter(|r| r["result"] != "ok").collect();
    assert!(
        refused.is_empty(),
        "a probe without a cookie is no authentication attempt: {refused:?}"
    );
    // A dead cookie is still judged and recorded like on any route.
    let (status, _, _) = send(
        &app,
        browser(
            "GET",
            "/v1/auth/session",
            Some("__Host-signet_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
            None,
            Value::Null,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_setup_code_is_checked_without_being_spent() {
    let app = app().await;
    let check = |code: String| {
        let req = browser(
            "POST",
            "/v1/auth/setup/check",
            None,
            None,
            json!({ "code": code }),
        );
        let app = &app;
        async move { send(app, req).await }
    };
    let (status, body, _) = check("x".repeat(43)).await;
    assert_eq!((status, &body["valid"]), (StatusCode::OK, &json!(false)));
    for _ in 0..2 {
        let (status, body, _) = check(app.setup_code.clone()).await;
        assert_eq!(
            (status, &body["valid"]),
            (StatusCode::OK, &json!(true)),
            "checking spends nothing"
        );
    }
    // Another site cannot probe it through a visitor's browser.
    let mut cross = browser(
        "POST",
        "/v1/auth/setup/check",
        None,
        None,
        json!({ "code": app.setup_code }),
    );
    cross
        .headers_mut()
        .insert("origin", "https://evil.example".parse().unwrap());
    cross
        .headers_mut()
        .insert("sec-fetch-site", "cross-site".parse().unwrap());
    assert_eq!(send(&app, cross).await.0, StatusCode::FORBIDDEN);
    // The code still works once; afterwards the check says it is used.
    let _ = signed_in(&app).await;
    let (status, body, _) = check(app.setup_code.clone()).await;
    assert_eq!((status, &body["valid"]), (StatusCode::OK, &json!(false)));
}

#[tokio::test]
async fn a_wrong_current_password_keeps_the_session_and_is_audited() {
    let app = app().await;
    let (cookie, csrf) = signed_in(&app).await;
    let (status, body, _) = send(
        &app,
        browser(
            "POST",
            "/v1/admin/account/password",
            Some(&cookie),
            Some(&csrf),
            json!({"currentPassword": "not my password at all", "newPassword": "a brand new passphrase"}),
        ),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("wrong_factor")),
        "{body}"
    );
    // Still signed in, and the session says what the role may do.
    let (status, view, _) = send(
        &app,
        browser("GET", "/v1/auth/session", Some(&cookie), None, Value::Null),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    let permissions: Vec<&str> = view["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(
        permissions.contains(&"manage_owners") && permissions.contains(&"manage_tokens"),
        "{permissions:?}"
    );
    assert_eq!(view["scoped"], false);
    let records = audit_records(&app, &cookie, &csrf).await;
    assert!(
        records.iter().any(|r| r["action"] == "user_password_change"
            && r["result"] == "denied"
            && r["detail"] == "reason=bad_password"),
        "{records:?}"
    );
    assert!(
        !records
            .iter()
            .any(|r| r["action"] == "user_login" && r["result"] != "ok"),
        "a wrong current password is no failed sign-in"
    );
}
