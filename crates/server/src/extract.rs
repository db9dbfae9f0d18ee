//! Extractors: the client's address, and the signed-request authenticators for machine and
//! admin routes.
//!
//! A signed extractor reads the whole body (bounded by the route's limit) because the signature
//! covers its hash, then hands the exact bytes to core. Handlers parse JSON from those same bytes:
//! what was verified is what is used.

use std::net::{IpAddr, SocketAddr};

use axum::body::{Body, Bytes};
use axum::extract::connect_info::Connected;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Request, header};
use axum::serve::IncomingStream;
use serde::de::DeserializeOwned;
use signet_core::auth::{AuthedMachine, AuthedOperator, SignedRequest};
use signet_core::session::SessionSecret;
use signet_proto::{
    HEADER_MACHINE_ID, HEADER_NONCE, HEADER_OPERATOR_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP,
};

use crate::AppState;
use crate::error::{ApiError, ErrorCode};
use crate::listener::TlsListener;

/// Body limit on machine and admin routes.
pub const MAX_BODY: usize = 16 * 1024;
/// Body limit on secret writes.
pub const MAX_SECRET_BODY: usize = 1024 * 1024;

/// The TCP peer of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer(pub SocketAddr);

impl Connected<IncomingStream<'_, tokio::net::TcpListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, tokio::net::TcpListener>) -> Self {
        Self(*stream.remote_addr())
    }
}

impl Connected<IncomingStream<'_, TlsListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, TlsListener>) -> Self {
        Self(*stream.remote_addr())
    }
}

/// The client address as the server decides it: the TCP peer, unless the peer is a configured
/// trusted proxy, in which case the right-most `X-Forwarded-For` hop that is not itself a trusted
/// proxy. Anything else in the header is client-controlled and ignored.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

pub(crate) fn client_ip(state: &AppState, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
    let peer = peer.to_canonical();
    let trusted = |ip: &IpAddr| state.trusted_proxies.iter().any(|n| n.contains(ip));
    if !trusted(&peer) {
        return peer;
    }
    let hops: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|h| h.trim().parse::<IpAddr>().ok())
        .map(|ip| ip.to_canonical())
        .collect();
    hops.into_iter()
        .rev()
        .find(|ip| !trusted(ip))
        .unwrap_or(peer)
}

pub(crate) fn peer_of(parts: &Parts) -> IpAddr {
    parts
        .extensions
        .get::<ConnectInfo<Peer>>()
        .map(|c| c.0.0.ip())
        // Without connection info (never under `run`), fall back to an address that matches no
        // allowlist rather than a trusted one.
        .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
}

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(Self(client_ip(state, peer_of(parts), &parts.headers)))
    }
}

fn body_limit(path: &str) -> usize {
    let secret_write = path == "/v1/admin/secrets"
        || (path.starts_with("/v1/admin/secrets/") && path.ends_with("/update"));
    if secret_write {
        MAX_SECRET_BODY
    } else {
        MAX_BODY
    }
}

/// Reads the body up to `limit`, answering 413 beyond it (early, from Content-Length, when the
/// client announced the size).
pub(crate) async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Bytes, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::new(ErrorCode::PayloadTooLarge));
    }
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| ApiError::new(ErrorCode::PayloadTooLarge))
}

/// A header's value, only if it was sent exactly once: a repeated authentication header is
/// ambiguous (which one was signed?), so it authenticates nothing.
fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let mut values = headers.get_all(name).iter();
    match (values.next(), values.next()) {
        (Some(v), None) => v.to_str().ok(),
        _ => None,
    }
}

/// A request whose signature, window and nonce checked out for an approved machine.
pub struct MachineCall {
    /// The machine.
    pub machine: AuthedMachine,
    /// The exact body that was signed.
    pub body: Bytes,
}

/// An authenticated admin request: signed with an operator key (signature, window and nonce
/// checked), or made by a dashboard with a live session cookie (cross-site checks passed).
pub struct OperatorCall {
    /// The operator.
    pub operator: AuthedOperator,
    /// The exact body that was signed (or sent, for a session).
    pub body: Bytes,
    /// The session cookie's secret, for session requests.
    pub session_secret: Option<SessionSecret>,
}

async fn signed(req: Request<Body>, state: &AppState) -> Result<(Parts, Bytes, IpAddr), ApiError> {
    let (parts, body) = req.into_parts();
    let body = read_body(&parts.headers, body, body_limit(parts.uri.path())).await?;
    let ip = client_ip(state, peer_of(&parts), &parts.headers);
    Ok((parts, body, ip))
}

fn signed_request<'a>(
    parts: &'a Parts,
    body: &'a [u8],
    ip: IpAddr,
    id_header: &str,
) -> SignedRequest<'a> {
    SignedRequest {
        principal_id: header(&parts.headers, id_header),
        method: parts.method.as_str(),
        target: parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/"),
        timestamp: header(&parts.headers, HEADER_TIMESTAMP),
        nonce: header(&parts.headers, HEADER_NONCE),
        signature: header(&parts.headers, HEADER_SIGNATURE),
        body,
        source_ip: ip,
    }
}

impl FromRequest<AppState> for MachineCall {
    type Rejection = ApiError;

    async fn from_request(req: Request<Body>, state: &AppState) -> Result<Self, ApiError> {
        let (parts, body, ip) = signed(req, state).await?;
        // An operator id on a machine route is an authentication failure, not a fallback.
        if parts.headers.contains_key(HEADER_OPERATOR_ID) {
            return Err(ApiError::new(ErrorCode::AuthenticationFailed));
        }
        let machine = state
            .signet
            .authenticate_machine(&signed_request(&parts, &body, ip, HEADER_MACHINE_ID))
            .await?;
        Ok(Self { machine, body })
    }
}

impl FromRequest<AppState> for OperatorCall {
    type Rejection = ApiError;

    async fn from_request(req: Request<Body>, state: &AppState) -> Result<Self, ApiError> {
        let (parts, body, ip) = signed(req, state).await?;
        if parts.headers.contains_key(HEADER_MACHINE_ID) {
            return Err(ApiError::new(ErrorCode::AuthenticationFailed));
        }
        // A signed request is judged by its signature alone; a cookie next to it is ignored.
        if !parts.headers.contains_key(HEADER_OPERATOR_ID)
            && let Some(secret) = state.web.session_secret(&parts.headers)
        {
            // Cross-site checks first: a forged request is refused before the session is even
            // looked up, whether or not it is alive.
            state.web.check_same_origin(&parts, Some(&secret))?;
            let operator = state.signet.authenticate_session(&secret, ip).await?;
            return Ok(Self {
                operator,
                body,
                session_secret: Some(secret),
            });
        }
        let operator = state
            .signet
            .authenticate_operator(&signed_request(&parts, &body, ip, HEADER_OPERATOR_ID))
            .await?;
        Ok(Self {
            operator,
            body,
            session_secret: None,
        })
    }
}

/// Parses a JSON body. Whitespace is fine (the Python SDK sends `{"a": "b"}`); unknown fields are
/// refused so that a typo is not silently ignored.
pub(crate) fn json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        // serde's message names the field and expectation, never echoes the value.
        ApiError::malformed(format!("invalid JSON body: {}", e.classify_message()))
    })
}

/// Parses an optional JSON body: empty means `None`.
pub(crate) fn json_opt<T: DeserializeOwned>(body: &[u8]) -> Result<Option<T>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        Ok(None)
    } else {
        json(body).map(Some)
    }
}

trait ClassifyMessage {
    fn classify_message(&self) -> String;
}

impl ClassifyMessage for serde_json::Error {
    fn classify_message(&self) -> String {
        match self.classify() {
            serde_json::error::Category::Data => {
                // "unknown field `x`, expected ..." and "missing field `x`" name only a key; any
                // other data error may quote the submitted value, which could be a secret.
                let s = self.to_string();
                let head = s
                    .split(", expected")
                    .next()
                    .unwrap_or_default()
                    .split(" at line ")
                    .next()
                    .unwrap_or_default();
                if head.starts_with("unknown field") || head.starts_with("missing field") {
                    head.replace(|c: char| c.is_control(), "")
                } else {
                    "a field has the wrong type or value".to_owned()
                }
            }
            serde_json::error::Category::Eof => "unexpected end of input".to_owned(),
            _ => "not valid JSON".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {

    use axum::http::HeaderValue;

    use super::*;

    async fn state(trusted: &[&str]) -> (AppState, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let signet = crate::install::open(
            &dir.path().join("d"),
            &crate::install::DatabaseUrl::Sqlite(
                dir.path().join("d").join(crate::install::DB_FILE),
            ),
            &crate::config::RootKeySource::DataDir,
            Default::default(),
        )
        .await
        .unwrap();
        let proxies = trusted.iter().map(|c| c.parse().unwrap()).collect();
        (AppState::new(signet, proxies), dir)
    }

    #[tokio::test]
    async fn forwarded_for_counts_only_from_trusted_proxies() {
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_static("203.0.113.9, 10.0.0.7"),
        );
        let (none, _d1) = state(&[]).await;
        let peer: IpAddr = "10.0.0.5".parse().unwrap();
        assert_eq!(
            client_ip(&none, peer, &h),
            peer,
            "an untrusted peer's header is ignored"
        );
        let (trusted, _d2) = state(&["10.0.0.0/8"]).await;
        // The right-most hop that is not itself a trusted proxy is the client.
        assert_eq!(
            client_ip(&trusted, peer, &h),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
        let mapped: IpAddr = "::ffff:10.0.0.5".parse().unwrap();
        assert_eq!(
            client_ip(&trusted, mapped, &h),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
        assert_eq!(client_ip(&trusted, peer, &HeaderMap::new()), peer);
    }
}
