//! The hash-chained audit log.

use std::collections::BTreeMap;
use std::sync::Arc;

use signet_proto::{SessionId, UserId};

use super::fixture::{self, assert_chain, chain, event};
use crate::{
    ActorKind, AuditCheckpoint, AuditEvent, AuditFilter, AuditHead, AuditRecord, AuditResult,
    Audited, Conflict, JournalBatch, SignedEvidence, Store, StoreError,
};

fn audited(action: &str) -> Audited {
    Audited {
        event: AuditEvent {
            actor_kind: ActorKind::Operator,
            ..event("op", action, AuditResult::Ok)
        },
        chain: chain(),
    }
}

async fn actions(store: &Arc<dyn Store>) -> Vec<String> {
    let records = store.audit_range(1, 10_000).await.unwrap();
    assert_chain(&records);
    records.into_iter().map(|r| r.event.action).collect()
}

fn batch(events: Vec<AuditEvent>) -> JournalBatch {
    JournalBatch {
        events,
        read_marks: Vec::new(),
    }
}

fn seqs(records: &[AuditRecord]) -> Vec<u64> {
    records.iter().map(|r| r.seq).collect()
}

fn filter(limit: u32) -> AuditFilter {
    AuditFilter {
        limit,
        ..AuditFilter::default()
    }
}

/// An empty log has no head and no records.
pub async fn an_empty_log_has_no_head(store: Arc<dyn Store>) {
    assert_eq!(store.audit_head().await.unwrap(), None);
    assert_eq!(store.audit(&filter(10)).await.unwrap(), []);
    assert_eq!(store.audit_range(1, 10).await.unwrap(), []);
}

/// Batches get consecutive sequence numbers from 1, each record links to the one before, and
/// the head names the last.
pub async fn appends_chain_without_gaps(store: Arc<dyn Store>) {
    let first: Vec<_> = (0..3)
        .map(|i| event("a", &format!("first_{i}"), AuditResult::Ok))
        .collect();
    let second = vec![
        AuditEvent {
            detail: "why".to_owned(),
            ..event("", "login", AuditResult::Denied)
        },
        AuditEvent {
            actor_kind: ActorKind::System,
            ts_ms: fixture::NOW + 9,
            ..event("", "sweep", AuditResult::Failed)
        },
    ];
    assert_eq!(
        store
            .append_journal(batch(first.clone()), chain())
            .await
            .unwrap(),
        [1, 2, 3]
    );
    assert_eq!(
        store
            .append_journal(batch(second.clone()), chain())
            .await
            .unwrap(),
        [4, 5]
    );

    let records = store.audit_range(1, 100).await.unwrap();
    assert_chain(&records);
    let events: Vec<_> = records.iter().map(|r| r.event.clone()).collect();
    assert_eq!(events, [first, second].concat());
    assert_eq!(
        store.audit_head().await.unwrap(),
        Some(AuditHead {
            seq: 5,
            hash: records[4].hash
        })
    );
}

/// A batch without events appends nothing and leaves the head alone.
pub async fn an_empty_batch_writes_nothing(store: Arc<dyn Store>) {
    store
        .append_journal(batch(vec![event("a", "x", AuditResult::Ok)]), chain())
        .await
        .unwrap();
    let head = store.audit_head().await.unwrap();
    assert_eq!(
        store
            .append_journal(JournalBatch::default(), chain())
            .await
            .unwrap(),
        Vec::<u64>::new()
    );
    assert_eq!(store.audit_head().await.unwrap(), head);
    assert_eq!(store.audit_range(1, 10).await.unwrap().len(), 1);
}

/// Concurrent appenders still produce one gapless chain, each batch contiguous in it.
pub async fn concurrent_appenders_keep_one_chain(store: Arc<dyn Store>) {
    const TASKS: usize = 8;
    const BATCHES: usize = 25;
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let mut placed = Vec::new();
                for b in 0..BATCHES {
                    let events: Vec<_> = (0..2)
                        .map(|e| {
                            event(&format!("task_{t}"), &format!("b{b}_e{e}"), AuditResult::Ok)
                        })
                        .collect();
                    let got = store
                        .append_journal(batch(events.clone()), chain())
                        .await
                        .unwrap();
                    assert_eq!(got.len(), 2);
                    assert_eq!(got[1], got[0] + 1, "a batch's records are contiguous");
                    placed.extend(got.into_iter().zip(events));
                }
                placed
            })
        })
        .collect();
    let mut by_seq = BTreeMap::new();
    for task in tasks {
        for (seq, event) in task.await.unwrap() {
            assert!(
                by_seq.insert(seq, event).is_none(),
                "seq {seq} handed out twice"
            );
        }
    }
    let total = TASKS * BATCHES * 2;
    assert_eq!(
        by_seq.keys().copied().collect::<Vec<_>>(),
        (1..=total as u64).collect::<Vec<_>>()
    );

    let records = store.audit_range(1, 10_000).await.unwrap();
    assert_eq!(records.len(), total);
    assert_chain(&records);
    for r in &records {
        assert_eq!(
            Some(&r.event),
            by_seq.get(&r.seq),
            "record {} holds the event its appender was told",
            r.seq
        );
    }
    let last = &records[total - 1];
    assert_eq!(
        store.audit_head().await.unwrap(),
        Some(AuditHead {
            seq: last.seq,
            hash: last.hash
        })
    );
}

/// Listings are newest first, and each filter narrows them; `before_seq` pages backwards.
pub async fn listing_filters_newest_first(store: Arc<dyn Store>) {
    let events = vec![
        event("a", "read", AuditResult::Ok),
        event("b", "read", AuditResult::Denied),
        event("a", "write", AuditResult::Ok),
        event("b", "write", AuditResult::Failed),
        event("a", "read", AuditResult::Denied),
        event("a", "read", AuditResult::Ok),
    ];
    store
        .append_journal(batch(events.clone()), chain())
        .await
        .unwrap();
    let listed = async |f: AuditFilter| seqs(&store.audit(&f).await.unwrap());
    let actor = |a: &str| Some(a.to_owned());

    let all = store.audit(&filter(100)).await.unwrap();
    assert_eq!(seqs(&all), [6, 5, 4, 3, 2, 1]);
    assert_eq!(all[5].event, events[0]);
    assert_eq!(
        listed(AuditFilter {
            actor_id: actor("a"),
            ..filter(100)
        })
        .await,
        [6, 5, 3, 1]
    );
    assert_eq!(
        listed(AuditFilter {
            action: actor("read"),
            ..filter(100)
        })
        .await,
        [6, 5, 2, 1]
    );
    assert_eq!(
        listed(AuditFilter {
            actor_id: actor("a"),
            action: actor("read"),
            ..filter(100)
        })
        .await,
        [6, 5, 1]
    );
    assert_eq!(
        listed(AuditFilter {
            result: Some(AuditResult::Denied),
            ..filter(100)
        })
        .await,
        [5, 2]
    );
    assert_eq!(
        listed(AuditFilter {
            actor_id: actor("a"),
            result: Some(AuditResult::Ok),
            ..filter(100)
        })
        .await,
        [6, 3, 1]
    );
    let write_failed = AuditFilter {
        action: actor("write"),
        result: Some(AuditResult::Failed),
        ..filter(100)
    };
    assert_eq!(listed(write_failed).await, [4]);
    assert_eq!(
        listed(AuditFilter {
            actor_id: actor("nobody"),
            ..filter(100)
        })
        .await,
        Vec::<u64>::new()
    );

    assert_eq!(
        listed(AuditFilter {
            before_seq: Some(5),
            ..filter(100)
        })
        .await,
        [4, 3, 2, 1]
    );
    assert_eq!(
        listed(AuditFilter {
            before_seq: Some(5),
            actor_id: actor("a"),
            ..filter(100)
        })
        .await,
        [3, 1]
    );
    assert_eq!(listed(filter(2)).await, [6, 5]);
    assert_eq!(
        listed(AuditFilter {
            before_seq: Some(6),
            action: actor("read"),
            ..filter(2)
        })
        .await,
        [5, 2]
    );
    assert_eq!(
        listed(AuditFilter {
            before_seq: Some(1),
            ..filter(100)
        })
        .await,
        Vec::<u64>::new()
    );
}

/// No listing returns more than 1000 records.
pub async fn listing_is_capped(store: Arc<dyn Store>) {
    let events: Vec<_> = (0..1005)
        .map(|i| event("a", &format!("e{i}"), AuditResult::Ok))
        .collect();
    store.append_journal(batch(events), chain()).await.unwrap();
    let listed = store.audit(&filter(u32::MAX)).await.unwrap();
    assert_eq!(listed.len(), 1000);
    assert_eq!((listed[0].seq, listed[999].seq), (1005, 6));
}

/// Ranges start at `from` (inclusive), oldest first, at most `limit` long.
pub async fn range_pages_oldest_first(store: Arc<dyn Store>) {
    let events: Vec<_> = (0..10)
        .map(|i| event("a", &format!("e{i}"), AuditResult::Ok))
        .collect();
    store.append_journal(batch(events), chain()).await.unwrap();
    assert_eq!(seqs(&store.audit_range(3, 4).await.unwrap()), [3, 4, 5, 6]);
    assert_eq!(seqs(&store.audit_range(9, 10).await.unwrap()), [9, 10]);
    assert_eq!(seqs(&store.audit_range(0, 2).await.unwrap()), [1, 2]);
    assert_eq!(store.audit_range(11, 5).await.unwrap(), []);
    assert_chain(&store.audit_range(1, 10).await.unwrap());
}

/// `since_ms` is inclusive and `until_ms` exclusive, alone, together and with the other filters.
pub async fn listing_filters_by_time(store: Arc<dyn Store>) {
    let at = |ts_ms: i64, actor: &str| AuditEvent {
        ts_ms,
        ..event(actor, "read", AuditResult::Ok)
    };
    let events = vec![at(100, "a"), at(200, "b"), at(300, "a"), at(400, "b")];
    store.append_journal(batch(events), chain()).await.unwrap();
    let listed = async |since: Option<i64>, until: Option<i64>, actor: Option<&str>| {
        seqs(
            &store
                .audit(&AuditFilter {
                    since_ms: since,
                    until_ms: until,
                    actor_id: actor.map(str::to_owned),
                    ..filter(100)
                })
                .await
                .unwrap(),
        )
    };
    assert_eq!(listed(Some(200), None, None).await, [4, 3, 2]);
    assert_eq!(listed(None, Some(300), None).await, [2, 1]);
    assert_eq!(listed(Some(200), Some(400), None).await, [3, 2]);
    assert_eq!(listed(Some(200), Some(400), Some("a")).await, [3]);
    assert_eq!(listed(Some(500), None, None).await, Vec::<u64>::new());
    assert_eq!(listed(Some(300), Some(300), None).await, Vec::<u64>::new());
}

/// The readiness probe commits on a healthy store, and leaves the log as it was.
pub async fn a_write_probe_commits_and_changes_nothing(store: Arc<dyn Store>) {
    store.probe_write().await.unwrap();
    assert_eq!(store.audit_head().await.unwrap(), None);
    store
        .append_journal(batch(vec![event("a", "x", AuditResult::Ok)]), chain())
        .await
        .unwrap();
    let head = store.audit_head().await.unwrap();
    for _ in 0..3 {
        store.probe_write().await.unwrap();
    }
    assert_eq!(store.audit_head().await.unwrap(), head);
    assert_eq!(seqs(&store.audit(&filter(10)).await.unwrap()), [1]);
}

/// A write through an audited handle commits its record with it, chained after the head.
pub async fn an_audited_write_commits_with_its_record(store: Arc<dyn Store>) {
    store
        .append_journal(batch(vec![event("m", "before", AuditResult::Ok)]), chain())
        .await
        .unwrap();
    let p = fixture::project("p");
    store
        .audited(audited("project_create"))
        .insert_project(&p)
        .await
        .unwrap();
    assert_eq!(store.projects().await.unwrap(), [p]);
    assert_eq!(actions(&store).await, ["before", "project_create"]);
    assert_eq!(store.audit_head().await.unwrap().map(|h| h.seq), Some(2));
}

/// A write the store refuses leaves neither the change nor its record.
pub async fn a_refused_audited_write_leaves_no_record(store: Arc<dyn Store>) {
    let first = fixture::add_project(&store, "p").await;
    let again = fixture::project("p");
    assert_eq!(
        store
            .audited(audited("project_create"))
            .insert_project(&again)
            .await,
        Err(StoreError::Conflict(Conflict::ProjectName))
    );
    assert_eq!(store.projects().await.unwrap(), [first]);
    assert_eq!(actions(&store).await, Vec::<String>::new());
    assert_eq!(store.audit_head().await.unwrap(), None);
}

/// One handle, one record: a second write through it is an ordinary write.
pub async fn an_audited_handle_carries_one_record(store: Arc<dyn Store>) {
    let handle = store.audited(audited("project_create"));
    handle.insert_project(&fixture::project("a")).await.unwrap();
    handle.insert_project(&fixture::project("b")).await.unwrap();
    assert_eq!(store.projects().await.unwrap().len(), 2);
    assert_eq!(actions(&store).await, ["project_create"]);
}

/// A write whose answer is "nothing changed" does not commit the record of a change.
pub async fn a_write_that_changes_nothing_records_nothing(store: Arc<dyn Store>) {
    let revoked = store
        .audited(audited("session_revoke"))
        .revoke_session(&UserId::generate(), &SessionId::generate(), fixture::NOW)
        .await
        .unwrap();
    assert!(!revoked);
    assert_eq!(actions(&store).await, Vec::<String>::new());
}

/// Audited writes and journal appends running at once still form one gapless chain, each
/// record present exactly once.
pub async fn audited_writes_and_appends_keep_one_chain(store: Arc<dyn Store>) {
    const EACH: usize = 20;
    let mut tasks = Vec::new();
    for i in 0..EACH {
        let s = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            s.audited(audited(&format!("change_{i}")))
                .insert_project(&fixture::project(&format!("p{i}")))
                .await
                .unwrap();
        }));
        let s = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            s.append_journal(
                batch(vec![event("m", &format!("read_{i}"), AuditResult::Ok)]),
                chain(),
            )
            .await
            .unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut got = actions(&store).await;
    got.sort();
    let mut want: Vec<String> = (0..EACH)
        .flat_map(|i| [format!("change_{i}"), format!("read_{i}")])
        .collect();
    want.sort();
    assert_eq!(got, want);
    assert_eq!(store.projects().await.unwrap().len(), EACH);
}

fn signed_event(nonce: &str) -> AuditEvent {
    AuditEvent {
        evidence: Some(Arc::new(SignedEvidence {
            method: "GET".to_owned(),
            path: "/v1/secret/sk_0123456789".to_owned(),
            timestamp: fixture::NOW / 1000,
            nonce: nonce.to_owned(),
            body_sha256: [0xe3; 32],
            signature: [0x5a; 64],
        })),
        ..event("m_1", "secret_read", AuditResult::Ok)
    }
}

/// A machine's signed evidence is stored with its record, read back exactly (by a range and by
/// a listing), and covered by the link; records without it keep none.
pub async fn evidence_round_trips_and_is_linked(store: Arc<dyn Store>) {
    let events = vec![
        signed_event("AAAAAAAAAAAAAAAAAAAAAA=="),
        event("op", "audit_list", AuditResult::Ok),
        signed_event("BAAAAAAAAAAAAAAAAAAAAA=="),
    ];
    store
        .append_journal(batch(events.clone()), chain())
        .await
        .unwrap();
    let records = store.audit_range(1, 10).await.unwrap();
    assert_chain(&records);
    let got: Vec<_> = records.iter().map(|r| r.event.clone()).collect();
    assert_eq!(got, events);
    let listed = store.audit(&filter(10)).await.unwrap();
    assert_eq!(listed[0].event, events[2]);
    assert_eq!(listed[1].event.evidence, None);
    // The same through a change's own record.
    let audited = Audited {
        event: signed_event("CAAAAAAAAAAAAAAAAAAAAA=="),
        chain: chain(),
    };
    store
        .audited(audited.clone())
        .insert_project(&fixture::project("p"))
        .await
        .unwrap();
    let records = store.audit_range(1, 10).await.unwrap();
    assert_chain(&records);
    assert_eq!(records[3].event, audited.event);
}

/// A checkpoint closing `first..=last` of `records` (which start at seq 1).
fn checkpoint(records: &[AuditRecord], first: u64, last: u64, prev: [u8; 32]) -> AuditCheckpoint {
    AuditCheckpoint {
        first_seq: first,
        last_seq: last,
        last_hash: records[usize::try_from(last - 1).unwrap()].hash,
        prev_checkpoint: prev,
        segment_sha256: [u8::try_from(last).unwrap(); 32],
        signature: [7; 64],
    }
}

async fn appended(store: &Arc<dyn Store>, n: usize) -> Vec<AuditRecord> {
    let events: Vec<_> = (0..n)
        .map(|i| event("a", &format!("e{i}"), AuditResult::Ok))
        .collect();
    store.append_journal(batch(events), chain()).await.unwrap();
    store.audit_range(1, 10_000).await.unwrap()
}

/// Pruning with a checkpoint deletes exactly the covered records and records the checkpoint,
/// together with the audited handle's record, in one transaction; the same checkpoint again
/// changes nothing and records nothing; a checkpoint that does not continue the chain, or
/// names another hash, is refused with nothing deleted.
pub async fn prune_with_checkpoint_is_atomic_and_idempotent(store: Arc<dyn Store>) {
    let records = appended(&store, 10).await;
    assert_eq!(store.audit_checkpoints().await.unwrap(), []);
    let first = checkpoint(&records, 1, 4, [0; 32]);
    let note = || Audited {
        event: AuditEvent {
            actor_kind: ActorKind::System,
            ..event("", "audit_archive", AuditResult::Ok)
        },
        chain: chain(),
    };
    assert!(store.audited(note()).prune_audit(&first).await.unwrap());
    let live = store.audit_range(1, 100).await.unwrap();
    assert_eq!(seqs(&live), (5..=11).collect::<Vec<_>>());
    assert_eq!(live[..6], records[4..]);
    assert_eq!(
        live[6].event.action, "audit_archive",
        "the record came with the prune"
    );
    assert_eq!(live[6].prev_hash, records[9].hash);
    assert_eq!(store.audit_head().await.unwrap().unwrap().seq, 11);
    assert_eq!(
        store.audit_checkpoints().await.unwrap(),
        std::slice::from_ref(&first)
    );

    // Idempotent: the same checkpoint again writes nothing, not even the record.
    assert!(!store.audited(note()).prune_audit(&first).await.unwrap());
    assert_eq!(store.audit_head().await.unwrap().unwrap().seq, 11);

    let refused = [
        // Another checkpoint for a range already closed.
        AuditCheckpoint {
            segment_sha256: [1; 32],
            ..first.clone()
        },
        // Not continuing the newest checkpoint: a gap.
        checkpoint(&records, 6, 8, [0; 32]),
        // Continuing, but naming another last hash.
        AuditCheckpoint {
            last_hash: [9; 32],
            ..checkpoint(&records, 5, 8, [0; 32])
        },
    ];
    for cp in &refused {
        assert_eq!(
            store.audited(note()).prune_audit(cp).await,
            Err(StoreError::Conflict(Conflict::Id)),
            "{cp:?}"
        );
    }
    // A record that is not live (beyond the head).
    let beyond = AuditCheckpoint {
        last_seq: 50,
        ..checkpoint(&records, 5, 8, [0; 32])
    };
    assert_eq!(
        store.audited(note()).prune_audit(&beyond).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(store.audit_range(1, 100).await.unwrap(), live);
    assert_eq!(
        store.audit_checkpoints().await.unwrap(),
        std::slice::from_ref(&first)
    );

    // The next segment continues; checkpoints list oldest first.
    let second = checkpoint(&records, 5, 9, [3; 32]);
    assert!(store.prune_audit(&second).await.unwrap());
    assert_eq!(
        store.audit_checkpoints().await.unwrap(),
        [first, second.clone()]
    );
    assert_eq!(seqs(&store.audit_range(1, 100).await.unwrap()), [10, 11]);
    // Appends go on after the head as before.
    let more = store
        .append_journal(batch(vec![event("a", "after", AuditResult::Ok)]), chain())
        .await
        .unwrap();
    assert_eq!(more, [12]);
}

/// Archivers racing on the same segment (replicas) record it once: exactly one prune reports
/// the change and appends its record.
pub async fn concurrent_archivers_archive_each_range_once(store: Arc<dyn Store>) {
    let records = appended(&store, 20).await;
    let cp = checkpoint(&records, 1, 12, [0; 32]);
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = Arc::clone(&store);
            let cp = cp.clone();
            tokio::spawn(async move {
                let note = Audited {
                    event: AuditEvent {
                        actor_kind: ActorKind::System,
                        ..event("", &format!("audit_archive_{i}"), AuditResult::Ok)
                    },
                    chain: chain(),
                };
                store.audited(note).prune_audit(&cp).await.unwrap()
            })
        })
        .collect();
    let mut won = 0;
    for t in tasks {
        if t.await.unwrap() {
            won += 1;
        }
    }
    assert_eq!(won, 1, "exactly one archiver pruned the segment");
    assert_eq!(store.audit_checkpoints().await.unwrap(), [cp]);
    let live = store.audit_range(1, 100).await.unwrap();
    assert_eq!(seqs(&live), (13..=21).collect::<Vec<_>>());
    assert_eq!(store.audit_head().await.unwrap().unwrap().seq, 21);
}
