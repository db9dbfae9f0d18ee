//! Issue 9, findings 4 and 5, and the named fault points: a real server (or `signet storage
//! migrate`) is started with `FAILPOINTS` armed, dies or fails at that point, and is started
//! again without it. Then nothing acknowledged is lost, nothing half-written is served, every
//! change that is there has its audit record (and no record names a change that is not), and
//! `signet audit verify` passes.
//!
//! The points are compiled only into test builds (see `signet_core::fault`).

use std::collections::{BTreeSet, HashMap};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use signet_client::{ClientError, OperatorClient};
use tokio::sync::Mutex;

use crate::harness::AdminJson;
use crate::harness::{Backend, Fixture, PgDatabase, TestServer, bin, every_backend, run, stderr};

/// How long a server armed to crash may take to die once the operation reached the point.
const DIES_WITHIN: Duration = Duration::from_secs(20);

/// Restarts the server on its port with `FAILPOINTS=points`.
fn arm(f: &mut Fixture, points: &str) {
    f.server.stop();
    let port = f.server.port;
    f.server
        .spawn_env(port, &[], &[("FAILPOINTS", points)])
        .expect("server starts with the fault point armed");
}

/// Starts the server again, disarmed, after it died.
fn restart(f: &mut Fixture) {
    let port = f.server.port;
    f.server.spawn(port, &[]).expect("server restarts");
}

/// The `secret_update` records naming `secret`, as their `version=N` numbers.
fn update_records(f: &Fixture, secret: &str) -> Vec<u64> {
    let listed = f.server.op_json(&[
        "audit",
        "list",
        "--action",
        "secret_update",
        "--limit",
        "1000",
    ]);
    let mut versions: Vec<u64> = listed["records"]
        .as_array()
        .expect("records")
        .iter()
        .filter(|r| r["target"] == secret)
        .map(|r| {
            let detail = r["detail"].as_str().expect("detail");
            detail
                .split_whitespace()
                .find_map(|w| w.strip_prefix("version="))
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("a secret_update record without its version: {r}"))
        })
        .collect();
    versions.sort_unstable();
    versions
}

fn current_version(f: &Fixture, secret: &str) -> u64 {
    f.server.op_json(&["secret", "show", secret])["version"]
        .as_u64()
        .expect("version")
}

/// Every version after the first has exactly one record, and no record names a version that
/// is not there; the chain is intact.
fn changes_match_records(f: &Fixture, secret: &str) {
    let current = current_version(f, secret);
    assert_eq!(
        update_records(f, secret),
        (2..=current).collect::<Vec<_>>(),
        "{secret} is at v{current}: every update present has one record, and only those"
    );
    assert_eq!(f.server.op_json(&["audit", "verify"])["ok"], true);
}

fn machine_reads(f: &Fixture) -> String {
    let out = f.server.machine(&["get", &f.secret]);
    assert!(out.status.success(), "machine read: {}", stderr(&out));
    String::from_utf8_lossy(&out.stdout).trim_end().to_owned()
}

/// Arms `point`, sends one secret update, and checks that the server died of it.
fn crash_on_update(backend: Backend, point: &str) -> Fixture {
    let mut f = Fixture::on(backend);
    arm(&mut f, &format!("{point}=return"));
    let out = f.server.op(&[
        "secret",
        "update",
        &f.secret,
        "--value",
        "written-before-the-crash",
    ]);
    assert!(
        !out.status.success(),
        "an update that crashed the server was acknowledged"
    );
    assert!(
        f.server.wait_exit(DIES_WITHIN),
        "the server did not die at {point}"
    );
    restart(&mut f);
    f
}

every_backend!(fn a_crash_before_commit_leaves_neither_change_nor_record);
/// Killed after the change and its record were written but before they committed: after the
/// restart the secret is as it was and no record claims the update.
fn a_crash_before_commit_leaves_neither_change_nor_record(backend: Backend) {
    let f = crash_on_update(backend, "change_before_commit");
    assert_eq!(current_version(&f, &f.secret), 1);
    assert_eq!(machine_reads(&f), f.value);
    changes_match_records(&f, &f.secret);
}

every_backend!(fn a_crash_after_commit_keeps_the_change_with_its_record);
/// Killed after the commit, before the answer (the moment where, before the fix, the change
/// was committed and its record not yet written): the change is served and its record is there.
fn a_crash_after_commit_keeps_the_change_with_its_record(backend: Backend) {
    let f = crash_on_update(backend, "change_after_commit");
    assert_eq!(current_version(&f, &f.secret), 2);
    assert_eq!(machine_reads(&f), "written-before-the-crash");
    changes_match_records(&f, &f.secret);
}

every_backend!(async fn an_audit_failure_rolls_the_change_back);
/// The record cannot be appended: the answer is 503 and the change is not there either.
async fn an_audit_failure_rolls_the_change_back(backend: Backend) {
    let mut f = Fixture::on(backend);
    arm(&mut f, "audit_append_fail=return");
    let op = f.operator_client();
    let err = op
        .request_json(
            "POST",
            &format!("/v1/admin/secrets/{}/update", f.secret),
            Some(&json!({"value": "never-kept"})),
        )
        .await
        .expect_err("an update without its record must fail");
    assert_eq!(err.status(), Some(503), "{err}");
    // Reads journal through the ordinary path and still work meanwhile.
    assert_eq!(machine_reads(&f), f.value);
    f.server.stop();
    restart(&mut f);
    assert_eq!(current_version(&f, &f.secret), 1);
    assert_eq!(machine_reads(&f), f.value);
    changes_match_records(&f, &f.secret);
}

/// Updates each of `ids` from its own task, as fast as they are answered, until the server
/// stops answering; returns the versions each was told.
async fn update_until_refused(
    op: Arc<OperatorClient>,
    ids: &[String],
) -> HashMap<String, Vec<u64>> {
    let told: Arc<Mutex<HashMap<String, Vec<u64>>>> = Arc::default();
    let mut tasks = Vec::new();
    for id in ids {
        let (op, told, id) = (Arc::clone(&op), Arc::clone(&told), id.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..500 {
                let body = json!({"value": format!("{id}-{i}")});
                let path = format!("/v1/admin/secrets/{id}/update");
                let answer: Result<Value, ClientError> =
                    op.request_json("POST", &path, Some(&body)).await;
                let Ok(answer) = answer else { return };
                let v = answer["version"].as_u64().expect("version");
                told.lock().await.entry(id.clone()).or_default().push(v);
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    told.lock().await.clone()
}

/// Killed inside a group commit with part of the group written: none of the group survives,
/// everything acknowledged before it does, and each secret's updates match its records.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_mid_group_commit_loses_only_the_unanswered_group() {
    let mut f = Fixture::new();
    let mut ids = vec![f.secret.clone()];
    for i in 0..7 {
        let created = f.server.op_json(&[
            "secret",
            "create",
            "--project",
            &f.project,
            "--name",
            &format!("S{i}"),
            "--value",
            "v1",
        ]);
        ids.push(created["id"].as_str().expect("id").to_owned());
    }
    // The point fires only in a batch of two or more writes, which concurrent updates make.
    arm(&mut f, "group_commit_mid=return");
    let told = update_until_refused(Arc::new(f.operator_client()), &ids).await;
    assert!(
        f.server.wait_exit(DIES_WITHIN),
        "the server did not die mid-group"
    );
    restart(&mut f);
    for id in &ids {
        let current = current_version(&f, id);
        let acked = told.get(id).cloned().unwrap_or_default();
        if let Some(last) = acked.iter().max() {
            assert!(
                current >= *last,
                "{id}: acknowledged v{last}, found v{current}"
            );
        }
        changes_match_records(&f, id);
    }
}

every_backend!(fn a_crash_between_migrations_is_completed_by_the_next_start);
/// Killed between two schema migrations on a fresh database: the next start finishes the
/// schema and the installation works end to end.
fn a_crash_between_migrations_is_completed_by_the_next_start(backend: Backend) {
    let mut s = TestServer::unstarted_on(backend);
    let died = s.spawn_env(0, &[], &[("FAILPOINTS", "migration_mid=return")]);
    assert!(
        died.is_err(),
        "the server started although it crashed mid-migration"
    );
    s.spawn(0, &[])
        .expect("the next start completes the migrations");
    let f = Fixture::with_server(s);
    assert_eq!(machine_reads(&f), f.value);
    changes_match_records(&f, &f.secret);
}

every_backend!(fn a_crash_mid_import_leaves_the_target_empty);
/// `signet storage migrate` killed with some tables copied: the target holds none of them, so
/// the same command run again succeeds and verifies the copy.
fn a_crash_mid_import_leaves_the_target_empty(backend: Backend) {
    let f = Fixture::new();
    f.server
        .op_json(&["secret", "update", &f.secret, "--value", "second"]);
    let from = format!("sqlite://{}", f.server.data_dir.join("signet.db").display());
    let pg = (backend == Backend::Postgres).then(PgDatabase::create);
    let to = match &pg {
        Some(db) => db.url().to_owned(),
        None => format!(
            "sqlite://{}",
            f.server.root.path().join("copy.db").display()
        ),
    };
    let args = ["--json", "storage", "migrate", "--from", &from, "--to", &to];
    let crashed = Command::new(bin())
        .args(args)
        .env("SIGNET_HOME", &f.server.operator_home)
        .env("FAILPOINTS", "transfer_mid_import=return")
        .output()
        .expect("run migrate");
    assert_eq!(
        crashed.status.code(),
        None,
        "migrate did not die mid-import: {}",
        stderr(&crashed)
    );
    let out = run(&f.server.operator_home, &args);
    assert!(out.status.success(), "migrate again: {}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).expect("report");
    assert_eq!(report["verified"], true);
    let tables: BTreeSet<&str> = report["tables"]
        .as_array()
        .expect("tables")
        .iter()
        .filter_map(|t| t["table"].as_str())
        .collect();
    assert!(tables.contains("audit") && tables.contains("secret_versions"));
}
