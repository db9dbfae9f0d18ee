//! Browser sessions, step-up and first-run setup, driven with a manual clock over a real
//! SQLite store.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly by design.

use signet_core::network::ClientAddr;
use std::net::{IpAddr, Ipv4Addr};

use signet_core::account::{LoginAttempt, NewOwner, Password, SecondFactor};
use signet_core::session::{
    OpenedSession, SESSION_ABSOLUTE_MS, SESSION_IDLE_MS, SETUP_CODE_TTL_MS, STEP_UP_WINDOW_MS,
    SessionSecret,
};
use signet_core::{Clock, CoreError};
use signet_testkit::PASSWORD;
use totp_rs::Totp;
use zeroize::Zeroizing;

signet_testkit::world_with! {
    /// The shared world with its first owner account's authenticator.
    struct World {
        totp: Totp,
    }
}

impl World {
    fn code(&self) -> String {
        let secs = u64::try_from(self.clock.now_ms() / 1000).unwrap();
        self.totp.generate(secs).to_string()
    }

    async fn login(&self, previous: Option<&SessionSecret>) -> OpenedSession {
        // A fresh TOTP step for every sign-in: a code is accepted once.
        self.advance(30_000);
        let code = self.code();
        self.signet
            .sessions()
            .session_login(
                LoginAttempt {
                    login: "owner",
                    password: Password::new(PASSWORD),
                    second_factor: SecondFactor::Totp(Zeroizing::new(code)),
                    source_ip: ip(),
                    user_agent: "test",
                },
                previous,
            )
            .await
            .expect("login")
    }
}

fn ip() -> ClientAddr {
    ClientAddr::Known(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)))
}

async fn world() -> World {
    let kit = signet_testkit::World::sqlite().await;
    let owner = kit.owner_user("owner", "owner@example.test").await;
    let totp = Totp::from_url(owner.otpauth_uri.as_str()).expect("otpauth uri");
    World { kit, totp }
}

fn new_owner(name: &str) -> NewOwner<'_> {
    NewOwner {
        username: name,
        email: "first@example.test",
        password: Password::new(PASSWORD),
    }
}

#[tokio::test]
async fn the_setup_code_works_once_within_the_hour() {
    let w = signet_testkit::World::sqlite().await;
    let (signet, clock) = (&w.signet, &w.clock);
    assert!(signet.sessions().setup_open().await.unwrap());
    let code = signet
        .sessions()
        .issue_setup_code()
        .await
        .unwrap()
        .expect("a code");
    assert_eq!(code.len(), 43);
    // Wrong code: refused, nothing created.
    let wrong = signet
        .sessions()
        .setup_owner("not-the-code", ip(), new_owner("first"))
        .await;
    assert_eq!(wrong.unwrap_err(), CoreError::SetupClosed);
    assert!(signet.sessions().setup_open().await.unwrap());

    // Expired: a new code is needed.
    clock.advance(SETUP_CODE_TTL_MS);
    let late = signet
        .sessions()
        .setup_owner(&code, ip(), new_owner("first"))
        .await;
    assert_eq!(late.unwrap_err(), CoreError::SetupClosed);

    let code = signet
        .sessions()
        .issue_setup_code()
        .await
        .unwrap()
        .expect("a new code");
    let made = signet
        .sessions()
        .setup_owner(&code, ip(), new_owner("first"))
        .await
        .expect("setup");
    assert_eq!(made.user.role, signet_store::Role::Owner);
    assert_eq!(made.recovery_codes.len(), 10);
    assert!(!signet.sessions().setup_open().await.unwrap());
    // Spent, and no new code is issued once a user exists.
    let again = signet
        .sessions()
        .setup_owner(&code, ip(), new_owner("second"))
        .await;
    assert_eq!(again.unwrap_err(), CoreError::SetupClosed);
    assert!(
        signet
            .sessions()
            .issue_setup_code()
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_session_authenticates_until_idle_or_absolute_timeout() {
    let w = world().await;
    let s = w.login(None).await;
    let op = w
        .signet
        .sessions()
        .authenticate_session(&s.secret, ip())
        .await
        .unwrap();
    assert_eq!(op.role, signet_store::Role::Owner);
    assert_eq!(op.session.map(|g| g.id), Some(s.view.session_id));

    // Activity keeps it alive past the idle timeout...
    for _ in 0..4 {
        w.advance(SESSION_IDLE_MS - 60_000);
        w.signet
            .sessions()
            .authenticate_session(&s.secret, ip())
            .await
            .unwrap();
    }
    // ...and silence ends it, for good.
    w.advance(SESSION_IDLE_MS);
    let idle = w
        .signet
        .sessions()
        .authenticate_session(&s.secret, ip())
        .await;
    assert_eq!(idle.unwrap_err(), CoreError::Unauthenticated);
    w.clock.advance(-SESSION_IDLE_MS);
    let revived = w
        .signet
        .sessions()
        .authenticate_session(&s.secret, ip())
        .await;
    assert_eq!(revived.unwrap_err(), CoreError::Unauthenticated);

    // The absolute timeout holds however busy the session is.
    let s = w.login(None).await;
    let end = s.view.expires_at;
    assert_eq!(end, w.clock.now_ms() + SESSION_ABSOLUTE_MS);
    while w.clock.now_ms() + SESSION_IDLE_MS / 2 < end {
        w.advance(SESSION_IDLE_MS / 2);
        w.signet
            .sessions()
            .authenticate_session(&s.secret, ip())
            .await
            .unwrap();
    }
    w.advance(SESSION_IDLE_MS / 2);
    assert!(w.clock.now_ms() >= end);
    let over = w
        .signet
        .sessions()
        .authenticate_session(&s.secret, ip())
        .await;
    assert_eq!(over.unwrap_err(), CoreError::Unauthenticated);
}

#[tokio::test]
async fn signing_in_again_replaces_the_presented_session() {
    let w = world().await;
    let first = w.login(None).await;
    let second = w.login(Some(&first.secret)).await;
    assert_ne!(first.view.session_id, second.view.session_id);
    assert_ne!(first.secret.expose(), second.secret.expose());
    assert_ne!(first.view.csrf_token, second.view.csrf_token);
    let old = w
        .signet
        .sessions()
        .authenticate_session(&first.secret, ip())
        .await;
    assert_eq!(old.unwrap_err(), CoreError::Unauthenticated);
    w.signet
        .sessions()
        .authenticate_session(&second.secret, ip())
        .await
        .unwrap();
    // A cookie nobody issued authenticates nobody.
    let forged = SessionSecret::parse(&"A".repeat(43)).unwrap();
    let none = w
        .signet
        .sessions()
        .authenticate_session(&forged, ip())
        .await;
    assert_eq!(none.unwrap_err(), CoreError::Unauthenticated);
}

#[tokio::test]
async fn logout_ends_the_session_and_only_it() {
    let w = world().await;
    let a = w.login(None).await;
    let b = w.login(None).await;
    let op = w
        .signet
        .sessions()
        .authenticate_session(&a.secret, ip())
        .await
        .unwrap();
    w.signet.accounts().logout(&op).await.unwrap();
    let dead = w
        .signet
        .sessions()
        .authenticate_session(&a.secret, ip())
        .await;
    assert_eq!(dead.unwrap_err(), CoreError::Unauthenticated);
    w.signet
        .sessions()
        .authenticate_session(&b.secret, ip())
        .await
        .unwrap();

    // Revoking from the account page: own sessions only.
    let op_b = w
        .signet
        .sessions()
        .authenticate_session(&b.secret, ip())
        .await
        .unwrap();
    let c = w.login(None).await;
    let view = w.signet.sessions().account_view(&op_b).await.unwrap();
    assert_eq!(view.sessions.len(), 2);
    assert_eq!(view.sessions.iter().filter(|s| s.current).count(), 1);
    w.signet
        .sessions()
        .revoke_own_session(&op_b, &c.view.session_id.to_string())
        .await
        .unwrap();
    let gone = w
        .signet
        .sessions()
        .authenticate_session(&c.secret, ip())
        .await;
    assert_eq!(gone.unwrap_err(), CoreError::Unauthenticated);
    let unknown = w
        .signet
        .sessions()
        .revoke_own_session(&op_b, &signet_proto::SessionId::generate().to_string())
        .await;
    assert_eq!(unknown.unwrap_err(), CoreError::NotFound);
}

#[tokio::test]
async fn sensitive_actions_need_a_recent_second_factor() {
    let w = world().await;
    let s = w.login(None).await;
    let op = w
        .signet
        .sessions()
        .authenticate_session(&s.secret, ip())
        .await
        .unwrap();
    // Signing in is a step-up: a token can be issued right away.
    w.signet
        .enrollment()
        .issue_bootstrap_token(&op)
        .await
        .unwrap();

    w.advance(STEP_UP_WINDOW_MS);
    let op = w
        .signet
        .sessions()
        .authenticate_session(&s.secret, ip())
        .await
        .unwrap();
    let stale = w.signet.enrollment().issue_bootstrap_token(&op).await;
    assert_eq!(stale.unwrap_err(), CoreError::StepUpRequired);
    let stale = w
        .signet
        .network()
        .allowlist_add(&op, "10.0.0.0/8", "office")
        .await;
    assert_eq!(stale.unwrap_err(), CoreError::StepUpRequired);
    // Reading and ordinary writes need no step-up.
    w.signet
        .secrets()
        .create_project(&op, "demo")
        .await
        .unwrap();

    // A wrong code is refused; the right one opens the window; the same code again is refused.
    let wrong = w
        .signet
        .sessions()
        .step_up_totp(&op, Zeroizing::new("000000".into()), "test")
        .await;
    // Not the session's 401: the session is fine (issue 16, bug 13).
    assert_eq!(wrong.unwrap_err(), CoreError::WrongFactor);
    w.advance(30_000);
    let code = w.code();
    let until = w
        .signet
        .sessions()
        .step_up_totp(&op, Zeroizing::new(code.clone()), "test")
        .await
        .unwrap();
    assert_eq!(until, w.clock.now_ms() + STEP_UP_WINDOW_MS);
    let reused = w
        .signet
        .sessions()
        .step_up_totp(&op, Zeroizing::new(code), "test")
        .await;
    assert_eq!(reused.unwrap_err(), CoreError::CodeReused);
    // Both failures are recorded as failed step-ups by the session's operator, never as
    // anonymous failed sign-ins.
    let records = |action: &'static str| {
        let store = w.store.clone();
        async move {
            store
                .audit(&signet_store::AuditFilter {
                    action: Some(action.to_owned()),
                    limit: 100,
                    ..signet_store::AuditFilter::default()
                })
                .await
                .expect("audit")
        }
    };
    let denied: Vec<String> = records("session_step_up")
        .await
        .into_iter()
        .filter(|r| r.event.result == signet_store::AuditResult::Denied)
        .map(|r| format!("{} {}", r.event.actor_id, r.event.detail))
        .collect();
    assert_eq!(
        denied.len(),
        2,
        "a wrong and a reused code, each a denied step-up: {denied:?}"
    );
    assert!(
        denied.iter().all(|d| d.starts_with(&op.id.to_string())),
        "{denied:?}"
    );
    assert!(
        denied.iter().any(|d| d.ends_with("reason=code_reused")),
        "{denied:?}"
    );
    assert!(
        records("user_login")
            .await
            .iter()
            .all(|r| r.event.result == signet_store::AuditResult::Ok),
        "no failed sign-in was recorded"
    );
    let op = w
        .signet
        .sessions()
        .authenticate_session(&s.secret, ip())
        .await
        .unwrap();
    w.signet
        .enrollment()
        .issue_bootstrap_token(&op)
        .await
        .unwrap();
    w.signet
        .network()
        .allowlist_add(&op, "10.0.0.0/8", "office")
        .await
        .unwrap();
}

#[tokio::test]
async fn a_password_change_needs_the_old_one_and_ends_other_sessions() {
    let w = world().await;
    let mine = w.login(None).await;
    let other = w.login(None).await;
    let op = w
        .signet
        .sessions()
        .authenticate_session(&mine.secret, ip())
        .await
        .unwrap();
    let wrong = w
        .signet
        .sessions()
        .change_password(
            &op,
            Password::new("not my password"),
            Password::new("a brand new passphrase"),
        )
        .await;
    assert_eq!(wrong.unwrap_err(), CoreError::WrongFactor);
    let refused = w
        .store
        .audit(&signet_store::AuditFilter {
            action: Some("user_password_change".to_owned()),
            limit: 10,
            ..signet_store::AuditFilter::default()
        })
        .await
        .expect("audit");
    assert!(
        refused
            .iter()
            .any(|r| r.event.result == signet_store::AuditResult::Denied
                && r.event.detail == "reason=bad_password"),
        "{refused:?}"
    );
    let refused = w
        .store
        .audit(&signet_store::AuditFilter {
            action: Some("user_password_change".to_owned()),
            limit: 10,
            ..signet_store::AuditFilter::default()
        })
        .await
        .expect("audit");
    assert!(
        refused
            .iter()
            .any(|r| r.event.result == signet_store::AuditResult::Denied
                && r.event.detail == "reason=bad_password"),
        "{refused:?}"
    );
    let weak = w
        .signet
        .sessions()
        .change_password(&op, Password::new(PASSWORD), Password::new("short"))
        .await;
    assert!(matches!(weak.unwrap_err(), CoreError::BadRequest(_)));
    // A common password is refused however long (issue 9, finding 7).
    let common = w
        .signet
        .sessions()
        .change_password(&op, Password::new(PASSWORD), Password::new("password1234"))
        .await;
    assert!(matches!(common.unwrap_err(), CoreError::WeakPassword(_)));
    w.signet
        .sessions()
        .change_password(
            &op,
            Password::new(PASSWORD),
            Password::new("a brand new passphrase"),
        )
        .await
        .unwrap();
    w.signet
        .sessions()
        .authenticate_session(&mine.secret, ip())
        .await
        .unwrap();
    let ended = w
        .signet
        .sessions()
        .authenticate_session(&other.secret, ip())
        .await;
    assert_eq!(ended.unwrap_err(), CoreError::Unauthenticated);
    w.advance(30_000);
    let old = w
        .signet
        .sessions()
        .session_login(
            LoginAttempt {
                login: "owner",
                password: Password::new(PASSWORD),
                second_factor: SecondFactor::Totp(Zeroizing::new(w.code())),
                source_ip: ip(),
                user_agent: "test",
            },
            None,
        )
        .await;
    assert_eq!(old.unwrap_err(), CoreError::Unauthenticated);
}
