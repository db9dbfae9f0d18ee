//! Issue 11, "Rotation", through core over a real store of each kind: a rotation is a new
//! version with a generated value (only the chosen fields of a structured secret), audited with
//! its trigger; the scheduler rotates a due secret once, catches up after downtime with one
//! rotation, honours pause and resume; and replicas racing the scheduler over one database
//! rotate each due secret exactly once.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly by design.

use std::collections::BTreeMap;
use std::sync::Arc;

use signet_core::auth::AuthedOperator;
use signet_core::rotation::{RotationSpec, RotationTrigger, TickReport};
use signet_core::secret::SecretInput;
use signet_core::{Clock, CoreError, Signet, SignetConfig};
use signet_crypto::RootKey;
use signet_proto::SecretSeed;
use signet_store::{AuditFilter, Role, Store};
use signet_store_sqlite::SqliteStore;
use signet_testkit::postgres::TestDatabase;
use signet_testkit::{ManualClock, granted_machine, signed};
use zeroize::Zeroizing;

const INTERVAL_SECS: u64 = 300;
const INTERVAL_MS: i64 = 300_000;

struct Vault {
    signet: Signet,
    clock: Arc<ManualClock>,
    op: AuthedOperator,
    machine: String,
    seed: SecretSeed,
    project: String,
    /// The machine's granted standard secret (value `v`).
    secret: String,
}

async fn vault(store: Arc<dyn Store>) -> Vault {
    let clock = Arc::new(ManualClock::default());
    let signet = Signet::open(
        store,
        RootKey::generate().unwrap(),
        clock.clone(),
        SignetConfig::default(),
    )
    .await
    .expect("open");
    let (rec, _) = signet
        .operators()
        .create_operator("owner", true)
        .await
        .unwrap();
    let op = AuthedOperator::key(rec, Role::Owner, signet_testkit::LOCAL);
    let m = granted_machine(&signet, &op, "app", None).await;
    Vault {
        signet,
        clock,
        op,
        machine: m.id,
        seed: m.seed,
        project: m.project.to_string(),
        secret: m.secret.to_string(),
    }
}

impl Vault {
    /// The value the machine reads now.
    async fn read(&self, id: &str) -> String {
        let mut parts = Vec::new();
        let path = format!("/v1/secret/{id}");
        let m = self
            .signet
            .auth()
            .authenticate_machine(&signed(
                &self.seed,
                &self.machine,
                &path,
                self.clock.now_ms(),
                &mut parts,
            ))
            .await
            .unwrap();
        self.signet
            .reads()
            .read_secret(&m, id)
            .await
            .unwrap()
            .0
            .to_string()
    }

    async fn version(&self, id: &str) -> u32 {
        self.signet
            .secrets()
            .secret_view(&self.op, id)
            .await
            .unwrap()
            .version
    }

    /// The `secret_rotate` records' details, oldest first.
    async fn rotations(&self) -> Vec<String> {
        let mut r: Vec<String> = self
            .signet
            .audit()
            .audit_list(
                &self.op,
                &AuditFilter {
                    action: Some("secret_rotate".to_owned()),
                    limit: 1000,
                    ..AuditFilter::default()
                },
            )
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.detail)
            .collect();
        r.reverse();
        r
    }

    async fn schedule(&self, id: &str) {
        self.signet
            .rotation()
            .set(
                &self.op,
                id,
                RotationSpec {
                    charset: Some("alphanumeric".to_owned()),
                    length: Some(40),
                    interval_secs: Some(INTERVAL_SECS),
                    ..RotationSpec::default()
                },
            )
            .await
            .unwrap();
    }
}

async fn a_manual_rotation_writes_a_generated_version(store: Arc<dyn Store>) {
    let v = vault(store).await;
    let r = v.signet.rotation();
    // Without settings: 32 symbols.
    let rotated = r.rotate_now(&v.op, &v.secret).await.unwrap();
    assert_eq!(rotated.version, 2);
    let first = v.read(&v.secret).await;
    assert_eq!(first.chars().count(), 32);
    assert_ne!(first, "v");

    r.set(
        &v.op,
        &v.secret,
        RotationSpec {
            charset: Some("hex".to_owned()),
            length: Some(40),
            ..RotationSpec::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(r.rotate_now(&v.op, &v.secret).await.unwrap().version, 3);
    let second = v.read(&v.secret).await;
    assert_eq!(second.len(), 40);
    assert!(second.bytes().all(|b| b.is_ascii_hexdigit()), "{second}");

    // The policy trigger, as the access-policy axis calls it.
    let id: signet_proto::SecretId = v.secret.parse().unwrap();
    let by_policy = r.rotate(&id, RotationTrigger::Policy).await.unwrap();
    assert_eq!(by_policy.version, 4);
    assert_ne!(v.read(&v.secret).await, second);

    let details = v.rotations().await;
    assert_eq!(details.len(), 3);
    assert!(
        details[0].starts_with("trigger=manual version=2"),
        "{details:?}"
    );
    assert!(
        details[1].starts_with("trigger=manual version=3"),
        "{details:?}"
    );
    assert!(
        details[2].starts_with("trigger=policy version=4"),
        "{details:?}"
    );
    let shown = r.show(&v.op, &v.secret).await.unwrap().unwrap();
    assert_eq!(shown.last_rotated_at, Some(v.clock.now_ms()));

    // Bad settings are refused and change nothing.
    for bad in [
        RotationSpec {
            charset: Some("emoji".to_owned()),
            ..RotationSpec::default()
        },
        RotationSpec {
            length: Some(1025),
            ..RotationSpec::default()
        },
        RotationSpec {
            length: Some(0),
            ..RotationSpec::default()
        },
        RotationSpec {
            interval_secs: Some(299),
            ..RotationSpec::default()
        },
        RotationSpec {
            interval_secs: Some(30 * 86_400 + 1),
            ..RotationSpec::default()
        },
        RotationSpec {
            fields: Some(vec!["password".to_owned()]),
            ..RotationSpec::default()
        },
    ] {
        let shown = format!("{bad:?}");
        assert!(
            matches!(
                r.set(&v.op, &v.secret, bad).await,
                Err(CoreError::BadRequest(_))
            ),
            "{shown}"
        );
    }
    assert_eq!(
        r.show(&v.op, &v.secret).await.unwrap().unwrap().charset,
        "hex"
    );
    r.clear(&v.op, &v.secret).await.unwrap();
    assert_eq!(r.show(&v.op, &v.secret).await.unwrap(), None);
    assert_eq!(r.clear(&v.op, &v.secret).await, Err(CoreError::NotFound));
    assert_eq!(
        r.rotate_now(&v.op, "sec_nope").await.unwrap_err(),
        CoreError::NotFound
    );
    assert!(v.signet.audit().audit_verify(&v.op).await.unwrap().ok);
}

async fn a_structured_rotation_keeps_the_fields_it_does_not_name(store: Arc<dyn Store>) {
    let v = vault(store).await;
    let fields: BTreeMap<String, Zeroizing<String>> = [("user", "app"), ("password", "old")]
        .into_iter()
        .map(|(k, x)| (k.to_owned(), Zeroizing::new(x.to_owned())))
        .collect();
    let s = v
        .signet
        .secrets()
        .create_secret(&v.op, &v.project, "db", SecretInput::Fields(fields))
        .await
        .unwrap();
    let id = s.id.to_string();
    v.signet
        .machines()
        .set_grants(&v.op, &v.machine, std::slice::from_ref(&id), true)
        .await
        .unwrap();
    let r = v.signet.rotation();
    assert!(matches!(
        r.set(
            &v.op,
            &id,
            RotationSpec {
                fields: Some(vec!["nope".to_owned()]),
                ..RotationSpec::default()
            }
        )
        .await,
        Err(CoreError::BadRequest(_))
    ));
    r.set(
        &v.op,
        &id,
        RotationSpec {
            charset: Some("numbers".to_owned()),
            length: Some(12),
            fields: Some(vec!["password".to_owned()]),
            ..RotationSpec::default()
        },
    )
    .await
    .unwrap();
    r.rotate_now(&v.op, &id).await.unwrap();
    let value: BTreeMap<String, String> = serde_json::from_str(&v.read(&id).await).unwrap();
    assert_eq!(value["user"], "app", "an unnamed field is kept");
    assert_ne!(value["password"], "old");
    assert_eq!(value["password"].len(), 12);
    assert!(value["password"].bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(
        v.rotations().await,
        ["trigger=manual version=2 fields=password"]
    );
}

async fn the_scheduler_rotates_once_when_due_and_once_after_downtime(store: Arc<dyn Store>) {
    let v = vault(store).await;
    let r = v.signet.rotation();
    v.schedule(&v.secret).await;
    let set_at = v.clock.now_ms();
    assert_eq!(r.rotate_due().await.unwrap(), TickReport::default());
    v.clock.advance(INTERVAL_MS - 1);
    assert_eq!(r.rotate_due().await.unwrap().rotated, 0, "not due yet");
    v.clock.advance(1);
    assert_eq!(r.rotate_due().await.unwrap().rotated, 1);
    assert_eq!(
        r.rotate_due().await.unwrap().rotated,
        0,
        "once per due moment"
    );
    assert_eq!(v.version(&v.secret).await, 2);
    let value = v.read(&v.secret).await;
    assert_eq!(value.len(), 40);
    assert!(value.bytes().all(|b| b.is_ascii_alphanumeric()));
    let shown = r.show(&v.op, &v.secret).await.unwrap().unwrap();
    assert_eq!(shown.next_due_at, Some(set_at + 2 * INTERVAL_MS));

    // Ten intervals of downtime: one rotation, and the next is one interval from now.
    v.clock.advance(10 * INTERVAL_MS);
    assert_eq!(r.rotate_due().await.unwrap().rotated, 1);
    assert_eq!(r.rotate_due().await.unwrap().rotated, 0);
    assert_eq!(v.version(&v.secret).await, 3);
    let now = v.clock.now_ms();
    let shown = r.show(&v.op, &v.secret).await.unwrap().unwrap();
    assert_eq!(shown.next_due_at, Some(now + INTERVAL_MS));
    assert_eq!(shown.last_rotated_at, Some(now));

    // Paused: never due. Resumed: due one interval after the resume, not at once.
    r.set_paused(&v.op, &v.secret, true).await.unwrap();
    v.clock.advance(5 * INTERVAL_MS);
    assert_eq!(r.rotate_due().await.unwrap().rotated, 0);
    let resumed = r.set_paused(&v.op, &v.secret, false).await.unwrap();
    assert_eq!(resumed.next_due_at, Some(v.clock.now_ms() + INTERVAL_MS));
    assert_eq!(r.rotate_due().await.unwrap().rotated, 0);
    v.clock.advance(INTERVAL_MS);
    assert_eq!(r.rotate_due().await.unwrap().rotated, 1);

    // A manual rotation starts the schedule again.
    v.clock.advance(INTERVAL_MS / 2);
    r.rotate_now(&v.op, &v.secret).await.unwrap();
    v.clock.advance(INTERVAL_MS / 2);
    assert_eq!(r.rotate_due().await.unwrap().rotated, 0);
    v.clock.advance(INTERVAL_MS / 2);
    assert_eq!(r.rotate_due().await.unwrap().rotated, 1);

    // A deleted secret's schedule is never due.
    v.signet
        .secrets()
        .delete_secret(&v.op, &v.secret)
        .await
        .unwrap();
    v.clock.advance(2 * INTERVAL_MS);
    assert_eq!(r.rotate_due().await.unwrap(), TickReport::default());

    let details = v.rotations().await;
    let triggers: Vec<&str> = details
        .iter()
        .map(|d| d.split(' ').next().unwrap())
        .collect();
    assert_eq!(
        triggers,
        [
            "trigger=schedule",
            "trigger=schedule",
            "trigger=schedule",
            "trigger=manual",
            "trigger=schedule"
        ]
    );
    assert!(v.signet.audit().audit_verify(&v.op).await.unwrap().ok);
}

/// Two replicas (two `Signet`s over two stores on one database, one clock) tick at once, twice
/// each, over many due secrets, for several due moments: each secret is rotated exactly once per
/// due moment (versions and audit records counted).
async fn race_on_one_database(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    const SECRETS: usize = 24;
    const ROUNDS: usize = 3;
    let clock = Arc::new(ManualClock::default());
    let root = RootKey::generate().unwrap();
    let hex = root.to_hex();
    let ra = Signet::open(a, root, clock.clone(), SignetConfig::default())
        .await
        .expect("open A");
    let rb = Signet::open(
        b,
        RootKey::from_hex(&hex).unwrap(),
        clock.clone(),
        SignetConfig::default(),
    )
    .await
    .expect("open B");
    let (rec, _) = ra.operators().create_operator("owner", true).await.unwrap();
    let op = AuthedOperator::key(rec, Role::Owner, signet_testkit::LOCAL);
    let project = ra.secrets().create_project(&op, "app").await.unwrap();
    let mut ids = Vec::new();
    for i in 0..SECRETS {
        let s = ra
            .secrets()
            .create_secret(
                &op,
                project.id.as_str(),
                &format!("s{i}"),
                SecretInput::Value(Zeroizing::new("v".to_owned())),
            )
            .await
            .unwrap();
        ra.rotation()
            .set(
                &op,
                s.id.as_str(),
                RotationSpec {
                    interval_secs: Some(INTERVAL_SECS),
                    ..RotationSpec::default()
                },
            )
            .await
            .unwrap();
        ids.push(s.id.to_string());
    }
    let (ra, rb) = (Arc::new(ra), Arc::new(rb));
    for round in 1..=ROUNDS {
        clock.advance(INTERVAL_MS);
        // Each replica ticks twice, all four ticks at once.
        let ticks: Vec<_> = [&ra, &rb, &ra, &rb]
            .into_iter()
            .map(|s| {
                let s = Arc::clone(s);
                tokio::spawn(async move { s.rotation().rotate_due().await.unwrap() })
            })
            .collect();
        let mut rotated = 0;
        for t in ticks {
            let r = t.await.unwrap();
            assert_eq!(r.failed, 0, "round {round}: {r:?}");
            rotated += r.rotated;
        }
        assert_eq!(rotated as usize, SECRETS, "round {round}: each secret once");
        for id in &ids {
            let version = ra.secrets().secret_view(&op, id).await.unwrap().version;
            assert_eq!(version as usize, 1 + round, "round {round}: {id}");
        }
    }
    let records = ra
        .audit()
        .audit_list(
            &op,
            &AuditFilter {
                action: Some("secret_rotate".to_owned()),
                limit: 1000,
                ..AuditFilter::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(records.len(), SECRETS * ROUNDS, "one record per rotation");
    assert!(
        records
            .iter()
            .all(|r| r.detail.starts_with("trigger=schedule"))
    );
    assert!(ra.audit().audit_verify(&op).await.unwrap().ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_replicas_rotate_each_due_secret_exactly_once() {
    let db = TestDatabase::create().await;
    let a: Arc<dyn Store> = Arc::new(db.store().await);
    let b: Arc<dyn Store> = Arc::new(db.store().await);
    race_on_one_database(a, b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_handles_on_one_file_rotate_each_due_secret_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("signet.db");
    let a: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
    let b: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
    race_on_one_database(a, b).await;
}

signet_testkit::on_both_backends!(
    a_manual_rotation_writes_a_generated_version,
    a_structured_rotation_keeps_the_fields_it_does_not_name,
    the_scheduler_rotates_once_when_due_and_once_after_downtime,
);
