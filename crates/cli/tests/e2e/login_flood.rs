//! Issue 9, finding 6: a login flood must not grow the server's memory without bound. 500
//! concurrent sign-ins from as many addresses (behind a trusted proxy, so the per-source budget
//! does not absorb them), with wrong passwords for unknown users and the owner's right password
//! without its second factor, while a signed machine reader keeps reading. Every sign-in is
//! answered 200, 401 or 429, the reader only ever sees 200, and the server's peak resident
//! memory (VmHWM) stays under [`MEMORY_CEILING_KIB`] (docs/operations.md).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use signet_client::MachineClient;
use signet_client::identity;
use signet_proto::{Identity, SecretSeed};

use crate::harness::{Fixture, TestServer, stderr};

/// Concurrent sign-ins in the flood.
const SIGN_INS: usize = 500;
/// The documented ceiling on the server's peak resident memory under any login flood: the
/// process at rest (about 15 MB), at most four 19 MiB Argon2 blocks, and connections.
const MEMORY_CEILING_KIB: u64 = 150 * 1024;
const PASSWORD: &str = "maple tundra ferry quiet";

fn vm_hwm_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_sign_ins_keep_memory_bounded_and_the_reader_served() {
    let dir = tempfile::tempdir().expect("tmp");
    let config = dir.path().join("signet.toml");
    std::fs::write(&config, "trusted_proxies = [\"127.0.0.1/32\"]\n").expect("config");
    let f = Fixture::with_server(TestServer::start_with_config(&config));
    let s = &f.server;
    let out = crate::harness::run_with_stdin(
        &s.operator_home,
        &[
            "--json",
            "user",
            "create-owner",
            "--email",
            "owner@example.test",
            "--username",
            "owner",
            "--password-stdin",
            "--data-dir",
            s.data_dir.to_str().expect("utf-8 path"),
            "--config",
            config.to_str().expect("utf-8 path"),
        ],
        &format!("{PASSWORD}\n"),
    );
    assert!(out.status.success(), "create-owner: {}", stderr(&out));
    let pid = s.pid().expect("server running");
    let at_rest = vm_hwm_kib(pid);

    // The signed reader: one read after another until the flood is over.
    let creds = identity::load::<Identity>(&s.machine_identity()).expect("identity");
    let reader = MachineClient::new(creds).expect("client");
    let path = format!("/v1/secret/{}", f.secret);
    let done = Arc::new(AtomicBool::new(false));
    let reading = {
        let done = Arc::clone(&done);
        tokio::spawn(async move {
            let mut seen = Vec::new();
            while !done.load(Ordering::SeqCst) {
                let start = Instant::now();
                let r = reader
                    .signed("GET", &path)
                    .build()
                    .expect("build")
                    .send()
                    .await;
                seen.push((r.map(|r| r.status).unwrap_or(0), start.elapsed()));
            }
            seen
        })
    };

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(300))
        .build()
        .expect("http client");
    let url = format!("{}/v1/auth/cli-login", s.url);
    let started = Instant::now();
    let flood: Vec<_> = (0..SIGN_INS)
        .map(|i| {
            let (login, password) = if i % 5 == 0 {
                ("owner".to_owned(), PASSWORD.to_owned())
            } else {
                (format!("user{i}"), format!("wrong guess number {i}"))
            };
            let body = serde_json::json!({
                "login": login,
                "password": password,
                "publicKey": SecretSeed::generate().public_key().to_base64(),
            });
            let req = http
                .post(&url)
                .header(
                    "x-forwarded-for",
                    format!("10.9.{}.{}", i / 250, i % 250 + 1),
                )
                .json(&body);
            tokio::spawn(async move { req.send().await.map(|r| r.status().as_u16()) })
        })
        .collect();
    let mut statuses = Vec::with_capacity(SIGN_INS);
    for h in flood {
        statuses.push(h.await.expect("join").map_err(|e| e.to_string()));
    }
    let flood_secs = started.elapsed().as_secs_f64();
    // A few more reads after the flood, then stop the reader.
    tokio::time::sleep(Duration::from_millis(300)).await;
    done.store(true, Ordering::SeqCst);
    let reads = reading.await.expect("reader");
    let peak = vm_hwm_kib(pid);

    let count = |code: u16| statuses.iter().filter(|s| **s == Ok(code)).count();
    let mut latencies: Vec<_> = reads.iter().map(|(_, d)| *d).collect();
    latencies.sort();
    let p99 = latencies
        .get(latencies.len().saturating_sub(1) * 99 / 100)
        .copied()
        .unwrap_or_default();
    eprintln!(
        "login flood: {SIGN_INS} sign-ins in {flood_secs:.1} s: 200={} 401={} 429={}; \
         reader: {} reads, p99 {p99:?}; VmHWM at rest {at_rest} kB, after {peak} kB",
        count(200),
        count(401),
        count(429),
        reads.len()
    );
    let odd: Vec<_> = statuses
        .iter()
        .filter(|s| !matches!(s, Ok(200 | 401 | 429)))
        .collect();
    assert!(odd.is_empty(), "sign-ins answered otherwise: {odd:?}");
    assert!(!reads.is_empty(), "the reader never got through");
    let refused: Vec<_> = reads.iter().filter(|(s, _)| *s != 200).collect();
    assert!(refused.is_empty(), "the reader was refused: {refused:?}");
    assert!(
        peak < MEMORY_CEILING_KIB,
        "VmHWM {peak} kB over the {MEMORY_CEILING_KIB} kB ceiling (at rest {at_rest} kB)"
    );
}
