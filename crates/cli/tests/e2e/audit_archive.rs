//! Machine-signed evidence on audit records and the audit archive (issue 13, goal 6): reads on a
//! real server, then `signet audit verify --signatures` passes and fails on an edited record;
//! `signet audit archive` writes signed segments and prunes them, and `signet audit verify
//! --archive` passes, then fails on a missing, renamed or edited segment.

use serde_json::Value;

use crate::harness::{Backend, Fixture, TestServer, every_backend, psql, stderr, stdout};

fn machine_reads(f: &Fixture, n: usize) {
    for _ in 0..n {
        let out = f.server.machine(&["get", &f.secret]);
        assert!(out.status.success(), "get: {}", stderr(&out));
    }
}

fn records(f: &Fixture) -> Vec<Value> {
    f.server.op_json(&["audit", "list", "--limit", "1000"])["records"]
        .as_array()
        .expect("records")
        .clone()
}

/// A server whose config archives segments of `segment` records into `<root>/archive`.
fn archiving_server(backend: Backend, segment: u64) -> (TestServer, std::path::PathBuf) {
    let mut server = TestServer::unstarted_on(backend);
    let archive = server.root.path().join("archive");
    let config = server
        .config
        .clone()
        .unwrap_or_else(|| server.root.path().join("signet.toml"));
    let mut text = std::fs::read_to_string(&config).unwrap_or_default();
    text.push_str(&format!(
        "audit_archive_dir = {:?}\naudit_archive_segment_records = {segment}\n",
        archive.display().to_string()
    ));
    std::fs::write(&config, text).expect("write config");
    server.config = Some(config);
    server.spawn(0, &[]).expect("server starts");
    (server, archive)
}

/// Runs `sql` on the server's database past the append-only triggers, as someone with the
/// database would.
fn tamper(server: &TestServer, sqlite: &[&str], postgres: &str) {
    match server.database_url() {
        None => {
            let db = rusqlite::Connection::open(server.data_dir.join("signet.db")).expect("db");
            for sql in sqlite {
                db.execute_batch(sql).expect("tamper");
            }
        }
        Some(url) => {
            psql(
                url,
                &format!("ALTER TABLE audit DISABLE TRIGGER USER; {postgres}"),
            )
            .expect("tamper");
        }
    }
}

every_backend!(async fn reads_keep_what_the_machine_signed);
async fn reads_keep_what_the_machine_signed(backend: Backend) {
    let f = Fixture::on(backend);
    machine_reads(&f, 3);
    let all = records(&f);
    let reads: Vec<&Value> = all
        .iter()
        .filter(|r| r["action"] == "secret_read" && r["result"] == "ok")
        .collect();
    assert!(reads.len() >= 3, "{all:#?}");
    for r in &reads {
        let ev = &r["evidence"];
        assert_eq!(ev["method"], "GET", "{r:#}");
        assert!(ev["path"].as_str().expect("path").starts_with("/v1/"));
        assert_eq!(ev["signature"].as_str().expect("sig").len(), 88);
        assert_eq!(ev["bodySha256"].as_str().expect("hash").len(), 64);
    }
    // Operator records carry none.
    assert!(
        all.iter()
            .filter(|r| r["actorKind"] == "operator")
            .all(|r| r.get("evidence").is_none())
    );

    let ok = f.server.op(&["--json", "audit", "verify", "--signatures"]);
    assert!(ok.status.success(), "{} {}", stdout(&ok), stderr(&ok));
    let report: Value = serde_json::from_str(&stdout(&ok)).expect("json");
    assert!(report["signed"].as_u64().expect("signed") >= 3, "{report}");

    // Someone with the database changes the nonce a read was signed with (same length, so
    // the stored evidence still parses): both the chain and the signature check name it.
    let seq = reads[0]["seq"].as_u64().expect("seq");
    let nonce = reads[0]["evidence"]["nonce"].as_str().expect("nonce");
    let other = format!(
        "{}{}",
        if nonce.starts_with('A') { "B" } else { "A" },
        &nonce[1..]
    );
    match f.server.database_url() {
        None => {
            let db = rusqlite::Connection::open(f.server.data_dir.join("signet.db")).expect("db");
            db.execute_batch("DROP TRIGGER audit_no_update")
                .expect("drop trigger");
            let mut blob: Vec<u8> = db
                .query_row(
                    "SELECT evidence FROM audit WHERE seq = ?1",
                    [seq as i64],
                    |r| r.get(0),
                )
                .expect("evidence");
            let at = blob
                .windows(nonce.len())
                .position(|w| w == nonce.as_bytes())
                .expect("the nonce is stored");
            blob[at..at + nonce.len()].copy_from_slice(other.as_bytes());
            db.execute(
                "UPDATE audit SET evidence = ?1 WHERE seq = ?2",
                rusqlite::params![blob, seq as i64],
            )
            .expect("edit");
        }
        Some(url) => {
            let (old_hex, new_hex) = (hex::encode(nonce.as_bytes()), hex::encode(other.as_bytes()));
            psql(
                url,
                &format!(
                    "ALTER TABLE audit DISABLE TRIGGER USER; \
                     UPDATE audit SET evidence = overlay(evidence placing '\\x{new_hex}'::bytea \
                     from position('\\x{old_hex}'::bytea in evidence)) WHERE seq = {seq};"
                ),
            )
            .expect("edit");
        }
    }
    let edited = records(&f);
    let now = edited
        .iter()
        .find(|r| r["seq"].as_u64() == Some(seq))
        .expect("record");
    assert_eq!(now["evidence"]["nonce"], other.as_str(), "the edit took");
    let bad = f.server.op(&["audit", "verify", "--signatures"]);
    assert!(!bad.status.success(), "verify must fail after an edit");
    let said = stdout(&bad) + &stderr(&bad);
    assert!(
        said.contains(&format!("seq {seq}")),
        "names the record: {said}"
    );
}

every_backend!(async fn archived_segments_verify_and_any_damage_fails);
async fn archived_segments_verify_and_any_damage_fails(backend: Backend) {
    let (server, dir) = archiving_server(backend, 5);
    let f = Fixture::with_server(server);
    machine_reads(&f, 12);
    // A store never archived verifies as before.
    let ok = f.server.op(&["audit", "verify"]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    let head_before = records(&f)[0]["seq"].as_u64().expect("seq");
    assert!(head_before > 12, "enough for two segments: {head_before}");

    let archived = f.server.op_json(&["audit", "archive"]);
    let segments = archived["segments"].as_array().expect("segments");
    assert_eq!(
        segments.len() as u64,
        head_before / 5,
        "every full segment: {archived:#}"
    );
    assert_eq!(segments[0]["firstSeq"], 1);
    assert_eq!(segments[1]["firstSeq"], 6);
    let last_archived = segments.last().expect("one")["lastSeq"]
        .as_u64()
        .expect("seq");
    // The archived records left the live store; an `audit_archive` record describes each.
    let live = records(&f);
    let oldest = live.last().expect("live")["seq"].as_u64().expect("seq");
    assert_eq!(oldest, last_archived + 1);
    assert!(live.iter().any(|r| r["action"] == "audit_archive"));
    for name in [
        "segment-00000000000000000001-00000000000000000005.jsonl",
        "segment-00000000000000000001-00000000000000000005.checkpoint.json",
    ] {
        assert!(dir.join(name).is_file(), "{name}");
    }

    // The live chain continues from the last checkpoint, and the archive verifies with it.
    let dir_arg = dir.display().to_string();
    for args in [
        vec!["audit", "verify"],
        vec!["audit", "verify", "--archive", &dir_arg],
        vec!["audit", "verify", "--archive", &dir_arg, "--signatures"],
    ] {
        let out = f.server.op(&args);
        assert!(
            out.status.success(),
            "{args:?}: {} {}",
            stdout(&out),
            stderr(&out)
        );
    }
    // Archiving again continues where the last segment stopped (the archive and verify
    // records since have filled more), and everything still verifies.
    let again = f.server.op_json(&["audit", "archive"]);
    let more = again["segments"].as_array().expect("segments");
    assert!(!more.is_empty(), "{again:#}");
    assert_eq!(more[0]["firstSeq"].as_u64(), Some(last_archived + 1));
    let last_archived = more.last().expect("one")["lastSeq"].as_u64().expect("seq");
    let ok = f
        .server
        .op(&["audit", "verify", "--archive", &dir_arg, "--signatures"]);
    assert!(ok.status.success(), "{} {}", stdout(&ok), stderr(&ok));

    let fails = |why: &str, needle: &str| {
        let out = f.server.op(&["audit", "verify", "--archive", &dir_arg]);
        let said = stdout(&out) + &stderr(&out);
        assert!(!out.status.success(), "{why}: verify must fail");
        assert!(said.contains(needle), "{why}: {said}");
    };
    let first = dir.join("segment-00000000000000000001-00000000000000000005.jsonl");
    let bytes = std::fs::read(&first).expect("segment");

    // An edited segment.
    let text = String::from_utf8(bytes.clone()).expect("utf8");
    assert!(text.contains("\"result\":\"ok\""), "{text}");
    std::fs::write(
        &first,
        text.replacen("\"result\":\"ok\"", "\"result\":\"no\"", 1),
    )
    .expect("edit");
    fails("edited", "edited");
    std::fs::write(&first, &bytes).expect("restore");

    // A missing segment (and its checkpoint).
    let cp = dir.join("segment-00000000000000000001-00000000000000000005.checkpoint.json");
    let cp_bytes = std::fs::read(&cp).expect("checkpoint");
    std::fs::remove_file(&cp).expect("remove");
    fails("missing", "missing");
    // Renamed into another place in the order.
    std::fs::write(
        dir.join("segment-00000000000000000099-00000000000000000100.checkpoint.json"),
        &cp_bytes,
    )
    .expect("rename");
    fails("reordered", "moved");
    std::fs::remove_file(
        dir.join("segment-00000000000000000099-00000000000000000100.checkpoint.json"),
    )
    .expect("remove");
    std::fs::write(&cp, &cp_bytes).expect("restore");
    let ok = f.server.op(&["audit", "verify", "--archive", &dir_arg]);
    assert!(ok.status.success(), "restored: {}", stderr(&ok));

    // Someone with the database deletes the newest checkpoint row (and with it the claim that
    // records were archived): the live chain no longer starts where the store says it does.
    tamper(
        &f.server,
        &[
            "DROP TRIGGER audit_checkpoints_no_delete",
            &format!("DELETE FROM audit_checkpoints WHERE last_seq = {last_archived}"),
        ],
        &format!(
            "ALTER TABLE audit_checkpoints DISABLE TRIGGER USER; \
             DELETE FROM audit_checkpoints WHERE last_seq = {last_archived};"
        ),
    );
    let bad = f.server.op(&["audit", "verify"]);
    assert!(!bad.status.success(), "a removed checkpoint is detected");
}
