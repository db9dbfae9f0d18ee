//! Floods (issue 9, "cheap to abuse"): junk signed requests from a few sources while a signed
//! reader reads, and a machine over its request budget next to one that is not. The slow-client
//! flood, with its concurrent signed reader, is `edge::slow_clients_are_cut_off_while_readers_are_served`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use serde_json::Value;
use signet_client::MachineClient;
use signet_client::identity;
use signet_proto::Identity;

use crate::harness::{Backend, Fixture, TestServer, every_backend, stderr};

/// Junk requests in the flood.
const JUNK: u64 = 10_000;
/// Sources the junk comes from (`X-Forwarded-For`, believed from 127.0.0.1).
const SOURCES: [&str; 4] = [
    "203.0.113.1",
    "203.0.113.2",
    "198.51.100.7",
    "2001:db8:7::1",
];
/// The audit interval in this test, seconds.
const INTERVAL_SECS: u64 = 2;
/// The server's peak resident memory may not pass this during the flood (debug build).
const VMHWM_CEILING_KB: u64 = 256 * 1024;

/// A server on `backend` that believes `X-Forwarded-For` from the test's own connections, with
/// `extra` config lines.
fn flood_server(backend: Backend, extra: &str) -> Fixture {
    let mut server = TestServer::start_on(backend);
    let config = match &server.config {
        Some(c) => c.clone(),
        None => server.root.path().join("signet.toml"),
    };
    let mut text = std::fs::read_to_string(&config).unwrap_or_default();
    text.push_str(&format!("trusted_proxies = [\"127.0.0.1/32\"]\n{extra}"));
    std::fs::write(&config, text).expect("config");
    server.config = Some(config);
    server.restart();
    Fixture::with_server(server)
}

fn client_at(path: &std::path::Path) -> MachineClient {
    let creds = identity::load::<Identity>(path).expect("identity");
    MachineClient::new(creds).expect("client")
}

/// Every record with `action`, newest first (the log here is far below one page).
fn audit(s: &TestServer, action: &str) -> Vec<Value> {
    s.op_json(&["audit", "list", "--action", action, "--limit", "1000"])["records"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn detail_number(detail: &str, key: &str) -> u64 {
    detail
        .split(' ')
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{key} in {detail:?}"))
}

fn vm_hwm_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .expect("proc status")
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

/// One junk request of kind `i % 3`: a bad signature on the real machine's id, an unknown
/// machine id, or headers that do not parse.
async fn junk(http: &reqwest::Client, url: &str, machine: &str, i: u64) -> u16 {
    let source = SOURCES[(i % SOURCES.len() as u64) as usize];
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs()
        .to_string();
    let unknown = format!("00000000-0000-4000-8000-{i:012}");
    let (id, ts, sig) = match i % 3 {
        0 => (machine, now.as_str(), "A".repeat(86) + "=="),
        1 => (unknown.as_str(), now.as_str(), "A".repeat(86) + "=="),
        _ => (machine, "yesterday", "not base64!".to_owned()),
    };
    http.post(format!("{url}/v1/secrets/list"))
        .header("x-forwarded-for", source)
        .header("x-machine-id", id)
        .header("x-timestamp", ts)
        .header("x-nonce", format!("{i:032x}"))
        .header("x-signature", sig)
        .send()
        .await
        .expect("junk request")
        .status()
        .as_u16()
}

// 10,000 junk signed requests from four sources while a machine reads a secret: the reader
// gets only 200s, the junk only 401s and 429s, the audit log grows by a few records per source
// per interval that together count every junk request, and memory stays under the ceiling.
every_backend!(async fn junk_is_counted_not_logged_while_the_reader_is_served);
async fn junk_is_counted_not_logged_while_the_reader_is_served(backend: Backend) {
    let mut f = flood_server(
        backend,
        &format!("auth_failure_audit_interval_secs = {INTERVAL_SECS}\n"),
    );
    let pid = f.server.pid().expect("server pid");
    let before = audit(&f.server, "auth_failure").len() + audit(&f.server, "auth_failures").len();
    let hwm_before = vm_hwm_kb(pid);

    let reader = client_at(&f.server.machine_identity());
    let path = format!("/v1/secret/{}", f.secret);
    let flooding = Arc::new(AtomicBool::new(true));
    let reading = {
        let flooding = flooding.clone();
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            while flooding.load(Ordering::Relaxed) {
                let started = Instant::now();
                let r = reader
                    .signed("GET", &path)
                    .build()
                    .expect("build")
                    .send()
                    .await
                    .expect("send");
                latencies.push(started.elapsed());
                assert_eq!(r.status, 200, "the reader was refused during the flood");
            }
            latencies
        })
    };

    let http = reqwest::Client::new();
    let next = Arc::new(AtomicU64::new(0));
    let (unauthenticated, limited) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..16 {
        let (http, url, machine) = (http.clone(), f.server.url.clone(), f.machine.clone());
        let (next, unauthenticated, limited) =
            (next.clone(), unauthenticated.clone(), limited.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= JUNK {
                    break;
                }
                match junk(&http, &url, &machine, i).await {
                    401 => unauthenticated.fetch_add(1, Ordering::Relaxed),
                    429 => limited.fetch_add(1, Ordering::Relaxed),
                    other => panic!("junk answered {other}"),
                };
            }
        }));
    }
    for w in workers {
        w.await.expect("flood worker");
    }
    let flood_secs = started.elapsed().as_secs_f64();
    flooding.store(false, Ordering::Relaxed);
    let mut latencies = reading.await.expect("reader");
    let hwm = vm_hwm_kb(pid);
    let (unauthenticated, limited) = (
        unauthenticated.load(Ordering::Relaxed),
        limited.load(Ordering::Relaxed),
    );
    assert_eq!(unauthenticated + limited, JUNK);
    // 30 failures a minute per source: nearly everything past the first few is refused unread.
    assert!(limited > JUNK * 9 / 10, "{limited} of {JUNK} were 429");

    // A graceful stop writes what is still counted; the restart serves the log.
    f.server.restart();
    let immediate = audit(&f.server, "auth_failure");
    let aggregates = audit(&f.server, "auth_failures");
    let added = immediate.len() + aggregates.len() - before;
    let counted: u64 = aggregates
        .iter()
        .map(|r| {
            let d = r["detail"].as_str().expect("detail");
            detail_number(d, "count") + detail_number(d, "limited")
        })
        .sum();
    // Every junk request is accounted for: written on its own, or counted in an aggregate.
    assert_eq!(immediate.len() as u64 + counted, JUNK, "{aggregates:?}");
    // At most one immediate and one aggregate record per source per interval begun.
    let intervals = (flood_secs / INTERVAL_SECS as f64).ceil() as usize + 1;
    let bound = 2 * SOURCES.len() * intervals;
    assert!(added <= bound, "{added} records added (bound {bound})");
    for r in &aggregates {
        let ip = r["sourceIp"].as_str().expect("source");
        assert!(
            [
                "203.0.113.1",
                "203.0.113.2",
                "198.51.100.7",
                "2001:db8:7::/64"
            ]
            .contains(&ip),
            "{ip}"
        );
    }
    assert!(
        hwm <= VMHWM_CEILING_KB,
        "VmHWM {hwm} kB over the {VMHWM_CEILING_KB} kB ceiling"
    );

    latencies.sort();
    let p = |q: f64| {
        latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)].as_secs_f64()
            * 1000.0
    };
    eprintln!(
        "floods[{backend:?}]: {JUNK} junk in {flood_secs:.1}s ({unauthenticated} x 401, \
         {limited} x 429); audit +{added} records ({} immediate, {} aggregate); VmHWM {} -> {} kB; \
         reader {} reads, p50 {:.1} ms, p99 {:.1} ms",
        immediate.len(),
        aggregates.len(),
        hwm_before,
        hwm,
        latencies.len(),
        p(0.5),
        p(0.99)
    );
}

/// Enrolls, approves and grants a second machine `name` with its own home; returns its id and
/// identity file.
fn second_machine(f: &Fixture, name: &str) -> (String, std::path::PathBuf) {
    let s = &f.server;
    let home = s.root.path().join(name);
    let token = s.op_json(&["token", "bootstrap"])["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let out = crate::harness::run(
        &home,
        &[
            "enroll", "--server", &s.url, "--token", &token, "--name", name,
        ],
    );
    assert!(out.status.success(), "enroll: {}", stderr(&out));
    let dir = std::fs::read_dir(home.join("vaults"))
        .expect("vaults")
        .next()
        .expect("one vault")
        .expect("entry")
        .path();
    let ident = dir.join("identity.json");
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(&ident).expect("identity")).expect("json");
    let id = v["machineId"].as_str().expect("machine id").to_owned();
    s.op_json(&["machine", "approve", &id]);
    s.op_json(&["machine", "attach", &id, "--project", &f.project]);
    s.op_json(&["machine", "grant", &id, "--secret", &f.secret]);
    (id, ident)
}

// A machine over its own budget gets 429 with `Retry-After`, while another machine (on the
// vault default) keeps getting 200s; the operator's change is audited, and clearing the budget
// lifts it at once.
every_backend!(async fn a_machine_over_its_budget_is_refused_and_others_are_not);
async fn a_machine_over_its_budget_is_refused_and_others_are_not(backend: Backend) {
    let f = flood_server(backend, "");
    let s = &f.server;
    let (_, other_ident) = second_machine(&f, "web-2");
    let set = s.op_json(&[
        "budget",
        "set",
        "--machine",
        &f.machine,
        "--per-minute",
        "5",
    ]);
    assert_eq!(set["machines"][0]["perMinute"], 5, "{set}");
    s.op_json(&["budget", "set", "--per-minute", "600"]);

    let busy = client_at(&s.machine_identity());
    let calm = client_at(&other_ident);
    let path = format!("/v1/secret/{}", f.secret);
    let read = |c: &MachineClient| {
        let r = c.signed("GET", &path).build().expect("build");
        async move { r.send().await.expect("send") }
    };
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for _ in 0..8 {
        let r = read(&busy).await;
        if r.status == 429 {
            retry_after = r.header("retry-after").map(str::to_owned);
        }
        statuses.push(r.status);
        assert_eq!(
            read(&calm).await.status,
            200,
            "the other machine is unaffected"
        );
    }
    assert_eq!(&statuses[..5], [200; 5], "{statuses:?}");
    assert!(statuses[5..].iter().all(|s| *s == 429), "{statuses:?}");
    let secs: u64 = retry_after
        .expect("Retry-After")
        .parse()
        .expect("whole seconds");
    assert!((1..=60).contains(&secs), "Retry-After {secs}");

    let changes = audit(s, "request_budget_update");
    assert_eq!(changes.len(), 2, "{changes:?}");
    assert!(
        changes
            .iter()
            .any(|r| r["target"] == f.machine.as_str() && r["detail"] == "per_minute=5")
    );
    let over = audit(s, "machine_over_budget");
    assert_eq!(
        over.len(),
        1,
        "the first refusal is written, the rest counted"
    );

    // Cleared: the machine follows the vault default (600/min) again, at once.
    s.op_json(&["budget", "set", "--machine", &f.machine, "--clear"]);
    assert_eq!(read(&busy).await.status, 200);
    let shown = s.op_json(&["budget", "show"]);
    assert_eq!(shown["defaultPerMinute"], 600);
    assert_eq!(shown["machines"], serde_json::json!([]));
}
