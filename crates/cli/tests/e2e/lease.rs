//! Issue 12 §1 through real `signet` processes and a real PostgreSQL for the leases: a
//! connection registered and tested from the CLI, a leased secret created and granted, a
//! machine's signed read (`signet get`) minting a role whose credentials log in with `psql` and
//! run a query, `signet lease list|renew|revoke`, revocation that makes the login fail, a new
//! read minting again, machine disable revoking it, and a mint the database refuses answering
//! 503 with no lease. The reaper: a due lease revoked and unusable, one that fell due while the
//! server was stopped revoked after its restart, and two replicas on one PostgreSQL revoking
//! each lease once (test builds accept 1 s leases through the fault point
//! `lease_short_lifetimes`; the same on the manual clock is `core/tests/lease.rs`).

use std::process::Command;

use serde_json::Value;
use signet_testkit::postgres::psql;

use crate::harness::{
    Backend, Fixture, PgDatabase, TestServer, bin, every_backend, shared_config, stderr, stdout,
};

/// `signet --json ARGS` as the operator, with `PGADMIN_PW` in the environment.
fn op_env(f: &Fixture, args: &[&str]) -> Value {
    let out = Command::new(bin())
        .arg("--json")
        .args(args)
        .env("SIGNET_HOME", &f.server.operator_home)
        .env("PGADMIN_PW", "unused-with-trust")
        .output()
        .expect("run signet");
    assert!(out.status.success(), "signet {args:?}: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("JSON")
}

/// The machine's read of `secret`, parsed.
fn read(f: &Fixture, secret: &str) -> Value {
    let out = f.server.machine(&["get", secret]);
    assert!(out.status.success(), "get: {}", stderr(&out));
    serde_json::from_str(stdout(&out).trim_end()).expect("a leased value is JSON")
}

/// Logs in with the credentials a read answered and selects from `t`.
fn login(v: &Value) -> Result<(), String> {
    let url = format!(
        "postgres://{}:{}@{}:{}/{}",
        v["username"].as_str().unwrap(),
        v["password"].as_str().unwrap(),
        v["host"].as_str().unwrap(),
        v["port"].as_str().unwrap(),
        v["database"].as_str().unwrap()
    );
    psql(&url, "SELECT x FROM t")
}

fn leases(f: &Fixture, secret: &str) -> Vec<Value> {
    f.server.op_json(&["lease", "list", "--secret", secret])["leases"]
        .as_array()
        .unwrap()
        .clone()
}

every_backend!(fn a_signed_read_mints_a_lease_that_is_used_renewed_and_revoked);
fn a_signed_read_mints_a_lease_that_is_used_renewed_and_revoked(backend: Backend) {
    let f = Fixture::on(backend);
    let s = &f.server;
    let db = PgDatabase::create();
    psql(db.url(), "CREATE TABLE t (x int); INSERT INTO t VALUES (7)").unwrap();

    let c = op_env(
        &f,
        &[
            "connection",
            "create",
            "--project",
            &f.project,
            "--name",
            "main",
            "--host",
            "127.0.0.1",
            "--database",
            db.name(),
            "--admin-user",
            "postgres",
            "--admin-password-env",
            "PGADMIN_PW",
            "--tls-mode",
            "disable",
        ],
    );
    let conn = c["id"].as_str().unwrap().to_owned();
    assert!(c.get("adminPassword").is_none(), "{c}");
    let tested = s.op_json(&["connection", "test", "--project", &f.project, &conn]);
    assert_eq!(tested["ok"], true, "{tested}");

    let created = s.op_json(&[
        "lease",
        "create",
        "--project",
        &f.project,
        "--name",
        "APP_DB",
        "--connection",
        &conn,
        "--ttl",
        "60s",
        "--max-ttl",
        "10m",
        "--renew-on-read",
        "--revoke-on-disable",
        "--grant",
        "GRANT SELECT ON t TO {{name}}",
    ]);
    let secret = created["secretId"].as_str().unwrap().to_owned();
    s.op_json(&["machine", "grant", &f.machine, "--secret", &secret]);

    // The machine's listing tags it as SikkerKey's CLI does.
    let listed = s.machine(&["list", "--json"]);
    assert!(listed.status.success(), "{}", stderr(&listed));
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    let entry = listed["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == secret.as_str())
        .cloned()
        .unwrap_or_default();
    assert_eq!(entry["type"], "leased-secret", "{listed}");

    // The signed read mints a role that logs in and uses its grant.
    let v = read(&f, &secret);
    assert!(
        v["username"].as_str().unwrap().starts_with("signet_"),
        "{v}"
    );
    login(&v).unwrap();
    let again = read(&f, &secret);
    assert_eq!(
        again["username"], v["username"],
        "the active lease is answered again"
    );

    let listed = leases(&f, &secret);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["state"], "active");
    assert_eq!(listed[0]["role"], v["username"]);
    let id = listed[0]["id"].as_str().unwrap().to_owned();
    let renewed = s.op_json(&["lease", "renew", &id, "--ttl", "5m"]);
    assert!(renewed["expiresAt"].as_i64() > listed[0]["expiresAt"].as_i64());
    assert!(renewed["expiresAt"].as_i64() <= renewed["maxExpiresAt"].as_i64());

    let revoked = s.op_json(&["lease", "revoke", &id]);
    assert_eq!(revoked["state"], "revoked");
    assert_eq!(revoked["revokeReason"], "operator");
    assert!(login(&v).is_err(), "a revoked lease no longer logs in");
    // Renewing a revoked lease is a conflict.
    let out = s.op(&["lease", "renew", &id]);
    assert!(!out.status.success());

    // The next read mints a new role; disabling the machine revokes it.
    let fresh = read(&f, &secret);
    assert_ne!(fresh["username"], v["username"]);
    login(&fresh).unwrap();
    s.op_json(&["machine", "disable", &f.machine]);
    assert!(login(&fresh).is_err(), "revoked on machine disable");
    let all = leases(&f, &secret);
    assert!(all.iter().all(|l| l["state"] == "revoked"), "{all:?}");
    let records = s.op_json(&[
        "audit",
        "list",
        "--action",
        "lease_revoke",
        "--limit",
        "100",
    ])["records"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(records.len(), 2);
    assert!(records.iter().any(|r| {
        r["detail"]
            .as_str()
            .unwrap()
            .starts_with("reason=machine_disabled")
    }));
    s.op_json(&["machine", "enable", &f.machine]);

    // A mint the database refuses: 503 to the machine, no lease, no role.
    let bad = s.op_json(&[
        "lease",
        "create",
        "--project",
        &f.project,
        "--name",
        "BAD_DB",
        "--connection",
        &conn,
        "--ttl",
        "60s",
        "--grant",
        "GRANT SELECT ON no_such_table TO {{name}}",
    ]);
    let bad = bad["secretId"].as_str().unwrap().to_owned();
    s.op_json(&["machine", "grant", &f.machine, "--secret", &bad]);
    let out = f.server.machine(&["get", &bad]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("503") || stderr(&out).to_lowercase().contains("unavailable"),
        "{}",
        stderr(&out)
    );
    assert!(leases(&f, &bad).is_empty());
    // The connection is still in use by the leased secrets.
    let out = s.op(&["connection", "delete", "--project", &f.project, &conn]);
    assert!(!out.status.success());
    // No value, password or admin password in the server's log.
    let log = s.log();
    assert!(!log.contains(v["password"].as_str().unwrap()));
    assert!(!log.contains("unused-with-trust"));
}

/// A server (not started) on `backend` whose reaper runs every second and whose test build
/// accepts 1 s leases (fault point `lease_short_lifetimes`).
fn fast_reaper(backend: Backend) -> TestServer {
    let mut s = TestServer::unstarted_on(backend);
    let config = match &s.config {
        Some(c) => c.clone(),
        None => s.root.path().join("signet.toml"),
    };
    let mut text = std::fs::read_to_string(&config).unwrap_or_default();
    text.push_str("lease_reap_interval_secs = 1\n");
    std::fs::write(&config, text).unwrap();
    s.config = Some(config);
    s.env = vec![("FAILPOINTS".into(), "lease_short_lifetimes=return".into())];
    s.spawn(0, &[]).expect("server starts");
    s
}

/// Registers a connection to `db` and a leased secret on it (`extra` settings), granted to the
/// fixture's machine; answers the secret's id.
fn leased_secret(f: &Fixture, db: &PgDatabase, extra: &[&str]) -> String {
    let c = op_env(
        f,
        &[
            "connection",
            "create",
            "--project",
            &f.project,
            "--name",
            &format!("db{}", extra.len()),
            "--host",
            "127.0.0.1",
            "--database",
            db.name(),
            "--admin-user",
            "postgres",
            "--admin-password-env",
            "PGADMIN_PW",
            "--tls-mode",
            "disable",
        ],
    );
    let mut args = vec![
        "lease",
        "create",
        "--project",
        &f.project,
        "--name",
        "APP_DB",
        "--connection",
        c["id"].as_str().unwrap(),
        "--grant",
        "GRANT SELECT ON t TO {{name}}",
    ];
    args.extend_from_slice(extra);
    let secret = f.server.op_json(&args)["secretId"]
        .as_str()
        .unwrap()
        .to_owned();
    f.server
        .op_json(&["machine", "grant", &f.machine, "--secret", &secret]);
    secret
}

/// Waits (up to 15 s) until every lease of `secret` is revoked.
fn wait_revoked(f: &Fixture, secret: &str) -> Vec<Value> {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let all = leases(f, secret);
        if !all.is_empty() && all.iter().all(|l| l["state"] == "revoked") {
            return all;
        }
        assert!(std::time::Instant::now() < until, "not reaped: {all:?}");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

fn expired_records(f: &Fixture) -> usize {
    f.server.op_json(&[
        "audit",
        "list",
        "--action",
        "lease_revoke",
        "--limit",
        "1000",
    ])["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["detail"].as_str().unwrap().starts_with("reason=expired"))
        .count()
}

every_backend!(fn the_reaper_revokes_a_due_lease_and_one_that_fell_due_while_down);
fn the_reaper_revokes_a_due_lease_and_one_that_fell_due_while_down(backend: Backend) {
    let db = PgDatabase::create();
    psql(db.url(), "CREATE TABLE t (x int); INSERT INTO t VALUES (7)").unwrap();
    let mut f = Fixture::with_server(fast_reaper(backend));
    let secret = leased_secret(&f, &db, &["--ttl", "2s", "--max-ttl", "2s"]);

    // Expired by the server's reaper, then unusable.
    let v = read(&f, &secret);
    login(&v).unwrap();
    let reaped = wait_revoked(&f, &secret);
    assert_eq!(reaped[0]["revokeReason"], "expired");
    assert!(login(&v).is_err(), "a reaped lease no longer logs in");
    assert_eq!(expired_records(&f), 1);

    // A lease minted, the server stopped while it falls due, started again: revoked at once.
    let w = read(&f, &secret);
    login(&w).unwrap();
    f.server.stop();
    std::thread::sleep(std::time::Duration::from_millis(2500));
    f.server.restart();
    wait_revoked(&f, &secret);
    assert!(login(&w).is_err(), "revoked after the restart");
    assert_eq!(
        expired_records(&f),
        2,
        "each lease revoked and recorded once"
    );
}

#[test]
fn two_replicas_reap_each_lease_once() {
    let db = PgDatabase::create();
    psql(db.url(), "CREATE TABLE t (x int); INSERT INTO t VALUES (7)").unwrap();
    let store = PgDatabase::create();
    let dir = tempfile::tempdir().unwrap();
    let config = shared_config(dir.path(), store.url());
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("lease_reap_interval_secs = 1\n");
    std::fs::write(&config, text).unwrap();
    let env = [("FAILPOINTS", "lease_short_lifetimes=return")];
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| TestServer::try_start_with_config_env(&config, &env).unwrap());
        let b = s.spawn(|| TestServer::try_start_with_config_env(&config, &env).unwrap());
        (a.join().unwrap(), b.join().unwrap())
    });
    let f = Fixture::with_server(a);
    let secret = leased_secret(&f, &db, &["--ttl", "2s", "--max-ttl", "2s", "--mint-fresh"]);
    let creds: Vec<Value> = (0..5).map(|_| read(&f, &secret)).collect();
    let all = wait_revoked(&f, &secret);
    assert_eq!(all.len(), 5);
    // Both replicas ran their reaper over the same leases: five revocations, five records.
    assert_eq!(expired_records(&f), 5);
    for c in &creds {
        assert!(login(c).is_err());
    }
    assert!(b.log().contains("lease reaper") || f.server.log().contains("lease reaper"));
    drop(b);
}

every_backend!(fn a_mint_that_cannot_be_recorded_drops_its_role);
/// Fail closed: the role is created, its lease and record cannot be written (fault point
/// `audit_append_fail`), so the role is dropped again and the machine gets 503.
fn a_mint_that_cannot_be_recorded_drops_its_role(backend: Backend) {
    let db = PgDatabase::create();
    psql(db.url(), "CREATE TABLE t (x int)").unwrap();
    let mut f = Fixture::on(backend);
    // A lifetime no other test uses, so this mint's role would be found by its VALID UNTIL.
    let secret = leased_secret(&f, &db, &["--ttl", "7777s"]);
    f.server.stop();
    let port = f.server.port;
    f.server
        .spawn_env(port, &[], &[("FAILPOINTS", "audit_append_fail=return")])
        .expect("server starts with the fault point armed");
    let out = f.server.machine(&["get", &secret]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("503") || stderr(&out).to_lowercase().contains("unavailable"),
        "{}",
        stderr(&out)
    );
    let leftover = Command::new("psql")
        .arg(db.url())
        .args([
            "-qAtc",
            "SELECT count(*) FROM pg_roles WHERE rolname LIKE 'signet\\_%' \
             AND rolvaliduntil BETWEEN now() + interval '7700 seconds' \
             AND now() + interval '7800 seconds'",
        ])
        .output()
        .unwrap();
    assert_eq!(stdout(&leftover).trim(), "0", "no role is left behind");
    // The role was created, then dropped (not refused before the database was reached).
    assert!(
        f.server
            .log()
            .contains("recording a minted lease failed; dropping its role"),
        "{}",
        f.server.log()
    );
    f.server.restart();
    assert!(leases(&f, &secret).is_empty(), "no lease was recorded");
}
