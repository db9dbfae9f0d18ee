//! Sign-in rules driven with a manual clock over a real SQLite store: lockout, TOTP reuse,
//! canonical logins, recovery codes and CLI keys.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly by design.

use signet_core::network::ClientAddr;
use std::net::{IpAddr, Ipv4Addr};

use signet_core::account::{
    CLI_KEY_TTL_MS, LOCKOUT_FAILURES, LOCKOUT_MS, LoginAttempt, NewOwner, OwnerEnrollment,
    Password, SecondFactor,
};
use signet_core::auth::SignedRequest;
use signet_core::{Clock, Conflict, CoreError};
use signet_proto::SecretSeed;
use signet_store::AuditFilter;
use signet_testkit::PASSWORD;
use totp_rs::Totp;
use zeroize::Zeroizing;

signet_testkit::world_with! {
    /// The shared world with its first owner account and their authenticator.
    struct World {
        owner: OwnerEnrollment,
        totp: Totp,
    }
}

impl World {
    fn code(&self) -> String {
        let secs = u64::try_from(self.clock.now_ms() / 1000).unwrap();
        self.totp.generate(secs).to_string()
    }
}

async fn world() -> World {
    let kit = signet_testkit::World::sqlite().await;
    let owner = kit.owner_user("Owner", "Owner@Example.test").await;
    let totp = Totp::from_url(owner.otpauth_uri.as_str()).expect("otpauth uri");
    World { kit, owner, totp }
}

fn ip(last: u8) -> ClientAddr {
    ClientAddr::Known(IpAddr::V4(Ipv4Addr::new(192, 0, 2, last)))
}

fn attempt<'a>(login: &'a str, password: &str, factor: SecondFactor) -> LoginAttempt<'a> {
    LoginAttempt {
        login,
        password: Password::new(password),
        second_factor: factor,
        source_ip: ip(1),
        user_agent: "test",
    }
}

fn totp(code: &str) -> SecondFactor {
    SecondFactor::Totp(Zeroizing::new(code.to_owned()))
}

#[tokio::test]
async fn the_owner_is_created_once_with_ten_codes() {
    let w = world().await;
    assert_eq!(w.owner.recovery_codes.len(), 10);
    assert!(w.owner.otpauth_uri.starts_with("otpauth://totp/"));
    assert_eq!(w.owner.user.username, "owner");
    assert_eq!(w.owner.user.email, "owner@example.test");
    let again = w
        .signet
        .accounts()
        .create_owner(NewOwner {
            username: "second",
            email: "second@example.test",
            password: Password::new(PASSWORD),
        })
        .await;
    assert_eq!(
        again.unwrap_err(),
        CoreError::Conflict(Conflict::UsersExist)
    );
    let weak = w
        .signet
        .accounts()
        .create_owner(NewOwner {
            username: "x",
            email: "x@example.test",
            password: Password::new("too short"),
        })
        .await;
    assert!(matches!(weak, Err(CoreError::BadRequest(_))));
}

/// Issue 9, finding 7: the first owner's password is checked for strength, with the username
/// and email counted as known to an attacker.
#[tokio::test]
async fn a_common_password_cannot_make_the_first_owner() {
    let w = signet_testkit::World::sqlite().await;
    let signet = &w.signet;
    for (username, password) in [
        ("owner", "password1234"),
        ("owner", "123456789012"),
        ("marguerite.fontaine", "marguerite.fontaine"),
    ] {
        let r = signet
            .accounts()
            .create_owner(NewOwner {
                username,
                email: "marguerite.fontaine@example.test",
                password: Password::new(password),
            })
            .await;
        assert!(
            matches!(r, Err(CoreError::WeakPassword(_))),
            "{password}: {r:?}"
        );
    }
    signet
        .accounts()
        .create_owner(NewOwner {
            username: "owner",
            email: "owner@example.test",
            password: Password::new("maple tundra ferry quiet"),
        })
        .await
        .expect("a strong password is accepted");
}

#[tokio::test]
async fn a_totp_code_is_accepted_once() {
    let w = world().await;
    let code = w.code();
    let u = w
        .signet
        .accounts()
        .login(attempt("owner", PASSWORD, totp(&code)))
        .await
        .expect("first use");
    assert_eq!(u.id, w.owner.user.id);
    assert_eq!(
        w.signet
            .accounts()
            .login(attempt("owner", PASSWORD, totp(&code)))
            .await
            .unwrap_err(),
        CoreError::Unauthenticated
    );
    // Within the skew window the previous step's code is valid, but it is older than the step
    // just accepted, so it is refused too.
    w.advance(30_000);
    assert_eq!(
        w.signet
            .accounts()
            .login(attempt("owner", PASSWORD, totp(&code)))
            .await
            .unwrap_err(),
        CoreError::Unauthenticated
    );
    w.signet
        .accounts()
        .login(attempt("owner", PASSWORD, totp(&w.code())))
        .await
        .expect("the next step's code");
    assert_eq!(
        w.signet
            .accounts()
            .login(attempt("owner", PASSWORD, SecondFactor::Missing))
            .await
            .unwrap_err(),
        CoreError::Unauthenticated
    );
}

#[tokio::test]
async fn unknown_logins_and_wrong_passwords_fail_alike() {
    let w = world().await;
    let unknown = w
        .signet
        .accounts()
        .login(attempt("nobody", PASSWORD, totp(&w.code())))
        .await
        .unwrap_err();
    let wrong = w
        .signet
        .accounts()
        .login(attempt("owner", "wrong password!!", totp(&w.code())))
        .await
        .unwrap_err();
    let bad_code = w
        .signet
        .accounts()
        .login(attempt("owner", PASSWORD, totp("000000")))
        .await
        .unwrap_err();
    assert_eq!(unknown, CoreError::Unauthenticated);
    assert_eq!(wrong, unknown);
    assert_eq!(bad_code, unknown);
    assert_eq!(unknown.to_string(), wrong.to_string());
}

#[tokio::test]
async fn case_and_unicode_variants_share_one_lockout() {
    let w = world().await;
    let variants = [
        "OWNER",
        "Ｏｗｎｅｒ",
        "owner@EXAMPLE.test",
        " owner ",
        "ＯＷＮＥＲ@example.test",
    ];
    assert_eq!(variants.len(), LOCKOUT_FAILURES as usize);
    for v in variants {
        assert_eq!(
            w.signet
                .accounts()
                .login(attempt(v, "wrong password!!", totp(&w.code())))
                .await
                .unwrap_err(),
            CoreError::Unauthenticated,
            "{v}"
        );
    }
    // Locked: even the right password and code are refused, without spending the code.
    let code = w.code();
    assert_eq!(
        w.signet
            .accounts()
            .login(attempt("owner", PASSWORD, totp(&code)))
            .await
            .unwrap_err(),
        CoreError::RateLimited
    );
    w.advance(LOCKOUT_MS - 1);
    assert_eq!(
        w.signet
            .accounts()
            .login(attempt("owner", PASSWORD, totp(&w.code())))
            .await
            .unwrap_err(),
        CoreError::RateLimited
    );
    w.advance(1);
    w.signet
        .accounts()
        .login(attempt("owner", PASSWORD, totp(&w.code())))
        .await
        .expect("the lock has expired");
    let history = w
        .signet
        .accounts()
        .login_history(&w.owner.user.id, 20)
        .await
        .expect("history");
    assert_eq!(history.len(), 8);
}

#[tokio::test]
async fn each_source_is_throttled() {
    let w = world().await;
    let mut limited = false;
    for i in 0..25 {
        // Unknown logins, so the account lock plays no part.
        let r = w
            .signet
            .accounts()
            .login(attempt("nobody", PASSWORD, SecondFactor::Missing))
            .await
            .unwrap_err();
        if r == CoreError::RateLimited {
            assert!(i >= 20, "throttled after {i}");
            limited = true;
        }
    }
    assert!(limited);
    // Another source is unaffected.
    let other = LoginAttempt {
        source_ip: ip(2),
        ..attempt("owner", PASSWORD, totp(&w.code()))
    };
    w.signet
        .accounts()
        .login(other)
        .await
        .expect("another source");
}

/// A flood from one source past its sign-in budget adds a bounded number of audit records: the
/// refusals are counted per source and written together when the interval ends.
#[tokio::test]
async fn a_throttled_flood_from_one_source_is_audited_in_aggregate() {
    let w = world().await;
    let records = |action: &str| {
        let store = w.store.clone();
        let action = action.to_owned();
        async move {
            store
                .audit(&AuditFilter {
                    action: Some(action),
                    limit: 1000,
                    ..AuditFilter::default()
                })
                .await
                .expect("audit")
        }
    };
    let before = records("user_login").await.len();
    let mut throttled = 0;
    for _ in 0..200 {
        if w.signet
            .accounts()
            .login(attempt("nobody", PASSWORD, SecondFactor::Missing))
            .await
            .unwrap_err()
            == CoreError::RateLimited
        {
            throttled += 1;
        }
    }
    assert!(throttled >= 150, "{throttled} throttled");
    // The attempts that were checked are one record each; of the refusals only the first is.
    let single = records("user_login").await.len() - before;
    assert!(
        single <= 200 - throttled + 1,
        "{single} records for {throttled} refusals"
    );
    w.advance(61_000);
    w.signet
        .audit()
        .flush_auth_failures(false)
        .await
        .expect("flush");
    let aggregates = records("auth_failures").await;
    assert_eq!(aggregates.len(), 1, "{aggregates:?}");
    let detail = &aggregates[0].event.detail;
    assert!(
        detail.contains(&format!("count={} ", throttled - 1))
            && detail.contains("source_throttled"),
        "{detail}"
    );
}

#[tokio::test]
async fn a_recovery_code_works_once() {
    let w = world().await;
    let code = w.owner.recovery_codes[3].clone();
    let rec = || SecondFactor::Recovery(code.clone());
    // A wrong password does not spend the code.
    assert_eq!(
        w.signet
            .accounts()
            .login(attempt("owner", "wrong password!!", rec()))
            .await
            .unwrap_err(),
        CoreError::Unauthenticated
    );
    w.signet
        .accounts()
        .login(attempt("owner", PASSWORD, rec()))
        .await
        .expect("first use");
    assert_eq!(
        w.signet
            .accounts()
            .login(attempt("owner", PASSWORD, rec()))
            .await
            .unwrap_err(),
        CoreError::Unauthenticated
    );
}

/// A signed operator request from the usual test source.
fn signed<'a>(
    seed: &SecretSeed,
    id: &'a str,
    now_ms: i64,
    parts: &'a mut Vec<String>,
) -> SignedRequest<'a> {
    signet_testkit::signed_from(seed, id, "/v1/admin/projects", now_ms, ip(1), parts)
}

#[tokio::test]
async fn cli_keys_expire_and_log_out() {
    let w = world().await;
    let seed = SecretSeed::generate();
    let pk = seed.public_key().to_base64();
    let r = w
        .signet
        .accounts()
        .cli_login(
            attempt("owner", PASSWORD, totp(&w.code())),
            &pk,
            Some("laptop"),
        )
        .await
        .expect("cli login");
    assert_eq!(r.expires_at, w.clock.now_ms() + CLI_KEY_TTL_MS);
    let id = r.operator_id.to_string();
    let mut buf = Vec::new();
    let op = w
        .signet
        .auth()
        .authenticate_operator(&signed(&seed, &id, w.clock.now_ms(), &mut buf))
        .await
        .expect("fresh key");
    assert_eq!(op.user_id, Some(w.owner.user.id));

    w.advance(CLI_KEY_TTL_MS);
    assert_eq!(
        w.signet
            .auth()
            .authenticate_operator(&signed(&seed, &id, w.clock.now_ms(), &mut buf))
            .await
            .unwrap_err(),
        CoreError::Unauthenticated
    );

    // A second key, logged out.
    let seed = SecretSeed::generate();
    let pk = seed.public_key().to_base64();
    let r = w
        .signet
        .accounts()
        .cli_login(attempt("owner", PASSWORD, totp(&w.code())), &pk, None)
        .await
        .expect("cli login");
    let id = r.operator_id.to_string();
    let op = w
        .signet
        .auth()
        .authenticate_operator(&signed(&seed, &id, w.clock.now_ms(), &mut buf))
        .await
        .expect("fresh key");
    w.signet.accounts().logout(&op).await.expect("logout");
    assert_eq!(
        w.signet
            .auth()
            .authenticate_operator(&signed(&seed, &id, w.clock.now_ms(), &mut buf))
            .await
            .unwrap_err(),
        CoreError::Unauthenticated
    );

    // A failed sign-in registers nothing.
    let seed = SecretSeed::generate();
    let pk = seed.public_key().to_base64();
    assert_eq!(
        w.signet
            .accounts()
            .cli_login(
                attempt("owner", "wrong password!!", totp(&w.code())),
                &pk,
                None
            )
            .await
            .unwrap_err(),
        CoreError::Unauthenticated
    );
}
