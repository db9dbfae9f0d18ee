//! The audit archive's file formats (`docs/protocol.md` §21): a segment file per archived range
//! of the log, one JSON record per line, and its checkpoint, signed with the vault's archive key.
//! Also the checks anyone can run on them offline: the archive key is the only secret, and it
//! never leaves the server.
//!
//! What a segment proves without the root key: its bytes are the ones the vault signed (the
//! checkpoint covers their SHA-256), its records link one to the next by their stored hashes,
//! and it continues the segment before it (the checkpoint names the previous checkpoint's
//! hash). The records' HMAC links themselves need the root key; the server checked them before
//! it signed.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer as _, SigningKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::key::PublicKey;
use crate::request::{
    BodyHash, CanonicalPath, Method, Nonce, SignatureB64, Timestamp, signing_string, verify,
};

/// What a checkpoint signature covers first, so it can never pass for another signature.
pub const CHECKPOINT_DOMAIN: &str = "signet/v1/audit-checkpoint";

/// The one checkpoint format version.
pub const CHECKPOINT_VERSION: u32 = 1;

/// Why an archive, a segment or a record's evidence failed a check, in words for the operator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ArchiveError(pub String);

fn bad(what: impl Into<String>) -> ArchiveError {
    ArchiveError(what.into())
}

/// Lower-case hex of 32 bytes, refusing any other spelling.
fn hex32(s: &str, what: &str) -> Result<[u8; 32], ArchiveError> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).map_err(|_| bad(format!("{what} is not 64 hex digits")))?;
    if hex::encode(out) != s {
        return Err(bad(format!("{what} is not lower-case hex")));
    }
    Ok(out)
}

/// What a machine signed for the request a record was written for, as an archive and the
/// audit listing show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Evidence {
    /// The HTTP method as signed.
    pub method: String,
    /// The canonical path as signed.
    pub path: String,
    /// `X-Timestamp`, Unix seconds.
    pub timestamp: i64,
    /// `X-Nonce`.
    pub nonce: String,
    /// SHA-256 of the body, lower-case hex.
    pub body_sha256: String,
    /// The Ed25519 signature, standard base64.
    pub signature: String,
}

impl Evidence {
    /// From the raw parts the audit log keeps.
    pub fn from_parts(
        method: &str,
        path: &str,
        timestamp: i64,
        nonce: &str,
        body_sha256: &[u8; 32],
        signature: &[u8; 64],
    ) -> Self {
        Self {
            method: method.to_owned(),
            path: path.to_owned(),
            timestamp,
            nonce: nonce.to_owned(),
            body_sha256: hex::encode(body_sha256),
            signature: STANDARD.encode(signature),
        }
    }

    /// Rebuilds the signing string exactly as [`crate::request`] builds it for a request and
    /// checks the signature with `verify_strict`. Every field must already be in its one
    /// canonical form: a stored field the server could not have accepted is as bad as a wrong
    /// signature.
    pub fn verify(&self, key: &PublicKey) -> Result<(), ArchiveError> {
        let field = |what: &str| bad(format!("the stored {what} is malformed"));
        let method = Method::parse(&self.method).map_err(|_| field("method"))?;
        let path = CanonicalPath::parse(&self.path).map_err(|_| field("path"))?;
        let nonce = Nonce::parse(&self.nonce).map_err(|_| field("nonce"))?;
        let body = BodyHash::from_digest(&hex32(&self.body_sha256, "the body hash")?);
        let sig = SignatureB64::parse(&self.signature).map_err(|_| field("signature"))?;
        let s = signing_string(
            &method,
            &path,
            Timestamp::from_secs(self.timestamp),
            &nonce,
            &body,
        );
        let vk = key
            .verifying_key()
            .map_err(|_| bad("the machine's key does not parse"))?;
        verify(&vk, &s, &sig)
            .map_err(|_| bad("the signature does not verify with the machine's key"))
    }
}

/// One line of a segment file: a record with its links, exactly as the live store held it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ArchivedRecord {
    /// Position in the chain.
    pub seq: u64,
    /// Unix ms.
    pub ts: i64,
    /// `machine`, `operator`, `anonymous` or `system`.
    pub actor_kind: String,
    /// The actor's id.
    pub actor_id: String,
    /// What happened.
    pub action: String,
    /// To what.
    pub target: String,
    /// From where.
    pub source_ip: String,
    /// `ok`, `denied` or `failed`.
    pub result: String,
    /// Context.
    pub detail: String,
    /// The previous record's hash, hex.
    pub prev_hash: String,
    /// This record's link, hex.
    pub hash: String,
    /// What the machine signed, when the record keeps it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Evidence>,
}

/// The signed close of one segment, stored next to it as `<segment>.checkpoint.json` and in the
/// live store, whose chain continues after `last_hash`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Checkpoint {
    /// [`CHECKPOINT_VERSION`].
    pub version: u32,
    /// The segment's first record.
    pub first_seq: u64,
    /// Its last record.
    pub last_seq: u64,
    /// `last_seq - first_seq + 1`, spelled out for readers.
    pub records: u64,
    /// The last record's hash, hex.
    pub last_hash: String,
    /// The previous checkpoint's [`Checkpoint::hash`], hex (zeros for the first).
    pub prev_checkpoint: String,
    /// SHA-256 of the segment file, hex.
    pub segment_sha256: String,
    /// The vault's archive public key, standard base64; a verifier compares it with the one
    /// the server publishes rather than trusting it.
    pub public_key: String,
    /// Ed25519 over [`Checkpoint::signing_bytes`], standard base64.
    pub signature: String,
}

impl Checkpoint {
    /// Signs a checkpoint with the archive key whose seed is `seed`. Ed25519 is deterministic,
    /// so two archivers closing the same range write byte-identical files.
    pub fn sign(
        seed: &[u8; 32],
        first_seq: u64,
        last_seq: u64,
        last_hash: &[u8; 32],
        prev_checkpoint: &[u8; 32],
        segment_sha256: &[u8; 32],
    ) -> Self {
        let key = SigningKey::from_bytes(seed);
        let msg = signing_bytes(
            first_seq,
            last_seq,
            last_hash,
            prev_checkpoint,
            segment_sha256,
        );
        Self {
            version: CHECKPOINT_VERSION,
            first_seq,
            last_seq,
            records: last_seq.saturating_sub(first_seq).saturating_add(1),
            last_hash: hex::encode(last_hash),
            prev_checkpoint: hex::encode(prev_checkpoint),
            segment_sha256: hex::encode(segment_sha256),
            public_key: STANDARD.encode(key.verifying_key().to_bytes()),
            signature: STANDARD.encode(key.sign(&msg).to_bytes()),
        }
    }

    /// The raw parts, checked for form.
    pub fn parts(&self) -> Result<CheckpointParts, ArchiveError> {
        if self.version != CHECKPOINT_VERSION {
            return Err(bad(format!(
                "checkpoint version {} is unknown",
                self.version
            )));
        }
        if self.first_seq == 0
            || self.last_seq < self.first_seq
            || self.records != self.last_seq - self.first_seq + 1
        {
            return Err(bad("the checkpoint's range is inconsistent"));
        }
        let signature: [u8; 64] = STANDARD
            .decode(&self.signature)
            .ok()
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| bad("the checkpoint's signature is not 64 bytes of base64"))?;
        Ok(CheckpointParts {
            first_seq: self.first_seq,
            last_seq: self.last_seq,
            last_hash: hex32(&self.last_hash, "lastHash")?,
            prev_checkpoint: hex32(&self.prev_checkpoint, "prevCheckpoint")?,
            segment_sha256: hex32(&self.segment_sha256, "segmentSha256")?,
            signature,
        })
    }

    /// Checks the signature with `key` (the one the server publishes) and that the checkpoint
    /// names that key.
    pub fn verify(&self, key: &PublicKey) -> Result<CheckpointParts, ArchiveError> {
        let parts = self.parts()?;
        if PublicKey::from_base64(&self.public_key).ok().as_ref() != Some(key) {
            return Err(bad(
                "the checkpoint names another archive key than the server's",
            ));
        }
        let vk = key
            .verifying_key()
            .map_err(|_| bad("the archive key does not parse"))?;
        vk.verify_strict(
            &parts.signing_bytes(),
            &Signature::from_bytes(&parts.signature),
        )
        .map_err(|_| bad("the checkpoint's signature does not verify"))?;
        Ok(parts)
    }

    /// The segment file's name: zero-padded, so names sort in chain order.
    pub fn segment_name(first_seq: u64, last_seq: u64) -> String {
        format!("segment-{first_seq:020}-{last_seq:020}.jsonl")
    }

    /// The checkpoint file's name, next to its segment.
    pub fn file_name(first_seq: u64, last_seq: u64) -> String {
        format!("segment-{first_seq:020}-{last_seq:020}.checkpoint.json")
    }
}

/// A checkpoint's fields as bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointParts {
    /// The segment's first record.
    pub first_seq: u64,
    /// Its last record.
    pub last_seq: u64,
    /// The last record's hash.
    pub last_hash: [u8; 32],
    /// The previous checkpoint's hash.
    pub prev_checkpoint: [u8; 32],
    /// SHA-256 of the segment file.
    pub segment_sha256: [u8; 32],
    /// The archive key's signature.
    pub signature: [u8; 64],
}

impl CheckpointParts {
    /// What the signature covers.
    pub fn signing_bytes(&self) -> Vec<u8> {
        signing_bytes(
            self.first_seq,
            self.last_seq,
            &self.last_hash,
            &self.prev_checkpoint,
            &self.segment_sha256,
        )
    }

    /// What the next checkpoint names as its predecessor: SHA-256 of the signed bytes and the
    /// signature, so the chain of checkpoints commits to both.
    pub fn hash(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.signing_bytes());
        h.update(self.signature);
        h.finalize().into()
    }
}

/// `signet/v1/audit-checkpoint`, then each field on its own line: the decimal sequence numbers
/// and record count, then the three hashes in lower-case hex.
fn signing_bytes(
    first_seq: u64,
    last_seq: u64,
    last_hash: &[u8; 32],
    prev_checkpoint: &[u8; 32],
    segment_sha256: &[u8; 32],
) -> Vec<u8> {
    format!(
        "{CHECKPOINT_DOMAIN}\n{first_seq}\n{last_seq}\n{}\n{}\n{}\n{}",
        last_seq.saturating_sub(first_seq).saturating_add(1),
        hex::encode(last_hash),
        hex::encode(prev_checkpoint),
        hex::encode(segment_sha256),
    )
    .into_bytes()
}

/// Checks a segment file, read line by line from `file`, against its (already verified)
/// checkpoint: the SHA-256, one record per line from `first_seq` to `last_seq` without gaps,
/// each linking to the one before (the first to `prev_last_hash`, the previous segment's last
/// hash, or zeros), the last one's hash. Calls `each` on every record, for further checks such
/// as machine signatures. Holds one line in memory at a time.
pub fn verify_segment(
    mut file: impl std::io::BufRead,
    cp: &CheckpointParts,
    prev_last_hash: &[u8; 32],
    mut each: impl FnMut(&ArchivedRecord) -> Result<(), ArchiveError>,
) -> Result<(), ArchiveError> {
    let mut sha = Sha256::new();
    let mut expected = cp.first_seq;
    let mut prev = *prev_last_hash;
    let mut line = Vec::new();
    // A record that does not check is reported only once the whole file hashed as signed:
    // an edited file is named as edited, not as whatever the edit broke.
    let mut first_problem: Option<ArchiveError> = None;
    loop {
        line.clear();
        let n = file
            .read_until(b'\n', &mut line)
            .map_err(|e| bad(format!("the segment cannot be read: {e}")))?;
        if n == 0 {
            break;
        }
        sha.update(&line);
        if first_problem.is_some() {
            continue;
        }
        let checked = (|| {
            if line.last() != Some(&b'\n') {
                return Err(bad("the segment's last line is cut short"));
            }
            let r: ArchivedRecord = serde_json::from_slice(&line)
                .map_err(|e| bad(format!("record {expected} does not parse: {e}")))?;
            if r.seq != expected {
                return Err(bad(format!(
                    "record {expected} is missing (next is {})",
                    r.seq
                )));
            }
            if hex32(&r.prev_hash, "prevHash")? != prev {
                return Err(bad(format!(
                    "record {} does not link to its predecessor",
                    r.seq
                )));
            }
            prev = hex32(&r.hash, "hash")?;
            each(&r).map_err(|e| bad(format!("record {}: {e}", r.seq)))?;
            expected += 1;
            Ok(())
        })();
        if let Err(e) = checked {
            first_problem = Some(e);
        }
    }
    let sha: [u8; 32] = sha.finalize().into();
    if sha != cp.segment_sha256 {
        return Err(bad(
            "the segment's SHA-256 is not the one its checkpoint signed (the file was edited)",
        ));
    }
    if let Some(e) = first_problem {
        return Err(e);
    }
    if expected != cp.last_seq + 1 {
        return Err(bad(format!(
            "the segment ends at record {} but its checkpoint at {}",
            expected - 1,
            cp.last_seq
        )));
    }
    if prev != cp.last_hash {
        return Err(bad(
            "the segment's last hash is not the one its checkpoint signed",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(records: &[ArchivedRecord]) -> Vec<u8> {
        let mut out = Vec::new();
        for r in records {
            out.extend(serde_json::to_vec(r).unwrap());
            out.push(b'\n');
        }
        out
    }

    fn record(seq: u64, prev: [u8; 32]) -> ArchivedRecord {
        ArchivedRecord {
            seq,
            ts: 1,
            actor_kind: "system".into(),
            actor_id: String::new(),
            action: "sweep".into(),
            target: String::new(),
            source_ip: String::new(),
            result: "ok".into(),
            detail: String::new(),
            prev_hash: hex::encode(prev),
            hash: hex::encode([seq as u8; 32]),
            evidence: None,
        }
    }

    #[test]
    fn a_signed_segment_verifies_and_any_change_fails() {
        let seed = [5u8; 32];
        let records = vec![record(1, [0; 32]), record(2, [1; 32]), record(3, [2; 32])];
        let bytes = segment(&records);
        let sha: [u8; 32] = Sha256::digest(&bytes).into();
        let cp = Checkpoint::sign(&seed, 1, 3, &[3; 32], &[0; 32], &sha);
        let key = PublicKey::from_base64(&cp.public_key).unwrap();
        let parts = cp.verify(&key).unwrap();
        verify_segment(bytes.as_slice(), &parts, &[0; 32], |_| Ok(())).unwrap();
        // Deterministic: the same range signs to the same checkpoint.
        assert_eq!(cp, Checkpoint::sign(&seed, 1, 3, &[3; 32], &[0; 32], &sha));

        let mut edited = bytes.clone();
        let at = edited.iter().position(|&b| b == b'w').unwrap();
        edited[at] = b'x';
        assert!(verify_segment(edited.as_slice(), &parts, &[0; 32], |_| Ok(())).is_err());

        let forged = Checkpoint {
            last_seq: 2,
            records: 2,
            ..cp.clone()
        };
        assert!(forged.verify(&key).is_err());
        let other = Checkpoint::sign(&[6; 32], 1, 3, &[3; 32], &[0; 32], &sha);
        assert!(
            other.verify(&key).is_err(),
            "a checkpoint under another key"
        );

        let gap = segment(&[records[0].clone(), records[2].clone()]);
        let sha: [u8; 32] = Sha256::digest(&gap).into();
        let cp = Checkpoint::sign(&seed, 1, 3, &[3; 32], &[0; 32], &sha);
        let parts = cp.verify(&key).unwrap();
        assert!(verify_segment(gap.as_slice(), &parts, &[0; 32], |_| Ok(())).is_err());
    }
}
