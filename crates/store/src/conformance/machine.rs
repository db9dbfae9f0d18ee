//! Machines, memberships and grants.

use std::sync::Arc;

use signet_proto::{MachineId, ProjectId, SecretId};

use super::fixture::{self, NOW, add_machine, add_project, add_secret};
use crate::{
    Conflict, EnrollMethod, MachineKind, MachineRecord, MachineStatus, OperatorRecord,
    PolicyVersion, Store, StoreError,
};

/// Every field reads back as stored; the listing is newest first; unknown ids are `None`.
pub async fn machines_round_trip_newest_first(store: Arc<dyn Store>) {
    let old = fixture::machine("old");
    let full = MachineRecord {
        status: MachineStatus::Approved,
        enabled: false,
        kind: MachineKind::Ephemeral,
        expires_ms: Some(NOW + fixture::HOUR),
        enrolled_via: EnrollMethod::Enrollment,
        enrollment_token_id: Some("et_0123456789".to_owned()),
        registered_ip: "2001:db8::7".to_owned(),
        allowed_cidrs: vec!["10.0.0.0/8".to_owned(), "2001:db8::/32".to_owned()],
        created_ms: NOW + 5,
        ..fixture::machine("full")
    };
    let middle = MachineRecord {
        enrolled_via: EnrollMethod::Request,
        created_ms: NOW + 1,
        ..fixture::machine("middle")
    };
    for m in [&old, &full, &middle] {
        store.insert_machine(m).await.unwrap();
    }

    assert_eq!(store.machine(&full.id).await.unwrap(), Some(full.clone()));
    assert_eq!(store.machine(&old.id).await.unwrap(), Some(old.clone()));
    assert_eq!(store.machine(&MachineId::generate()).await.unwrap(), None);
    assert_eq!(store.machines().await.unwrap(), [full, middle, old]);
}

/// One key, one principal, forever: across machines and operators, revoked machines included.
pub async fn a_key_is_unique_across_machines_and_operators(store: Arc<dyn Store>) {
    let m = fixture::machine("m");
    store.insert_machine(&m).await.unwrap();

    let twin = MachineRecord {
        public_key: m.public_key.clone(),
        ..fixture::machine("twin")
    };
    assert_eq!(
        store.insert_machine(&twin).await,
        Err(StoreError::Conflict(Conflict::PublicKey))
    );
    assert_eq!(store.machine(&twin.id).await.unwrap(), None);

    let op = OperatorRecord {
        public_key: m.public_key.clone(),
        ..fixture::operator("op", NOW)
    };
    assert_eq!(
        store.insert_operator(&op).await,
        Err(StoreError::Conflict(Conflict::PublicKey))
    );

    let op = fixture::operator("op", NOW);
    store.insert_operator(&op).await.unwrap();
    let borrower = MachineRecord {
        public_key: op.public_key.clone(),
        ..fixture::machine("borrower")
    };
    assert_eq!(
        store.insert_machine(&borrower).await,
        Err(StoreError::Conflict(Conflict::PublicKey))
    );

    store.revoke_machine(&m.id).await.unwrap();
    let heir = MachineRecord {
        public_key: m.public_key.clone(),
        ..fixture::machine("heir")
    };
    assert_eq!(
        store.insert_machine(&heir).await,
        Err(StoreError::Conflict(Conflict::PublicKey))
    );
    assert_eq!(store.machines().await.unwrap().len(), 1);
}

/// A transition happens only from the stated state.
pub async fn transitions_need_the_expected_state(store: Arc<dyn Store>) {
    let m = fixture::machine("m");
    store.insert_machine(&m).await.unwrap();

    store
        .transition_machine(&m.id, MachineStatus::Pending, MachineStatus::Approved)
        .await
        .unwrap();
    assert_eq!(
        store.machine(&m.id).await.unwrap().unwrap().status,
        MachineStatus::Approved
    );

    let again = store
        .transition_machine(&m.id, MachineStatus::Pending, MachineStatus::Denied)
        .await;
    assert_eq!(again, Err(StoreError::NotFound));
    assert_eq!(
        store.machine(&m.id).await.unwrap().unwrap().status,
        MachineStatus::Approved
    );

    let missing = store
        .transition_machine(
            &MachineId::generate(),
            MachineStatus::Pending,
            MachineStatus::Approved,
        )
        .await;
    assert_eq!(missing, Err(StoreError::NotFound));
}

/// `set_machine_enabled` and `set_machine_cidrs` change one machine, and need it.
pub async fn enabling_and_cidrs_need_the_machine(store: Arc<dyn Store>) {
    let m = add_machine(&store, "m").await;

    store.set_machine_enabled(&m.id, false).await.unwrap();
    assert!(!store.machine(&m.id).await.unwrap().unwrap().enabled);
    store.set_machine_enabled(&m.id, true).await.unwrap();
    assert!(store.machine(&m.id).await.unwrap().unwrap().enabled);

    let cidrs = vec!["10.1.0.0/16".to_owned(), "192.0.2.0/24".to_owned()];
    store.set_machine_cidrs(&m.id, &cidrs).await.unwrap();
    assert_eq!(
        store.machine(&m.id).await.unwrap().unwrap().allowed_cidrs,
        cidrs
    );
    store.set_machine_cidrs(&m.id, &cidrs[1..]).await.unwrap();
    assert_eq!(
        store.machine(&m.id).await.unwrap().unwrap().allowed_cidrs,
        &cidrs[1..]
    );
    store.set_machine_cidrs(&m.id, &[]).await.unwrap();
    assert_eq!(
        store.machine(&m.id).await.unwrap().unwrap().allowed_cidrs,
        Vec::<String>::new()
    );

    let unknown = MachineId::generate();
    assert_eq!(
        store.set_machine_enabled(&unknown, false).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        store.set_machine_cidrs(&unknown, &cidrs).await,
        Err(StoreError::NotFound)
    );
}

/// Revoking marks the machine revoked and drops all its grants and memberships, once.
pub async fn revoking_drops_grants_and_memberships(store: Arc<dyn Store>) {
    let p = add_project(&store, "p").await;
    let q = add_project(&store, "q").await;
    let s = add_secret(&store, &p.id, "s").await;
    let t = add_secret(&store, &q.id, "t").await;
    let m = add_machine(&store, "m").await;
    let bystander = add_machine(&store, "bystander").await;
    for machine in [&m.id, &bystander.id] {
        store.attach(machine, &p.id).await.unwrap();
        store.attach(machine, &q.id).await.unwrap();
        store.grant(machine, &s.id).await.unwrap();
        store.grant(machine, &t.id).await.unwrap();
    }

    store.revoke_machine(&m.id).await.unwrap();
    assert_eq!(
        store.machine(&m.id).await.unwrap().unwrap().status,
        MachineStatus::Revoked
    );
    assert_eq!(store.memberships(&m.id).await.unwrap(), []);
    assert_eq!(store.grants(&m.id).await.unwrap(), []);
    let view = store.read_view(&m.id, &s.id).await.unwrap().unwrap();
    assert!(!view.attached && !view.granted);
    assert_eq!(store.granted_secrets(&m.id, None).await.unwrap(), []);

    assert_eq!(
        store.memberships(&bystander.id).await.unwrap().len(),
        2,
        "other machines keep theirs"
    );
    assert_eq!(store.grants(&bystander.id).await.unwrap().len(), 2);

    assert_eq!(store.revoke_machine(&m.id).await, Err(StoreError::NotFound));
    assert_eq!(
        store.revoke_machine(&MachineId::generate()).await,
        Err(StoreError::NotFound)
    );
}

/// Attaching and granting twice is the same as once; both need the machine and the target.
pub async fn attach_and_grant_are_idempotent_and_need_both_rows(store: Arc<dyn Store>) {
    let p = add_project(&store, "p").await;
    let s = add_secret(&store, &p.id, "s").await;
    let m = add_machine(&store, "m").await;

    store.attach(&m.id, &p.id).await.unwrap();
    store.attach(&m.id, &p.id).await.unwrap();
    assert_eq!(
        store.memberships(&m.id).await.unwrap(),
        std::slice::from_ref(&p.id)
    );
    store.grant(&m.id, &s.id).await.unwrap();
    store.grant(&m.id, &s.id).await.unwrap();
    assert_eq!(
        store.grants(&m.id).await.unwrap(),
        std::slice::from_ref(&s.id)
    );

    let (unknown_machine, unknown_project, unknown_secret) = (
        MachineId::generate(),
        ProjectId::generate(),
        SecretId::generate(),
    );
    assert_eq!(
        store.attach(&m.id, &unknown_project).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        store.attach(&unknown_machine, &p.id).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        store.grant(&m.id, &unknown_secret).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        store.grant(&unknown_machine, &s.id).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(store.memberships(&unknown_machine).await.unwrap(), []);

    store.ungrant(&m.id, &s.id).await.unwrap();
    store.ungrant(&m.id, &s.id).await.unwrap();
    assert_eq!(store.grants(&m.id).await.unwrap(), []);
    assert_eq!(
        store.memberships(&m.id).await.unwrap(),
        [p.id],
        "ungrant leaves the membership"
    );
}

/// Detaching drops the membership and the grants on that project's secrets, and nothing else.
pub async fn detach_drops_only_that_projects_grants(store: Arc<dyn Store>) {
    let p = add_project(&store, "p").await;
    let q = add_project(&store, "q").await;
    let p1 = add_secret(&store, &p.id, "one").await;
    let p2 = add_secret(&store, &p.id, "two").await;
    let q1 = add_secret(&store, &q.id, "one").await;
    let m = add_machine(&store, "m").await;
    let other = add_machine(&store, "other").await;
    for machine in [&m.id, &other.id] {
        store.attach(machine, &p.id).await.unwrap();
        store.attach(machine, &q.id).await.unwrap();
        for s in [&p1.id, &p2.id, &q1.id] {
            store.grant(machine, s).await.unwrap();
        }
    }
    // A deleted secret still belongs to its project, so its grant goes too.
    store.delete_secret(&p2.id, NOW).await.unwrap();

    store.detach(&m.id, &p.id).await.unwrap();
    assert_eq!(
        store.memberships(&m.id).await.unwrap(),
        std::slice::from_ref(&q.id)
    );
    assert_eq!(
        store.grants(&m.id).await.unwrap(),
        std::slice::from_ref(&q1.id)
    );
    assert_eq!(store.memberships(&other.id).await.unwrap().len(), 2);
    assert_eq!(store.grants(&other.id).await.unwrap().len(), 3);

    store.detach(&m.id, &p.id).await.unwrap();
    assert_eq!(store.grants(&m.id).await.unwrap(), [q1.id]);
}

/// The lookup a signed request makes returns the machine and the current policy stamp together,
/// for an unknown id too, and the stamp follows every policy write.
pub async fn the_machine_lookup_carries_the_policy_stamp(store: Arc<dyn Store>) {
    let unknown = MachineId::generate();
    let bare = store.machine_at_policy(&unknown).await.unwrap();
    assert_eq!(bare.machine, None);
    assert_eq!(bare.policy_version, PolicyVersion(0), "no vault, no stamp");

    store.create_vault(&fixture::vault()).await.unwrap();
    let m = add_machine(&store, "stamped").await;
    let found = store.machine_at_policy(&m.id).await.unwrap();
    assert_eq!(found.machine, store.machine(&m.id).await.unwrap());
    assert_eq!(found.machine.as_ref(), Some(&m));
    assert_eq!(found.policy_version, store.policy_version().await.unwrap());

    store.set_ip_allowlist_enabled(true).await.unwrap();
    let after = store.machine_at_policy(&m.id).await.unwrap();
    assert!(after.policy_version > found.policy_version);
    assert_eq!(after.machine, Some(m.clone()));
    store
        .insert_allowlist_entry(&fixture::allowlist_entry("10.0.0.0/8", NOW))
        .await
        .unwrap();
    let missing = store.machine_at_policy(&unknown).await.unwrap();
    assert_eq!(missing.machine, None);
    assert!(missing.policy_version > after.policy_version);
    assert_eq!(
        missing.policy_version,
        store.policy_version().await.unwrap()
    );
}
