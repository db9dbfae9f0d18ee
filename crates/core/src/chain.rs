//! The audit chain's link: `HMAC-SHA256(audit_key, prev_hash || record)` over a
//! length-prefixed encoding of the record. Pure; the store calls it inside the transaction that
//! appends the record, and `crate::audit::verify_chain` recomputes it.
//!
//! A record that carries a machine's signed evidence has the evidence's stored bytes appended
//! to the encoding; one without is encoded exactly as before evidence existed, so records
//! written before it keep verifying (`docs/protocol.md` §21). The two never collide: every
//! field before is length-prefixed, so the shorter encoding is never a complete encoding of a
//! record with evidence.

use signet_crypto::AuditKey;
use signet_proto::archive::{ArchivedRecord, Evidence};
use signet_store::{AuditChain, AuditEvent, AuditRecord, SignedEvidence};

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
    if let Some(evidence) = &e.evidence {
        out.extend_from_slice(&evidence.to_bytes());
    }
    out
}

impl AuditChain for ChainKey {
    fn link(&self, prev: &[u8; 32], seq: u64, event: &AuditEvent) -> [u8; 32] {
        self.0.link(prev, &encode(seq, event))
    }
}

/// A record as a segment line.
pub(crate) fn archived(r: &AuditRecord) -> ArchivedRecord {
    let e = &r.event;
    ArchivedRecord {
        seq: r.seq,
        ts: e.ts_ms,
        actor_kind: e.actor_kind.as_str().to_owned(),
        actor_id: e.actor_id.clone(),
        action: e.action.clone(),
        target: e.target.clone(),
        source_ip: e.source_ip.clone(),
        result: e.result.as_str().to_owned(),
        detail: e.detail.clone(),
        prev_hash: hex::encode(r.prev_hash),
        hash: hex::encode(r.hash),
        evidence: e.evidence.as_deref().map(evidence),
    }
}

/// Evidence in the archive's (and the listing's) form.
pub fn evidence(ev: &SignedEvidence) -> Evidence {
    Evidence::from_parts(
        &ev.method,
        &ev.path,
        ev.timestamp,
        &ev.nonce,
        &ev.body_sha256,
        &ev.signature,
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use signet_store::{ActorKind, AuditResult, SignedEvidence};

    use super::*;

    fn event() -> AuditEvent {
        AuditEvent {
            ts_ms: 1_700_000_000_000,
            actor_kind: ActorKind::Machine,
            actor_id: "m_1".to_owned(),
            action: "secret_read".to_owned(),
            target: "sk_1".to_owned(),
            source_ip: "192.0.2.1".to_owned(),
            result: AuditResult::Ok,
            detail: "v=1".to_owned(),
            evidence: None,
        }
    }

    /// The bytes a record without evidence is linked over, pinned as they were before evidence
    /// was added: a change here would break every chain already written.
    #[test]
    fn records_without_evidence_encode_as_before() {
        assert_eq!(
            hex::encode(encode(7, &event())),
            "7369676e65742f76312f617564697400000000000000070000018bcfe56800000000076d616368696e65\
             000000036d5f310000000b7365637265745f7265616400000004736b5f31000000093139322e302e322e\
             31000000026f6b00000003763d31"
        );
    }

    #[test]
    fn evidence_is_covered_and_round_trips() {
        let evidence = SignedEvidence {
            method: "GET".to_owned(),
            path: "/v1/secret/sk_1".to_owned(),
            timestamp: 1_700_000_000,
            nonce: "AAAAAAAAAAAAAAAAAAAAAA==".to_owned(),
            body_sha256: [7; 32],
            signature: [9; 64],
        };
        let bytes = evidence.to_bytes();
        assert_eq!(SignedEvidence::from_bytes(&bytes), Some(evidence.clone()));
        assert_eq!(SignedEvidence::from_bytes(&bytes[..bytes.len() - 1]), None);
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(SignedEvidence::from_bytes(&longer), None);

        let plain = encode(7, &event());
        let signed = AuditEvent {
            evidence: Some(Arc::new(evidence.clone())),
            ..event()
        };
        let with = encode(7, &signed);
        assert_eq!(&with[..plain.len()], plain.as_slice());
        assert_eq!(&with[plain.len()..], bytes.as_slice());
        // Any change to what was signed changes what is linked.
        let other = AuditEvent {
            evidence: Some(Arc::new(SignedEvidence {
                nonce: "BAAAAAAAAAAAAAAAAAAAAA==".to_owned(),
                ..evidence
            })),
            ..event()
        };
        assert_ne!(encode(7, &other), with);
    }
}
