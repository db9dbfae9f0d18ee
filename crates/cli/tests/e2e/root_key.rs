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
    let log = s.spawn(port, &[]).expect_err("must refuse a wrong key");
    assert!(log.contains("does not match"), "unclear message: {log}");

    std::fs::write(&key_path, &key).expect("restore key");
    s.spawn(port, &[]).expect("starts with the right key");
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
