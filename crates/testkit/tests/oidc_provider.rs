//! The test OpenID provider and its driver, as Signet's SSO tests use them: a sign-in returns the
//! callback (code, state, iss) unfollowed, the code redeems for an ID token with the claims Signet
//! maps on, the provider's session skips the form until `end_sessions`, and wrong credentials are
//! told apart from a provider error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Url;
use serde_json::Value;
use signet_testkit::oidc_provider::{
    OidcAccount, OidcClient, ProviderConfig, SignInError, TestOidcProvider, form_body,
};

// Nothing listens there: the driver must stop before following the redirect.
const CALLBACK: &str = "http://127.0.0.1:9/v1/auth/sso/callback";
const SECRET: &str = "test-client-secret-0123456789abcdef";

fn random_b64() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).unwrap();
    URL_SAFE_NO_PAD.encode(bytes)
}

struct Authorize {
    url: String,
    state: String,
    nonce: String,
    verifier: String,
}

fn authorize(idp: &TestOidcProvider, client_id: &str, extra: &[(&str, &str)]) -> Authorize {
    let (state, nonce, verifier) = (random_b64(), random_b64(), random_b64());
    let challenge = URL_SAFE_NO_PAD.encode(digest(&SHA256, verifier.as_bytes()));
    let mut url = Url::parse(&format!("{}/auth", idp.issuer())).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", CALLBACK)
        .append_pair("scope", "openid")
        .append_pair("state", &state)
        .append_pair("nonce", &nonce)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .extend_pairs(extra);
    Authorize {
        url: url.into(),
        state,
        nonce,
        verifier,
    }
}

fn param(url: &str, name: &str) -> Option<String> {
    Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn provider() -> TestOidcProvider {
    TestOidcProvider::start(
        &ProviderConfig::new()
            .client(OidcClient::confidential("signet", SECRET, CALLBACK))
            .client(OidcClient::public("other", CALLBACK))
            .account(
                OidcAccount::new("alice", "alice-password")
                    .subject("sub-alice")
                    .name("Alice Example")
                    .groups(&["signet-admins", "staff"])
                    .amr(&["pwd", "otp"]),
            )
            .account(OidcAccount::new("bob", "bob-password").email("bob@example.test", false)),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_returns_the_callback_with_a_code_that_redeems_for_the_claims() {
    let idp = provider();
    let a = authorize(&idp, "signet", &[]);
    let callback = idp
        .sign_in(&a.url, "alice", "alice-password")
        .await
        .unwrap();
    assert!(callback.starts_with(&format!("{CALLBACK}?")), "{callback}");
    assert_eq!(param(&callback, "state").unwrap(), a.state);
    assert_eq!(param(&callback, "iss").unwrap(), idp.issuer());
    let code = param(&callback, "code").expect("a code");

    // Redeemed as Signet does: client_secret_basic, the PKCE verifier.
    let form = form_body(&[
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", CALLBACK),
        ("code_verifier", &a.verifier),
    ]);
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let res = http
        .post(format!("{}/token", idp.issuer()))
        .basic_auth("signet", Some(SECRET))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    let id_token = body["id_token"].as_str().unwrap();
    let payload = id_token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    assert_eq!(claims["iss"], idp.issuer());
    assert_eq!(claims["aud"], "signet");
    assert_eq!(claims["sub"], "sub-alice");
    assert_eq!(claims["nonce"], a.nonce.as_str());
    assert_eq!(claims["preferred_username"], "alice");
    assert_eq!(claims["email"], "alice@example.test");
    assert_eq!(claims["email_verified"], true);
    assert_eq!(claims["name"], "Alice Example");
    assert_eq!(
        claims["groups"],
        serde_json::json!(["signet-admins", "staff"])
    );
    assert_eq!(claims["amr"], serde_json::json!(["pwd", "otp"]));
    assert!(claims["auth_time"].is_i64());

    // A second redemption of the same code is refused by the provider.
    let again = http
        .post(format!("{}/token", idp.issuer()))
        .basic_auth("signet", Some(SECRET))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_provider_session_skips_the_form_until_it_is_ended() {
    let idp = provider();
    idp.sign_in(&authorize(&idp, "signet", &[]).url, "bob", "bob-password")
        .await
        .unwrap();

    let a = authorize(&idp, "signet", &[]);
    let silent = idp.sign_in_with_session(&a.url).await.unwrap();
    assert_eq!(param(&silent, "state").unwrap(), a.state);
    assert!(param(&silent, "code").is_some());

    // Step-up asks again even with a live session.
    let step_up = authorize(&idp, "signet", &[("prompt", "login"), ("max_age", "0")]);
    assert_eq!(
        idp.sign_in_with_session(&step_up.url).await,
        Err(SignInError::LoginRequired)
    );

    assert!(idp.end_sessions().await >= 1);
    assert_eq!(
        idp.sign_in_with_session(&authorize(&idp, "signet", &[]).url)
            .await,
        Err(SignInError::LoginRequired)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_and_bad_requests_are_told_apart() {
    let idp = provider();
    let url = authorize(&idp, "signet", &[]).url;
    assert_eq!(
        idp.sign_in(&url, "alice", "wrong").await,
        Err(SignInError::CredentialsRefused)
    );
    assert_eq!(
        idp.sign_in(&url, "mallory", "alice-password").await,
        Err(SignInError::CredentialsRefused)
    );

    // An unknown client: the provider's own error page, no redirect to anyone.
    let unknown = authorize(&idp, "nobody", &[]).url;
    assert!(matches!(
        idp.sign_in(&unknown, "alice", "alice-password").await,
        Err(SignInError::Provider { status: 400, .. })
    ));

    // Not the provider's URL at all.
    assert!(matches!(
        idp.sign_in(CALLBACK, "alice", "alice-password").await,
        Err(SignInError::Other(_))
    ));

    // Without PKCE the provider redirects back with an error, which the driver hands over.
    let mut no_pkce = Url::parse(&format!("{}/auth", idp.issuer())).unwrap();
    no_pkce
        .query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", "other")
        .append_pair("redirect_uri", CALLBACK)
        .append_pair("scope", "openid")
        .append_pair("state", "s1");
    let refused = idp
        .sign_in(no_pkce.as_str(), "alice", "alice-password")
        .await
        .unwrap();
    assert_eq!(param(&refused, "error").unwrap(), "invalid_request");
    assert_eq!(param(&refused, "state").unwrap(), "s1");
}
