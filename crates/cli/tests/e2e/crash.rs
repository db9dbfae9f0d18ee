use std::collections::HashMap;
use std::sync::Arc;

use serde_json::json;
use signet_client::identity::{self, OperatorIdentity};
use signet_client::{MachineClient, OperatorClient};
use signet_proto::Identity;
use tokio::sync::Mutex;

use crate::harness::AdminJson;
use crate::harness::Fixture;

fn value(name: &str, version: u64) -> String {
    format!("value-of-{name}-at-v{version}-{}", "x".repeat(200))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9() {
    let mut f = Fixture::new();
    let op_ident = {
        let dir = std::fs::read_dir(f.server.operator_home.join("operators"))
            .expect("operators")
            .next()
            .expect("one")
            .expect("entry")
            .path();
        dir.join("identity.json")
    };
    let op = Arc::new(
        OperatorClient::new(identity::load::<OperatorIdentity>(&op_ident).expect("op identity"))
            .expect("op client"),
    );

    // Writers create secrets and then update them as fast as they can; every acknowledged
    // (id, version) is remembered. The server is killed mid-burst.
    let acked: Arc<Mutex<HashMap<String, (String, u64)>>> = Arc::default();
    let mut writers = Vec::new();
    for w in 0..8 {
        let (op, acked, project) = (op.clone(), acked.clone(), f.project.clone());
        writers.push(tokio::spawn(async move {
            for i in 0..1000 {
                let name = format!("burst-{w}-{i}");
                let body = json!({"projectId": project, "name": name, "value": value(&name, 1)});
                let Ok(created) = op
                    .request_json("POST", "/v1/admin/secrets", Some(&body))
                    .await
                else {
                    return;
                };
                let id = created["id"].as_str().expect("id").to_owned();
                acked.lock().await.insert(id.clone(), (name.clone(), 1));
                for v in 2..=3 {
                    let body = json!({"value": value(&name, v)});
                    if op
                        .request_json(
                            "POST",
                            &format!("/v1/admin/secrets/{id}/update"),
                            Some(&body),
                        )
                        .await
                        .is_err()
                    {
                        return;
                    }
                    acked.lock().await.insert(id.clone(), (name.clone(), v));
                }
            }
        }));
    }
    // Kill mid-burst, once the writers have run 1.5 s and at least 20 secrets are acknowledged:
    // on a loaded machine 1.5 s alone may not reach 20 (a fixed sleep made this test flaky).
    let started = std::time::Instant::now();
    loop {
        let n = acked.lock().await.len();
        if n >= 20 && started.elapsed() >= std::time::Duration::from_millis(1500) {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(120),
            "the burst acknowledged only {n} secrets in 120 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    f.server.kill9();
    for w in writers {
        let _ = w.await;
    }
    let acked = acked.lock().await.clone();

    let port = f.server.port;
    f.server.spawn(port, &[]).expect("restart");

    // Grant the machine every secret that exists now, then read them all in one export.
    let listed = op
        .request_json(
            "POST",
            "/v1/admin/secrets/query",
            Some(&json!({"projectId": f.project})),
        )
        .await
        .expect("list");
    let ids: Vec<String> = listed["secrets"]
        .as_array()
        .expect("secrets")
        .iter()
        .map(|s| s["id"].as_str().expect("id").to_owned())
        .collect();
    for chunk in ids.chunks(100) {
        op.request_json(
            "POST",
            &format!("/v1/admin/machines/{}/grant", f.machine),
            Some(&json!({"secretIds": chunk})),
        )
        .await
        .expect("grant");
    }
    let m = MachineClient::new(
        identity::load::<Identity>(&f.server.machine_identity()).expect("identity"),
    )
    .expect("client");
    let exported = m.export(None).await.expect("export after restart");
    let by_id: HashMap<String, String> = exported
        .iter()
        .map(|e| (e.id.to_string(), e.value.expose().to_owned()))
        .collect();

    for (id, (name, version)) in &acked {
        let meta = op
            .request_json("GET", &format!("/v1/admin/secrets/{id}"), None)
            .await
            .unwrap_or_else(|e| panic!("acknowledged {id} lost: {e}"));
        let current = meta["version"].as_u64().expect("version");
        assert!(
            current >= *version,
            "{id}: acknowledged v{version}, found v{current}"
        );
        // The value is whole and belongs to the version the server says is current.
        assert_eq!(
            by_id.get(id),
            Some(&value(name, current)),
            "{id} reads back wrong"
        );
    }
    // Nothing half-written anywhere: every secret that exists decrypts to its current version.
    assert_eq!(exported.len(), ids.len(), "every listed secret exports");
}
