//! Project key rotation online (issue 15 §2): `signet project rotate-key` against replica A
//! while a machine reads through every replica and secrets are written through each; every
//! version of every secret (standard, structured, a rollback) reads back identical through
//! each replica before and after, a lease's password and a connection's admin password still
//! open, nothing in the database is left under the old key, the rotation is audited, two
//! rotations at once let one win with `project_key_conflict`, and a viewer, a developer and a
//! project that does not exist all get the same 403.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Value, json};
use signet_client::{MachineClient, OperatorClient};
use signet_testkit::postgres::psql;

use crate::harness::{AdminJson, Backend, Fixture, PgDatabase, TestServer, every_backend, stderr};
use crate::keys::{machine_at, op_at, op_json, read, run_load, seed_project};
use crate::replicas::Replicas;
use crate::roles::{create_user, login, raw};

/// Holds each rotation 1.5 s between its listing and its commit (`signet_core::project_key`'s
/// fault point), so writes land inside it and two rotations overlap.
const PAUSE: (&str, &str) = ("FAILPOINTS", "project_key_rotate_pause=return(1500)");

/// Secrets seeded in the rotated project, and versions of each.
const SECRETS: usize = 3;
const VERSIONS: usize = 3;

/// What every version of `secrets` reads as through each of `readers`: each version is made
/// current by a rollback (which serves that version's own ciphertext and data key), then read
/// through every replica. `[secret][version][replica]`.
async fn every_version(
    op: &OperatorClient,
    readers: &[MachineClient],
    secrets: &[(String, usize)],
    when: &str,
) -> Vec<Vec<Vec<String>>> {
    let mut out = Vec::new();
    for (id, versions) in secrets {
        let mut of_secret = Vec::new();
        for v in 1..=*versions {
            op.request_json(
                "POST",
                &format!("/v1/admin/secrets/{id}/rollback"),
                Some(&json!({ "version": v })),
            )
            .await
            .unwrap_or_else(|e| panic!("{when}: rollback {id} to {v}: {e}"));
            let mut seen = Vec::new();
            for (r, c) in readers.iter().enumerate() {
                let got = read(c, id).await.unwrap_or_else(|e| {
                    panic!("{when}: {id} version {v} through replica {r}: {e}")
                });
                seen.push(got);
            }
            of_secret.push(seen);
        }
        out.push(of_secret);
    }
    out
}

/// The rotation scenario over `servers` (one, or two replicas of one database); `count` runs
/// a `SELECT count(*)` against the database itself.
async fn rotate_project_under_load(
    f: &mut Fixture,
    b: Option<&TestServer>,
    count: &dyn Fn(&str) -> u64,
) {
    let mut urls = vec![f.server.url.clone()];
    if let Some(b) = b {
        urls.push(b.url.clone());
    }
    let ops: Vec<OperatorClient> = urls.iter().map(|u| op_at(f, u)).collect();
    let readers: Vec<MachineClient> = urls.iter().map(|u| machine_at(f, u)).collect();
    let p = f.project.clone();

    // The rotated project: standard secrets with several versions, a structured one, and a
    // rollback, all granted to the fixture machine (attached to the project already).
    let mut secrets: Vec<(String, usize)> = Vec::new();
    for s in 0..SECRETS {
        let created = ops[s % ops.len()]
            .request_json(
                "POST",
                "/v1/admin/secrets",
                Some(&json!({ "projectId": p, "name": format!("S{s}"), "value": format!("s{s}/v1#") })),
            )
            .await
            .unwrap();
        let id = created["id"].as_str().unwrap().to_owned();
        for v in 2..=VERSIONS {
            ops[0]
                .request_json(
                    "POST",
                    &format!("/v1/admin/secrets/{id}/update"),
                    Some(&json!({ "value": format!("s{s}/v{v}#") })),
                )
                .await
                .unwrap();
        }
        secrets.push((id, VERSIONS));
    }
    let structured = ops[0]
        .request_json(
            "POST",
            "/v1/admin/secrets",
            Some(
                &json!({ "projectId": p, "name": "DB", "fields": { "user": "u1", "pass": "p1" } }),
            ),
        )
        .await
        .unwrap();
    let sid = structured["id"].as_str().unwrap().to_owned();
    ops[0]
        .request_json(
            "POST",
            &format!("/v1/admin/secrets/{sid}/update"),
            Some(&json!({ "fields": { "user": "u2", "pass": "p2" } })),
        )
        .await
        .unwrap();
    secrets.push((sid, 2));
    // A rollback: version 4 of S0 is version 1's value again.
    ops[0]
        .request_json(
            "POST",
            &format!("/v1/admin/secrets/{}/rollback", secrets[0].0),
            Some(&json!({ "version": 1 })),
        )
        .await
        .unwrap();
    secrets[0].1 += 1;
    let ids: Vec<String> = secrets.iter().map(|(id, _)| id.clone()).collect();
    ops[0]
        .request_json(
            "POST",
            &format!("/v1/admin/machines/{}/grant", f.machine),
            Some(&json!({ "secretIds": ids })),
        )
        .await
        .unwrap();

    // A database connection and a leased secret: their passwords are sealed under the project
    // key too.
    let db = PgDatabase::create();
    psql(db.url(), "CREATE TABLE t (x int)").unwrap();
    let conn = ops[0]
        .request_json(
            "POST",
            &format!("/v1/admin/projects/{p}/connections"),
            Some(&json!({
                "name": "main", "host": "127.0.0.1", "port": 5432, "database": db.name(),
                "adminUser": "postgres", "adminPassword": "unused-with-trust", "tlsMode": "disable"
            })),
        )
        .await
        .unwrap();
    let conn = conn["id"].as_str().unwrap().to_owned();
    let leased = f.server.op_json(&[
        "lease",
        "create",
        "--project",
        &p,
        "--name",
        "APP_DB",
        "--connection",
        &conn,
        "--ttl",
        "10m",
        "--max-ttl",
        "20m",
        "--grant",
        "GRANT SELECT ON t TO {{name}}",
    ]);
    let leased = leased["secretId"].as_str().unwrap().to_owned();
    f.server
        .op_json(&["machine", "grant", &f.machine, "--secret", &leased]);
    let lease_before = read(&readers[0], &leased).await.unwrap();

    // Another project, which the rotation leaves alone.
    let other = seed_project(&ops[0], &f.machine, "other").await;

    let before = every_version(&ops[0], &readers, &secrets, "before").await;
    for (i, of_secret) in before.iter().enumerate() {
        for (v, seen) in of_secret.iter().enumerate() {
            assert!(
                seen.iter().all(|x| x == &seen[0]),
                "before: secret {i} version {} differs between replicas: {seen:?}",
                v + 1
            );
        }
    }
    assert_eq!(before[0][0][0], "s0/v1#");
    assert_eq!(before[0][3][0], "s0/v1#", "the rollback");
    assert!(
        before[SECRETS][1][0].contains("p2"),
        "{:?}",
        before[SECRETS]
    );

    // The load: reads through every replica, writes into the rotated project through each.
    let stop = Arc::new(AtomicBool::new(false));
    let load = tokio::spawn(run_load(
        urls.iter().map(|u| op_at(f, u)).collect(),
        urls.iter().map(|u| machine_at(f, u)).collect(),
        f.secret.clone(),
        f.value.clone(),
        stop.clone(),
    ));
    let rotation = {
        let home = f.server.operator_home.clone();
        let p = p.clone();
        tokio::task::spawn_blocking(move || {
            crate::harness::run(&home, &["--json", "project", "rotate-key", &p])
        })
    };
    let out = rotation.await.unwrap();
    assert!(out.status.success(), "rotate-key: {}", stderr(&out));
    let rotated: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rotated["projectId"], p.as_str(), "{rotated}");
    assert_eq!(rotated["generation"], 1, "{rotated}");
    // Every sealed version (the fixture secret's, S0-S2's, the structured one's, the leased
    // one's placeholder), the connection and the lease at least.
    let sealed = u64::try_from(1 + SECRETS * VERSIONS + 2 + 1 + 2).unwrap();
    assert!(
        rotated["rewrapped"].as_u64().unwrap() >= sealed,
        "{rotated}"
    );
    // Let the load run on past the rotation for a moment.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    stop.store(true, Ordering::SeqCst);
    let load = load.await.unwrap();
    assert!(load.failures.is_empty(), "under load: {:?}", load.failures);
    assert!(load.reads > 0 && !load.written.is_empty());

    let after = every_version(&ops[ops.len() - 1], &readers, &secrets, "after").await;
    assert_eq!(after, before, "every version reads back identical");
    let (_, last) = load.written.last().unwrap();
    for c in &readers {
        // The newest value written under load reads back through every replica.
        assert_eq!(read(c, &f.secret).await.as_deref(), Ok(last.as_str()));
        for (id, values) in &other {
            assert_eq!(
                read(c, id).await.as_deref(),
                Ok(values.last().unwrap().as_str())
            );
        }
    }
    // The lease's password opens (the active lease is answered again, unchanged), and so does
    // the connection's admin password.
    assert_eq!(
        read(&readers[readers.len() - 1], &leased).await,
        Ok(lease_before)
    );
    let tested = ops[ops.len() - 1]
        .request_json(
            "POST",
            &format!("/v1/admin/projects/{p}/connections/{conn}/test"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(tested["ok"], true, "{tested}");

    // Nothing in the database is under the old key; the other project still has its first.
    assert_eq!(
        count(&format!(
            "SELECT count(*) FROM projects WHERE id = '{p}' AND key_generation = 1"
        )),
        1
    );
    let left = count(&format!(
        "SELECT (SELECT count(*) FROM secret_versions v JOIN secrets s ON s.id = v.secret_id
                  WHERE s.project_id = '{p}' AND v.wrapped_dek IS NOT NULL AND v.key_generation <> 1)
              + (SELECT count(*) FROM db_connections WHERE project_id = '{p}' AND key_generation <> 1)
              + (SELECT count(*) FROM leases WHERE project_id = '{p}' AND key_generation <> 1)"
    ));
    assert_eq!(left, 0);
    assert_eq!(
        count(&format!(
            "SELECT count(*) FROM projects WHERE id <> '{p}' AND key_generation <> 0"
        )),
        0
    );
    let audit = op_json(f, &["audit", "list", "--action", "project_key_rotate"]).await;
    let records = audit["records"].as_array().unwrap();
    assert_eq!(records.len(), 1, "{audit}");
    assert_eq!(records[0]["target"], p.as_str(), "{audit}");
    assert!(
        records[0]["detail"]
            .as_str()
            .unwrap()
            .starts_with("from=0 to=1 values="),
        "{audit}"
    );

    // Two rotations at once, through both replicas: one wins, the other changes nothing.
    let path = format!("/v1/admin/projects/{p}/key/rotate");
    let (first, second) = tokio::join!(ops[0].request_json("POST", &path, None), async {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        ops[ops.len() - 1].request_json("POST", &path, None).await
    });
    let won = first.expect("the first rotation wins");
    assert_eq!(won["generation"], 2, "{won}");
    match second {
        Err(signet_client::ClientError::Http {
            status: 409,
            code: Some(code),
            ..
        }) => assert_eq!(code, "project_key_conflict"),
        other => panic!("the second rotation: {other:?}"),
    }
    let again = every_version(&ops[0], &readers, &secrets, "after the second rotation").await;
    assert_eq!(again, before);

    // A viewer and a developer are refused; so is a project that does not exist, with the
    // same answer, and a malformed id.
    let (vt, _) = create_user(&f.server, "vera", "viewer");
    let (dt, _) = create_user(&f.server, "dave", "developer");
    let viewer = login(&f.server, "vera", &vt);
    let developer = login(&f.server, "dave", &dt);
    let denied = |status: u16, body: &[u8], who: &str| {
        assert_eq!(status, 403, "{who}: {}", String::from_utf8_lossy(body));
        let v: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(
            v,
            json!({"error": "access denied", "code": "access_denied"}),
            "{who}"
        );
    };
    let (status, body) = raw(&viewer, "POST", &path, None).await;
    denied(status, &body, "viewer");
    let (status, body) = raw(&developer, "POST", &path, None).await;
    denied(status, &body, "developer");
    let missing = signet_proto::ProjectId::generate();
    let (status, body) = raw(
        &ops[0],
        "POST",
        &format!("/v1/admin/projects/{missing}/key/rotate"),
        None,
    )
    .await;
    denied(status, &body, "owner, no such project");
    let (status, body) = raw(&ops[0], "POST", "/v1/admin/projects/nope/key/rotate", None).await;
    denied(status, &body, "owner, malformed id");
    assert_eq!(
        count(&format!(
            "SELECT count(*) FROM projects WHERE id = '{p}' AND key_generation = 2"
        )),
        1,
        "nothing refused changed the key"
    );
    assert_eq!(op_json(f, &["audit", "verify"]).await["ok"], true);
}

/// PostgreSQL: two replicas of one database, the CLI's rotation run against A.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn project_key_rotation_under_load_across_two_replicas() {
    let mut r = Replicas::start_with_env(&[PAUSE], &[PAUSE]);
    let count = crate::harness::postgres_count(r.db.url().to_owned());
    rotate_project_under_load(&mut r.a, Some(&r.b), &count).await;
}

/// SQLite: the same on one process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn project_key_rotation_under_load_on_sqlite() {
    let mut server = TestServer::unstarted_on(Backend::Sqlite);
    server.env = vec![(PAUSE.0.to_owned(), PAUSE.1.to_owned())];
    server.spawn(0, &[]).unwrap();
    let mut f = Fixture::with_server(server);
    let count = crate::harness::sqlite_count(f.server.data_dir.join("signet.db"));
    rotate_project_under_load(&mut f, None, &count).await;
}

/// Writers in the sustained-write scenario, each looping updates of a secret of its own in the
/// rotated project.
const WRITERS: usize = 4;

/// What one writer wrote, in order (version 1 first), and what failed.
struct Written {
    secret: String,
    values: Vec<String>,
    failures: Vec<String>,
}

/// Updates `secret` with a new value in a loop until `stop`.
async fn write_until(
    op: OperatorClient,
    secret: String,
    first: String,
    stop: Arc<AtomicBool>,
) -> Written {
    let mut w = Written {
        secret,
        values: vec![first],
        failures: Vec::new(),
    };
    let mut n = 1usize;
    while !stop.load(Ordering::SeqCst) {
        let value = format!("{}/{n}#", w.secret);
        match op
            .request_json(
                "POST",
                &format!("/v1/admin/secrets/{}/update", w.secret),
                Some(&json!({ "value": value })),
            )
            .await
        {
            Ok(_) => w.values.push(value),
            Err(e) => w.failures.push(format!("write {n}: {e}")),
        }
        n += 1;
    }
    w
}

/// A rotation converges under a sustained write load: several writers update secrets of the
/// rotated project in a loop from before the rotation to after it, every listing is held long
/// enough for writes to land before its commit, and the rotation still succeeds at once (the
/// store re-wraps what landed meanwhile inside the commit; before, each such write sent the
/// rotation back to list again, and after 20 rounds it answered 503). No write fails, and
/// every version every writer wrote reads back afterwards.
async fn project_key_rotation_converges_under_sustained_writes(backend: Backend) {
    let mut server = TestServer::unstarted_on(backend);
    server.env = vec![(
        "FAILPOINTS".to_owned(),
        "project_key_rotate_pause=return(800)".to_owned(),
    )];
    server.spawn(0, &[]).unwrap();
    let f = Fixture::with_server(server);
    let op = op_at(&f, &f.server.url);
    let reader = machine_at(&f, &f.server.url);

    let mut secrets = Vec::new();
    for i in 0..WRITERS {
        let first = format!("w{i}/0#");
        let created = op
            .request_json(
                "POST",
                "/v1/admin/secrets",
                Some(&json!({ "projectId": f.project, "name": format!("W{i}"), "value": first })),
            )
            .await
            .unwrap();
        secrets.push((created["id"].as_str().unwrap().to_owned(), first));
    }
    let ids: Vec<&str> = secrets.iter().map(|(id, _)| id.as_str()).collect();
    op.request_json(
        "POST",
        &format!("/v1/admin/machines/{}/grant", f.machine),
        Some(&json!({ "secretIds": ids })),
    )
    .await
    .unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = secrets
        .iter()
        .map(|(id, first)| {
            tokio::spawn(write_until(
                op_at(&f, &f.server.url),
                id.clone(),
                first.clone(),
                stop.clone(),
            ))
        })
        .collect();
    // The writers are under way before the rotation lists.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let home = f.server.operator_home.clone();
    let p = f.project.clone();
    let out = tokio::task::spawn_blocking(move || {
        crate::harness::run(&home, &["--json", "project", "rotate-key", &p])
    })
    .await
    .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    stop.store(true, Ordering::SeqCst);
    let mut written = Vec::new();
    for w in writers {
        written.push(w.await.unwrap());
    }
    assert!(out.status.success(), "rotate-key: {}", stderr(&out));
    let rotated: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rotated["generation"], 1, "{rotated}");
    for w in &written {
        assert!(w.failures.is_empty(), "{}: {:?}", w.secret, w.failures);
        assert!(w.values.len() > 2, "{}: {:?}", w.secret, w.values);
    }

    // Writes landed between the listing and the commit, and the commit re-wrapped them: the
    // answer counts more values than the listing the audit record names.
    let audit = op_json(&f, &["audit", "list", "--action", "project_key_rotate"]).await;
    let records = audit["records"].as_array().unwrap();
    assert_eq!(records.len(), 1, "one listing, one commit: {audit}");
    let detail = records[0]["detail"].as_str().unwrap();
    let listed: u64 = detail
        .rsplit("values=")
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{detail}"));
    assert!(
        rotated["rewrapped"].as_u64().unwrap() > listed,
        "{rotated} after {detail}"
    );

    // Every version every writer wrote reads back (each made current by a rollback).
    for w in &written {
        for (i, want) in w.values.iter().enumerate() {
            op.request_json(
                "POST",
                &format!("/v1/admin/secrets/{}/rollback", w.secret),
                Some(&json!({ "version": i + 1 })),
            )
            .await
            .unwrap_or_else(|e| panic!("rollback {} to {}: {e}", w.secret, i + 1));
            assert_eq!(
                read(&reader, &w.secret).await.as_deref(),
                Ok(want.as_str()),
                "{} version {}",
                w.secret,
                i + 1
            );
        }
    }
    assert_eq!(op_json(&f, &["audit", "verify"]).await["ok"], true);
}

every_backend!(async fn project_key_rotation_converges_under_sustained_writes);
