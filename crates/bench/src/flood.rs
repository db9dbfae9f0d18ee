//! Flood mode: one signed reader reads a secret while junk requests or slow clients hammer the
//! server; reports the reader's latency and what the flood got, as one JSON object.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use signet_client::identity;
use signet_proto::{CanonicalPath, Identity, Method, Nonce, SecretSeed, SignedHeaders, Timestamp};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{Args, percentile, unix_now};

/// What floods the server.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Kind {
    /// `--junk` signed requests with bad signatures, unknown machine ids and unreadable headers,
    /// from four forwarded sources.
    Junk,
    /// `--flood-connections` clients that send headers a byte at a time or declare a body and
    /// stall, reconnecting when cut, for `--duration` seconds.
    Slow,
    /// `--sign-ins` concurrent password sign-ins (`POST /v1/auth/cli-login`), each from its own
    /// forwarded address so no per-source limit absorbs them: what bounds memory is the
    /// password-hash queue.
    Login,
}

/// Forwarded sources of the junk (the server must trust 127.0.0.1 as a proxy).
const SOURCES: [&str; 4] = [
    "203.0.113.1",
    "203.0.113.2",
    "198.51.100.7",
    "2001:db8:7::1",
];

async fn connect(addr: &str) -> Result<SendRequest<Empty<Bytes>>> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .with_context(|| format!("connect {addr}"))?;
    stream.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    Ok(sender)
}

/// Reads until `stop` is set; returns latencies (µs) and non-200 answers.
async fn reader(
    addr: String,
    host: String,
    ident: Identity,
    seed: Arc<SecretSeed>,
    path: String,
    stop: Arc<AtomicBool>,
) -> Result<(Vec<u32>, u64)> {
    let mut sender = connect(&addr).await?;
    let method = Method::parse("GET")?;
    let cpath = CanonicalPath::parse(&path)?;
    let machine_id = ident.machine_id.to_string();
    let (mut latencies, mut non_200) = (Vec::new(), 0);
    while !stop.load(Ordering::Relaxed) {
        let h = SignedHeaders::sign(
            &seed,
            &method,
            &cpath,
            b"",
            Timestamp::from_secs(unix_now()),
            &Nonce::generate(),
        );
        let req = Request::get(path.as_str())
            .header("host", host.as_str())
            .header("x-machine-id", machine_id.as_str())
            .header("x-timestamp", h.timestamp)
            .header("x-nonce", h.nonce)
            .header("x-signature", h.signature)
            .body(Empty::<Bytes>::new())?;
        let sent = Instant::now();
        let resp = sender.send_request(req).await?;
        let ok = resp.status() == 200;
        let _ = resp.into_body().collect().await;
        if ok {
            latencies.push(sent.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
        } else {
            non_200 += 1;
        }
    }
    Ok((latencies, non_200))
}

/// Sends junk request numbers from `next` until `total`; counts answers by status.
async fn junk(
    addr: String,
    host: String,
    machine: String,
    next: Arc<AtomicU64>,
    total: u64,
    statuses: Arc<[AtomicU64; 4]>,
) -> Result<()> {
    let mut sender = connect(&addr).await?;
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= total {
            return Ok(());
        }
        let unknown = format!("00000000-0000-4000-8000-{i:012}");
        let now = unix_now().to_string();
        let sig = "A".repeat(86) + "==";
        let (id, ts, sig) = match i % 3 {
            0 => (machine.as_str(), now.as_str(), sig.as_str()),
            1 => (unknown.as_str(), now.as_str(), sig.as_str()),
            _ => (machine.as_str(), "yesterday", "not base64!"),
        };
        let req = Request::post("/v1/secrets/list")
            .header("host", host.as_str())
            .header("x-forwarded-for", SOURCES[(i % 4) as usize])
            .header("x-machine-id", id)
            .header("x-timestamp", ts)
            .header("x-nonce", format!("{i:032x}"))
            .header("x-signature", sig)
            .header("content-length", "0")
            .body(Empty::<Bytes>::new())?;
        if sender.ready().await.is_err() {
            sender = connect(&addr).await?;
        }
        let resp = match sender.send_request(req).await {
            Ok(r) => r,
            Err(_) => {
                sender = connect(&addr).await?;
                continue;
            }
        };
        let slot = match resp.status().as_u16() {
            401 => 0,
            429 => 1,
            200 => 2,
            _ => 3,
        };
        statuses[slot].fetch_add(1, Ordering::Relaxed);
        let _ = resp.into_body().collect().await;
    }
}

/// One sign-in on its own connection; the status it got.
async fn sign_in(
    addr: String,
    host: String,
    n: u64,
    login: String,
    password: String,
) -> Result<u16> {
    let stream = tokio::net::TcpStream::connect(&addr)
        .await
        .with_context(|| format!("connect {addr}"))?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake::<_, http_body_util::Full<Bytes>>(TokioIo::new(
            stream,
        ))
        .await?;
    tokio::spawn(conn);
    let body = serde_json::json!({
        "login": login,
        "password": password,
        "publicKey": SecretSeed::generate().public_key().to_base64(),
    })
    .to_string();
    let req = Request::post("/v1/auth/cli-login")
        .header("host", host.as_str())
        .header("content-type", "application/json")
        .header(
            "x-forwarded-for",
            format!("10.{}.{}.{}", n / 62_500, n / 250 % 250, n % 250 + 1),
        )
        .body(http_body_util::Full::new(Bytes::from(body)))?;
    let resp = sender.send_request(req).await?;
    let status = resp.status().as_u16();
    let _ = resp.into_body().collect().await;
    Ok(status)
}

const SLOW_HEADERS: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n";
const STALLED_BODY: &[u8] = b"POST /v1/enroll/bootstrap HTTP/1.1\r\nHost: localhost\r\n\
Content-Type: application/json\r\nContent-Length: 4096\r\n\r\n{\"token\":";

/// Holds connections open as slowly as the server allows until `stop`; returns how many were
/// cut by the server.
async fn slow(addr: String, stalls: bool, stop: Arc<AtomicBool>) -> Result<u64> {
    let mut cuts = 0;
    while !stop.load(Ordering::Relaxed) {
        let Ok(mut s) = tokio::net::TcpStream::connect(&addr).await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let head = if stalls { STALLED_BODY } else { SLOW_HEADERS };
        if s.write_all(head).await.is_err() {
            cuts += 1;
            continue;
        }
        let mut buf = [0u8; 512];
        loop {
            if stop.load(Ordering::Relaxed) {
                return Ok(cuts);
            }
            if !stalls && s.write_all(b"X").await.is_err() {
                break;
            }
            let read = tokio::time::timeout(Duration::from_millis(500), s.read(&mut buf)).await;
            // Closed (or failed) by the server: that is the cut being measured.
            if let Ok(Ok(0) | Err(_)) = read {
                break;
            }
        }
        cuts += 1;
    }
    Ok(cuts)
}

/// Runs one flood with a reader beside it and prints the report.
pub async fn run(kind: Kind, args: &Args) -> Result<()> {
    let creds = identity::load::<Identity>(args.identity()?)?;
    let (ident, seed, _) = creds.into_parts();
    let url = args.urls.first().cloned().unwrap_or(ident.api_url.clone());
    let (addr, host) = crate::loopback_target(&url)?;
    let stop = Arc::new(AtomicBool::new(false));
    let reading = tokio::spawn(reader(
        addr.clone(),
        host.clone(),
        ident.clone(),
        Arc::new(seed),
        format!("/v1/secret/{}", args.secret),
        stop.clone(),
    ));
    let started = Instant::now();
    let statuses: Arc<[AtomicU64; 4]> = Arc::new(Default::default());
    let mut cuts = 0;
    match kind {
        Kind::Junk => {
            let next = Arc::new(AtomicU64::new(0));
            let mut tasks = Vec::new();
            for _ in 0..args.flood_connections {
                tasks.push(tokio::spawn(junk(
                    addr.clone(),
                    host.clone(),
                    ident.machine_id.to_string(),
                    next.clone(),
                    args.junk,
                    statuses.clone(),
                )));
            }
            for t in tasks {
                t.await??;
            }
        }
        Kind::Slow => {
            let mut tasks = Vec::new();
            for i in 0..args.flood_connections {
                tasks.push(tokio::spawn(slow(addr.clone(), i % 2 == 1, stop.clone())));
            }
            tokio::time::sleep(Duration::from_secs(args.duration)).await;
            stop.store(true, Ordering::Relaxed);
            for t in tasks {
                cuts += t.await??;
            }
        }
        Kind::Login => {
            let password = std::env::var(&args.password_env)
                .with_context(|| format!("the password of --login in ${}", args.password_env))?;
            let mut tasks = Vec::new();
            for n in 0..args.sign_ins {
                let (login, password) = if n % 5 == 0 {
                    (args.login.clone(), password.clone())
                } else {
                    (format!("nobody{n}"), format!("wrong guess number {n}"))
                };
                tasks.push(tokio::spawn(sign_in(
                    addr.clone(),
                    host.clone(),
                    n,
                    login,
                    password,
                )));
            }
            for t in tasks {
                let slot = match t.await?? {
                    401 => 0,
                    429 => 1,
                    200 => 2,
                    _ => 3,
                };
                statuses[slot].fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    let flood_secs = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let (mut latencies, non_200) = reading.await??;
    latencies.sort_unstable();
    let s = |i: usize| statuses[i].load(Ordering::Relaxed);
    let report = serde_json::json!({
        "flood": format!("{kind:?}").to_lowercase(),
        "flood_seconds": (flood_secs * 100.0).round() / 100.0,
        "junk_401": s(0),
        "junk_429": s(1),
        "junk_200": s(2),
        "junk_other": s(3),
        "slow_connections_cut": cuts,
        "reads": latencies.len(),
        "reader_p50_ms": percentile(&latencies, 0.50),
        "reader_p99_ms": percentile(&latencies, 0.99),
        "reader_max_ms": percentile(&latencies, 1.0),
        "reader_non_200": non_200,
    });
    println!("{report}");
    // A right password is a 200 (the second factor comes next); junk never is.
    let refused_200 = if matches!(kind, Kind::Login) { 0 } else { s(2) };
    if non_200 > 0 || refused_200 > 0 || s(3) > 0 {
        bail!(
            "the reader got {non_200} non-200 answers; junk got {} x 200, {} other",
            s(2),
            s(3)
        );
    }
    Ok(())
}
