//! Streams mode: opens `--streams` signed change-notification streams (`GET /v1/events`), each
//! on its own connection, waits until every one has sent its opening, then holds them idle for
//! `--duration` seconds, reading (and discarding) the keep-alives. Prints one JSON line when all
//! are open (scripts/bench-streams.sh measures the server from then on) and one at the end.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use signet_client::identity;
use signet_proto::{CanonicalPath, Identity, Method, Nonce, SecretSeed, SignedHeaders, Timestamp};

use crate::{Args, unix_now};

/// Opens one stream and holds it until `until`; counts its opening and what ends it.
async fn hold(
    addr: String,
    host: String,
    ident: Identity,
    seed: Arc<SecretSeed>,
    opened: Arc<AtomicU64>,
    until: Instant,
) -> Result<bool> {
    let stream = tokio::net::TcpStream::connect(&addr)
        .await
        .with_context(|| format!("connect {addr}"))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let path = "/v1/events";
    let h = SignedHeaders::sign(
        &seed,
        &Method::parse("GET")?,
        &CanonicalPath::parse(path)?,
        b"",
        Timestamp::from_secs(unix_now()),
        &Nonce::generate(),
    );
    let req = Request::get(path)
        .header("host", host.as_str())
        .header("x-machine-id", ident.machine_id.to_string())
        .header("x-timestamp", h.timestamp)
        .header("x-nonce", h.nonce)
        .header("x-signature", h.signature)
        .body(Empty::<Bytes>::new())?;
    let resp = sender.send_request(req).await?;
    if resp.status() != 200 {
        bail!("stream refused: {}", resp.status());
    }
    let mut body = resp.into_body();
    let mut counted = false;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(true);
        }
        match tokio::time::timeout(left, body.frame()).await {
            Err(_) => return Ok(true),
            Ok(Some(Ok(_))) => {
                if !counted {
                    counted = true;
                    opened.fetch_add(1, Ordering::SeqCst);
                }
            }
            // Ended by the server before the hold was over.
            Ok(_) => return Ok(false),
        }
    }
}

/// Runs the streams mode.
pub async fn run(n: usize, args: &Args) -> Result<()> {
    let creds = identity::load::<Identity>(args.identity()?)?;
    let (ident, seed, _) = creds.into_parts();
    let (addr, rest) = crate::loopback_target(&ident.api_url)?;
    let seed = Arc::new(seed);
    let opened = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    // Generous: the hold starts once all are open, which the loop below waits for.
    let until = start + Duration::from_secs(args.duration + 120);
    let mut tasks = Vec::with_capacity(n);
    for _ in 0..n {
        tasks.push(tokio::spawn(hold(
            addr.clone(),
            rest.clone(),
            ident.clone(),
            seed.clone(),
            opened.clone(),
            until,
        )));
        // A gentle ramp: the server's accept loop and the audit writer see a steady trickle.
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    while (opened.load(Ordering::SeqCst) as usize) < n {
        if start.elapsed() > Duration::from_secs(120) {
            bail!(
                "only {} of {n} streams opened",
                opened.load(Ordering::SeqCst)
            );
        }
        if tasks.iter().any(|t| t.is_finished()) {
            bail!("a stream failed while opening");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let open_secs = start.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({"streams_open": n, "open_secs": (open_secs * 100.0).round() / 100.0})
    );
    tokio::time::sleep(Duration::from_secs(args.duration)).await;
    let still_open = tasks.iter().filter(|t| !t.is_finished()).count();
    for t in &tasks {
        t.abort();
    }
    println!(
        "{}",
        serde_json::json!({"streams": n, "held_secs": args.duration, "still_open": still_open})
    );
    if still_open < n {
        bail!("{} streams ended early", n - still_open);
    }
    Ok(())
}
