//! Issue 11, "Access policies", through real `signet` processes over HTTP: the CLI's policy
//! commands and binding, a window that refuses now (uniform 403, audited with its axis), the
//! in-use rule, and a per-minute cap that racing signed readers cannot pass.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use signet_client::MachineClient;
use signet_client::identity;
use signet_proto::Identity;

use crate::harness::{Backend, Fixture, every_backend, stderr, stdout};

const READERS: usize = 20;
const CAP: usize = 5;

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

/// A UTC window of one hour starting two hours from now: it cannot include the current time.
fn window_excluding_now() -> String {
    let minute_of_day = (now_secs() / 60) % 1440;
    let start = (minute_of_day + 120) % 1440;
    let end = (start + 60) % 1440;
    format!(
        "{:02}:{:02}-{:02}:{:02}",
        start / 60,
        start % 60,
        end / 60,
        end % 60
    )
}

/// The reasons of the denied `secret_read` records.
fn denials(f: &Fixture) -> Vec<String> {
    f.server.op_json(&[
        "audit",
        "list",
        "--action",
        "secret_read",
        "--result",
        "denied",
        "--limit",
        "1000",
    ])["records"]
        .as_array()
        .expect("records")
        .iter()
        .map(|r| r["detail"].as_str().expect("detail").to_owned())
        .collect()
}

every_backend!(async fn a_window_policy_refuses_now_and_is_in_use_while_bound);
async fn a_window_policy_refuses_now_and_is_in_use_while_bound(backend: Backend) {
    let f = Fixture::on(backend);
    let s = &f.server;
    let read = || s.machine(&["get", &f.secret]);
    assert!(read().status.success(), "{}", stderr(&read()));

    let window = window_excluding_now();
    let created = s.op_json(&[
        "policy",
        "create",
        "--project",
        &f.project,
        "--name",
        "office-hours",
        "--window",
        &window,
        "--tz",
        "UTC",
        "--days",
        "mon-sun",
    ]);
    let pid = created["id"].as_str().expect("policy id").to_owned();
    assert_eq!(created["rules"]["window"]["timeZone"], "UTC");
    let listed = s.op_json(&["policy", "list", "--project", &f.project]);
    assert_eq!(listed["policies"][0]["id"], pid.as_str());
    assert_eq!(listed["policies"][0]["boundSecrets"], 0);

    let bound = s.op_json(&["secret", "policy", &f.secret, "--policy", &pid]);
    assert_eq!(bound["policyId"], pid.as_str());
    let refused = read();
    assert!(!refused.status.success());
    assert!(!stdout(&refused).contains(&f.value));
    assert_eq!(denials(&f), ["policy_window"]);

    // Bound: the delete is a 409 naming the rule, and the policy stays.
    let out = s.op(&["policy", "delete", "--project", &f.project, &pid]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("policy_in_use"), "{}", stderr(&out));
    let shown = s.op_json(&["policy", "show", "--project", &f.project, &pid]);
    assert_eq!(shown["boundSecrets"], 1);

    // Unbound, the secret reads again and the policy can go.
    s.op_json(&["secret", "policy", &f.secret, "--none"]);
    assert!(read().status.success());
    s.op_json(&["policy", "delete", "--project", &f.project, &pid]);
    let listed = s.op_json(&["policy", "list", "--project", &f.project]);
    assert_eq!(listed["policies"], Value::Array(Vec::new()));
}

every_backend!(async fn racing_signed_readers_get_exactly_the_cap);
async fn racing_signed_readers_get_exactly_the_cap(backend: Backend) {
    let f = Fixture::on(backend);
    let s = &f.server;
    let pid = s.op_json(&[
        "policy",
        "create",
        "--project",
        &f.project,
        "--name",
        "cap",
        "--per-minute",
        &CAP.to_string(),
    ])["id"]
        .as_str()
        .expect("policy id")
        .to_owned();
    s.op_json(&["secret", "policy", &f.secret, "--policy", &pid]);

    // The minute windows are fixed: start the race well inside one.
    if now_secs() % 60 > 50 {
        tokio::time::sleep(Duration::from_secs(11)).await;
    }
    let path = format!("/v1/secret/{}", f.secret);
    let creds = identity::load::<Identity>(&s.machine_identity()).expect("identity");
    let client = std::sync::Arc::new(MachineClient::new(creds).expect("client"));
    let tasks: Vec<_> = (0..READERS)
        .map(|_| {
            let (c, path) = (std::sync::Arc::clone(&client), path.clone());
            tokio::spawn(async move {
                let r = c
                    .signed("GET", &path)
                    .build()
                    .expect("build")
                    .send()
                    .await
                    .expect("send");
                (r.status, r.body.clone())
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        let (status, body) = t.await.expect("reader");
        if status == 403 {
            let v: Value = serde_json::from_slice(&body).expect("403 JSON");
            assert_eq!(v["code"], "access_denied");
        }
        statuses.push(status);
    }
    assert_eq!(statuses.iter().filter(|&&c| c == 200).count(), CAP);
    assert_eq!(
        statuses.iter().filter(|&&c| c == 403).count(),
        READERS - CAP
    );
    let d = denials(&f);
    assert_eq!(d.len(), READERS - CAP);
    assert!(d.iter().all(|r| r == "policy_rate_minute"), "{d:?}");
}
