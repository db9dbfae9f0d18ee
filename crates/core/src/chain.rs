//! The audit chain's link: `HMAC-SHA256(audit_key, prev_hash || record)` over a
//! length-prefixed encoding of the record. Pure; the store calls it inside the transaction that
//! appends the record, and `crate::audit::verify_chain` recomputes it.

use signet_crypto::AuditKey;
use signet_store::{AuditChain, AuditEvent};

/// Links records with the root-derived audit key.
pub struct ChainKey(AuditKey);

impl ChainKey {
    /// Wraps the key.
    pub fn new(key: AuditKey) -> Self {
        Self(key)
    }
}

/// The bytes a link covers: every field, length-prefixed so no two records encode alike.
fn encode(seq: u64, e: &AuditEvent) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(b"signet/v1/audit");
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&e.ts_ms.to_be_bytes());
    for field in [
        e.actor_kind.as_str(),
        &e.actor_id,
        &e.action,
        &e.target,
        &e.source_ip,
        e.result.as_str(),
        &e.detail,
    ] {
        out.extend_from_slice(&(field.len() as u32).to_be_bytes());
        out.extend_from_slice(field.as_bytes());
    }
    out
}

impl AuditChain for ChainKey {
    fn link(&self, prev: &[u8; 32], seq: u64, event: &AuditEvent) -> [u8; 32] {
        self.0.link(prev, &encode(seq, event))
    }
}
