//! Two `signet server` replicas on one PostgreSQL database (issue 4, acceptance 1 and 2).
//!
//! Each test gets a fresh, real database (kept if the test fails) and two real server processes
//! that share it and one root key, started at the same moment so that both race for the
//! migration lock.

use std::sync::Arc;

use serde_json::Value;
use signet_client::identity::{self, Credentials, OperatorIdentity};
use signet_client::{MachineClient, OperatorClient, PreparedRequest};
use signet_proto::Identity;

use crate::harness::AdminJson;
use crate::harness::{Fixture, PgDatabase, TestServer, shared_config, stderr};

/// A database, a shared root key and config, and two replicas.
pub struct Replicas {
    /// Replica A; the fixture's operator and machine enrolled through it.
    pub a: Fixture,
    /// Replica B.
    pub b: TestServer,
    // Dropped last, so the database outlives both processes; kept if the test failed.
    _dir: tempfile::TempDir,
    pub db: PgDatabase,
}

impl Replicas {
    /// A fresh database, two replicas started at once, and the fixture (project, secret,
    /// approved and granted machine) set up through A.
    pub fn start() -> Self {
        Self::start_with_b_env(&[])
    }

    /// The same, with extra environment for B's process (fault points, say).
    pub fn start_with_b_env(b_env: &[(&str, &str)]) -> Self {
        Self::start_with_env(&[], b_env)
    }

    /// The same, with extra environment for each process.
    pub fn start_with_env(a_env: &[(&str, &str)], b_env: &[(&str, &str)]) -> Self {
        let db = PgDatabase::create();
        let dir = tempfile::tempdir().unwrap();
        let config = shared_config(dir.path(), db.url());
        let (a, b) = std::thread::scope(|s| {
            let a = s.spawn(|| {
                TestServer::try_start_with_config_env(&config, a_env).expect("server starts")
            });
            let b = s.spawn(|| {
                TestServer::try_start_with_config_env(&config, b_env).expect("server starts")
            });
            (a.join().unwrap(), b.join().unwrap())
        });
        let a = Fixture::with_server(a);
        Self {
            a,
            b,
            _dir: dir,
            db,
        }
    }

    /// The fixture machine's credentials, aimed at `server` (a signature does not cover the
    /// host, so one identity works against every replica).
    pub fn machine_at(&self, server: &TestServer) -> MachineClient {
        let creds =
            identity::load::<Identity>(&self.a.server.machine_identity()).expect("identity");
        let (mut ident, seed, path) = creds.into_parts();
        ident.api_url = server.url.clone();
        MachineClient::new(Credentials::new(ident, seed, path)).expect("client")
    }

    /// Runs the CLI as the operator against replica B rather than A: a copy of the operator's
    /// home whose identity names B's URL.
    pub fn op_b(&self, args: &[&str]) -> Value {
        let home = self.a.server.root.path().join("operator-home-b");
        if !home.exists() {
            let cp = std::process::Command::new("cp")
                .arg("-a")
                .arg(&self.a.server.operator_home)
                .arg(&home)
                .status()
                .unwrap();
            assert!(cp.success());
            for vault in std::fs::read_dir(home.join("operators")).unwrap() {
                let path = vault.unwrap().path().join("identity.json");
                let mut ident: Value =
                    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
                ident["apiUrl"] = Value::from(self.b.url.clone());
                std::fs::write(&path, serde_json::to_vec(&ident).unwrap()).unwrap();
            }
        }
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = crate::harness::run(&home, &all);
        assert!(
            out.status.success(),
            "signet {args:?} on B: {}",
            stderr(&out)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

async fn read(c: &MachineClient, secret: &str) -> (u16, String) {
    let r = c
        .signed("GET", &format!("/v1/secret/{secret}"))
        .build()
        .unwrap()
        .send()
        .await
        .unwrap();
    (r.status, String::from_utf8_lossy(&r.body).into_owned())
}

/// Sends `req` to another base URL, header for header and byte for byte.
async fn send_to(req: &PreparedRequest, base: &str) -> u16 {
    let mut r = reqwest::Client::new().request(
        reqwest::Method::from_bytes(req.method.as_bytes()).unwrap(),
        format!("{base}{}", req.path),
    );
    for (n, v) in &req.headers {
        r = r.header(n.as_str(), v.as_str());
    }
    r.send().await.unwrap().status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_writes_nonces_revocations_and_policy() {
    let r = Replicas::start();
    let f = &r.a;
    let on_a = r.machine_at(&f.server);
    let on_b = r.machine_at(&r.b);

    // Written through A, read through B.
    let (status, body) = read(&on_b, &f.secret).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(&f.value));
    f.server
        .op_json(&["secret", "update", &f.secret, "--value", "rotated-on-A"]);
    let (status, body) = read(&on_b, &f.secret).await;
    assert_eq!((status, body.contains("rotated-on-A")), (200, true));

    // Replayed across replicas, either way: 401.
    for (first, second) in [(&on_a, &r.b.url), (&on_b, &f.server.url)] {
        let req = first
            .signed("GET", &format!("/v1/secret/{}", f.secret))
            .build()
            .unwrap();
        assert_eq!(req.send().await.unwrap().status, 200);
        assert_eq!(send_to(&req, second).await, 401, "replay to {second}");
    }

    // The allowlist changed through A holds on B at the very next request, both ways.
    f.server.op_json(&["ip-allowlist", "add", "10.0.0.0/8"]);
    f.server.op_json(&["ip-allowlist", "enable"]);
    assert_eq!(read(&on_b, &f.secret).await.0, 403);
    f.server.op_json(&["ip-allowlist", "add", "127.0.0.0/8"]);
    assert_eq!(read(&on_b, &f.secret).await.0, 200);
    f.server.op_json(&["ip-allowlist", "disable"]);
    assert_eq!(read(&on_b, &f.secret).await.0, 200);

    // A grant removed through A: 403 on B at the next request; a revoked machine: 401.
    f.server
        .op_json(&["machine", "ungrant", &f.machine, "--secret", &f.secret]);
    assert_eq!(read(&on_b, &f.secret).await.0, 403);
    f.server
        .op_json(&["machine", "grant", &f.machine, "--secret", &f.secret]);
    assert_eq!(read(&on_b, &f.secret).await.0, 200);
    f.server.op_json(&["machine", "revoke", &f.machine]);
    assert_eq!(read(&on_b, &f.secret).await.0, 401);
    assert_eq!(read(&on_a, &f.secret).await.0, 401);

    // A third replica given another root key refuses to start, and writes nothing.
    let other = tempfile::tempdir().unwrap();
    let wrong = shared_config(other.path(), r.db.url());
    let log = TestServer::try_start_with_config(&wrong)
        .err()
        .expect("a replica with another root key must not start");
    assert!(log.contains("root key"), "{log}");
    assert_eq!(read(&on_a, &f.secret).await.0, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_reads_on_both_replicas_keep_one_audit_chain() {
    const READS: usize = 1000;
    const TASKS: usize = 16;
    let r = Replicas::start();
    let f = &r.a;
    let clients = [
        Arc::new(r.machine_at(&f.server)),
        Arc::new(r.machine_at(&r.b)),
    ];
    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..TASKS {
        let c = Arc::clone(&clients[t % 2]);
        let secret = f.secret.clone();
        tasks.spawn(async move {
            let mut ok = 0;
            for _ in 0..READS / TASKS + usize::from(t < READS % TASKS) {
                let (status, body) = read(&c, &secret).await;
                assert_eq!(status, 200, "{body}");
                ok += 1;
            }
            ok
        });
    }
    let done: usize = tasks.join_all().await.into_iter().sum();
    assert_eq!(done, READS);

    // Exactly one `secret_read ok` record per read, none lost and none doubled.
    let page = f.server.op_json(&[
        "audit",
        "list",
        "--action",
        "secret_read",
        "--result",
        "ok",
        "--limit",
        "1000",
    ]);
    let records = page["records"].as_array().unwrap();
    assert_eq!(records.len(), READS);
    let oldest = records
        .iter()
        .filter_map(|r| r["seq"].as_u64())
        .min()
        .unwrap();
    let older = r.op_b(&[
        "audit",
        "list",
        "--action",
        "secret_read",
        "--result",
        "ok",
        "--before",
        &oldest.to_string(),
    ]);
    assert_eq!(older["records"].as_array().unwrap().len(), 0);
    let machines = records
        .iter()
        .filter(|r| r["actorId"] == f.machine.as_str())
        .count();
    assert_eq!(machines, READS);

    // One chain, verified by either replica.
    for verify in [
        f.server.op_json(&["audit", "verify"]),
        r.op_b(&["audit", "verify"]),
    ] {
        assert_eq!(verify["ok"], true, "{verify}");
    }
}

/// Issue 9, finding 3: B's change feed drops every notification (`change_feed_drop`), and still
/// each allowlist flip made through A binds B at the very next request, 50 times over: the
/// policy stamp B reads with the machine, not the feed, carries the change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_flip_on_a_binds_b_at_once_with_its_feed_dropped() {
    // Test builds carry the fault points (signet-cli's dev-dependencies), so B's feed is dead.
    let r = Replicas::start_with_b_env(&[("FAILPOINTS", "change_feed_drop=return")]);
    let f = &r.a;
    let op_ident = std::fs::read_dir(f.server.operator_home.join("operators"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
        .join("identity.json");
    let op = OperatorClient::new(identity::load::<OperatorIdentity>(&op_ident).unwrap()).unwrap();
    let on_b = r.machine_at(&r.b);
    assert_eq!(read(&on_b, &f.secret).await.0, 200);
    for i in 0..50 {
        op.request_json("POST", "/v1/admin/ip-allowlist/enable", None)
            .await
            .unwrap();
        let (status, body) = read(&on_b, &f.secret).await;
        assert_eq!(
            status, 403,
            "flip {i}: B served after A enabled the allowlist: {body}"
        );
        assert!(!body.contains(&f.value));
        op.request_json("POST", "/v1/admin/ip-allowlist/disable", None)
            .await
            .unwrap();
        let (status, body) = read(&on_b, &f.secret).await;
        assert_eq!(
            status, 200,
            "flip {i}: B refused after A disabled it: {body}"
        );
    }
}
