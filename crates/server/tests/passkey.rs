//! Passkey routes driven in-process with `oneshot`: a usernameless sign-in answered by a software
//! authenticator over HTTP, the uniform 401, the body rules, and `passkeys_unavailable`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly by design.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use signet_core::account::{NewOwner, Password};
use signet_core::auth::AuthedOperator;
use signet_core::{Signet, SignetConfig};
use signet_proto::{OperatorId, SecretSeed};
use signet_store::{OperatorRecord, Role, UserRecord};
use signet_testkit::app::{TestApp, call as call_h};
use signet_testkit::passkey::Passkey;

const ORIGIN: &str = "http://localhost:8420";

async fn app(api_url: &str) -> (axum::Router, Arc<Signet>, tempfile::TempDir) {
    let app = TestApp::sqlite(SignetConfig {
        api_url: api_url.to_owned(),
        ..SignetConfig::default()
    })
    .await;
    (app.router, app.signet, app.dir)
}

async fn call(app: &axum::Router, req: Request<Body>) -> (StatusCode, Value) {
    let (status, body, _) = call_h(app, req).await;
    (status, body)
}

fn post(uri: &str, body: &Value) -> Request<Body> {
    browser(uri, body, None)
}

/// A same-origin browser POST, with the session cookie and its CSRF token when given.
fn browser(uri: &str, body: &Value, session: Option<(&str, &str)>) -> Request<Body> {
    let mut b = Request::post(uri)
        .header("host", "localhost:8420")
        .header("origin", ORIGIN)
        .header("sec-fetch-site", "same-origin")
        .header("content-type", "application/json")
        .header("user-agent", "router-test");
    if let Some((cookie, csrf)) = session {
        b = b.header("cookie", cookie).header("x-csrf-token", csrf);
    }
    b.body(Body::from(body.to_string())).expect("request")
}

fn op(user: &UserRecord) -> AuthedOperator {
    AuthedOperator::key(
        OperatorRecord {
            id: OperatorId::generate(),
            name: "browser".into(),
            public_key: SecretSeed::generate().public_key(),
            owner: true,
            disabled: false,
            created_ms: 0,
            user_id: Some(user.id),
            expires_ms: None,
        },
        Role::Owner,
        IpAddr::V4(Ipv4Addr::LOCALHOST).into(),
    )
}

/// Registers a passkey for a new owner through core, and returns its software authenticator.
async fn owner_with_passkey(signet: &Signet) -> (UserRecord, Passkey) {
    let owner = signet
        .accounts()
        .create_owner(NewOwner {
            username: "owner",
            email: "owner@example.test",
            password: Password::new("correct horse battery staple"),
        })
        .await
        .unwrap()
        .user;
    let op = op(&owner);
    let c = signet
        .passkeys()
        .passkey_register_start(&op, "laptop")
        .await
        .unwrap();
    let mut passkey = Passkey::new(ORIGIN);
    let cred = passkey.create(&c.public_key);
    signet
        .passkeys()
        .passkey_register_finish(&op, c.challenge_id.as_str(), &cred)
        .await
        .unwrap();
    assert_eq!(
        passkey.user_handle.as_deref(),
        Some(&owner.id.as_bytes()[..])
    );
    (owner, passkey)
}

#[tokio::test]
async fn a_passkey_opens_a_session_steps_up_and_manages_passkeys_over_http() {
    let (app, signet, _dir) = app(ORIGIN).await;
    let (owner, mut passkey) = owner_with_passkey(&signet).await;

    let (status, start) = call(&app, post("/v1/auth/passkey/login/start", &json!({}))).await;
    assert_eq!(status, StatusCode::OK, "{start}");
    assert!(start["challengeId"].as_str().unwrap().starts_with("wac_"));
    assert_eq!(start["publicKey"]["rpId"], "localhost");
    assert_eq!(start["publicKey"]["userVerification"], "required");
    let cred = passkey.get(&start["publicKey"]);
    let body = json!({ "challengeId": start["challengeId"], "credential": cred });

    // The answer is a session, exactly like a password sign-in's.
    let (status, view, headers) = call_h(&app, post("/v1/auth/passkey/login/finish", &body)).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["user"]["id"], owner.id.to_string());
    assert!(
        view["stepUpUntil"].is_i64(),
        "a passkey sign-in counts as a step-up"
    );
    let csrf = view["csrfToken"].as_str().unwrap().to_owned();
    let cookie = headers
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let session = Some((cookie.as_str(), csrf.as_str()));

    // The same answer again: the uniform 401 every failed sign-in gets.
    let (status, again) = call(&app, post("/v1/auth/passkey/login/finish", &body)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, unsigned) = call(
        &app,
        Request::get("/v1/admin/projects")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(again, unsigned);
    let history = signet
        .accounts()
        .login_history(&owner.id, 10)
        .await
        .unwrap();
    assert_eq!(history[0].user_agent, "router-test");

    // Step-up in the session.
    let (status, c) = call(
        &app,
        browser("/v1/auth/step-up/passkey/start", &json!({}), session),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{c}");
    let cred = passkey.get(&c["publicKey"]);
    let answer = json!({ "challengeId": c["challengeId"], "credential": cred });
    let (status, done) = call(
        &app,
        browser("/v1/auth/step-up/passkey/finish", &answer, session),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert!(done["stepUpUntil"].is_i64());
    let (status, _) = call(
        &app,
        browser("/v1/auth/step-up/passkey/finish", &answer, session),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a challenge answers once");
    // Without the CSRF token nothing happens.
    let (status, json) = call(
        &app,
        browser(
            "/v1/auth/step-up/passkey/start",
            &json!({}),
            Some((cookie.as_str(), "wrong")),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{json}");

    // Register a second passkey, rename it, list it on the account page, delete it.
    let (status, c) = call(
        &app,
        browser(
            "/v1/admin/account/passkeys/register/start",
            &json!({ "name": "phone" }),
            session,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{c}");
    let cred = Passkey::new(ORIGIN).create(&c["publicKey"]);
    let (status, phone) = call(
        &app,
        browser(
            "/v1/admin/account/passkeys/register/finish",
            &json!({ "challengeId": c["challengeId"], "credential": cred }),
            session,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{phone}");
    assert_eq!(phone["name"], "phone");
    assert!(phone["lastUsedAt"].is_null());
    let id = phone["id"].as_str().unwrap().to_owned();
    let (status, renamed) = call(
        &app,
        browser(
            &format!("/v1/admin/account/passkeys/{id}/rename"),
            &json!({ "name": "old phone" }),
            session,
        ),
    )
    .await;
    assert_eq!(
        (status, &renamed["name"]),
        (StatusCode::OK, &json!("old phone"))
    );
    let req = Request::get("/v1/admin/account")
        .header("host", "localhost:8420")
        .header("cookie", &cookie)
        .body(Body::empty())
        .unwrap();
    let (status, account) = call(&app, req).await;
    assert_eq!(status, StatusCode::OK, "{account}");
    let names: Vec<&str> = account["passkeys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["laptop", "old phone"]);
    let (status, deleted) = call(
        &app,
        browser(
            &format!("/v1/admin/account/passkeys/{id}/delete"),
            &json!({}),
            session,
        ),
    )
    .await;
    assert_eq!(
        (status, deleted),
        (StatusCode::OK, json!({ "deleted": true }))
    );
    let (status, _) = call(
        &app,
        browser(
            &format!("/v1/admin/account/passkeys/{id}/delete"),
            &json!({}),
            session,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn malformed_answers_are_400_and_unknown_challenges_401() {
    let (app, _signet, _dir) = app(ORIGIN).await;
    for body in [
        json!({ "challengeId": "nope", "credential": {} }),
        json!({ "challengeId": "wac_AAAAAAAAAAAAAAAAAAAAAAAA", "credential": { "id": 1 } }),
        json!({ "challengeId": "wac_AAAAAAAAAAAAAAAAAAAAAAAA" }),
        json!({ "challengeId": "wac_AAAAAAAAAAAAAAAAAAAAAAAA", "credential": {}, "extra": 1 }),
    ] {
        let (status, json) = call(&app, post("/v1/auth/passkey/login/finish", &body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} -> {json}");
    }
    let forged = json!({
        "challengeId": "wac_AAAAAAAAAAAAAAAAAAAAAAAA",
        "credential": {
            "id": "AAAA", "rawId": "AAAA", "type": "public-key",
            "response": { "authenticatorData": "AAAA", "clientDataJSON": "AAAA", "signature": "AAAA",
                          "userHandle": "AAAA" },
        },
    });
    let (status, json) = call(&app, post("/v1/auth/passkey/login/finish", &forged)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{json}");
    assert_eq!(json["code"], "authentication_failed");
    let (status, _) = call(
        &app,
        post(
            "/v1/auth/passkey/login/start",
            &json!({ "username": "owner" }),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "sign-in takes no username");
}

#[tokio::test]
async fn account_passkey_routes_need_an_authenticated_caller() {
    let (app, _signet, _dir) = app(ORIGIN).await;
    for (uri, body) in [
        (
            "/v1/admin/account/passkeys/register/start",
            json!({ "name": "x" }),
        ),
        (
            "/v1/admin/account/passkeys/register/finish",
            json!({ "challengeId": "x", "credential": {} }),
        ),
        (
            "/v1/admin/account/passkeys/pkey_AAAAAAAAAAAAAAAA/rename",
            json!({ "name": "x" }),
        ),
        (
            "/v1/admin/account/passkeys/pkey_AAAAAAAAAAAAAAAA/delete",
            json!({}),
        ),
        ("/v1/auth/step-up/passkey/start", json!({})),
        (
            "/v1/auth/step-up/passkey/finish",
            json!({ "challengeId": "x", "credential": {} }),
        ),
    ] {
        let (status, json) = call(&app, post(uri, &body)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{uri}");
        assert_eq!(json["code"], "authentication_failed", "{uri}");
    }
}

#[tokio::test]
async fn without_a_domain_passkeys_are_unavailable() {
    let (app, _signet, _dir) = app("http://127.0.0.1:8420").await;
    let (status, json) = call(&app, post("/v1/auth/passkey/login/start", &json!({}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(json["code"], "passkeys_unavailable");
}
