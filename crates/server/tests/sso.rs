//! Single sign-on through the router, in-process with `oneshot`: only owners manage providers
//! and mappings, the vault's SSO settings and their rules, SSO-required mode refusing password
//! sign-in (browser and `cli-login`) for all but the break-glass owner, and the sign-in routes'
//! refusals that need no provider (an unknown state, a link without a session, a bad finish).
//! The flows with a real provider are `crates/cli/tests/e2e/sso.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly by design.

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use serde_json::{Value, json};
use signet_core::SignetConfig;
use signet_core::account::{NewOwner, NewUser, OwnerEnrollment, Password};
use signet_core::auth::AuthedOperator;
use signet_core::session::OpenedSession;
use signet_proto::SecretSeed;
use signet_store::Role;
use signet_testkit::app::TestApp;
use signet_testkit::{LOCAL, PASSWORD};

const ORIGIN: &str = "http://localhost:8420";

async fn app() -> TestApp {
    TestApp::sqlite(SignetConfig {
        api_url: ORIGIN.to_owned(),
        ..SignetConfig::default()
    })
    .await
}

/// A browser-like request: same-origin headers, and the cookie and CSRF token when given.
fn browser(method: &str, uri: &str, session: Option<&Session>, body: Value) -> Request<Body> {
    let mut b = Request::builder()
        .method(method)
        .uri(uri)
        .header("host", "localhost:8420")
        .header("origin", ORIGIN)
        .header("sec-fetch-site", "same-origin")
        .header("content-type", "application/json");
    if let Some(s) = session {
        b = b
            .header("cookie", &s.cookie)
            .header("x-csrf-token", &s.csrf);
    }
    let body = if method == "GET" {
        Body::empty()
    } else {
        Body::from(body.to_string())
    };
    b.body(body).expect("request")
}

struct Session {
    cookie: String,
    csrf: String,
}

fn session_of(opened: OpenedSession) -> Session {
    Session {
        cookie: format!("__Host-signet_session={}", opened.secret.expose()),
        csrf: opened.view.csrf_token,
    }
}

struct People {
    owner: OwnerEnrollment,
    admin: OwnerEnrollment,
    viewer: OwnerEnrollment,
}

/// An owner account (first-run), and an admin and a viewer the owner made, each with TOTP and
/// recovery codes.
async fn people(app: &TestApp) -> People {
    let signet = &app.signet;
    let owner = signet
        .accounts()
        .create_owner(NewOwner {
            username: "alice",
            email: "alice@example.test",
            password: Password::new(PASSWORD),
        })
        .await
        .unwrap();
    let (key, _) = signet
        .operators()
        .create_operator("owner", true)
        .await
        .unwrap();
    let op = AuthedOperator::key(key, Role::Owner, LOCAL);
    let mut made = Vec::new();
    for (name, role) in [("bob", Role::Admin), ("carol", Role::Viewer)] {
        let email = format!("{name}@example.test");
        made.push(
            signet
                .accounts()
                .create_user(
                    &op,
                    NewUser {
                        username: name,
                        email: &email,
                        password: Password::new(PASSWORD),
                        role,
                        projects: None,
                    },
                )
                .await
                .unwrap(),
        );
    }
    let viewer = made.pop().unwrap();
    let admin = made.pop().unwrap();
    People {
        owner,
        admin,
        viewer,
    }
}

async fn session(app: &TestApp, who: &OwnerEnrollment) -> Session {
    session_of(
        app.signet
            .sessions()
            .open_session(&who.user, LOCAL, "test", None)
            .await
            .unwrap(),
    )
}

fn provider_body(name: &str) -> Value {
    json!({"name": name, "issuer": "https://idp.example", "clientId": "signet",
           "clientSecret": "s3cret-of-the-client", "jitUsers": true})
}

#[tokio::test]
async fn only_owners_manage_providers_and_mappings() {
    let app = app().await;
    let p = people(&app).await;
    let owner = session(&app, &p.owner).await;
    let (status, made, _) = app
        .call(browser(
            "POST",
            "/v1/admin/sso/providers",
            Some(&owner),
            provider_body("Acme"),
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{made}");
    assert_eq!(made["hasClientSecret"], true);
    assert!(made.get("clientSecret").is_none());
    assert_eq!(
        made["redirectUri"],
        format!("{ORIGIN}/v1/auth/sso/callback")
    );
    assert_eq!(made["scopes"], json!(["profile", "email"]));
    let id = made["id"].as_str().unwrap().to_owned();
    let (status, with_mapping, _) = app
        .call(browser(
            "POST",
            &format!("/v1/admin/sso/providers/{id}/mappings"),
            Some(&owner),
            json!({"claim": "groups", "value": "eng", "role": "developer"}),
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{with_mapping}");
    let mapping = with_mapping["mappings"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(with_mapping["mappings"][0]["position"], 1);

    for who in [&p.admin, &p.viewer] {
        let s = session(&app, who).await;
        let calls = [
            ("GET", "/v1/admin/sso/providers".to_owned(), Value::Null),
            ("POST", "/v1/admin/sso/providers".to_owned(), provider_body("Evil")),
            ("GET", format!("/v1/admin/sso/providers/{id}"), Value::Null),
            (
                "POST",
                format!("/v1/admin/sso/providers/{id}/update"),
                json!({"jitUsers": false}),
            ),
            (
                "POST",
                format!("/v1/admin/sso/providers/{id}/mappings"),
                json!({"claim": "groups", "value": "x", "role": "owner"}),
            ),
            (
                "POST",
                format!("/v1/admin/sso/providers/{id}/mappings/{mapping}/delete"),
                json!({}),
            ),
            ("POST", format!("/v1/admin/sso/providers/{id}/delete"), json!({})),
            (
                "POST",
                "/v1/admin/vault/settings".to_owned(),
                json!({"ssoTrustProviderMfa": true}),
            ),
        ];
        for (method, path, body) in calls {
            let (status, answer, _) = app.call(browser(method, &path, Some(&s), body)).await;
            assert_eq!(
                (status, answer["code"].as_str()),
                (StatusCode::FORBIDDEN, Some("access_denied")),
                "{} {method} {path}",
                who.user.username
            );
        }
    }
    // Nothing changed.
    let (_, list, _) = app
        .call(browser("GET", "/v1/admin/sso/providers", Some(&owner), Value::Null))
        .await;
    assert_eq!(list["providers"].as_array().unwrap().len(), 1);
    assert_eq!(list["providers"][0]["jitUsers"], true);
    assert_eq!(list["providers"][0]["mappings"].as_array().unwrap().len(), 1);

    // The owner changes, then removes.
    let (status, changed, _) = app
        .call(browser(
            "POST",
            &format!("/v1/admin/sso/providers/{id}/update"),
            Some(&owner),
            json!({"clientSecret": "", "enabled": false}),
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["hasClientSecret"], false);
    assert_eq!(changed["enabled"], false);
    let (status, _, _) = app
        .call(browser(
            "POST",
            &format!("/v1/admin/sso/providers/{id}/delete"),
            Some(&owner),
            json!({}),
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = app
        .call(browser(
            "GET",
            &format!("/v1/admin/sso/providers/{id}"),
            Some(&owner),
            Value::Null,
        ))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

fn totp_code(who: &OwnerEnrollment) -> String {
    let totp = totp_rs::Totp::from_url(who.otpauth_uri.as_str()).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    totp.generate(now).to_string()
}

async fn password_sign_in(app: &TestApp, login: &str, recovery_code: &str) -> (StatusCode, Value) {
    let (status, body, _) = app
        .call(browser(
            "POST",
            "/v1/auth/session",
            None,
            json!({"login": login, "password": PASSWORD, "recoveryCode": recovery_code}),
        ))
        .await;
    (status, body)
}

async fn cli_login(app: &TestApp, login: &str, recovery_code: &str) -> (StatusCode, Value) {
    let key = SecretSeed::generate().public_key().to_base64();
    let (status, body, _) = app
        .call(
            Request::builder()
                .method("POST")
                .uri("/v1/auth/cli-login")
                .header("content-type", "application/json")
                .body(Body::from(
                    json!({"login": login, "password": PASSWORD, "recoveryCode": recovery_code,
                           "publicKey": key})
                    .to_string(),
                ))
                .unwrap(),
        )
        .await;
    (status, body)
}

#[tokio::test]
async fn sso_required_refuses_password_sign_in_for_all_but_the_break_glass_owner() {
    let app = app().await;
    let p = people(&app).await;
    let owner = session(&app, &p.owner).await;
    let settings = |body: Value| browser("POST", "/v1/admin/vault/settings", Some(&owner), body);

    // Requiring SSO needs a break-glass owner, and a provider with a mapping.
    let (status, body, _) = app.call(settings(json!({"ssoRequired": true}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    // An admin, or nobody, cannot be the break-glass owner.
    for who in ["bob", "nobody", "usr_000000000000000000000000"] {
        let (status, body, _) = app.call(settings(json!({"breakGlassUser": who}))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{who}: {body}");
    }
    let (status, body, _) = app
        .call(settings(json!({"ssoRequired": true, "breakGlassUser": "Alice"})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "no provider yet: {body}");
    let (_, made, _) = app
        .call(browser(
            "POST",
            "/v1/admin/sso/providers",
            Some(&owner),
            provider_body("Acme"),
        ))
        .await;
    let id = made["id"].as_str().unwrap().to_owned();
    let (status, body, _) = app
        .call(settings(json!({"ssoRequired": true, "breakGlassUser": "Alice"})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "no mapping yet: {body}");
    app.call(browser(
        "POST",
        &format!("/v1/admin/sso/providers/{id}/mappings"),
        Some(&owner),
        json!({"claim": "groups", "value": "eng", "role": "developer"}),
    ))
    .await;
    let (status, vault, _) = app
        .call(settings(json!({"ssoRequired": true, "breakGlassUser": "Alice"})))
        .await;
    assert_eq!(status, StatusCode::OK, "{vault}");
    assert_eq!(vault["ssoRequired"], true);
    assert_eq!(vault["breakGlassUser"], p.owner.user.id.to_string());
    assert_eq!(vault["ssoTrustProviderMfa"], false);
    let (_, options, _) = app
        .call(browser("GET", "/v1/auth/sso/providers", None, Value::Null))
        .await;
    assert_eq!(options["required"], true);
    assert_eq!(options["providers"][0]["name"], "Acme");

    // The admin: right password and code, refused with the documented code, browser and CLI.
    let codes = &p.admin.recovery_codes;
    let (status, body) = password_sign_in(&app, "bob", &codes[0]).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("sso_required")),
        "{body}"
    );
    let (status, body) = cli_login(&app, "bob", &codes[1]).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("sso_required")),
        "{body}"
    );
    // A wrong password is still the uniform 401: the mode says nothing before both factors.
    let (status, body, _) = app
        .call(browser(
            "POST",
            "/v1/auth/session",
            None,
            json!({"login": "bob", "password": "not the password at all", "recoveryCode": codes[2]}),
        ))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("authentication_failed"))
    );

    // The break-glass owner signs in both ways.
    let (status, body, _) = app
        .call(browser(
            "POST",
            "/v1/auth/session",
            None,
            json!({"login": "alice", "password": PASSWORD, "totp": totp_code(&p.owner)}),
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = cli_login(&app, "alice", &p.owner.recovery_codes[0]).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // The break-glass owner stays while SSO is required; the provider it depends on too.
    let (status, body, _) = app
        .call(settings(json!({"breakGlassUser": ""})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body, _) = app
        .call(browser(
            "POST",
            &format!("/v1/admin/sso/providers/{id}/delete"),
            Some(&owner),
            json!({}),
        ))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // Turned off, the admin signs in again.
    let (status, _, _) = app.call(settings(json!({"ssoRequired": false}))).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = password_sign_in(&app, "bob", &codes[3]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn the_break_glass_owner_cannot_be_suspended_or_demoted_while_sso_is_required() {
    let app = app().await;
    let p = people(&app).await;
    // A second owner to attempt it.
    let (key, _) = app
        .signet
        .operators()
        .create_operator("owner", true)
        .await
        .unwrap();
    let op = AuthedOperator::key(key, Role::Owner, LOCAL);
    let owner = session(&app, &p.owner).await;
    let (_, made, _) = app
        .call(browser(
            "POST",
            "/v1/admin/sso/providers",
            Some(&owner),
            provider_body("Acme"),
        ))
        .await;
    let id = made["id"].as_str().unwrap().to_owned();
    app.call(browser(
        "POST",
        &format!("/v1/admin/sso/providers/{id}/mappings"),
        Some(&owner),
        json!({"claim": "groups", "value": "eng", "role": "developer"}),
    ))
    .await;
    let (status, body, _) = app
        .call(browser(
            "POST",
            "/v1/admin/vault/settings",
            Some(&owner),
            json!({"ssoRequired": true, "breakGlassUser": p.owner.user.id.to_string()}),
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let alice = p.owner.user.id.to_string();
    let users = app.signet.users();
    assert_eq!(
        users.set_user_active(&op, &alice, false).await.unwrap_err(),
        signet_core::CoreError::Conflict(signet_core::Conflict::BreakGlass)
    );
    assert_eq!(
        users.remove_user(&op, &alice).await.unwrap_err(),
        signet_core::CoreError::Conflict(signet_core::Conflict::BreakGlass)
    );
    assert_eq!(
        users
            .set_user_role(
                &op,
                &alice,
                signet_core::user::AccessChange {
                    role: Role::Admin,
                    projects: None
                }
            )
            .await
            .unwrap_err(),
        signet_core::CoreError::Conflict(signet_core::Conflict::BreakGlass)
    );
}

#[tokio::test]
async fn sign_in_routes_refuse_without_a_provider_round_trip() {
    let app = app().await;
    let p = people(&app).await;
    let owner = session(&app, &p.owner).await;
    let (_, made, _) = app
        .call(browser(
            "POST",
            "/v1/admin/sso/providers",
            Some(&owner),
            provider_body("Acme"),
        ))
        .await;
    let id = made["id"].as_str().unwrap().to_owned();

    // A callback naming no attempt: one redirect, the binding cookie cleared, a record.
    for query in ["", "?code=c&state=made-up", "?error=access_denied&state=x"] {
        let (status, _, headers) = app
            .call(browser(
                "GET",
                &format!("/v1/auth/sso/callback{query}"),
                None,
                Value::Null,
            ))
            .await;
        assert_eq!(status, StatusCode::FOUND, "{query}");
        assert_eq!(location(&headers), "/#/login?sso=failed");
        let cleared = headers.get("set-cookie").unwrap().to_str().unwrap();
        assert!(cleared.starts_with("signet_sso=;") && cleared.contains("Max-Age=0"));
    }
    let records = app
        .signet
        .audit()
        .audit_list(
            &AuthedOperator::key(
                app.signet
                    .operators()
                    .create_operator("reader", true)
                    .await
                    .unwrap()
                    .0,
                Role::Owner,
                LOCAL,
            ),
            &signet_store::AuditFilter {
                action: Some("sso_login".to_owned()),
                limit: 100,
                ..signet_store::AuditFilter::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(records.len(), 3);
    assert!(
        records
            .iter()
            .all(|r| r.result == "denied" && r.detail.contains("reason=sso_unknown_state")),
        "{records:?}"
    );

    // Starts: an unknown provider, a link or step-up without a session, a bad purpose.
    for (path, code) in [
        ("/v1/auth/sso/sso_000000000000/start".to_owned(), StatusCode::FORBIDDEN),
        (format!("/v1/auth/sso/{id}/start?purpose=link"), StatusCode::FORBIDDEN),
        (format!("/v1/auth/sso/{id}/start?purpose=step_up"), StatusCode::FORBIDDEN),
        (format!("/v1/auth/sso/{id}/start?purpose=other"), StatusCode::BAD_REQUEST),
    ] {
        let (status, body, _) = app.call(browser("GET", &path, None, Value::Null)).await;
        assert_eq!(status, code, "{path}: {body}");
    }
    // Step-up through the provider needs the vault to trust its MFA.
    let (status, _, _) = app
        .call(browser(
            "GET",
            &format!("/v1/auth/sso/{id}/start?purpose=step_up"),
            Some(&owner),
            Value::Null,
        ))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // A finish for nothing: the uniform 401.
    let (status, body, _) = app
        .call(browser(
            "POST",
            "/v1/auth/sso/cli/finish",
            None,
            json!({"attemptId": "ssa_000000000000000000000000", "completionCode": "x",
                   "signature": "AAAA"}),
        ))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("authentication_failed"))
    );
    // A CLI start with a malformed key or port is a 400.
    for bad in [
        json!({"provider": "Acme", "publicKey": "nope", "loopbackPort": 40000}),
        json!({"provider": "Acme", "publicKey": SecretSeed::generate().public_key().to_base64(),
               "loopbackPort": 80}),
    ] {
        let (status, body, _) = app
            .call(browser("POST", "/v1/auth/sso/cli/start", None, bad))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    }
}

fn location(headers: &HeaderMap) -> &str {
    headers.get("location").unwrap().to_str().unwrap()
}
