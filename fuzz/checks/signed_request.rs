//! The signed-request edge: the four `X-` header readers, the signed string, and the client
//! address from `X-Forwarded-For`. Input: a request in the plain form of `signet_fuzz::RawRequest`.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::LazyLock;

use super::RawRequest;
use signet_proto::request::{signing_string, verify_request};
use signet_proto::{
    BodyHash, CanonicalPath, MachineId, Method, Nonce, OperatorId, SecretSeed, SignatureB64,
    SignedHeaders, Timestamp,
};
use signet_server::extract::{forwarded_client, forwarded_hop};
use signet_server::fuzzing::auth_headers;

/// RFC 8032 TEST 1, the seed of the conformance vectors.
static SEED: LazyLock<SecretSeed> = LazyLock::new(|| {
    let mut seed = [0u8; 32];
    hex_into(
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        &mut seed,
    );
    SecretSeed::from_bytes(seed)
});

fn hex_into(hex: &str, out: &mut [u8]) {
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap_or_default();
    }
}

/// The target: one input.
pub fn check(data: &[u8]) {
    let Some(req) = RawRequest::parse(data) else {
        return;
    };
    let h = auth_headers(&req.headers);

    // Each reader accepts exactly one spelling: what it parsed prints back to the same text.
    let method = Method::parse(req.method).ok();
    if let Some(m) = &method {
        assert_eq!(m.as_str(), req.method);
    }
    let path = CanonicalPath::parse(req.target).ok();
    if let Some(p) = &path {
        assert_eq!(p.as_str(), req.target);
    }
    let ts = h
        .timestamp
        .and_then(|t| Timestamp::parse(t).ok().map(|p| (t, p)));
    if let Some((text, t)) = ts {
        assert_eq!(t.to_string(), text);
    }
    let nonce = h.nonce.and_then(|n| Nonce::parse(n).ok());
    if let (Some(n), Some(text)) = (&nonce, h.nonce) {
        assert_eq!(n.as_str(), text);
        assert!(
            !n.as_str().contains(':'),
            "a nonce must not split the signed string"
        );
    }
    let sig = h
        .signature
        .and_then(|s| SignatureB64::parse(s).ok().map(|p| (s, p)));
    if let Some((text, s)) = &sig {
        assert_eq!(&s.to_base64(), text);
    }
    if let Some(id) = h.machine_id
        && let Ok(parsed) = MachineId::parse(id)
    {
        assert_eq!(parsed.to_string(), id);
    }
    if let Some(id) = h.operator_id
        && let Ok(parsed) = OperatorId::parse(id)
    {
        assert_eq!(parsed.to_string(), id);
    }

    // A parsed request re-serialises to a signed string that splits back into the same parts,
    // and only the signature made over those parts verifies.
    if let (Some(method), Some(path), Some((_, ts)), Some(nonce)) = (&method, &path, ts, &nonce) {
        let body_hash = BodyHash::of(req.body);
        let s = signing_string(method, path, ts, nonce, &body_hash);
        let (m, rest) = s.split_once(':').expect("the method has no colon");
        let mut tail = rest.rsplitn(4, ':');
        let (hash, n, t, p) = (tail.next(), tail.next(), tail.next(), tail.next());
        assert_eq!(m, method.as_str());
        assert_eq!(p, Some(path.as_str()));
        assert_eq!(t, Some(ts.to_string().as_str()));
        assert_eq!(n, Some(nonce.as_str()));
        assert_eq!(hash, Some(body_hash.as_str()));

        let key = SEED.public_key();
        let ours = SignedHeaders::sign(&SEED, method, path, req.body, ts, nonce);
        let ours_sig = SignatureB64::parse(&ours.signature).expect("our own signature parses");
        assert!(verify_request(&key, method, path, req.body, ts, nonce, &ours_sig).is_ok());
        if let Some((_, theirs)) = &sig {
            let ok = verify_request(&key, method, path, req.body, ts, nonce, theirs).is_ok();
            assert_eq!(
                ok,
                *theirs == ours_sig,
                "a signature verified for other bytes"
            );
        }
    }

    // Client address: a hop that reads prints back to a hop that reads the same, and a walk
    // through trusted proxies never names a trusted proxy as the client.
    for value in req.headers.get_all("x-forwarded-for") {
        if let Ok(text) = value.to_str() {
            for hop in text.split(',') {
                if let Some(ip) = forwarded_hop(hop) {
                    assert_eq!(forwarded_hop(&ip.to_string()), Some(ip));
                }
            }
        }
    }
    let trusted = [
        "127.0.0.0/8".parse().expect("a literal network"),
        "::1/128".parse().expect("a literal network"),
    ];
    let peer = IpAddr::V4(Ipv4Addr::LOCALHOST);
    if let signet_core::network::ClientAddr::Known(ip) =
        forwarded_client(&trusted, Some(peer), &req.headers)
    {
        let is_peer = ip == peer;
        assert!(is_peer || !trusted.iter().any(|n: &ipnet::IpNet| n.contains(&ip)));
    }
}
