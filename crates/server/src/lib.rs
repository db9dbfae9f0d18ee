//! Signet's HTTP server.
//!
//! [`router`] builds the axum router over an [`AppState`], so tests can drive it with `oneshot`;
//! [`run`] serves it on a listener the caller bound (tests bind port 0) until `shutdown`
//! resolves. [`install`] is the composition root: the only place that picks a storage backend.
#![forbid(unsafe_code)]

pub mod audit_device;
pub mod bootstrap;
pub mod config;
pub mod connection;
mod dashboard;
pub mod error;
pub mod extract;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod install;
pub mod issuer_keys;
pub mod listener;
pub mod metrics;
pub mod provision;
mod routes;
pub mod session;
pub mod unseal;
pub mod webhook;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use ipnet::IpNet;
use signet_core::Signet;
use signet_core::audit::ArchiveSettings;
use signet_proto::{CanonicalPath, ProtocolError};

use crate::connection::ConnectionLimits;
use crate::error::{ApiError, ErrorCode};
pub use crate::listener::{Listener, TlsListener};
use crate::session::WebConfig;

/// How often the audit archiver looks for a full segment unless configured
/// (`audit_archive_interval_secs`).
pub const AUDIT_ARCHIVE_EVERY: Duration = Duration::from_secs(3600);

/// Records per archived audit segment unless configured (`audit_archive_segment_records`).
pub const AUDIT_ARCHIVE_SEGMENT_RECORDS: u64 = 1_000_000;

/// How often the trash retention job runs unless configured (`trash_purge_interval_secs`).
pub const TRASH_PURGE_EVERY: Duration = Duration::from_secs(60);
/// How often the alert tailer reads the audit log unless configured (`alert_tail_interval_ms`).
pub const ALERT_TAIL_EVERY: Duration = Duration::from_secs(1);
/// The least time between two runs of the alert tailer (or the interval, if that is shorter).
/// It wakes on every audit append; under load that is every group commit, and each run costs
/// several statements and a read of every new record, as much again as the append itself on
/// PostgreSQL. Appends during the gap are tailed together when it ends, so an alert is enqueued
/// at most this much later.
pub const ALERT_TAIL_GAP: Duration = Duration::from_millis(100);
/// How often the webhook dispatcher looks for due deliveries unless configured
/// (`webhook_dispatch_interval_ms`).
pub const WEBHOOK_DISPATCH_EVERY: Duration = Duration::from_secs(1);

/// How often the lease reaper runs unless configured (`lease_reap_interval_secs`).
pub const LEASE_REAP_EVERY: Duration = Duration::from_secs(5);

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The business layer.
    pub signet: Arc<Signet>,
    /// Peers whose `X-Forwarded-For` is believed. Empty: nobody's.
    pub trusted_proxies: Arc<Vec<IpNet>>,
    /// The dashboard's origin and cookie policy.
    pub web: Arc<WebConfig>,
    /// Timeouts and the connection cap `run` enforces.
    pub limits: ConnectionLimits,
    /// How often `run`'s scheduler looks for due rotations.
    pub rotation_tick: Duration,
    /// How often `run` purges trashed items past the vault's retention.
    pub trash_purge_every: Duration,
    /// How often `run`'s reaper revokes leases past their expiry.
    pub lease_reap_every: Duration,
    /// How often `run`'s alert tailer reads the audit log (it also wakes on
    /// `signet.alerts().wakeup()`).
    pub alert_tail_every: Duration,
    /// How often `run`'s webhook dispatcher looks for due deliveries (it also wakes on
    /// `signet.webhooks().wakeup()`).
    pub webhook_dispatch_every: Duration,
    /// Where the audit log is archived (`signet audit archive` and `run`'s archiver); `None`:
    /// it is not.
    pub audit_archive: Option<Arc<ArchiveSettings>>,
    /// How often `run`'s archiver looks for a full segment.
    pub audit_archive_every: Duration,
    /// The benchmark's ceiling: `Some` only under the hidden `bench_ceiling` setting, and then
    /// `GET /v1/secret/{id}` checks the signature and answers a constant (BENCHMARKS.md).
    pub ceiling: Option<Arc<signet_core::ceiling::Ceiling>>,
    /// What `GET /v1/version` answers: the binary's build, which only the binary knows.
    pub build: Arc<signet_api::health::ServerVersionAnswer>,
    /// Requests counted per route template, for `/metrics` (`crate::metrics`).
    pub routes: Arc<metrics::Routes>,
}

impl AppState {
    /// State for `signet`, whose public URL decides the dashboard's origin and cookies.
    pub fn new(signet: Arc<Signet>, trusted_proxies: Vec<IpNet>) -> Self {
        let web = WebConfig::from_public_url(signet.api_url());
        Self {
            signet,
            trusted_proxies: Arc::new(trusted_proxies),
            web: Arc::new(web),
            limits: ConnectionLimits::default(),
            rotation_tick: DEFAULT_ROTATION_TICK,
            trash_purge_every: TRASH_PURGE_EVERY,
            audit_archive: None,
            audit_archive_every: AUDIT_ARCHIVE_EVERY,
            lease_reap_every: LEASE_REAP_EVERY,
            alert_tail_every: ALERT_TAIL_EVERY,
            webhook_dispatch_every: WEBHOOK_DISPATCH_EVERY,
            ceiling: None,
            build: Arc::new(signet_api::health::ServerVersionAnswer {
                version: env!("CARGO_PKG_VERSION").to_owned(),
                commit: "unknown".to_owned(),
                build_date: "unknown".to_owned(),
            }),
            routes: Arc::default(),
        }
    }

    /// The same state, answering `GET /v1/version` with `build`.
    pub fn with_build(self, build: signet_api::health::ServerVersionAnswer) -> Self {
        Self {
            build: Arc::new(build),
            ..self
        }
    }

    /// The same state serving the benchmark's ceiling instead of secret reads: no store, no
    /// nonce, no decryption, no audit record. For `scripts/bench.sh` only; `signet server`
    /// allows it on loopback alone.
    pub fn with_bench_ceiling(self) -> Self {
        tracing::warn!(
            "BENCHMARK CEILING MODE: GET /v1/secret/{{id}} answers a constant after the signature \
             check; no nonce, no audit, no secret is read. Never run this for real machines."
        );
        Self {
            ceiling: Some(Arc::new(self.signet.auth().ceiling())),
            ..self
        }
    }

    /// The same state, its lease reaper running every `every`.
    pub fn with_lease_reap_every(self, every: Duration) -> Self {
        Self {
            lease_reap_every: every,
            ..self
        }
    }

    /// The same state, tailing the audit log every `tail` and dispatching every `dispatch`.
    pub fn with_alert_intervals(self, tail: Duration, dispatch: Duration) -> Self {
        Self {
            alert_tail_every: tail,
            webhook_dispatch_every: dispatch,
            ..self
        }
    }

    /// The same state, archiving the audit log with `settings` every `every`.
    pub fn with_audit_archive(self, settings: Option<ArchiveSettings>, every: Duration) -> Self {
        Self {
            audit_archive: settings.map(Arc::new),
            audit_archive_every: every,
            ..self
        }
    }

    /// The same state, running the trash retention job every `every`.
    pub fn with_trash_purge_every(self, every: Duration) -> Self {
        Self {
            trash_purge_every: every,
            ..self
        }
    }

    /// The same state, served under `limits`.
    pub fn with_limits(self, limits: ConnectionLimits) -> Self {
        Self { limits, ..self }
    }

    /// The same state, its scheduler looking for due rotations every `tick` (tests shorten it).
    pub fn with_rotation_tick(self, tick: Duration) -> Self {
        Self {
            rotation_tick: tick,
            ..self
        }
    }
}

/// The scheduler's default tick: a rotation runs at most this late, far below the shortest
/// interval (5 minutes).
pub const DEFAULT_ROTATION_TICK: Duration = Duration::from_secs(15);

/// Rejects, before routing, what no API route accepts: HEAD/OPTIONS/TRACE/CONNECT, query strings
/// and non-canonical paths. Doing it here (not in the extractor) means a request the router would
/// not even match, like `/v1//secrets`, still gets a clear 400 rather than a 404.
async fn guard(req: Request<Body>, next: Next) -> Response {
    // No route decodes a compressed body, and serving one as if it were plain would verify or
    // store bytes the client did not mean: refuse any encoding (even `identity`, which a client
    // has no reason to send) before anything reads the body.
    if req.headers().contains_key(header::CONTENT_ENCODING) {
        return ApiError::new(ErrorCode::UnsupportedEncoding).into_response();
    }
    let target = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    if target.starts_with("/v1/") || target == "/v1" {
        if matches!(
            *req.method(),
            Method::HEAD | Method::OPTIONS | Method::TRACE | Method::CONNECT
        ) {
            return ApiError::new(ErrorCode::MethodNotAllowed).into_response();
        }
        // The SSO start and callback are browser navigations whose parameters (the provider's
        // `code` and `state`) come in the query: only their path is held to the canonical form.
        let checked = match target.split_once('?') {
            Some((path, _)) if routes::sso::takes_query(req.method(), path) => path,
            _ => target,
        };
        if let Err(e) = CanonicalPath::parse(checked) {
            let msg = match e {
                ProtocolError::QueryString => "query strings are not accepted on signed routes",
                _ => "request path is not in canonical form",
            };
            return ApiError::malformed(msg).into_response();
        }
    }
    // The access log is `metrics::observe`'s, by route template: a raw path can hold a
    // bootstrap token.
    let mut resp = next.run(req).await;
    // API answers may carry secret values: no cache anywhere may keep them.
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let h = resp.headers_mut();
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    // The dashboard's policy, on every answer: nothing but our own files runs, nothing frames
    // us, and no URL (with ids in it) leaks to another site.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(dashboard::CSP),
    );
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
    resp
}

/// After a handler, writes the records the audit devices lack: the ones audited writes commit
/// with their change (a journal append already wrote its own before answering). A required
/// device that cannot take them turns the answer into the uniform 503, as a failed audit append
/// does; the change itself is committed (the database keeps its record, and the device gets it
/// once it works again).
async fn flush_audit_devices(
    State(state): State<AppState>,
    req: Request<Body>,
    next: Next,
) -> Response {
    let resp = next.run(req).await;
    match state.signet.audit().flush_devices().await {
        Ok(()) => resp,
        Err(_) => ApiError::new(ErrorCode::Unavailable).into_response(),
    }
}

async fn not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound)
}

/// The complete router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(routes::machine::routes(state.ceiling.is_some()))
        .merge(routes::events::routes())
        .merge(routes::admin::routes())
        .merge(routes::user::routes())
        .merge(routes::share::routes())
        .merge(routes::alert::routes())
        .merge(routes::enroll::routes())
        .merge(routes::issuer::routes())
        .merge(routes::sso::routes())
        .merge(routes::auth::routes())
        .merge(routes::passkey::routes())
        .merge(routes::health::routes())
        .merge(routes::openapi::routes())
        .merge(routes::account::routes())
        .merge(routes::agent::routes())
        .merge(routes::ai_agent::routes())
        .merge(routes::keys::routes())
        .merge(dashboard::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(|| async { ApiError::new(ErrorCode::MethodNotAllowed) })
        .layer(middleware::from_fn_with_state(
            state.clone(),
            flush_audit_devices,
        ))
        .layer(middleware::from_fn(guard))
        // Outside the guard, so its refusals are counted and logged too.
        .layer(middleware::from_fn_with_state(
            state.clone(),
            metrics::observe,
        ))
        .with_state(state)
}

/// Serves `state` on `listener` until `shutdown` resolves, then drains in-flight requests, under
/// `state.limits` (header, body and TLS handshake timeouts; a cap on open connections).
/// Also sweeps expired nonces once a minute, rotates due secrets every `state.rotation_tick`
/// (every replica does; each due rotation is claimed by one), purges trashed items past the
/// vault's retention every `state.trash_purge_every` (each item is purged by one), revokes due
/// leases every `state.lease_reap_every` (each by one), counts live sessions and leases for the
/// scrape every 10 s, and writes
/// counted authentication failures as their intervals end and once more before returning.
pub async fn run(
    listener: Listener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let signet = state.signet.clone();
    let sweeper = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            if let Err(e) = signet.sweep().await {
                tracing::warn!(error = %e, "nonce sweep failed; will retry");
            }
        }
    });
    // Authentication failures are counted in memory and written one record per source per
    // interval; this writes the intervals that ended, and the final flush below the rest.
    let signet = state.signet.clone();
    let every = Duration::from_secs(signet.audit().auth_failure_interval_secs().clamp(1, 60) / 4)
        .max(Duration::from_secs(1));
    let flusher = tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            if let Err(e) = signet.audit().flush_auth_failures(false).await {
                tracing::warn!(error = %e, "writing counted authentication failures failed; will retry");
            }
        }
    });
    // Every replica runs the retention job; each purge is a conditional delete carrying its
    // audit record, so an item is purged and recorded by exactly one of them.
    let signet = state.signet.clone();
    let every = state.trash_purge_every;
    let purger = tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match signet.trash().purge_due().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(purged = n, "purged trashed items past retention"),
                Err(e) => tracing::warn!(error = %e, "trash retention job failed; will retry"),
            }
        }
    });
    let signet = state.signet.clone();
    let every = state.rotation_tick.max(Duration::from_millis(10));
    let scheduler = tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match signet.rotation().rotate_due().await {
                Ok(r) if r.rotated + r.lost + r.failed > 0 => tracing::info!(
                    rotated = r.rotated,
                    lost = r.lost,
                    failed = r.failed,
                    "scheduled rotations"
                ),
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "looking for due rotations failed; will retry")
                }
            }
        }
    });
    // Every replica reaps; each due lease is claimed by one, and its revocation and record
    // commit only under that claim (`signet_core::lease`). All state is in the store, so leases
    // that fell due while the server was down are revoked on the first tick.
    let signet = state.signet.clone();
    let every = state.lease_reap_every.max(Duration::from_millis(10));
    let reaper = tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match signet.leases().reap().await {
                Ok(r) if r.revoked + r.failed > 0 => {
                    tracing::info!(revoked = r.revoked, failed = r.failed, "lease reaper")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "looking for due leases failed; will retry"),
            }
        }
    });
    // Every replica tails the audit log; each stretch is committed (and its alerts enqueued)
    // by exactly one of them. The wake-up is the seam the event hub can drive.
    let signet = state.signet.clone();
    let every = state.alert_tail_every.max(Duration::from_millis(10));
    let gap = ALERT_TAIL_GAP.min(every);
    let tailer = tokio::spawn(async move {
        let wake = signet.alerts().wakeup();
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = wake.notified() => {}
            }
            match signet.alerts().tail().await {
                Ok(r) if r.enqueued > 0 => tracing::info!(
                    records = r.records,
                    enqueued = r.enqueued,
                    "alerts enqueued"
                ),
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "reading the audit log for alerts failed; will retry")
                }
            }
            // A wake-up during the gap is kept (`Notify` stores one permit) and served after it.
            tokio::time::sleep(gap).await;
        }
    });
    // Every replica dispatches; each delivery is claimed by one of them at a time.
    let signet = state.signet.clone();
    let every = state.webhook_dispatch_every.max(Duration::from_millis(10));
    let dispatcher = tokio::spawn(async move {
        let wake = signet.webhooks().wakeup();
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = wake.notified() => {}
            }
            match signet.webhooks().dispatch().await {
                Ok(r) if r.delivered + r.retried + r.failed > 0 => tracing::info!(
                    delivered = r.delivered,
                    retried = r.retried,
                    failed = r.failed,
                    "webhook deliveries"
                ),
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "dispatching webhook deliveries failed; will retry")
                }
            }
        }
    });
    // Every replica archives; each segment's checkpoint is recorded once (`prune_audit`), and
    // two replicas closing the same segment write identical files.
    let signet = state.signet.clone();
    let archive = state.audit_archive.clone();
    let every = state.audit_archive_every.max(Duration::from_millis(10));
    let archiver = tokio::spawn(async move {
        let Some(settings) = archive else { return };
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match signet.audit().archive_due(&settings).await {
                Ok(done) if !done.is_empty() => {
                    tracing::info!(segments = done.len(), "audit segments archived")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "archiving the audit log failed; will retry"),
            }
        }
    });
    // Records written outside requests (the archiver, counted authentication failures, other
    // replicas) reach the audit devices within a second.
    let signet = state.signet.clone();
    let device_flusher = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            // A failing device is logged (once a minute) and counted by core.
            let _ = signet.audit().flush_devices().await;
        }
    });
    // The scrape's gauges of live sessions, CLI keys and leases: counted in the store now and
    // every 10 s after, so a scrape reads atomics and never waits on a query. Every replica
    // counts the same whole store.
    let signet = state.signet.clone();
    let live_counter = tokio::spawn(async move {
        let mut tick = tokio::time::interval(signet_core::metrics::LIVE_COUNT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = signet_core::metrics::Metrics::count_live(&signet).await {
                tracing::warn!(error = %e, "counting live sessions and leases failed; will retry");
            }
        }
    });
    let signet = state.signet.clone();
    let limits = state.limits;
    // Event streams never finish by themselves: end them when shutdown begins, so the drain
    // that follows does not wait for them.
    let streams = state.signet.clone();
    let shutdown = async move {
        shutdown.await;
        streams.events().close();
    };
    let result = connection::serve(listener, router(state), limits, shutdown).await;
    sweeper.abort();
    flusher.abort();
    scheduler.abort();
    purger.abort();
    reaper.abort();
    tailer.abort();
    dispatcher.abort();
    archiver.abort();
    device_flusher.abort();
    live_counter.abort();
    // In-flight requests are drained: nothing more can be counted.
    if let Err(e) = signet.audit().flush_auth_failures(true).await {
        tracing::warn!(error = %e, "writing counted authentication failures at shutdown failed");
    }
    if signet.audit().flush_devices().await.is_err() {
        tracing::warn!("a required audit device lacks the last records at shutdown");
    }
    result
}
