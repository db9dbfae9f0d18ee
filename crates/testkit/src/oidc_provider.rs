//! A real OpenID provider for the SSO tests: `tests/oidc/provider.mjs` (the `oidc-provider` npm
//! package) run by Node on loopback, and a person signing in at it over HTTP.
//!
//! [`TestOidcProvider::start`] writes the config to a temporary file, spawns Node and waits for
//! the provider's listening line; dropping it kills the process. [`TestOidcProvider::sign_in`]
//! plays the browser at the provider: it follows the provider's own redirects with a cookie jar,
//! fills the login form, and stops at the first redirect that leaves the provider, returning
//! that URL (Signet's callback with `code`, `state` and `iss`) unfollowed, so a test can replay
//! it, tamper with it, or deliver it with or without Signet's binding cookie.
//!
//! Node must be on PATH and `tests/oidc/node_modules` installed (`scripts/setup.sh`); without
//! them `start` panics: an SSO test never passes by skipping.
//!
//! The issuer is `http://127.0.0.1:PORT`, so the server under test needs
//! `oidc_allow_cidrs = ["127.0.0.0/8"]`, as for [`TestIssuer`](crate::oidc::TestIssuer).

use std::collections::BTreeMap;
use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Method, StatusCode, Url};
use serde_json::{Value, json};
use tempfile::TempDir;

/// A relying party registered at the provider.
#[derive(Debug, Clone)]
pub struct OidcClient {
    /// `client_id`.
    pub client_id: String,
    /// With a secret the client authenticates with `client_secret_basic`; without, it is a
    /// public client (PKCE only, `client_id` in the token request's form).
    pub client_secret: Option<String>,
    /// The exact redirect URIs the provider accepts.
    pub redirect_uris: Vec<String>,
    /// `id_token_signed_response_alg`: `RS256` (the provider's default) or `ES256`.
    pub id_token_alg: Option<String>,
}

impl OidcClient {
    /// A confidential client (`client_secret_basic`).
    pub fn confidential(client_id: &str, secret: &str, redirect_uri: &str) -> Self {
        Self {
            client_id: client_id.to_owned(),
            client_secret: Some(secret.to_owned()),
            redirect_uris: vec![redirect_uri.to_owned()],
            id_token_alg: None,
        }
    }

    /// A public client (PKCE only).
    pub fn public(client_id: &str, redirect_uri: &str) -> Self {
        Self {
            client_id: client_id.to_owned(),
            client_secret: None,
            redirect_uris: vec![redirect_uri.to_owned()],
            id_token_alg: None,
        }
    }

    /// ID tokens for this client signed with `alg` (`RS256` or `ES256`).
    pub fn id_token_alg(mut self, alg: &str) -> Self {
        self.id_token_alg = Some(alg.to_owned());
        self
    }

    fn to_json(&self) -> Value {
        let mut v = json!({"client_id": self.client_id, "redirect_uris": self.redirect_uris});
        if let Some(secret) = &self.client_secret {
            v["client_secret"] = json!(secret);
        }
        if let Some(alg) = &self.id_token_alg {
            v["id_token_signed_response_alg"] = json!(alg);
        }
        v
    }
}

/// A person with an account at the provider, and the claims their ID token carries.
#[derive(Debug, Clone)]
pub struct OidcAccount {
    /// What they type in the form; also `preferred_username`.
    pub username: String,
    /// What they type in the form.
    pub password: String,
    /// `sub`; the username when `None`.
    pub sub: Option<String>,
    /// `email`.
    pub email: String,
    /// `email_verified`.
    pub email_verified: bool,
    /// `name`.
    pub name: String,
    /// `groups`.
    pub groups: Vec<String>,
    /// `amr`; `["pwd"]` when `None`.
    pub amr: Option<Vec<String>>,
}

impl OidcAccount {
    /// `username` with `password`, email `USERNAME@example.test` (verified), name = username,
    /// no groups, `amr` `["pwd"]`.
    pub fn new(username: &str, password: &str) -> Self {
        Self {
            username: username.to_owned(),
            password: password.to_owned(),
            sub: None,
            email: format!("{username}@example.test"),
            email_verified: true,
            name: username.to_owned(),
            groups: Vec::new(),
            amr: None,
        }
    }

    /// The `sub` claim.
    pub fn subject(mut self, sub: &str) -> Self {
        self.sub = Some(sub.to_owned());
        self
    }

    /// The `email` claim and whether the provider says it is verified.
    pub fn email(mut self, email: &str, verified: bool) -> Self {
        email.clone_into(&mut self.email);
        self.email_verified = verified;
        self
    }

    /// The `name` claim.
    pub fn name(mut self, name: &str) -> Self {
        name.clone_into(&mut self.name);
        self
    }

    /// The `groups` claim.
    pub fn groups(mut self, groups: &[&str]) -> Self {
        self.groups = groups.iter().map(|g| (*g).to_owned()).collect();
        self
    }

    /// The `amr` claim (RFC 8176 values, e.g. `["pwd", "otp"]` for a second factor).
    pub fn amr(mut self, amr: &[&str]) -> Self {
        self.amr = Some(amr.iter().map(|m| (*m).to_owned()).collect());
        self
    }

    /// The `sub` the provider puts in this account's tokens.
    pub fn sub_claim(&self) -> &str {
        self.sub.as_deref().unwrap_or(&self.username)
    }

    fn to_json(&self) -> Value {
        let mut v = json!({
            "username": self.username, "password": self.password, "sub": self.sub_claim(),
            "email": self.email, "email_verified": self.email_verified, "name": self.name,
            "groups": self.groups,
        });
        if let Some(amr) = &self.amr {
            v["amr"] = json!(amr);
        }
        v
    }
}

/// What the provider is started with.
#[derive(Debug, Clone, Default)]
pub struct ProviderConfig {
    /// Registered clients.
    pub clients: Vec<OidcClient>,
    /// People who can sign in.
    pub accounts: Vec<OidcAccount>,
    /// How long a provider session lasts (default 3600 s).
    pub session_ttl_seconds: Option<u64>,
}

impl ProviderConfig {
    /// No clients, no accounts.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a client.
    pub fn client(mut self, client: OidcClient) -> Self {
        self.clients.push(client);
        self
    }

    /// Adds an account.
    pub fn account(mut self, account: OidcAccount) -> Self {
        self.accounts.push(account);
        self
    }

    /// Provider sessions end after `seconds`.
    pub fn session_ttl(mut self, seconds: u64) -> Self {
        self.session_ttl_seconds = Some(seconds);
        self
    }

    /// The JSON `provider.mjs` reads.
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "port": 0,
            "clients": self.clients.iter().map(OidcClient::to_json).collect::<Vec<_>>(),
            "accounts": self.accounts.iter().map(OidcAccount::to_json).collect::<Vec<_>>(),
        });
        if let Some(ttl) = self.session_ttl_seconds {
            v["sessionTtlSeconds"] = json!(ttl);
        }
        v
    }
}

/// Why a sign-in at the provider did not end in a redirect out of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInError {
    /// The login form was shown where the provider's session should have skipped it
    /// ([`TestOidcProvider::sign_in_with_session`] after the session ended).
    LoginRequired,
    /// The form came back after posting: wrong username or password.
    CredentialsRefused,
    /// The provider answered something that is neither a redirect nor its login form (its error
    /// page for a bad authorization request, say).
    Provider {
        /// HTTP status.
        status: u16,
        /// The page, for the test's failure message.
        body: String,
    },
    /// The URL was not the provider's, too many redirects, or the connection failed.
    Other(String),
}

impl fmt::Display for SignInError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::LoginRequired => f.write_str("the provider asked to sign in again"),
            Self::CredentialsRefused => {
                f.write_str("the provider refused the username or password")
            }
            Self::Provider { status, body } => write!(f, "the provider answered {status}: {body}"),
            Self::Other(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for SignInError {}

/// The cookies one browser holds for the provider's origin, by (name, path).
#[derive(Debug, Clone, Default)]
struct Jar {
    cookies: BTreeMap<(String, String), String>,
}

impl Jar {
    fn store(&mut self, url: &Url, headers: &reqwest::header::HeaderMap) {
        for line in headers.get_all(SET_COOKIE) {
            let Ok(line) = line.to_str() else { continue };
            let mut parts = line.split(';');
            let Some((name, value)) = parts.next().and_then(|p| p.split_once('=')) else {
                continue;
            };
            let mut path = default_path(url);
            let mut expired = value.trim().is_empty();
            for attr in parts {
                let (k, v) = attr.split_once('=').unwrap_or((attr, ""));
                match k.trim().to_ascii_lowercase().as_str() {
                    "path" if v.trim().starts_with('/') => v.trim().clone_into(&mut path),
                    "max-age" => expired |= v.trim().parse::<i64>().is_ok_and(|s| s <= 0),
                    "expires" => expired |= v.contains("1970"),
                    _ => {}
                }
            }
            let key = (name.trim().to_owned(), path);
            if expired {
                self.cookies.remove(&key);
            } else {
                self.cookies.insert(key, value.trim().to_owned());
            }
        }
    }

    fn header(&self, url: &Url) -> String {
        let path = url.path();
        // Longer paths first, as browsers send them.
        let mut matching: Vec<_> = self
            .cookies
            .iter()
            .filter(|((_, p), _)| path_matches(path, p))
            .collect();
        matching.sort_by_key(|((_, p), _)| std::cmp::Reverse(p.len()));
        matching
            .iter()
            .map(|((name, _), value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// RFC 6265 §5.1.4's default-path.
fn default_path(url: &Url) -> String {
    let path = url.path();
    match path.rfind('/') {
        Some(0) | None => "/".to_owned(),
        Some(i) => path[..i].to_owned(),
    }
}

/// RFC 6265 §5.1.4's path-match.
fn path_matches(request: &str, cookie: &str) -> bool {
    request == cookie
        || (request.starts_with(cookie)
            && (cookie.ends_with('/') || request[cookie.len()..].starts_with('/')))
}

/// The running provider; killed when dropped.
pub struct TestOidcProvider {
    child: Child,
    // Held open: the provider exits when it closes, so a test run killed before `drop` leaves
    // no Node process behind.
    _stdin: Option<ChildStdin>,
    issuer: String,
    http: reqwest::Client,
    /// The jar of the last `sign_in`, which `sign_in_with_session` continues with.
    session: Mutex<Jar>,
    log: Arc<Mutex<String>>,
    _dir: TempDir,
}

impl fmt::Debug for TestOidcProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestOidcProvider")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

/// `tests/oidc` in this checkout.
pub fn provider_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/oidc")
}

impl TestOidcProvider {
    /// Starts the provider on a free loopback port. Panics (with the provider's output) when Node
    /// or `tests/oidc/node_modules` is missing or it does not come up within 30 s.
    pub fn start(config: &ProviderConfig) -> Self {
        let dir = provider_dir();
        assert!(
            dir.join("node_modules/oidc-provider").is_dir(),
            "{} has no node_modules: run scripts/setup.sh (or `npm ci` in tests/oidc)",
            dir.display()
        );
        let tmp = tempfile::tempdir().unwrap();
        let config_file = tmp.path().join("config.json");
        std::fs::write(&config_file, serde_json::to_vec(&config.to_json()).unwrap()).unwrap();
        let mut child = Command::new("node")
            .arg(dir.join("provider.mjs"))
            .arg(&config_file)
            .arg("--exit-on-stdin-close")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run node (Node.js 20 or later on PATH): {e}"));

        let log = Arc::new(Mutex::new(String::new()));
        let (ready_tx, ready_rx) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        let stdout_log = log.clone();
        std::thread::spawn(move || {
            // Keeps reading after the line so the pipe never fills.
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(url) = line.strip_prefix("oidc-provider listening on ") {
                    let _ = ready_tx.send(url.trim().to_owned());
                }
                let mut log = stdout_log.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let mut stderr = child.stderr.take().unwrap();
        let stderr_log = log.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                stderr_log
                    .lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });

        let issuer = match ready_rx.recv_timeout(Duration::from_secs(30)) {
            Ok(issuer) => issuer,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                // Give the reader threads a moment to collect the last words.
                std::thread::sleep(Duration::from_millis(100));
                panic!(
                    "the test OpenID provider did not start:\n{}",
                    log.lock().unwrap()
                );
            }
        };
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        Self {
            _stdin: child.stdin.take(),
            child,
            issuer,
            http,
            session: Mutex::new(Jar::default()),
            log,
            _dir: tmp,
        }
    }

    /// `http://127.0.0.1:PORT`, exactly as the provider's discovery document names itself.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// What the provider printed so far (stdout and stderr), for failure messages.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Opens `authorize_url` (the provider's authorization endpoint with Signet's parameters) in
    /// a fresh browser, signs in with the form, and returns the first redirect that leaves the
    /// provider (normally Signet's callback with `code` and `state`), without following it.
    /// The browser's cookies are kept for [`sign_in_with_session`](Self::sign_in_with_session).
    pub async fn sign_in(
        &self,
        authorize_url: &str,
        username: &str,
        password: &str,
    ) -> Result<String, SignInError> {
        let mut jar = Jar::default();
        let out = self
            .drive(authorize_url, &mut jar, Some((username, password)))
            .await;
        *self.session.lock().unwrap() = jar;
        out
    }

    /// Opens `authorize_url` in the browser of the last [`sign_in`](Self::sign_in): while the
    /// provider's session lives it redirects straight back without the form; once it has ended
    /// (see [`end_sessions`](Self::end_sessions)), or with `prompt=login`, the form is shown and
    /// this returns [`SignInError::LoginRequired`].
    pub async fn sign_in_with_session(&self, authorize_url: &str) -> Result<String, SignInError> {
        let mut jar = self.session.lock().unwrap().clone();
        let out = self.drive(authorize_url, &mut jar, None).await;
        *self.session.lock().unwrap() = jar;
        out
    }

    /// Ends every session at the provider (an expired or revoked provider session); answers how
    /// many there were.
    pub async fn end_sessions(&self) -> u64 {
        let res = self
            .http
            .post(format!("{}/__test/end-sessions", self.issuer))
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "end-sessions: {}", res.status());
        let body: Value = res.json().await.unwrap();
        body["ended"].as_u64().unwrap()
    }

    /// The browser at the provider: GETs and redirects within the provider's origin, the login
    /// form posted at most once, stopping at the first redirect elsewhere.
    async fn drive(
        &self,
        start: &str,
        jar: &mut Jar,
        credentials: Option<(&str, &str)>,
    ) -> Result<String, SignInError> {
        let origin = Url::parse(&self.issuer)
            .map_err(|e| SignInError::Other(e.to_string()))?
            .origin();
        let mut url = Url::parse(start).map_err(|e| SignInError::Other(format!("{start}: {e}")))?;
        if url.origin() != origin {
            return Err(SignInError::Other(format!(
                "{start} is not at the provider {}",
                self.issuer
            )));
        }
        let mut form: Option<String> = None;
        let mut posted = false;
        for _ in 0..20 {
            let method = if form.is_some() {
                Method::POST
            } else {
                Method::GET
            };
            let mut req = self.http.request(method, url.clone());
            let cookies = jar.header(&url);
            if !cookies.is_empty() {
                req = req.header(COOKIE, cookies);
            }
            if let Some(body) = form.take() {
                req = req
                    .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(body);
            }
            let res = req
                .send()
                .await
                .map_err(|e| SignInError::Other(format!("{url}: {e}")))?;
            jar.store(&url, res.headers());
            let status = res.status();
            if status.is_redirection() {
                let location = res
                    .headers()
                    .get(LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .ok_or_else(|| {
                        SignInError::Other(format!("{url}: {status} without Location"))
                    })?;
                let next = url
                    .join(location)
                    .map_err(|e| SignInError::Other(format!("{location}: {e}")))?;
                if next.origin() != origin {
                    return Ok(next.into());
                }
                url = next;
                continue;
            }
            let page = res.text().await.unwrap_or_default();
            let Some(action) = login_form_action(&page) else {
                return Err(SignInError::Provider {
                    status: status.as_u16(),
                    body: page,
                });
            };
            if posted {
                return Err(if status == StatusCode::UNAUTHORIZED {
                    SignInError::CredentialsRefused
                } else {
                    SignInError::LoginRequired
                });
            }
            let Some((username, password)) = credentials else {
                return Err(SignInError::LoginRequired);
            };
            url = url
                .join(&action)
                .map_err(|e| SignInError::Other(format!("{action}: {e}")))?;
            form = Some(form_body(&[("username", username), ("password", password)]));
            posted = true;
        }
        Err(SignInError::Other(format!(
            "more than 20 redirects from {start}"
        )))
    }
}

/// An `application/x-www-form-urlencoded` body (the workspace's reqwest has no `form` feature).
pub fn form_body(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// `application/x-www-form-urlencoded` encoding of one value.
fn form_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                char::from(b).to_string()
            }
            b' ' => "+".to_owned(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The action of provider.mjs's login form, if `page` is it.
fn login_form_action(page: &str) -> Option<String> {
    let start =
        page.find("<form method=\"post\" action=\"")? + "<form method=\"post\" action=\"".len();
    let action = &page[start..start + page[start..].find('"')?];
    action.ends_with("/login").then(|| action.to_owned())
}

impl Drop for TestOidcProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_paths_match_as_browsers_do() {
        assert!(path_matches("/interaction/abc", "/interaction/abc"));
        assert!(path_matches("/interaction/abc/login", "/interaction/abc"));
        assert!(!path_matches("/interaction/abcd", "/interaction/abc"));
        assert!(path_matches("/auth", "/"));
        let url = Url::parse("http://127.0.0.1:1/interaction/abc/login").unwrap();
        assert_eq!(default_path(&url), "/interaction/abc");
    }

    #[test]
    fn a_deleted_cookie_is_forgotten() {
        let url = Url::parse("http://127.0.0.1:1/auth/x").unwrap();
        let mut jar = Jar::default();
        let mut headers = reqwest::header::HeaderMap::new();
        headers.append(
            SET_COOKIE,
            "_session=abc; path=/; httponly".parse().unwrap(),
        );
        headers.append(SET_COOKIE, "_i=1; path=/auth/x".parse().unwrap());
        jar.store(&url, &headers);
        assert_eq!(jar.header(&url), "_i=1; _session=abc");
        let mut gone = reqwest::header::HeaderMap::new();
        gone.append(
            SET_COOKIE,
            "_i=; path=/auth/x; expires=Thu, 01 Jan 1970 00:00:00 GMT"
                .parse()
                .unwrap(),
        );
        jar.store(&url, &gone);
        assert_eq!(jar.header(&url), "_session=abc");
    }

    #[test]
    fn the_login_form_is_recognised() {
        let page = r#"<p>x</p><form method="post" action="/interaction/u1/login"><input name="username"></form><form method="post" action="/interaction/u1/abort">"#;
        assert_eq!(
            login_form_action(page).as_deref(),
            Some("/interaction/u1/login")
        );
        assert_eq!(login_form_action("<p>error</p>"), None);
    }
}
