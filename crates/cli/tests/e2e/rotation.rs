//! Issue 11, "Rotation", through real `signet` processes: rotation settings set, shown, paused,
//! resumed and cleared from the CLI; `signet secret rotate` writing a generated version that the
//! machine reads (only the chosen fields of a structured secret), audited `trigger=manual`; and
//! `signet run --watch` restarting its command with the rotated value.

use std::io::Read as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{Backend, Fixture, bin, every_backend, stderr, stdout};

/// What the machine reads (one field, or the whole value).
fn read(f: &Fixture, secret: &str, field: Option<&str>) -> String {
    let mut args = vec!["get", secret];
    args.extend(field);
    let out = f.server.machine(&args);
    assert!(out.status.success(), "get: {}", stderr(&out));
    stdout(&out).trim_end().to_owned()
}

every_backend!(async fn settings_and_manual_rotation_from_the_cli);
async fn settings_and_manual_rotation_from_the_cli(backend: Backend) {
    let f = Fixture::on(backend);
    let s = &f.server;
    let secret = f.secret.as_str();

    let none = s.op_json(&["secret", "rotation", "show", secret]);
    assert_eq!(none["rotation"], Value::Null);
    let set = s.op_json(&[
        "secret",
        "rotation",
        "set",
        secret,
        "--every",
        "1h",
        "--charset",
        "alphanumeric",
        "--length",
        "40",
    ]);
    assert_eq!(set["intervalSeconds"], 3600);
    assert_eq!(set["charset"], "alphanumeric");
    assert_eq!(set["length"], 40);
    assert!(set["nextDueAt"].as_i64().is_some());
    let paused = s.op_json(&["secret", "rotation", "pause", secret]);
    assert_eq!(paused["paused"], true);
    assert_eq!(paused["nextDueAt"], Value::Null);
    let resumed = s.op_json(&["secret", "rotation", "resume", secret]);
    assert_eq!(resumed["paused"], false);
    assert!(resumed["nextDueAt"].as_i64().is_some());
    let shown = s.op_json(&["secret", "rotation", "show", secret]);
    assert_eq!(shown["rotation"]["intervalSeconds"], 3600);

    // Refused settings change nothing.
    for bad in [
        vec!["--every", "1m"],
        vec!["--every", "31d"],
        vec!["--charset", "emoji"],
        vec!["--length", "0"],
        vec!["--fields", "password"],
    ] {
        let mut args = vec!["secret", "rotation", "set", secret];
        args.extend(bad.iter().copied());
        let out = s.op(&args);
        assert!(!out.status.success(), "{bad:?} was accepted");
    }

    let rotated = s.op_json(&["secret", "rotate", secret]);
    assert_eq!(rotated["version"], 2);
    let value = read(&f, secret, None);
    assert_ne!(value, f.value);
    assert_eq!(value.len(), 40);
    assert!(value.bytes().all(|b| b.is_ascii_alphanumeric()), "{value}");

    // A structured secret: only the named field rotates.
    let db = f.structured_secret("db", &["user=app", "password=old"]);
    s.op_json(&[
        "secret",
        "rotation",
        "set",
        &db,
        "--charset",
        "hex",
        "--length",
        "24",
        "--fields",
        "password",
    ]);
    s.op_json(&["secret", "rotate", &db]);
    assert_eq!(read(&f, &db, Some("user")), "app");
    let password = read(&f, &db, Some("password"));
    assert_eq!(password.len(), 24);
    assert!(
        password.bytes().all(|b| b.is_ascii_hexdigit()),
        "{password}"
    );

    let records = s.op_json(&[
        "audit",
        "list",
        "--action",
        "secret_rotate",
        "--limit",
        "100",
    ]);
    let details: Vec<&str> = records["records"]
        .as_array()
        .expect("records")
        .iter()
        .map(|r| r["detail"].as_str().expect("detail"))
        .collect();
    assert_eq!(details.len(), 2, "{details:?}");
    assert!(
        details.iter().all(|d| d.starts_with("trigger=manual")),
        "{details:?}"
    );

    let cleared = s.op_json(&["secret", "rotation", "clear", secret]);
    assert_eq!(cleared["deleted"], true);
    assert_eq!(
        s.op_json(&["secret", "rotation", "show", secret])["rotation"],
        Value::Null
    );
    let out = s.op(&["secret", "rotation", "clear", secret]);
    assert!(!out.status.success(), "a second clear: {}", stdout(&out));
}

/// Waits until `path` holds `lines` lines (each a value the watched command started with).
fn wait_for_lines(path: &std::path::Path, lines: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let got: Vec<String> = text.lines().map(str::to_owned).collect();
        if got.len() >= lines {
            return got;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {lines} starts after 30 s: {got:?}",
            got.len()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

every_backend!(async fn run_watch_restarts_the_command_with_the_rotated_value);
async fn run_watch_restarts_the_command_with_the_rotated_value(backend: Backend) {
    let f = Fixture::on(backend);
    let s = &f.server;
    let out_dir = tempfile::tempdir().expect("tempdir");
    let starts = out_dir.path().join("starts");
    // Each start appends the value it was given, then waits to be stopped.
    let script = format!(
        r#"printf '%s\n' "$DATABASE_URL" >> {}; trap 'exit 0' TERM; while :; do sleep 0.1; done"#,
        starts.display()
    );
    let mut watcher = Command::new(bin())
        .args([
            "run",
            "--secret",
            &f.secret,
            "--watch",
            "--watch-interval",
            "1s",
            "--",
            "sh",
            "-c",
            &script,
        ])
        .env("SIGNET_HOME", &s.machine_home)
        .env_remove("SIGNET_IDENTITY")
        .env_remove("SIGNET_OPERATOR_IDENTITY")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn signet run --watch");

    assert_eq!(wait_for_lines(&starts, 1), std::slice::from_ref(&f.value));
    let rotated = s.op_json(&["secret", "rotate", &f.secret]);
    assert_eq!(rotated["version"], 2);
    let got = wait_for_lines(&starts, 2);
    let new_value = read(&f, &f.secret, None);
    assert_ne!(new_value, f.value);
    assert_eq!(got, [f.value.clone(), new_value.clone()]);
    // No change, no restart.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(wait_for_lines(&starts, 2).len(), 2);

    // SIGTERM to signet reaches the command, whose code (0 from its trap) comes back.
    let pid = i32::try_from(watcher.id()).expect("pid");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("kill");
    let status = watcher.wait().expect("wait");
    let mut err = String::new();
    if let Some(mut e) = watcher.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(err.contains("changed; restarting"), "{err}");
    assert!(!err.contains(&new_value), "a value in the log: {err}");
}
