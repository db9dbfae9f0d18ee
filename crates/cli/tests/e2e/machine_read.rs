use serde_json::Value;
use signet_client::MachineClient;
use signet_client::identity;
use signet_proto::Identity;

use crate::harness::{Backend, Fixture, every_backend, psql, stderr, stdout};

fn client(f: &Fixture) -> MachineClient {
    let creds = identity::load::<Identity>(&f.server.machine_identity()).expect("identity");
    MachineClient::new(creds).expect("client")
}

fn audit(f: &Fixture) -> Vec<Value> {
    f.server.op_json(&["audit", "list", "--limit", "1000"])["records"]
        .as_array()
        .expect("records")
        .clone()
}

fn count(records: &[Value], action: &str, result: &str) -> usize {
    records
        .iter()
        .filter(|r| r["action"] == action && r["result"] == result)
        .count()
}

every_backend!(async fn newcomer_path_then_every_rejection);
async fn newcomer_path_then_every_rejection(backend: Backend) {
    let mut f = Fixture::on(backend);
    let path = format!("/v1/secret/{}", f.secret);

    // `signet get` returns the value, and `signet run -- env` shows it.
    let out = f.server.machine(&["get", &f.secret]);
    assert!(out.status.success(), "get: {}", stderr(&out));
    assert_eq!(stdout(&out).trim_end(), f.value);
    let out = f.server.machine(&["run", "--all", "--", "env"]);
    assert!(out.status.success(), "run: {}", stderr(&out));
    assert!(
        stdout(&out)
            .lines()
            .any(|l| l == format!("DATABASE_URL={}", f.value)),
        "env lacks the secret"
    );

    let c = client(&f);

    // The identical request replayed: 401, with one uniform body and the server's time.
    let req = c.signed("GET", &path).build().expect("build");
    let first = req.send().await.expect("send");
    assert_eq!(first.status, 200);
    let replay = req.send().await.expect("send");
    assert_eq!(replay.status, 401);
    let uniform = replay.body.clone();
    assert!(
        replay.header("date").is_some(),
        "401 must carry the server's time"
    );
    assert!(!String::from_utf8_lossy(&uniform).contains(&f.value));

    // Timestamp outside the window either way: 401; on the edge: accepted.
    for (offset, want) in [(301, 401), (-301, 401), (295, 200), (-295, 200)] {
        let r = c
            .signed("GET", &path)
            .timestamp_offset(offset)
            .build()
            .expect("build")
            .send()
            .await
            .expect("send");
        assert_eq!(r.status, want, "offset {offset}");
        if want == 401 {
            assert_eq!(r.body, uniform, "401 bodies must be identical");
        }
    }

    // Body changed after signing.
    let mut req = c
        .signed("POST", "/v1/secrets/list")
        .json(&serde_json::json!({"projectId": f.project}))
        .build()
        .expect("build");
    req.body = format!("{{\"projectId\": \"{}\"}}", f.project).into_bytes();
    let r = req.send().await.expect("send");
    assert_eq!((r.status, &r.body), (401, &uniform));

    // Path changed after signing (another secret's path).
    let mut req = c.signed("GET", &path).build().expect("build");
    req.path = "/v1/secret/sk_AAAAAAAAAA".to_owned();
    let r = req.send().await.expect("send");
    assert_eq!((r.status, &r.body), (401, &uniform));

    // Method changed after signing: signed as POST, sent as GET.
    let mut req = c.signed("POST", &path).build().expect("build");
    req.method = "GET".to_owned();
    let r = req.send().await.expect("send");
    assert_eq!((r.status, &r.body), (401, &uniform));

    // A query string on a signed route: 400, signed or not.
    let r = c
        .signed("GET", &format!("{path}?version=1"))
        .unchecked_path()
        .build()
        .expect("build")
        .send_verbatim()
        .await
        .expect("send");
    assert_eq!(r.status, 400);
    // Non-canonical paths: 400, never normalised.
    for bad in [
        format!("/v1//secret/{}", f.secret),
        format!("/v1/secret/{}/", f.secret),
        format!("/v1/./secret/{}", f.secret),
    ] {
        let r = c
            .signed("GET", &bad)
            .unchecked_path()
            .build()
            .expect("build")
            .send_verbatim()
            .await
            .expect("send");
        assert_eq!(r.status, 400, "{bad}");
    }

    // Disabled: refused on the next request; enabled again: served.
    f.server.op_json(&["machine", "disable", &f.machine]);
    let r = c
        .signed("GET", &path)
        .build()
        .expect("build")
        .send()
        .await
        .expect("send");
    assert!(
        r.status == 401 || r.status == 403,
        "disabled machine got {}",
        r.status
    );
    f.server.op_json(&["machine", "enable", &f.machine]);
    assert_eq!(
        c.signed("GET", &path)
            .build()
            .expect("build")
            .send()
            .await
            .expect("send")
            .status,
        200
    );

    // A source outside the machine's allowed CIDRs: 403; back to any source: 200.
    f.server
        .op_json(&["machine", "allow-cidr", &f.machine, "10.0.0.0/8"]);
    assert_eq!(
        c.signed("GET", &path)
            .build()
            .expect("build")
            .send()
            .await
            .expect("send")
            .status,
        403
    );
    f.server
        .op_json(&["machine", "allow-cidr", &f.machine, "127.0.0.0/8"]);
    assert_eq!(
        c.signed("GET", &path)
            .build()
            .expect("build")
            .send()
            .await
            .expect("send")
            .status,
        200
    );

    // The grant removed: 403 on the very next request, same as a secret that does not exist.
    f.server
        .op_json(&["machine", "ungrant", &f.machine, "--secret", &f.secret]);
    let denied = c
        .signed("GET", &path)
        .build()
        .expect("build")
        .send()
        .await
        .expect("send");
    assert_eq!(denied.status, 403);
    let missing = c
        .signed("GET", "/v1/secret/sk_ZZZZZZZZZZ")
        .build()
        .expect("build")
        .send()
        .await
        .expect("send");
    assert_eq!((missing.status, &missing.body), (403, &denied.body));

    // The audit shows each event. Authentication failures from one source are written on
    // their own the first time in an interval and counted after that; a graceful stop writes
    // the count.
    f.server.restart();
    let records = audit(&f);
    assert!(
        count(&records, "secret_read", "ok") >= 5,
        "reads are audited"
    );
    let aggregates: Vec<&str> = records
        .iter()
        .filter(|r| r["action"] == "auth_failures")
        .filter_map(|r| r["detail"].as_str())
        .collect();
    let counted: usize = aggregates
        .iter()
        .filter_map(|d| d.split(' ').find_map(|kv| kv.strip_prefix("count=")))
        .map(|n| n.parse::<usize>().expect("count"))
        .sum();
    assert!(
        count(&records, "auth_failure", "denied") + counted >= 6,
        "auth failures are audited: {aggregates:?}"
    );
    assert!(
        count(&records, "secret_read", "denied") >= 2,
        "denials are audited"
    );
    for action in [
        "machine_enroll_bootstrap",
        "machine_approve",
        "machine_attach",
        "grant_add",
        "grant_remove",
        "machine_disable",
        "machine_enable",
        "machine_cidrs_set",
        "secret_create",
        "project_create",
        "bootstrap_token_create",
    ] {
        assert!(
            records.iter().any(|r| r["action"] == action),
            "no {action} record"
        );
    }
    // Each reason is named: in a record of its own or in an aggregate's `reasons=reason:n`.
    let reasons: Vec<&str> = records
        .iter()
        .filter(|r| r["action"] == "auth_failure")
        .filter_map(|r| r["detail"].as_str())
        .chain(aggregates.iter().flat_map(|d| {
            d.split(' ')
                .filter_map(|kv| kv.strip_prefix("reasons="))
                .flat_map(|rs| rs.split(','))
                .filter_map(|r| r.split(':').next())
        }))
        .collect();
    for reason in ["replayed_nonce", "clock_window", "bad_signature"] {
        assert!(
            reasons.contains(&reason),
            "no auth_failure with {reason}: {reasons:?}"
        );
    }

    // `signet audit verify` passes, then fails after one row is changed in the database.
    let ok = f.server.op(&["audit", "verify"]);
    assert!(
        ok.status.success(),
        "verify: {} {}",
        stdout(&ok),
        stderr(&ok)
    );
    // The append-only triggers stop accidents, not someone with the database: get past them
    // first, as an attacker would.
    const EDIT: &str = "UPDATE audit SET detail = 'edited' WHERE seq = 3";
    match f.server.database_url() {
        None => {
            let db =
                rusqlite::Connection::open(f.server.data_dir.join("signet.db")).expect("open db");
            assert!(db.execute(EDIT, []).is_err(), "the trigger refuses edits");
            db.execute_batch("DROP TRIGGER audit_no_update")
                .expect("drop trigger");
            assert_eq!(db.execute(EDIT, []).expect("edit row"), 1);
        }
        Some(url) => {
            assert!(psql(url, EDIT).is_err(), "the trigger refuses edits");
            psql(
                url,
                &format!("ALTER TABLE audit DISABLE TRIGGER USER; {EDIT}"),
            )
            .expect("edit row");
        }
    }
    let bad = f.server.op(&["audit", "verify"]);
    assert!(!bad.status.success(), "verify must fail after an edit");
    assert!(
        (stdout(&bad) + &stderr(&bad)).contains('3'),
        "verify names the bad record"
    );
}

every_backend!(async fn operator_and_machine_keys_do_not_cross);
async fn operator_and_machine_keys_do_not_cross(backend: Backend) {
    let f = Fixture::on(backend);
    let c = client(&f);
    // A machine's signature with its id in X-Operator-Id on an admin route: 401.
    let r = c
        .signed("GET", "/v1/admin/projects")
        .remove_header("x-machine-id")
        .header("x-operator-id", f.machine.clone())
        .build()
        .expect("build")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status, 401);
    // No admin route answers a machine-signed request.
    let r = c
        .signed("GET", "/v1/admin/projects")
        .build()
        .expect("build")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_audit_outage_fails_closed_with_503_and_no_secret() {
    let f = Fixture::new();
    let c = client(&f);
    let path = format!("/v1/secret/{}", f.secret);
    assert_eq!(
        c.signed("GET", &path)
            .build()
            .expect("build")
            .send()
            .await
            .expect("send")
            .status,
        200
    );

    // Another process (a backup tool, say) holds the write lock: the audit record cannot be made
    // durable, so the read must fail with 503 and carry no secret bytes.
    let db = rusqlite::Connection::open(f.server.data_dir.join("signet.db")).expect("open db");
    db.execute_batch("BEGIN EXCLUSIVE").expect("lock");
    let r = c
        .signed("GET", &path)
        .build()
        .expect("build")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(
        r.json::<serde_json::Value>().expect("json")["code"],
        "unavailable"
    );
    assert!(
        !r.text().contains(&f.value),
        "no secret bytes on a failed audit"
    );
    db.execute_batch("ROLLBACK").expect("unlock");
    drop(db);

    // The server recovers by itself.
    let r = c
        .signed("GET", &path)
        .build()
        .expect("build")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status, 200);
    assert!(
        !f.server.log().contains(&f.value),
        "the outage must not log the value"
    );
}
