//! Issue 11, "Trash", through core over a real store of each kind: a deleted secret or project is
//! gone for machines and comes back whole; a purge destroys it and leaves the uniform 403; the
//! retention job, run by two instances over one database at once, purges and audits each item
//! exactly once.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly by design.

use std::sync::Arc;

use signet_core::auth::AuthedOperator;
use signet_core::read::PollStatus;
use signet_core::secret::SecretInput;
use signet_core::{CoreError, Signet, SignetConfig};
use signet_crypto::RootKey;
use signet_store::{AuditFilter, Conflict, Role, Store, TrashKind};
use signet_store_sqlite::SqliteStore;
use signet_testkit::postgres::TestDatabase;
use signet_testkit::{GrantedMachine, ManualClock, granted_machine, signed};
use zeroize::Zeroizing;

const DAY_MS: i64 = 86_400_000;

struct Vault {
    signet: Signet,
    clock: Arc<ManualClock>,
    op: AuthedOperator,
    machine: GrantedMachine,
}

async fn open(store: Arc<dyn Store>, root: &str, clock: Arc<ManualClock>) -> Signet {
    Signet::open(
        store,
        RootKey::from_hex(root).unwrap(),
        clock,
        SignetConfig::default(),
    )
    .await
    .expect("open")
}

async fn vault(store: Arc<dyn Store>) -> Vault {
    let root = RootKey::generate().unwrap().to_hex();
    let clock = Arc::new(ManualClock::default());
    let signet = open(store, &root, clock.clone()).await;
    let (rec, _) = signet
        .operators()
        .create_operator("owner-key", true)
        .await
        .unwrap();
    let op = AuthedOperator::key(rec, Role::Owner, signet_testkit::LOCAL);
    let machine = granted_machine(&signet, &op, "app", None).await;
    Vault {
        signet,
        clock,
        op,
        machine,
    }
}

impl Vault {
    /// The machine reads its secret: the value, or the error.
    async fn read(&self) -> Result<String, CoreError> {
        let mut parts = Vec::new();
        let req = signed(
            &self.machine.seed,
            &self.machine.id,
            &self.machine.path,
            self.signet.now_ms(),
            &mut parts,
        );
        let m = self.signet.auth().authenticate_machine(&req).await?;
        let v = self
            .signet
            .reads()
            .read_secret(&m, self.machine.secret.as_str())
            .await?;
        Ok(v.0.as_str().to_owned())
    }

    async fn poll(&self) -> PollStatus {
        let mut parts = Vec::new();
        let req = signed(
            &self.machine.seed,
            &self.machine.id,
            "/v1/secrets/poll",
            self.signet.now_ms(),
            &mut parts,
        );
        let m = self.signet.auth().authenticate_machine(&req).await.unwrap();
        self.signet
            .reads()
            .poll(&m, &[self.machine.secret.to_string()])
            .await
            .unwrap()[0]
            .1
    }

    async fn records(&self, action: &str) -> Vec<(String, String, String)> {
        self.signet
            .audit()
            .audit_list(
                &self.op,
                &AuditFilter {
                    action: Some(action.to_owned()),
                    limit: 1000,
                    ..AuditFilter::default()
                },
            )
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.result == "ok")
            .map(|r| (r.actor_kind.to_owned(), r.target, r.detail))
            .collect()
    }
}

/// A deleted secret, and every secret of a deleted project, is a 403 for its machine and listed
/// in the trash with who and when; restore brings it back readable, at the same version.
async fn deleted_items_hide_and_come_back_whole(store: Arc<dyn Store>) {
    let v = vault(store).await;
    let (secret, project) = (v.machine.secret.to_string(), v.machine.project.to_string());
    let t = v.signet.trash();
    assert_eq!(v.read().await.unwrap(), "v");

    v.signet
        .secrets()
        .delete_secret(&v.op, &secret)
        .await
        .unwrap();
    assert_eq!(v.read().await, Err(CoreError::Forbidden));
    assert_eq!(v.poll().await, PollStatus::Deleted);
    let items = t.list(&v.op).await.unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(
        (items[0].kind, items[0].id.as_str(), items[0].name.as_str()),
        (TrashKind::Secret, secret.as_str(), "S")
    );
    assert_eq!(items[0].deleted_by, v.op.id.to_string());
    assert_eq!(items[0].deleted_by_name, "owner-key");
    assert_eq!(items[0].deleted_ms, v.signet.now_ms());
    assert_eq!(items[0].purge_after_ms, v.signet.now_ms() + 30 * DAY_MS);

    assert_eq!(t.restore(&v.op, &secret).await.unwrap(), TrashKind::Secret);
    assert_eq!(v.read().await.unwrap(), "v");
    assert!(t.list(&v.op).await.unwrap().is_empty());

    v.clock.advance(1000);
    t.delete_project(&v.op, &project).await.unwrap();
    assert_eq!(v.read().await, Err(CoreError::Forbidden));
    assert_eq!(v.poll().await, PollStatus::Deleted);
    assert!(v.signet.secrets().projects(&v.op).await.unwrap().is_empty());
    assert_eq!(
        v.signet
            .secrets()
            .secrets_in_project(&v.op, &project)
            .await
            .err(),
        Some(CoreError::NotFound)
    );
    assert_eq!(
        v.signet.secrets().secret_view(&v.op, &secret).await.err(),
        Some(CoreError::NotFound)
    );
    let items = t.list(&v.op).await.unwrap();
    assert_eq!(
        items
            .iter()
            .map(|i| (i.kind, i.id.clone()))
            .collect::<Vec<_>>(),
        [(TrashKind::Project, project.clone())]
    );
    // Deleting it again is a 404, like any project that is not live.
    assert_eq!(
        t.delete_project(&v.op, &project).await,
        Err(CoreError::NotFound)
    );

    assert_eq!(
        t.restore(&v.op, &project).await.unwrap(),
        TrashKind::Project
    );
    assert_eq!(v.read().await.unwrap(), "v");
    assert_eq!(
        v.signet
            .secrets()
            .secret_view(&v.op, &secret)
            .await
            .unwrap()
            .version,
        1
    );
    assert_eq!(v.records("project_delete").await.len(), 1);
    assert_eq!(v.records("trash_restore").await.len(), 2);
}

/// Restore refuses a secret whose project is in the trash, and one whose name a live secret
/// took meanwhile (409 naming the rule).
async fn restore_conflicts_name_the_rule(store: Arc<dyn Store>) {
    let v = vault(store).await;
    let (secret, project) = (v.machine.secret.to_string(), v.machine.project.to_string());
    let s = v.signet.secrets();
    let t = v.signet.trash();
    s.delete_secret(&v.op, &secret).await.unwrap();
    t.delete_project(&v.op, &project).await.unwrap();
    assert_eq!(
        t.restore(&v.op, &secret).await,
        Err(CoreError::Conflict(Conflict::ProjectTrashed))
    );
    t.restore(&v.op, &project).await.unwrap();
    s.create_secret(
        &v.op,
        &project,
        "S",
        SecretInput::Value(Zeroizing::new("new".into())),
    )
    .await
    .unwrap();
    assert_eq!(
        t.restore(&v.op, &secret).await,
        Err(CoreError::Conflict(Conflict::SecretName))
    );
    assert_eq!(v.read().await, Err(CoreError::Forbidden));
    // Nothing was restored, so nothing was recorded beyond the project's own restore.
    assert_eq!(v.records("trash_restore").await.len(), 1);
}

/// A purge destroys the item: the machine's 403 stays, restore and purge of the id are the
/// uniform 403, and only admins and owners may purge.
async fn a_purge_is_final_and_for_admins(store: Arc<dyn Store>) {
    let v = vault(store).await;
    let secret = v.machine.secret.to_string();
    let t = v.signet.trash();
    let dev = AuthedOperator {
        role: Role::Developer,
        ..v.op.clone()
    };
    v.signet
        .secrets()
        .delete_secret(&dev, &secret)
        .await
        .unwrap();
    assert_eq!(t.purge(&dev, &secret).await, Err(CoreError::Forbidden));
    assert_eq!(t.list(&dev).await.unwrap().len(), 1);

    assert_eq!(t.purge(&v.op, &secret).await.unwrap(), TrashKind::Secret);
    assert_eq!(v.read().await, Err(CoreError::Forbidden));
    assert_eq!(v.poll().await, PollStatus::AccessDenied);
    assert!(t.list(&v.op).await.unwrap().is_empty());
    assert_eq!(t.restore(&v.op, &secret).await, Err(CoreError::Forbidden));
    assert_eq!(t.purge(&v.op, &secret).await, Err(CoreError::Forbidden));
    for junk in ["nope", "proj_0000000000", ""] {
        assert_eq!(t.restore(&v.op, junk).await, Err(CoreError::Forbidden));
    }
    assert_eq!(
        v.records("trash_purge").await,
        [(
            "operator".to_owned(),
            secret.clone(),
            "kind=secret name=\"S\"".to_owned()
        )]
    );
    // A live item is not in the trash either.
    let project = v.machine.project.to_string();
    assert_eq!(t.purge(&v.op, &project).await, Err(CoreError::Forbidden));
}

/// The retention: 30 days by default, 1 to 3650, set by admins only.
async fn retention_is_bounded_and_for_admins(store: Arc<dyn Store>) {
    let v = vault(store).await;
    let t = v.signet.trash();
    assert_eq!(t.retention_days(&v.op).await.unwrap(), 30);
    for bad in [0, 3651] {
        assert!(matches!(
            t.set_retention_days(&v.op, bad).await,
            Err(CoreError::BadRequest(_))
        ));
    }
    let dev = AuthedOperator {
        role: Role::Developer,
        ..v.op.clone()
    };
    assert_eq!(
        t.set_retention_days(&dev, 5).await,
        Err(CoreError::Forbidden)
    );
    assert_eq!(t.set_retention_days(&v.op, 7).await.unwrap(), 7);
    assert_eq!(t.retention_days(&dev).await.unwrap(), 7);
    assert_eq!(
        v.records("trash_retention_set").await,
        [(
            "operator".to_owned(),
            String::new(),
            "from=30 to=7".to_owned()
        )]
    );
}

/// Two instances over one database run the retention job at the same moment: each due item is
/// purged by exactly one of them and audited once, with actor `system`; items not yet due stay.
async fn the_retention_job_purges_each_item_once(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    let root = RootKey::generate().unwrap().to_hex();
    let clock = Arc::new(ManualClock::default());
    let one = open(a, &root, clock.clone()).await;
    let two = open(b, &root, clock.clone()).await;
    let (rec, _) = one
        .operators()
        .create_operator("owner", true)
        .await
        .unwrap();
    let op = AuthedOperator::key(rec, Role::Owner, signet_testkit::LOCAL);
    one.trash().set_retention_days(&op, 1).await.unwrap();

    let mut due = Vec::new();
    for i in 0..6 {
        let p = one
            .secrets()
            .create_project(&op, &format!("p{i}"))
            .await
            .unwrap()
            .id
            .to_string();
        let s = one
            .secrets()
            .create_secret(&op, &p, "S", SecretInput::Value(Zeroizing::new("v".into())))
            .await
            .unwrap()
            .id
            .to_string();
        if i % 2 == 0 {
            one.secrets().delete_secret(&op, &s).await.unwrap();
            due.push(s);
        } else {
            one.trash().delete_project(&op, &p).await.unwrap();
            due.push(p);
        }
    }
    clock.advance(DAY_MS / 2);
    let late = one
        .secrets()
        .create_project(&op, "late")
        .await
        .unwrap()
        .id
        .to_string();
    one.trash().delete_project(&op, &late).await.unwrap();

    // Not yet: nothing is a day old.
    assert_eq!(one.trash().purge_due().await.unwrap(), 0);
    clock.advance(DAY_MS / 2 + 1);
    let (x, y) = tokio::join!(one.trash().purge_due(), two.trash().purge_due());
    assert_eq!(x.unwrap() + y.unwrap(), due.len());
    assert_eq!(one.trash().purge_due().await.unwrap(), 0);
    let left: Vec<_> = two
        .trash()
        .list(&op)
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(left, [late]);

    let records: Vec<_> = one
        .audit()
        .audit_list(
            &op,
            &AuditFilter {
                action: Some("trash_purge".to_owned()),
                limit: 1000,
                ..AuditFilter::default()
            },
        )
        .await
        .unwrap();
    let mut targets: Vec<_> = records.iter().map(|r| r.target.clone()).collect();
    targets.sort();
    due.sort();
    assert_eq!(targets, due);
    assert!(
        records
            .iter()
            .all(|r| r.actor_kind == "system" && r.result == "ok")
    );
    assert!(one.audit().audit_verify(&op).await.unwrap().ok);
}

signet_testkit::on_both_backends!(
    deleted_items_hide_and_come_back_whole,
    restore_conflicts_name_the_rule,
    a_purge_is_final_and_for_admins,
    retention_is_bounded_and_for_admins,
);

/// Two instances: two stores over one SQLite file, and two pools on one PostgreSQL database.
mod the_retention_job_purges_each_item_once {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("signet.db");
        let a: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
        let b: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
        super::the_retention_job_purges_each_item_once(a, b).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        let db = TestDatabase::create().await;
        let a: Arc<dyn Store> = Arc::new(db.store().await);
        let b: Arc<dyn Store> = Arc::new(db.store().await);
        super::the_retention_job_purges_each_item_once(a, b).await;
    }
}
