//! Issue 15 §3, "URLs parsed by one library everywhere", through real processes: a URL the
//! parser would rewrite (upper case, a default port, shorthand IPv4, user info, a fragment,
//! spaces) is refused where it is given, with a message naming the setting and the form to
//! write, and leaves nothing behind: no identity file, no data folder, no webhook, no issuer.

use std::process::Command;

use serde_json::Value;

use crate::harness::{Backend, TestServer, bin, every_backend, run, run_with_stdin, stderr};

/// Files under `dir`, recursively (none when it does not exist).
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let path = e.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// `signet login` and `signet enroll` refuse a `--server` the parser would rewrite, say what to
/// write instead, and write no identity.
#[test]
fn a_bad_server_url_is_refused_before_anything_is_sent_or_written() {
    let s = TestServer::start();
    let port = s.port;
    let home = s.root.path().join("fresh-home");
    for (server, write_as) in [
        (
            format!("http://LOCALHOST:{port}"),
            format!("http://localhost:{port}"),
        ),
        (
            format!("http://127.1:{port}"),
            format!("http://127.0.0.1:{port}"),
        ),
        (
            format!("http://[0:0::1]:0{port}"),
            format!("http://[::1]:{port}"),
        ),
        (
            format!("http://localhost:{port} "),
            format!("http://localhost:{port}"),
        ),
    ] {
        let out = run_with_stdin(
            &home,
            &[
                "login",
                "--server",
                &server,
                "--email",
                "owner@example.com",
                "--password-stdin",
                "--totp",
                "123456",
            ],
            "correct horse battery staple\n",
        );
        let err = stderr(&out);
        assert!(!out.status.success(), "{server:?} was accepted");
        assert!(
            err.contains("the server URL is not written as a URL parser reads it")
                && err.contains(&write_as),
            "{server:?}: {err}"
        );
        let out = run(&home, &["enroll", "--server", &server, "--token", "t"]);
        assert!(!out.status.success(), "{server:?} was accepted");
        assert!(
            stderr(&out).contains(&write_as),
            "{server:?}: {}",
            stderr(&out)
        );
    }
    for (server, says) in [
        (
            format!("http://owner@localhost:{port}"),
            "user name or password",
        ),
        (format!("http://localhost:{port}/#x"), "fragment"),
        (format!("http://localhost:{port}/v1"), "no path"),
        ("http://vault.example".to_owned(), "loopback host"),
    ] {
        let out = run(&home, &["enroll", "--server", &server, "--token", "t"]);
        assert!(!out.status.success(), "{server:?} was accepted");
        assert!(stderr(&out).contains(says), "{server:?}: {}", stderr(&out));
    }
    assert_eq!(files_under(&home), Vec::<std::path::PathBuf>::new());
    // The server saw no request from any of them: nothing was sent.
    assert!(!s.log().contains("/v1/auth/login"), "{}", s.log());
}

/// `--api-url` and `SIGNET_API_URL` are checked before the server opens anything.
#[test]
fn a_bad_public_url_stops_the_server_before_it_stores_anything() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    for (how, url, write_as) in [
        ("flag", "http://LOCALHOST:8420", "http://localhost:8420"),
        ("env", "https://vault.example:443", "https://vault.example"),
        ("env", "http://127.1:8420", "http://127.0.0.1:8420"),
    ] {
        let mut cmd = Command::new(bin());
        cmd.args(["server", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&data)
            .env_remove("SIGNET_CONFIG");
        if how == "flag" {
            cmd.args(["--api-url", url]).env_remove("SIGNET_API_URL");
        } else {
            cmd.env("SIGNET_API_URL", url);
        }
        let out = cmd.output().unwrap();
        let err = stderr(&out);
        assert!(!out.status.success(), "{how} {url} was accepted");
        assert!(
            err.contains("api_url (--api-url, SIGNET_API_URL)") && err.contains(write_as),
            "{how} {url}: {err}"
        );
        assert!(!data.exists(), "{how} {url}: the data folder was made");
    }
    let out = Command::new(bin())
        .args(["server", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .args(["--api-url", "https://vault.example/"])
        .env_remove("SIGNET_CONFIG")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no path, trailing slash"),
        "{}",
        stderr(&out)
    );
    assert!(!data.exists());
}

every_backend!(async fn bad_webhook_and_issuer_urls_are_refused_and_not_stored);
async fn bad_webhook_and_issuer_urls_are_refused_and_not_stored(backend: Backend) {
    let s = TestServer::start_on(backend);
    s.operator_init();
    for (url, says) in [
        (
            "https://Hooks.Example/x",
            "write its scheme, host and port as https://hooks.example ",
        ),
        ("https://hooks.example:443/x", "as https://hooks.example "),
        (
            "https://hooks.example/a/../x",
            "its path or query would be rewritten",
        ),
        ("https://hooks.example/x#frag", "fragment"),
        (
            "https://hooks.example/x ",
            "its path or query would be rewritten",
        ),
        ("https://bücher.example/x", "https://xn--bcher-kva.example"),
    ] {
        let out = s.op(&["webhook", "add", "--name", "w", "--url", url]);
        let err = stderr(&out);
        assert!(!out.status.success(), "{url:?} was accepted");
        assert!(
            err.contains("webhook url refused") && err.contains(says),
            "{url:?}: {err}"
        );
    }
    assert_eq!(
        s.op_json(&["webhook", "list"])["webhooks"],
        Value::Array(Vec::new())
    );
    for (url, says) in [
        ("https://Token.Example", "as https://token.example "),
        ("https://token.example:443", "as https://token.example "),
        ("http://127.1:9", "as http://127.0.0.1:9 "),
        ("https://token.example/?x=1", "without a query"),
        ("https://ci@token.example", "user name or password"),
    ] {
        let out = s.op(&[
            "issuer",
            "add",
            "--name",
            "ci",
            "--issuer",
            url,
            "--audience",
            "a",
        ]);
        let err = stderr(&out);
        assert!(!out.status.success(), "{url:?} was accepted");
        assert!(
            err.contains("issuer must be") && err.contains(says),
            "{url:?}: {err}"
        );
    }
    assert_eq!(
        s.op_json(&["issuer", "list"])["issuers"],
        Value::Array(Vec::new())
    );
}
