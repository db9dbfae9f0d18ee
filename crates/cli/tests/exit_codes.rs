//! What scripts see, through real `signet` processes: an exit code for each kind of failure
//! (docs/operations.md, "Exit codes"), the one line a retry prints, the version with its commit
//! and build date (flag, `GET /v1/version`, and a build from a `git archive` tarball), progress
//! on a terminal and none in a pipe, and `SIGNET_CACERT`/`--cacert` against a real TLS server
//! whose certificate a private CA signed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use signet_testkit::every_backend;
use signet_testkit::process::{
    Backend, Fixture, TestServer, bin, run, run_with_stdin, stderr, stdout,
};

const USAGE: i32 = 2;
const UNAUTHENTICATED: i32 = 3;
const FORBIDDEN: i32 = 4;
const NOT_FOUND_OR_CONFLICT: i32 = 5;
const UNAVAILABLE: i32 = 6;

const RETRY_LINE: &str = "signet: server unavailable, retrying…";

fn code(out: &Output) -> i32 {
    out.status.code().expect("exited, not killed by a signal")
}

/// Asserts the exit code, showing what the command printed when it differs.
#[track_caller]
fn assert_exit(out: &Output, expected: i32, what: &str) {
    assert_eq!(
        code(out),
        expected,
        "{what}: stdout {:?}, stderr {:?}",
        stdout(out),
        stderr(out)
    );
}

/// The identity file of the only vault under `home/kind` (`vaults` or `operators`).
fn identity_file(home: &Path, kind: &str) -> PathBuf {
    std::fs::read_dir(home.join(kind))
        .expect("identity folder")
        .next()
        .expect("one identity")
        .expect("entry")
        .path()
        .join("identity.json")
}

/// A copy of the identity at `original` in `dir`, changed by `edit`, its key still the
/// original's (by absolute path).
fn edited_identity(original: &Path, dir: &Path, edit: impl FnOnce(&mut Value)) -> PathBuf {
    let mut ident: Value =
        serde_json::from_str(&std::fs::read_to_string(original).expect("identity")).expect("json");
    let key = PathBuf::from(ident["privateKeyPath"].as_str().expect("key path"));
    let key = if key.is_absolute() {
        key
    } else {
        original.parent().expect("folder").join(key)
    };
    ident["privateKeyPath"] = Value::from(key.to_str().expect("utf8"));
    edit(&mut ident);
    std::fs::create_dir_all(dir).expect("folder");
    let path = dir.join("identity.json");
    std::fs::write(&path, serde_json::to_vec(&ident).expect("json")).expect("write identity");
    path
}

#[test]
fn usage_errors_exit_2_help_and_version_0() {
    let home = tempfile::tempdir().expect("tmp");
    for argv in [
        &["--no-such-flag"][..],
        &["frobnicate"],
        &["secret", "show"],
        &["completions", "tcsh"],
        &[],
    ] {
        let out = run(home.path(), argv);
        assert_exit(&out, USAGE, &format!("signet {argv:?}"));
        assert!(stdout(&out).is_empty(), "usage errors go to stderr");
    }
    for argv in [&["--help"][..], &["secret", "--help"], &["--version"]] {
        let out = run(home.path(), argv);
        assert_exit(&out, 0, &format!("signet {argv:?}"));
        assert!(!stdout(&out).is_empty());
    }
}

/// Never enrolled, never signed in: not authenticated, the same remedy as a refused key.
#[test]
fn no_identity_at_all_exits_3() {
    let home = tempfile::tempdir().expect("tmp");
    for argv in [
        &["get", "sk_aaaaaaaaaa"][..],
        &["export"],
        &["project", "list"],
        &["audit", "list", "--since", "90m"],
    ] {
        let out = run(home.path(), argv);
        assert_exit(
            &out,
            UNAUTHENTICATED,
            &format!("signet {argv:?} with no identity"),
        );
        assert!(
            stderr(&out).contains("no identity found"),
            "{}",
            stderr(&out)
        );
    }
}

/// One server, each class in turn: ok, an unknown key and a revoked one, a viewer's admin
/// action, a missing secret, a stale write and a name taken, a machine's read of what it was not
/// granted, `run`'s child, a wrong port, and last the server stopped. On both backends: a name
/// taken is each database's own unique violation.
fn each_class_of_failure_exits_with_its_code(backend: Backend) {
    let mut f = Fixture::on(backend);
    let s = &f.server;
    let root = s.root.path().to_path_buf();

    let ok = s.machine(&["get", &f.secret]);
    assert_exit(&ok, 0, "a granted read");
    assert_eq!(stdout(&ok).trim_end(), f.value);

    // 401: a key the server does not know (an operator id it never issued).
    let stranger = edited_identity(
        &identity_file(&s.operator_home, "operators"),
        &root.join("stranger"),
        |ident| {
            ident["operatorId"] = Value::from(signet_client::OperatorId::generate().to_string())
        },
    );
    let out = s.op(&[
        "project",
        "list",
        "--operator-identity",
        stranger.to_str().unwrap(),
    ]);
    assert_exit(&out, UNAUTHENTICATED, "an unknown operator key");

    // 403: a viewer's admin action, and a machine's read of a secret it was not granted.
    let viewer_home = viewer(s);
    let out = run(&viewer_home, &["project", "create", "nope"]);
    assert_exit(&out, FORBIDDEN, "a viewer creating a project");
    assert_exit(
        &run(&viewer_home, &["project", "list"]),
        0,
        "a viewer listing",
    );
    let ungranted = s.op_json(&[
        "secret",
        "create",
        "--project",
        &f.project,
        "--name",
        "OTHER",
        "--value",
        "x",
    ])["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let out = s.machine(&["get", &ungranted]);
    assert_exit(&out, FORBIDDEN, "a machine reading an ungranted secret");

    // 404 and 409: a secret that does not exist (operators are told), a stale check-and-set.
    let missing = signet_client::SecretId::generate();
    let out = s.op(&["secret", "show", &missing.to_string()]);
    assert_exit(&out, NOT_FOUND_OR_CONFLICT, "a missing secret");
    let out = s.op(&["secret", "update", &f.secret, "--cas", "7", "--value", "v2"]);
    assert_exit(&out, NOT_FOUND_OR_CONFLICT, "a stale --cas");
    let out = s.op(&[
        "secret",
        "create",
        "--project",
        &f.project,
        "--name",
        "OTHER",
        "--value",
        "again",
    ]);
    assert_exit(&out, NOT_FOUND_OR_CONFLICT, "a secret name taken");
    s.op_json(&["project", "create", "taken"]);
    let out = s.op(&["project", "create", "taken"]);
    assert_exit(&out, NOT_FOUND_OR_CONFLICT, "a project name taken");

    // 401 again: a key its holder revoked (`signet logout`), still on disk and used after.
    assert_exit(&run(&viewer_home, &["logout"]), 0, "logout");
    let out = run(&viewer_home, &["project", "list"]);
    assert_exit(&out, UNAUTHENTICATED, "a revoked operator key");

    // `run` keeps its child's code, whatever it is, and a signal's as a shell reports it.
    let out = s.machine(&["run", "--all", "--", "sh", "-c", "exit 7"]);
    assert_exit(&out, 7, "run's child");
    let out = s.machine(&["run", "--all", "--", "sh", "-c", "kill -KILL $$"]);
    assert_exit(&out, 128 + 9, "run's child killed by SIGKILL");
    let out = s.machine(&["run", "--all", "--", "/nonexistent/program"]);
    assert_exit(&out, 127, "run's missing program");

    // 6: nothing listens on the port the identity names (a wrong --server at enrollment).
    let wrong_port = edited_identity(
        &f.server.machine_identity(),
        &root.join("wrong-port"),
        |ident| ident["apiUrl"] = Value::from(format!("http://localhost:{}", closed_port())),
    );
    let out = f
        .server
        .machine(&["get", &f.secret, "--identity", wrong_port.to_str().unwrap()]);
    assert_exit(&out, UNAVAILABLE, "a port nothing listens on");
    assert_eq!(
        stderr(&out).matches(RETRY_LINE).count(),
        1,
        "{}",
        stderr(&out)
    );

    // 6: the server is gone. The CLI retries first, and says so once.
    f.server.stop();
    let out = f.server.machine(&["get", &f.secret]);
    assert_exit(&out, UNAVAILABLE, "a stopped server");
    assert_eq!(
        stderr(&out).matches(RETRY_LINE).count(),
        1,
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("error: cannot reach the server"));
    let out = f.server.op(&["project", "list"]);
    assert_exit(&out, UNAVAILABLE, "an operator call to a stopped server");
}

every_backend!(fn each_class_of_failure_exits_with_its_code);

/// A port nothing listens on: bound once by the system, then released.
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// A user with the viewer role, signed in with `signet login` into a home of their own.
fn viewer(s: &TestServer) -> PathBuf {
    const PASSWORD: &str = "a long enough passphrase";
    let out = run_with_stdin(
        &s.operator_home,
        &[
            "--json",
            "user",
            "create",
            "--username",
            "vera",
            "--email",
            "vera@example.test",
            "--role",
            "viewer",
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
    );
    assert_exit(&out, 0, "user create");
    let made: Value = serde_json::from_slice(&out.stdout).expect("json");
    let totp = totp_rs::Totp::from_url(made["otpauthUri"].as_str().expect("uri")).expect("uri");
    let home = s.root.path().join("viewer-home");
    let out = run_with_stdin(
        &home,
        &[
            "login",
            "--server",
            &s.url,
            "--email",
            "vera@example.test",
            "--password-stdin",
            "--totp",
            &totp.generate_current().to_string(),
        ],
        &format!("{PASSWORD}\n"),
    );
    assert_exit(&out, 0, "viewer login");
    home
}

/// Runs `signet ARGS` with `SIGNET_HOME=home` on a terminal: `script` gives it a pseudo-terminal
/// and copies what that terminal showed (stdout and stderr alike) to its own stdout.
fn on_a_terminal(home: &Path, args: &[&str]) -> Output {
    let quote = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    let line: Vec<String> = std::iter::once(bin().to_str().expect("utf8"))
        .chain(args.iter().copied())
        .map(quote)
        .collect();
    Command::new("script")
        .args(["-q", "-e", "-c", &line.join(" "), "/dev/null"])
        .env("SIGNET_HOME", home)
        .env("TERM", "xterm")
        .env_remove("SIGNET_OPERATOR_IDENTITY")
        .stdin(Stdio::null())
        .output()
        .expect("script")
}

/// Long work (`key rotate-root`, `storage migrate`) draws progress on a terminal, and none, no
/// escape code at all, when its stderr is a pipe.
fn long_work_shows_progress_on_a_terminal_only(backend: Backend) {
    let script = Command::new("script").arg("--version").output();
    if !script.is_ok_and(|o| o.status.success()) {
        eprintln!("script (util-linux) is not installed: no terminal to test on");
        return;
    }
    let f = Fixture::on(backend);
    let s = &f.server;
    for i in 0..3 {
        s.op_json(&["project", "create", &format!("progress-{i}")]);
    }
    // What a progress bar draws and no plain output has: a line erased to be drawn again.
    let erase = "\u{1b}[2K";

    let tty = on_a_terminal(&s.operator_home, &["key", "rotate-root"]);
    assert_exit(&tty, 0, "rotate-root on a terminal");
    let shown = stdout(&tty);
    assert!(shown.contains("re-wrapping project keys"), "{shown:?}");
    assert!(shown.contains(erase), "{shown:?}");
    assert!(
        !shown.contains("to go"),
        "the bar, not the log lines: {shown:?}"
    );
    assert!(shown.contains("is current"), "{shown:?}");
    let piped = s.op(&["key", "rotate-root"]);
    assert_exit(&piped, 0, "rotate-root into a pipe");
    assert!(!stderr(&piped).contains('\u{1b}'), "{:?}", stderr(&piped));
    assert!(!stderr(&piped).contains("re-wrapping project keys"));

    let from = match s.database_url() {
        Some(url) => url.to_owned(),
        None => format!("sqlite://{}", s.data_dir.join("signet.db").display()),
    };
    let to = |name: &str| {
        format!(
            "sqlite://{}",
            s.root.path().join(name).join("signet.db").display()
        )
    };
    let migrate = |to: String| {
        [
            "storage",
            "migrate",
            "--from",
            from.as_str(),
            "--to",
            to.as_str(),
        ]
        .map(str::to_owned)
    };
    let args = migrate(to("on-a-terminal"));
    let tty = on_a_terminal(&s.operator_home, &args.each_ref().map(String::as_str));
    assert_exit(&tty, 0, "storage migrate on a terminal");
    let shown = stdout(&tty);
    assert!(shown.contains(erase), "{shown:?}");
    assert!(shown.contains("verified"), "{shown:?}");
    let args = migrate(to("into-a-pipe"));
    let piped = s.op(&args.each_ref().map(String::as_str));
    assert_exit(&piped, 0, "storage migrate into a pipe");
    assert_eq!(stderr(&piped), "", "nothing but the result, on stdout");
    assert!(stdout(&piped).contains("verified"));
}

every_backend!(fn long_work_shows_progress_on_a_terminal_only);

/// A server that answers every request with 503, as a proxy does while the backend is down.
fn always_503() -> (String, std::thread::JoinHandle<usize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!(
        "http://localhost:{}",
        listener.local_addr().expect("addr").port()
    );
    let answered = std::thread::spawn(move || {
        let mut answered = 0;
        // The first attempt and three retries, then the CLI gives up.
        for stream in listener.incoming().take(4) {
            let mut stream = stream.expect("accept");
            let mut buf = [0u8; 8192];
            let _ = stream.read(&mut buf);
            let body = r#"{"error":"service temporarily unavailable","code":"unavailable"}"#;
            let _ = stream.write_all(
                format!(
                    "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                )
                .as_bytes(),
            );
            answered += 1;
        }
        answered
    });
    (url, answered)
}

#[test]
fn a_503_is_retried_with_one_notice_then_exits_6() {
    let f = Fixture::new();
    let (url, answered) = always_503();
    let identity = edited_identity(
        &f.server.machine_identity(),
        &f.server.root.path().join("proxied"),
        |ident| ident["apiUrl"] = Value::from(url.as_str()),
    );
    let out = f
        .server
        .machine(&["get", &f.secret, "--identity", identity.to_str().unwrap()]);
    assert_exit(&out, UNAVAILABLE, "a 503 after the retries");
    assert_eq!(
        stderr(&out).matches(RETRY_LINE).count(),
        1,
        "{}",
        stderr(&out)
    );
    assert_eq!(answered.join().expect("server thread"), 4);
}

/// `git ARGS` in this crate's folder, if git is there and this is a checkout.
fn git(args: &[&str], env: &[(&str, &str)]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .envs(env.iter().copied())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (out.status.success() && !text.is_empty()).then_some(text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_names_the_commit_and_build_date_and_the_server_says_the_same() {
    let home = tempfile::tempdir().expect("tmp");
    let out = run(home.path(), &["--version"]);
    assert_exit(&out, 0, "--version");
    let commit = git(&["rev-parse", "--short=10", "HEAD"], &[]).unwrap_or("unknown".into());
    // Not the clock's day: SOURCE_DATE_EPOCH's, else the commit's, so rebuilds are identical.
    let date = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(_) => None,
        Err(_) => Some(
            git(
                &[
                    "log",
                    "-1",
                    "--format=%cd",
                    "--date=format-local:%Y-%m-%d",
                    "HEAD",
                ],
                &[("TZ", "UTC")],
            )
            .unwrap_or("unknown".into()),
        ),
    };
    let line = stdout(&out);
    let line = line.trim_end();
    let prefix = format!(
        "signet {} (commit {commit}, built ",
        env!("CARGO_PKG_VERSION")
    );
    assert!(line.starts_with(&prefix), "{line:?} vs {prefix:?}");
    let built = line
        .strip_prefix(&prefix)
        .and_then(|rest| rest.strip_suffix(')'))
        .expect("the date, then a parenthesis");
    if let Some(date) = &date {
        assert_eq!(built, date);
    }
    assert!(built == "unknown" || built.len() == 10, "{built}");

    // The server answers the same, to anyone: no signature, no session.
    let server = TestServer::start();
    let r = reqwest::get(format!("{}/v1/version", server.url))
        .await
        .expect("GET /v1/version");
    assert_eq!(r.status(), 200);
    let answer: Value = r.json().await.expect("json");
    assert_eq!(
        answer,
        serde_json::json!({
            "version": env!("CARGO_PKG_VERSION"),
            "commit": commit,
            "buildDate": built,
        })
    );
}

/// Runs crates/cli/build.rs, compiled alone (it has no dependencies), as cargo would in
/// `crate_dir`, outside any git repository; returns the commit and the date it stamps.
fn stamp_of(build_script: &Path, crate_dir: &Path, env: &[(&str, &str)]) -> (String, String) {
    let out = Command::new("rustc")
        .args(["--edition", "2024", "-O", "-o"])
        .arg(crate_dir.join("build-script"))
        .arg(build_script)
        .output()
        .expect("rustc");
    assert!(out.status.success(), "rustc build.rs: {}", stderr(&out));
    let out = Command::new(crate_dir.join("build-script"))
        .current_dir(crate_dir)
        .env("CARGO_MANIFEST_DIR", crate_dir)
        // No repository above the folder may answer for it.
        .env(
            "GIT_CEILING_DIRECTORIES",
            crate_dir.parent().expect("parent"),
        )
        .env_remove("SOURCE_DATE_EPOCH")
        .env_remove("SIGNET_BUILD_COMMIT")
        .envs(env.iter().copied())
        .output()
        .expect("build script");
    assert!(out.status.success(), "build.rs failed: {}", stderr(&out));
    let text = stdout(&out);
    let value = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("cargo:rustc-env={name}=")))
            .unwrap_or_else(|| panic!("no {name} in {text}"))
            .to_owned()
    };
    (value("SIGNET_COMMIT"), value("SIGNET_BUILD_DATE"))
}

/// A release tarball made by `git archive` has no `.git`: the build still stamps the commit and
/// its date (from `archive-stamp`, which `git archive` fills in), a container build takes them
/// from its build arguments, and a tree with none, or a garbled stamp, builds with `unknown`
/// instead of failing.
#[test]
fn a_build_from_a_git_archive_stamps_its_commit_and_one_without_builds_anyway() {
    let Some(commit) = git(&["rev-parse", "--short=10", "HEAD"], &[]) else {
        eprintln!("not a git checkout: nothing to archive");
        return;
    };
    if git(&["ls-tree", "--name-only", "HEAD", "archive-stamp"], &[]).is_none() {
        eprintln!("archive-stamp is not committed yet: nothing to archive");
        return;
    }
    let date = git(
        &[
            "log",
            "-1",
            "--format=%cd",
            "--date=format-local:%Y-%m-%d",
            "HEAD",
        ],
        &[("TZ", "UTC")],
    )
    .expect("commit date");
    let tmp = tempfile::tempdir().expect("tmp");
    let tree = tmp.path().join("signet-src");
    std::fs::create_dir(&tree).expect("dir");
    let archive = Command::new("sh")
        .arg("-c")
        .arg(
            "git -C \"$1\" archive --format=tar HEAD crates/cli/build.rs crates/cli/archive-stamp \
             | tar -x -C \"$2\"",
        )
        .args([
            "sh",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../.."),
            tree.to_str().expect("utf8"),
        ])
        .output()
        .expect("git archive");
    assert!(
        archive.status.success(),
        "git archive: {}",
        stderr(&archive)
    );
    let crate_dir = tree.join("crates/cli");
    assert!(!tree.join(".git").exists());
    let build_rs = crate_dir.join("build.rs");
    assert_eq!(stamp_of(&build_rs, &crate_dir, &[]), (commit, date));

    // The checkout's own stamp (its placeholders unexpanded), a garbled one, none at all.
    let checkout = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/archive-stamp"))
        .expect("stamp");
    let unknown = ("unknown".to_owned(), "unknown".to_owned());
    for stamp in [Some(checkout.as_str()), Some("commit=zz\ndate=x\n"), None] {
        let path = crate_dir.join("archive-stamp");
        match stamp {
            Some(text) => std::fs::write(&path, text).expect("write"),
            None => std::fs::remove_file(&path).expect("remove"),
        }
        assert_eq!(stamp_of(&build_rs, &crate_dir, &[]), unknown, "{stamp:?}");
    }
    // A container build names them (its build arguments); 2026-12-07 is 1796601600.
    let given = [
        (
            "SIGNET_BUILD_COMMIT",
            "0123456789abcdef0123456789abcdef01234567",
        ),
        ("SOURCE_DATE_EPOCH", "1796601600"),
    ];
    assert_eq!(
        stamp_of(&build_rs, &crate_dir, &given),
        ("0123456789".to_owned(), "2026-12-07".to_owned())
    );
    let garbage = [("SIGNET_BUILD_COMMIT", "$(git rev-parse HEAD)")];
    assert_eq!(stamp_of(&build_rs, &crate_dir, &garbage), unknown);
}

/// A private CA, and a certificate for `localhost` it signed, as PEM files in `dir`: (CA, leaf
/// certificate, leaf key).
fn private_ca(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose,
    };
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "Signet test private CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key).expect("CA certificate");
    let issuer = Issuer::new(ca, ca_key);

    let leaf_key = KeyPair::generate().expect("leaf key");
    let mut leaf = CertificateParams::new(vec!["localhost".to_owned()]).expect("leaf params");
    leaf.distinguished_name
        .push(DnType::CommonName, "localhost");
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_cert = leaf
        .signed_by(&leaf_key, &issuer)
        .expect("leaf certificate");

    let paths = (
        dir.join("ca.pem"),
        dir.join("server.pem"),
        dir.join("server.key"),
    );
    std::fs::write(&paths.0, ca_cert.pem()).expect("write CA");
    std::fs::write(&paths.1, leaf_cert.pem()).expect("write certificate");
    std::fs::write(&paths.2, leaf_key.serialize_pem()).expect("write key");
    (paths.0, paths.1, paths.2)
}

#[test]
fn a_private_ca_is_trusted_only_when_named() {
    let certs = tempfile::tempdir().expect("tmp");
    let (ca, cert, key) = private_ca(certs.path());
    let server = TestServer::start_with(&[
        "--tls-cert",
        cert.to_str().expect("utf8"),
        "--tls-key",
        key.to_str().expect("utf8"),
    ]);
    let url = format!("https://localhost:{}", server.port);
    let init = Command::new(bin())
        .args(["operator", "init", "--data-dir"])
        .arg(&server.data_dir)
        .args(["--api-url", &url])
        .env("SIGNET_HOME", &server.operator_home)
        .output()
        .expect("operator init");
    assert_exit(&init, 0, "operator init");

    // Without the CA the certificate is refused: the server is unreachable for this client,
    // at once (a refused certificate stays refused, so it is not retried).
    let started = std::time::Instant::now();
    let out = server.op(&["project", "list"]);
    assert_exit(&out, UNAVAILABLE, "TLS without the private CA");
    assert!(
        stderr(&out).to_lowercase().contains("certificate"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains(RETRY_LINE), "{}", stderr(&out));
    assert!(started.elapsed() < std::time::Duration::from_secs(5));

    // With it, by flag or by environment, the same call succeeds.
    let out = server.op(&["project", "list", "--cacert", ca.to_str().expect("utf8")]);
    assert_exit(&out, 0, "--cacert");
    let out = Command::new(bin())
        .args(["project", "list"])
        .env("SIGNET_HOME", &server.operator_home)
        .env("SIGNET_CACERT", &ca)
        .output()
        .expect("signet");
    assert_exit(&out, 0, "SIGNET_CACERT");

    // Naming a file that is no CA (a key, garbage, nothing at all) is a usage error, told in
    // words, by flag or by environment, before anything is sent.
    let garbage = certs.path().join("garbage.pem");
    std::fs::write(&garbage, b"\x00\xffnot a certificate\n").expect("write");
    let missing = certs.path().join("missing.pem");
    for (file, why) in [
        (&key, "a key file"),
        (&garbage, "garbage"),
        (&missing, "a missing file"),
    ] {
        let out = server.op(&["project", "list", "--cacert", file.to_str().expect("utf8")]);
        assert_exit(&out, USAGE, &format!("{why} given as --cacert"));
        let out = Command::new(bin())
            .args(["project", "list"])
            .env("SIGNET_HOME", &server.operator_home)
            .env("SIGNET_CACERT", file)
            .output()
            .expect("signet");
        assert_exit(&out, USAGE, &format!("{why} given as SIGNET_CACERT"));
        let err = stderr(&out);
        assert!(
            err.starts_with("error: cannot use the CA certificates in")
                && err.contains(file.to_str().expect("utf8"))
                && err.lines().count() == 1,
            "{why}: {err}"
        );
        assert!(!err.contains(RETRY_LINE), "{why}: {err}");
    }
}
