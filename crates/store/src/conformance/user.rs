//! Users, recovery codes and login history.

use std::sync::Arc;

use signet_proto::UserId;

use super::fixture::{self, HOUR, NOW};
use crate::{
    Conflict, Lockout, LoginRecord, LoginResult, OperatorRecord, Role, Store, StoreError,
    UserRecord, UserStatus,
};

/// Users read back as stored, by id, username or email; unknown ones are `None`.
pub async fn users_round_trip_by_id_and_login(store: Arc<dyn Store>) {
    assert_eq!(store.user_count().await.unwrap(), 0);
    let alice = UserRecord {
        role: Role::Owner,
        totp_sealed: Some(vec![1, 2, 3]),
        totp_last_step: 7,
        totp_confirmed: true,
        locked_until_ms: Some(NOW),
        failed_attempts: 2,
        ..fixture::user("alice", NOW)
    };
    store.insert_user(&alice).await.unwrap();
    store.insert_user(&fixture::user("bob", NOW)).await.unwrap();

    assert_eq!(store.user(&alice.id).await.unwrap(), Some(alice.clone()));
    assert_eq!(
        store.user_by_login("alice").await.unwrap(),
        Some(alice.clone())
    );
    assert_eq!(
        store.user_by_login("alice@example.test").await.unwrap(),
        Some(alice.clone())
    );
    assert_eq!(store.user_by_login("carol").await.unwrap(), None);
    assert_eq!(store.user(&UserId::generate()).await.unwrap(), None);
    assert_eq!(store.user_count().await.unwrap(), 2);
}

/// Canonical usernames and emails are unique; a conflict inserts nothing.
pub async fn a_username_and_an_email_are_unique(store: Arc<dyn Store>) {
    let first = fixture::user("dana", NOW);
    store.insert_user(&first).await.unwrap();
    let same_name = UserRecord {
        email: "other@example.test".into(),
        ..fixture::user("dana", NOW)
    };
    assert_eq!(
        store.insert_user(&same_name).await,
        Err(StoreError::Conflict(Conflict::Username))
    );
    let same_email = UserRecord {
        email: first.email.clone(),
        ..fixture::user("erin", NOW)
    };
    assert_eq!(
        store.insert_user(&same_email).await,
        Err(StoreError::Conflict(Conflict::Email))
    );
    assert_eq!(store.user(&same_name.id).await.unwrap(), None);
    assert_eq!(store.user(&same_email.id).await.unwrap(), None);
    assert_eq!(store.user_count().await.unwrap(), 1);
}

/// A user made by an operator lands with their codes, or (on a conflict) neither does; the
/// list holds every user.
pub async fn a_user_is_added_with_their_codes(store: Arc<dyn Store>) {
    let first = fixture::user("fay", NOW);
    store
        .insert_user_with_codes(&first, &[[1; 32], [2; 32]])
        .await
        .unwrap();
    assert_eq!(store.unused_recovery_codes(&first.id).await.unwrap(), 2);
    let clash = UserRecord {
        email: "new@example.test".into(),
        ..fixture::user("fay", NOW)
    };
    assert_eq!(
        store.insert_user_with_codes(&clash, &[[3; 32]]).await,
        Err(StoreError::Conflict(Conflict::Username))
    );
    assert_eq!(store.unused_recovery_codes(&clash.id).await.unwrap(), 0);
    store
        .insert_user_with_codes(&fixture::user("gus", NOW + 1), &[])
        .await
        .unwrap();
    let names: Vec<String> = store
        .users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.username)
        .collect();
    assert_eq!(names, ["fay", "gus"]);
}

/// The first user is created once, however many callers race.
pub async fn the_first_user_is_created_once(store: Arc<dyn Store>) {
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            store
                .insert_first_user(&fixture::user(&format!("owner{i}"), NOW), &[[i; 32]])
                .await
        }));
    }
    let mut won = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => won += 1,
            Err(e) => assert_eq!(e, StoreError::Conflict(Conflict::UsersExist)),
        }
    }
    assert_eq!(won, 1);
    assert_eq!(store.user_count().await.unwrap(), 1);
    // The winner has exactly its own code; the losers' codes were never stored.
    let owner = store
        .user_by_login(&owner_name(&store).await)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(store.unused_recovery_codes(&owner.id).await.unwrap(), 1);
    let i: u8 = owner.username.trim_start_matches("owner").parse().unwrap();
    assert!(
        store
            .use_recovery_code(&owner.id, &[i; 32], NOW)
            .await
            .unwrap()
    );
}

/// The one user's username, found by trying the names the race used.
async fn owner_name(store: &Arc<dyn Store>) -> String {
    for i in 0..8 {
        let name = format!("owner{i}");
        if store.user_by_login(&name).await.unwrap().is_some() {
            return name;
        }
    }
    panic!("no owner")
}

/// A TOTP step is accepted only if it is later than the last one, once under concurrency;
/// enrolling a new seed sets the step.
pub async fn totp_steps_only_move_forward(store: Arc<dyn Store>) {
    let u = fixture::user("frank", NOW);
    store.insert_user(&u).await.unwrap();
    assert_eq!(
        store.set_totp(&UserId::generate(), &[9; 8], 5).await,
        Err(StoreError::NotFound)
    );
    store.set_totp(&u.id, &[9; 8], 5).await.unwrap();
    let stored = store.user(&u.id).await.unwrap().unwrap();
    assert_eq!(stored.totp_sealed.as_deref(), Some(&[9u8; 8][..]));
    assert_eq!(stored.totp_last_step, 5);

    assert!(!store.accept_totp_step(&u.id, 5).await.unwrap());
    assert!(!store.accept_totp_step(&u.id, 4).await.unwrap());
    assert!(store.accept_totp_step(&u.id, 6).await.unwrap());
    assert!(!store.accept_totp_step(&u.id, 6).await.unwrap());

    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = Arc::clone(&store);
        let id = u.id;
        tasks.push(tokio::spawn(
            async move { store.accept_totp_step(&id, 9).await },
        ));
    }
    let mut won = 0;
    for t in tasks {
        if t.await.unwrap().unwrap() {
            won += 1;
        }
    }
    assert_eq!(won, 1);
    assert_eq!(store.user(&u.id).await.unwrap().unwrap().totp_last_step, 9);
    assert!(
        !store
            .accept_totp_step(&UserId::generate(), 100)
            .await
            .unwrap()
    );
}

/// A stored seed is pending until confirmed, once even under concurrency; a user without a
/// seed has nothing to confirm, and storing a new seed makes it pending again. Confirming
/// changes nothing else about the user.
pub async fn totp_seeds_are_confirmed_once(store: Arc<dyn Store>) {
    let u = fixture::user("grace", NOW);
    store.insert_user(&u).await.unwrap();
    assert!(!store.user(&u.id).await.unwrap().unwrap().totp_confirmed);
    // No seed yet: nothing to confirm.
    assert!(!store.confirm_totp(&u.id).await.unwrap());
    assert!(!store.confirm_totp(&UserId::generate()).await.unwrap());

    store.set_totp(&u.id, &[3; 8], 0).await.unwrap();
    let pending = store.user(&u.id).await.unwrap().unwrap();
    assert!(!pending.totp_confirmed);
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = Arc::clone(&store);
        let id = u.id;
        tasks.push(tokio::spawn(async move { store.confirm_totp(&id).await }));
    }
    let mut won = 0;
    for t in tasks {
        if t.await.unwrap().unwrap() {
            won += 1;
        }
    }
    assert_eq!(won, 1);
    let confirmed = store.user(&u.id).await.unwrap().unwrap();
    assert_eq!(
        confirmed,
        UserRecord {
            totp_confirmed: true,
            ..pending
        }
    );
    assert!(!store.confirm_totp(&u.id).await.unwrap());

    // A replaced seed is pending again, and a user stored as confirmed reads back so.
    store.set_totp(&u.id, &[4; 8], 0).await.unwrap();
    assert!(!store.user(&u.id).await.unwrap().unwrap().totp_confirmed);
    let enrolled = UserRecord {
        totp_sealed: Some(vec![5; 8]),
        totp_confirmed: true,
        ..fixture::user("heidi", NOW + 1)
    };
    store.insert_user(&enrolled).await.unwrap();
    assert_eq!(store.user(&enrolled.id).await.unwrap(), Some(enrolled));
}

/// Failures are counted until the limit, which locks the account and restarts the count;
/// concurrent failures all count; a success clears the lock.
pub async fn failures_lock_an_account(store: Arc<dyn Store>) {
    let u = fixture::user("gina", NOW);
    store.insert_user(&u).await.unwrap();
    for n in 1..=4 {
        assert_eq!(
            store
                .record_login_failure(&u.id, NOW, 5, HOUR)
                .await
                .unwrap(),
            Lockout {
                failed_attempts: n,
                locked_until_ms: None
            }
        );
    }
    assert_eq!(
        store
            .record_login_failure(&u.id, NOW + 9, 5, HOUR)
            .await
            .unwrap(),
        Lockout {
            failed_attempts: 0,
            locked_until_ms: Some(NOW + 9 + HOUR)
        }
    );
    let stored = store.user(&u.id).await.unwrap().unwrap();
    assert_eq!(
        (stored.failed_attempts, stored.locked_until_ms),
        (0, Some(NOW + 9 + HOUR))
    );

    store.reset_login_failures(&u.id).await.unwrap();
    let stored = store.user(&u.id).await.unwrap().unwrap();
    assert_eq!((stored.failed_attempts, stored.locked_until_ms), (0, None));

    let mut tasks = Vec::new();
    for _ in 0..3 {
        let store = Arc::clone(&store);
        let id = u.id;
        tasks.push(tokio::spawn(async move {
            store.record_login_failure(&id, NOW, 100, HOUR).await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(store.user(&u.id).await.unwrap().unwrap().failed_attempts, 3);

    assert_eq!(
        store
            .record_login_failure(&UserId::generate(), NOW, 5, HOUR)
            .await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        store.reset_login_failures(&UserId::generate()).await,
        Err(StoreError::NotFound)
    );
}

/// A recovery code is spent once, even under concurrency; replacing the set forgets the old
/// codes; codes belong to one user.
pub async fn recovery_codes_are_single_use(store: Arc<dyn Store>) {
    let u = fixture::user("hank", NOW);
    let other = fixture::user("ivy", NOW);
    store.insert_user(&u).await.unwrap();
    store.insert_user(&other).await.unwrap();
    let codes: Vec<[u8; 32]> = (0..10).map(|_| fixture::random32()).collect();
    store.replace_recovery_codes(&u.id, &codes).await.unwrap();
    assert_eq!(store.unused_recovery_codes(&u.id).await.unwrap(), 10);

    assert!(
        !store
            .use_recovery_code(&other.id, &codes[0], NOW)
            .await
            .unwrap()
    );
    assert!(
        store
            .use_recovery_code(&u.id, &codes[0], NOW)
            .await
            .unwrap()
    );
    assert!(
        !store
            .use_recovery_code(&u.id, &codes[0], NOW)
            .await
            .unwrap()
    );
    assert!(
        !store
            .use_recovery_code(&u.id, &fixture::random32(), NOW)
            .await
            .unwrap()
    );

    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = Arc::clone(&store);
        let (id, code) = (u.id, codes[1]);
        tasks.push(tokio::spawn(async move {
            store.use_recovery_code(&id, &code, NOW).await
        }));
    }
    let mut won = 0;
    for t in tasks {
        if t.await.unwrap().unwrap() {
            won += 1;
        }
    }
    assert_eq!(won, 1);
    assert_eq!(store.unused_recovery_codes(&u.id).await.unwrap(), 8);

    let fresh = [fixture::random32()];
    store.replace_recovery_codes(&u.id, &fresh).await.unwrap();
    assert_eq!(store.unused_recovery_codes(&u.id).await.unwrap(), 1);
    assert!(
        !store
            .use_recovery_code(&u.id, &codes[2], NOW)
            .await
            .unwrap()
    );
    assert!(
        store
            .use_recovery_code(&u.id, &fresh[0], NOW)
            .await
            .unwrap()
    );
}

/// The login history lists one user's attempts, newest first, capped.
pub async fn logins_list_newest_first(store: Arc<dyn Store>) {
    let u = fixture::user("jack", NOW);
    store.insert_user(&u).await.unwrap();
    let attempt = |at_ms, result, user_id| LoginRecord {
        user_id,
        at_ms,
        ip: "192.0.2.1".into(),
        user_agent: "signet-cli".into(),
        result,
    };
    let a = attempt(NOW, LoginResult::Failed, Some(u.id));
    let b = attempt(NOW + 1, LoginResult::Throttled, Some(u.id));
    let c = attempt(NOW + 2, LoginResult::Ok, Some(u.id));
    let nobody = attempt(NOW + 3, LoginResult::Failed, None);
    for l in [&a, &b, &c, &nobody] {
        store.append_login(l).await.unwrap();
    }
    assert_eq!(
        store.logins(&u.id, 10).await.unwrap(),
        [c.clone(), b.clone(), a]
    );
    assert_eq!(store.logins(&u.id, 2).await.unwrap(), [c, b]);
    assert_eq!(store.logins(&UserId::generate(), 10).await.unwrap(), []);
}

/// An operator key may belong to a user and expire; both read back.
pub async fn operator_keys_carry_their_user_and_expiry(store: Arc<dyn Store>) {
    let u = fixture::user("kim", NOW);
    store.insert_user(&u).await.unwrap();
    let op = OperatorRecord {
        user_id: Some(u.id),
        expires_ms: Some(NOW + HOUR),
        ..fixture::operator("kim's laptop", NOW)
    };
    store.insert_operator(&op).await.unwrap();
    assert_eq!(store.operator(&op.id).await.unwrap(), Some(op));
}

/// A user's project scope is stored with them, read back sorted, and replaced with their role;
/// `None` is every project, an empty list none. Unknown users and projects are `NotFound`.
pub async fn scope_is_stored_and_replaced_with_the_role(store: Arc<dyn Store>) {
    let mut ps = vec![
        fixture::add_project(&store, "p1").await.id,
        fixture::add_project(&store, "p2").await.id,
    ];
    ps.sort();
    let hal = UserRecord {
        projects: Some(ps.clone()),
        ..fixture::user("hal", NOW)
    };
    store.insert_user(&hal).await.unwrap();
    assert_eq!(store.user(&hal.id).await.unwrap(), Some(hal.clone()));
    assert_eq!(
        store.user_by_login("hal").await.unwrap().unwrap().projects,
        Some(ps.clone())
    );

    store
        .set_user_access(&hal.id, Role::Viewer, Some(&ps[1..]))
        .await
        .unwrap();
    let now = store.user(&hal.id).await.unwrap().unwrap();
    assert_eq!(
        (now.role, now.projects),
        (Role::Viewer, Some(ps[1..].to_vec()))
    );
    store
        .set_user_access(&hal.id, Role::Viewer, Some(&[]))
        .await
        .unwrap();
    assert_eq!(
        store.user(&hal.id).await.unwrap().unwrap().projects,
        Some(vec![])
    );
    store
        .set_user_access(&hal.id, Role::Admin, None)
        .await
        .unwrap();
    let listed = store.users().await.unwrap();
    assert_eq!(
        (listed[0].role, listed[0].projects.clone()),
        (Role::Admin, None)
    );

    assert_eq!(
        store
            .set_user_access(&UserId::generate(), Role::Viewer, None)
            .await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        store
            .set_user_access(
                &hal.id,
                Role::Viewer,
                Some(&[signet_proto::ProjectId::generate()])
            )
            .await,
        Err(StoreError::NotFound)
    );
    // The refused change left everything as it was.
    let after = store.user(&hal.id).await.unwrap().unwrap();
    assert_eq!((after.role, after.projects), (Role::Admin, None));
}

/// No role change, suspension or removal may leave the store without an active owner.
pub async fn the_last_active_owner_stays(store: Arc<dyn Store>) {
    let first = UserRecord {
        role: Role::Owner,
        ..fixture::user("ida", NOW)
    };
    store.insert_user(&first).await.unwrap();
    let last = Err(StoreError::Conflict(Conflict::LastOwner));
    assert_eq!(
        store.set_user_access(&first.id, Role::Admin, None).await,
        last
    );
    assert_eq!(store.set_user_active(&first.id, false).await, last);
    assert_eq!(store.remove_user(&first.id, NOW).await, last);
    // Keeping the role is no demotion.
    store
        .set_user_access(&first.id, Role::Owner, None)
        .await
        .unwrap();

    let second = UserRecord {
        role: Role::Owner,
        ..fixture::user("jon", NOW)
    };
    store.insert_user(&second).await.unwrap();
    store.set_user_active(&second.id, false).await.unwrap();
    // A suspended owner does not count.
    assert_eq!(
        store.set_user_access(&first.id, Role::Admin, None).await,
        last
    );
    store.set_user_active(&second.id, true).await.unwrap();
    store
        .set_user_access(&first.id, Role::Admin, None)
        .await
        .unwrap();
    assert_eq!(store.remove_user(&second.id, NOW).await, last);

    // Two owners demoting each other at once: one wins.
    let third = UserRecord {
        role: Role::Owner,
        ..fixture::user("kim", NOW)
    };
    store.insert_user(&third).await.unwrap();
    let (a, b) = tokio::join!(
        store.set_user_access(&second.id, Role::Admin, None),
        store.set_user_access(&third.id, Role::Admin, None)
    );
    assert!(a.is_ok() != b.is_ok(), "{a:?} {b:?}");
}

/// Suspension is reversible; removal is final, disables the user's keys and keeps their name
/// and email taken.
pub async fn removal_is_final_and_disables_keys(store: Arc<dyn Store>) {
    let lou = fixture::user("lou", NOW);
    store.insert_user(&lou).await.unwrap();
    let key = OperatorRecord {
        user_id: Some(lou.id),
        ..fixture::operator("lou-cli", NOW)
    };
    store.insert_operator(&key).await.unwrap();

    store.set_user_active(&lou.id, false).await.unwrap();
    assert_eq!(
        store.user(&lou.id).await.unwrap().unwrap().status,
        UserStatus::Suspended
    );
    store.set_user_active(&lou.id, true).await.unwrap();
    assert_eq!(
        store.user(&lou.id).await.unwrap().unwrap().status,
        UserStatus::Active
    );

    store.remove_user(&lou.id, NOW + HOUR).await.unwrap();
    assert_eq!(
        store.user(&lou.id).await.unwrap().unwrap().status,
        UserStatus::Removed
    );
    assert!(store.operator(&key.id).await.unwrap().unwrap().disabled);
    assert_eq!(
        store.set_user_active(&lou.id, true).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        store.set_user_access(&lou.id, Role::Viewer, None).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        store.remove_user(&lou.id, NOW).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        store.remove_user(&UserId::generate(), NOW).await,
        Err(StoreError::NotFound)
    );
    let same_name = UserRecord {
        email: "new-lou@example.test".into(),
        ..fixture::user("lou", NOW)
    };
    assert_eq!(
        store.insert_user(&same_name).await,
        Err(StoreError::Conflict(Conflict::Username))
    );
}
