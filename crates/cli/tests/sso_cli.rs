//! `signet login --sso` through real processes on both backends: a `signet server`, the test
//! OpenID provider (`oidc-provider` on Node, `signet_testkit::oidc_provider`) and the `signet`
//! binary. An owner trusts the provider and maps a group to a role with `signet sso`; a person
//! runs `signet login --sso NAME --no-browser`, the test plays their browser (the provider's
//! form, Signet's callback, then the CLI's own loopback listener), and the key the CLI made
//! signs admin calls afterwards. A refused person ends the CLI with an error; an authorize URL
//! completed while no CLI listens (a phished one) registers no key. With `signet vault settings
//! --sso-required on`, password sign-in is refused with a hint, except for the break-glass owner.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};
use signet_testkit::every_backend;
use signet_testkit::oidc_provider::{OidcAccount, OidcClient, ProviderConfig, TestOidcProvider};
use signet_testkit::process::{Backend, TestServer, bin, run, run_with_stdin, stderr, stdout};
use totp_rs::Totp;

const CLIENT_ID: &str = "signet-cli-test";
const CLIENT_SECRET: &str = "client-secret-never-printed";
const PASSWORD: &str = "provider password";
/// A well-formed Ed25519 signature (64 zero bytes) that verifies under no key.
const ZERO_SIGNATURE: &str =
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==";

/// A server whose outbound fetches may reach loopback, where the provider is.
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
    server: TestServer,
    provider: TestOidcProvider,
    /// The HTTP client playing the person's browser at Signet: redirects are looked at, never
    /// followed.
    browser: reqwest::Client,
}

/// The server with its headless owner key, the provider with two people (alice in the admins'
/// group, bob in no mapped group), trusted as `corp` with one mapping.
fn setup(backend: Backend) -> Setup {
    let server = server(backend);
    server.operator_init();
    // The server's redirect URI is `{api_url}/v1/auth/sso/callback`; register both spellings of
    // this loopback server, then check the one the server names is among them.
    let callbacks = [
        format!("{}/v1/auth/sso/callback", server.url),
        format!("http://127.0.0.1:{}/v1/auth/sso/callback", server.port),
    ];
    let mut client = OidcClient::confidential(CLIENT_ID, CLIENT_SECRET, &callbacks[0]);
    client.redirect_uris.push(callbacks[1].clone());
    let provider = TestOidcProvider::start(
        &ProviderConfig::new()
            .client(client)
            .account(
                OidcAccount::new("alice", PASSWORD)
                    .email("alice@example.test", true)
                    .name("Alice")
                    .groups(&["signet-admins"]),
            )
            .account(
                OidcAccount::new("bob", PASSWORD)
                    .email("bob@example.test", true)
                    .groups(&["contractors"]),
            ),
    );
    let secret_file = server.root.path().join("client-secret");
    std::fs::write(&secret_file, format!("{CLIENT_SECRET}\n")).expect("secret file");
    let out = server.op(&[
        "--json",
        "sso",
        "provider",
        "add",
        "corp",
        "--issuer",
        provider.issuer(),
        "--client-id",
        CLIENT_ID,
        "--client-secret-file",
        secret_file.to_str().expect("utf-8"),
        "--jit",
    ]);
    assert!(out.status.success(), "provider add: {}", stderr(&out));
    assert!(
        !stdout(&out).contains(CLIENT_SECRET),
        "the client secret was answered"
    );
    let added: Value = serde_json::from_slice(&out.stdout).expect("provider JSON");
    assert_eq!(added["hasClientSecret"], true);
    assert_eq!(added["jitUsers"], true);
    assert_eq!(added["enabled"], true);
    let redirect = added["redirectUri"].as_str().expect("redirect URI");
    assert!(callbacks.iter().any(|c| c == redirect), "{redirect}");

    let mapped = server.op_json(&[
        "sso",
        "mapping",
        "add",
        "corp",
        "--claim",
        "groups",
        "--value",
        "signet-admins",
        "--role",
        "admin",
    ]);
    assert_eq!(mapped["mappings"].as_array().expect("mappings").len(), 1);
    assert_eq!(mapped["mappings"][0]["role"], "admin");

    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    Setup {
        server,
        provider,
        browser,
    }
}

/// A `signet login --sso` running in the background, and the URL it printed.
struct CliLogin {
    child: Child,
    url: String,
    stderr: mpsc::Receiver<String>,
}

impl CliLogin {
    /// Starts `signet --json login --sso corp --no-browser` in `home` and reads the sign-in
    /// URL from its standard error.
    fn start(server: &TestServer, home: &Path) -> Self {
        Self::start_with(server, home, &["--sso", "corp", "--no-browser"])
    }

    /// The same with these sign-in flags.
    fn start_with(server: &TestServer, home: &Path, flags: &[&str]) -> Self {
        let mut child = Command::new(bin())
            .args(["--json", "login", "--server", &server.url])
            .args(flags)
            .env("SIGNET_HOME", home)
            .env_remove("SIGNET_OPERATOR_IDENTITY")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn signet login --sso");
        let (tx, rx) = mpsc::channel();
        let err = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut seen = Vec::new();
        let url = loop {
            match rx.recv_timeout(Duration::from_secs(30)) {
                Ok(line) => {
                    if let Some(url) = line.strip_prefix("Open this URL to sign in: ") {
                        break url.to_owned();
                    }
                    seen.push(line);
                }
                Err(_) => {
                    let _ = child.kill();
                    panic!("no sign-in URL on stderr: {seen:?}");
                }
            }
        };
        Self {
            child,
            url,
            stderr: rx,
        }
    }

    /// Waits for the CLI to exit: its output, with the standard error read so far.
    fn finish(mut self) -> (Output, String) {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while self.child.try_wait().expect("wait").is_none() {
            assert!(
                std::time::Instant::now() < deadline,
                "signet login --sso did not exit"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let out = self.child.wait_with_output().expect("output");
        // The reader thread may still hold the last lines when the child has exited: read
        // until it sees end of file and drops its sender, not just what has arrived so far.
        let mut err = Vec::new();
        loop {
            match self.stderr.recv_timeout(Duration::from_secs(10)) {
                Ok(line) => err.push(line),
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => panic!("stderr stayed open: {err:?}"),
            }
        }
        (out, err.join("\n"))
    }
}

impl Setup {
    /// The person signs in at the provider and their browser follows the provider back to
    /// Signet's callback: Signet's redirect (to the CLI's loopback listener).
    async fn through_provider(&self, authorize_url: &str, username: &str) -> String {
        let callback = self
            .provider
            .sign_in(authorize_url, username, PASSWORD)
            .await
            .expect("signed in at the provider");
        let resp = self.browser.get(&callback).send().await.expect("callback");
        assert_eq!(resp.status(), 302, "Signet's callback redirects");
        resp.headers()["location"]
            .to_str()
            .expect("location")
            .to_owned()
    }

    fn cli_logins(&self) -> usize {
        let v = self.server.op_json(&[
            "audit",
            "list",
            "--action",
            "sso_cli_login",
            "--result",
            "ok",
            "--limit",
            "100",
        ]);
        v["records"].as_array().expect("records").len()
    }
}

/// The query parameter `name` of `url`.
fn param(url: &str, name: &str) -> Option<String> {
    reqwest::Url::parse(url)
        .expect("URL")
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

every_backend!(async fn sso_login_makes_a_key_that_signs_admin_calls);
async fn sso_login_makes_a_key_that_signs_admin_calls(backend: Backend) {
    let t = setup(backend);
    let s = &t.server;
    let listed = s.op_json(&["sso", "provider", "list"]);
    assert_eq!(listed["providers"][0]["name"], "corp");
    let shown = s.op_json(&["sso", "mapping", "list", "corp"]);
    assert_eq!(shown[0]["value"], "signet-admins");

    let home = s.root.path().join("alice-home");
    let cli = CliLogin::start(s, &home);
    assert!(
        param(&cli.url, "state").is_some() && param(&cli.url, "code_challenge").is_some(),
        "{}",
        cli.url
    );
    let loopback = t.through_provider(&cli.url, "alice").await;
    assert!(
        loopback.starts_with("http://127.0.0.1:") && loopback.contains("/callback?"),
        "{loopback}"
    );
    let attempt = param(&loopback, "attempt").expect("attempt");
    assert!(param(&loopback, "code").is_some(), "{loopback}");

    // Another attempt's redirect, and another path, are answered 404; the CLI keeps waiting.
    let base = loopback.split("/callback").next().expect("base").to_owned();
    let wrong = t
        .browser
        .get(format!(
            "{base}/callback?attempt=ssa_000000000000000000000000&code=forged"
        ))
        .send()
        .await
        .expect("wrong attempt");
    assert_eq!(wrong.status(), 404);
    let other = t
        .browser
        .get(format!("{base}/favicon.ico"))
        .send()
        .await
        .expect("other path");
    assert_eq!(other.status(), 404);

    let page = t.browser.get(&loopback).send().await.expect("loopback");
    assert_eq!(page.status(), 200);
    assert_eq!(
        page.headers()["referrer-policy"].to_str().expect("header"),
        "no-referrer"
    );
    assert!(page.text().await.expect("page").contains("Signed in"));

    let (out, err) = cli.finish();
    assert!(out.status.success(), "login --sso: {err}");
    let logged: Value = serde_json::from_slice(&out.stdout).expect("login JSON");
    assert_eq!(logged["role"], "admin");
    assert!(logged["userId"].is_string(), "{logged}");
    assert!(
        Path::new(logged["identity"].as_str().expect("path")).is_file(),
        "{logged}"
    );

    // The key signs: whoami as the person, and an admin's write.
    let me = run(&home, &["--json", "operator", "whoami"]);
    assert!(me.status.success(), "whoami: {}", stderr(&me));
    let me: Value = serde_json::from_slice(&me.stdout).expect("whoami JSON");
    assert_eq!(me["role"], "admin");
    assert_eq!(me["userId"], logged["userId"]);
    let made = run(&home, &["--json", "project", "create", "from-sso"]);
    assert!(made.status.success(), "project create: {}", stderr(&made));
    assert_eq!(t.cli_logins(), 1);

    // The redirect is single use: the same completion code again is the uniform 401.
    let replay = t
        .browser
        .post(format!("{}/v1/auth/sso/cli/finish", s.url))
        .json(&json!({
            "attemptId": attempt,
            "completionCode": param(&loopback, "code").expect("code"),
            "signature": ZERO_SIGNATURE,
        }))
        .send()
        .await
        .expect("finish replay");
    assert_eq!(replay.status(), 401);
    assert_eq!(t.cli_logins(), 1);

    // The person's own linked identity, as text and JSON.
    let mine = run(&home, &["--json", "sso", "identities"]);
    assert!(mine.status.success(), "identities: {}", stderr(&mine));
    let mine: Value = serde_json::from_slice(&mine.stdout).expect("identities JSON");
    assert_eq!(mine["identities"][0]["providerName"], "corp");
    assert_eq!(mine["identities"][0]["subject"], "alice");

    // The owner's text views, then changes by name: secret removed, switched off, mapping and
    // provider deleted.
    let text = stdout(&s.op(&["sso", "provider", "show", "corp"]));
    for part in [
        "redirect URI:",
        "client secret:  set",
        "signet-admins",
        "admin",
    ] {
        assert!(text.contains(part), "{part}: {text}");
    }
    assert!(!text.contains(CLIENT_SECRET), "{text}");
    let updated = s.op_json(&[
        "sso",
        "provider",
        "update",
        "corp",
        "--no-client-secret",
        "--enabled",
        "off",
    ]);
    assert_eq!(updated["hasClientSecret"], false);
    assert_eq!(updated["enabled"], false);
    let nothing = s.op(&["sso", "provider", "update", "corp"]);
    assert!(!nothing.status.success(), "an empty update was sent");
    let mapping = updated["mappings"][0]["id"].as_str().expect("mapping id");
    let emptied = s.op_json(&["sso", "mapping", "delete", "corp", mapping]);
    assert_eq!(emptied["mappings"], json!([]));
    let id = updated["id"].as_str().expect("provider id");
    let deleted = s.op_json(&["sso", "provider", "delete", id]);
    assert_eq!(deleted["id"], id);
    let unknown = s.op(&["sso", "provider", "show", "corp"]);
    assert!(
        stderr(&unknown).contains("no SSO provider is named"),
        "{}",
        stderr(&unknown)
    );
}

every_backend!(async fn a_refused_person_ends_the_cli_with_an_error);
async fn a_refused_person_ends_the_cli_with_an_error(backend: Backend) {
    let t = setup(backend);
    let home = t.server.root.path().join("bob-home");
    // No provider named: the server offers exactly one, which is used.
    let cli = CliLogin::start_with(&t.server, &home, &["--no-browser", "--sso"]);
    // bob's groups match no mapping: the server sends the browser back with `error=refused`.
    let loopback = t.through_provider(&cli.url, "bob").await;
    assert_eq!(param(&loopback, "error").as_deref(), Some("refused"));
    assert_eq!(param(&loopback, "code"), None);
    let page = t.browser.get(&loopback).send().await.expect("loopback");
    assert_eq!(page.status(), 200);
    let (out, err) = cli.finish();
    assert!(!out.status.success(), "a refused sign-in exited 0");
    assert!(err.contains("single sign-on was refused"), "{err}");
    assert!(!home.join("operators").exists(), "an identity was saved");
    assert_eq!(t.cli_logins(), 0);
    let denied = t.server.op_json(&[
        "audit",
        "list",
        "--action",
        "sso_login",
        "--result",
        "denied",
    ]);
    let details: Vec<&str> = denied["records"]
        .as_array()
        .expect("records")
        .iter()
        .filter_map(|r| r["detail"].as_str())
        .collect();
    assert!(
        details.iter().any(|d| d.contains("sso_no_mapping")),
        "{details:?}"
    );
}

every_backend!(async fn a_phished_authorize_url_registers_no_key);
async fn a_phished_authorize_url_registers_no_key(backend: Backend) {
    let t = setup(backend);
    // The attacker starts a CLI sign-in and sends its authorize URL to alice; nothing of the
    // attacker's listens where alice's browser is sent back to.
    let attacker_home = t.server.root.path().join("attacker-home");
    let mut cli = CliLogin::start(&t.server, &attacker_home);
    let phished = cli.url.clone();
    cli.child.kill().expect("kill the attacker's CLI");
    let _ = cli.child.wait();

    let loopback = t.through_provider(&phished, "alice").await;
    let attempt = param(&loopback, "attempt").expect("attempt");
    // Alice's browser reaches nothing there.
    assert!(
        t.browser.get(&loopback).send().await.is_err(),
        "something answered on the dead CLI's port"
    );
    // Without the completion code, which only went to alice's loopback, the attempt cannot be
    // finished: a guessed code is the uniform 401.
    let guessed = t
        .browser
        .post(format!("{}/v1/auth/sso/cli/finish", t.server.url))
        .json(&json!({
            "attemptId": attempt,
            "completionCode": "guessed",
            "signature": ZERO_SIGNATURE,
        }))
        .send()
        .await
        .expect("finish");
    assert_eq!(guessed.status(), 401);
    assert_eq!(t.cli_logins(), 0, "a phished sign-in registered a key");
    assert!(!attacker_home.join("operators").exists());
}

every_backend!(fn sso_required_leaves_password_sign_in_to_the_break_glass_owner);
fn sso_required_leaves_password_sign_in_to_the_break_glass_owner(backend: Backend) {
    let t = setup(backend);
    let s = &t.server;
    let mut host = vec![
        "--json",
        "user",
        "create-owner",
        "--email",
        "owner@example.test",
        "--username",
        "owner",
        "--password-stdin",
        "--data-dir",
        s.data_dir.to_str().expect("utf-8"),
    ];
    if let Some(c) = &s.config {
        host.extend(["--config", c.to_str().expect("utf-8")]);
    }
    let owner_password = "the break-glass passphrase";
    let out = run_with_stdin(&s.operator_home, &host, &format!("{owner_password}\n"));
    assert!(out.status.success(), "create-owner: {}", stderr(&out));
    let owner: Value = serde_json::from_slice(&out.stdout).expect("owner JSON");
    let owner_totp = Totp::from_url(owner["otpauthUri"].as_str().expect("uri")).expect("otpauth");

    let dev_password = "a developer's passphrase";
    let out = run_with_stdin(
        &s.operator_home,
        &[
            "--json",
            "user",
            "create",
            "--username",
            "dev",
            "--email",
            "dev@example.test",
            "--role",
            "developer",
            "--password-stdin",
        ],
        &format!("{dev_password}\n"),
    );
    assert!(out.status.success(), "user create: {}", stderr(&out));
    let dev: Value = serde_json::from_slice(&out.stdout).expect("user JSON");
    let dev_totp = Totp::from_url(dev["otpauthUri"].as_str().expect("uri")).expect("otpauth");

    let vault = s.op_json(&[
        "vault",
        "settings",
        "--break-glass",
        "owner",
        "--sso-required",
        "on",
        "--sso-trust-provider-mfa",
        "true",
    ]);
    assert_eq!(vault["ssoRequired"], true, "{vault}");
    assert_eq!(vault["breakGlassUser"], owner["userId"], "{vault}");
    assert_eq!(vault["ssoTrustProviderMfa"], true, "{vault}");
    let shown = s.op(&["vault", "show"]);
    assert!(
        stdout(&shown).contains("sso required:         on"),
        "{}",
        stdout(&shown)
    );

    let password_login = |email: &str, password: &str, totp: &Totp, home: &str| {
        run_with_stdin(
            &s.root.path().join(home),
            &[
                "login",
                "--server",
                &s.url,
                "--email",
                email,
                "--password-stdin",
                "--totp",
                &totp.generate_current().to_string(),
            ],
            &format!("{password}\n"),
        )
    };
    let refused = password_login("dev@example.test", dev_password, &dev_totp, "dev-home");
    assert!(!refused.status.success(), "a password sign-in got through");
    assert!(
        stderr(&refused).contains("this vault requires single sign-on: signet login --sso"),
        "{}",
        stderr(&refused)
    );
    let glass = password_login(
        "owner@example.test",
        owner_password,
        &owner_totp,
        "owner-home",
    );
    assert!(glass.status.success(), "break-glass: {}", stderr(&glass));

    let off = s.op_json(&["vault", "settings", "--sso-required", "off"]);
    assert_eq!(off["ssoRequired"], false);
}
