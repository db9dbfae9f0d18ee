//! `signet-bench`: drives signed `GET /v1/secret/{id}` reads against a running server.
//!
//! Every request is signed afresh (new timestamp and nonce), exactly as an SDK would, over
//! keep-alive HTTP/1.1 connections, one request in flight per connection. It reports reads/s and
//! latency percentiles as one JSON object, so BENCHMARKS.md can quote it verbatim.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use signet_client::identity;
use signet_proto::{CanonicalPath, Identity, Method, Nonce, SecretSeed, SignedHeaders, Timestamp};

/// Command-line flags.
#[derive(Debug, Parser)]
#[command(
    name = "signet-bench",
    about = "Load generator for signed secret reads"
)]
struct Args {
    /// The machine's identity.json.
    #[arg(long)]
    identity: PathBuf,
    /// The secret to read (unused by `--streams`).
    #[arg(long, default_value = "")]
    secret: String,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Seconds of measured load.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Seconds of unmeasured warm-up first.
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    /// Base URLs to spread the connections over, round robin (replicas of one vault; a
    /// signature does not cover the host). Default: the identity's server.
    #[arg(long = "url")]
    urls: Vec<String>,
    /// Instead of a throughput run: one signed reader reads while this flood runs
    /// (`docs`: BENCHMARKS.md, scripts/bench/floods.sh).
    #[arg(long, value_enum)]
    flood: Option<flood::Kind>,
    /// Junk requests in a `junk` flood.
    #[arg(long, default_value_t = 10_000)]
    junk: u64,
    /// Concurrent connections of the flood (junk senders, or slow clients).
    #[arg(long, default_value_t = 16)]
    flood_connections: usize,
    /// Concurrent sign-ins in a `login` flood, each on its own connection and forwarded address.
    #[arg(long, default_value_t = 500)]
    sign_ins: u64,
    /// A real account's login name for a `login` flood: every fifth sign-in uses it (with
    /// `--password`), the rest guess wrong for unknown names.
    #[arg(long, default_value = "owner")]
    login: String,
    /// The password of `--login`, read from this environment variable so it stays off the
    /// command line.
    #[arg(long, default_value = "SIGNET_BENCH_PASSWORD")]
    password_env: String,
    /// Instead of a throughput run: open this many idle change-notification streams and hold
    /// them for `--duration` seconds (scripts/bench-streams.sh).
    #[arg(long)]
    streams: Option<usize>,
}

mod flood;
mod streams;

/// What one connection saw.
#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    errors: u64,
    non_200: u64,
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

async fn connection(
    addr: String,
    host: String,
    ident: Identity,
    seed: std::sync::Arc<SecretSeed>,
    path: String,
    measure_from: Instant,
    until: Instant,
) -> Result<Tally> {
    let stream = tokio::net::TcpStream::connect(&addr)
        .await
        .with_context(|| format!("connect {addr}"))?;
    stream.set_nodelay(true)?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let method = Method::parse("GET")?;
    let cpath = CanonicalPath::parse(&path)?;
    let machine_id = ident.machine_id.to_string();
    let mut t = Tally::default();
    loop {
        let now = Instant::now();
        if now >= until {
            return Ok(t);
        }
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
        match sender.send_request(req).await {
            Ok(resp) => {
                let ok = resp.status() == 200;
                let _ = resp.into_body().collect().await;
                if sent >= measure_from {
                    if ok {
                        t.latencies_us
                            .push(sent.elapsed().as_micros().min(u32::MAX as u128) as u32);
                    } else {
                        t.non_200 += 1;
                    }
                }
            }
            Err(_) => {
                t.errors += 1;
                bail!("connection failed after {} requests", t.latencies_us.len());
            }
        }
    }
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)] as f64 / 1000.0
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let args = Args::parse();
    if let Some(kind) = args.flood {
        return flood::run(kind, &args).await;
    }
    if let Some(n) = args.streams {
        return streams::run(n, &args).await;
    }
    let creds = identity::load::<Identity>(&args.identity)?;
    let (ident, seed, _) = creds.into_parts();
    let urls = if args.urls.is_empty() {
        vec![ident.api_url.clone()]
    } else {
        args.urls.clone()
    };
    let mut targets = Vec::new();
    for url in &urls {
        let rest = url
            .strip_prefix("http://")
            .context("signet-bench speaks plain HTTP to a loopback server")?;
        targets.push((rest.replacen("localhost", "127.0.0.1", 1), rest.to_owned()));
    }
    let path = format!("/v1/secret/{}", args.secret);
    let seed = std::sync::Arc::new(seed);
    let start = Instant::now();
    let measure_from = start + Duration::from_secs(args.warmup);
    let until = measure_from + Duration::from_secs(args.duration);
    let mut tasks = Vec::new();
    for i in 0..args.connections {
        let (addr, host) = &targets[i % targets.len()];
        tasks.push(tokio::spawn(connection(
            addr.clone(),
            host.clone(),
            ident.clone(),
            seed.clone(),
            path.clone(),
            measure_from,
            until,
        )));
    }
    let mut all = Vec::new();
    let (mut errors, mut non_200) = (0, 0);
    for t in tasks {
        let tally = t.await??;
        all.extend(tally.latencies_us);
        errors += tally.errors;
        non_200 += tally.non_200;
    }
    all.sort_unstable();
    let reads_per_sec = all.len() as f64 / args.duration as f64;
    let report = serde_json::json!({
        "reads": all.len(),
        "seconds": args.duration,
        "connections": args.connections,
        "servers": targets.len(),
        "reads_per_sec": (reads_per_sec * 10.0).round() / 10.0,
        "p50_ms": percentile(&all, 0.50),
        "p90_ms": percentile(&all, 0.90),
        "p99_ms": percentile(&all, 0.99),
        "max_ms": percentile(&all, 1.0),
        "non_200": non_200,
        "errors": errors,
    });
    println!("{report}");
    if non_200 > 0 || errors > 0 {
        bail!("{non_200} non-200 answers and {errors} errors");
    }
    Ok(())
}
