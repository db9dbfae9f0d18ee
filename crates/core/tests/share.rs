//! Issue 11 §6, one-time share links, through core over a real store of each kind: a link opens
//! once (right passphrase: the value; wrong: destroyed), of racing openers exactly one wins, an
//! unknown id or wrong secret part consumes nothing, expiry erases, creators see their own links
//! and admins everyone's, and neither the secret part, the passphrase nor the value is stored or
//! audited in clear.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly by design.

use std::path::PathBuf;
use std::sync::Arc;

use signet_core::account::Password;
use signet_core::address::ClientAddr;
use signet_core::auth::AuthedOperator;
use signet_core::role::Scope;
use signet_core::share::{NewShare, ShareOpening};
use signet_core::{Clock, Conflict, CoreError, Signet, SignetConfig};
use signet_crypto::RootKey;
use signet_proto::{OperatorId, UserId};
use signet_store::{AuditFilter, AuditResult, Cell, Role, Store};
use signet_store_sqlite::SqliteStore;
use signet_testkit::ManualClock;
use signet_testkit::postgres::TestDatabase;
use zeroize::Zeroizing;

const PASSPHRASE: &str = "correct horse battery";
const START: i64 = 1_760_000_000_000;

struct Vault {
    signet: Signet,
    clock: Arc<ManualClock>,
    store: Arc<dyn Store>,
    /// The SQLite file, to read raw; `None` on PostgreSQL.
    file: Option<PathBuf>,
}

fn operator(role: Role, user: Option<UserId>) -> AuthedOperator {
    AuthedOperator {
        id: OperatorId::generate(),
        name: "test".to_owned(),
        owner: false,
        user_id: user,
        session: None,
        role,
        scope: Scope::All,
        source_ip: signet_testkit::LOCAL,
        ai_agent: None,
    }
}

fn developer() -> AuthedOperator {
    operator(Role::Developer, Some(UserId::generate()))
}

/// A source address of its own, so tests do not share a failure budget.
fn source(n: u8) -> ClientAddr {
    ClientAddr::Known(std::net::IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, n)))
}

impl Vault {
    async fn create(
        &self,
        op: &AuthedOperator,
        value: &str,
        ttl_secs: u32,
    ) -> (String, String, String) {
        let issued = self
            .signet
            .shares()
            .create_share(
                op,
                NewShare {
                    value: Zeroizing::new(value.to_owned()),
                    passphrase: Password::new(PASSPHRASE),
                    ttl_secs,
                },
            )
            .await
            .unwrap();
        let (_, token) = issued.url.split_once("/#/s/").expect("link shape");
        let (id, secret) = token.split_once('.').expect("id.secret");
        assert_eq!(id, issued.share.id.as_str());
        assert_eq!(issued.share.status, "pending");
        assert_eq!(
            issued.share.expires_at,
            self.clock.now_ms() + i64::from(ttl_secs) * 1000
        );
        (id.to_owned(), secret.to_owned(), issued.url.to_string())
    }

    async fn open(
        &self,
        id: &str,
        secret: &str,
        passphrase: &str,
        from: u8,
    ) -> Result<String, CoreError> {
        self.signet
            .shares()
            .open_share(ShareOpening {
                id,
                secret,
                passphrase: Password::new(passphrase),
                source_ip: source(from),
            })
            .await
            .map(|v| v.to_string())
    }

    async fn status(&self, op: &AuthedOperator, id: &str) -> &'static str {
        self.signet
            .shares()
            .shares(op)
            .await
            .unwrap()
            .into_iter()
            .find(|s| s.id.as_str() == id)
            .expect("listed")
            .status
    }

    async fn audit(&self, action: &str) -> Vec<signet_store::AuditRecord> {
        self.store
            .audit(&AuditFilter {
                action: Some(action.to_owned()),
                limit: 1000,
                ..AuditFilter::default()
            })
            .await
            .unwrap()
    }
}

async fn vault(store: Arc<dyn Store>, file: Option<PathBuf>) -> Vault {
    let clock = Arc::new(ManualClock::at(START));
    let signet = Signet::open(
        Arc::clone(&store),
        RootKey::generate().unwrap(),
        clock.clone(),
        SignetConfig::default(),
    )
    .await
    .expect("open");
    Vault {
        signet,
        clock,
        store,
        file,
    }
}

/// Right passphrase: the value, once; the link is then `viewed` and every later attempt, right
/// or not, is the uniform 403. Audited as share_create and share_open ok.
async fn a_link_opens_once(v: Vault) {
    let dev = developer();
    let (id, secret, url) = v.create(&dev, "db-password: s3cr3t ✓", 3600).await;
    assert!(url.starts_with("http://localhost:8420/#/s/shr_"));
    assert_eq!(v.status(&dev, &id).await, "pending");
    assert_eq!(
        v.open(&id, &secret, PASSPHRASE, 1).await.unwrap(),
        "db-password: s3cr3t ✓"
    );
    assert_eq!(v.status(&dev, &id).await, "viewed");
    assert_eq!(
        v.open(&id, &secret, PASSPHRASE, 1).await,
        Err(CoreError::Forbidden)
    );
    assert_eq!(
        v.open(&id, &secret, "wrong passphrase", 1).await,
        Err(CoreError::Forbidden)
    );
    assert_eq!(v.status(&dev, &id).await, "viewed");

    let created = v.audit("share_create").await;
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].event.target, id);
    let opened = v.audit("share_open").await;
    assert_eq!(opened.len(), 2, "the open and the first refused retry");
    assert!(
        opened
            .iter()
            .any(|r| r.event.result == AuditResult::Ok && r.event.target == id)
    );
}

/// A wrong passphrase destroys the link; the right one afterwards is refused too.
async fn a_wrong_passphrase_destroys_the_link(v: Vault) {
    let dev = developer();
    let (id, secret, _) = v.create(&dev, "value", 600).await;
    assert_eq!(
        v.open(&id, &secret, "not the passphrase", 2).await,
        Err(CoreError::Forbidden)
    );
    assert_eq!(v.status(&dev, &id).await, "destroyed");
    assert_eq!(
        v.open(&id, &secret, PASSPHRASE, 2).await,
        Err(CoreError::Forbidden)
    );
    let denied = v.audit("share_open").await;
    assert!(denied.iter().any(|r| r.event.result == AuditResult::Denied
        && r.event.target == id
        && r.event.detail == "wrong_passphrase"));
}

/// An unknown id, or the right id with a wrong secret part, is the same 403 and consumes
/// nothing; a passphrase no link can have is 400 before anything. The link still opens after.
async fn the_id_alone_consumes_nothing(v: Vault) {
    let dev = developer();
    let (id, secret, _) = v.create(&dev, "value", 600).await;
    let wrong_secret = format!("{}A", &secret[..secret.len() - 1]);
    let wrong_secret = if wrong_secret == secret {
        format!("{}B", &secret[..secret.len() - 1])
    } else {
        wrong_secret
    };
    assert_eq!(
        v.open(&id, &wrong_secret, PASSPHRASE, 3).await,
        Err(CoreError::Forbidden)
    );
    assert_eq!(
        v.open(&id, "", PASSPHRASE, 3).await,
        Err(CoreError::Forbidden)
    );
    assert_eq!(
        v.open("shr_0000000000000000", &secret, PASSPHRASE, 3).await,
        Err(CoreError::Forbidden)
    );
    assert_eq!(
        v.open("not-an-id", &secret, PASSPHRASE, 3).await,
        Err(CoreError::Forbidden)
    );
    assert!(matches!(
        v.open(&id, &secret, "short", 3).await,
        Err(CoreError::BadRequest(_))
    ));
    assert_eq!(v.status(&dev, &id).await, "pending");
    assert_eq!(v.open(&id, &secret, PASSPHRASE, 3).await.unwrap(), "value");
}

/// Failed attempts spend the source's failure budget: past it, 429 without looking at links.
async fn failed_opens_are_throttled_per_source(v: Vault) {
    let dev = developer();
    let (id, secret, _) = v.create(&dev, "value", 600).await;
    let mut throttled = false;
    for _ in 0..40 {
        match v.open(&id, "guess", PASSPHRASE, 4).await {
            Err(CoreError::Forbidden) => {}
            Err(CoreError::OverBudget { .. }) => {
                throttled = true;
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(throttled, "the source ran out of failure budget");
    // The throttled source cannot even try the right link; another source can.
    assert!(matches!(
        v.open(&id, &secret, PASSPHRASE, 4).await,
        Err(CoreError::OverBudget { .. })
    ));
    assert_eq!(v.open(&id, &secret, PASSPHRASE, 5).await.unwrap(), "value");
}

/// Of concurrent attempts on one link, right and wrong passphrases mixed, exactly one uses it
/// up; if that one had the right passphrase it alone got the value.
async fn concurrent_opens_let_exactly_one_win(v: Vault) {
    let v = Arc::new(v);
    let dev = developer();
    for round in 0..2u8 {
        let (id, secret, _) = v.create(&dev, "raced", 600).await;
        let tasks: Vec<_> = (0..6u8)
            .map(|i| {
                let (v, id, secret) = (Arc::clone(&v), id.clone(), secret.clone());
                // Round 0: all right; round 1: half wrong.
                let pass = if round == 1 && i % 2 == 1 {
                    "wrong passphrase"
                } else {
                    PASSPHRASE
                };
                tokio::spawn(async move { v.open(&id, &secret, pass, 10 + i).await })
            })
            .collect();
        let mut values = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(value) => {
                    assert_eq!(value, "raced");
                    values += 1;
                }
                Err(e) => assert_eq!(e, CoreError::Forbidden),
            }
        }
        let status = v.status(&dev, &id).await;
        let closes = v
            .audit("share_open")
            .await
            .into_iter()
            .filter(|r| r.event.target == id)
            .count();
        assert_eq!(closes, 1, "exactly one attempt consumed the link");
        match status {
            "viewed" => assert_eq!(values, 1),
            "destroyed" => assert_eq!(values, 0),
            other => panic!("status {other}"),
        }
        if round == 0 {
            assert_eq!(values, 1, "with every passphrase right, one reader got it");
        }
    }
}

/// A link past its expiry opens for nobody: the attempt erases it as `expired` (audited with
/// reason expired); listing sweeps other expired links too.
async fn expired_links_are_erased(v: Vault) {
    let dev = developer();
    let (id, secret, _) = v.create(&dev, "short-lived", 60).await;
    let (other, _, _) = v.create(&dev, "also short-lived", 120).await;
    let (lasting, _, _) = v.create(&dev, "lasting", 3600).await;
    v.clock.advance(60_000);
    assert_eq!(
        v.open(&id, &secret, PASSPHRASE, 20).await,
        Err(CoreError::Forbidden)
    );
    let rec = v.store.share(&id.parse().unwrap()).await.unwrap().unwrap();
    assert_eq!(rec.status, signet_store::ShareStatus::Expired);
    assert_eq!(rec.ciphertext, None);
    assert!(
        v.audit("share_open")
            .await
            .iter()
            .any(|r| r.event.target == id
                && r.event.result == AuditResult::Denied
                && r.event.detail == "expired")
    );
    v.clock.advance(60_000);
    assert_eq!(v.status(&dev, &other).await, "expired");
    let swept = v
        .store
        .share(&other.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (swept.status, swept.ciphertext),
        (signet_store::ShareStatus::Expired, None)
    );
    assert_eq!(v.status(&dev, &lasting).await, "pending");
}

/// Lifetime from a minute to a day, value at most 100 KB, passphrase at least 8 characters;
/// viewers may not create links.
async fn limits_are_enforced(v: Vault) {
    let dev = developer();
    let new = |value: &str, passphrase: &str, ttl_secs: u32| NewShare {
        value: Zeroizing::new(value.to_owned()),
        passphrase: Password::new(passphrase),
        ttl_secs,
    };
    let s = v.signet.shares();
    for ttl in [0, 59, 86_401] {
        assert!(
            matches!(
                s.create_share(&dev, new("v", PASSPHRASE, ttl)).await,
                Err(CoreError::BadRequest(_))
            ),
            "ttl {ttl}"
        );
    }
    s.create_share(&dev, new("v", PASSPHRASE, 60))
        .await
        .unwrap();
    s.create_share(&dev, new("v", PASSPHRASE, 86_400))
        .await
        .unwrap();
    assert!(matches!(
        s.create_share(&dev, new("v", "1234567", 60)).await,
        Err(CoreError::BadRequest(_))
    ));
    assert!(matches!(
        s.create_share(&dev, new("", PASSPHRASE, 60)).await,
        Err(CoreError::BadRequest(_))
    ));
    let max = "x".repeat(100 * 1024);
    s.create_share(&dev, new(&max, PASSPHRASE, 60))
        .await
        .unwrap();
    assert_eq!(
        s.create_share(&dev, new(&format!("{max}x"), PASSPHRASE, 60))
            .await
            .unwrap_err(),
        CoreError::PayloadTooLarge
    );
    let viewer = operator(Role::Viewer, Some(UserId::generate()));
    assert_eq!(
        s.create_share(&viewer, new("v", PASSPHRASE, 60))
            .await
            .unwrap_err(),
        CoreError::Forbidden
    );
}

/// Creators list and revoke only their own links (someone else's is the same 403 as none);
/// admins see and revoke everyone's; a revoked link is destroyed and opens for nobody.
async fn creators_see_their_own_and_admins_all(v: Vault) {
    let ann = developer();
    let bob = developer();
    // Another session or key of Ann's is still Ann.
    let ann_again = operator(Role::Developer, ann.user_id);
    let admin = operator(Role::Admin, Some(UserId::generate()));
    let (a, a_secret, _) = v.create(&ann, "ann's", 600).await;
    let (b, _, _) = v.create(&bob, "bob's", 600).await;
    let ids = |list: Vec<signet_core::share::ShareView>| -> Vec<String> {
        list.into_iter().map(|s| s.id.to_string()).collect()
    };
    let s = v.signet.shares();
    assert_eq!(ids(s.shares(&ann).await.unwrap()), std::slice::from_ref(&a));
    assert_eq!(
        ids(s.shares(&ann_again).await.unwrap()),
        std::slice::from_ref(&a)
    );
    assert_eq!(ids(s.shares(&bob).await.unwrap()), std::slice::from_ref(&b));
    // Both links may carry the same millisecond, so the admin's list is compared as a set.
    let mut all = ids(s.shares(&admin).await.unwrap());
    all.sort();
    let mut want = vec![a.clone(), b.clone()];
    want.sort();
    assert_eq!(all, want);
    assert_eq!(s.revoke_share(&bob, &a).await, Err(CoreError::Forbidden));
    assert_eq!(
        s.revoke_share(&bob, "shr_0000000000000000").await,
        Err(CoreError::Forbidden)
    );
    assert_eq!(
        s.revoke_share(&bob, "junk").await,
        Err(CoreError::Forbidden)
    );
    s.revoke_share(&ann_again, &a).await.unwrap();
    assert_eq!(v.status(&ann, &a).await, "destroyed");
    assert_eq!(
        s.revoke_share(&ann, &a).await,
        Err(CoreError::Conflict(Conflict::ShareSpent))
    );
    assert_eq!(
        v.open(&a, &a_secret, PASSPHRASE, 30).await,
        Err(CoreError::Forbidden)
    );
    s.revoke_share(&admin, &b).await.unwrap();
    assert_eq!(v.status(&bob, &b).await, "destroyed");
    assert_eq!(
        v.audit("share_revoke")
            .await
            .iter()
            .filter(|r| r.event.result == AuditResult::Ok)
            .count(),
        2
    );
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Neither the link's secret part, the passphrase nor the value is in any stored row (or, on
/// SQLite, anywhere in the database files), before or after opening; nor in any audit record.
async fn nothing_is_stored_in_clear(v: Vault) {
    let dev = developer();
    let value = "VALUE-0f3c9d1e-plaintext-marker";
    let (id, secret, _) = v.create(&dev, value, 600).await;
    let needles: [&[u8]; 3] = [secret.as_bytes(), PASSPHRASE.as_bytes(), value.as_bytes()];
    let check = |when: &'static str| {
        let v = &v;
        async move {
            for t in v.store.export_tables().await.unwrap() {
                for cell in t.rows.iter().flatten() {
                    let bytes: &[u8] = match cell {
                        Cell::Bytes(b) => b,
                        Cell::Text(s) => s.as_bytes(),
                        _ => continue,
                    };
                    for n in needles {
                        assert!(
                            !contains(bytes, n),
                            "{when}: table {} holds a secret",
                            t.name
                        );
                    }
                }
            }
            if let Some(file) = &v.file {
                let mut raw = std::fs::read(file).unwrap();
                raw.extend(std::fs::read(format!("{}-wal", file.display())).unwrap_or_default());
                for n in needles {
                    assert!(
                        !contains(&raw, n),
                        "{when}: the database files hold a secret"
                    );
                }
                raw
            } else {
                Vec::new()
            }
        }
    };
    let raw = check("pending").await;
    if v.file.is_some() {
        // The scan sees stored rows: the sealed value itself is found in the files.
        let sealed = v.store.share(&id.parse().unwrap()).await.unwrap().unwrap();
        assert!(
            contains(&raw, &sealed.ciphertext.unwrap()),
            "the scan reads the rows"
        );
    }
    assert_eq!(v.open(&id, &secret, PASSPHRASE, 40).await.unwrap(), value);
    check("viewed").await;
}

/// Runs each body on a fresh SQLite file and on a fresh PostgreSQL database.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                use super::*;

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let dir = tempfile::tempdir().unwrap();
                    let file = dir.path().join("signet.db");
                    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&file).unwrap());
                    super::$name(vault(store, Some(file)).await).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let db = TestDatabase::create().await;
                    let store: Arc<dyn Store> = Arc::new(db.store().await);
                    super::$name(vault(store, None).await).await;
                }
            }
        )*
    };
}

on_both_backends!(
    a_link_opens_once,
    a_wrong_passphrase_destroys_the_link,
    the_id_alone_consumes_nothing,
    failed_opens_are_throttled_per_source,
    concurrent_opens_let_exactly_one_win,
    expired_links_are_erased,
    limits_are_enforced,
    creators_see_their_own_and_admins_all,
    nothing_is_stored_in_clear,
);
