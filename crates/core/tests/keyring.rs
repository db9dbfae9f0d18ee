//! Root key rotation in core (issue 15 §2; `signet_core::keyring`): two `Signet` instances over
//! one SQLite file stand for two replicas. A replica that has not seen a new generation still
//! reads what is wrapped under it (it reloads the keyring once); a generation is retired only
//! when nothing refers to it and it is not current; a value naming a generation that is not
//! live, or one that does not open, fails closed; every step is audited; and only owners, with
//! a fresh second factor in a browser, may rotate or retire.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly by design.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use signet_core::auth::AuthedOperator;
use signet_core::principal::SessionGrant;
use signet_core::root_rotation::Keys;
use signet_core::{Conflict, CoreError, Signet, SignetConfig, SystemClock};
use signet_crypto::RootKey;
use signet_proto::SessionId;
use signet_store::{AuditFilter, AuditResult, Role, Store};
use signet_store_sqlite::SqliteStore;
use signet_testkit::{GrantedMachine, granted_machine, signed};

/// Replica A (where the owner acts) and replica B, one vault on one file.
struct Pair {
    a: Signet,
    b: Signet,
    store: Arc<dyn Store>,
    op: AuthedOperator,
    reader: GrantedMachine,
    path: PathBuf,
    /// The root key file both opened with.
    hex: String,
    _dir: tempfile::TempDir,
}

async fn pair() -> Pair {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("signet.db");
    let root = RootKey::generate().unwrap();
    let hex = root.to_hex().as_str().to_owned();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
    let a = Signet::open(
        store.clone(),
        root,
        Arc::new(SystemClock),
        SignetConfig::default(),
    )
    .await
    .unwrap();
    let b = Signet::open(
        Arc::new(SqliteStore::open(&path).unwrap()),
        RootKey::from_hex(&hex).unwrap(),
        Arc::new(SystemClock),
        SignetConfig::default(),
    )
    .await
    .unwrap();
    let (rec, _) = a.operators().create_operator("owner", true).await.unwrap();
    let op = AuthedOperator::key(rec, Role::Owner, signet_testkit::LOCAL);
    let reader = granted_machine(&a, &op, "reader", None).await;
    Pair {
        a,
        b,
        store,
        op,
        reader,
        path,
        hex,
        _dir: dir,
    }
}

/// One freshly signed read of the reader's secret from `signet`.
async fn read(signet: &Signet, m: &GrantedMachine) -> Result<String, CoreError> {
    let mut parts = Vec::new();
    let authed = signet
        .auth()
        .authenticate_machine(&signed(
            &m.seed,
            &m.id,
            &m.path,
            signet.now_ms(),
            &mut parts,
        ))
        .await?;
    let value = signet
        .reads()
        .read_secret(&authed, m.secret.as_str())
        .await?;
    Ok(value.0.to_string())
}

/// Rotates through `signet` until done: (calls, project keys re-wrapped).
async fn rotate(signet: &Signet, op: &AuthedOperator) -> (usize, u64) {
    let mut start = true;
    let (mut calls, mut total) = (0, 0);
    loop {
        let r = Keys::of(signet).rotate_root(op, start).await.unwrap();
        start = false;
        calls += 1;
        total += r.rewrapped;
        if !r.more {
            assert_eq!(r.remaining, 0);
            return (calls, total);
        }
    }
}

/// Runs SQL on the file behind the store's back (the `sqlite3` tool), as an attacker or a
/// broken restore would leave it.
fn tamper(path: &Path, sql: &str) {
    // The stores' writers may hold the write lock for a moment: wait for it like they do.
    let out = std::process::Command::new("sqlite3")
        .args(["-cmd", ".timeout 10000"])
        .arg(path)
        .arg(sql)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn records(store: &Arc<dyn Store>, action: &str) -> Vec<signet_store::AuditRecord> {
    store
        .audit(&AuditFilter {
            action: Some(action.to_owned()),
            limit: 100,
            ..AuditFilter::default()
        })
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_that_missed_the_rotation_reads_and_seals_under_the_new_generation() {
    let p = pair().await;
    // B has read under generation 0: its caches and keyring know only that one.
    assert_eq!(read(&p.b, &p.reader).await.as_deref(), Ok("v"));
    let status = Keys::of(&p.a).root_status(&p.op).await.unwrap();
    assert_eq!(status.len(), 1);
    assert!(status[0].current && status[0].generation == 0 && status[0].project_keys == 1);

    let (_, total) = rotate(&p.a, &p.op).await;
    assert_eq!(total, 1);
    // B reads the project key now wrapped under generation 1, which it reloads to learn.
    assert_eq!(read(&p.b, &p.reader).await.as_deref(), Ok("v"));
    // B seals a new project under the current generation, re-read from the store.
    let made =
        p.b.secrets()
            .create_project(&p.op, "made-on-b")
            .await
            .unwrap();
    let rec = p.store.project(&made.id).await.unwrap().unwrap();
    assert_eq!(rec.root_generation, 1);

    let status = Keys::of(&p.b).root_status(&p.op).await.unwrap();
    let counts: Vec<_> = status
        .iter()
        .map(|g| (g.generation, g.current, g.project_keys))
        .collect();
    assert_eq!(counts, [(0, false, 0), (1, true, 2)]);

    Keys::of(&p.b).retire_root(&p.op, 0).await.unwrap();
    assert_eq!(read(&p.a, &p.reader).await.as_deref(), Ok("v"));
    assert_eq!(read(&p.b, &p.reader).await.as_deref(), Ok("v"));

    // Both audited, with the generations named.
    let rotated = records(&p.store, "root_key_rotate").await;
    assert_eq!(rotated.len(), 1);
    assert_eq!(rotated[0].event.detail, "from=0 to=1");
    assert_eq!(rotated[0].event.result, AuditResult::Ok);
    assert_eq!(rotated[0].event.actor_id, p.op.id.to_string());
    let retired = records(&p.store, "root_key_retire").await;
    assert_eq!(retired.len(), 1);
    assert_eq!(retired[0].event.detail, "generation=0");
    assert!(p.a.audit().audit_verify(&p.op).await.unwrap().ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retiring_is_refused_while_referenced_or_current() {
    let p = pair().await;
    for name in ["two", "three"] {
        p.a.secrets().create_project(&p.op, name).await.unwrap();
    }
    let keys = Keys::of(&p.a);
    assert_eq!(
        keys.retire_root(&p.op, 0).await,
        Err(CoreError::Conflict(Conflict::RootGenerationCurrent))
    );
    // One project per call: the rotation is under way after the first.
    fail::cfg("root_rewrap_one_per_call", "return").unwrap();
    let first = keys.rotate_root(&p.op, true).await.unwrap();
    assert_eq!((first.generation, first.rewrapped), (1, 1));
    assert!(first.more && first.remaining == 2, "{first:?}");
    assert_eq!(
        keys.retire_root(&p.op, 0).await,
        Err(CoreError::Conflict(Conflict::RootGenerationInUse))
    );
    assert_eq!(
        keys.retire_root(&p.op, 1).await,
        Err(CoreError::Conflict(Conflict::RootGenerationCurrent))
    );
    assert_eq!(keys.retire_root(&p.op, 7).await, Err(CoreError::NotFound));
    // Mid-rotation, both generations serve: the reader's project may be on either.
    assert_eq!(read(&p.b, &p.reader).await.as_deref(), Ok("v"));
    let mut calls = 1;
    while keys.rotate_root(&p.op, false).await.unwrap().more {
        calls += 1;
    }
    fail::remove("root_rewrap_one_per_call");
    assert!(calls >= 2);
    keys.retire_root(&p.op, 0).await.unwrap();
    assert_eq!(keys.retire_root(&p.op, 0).await, Err(CoreError::NotFound));
    assert_eq!(read(&p.b, &p.reader).await.as_deref(), Ok("v"));
    // The refusals wrote nothing: one retirement on record.
    assert_eq!(records(&p.store, "root_key_retire").await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_under_a_generation_that_is_not_live_fails_closed() {
    let p = pair().await;
    rotate(&p.a, &p.op).await;
    // A project that names a generation the keyring does not have (the triggers that forbid
    // it dropped first, as a hand-edited file might): no value, 503, no panic, on a replica
    // that reloads and still does not find it.
    tamper(
        &p.path,
        &format!(
            "DROP TRIGGER projects_root_generation_update;
             UPDATE projects SET root_generation = 9 WHERE id = '{}';",
            p.reader.project
        ),
    );
    assert_eq!(read(&p.b, &p.reader).await, Err(CoreError::Unavailable));
    assert_eq!(read(&p.a, &p.reader).await, Err(CoreError::Unavailable));

    // A generation whose sealed key does not open under this root key file fails closed too,
    // on a replica that has not loaded it yet (a fresh process).
    tamper(
        &p.path,
        &format!(
            "UPDATE projects SET root_generation = 1 WHERE id = '{}';
             UPDATE root_keys SET sealed = zeroblob(72) WHERE generation = 1;",
            p.reader.project
        ),
    );
    // A fresh replica with the right root key file: generation 1's row, not the file, is wrong.
    let fresh = Signet::open(
        Arc::new(SqliteStore::open(&p.path).unwrap()),
        RootKey::from_hex(&p.hex).unwrap(),
        Arc::new(SystemClock),
        SignetConfig::default(),
    )
    .await
    .unwrap();
    assert_eq!(read(&fresh, &p.reader).await, Err(CoreError::Unavailable));
    // Sealing under it is refused the same way: nothing is written under a key that may be
    // wrong.
    assert_eq!(
        fresh
            .secrets()
            .create_project(&p.op, "never")
            .await
            .map(drop),
        Err(CoreError::Unavailable)
    );
    assert!(
        p.store
            .projects()
            .await
            .unwrap()
            .iter()
            .all(|x| x.name != "never")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_owners_with_a_fresh_second_factor_rotate_or_retire() {
    let p = pair().await;
    for role in [Role::Admin, Role::Developer, Role::Viewer] {
        let who = AuthedOperator {
            role,
            owner: false,
            ..p.op.clone()
        };
        assert_eq!(
            Keys::of(&p.a).rotate_root(&who, true).await,
            Err(CoreError::Forbidden),
            "{role:?}"
        );
        assert_eq!(
            Keys::of(&p.a).retire_root(&who, 0).await,
            Err(CoreError::Forbidden),
            "{role:?}"
        );
        assert_eq!(
            Keys::of(&p.a).root_status(&who).await.map(drop),
            Err(CoreError::Forbidden),
            "{role:?}"
        );
    }
    let stale = AuthedOperator {
        session: Some(SessionGrant {
            id: SessionId::generate(),
            step_up_ms: Some(p.a.now_ms() - 10 * 60 * 1000),
        }),
        ..p.op.clone()
    };
    assert_eq!(
        Keys::of(&p.a).rotate_root(&stale, true).await,
        Err(CoreError::StepUpRequired)
    );
    // Nothing rotated: still one generation, and every refusal is on record.
    assert_eq!(Keys::of(&p.a).root_status(&p.op).await.unwrap().len(), 1);
    let denied = records(&p.store, "root_key_rotate")
        .await
        .into_iter()
        .filter(|r| r.event.result == AuditResult::Denied)
        .count();
    assert_eq!(
        denied,
        3 + 1 + 3,
        "three roles, the stale session, three status reads"
    );
    let fresh = AuthedOperator {
        session: Some(SessionGrant {
            id: SessionId::generate(),
            step_up_ms: Some(p.a.now_ms()),
        }),
        ..p.op.clone()
    };
    rotate(&p.a, &fresh).await;
    assert_eq!(read(&p.b, &p.reader).await.as_deref(), Ok("v"));
}
