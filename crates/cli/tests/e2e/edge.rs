//! The HTTP edge (issue 9): the client address behind a trusted proxy, and encoded bodies.

use signet_client::MachineClient;
use signet_client::identity;
use signet_proto::Identity;

use crate::harness::{Fixture, TestServer};

fn client(f: &Fixture) -> MachineClient {
    let creds = identity::load::<Identity>(&f.server.machine_identity()).expect("identity");
    MachineClient::new(creds).expect("client")
}

/// A server that believes `X-Forwarded-For` from 127.0.0.1 only (the test's own connections).
fn behind_a_proxy() -> Fixture {
    let dir = tempfile::tempdir().expect("tmp").keep();
    let config = dir.join("signet.toml");
    std::fs::write(&config, "trusted_proxies = [\"127.0.0.1/32\"]\n").expect("config");
    Fixture::with_server(TestServer::start_with_config(&config))
}

async fn read_as(c: &MachineClient, path: &str, forwarded_for: &str) -> u16 {
    c.signed("GET", path)
        .header("x-forwarded-for", forwarded_for)
        .build()
        .expect("build")
        .send()
        .await
        .expect("send")
        .status
}

/// The right-most hops a client can make unreadable (finding 1). The client writes the allowed
/// address to their left; today the bad hop is dropped and that address becomes the client.
const BAD_RIGHT_MOST: [&str; 8] = [
    "127.0.0.3:443",
    "unknown",
    "",
    "[::1]:80",
    "fe80::1%eth0",
    "010.0.0.1",
    "garbage",
    "198.51.100.7:99999",
];

/// Finding 1: behind a trusted proxy, an unreadable right-most `X-Forwarded-For` hop makes the
/// client address unknown, and an enabled vault allowlist and a machine's CIDRs both refuse it;
/// readable hops (with or without a port) still work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_forwarded_hop_passes_no_network_rule() {
    let f = behind_a_proxy();
    let c = client(&f);
    let path = format!("/v1/secret/{}", f.secret);

    // The vault allowlist admits 198.51.100.0/24 and 2001:db8::/32 only.
    f.server
        .op_json(&["ip-allowlist", "add", "198.51.100.0/24"]);
    f.server.op_json(&["ip-allowlist", "add", "2001:db8::/32"]);
    f.server.op_json(&["ip-allowlist", "enable"]);
    for good in [
        "198.51.100.7",
        "203.0.113.1, 198.51.100.7",
        "203.0.113.1, 198.51.100.7:5555",
        "203.0.113.1, [2001:db8::5]:443",
        "203.0.113.1, 2001:db8::5",
    ] {
        assert_eq!(read_as(&c, &path, good).await, 200, "{good:?}");
    }
    assert_eq!(read_as(&c, &path, "203.0.113.1").await, 403);
    for bad in BAD_RIGHT_MOST {
        let header = format!("198.51.100.7, {bad}");
        assert_eq!(
            read_as(&c, &path, &header).await,
            403,
            "allowlist passed with {header:?}"
        );
    }
    f.server.op_json(&["ip-allowlist", "disable"]);

    // The same through a machine's own CIDRs, with the allowlist off.
    f.server
        .op_json(&["machine", "allow-cidr", &f.machine, "198.51.100.0/24"]);
    assert_eq!(read_as(&c, &path, "198.51.100.7:80").await, 200);
    assert_eq!(read_as(&c, &path, "203.0.113.1").await, 403);
    for bad in BAD_RIGHT_MOST {
        let header = format!("198.51.100.7, {bad}");
        assert_eq!(
            read_as(&c, &path, &header).await,
            403,
            "machine CIDR passed with {header:?}"
        );
    }

    // The refusals are audited with the address shown as unknown.
    let records = f.server.op_json(&["audit", "list", "--limit", "1000"])["records"]
        .as_array()
        .expect("records")
        .clone();
    assert!(
        records
            .iter()
            .any(|r| r["sourceIp"] == "unknown" && r["result"] == "denied"),
        "no denied record from an unknown address"
    );
}

/// Finding 12: a body with `Content-Encoding` is refused with 415 through a real process, and
/// the same request without it is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_encoded_body_is_refused_with_415() {
    let f = Fixture::new();
    let c = client(&f);
    let encoded = c
        .signed("POST", "/v1/secrets/list")
        .json(&serde_json::json!({"projectId": f.project}))
        .header("content-encoding", "gzip")
        .build()
        .expect("build")
        .send()
        .await
        .expect("send");
    assert_eq!(encoded.status, 415, "{}", encoded.text());
    assert_eq!(
        encoded.json::<serde_json::Value>().expect("json")["code"],
        "unsupported_encoding"
    );
    let plain = c
        .signed("POST", "/v1/secrets/list")
        .json(&serde_json::json!({"projectId": f.project}))
        .build()
        .expect("build")
        .send()
        .await
        .expect("send");
    assert_eq!(plain.status, 200, "{}", plain.text());
}

async fn readyz(url: &str) -> u16 {
    reqwest::get(format!("{url}/readyz"))
        .await
        .expect("GET /readyz")
        .status()
        .as_u16()
}

/// Polls `/readyz` until it answers `want`; panics after a minute (a bound, not a timing claim).
async fn await_readyz(url: &str, want: u16) {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let got = readyz(url).await;
        if got == want {
            return;
        }
        assert!(
            std::time::Instant::now() < until,
            "/readyz stayed {got}, never {want}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// Finding 10: while another process holds SQLite's write lock, reads cannot be audited, so
/// `/readyz` answers 503; once the lock is released it answers 200 again, and reads work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_the_write_path_on_sqlite() {
    use std::io::{BufRead, BufReader, Write};
    let f = Fixture::new();
    await_readyz(&f.server.url, 200).await;
    let db = f.server.data_dir.join("signet.db");
    let mut holder = std::process::Command::new("python3")
        .arg("-c")
        .arg(
            "import sqlite3,sys\n\
             c=sqlite3.connect(sys.argv[1],isolation_level=None)\n\
             c.execute('BEGIN IMMEDIATE')\n\
             print('locked',flush=True)\n\
             sys.stdin.read()\n\
             c.execute('ROLLBACK')\n",
        )
        .arg(&db)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 with sqlite3");
    let mut line = String::new();
    BufReader::new(holder.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read");
    assert_eq!(line.trim(), "locked");
    await_readyz(&f.server.url, 503).await;
    // Released: ready again, and a signed read is served.
    holder
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"")
        .expect("close");
    assert!(holder.wait().expect("wait").success());
    await_readyz(&f.server.url, 200).await;
    let out = f.server.machine(&["get", &f.secret]);
    assert!(out.status.success(), "{}", crate::harness::stderr(&out));
}

/// The write probe passes on a healthy PostgreSQL replica.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_replica_is_ready() {
    let f = Fixture::on(crate::harness::Backend::Postgres);
    await_readyz(&f.server.url, 200).await;
    assert_eq!(readyz(&f.server.url).await, 200);
}

/// A server with short connection limits, so slow clients are cut off within the test.
fn with_short_limits() -> Fixture {
    let dir = tempfile::tempdir().expect("tmp").keep();
    let config = dir.join("signet.toml");
    std::fs::write(
        &config,
        "header_read_timeout_secs = 2\nbody_read_timeout_secs = 2\nmax_connections = 16\n",
    )
    .expect("config");
    Fixture::with_server(TestServer::start_with_config(&config))
}

/// Opens a connection, sends `head` then `trickle` one byte every 300 ms, and returns how long
/// after `head` the server closed the connection. A server that never closes it fails the test
/// after a minute (a bound so the test ends, not a timing claim).
async fn held_open(port: u16, head: &'static [u8], trickle: &'static [u8]) -> std::time::Duration {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let (mut rx, mut tx) = stream.into_split();
    tx.write_all(head).await.expect("write head");
    let started = std::time::Instant::now();
    let writer = tokio::spawn(async move {
        for b in trickle {
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            if tx.write_all(&[*b]).await.is_err() {
                break;
            }
        }
        // Then stall, holding the socket open.
        std::future::pending::<()>().await;
    });
    let mut buf = [0u8; 1024];
    let closed = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        loop {
            match rx.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
    writer.abort();
    assert!(
        closed.is_ok(),
        "the server kept a stalled client for a minute"
    );
    started.elapsed()
}

const SLOW_HEADERS: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n";
const PADDING: &[u8] = b"X-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const STALLED_BODY: &[u8] = b"POST /v1/enroll/bootstrap HTTP/1.1\r\nHost: localhost\r\n\
Content-Type: application/json\r\nContent-Length: 4096\r\n\r\n{\"token\":";

/// Slow clients: one that sends its headers a byte at a time and one that declares a body and
/// stalls are both disconnected, and a flood of them (more than `max_connections`) does not
/// stop a signed reader from getting 200s, during the flood and after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slow_clients_are_cut_off_while_readers_are_served() {
    let f = with_short_limits();
    let port = f.server.port;
    let slow_headers = held_open(port, SLOW_HEADERS, PADDING).await;
    let stalled_body = held_open(port, STALLED_BODY, b"").await;
    eprintln!(
        "cut off after: slow headers {:.2}s, stalled body {:.2}s (limits 2s)",
        slow_headers.as_secs_f64(),
        stalled_body.as_secs_f64()
    );

    // A flood of 40 slow clients (cap 16), each reconnecting once cut, for about ten seconds.
    let flooding = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let mut flood = Vec::new();
    for i in 0..40 {
        let flooding = flooding.clone();
        flood.push(tokio::spawn(async move {
            let mut cuts = Vec::new();
            while flooding.load(std::sync::atomic::Ordering::Relaxed) {
                let (head, trickle) = if i % 2 == 0 {
                    (SLOW_HEADERS, PADDING)
                } else {
                    (STALLED_BODY, &b""[..])
                };
                cuts.push(held_open(port, head, trickle).await);
            }
            cuts
        }));
    }
    let c = client(&f);
    let path = format!("/v1/secret/{}", f.secret);
    let mut latencies = Vec::new();
    let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::time::Instant::now() < until {
        let started = std::time::Instant::now();
        let status = c
            .signed("GET", &path)
            .build()
            .expect("build")
            .send()
            .await
            .expect("send")
            .status;
        latencies.push(started.elapsed());
        assert_eq!(status, 200, "the reader was refused during the flood");
    }
    flooding.store(false, std::sync::atomic::Ordering::Relaxed);
    let mut cuts = Vec::new();
    for task in flood {
        cuts.extend(task.await.expect("flood task"));
    }
    latencies.sort();
    cuts.sort();
    let p = |v: &[std::time::Duration], q: f64| {
        v[((v.len() as f64 * q) as usize).min(v.len() - 1)].as_secs_f64() * 1000.0
    };
    eprintln!(
        "flood: {} slow connections cut (median {:.0} ms, max {:.0} ms); reader: {} reads, \
         p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        cuts.len(),
        p(&cuts, 0.5),
        p(&cuts, 1.0),
        latencies.len(),
        p(&latencies, 0.5),
        p(&latencies, 0.99),
        p(&latencies, 1.0)
    );
    assert!(!cuts.is_empty());
    // After the flood: served as before, through the CLI.
    let out = f.server.machine(&["get", &f.secret]);
    assert!(out.status.success(), "{}", crate::harness::stderr(&out));
}
