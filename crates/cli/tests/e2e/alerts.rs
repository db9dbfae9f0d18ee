//! Issue 12 §4 through real processes on both backends: an alert rule and a webhook made with
//! the CLI; a real HTTP receiver (Python's http.server, `tests/webhooks/receiver.py`) that
//! fails the first attempts, so the delivery is retried with backoff under one delivery id;
//! the delivery verified by an independent RFC 9421 implementation (the
//! `http-message-signatures` package, `tests/webhooks/verify.py`) with the key from the
//! well-known URL, and refused once its body is altered; `signet webhook verify` agrees; the
//! HMAC secret is shown once; SSRF attempts are refused and a redirect is not followed.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{
    Backend, Fixture, PgDatabase, TestServer, every_backend, shared_config, stderr, stdout,
};

/// The repository root.
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The Python with `http-message-signatures` (tests/requirements.txt): `SIGNET_TEST_PYTHON`,
/// else the venv `scripts/setup.sh` makes.
fn venv_python() -> PathBuf {
    let p = std::env::var_os("SIGNET_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".venv/bin/python"));
    assert!(
        p.exists(),
        "{} is missing: run scripts/setup.sh (or set SIGNET_TEST_PYTHON)",
        p.display()
    );
    p
}

/// A receiver process, killed on drop.
struct Receiver {
    child: Child,
    port: u16,
    out: tempfile::TempDir,
}

impl Receiver {
    fn start(fail_first: u32) -> Self {
        let out = tempfile::tempdir().expect("tempdir");
        let port_file = out.path().join("port");
        let saved = out.path().join("saved");
        std::fs::create_dir(&saved).expect("saved dir");
        let child = Command::new("python3")
            .arg(repo().join("tests/webhooks/receiver.py"))
            .arg(&port_file)
            .arg(&saved)
            .arg(fail_first.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 receiver");
        let deadline = Instant::now() + Duration::from_secs(10);
        let port = loop {
            if let Ok(t) = std::fs::read_to_string(&port_file) {
                break t.trim().parse().expect("port");
            }
            assert!(Instant::now() < deadline, "the receiver did not start");
            std::thread::sleep(Duration::from_millis(20));
        };
        Self { child, port, out }
    }

    /// Saved requests, in arrival order.
    fn saved(&self) -> Vec<(PathBuf, Value)> {
        let dir = self.out.path().join("saved");
        let mut files: Vec<(u32, PathBuf)> = std::fs::read_dir(&dir)
            .expect("saved dir")
            .filter_map(|e| {
                let p = e.ok()?.path();
                let n = p.file_stem()?.to_str()?.parse().ok()?;
                (p.extension()? == "json").then_some((n, p))
            })
            .collect();
        files.sort();
        files
            .into_iter()
            .map(|(_, p)| {
                let v = serde_json::from_str(&std::fs::read_to_string(&p).expect("read"))
                    .expect("json");
                (p, v)
            })
            .collect()
    }

    /// Waits until at least `n` requests arrived.
    fn wait_for(&self, n: usize, within: Duration) -> Vec<(PathBuf, Value)> {
        let deadline = Instant::now() + within;
        loop {
            let s = self.saved();
            if s.len() >= n {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "only {} of {n} requests arrived",
                s.len()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A server whose webhooks may reach loopback (where the receiver is), with short intervals.
fn server(backend: Backend) -> TestServer {
    let mut s = TestServer::unstarted_on(backend);
    let config = match &s.config {
        Some(c) => c.clone(),
        None => s.data_dir.with_file_name("alerts.toml"),
    };
    let mut text = std::fs::read_to_string(&config).unwrap_or_default();
    text.push_str(
        "webhook_allow_cidrs = [\"127.0.0.0/8\"]\n\
         webhook_retry_base_ms = 300\n\
         webhook_retry_cap_secs = 1\n\
         webhook_timeout_secs = 5\n\
         alert_tail_interval_ms = 100\n\
         webhook_dispatch_interval_ms = 100\n",
    );
    std::fs::write(&config, text).expect("config");
    s.config = Some(config);
    s.spawn(0, &[]).expect("server starts");
    s
}

fn header<'a>(saved: &'a Value, name: &str) -> &'a str {
    saved["headers"]
        .as_object()
        .expect("headers")
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.as_str())
        .unwrap_or_default()
}

every_backend!(async fn a_delivery_is_retried_signed_and_verified_independently);
async fn a_delivery_is_retried_signed_and_verified_independently(backend: Backend) {
    let python = venv_python();
    let receiver = Receiver::start(2);
    let f = Fixture::with_server(server(backend));
    let url = format!("http://127.0.0.1:{}/hook", receiver.port);
    let created = f.server.op_json(&[
        "webhook",
        "add",
        "--name",
        "ops",
        "--url",
        &url,
        "--hmac-secret",
    ]);
    let hook = created["webhook"]["id"].as_str().expect("id").to_owned();
    let secret = created["hmacSecret"]
        .as_str()
        .expect("secret shown once")
        .to_owned();
    let listed = f.server.op_json(&["webhook", "list"]);
    assert!(
        !listed.to_string().contains(&secret),
        "the secret is shown only once"
    );
    assert_eq!(listed["webhooks"][0]["hasHmacSecret"], true);
    f.server.op_json(&[
        "alert",
        "add",
        "--name",
        "projects",
        "--severity",
        "critical",
        "--action",
        "project_create",
        "--webhook",
        &hook,
    ]);
    // Let the tailer start at the head, then make the record the rule watches.
    std::thread::sleep(Duration::from_millis(400));
    let project = f.server.op_json(&["project", "create", "alerted"])["id"]
        .as_str()
        .expect("project id")
        .to_owned();

    // Two 503s, then a 204: three attempts of one delivery, spaced by the backoff.
    let saved = receiver.wait_for(3, Duration::from_secs(30));
    let ids: Vec<&str> = saved
        .iter()
        .map(|(_, s)| header(s, "signet-delivery-id"))
        .collect();
    assert!(!ids[0].is_empty());
    assert!(
        ids.iter().all(|i| *i == ids[0]),
        "one delivery id on every attempt: {ids:?}"
    );
    assert!(
        saved
            .iter()
            .all(|(_, s)| header(s, "x-sikkerkey-delivery-id") == ids[0])
    );
    let (last_path, last) = saved.last().expect("a delivery");
    let body: Value =
        serde_json::from_str(last["body"].as_str().expect("body")).expect("json body");
    assert_eq!(body["event"], "project_create");
    assert_eq!(body["severity"], "critical");
    assert_eq!(body["id"], ids[0]);
    assert_eq!(body["data"]["target"], project.as_str());
    assert_eq!(header(last, "x-sikkerkey-event"), "project_create");

    // An independent RFC 9421 implementation, with the key from the well-known URL.
    let key_url = format!("{}/.well-known/signet/webhook-keys", f.server.url);
    let check = |file: &Path, hmac: bool| {
        let mut cmd = Command::new(&python);
        cmd.arg(repo().join("tests/webhooks/verify.py"))
            .arg(&key_url)
            .arg(file);
        if hmac {
            cmd.arg(&secret);
        }
        cmd.output().expect("python verifier")
    };
    let ok = check(last_path, true);
    assert!(
        ok.status.success(),
        "verify.py: {} {}",
        stdout(&ok),
        stderr(&ok)
    );
    let ours = f.server.op(&[
        "webhook",
        "verify",
        "--key-url",
        &key_url,
        last_path.to_str().expect("utf-8"),
    ]);
    assert!(
        ours.status.success(),
        "signet webhook verify: {}",
        stderr(&ours)
    );

    // The same delivery with its body altered: both refuse it, saying why.
    let mut altered = last.clone();
    altered["body"] = Value::String(
        last["body"]
            .as_str()
            .expect("body")
            .replace("critical", "info"),
    );
    let altered_path = receiver.out.path().join("altered.json");
    std::fs::write(&altered_path, altered.to_string()).expect("write");
    let bad = check(&altered_path, false);
    assert!(
        !bad.status.success(),
        "verify.py accepted an altered body: {}",
        stdout(&bad)
    );
    let ours = f.server.op(&[
        "webhook",
        "verify",
        "--key-url",
        &key_url,
        altered_path.to_str().expect("utf-8"),
    ]);
    assert!(!ours.status.success());
    assert!(stderr(&ours).contains("body"), "{}", stderr(&ours));
    // A signed header altered (the delivery id, as a replay under a new id would need).
    let mut renamed = last.clone();
    let headers = renamed["headers"].as_object_mut().expect("headers");
    let name = headers
        .keys()
        .find(|k| k.eq_ignore_ascii_case("signet-delivery-id"))
        .expect("delivery id header")
        .clone();
    headers.insert(
        name,
        Value::String("11111111-1111-4111-8111-111111111111".to_owned()),
    );
    let renamed_path = receiver.out.path().join("renamed.json");
    std::fs::write(&renamed_path, renamed.to_string()).expect("write");
    assert!(!check(&renamed_path, false).status.success());
    let ours = f.server.op(&[
        "webhook",
        "verify",
        "--key-url",
        &key_url,
        renamed_path.to_str().expect("utf-8"),
    ]);
    assert!(!ours.status.success());

    // The delivery log: delivered on the third attempt.
    let log = f
        .server
        .op_json(&["webhook", "deliveries", "--webhook", &hook]);
    let entry = log["deliveries"]
        .as_array()
        .expect("deliveries")
        .iter()
        .find(|d| d["id"] == ids[0])
        .expect("logged");
    assert_eq!(entry["status"], "delivered");
    assert_eq!(entry["attempts"], 3);
    assert_eq!(entry["lastStatusCode"], 204);

    // The test button's delivery arrives too, signed the same way.
    let before = receiver.saved().len();
    f.server.op_json(&["webhook", "test", &hook]);
    let saved = receiver.wait_for(before + 1, Duration::from_secs(10));
    let (test_path, test) = saved.last().expect("test delivery");
    assert_eq!(header(test, "x-sikkerkey-event"), "test");
    assert!(check(test_path, true).status.success());

    // Every change was audited.
    let audit = f
        .server
        .op_json(&["audit", "list", "--limit", "200"])
        .to_string();
    for action in ["webhook_create", "alert_rule_create", "webhook_test"] {
        assert!(audit.contains(action), "no {action} record");
    }
    assert!(
        !audit.contains(&secret),
        "the HMAC secret reached the audit log"
    );
    assert!(
        !f.server.log().contains(&secret),
        "the HMAC secret reached the server log"
    );
}

every_backend!(async fn ssrf_attempts_and_redirects_are_refused);
async fn ssrf_attempts_and_redirects_are_refused(backend: Backend) {
    let receiver = Receiver::start(0);
    let f = Fixture::with_server(server(backend));
    // Loopback is allowed on this server (for the receiver); nothing else private is.
    for url in [
        "https://10.0.0.5/hook",
        "https://192.168.1.10/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://[fd00:ec2::254]/latest",
        "https://[::ffff:a9fe:a9fe]/",
        "https://[::ffff:10.0.0.5]/",
        "https://0x7f.0.0.1/hook",
        "https://2130706433/hook",
        "https://0177.0.0.1/hook",
        "http://10.0.0.5/hook",
        "https://user:pw@example.com/hook",
    ] {
        let out = f
            .server
            .op(&["webhook", "add", "--name", "evil", "--url", url]);
        assert!(!out.status.success(), "{url} was accepted");
        assert!(stderr(&out).contains("refused"), "{url}: {}", stderr(&out));
    }
    assert_eq!(
        f.server.op_json(&["webhook", "list"])["webhooks"],
        Value::Array(Vec::new())
    );

    // A receiver that redirects: the redirect is not followed, the delivery is not retried
    // into the redirect's target, and the log names it.
    let url = format!("http://127.0.0.1:{}/redirect", receiver.port);
    let hook = f
        .server
        .op_json(&["webhook", "add", "--name", "redir", "--url", &url])["webhook"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    f.server.op_json(&["webhook", "test", &hook]);
    let saved = receiver.wait_for(1, Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        receiver
            .saved()
            .iter()
            .all(|(_, s)| s["url"].as_str().is_some_and(|u| u.ends_with("/redirect"))),
        "the redirect was followed"
    );
    assert!(!saved.is_empty());
    let log = f.server.op_json(&["webhook", "deliveries"]);
    assert_eq!(log["deliveries"][0]["lastError"], "redirect");
    assert_eq!(log["deliveries"][0]["lastStatusCode"], 302);
}

/// Two replicas on one PostgreSQL database, both tailing the audit log and both dispatching:
/// each alert reaches the receiver exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_deliver_each_alert_once() {
    let receiver = Receiver::start(0);
    let db = PgDatabase::create();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = shared_config(dir.path(), db.url());
    let mut text = std::fs::read_to_string(&config).expect("config");
    text.push_str(
        "webhook_allow_cidrs = [\"127.0.0.0/8\"]\n\
         alert_tail_interval_ms = 50\n\
         webhook_dispatch_interval_ms = 50\n",
    );
    std::fs::write(&config, text).expect("config");
    let (a, _b) = std::thread::scope(|s| {
        let a = s.spawn(|| TestServer::start_with_config(&config));
        let b = s.spawn(|| TestServer::start_with_config(&config));
        (a.join().expect("a"), b.join().expect("b"))
    });
    let f = Fixture::with_server(a);
    let url = format!("http://127.0.0.1:{}/hook", receiver.port);
    let hook = f
        .server
        .op_json(&["webhook", "add", "--name", "ops", "--url", &url])["webhook"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    f.server.op_json(&[
        "alert",
        "add",
        "--name",
        "projects",
        "--action",
        "project_create",
        "--webhook",
        &hook,
    ]);
    std::thread::sleep(Duration::from_millis(300));
    let n = 12;
    for i in 0..n {
        f.server.op_json(&["project", "create", &format!("p{i}")]);
    }
    receiver.wait_for(n, Duration::from_secs(20));
    // Let any duplicate a second replica might send arrive before counting.
    std::thread::sleep(Duration::from_millis(800));
    let saved = receiver
        .saved()
        .into_iter()
        .map(|(_, s)| s)
        .collect::<Vec<_>>();
    assert!(saved.len() >= n);
    let mut ids: Vec<String> = saved
        .iter()
        .map(|s| header(s, "signet-delivery-id").to_owned())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n, "one delivery per alert");
    assert_eq!(saved.len(), n, "no delivery was sent twice");
    drop(f);
    drop(db);
}
