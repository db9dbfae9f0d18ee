//! The dashboard's static files, compiled into the binary: no CDN, no files on disk to swap.
//!
//! The dashboard is a page of plain ES modules that talks to the public admin API, like the
//! CLI does; nothing here is an endpoint of its own.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::AppState;
use crate::error::{ApiError, ErrorCode};

/// The Content-Security-Policy sent with every answer: only our own scripts, styles and
/// connections; no inline script or style, no plugins, no framing, no `<base>` tricks.
pub(crate) const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; font-src 'self'; manifest-src 'self'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Every file under `/assets/`: name, content type, bytes.
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("../assets/app.css"),
    ),
    (
        "icon.svg",
        "image/svg+xml",
        include_bytes!("../assets/icon.svg"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/app.js"),
    ),
    (
        "api.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/api.js"),
    ),
    (
        "page.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/page.js"),
    ),
    (
        "auth.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/auth.js"),
    ),
    (
        "overview.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/overview.js"),
    ),
    (
        "projects.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/projects.js"),
    ),
    (
        "secrets.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/secrets.js"),
    ),
    (
        "policies.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/policies.js"),
    ),
    (
        "machines.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/machines.js"),
    ),
    (
        "tokens.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/tokens.js"),
    ),
    (
        "allowlist.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/allowlist.js"),
    ),
    (
        "audit.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/audit.js"),
    ),
    (
        "users.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/users.js"),
    ),
    (
        "account.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/account.js"),
    ),
    (
        "share.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/share.js"),
    ),
    (
        "trash.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/trash.js"),
    ),
    (
        "leases.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/leases.js"),
    ),
    (
        "alerts.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/alerts.js"),
    ),
    (
        "sso.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/sso.js"),
    ),
    (
        "issuers.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/issuers.js"),
    ),
    (
        "agents.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/agents.js"),
    ),
    (
        "keys.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/keys.js"),
    ),
    (
        "connections.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/connections.js"),
    ),
    (
        "budgets.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/budgets.js"),
    ),
    (
        "enrollment.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/enrollment.js"),
    ),
];

const INDEX: &[u8] = include_bytes!("../assets/index.html");

/// Dashboard routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/assets/{name}", get(asset))
}

async fn index() -> Response {
    file("text/html; charset=utf-8", INDEX)
}

async fn asset(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, content_type, bytes)) => file(content_type, bytes),
        None => ApiError::new(ErrorCode::NotFound).into_response(),
    }
}

fn file(content_type: &'static str, bytes: &'static [u8]) -> Response {
    let mut resp = bytes.into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}
