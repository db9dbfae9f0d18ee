use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use serde_json::Value;

use crate::harness::{Fixture, run, stderr, stdout};

/// `signet storage migrate` with `--json`, as the operator's shell would run it.
fn migrate(f: &Fixture, from: &Path, to: &Path) -> std::process::Output {
    run(
        &f.server.operator_home,
        &[
            "--json",
            "storage",
            "migrate",
            "--from",
            &format!("sqlite://{}", from.display()),
            "--to",
            &format!("sqlite://{}", to.display()),
        ],
    )
}

/// Rows per table, read straight from the file.
fn row_counts(db: &Path) -> Vec<(String, i64)> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    tables
        .into_iter()
        .map(|t| {
            let n = conn
                .query_row(&format!("SELECT count(*) FROM \"{t}\""), [], |r| r.get(0))
                .unwrap();
            (t, n)
        })
        .collect()
}

fn rows(report: &Value, table: &str) -> u64 {
    report["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == table)
        .unwrap_or_else(|| panic!("no {table} in {report}"))["rows"]
        .as_u64()
        .unwrap()
}

/// The whole path: copy a live installation into a new file while its server keeps serving
/// signed reads, start a server on the copy with the same root key, read the same value there
/// with the same machine key, verify the audit chain, and refuse a second copy into it.
#[test]
fn a_running_installation_moves_to_a_new_file() {
    let mut f = Fixture::new();
    let v2 = "postgres://app:rotated-v2@db/payments";
    f.server
        .op_json(&["secret", "update", &f.secret, "--value", v2]);
    let out = f.server.machine(&["get", &f.secret]);
    assert_eq!(stdout(&out).trim_end(), v2, "{}", stderr(&out));

    let old_db = f.server.data_dir.join("signet.db");
    let new_dir = f.server.root.path().join("moved");
    let new_db = new_dir.join("signet.db");

    // The server keeps writing (audit records, nonces) while the copy runs.
    let reads = {
        let home = f.server.machine_home.clone();
        let secret = f.secret.clone();
        std::thread::spawn(move || {
            for _ in 0..5 {
                let out = run(&home, &["get", &secret]);
                assert!(out.status.success(), "{}", stderr(&out));
            }
        })
    };
    let out = migrate(&f, &old_db, &new_db);
    reads.join().unwrap();
    assert!(out.status.success(), "migrate: {}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["verified"], true);
    assert_eq!(rows(&report, "vault"), 1);
    assert_eq!(rows(&report, "secret_versions"), 2);
    assert_eq!(rows(&report, "machines"), 1);
    assert_eq!(rows(&report, "grants"), 1);
    assert!(rows(&report, "audit") > 5, "{report}");
    for text in [stdout(&out), stderr(&out)] {
        assert!(!text.contains(v2) && !text.contains(&f.value), "{text}");
    }
    let mode = std::fs::metadata(&new_db).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the copy is as private as the original");

    // The new data folder gets the same root key, as private as the original.
    f.server.stop();
    let key = std::fs::read(f.server.data_dir.join("root.key")).unwrap();
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(new_dir.join("root.key"))
        .unwrap();
    std::io::Write::write_all(&mut file, &key).unwrap();
    drop(file);
    f.server.data_dir = new_dir.clone();
    let port = f.server.port;
    f.server
        .spawn(port, &[])
        .expect("a server starts on the copy");

    let out = f.server.machine(&["get", &f.secret]);
    assert_eq!(stdout(&out).trim_end(), v2, "{}", stderr(&out));
    let reads = f
        .server
        .op_json(&["audit", "list", "--action", "secret_read", "--limit", "100"])["records"]
        .as_array()
        .unwrap()
        .len();
    assert!(reads >= 2, "reads from before and after the move: {reads}");
    let verify = f.server.op(&["audit", "verify"]);
    assert!(
        verify.status.success(),
        "verify: {} {}",
        stdout(&verify),
        stderr(&verify)
    );

    // A second copy into the now used file is refused and changes nothing in it.
    f.server.stop();
    let before = row_counts(&new_db);
    let again = migrate(&f, &old_db, &new_db);
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("is not empty"),
        "unclear message: {}",
        stderr(&again)
    );
    assert_eq!(row_counts(&new_db), before);

    // With no server on it, a copy leaves the source file byte for byte as it was.
    let source = std::fs::read(&old_db).unwrap();
    let third = f.server.root.path().join("third").join("signet.db");
    let out = migrate(&f, &old_db, &third);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        std::fs::read(&old_db).unwrap() == source,
        "the source changed"
    );
}

/// A missing source, a source without a vault and a URL the command cannot use are refused with
/// a message that says which, and leave no file behind where there was none.
#[test]
fn unusable_sources_and_urls_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let missing = dir.path().join("missing.db");
    let target = dir.path().join("target").join("signet.db");
    let url = |p: &Path| format!("sqlite://{}", p.display());
    let migrate =
        |from: &str, to: &str| run(&home, &["storage", "migrate", "--from", from, "--to", to]);

    let out = migrate(&url(&missing), &url(&target));
    assert!(!out.status.success());
    assert!(stderr(&out).contains("no database at"), "{}", stderr(&out));
    assert!(!missing.exists() && !target.exists());

    // An empty file is an empty database to SQLite: no vault in it.
    let empty = dir.path().join("empty.db");
    drop(rusqlite::Connection::open(&empty).unwrap());
    let out = migrate(&url(&empty), &url(&target));
    assert!(!out.status.success());
    assert!(stderr(&out).contains("holds no vault"), "{}", stderr(&out));
    assert!(!target.exists());

    let out = migrate("mysql://root:hunter2@db/signet", &url(&target));
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--from"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("hunter2"), "{}", stderr(&out));
    let out = migrate(&url(&empty), "postgres://signet:hunter2@127.0.0.1:9/signet");
    assert!(!out.status.success());
    assert!(!stderr(&out).contains("hunter2"), "{}", stderr(&out));
}

/// What an operator and a machine read, for comparing one installation with its copy. Nothing
/// here changes as a side effect of reading it.
fn reads(f: &Fixture) -> Vec<Value> {
    let s = &f.server;
    let mut all = vec![
        s.op_json(&["project", "list"]),
        s.op_json(&["secret", "list", "--project", &f.project]),
        s.op_json(&["secret", "versions", &f.secret]),
        s.op_json(&["ip-allowlist", "list"]),
        s.op_json(&["vault", "show"]),
    ];
    let out = s.machine(&["get", &f.secret]);
    assert!(out.status.success(), "{}", stderr(&out));
    all.push(Value::from(stdout(&out)));
    let out = s.machine(&["export", "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    all.push(serde_json::from_slice(&out.stdout).unwrap());
    all
}

/// Issue 4, acceptance 4: a populated, running SQLite installation copied into PostgreSQL reads
/// the same there, with the same machine key and root key, and its audit chain verifies.
#[test]
fn a_running_installation_moves_to_postgres() {
    let mut f = Fixture::new();
    let s = &f.server;
    s.op_json(&["secret", "update", &f.secret, "--value", "second-version"]);
    s.op_json(&[
        "secret",
        "create",
        "--project",
        &f.project,
        "--name",
        "db_creds",
        "--field",
        "user=app",
        "--field",
        "pass=p4ss",
    ]);
    s.op_json(&["ip-allowlist", "add", "10.0.0.0/8"]);
    s.op_json(&["token", "bootstrap"]);
    let before = reads(&f);
    let audit_before = s.op_json(&["audit", "list", "--limit", "1000"])["records"]
        .as_array()
        .unwrap()
        .clone();

    let db = crate::harness::PgDatabase::create();
    let old_db = s.data_dir.join("signet.db");
    let reading = {
        let (home, secret) = (s.machine_home.clone(), f.secret.clone());
        std::thread::spawn(move || {
            for _ in 0..5 {
                assert!(run(&home, &["get", &secret]).status.success());
            }
        })
    };
    let out = run(
        &s.operator_home,
        &[
            "--json",
            "storage",
            "migrate",
            "--from",
            &format!("sqlite://{}", old_db.display()),
            "--to",
            db.url(),
        ],
    );
    reading.join().unwrap();
    assert!(out.status.success(), "migrate: {}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["verified"], true);
    assert_eq!(rows(&report, "secret_versions"), 3);
    assert_eq!(rows(&report, "ip_allowlist"), 1);
    // The fixture enrolled with one; one more is unused.
    assert_eq!(rows(&report, "bootstrap_tokens"), 2);

    // The same process settings, now on PostgreSQL, with the root key the SQLite node used.
    f.server.stop();
    let config = f.server.root.path().join("postgres.toml");
    std::fs::write(
        &config,
        format!(
            "database_url = {:?}\nroot_key_file = {:?}\n",
            db.url(),
            f.server.data_dir.join("root.key").display().to_string()
        ),
    )
    .unwrap();
    f.server.config = Some(config);
    let port = f.server.port;
    f.server
        .spawn(port, &[])
        .expect("a server starts on PostgreSQL");
    assert!(f.server.log().contains("signet: listening on"));

    assert_eq!(reads(&f), before, "reads differ after the move");
    let audit_after = f.server.op_json(&["audit", "list", "--limit", "1000"])["records"]
        .as_array()
        .unwrap()
        .clone();
    for record in &audit_before {
        assert!(audit_after.contains(record), "lost or changed: {record}");
    }
    let verify = f.server.op_json(&["audit", "verify"]);
    assert_eq!(verify["ok"], true, "{verify}");

    // A second copy into the now used database is refused.
    let again = run(
        &f.server.operator_home,
        &[
            "storage",
            "migrate",
            "--from",
            &format!("sqlite://{}", old_db.display()),
            "--to",
            db.url(),
        ],
    );
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("is not empty"),
        "{}",
        stderr(&again)
    );
}
