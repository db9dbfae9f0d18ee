//! Passkeys end to end with a software authenticator (real P-256 signatures over real challenges)
//! over a real SQLite store and a manual clock: registration, usernameless sign-in, step-up, the
//! signature counter, single-use and expiring challenges, ownership, suspension and origins.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly by design.

use signet_core::network::ClientAddr;
use std::net::{IpAddr, Ipv4Addr};

use serde_json::{Value, json};
use signet_core::auth::{AuthedOperator, SessionGrant};
use signet_core::passkey::{CEREMONY_TTL_MS, PasskeyAnswer, PasskeyChallenge};
use signet_core::session::STEP_UP_WINDOW_MS;
use signet_core::{Clock, Conflict, CoreError};
use signet_proto::{OperatorId, SecretSeed, SessionId, UserId};
use signet_store::{AuditFilter, OperatorRecord, Role, UserRecord, UserStatus};
use signet_testkit::passkey::Passkey;
use webauthn_rs::prelude::Url;

const ORIGIN: &str = "http://localhost:8420";

signet_testkit::world_with! {
    /// The shared world with its first owner account.
    struct World {
        owner: UserRecord,
    }
}

impl World {
    /// An operator key of `user`'s, as authentication would hand it to core.
    fn op(&self, user: &UserRecord) -> AuthedOperator {
        AuthedOperator::key(
            OperatorRecord {
                id: OperatorId::generate(),
                name: "browser".into(),
                public_key: SecretSeed::generate().public_key(),
                owner: user.role == Role::Owner,
                disabled: false,
                created_ms: 0,
                user_id: Some(user.id),
                expires_ms: None,
            },
            user.role,
            ip(),
        )
    }

    async fn add_user(&self, name: &str, status: UserStatus) -> UserRecord {
        let u = UserRecord {
            id: UserId::generate(),
            username: name.into(),
            email: format!("{name}@example.test"),
            display_name: name.into(),
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$x".into(),
            totp_sealed: None,
            totp_last_step: 0,
            totp_confirmed: false,
            role: Role::Developer,
            status,
            failed_attempts: 0,
            locked_until_ms: None,
            created_ms: self.clock.now_ms(),
            projects: None,
        };
        self.store.insert_user(&u).await.unwrap();
        u
    }

    async fn audit_actions(&self) -> Vec<(String, String, String)> {
        let filter = AuditFilter {
            limit: 1000,
            ..Default::default()
        };
        self.signet
            .audit()
            .audit_list(&self.op(&self.owner), &filter)
            .await
            .unwrap()
            .into_iter()
            .map(|r| (r.action, r.result.to_owned(), r.detail))
            .collect()
    }
}

async fn world_at(api_url: &str) -> World {
    let kit = signet_testkit::World::sqlite().api_url(api_url).await;
    let owner = kit.owner_user("Owner", "owner@example.test").await.user;
    World { kit, owner }
}

async fn world() -> World {
    world_at(ORIGIN).await
}

fn ip() -> ClientAddr {
    ClientAddr::Known(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)))
}

fn answer<'a>(challenge: &'a PasskeyChallenge, credential: &'a Value) -> PasskeyAnswer<'a> {
    PasskeyAnswer {
        challenge_id: challenge.challenge_id.as_str(),
        credential,
        source_ip: ip(),
        user_agent: "test-browser",
    }
}

/// Registers a passkey for `user` with a fresh browser.
async fn register(w: &World, user: &UserRecord, name: &str) -> Passkey {
    let mut b = Passkey::new(ORIGIN);
    let op = w.op(user);
    let c = w
        .signet
        .passkeys()
        .passkey_register_start(&op, name)
        .await
        .unwrap();
    let cred = b.create(&c.public_key);
    w.signet
        .passkeys()
        .passkey_register_finish(&op, c.challenge_id.as_str(), &cred)
        .await
        .unwrap();
    b
}

async fn login(w: &World, b: &mut Passkey) -> Result<UserRecord, CoreError> {
    let c = w.signet.passkeys().passkey_login_start(ip()).await.unwrap();
    let cred = b.get(&c.public_key);
    w.signet
        .passkeys()
        .passkey_login_finish(answer(&c, &cred))
        .await
}

#[tokio::test]
async fn a_registered_passkey_signs_in_without_a_username_and_moves_the_counter() {
    let w = world().await;
    let op = w.op(&w.owner);
    let c = w
        .signet
        .passkeys()
        .passkey_register_start(&op, " Laptop ")
        .await
        .unwrap();
    // The options name the relying party by the public URL's host.
    assert_eq!(c.public_key["rp"]["id"], "localhost");
    let mut b = Passkey::new(ORIGIN);
    let cred = b.create(&c.public_key);
    let view = w
        .signet
        .passkeys()
        .passkey_register_finish(&op, c.challenge_id.as_str(), &cred)
        .await
        .unwrap();
    assert_eq!(view.name, "Laptop");
    assert_eq!(view.last_used_at, None);
    assert_eq!(
        w.signet.passkeys().passkeys(&op).await.unwrap(),
        vec![view.clone()]
    );

    // A sign-in's options name no user and list no credential: nothing to enumerate.
    let start = w.signet.passkeys().passkey_login_start(ip()).await.unwrap();
    let allowed = &start.public_key["allowCredentials"];
    assert!(allowed.is_null() || allowed.as_array().unwrap().is_empty());
    assert_eq!(start.public_key["userVerification"], "required");

    w.advance(1000);
    let user = login(&w, &mut b).await.unwrap();
    assert_eq!(user.id, w.owner.id);
    let stored = &w.store.passkeys(&w.owner.id).await.unwrap()[0];
    let first = stored.sign_count;
    assert!(first > 0, "the soft token counts");
    assert_eq!(stored.last_used_ms, Some(w.clock.now_ms()));

    w.advance(1000);
    login(&w, &mut b).await.unwrap();
    let stored = &w.store.passkeys(&w.owner.id).await.unwrap()[0];
    assert!(stored.sign_count > first, "the counter moved forward");

    let logins = w
        .signet
        .accounts()
        .login_history(&w.owner.id, 10)
        .await
        .unwrap();
    assert_eq!(logins.len(), 2);
    assert!(
        logins
            .iter()
            .all(|l| l.result == signet_store::LoginResult::Ok && l.user_agent == "test-browser")
    );
    let audit = w.audit_actions().await;
    assert!(audit.contains(&("user_login".into(), "ok".into(), "method=passkey".into())));
    assert!(
        audit
            .iter()
            .any(|(a, r, _)| a == "passkey_register" && r == "ok")
    );
}

#[tokio::test]
async fn a_challenge_answers_once() {
    let w = world().await;
    let mut b = register(&w, &w.owner, "key").await;
    let c = w.signet.passkeys().passkey_login_start(ip()).await.unwrap();
    let cred = b.get(&c.public_key);
    w.signet
        .passkeys()
        .passkey_login_finish(answer(&c, &cred))
        .await
        .unwrap();
    assert_eq!(
        w.signet
            .passkeys()
            .passkey_login_finish(answer(&c, &cred))
            .await,
        Err(CoreError::Unauthenticated)
    );
    // The same assertion under a fresh challenge does not verify either: it signed the old one.
    let fresh = w.signet.passkeys().passkey_login_start(ip()).await.unwrap();
    assert_eq!(
        w.signet
            .passkeys()
            .passkey_login_finish(answer(&fresh, &cred))
            .await,
        Err(CoreError::Unauthenticated)
    );
    let audit = w.audit_actions().await;
    assert!(audit.contains(&(
        "user_login".into(),
        "denied".into(),
        "method=passkey reason=unknown_challenge".into()
    )));
    assert!(audit.contains(&(
        "user_login".into(),
        "denied".into(),
        "method=passkey reason=bad_assertion".into()
    )));
}

#[tokio::test]
async fn an_expired_challenge_is_refused() {
    let w = world().await;
    let mut b = register(&w, &w.owner, "key").await;
    let c = w.signet.passkeys().passkey_login_start(ip()).await.unwrap();
    let cred = b.get(&c.public_key);
    w.advance(CEREMONY_TTL_MS + 1);
    assert_eq!(
        w.signet
            .passkeys()
            .passkey_login_finish(answer(&c, &cred))
            .await,
        Err(CoreError::Unauthenticated)
    );

    // Registration challenges expire too.
    let op = w.op(&w.owner);
    let c = w
        .signet
        .passkeys()
        .passkey_register_start(&op, "late")
        .await
        .unwrap();
    let cred = Passkey::new(ORIGIN).create(&c.public_key);
    w.advance(CEREMONY_TTL_MS);
    assert!(matches!(
        w.signet
            .passkeys()
            .passkey_register_finish(&op, c.challenge_id.as_str(), &cred)
            .await,
        Err(CoreError::BadRequest(_))
    ));
    assert_eq!(w.signet.passkeys().passkeys(&op).await.unwrap().len(), 1);
}

#[tokio::test]
async fn another_users_passkey_cannot_be_renamed_deleted_or_registered_into() {
    let w = world().await;
    register(&w, &w.owner, "owner's").await;
    let owners = w.signet.passkeys().passkeys(&w.op(&w.owner)).await.unwrap();
    let dev = w.add_user("dev", UserStatus::Active).await;
    let dev_op = w.op(&dev);
    let id = owners[0].id.as_str();
    assert_eq!(
        w.signet
            .passkeys()
            .passkey_rename(&dev_op, id, "mine")
            .await,
        Err(CoreError::NotFound)
    );
    assert_eq!(
        w.signet.passkeys().passkey_delete(&dev_op, id).await,
        Err(CoreError::NotFound)
    );
    assert_eq!(
        w.signet.passkeys().passkeys(&w.op(&w.owner)).await.unwrap(),
        owners
    );
    assert!(
        w.signet
            .passkeys()
            .passkeys(&dev_op)
            .await
            .unwrap()
            .is_empty()
    );

    // A registration challenge is finished only by the user who started it.
    let c = w
        .signet
        .passkeys()
        .passkey_register_start(&w.op(&w.owner), "second")
        .await
        .unwrap();
    let cred = Passkey::new(ORIGIN).create(&c.public_key);
    assert!(matches!(
        w.signet
            .passkeys()
            .passkey_register_finish(&dev_op, c.challenge_id.as_str(), &cred)
            .await,
        Err(CoreError::BadRequest(_))
    ));
    assert!(
        w.signet
            .passkeys()
            .passkeys(&dev_op)
            .await
            .unwrap()
            .is_empty()
    );

    // The owner renames and deletes their own; every change is audited.
    let op = w.op(&w.owner);
    let renamed = w
        .signet
        .passkeys()
        .passkey_rename(&op, id, "Desk key")
        .await
        .unwrap();
    assert_eq!(renamed.name, "Desk key");
    w.signet.passkeys().passkey_delete(&op, id).await.unwrap();
    assert!(w.signet.passkeys().passkeys(&op).await.unwrap().is_empty());
    let audit = w.audit_actions().await;
    for action in ["passkey_rename", "passkey_delete"] {
        assert!(audit.iter().any(|(a, r, _)| a == action && r == "ok"));
    }
}

#[tokio::test]
async fn a_deleted_passkey_no_longer_signs_in() {
    let w = world().await;
    let mut b = register(&w, &w.owner, "key").await;
    let op = w.op(&w.owner);
    let id = w.signet.passkeys().passkeys(&op).await.unwrap()[0]
        .id
        .clone();
    w.signet
        .passkeys()
        .passkey_delete(&op, id.as_str())
        .await
        .unwrap();
    assert_eq!(login(&w, &mut b).await, Err(CoreError::Unauthenticated));
}

#[tokio::test]
async fn a_suspended_user_is_refused_like_anyone() {
    let w = world().await;
    let dev = w.add_user("dev", UserStatus::Suspended).await;
    let mut b = register(&w, &dev, "key").await;
    assert_eq!(login(&w, &mut b).await, Err(CoreError::Unauthenticated));
    let logins = w
        .signet
        .accounts()
        .login_history(&dev.id, 10)
        .await
        .unwrap();
    assert_eq!(logins[0].result, signet_store::LoginResult::Failed);
    assert!(w.audit_actions().await.contains(&(
        "user_login".into(),
        "denied".into(),
        "method=passkey reason=user_suspended".into()
    )));
}

#[tokio::test]
async fn an_answer_from_another_origin_is_refused() {
    let w = world().await;
    let mut b = register(&w, &w.owner, "key").await;
    // Same host, other port: a browser reports it, and it is not this server's origin.
    b.origin = Url::parse("http://localhost:9999").unwrap();
    assert_eq!(login(&w, &mut b).await, Err(CoreError::Unauthenticated));

    let op = w.op(&w.owner);
    let c = w
        .signet
        .passkeys()
        .passkey_register_start(&op, "phished")
        .await
        .unwrap();
    let mut other = Passkey::new(ORIGIN);
    other.origin = Url::parse("http://localhost:9999").unwrap();
    let cred = other.create(&c.public_key);
    assert!(matches!(
        w.signet
            .passkeys()
            .passkey_register_finish(&op, c.challenge_id.as_str(), &cred)
            .await,
        Err(CoreError::BadRequest(_))
    ));
    assert_eq!(w.signet.passkeys().passkeys(&op).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_user_handle_must_name_the_credentials_owner() {
    let w = world().await;
    let mut b = register(&w, &w.owner, "key").await;
    b.user_handle = Some(UserId::generate().as_bytes().to_vec());
    assert_eq!(login(&w, &mut b).await, Err(CoreError::Unauthenticated));
    b.user_handle = None;
    assert_eq!(login(&w, &mut b).await, Err(CoreError::Unauthenticated));
}

#[tokio::test]
async fn step_up_takes_the_users_own_passkey_once() {
    let w = world().await;
    let mut owners = register(&w, &w.owner, "key").await;
    let dev = w.add_user("dev", UserStatus::Active).await;
    let mut devs = register(&w, &dev, "dev key").await;

    let c = w
        .signet
        .passkeys()
        .passkey_step_up_start(&w.owner.id)
        .await
        .unwrap();
    assert_eq!(
        c.public_key["allowCredentials"].as_array().unwrap().len(),
        1,
        "step-up lists the user's own passkeys"
    );
    let cred = owners.get(&c.public_key);
    w.signet
        .passkeys()
        .passkey_step_up_finish(&w.owner.id, answer(&c, &cred))
        .await
        .unwrap();
    assert_eq!(
        w.signet
            .passkeys()
            .passkey_step_up_finish(&w.owner.id, answer(&c, &cred))
            .await,
        Err(CoreError::Unauthenticated),
        "once"
    );

    // Another user's challenge, or another user's passkey, proves nothing for this user.
    let c = w
        .signet
        .passkeys()
        .passkey_step_up_start(&w.owner.id)
        .await
        .unwrap();
    let cred = owners.get(&c.public_key);
    assert_eq!(
        w.signet
            .passkeys()
            .passkey_step_up_finish(&dev.id, answer(&c, &cred))
            .await,
        Err(CoreError::Unauthenticated)
    );
    let c = w
        .signet
        .passkeys()
        .passkey_step_up_start(&w.owner.id)
        .await
        .unwrap();
    let mut options = c.clone();
    options.public_key["allowCredentials"] = json!([]);
    let cred = devs.get(&options.public_key);
    assert_eq!(
        w.signet
            .passkeys()
            .passkey_step_up_finish(&w.owner.id, answer(&c, &cred))
            .await,
        Err(CoreError::Unauthenticated)
    );

    // No passkey, no step-up by passkey.
    let bare = w.add_user("bare", UserStatus::Active).await;
    assert!(matches!(
        w.signet.passkeys().passkey_step_up_start(&bare.id).await,
        Err(CoreError::BadRequest(_))
    ));
    let audit = w.audit_actions().await;
    assert!(audit.contains(&("user_step_up".into(), "ok".into(), "method=passkey".into())));
    assert!(
        audit
            .iter()
            .any(|(a, r, _)| a == "user_step_up" && r == "denied")
    );
}

/// Sets every `counter` in the library's serialised credential.
fn set_counter(v: &mut Value, to: u32) {
    match v {
        Value::Object(m) => {
            for (k, inner) in m.iter_mut() {
                if k == "counter" {
                    *inner = json!(to);
                } else {
                    set_counter(inner, to);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|i| set_counter(i, to)),
        _ => {}
    }
}

/// Issue 9, finding 8: a copy of the authenticator signed in with a later counter; the original's
/// next assertion, correctly signed but with a lower counter, is refused and audited as
/// `counter_regressed` (not a generic bad assertion), for sign-in and step-up alike.
#[tokio::test]
async fn a_counter_going_backwards_is_refused_and_audited_as_counter_regressed() {
    let w = world().await;
    let mut b = register(&w, &w.owner, "key").await;
    w.advance(1000);
    login(&w, &mut b).await.unwrap();
    let stored = w.store.passkeys(&w.owner.id).await.unwrap().remove(0);
    let mut credential: Value = serde_json::from_str(&stored.credential).unwrap();
    set_counter(&mut credential, 1000);
    assert!(
        w.store
            .record_passkey_use(&stored.id, &credential.to_string(), 1000, w.clock.now_ms())
            .await
            .unwrap()
    );

    w.advance(1000);
    assert_eq!(login(&w, &mut b).await, Err(CoreError::Unauthenticated));
    let c = w
        .signet
        .passkeys()
        .passkey_step_up_start(&w.owner.id)
        .await
        .unwrap();
    let cred = b.get(&c.public_key);
    assert_eq!(
        w.signet
            .passkeys()
            .passkey_step_up_finish(&w.owner.id, answer(&c, &cred))
            .await,
        Err(CoreError::Unauthenticated)
    );

    let audit = w.audit_actions().await;
    assert!(
        audit.contains(&(
            "user_login".into(),
            "denied".into(),
            "method=passkey reason=counter_regressed".into()
        )),
        "{audit:?}"
    );
    assert!(
        audit.contains(&(
            "user_step_up".into(),
            "denied".into(),
            "method=passkey reason=counter_regressed".into()
        )),
        "{audit:?}"
    );
    // The stored counter is the clone's: the refused assertions changed nothing.
    assert_eq!(
        w.store.passkeys(&w.owner.id).await.unwrap()[0].sign_count,
        1000
    );
}

#[tokio::test]
async fn registering_in_a_session_needs_a_fresh_step_up() {
    let w = world().await;
    let mut op = w.op(&w.owner);
    op.session = Some(SessionGrant {
        id: SessionId::generate(),
        step_up_ms: Some(w.clock.now_ms()),
    });
    w.signet
        .passkeys()
        .passkey_register_start(&op, "fresh")
        .await
        .unwrap();
    w.advance(STEP_UP_WINDOW_MS);
    assert_eq!(
        w.signet
            .passkeys()
            .passkey_register_start(&op, "stale")
            .await
            .unwrap_err(),
        CoreError::StepUpRequired
    );
}

#[tokio::test]
async fn a_key_without_a_user_has_no_passkeys() {
    let w = world().await;
    let mut op = w.op(&w.owner);
    op.user_id = None;
    assert_eq!(
        w.signet
            .passkeys()
            .passkey_register_start(&op, "x")
            .await
            .unwrap_err(),
        CoreError::Forbidden
    );
    assert!(w.signet.passkeys().passkeys(&op).await.unwrap().is_empty());
}

#[tokio::test]
async fn names_and_the_per_user_limit_are_enforced() {
    let w = world().await;
    let op = w.op(&w.owner);
    for bad in ["", "   ", &"x".repeat(65)] {
        assert!(matches!(
            w.signet.passkeys().passkey_register_start(&op, bad).await,
            Err(CoreError::BadRequest(_))
        ));
    }
    for i in 0..10 {
        register(&w, &w.owner, &format!("key {i}")).await;
    }
    assert_eq!(
        w.signet
            .passkeys()
            .passkey_register_start(&op, "eleventh")
            .await
            .unwrap_err(),
        CoreError::Conflict(Conflict::PasskeyLimit)
    );
}

#[tokio::test]
async fn passkeys_need_a_domain_in_the_public_url() {
    let w = world_at("http://127.0.0.1:8420").await;
    let op = w.op(&w.owner);
    assert_eq!(
        w.signet
            .passkeys()
            .passkey_register_start(&op, "x")
            .await
            .unwrap_err(),
        CoreError::PasskeysUnavailable
    );
    assert_eq!(
        w.signet
            .passkeys()
            .passkey_login_start(ip())
            .await
            .unwrap_err(),
        CoreError::PasskeysUnavailable
    );
}
