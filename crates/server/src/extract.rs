//! Extractors: the client's address, and the signed-request authenticators for machine and
//! admin routes.
//!
//! A signed extractor reads the whole body (bounded by the route's limit) because the signature
//! covers its hash, then hands the exact bytes to core. Handlers parse JSON from those same bytes:
//! what was verified is what is used.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Request, header};
use ipnet::IpNet;
use serde::de::DeserializeOwned;
use signet_core::auth::{AuthedMachine, AuthedOperator, SignedRequest};
use signet_core::network::ClientAddr;
use signet_core::session::SessionSecret;
use signet_proto::{
    HEADER_MACHINE_ID, HEADER_NONCE, HEADER_OPERATOR_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP,
};

use crate::AppState;
use crate::error::{ApiError, ErrorCode};

/// Body limit on machine and admin routes.
pub const MAX_BODY: usize = 16 * 1024;
/// Body limit on secret writes.
pub const MAX_SECRET_BODY: usize = 1024 * 1024;

/// The TCP peer of a connection (set by `connection::serve` on every request).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer(pub SocketAddr);

/// The client address as the server decides it: the TCP peer, unless the peer is a configured
/// trusted proxy, in which case the right-most `X-Forwarded-For` hop that is not itself a trusted
/// proxy. Anything left of that hop is client-controlled and ignored. A hop that cannot be read
/// where the walk needs it makes the address [`ClientAddr::Unknown`], which every network rule
/// refuses: skipping it would let the client-written hop to its left stand in for the client.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub ClientAddr);

pub(crate) fn client_ip(state: &AppState, peer: Option<IpAddr>, headers: &HeaderMap) -> ClientAddr {
    forwarded_client(&state.trusted_proxies, peer, headers)
}

/// [`client_ip`] over a list of trusted proxy networks.
pub fn forwarded_client(
    trusted: &[IpNet],
    peer: Option<IpAddr>,
    headers: &HeaderMap,
) -> ClientAddr {
    // Without connection info (never under `run`) there is no address to decide from.
    let Some(peer) = peer.map(|p| p.to_canonical()) else {
        return ClientAddr::Unknown;
    };
    let trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !trusted(&peer) {
        return ClientAddr::Known(peer);
    }
    // Hops in the order they were appended; a header line that is not visible ASCII is one
    // unreadable hop.
    let hops: Vec<Option<IpAddr>> = headers
        .get_all("x-forwarded-for")
        .iter()
        .flat_map(|v| match v.to_str() {
            Ok(text) => text.split(',').map(forwarded_hop).collect::<Vec<_>>(),
            Err(_) => vec![None],
        })
        .collect();
    for hop in hops.into_iter().rev() {
        match hop {
            None => return ClientAddr::Unknown,
            Some(ip) if trusted(&ip) => continue,
            Some(ip) => return ClientAddr::Known(ip),
        }
    }
    ClientAddr::Known(peer)
}

/// Reads one `X-Forwarded-For` hop: `IPv4`, `IPv4:port`, `IPv6` or `[IPv6]:port`, with optional
/// surrounding spaces. Parsed, not normalised: no zone ids, no zero-padded octets, no
/// `unknown`, no obfuscated forms; those are `None`.
pub fn forwarded_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim_matches([' ', '\t']);
    let port_ok = |p: &str| {
        !p.is_empty()
            && p.len() <= 5
            && p.bytes().all(|b| b.is_ascii_digit())
            && p.parse::<u16>().is_ok()
    };
    let ip = if let Some(rest) = hop.strip_prefix('[') {
        let (v6, port) = rest.split_once("]:")?;
        if !port_ok(port) {
            return None;
        }
        IpAddr::V6(v6.parse::<Ipv6Addr>().ok()?)
    } else if let Ok(v6) = hop.parse::<Ipv6Addr>() {
        IpAddr::V6(v6)
    } else {
        let v4 = match hop.split_once(':') {
            Some((v4, port)) if port_ok(port) => v4,
            Some(_) => return None,
            None => hop,
        };
        IpAddr::V4(v4.parse::<Ipv4Addr>().ok()?)
    };
    Some(ip.to_canonical())
}

pub(crate) fn peer_of(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<Peer>>()
        .map(|c| c.0.0.ip())
}

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(Self(client_ip(state, peer_of(parts), &parts.headers)))
    }
}

fn body_limit(path: &str) -> usize {
    // A share's value may be 100 KB; core answers 413 above that, the body limit well above.
    let secret_write = path == "/v1/admin/secrets"
        || path == signet_api::route::ai_agent::SECRETS
        || path == signet_api::route::admin::SHARES
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
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        // The connection's body deadline passed (`connection::DeadlineBody`); anything else
        // that stops the read is the limit.
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(c) = cause {
            if c.is::<crate::connection::BodyTimeout>() {
                return ApiError::new(ErrorCode::RequestTimeout);
            }
            cause = c.source();
        }
        ApiError::new(ErrorCode::PayloadTooLarge)
    })
}

/// A header's value, only if it was sent exactly once: a repeated authentication header is
/// ambiguous (which one was signed?), so it authenticates nothing.
pub(crate) fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
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

pub(crate) async fn signed(
    req: Request<Body>,
    state: &AppState,
) -> Result<(Parts, Bytes, ClientAddr), ApiError> {
    let (parts, body) = req.into_parts();
    let body = read_body(&parts.headers, body, body_limit(parts.uri.path())).await?;
    let ip = client_ip(state, peer_of(&parts), &parts.headers);
    Ok((parts, body, ip))
}

pub(crate) fn signed_request<'a>(
    parts: &'a Parts,
    body: &'a [u8],
    ip: ClientAddr,
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
            .auth()
            .authenticate_machine(&signed_request(&parts, &body, ip, HEADER_MACHINE_ID))
            .await?;
        crate::metrics::note_principal(crate::metrics::Principal::Machine(machine.record.id));
        Ok(Self { machine, body })
    }
}

/// A request signed by an AI agent's key (`signet_core::ai_agent`): the same headers and checks
/// as [`MachineCall`], admitted only for a machine row approved as an agent.
pub struct AgentCall {
    /// The agent.
    pub agent: signet_core::ai_agent::AuthedAgent,
    /// The exact body that was signed.
    pub body: Bytes,
}

impl FromRequest<AppState> for AgentCall {
    type Rejection = ApiError;

    async fn from_request(req: Request<Body>, state: &AppState) -> Result<Self, ApiError> {
        let (parts, body, ip) = signed(req, state).await?;
        if parts.headers.contains_key(HEADER_OPERATOR_ID) {
            return Err(ApiError::new(ErrorCode::AuthenticationFailed));
        }
        let agent = signet_core::ai_agent::AiAgents::of(&state.signet)
            .authenticate(&signed_request(&parts, &body, ip, HEADER_MACHINE_ID))
            .await?;
        crate::metrics::note_principal(crate::metrics::Principal::Machine(agent.machine.record.id));
        Ok(Self { agent, body })
    }
}

/// A machine request whose signature and window checked out, and nothing else: the benchmark's
/// ceiling (`signet_core::ceiling`), extracted through the same steps as [`MachineCall`] up to
/// the signature. Only routed under the `bench_ceiling` setting.
pub struct CeilingCall;

impl FromRequest<AppState> for CeilingCall {
    type Rejection = ApiError;

    async fn from_request(req: Request<Body>, state: &AppState) -> Result<Self, ApiError> {
        let (parts, body, ip) = signed(req, state).await?;
        if parts.headers.contains_key(HEADER_OPERATOR_ID) {
            return Err(ApiError::new(ErrorCode::AuthenticationFailed));
        }
        // Routed only when the state has a ceiling; without one nothing authenticates.
        let Some(ceiling) = &state.ceiling else {
            return Err(ApiError::new(ErrorCode::AuthenticationFailed));
        };
        ceiling
            .verify(&signed_request(&parts, &body, ip, HEADER_MACHINE_ID))
            .await?;
        Ok(Self)
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
            let operator = state
                .signet
                .sessions()
                .authenticate_session(&secret, ip)
                .await?;
            crate::metrics::note_principal(crate::metrics::Principal::Operator(operator.id));
            return Ok(Self {
                operator,
                body,
                session_secret: Some(secret),
            });
        }
        let operator = state
            .signet
            .auth()
            .authenticate_operator(&signed_request(&parts, &body, ip, HEADER_OPERATOR_ID))
            .await?;
        crate::metrics::note_principal(crate::metrics::Principal::Operator(operator.id));
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

    fn xff(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_str(value).unwrap());
        h
    }

    fn known(ip: &str) -> ClientAddr {
        ClientAddr::Known(ip.parse().unwrap())
    }

    #[tokio::test]
    async fn forwarded_for_counts_only_from_trusted_proxies() {
        let h = xff("203.0.113.9, 10.0.0.7");
        let (none, _d1) = state(&[]).await;
        let peer: IpAddr = "10.0.0.5".parse().unwrap();
        assert_eq!(
            client_ip(&none, Some(peer), &h),
            ClientAddr::Known(peer),
            "an untrusted peer's header is ignored"
        );
        let (trusted, _d2) = state(&["10.0.0.0/8"]).await;
        // The right-most hop that is not itself a trusted proxy is the client.
        assert_eq!(client_ip(&trusted, Some(peer), &h), known("203.0.113.9"));
        let mapped: IpAddr = "::ffff:10.0.0.5".parse().unwrap();
        assert_eq!(client_ip(&trusted, Some(mapped), &h), known("203.0.113.9"));
        assert_eq!(
            client_ip(&trusted, Some(peer), &HeaderMap::new()),
            ClientAddr::Known(peer)
        );
        assert_eq!(client_ip(&trusted, None, &h), ClientAddr::Unknown);
    }

    #[test]
    fn a_hop_is_an_address_with_an_optional_port() {
        for (hop, ip) in [
            ("192.0.2.1", "192.0.2.1"),
            (" 192.0.2.1 ", "192.0.2.1"),
            ("192.0.2.1:443", "192.0.2.1"),
            ("127.0.0.3:443", "127.0.0.3"),
            ("2001:db8::1", "2001:db8::1"),
            ("::1", "::1"),
            ("[::1]:80", "::1"),
            ("[2001:db8::1]:65535", "2001:db8::1"),
            ("::ffff:192.0.2.1", "192.0.2.1"),
            ("[::ffff:192.0.2.1]:1", "192.0.2.1"),
        ] {
            assert_eq!(forwarded_hop(hop), Some(ip.parse().unwrap()), "{hop:?}");
        }
    }

    #[test]
    fn anything_else_in_a_hop_is_unreadable() {
        for hop in [
            "",
            "  ",
            "unknown",
            "_hidden",
            "fe80::1%eth0",
            "[fe80::1%eth0]:80",
            "010.0.0.1",
            "10.0.0.01",
            "0x7f.0.0.1",
            "2130706433",
            "10.1",
            "192.0.2.1:",
            "192.0.2.1:65536",
            "192.0.2.1:+80",
            "192.0.2.1:80:80",
            "[::1]",
            "[::1]:",
            "[::1]:x",
            "[192.0.2.1]:80",
            "::1:80:",
            "garbage",
            "192.0.2.1 192.0.2.2",
            "for=192.0.2.1",
            "\"192.0.2.1\"",
        ] {
            assert_eq!(forwarded_hop(hop), None, "{hop:?}");
        }
    }

    #[test]
    fn an_unreadable_right_most_hop_makes_the_client_unknown() {
        let trusted: Vec<IpNet> = vec!["127.0.0.0/8".parse().unwrap()];
        let peer = Some("127.0.0.1".parse().unwrap());
        for bad in [
            "unknown",
            "",
            "fe80::1%eth0",
            "010.0.0.1",
            "garbage",
            "192.0.2.1:99999",
        ] {
            let value = format!("198.51.100.7, {bad}");
            assert_eq!(
                forwarded_client(&trusted, peer, &xff(&value)),
                ClientAddr::Unknown,
                "{value:?}"
            );
        }
        // Readable forms with ports are the address they name; trusted hops are walked past.
        for (value, client) in [
            ("198.51.100.7, 192.0.2.1:443", "192.0.2.1"),
            ("198.51.100.7, [2001:db8::5]:80", "2001:db8::5"),
            ("198.51.100.7, 192.0.2.1, 127.0.0.9:80", "192.0.2.1"),
            ("garbage, 192.0.2.1", "192.0.2.1"),
        ] {
            assert_eq!(
                forwarded_client(&trusted, peer, &xff(value)),
                known(client),
                "{value:?}"
            );
        }
        // An unreadable hop behind a trusted one still stops the walk.
        assert_eq!(
            forwarded_client(&trusted, peer, &xff("198.51.100.7, unknown, 127.0.0.2")),
            ClientAddr::Unknown
        );
        // Every hop trusted: the peer.
        assert_eq!(
            forwarded_client(&trusted, peer, &xff("127.0.0.2")),
            known("127.0.0.1")
        );
        // A second header line counts as later hops; a non-ASCII one is unreadable.
        let mut h = xff("192.0.2.1");
        h.append("x-forwarded-for", HeaderValue::from_static("198.51.100.7"));
        assert_eq!(forwarded_client(&trusted, peer, &h), known("198.51.100.7"));
        let mut h = xff("192.0.2.1");
        h.append("x-forwarded-for", HeaderValue::from_bytes(b"\xff").unwrap());
        assert_eq!(forwarded_client(&trusted, peer, &h), ClientAddr::Unknown);
    }
}
