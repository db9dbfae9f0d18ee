//! SSO providers, mappings, linked identities, and attempts consumed and finished once.

use std::sync::Arc;

use signet_proto::{ProjectId, SessionId, SsoAttemptId, SsoMappingId, SsoProviderId, UserId};

use super::fixture::{self, HOUR, NOW, random32};
use crate::{
    Conflict, Role, SsoAttemptRecord, SsoIdentityRecord, SsoMappingRecord, SsoProviderRecord,
    SsoPurpose, Store, StoreError,
};

pub(super) fn provider(name: &str) -> SsoProviderRecord {
    SsoProviderRecord {
        id: SsoProviderId::generate(),
        name: name.to_owned(),
        issuer: format!("https://{name}.idp.example"),
        client_id: "signet".to_owned(),
        sealed_secret: Some(vec![1, 2, 3]),
        scopes: vec!["profile".to_owned(), "email".to_owned()],
        username_claim: "preferred_username".to_owned(),
        groups_claim: "groups".to_owned(),
        jit_users: true,
        enabled: true,
        created_ms: NOW,
        updated_ms: NOW,
    }
}

pub(super) fn mapping(provider: &SsoProviderId, position: u32) -> SsoMappingRecord {
    SsoMappingRecord {
        id: SsoMappingId::generate(),
        provider_id: provider.clone(),
        position,
        claim: "groups".to_owned(),
        value: format!("team-{position}"),
        role: Role::Developer,
        project_ids: Vec::new(),
        created_ms: NOW + i64::from(position),
    }
}

pub(super) fn identity(provider: &SsoProviderId, subject: &str, user: UserId) -> SsoIdentityRecord {
    SsoIdentityRecord {
        provider_id: provider.clone(),
        subject: subject.to_owned(),
        user_id: user,
        linked_ms: NOW,
        last_login_ms: None,
    }
}

pub(super) fn attempt(provider: &SsoProviderId, purpose: SsoPurpose, expires_ms: i64) -> SsoAttemptRecord {
    SsoAttemptRecord {
        id: SsoAttemptId::generate(),
        state_hash: random32(),
        provider_id: provider.clone(),
        purpose,
        binding_hash: (purpose != SsoPurpose::Cli).then(random32),
        nonce: "nonce".to_owned(),
        pkce_verifier: "verifier".to_owned(),
        user_id: None,
        session_id: (purpose == SsoPurpose::StepUp).then(SessionId::generate),
        public_key: (purpose == SsoPurpose::Cli).then(|| fixture::key().to_base64()),
        key_name: (purpose == SsoPurpose::Cli).then(|| "cli".to_owned()),
        loopback_port: (purpose == SsoPurpose::Cli).then_some(49152),
        completion_hash: None,
        created_ms: NOW,
        expires_ms,
        used_ms: None,
        finished_ms: None,
    }
}

/// Providers read back as stored, by name; names are unique; an update keeps the issuer; a
/// delete takes the mappings, attempts and links (the users stay) and counts the links.
pub async fn providers_round_trip_and_delete_with_their_links(store: Arc<dyn Store>) {
    let b = provider("b");
    let a = SsoProviderRecord {
        sealed_secret: None,
        jit_users: false,
        ..provider("a")
    };
    store.insert_sso_provider(&b).await.unwrap();
    store.insert_sso_provider(&a).await.unwrap();
    assert_eq!(store.sso_providers().await.unwrap(), vec![a.clone(), b.clone()]);
    assert_eq!(store.sso_provider(&b.id).await.unwrap(), Some(b.clone()));
    assert_eq!(store.sso_provider(&SsoProviderId::generate()).await.unwrap(), None);
    assert_eq!(
        store.insert_sso_provider(&provider("a")).await,
        Err(StoreError::Conflict(Conflict::SsoProviderName))
    );

    let changed = SsoProviderRecord {
        name: "a2".to_owned(),
        issuer: "https://ignored.example".to_owned(),
        client_id: "other".to_owned(),
        sealed_secret: Some(vec![9; 40]),
        scopes: vec!["groups".to_owned()],
        username_claim: "email".to_owned(),
        groups_claim: "roles".to_owned(),
        jit_users: true,
        enabled: false,
        updated_ms: NOW + 5,
        ..a.clone()
    };
    store.update_sso_provider(&changed).await.unwrap();
    assert_eq!(
        store.sso_provider(&a.id).await.unwrap(),
        Some(SsoProviderRecord {
            issuer: a.issuer.clone(),
            ..changed.clone()
        })
    );
    assert_eq!(
        store
            .update_sso_provider(&SsoProviderRecord {
                name: "b".to_owned(),
                ..changed.clone()
            })
            .await,
        Err(StoreError::Conflict(Conflict::SsoProviderName))
    );
    assert_eq!(
        store.update_sso_provider(&provider("ghost")).await,
        Err(StoreError::NotFound)
    );

    let alice = fixture::user("alice", NOW);
    let bob = fixture::user("bob", NOW + 1);
    store.insert_user(&alice).await.unwrap();
    store.insert_user(&bob).await.unwrap();
    store.insert_sso_mapping(&mapping(&b.id, 1)).await.unwrap();
    store
        .insert_sso_identity(&identity(&b.id, "s-alice", alice.id))
        .await
        .unwrap();
    store
        .insert_sso_identity(&identity(&b.id, "s-bob", bob.id))
        .await
        .unwrap();
    store
        .insert_sso_identity(&identity(&a.id, "s-alice", alice.id))
        .await
        .unwrap();
    let pending = attempt(&b.id, SsoPurpose::Login, NOW + HOUR);
    store.insert_sso_attempt(&pending).await.unwrap();

    assert_eq!(store.delete_sso_provider(&b.id).await.unwrap(), 2);
    assert_eq!(store.sso_provider(&b.id).await.unwrap(), None);
    assert!(store.sso_mappings(&b.id).await.unwrap().is_empty());
    assert_eq!(store.sso_identity(&b.id, "s-alice").await.unwrap(), None);
    assert_eq!(
        store.take_sso_attempt(&pending.state_hash, NOW).await.unwrap(),
        None
    );
    // The users stay, and so does the link through the other provider.
    assert!(store.user(&alice.id).await.unwrap().is_some());
    assert_eq!(store.user_sso_identities(&alice.id).await.unwrap().len(), 1);
    assert_eq!(
        store.delete_sso_provider(&b.id).await,
        Err(StoreError::NotFound)
    );
}

/// Mappings keep their order and their provider; a position is taken once; a delete needs the
/// provider the mapping belongs to.
pub async fn mappings_keep_their_order_and_their_provider(store: Arc<dyn Store>) {
    let p = provider("p");
    let q = provider("q");
    store.insert_sso_provider(&p).await.unwrap();
    store.insert_sso_provider(&q).await.unwrap();
    let project = ProjectId::generate();
    let second = SsoMappingRecord {
        role: Role::Viewer,
        project_ids: vec![project],
        ..mapping(&p.id, 2)
    };
    let first = SsoMappingRecord {
        role: Role::Owner,
        claim: "email".to_owned(),
        ..mapping(&p.id, 1)
    };
    store.insert_sso_mapping(&second).await.unwrap();
    store.insert_sso_mapping(&first).await.unwrap();
    assert_eq!(
        store.sso_mappings(&p.id).await.unwrap(),
        vec![first.clone(), second.clone()]
    );
    assert_eq!(
        store.insert_sso_mapping(&mapping(&p.id, 2)).await,
        Err(StoreError::Conflict(Conflict::Id))
    );
    assert_eq!(
        store.insert_sso_mapping(&mapping(&SsoProviderId::generate(), 1)).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        store.delete_sso_mapping(&q.id, &first.id).await,
        Err(StoreError::NotFound)
    );
    store.delete_sso_mapping(&p.id, &first.id).await.unwrap();
    assert_eq!(store.sso_mappings(&p.id).await.unwrap(), vec![second]);
}

/// A `sub` is linked once per provider and a user has one identity per provider; a user
/// created with their link exists only with it; unlinking needs the link.
pub async fn identities_link_once_and_users_come_with_their_link(store: Arc<dyn Store>) {
    let p = provider("p");
    store.insert_sso_provider(&p).await.unwrap();
    let alice = fixture::user("alice", NOW);
    let bob = fixture::user("bob", NOW + 1);
    store.insert_user(&alice).await.unwrap();
    store.insert_user(&bob).await.unwrap();
    let link = identity(&p.id, "sub-1", alice.id);
    store.insert_sso_identity(&link).await.unwrap();
    assert_eq!(
        store.insert_sso_identity(&identity(&p.id, "sub-1", bob.id)).await,
        Err(StoreError::Conflict(Conflict::SsoIdentity))
    );
    assert_eq!(
        store.insert_sso_identity(&identity(&p.id, "sub-2", alice.id)).await,
        Err(StoreError::Conflict(Conflict::SsoIdentity))
    );
    assert_eq!(
        store
            .insert_sso_identity(&identity(&p.id, "sub-3", UserId::generate()))
            .await,
        Err(StoreError::NotFound)
    );
    assert_eq!(store.sso_identity(&p.id, "sub-1").await.unwrap(), Some(link.clone()));
    // Exact: no case folding of the subject.
    assert_eq!(store.sso_identity(&p.id, "SUB-1").await.unwrap(), None);

    store.touch_sso_identity(&p.id, "sub-1", NOW + 7).await.unwrap();
    assert_eq!(
        store.user_sso_identities(&alice.id).await.unwrap(),
        vec![SsoIdentityRecord {
            last_login_ms: Some(NOW + 7),
            ..link.clone()
        }]
    );
    assert_eq!(
        store.touch_sso_identity(&p.id, "nobody", NOW).await,
        Err(StoreError::NotFound)
    );

    // A user made by SSO: no password, linked in the same transaction.
    let carol = crate::UserRecord {
        password_hash: String::new(),
        totp_sealed: None,
        ..fixture::user("carol", NOW + 2)
    };
    store
        .insert_sso_user(&carol, &identity(&p.id, "sub-carol", carol.id))
        .await
        .unwrap();
    assert_eq!(store.user(&carol.id).await.unwrap(), Some(carol.clone()));
    // A taken username creates neither the user nor the link.
    let dup = crate::UserRecord {
        id: UserId::generate(),
        email: "other@example.com".to_owned(),
        ..carol.clone()
    };
    assert_eq!(
        store
            .insert_sso_user(&dup, &identity(&p.id, "sub-dup", dup.id))
            .await,
        Err(StoreError::Conflict(Conflict::Username))
    );
    assert_eq!(store.sso_identity(&p.id, "sub-dup").await.unwrap(), None);
    // A linked subject creates no user either.
    let dave = fixture::user("dave", NOW + 3);
    assert_eq!(
        store
            .insert_sso_user(&dave, &identity(&p.id, "sub-carol", dave.id))
            .await,
        Err(StoreError::Conflict(Conflict::SsoIdentity))
    );
    assert_eq!(store.user(&dave.id).await.unwrap(), None);

    assert_eq!(
        store.delete_sso_identity(&bob.id, &p.id).await,
        Err(StoreError::NotFound)
    );
    store.delete_sso_identity(&alice.id, &p.id).await.unwrap();
    assert_eq!(store.sso_identity(&p.id, "sub-1").await.unwrap(), None);
}

/// An attempt is consumed once, only before it expires, by its state digest; a CLI attempt is
/// completed once and finished once; sweeping forgets only expired attempts.
pub async fn an_attempt_is_taken_completed_and_finished_once(store: Arc<dyn Store>) {
    let p = provider("p");
    store.insert_sso_provider(&p).await.unwrap();
    let user = fixture::user("alice", NOW);
    store.insert_user(&user).await.unwrap();

    let login = attempt(&p.id, SsoPurpose::StepUp, NOW + HOUR);
    store.insert_sso_attempt(&login).await.unwrap();
    assert_eq!(
        store.insert_sso_attempt(&login).await,
        Err(StoreError::Conflict(Conflict::Id))
    );
    assert_eq!(store.take_sso_attempt(&random32(), NOW).await.unwrap(), None);
    let taken = store
        .take_sso_attempt(&login.state_hash, NOW)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        taken,
        SsoAttemptRecord {
            used_ms: Some(NOW),
            ..login.clone()
        }
    );
    assert_eq!(
        store.take_sso_attempt(&login.state_hash, NOW).await.unwrap(),
        None
    );
    // Not a CLI attempt: it cannot be completed or finished.
    assert_eq!(
        store.complete_sso_attempt(&login.id, &user.id, &random32()).await,
        Err(StoreError::NotFound)
    );

    let expired = attempt(&p.id, SsoPurpose::Login, NOW);
    store.insert_sso_attempt(&expired).await.unwrap();
    assert_eq!(
        store.take_sso_attempt(&expired.state_hash, NOW).await.unwrap(),
        None
    );

    let cli = attempt(&p.id, SsoPurpose::Cli, NOW + HOUR);
    store.insert_sso_attempt(&cli).await.unwrap();
    let completion = random32();
    // Not consumed yet: neither completed nor finished.
    assert_eq!(
        store.complete_sso_attempt(&cli.id, &user.id, &completion).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(store.finish_sso_attempt(&cli.id, NOW).await.unwrap(), None);
    store.take_sso_attempt(&cli.state_hash, NOW).await.unwrap().unwrap();
    assert_eq!(store.finish_sso_attempt(&cli.id, NOW).await.unwrap(), None);
    store
        .complete_sso_attempt(&cli.id, &user.id, &completion)
        .await
        .unwrap();
    assert_eq!(
        store.complete_sso_attempt(&cli.id, &user.id, &random32()).await,
        Err(StoreError::NotFound)
    );
    // Past its time it cannot be finished.
    assert_eq!(
        store.finish_sso_attempt(&cli.id, NOW + HOUR).await.unwrap(),
        None
    );
    let finished = store
        .finish_sso_attempt(&cli.id, NOW + 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        finished,
        SsoAttemptRecord {
            user_id: Some(user.id),
            completion_hash: Some(completion),
            used_ms: Some(NOW),
            finished_ms: Some(NOW + 1),
            ..cli.clone()
        }
    );
    assert_eq!(store.finish_sso_attempt(&cli.id, NOW + 2).await.unwrap(), None);

    // `expired` (expires NOW) goes; the others live until NOW + HOUR.
    assert_eq!(store.sweep_sso_attempts(NOW).await.unwrap(), 1);
    assert_eq!(store.sweep_sso_attempts(NOW).await.unwrap(), 0);
    assert_eq!(store.sweep_sso_attempts(NOW + HOUR).await.unwrap(), 2);
}

/// Of any number of callbacks racing with one state, one consumes the attempt.
pub async fn concurrent_takes_of_an_attempt_admit_one(store: Arc<dyn Store>) {
    let p = provider("p");
    store.insert_sso_provider(&p).await.unwrap();
    let a = attempt(&p.id, SsoPurpose::Login, NOW + HOUR);
    store.insert_sso_attempt(&a).await.unwrap();
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let store = Arc::clone(&store);
            let hash = a.state_hash;
            tokio::spawn(async move { store.take_sso_attempt(&hash, NOW).await.unwrap() })
        })
        .collect();
    let mut taken = 0;
    for t in tasks {
        taken += usize::from(t.await.unwrap().is_some());
    }
    assert_eq!(taken, 1);
}

/// The SSO settings are off on a new vault, change together, and advance the policy stamp.
pub async fn sso_settings_change_together(store: Arc<dyn Store>) {
    let v = fixture::vault();
    store.create_vault(&v).await.unwrap();
    let user = fixture::user("owner", NOW);
    store.insert_user(&user).await.unwrap();
    let before = store.policy_version().await.unwrap();
    store
        .set_sso_settings(true, Some(&user.id), true)
        .await
        .unwrap();
    let got = store.vault().await.unwrap().unwrap();
    assert!(got.sso_required && got.sso_trust_provider_mfa);
    assert_eq!(got.break_glass_user, Some(user.id));
    assert!(store.policy_version().await.unwrap() > before);
    store.set_sso_settings(false, None, false).await.unwrap();
    assert_eq!(store.vault().await.unwrap(), Some(v));
}
