//! Audit devices: besides the database (the primary, hash-chained, fail-closed log), every
//! record goes to the configured devices (a JSON-lines file, stdout, syslog: implemented by the
//! server, `signet_server::audit_device`). Core only decides *what* goes where and in which
//! order; it does no file or socket I/O itself.
//!
//! The devices follow the store rather than the callers: each keeps the next sequence number it
//! has to write, and [`AuditDevices::flush`] reads every record from there up to the head and
//! writes the ones a device lacks, under one lock. So a device's lines come out in seq order
//! whatever order concurrent requests finish in, records written by audited writes (which commit
//! inside their change's transaction) reach the devices as well as journal appends, and a
//! required device that failed gets the records it missed once it works again.
//!
//! A line is the archive's segment line (`signet_proto::archive::ArchivedRecord`): the record,
//! its `prevHash` and its `hash`, so a device's stream verifies on its own
//! (`signet audit verify --file`).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use base64::Engine as _;
use signet_proto::archive::ArchivedRecord;
use signet_store::{ActorKind, AuditChain, AuditEvent, AuditResult, SignedEvidence};

use signet_store::Store;

use crate::{CoreError, CoreResult};

/// One line a device writes.
pub type AuditLine = ArchivedRecord;

/// Where audit lines go besides the database. Implementations do blocking I/O; core calls
/// [`AuditDevice::write`] off the async threads.
pub trait AuditDevice: Send + Sync {
    /// The name in metrics and logs (`signet_audit_device_failures_total{device="NAME"}`).
    fn name(&self) -> &str;
    /// A required device fails the request whose record it could not write; a best-effort one
    /// only counts the failure.
    fn required(&self) -> bool;
    /// Writes (and flushes) the lines, in order. `Err` means the lines may not be durable.
    fn write(&self, lines: &[AuditLine]) -> std::io::Result<()>;
}

/// Records read from the store per page while catching a device up.
const PAGE: u32 = 1000;

/// A failing device is logged at most this often (ms).
const LOG_EVERY_MS: i64 = 60_000;

/// One configured device and where it stands.
struct Follower {
    device: Arc<dyn AuditDevice>,
    /// The next seq this device has to write.
    next: AtomicU64,
    /// Writes that failed (shared with the scrape's list).
    failures: Arc<AtomicU64>,
    /// When a failure of this device was last logged, Unix ms.
    logged_ms: AtomicI64,
}

/// The devices of one process. Empty unless the server configured some.
#[derive(Default)]
pub(crate) struct AuditDevices {
    /// The devices; the lock serialises catching up, which keeps each device's lines in order.
    followers: tokio::sync::Mutex<Vec<Follower>>,
    /// Failure counts by device name, readable without waiting behind a slow device (for the
    /// metrics scrape).
    counts: std::sync::RwLock<Vec<(String, Arc<AtomicU64>)>>,
    /// Whether any device is configured: the read path skips the lock when none is.
    any: std::sync::atomic::AtomicBool,
}

// The context reaches these through its `devices` field (`Context::flush_devices` and the
// others, in `context.rs`); they take the store rather than the context, so this module sits
// below the context.
impl AuditDevices {
    /// Installs the devices; each starts after the current head (a device is a stream from now
    /// on, not a copy of the history).
    pub(crate) async fn install(
        &self,
        store: &dyn Store,
        devices: Vec<Arc<dyn AuditDevice>>,
    ) -> CoreResult<()> {
        let next = store.audit_head().await?.map_or(1, |h| h.seq + 1);
        let mut followers = self.followers.lock().await;
        *followers = devices
            .iter()
            .map(|d| Follower {
                device: d.clone(),
                next: AtomicU64::new(next),
                failures: Arc::new(AtomicU64::new(0)),
                logged_ms: AtomicI64::new(i64::MIN),
            })
            .collect();
        if let Ok(mut counts) = self.counts.write() {
            *counts = followers
                .iter()
                .map(|f| (f.device.name().to_owned(), f.failures.clone()))
                .collect();
        }
        self.any.store(!devices.is_empty(), Ordering::Release);
        Ok(())
    }

    /// Writes every record up to the store's head to every device that lacks it, in seq
    /// order. `Err(Unavailable)` when a required device could not write one (it keeps its
    /// place and gets the record on the next call); a best-effort device's failure is counted
    /// and its lines are dropped. Fast when `up_to` is given and every device has it already.
    pub(crate) async fn flush(
        &self,
        store: &dyn Store,
        up_to: Option<u64>,
        now_ms: i64,
    ) -> CoreResult<()> {
        if !self.any.load(Ordering::Acquire) {
            return Ok(());
        }
        let followers = self.followers.lock().await;
        let Some(from) = followers
            .iter()
            .map(|f| f.next.load(Ordering::Relaxed))
            .min()
        else {
            return Ok(());
        };
        if up_to.is_some_and(|seq| seq < from) {
            return Ok(());
        }
        let mut cursor = from;
        // Required devices that failed in this call: they get nothing newer until they have
        // what they missed, so their lines stay in order without a gap.
        let mut stalled = vec![false; followers.len()];
        loop {
            let page = store.audit_range(cursor, PAGE).await?;
            let Some(last) = page.last().map(|r| r.seq) else {
                break;
            };
            let full = page.len() >= PAGE as usize;
            let lines: Arc<Vec<AuditLine>> =
                Arc::new(page.iter().map(crate::chain::archived).collect());
            for (f, stalled) in followers.iter().zip(stalled.iter_mut()) {
                let next = f.next.load(Ordering::Relaxed);
                if next > last || *stalled {
                    continue;
                }
                let start = lines.partition_point(|l| l.seq < next);
                let device = f.device.clone();
                let batch = lines.clone();
                let written =
                    tokio::task::spawn_blocking(move || device.write(&batch[start..])).await;
                match written {
                    Ok(Ok(())) => f.next.store(last + 1, Ordering::Relaxed),
                    failed => {
                        f.failures.fetch_add(1, Ordering::Relaxed);
                        // The device's own error ("No space left on device", a refused
                        // connection) is what the operator needs; only a writer that panicked
                        // has none.
                        let error = match failed {
                            Ok(Err(e)) => e.to_string(),
                            _ => "the device's writer stopped".to_owned(),
                        };
                        log_device_failure(f, now_ms, error);
                        if f.device.required() {
                            *stalled = true;
                        } else {
                            // Best effort: dropped, so a device that is down does not hold up
                            // the others or write a backlog twice.
                            f.next.store(last + 1, Ordering::Relaxed);
                        }
                    }
                }
            }
            cursor = last + 1;
            if !full {
                break;
            }
        }
        if stalled.contains(&true) {
            return Err(CoreError::Unavailable);
        }
        Ok(())
    }

    /// Failed writes per device, for the metrics scrape.
    pub(crate) fn failures(&self) -> Vec<(String, u64)> {
        let Ok(counts) = self.counts.read() else {
            return Vec::new();
        };
        counts
            .iter()
            .map(|(name, n)| (name.clone(), n.load(Ordering::Relaxed)))
            .collect()
    }
}

fn log_device_failure(f: &Follower, now: i64, error: String) {
    let last = f.logged_ms.load(Ordering::Relaxed);
    if now.saturating_sub(last) < LOG_EVERY_MS {
        return;
    }
    f.logged_ms.store(now, Ordering::Relaxed);
    if f.device.required() {
        tracing::error!(device = f.device.name(), %error, "required audit device failed; failing closed");
    } else {
        tracing::warn!(device = f.device.name(), %error, "best-effort audit device failed (logged once a minute)");
    }
}

/// Checks that a line's `hash` is the chain link of its fields after its `prevHash`: the MAC
/// the database stores, recomputed with the audit key. `Err` says what is wrong.
pub fn check_line(chain: &crate::ChainKey, line: &AuditLine) -> Result<(), String> {
    let (prev, hash, event) = line_parts(line)?;
    if chain.link(&prev, line.seq, &event) != hash {
        return Err(format!(
            "record {} does not verify with this vault's audit key (altered, or another vault's)",
            line.seq
        ));
    }
    Ok(())
}

/// A line's links and its event, parsed back exactly: a field the server could not have
/// written is an error, not normalised.
fn line_parts(line: &AuditLine) -> Result<([u8; 32], [u8; 32], AuditEvent), String> {
    let hex32 = |s: &str, what: &str| -> Result<[u8; 32], String> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out)
            .map_err(|_| format!("record {}: {what} is not 64 hex digits", line.seq))?;
        if hex::encode(out) != s {
            return Err(format!("record {}: {what} is not lower-case hex", line.seq));
        }
        Ok(out)
    };
    let prev = hex32(&line.prev_hash, "prevHash")?;
    let hash = hex32(&line.hash, "hash")?;
    let actor_kind = ActorKind::parse(&line.actor_kind)
        .ok_or_else(|| format!("record {}: unknown actorKind", line.seq))?;
    let result = AuditResult::parse(&line.result)
        .ok_or_else(|| format!("record {}: unknown result", line.seq))?;
    let evidence = match &line.evidence {
        None => None,
        Some(ev) => {
            let body_sha256 = hex32(&ev.body_sha256, "the evidence's bodySha256")?;
            let signature: [u8; 64] = base64::engine::general_purpose::STANDARD
                .decode(&ev.signature)
                .ok()
                .and_then(|s| s.try_into().ok())
                .ok_or_else(|| {
                    format!("record {}: the evidence's signature is malformed", line.seq)
                })?;
            Some(Arc::new(SignedEvidence {
                method: ev.method.clone(),
                path: ev.path.clone(),
                timestamp: ev.timestamp,
                nonce: ev.nonce.clone(),
                body_sha256,
                signature,
            }))
        }
    };
    Ok((
        prev,
        hash,
        AuditEvent {
            ts_ms: line.ts,
            actor_kind,
            actor_id: line.actor_id.clone(),
            action: line.action.clone(),
            target: line.target.clone(),
            source_ip: line.source_ip.clone(),
            result,
            detail: line.detail.clone(),
            evidence,
        },
    ))
}

#[cfg(test)]
mod tests {
    use signet_store::AuditRecord;

    use super::*;

    fn chain() -> crate::ChainKey {
        crate::ChainKey::new(
            signet_crypto::RootKey::from_hex(&"07".repeat(32))
                .unwrap()
                .audit_key(),
        )
    }

    fn line(chain: &crate::ChainKey, evidence: bool) -> AuditLine {
        let event = AuditEvent {
            ts_ms: 1_700_000_000_000,
            actor_kind: ActorKind::Machine,
            actor_id: "m_1".to_owned(),
            action: "secret_read".to_owned(),
            target: "sk_1".to_owned(),
            source_ip: "192.0.2.1".to_owned(),
            result: AuditResult::Ok,
            detail: "v=1".to_owned(),
            evidence: evidence.then(|| {
                Arc::new(SignedEvidence {
                    method: "GET".to_owned(),
                    path: "/v1/secret/sk_1".to_owned(),
                    timestamp: 1_700_000_000,
                    nonce: "AAAAAAAAAAAAAAAAAAAAAA==".to_owned(),
                    body_sha256: [3; 32],
                    signature: [4; 64],
                })
            }),
        };
        let prev = [9u8; 32];
        let hash = chain.link(&prev, 5, &event);
        crate::chain::archived(&AuditRecord {
            seq: 5,
            event,
            prev_hash: prev,
            hash,
        })
    }

    #[test]
    fn a_line_verifies_and_any_changed_field_does_not() {
        let chain = chain();
        for evidence in [false, true] {
            let good = line(&chain, evidence);
            assert_eq!(check_line(&chain, &good), Ok(()));
            let mut edits: Vec<AuditLine> = Vec::new();
            edits.push(AuditLine {
                ts: good.ts + 1,
                ..good.clone()
            });
            edits.push(AuditLine {
                actor_id: "m_2".into(),
                ..good.clone()
            });
            edits.push(AuditLine {
                action: "secret_list".into(),
                ..good.clone()
            });
            edits.push(AuditLine {
                target: "sk_2".into(),
                ..good.clone()
            });
            edits.push(AuditLine {
                source_ip: "192.0.2.2".into(),
                ..good.clone()
            });
            edits.push(AuditLine {
                result: "denied".into(),
                ..good.clone()
            });
            edits.push(AuditLine {
                detail: "v=2".into(),
                ..good.clone()
            });
            edits.push(AuditLine {
                seq: 6,
                ..good.clone()
            });
            edits.push(AuditLine {
                prev_hash: hex::encode([8u8; 32]),
                ..good.clone()
            });
            edits.push(AuditLine {
                actor_kind: "operator".into(),
                ..good.clone()
            });
            for bad in edits {
                assert!(check_line(&chain, &bad).is_err(), "{bad:?}");
            }
        }
        // Another vault's key does not verify it.
        let other = crate::ChainKey::new(
            signet_crypto::RootKey::from_hex(&"08".repeat(32))
                .unwrap()
                .audit_key(),
        );
        assert!(check_line(&other, &line(&chain, false)).is_err());
        // Upper-case hex is refused rather than normalised.
        let good = line(&chain, false);
        let upper = AuditLine {
            hash: good.hash.to_uppercase(),
            ..good
        };
        assert!(
            check_line(&chain, &upper)
                .unwrap_err()
                .contains("lower-case")
        );
    }
}
