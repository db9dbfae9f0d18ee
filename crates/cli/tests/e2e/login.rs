//! Issue 3, acceptance 5: the CLI signs in without a bearer token. `signet user create-owner`
//! headless, `signet login` with password and TOTP, a signed `project list`, `signet logout`, and
//! the logged-out key refused; a reused TOTP code refused; identical 401s for a wrong password
//! and an unknown user.

use std::io::{Read as _, Write as _};
use std::path::Path;
use std::process::Output;

use serde_json::{Value, json};
use signet_proto::SecretSeed;
use totp_rs::Totp;

use crate::harness::{Backend, TestServer, every_backend, run_with_stdin, stderr, stdout};

const PASSWORD: &str = "a long enough passphrase";
const EMAIL: &str = "Owner@Example.test";

/// One HTTP/1.1 POST with a JSON body, over a plain socket: the raw status and body.
fn post(port: u16, path: &str, body: &Value) -> (u16, String) {
    let body = body.to_string();
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send");
    let mut raw = String::new();
    s.read_to_string(&mut raw).expect("read");
    let status = raw
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status");
    let body = raw
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or_default();
    (status, body.to_owned())
}

fn login(server: &TestServer, home: &Path, code: &str) -> Output {
    run_with_stdin(
        home,
        &[
            "--json",
            "login",
            "--server",
            &server.url,
            "--email",
            EMAIL,
            "--password-stdin",
            "--totp",
            code,
        ],
        &format!("{PASSWORD}\n"),
    )
}

every_backend!(fn cli_login_project_list_logout);
fn cli_login_project_list_logout(backend: Backend) {
    let server = TestServer::start_on(backend);
    // On the server host: the data folder, plus the config naming the database if not SQLite.
    let host_args = |args: &[&'static str]| {
        let mut all = args.to_vec();
        all.extend(["--data-dir", server.data_dir.to_str().expect("utf-8 path")]);
        if let Some(c) = &server.config {
            all.extend(["--config", c.to_str().expect("utf-8 path")]);
        }
        all
    };
    let out = run_with_stdin(
        &server.operator_home,
        &host_args(&[
            "--json",
            "user",
            "create-owner",
            "--email",
            EMAIL,
            "--username",
            "owner",
            "--password-stdin",
        ]),
        &format!("{PASSWORD}\n"),
    );
    assert!(out.status.success(), "create-owner: {}", stderr(&out));
    let owner: Value = serde_json::from_slice(&out.stdout).expect("create-owner JSON");
    let uri = owner["otpauthUri"].as_str().expect("otpauth uri");
    assert_eq!(owner["recoveryCodes"].as_array().expect("codes").len(), 10);
    let totp = Totp::from_url(uri).expect("a valid otpauth uri");

    // A second owner is refused.
    let again = run_with_stdin(
        &server.operator_home,
        &host_args(&[
            "user",
            "create-owner",
            "--email",
            "other@example.test",
            "--username",
            "other",
            "--password-stdin",
        ]),
        &format!("{PASSWORD}\n"),
    );
    assert!(!again.status.success());

    let code = totp.generate_current().to_string();
    let out = login(&server, &server.operator_home, &code);
    assert!(out.status.success(), "login: {}", stderr(&out));
    let logged: Value = serde_json::from_slice(&out.stdout).expect("login JSON");
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    let lives = logged["expiresAt"].as_i64().expect("expiry") - now_ms;
    assert!(
        (43_100_000..=43_200_000).contains(&lives),
        "12 hours by default: {lives} ms"
    );

    // The vault decides how long sign-in keys live from now on.
    let vault = server.op_json(&["vault", "settings", "--cli-key-ttl", "1h"]);
    assert_eq!(vault["cliKeyTtlMs"], 3_600_000);
    let too_short = server.op(&["vault", "settings", "--cli-key-ttl", "1m"]);
    assert!(!too_short.status.success(), "under 5 minutes is refused");
    let recovery = owner["recoveryCodes"][9].as_str().expect("code");
    let other_home = server.root.path().join("second-home");
    let out = run_with_stdin(
        &other_home,
        &[
            "--json",
            "login",
            "--server",
            &server.url,
            "--email",
            EMAIL,
            "--password-stdin",
            "--recovery-code",
            recovery,
        ],
        &format!("{PASSWORD}\n"),
    );
    assert!(out.status.success(), "second login: {}", stderr(&out));
    let second: Value = serde_json::from_slice(&out.stdout).expect("login JSON");
    let lives = second["expiresAt"].as_i64().expect("expiry") - now_ms;
    assert!(
        (3_500_000..=3_700_000).contains(&lives),
        "the key lives the vault's hour: {lives} ms"
    );

    let out = server.op(&["project", "list"]);
    assert!(out.status.success(), "project list: {}", stderr(&out));
    server.op_json(&["project", "create", "after-login"]);

    // The same code again, from another home, is refused: a TOTP code is accepted once.
    let other_home = server.root.path().join("other-home");
    let out = login(&server, &other_home, &code);
    assert!(
        !out.status.success(),
        "a reused code signed in: {}",
        stdout(&out)
    );
    assert!(
        stderr(&out).contains("authentication failed"),
        "{}",
        stderr(&out)
    );

    let out = server.op(&["logout"]);
    assert!(out.status.success(), "logout: {}", stderr(&out));
    let out = server.op(&["project", "list"]);
    assert!(!out.status.success(), "the logged-out key still works");
    assert!(
        stderr(&out).contains("authentication failed"),
        "{}",
        stderr(&out)
    );

    // A recovery code signs in once.
    let recovery = owner["recoveryCodes"][0].as_str().expect("code");
    let by_recovery = |home: &Path| {
        run_with_stdin(
            home,
            &[
                "login",
                "--server",
                &server.url,
                "--email",
                "OWNER",
                "--password-stdin",
                "--recovery-code",
                recovery,
            ],
            &format!("{PASSWORD}\n"),
        )
    };
    let out = by_recovery(&other_home);
    assert!(out.status.success(), "recovery login: {}", stderr(&out));
    let out = by_recovery(&other_home);
    assert!(!out.status.success(), "a recovery code worked twice");

    // Wrong password and unknown user: the same status and the very same body.
    let attempt = |login: &str, password: &str| {
        post(
            server.port,
            "/v1/auth/cli-login",
            &json!({
                "login": login,
                "password": password,
                "totp": totp.generate_current().to_string(),
                "publicKey": SecretSeed::generate().public_key().to_base64(),
            }),
        )
    };
    let wrong = attempt(EMAIL, "not the right passphrase");
    let unknown = attempt("nobody@example.test", PASSWORD);
    assert_eq!(wrong.0, 401);
    assert_eq!(wrong, unknown);
    assert!(
        !server.log().contains(PASSWORD),
        "the password reached the log"
    );
}
