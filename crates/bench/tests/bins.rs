//! The benchmark binaries as the scripts run them. `cargo test` also builds them into
//! `target/debug`, where `scripts/test.sh`'s benchmark smoke step finds them.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly by design.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// A keep-alive HTTP/1.1 server on a loopback port that answers every request `200 {}` and
/// keeps each request's header lines, so a test can see what the load generator sent.
fn answering_server() -> (u16, Arc<AtomicU64>, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let count = Arc::new(AtomicU64::new(0));
    let headers = Arc::new(Mutex::new(Vec::new()));
    let (c, h) = (count.clone(), headers.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (c, h) = (c.clone(), h.clone());
            std::thread::spawn(move || {
                let mut out = stream.try_clone().expect("clone");
                let mut reader = BufReader::new(stream);
                loop {
                    let mut lines = Vec::new();
                    loop {
                        let mut line = String::new();
                        match reader.read_line(&mut line) {
                            Ok(0) | Err(_) => return,
                            Ok(_) if line == "\r\n" => break,
                            Ok(_) => lines.push(line.trim_end().to_owned()),
                        }
                    }
                    c.fetch_add(1, Ordering::SeqCst);
                    h.lock().expect("lock").extend(lines);
                    if out
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}")
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    (port, count, headers)
}

fn report(out: &std::process::Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "signet-bench failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let last = text.lines().last().expect("a report line");
    serde_json::from_str(last).expect("the report is JSON")
}

#[test]
fn bearer_token_reads_closed_loop_send_the_token_and_count_every_answer() {
    let (port, served, headers) = answering_server();
    let out = Command::new(env!("CARGO_BIN_EXE_signet-bench"))
        .args(["--vault-path", "/v1/secret/data/bench"])
        .args(["--vault-token-env", "BENCH_TEST_TOKEN"])
        .args(["--url", &format!("http://127.0.0.1:{port}")])
        .args(["--connections", "2", "--duration", "1", "--warmup", "0"])
        .env("BENCH_TEST_TOKEN", "test-token-1234")
        .output()
        .expect("run signet-bench");
    let r = report(&out);
    let reads = r["reads"].as_u64().expect("reads");
    assert!(reads > 0, "{r}");
    assert_eq!(r["non_200"], 0, "{r}");
    // Requests after the measured second are not counted, so the server saw at least as many.
    assert!(served.load(Ordering::SeqCst) >= reads);
    let headers = headers.lock().expect("lock");
    assert!(
        headers
            .iter()
            .any(|h| h.eq_ignore_ascii_case("x-vault-token: test-token-1234")),
        "the token header was not sent"
    );
    assert!(
        headers
            .iter()
            .any(|h| h.starts_with("GET /v1/secret/data/bench ")),
        "the path was not requested"
    );
}

#[test]
fn open_loop_sends_at_the_asked_rate() {
    let (port, _, _) = answering_server();
    let out = Command::new(env!("CARGO_BIN_EXE_signet-bench"))
        .args(["--vault-path", "/v1/secret/data/bench"])
        .args(["--vault-token-env", "BENCH_TEST_TOKEN"])
        .args(["--url", &format!("http://127.0.0.1:{port}")])
        .args(["--connections", "4", "--duration", "2", "--warmup", "0"])
        .args(["--rate", "100"])
        .env("BENCH_TEST_TOKEN", "t")
        .output()
        .expect("run signet-bench");
    let r = report(&out);
    // A fixed schedule of 100/s for 2 s: the count is the schedule's, not the server's speed.
    let requests = r["requests"].as_u64().expect("requests");
    assert!((190..=210).contains(&requests), "{r}");
    assert_eq!(r["missed"], 0, "{r}");
    let achieved = r["achieved_per_sec"].as_f64().expect("achieved_per_sec");
    assert!((95.0..=105.0).contains(&achieved), "{r}");
}

#[test]
fn signed_reads_need_an_identity() {
    let out = Command::new(env!("CARGO_BIN_EXE_signet-bench"))
        .args(["--secret", "sk_x", "--duration", "1"])
        .output()
        .expect("run signet-bench");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--identity"));
}

#[test]
fn the_seeder_refuses_a_folder_that_is_not_an_installation() {
    let dir = std::env::temp_dir().join(format!("signet-seed-test-{}", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_signet-seed"))
        .args(["--data-dir", dir.to_str().expect("utf-8 path")])
        .args(["--secrets", "1"])
        .output()
        .expect("run signet-seed");
    assert!(
        !out.status.success(),
        "seeded a folder with no installation"
    );
    assert!(!dir.join("signet.db").exists(), "created a database");
}
