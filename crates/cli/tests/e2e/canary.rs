//! Issue 11 §5, canary secrets, through real `signet` processes on each backend: a canary made
//! with `signet project canary` reads like any secret (200, its generated value), and the very
//! next machine request into its project (`get`, `list`, `export`) is refused as frozen (423
//! `project_frozen`) until `signet project unfreeze`; a critical `canary_triggered` record names
//! the machine, its address and the canary; nobody writes a canary's value by hand.

use serde_json::Value;
use signet_client::ErrorCode;

use crate::harness::AdminJson;
use crate::harness::{Backend, Fixture, every_backend, stderr, stdout};

/// The machine's `signet get`: its value, or its error line.
fn get(f: &Fixture, secret: &str) -> Result<String, String> {
    let out = f.server.machine(&["get", secret]);
    if out.status.success() {
        Ok(stdout(&out).trim_end().to_owned())
    } else {
        Err(stderr(&out))
    }
}

fn records(f: &Fixture, action: &str) -> Vec<Value> {
    f.server
        .op_json(&["audit", "list", "--action", action, "--limit", "1000"])["records"]
        .as_array()
        .expect("records")
        .clone()
}

every_backend!(async fn a_canary_read_answers_then_freezes_the_project_until_unfrozen);
async fn a_canary_read_answers_then_freezes_the_project_until_unfrozen(backend: Backend) {
    let f = Fixture::on(backend);
    let s = &f.server;
    let created = s.op_json(&[
        "project",
        "canary",
        &f.project,
        "AWS_ROOT_KEY",
        "--charset",
        "alphanumeric",
        "--length",
        "40",
    ]);
    let canary = created["id"].as_str().expect("id").to_owned();
    assert_eq!(created["canary"], true);
    s.op_json(&["machine", "grant", &f.machine, "--secret", &canary]);
    assert_eq!(s.op_json(&["secret", "show", &canary])["canary"], true);

    // To the machine it is one more secret: listed the same way, with no canary flag.
    let listed = s.machine(&["--json", "list"]);
    assert!(listed.status.success(), "{}", stderr(&listed));
    let listed = stdout(&listed);
    assert!(
        listed.contains(&canary) && !listed.contains("canary"),
        "{listed}"
    );
    assert_eq!(get(&f, &f.secret).as_deref(), Ok(f.value.as_str()));

    // The canary read answers with its value ...
    let value = get(&f, &canary).expect("the canary read answers");
    assert_eq!(value.len(), 40);
    assert!(value.chars().all(|c| c.is_ascii_alphanumeric()), "{value}");

    // ... and the very next request into the project, of any kind, is refused as frozen.
    let refused = get(&f, &f.secret).expect_err("frozen");
    assert!(refused.contains("frozen"), "{refused}");
    for args in [
        &["list"][..],
        &["export", "--format", "json"],
        &["get", &canary],
    ] {
        let out = s.machine(args);
        assert!(!out.status.success(), "{args:?} served in a frozen project");
        assert!(
            stderr(&out).contains("frozen"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    // On the wire: 423 with the `project_frozen` code, the same body every time.
    let op = f.operator_client();
    let projects = op.projects().list().await.expect("projects");
    assert!(projects.projects[0].frozen_at.is_some());

    // One critical record: machine, address, canary, project.
    let triggered = records(&f, "canary_triggered");
    assert_eq!(triggered.len(), 1, "{triggered:?}");
    let t = &triggered[0];
    assert_eq!(t["actorId"], f.machine.as_str(), "{t}");
    assert_eq!(t["target"], canary.as_str(), "{t}");
    assert_eq!(t["sourceIp"], "127.0.0.1", "{t}");
    let detail = t["detail"].as_str().expect("detail");
    assert!(
        detail.contains(&f.project) && detail.contains("severity=critical"),
        "{t}"
    );

    // Nobody writes a canary's value by hand: 409 `conflict` naming the rule, nothing written.
    let e = op
        .request_json(
            "POST",
            &format!("/v1/admin/secrets/{canary}/update"),
            Some(&serde_json::json!({"value": "known"})),
        )
        .await
        .expect_err("a canary update");
    assert_eq!(e.status(), Some(409), "{e}");
    assert_eq!(e.error_code(), Some(ErrorCode::Conflict), "{e}");
    assert!(e.to_string().contains("canary"), "{e}");
    let out = s.op(&["secret", "rollback", &canary, "--version", "1"]);
    assert!(
        !out.status.success() && stderr(&out).contains("canary"),
        "{}",
        stderr(&out)
    );
    assert_eq!(s.op_json(&["secret", "show", &canary])["version"], 1);

    // An operator key unfreezes (it needs no step-up: the key came from a full sign-in), and
    // the next request is served again.
    let unfrozen = s.op_json(&["project", "unfreeze", &f.project]);
    assert_eq!(unfrozen["frozenAt"], Value::Null);
    assert_eq!(get(&f, &f.secret).as_deref(), Ok(f.value.as_str()));
    assert_eq!(records(&f, "project_unfreeze").len(), 1);
    assert_eq!(s.op_json(&["audit", "verify"])["ok"], true);
    assert!(
        !s.log().contains(&value),
        "the canary's value reached the server log"
    );
}
