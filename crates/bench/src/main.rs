//! `signet-bench`: drives signed `GET /v1/secret/{id}` reads against a running server.
//!
//! Every request is signed afresh (new timestamp and nonce), exactly as an SDK would, over
//! keep-alive HTTP/1.1 connections, one request in flight per connection. It reports reads/s and
//! latency percentiles as one JSON object, so BENCHMARKS.md can quote it verbatim.
//!
//! The same connections can instead carry a bearer-token KV v2 read (`--vault-path`), so a peer
//! such as OpenBao is measured by the same client, and can run open loop (`--rate`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use http_body_util::BodyExt;
use signet_client::identity;
use signet_proto::{CanonicalPath, Identity, Method};

use crate::load::Auth;

/// Command-line flags.
#[derive(Debug, Parser)]
#[command(
    name = "signet-bench",
    about = "Load generator for signed secret reads"
)]
struct Args {
    /// The machine's identity.json (every mode but `--vault-path`).
    #[arg(long, required_unless_present = "vault_path")]
    identity: Option<PathBuf>,
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
    /// Instead of signed reads: GET this path with the token of `--vault-token-env` in
    /// `X-Vault-Token`, a KV v2 read on OpenBao (scripts/bench-peer.sh). Needs `--url`.
    #[arg(long, requires = "vault_token_env")]
    vault_path: Option<String>,
    /// The environment variable holding the token of `--vault-path`.
    #[arg(long)]
    vault_token_env: Option<String>,
    /// Open loop: this many requests/s in total on a fixed schedule, latency measured from each
    /// request's due time (scripts/bench-latency.sh). Without it, each connection sends its
    /// next request as soon as the last is answered.
    #[arg(long)]
    rate: Option<f64>,
}

impl Args {
    fn identity(&self) -> Result<&std::path::Path> {
        self.identity
            .as_deref()
            .context("--identity is needed for signed requests")
    }
}

mod flood;
mod load;
mod streams;

/// Where a plain-HTTP loopback server URL connects and what it sends as `Host`, read by the
/// workspace's one URL parser (`signet_proto::web_url`): `(address, host)`, `localhost` dialled
/// as `127.0.0.1`.
fn loopback_target(url: &str) -> Result<(String, String)> {
    let parsed = signet_proto::web_url::WebUrl::parse_server(url)
        .map_err(|e| anyhow::anyhow!("{url:?}: the server URL {e}"))?;
    if parsed.is_https() || !parsed.is_loopback() {
        bail!("signet-bench speaks plain HTTP to a loopback server, not {url}");
    }
    let host = parsed.authority();
    let addr = match parsed.host_str() {
        "localhost" => format!("127.0.0.1:{}", parsed.port()),
        ip => format!("{ip}:{}", parsed.port()),
    };
    Ok((addr, host))
}

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
    auth: Arc<Auth>,
    path: String,
    measure_from: Instant,
    until: Instant,
) -> Result<Tally> {
    let mut sender = load::connect(&addr).await?;
    let mut t = Tally::default();
    loop {
        let now = Instant::now();
        if now >= until {
            return Ok(t);
        }
        let req = auth.request(&path, &host)?;
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
    let (auth, path, urls) = if let Some(vault_path) = &args.vault_path {
        let var = args.vault_token_env.as_deref().unwrap_or_default();
        let token = std::env::var(var).with_context(|| format!("${var} (--vault-token-env)"))?;
        if args.urls.is_empty() {
            bail!("--vault-path needs --url");
        }
        (
            Auth::VaultToken(token),
            vault_path.clone(),
            args.urls.clone(),
        )
    } else {
        let creds = identity::load::<Identity>(args.identity()?)?;
        let (ident, seed, _) = creds.into_parts();
        let urls = if args.urls.is_empty() {
            vec![ident.api_url.clone()]
        } else {
            args.urls.clone()
        };
        let path = format!("/v1/secret/{}", args.secret);
        let auth = Auth::Signed {
            machine_id: ident.machine_id.to_string(),
            seed,
            method: Method::parse("GET")?,
            path: CanonicalPath::parse(&path)?,
        };
        (auth, path, urls)
    };
    let auth = Arc::new(auth);
    let mut targets = Vec::new();
    for url in &urls {
        targets.push(loopback_target(url)?);
    }
    if let Some(rate) = args.rate {
        return load::run_open(
            rate,
            args.connections,
            Duration::from_secs(args.warmup),
            Duration::from_secs(args.duration),
            &targets,
            auth,
            &path,
        )
        .await;
    }
    let start = Instant::now();
    let measure_from = start + Duration::from_secs(args.warmup);
    let until = measure_from + Duration::from_secs(args.duration);
    let mut tasks = Vec::new();
    for i in 0..args.connections {
        let (addr, host) = &targets[i % targets.len()];
        tasks.push(tokio::spawn(connection(
            addr.clone(),
            host.clone(),
            auth.clone(),
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
