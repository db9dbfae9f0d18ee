//! Issue 12 §1 through real `signet` processes and a real PostgreSQL for the leases: a
//! connection registered and tested from the CLI, a leased secret created and granted, a
//! machine's signed read (`signet get`) minting a role whose credentials log in with `psql` and
//! run a query, `signet lease list|renew|revoke`, revocation that makes the login fail, a new
//! read minting again, machine disable revoking it, and a mint the database refuses answering
//! 503 with no lease. The reaper's expiry, replicas and restarts are `core/tests/lease.rs`
//! (on the manual clock, so no test waits out a lease's 60 s minimum).

use std::process::Command;

use serde_json::Value;
use signet_testkit::postgres::{PgDatabase, psql};

use crate::harness::{Backend, Fixture, bin, every_backend, stderr, stdout};

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
