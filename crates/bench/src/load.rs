//! What a load run sends and how: the credential each request carries (a fresh Ed25519
//! signature, or a bearer token for a peer such as OpenBao), and the open-loop schedule
//! (`--rate`), which measures latency from when a request was due, not from when a free
//! connection got round to sending it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use signet_proto::{CanonicalPath, Method, Nonce, SecretSeed, SignedHeaders, Timestamp};

use crate::{percentile, unix_now};

/// The credential of every request of a run.
pub enum Auth {
    /// Signet's machine signature: a fresh timestamp and nonce per request.
    Signed {
        machine_id: String,
        seed: SecretSeed,
        method: Method,
        path: CanonicalPath,
    },
    /// A bearer token in `X-Vault-Token` (OpenBao's and Vault's header), the same on every
    /// request: the peer's cheapest way to authenticate a read.
    VaultToken(String),
}

impl Auth {
    /// A GET of `path` carrying this credential.
    pub fn request(&self, path: &str, host: &str) -> Result<Request<Empty<Bytes>>> {
        let req = Request::get(path).header("host", host);
        let req = match self {
            Self::Signed {
                machine_id,
                seed,
                method,
                path: cpath,
            } => {
                let h = SignedHeaders::sign(
                    seed,
                    method,
                    cpath,
                    b"",
                    Timestamp::from_secs(unix_now()),
                    &Nonce::generate(),
                );
                req.header("x-machine-id", machine_id.as_str())
                    .header("x-timestamp", h.timestamp)
                    .header("x-nonce", h.nonce)
                    .header("x-signature", h.signature)
            }
            Self::VaultToken(token) => req.header("x-vault-token", token.as_str()),
        };
        Ok(req.body(Empty::<Bytes>::new())?)
    }
}

/// A keep-alive HTTP/1.1 connection with Nagle off, as every mode of the bench uses.
pub async fn connect(addr: &str) -> Result<SendRequest<Empty<Bytes>>> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .with_context(|| format!("connect {addr}"))?;
    stream.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    Ok(sender)
}

/// The fixed schedule of an open-loop run: request `j` (counted over all connections) is due
/// at `start + j / rate`.
pub struct Schedule {
    pub start: Instant,
    pub interval: Duration,
    pub measure_from: Instant,
    pub until: Instant,
    /// Past this, requests still due are counted as missed instead of sent: a server far
    /// below the rate would otherwise keep the run going for as long again. Missed requests
    /// are reported, and count as slower than every answered one.
    pub give_up: Instant,
    next: AtomicU64,
}

impl Schedule {
    pub fn new(rate: f64, warmup: Duration, duration: Duration) -> Self {
        let start = Instant::now();
        let measure_from = start + warmup;
        let until = measure_from + duration;
        Self {
            start,
            interval: Duration::from_secs_f64(1.0 / rate),
            measure_from,
            until,
            give_up: until + duration.max(Duration::from_secs(2)),
            next: AtomicU64::new(0),
        }
    }

    /// The due time of the next request nobody has taken yet, or `None` once the run is over.
    /// A free connection takes the next due request, so when every connection is busy the
    /// request waits, and that wait is part of its latency.
    fn take(&self) -> Option<Instant> {
        let j = self.next.fetch_add(1, Ordering::Relaxed);
        let due = self.start + self.interval.mul_f64(j as f64);
        (due < self.until).then_some(due)
    }
}

/// What one open-loop connection saw.
#[derive(Default)]
pub struct OpenTally {
    /// From the due time to the end of the answer, µs.
    pub latencies_us: Vec<u32>,
    /// From the due time to the send, µs: the part of the latency spent waiting for a free
    /// connection (or for this generator's own scheduling).
    pub send_lag_us: Vec<u32>,
    pub last_done: Option<Instant>,
    pub non_200: u64,
    pub missed: u64,
}

fn micros(d: Duration) -> u32 {
    d.as_micros().min(u32::MAX as u128) as u32
}

/// Waits until `due` precisely: tokio's timer rounds up to the next millisecond, which would
/// add up to a millisecond to every latency, so the last stretch yields instead of sleeping.
async fn wait_until(due: Instant) {
    let early = Duration::from_millis(2);
    if let Some(far) = due.checked_sub(early)
        && Instant::now() < far
    {
        tokio::time::sleep_until(far.into()).await;
    }
    while Instant::now() < due {
        tokio::task::yield_now().await;
    }
}

/// One connection of an open-loop run: takes due requests off the shared schedule until it
/// runs out.
pub async fn open_connection(
    addr: String,
    host: String,
    auth: Arc<Auth>,
    path: String,
    schedule: Arc<Schedule>,
) -> Result<OpenTally> {
    let mut sender = connect(&addr).await?;
    let mut t = OpenTally::default();
    while let Some(due) = schedule.take() {
        let measured = due >= schedule.measure_from;
        if Instant::now() > schedule.give_up {
            t.missed += u64::from(measured);
            continue;
        }
        // Built (and signed) before the due time, so the client's own signing is not counted
        // as the server's latency unless this connection is already late.
        let req = auth.request(&path, &host)?;
        wait_until(due).await;
        sender.ready().await.context("connection closed")?;
        let sent = Instant::now();
        let resp = sender.send_request(req).await.with_context(|| {
            format!("connection failed after {} requests", t.latencies_us.len())
        })?;
        let ok = resp.status() == 200;
        let _ = resp.into_body().collect().await;
        let done = Instant::now();
        if measured {
            if ok {
                t.latencies_us.push(micros(done - due));
                t.send_lag_us.push(micros(sent - due));
                t.last_done = Some(t.last_done.map_or(done, |d| d.max(done)));
            } else {
                t.non_200 += 1;
            }
        }
    }
    Ok(t)
}

/// Runs an open-loop load at `rate` requests/s over `connections` and prints its report.
pub async fn run_open(
    rate: f64,
    connections: usize,
    warmup: Duration,
    duration: Duration,
    targets: &[(String, String)],
    auth: Arc<Auth>,
    path: &str,
) -> Result<()> {
    if !(rate.is_finite() && rate > 0.0) {
        bail!("--rate must be a positive number of requests per second");
    }
    let schedule = Arc::new(Schedule::new(rate, warmup, duration));
    let mut tasks = Vec::with_capacity(connections);
    for i in 0..connections {
        let (addr, host) = &targets[i % targets.len()];
        tasks.push(tokio::spawn(open_connection(
            addr.clone(),
            host.clone(),
            auth.clone(),
            path.to_owned(),
            schedule.clone(),
        )));
    }
    let (mut lat, mut lag) = (Vec::new(), Vec::new());
    let (mut non_200, mut missed, mut errors) = (0, 0, 0u64);
    let mut last_done = schedule.until;
    for t in tasks {
        match t.await? {
            Ok(tally) => {
                lat.extend(tally.latencies_us);
                lag.extend(tally.send_lag_us);
                non_200 += tally.non_200;
                missed += tally.missed;
                if let Some(d) = tally.last_done {
                    last_done = last_done.max(d);
                }
            }
            Err(e) => {
                eprintln!("signet-bench: {e:#}");
                errors += 1;
            }
        }
    }
    lat.sort_unstable();
    lag.sort_unstable();
    let window = (last_done - schedule.measure_from).as_secs_f64();
    let achieved = lat.len() as f64 / window;
    // A request never sent is slower than any answered one: it counts in the percentiles'
    // denominator, and a percentile that falls among them is unknown (null), not the max.
    let pct = |p: f64| {
        let total = lat.len() as u64 + missed;
        let idx = ((total.saturating_sub(1)) as f64 * p).round() as usize;
        (idx < lat.len()).then(|| f64::from(lat[idx]) / 1000.0)
    };
    let report = serde_json::json!({
        "mode": "open",
        "rate": rate,
        "achieved_per_sec": (achieved * 10.0).round() / 10.0,
        "requests": lat.len(),
        "seconds": duration.as_secs_f64(),
        "connections": connections,
        "servers": targets.len(),
        "p50_ms": pct(0.50),
        "p90_ms": pct(0.90),
        "p99_ms": pct(0.99),
        "p999_ms": pct(0.999),
        "max_ms": if missed > 0 { None } else { pct(1.0) },
        "send_lag_p99_ms": percentile(&lag, 0.99),
        "missed": missed,
        "non_200": non_200,
        "errors": errors,
    });
    println!("{report}");
    // Missing the rate is a result (the server could not keep up), not a failure of the run.
    if non_200 > 0 || errors > 0 {
        bail!("{non_200} non-200 answers and {errors} failed connections");
    }
    Ok(())
}
