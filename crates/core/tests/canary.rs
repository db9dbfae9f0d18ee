//! Issue 11 §5, canary secrets, through core over real stores, as two replicas (two `Signet`
//! instances over one PostgreSQL database, with every change notification dropped; two over one
//! SQLite file): a machine's read of a canary on A answers with the value and freezes the
//! project, and the very next request into that project on B answers `ProjectFrozen`, whatever
//! its kind (read, list, export, poll); a critical record names the machine, its address and the
//! canary; nobody writes a canary's value by hand; only an admin unfreezes, with a fresh second
//! factor in a browser session, and then B serves again.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly by design.

use std::collections::BTreeMap;
use std::sync::Arc;

use signet_api::audit::AuditAction;
use signet_core::auth::AuthedOperator;
use signet_core::principal::{AuthedMachine, SessionGrant};
use signet_core::rotation::RotationSpec;
use signet_core::secret::{FieldPatch, SecretInput};
use signet_core::{Conflict, CoreError, Signet, SignetConfig, SystemClock};
use signet_crypto::RootKey;
use signet_crypto::generator::{Charset, Generator};
use signet_proto::{SecretSeed, SessionId};
use signet_store::{ActorKind, AuditFilter, AuditResult, Role, Store};
use signet_store_sqlite::SqliteStore;
use signet_testkit::postgres::TestDatabase;
use signet_testkit::{granted_machine, signed};
use zeroize::Zeroizing;

/// Replica A (where the canary is read) and B (where the next request lands), one vault.
struct Pair {
    a: Signet,
    b: Signet,
    store: Arc<dyn Store>,
    op: AuthedOperator,
    machine: String,
    seed: SecretSeed,
    project: String,
    plain: String,
    canary: String,
}

async fn pair(a_store: Arc<dyn Store>, b_store: Arc<dyn Store>) -> Pair {
    let root = RootKey::generate().unwrap();
    let hex = root.to_hex();
    let a = Signet::open(
        Arc::clone(&a_store),
        root,
        Arc::new(SystemClock),
        SignetConfig::default(),
    )
    .await
    .expect("open A");
    let b = Signet::open(
        b_store,
        RootKey::from_hex(&hex).unwrap(),
        Arc::new(SystemClock),
        SignetConfig::default(),
    )
    .await
    .expect("open B");
    let (rec, _) = a.operators().create_operator("owner", true).await.unwrap();
    let op = AuthedOperator::key(rec, Role::Owner, signet_testkit::LOCAL);
    let reader = granted_machine(&a, &op, "app", None).await;
    let canary = a
        .secrets()
        .create_canary(
            &op,
            reader.project.as_str(),
            "AWS_ROOT_KEY",
            Generator::new(None, Charset::Alphanumeric).unwrap(),
        )
        .await
        .unwrap();
    assert!(canary.canary, "operators see the flag");
    assert_eq!(canary.version, 1);
    a.machines()
        .set_grants(&op, &reader.id, &[canary.id.to_string()], true)
        .await
        .unwrap();
    Pair {
        a,
        b,
        store: a_store,
        op,
        machine: reader.id,
        seed: reader.seed,
        project: reader.project.to_string(),
        plain: reader.secret.to_string(),
        canary: canary.id.to_string(),
    }
}

impl Pair {
    /// The machine, freshly authenticated on `signet` from 127.0.0.1.
    async fn machine(&self, signet: &Signet) -> AuthedMachine {
        let mut parts = Vec::new();
        signet
            .auth()
            .authenticate_machine(&signed(
                &self.seed,
                &self.machine,
                &format!("/v1/secret/{}", self.plain),
                signet.now_ms(),
                &mut parts,
            ))
            .await
            .expect("the machine authenticates")
    }

    async fn read(&self, signet: &Signet, id: &str) -> Result<String, CoreError> {
        let m = self.machine(signet).await;
        signet
            .reads()
            .read_secret(&m, id)
            .await
            .map(|v| v.0.to_string())
    }

    /// Every kind of machine request into the project, on `signet`: each answer, in order
    /// read, list (scoped, unscoped), export (scoped, unscoped), poll.
    async fn every_request(&self, signet: &Signet) -> Vec<Result<(), CoreError>> {
        let m = self.machine(signet).await;
        let r = signet.reads();
        vec![
            r.read_secret(&m, &self.plain).await.map(drop),
            r.list_secrets(&m, Some(self.project.as_str()))
                .await
                .map(drop),
            r.list_secrets(&m, None).await.map(drop),
            r.export(&m, Some(self.project.as_str())).await.map(drop),
            r.export(&m, None).await.map(drop),
            r.poll(&m, std::slice::from_ref(&self.plain))
                .await
                .map(drop),
        ]
    }

    async fn every_request_but_export(&self, signet: &Signet) -> Vec<Result<(), CoreError>> {
        let m = self.machine(signet).await;
        let r = signet.reads();
        vec![
            r.read_secret(&m, &self.plain).await.map(drop),
            r.list_secrets(&m, Some(self.project.as_str()))
                .await
                .map(drop),
            r.list_secrets(&m, None).await.map(drop),
            r.poll(&m, std::slice::from_ref(&self.plain))
                .await
                .map(drop),
        ]
    }

    async fn records(&self, action: AuditAction) -> Vec<signet_store::AuditEvent> {
        self.store
            .audit(&AuditFilter {
                action: Some(action.as_str().to_owned()),
                limit: 100,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.event)
            .collect()
    }

    async fn run(&self) {
        // Before any canary read, both replicas serve reads, listings and polls (an export here
        // would include the canary, and so trigger it).
        for signet in [&self.a, &self.b] {
            let answers = self.every_request_but_export(signet).await;
            assert!(answers.iter().all(Result::is_ok), "{answers:?}");
        }

        // The canary reads like any secret: 200 with a generated value.
        let value = self.read(&self.a, &self.canary).await.expect("canary read");
        assert_eq!(value.len(), 32);
        assert!(value.chars().all(|c| c.is_ascii_alphanumeric()));

        // The very next request on B, of every kind, is refused as frozen.
        for (i, answer) in self.every_request(&self.b).await.into_iter().enumerate() {
            assert_eq!(answer, Err(CoreError::ProjectFrozen), "request {i} on B");
        }
        assert_eq!(
            self.read(&self.a, &self.canary).await,
            Err(CoreError::ProjectFrozen),
            "a second canary read is refused too"
        );

        // One critical record: the machine, its address, the canary, the project.
        let triggered = self.records(AuditAction::CanaryTriggered).await;
        assert_eq!(triggered.len(), 1, "{triggered:?}");
        let t = &triggered[0];
        assert_eq!(t.actor_kind, ActorKind::Machine);
        assert_eq!(t.actor_id, self.machine);
        assert_eq!(t.source_ip, "127.0.0.1");
        assert_eq!(t.target, self.canary);
        assert_eq!(t.result, AuditResult::Ok);
        assert!(t.detail.contains(&format!("project={}", self.project)));
        assert!(t.detail.contains("severity=critical"));
        let frozen_refusals = self
            .records(AuditAction::SecretRead)
            .await
            .into_iter()
            .filter(|e| e.result == AuditResult::Denied && e.detail.contains("project_frozen"))
            .count();
        assert!(frozen_refusals >= 2, "refusals are audited");
        let projects = self.b.secrets().projects(&self.op).await.unwrap();
        assert!(projects[0].frozen_at.is_some(), "operators see the freeze");

        // Nobody writes a canary's value by hand; nothing changes.
        let s = self.a.secrets();
        let update = s
            .update_secret(
                &self.op,
                &self.canary,
                SecretInput::Value(Zeroizing::new("known".into())),
                None,
            )
            .await;
        let patch = s
            .patch_secret_fields(
                &self.op,
                &self.canary,
                FieldPatch {
                    set: BTreeMap::from([("k".to_owned(), Zeroizing::new("v".to_owned()))]),
                    unset: Vec::new(),
                    expected_version: None,
                },
            )
            .await;
        let rollback = s.rollback_secret(&self.op, &self.canary, 1, None).await;
        // Nor by rotation: neither by hand nor by a schedule set on it.
        let rotate = self.a.rotation().rotate_now(&self.op, &self.canary).await;
        let schedule = self
            .a
            .rotation()
            .set(&self.op, &self.canary, RotationSpec::default())
            .await;
        assert_eq!(
            schedule.map(drop),
            Err(CoreError::Conflict(Conflict::Canary)),
            "rotation settings"
        );
        for (what, answer) in [
            ("update", update),
            ("patch", patch),
            ("rollback", rollback),
            ("rotate", rotate),
        ] {
            assert_eq!(
                answer.map(drop),
                Err(CoreError::Conflict(Conflict::Canary)),
                "{what}"
            );
        }
        assert_eq!(s.versions(&self.op, &self.canary).await.unwrap().len(), 1);

        // Only admins unfreeze: a developer is refused, and a browser session needs a fresh
        // second factor.
        let dev = AuthedOperator {
            role: Role::Developer,
            ..self.op.clone()
        };
        assert_eq!(
            self.b
                .secrets()
                .unfreeze_project(&dev, &self.project)
                .await
                .map(drop),
            Err(CoreError::Forbidden)
        );
        let stale = AuthedOperator {
            session: Some(SessionGrant {
                id: SessionId::generate(),
                step_up_ms: Some(self.b.now_ms() - 10 * 60 * 1000),
            }),
            ..self.op.clone()
        };
        assert_eq!(
            self.b
                .secrets()
                .unfreeze_project(&stale, &self.project)
                .await
                .map(drop),
            Err(CoreError::StepUpRequired)
        );
        assert_eq!(
            self.every_request(&self.b).await[0],
            Err(CoreError::ProjectFrozen),
            "a refused unfreeze changes nothing"
        );
        let fresh = AuthedOperator {
            session: Some(SessionGrant {
                id: SessionId::generate(),
                step_up_ms: Some(self.b.now_ms()),
            }),
            ..self.op.clone()
        };
        let p = self
            .b
            .secrets()
            .unfreeze_project(&fresh, &self.project)
            .await
            .unwrap();
        assert_eq!(p.frozen_at, None);
        // The two refusals above are recorded as denied; the unfreeze itself once as ok.
        let unfreezes: Vec<AuditResult> = self
            .records(AuditAction::ProjectUnfreeze)
            .await
            .iter()
            .map(|e| e.result)
            .collect();
        assert_eq!(
            unfreezes.iter().filter(|r| **r == AuditResult::Ok).count(),
            1
        );
        assert_eq!(
            unfreezes
                .iter()
                .filter(|r| **r == AuditResult::Denied)
                .count(),
            2
        );

        // The next request on A, unfrozen through B, is served again.
        let answers = self.every_request_but_export(&self.a).await;
        assert!(answers.iter().all(Result::is_ok), "{answers:?}");
        // A developer may not create a canary either: it can take a project offline.
        assert_eq!(
            self.a
                .secrets()
                .create_canary(
                    &dev,
                    &self.project,
                    "OTHER",
                    Generator::new(None, Charset::Symbols).unwrap()
                )
                .await
                .map(drop),
            Err(CoreError::Forbidden)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_canary_read_on_one_replica_freezes_the_next_request_on_the_other() {
    assert!(
        fail::has_failpoints(),
        "this test needs the change_feed_drop fault point compiled in"
    );
    // No notification reaches either store: only the database can carry the freeze to B.
    fail::cfg("change_feed_drop", "return").unwrap();
    let db = TestDatabase::create().await;
    let a: Arc<dyn Store> = Arc::new(db.store().await);
    let b: Arc<dyn Store> = Arc::new(db.store().await);
    pair(a, b).await.run().await;
    fail::remove("change_feed_drop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_canary_read_on_one_process_freezes_the_next_request_on_the_other() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("signet.db");
    let a: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
    let b: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
    pair(a, b).await.run().await;
}
