//! Signed requests as the server's extractor hands them to core: real headers over a real key,
//! so a test drives core's authenticators exactly as HTTP would.

use std::net::{IpAddr, Ipv4Addr};

use signet_core::auth::SignedRequest;
use signet_core::network::ClientAddr;
use signet_proto::{CanonicalPath, Method, Nonce, SecretSeed, SignedHeaders, Timestamp};

/// 127.0.0.1, the source of every request that does not say otherwise.
pub const LOCAL: ClientAddr = ClientAddr::Known(IpAddr::V4(Ipv4Addr::LOCALHOST));

/// A `GET path` with an empty body signed by `seed` for principal `id` at `now_ms`, from
/// [`LOCAL`]. `parts` holds the header texts the request borrows (one buffer can serve many
/// requests in turn).
pub fn signed<'a>(
    seed: &SecretSeed,
    id: &'a str,
    path: &str,
    now_ms: i64,
    parts: &'a mut Vec<String>,
) -> SignedRequest<'a> {
    signed_from(seed, id, path, now_ms, LOCAL, parts)
}

/// [`signed`] from `source_ip`.
pub fn signed_from<'a>(
    seed: &SecretSeed,
    id: &'a str,
    path: &str,
    now_ms: i64,
    source_ip: ClientAddr,
    parts: &'a mut Vec<String>,
) -> SignedRequest<'a> {
    let h = SignedHeaders::sign(
        seed,
        &Method::parse("GET").expect("GET is a method"),
        &CanonicalPath::parse(path).expect("a canonical test path"),
        b"",
        Timestamp::from_secs(now_ms / 1000),
        &Nonce::generate(),
    );
    parts.clear();
    parts.extend([path.to_owned(), h.timestamp, h.nonce, h.signature]);
    SignedRequest {
        principal_id: Some(id),
        method: "GET",
        target: &parts[0],
        timestamp: Some(&parts[1]),
        nonce: Some(&parts[2]),
        signature: Some(&parts[3]),
        body: b"",
        source_ip,
    }
}
