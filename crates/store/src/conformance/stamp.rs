//! The access stamp (`AccessStamp`): moved by every committed change to access data, by
//! nothing else on the read path, and returned with the nonce and the machine lookup.

use std::sync::Arc;

use signet_proto::{MachineId, PolicyId};

use super::fixture::{
    self, FAR_FUTURE, NOW, add_machine, add_project, add_secret, event, sealed, version,
};
use crate::{
    AccessStamp, AuditResult, Deletion, JournalBatch, MachineStatus, PolicyRecord, ReadMark, Store,
    StoreError,
};

async fn stamp(store: &Arc<dyn Store>) -> AccessStamp {
    store.access_stamp().await.unwrap()
}

/// Asserts that the stamp moved forward since `before`, naming the change; returns the new one.
async fn moved(store: &Arc<dyn Store>, before: AccessStamp, what: &str) -> AccessStamp {
    let now = stamp(store).await;
    assert!(now > before, "{what} left the access stamp at {before:?}");
    now
}

/// Every kind of change a machine's record or a read view is built from moves the stamp, each
/// in its own write.
pub async fn every_access_change_moves_the_stamp(store: Arc<dyn Store>) {
    let mut s = stamp(&store).await;
    store.create_vault(&fixture::vault()).await.unwrap();
    s = moved(&store, s, "creating the vault").await;
    store.set_ip_allowlist_enabled(true).await.unwrap();
    s = moved(&store, s, "enabling the allowlist").await;
    let entry = fixture::allowlist_entry("10.0.0.0/8", NOW);
    store.insert_allowlist_entry(&entry).await.unwrap();
    s = moved(&store, s, "an allowlist entry").await;
    store.remove_allowlist_entry(&entry.id).await.unwrap();
    s = moved(&store, s, "removing an allowlist entry").await;

    let m = fixture::machine("m");
    store.insert_machine(&m).await.unwrap();
    s = moved(&store, s, "a new machine").await;
    store
        .transition_machine(&m.id, MachineStatus::Pending, MachineStatus::Approved)
        .await
        .unwrap();
    s = moved(&store, s, "approving a machine").await;
    store.set_machine_enabled(&m.id, false).await.unwrap();
    s = moved(&store, s, "disabling a machine").await;
    store
        .set_machine_cidrs(&m.id, &["10.0.0.0/8".to_owned()])
        .await
        .unwrap();
    s = moved(&store, s, "a machine's CIDRs").await;

    let p = add_project(&store, "p").await;
    s = moved(&store, s, "a new project").await;
    let secret = add_secret(&store, &p.id, "db").await;
    s = moved(&store, s, "a new secret").await;
    store.attach(&m.id, &p.id).await.unwrap();
    s = moved(&store, s, "a membership").await;
    store.grant(&m.id, &secret.id).await.unwrap();
    s = moved(&store, s, "a grant").await;
    store
        .append_version(&secret.id, 1, &version(sealed(2), NOW + 1))
        .await
        .unwrap();
    s = moved(&store, s, "a new version").await;
    store.freeze_project(&p.id, NOW).await.unwrap();
    s = moved(&store, s, "a freeze").await;
    store.unfreeze_project(&p.id).await.unwrap();
    s = moved(&store, s, "an unfreeze").await;

    let policy = PolicyRecord {
        id: PolicyId::generate(),
        project_id: p.id.clone(),
        name: "office-hours".to_owned(),
        rules: "{}".to_owned(),
        created_ms: NOW,
        updated_ms: NOW,
    };
    store.insert_policy(&policy).await.unwrap();
    s = moved(&store, s, "a new policy").await;
    store
        .bind_policy(&secret.id, Some(&policy.id))
        .await
        .unwrap();
    s = moved(&store, s, "binding a policy").await;
    store
        .update_policy(&policy.id, "office-hours", "{\"x\":1}", NOW + 2)
        .await
        .unwrap();
    s = moved(&store, s, "changing a policy's rules").await;

    store.ungrant(&m.id, &secret.id).await.unwrap();
    s = moved(&store, s, "removing a grant").await;
    store.detach(&m.id, &p.id).await.unwrap();
    s = moved(&store, s, "a detach").await;
    let deletion = Deletion {
        at_ms: NOW + 3,
        by_id: "op".to_owned(),
        by_name: "op".to_owned(),
    };
    store.trash_secret(&secret.id, &deletion).await.unwrap();
    s = moved(&store, s, "trashing a secret").await;
    store.restore_secret(&secret.id).await.unwrap();
    s = moved(&store, s, "restoring a secret").await;
    store.trash_project(&p.id, &deletion).await.unwrap();
    s = moved(&store, s, "trashing a project").await;
    store.restore_project(&p.id).await.unwrap();
    s = moved(&store, s, "restoring a project").await;
    store.revoke_machine(&m.id).await.unwrap();
    moved(&store, s, "revoking a machine").await;
}

/// Reading, remembering nonces and appending audit records (with read marks) leave the stamp
/// alone: the read path would otherwise outdate its own cache on every request. A write that
/// fails leaves it too.
pub async fn the_read_path_leaves_the_stamp(store: Arc<dyn Store>) {
    store.create_vault(&fixture::vault()).await.unwrap();
    let m = add_machine(&store, "m").await;
    let p = add_project(&store, "p").await;
    let secret = add_secret(&store, &p.id, "db").await;
    store.attach(&m.id, &p.id).await.unwrap();
    store.grant(&m.id, &secret.id).await.unwrap();
    let before = stamp(&store).await;

    assert!(store.read_view(&m.id, &secret.id).await.unwrap().is_some());
    store.machine_at_policy(&m.id).await.unwrap();
    assert!(
        store
            .remember_nonce("m:x", "n-1", FAR_FUTURE)
            .await
            .unwrap()
    );
    assert!(
        store
            .remember_nonce_at_stamp("m:x", "n-2", FAR_FUTURE)
            .await
            .unwrap()
            .is_some()
    );
    let batch = JournalBatch {
        events: vec![event("m", "secret_read", AuditResult::Ok)],
        read_marks: vec![ReadMark {
            machine: m.id,
            secret: secret.id.clone(),
            version: 1,
        }],
    };
    store.append_journal(batch, fixture::chain()).await.unwrap();
    assert!(
        store.insert_machine(&m).await.is_err(),
        "a duplicate machine is refused"
    );
    assert!(matches!(
        store.grant(&MachineId::generate(), &secret.id).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(stamp(&store).await, before);
}

/// The nonce's statement returns the current stamp for a new pair and nothing for a replay;
/// the machine lookup returns the stamp its own statement saw.
pub async fn the_stamp_comes_with_the_nonce_and_the_lookup(store: Arc<dyn Store>) {
    store.create_vault(&fixture::vault()).await.unwrap();
    let m = add_machine(&store, "m").await;
    let now = stamp(&store).await;
    assert_eq!(
        store
            .remember_nonce_at_stamp("m:x", "n-1", FAR_FUTURE)
            .await
            .unwrap(),
        Some(now)
    );
    assert_eq!(
        store
            .remember_nonce_at_stamp("m:x", "n-1", FAR_FUTURE)
            .await
            .unwrap(),
        None,
        "a replay is refused"
    );
    assert!(
        !store
            .remember_nonce("m:x", "n-1", FAR_FUTURE)
            .await
            .unwrap(),
        "the plain call sees the same pairs"
    );
    assert_eq!(
        store.machine_at_policy(&m.id).await.unwrap().access_stamp,
        now
    );
    assert_eq!(
        store
            .machine_at_policy(&MachineId::generate())
            .await
            .unwrap()
            .access_stamp,
        now,
        "an unknown id still carries the stamp"
    );

    store.set_machine_enabled(&m.id, false).await.unwrap();
    let later = store
        .remember_nonce_at_stamp("m:x", "n-2", FAR_FUTURE)
        .await
        .unwrap()
        .unwrap();
    assert!(later > now);
    assert_eq!(later, stamp(&store).await);
    let found = store.machine_at_policy(&m.id).await.unwrap();
    assert_eq!(found.access_stamp, later);
    assert!(!found.machine.unwrap().enabled);
}
