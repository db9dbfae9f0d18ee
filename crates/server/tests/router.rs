//! The router driven in-process with `oneshot`, on a real SQLite file: the request-shape rules
//! that hold before any handler runs, and the error bodies.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly by design.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use signet_core::SignetConfig;
use signet_testkit::app::{TestApp, call};
use tower::ServiceExt;

async fn app() -> (axum::Router, tempfile::TempDir) {
    let app = TestApp::sqlite(SignetConfig::default()).await;
    (app.router, app.dir)
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).expect("request")
}

#[tokio::test]
async fn every_authentication_failure_has_the_same_body() {
    let (app, _dir) = app().await;
    let unsigned = call(&app, get("/v1/secret/sk_AAAAAAAAAA")).await;
    assert_eq!(unsigned.0, StatusCode::UNAUTHORIZED);
    let unknown = Request::get("/v1/secret/sk_AAAAAAAAAA")
        .header("x-machine-id", "7d444840-9dc0-11d1-b245-5ffdce74fad2")
        .header("x-timestamp", "1")
        .header("x-nonce", "AAAAAAAAAAAAAAAAAAAAAA==")
        .header("x-signature", "A".repeat(86) + "==")
        .body(Body::empty())
        .expect("request");
    let unknown = call(&app, unknown).await;
    assert_eq!(unknown.0, StatusCode::UNAUTHORIZED);
    assert_eq!(unsigned.1, unknown.1);
    assert_eq!(unsigned.1["code"], "authentication_failed");
    let admin = call(&app, get("/v1/admin/projects")).await;
    assert_eq!((admin.0, &admin.1), (StatusCode::UNAUTHORIZED, &unsigned.1));
    assert_eq!(
        unsigned
            .2
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
}

#[tokio::test]
async fn query_strings_and_non_canonical_paths_are_400_before_routing() {
    let (app, _dir) = app().await;
    for uri in [
        "/v1/secrets?x=1",
        "/v1//secrets",
        "/v1/secrets/",
        "/v1/./secrets",
        "/v1/secret/%2E%2E",
        "/v1/secret/sk%5fAAAAAAAAAA",
    ] {
        let (status, body, _) = call(&app, get(uri)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
        assert_eq!(body["code"], "malformed_request", "{uri}");
    }
}

#[tokio::test]
async fn head_options_and_trace_are_not_routed() {
    let (app, _dir) = app().await;
    for m in ["HEAD", "OPTIONS", "TRACE"] {
        let req = Request::builder()
            .method(m)
            .uri("/v1/secrets")
            .body(Body::empty())
            .expect("request");
        let resp = app.clone().oneshot(req).await.expect("infallible");
        assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED, "{m}");
    }
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let (app, _dir) = app().await;
    let big = vec![b'a'; 16 * 1024 + 1];
    let req = Request::post("/v1/secrets/list")
        .header("content-length", big.len())
        .body(Body::from(big.clone()))
        .expect("request");
    assert_eq!(call(&app, req).await.0, StatusCode::PAYLOAD_TOO_LARGE);
    // Without a declared length the limit still holds.
    let req = Request::post("/v1/enroll/bootstrap")
        .body(Body::from(big))
        .expect("request");
    assert_eq!(call(&app, req).await.0, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn enrollment_rejects_weak_keys_and_bad_tokens_without_detail() {
    let (app, _dir) = app().await;
    // The identity point: small order.
    let weak = "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    let body = serde_json::json!({"token": "sgb_0", "publicKey": weak, "hostname": "h"});
    let req = Request::post("/v1/enroll/bootstrap")
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .expect("request");
    let (status, json, _) = call(&app, req).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{json}");
    let good = signet_proto::SecretSeed::generate()
        .public_key()
        .to_base64();
    let body = serde_json::json!({"token": "sgb_0", "publicKey": good, "hostname": "h"});
    let req = Request::post("/v1/enroll/bootstrap")
        .body(Body::from(body.to_string()))
        .expect("request");
    let (status, json, _) = call(&app, req).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(json["error"], "access denied");
    let (status, _, _) = call(&app, get("/v1/bootstrap/sgb_nope")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn health() {
    let (app, _dir) = app().await;
    let resp = app
        .clone()
        .oneshot(get("/healthz"))
        .await
        .expect("infallible");
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = app
        .clone()
        .oneshot(get("/readyz"))
        .await
        .expect("infallible");
    assert_eq!(resp.status(), StatusCode::OK);
}

fn post_json(uri: &str, body: &serde_json::Value) -> Request<Body> {
    Request::post(uri)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .expect("request")
}

#[tokio::test]
async fn cli_login_failures_are_uniform_then_throttled() {
    let (app, _dir) = app().await;
    let admin = call(&app, get("/v1/admin/projects")).await;
    let key = signet_proto::SecretSeed::generate()
        .public_key()
        .to_base64();
    let attempt = |password: &str| {
        post_json(
            "/v1/auth/cli-login",
            &serde_json::json!({
                "login": "nobody@example.test",
                "password": password,
                "totp": "123456",
                "publicKey": key,
            }),
        )
    };

    let unknown = call(&app, attempt("a long enough passphrase")).await;
    assert_eq!(
        (unknown.0, &unknown.1),
        (StatusCode::UNAUTHORIZED, &admin.1)
    );

    // Shape errors are 400 and never quote the submitted values.
    let both = post_json(
        "/v1/auth/cli-login",
        &serde_json::json!({
            "login": "x", "password": "hunter2hunter2", "totp": "1", "recoveryCode": "2",
            "publicKey": key,
        }),
    );
    let both = call(&app, both).await;
    assert_eq!(both.0, StatusCode::BAD_REQUEST);
    let typed = post_json(
        "/v1/auth/cli-login",
        &serde_json::json!({ "login": "x", "password": 12345678, "publicKey": key }),
    );
    let typed = call(&app, typed).await;
    assert_eq!(typed.0, StatusCode::BAD_REQUEST);
    assert!(!typed.1.to_string().contains("12345678"), "{}", typed.1);
    let bad_key = post_json(
        "/v1/auth/cli-login",
        &serde_json::json!({ "login": "x", "password": "hunter2hunter2", "publicKey": "AAAA" }),
    );
    assert_eq!(call(&app, bad_key).await.0, StatusCode::BAD_REQUEST);

    // One source gets a fixed budget of attempts per minute, then 429 with Retry-After. The
    // windows are fixed minutes, so the loop may straddle one boundary: twice the budget plus
    // one attempt must still overflow one of the two windows.
    let mut throttled = None;
    for _ in 0..=2 * signet_core::account::LOGIN_ATTEMPTS_PER_SOURCE_PER_MINUTE {
        let r = call(&app, attempt("another long passphrase")).await;
        if r.0 == StatusCode::TOO_MANY_REQUESTS {
            throttled = Some(r);
            break;
        }
        assert_eq!((r.0, &r.1), (StatusCode::UNAUTHORIZED, &admin.1));
    }
    let throttled = throttled.expect("throttled within the budget");
    assert_eq!(throttled.1["code"], "rate_limited");
    assert!(throttled.2.contains_key("retry-after"));
}

#[tokio::test]
async fn invitation_refusals_are_one_403_and_the_user_routes_need_a_signature() {
    let (app, _dir) = app().await;
    let accept = |code: &str| {
        post_json(
            "/v1/auth/invite/accept",
            &serde_json::json!({
                "code": code,
                "username": "newcomer",
                "password": "a long enough passphrase",
            }),
        )
    };
    let unknown = call(&app, accept(&"0".repeat(64))).await;
    assert_eq!(unknown.0, StatusCode::FORBIDDEN);
    assert_eq!(
        unknown.1,
        serde_json::json!({"error": "invitation refused", "code": "invite_refused"})
    );
    // Any other wrong code answers the same, whatever it looks like.
    assert_eq!(call(&app, accept("x")).await.1, unknown.1);
    assert_eq!(call(&app, accept(&"z".repeat(500))).await.1, unknown.1);
    // Shape errors are 400 and never quote the password.
    let short = post_json(
        "/v1/auth/invite/accept",
        &serde_json::json!({"code": "x", "username": "n", "password": "short"}),
    );
    let short = call(&app, short).await;
    assert_eq!(short.0, StatusCode::BAD_REQUEST);
    assert!(!short.1.to_string().contains("\"short\""));
    // Common passwords are refused with their own code and zxcvbn's advice (issue 9, finding
    // 7), before the code is looked at, and never quoted back.
    for weak in ["password1234", "123456789012"] {
        let r = post_json(
            "/v1/auth/invite/accept",
            &serde_json::json!({"code": "x", "username": "newcomer", "password": weak}),
        );
        let r = call(&app, r).await;
        assert_eq!(r.0, StatusCode::BAD_REQUEST);
        assert_eq!(r.1["code"], "weak_password");
        let message = r.1["error"].as_str().unwrap();
        assert!(
            message.starts_with("password is too easy to guess: "),
            "{message}"
        );
        assert!(!r.1.to_string().contains(weak));
    }
    let extra = post_json(
        "/v1/auth/invite/accept",
        &serde_json::json!({"code": "x", "username": "n", "password": "a long enough passphrase", "role": "owner"}),
    );
    assert_eq!(call(&app, extra).await.0, StatusCode::BAD_REQUEST);

    // The management routes exist and are signed-only.
    let unsigned = call(&app, get("/v1/admin/projects")).await.1;
    for uri in [
        "/v1/admin/users/invite",
        "/v1/admin/users/invites/7d444840-9dc0-11d1-b245-5ffdce74fad2/revoke",
        "/v1/admin/users/7d444840-9dc0-11d1-b245-5ffdce74fad2/role",
        "/v1/admin/users/7d444840-9dc0-11d1-b245-5ffdce74fad2/suspend",
        "/v1/admin/users/7d444840-9dc0-11d1-b245-5ffdce74fad2/delete",
    ] {
        let r = call(&app, post_json(uri, &serde_json::json!({}))).await;
        assert_eq!((r.0, &r.1), (StatusCode::UNAUTHORIZED, &unsigned), "{uri}");
    }
    let r = call(&app, get("/v1/admin/users/invites")).await;
    assert_eq!(r.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_content_encoding_is_415_before_routing_or_authentication() {
    let (app, _dir) = app().await;
    let good = signet_proto::SecretSeed::generate()
        .public_key()
        .to_base64();
    let body = serde_json::json!({"token": "sgb_0", "publicKey": good, "hostname": "h"});
    for (method, uri, encoding) in [
        ("POST", "/v1/enroll/bootstrap", "gzip"),
        ("POST", "/v1/secrets/list", "deflate"),
        ("POST", "/v1/admin/projects", "br"),
        ("GET", "/v1/secret/sk_AAAAAAAAAA", "identity"),
        ("POST", "/v1/no/such/route", "gzip"),
    ] {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", "application/json")
            .header("content-encoding", encoding)
            .body(Body::from(body.to_string()))
            .expect("request");
        let (status, json, _) = call(&app, req).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{uri} {json}");
        assert_eq!(json["code"], "unsupported_encoding", "{uri}");
    }
    // The same enrollment without the header reaches the handler (and its own 403 for a bad
    // token), so the 415 above came from the encoding alone.
    let req = Request::post("/v1/enroll/bootstrap")
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .expect("request");
    let (status, _, _) = call(&app, req).await;
    assert_ne!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

/// Issue 12's machine routes (agent, events) refuse like every other machine route: one 401
/// body before anything about the secret or the event id is looked at, and 413 above the limit.
#[tokio::test]
async fn issue_12_machine_routes_refuse_like_every_machine_route() {
    let (app, _dir) = app().await;
    let reference = call(&app, get("/v1/secret/sk_AAAAAAAAAA")).await;
    assert_eq!(reference.0, StatusCode::UNAUTHORIZED);
    for uri in [
        "/v1/secret/sk_AAAAAAAAAA/sync-config",
        "/v1/secret/sk_bad/sync-config",
        "/v1/events",
        "/v1/events/0",
        "/v1/events/-1",
        "/v1/events/x",
        "/v1/events/99999999999999999999999",
    ] {
        let got = call(&app, get(uri)).await;
        assert_eq!((got.0, &got.1), (reference.0, &reference.1), "{uri}");
    }
    let bad_id = Request::get("/v1/events")
        .header("last-event-id", "-1")
        .body(Body::empty())
        .expect("request");
    let got = call(&app, bad_id).await;
    assert_eq!((got.0, &got.1), (reference.0, &reference.1));
    for action in ["heartbeat", "confirm-rotation", "reject-rotation"] {
        let uri = format!("/v1/secret/sk_AAAAAAAAAA/agent/{action}");
        let got = call(
            &app,
            post_json(&uri, &serde_json::json!({"status": "healthy"})),
        )
        .await;
        assert_eq!((got.0, &got.1), (reference.0, &reference.1), "{uri}");
        let big = vec![b'a'; 16 * 1024 + 1];
        let req = Request::post(uri.as_str())
            .header("content-length", big.len())
            .body(Body::from(big))
            .expect("request");
        assert_eq!(
            call(&app, req).await.0,
            StatusCode::PAYLOAD_TOO_LARGE,
            "{uri}"
        );
    }
}

#[tokio::test]
async fn an_invitation_code_is_checked_without_an_answer_beyond_valid() {
    let (app, _dir) = app().await;
    let check = |code: String| {
        post_json(
            "/v1/auth/invite/check",
            &serde_json::json!({ "code": code }),
        )
    };
    // Unknown, malformed and overlong codes all answer the same `false`, never a 403 that
    // would differ from a known-but-spent one.
    for code in ["0".repeat(64), "x".to_owned(), "z".repeat(500)] {
        let r = call(&app, check(code)).await;
        assert_eq!(
            (r.0, &r.1),
            (StatusCode::OK, &serde_json::json!({"valid": false}))
        );
    }
    let extra = post_json(
        "/v1/auth/invite/check",
        &serde_json::json!({"code": "x", "username": "n"}),
    );
    assert_eq!(call(&app, extra).await.0, StatusCode::BAD_REQUEST);
}
