//! Trusted issuers and their rules, and platform tokens spent once across racing enrollments.

use std::collections::BTreeMap;
use std::sync::Arc;

use signet_proto::{IssuerId, IssuerRuleId, OperatorId};

use super::fixture::{self, HOUR, NOW, add_project, add_secret};
use crate::{
    Conflict, EnrollMethod, EnrollmentGrant, IssuerRecord, IssuerRuleRecord, MachineKind,
    MachineRecord, MachineStatus, PlatformTokenUse, Store, StoreError,
};

pub(super) fn issuer(name: &str) -> IssuerRecord {
    IssuerRecord {
        id: IssuerId::generate(),
        name: name.to_owned(),
        issuer: format!("https://{name}.example"),
        pinned_jwks: None,
        audience: "signet".to_owned(),
        algorithms: vec!["RS256".to_owned(), "EdDSA".to_owned()],
        leeway_secs: 60,
        created_by: OperatorId::generate(),
        created_ms: NOW,
        updated_ms: NOW,
    }
}

pub(super) fn rule(issuer: &IssuerId, position: u32) -> IssuerRuleRecord {
    IssuerRuleRecord {
        id: IssuerRuleId::generate(),
        issuer_id: issuer.clone(),
        position,
        name: format!("rule {position}"),
        claims: BTreeMap::from([
            ("repository".to_owned(), "acme/api".to_owned()),
            ("ref".to_owned(), format!("refs/heads/r{position}")),
        ]),
        project_ids: Vec::new(),
        secret_ids: Vec::new(),
        machine_ttl_secs: 600,
        created_ms: NOW + i64::from(position),
    }
}

pub(super) fn workload(name: &str) -> MachineRecord {
    MachineRecord {
        status: MachineStatus::Approved,
        kind: MachineKind::Ephemeral,
        expires_ms: Some(NOW + HOUR),
        enrolled_via: EnrollMethod::Enrollment,
        ..fixture::machine(name)
    }
}

pub(super) fn nothing() -> EnrollmentGrant {
    EnrollmentGrant {
        project_ids: Vec::new(),
        secret_ids: Vec::new(),
    }
}

/// Issuers read back as stored; names and issuer URLs are unique; updates and deletes need
/// the issuer, and a delete takes its rules.
pub async fn issuers_round_trip_with_unique_names_and_urls(store: Arc<dyn Store>) {
    let a = IssuerRecord {
        pinned_jwks: Some(r#"{"keys":[]}"#.to_owned()),
        ..issuer("a")
    };
    let b = issuer("b");
    store.insert_issuer(&b).await.unwrap();
    store.insert_issuer(&a).await.unwrap();
    assert_eq!(store.issuers().await.unwrap(), vec![a.clone(), b.clone()]);
    assert_eq!(store.issuer(&a.id).await.unwrap(), Some(a.clone()));
    assert_eq!(store.issuer(&IssuerId::generate()).await.unwrap(), None);
    assert_eq!(
        store.issuer_by_url("https://b.example").await.unwrap(),
        Some(b.clone())
    );
    // Exact: no trailing slash, no case folding.
    assert_eq!(
        store.issuer_by_url("https://b.example/").await.unwrap(),
        None
    );
    assert_eq!(
        store.issuer_by_url("https://B.example").await.unwrap(),
        None
    );

    let same_name = IssuerRecord {
        issuer: "https://elsewhere.example".to_owned(),
        ..issuer("a")
    };
    let same_url = IssuerRecord {
        issuer: a.issuer.clone(),
        ..issuer("c")
    };
    for dup in [same_name, same_url] {
        assert_eq!(
            store.insert_issuer(&dup).await,
            Err(StoreError::Conflict(Conflict::IssuerName))
        );
    }

    let changed = IssuerRecord {
        name: "a2".to_owned(),
        pinned_jwks: Some(r#"{"keys":[{"kty":"OKP"}]}"#.to_owned()),
        audience: "other".to_owned(),
        algorithms: vec!["ES256".to_owned()],
        leeway_secs: 5,
        updated_ms: NOW + 1,
        ..a.clone()
    };
    store.update_issuer(&changed).await.unwrap();
    assert_eq!(store.issuer(&a.id).await.unwrap(), Some(changed.clone()));
    assert_eq!(
        store
            .update_issuer(&IssuerRecord {
                name: "b".to_owned(),
                ..changed.clone()
            })
            .await,
        Err(StoreError::Conflict(Conflict::IssuerName))
    );
    assert_eq!(
        store.update_issuer(&issuer("ghost")).await,
        Err(StoreError::NotFound)
    );

    store.insert_issuer_rule(&rule(&a.id, 1)).await.unwrap();
    store.delete_issuer(&a.id).await.unwrap();
    assert_eq!(store.issuer(&a.id).await.unwrap(), None);
    assert_eq!(store.issuer_rules(&a.id).await.unwrap(), []);
    assert_eq!(store.delete_issuer(&a.id).await, Err(StoreError::NotFound));
    assert_eq!(store.issuers().await.unwrap(), vec![b]);
}

/// Rules list in position order, positions are unique per issuer, and a rule belongs to one
/// issuer.
pub async fn rules_keep_their_order_and_their_issuer(store: Arc<dyn Store>) {
    let a = issuer("a");
    let b = issuer("b");
    store.insert_issuer(&a).await.unwrap();
    store.insert_issuer(&b).await.unwrap();
    let p = add_project(&store, "p").await;
    let s = add_secret(&store, &p.id, "s").await;
    let second = IssuerRuleRecord {
        project_ids: vec![p.id.clone()],
        secret_ids: vec![s.id.clone()],
        ..rule(&a.id, 2)
    };
    let first = rule(&a.id, 1);
    store.insert_issuer_rule(&second).await.unwrap();
    store.insert_issuer_rule(&first).await.unwrap();
    // Another issuer may use the same positions.
    let other = rule(&b.id, 1);
    store.insert_issuer_rule(&other).await.unwrap();
    assert_eq!(
        store.issuer_rules(&a.id).await.unwrap(),
        vec![first.clone(), second.clone()]
    );
    assert_eq!(
        store.insert_issuer_rule(&rule(&a.id, 2)).await,
        Err(StoreError::Conflict(Conflict::Id))
    );
    assert_eq!(
        store
            .insert_issuer_rule(&rule(&IssuerId::generate(), 1))
            .await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        store.delete_issuer_rule(&b.id, &first.id).await,
        Err(StoreError::NotFound)
    );
    store.delete_issuer_rule(&a.id, &first.id).await.unwrap();
    assert_eq!(store.issuer_rules(&a.id).await.unwrap(), vec![second]);
    assert_eq!(store.issuer_rules(&b.id).await.unwrap(), vec![other]);
}

/// A platform token registers one machine with its grant; the same token again registers
/// nothing; once its time has passed the row is forgotten.
pub async fn a_platform_token_enrolls_once(store: Arc<dyn Store>) {
    let p = add_project(&store, "p").await;
    let s = add_secret(&store, &p.id, "s").await;
    let q = add_project(&store, "q").await;
    let elsewhere = add_secret(&store, &q.id, "t").await;
    let token = PlatformTokenUse {
        digest: fixture::random32(),
        forget_after_ms: NOW + HOUR,
    };
    let grant = EnrollmentGrant {
        project_ids: vec![p.id.clone()],
        secret_ids: vec![s.id.clone(), elsewhere.id.clone()],
    };
    let m = workload("ci");
    store
        .enroll_with_platform_token(&token, NOW, &m, &grant)
        .await
        .unwrap();
    assert_eq!(store.machine(&m.id).await.unwrap(), Some(m.clone()));
    assert_eq!(store.memberships(&m.id).await.unwrap(), vec![p.id.clone()]);
    assert_eq!(store.grants(&m.id).await.unwrap(), vec![s.id.clone()]);

    let again = workload("ci-again");
    assert_eq!(
        store
            .enroll_with_platform_token(&token, NOW + 1, &again, &grant)
            .await,
        Err(StoreError::NotFound)
    );
    assert_eq!(store.machine(&again.id).await.unwrap(), None);

    // Past its time the token is refused upstream as expired; the row may go.
    let later = workload("later");
    store
        .enroll_with_platform_token(&token, NOW + HOUR + 1, &later, &nothing())
        .await
        .unwrap();
    assert!(store.machine(&later.id).await.unwrap().is_some());
}

/// Racing enrollments with one token: exactly one machine.
pub async fn concurrent_platform_token_enrollments_let_one_win(store: Arc<dyn Store>) {
    let token = PlatformTokenUse {
        digest: fixture::random32(),
        forget_after_ms: NOW + HOUR,
    };
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                store
                    .enroll_with_platform_token(
                        &token,
                        NOW,
                        &workload(&format!("ci-{i}")),
                        &nothing(),
                    )
                    .await
            })
        })
        .collect();
    let mut won = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => won += 1,
            Err(e) => assert_eq!(e, StoreError::NotFound),
        }
    }
    assert_eq!(won, 1);
    assert_eq!(store.machines().await.unwrap().len(), 1);
}
