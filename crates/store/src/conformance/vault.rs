//! The vault row and its settings.

use std::sync::Arc;

use super::fixture;
use crate::{Conflict, PolicyVersion, Store, StoreError, VaultRecord};

/// Before `create_vault`, there is none.
pub async fn a_fresh_store_has_no_vault(store: Arc<dyn Store>) {
    assert_eq!(store.vault().await.unwrap(), None);
}

/// `create_vault` stores the record as given, once; a second is `Conflict::Vault`.
pub async fn the_vault_is_created_once(store: Arc<dyn Store>) {
    let v = fixture::vault();
    store.create_vault(&v).await.unwrap();
    assert_eq!(store.vault().await.unwrap(), Some(v.clone()));

    assert_eq!(
        store.create_vault(&fixture::vault()).await,
        Err(StoreError::Conflict(Conflict::Vault))
    );
    assert_eq!(store.vault().await.unwrap(), Some(v));
}

/// Each setting changes on its own and reads back.
pub async fn vault_settings_change(store: Arc<dyn Store>) {
    let v = fixture::vault();
    store.create_vault(&v).await.unwrap();

    store.set_tokenless_enrollment(true).await.unwrap();
    let got = store.vault().await.unwrap().unwrap();
    assert!(got.tokenless_enrollment);
    assert!(!got.ip_allowlist_enabled);

    store.set_ip_allowlist_enabled(true).await.unwrap();
    store.set_tokenless_enrollment(false).await.unwrap();
    let got = store.vault().await.unwrap().unwrap();
    assert!(!got.tokenless_enrollment);
    assert!(got.ip_allowlist_enabled);
    assert_eq!(got.id, v.id);
    assert_eq!(got.key_check, v.key_check);
    assert_eq!(got.cli_key_ttl_ms, v.cli_key_ttl_ms);

    store.set_cli_key_ttl(3_600_000).await.unwrap();
    assert_eq!(
        store.vault().await.unwrap().unwrap().cli_key_ttl_ms,
        3_600_000
    );
}

/// The proof-of-possession requirement is off on a new vault (SikkerKey SDKs cannot send a
/// proof), turns on and off on its own, and leaves the other settings alone.
pub async fn enrollment_proof_requirement_changes(store: Arc<dyn Store>) {
    let v = fixture::vault();
    assert!(!v.enrollment_proof_required);
    store.create_vault(&v).await.unwrap();
    assert!(
        !store
            .vault()
            .await
            .unwrap()
            .unwrap()
            .enrollment_proof_required
    );

    store.set_enrollment_proof_required(true).await.unwrap();
    let got = store.vault().await.unwrap().unwrap();
    assert!(got.enrollment_proof_required);
    assert_eq!(
        VaultRecord {
            enrollment_proof_required: false,
            sso_required: false,
            break_glass_user: None,
            sso_trust_provider_mfa: false,
            ..got
        },
        v
    );

    store.set_enrollment_proof_required(false).await.unwrap();
    assert_eq!(store.vault().await.unwrap(), Some(v));
}

/// Every write to the settings or the allowlist advances the policy stamp; reads, other writes
/// and failed writes leave it. Zero before the vault exists.
pub async fn every_policy_write_advances_the_stamp(store: Arc<dyn Store>) {
    assert_eq!(store.policy_version().await.unwrap(), PolicyVersion(0));
    store.create_vault(&fixture::vault()).await.unwrap();
    let mut last = store.policy_version().await.unwrap();

    let entry = fixture::allowlist_entry("10.8.0.0/16", fixture::NOW);
    let mut advanced = |now: PolicyVersion, what: &str| {
        assert!(
            now > last,
            "{what} must advance the stamp: {now:?} after {last:?}"
        );
        last = now;
    };
    store.set_ip_allowlist_enabled(true).await.unwrap();
    advanced(
        store.policy_version().await.unwrap(),
        "enabling the allowlist",
    );
    store.insert_allowlist_entry(&entry).await.unwrap();
    advanced(store.policy_version().await.unwrap(), "adding an entry");
    store.remove_allowlist_entry(&entry.id).await.unwrap();
    advanced(store.policy_version().await.unwrap(), "removing an entry");
    store.set_ip_allowlist_enabled(false).await.unwrap();
    advanced(
        store.policy_version().await.unwrap(),
        "disabling the allowlist",
    );
    store.set_tokenless_enrollment(true).await.unwrap();
    advanced(
        store.policy_version().await.unwrap(),
        "tokenless enrollment",
    );
    store.set_cli_key_ttl(3_600_000).await.unwrap();
    advanced(
        store.policy_version().await.unwrap(),
        "the CLI key lifetime",
    );
    store.set_enrollment_proof_required(true).await.unwrap();
    advanced(
        store.policy_version().await.unwrap(),
        "the enrollment proof requirement",
    );

    // Failed writes roll back with their stamp; reads and unrelated writes leave it.
    let twin = fixture::allowlist_entry("10.9.0.0/16", fixture::NOW);
    store.insert_allowlist_entry(&twin).await.unwrap();
    let before = store.policy_version().await.unwrap();
    let same_cidr = fixture::allowlist_entry("10.9.0.0/16", fixture::NOW + 1);
    assert_eq!(
        store.insert_allowlist_entry(&same_cidr).await,
        Err(StoreError::Conflict(Conflict::Cidr))
    );
    assert_eq!(
        store.remove_allowlist_entry("ip_missing").await,
        Err(StoreError::NotFound)
    );
    store.vault().await.unwrap();
    store.allowlist().await.unwrap();
    fixture::add_machine(&store, "unrelated").await;
    assert_eq!(store.policy_version().await.unwrap(), before);
}
