//! TOTP enrollment through the router: the new account's answer carries the QR code (an SVG
//! drawn by the server) and an enrollment ticket; `POST /v1/auth/totp/confirm` refuses a wrong
//! code with 400 `wrong_factor` and a spent ticket with the uniform 401, and a right code
//! confirms the seed and opens the session.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly by design.

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use serde_json::{Value, json};
use signet_core::SignetConfig;
use signet_testkit::app::{TestApp, call};

const ORIGIN: &str = "http://localhost:8420";

async fn send(app: &TestApp, req: Request<Body>) -> (StatusCode, Value, HeaderMap) {
    call(&app.router, req).await
}

/// A same-origin browser POST, with a cookie when given.
fn post(uri: &str, cookie: Option<&str>, body: &Value) -> Request<Body> {
    let mut b = Request::builder()
        .method("POST")
        .uri(uri)
        .header("host", "localhost:8420")
        .header("origin", ORIGIN)
        .header("sec-fetch-site", "same-origin")
        .header("content-type", "application/json");
    if let Some(c) = cookie {
        b = b.header("cookie", c);
    }
    b.body(Body::from(body.to_string())).expect("request")
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// First-run setup; returns the answer.
async fn set_up(app: &TestApp) -> Value {
    let code = app
        .signet
        .sessions()
        .issue_setup_code()
        .await
        .unwrap()
        .expect("fresh install")
        .to_string();
    let setup = json!({
        "code": code,
        "username": "alice",
        "email": "alice@example.test",
        "password": signet_testkit::PASSWORD,
    });
    let (status, made, _) = send(app, post("/v1/auth/setup", None, &setup)).await;
    assert_eq!(status, StatusCode::OK, "{made}");
    made
}

#[tokio::test]
async fn the_new_account_answer_draws_its_link_as_a_qr_code() {
    let app = TestApp::sqlite(SignetConfig {
        api_url: ORIGIN.to_owned(),
        ..SignetConfig::default()
    })
    .await;
    let made = set_up(&app).await;
    let svg = made["qrSvg"].as_str().unwrap();
    assert!(svg.contains("<svg"), "{svg}");
    // Black on white, whatever the page's colours; nothing that could run or load.
    assert!(svg.contains("#000000") && svg.contains("#ffffff"), "{svg}");
    for banned in ["<script", "href", "onload", "url("] {
        assert!(!svg.contains(banned), "{banned} in {svg}");
    }
    assert!(made["enrollmentTicket"].as_str().unwrap().contains('.'));
    assert!(made["enrollmentExpiresAt"].as_i64().unwrap() > 0);
}

#[tokio::test]
async fn a_right_code_confirms_once_and_opens_the_session() {
    let app = TestApp::sqlite(SignetConfig {
        api_url: ORIGIN.to_owned(),
        ..SignetConfig::default()
    })
    .await;
    let made = set_up(&app).await;
    let ticket = made["enrollmentTicket"].as_str().unwrap();
    let totp = totp_rs::Totp::from_url(made["otpauthUri"].as_str().unwrap()).unwrap();
    let code = totp.generate(now_secs()).to_string();
    let wrong = format!(
        "{:06}",
        (code.parse::<u32>().unwrap() + 500_000) % 1_000_000
    );

    let (status, body, headers) = send(
        &app,
        post(
            "/v1/auth/totp/confirm",
            None,
            &json!({"ticket": ticket, "totp": wrong}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["code"], "wrong_factor");
    assert!(headers.get("set-cookie").is_none());

    // Malformed: a missing field is a 400 of its own.
    let (status, body, _) = send(
        &app,
        post("/v1/auth/totp/confirm", None, &json!({"ticket": ticket})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["code"], "malformed_request");

    let (status, body, headers) = send(
        &app,
        post(
            "/v1/auth/totp/confirm",
            None,
            &json!({"ticket": ticket, "totp": code}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["confirmed"], true);
    assert_eq!(body["session"]["user"]["username"], "alice");
    let cookie = headers
        .get("set-cookie")
        .expect("a session cookie")
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let (status, view, _) = send(
        &app,
        Request::builder()
            .method("GET")
            .uri("/v1/auth/session")
            .header("host", "localhost:8420")
            .header("origin", ORIGIN)
            .header("sec-fetch-site", "same-origin")
            .header("cookie", &cookie)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{view}");

    // The same code again, and the ticket again: spent, the uniform 401.
    for again in [code.clone(), wrong] {
        let (status, body, _) = send(
            &app,
            post(
                "/v1/auth/totp/confirm",
                None,
                &json!({"ticket": ticket, "totp": again}),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(body["code"], "authentication_failed");
    }
    // A forged ticket is the same 401.
    let (status, body, _) = send(
        &app,
        post(
            "/v1/auth/totp/confirm",
            None,
            &json!({"ticket": "usr_nobody.AAAA", "totp": code}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
}
