//! Issue 11, "Access policies", through core over real stores: every axis refuses with the
//! uniform 403 and an audit record naming it; counters are exact when readers race, on one core
//! and on two cores sharing one database (SQLite file and PostgreSQL); the time window follows
//! a named zone's wall clock across midnight and both DST changes.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly by design.

use std::sync::Arc;

use signet_api::admin::policy::{CoSign, PolicyRules, TimeWindow};
use signet_core::auth::{AuthedMachine, AuthedOperator};
use signet_core::network::ClientAddr;
use signet_core::{Clock, Conflict, CoreError, Signet, SignetConfig};
use signet_crypto::RootKey;
use signet_proto::{MachineId, SecretId};
use signet_store::{AuditFilter, AuditResult, Role, Store};
use signet_store_sqlite::SqliteStore;
use signet_testkit::clock::ManualClock;
use signet_testkit::granted_machine;
use signet_testkit::postgres::TestDatabase;

/// Readers per race, and the cap they race against.
const READERS: usize = 20;
const CAP: u64 = 5;

/// One core (or two over the same database) with a project, a secret and a granted machine.
struct Vault {
    a: Arc<Signet>,
    b: Arc<Signet>,
    op: AuthedOperator,
    project: String,
    secret: SecretId,
    reader: AuthedMachine,
    store: Arc<dyn Store>,
}

async fn open(store: Arc<dyn Store>, root: RootKey, clock: Arc<dyn Clock>) -> Signet {
    Signet::open(store, root, clock, SignetConfig::default())
        .await
        .expect("open")
}

/// A vault over `a_store`; `b_store` (the same database) gets a second core when given.
async fn vault(
    a_store: Arc<dyn Store>,
    b_store: Option<Arc<dyn Store>>,
    clock: Arc<dyn Clock>,
) -> Vault {
    let root = RootKey::generate().unwrap();
    let hex = root.to_hex();
    let a = Arc::new(open(a_store.clone(), root, clock.clone()).await);
    let b = match b_store {
        Some(s) => Arc::new(open(s, RootKey::from_hex(&hex).unwrap(), clock).await),
        None => Arc::clone(&a),
    };
    let (rec, _) = a.operators().create_operator("owner", true).await.unwrap();
    let op = AuthedOperator::key(rec, Role::Owner, signet_testkit::LOCAL);
    let g = granted_machine(&a, &op, "app", None).await;
    let reader = machine(&a_store, &g.id).await;
    Vault {
        a,
        b,
        op,
        project: g.project.to_string(),
        secret: g.secret,
        reader,
        store: a_store,
    }
}

async fn machine(store: &Arc<dyn Store>, id: &str) -> AuthedMachine {
    let record = store
        .machine(&MachineId::parse(id).unwrap())
        .await
        .unwrap()
        .unwrap();
    AuthedMachine {
        record,
        source_ip: signet_testkit::LOCAL,
        evidence: None,
        access_stamp: None,
    }
}

impl Vault {
    /// Creates a policy with `rules` and binds it to the secret.
    async fn bind(&self, rules: PolicyRules) -> String {
        let p = self
            .a
            .policies()
            .create(&self.op, &self.project, "pol", &rules)
            .await
            .unwrap();
        self.a
            .policies()
            .bind(&self.op, self.secret.as_str(), Some(p.id.as_str()))
            .await
            .unwrap();
        p.id.to_string()
    }

    async fn read_as(&self, m: &AuthedMachine) -> Result<(), CoreError> {
        self.a
            .reads()
            .read_secret(m, self.secret.as_str())
            .await
            .map(|v| assert_eq!(v.0.as_str(), "v"))
    }

    async fn read(&self) -> Result<(), CoreError> {
        self.read_as(&self.reader).await
    }

    /// The reasons of the denied `secret_read` records, oldest first.
    async fn denials(&self) -> Vec<String> {
        let mut records = self
            .store
            .audit(&AuditFilter {
                action: Some("secret_read".to_owned()),
                result: Some(AuditResult::Denied),
                limit: 1000,
                ..Default::default()
            })
            .await
            .unwrap();
        records.reverse();
        records.into_iter().map(|r| r.event.detail).collect()
    }

    /// `READERS` reads at once, alternating between the two cores: how many succeeded. Every
    /// failure must be the uniform 403.
    async fn race(&self) -> usize {
        let tasks: Vec<_> = (0..READERS)
            .map(|i| {
                let core = if i % 2 == 0 {
                    Arc::clone(&self.a)
                } else {
                    Arc::clone(&self.b)
                };
                let (m, id) = (self.reader.clone(), self.secret.to_string());
                tokio::spawn(async move { core.reads().read_secret(&m, &id).await.map(drop) })
            })
            .collect();
        let mut ok = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(()) => ok += 1,
                Err(e) => assert_eq!(e, CoreError::Forbidden),
            }
        }
        ok
    }
}

fn per_minute(n: u32) -> PolicyRules {
    PolicyRules {
        per_minute: Some(n),
        ..Default::default()
    }
}

async fn sqlite_file() -> (tempfile::TempDir, Arc<dyn Store>, Arc<dyn Store>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("signet.db");
    let a: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
    let b: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
    (dir, a, b)
}

/// Exactly `CAP` of the racing readers get the value, and every other one is an audited
/// `policy_rate_minute` refusal.
async fn exactly_the_cap(v: &Vault) {
    v.bind(per_minute(u32::try_from(CAP).unwrap())).await;
    assert_eq!(v.race().await, usize::try_from(CAP).unwrap());
    let denials = v.denials().await;
    assert_eq!(denials.len(), READERS - usize::try_from(CAP).unwrap());
    assert!(
        denials.iter().all(|d| d == "policy_rate_minute"),
        "{denials:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_readers_get_exactly_the_cap_on_sqlite() {
    let (_dir, store, _) = sqlite_file().await;
    let v = vault(store, None, Arc::new(ManualClock::default())).await;
    exactly_the_cap(&v).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_readers_on_two_cores_over_one_sqlite_file_get_exactly_the_cap() {
    let (_dir, a, b) = sqlite_file().await;
    let v = vault(a, Some(b), Arc::new(ManualClock::default())).await;
    exactly_the_cap(&v).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_readers_get_exactly_the_cap_on_postgres() {
    let db = TestDatabase::create().await;
    let v = vault(
        Arc::new(db.store().await),
        None,
        Arc::new(ManualClock::default()),
    )
    .await;
    exactly_the_cap(&v).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_readers_on_two_cores_over_one_postgres_database_get_exactly_the_cap() {
    let db = TestDatabase::create().await;
    let a: Arc<dyn Store> = Arc::new(db.store().await);
    let b: Arc<dyn Store> = Arc::new(db.store().await);
    let v = vault(a, Some(b), Arc::new(ManualClock::default())).await;
    exactly_the_cap(&v).await;
}

fn at(rfc3339: &str) -> i64 {
    rfc3339.parse::<jiff::Timestamp>().unwrap().as_millisecond()
}

fn window(start: &str, end: &str, days: &[&str]) -> PolicyRules {
    PolicyRules {
        window: Some(TimeWindow {
            start: start.to_owned(),
            end: end.to_owned(),
            time_zone: "Europe/Oslo".to_owned(),
            days: days.iter().map(|d| (*d).to_owned()).collect(),
        }),
        ..Default::default()
    }
}

/// Reads at each instant and says which were let through.
async fn open_at(v: &Vault, clock: &ManualClock, instants: &[&str]) -> Vec<bool> {
    let mut out = Vec::new();
    for i in instants {
        clock.set(at(i));
        out.push(match v.read().await {
            Ok(()) => true,
            Err(CoreError::Forbidden) => false,
            Err(e) => panic!("{i}: {e:?}"),
        });
    }
    out
}

async fn rebind(v: &Vault, rules: PolicyRules) {
    let list = v.a.policies().list(&v.op, &v.project).await.unwrap();
    let id = list[0].id.to_string();
    v.a.policies()
        .update(&v.op, &v.project, &id, None, &rules)
        .await
        .unwrap();
}

/// Europe/Oslo: CET (UTC+1) in winter, CEST (UTC+2) from 2026-03-29 01:00 UTC (02:00 → 03:00)
/// until 2026-10-25 01:00 UTC (03:00 → 02:00).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_follows_the_wall_clock_across_midnight_and_dst() {
    let (_dir, store, _) = sqlite_file().await;
    let clock = Arc::new(ManualClock::default());
    let v = vault(store, None, clock.clone()).await;

    // Across midnight: 22:00-06:00 on weekdays counts on the day it opened. 2026-01-02 is a
    // Friday.
    v.bind(window(
        "22:00",
        "06:00",
        &["mon", "tue", "wed", "thu", "fri"],
    ))
    .await;
    assert_eq!(
        open_at(
            &v,
            &clock,
            &[
                "2026-01-02T20:59:00Z", // Fri 21:59
                "2026-01-02T21:00:00Z", // Fri 22:00
                "2026-01-02T23:30:00Z", // Sat 00:30, opened Friday
                "2026-01-03T04:59:00Z", // Sat 05:59
                "2026-01-03T05:00:00Z", // Sat 06:00
                "2026-01-03T22:00:00Z", // Sat 23:00
                "2026-01-04T23:30:00Z", // Mon 00:30, opened Sunday
                "2026-01-05T21:00:00Z", // Mon 22:00
            ]
        )
        .await,
        [false, true, true, true, false, false, false, true]
    );

    // Spring forward: a window inside the skipped hour never opens that day; the day before
    // it does.
    rebind(&v, window("02:15", "02:45", &[])).await;
    assert_eq!(
        open_at(
            &v,
            &clock,
            &[
                "2026-03-28T01:20:00Z", // Sat 02:20 CET
                "2026-03-29T00:50:00Z", // Sun 01:50 CET
                "2026-03-29T01:00:00Z", // Sun 03:00 CEST (02:00 skipped)
                "2026-03-29T01:20:00Z", // Sun 03:20 CEST
                "2026-03-29T00:20:00Z", // Sun 01:20 CET
            ]
        )
        .await,
        [true, false, false, false, false]
    );
    // A window across the skipped hour closes at its wall-clock end: 01:00-03:30 is open 1.5
    // hours of real time that night.
    rebind(&v, window("01:00", "03:30", &[])).await;
    assert_eq!(
        open_at(
            &v,
            &clock,
            &[
                "2026-03-28T23:59:00Z", // Sun 00:59 CET
                "2026-03-29T00:00:00Z", // Sun 01:00 CET
                "2026-03-29T01:29:00Z", // Sun 03:29 CEST
                "2026-03-29T01:30:00Z", // Sun 03:30 CEST
            ]
        )
        .await,
        [false, true, true, false]
    );

    // Fall back: 02:00-02:59 happens twice, and the window is open both times.
    rebind(&v, window("02:15", "02:45", &[])).await;
    assert_eq!(
        open_at(
            &v,
            &clock,
            &[
                "2026-10-25T00:20:00Z", // 02:20 CEST
                "2026-10-25T00:50:00Z", // 02:50 CEST
                "2026-10-25T01:00:00Z", // 02:00 CET (again)
                "2026-10-25T01:20:00Z", // 02:20 CET
                "2026-10-25T01:50:00Z", // 02:50 CET
            ]
        )
        .await,
        [true, false, false, true, false]
    );

    let denials = v.denials().await;
    assert!(!denials.is_empty());
    assert!(denials.iter().all(|d| d == "policy_window"), "{denials:?}");
}

/// Every other axis refuses on its own, named in the audit record; a secret without a policy
/// reads as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_axis_refuses_and_names_itself() {
    let (_dir, store, _) = sqlite_file().await;
    let clock = Arc::new(ManualClock::default());
    let v = vault(store.clone(), None, clock.clone()).await;
    v.read().await.unwrap();

    // A second machine in the same project, granted the same secret, for co-sign.
    let other = granted_machine(&v.a, &v.op, "other", None).await;
    let other_id = MachineId::parse(&other.id).unwrap();
    store
        .attach(
            &other_id,
            &signet_proto::ProjectId::parse(&v.project).unwrap(),
        )
        .await
        .unwrap();
    store.grant(&other_id, &v.secret).await.unwrap();
    let cosigner = machine(&store, &other.id).await;

    let id = v
        .bind(PolicyRules {
            cidrs: Some(vec!["10.0.0.0/8".to_owned()]),
            ..Default::default()
        })
        .await;
    v.read().await.unwrap_err();
    let inside = AuthedMachine {
        source_ip: ClientAddr::Known("10.1.2.3".parse().unwrap()),
        ..v.reader.clone()
    };
    v.read_as(&inside).await.unwrap();
    let unknown = AuthedMachine {
        source_ip: ClientAddr::Unknown,
        ..v.reader.clone()
    };
    assert_eq!(v.read_as(&unknown).await, Err(CoreError::Forbidden));

    let update = async |rules: PolicyRules| {
        v.a.policies()
            .update(&v.op, &v.project, &id, None, &rules)
            .await
            .unwrap();
    };

    // Per day: fixed UTC days.
    update(PolicyRules {
        per_day: Some(2),
        ..Default::default()
    })
    .await;
    v.read().await.unwrap();
    v.read().await.unwrap();
    assert_eq!(v.read().await, Err(CoreError::Forbidden));
    clock.advance(86_400_000);
    v.read().await.unwrap();

    // Co-sign: the other machine must have read within 60 s; it itself is exempt.
    update(PolicyRules {
        cosign: Some(CoSign {
            machine_id: other.id.clone(),
            within_seconds: 60,
        }),
        ..Default::default()
    })
    .await;
    assert_eq!(v.read().await, Err(CoreError::Forbidden));
    v.read_as(&cosigner).await.unwrap();
    clock.advance(59_000);
    v.read().await.unwrap();
    clock.advance(2_000);
    assert_eq!(v.read().await, Err(CoreError::Forbidden));

    // Expiry.
    let now = clock.now_ms();
    let expires = jiff::Timestamp::from_millisecond(now + 1000)
        .unwrap()
        .to_string();
    update(PolicyRules {
        expires_at: Some(expires),
        ..Default::default()
    })
    .await;
    v.read().await.unwrap();
    clock.advance(1000);
    assert_eq!(v.read().await, Err(CoreError::Forbidden));

    // Maximum reads, by every machine together.
    update(PolicyRules {
        max_reads: Some(2),
        ..Default::default()
    })
    .await;
    v.read().await.unwrap();
    v.read_as(&cosigner).await.unwrap();
    assert_eq!(v.read().await, Err(CoreError::Forbidden));
    assert_eq!(v.read_as(&cosigner).await, Err(CoreError::Forbidden));

    // Export leaves the refused secret out, with its own refusal.
    let exported = v.a.reads().export(&v.reader, None).await.unwrap();
    assert!(exported.is_empty());

    assert_eq!(
        v.denials().await,
        [
            "policy_cidr",
            "policy_cidr",
            "policy_rate_day",
            "policy_cosign",
            "policy_cosign",
            "policy_expired",
            "policy_max_reads",
            "policy_max_reads",
            "policy_max_reads",
        ]
    );

    // Unbound, the secret reads again.
    v.a.policies()
        .bind(&v.op, v.secret.as_str(), None)
        .await
        .unwrap();
    v.read().await.unwrap();
}

/// Operators: names unique per project, bad rules are 400, another project's policy cannot be
/// bound (400), and a bound policy cannot be deleted (409 `policy_in_use`). Every write is
/// audited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policies_are_project_scoped_and_in_use_while_bound() {
    let db = TestDatabase::create().await;
    let v = vault(
        Arc::new(db.store().await),
        None,
        Arc::new(ManualClock::default()),
    )
    .await;
    let p = v.a.policies();
    let id = v.bind(per_minute(10)).await;
    assert_eq!(
        p.create(&v.op, &v.project, "pol", &per_minute(1)).await,
        Err(CoreError::Conflict(Conflict::PolicyName))
    );
    for bad in [
        per_minute(0),
        window("9:00", "17:00", &[]),
        window("09:00", "09:00", &[]),
        PolicyRules {
            cidrs: Some(vec!["10.0.0.1/8".to_owned()]),
            ..Default::default()
        },
        PolicyRules {
            expires_at: Some("tomorrow".to_owned()),
            ..Default::default()
        },
        PolicyRules {
            cosign: Some(CoSign {
                machine_id: "nope".to_owned(),
                within_seconds: 5,
            }),
            ..Default::default()
        },
    ] {
        assert!(
            matches!(
                p.create(&v.op, &v.project, "bad", &bad).await,
                Err(CoreError::BadRequest(_))
            ),
            "{bad:?}"
        );
    }

    let other =
        v.a.secrets()
            .create_project(&v.op, "other")
            .await
            .unwrap()
            .id
            .to_string();
    let foreign = p
        .create(&v.op, &other, "pol", &per_minute(1))
        .await
        .unwrap();
    assert!(matches!(
        p.bind(&v.op, v.secret.as_str(), Some(foreign.id.as_str()))
            .await,
        Err(CoreError::BadRequest(_))
    ));
    // A policy is found only under its own project.
    assert_eq!(p.show(&v.op, &other, &id).await, Err(CoreError::NotFound));
    assert_eq!(
        p.delete(&v.op, &v.project, &id).await,
        Err(CoreError::Conflict(Conflict::PolicyInUse))
    );
    p.bind(&v.op, v.secret.as_str(), None).await.unwrap();
    p.delete(&v.op, &v.project, &id).await.unwrap();
    assert!(p.list(&v.op, &v.project).await.unwrap().is_empty());

    let actions: Vec<String> = v
        .store
        .audit(&AuditFilter {
            actor_id: Some(v.op.id.to_string()),
            result: Some(AuditResult::Ok),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_iter()
        .rev()
        .map(|r| r.event.action)
        .filter(|a| a.starts_with("policy_") || a == "secret_policy_bind")
        .collect();
    assert_eq!(
        actions,
        [
            "policy_create",
            "secret_policy_bind",
            "policy_create",
            "secret_policy_bind",
            "policy_delete",
        ]
    );
}

/// Waits (at most 10 s) until the secret's current version is `want`.
async fn until_version(v: &Vault, want: u32) {
    for _ in 0..200 {
        let s = v.store.secret(&v.secret).await.unwrap().unwrap();
        if s.current_version >= want {
            assert_eq!(s.current_version, want, "rotated more than once");
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the secret never reached version {want}");
}

/// The `secret_rotate` records' details, oldest first.
async fn rotations(v: &Vault) -> Vec<String> {
    let mut records = v
        .store
        .audit(&AuditFilter {
            action: Some("secret_rotate".to_owned()),
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap();
    records.reverse();
    records.into_iter().map(|r| r.event.detail).collect()
}

/// "Rotate after N reads": the Nth read of a version rotates it once, audited with trigger
/// `policy`; reads of the new version count afresh.
async fn rotates_after_n_reads(v: &Vault) {
    v.bind(PolicyRules {
        rotate_after_reads: Some(3),
        ..Default::default()
    })
    .await;
    for _ in 0..2 {
        v.read().await.unwrap();
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(rotations(v).await.is_empty(), "rotated before the Nth read");
    v.read().await.unwrap();
    until_version(v, 2).await;
    let r = rotations(v).await;
    assert_eq!(r.len(), 1, "{r:?}");
    assert!(r[0].starts_with("trigger=policy version=2"), "{r:?}");
    // Version 2 starts a new count: two reads do not rotate it.
    for _ in 0..2 {
        v.a.reads()
            .read_secret(&v.reader, v.secret.as_str())
            .await
            .unwrap();
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(rotations(v).await.len(), 1);
    // The third read of version 2 rotates it to version 3, once more.
    v.a.reads()
        .read_secret(&v.reader, v.secret.as_str())
        .await
        .unwrap();
    until_version(v, 3).await;
    assert_eq!(rotations(v).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotate_after_n_reads_rotates_once_on_sqlite() {
    let (_dir, store, _) = sqlite_file().await;
    let v = vault(store, None, Arc::new(ManualClock::default())).await;
    rotates_after_n_reads(&v).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotate_after_n_reads_rotates_once_on_postgres() {
    let db = TestDatabase::create().await;
    let v = vault(
        Arc::new(db.store().await),
        None,
        Arc::new(ManualClock::default()),
    )
    .await;
    rotates_after_n_reads(&v).await;
}
