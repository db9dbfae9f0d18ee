//! Issue 14 §3 through real processes on both backends: a `signet server` trusts a real OpenID
//! provider (`oidc-provider`, started by `signet_testkit::oidc_provider`) for people's sign-in.
//! A person signs in through it in a "browser" (HTTP with the cookies a browser would carry):
//! created just in time by a mapping, the session works on the dashboard API, and nothing else
//! (no password) signs them in. `POST /v1/auth/sso/cli/start` and `.../finish` register a key
//! for the same person through the loopback completion. Every refusal (a wrong or replayed
//! state, a replayed code with a fresh state, a code issued to another client, a missing or
//! foreign binding cookie, no mapping, no link with just-in-time creation off, an expired
//! attempt, the provider's `error=access_denied`, a wrong completion code or key) is the same
//! redirect, with an audit record naming its reason.

use serde_json::{Value, json};
use signet_client::OperatorClient;
use signet_client::identity::{Credentials, OperatorIdentity};
use signet_proto::SecretSeed;
use signet_testkit::oidc_provider::{OidcAccount, OidcClient, ProviderConfig, TestOidcProvider};

use crate::harness::AdminJson;
use crate::harness::{Backend, Fixture, TestServer, every_backend, psql};

const CLIENT_SECRET: &str = "a client secret of the signet client";
const PASSWORD: &str = "correct horse battery staple";
const FAILED: &str = "/#/login?sso=failed";

/// A server whose outbound fetches may reach loopback (where the provider is).
fn server(backend: Backend) -> TestServer {
    let mut s = TestServer::unstarted_on(backend);
    let config = match &s.config {
        Some(c) => c.clone(),
        None => s.data_dir.with_file_name("sso.toml"),
    };
    let mut text = std::fs::read_to_string(&config).unwrap_or_default();
    text.push_str("oidc_allow_cidrs = [\"127.0.0.0/8\"]\n");
    std::fs::write(&config, text).expect("config");
    s.config = Some(config);
    s.spawn(0, &[]).expect("server starts");
    s
}

struct Setup {
    f: Fixture,
    idp: TestOidcProvider,
    provider: String,
    owner: OperatorClient,
    http: reqwest::Client,
}

/// What a callback answered.
struct Landed {
    status: u16,
    location: String,
    cookies: Vec<String>,
}

impl Landed {
    fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.iter().find_map(|c| {
            let pair = c.split(';').next()?;
            let (k, v) = pair.split_once('=')?;
            (k == name && !v.is_empty()).then(|| pair.to_owned())
        })
    }
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k == name).then(|| v.to_owned())
    })
}

/// `url` with the query parameter `name` set to `value` (already encoded).
fn with_param(url: &str, name: &str, value: &str) -> String {
    let (base, query) = url.split_once('?').expect("a query");
    let kept: Vec<String> = query
        .split('&')
        .filter(|p| p.split_once('=').map_or(*p, |(k, _)| k) != name)
        .map(str::to_owned)
        .chain(std::iter::once(format!("{name}={value}")))
        .collect();
    format!("{base}?{}", kept.join("&"))
}

/// The provider (clients `signet`, and `other` at the same redirect URI; people `alice` in
/// `eng`, `mallory` in no mapped group, `bob` in `eng` with a second factor) and the server
/// trusting it with one mapping (`groups` contains `eng`: developer), just-in-time users on.
async fn setup(backend: Backend) -> Setup {
    let f = Fixture::with_server(server(backend));
    let callback = format!("{}/v1/auth/sso/callback", f.server.url);
    let idp = TestOidcProvider::start(
        &ProviderConfig::new()
            .client(OidcClient::confidential("signet", CLIENT_SECRET, &callback))
            .client(OidcClient::confidential(
                "other",
                "another secret entirely",
                &callback,
            ))
            .account(
                OidcAccount::new("alice", PASSWORD)
                    .subject("sub-alice")
                    .email("alice@corp.example", true)
                    .name("Alice Liddell")
                    .groups(&["eng"]),
            )
            .account(OidcAccount::new("mallory", PASSWORD).groups(&["sales"]))
            .account(
                OidcAccount::new("bob", PASSWORD)
                    .groups(&["eng"])
                    .amr(&["pwd", "otp"]),
            ),
    );
    let owner = f.operator_client();
    let made = owner
        .request_json(
            "POST",
            "/v1/admin/sso/providers",
            Some(
                &json!({"name": "Corp", "issuer": idp.issuer(), "clientId": "signet",
                         "clientSecret": CLIENT_SECRET, "jitUsers": true}),
            ),
        )
        .await
        .expect("trust the provider");
    assert_eq!(made["redirectUri"], callback);
    let provider = made["id"].as_str().expect("id").to_owned();
    owner
        .request_json(
            "POST",
            &format!("/v1/admin/sso/providers/{provider}/mappings"),
            Some(&json!({"claim": "groups", "value": "eng", "role": "developer"})),
        )
        .await
        .expect("mapping");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .expect("http");
    Setup {
        f,
        idp,
        provider,
        owner,
        http,
    }
}

impl Setup {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.f.server.url)
    }

    /// `GET .../start`: the provider's authorization URL and the binding cookie pair.
    async fn start(&self) -> (String, String) {
        let r = self
            .http
            .get(self.url(&format!("/v1/auth/sso/{}/start", self.provider)))
            .send()
            .await
            .expect("start");
        assert_eq!(r.status(), 302);
        let to = r.headers()["location"]
            .to_str()
            .expect("location")
            .to_owned();
        assert!(to.starts_with(self.idp.issuer()), "{to}");
        let cookie = r.headers()["set-cookie"]
            .to_str()
            .expect("cookie")
            .to_owned();
        for attr in [
            "HttpOnly",
            "SameSite=Lax",
            "Path=/v1/auth/sso",
            "Max-Age=600",
        ] {
            assert!(cookie.contains(attr), "{cookie} lacks {attr}");
        }
        let pair = cookie.split(';').next().expect("pair").to_owned();
        assert!(pair.starts_with("signet_sso=") && pair.len() > 40, "{pair}");
        (to, pair)
    }

    /// Delivers a callback URL to Signet with `cookie` (if any), as a browser would.
    async fn deliver(&self, callback: &str, cookie: Option<&str>) -> Landed {
        assert!(
            callback.starts_with(&self.url("/v1/auth/sso/callback")),
            "{callback}"
        );
        let mut req = self.http.get(callback);
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        let r = req.send().await.expect("callback");
        Landed {
            status: r.status().as_u16(),
            location: r
                .headers()
                .get("location")
                .map(|v| v.to_str().expect("location").to_owned())
                .unwrap_or_default(),
            cookies: r
                .headers()
                .get_all("set-cookie")
                .iter()
                .map(|v| v.to_str().expect("cookie").to_owned())
                .collect(),
        }
    }

    /// A whole browser sign-in as `user`: start, the provider's form, the callback.
    async fn browser_sign_in(&self, user: &str) -> Landed {
        let (authorize, binding) = self.start().await;
        let callback = self
            .idp
            .sign_in(&authorize, user, PASSWORD)
            .await
            .expect("provider sign-in");
        self.deliver(&callback, Some(&binding)).await
    }

    /// The reasons of the denied `sso_login` records, oldest first.
    fn refusals(&self) -> Vec<String> {
        let v = self.f.server.op_json(&[
            "audit",
            "list",
            "--action",
            "sso_login",
            "--result",
            "denied",
            "--limit",
            "200",
        ]);
        let mut out: Vec<String> = v["records"]
            .as_array()
            .expect("records")
            .iter()
            .map(|r| {
                let detail = r["detail"].as_str().expect("detail");
                detail
                    .split(' ')
                    .find_map(|w| w.strip_prefix("reason="))
                    .expect("a reason")
                    .to_owned()
            })
            .collect();
        out.reverse();
        out
    }

    fn records(&self, action: &str) -> Vec<Value> {
        self.f
            .server
            .op_json(&["audit", "list", "--action", action, "--limit", "200"])["records"]
            .as_array()
            .expect("records")
            .clone()
    }

    /// A refused callback: the generic page, the binding cleared, no session.
    fn refused(&self, l: &Landed, why: &str) {
        assert_eq!((l.status, l.location.as_str()), (302, FAILED), "{why}");
        assert!(
            l.cookie("__Host-signet_session").is_none(),
            "{why}: a session"
        );
        assert!(
            l.cookies
                .iter()
                .any(|c| c.starts_with("signet_sso=;") && c.contains("Max-Age=0")),
            "{why}: the binding cookie is not cleared: {:?}",
            l.cookies
        );
    }

    async fn get_with_session(&self, path: &str, session: &str) -> (u16, Value) {
        let r = self
            .http
            .get(self.url(path))
            .header("cookie", session)
            .send()
            .await
            .expect("get");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }
}

every_backend!(async fn a_person_signs_in_through_the_provider_and_is_made_by_a_mapping);
async fn a_person_signs_in_through_the_provider_and_is_made_by_a_mapping(backend: Backend) {
    let t = setup(backend).await;
    let (_, options) = t.get_with_session("/v1/auth/sso/providers", "").await;
    assert_eq!(options["providers"][0]["name"], "Corp");
    assert_eq!(options["required"], false);

    let l = t.browser_sign_in("alice").await;
    assert_eq!(
        (l.status, l.location.as_str()),
        (302, "/#/"),
        "{:?}",
        t.refusals()
    );
    let session = l.cookie("__Host-signet_session").expect("a session cookie");
    let (status, who) = t.get_with_session("/v1/auth/session", &session).await;
    assert_eq!(status, 200, "{who}");
    assert_eq!(who["user"]["username"], "alice");
    assert_eq!(who["user"]["role"], "developer");
    assert_eq!(who["user"]["email"], "alice@corp.example");
    assert_eq!(who["user"]["displayName"], "Alice Liddell");
    // No step-up from a provider sign-in: the vault does not trust the provider's MFA.
    assert_eq!(who["stepUpUntil"], Value::Null);
    let (status, whoami) = t.get_with_session("/v1/admin/whoami", &session).await;
    assert_eq!(status, 200, "{whoami}");
    let (status, linked) = t.get_with_session("/v1/admin/account/sso", &session).await;
    assert_eq!(status, 200);
    assert_eq!(linked["identities"][0]["subject"], "sub-alice");
    assert_eq!(linked["identities"][0]["providerName"], "Corp");

    // Signing in again finds the link: one user, role brought in line with the mapping.
    t.owner
        .request_json(
            "POST",
            &format!("/v1/admin/sso/providers/{}/update", t.provider),
            Some(&json!({"jitUsers": false})),
        )
        .await
        .expect("jit off");
    let l = t.browser_sign_in("alice").await;
    assert_eq!(
        (l.status, l.location.as_str()),
        (302, "/#/"),
        "{:?}",
        t.refusals()
    );
    let users = t.f.server.op_json(&["user", "list"]);
    let alices: Vec<&Value> = users["users"]
        .as_array()
        .expect("users")
        .iter()
        .filter(|u| u["username"] == "alice")
        .collect();
    assert_eq!(alices.len(), 1);
    assert_eq!(t.records("sso_user_create").len(), 1);
    assert_eq!(
        t.records("sso_login")
            .iter()
            .filter(|r| r["result"] == "ok")
            .count(),
        2
    );

    // A user made by SSO has no password: password sign-in is the uniform 401.
    let r = t
        .http
        .post(t.url("/v1/auth/cli-login"))
        .json(&json!({"login": "alice", "password": "", "totp": "000000",
                      "publicKey": SecretSeed::generate().public_key().to_base64()}))
        .send()
        .await
        .expect("cli-login");
    assert_eq!(r.status(), 401);
    assert!(t.refusals().is_empty(), "{:?}", t.refusals());
}

every_backend!(async fn every_refusal_is_one_redirect_with_an_audited_reason);
async fn every_refusal_is_one_redirect_with_an_audited_reason(backend: Backend) {
    let t = setup(backend).await;
    let mut expected = Vec::new();

    // A wrong state.
    let (authorize, binding) = t.start().await;
    let callback = t
        .idp
        .sign_in(&authorize, "alice", PASSWORD)
        .await
        .expect("sign-in");
    let wrong = with_param(&callback, "state", "not-the-state");
    t.refused(&t.deliver(&wrong, Some(&binding)).await, "a wrong state");
    expected.push("sso_unknown_state");

    // The same callback twice: the first signs in, the replay is refused.
    let l = t.deliver(&callback, Some(&binding)).await;
    assert_eq!(l.location, "/#/", "{:?}", t.refusals());
    t.refused(
        &t.deliver(&callback, Some(&binding)).await,
        "a replayed state",
    );
    expected.push("sso_unknown_state");

    // The first code again, with a fresh attempt's state and cookie: the provider refuses it.
    let code = query_param(&callback, "code").expect("code");
    let (authorize2, binding2) = t.start().await;
    let state2 = query_param(&authorize2, "state").expect("state");
    let replayed = with_param(&with_param(&callback, "state", &state2), "code", &code);
    t.refused(
        &t.deliver(&replayed, Some(&binding2)).await,
        "a replayed code",
    );
    expected.push("sso_code_refused");

    // A code the provider issued to ANOTHER client, with Signet's state, PKCE and nonce.
    let (authorize, binding) = t.start().await;
    let foreign = with_param(&authorize, "client_id", "other");
    let callback = t
        .idp
        .sign_in(&foreign, "alice", PASSWORD)
        .await
        .expect("sign-in");
    t.refused(
        &t.deliver(&callback, Some(&binding)).await,
        "another client's code",
    );
    expected.push("sso_code_refused");

    // No binding cookie (a callback opened in another browser: login CSRF), then another
    // attempt's cookie.
    let (authorize, _) = t.start().await;
    let callback = t
        .idp
        .sign_in(&authorize, "alice", PASSWORD)
        .await
        .expect("sign-in");
    t.refused(&t.deliver(&callback, None).await, "no binding cookie");
    expected.push("sso_browser_mismatch");
    let (authorize, _) = t.start().await;
    let (_, other_binding) = t.start().await;
    let callback = t
        .idp
        .sign_in(&authorize, "alice", PASSWORD)
        .await
        .expect("sign-in");
    t.refused(
        &t.deliver(&callback, Some(&other_binding)).await,
        "another attempt's cookie",
    );
    expected.push("sso_browser_mismatch");

    // The provider's error (the person cancelled).
    let (authorize, binding) = t.start().await;
    let state = query_param(&authorize, "state").expect("state");
    let cancelled = t.url(&format!(
        "/v1/auth/sso/callback?error=access_denied&state={state}&iss={}",
        t.idp.issuer()
    ));
    t.refused(
        &t.deliver(&cancelled, Some(&binding)).await,
        "access_denied",
    );
    expected.push("sso_provider_error");

    // Claims no mapping holds for: nothing is created.
    t.refused(&t.browser_sign_in("mallory").await, "no mapping");
    expected.push("sso_no_mapping");

    // Just-in-time creation off, and bob never linked.
    t.owner
        .request_json(
            "POST",
            &format!("/v1/admin/sso/providers/{}/update", t.provider),
            Some(&json!({"jitUsers": false})),
        )
        .await
        .expect("jit off");
    t.refused(&t.browser_sign_in("bob").await, "not linked");
    expected.push("sso_not_linked");

    // An attempt past its time (10 minutes: moved into the past in the database).
    let (authorize, binding) = t.start().await;
    let callback = t
        .idp
        .sign_in(&authorize, "alice", PASSWORD)
        .await
        .expect("sign-in");
    expire_attempts(&t.f.server);
    t.refused(&t.deliver(&callback, Some(&binding)).await, "expired");
    expected.push("sso_unknown_state");

    assert_eq!(t.refusals(), expected);
    let users = t.f.server.op_json(&["user", "list"]);
    let names: Vec<&str> = users["users"]
        .as_array()
        .expect("users")
        .iter()
        .map(|u| u["username"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["alice"], "only alice was made");
    // Nothing secret in the log or the audit log: no code, no state.
    let everything =
        t.f.server
            .op_json(&["audit", "list", "--limit", "1000"])
            .to_string();
    assert!(!everything.contains(&code), "a code reached the audit log");
    assert!(
        !t.f.server.log().contains(&code),
        "a code reached the server log"
    );
    assert!(!t.f.server.log().contains(CLIENT_SECRET));
}

/// Moves every attempt's expiry into the past, in the server's own database.
fn expire_attempts(s: &TestServer) {
    const SQL: &str = "UPDATE sso_attempts SET expires_ms = 1";
    match s.database_url() {
        Some(url) => psql(url, SQL).expect("psql"),
        None => {
            let c = rusqlite::Connection::open(s.data_dir.join("signet.db")).expect("sqlite");
            c.busy_timeout(std::time::Duration::from_secs(10))
                .expect("busy");
            c.execute(SQL, []).expect("update");
        }
    }
}

every_backend!(async fn the_cli_finishes_on_its_loopback_with_the_key_it_named);
async fn the_cli_finishes_on_its_loopback_with_the_key_it_named(backend: Backend) {
    use ed25519_dalek::Signer as _;
    let t = setup(backend).await;
    let seed = SecretSeed::generate();
    let start = |seed: &SecretSeed| {
        let body = json!({"provider": "Corp", "publicKey": seed.public_key().to_base64(),
                          "name": "laptop", "loopbackPort": 49321});
        let http = t.http.clone();
        let url = t.url("/v1/auth/sso/cli/start");
        async move {
            let r = http.post(url).json(&body).send().await.expect("cli start");
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.expect("json")
        }
    };
    let finish = |attempt: &str, code: &str, seed: &SecretSeed| {
        // The documented message (protocol §24).
        let message = format!("signet-sso-cli-v1:{attempt}:{code}");
        let signature = base64_std(&seed.signing_key().sign(message.as_bytes()).to_bytes());
        let body = json!({"attemptId": attempt, "completionCode": code, "signature": signature});
        let http = t.http.clone();
        let url = t.url("/v1/auth/sso/cli/finish");
        async move {
            let r = http.post(url).json(&body).send().await.expect("finish");
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };

    let started = start(&seed).await;
    let attempt = started["attemptId"].as_str().expect("attempt").to_owned();
    let authorize = started["authorizeUrl"].as_str().expect("url");
    let callback = t
        .idp
        .sign_in(authorize, "alice", PASSWORD)
        .await
        .expect("sign-in");
    // No binding cookie: the loopback is the binding.
    let l = t.deliver(&callback, None).await;
    assert!(
        l.location.starts_with("http://127.0.0.1:49321/callback?"),
        "{} {:?}",
        l.location,
        t.refusals()
    );
    assert_eq!(
        query_param(&l.location, "attempt").as_deref(),
        Some(attempt.as_str())
    );
    let code = query_param(&l.location, "code").expect("completion code");

    // Another key cannot finish it (and the attempt is spent by the try).
    let (status, _) = finish(&attempt, &code, &SecretSeed::generate()).await;
    assert_eq!(status, 401);
    let (status, _) = finish(&attempt, &code, &seed).await;
    assert_eq!(status, 401, "a spent attempt");

    // A fresh attempt: a wrong code spends it too; the right one registers the key.
    let started = start(&seed).await;
    let attempt = started["attemptId"].as_str().expect("attempt").to_owned();
    let callback = t
        .idp
        .sign_in_with_session(started["authorizeUrl"].as_str().expect("url"))
        .await
        .expect("provider session");
    let l = t.deliver(&callback, None).await;
    let code = query_param(&l.location, "code").expect("completion code");
    let (status, _) = finish(&attempt, "not-the-code", &seed).await;
    assert_eq!(status, 401);
    let started = start(&seed).await;
    let attempt = started["attemptId"].as_str().expect("attempt").to_owned();
    let callback = t
        .idp
        .sign_in_with_session(started["authorizeUrl"].as_str().expect("url"))
        .await
        .expect("provider session");
    let l = t.deliver(&callback, None).await;
    let fresh = query_param(&l.location, "code").expect("completion code");
    assert_ne!(fresh, code);
    let (status, login) = finish(&attempt, &fresh, &seed).await;
    assert_eq!(status, 200, "{login}");

    // The key works as alice's operator key.
    let op = OperatorClient::new(Credentials::new(
        OperatorIdentity {
            operator_id: login["operatorId"]
                .as_str()
                .expect("id")
                .parse()
                .expect("id"),
            name: "laptop".to_owned(),
            vault_id: login["vaultId"]
                .as_str()
                .expect("vault")
                .parse()
                .expect("vault"),
            api_url: t.f.server.url.clone(),
            private_key_path: String::new(),
        },
        seed,
        std::path::PathBuf::from("sso-test"),
    ))
    .expect("client");
    let who = op
        .request_json("GET", "/v1/admin/whoami", None)
        .await
        .expect("whoami");
    let users = t.f.server.op_json(&["user", "list"]);
    let alice = users["users"]
        .as_array()
        .expect("users")
        .iter()
        .find(|u| u["username"] == "alice")
        .expect("alice")
        .clone();
    assert_eq!(who["userId"], alice["id"], "{who}");
    assert_eq!(who["role"], "developer");
    assert_eq!(who["name"], "laptop");
    let denied: Vec<Value> = t
        .records("sso_cli_login")
        .into_iter()
        .filter(|r| r["result"] == "denied")
        .collect();
    assert_eq!(denied.len(), 3);
    assert!(denied.iter().all(|r| {
        r["detail"]
            .as_str()
            .is_some_and(|d| d.contains("reason=sso_bad_completion"))
    }));

    // A refused CLI attempt goes back to the loopback with an error, not to the dashboard.
    let started = start(&SecretSeed::generate()).await;
    let callback = t
        .idp
        .sign_in(
            started["authorizeUrl"].as_str().expect("url"),
            "mallory",
            PASSWORD,
        )
        .await
        .expect("sign-in");
    let l = t.deliver(&callback, None).await;
    assert!(
        l.location.starts_with("http://127.0.0.1:49321/callback?")
            && l.location.ends_with("&error=refused"),
        "{}",
        l.location
    );
}

fn base64_std(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(A[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

every_backend!(async fn a_linked_account_steps_up_through_the_providers_second_factor);
async fn a_linked_account_steps_up_through_the_providers_second_factor(backend: Backend) {
    let t = setup(backend).await;
    let s = &t.f.server;
    // Carol exists with a password and TOTP (made by the owner) and signs in with a recovery
    // code, as before SSO.
    let out = crate::harness::run_with_stdin(
        &s.operator_home,
        &[
            "--json",
            "user",
            "create",
            "--username",
            "carol",
            "--email",
            "carol@example.test",
            "--role",
            "admin",
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
    );
    assert!(out.status.success(), "{}", crate::harness::stderr(&out));
    let made: Value = serde_json::from_slice(&out.stdout).expect("json");
    let codes: Vec<String> = made["recoveryCodes"]
        .as_array()
        .expect("codes")
        .iter()
        .map(|c| c.as_str().expect("code").to_owned())
        .collect();
    let r = t
        .http
        .post(t.url("/v1/auth/session"))
        .json(&json!({"login": "carol", "password": PASSWORD, "recoveryCode": codes[0]}))
        .send()
        .await
        .expect("sign in");
    assert_eq!(r.status(), 200);
    let session = r.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .split(';')
        .next()
        .expect("pair")
        .to_owned();

    // Linking needs her session; without it the start is refused.
    let link_start = t.url(&format!("/v1/auth/sso/{}/start?purpose=link", t.provider));
    let r = t.http.get(&link_start).send().await.expect("start");
    assert_eq!(r.status(), 403);
    let r = t
        .http
        .get(&link_start)
        .header("cookie", &session)
        .send()
        .await
        .expect("start");
    assert_eq!(r.status(), 302);
    let authorize = r.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    let binding = r.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .split(';')
        .next()
        .expect("pair")
        .to_owned();
    let callback = t
        .idp
        .sign_in(&authorize, "bob", PASSWORD)
        .await
        .expect("sign-in");
    let l = t.deliver(&callback, Some(&binding)).await;
    assert_eq!(
        (l.status, l.location.as_str()),
        (302, "/#/account"),
        "{:?}",
        t.refusals()
    );
    let (_, linked) = t.get_with_session("/v1/admin/account/sso", &session).await;
    assert_eq!(linked["identities"][0]["subject"], "bob");
    assert_eq!(t.records("sso_link").len(), 1);

    // A step-up through the provider needs the vault to trust its second factor.
    let step_up = t.url(&format!(
        "/v1/auth/sso/{}/start?purpose=step_up",
        t.provider
    ));
    let r = t
        .http
        .get(&step_up)
        .header("cookie", &session)
        .send()
        .await
        .expect("start");
    assert_eq!(r.status(), 403);
    t.owner
        .request_json(
            "POST",
            "/v1/admin/vault/settings",
            Some(&json!({"ssoTrustProviderMfa": true})),
        )
        .await
        .expect("trust the provider's MFA");

    // Bob's sign-in (amr otp, just now) carries its step-up; his role follows the mapping.
    let l = t.browser_sign_in("bob").await;
    assert_eq!(l.location, "/#/", "{:?}", t.refusals());
    let bob = l.cookie("__Host-signet_session").expect("session");
    let (_, view) = t.get_with_session("/v1/auth/session", &bob).await;
    assert_eq!(view["user"]["username"], "carol");
    assert_eq!(view["user"]["role"], "developer");
    assert!(view["stepUpUntil"].as_i64().is_some(), "{view}");
    assert_eq!(t.records("sso_user_sync").len(), 1);

    // A step-up round trip in that session: prompt=login at the provider, then marked.
    let r = t
        .http
        .get(&step_up)
        .header("cookie", &bob)
        .send()
        .await
        .expect("start");
    assert_eq!(r.status(), 302);
    let authorize = r.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    assert!(authorize.contains("prompt=login") && authorize.contains("max_age=0"));
    let binding = r.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .split(';')
        .next()
        .expect("pair")
        .to_owned();
    let callback = t
        .idp
        .sign_in(&authorize, "bob", PASSWORD)
        .await
        .expect("sign-in");
    let l = t.deliver(&callback, Some(&binding)).await;
    assert_eq!(l.location, "/#/", "{:?}", t.refusals());
    assert_eq!(t.records("sso_step_up").len(), 1);

    // Alice's provider asserts a password only: no step-up at sign-in, and a step-up round
    // trip is refused.
    let l = t.browser_sign_in("alice").await;
    let alice = l.cookie("__Host-signet_session").expect("session");
    let (_, view) = t.get_with_session("/v1/auth/session", &alice).await;
    assert_eq!(view["stepUpUntil"], Value::Null, "{view}");
    let r = t
        .http
        .get(&step_up)
        .header("cookie", &alice)
        .send()
        .await
        .expect("start");
    let authorize = r.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    let binding = r.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .split(';')
        .next()
        .expect("pair")
        .to_owned();
    let callback = t
        .idp
        .sign_in(&authorize, "alice", PASSWORD)
        .await
        .expect("sign-in");
    t.refused(
        &t.deliver(&callback, Some(&binding)).await,
        "no second factor",
    );
    assert_eq!(t.refusals(), ["sso_no_second_factor"]);
}
