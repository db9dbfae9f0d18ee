//! Prometheus metrics and the access log.
//!
//! Every request passes [`observe`], a layer on every route: it counts the request by method,
//! route template and status, times it per route, and writes the access log's `info` line
//! (method, route template, status, principal id, latency; never a value, a token, a signature,
//! a cookie or a query string). The counters are our own atomics, looked up without a lock or an
//! allocation: a route's series are made the first time the route answers ([`Routes`]).
//! Libraries keep theirs the same way (`signet_core::metrics`, `signet_store::metrics`).
//!
//! `/metrics` is served on a listener of its own (`metrics_listen`), never on the API's: the
//! numbers tell an outsider how busy the vault is, which routes fail and when an attack starts,
//! and the API listener faces machines on every network. A separate loopback listener keeps
//! them to the host (or to the scrapers an operator lets reach it with `metrics_allow_remote`),
//! and it needs no credential Prometheus would have to hold: an operator signature would mean
//! an operator key on the monitoring host, able to do everything an operator can.
//!
//! At scrape time the [`Scrape`] collector reads every counter and encodes them with the
//! official client (`prometheus-client`): OpenMetrics text for a scraper that asks for it, the
//! Prometheus text format otherwise.

use std::cell::Cell;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};
use signet_api::route;
use signet_core::Signet;
use signet_core::metrics::{Metrics, ReadOutcome, SignIn};
use signet_proto::{MachineId, OperatorId};
use signet_store::metrics::{Histogram, HistogramSnapshot};

use crate::AppState;
use crate::connection::ConnectionLimits;
use crate::listener::Listener;

/// The access log's target: `SIGNET_LOG=info,signet::access=off` keeps every other `info` line
/// and drops these (a busy server writes one per request).
pub const ACCESS_LOG: &str = "signet::access";

/// The scrape's path on the metrics listener.
pub const PATH: &str = "/metrics";

/// Route templates counted at most; a router with more (it has about 150) counts the rest
/// under `other`.
const ROUTE_SLOTS: usize = 512;

/// The methods counted by name; any other is `other`.
const METHODS: [&str; 8] = [
    "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "other",
];

/// The statuses counted by code; any other is `other`.
const STATUSES: [&str; 26] = [
    "200", "201", "202", "204", "301", "302", "303", "304", "400", "401", "403", "404", "405",
    "409", "410", "413", "415", "422", "423", "429", "500", "501", "502", "503", "504", "other",
];

/// Who a request authenticated as, for the access log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Principal {
    Machine(MachineId),
    Operator(OperatorId),
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Machine(id) => write!(f, "machine:{id}"),
            Self::Operator(id) => write!(f, "operator:{id}"),
        }
    }
}

tokio::task_local! {
    /// The principal of the request [`observe`] is handling on this task, set by the
    /// extractors once it authenticated (a task-local: nothing to allocate per request).
    static PRINCIPAL: Cell<Option<Principal>>;
}

/// Tells the access log who the request being handled authenticated as.
pub(crate) fn note_principal(principal: Principal) {
    // Outside `observe` (a test driving an extractor alone) there is no log line to fill.
    let _ = PRINCIPAL.try_with(|p| p.set(Some(principal)));
}

/// One route template's series.
struct RouteSeries {
    template: Box<str>,
    /// Whether this is the signed secret read, whose outcomes are counted by class too.
    secret_read: bool,
    /// `requests[method * STATUSES.len() + status]`.
    requests: Box<[AtomicU64]>,
    latency: Histogram,
}

impl RouteSeries {
    fn new(template: &str) -> Self {
        Self {
            template: template.into(),
            secret_read: template == route::machine::SECRET,
            requests: (0..METHODS.len() * STATUSES.len())
                .map(|_| AtomicU64::new(0))
                .collect(),
            latency: Histogram::latency(),
        }
    }
}

/// Series per route template, interned the first time a template answers: an open-addressed
/// table of write-once slots, so a lookup is a hash and a comparison, with no lock and no
/// allocation once the route was seen. Templates come from the router (`MatchedPath`), a fixed
/// set, never from the raw path, so no id ever becomes a label.
pub struct Routes {
    slots: Box<[OnceLock<RouteSeries>]>,
    /// Requests the router matched to no route (404s of made-up paths, and the guard's
    /// refusals of them).
    unmatched: RouteSeries,
    /// Templates past the table's size (none with today's router).
    other: RouteSeries,
}

impl Default for Routes {
    fn default() -> Self {
        Self {
            slots: (0..ROUTE_SLOTS).map(|_| OnceLock::new()).collect(),
            unmatched: RouteSeries::new("unmatched"),
            other: RouteSeries::new("other"),
        }
    }
}

impl fmt::Debug for Routes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Routes")
            .field("seen", &self.seen().count())
            .finish()
    }
}

/// FNV-1a: a few bytes of route template, no key to protect (the templates are ours).
fn fnv(text: &str) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    usize::try_from(h % ROUTE_SLOTS as u64).unwrap_or(0)
}

impl Routes {
    fn series(&self, template: Option<&str>) -> &RouteSeries {
        let Some(template) = template else {
            return &self.unmatched;
        };
        let start = fnv(template);
        for step in 0..ROUTE_SLOTS {
            let slot = &self.slots[(start + step) % ROUTE_SLOTS];
            let series = match slot.get() {
                Some(s) => s,
                // The first request of a route makes its series; a racing one waits for it.
                None => slot.get_or_init(|| RouteSeries::new(template)),
            };
            if &*series.template == template {
                return series;
            }
        }
        &self.other
    }

    fn seen(&self) -> impl Iterator<Item = &RouteSeries> {
        self.slots
            .iter()
            .filter_map(OnceLock::get)
            .chain([&self.unmatched, &self.other])
    }
}

fn method_index(m: &Method) -> usize {
    match *m {
        Method::GET => 0,
        Method::POST => 1,
        Method::PUT => 2,
        Method::PATCH => 3,
        Method::DELETE => 4,
        Method::HEAD => 5,
        Method::OPTIONS => 6,
        _ => 7,
    }
}

fn status_index(status: StatusCode) -> usize {
    let code = status.as_str();
    STATUSES
        .iter()
        .position(|s| *s == code)
        .unwrap_or(STATUSES.len() - 1)
}

/// The class of a signed read that never reached core (no principal): refused before
/// authentication finished, or answered by the benchmark's ceiling.
fn unauthenticated_read(status: StatusCode) -> ReadOutcome {
    match status.as_u16() {
        200 => ReadOutcome::Ok,
        401 => ReadOutcome::Auth,
        429 => ReadOutcome::Throttled,
        400..=499 if status != StatusCode::FORBIDDEN => ReadOutcome::Malformed,
        403 => ReadOutcome::Denied,
        _ => ReadOutcome::Error,
    }
}

/// Counts, times and logs every request (the layer on every route; see the module docs).
pub(crate) async fn observe(
    State(state): State<AppState>,
    req: Request<Body>,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = method_index(req.method());
    let series = state.routes.series(
        req.extensions()
            .get::<MatchedPath>()
            .map(MatchedPath::as_str),
    );
    let (resp, principal) = PRINCIPAL
        .scope(Cell::new(None), async move {
            let resp = next.run(req).await;
            (resp, PRINCIPAL.with(Cell::get))
        })
        .await;
    let took = started.elapsed();
    let status = resp.status();
    let at = method * STATUSES.len() + status_index(status);
    if let Some(c) = series.requests.get(at) {
        c.fetch_add(1, Ordering::Relaxed);
    }
    series.latency.observe_duration(took);
    // Past authentication core counts the read (`Reads::read_secret`); before it, this does.
    if series.secret_read && principal.is_none() {
        let (core, _) = Metrics::of(&state.signet);
        core.read(unauthenticated_read(status));
    }
    // The method as counted, like the route: a client may send any token as a method, and a
    // made-up one (any length, any text) is `other` in the log as in the scrape.
    let method = METHODS.get(method).copied().unwrap_or("other");
    // Whole µs as ms, so the line shows 0.327 rather than the float noise of a product.
    #[allow(clippy::cast_precision_loss)]
    let ms = took.as_micros() as f64 / 1000.0;
    match principal {
        Some(p) => tracing::info!(
            target: ACCESS_LOG,
            method,
            route = &*series.template,
            status = status.as_u16(),
            principal = %p,
            ms,
            "request"
        ),
        None => tracing::info!(
            target: ACCESS_LOG,
            method,
            route = &*series.template,
            status = status.as_u16(),
            ms,
            "request"
        ),
    }
    resp
}

/// What a scrape reads: the HTTP series, the business layer's and the store's counters.
struct Scrape {
    routes: Arc<Routes>,
    signet: Arc<Signet>,
}

impl fmt::Debug for Scrape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scrape")
            .field("routes", &self.routes)
            .finish()
    }
}

/// A histogram's buckets as the encoder takes them: per bucket (it sums them), the stored units
/// divided by `per` (µs to seconds: 1e6; a division, so that 100 µs prints as 0.0001), ending
/// with `+Inf`.
// Counts and µs far below 2^52 convert exactly; past that a scrape is off in the last digits.
#[allow(clippy::cast_precision_loss)]
fn buckets(s: &HistogramSnapshot, per: f64) -> Vec<(f64, u64)> {
    s.bounds
        .iter()
        .map(|b| *b as f64 / per)
        .chain([f64::INFINITY])
        .zip(s.buckets.iter().copied())
        .collect()
}

#[allow(clippy::cast_precision_loss)]
fn encode_histogram(
    enc: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    h: &Histogram,
    per: f64,
) -> fmt::Result {
    let s = h.snapshot();
    let mut m = enc.encode_descriptor(name, help, unit, MetricType::Histogram)?;
    m.encode_histogram::<NoLabelSet>(s.sum as f64 / per, s.count, &buckets(&s, per), None)
}

fn encode_gauge(enc: &mut DescriptorEncoder<'_>, name: &str, help: &str, v: u64) -> fmt::Result {
    enc.encode_descriptor(name, help, None, MetricType::Gauge)?
        .encode_gauge(&v)
}

fn encode_counter(enc: &mut DescriptorEncoder<'_>, name: &str, help: &str, v: u64) -> fmt::Result {
    enc.encode_descriptor(name, help, None, MetricType::Counter)?
        .encode_counter::<NoLabelSet, _, u64>(&v, None)
}

/// µs per second.
const MICROS: f64 = 1e6;

impl Collector for Scrape {
    #[allow(clippy::cast_precision_loss)]
    fn encode(&self, mut enc: DescriptorEncoder<'_>) -> fmt::Result {
        {
            let mut m = enc.encode_descriptor(
                "signet_http_requests",
                "HTTP requests answered, by method, route template and status.",
                None,
                MetricType::Counter,
            )?;
            for r in self.routes.seen() {
                for (mi, method) in METHODS.iter().enumerate() {
                    for (si, status) in STATUSES.iter().enumerate() {
                        let v = r
                            .requests
                            .get(mi * STATUSES.len() + si)
                            .map_or(0, |c| c.load(Ordering::Relaxed));
                        if v == 0 {
                            continue;
                        }
                        let labels = [
                            ("method", *method),
                            ("route", &*r.template),
                            ("status", *status),
                        ];
                        m.encode_family(&labels)?
                            .encode_counter::<NoLabelSet, _, u64>(&v, None)?;
                    }
                }
            }
        }
        {
            let mut m = enc.encode_descriptor(
                "signet_http_request_duration",
                "Time from a request's arrival to its answer's headers, by route template.",
                Some(&Unit::Seconds),
                MetricType::Histogram,
            )?;
            for r in self.routes.seen() {
                let s = r.latency.snapshot();
                if s.count == 0 {
                    continue;
                }
                let labels = [("route", &*r.template)];
                m.encode_family(&labels)?.encode_histogram::<NoLabelSet>(
                    s.sum as f64 / MICROS,
                    s.count,
                    &buckets(&s, MICROS),
                    None,
                )?;
            }
        }
        let (core, store) = Metrics::of(&self.signet);
        {
            let mut m = enc.encode_descriptor(
                "signet_secret_reads",
                "Signed secret reads (GET /v1/secret/{id}) by outcome class.",
                None,
                MetricType::Counter,
            )?;
            for o in ReadOutcome::ALL {
                let labels = [("outcome", o.as_str())];
                m.encode_family(&labels)?
                    .encode_counter::<NoLabelSet, _, u64>(&core.reads(o), None)?;
            }
        }
        encode_histogram(
            &mut enc,
            "signet_audit_append_duration",
            "Time for the audit journal to make records durable (a read's value waits for it).",
            Some(&Unit::Seconds),
            &core.audit_append,
            MICROS,
        )?;
        {
            let mut m = enc.encode_descriptor(
                "signet_sign_ins",
                "People signed in: browser sessions opened, CLI keys registered.",
                None,
                MetricType::Counter,
            )?;
            for k in SignIn::ALL {
                let labels = [("kind", k.as_str())];
                m.encode_family(&labels)?
                    .encode_counter::<NoLabelSet, _, u64>(&core.sign_ins(k), None)?;
            }
        }
        {
            let mut m = enc.encode_descriptor(
                "signet_audit_device_failures",
                "Failed writes to an audit device, by device name (a required device's failure \
                 also failed its request).",
                None,
                MetricType::Counter,
            )?;
            for (name, n) in self.signet.audit().device_failures() {
                let labels = [("device", name.as_str())];
                m.encode_family(&labels)?
                    .encode_counter::<NoLabelSet, _, u64>(&n, None)?;
            }
        }
        encode_counter(
            &mut enc,
            "signet_leases_created",
            "Leased database credentials minted by this process.",
            core.leases_created(),
        )?;
        encode_counter(
            &mut enc,
            "signet_leases_revoked",
            "Leased database credentials revoked by this process.",
            core.leases_revoked(),
        )?;
        // Absent until the first count (made as the server starts): a zero before it would be a
        // guess.
        if let Some((live, _)) = core.live() {
            {
                let mut m = enc.encode_descriptor(
                    "signet_sessions_active",
                    "People signed in now, in the whole store (every replica's): browser sessions \
                     neither ended, expired nor idle, and CLI keys neither disabled nor expired. \
                     Counted every 10 s.",
                    None,
                    MetricType::Gauge,
                )?;
                for (kind, n) in [("browser", live.browser_sessions), ("cli", live.cli_keys)] {
                    let labels = [("kind", kind)];
                    m.encode_family(&labels)?.encode_gauge(&n)?;
                }
            }
            encode_gauge(
                &mut enc,
                "signet_leases_active",
                "Leased database credentials active and unexpired now, in the whole store (every \
                 replica's). Counted every 10 s.",
                live.leases,
            )?;
        }
        encode_gauge(
            &mut enc,
            "signet_event_streams_open",
            "Change-notification streams (GET /v1/events) open in this process.",
            u64::try_from(self.signet.events().open_streams()).unwrap_or(u64::MAX),
        )?;
        {
            let mut m = enc.encode_descriptor(
                "signet_store_backend",
                "The storage backend (always 1; the label names it).",
                None,
                MetricType::Gauge,
            )?;
            let labels = [("backend", store.backend())];
            m.encode_family(&labels)?.encode_gauge(&1u64)?;
        }
        let sm = store.metrics();
        encode_histogram(
            &mut enc,
            "signet_store_group_commit_size",
            "Pieces of work committed per group commit (SQLite writer, PostgreSQL audit journal).",
            None,
            &sm.commit_batch,
            1.0,
        )?;
        encode_histogram(
            &mut enc,
            "signet_store_commit_duration",
            "Time per group commit, fsync included.",
            Some(&Unit::Seconds),
            &sm.commit_micros,
            MICROS,
        )?;
        encode_histogram(
            &mut enc,
            "signet_store_fsync_duration",
            "Time of the durable step of each group commit: SQLite's COMMIT (WAL write and fsync); PostgreSQL's journal write, whose commit waits for the WAL flush.",
            Some(&Unit::Seconds),
            &sm.sync_micros,
            MICROS,
        )?;
        encode_histogram(
            &mut enc,
            "signet_store_checkpoint_duration",
            "Time per SQLite WAL checkpoint (none on PostgreSQL).",
            Some(&Unit::Seconds),
            &sm.checkpoint_micros,
            MICROS,
        )?;
        let pool = store.pool_use();
        encode_gauge(
            &mut enc,
            "signet_store_pool_connections",
            "Database connections the read pool holds open.",
            pool.open,
        )?;
        encode_gauge(
            &mut enc,
            "signet_store_pool_busy_connections",
            "Database connections running a statement now.",
            pool.busy,
        )?;
        if let Some(n) = store.nonces_held() {
            encode_gauge(
                &mut enc,
                "signet_nonces_held",
                "Request nonces held for replay checks (SQLite: in memory; PostgreSQL: the shared \
                 table's rows at the last sweep plus this process's inserts since).",
                n,
            )?;
        }
        Ok(())
    }
}

/// The metrics listener's router: `GET /metrics` and nothing else.
pub fn router(state: &AppState) -> Router {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Scrape {
        routes: Arc::clone(&state.routes),
        signet: Arc::clone(&state.signet),
    }));
    let registry = Arc::new(registry);
    Router::new()
        .route(PATH, get(scrape))
        .fallback(|| async { StatusCode::NOT_FOUND })
        .with_state(registry)
}

/// OpenMetrics for a scraper that asks for it (Prometheus does, first), the Prometheus text
/// format (0.0.4) otherwise: the same series, spelled as each format wants (a counter's
/// family is `x` in one and `x_total` in the other).
async fn scrape(State(registry): State<Arc<Registry>>, headers: HeaderMap) -> Response {
    let openmetrics = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/openmetrics-text"));
    let mut text = String::with_capacity(16 * 1024);
    let (encoded, content_type) = if openmetrics {
        (
            prometheus_client::encoding::text::encode(&mut text, &registry),
            OPENMETRICS,
        )
    } else {
        (
            prometheus_client::encoding::prometheus_text::encode(&mut text, &registry),
            prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
        )
    };
    if encoded.is_err() {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    let mut resp = text.into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

/// The OpenMetrics text format's `Content-Type`.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Serves `/metrics` for `state` on `listener` (plain HTTP, under the API's connection limits)
/// until `shutdown` resolves.
pub async fn serve(
    listener: Listener,
    state: &AppState,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    crate::connection::serve(listener, router(state), limits, shutdown).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_template_gets_one_series_and_unmatched_requests_their_own() {
        let routes = Routes::default();
        let a = routes.series(Some("/v1/secret/{id}")) as *const RouteSeries;
        let b = routes.series(Some("/v1/secrets")) as *const RouteSeries;
        assert_ne!(a, b);
        assert_eq!(a, routes.series(Some("/v1/secret/{id}")) as *const _);
        assert!(routes.series(Some("/v1/secret/{id}")).secret_read);
        assert_eq!(&*routes.series(None).template, "unmatched");
        assert_eq!(routes.seen().count(), 4);
    }

    #[test]
    fn a_full_table_counts_the_rest_as_other() {
        let routes = Routes::default();
        for i in 0..ROUTE_SLOTS {
            routes.series(Some(&format!("/r/{i}")));
        }
        assert_eq!(&*routes.series(Some("/one/more")).template, "other");
        assert_eq!(&*routes.series(Some("/r/7")).template, "/r/7");
    }

    #[test]
    fn statuses_and_methods_outside_the_lists_are_other() {
        assert_eq!(STATUSES[status_index(StatusCode::IM_A_TEAPOT)], "other");
        assert_eq!(STATUSES[status_index(StatusCode::FORBIDDEN)], "403");
        assert_eq!(METHODS[method_index(&Method::OPTIONS)], "OPTIONS");
        assert_eq!(METHODS[method_index(&Method::TRACE)], "other");
        let made_up = Method::from_bytes(b"XSECRETLOOKINGTOKEN").unwrap();
        assert_eq!(METHODS[method_index(&made_up)], "other");
    }

    #[test]
    fn reads_refused_before_core_fall_in_their_class() {
        assert_eq!(
            unauthenticated_read(StatusCode::UNAUTHORIZED),
            ReadOutcome::Auth
        );
        assert_eq!(
            unauthenticated_read(StatusCode::TOO_MANY_REQUESTS),
            ReadOutcome::Throttled
        );
        assert_eq!(
            unauthenticated_read(StatusCode::PAYLOAD_TOO_LARGE),
            ReadOutcome::Malformed
        );
        assert_eq!(
            unauthenticated_read(StatusCode::SERVICE_UNAVAILABLE),
            ReadOutcome::Error
        );
    }
}
