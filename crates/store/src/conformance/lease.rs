//! Leased secrets and leases: settings, the active lease, renewal up to the hard maximum, and
//! the reaper's claim and finish, each exactly once.

use std::sync::Arc;

use signet_proto::{LeaseId, MachineId, ProjectId, SecretId};

use super::connection::{leased, record};
use super::fixture::{self, add_machine, add_project, add_secret, chain};
use crate::{
    ActorKind, AuditEvent, AuditFilter, AuditResult, Audited, Conflict, LeaseFilter, LeaseRecord,
    LeaseState, Store, StoreError,
};

const NOW: i64 = 1_800_000_000_000;

fn lease(secret: &SecretId, project: &ProjectId, machine: MachineId, c: &str) -> LeaseRecord {
    LeaseRecord {
        key_generation: 0,
        id: LeaseId::generate(),
        secret_id: secret.clone(),
        project_id: project.clone(),
        machine_id: machine,
        connection_id: c.parse().unwrap(),
        role_name: format!(
            "signet_{}",
            LeaseId::generate().as_str()[6..].to_lowercase()
        ),
        password_wrapped_dek: vec![5; 60],
        password_ciphertext: vec![6; 40],
        created_ms: NOW,
        expires_ms: NOW + 60_000,
        max_expires_ms: NOW + 600_000,
        state: LeaseState::Active,
        claim_until_ms: None,
        revoked_ms: None,
        revoke_reason: None,
    }
}

fn audited(action: &str) -> Audited {
    Audited {
        event: AuditEvent {
            actor_kind: ActorKind::System,
            ..fixture::event("reaper", action, AuditResult::Ok)
        },
        chain: chain(),
    }
}

/// Settings round-trip and are replaced; a lease round-trips, lists by filter, and is the
/// machine's active one until it expires; renewal stops at the hard maximum.
pub async fn leases_round_trip_and_renew_up_to_the_maximum(store: Arc<dyn Store>) {
    let p = add_project(&store, "p").await;
    let s = add_secret(&store, &p.id, "s").await;
    let c = record(&p.id, "c");
    store.insert_connection(&c).await.unwrap();
    let mut settings = leased(&s, &c.id);
    store.set_leased_secret(&settings).await.unwrap();
    assert_eq!(
        store.leased_secret(&s.id).await.unwrap(),
        Some(settings.clone())
    );
    settings.mint_fresh = true;
    settings.grant_sql = vec!["a".to_owned(), "b".to_owned()];
    store.set_leased_secret(&settings).await.unwrap();
    assert_eq!(store.leased_secret(&s.id).await.unwrap(), Some(settings));
    assert_eq!(
        store.leased_secret(&SecretId::generate()).await.unwrap(),
        None
    );

    let m = add_machine(&store, "m").await;
    let other = add_machine(&store, "o").await;
    let l = lease(&s.id, &p.id, m.id, c.id.as_str());
    store.insert_lease(&l).await.unwrap();
    assert_eq!(store.insert_lease(&l).await.map_err(|_| ()), Err(()));
    let l2 = LeaseRecord {
        created_ms: NOW + 1,
        ..lease(&s.id, &p.id, other.id, c.id.as_str())
    };
    store.insert_lease(&l2).await.unwrap();
    assert_eq!(store.lease(&l.id).await.unwrap(), Some(l.clone()));
    let all = store.leases(&LeaseFilter::default(), 10).await.unwrap();
    assert_eq!(all, [l2.clone(), l.clone()]);
    let mine = LeaseFilter {
        machine: Some(m.id),
        ..LeaseFilter::default()
    };
    assert_eq!(
        store.leases(&mine, 10).await.unwrap(),
        std::slice::from_ref(&l)
    );
    let elsewhere = LeaseFilter {
        projects: Some(vec![ProjectId::generate()]),
        ..LeaseFilter::default()
    };
    assert!(store.leases(&elsewhere, 10).await.unwrap().is_empty());
    assert_eq!(
        store
            .leases(&LeaseFilter::default(), 1)
            .await
            .unwrap()
            .len(),
        1
    );

    assert_eq!(
        store.active_lease(&m.id, &s.id, NOW).await.unwrap(),
        Some(l.clone())
    );
    assert_eq!(
        store
            .active_lease(&m.id, &s.id, NOW + 60_000)
            .await
            .unwrap(),
        None
    );
    store
        .renew_lease(&l.id, NOW + 120_000, NOW + 1)
        .await
        .unwrap();
    assert_eq!(
        store.renew_lease(&l.id, NOW + 600_001, NOW + 2).await,
        Err(StoreError::NotFound),
        "past the hard maximum"
    );
    assert_eq!(
        store.renew_lease(&l.id, NOW + 130_000, NOW + 120_000).await,
        Err(StoreError::NotFound),
        "already expired"
    );
    assert_eq!(
        store.lease(&l.id).await.unwrap().unwrap().expires_ms,
        NOW + 120_000
    );
}

/// A read view carries a leased secret's settings, joined into its one query, and none for
/// a plain secret; the export's views too, and the listing says which is leased.
pub async fn a_read_view_carries_the_lease_settings(store: Arc<dyn Store>) {
    let p = add_project(&store, "p").await;
    let s = add_secret(&store, &p.id, "leased").await;
    let plain = add_secret(&store, &p.id, "plain").await;
    let c = record(&p.id, "c");
    store.insert_connection(&c).await.unwrap();
    let settings = leased(&s, &c.id);
    store.set_leased_secret(&settings).await.unwrap();
    let m = add_machine(&store, "m").await;
    store.attach(&m.id, &p.id).await.unwrap();
    for secret in [&s.id, &plain.id] {
        store.grant(&m.id, secret).await.unwrap();
    }
    let view = store.read_view(&m.id, &s.id).await.unwrap().unwrap();
    assert_eq!(view.leased, Some(settings.clone()));
    let view = store.read_view(&m.id, &plain.id).await.unwrap().unwrap();
    assert_eq!(view.leased, None);
    let exported: Vec<_> = store
        .granted_read_views(&m.id, Some(&p.id))
        .await
        .unwrap()
        .into_iter()
        .map(|v| (v.secret.name, v.leased))
        .collect();
    assert_eq!(
        exported,
        [
            ("leased".to_owned(), Some(settings)),
            ("plain".to_owned(), None)
        ]
    );
    let listed: Vec<_> = store
        .granted_secrets(&m.id, Some(&p.id))
        .await
        .unwrap()
        .into_iter()
        .map(|g| (g.secret.name, g.leased))
        .collect();
    assert_eq!(
        listed,
        [("leased".to_owned(), true), ("plain".to_owned(), false)]
    );
}

/// A machine holds one reusable active lease per secret that is not mint-fresh: of racing
/// inserts exactly one is written (the others `Conflict::LeaseState`, with their audit records
/// rolled back); an expired one still active no longer counts; other machines and mint-fresh
/// secrets are not limited.
pub async fn a_machine_holds_one_reusable_lease_per_secret(store: Arc<dyn Store>) {
    store.create_vault(&fixture::vault()).await.unwrap();
    let p = add_project(&store, "p").await;
    let s = add_secret(&store, &p.id, "s").await;
    let c = record(&p.id, "c");
    store.insert_connection(&c).await.unwrap();
    let mut settings = leased(&s, &c.id);
    store.set_leased_secret(&settings).await.unwrap();
    let m = add_machine(&store, "m").await;
    let other = add_machine(&store, "o").await;

    let racing: Vec<_> = (0..8)
        .map(|_| lease(&s.id, &p.id, m.id, c.id.as_str()))
        .collect();
    let tasks: Vec<_> = racing
        .iter()
        .map(|l| {
            let (store, l) = (store.clone(), l.clone());
            tokio::spawn(async move {
                store
                    .audited(audited("lease_create"))
                    .insert_lease(&l)
                    .await
            })
        })
        .collect();
    let mut won = Vec::new();
    for (t, l) in tasks.into_iter().zip(&racing) {
        match t.await.unwrap() {
            Ok(()) => won.push(l.clone()),
            Err(e) => assert_eq!(e, StoreError::Conflict(Conflict::LeaseState)),
        }
    }
    assert_eq!(won.len(), 1);
    assert_eq!(
        store.active_lease(&m.id, &s.id, NOW).await.unwrap(),
        Some(won[0].clone())
    );
    let records = store
        .audit(&AuditFilter {
            action: Some("lease_create".to_owned()),
            limit: 100,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(records.len(), 1, "a lost insert leaves no record");

    // Another machine's lease is its own.
    store
        .insert_lease(&lease(&s.id, &p.id, other.id, c.id.as_str()))
        .await
        .unwrap();
    // Once the first has expired (not yet reaped), a new one takes its place; the old one
    // stays due.
    let later = LeaseRecord {
        created_ms: NOW + 60_000,
        expires_ms: NOW + 120_000,
        ..lease(&s.id, &p.id, m.id, c.id.as_str())
    };
    store.insert_lease(&later).await.unwrap();
    assert_eq!(
        store
            .active_lease(&m.id, &s.id, NOW + 60_000)
            .await
            .unwrap(),
        Some(later.clone())
    );
    assert!(
        store
            .due_leases(NOW + 60_000, 10)
            .await
            .unwrap()
            .contains(&won[0])
    );
    // A mint-fresh secret's leases are never reused, so any number may be active.
    settings.mint_fresh = true;
    store.set_leased_secret(&settings).await.unwrap();
    for _ in 0..2 {
        store
            .insert_lease(&LeaseRecord {
                created_ms: NOW + 60_001,
                ..lease(&s.id, &p.id, m.id, c.id.as_str())
            })
            .await
            .unwrap();
    }
    let mine = LeaseFilter {
        machine: Some(m.id),
        ..LeaseFilter::default()
    };
    assert_eq!(store.leases(&mine, 10).await.unwrap().len(), 4);
}

/// Due leases are listed; of racing claims one wins; only the winning claim finishes (with
/// its one audit record); a claim whose deadline passed is taken over.
pub async fn a_due_lease_is_revoked_once(store: Arc<dyn Store>) {
    let p = add_project(&store, "p").await;
    let s = add_secret(&store, &p.id, "s").await;
    let c = record(&p.id, "c");
    store.insert_connection(&c).await.unwrap();
    store.set_leased_secret(&leased(&s, &c.id)).await.unwrap();
    let m = add_machine(&store, "m").await;
    let l = lease(&s.id, &p.id, m.id, c.id.as_str());
    store.insert_lease(&l).await.unwrap();
    assert!(store.due_leases(NOW, 10).await.unwrap().is_empty());
    let due = NOW + 60_000;
    assert_eq!(
        store.due_leases(due, 10).await.unwrap(),
        std::slice::from_ref(&l)
    );
    assert_eq!(
        store.disable_revocable_leases(&m.id).await.unwrap(),
        std::slice::from_ref(&l)
    );

    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let (store, id) = (Arc::clone(&store), l.id.clone());
            tokio::spawn(async move { store.claim_lease(&id, due, due + 30_000 + i).await })
        })
        .collect();
    let mut won = Vec::new();
    for (i, task) in tasks.into_iter().enumerate() {
        match task.await.unwrap() {
            Ok(()) => won.push(i as i64),
            Err(e) => assert_eq!(e, StoreError::NotFound),
        }
    }
    assert_eq!(won.len(), 1);
    let claim = due + 30_000 + won[0];
    let claimed = store.lease(&l.id).await.unwrap().unwrap();
    assert_eq!(claimed.state, LeaseState::Revoking);
    assert_eq!(claimed.claim_until_ms, Some(claim));
    // Not due again while the claim holds; due again once it passes.
    assert!(store.due_leases(due + 1, 10).await.unwrap().is_empty());
    assert_eq!(store.due_leases(claim, 10).await.unwrap().len(), 1);

    // A stale claim (another deadline) cannot finish, and writes no record.
    assert_eq!(
        store
            .audited(audited("lease_revoke"))
            .finish_lease(&l.id, claim + 1, due + 2, "expired")
            .await,
        Err(StoreError::NotFound)
    );
    assert!(store.audit_range(1, 10).await.unwrap().is_empty());
    // The claim's deadline passed: another reaper takes over, and only its claim finishes.
    store
        .claim_lease(&l.id, claim, claim + 30_000)
        .await
        .unwrap();
    assert_eq!(
        store.finish_lease(&l.id, claim, claim + 1, "expired").await,
        Err(StoreError::NotFound)
    );
    store
        .audited(audited("lease_revoke"))
        .finish_lease(&l.id, claim + 30_000, claim + 2, "expired")
        .await
        .unwrap();
    assert_eq!(store.audit_range(1, 10).await.unwrap().len(), 1);
    let done = store.lease(&l.id).await.unwrap().unwrap();
    assert_eq!(done.state, LeaseState::Revoked);
    assert_eq!(done.revoked_ms, Some(claim + 2));
    assert_eq!(done.revoke_reason.as_deref(), Some("expired"));
    assert_eq!(done.claim_until_ms, None);
    // Revoked is final.
    assert_eq!(
        store
            .claim_lease(&l.id, claim + 99_999, claim + 200_000)
            .await,
        Err(StoreError::NotFound)
    );
    assert!(store.due_leases(i64::MAX, 10).await.unwrap().is_empty());
    assert!(
        store
            .disable_revocable_leases(&m.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.active_lease(&m.id, &s.id, NOW).await.unwrap(), None);
}
