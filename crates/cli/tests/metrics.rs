//! Issue 15 §1: Prometheus metrics on a listener of their own, and the access log. A real
//! `signet server` with `--metrics-listen 127.0.0.1:0` serves signed reads (answered, refused,
//! unauthenticated) and sign-ins (browser and CLI); `/metrics` is scraped over HTTP before and
//! after, and the counters must have moved by exactly what was done. The API listener does not
//! serve `/metrics`, a remote metrics address needs its flag, and the server's log holds no
//! secret value, signature, cookie or colour code. The gauges of what is live in the store
//! (sessions by kind, leases) follow a browser sign-in, a CLI login and a lease minted by a
//! signed read on a real PostgreSQL, and fall back when each is ended.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read as _, Write as _};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use signet_testkit::every_backend;
use signet_testkit::postgres::{PgDatabase, psql};
use signet_testkit::process::{Backend, Fixture, TestServer, bin, run_with_stdin, stderr};
use totp_rs::Totp;

const PASSWORD: &str = "a long enough passphrase";
const EMAIL: &str = "owner@example.test";
/// Sent as a signature on a request that must fail: it must never reach the log.
const FAKE_SIGNATURE: &str =
    "c2lnbmF0dXJlLW1hcmtlci1uZXZlci1sb2dnZWQtNzQ2MjE5ODM0NTIxMDk4NzY1NDMyMQ==";

/// One HTTP/1.1 GET over a plain socket: the status and the body.
fn http_get(addr: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String, String) {
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).expect("send");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read");
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = raw.split_once("\r\n\r\n").expect("a response");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status");
    // Small answers come whole; a chunked one is unchunked by hand.
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let mut out = String::new();
        let mut rest = body;
        while let Some((size, tail)) = rest.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).expect("chunk size");
            if n == 0 {
                break;
            }
            out.push_str(&tail[..n]);
            rest = &tail[n + 2..];
        }
        out
    } else {
        body.to_owned()
    };
    (status, head.to_owned(), body)
}

/// The metrics listener's address, from the line the server prints once it is bound.
fn metrics_addr(server: &TestServer) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(addr) = server.log().lines().find_map(|l| {
            l.strip_prefix("signet: metrics on http://")
                .and_then(|rest| rest.strip_suffix("/metrics"))
                .map(str::to_owned)
        }) {
            return addr.replace("0.0.0.0", "127.0.0.1");
        }
        assert!(
            Instant::now() < deadline,
            "no metrics line: {}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The scrape in the Prometheus text format (what a scraper gets without asking), after checking
/// that the same scrape in OpenMetrics is offered to one that asks.
fn scrape(addr: &str) -> String {
    let (status, head, body) = http_get(addr, "/metrics", &[]);
    assert_eq!(status, 200, "{body}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4"),
        "{head}"
    );
    let (status, head, om) = http_get(
        addr,
        "/metrics",
        &[(
            "Accept",
            "application/openmetrics-text;version=1.0.0,text/plain;q=0.5",
        )],
    );
    assert_eq!(status, 200);
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/openmetrics-text; version=1.0.0"),
        "{head}"
    );
    assert!(om.ends_with("# EOF\n"), "an OpenMetrics exposition ends so");
    assert!(om.contains("# TYPE signet_secret_reads counter"), "{om}");
    body
}

/// The value of one sample, `0` if the series is absent (never incremented).
fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |v| v.trim().parse().expect("a number"))
}

fn read_outcome(text: &str, outcome: &str) -> f64 {
    value(
        text,
        &format!("signet_secret_reads_total{{outcome=\"{outcome}\"}}"),
    )
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Makes the first owner offline and returns their TOTP and recovery codes.
fn create_owner(server: &TestServer) -> (Totp, Vec<String>) {
    let mut args = vec![
        "--json",
        "user",
        "create-owner",
        "--email",
        EMAIL,
        "--username",
        "owner",
        "--password-stdin",
        "--data-dir",
        server.data_dir.to_str().unwrap(),
    ];
    if let Some(c) = &server.config {
        args.extend(["--config", c.to_str().unwrap()]);
    }
    let out = run_with_stdin(&server.operator_home, &args, &format!("{PASSWORD}\n"));
    assert!(out.status.success(), "create-owner: {}", stderr(&out));
    let owner: Value = serde_json::from_slice(&out.stdout).unwrap();
    let codes = owner["recoveryCodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    (
        Totp::from_url(owner["otpauthUri"].as_str().unwrap()).unwrap(),
        codes,
    )
}

every_backend!(async fn scrape_moves_with_reads_denials_and_sign_ins);
async fn scrape_moves_with_reads_denials_and_sign_ins(backend: Backend) {
    let mut server = TestServer::unstarted_on(backend);
    server
        .spawn(0, &["--metrics-listen", "127.0.0.1:0"])
        .expect("server starts");
    let f = Fixture::with_server(server);
    let addr = metrics_addr(&f.server);
    let api = format!("127.0.0.1:{}", f.server.port);
    let before = scrape(&addr);

    // One answered read, one refused (not granted), one for a secret that does not exist, and
    // one that does not authenticate.
    let out = f.server.machine(&["get", &f.secret]);
    assert!(out.status.success(), "get: {}", stderr(&out));
    let other_value = "other-value-never-logged-5d1e";
    let other = f.server.op_json(&[
        "secret",
        "create",
        "--project",
        &f.project,
        "--name",
        "NOT_GRANTED",
        "--value",
        other_value,
    ])["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(!f.server.machine(&["get", &other]).status.success());
    let mut missing = f.secret.clone();
    let last = missing.pop().unwrap();
    missing.push(if last == 'a' { 'b' } else { 'a' });
    assert!(!f.server.machine(&["get", &missing]).status.success());
    let ts = now_secs().to_string();
    let (status, _, _) = http_get(
        &api,
        &format!("/v1/secret/{}", f.secret),
        &[
            ("X-Machine-Id", &f.machine),
            ("X-Timestamp", &ts),
            ("X-Nonce", "bm9uY2Utb2YtYS1mb3JnZWQtcmVx"),
            ("X-Signature", FAKE_SIGNATURE),
        ],
    );
    assert_eq!(status, 401);

    // A browser sign-in (then one request with its cookie) and a CLI sign-in.
    let (totp, codes) = create_owner(&f.server);
    let r = reqwest::Client::new()
        .post(format!("{}/v1/auth/session", f.server.url))
        .header("origin", &f.server.url)
        .json(&json!({"login": EMAIL, "password": PASSWORD, "recoveryCode": codes[0]}))
        .send()
        .await
        .expect("session login");
    assert_eq!(r.status(), 200, "browser sign-in");
    let cookie = r
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .expect("a session cookie")
        .to_owned();
    let session: Value = r.json().await.unwrap();
    let csrf = session["csrfToken"].as_str().unwrap().to_owned();
    let (status, _, _) = http_get(&api, "/v1/auth/session", &[("Cookie", &cookie)]);
    assert_eq!(status, 200, "the session works");
    let cli_home = f.server.root.path().join("cli-home");
    let out = run_with_stdin(
        &cli_home,
        &[
            "--json",
            "login",
            "--server",
            &f.server.url,
            "--email",
            EMAIL,
            "--password-stdin",
            "--totp",
            &totp.generate_current().to_string(),
        ],
        &format!("{PASSWORD}\n"),
    );
    assert!(out.status.success(), "cli login: {}", stderr(&out));

    let after = scrape(&addr);
    let moved = |outcome: &str| read_outcome(&after, outcome) - read_outcome(&before, outcome);
    assert_eq!(moved("ok"), 1.0, "{after}");
    assert_eq!(moved("denied"), 1.0, "{after}");
    assert_eq!(moved("not_found"), 1.0, "{after}");
    assert_eq!(moved("auth"), 1.0, "{after}");
    assert_eq!(moved("error"), 0.0, "{after}");
    for kind in ["browser", "cli"] {
        let series = format!("signet_sign_ins_total{{kind=\"{kind}\"}}");
        assert_eq!(
            value(&after, &series) - value(&before, &series),
            1.0,
            "{kind}"
        );
    }
    let route = "route=\"/v1/secret/{id}\"";
    for (status, at_least) in [("200", 1.0), ("403", 2.0), ("401", 1.0)] {
        let series =
            format!("signet_http_requests_total{{method=\"GET\",{route},status=\"{status}\"}}");
        assert!(value(&after, &series) >= at_least, "{series}: {after}");
    }
    assert!(
        value(
            &after,
            &format!("signet_http_request_duration_seconds_count{{{route}}}")
        ) >= 4.0
    );
    assert!(
        value(&after, "signet_audit_append_duration_seconds_count")
            > value(&before, "signet_audit_append_duration_seconds_count")
    );
    assert!(value(&after, "signet_store_group_commit_size_count") > 0.0);
    assert!(value(&after, "signet_store_commit_duration_seconds_count") > 0.0);
    // Every group commit has one durable step, timed apart (a commit may be under way while
    // the scrape reads the two, so they may differ by one).
    let syncs = value(&after, "signet_store_fsync_duration_seconds_count");
    let commits = value(&after, "signet_store_commit_duration_seconds_count");
    assert!(
        syncs > 0.0 && (syncs - commits).abs() <= 1.0,
        "{syncs} vs {commits}"
    );
    assert!(value(&after, "signet_store_pool_connections") >= 1.0);
    let name = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    assert_eq!(
        value(
            &after,
            &format!("signet_store_backend{{backend=\"{name}\"}}")
        ),
        1.0
    );
    // The nonce set's size on either backend (PostgreSQL's shared table too): the reads'
    // nonces and the operator's requests' are held.
    assert!(
        value(&after, "signet_nonces_held") >= value(&before, "signet_nonces_held") + 4.0,
        "{after}"
    );
    // Routes are labelled by template: no id from any path is a label.
    for id in [&f.secret, &other, &missing, &f.machine, &f.project] {
        assert!(!after.contains(id.as_str()), "{id} in the scrape");
    }

    // The API's own listener has no /metrics.
    let (status, _, body) = http_get(&api, "/metrics", &[]);
    assert_eq!(status, 404);
    assert!(!body.contains("signet_"), "{body}");

    // The access log: a line per request, by template, with who asked; a line per refused
    // read; and nothing that is a credential or a value.
    let log = f.server.log();
    assert!(
        log.lines().any(|l| l.contains(" request ")
            && l.contains("/v1/secret/{id}")
            && l.contains(&format!("principal=machine:{}", f.machine))
            && l.contains("status=200")),
        "no access line for the read: {log}"
    );
    assert!(
        log.lines().any(|l| l.contains("machine request denied")
            && l.contains(&f.machine)
            && l.contains(&other)
            && l.contains("no_grant")),
        "no line for the refused read: {log}"
    );
    let cookie_secret = cookie.split_once('=').map_or(cookie.as_str(), |(_, v)| v);
    for (what, needle) in [
        ("the secret value", f.value.as_str()),
        ("the other value", other_value),
        ("a signature", FAKE_SIGNATURE),
        ("the session cookie", cookie_secret),
        ("the CSRF token", csrf.as_str()),
        ("the password", PASSWORD),
        ("a colour code", "\u{1b}["),
    ] {
        assert!(!log.contains(needle), "{what} in the server's log");
    }
}

/// One sample's value, `None` if the series is absent.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map(|v| v.trim().parse().expect("a number"))
}

const BROWSER: &str = "signet_sessions_active{kind=\"browser\"}";
const CLI: &str = "signet_sessions_active{kind=\"cli\"}";
const LEASES: &str = "signet_leases_active";

/// Scrapes until the gauges read `want` (browser sessions, CLI keys, leases). They are counted
/// every 10 s, so a change shows within that; the deadline leaves room for a loaded machine.
fn await_gauges(addr: &str, want: [f64; 3]) {
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let (status, _, text) = http_get(addr, "/metrics", &[]);
        assert_eq!(status, 200, "{text}");
        let got = [BROWSER, CLI, LEASES].map(|s| sample(&text, s));
        if got == want.map(Some) {
            assert!(
                text.contains("# TYPE signet_sessions_active gauge")
                    && text.contains("# TYPE signet_leases_active gauge"),
                "{text}"
            );
            return;
        }
        assert!(
            Instant::now() < deadline,
            "gauges {got:?}, waited for {want:?}: {text}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

every_backend!(async fn gauges_count_live_sessions_and_leases);
async fn gauges_count_live_sessions_and_leases(backend: Backend) {
    let mut server = TestServer::unstarted_on(backend);
    server
        .spawn(0, &["--metrics-listen", "127.0.0.1:0"])
        .expect("server starts");
    let f = Fixture::with_server(server);
    let s = &f.server;
    let addr = metrics_addr(s);
    // Counted as the server starts: the fixture's headless operator key is no sign-in.
    await_gauges(&addr, [0.0, 0.0, 0.0]);

    // A leased secret on a real PostgreSQL, and the machine's signed read that mints a lease.
    let db = PgDatabase::create();
    psql(db.url(), "CREATE TABLE t (x int)").unwrap();
    let out = std::process::Command::new(bin())
        .args(["--json", "connection", "create", "--project", &f.project])
        .args([
            "--name",
            "main",
            "--host",
            "127.0.0.1",
            "--database",
            db.name(),
        ])
        .args([
            "--admin-user",
            "postgres",
            "--admin-password-env",
            "PGADMIN_PW",
        ])
        .args(["--tls-mode", "disable"])
        .env("SIGNET_HOME", &s.operator_home)
        .env("PGADMIN_PW", "unused-with-trust")
        .output()
        .expect("run signet");
    assert!(out.status.success(), "connection create: {}", stderr(&out));
    let conn: Value = serde_json::from_slice(&out.stdout).unwrap();
    let created = s.op_json(&[
        "lease",
        "create",
        "--project",
        &f.project,
        "--name",
        "APP_DB",
        "--connection",
        conn["id"].as_str().unwrap(),
        "--ttl",
        "10m",
        "--grant",
        "GRANT SELECT ON t TO {{name}}",
    ]);
    let leased = created["secretId"].as_str().unwrap().to_owned();
    s.op_json(&["machine", "grant", &f.machine, "--secret", &leased]);
    let out = s.machine(&["get", &leased]);
    assert!(out.status.success(), "leased read: {}", stderr(&out));

    // A browser sign-in and a CLI login.
    let (totp, codes) = create_owner(s);
    let web = reqwest::Client::new();
    let r = web
        .post(format!("{}/v1/auth/session", s.url))
        .header("origin", &s.url)
        .json(&json!({"login": EMAIL, "password": PASSWORD, "recoveryCode": codes[0]}))
        .send()
        .await
        .expect("session login");
    assert_eq!(r.status(), 200, "browser sign-in");
    let cookie = r
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .expect("a session cookie")
        .to_owned();
    let session: Value = r.json().await.unwrap();
    let csrf = session["csrfToken"].as_str().unwrap().to_owned();
    let cli_home = s.root.path().join("cli-home");
    let out = run_with_stdin(
        &cli_home,
        &[
            "--json",
            "login",
            "--server",
            &s.url,
            "--email",
            EMAIL,
            "--password-stdin",
            "--totp",
            &totp.generate_current().to_string(),
        ],
        &format!("{PASSWORD}\n"),
    );
    assert!(out.status.success(), "cli login: {}", stderr(&out));
    await_gauges(&addr, [1.0, 1.0, 1.0]);

    // Each ended: the lease revoked, the session logged out, the CLI key logged out.
    let listed = s.op_json(&["lease", "list", "--secret", &leased]);
    let lease = listed["leases"][0]["id"].as_str().unwrap().to_owned();
    s.op_json(&["lease", "revoke", &lease]);
    let r = web
        .post(format!("{}/v1/auth/session/logout", s.url))
        .header("origin", &s.url)
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .json(&json!({}))
        .send()
        .await
        .expect("session logout");
    assert!(r.status().is_success(), "browser logout: {}", r.status());
    let out = run_with_stdin(&cli_home, &["--json", "logout"], "");
    assert!(out.status.success(), "cli logout: {}", stderr(&out));
    await_gauges(&addr, [0.0, 0.0, 0.0]);
}

#[test]
fn a_remote_metrics_listener_needs_its_flag() {
    let mut refused = TestServer::unstarted_on(Backend::Sqlite);
    let log = refused
        .spawn(0, &["--metrics-listen", "0.0.0.0:0"])
        .expect_err("a remote metrics listener without the flag");
    assert!(log.contains("refusing the metrics listener"), "{log}");

    let mut allowed = TestServer::unstarted_on(Backend::Sqlite);
    allowed
        .spawn(
            0,
            &["--metrics-listen", "0.0.0.0:0", "--metrics-allow-remote"],
        )
        .expect("starts with the flag");
    let body = scrape(&metrics_addr(&allowed));
    assert!(
        body.contains("# TYPE signet_secret_reads_total counter"),
        "{body}"
    );
}
