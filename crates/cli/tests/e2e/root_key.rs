use crate::harness::{Fixture, TestServer, stderr, stdout};

#[test]
fn a_missing_or_wrong_root_key_stops_the_server_at_start() {
    let mut s = TestServer::start();
    s.operator_init();
    let key_path = s.data_dir.join("root.key");
    let key = std::fs::read_to_string(&key_path).expect("root key");
    let mode = |p: &std::path::Path| {
        std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(p).expect("metadata").permissions(),
        ) & 0o777
    };
    assert_eq!(mode(&s.data_dir), 0o700, "the data folder is private");
    assert_eq!(mode(&key_path), 0o600, "the root key file is private");
    assert_eq!(
        mode(&s.data_dir.join("signet.db")),
        0o600,
        "the database is private"
    );
    assert_eq!(key.trim().len(), 64, "the key file holds 64 hex digits");
    let port = s.port;
    s.stop();

    std::fs::remove_file(&key_path).expect("remove key");
    let log = s.spawn(port, &[]).expect_err("must refuse without its key");
    assert!(
        log.contains("root key is missing"),
        "unclear message: {log}"
    );
    assert!(
        !key_path.exists(),
        "a new key must not be made for an existing database"
    );

    let other = "ab".repeat(32);
    std::fs::write(&key_path, &other).expect("write wrong key");
    // Private, so that the key's value (not its mode) is what is refused.
    std::fs::set_permissions(
        &key_path,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .expect("chmod");
    let log = s.spawn(port, &[]).expect_err("must refuse a wrong key");
    assert!(log.contains("does not match"), "unclear message: {log}");

    std::fs::write(&key_path, &key).expect("restore key");
    s.spawn(port, &[]).expect("starts with the right key");
}

/// Finding 9: like ssh with a private key, a root key file that group or others may read or
/// write stops the server, with a message naming the file and the fix; after `chmod 600` it
/// starts. Both the data folder's key and a config's `root_key_file`.
#[test]
fn a_root_key_file_open_to_others_stops_the_server_at_start() {
    use std::os::unix::fs::PermissionsExt;
    let chmod = |p: &std::path::Path, mode: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("chmod")
    };
    let mut s = TestServer::start();
    s.operator_init();
    let key_path = s.data_dir.join("root.key");
    let port = s.port;
    s.stop();
    for mode in [0o640, 0o604, 0o620, 0o602, 0o660, 0o644] {
        chmod(&key_path, mode);
        let log = s
            .spawn(port, &[])
            .expect_err("must refuse a key file open to others");
        assert!(
            log.contains(&format!("chmod 600 {}", key_path.display())),
            "mode {mode:o}: unclear message: {log}"
        );
        std::fs::write(&s.log_path, "").expect("clear log");
    }
    // The refused start exits with a failure status, without listening.
    let status = std::process::Command::new(crate::harness::bin())
        .arg("server")
        .arg("--data-dir")
        .arg(&s.data_dir)
        .arg("--listen")
        .arg("127.0.0.1:0")
        .env_remove("SIGNET_CONFIG")
        .stderr(std::process::Stdio::null())
        .status()
        .expect("run signet");
    assert!(!status.success(), "exit status {status}");
    chmod(&key_path, 0o600);
    s.spawn(port, &[]).expect("starts after chmod 600");
    s.stop();
    chmod(&key_path, 0o400);
    s.spawn(port, &[])
        .expect("a read-only key for the owner is fine");
    s.stop();

    // A key file named by the config is held to the same rule.
    let dir = tempfile::tempdir().expect("tmp");
    let db = dir.path().join("db").join("signet.db");
    let config = crate::harness::shared_config(dir.path(), &format!("sqlite://{}", db.display()));
    let key_file = dir.path().join("root.key");
    chmod(&key_file, 0o644);
    let log = TestServer::try_start_with_config(&config)
        .err()
        .expect("must refuse a config key file open to others");
    assert!(
        log.contains(&format!("chmod 600 {}", key_file.display())),
        "unclear message: {log}"
    );
    chmod(&key_file, 0o600);
    TestServer::try_start_with_config(&config).expect("starts after chmod 600");
}

#[test]
fn a_canary_never_reaches_the_database_the_wal_or_the_logs() {
    let f = Fixture::new();
    let canary = "CANARY-7f3a9c1e-never-in-a-file";
    let id = f.server.op_json(&[
        "secret",
        "create",
        "--project",
        &f.project,
        "--name",
        "canary",
        "--value",
        canary,
    ])["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let fields = f.server.op_json(&[
        "secret",
        "create",
        "--project",
        &f.project,
        "--name",
        "canary-fields",
        "--field",
        &format!("token={canary}"),
    ])["id"]
        .as_str()
        .expect("id")
        .to_owned();
    f.server.op_json(&[
        "machine", "grant", &f.machine, "--secret", &id, "--secret", &fields,
    ]);
    for _ in 0..3 {
        let out = f.server.machine(&["get", &id]);
        assert_eq!(stdout(&out).trim_end(), canary, "{}", stderr(&out));
    }
    assert!(stdout(&f.server.machine(&["export", "--format", "json"])).contains(canary));
    f.server
        .op_json(&["secret", "update", &id, "--value", &format!("{canary}-v2")]);
    assert!(stdout(&f.server.machine(&["get", &id])).contains(canary));

    let mut checked = 0;
    for entry in std::fs::read_dir(&f.server.data_dir).expect("data dir") {
        let path = entry.expect("entry").path();
        let bytes = std::fs::read(&path).expect("read");
        assert!(
            !bytes.windows(canary.len()).any(|w| w == canary.as_bytes()),
            "canary found in {}",
            path.display()
        );
        checked += 1;
    }
    assert!(
        checked >= 3,
        "expected the database, its WAL and the key file; saw {checked} files"
    );
    assert!(
        f.server.data_dir.join("signet.db-wal").exists(),
        "the WAL must be checked too"
    );
    let log = f.server.log();
    assert!(log.len() > 1000, "the debug log should have content");
    assert!(!log.contains(canary), "canary found in the server log");
}
