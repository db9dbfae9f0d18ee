use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::harness::{
    Backend, Fixture, PgDatabase, TestServer, every_backend, psql, run, stderr, stdout,
};

/// The host-side options naming `s`'s installation, as an operator on the server host gives them.
fn installation(data_dir: &Path, config: Option<&Path>) -> Vec<String> {
    let mut args = vec!["--data-dir".to_owned(), data_dir.display().to_string()];
    if let Some(c) = config {
        args.extend(["--config".to_owned(), c.display().to_string()]);
    }
    args
}

fn host(s: &TestServer, args: &[&str], at: &[String]) -> std::process::Output {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(at.iter().map(String::as_str));
    run(&s.operator_home, &all)
}

/// A fresh, empty place to restore into, on `backend`, with the source's root key: a data
/// folder (and, on PostgreSQL, a new database and a config naming it and the same key file).
struct Target {
    data_dir: PathBuf,
    config: Option<PathBuf>,
    db: Option<PgDatabase>,
}

impl Target {
    /// `key` is the source installation's root key file.
    fn new(s: &TestServer, backend: Backend, name: &str, key: &Path) -> Self {
        let data_dir = s.root.path().join(name);
        std::fs::create_dir(&data_dir).unwrap();
        std::fs::set_permissions(&data_dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        match backend {
            Backend::Sqlite => {
                // The operator copies the root key into the new data folder first.
                let path = data_dir.join("root.key");
                std::fs::write(&path, std::fs::read(key).unwrap()).unwrap();
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
                Self {
                    data_dir,
                    config: None,
                    db: None,
                }
            }
            Backend::Postgres => {
                let db = PgDatabase::create();
                let config = data_dir.join("signet.toml");
                std::fs::write(
                    &config,
                    format!(
                        "database_url = {:?}\nroot_key_file = {:?}\n",
                        db.url(),
                        key.display().to_string()
                    ),
                )
                .unwrap();
                Self {
                    data_dir,
                    config: Some(config),
                    db: Some(db),
                }
            }
        }
    }

    fn args(&self) -> Vec<String> {
        installation(&self.data_dir, self.config.as_deref())
    }

    /// Restarts `s` (same port, so identities stay valid) on this restored store, and checks
    /// that its audit chain verifies.
    fn serve(&self, s: &mut TestServer) {
        s.stop();
        s.data_dir = self.data_dir.clone();
        s.config = self.config.clone();
        let port = s.port;
        s.spawn(port, &[])
            .expect("a server starts on the restored store");
        let verify = s.op_json(&["audit", "verify"]);
        assert_eq!(verify["ok"], true, "{verify}");
    }

    /// Holds no vault (or no database at all yet).
    fn assert_empty(&self) {
        match &self.db {
            None => {
                let file = self.data_dir.join("signet.db");
                if file.exists() {
                    let conn = rusqlite::Connection::open(&file).unwrap();
                    let tables: i64 = conn
                        .query_row(
                            "SELECT count(*) FROM sqlite_master WHERE name = 'vault'",
                            [],
                            |r| r.get(0),
                        )
                        .unwrap();
                    if tables > 0 {
                        let n: i64 = conn
                            .query_row("SELECT count(*) FROM vault", [], |r| r.get(0))
                            .unwrap();
                        assert_eq!(n, 0, "the target was written to");
                    }
                }
            }
            Some(db) => psql(
                db.url(),
                "DO $$ BEGIN IF to_regclass('public.vault') IS NOT NULL THEN \
                 IF EXISTS (SELECT 1 FROM vault) THEN RAISE EXCEPTION 'target written'; END IF; \
                 END IF; END $$;",
            )
            .unwrap(),
        }
    }
}

/// The root key file of `s`'s installation: in its data folder, or named by its config.
fn root_key_file(s: &TestServer) -> PathBuf {
    match &s.config {
        None => s.data_dir.join("root.key"),
        Some(config) => {
            let text = std::fs::read_to_string(config).unwrap();
            let line = text
                .lines()
                .find(|l| l.starts_with("root_key_file"))
                .unwrap();
            PathBuf::from(line.split('"').nth(1).unwrap())
        }
    }
}

/// Issue 15 §2: a backup taken while signed reads and secret writes run restores into a new,
/// empty store; a server started on it verifies its audit chain, serves every secret as it was
/// at the manifest's audit head to the backed-up machine identity, and its chain is the
/// manifest's plus the one `backup_restore` record. Damaged files and wrong keys are refused with
/// the target left empty, and a second restore into the used target is refused.
fn backup_and_restore_under_load(backend: Backend) {
    let mut f = Fixture::on(backend);
    let source = installation(&f.server.data_dir, f.server.config.as_deref());
    let root_key = root_key_file(&f.server);

    // The load: a writer making new versions (remembering each version's value) and a machine
    // reading, until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(Mutex::new(BTreeMap::new()));
    let load = {
        let (op, machine) = (
            f.server.operator_home.clone(),
            f.server.machine_home.clone(),
        );
        let (secret, stop, written) = (f.secret.clone(), stop.clone(), written.clone());
        std::thread::spawn(move || {
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) || i < 3 {
                let value = format!("load-{i}");
                let out = run(
                    &op,
                    &["--json", "secret", "update", &secret, "--value", &value],
                );
                assert!(out.status.success(), "update: {}", stderr(&out));
                let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
                written
                    .lock()
                    .unwrap()
                    .insert(answer["version"].as_u64().unwrap(), value);
                let out = run(&machine, &["get", &secret]);
                assert!(out.status.success(), "read: {}", stderr(&out));
                i += 1;
            }
        })
    };
    // Let the load get going (not a timing assumption: the backup is correct at any point).
    while written.lock().unwrap().len() < 2 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let backups = f.server.root.path().join("backups");
    std::fs::create_dir(&backups).unwrap();
    let file = backups.join("nightly.signet-backup");
    let file_arg = file.display().to_string();
    let out = host(&f.server, &["--json", "backup", &file_arg], &source);
    stop.store(true, Ordering::SeqCst);
    load.join().unwrap();
    assert!(out.status.success(), "backup: {}", stderr(&out));
    // Not a terminal: no progress bar, no escape codes.
    assert!(!stderr(&out).contains('\u{1b}'), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let manifest = report["manifest"].clone();
    let head = manifest["auditHead"]["seq"].as_u64().unwrap();
    assert_eq!(manifest["format"], 1);
    assert_eq!(manifest["key"]["kind"], "rootKey");
    assert_eq!(
        manifest["backend"],
        if backend == Backend::Sqlite {
            "sqlite"
        } else {
            "postgres"
        }
    );
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let bytes = std::fs::read(&file).unwrap();
    for value in written.lock().unwrap().values() {
        let needle = value.as_bytes();
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle),
            "a value in clear in the backup"
        );
    }
    assert!(!String::from_utf8_lossy(&bytes).contains(&f.value));

    // The manifest reads without a key; with the root key every chunk is checked.
    let out = host(&f.server, &["--json", "backup", "inspect", &file_arg], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let inspected: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(inspected["manifest"], manifest);
    assert_eq!(inspected["verified"], false);
    let out = host(
        &f.server,
        &["--json", "backup", "inspect", &file_arg],
        &source,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        serde_json::from_slice::<Value>(&out.stdout).unwrap()["verified"],
        true
    );

    let target = Target::new(&f.server, backend, "restored", &root_key);
    let restore = |path: &Path, extra: &[&str]| {
        let p = path.display().to_string();
        let mut args = vec!["--json", "restore", p.as_str()];
        args.extend_from_slice(extra);
        host(&f.server, &args, &target.args())
    };

    // A flipped byte anywhere (preamble, manifest, salt, chunk lengths, ciphertext, tag), a
    // truncated file and a wrong key are all refused, and the target stays empty.
    let damaged = backups.join("damaged");
    let header_len = 14 + u32::from_be_bytes(bytes[10..14].try_into().unwrap()) as usize + 32;
    for at in [
        0,
        9,
        20,
        header_len - 1,
        header_len + 2,
        header_len + 10,
        bytes.len() / 2,
        bytes.len() - 1,
    ] {
        let mut bad = bytes.clone();
        bad[at] ^= 0x01;
        std::fs::write(&damaged, &bad).unwrap();
        let out = restore(&damaged, &[]);
        assert!(!out.status.success(), "a flipped byte at {at} was accepted");
        let why = stderr(&out);
        assert!(
            [
                "does not authenticate",
                "not a Signet backup",
                "truncated or damaged",
                "wrong key"
            ]
            .iter()
            .any(|m| why.contains(m)),
            "unclear refusal at {at}: {why}"
        );
        target.assert_empty();
    }
    for cut in [
        bytes.len() - 1,
        bytes.len() - 17,
        header_len + 3,
        header_len,
        20,
    ] {
        std::fs::write(&damaged, &bytes[..cut]).unwrap();
        let out = restore(&damaged, &[]);
        assert!(!out.status.success(), "a file cut at {cut} was accepted");
        let why = stderr(&out);
        assert!(
            why.contains("does not authenticate") || why.contains("truncated or damaged"),
            "unclear refusal of a file cut at {cut}: {why}"
        );
        target.assert_empty();
    }
    let other_key = backups.join("keys").join("other.key");
    let out = host(
        &f.server,
        &["backup", "keygen", &other_key.display().to_string()],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = restore(&file, &["--key-file", &other_key.display().to_string()]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("wrong key"), "{}", stderr(&out));
    target.assert_empty();

    // The real restore.
    let out = restore(&file, &[]);
    assert!(out.status.success(), "restore: {}", stderr(&out));
    let restored: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(restored["verified"], true);
    assert_eq!(restored["manifestId"], manifest["id"]);
    assert_eq!(restored["auditHead"].as_u64().unwrap(), head + 1);
    // A second restore into it is refused.
    let out = restore(&file, &[]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("is not empty"), "{}", stderr(&out));
    // The same file restores into the other backend too (the restore checks the chain itself).
    let other = match backend {
        Backend::Sqlite => Backend::Postgres,
        Backend::Postgres => Backend::Sqlite,
    };
    let crossed = Target::new(&f.server, other, "crossed", &root_key);
    let out = host(
        &f.server,
        &["--json", "restore", &file_arg],
        &crossed.args(),
    );
    assert!(
        out.status.success(),
        "restore into {other:?}: {}",
        stderr(&out)
    );
    let crossed_report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(crossed_report["auditHead"].as_u64().unwrap(), head + 1);
    assert_eq!(crossed_report["rows"], restored["rows"]);

    // A server on the restored store: the chain verifies, the backed-up machine reads the
    // version that was current at the manifest's head.
    target.serve(&mut f.server);
    let shown = f.server.op_json(&["secret", "show", &f.secret]);
    let version = shown["version"].as_u64().unwrap();
    let written = written.lock().unwrap().clone();
    let want = written
        .get(&version)
        .unwrap_or_else(|| panic!("version {version} was never written"));
    let out = f.server.machine(&["get", &f.secret]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim_end(), want);
    // Every version written before it is there, and none after.
    let versions = f.server.op_json(&["secret", "versions", &f.secret]);
    let listed = versions["versions"].as_array().map_or(0, Vec::len) as u64;
    assert_eq!(listed, version, "{versions}");
    // The chain is the manifest's plus the one restore record (then what the server and these
    // commands appended since).
    let records = f.server.op_json(&[
        "audit",
        "list",
        "--action",
        "backup_restore",
        "--limit",
        "10",
    ])["records"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["seq"].as_u64(), Some(head + 1), "{records:?}");
    let created = f.server.op_json(&[
        "audit",
        "list",
        "--action",
        "backup_create",
        "--limit",
        "10",
    ])["records"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(created.len(), 1, "{created:?}");
    assert!(created[0]["seq"].as_u64().unwrap() <= head);
}

every_backend!(fn backup_and_restore_under_load);

/// Issue 15 §2, a backup key instead of the root key: `backup keygen` writes a private key in a
/// private folder; `backup --backup-key` encrypts under it (the manifest says `backupKey`), so
/// only that key opens the file: `inspect` checks every chunk with it, a restore with the root
/// key alone is refused as the wrong key, and so is a key file others could read, each leaving
/// the target empty. The restore with it verifies, and a server started on the restored store
/// serves the machine its secret and verifies its chain.
fn a_backup_under_a_backup_key_opens_only_with_it(backend: Backend) {
    let mut f = Fixture::on(backend);
    let source = installation(&f.server.data_dir, f.server.config.as_deref());
    let root_key = root_key_file(&f.server);
    let keys = f.server.root.path().join("backup-keys");
    let key = keys.join("backup.key");
    let key_arg = key.display().to_string();
    let out = host(&f.server, &["backup", "keygen", &key_arg], &[]);
    assert!(out.status.success(), "keygen: {}", stderr(&out));
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!((mode(&key), mode(&keys)), (0o600, 0o700));

    let file = f.server.root.path().join("keyed.signet-backup");
    let file_arg = file.display().to_string();
    let out = host(
        &f.server,
        &["--json", "backup", &file_arg, "--backup-key", &key_arg],
        &source,
    );
    assert!(out.status.success(), "backup: {}", stderr(&out));
    let manifest = serde_json::from_slice::<Value>(&out.stdout).unwrap()["manifest"].clone();
    assert_eq!(manifest["key"]["kind"], "backupKey", "{manifest}");
    assert!(
        manifest["auditHead"]["seq"].as_u64().is_some(),
        "{manifest}"
    );
    let bytes = std::fs::read(&file).unwrap();
    assert!(!String::from_utf8_lossy(&bytes).contains(&f.value));

    let out = host(
        &f.server,
        &[
            "--json",
            "backup",
            "inspect",
            &file_arg,
            "--backup-key",
            &key_arg,
        ],
        &[],
    );
    assert!(out.status.success(), "inspect: {}", stderr(&out));
    assert_eq!(
        serde_json::from_slice::<Value>(&out.stdout).unwrap()["verified"],
        true
    );

    let target = Target::new(&f.server, backend, "restored", &root_key);
    let restore = |extra: &[&str]| {
        let mut args = vec!["--json", "restore", file_arg.as_str()];
        args.extend_from_slice(extra);
        host(&f.server, &args, &target.args())
    };
    let out = restore(&[]);
    assert!(!out.status.success(), "restored without its key");
    assert!(stderr(&out).contains("wrong key"), "{}", stderr(&out));
    target.assert_empty();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = restore(&["--backup-key", &key_arg]);
    assert!(!out.status.success(), "a key file others can read was used");
    assert!(
        stderr(&out).contains("accessible to other users"),
        "{}",
        stderr(&out)
    );
    target.assert_empty();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = restore(&["--backup-key", &key_arg]);
    assert!(out.status.success(), "restore: {}", stderr(&out));
    let restored: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(restored["verified"], true);
    assert_eq!(restored["manifestId"], manifest["id"]);

    target.serve(&mut f.server);
    let out = f.server.machine(&["get", &f.secret]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim_end(), f.value);
}

every_backend!(fn a_backup_under_a_backup_key_opens_only_with_it);
