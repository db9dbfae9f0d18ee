//! A new account's TOTP seed is pending until a code proves the authenticator has it: the
//! enrollment ticket confirms it once (a wrong or reused code changes nothing but the lockout
//! count; an expired, forged or spent ticket is the uniform refusal), and a sign-in with a right
//! code confirms it too. Driven with a manual clock over a real SQLite store.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly by design.

use std::net::{IpAddr, Ipv4Addr};

use signet_core::account::{
    LOCKOUT_FAILURES, LoginAttempt, OwnerEnrollment, Password, SecondFactor, TOTP_TICKET_MS,
};
use signet_core::network::ClientAddr;
use signet_core::{Clock, CoreError};
use signet_store::{AuditFilter, AuditResult, UserRecord};
use signet_testkit::PASSWORD;
use totp_rs::Totp;
use zeroize::Zeroizing;

signet_testkit::world_with! {
    /// The shared world with its first owner, whose seed is still pending.
    struct World {
        owner: OwnerEnrollment,
        totp: Totp,
    }
}

impl World {
    fn code(&self) -> Zeroizing<String> {
        let secs = u64::try_from(self.clock.now_ms() / 1000).unwrap();
        Zeroizing::new(self.totp.generate(secs).to_string())
    }

    async fn stored(&self) -> UserRecord {
        self.store.user(&self.owner.user.id).await.unwrap().unwrap()
    }

    async fn confirm(
        &self,
        ticket: &str,
        code: Zeroizing<String>,
    ) -> Result<UserRecord, CoreError> {
        self.signet
            .accounts()
            .confirm_totp(ticket, code, ip())
            .await
    }

    async fn audit(&self, result: AuditResult) -> usize {
        self.store
            .audit(&AuditFilter {
                action: Some("totp_confirm".to_owned()),
                limit: 100,
                ..AuditFilter::default()
            })
            .await
            .unwrap()
            .iter()
            .filter(|r| r.event.result == result)
            .count()
    }
}

async fn world() -> World {
    let kit = signet_testkit::World::sqlite().await;
    let owner = kit.owner_user("Owner", "owner@example.test").await;
    let totp = Totp::from_url(owner.otpauth_uri.as_str()).expect("otpauth uri");
    World { kit, owner, totp }
}

fn ip() -> ClientAddr {
    ClientAddr::Known(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)))
}

/// A code for the same time that the seed does not make.
fn wrong(code: &str) -> Zeroizing<String> {
    let n: u32 = code.parse().unwrap();
    Zeroizing::new(format!("{:06}", (n + 500_000) % 1_000_000))
}

#[tokio::test]
async fn a_new_seed_is_pending_until_a_right_code_confirms_it_once() {
    let w = world().await;
    let before = w.stored().await;
    assert!(before.totp_sealed.is_some());
    assert!(!before.totp_confirmed, "a new seed starts pending");
    assert_eq!(w.owner.ticket_expires_ms, w.clock.now_ms() + TOTP_TICKET_MS);

    // A wrong code: told so, nothing changes but the failure count.
    let code = w.code();
    assert_eq!(
        w.confirm(&w.owner.ticket, wrong(&code)).await.unwrap_err(),
        CoreError::WrongFactor
    );
    let after_wrong = w.stored().await;
    assert!(!after_wrong.totp_confirmed);
    assert_eq!(after_wrong.totp_last_step, before.totp_last_step);
    assert_eq!(after_wrong.failed_attempts, 1);
    assert_eq!(w.audit(AuditResult::Denied).await, 1);

    // The right code confirms, clears the count and is written down.
    let confirmed = w.confirm(&w.owner.ticket, code.clone()).await.unwrap();
    assert!(confirmed.totp_confirmed);
    assert_eq!(confirmed.failed_attempts, 0);
    assert_eq!(w.audit(AuditResult::Ok).await, 1);

    // The ticket is spent: the next code is refused with the uniform 401, and nothing changes.
    w.advance(30_000);
    assert_eq!(
        w.confirm(&w.owner.ticket, w.code()).await.unwrap_err(),
        CoreError::Unauthenticated
    );
    assert_eq!(w.stored().await, confirmed);
}

#[tokio::test]
async fn a_code_used_already_is_refused_and_leaves_the_seed_pending() {
    let w = world().await;
    let code = w.code();
    // The code's step was spent elsewhere (a racing request).
    let step = w.clock.now_ms() / 1000 / 30;
    assert!(
        w.store
            .accept_totp_step(&w.owner.user.id, step)
            .await
            .unwrap()
    );
    let before = w.stored().await;
    assert_eq!(
        w.confirm(&w.owner.ticket, code).await.unwrap_err(),
        CoreError::CodeReused
    );
    let after = w.stored().await;
    assert!(!after.totp_confirmed);
    assert_eq!(after.totp_last_step, before.totp_last_step);
    // The next step's code confirms.
    w.advance(30_000);
    assert!(
        w.confirm(&w.owner.ticket, w.code())
            .await
            .unwrap()
            .totp_confirmed
    );
}

#[tokio::test]
async fn expired_forged_and_other_users_tickets_are_refused_alike() {
    let w = world().await;
    let other = w.user("bob", signet_store::Role::Developer, None).await;
    let before = w.stored().await;
    let (id, sealed) = w.owner.ticket.split_once('.').unwrap();
    for forged in [
        String::new(),
        "garbage".to_owned(),
        format!("{id}.AAAA"),
        // The owner's sealed expiry under another user's id does not open.
        format!("{}.{sealed}", other.id),
        format!("{id}.{sealed}x"),
    ] {
        assert_eq!(
            w.confirm(&forged, w.code()).await.unwrap_err(),
            CoreError::Unauthenticated,
            "{forged}"
        );
    }
    w.advance(TOTP_TICKET_MS);
    assert_eq!(
        w.confirm(&w.owner.ticket, w.code()).await.unwrap_err(),
        CoreError::Unauthenticated
    );
    // Nothing was counted against the account: a ticket that does not work names nobody.
    assert_eq!(w.stored().await, before);
}

#[tokio::test]
async fn wrong_codes_lock_the_account_like_sign_ins() {
    let w = world().await;
    for _ in 0..LOCKOUT_FAILURES {
        let code = w.code();
        assert_eq!(
            w.confirm(&w.owner.ticket, wrong(&code)).await.unwrap_err(),
            CoreError::WrongFactor
        );
    }
    assert_eq!(
        w.confirm(&w.owner.ticket, w.code()).await.unwrap_err(),
        CoreError::RateLimited
    );
    assert!(!w.stored().await.totp_confirmed);
}

#[tokio::test]
async fn a_sign_in_with_a_right_code_confirms_a_pending_seed() {
    let w = world().await;
    // A recovery code signs in without confirming anything.
    w.signet
        .accounts()
        .login(LoginAttempt {
            login: "owner",
            password: Password::new(PASSWORD),
            second_factor: SecondFactor::Recovery(w.owner.recovery_codes[0].clone()),
            source_ip: ip(),
            user_agent: "test",
        })
        .await
        .unwrap();
    assert!(!w.stored().await.totp_confirmed);
    w.signet
        .accounts()
        .login(LoginAttempt {
            login: "owner",
            password: Password::new(PASSWORD),
            second_factor: SecondFactor::Totp(w.code()),
            source_ip: ip(),
            user_agent: "test",
        })
        .await
        .unwrap();
    assert!(w.stored().await.totp_confirmed);
    assert_eq!(w.audit(AuditResult::Ok).await, 1);
    // The enrollment ticket has nothing left to confirm.
    w.advance(30_000);
    assert_eq!(
        w.confirm(&w.owner.ticket, w.code()).await.unwrap_err(),
        CoreError::Unauthenticated
    );
}
