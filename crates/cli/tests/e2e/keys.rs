//! Root key rotation online (issue 15 §2): `signet key rotate-root` while signed reads and
//! secret writes run against every replica; every version reads back identical through each
//! replica after the rotation, after retiring the old generation, and after restarting; and no
//! row of the database is wrapped under the retired generation.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Value, json};
use signet_client::identity::{self, Credentials, OperatorIdentity};
use signet_client::{MachineClient, OperatorClient};
use signet_proto::Identity;

use crate::harness::{AdminJson, Backend, Fixture, TestServer, stderr};
use crate::replicas::Replicas;

/// Re-wraps one project key per `rotate-root` call (`signet_core::keyring`'s fault point).
const ONE_PER_CALL: (&str, &str) = ("FAILPOINTS", "root_rewrap_one_per_call=return");

/// Projects seeded, secrets per project, versions per secret.
const PROJECTS: usize = 4;
const SECRETS: usize = 3;
const VERSIONS: usize = 3;

/// The fixture operator's SDK client, aimed at the server at `url`.
pub(crate) fn op_at(f: &Fixture, url: &str) -> OperatorClient {
    let path = std::fs::read_dir(f.server.operator_home.join("operators"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
        .join("identity.json");
    let (mut ident, seed, key_path) = identity::load::<OperatorIdentity>(&path)
        .unwrap()
        .into_parts();
    ident.api_url = url.to_owned();
    OperatorClient::new(Credentials::new(ident, seed, key_path)).unwrap()
}

/// The fixture machine's client, aimed at the server at `url`.
pub(crate) fn machine_at(f: &Fixture, url: &str) -> MachineClient {
    let creds = identity::load::<Identity>(&f.server.machine_identity()).unwrap();
    let (mut ident, seed, path) = creds.into_parts();
    ident.api_url = url.to_owned();
    MachineClient::new(Credentials::new(ident, seed, path)).unwrap()
}

pub(crate) async fn read(c: &MachineClient, secret: &str) -> Result<String, String> {
    let r = c
        .signed("GET", &format!("/v1/secret/{secret}"))
        .build()
        .unwrap()
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let body = String::from_utf8_lossy(&r.body).into_owned();
    if r.status != 200 {
        return Err(format!("{}: {body}", r.status));
    }
    let v: Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
    Ok(v["value"].as_str().unwrap_or_default().to_owned())
}

/// A project with `SECRETS` secrets of `VERSIONS` versions each, attached and granted to the
/// fixture machine: `(secret id, value of each version)`.
pub(crate) async fn seed_project(
    op: &OperatorClient,
    machine: &str,
    name: &str,
) -> Vec<(String, Vec<String>)> {
    let p = op
        .request_json("POST", "/v1/admin/projects", Some(&json!({ "name": name })))
        .await
        .unwrap();
    let project = p["id"].as_str().unwrap().to_owned();
    op.request_json(
        "POST",
        &format!("/v1/admin/machines/{machine}/attach"),
        Some(&json!({ "projectId": project })),
    )
    .await
    .unwrap();
    let mut out = Vec::new();
    for s in 0..SECRETS {
        let values: Vec<String> = (1..=VERSIONS)
            .map(|v| format!("{name}/s{s}/v{v}#"))
            .collect();
        let created = op
            .request_json(
                "POST",
                "/v1/admin/secrets",
                Some(&json!({ "projectId": project, "name": format!("S{s}"), "value": values[0] })),
            )
            .await
            .unwrap();
        let id = created["id"].as_str().unwrap().to_owned();
        for v in &values[1..] {
            op.request_json(
                "POST",
                &format!("/v1/admin/secrets/{id}/update"),
                Some(&json!({ "value": v })),
            )
            .await
            .unwrap();
        }
        op.request_json(
            "POST",
            &format!("/v1/admin/machines/{machine}/grant"),
            Some(&json!({ "secretIds": [id] })),
        )
        .await
        .unwrap();
        out.push((id, values));
    }
    out
}

/// Every version of every secret, read through every replica: each version is made current
/// again by a rollback (which serves the old version's own ciphertext and data key), then read.
async fn check_every_version(
    op: &OperatorClient,
    readers: &[MachineClient],
    secrets: &[(String, Vec<String>)],
    when: &str,
) {
    for (id, values) in secrets {
        for (i, want) in values.iter().enumerate() {
            op.request_json(
                "POST",
                &format!("/v1/admin/secrets/{id}/rollback"),
                Some(&json!({ "version": i + 1 })),
            )
            .await
            .unwrap_or_else(|e| panic!("{when}: rollback {id} to {}: {e}", i + 1));
            for (r, c) in readers.iter().enumerate() {
                let got = read(c, id).await;
                assert_eq!(
                    got.as_deref(),
                    Ok(want.as_str()),
                    "{when}: {id} version {} through replica {r}",
                    i + 1
                );
            }
        }
    }
}

/// What the load loop saw: values written (per secret) and failures.
#[derive(Default)]
pub(crate) struct Load {
    pub(crate) written: Vec<(String, String)>,
    pub(crate) failures: Vec<String>,
    pub(crate) reads: usize,
}

/// Reads the fixture secret through every replica and writes it through each in turn, until
/// `stop`; every read must succeed with a value written before or during the loop.
pub(crate) async fn run_load(
    ops: Vec<OperatorClient>,
    readers: Vec<MachineClient>,
    secret: String,
    first: String,
    stop: Arc<AtomicBool>,
) -> Load {
    let mut load = Load::default();
    let mut known = vec![first];
    let mut i = 0usize;
    while !stop.load(Ordering::SeqCst) {
        for (r, c) in readers.iter().enumerate() {
            match read(c, &secret).await {
                Ok(v) if known.contains(&v) => load.reads += 1,
                Ok(v) => load
                    .failures
                    .push(format!("replica {r} read an unknown value {v}")),
                Err(e) => load.failures.push(format!("replica {r} read: {e}")),
            }
        }
        let value = format!("during-rotation-{i}#");
        let op = &ops[i % ops.len()];
        match op
            .request_json(
                "POST",
                &format!("/v1/admin/secrets/{secret}/update"),
                Some(&json!({ "value": value })),
            )
            .await
        {
            Ok(_) => {
                known.push(value.clone());
                load.written.push((secret.clone(), value));
            }
            Err(e) => load.failures.push(format!("write {i}: {e}")),
        }
        i += 1;
    }
    load
}

/// Runs the CLI as the operator against the fixture's server (A), off the runtime's threads.
pub(crate) async fn op_json(f: &Fixture, args: &[&str]) -> Value {
    let home = f.server.operator_home.clone();
    let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let mut all = vec!["--json".to_owned()];
        all.extend(args.iter().cloned());
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        let out = crate::harness::run(&home, &refs);
        assert!(out.status.success(), "signet {args:?}: {}", stderr(&out));
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    })
    .await
    .unwrap()
}

/// The rotation scenario over `servers` (one, or two replicas of one database); `count` runs
/// a `SELECT count(*)` against the database itself.
async fn rotate_under_load(
    f: &mut Fixture,
    b: Option<&mut TestServer>,
    count: &dyn Fn(&str) -> u64,
) {
    let mut urls = vec![f.server.url.clone()];
    if let Some(b) = &b {
        urls.push(b.url.clone());
    }
    let ops: Vec<OperatorClient> = urls.iter().map(|u| op_at(f, u)).collect();
    let readers: Vec<MachineClient> = urls.iter().map(|u| machine_at(f, u)).collect();

    let mut secrets = Vec::new();
    for p in 0..PROJECTS {
        secrets.extend(seed_project(&ops[p % ops.len()], &f.machine, &format!("proj{p}")).await);
    }
    // Before: every version reads through every replica.
    check_every_version(&ops[0], &readers, &secrets, "before").await;

    let status = op_json(f, &["key", "status"]).await;
    assert_eq!(
        status["generations"].as_array().unwrap().len(),
        1,
        "{status}"
    );

    // The load: reads through every replica and writes through each in turn.
    let stop = Arc::new(AtomicBool::new(false));
    let load = tokio::spawn(run_load(
        urls.iter().map(|u| op_at(f, u)).collect(),
        urls.iter().map(|u| machine_at(f, u)).collect(),
        f.secret.clone(),
        f.value.clone(),
        stop.clone(),
    ));
    // New projects sealed during the rotation, through each replica.
    let mut during = Vec::new();
    let rotation = {
        let home = f.server.operator_home.clone();
        tokio::task::spawn_blocking(move || {
            crate::harness::run(&home, &["--json", "key", "rotate-root"])
        })
    };
    for (i, op) in ops.iter().enumerate() {
        during.extend(seed_project(op, &f.machine, &format!("during{i}")).await);
    }
    let out = rotation.await.unwrap();
    assert!(out.status.success(), "rotate-root: {}", stderr(&out));
    // One progress line per call: the rotation took several while the load ran.
    let calls = stderr(&out)
        .lines()
        .filter(|l| l.contains("re-wrapped"))
        .count();
    assert!(calls > PROJECTS, "{calls} calls: {}", stderr(&out));
    let rotated: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rotated["generation"], 1, "{rotated}");
    assert_eq!(rotated["remaining"], 0, "{rotated}");
    assert_eq!(rotated["more"], false, "{rotated}");
    stop.store(true, Ordering::SeqCst);
    let load = load.await.unwrap();
    assert!(load.failures.is_empty(), "under load: {:?}", load.failures);
    assert!(load.reads > 0 && !load.written.is_empty());

    secrets.extend(during);
    check_every_version(&ops[ops.len() - 1], &readers, &secrets, "after rotation").await;

    // Generation 0 wraps nothing now; it is retired through the last replica.
    let status = op_json(f, &["key", "status"]).await;
    let gens = status["generations"].as_array().unwrap();
    assert_eq!(gens.len(), 2, "{status}");
    assert_eq!(gens[0]["projectKeys"], 0, "{status}");
    assert_eq!(gens[1]["current"], true, "{status}");
    // The current generation cannot be retired: the stable code, and nothing changes.
    match ops[0]
        .request_json(
            "POST",
            "/v1/admin/keys/root/retire",
            Some(&json!({ "generation": 1 })),
        )
        .await
    {
        Err(signet_client::ClientError::Http {
            status: 409,
            code: Some(code),
            message,
            ..
        }) => {
            assert_eq!(code, "key_generation_in_use");
            assert!(message.contains("root_generation_current"), "{message}");
        }
        other => panic!("retiring the current generation: {other:?}"),
    }
    ops[ops.len() - 1]
        .request_json(
            "POST",
            "/v1/admin/keys/root/retire",
            Some(&json!({ "generation": 0 })),
        )
        .await
        .unwrap();
    check_every_version(&ops[0], &readers, &secrets, "after retiring generation 0").await;

    // Restarted, every replica reads everything again.
    f.server.restart();
    if let Some(b) = b {
        b.restart();
    }
    check_every_version(&ops[0], &readers, &secrets, "after restarts").await;
    let (_, last) = load.written.last().unwrap();
    for c in &readers {
        // The fixture secret's newest value, written during the rotation, reads back.
        assert_eq!(read(c, &f.secret).await.as_deref(), Ok(last.as_str()));
    }

    // Nothing in the database is wrapped under the retired generation, and its key is gone.
    assert_eq!(
        count("SELECT count(*) FROM projects WHERE root_generation = 0"),
        0
    );
    assert_eq!(
        count("SELECT count(*) FROM root_keys WHERE generation = 0"),
        0
    );
    assert_eq!(count("SELECT count(*) FROM root_keys"), 1);
    assert_eq!(
        count("SELECT count(*) FROM projects WHERE root_generation = 1"),
        u64::try_from(PROJECTS + ops.len() + 1).unwrap()
    );
    let audit = op_json(f, &["audit", "list", "--action", "root_key_rotate"]).await;
    let records = audit["records"].as_array().unwrap();
    assert_eq!(records.len(), 1, "{audit}");
    assert_eq!(records[0]["detail"], "from=0 to=1");
    let audit = op_json(f, &["audit", "list", "--action", "root_key_retire"]).await;
    assert_eq!(audit["records"][0]["detail"], "generation=0", "{audit}");
    assert_eq!(op_json(f, &["audit", "verify"]).await["ok"], true);
}

/// PostgreSQL: two replicas of one database, the rotation run against A.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_key_rotation_under_load_across_two_replicas() {
    // One project per call, so the rotation spans many calls while the load runs.
    let mut r = Replicas::start_with_env(&[ONE_PER_CALL], &[]);
    let count = crate::harness::postgres_count(r.db.url().to_owned());
    rotate_under_load(&mut r.a, Some(&mut r.b), &count).await;
}

/// SQLite: the same on one process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_key_rotation_under_load_on_sqlite() {
    let mut server = TestServer::unstarted_on(Backend::Sqlite);
    server.env = vec![(ONE_PER_CALL.0.to_owned(), ONE_PER_CALL.1.to_owned())];
    server.spawn(0, &[]).unwrap();
    let mut f = Fixture::with_server(server);
    let count = crate::harness::sqlite_count(f.server.data_dir.join("signet.db"));
    rotate_under_load(&mut f, None, &count).await;
}
