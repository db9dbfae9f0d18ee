//! Issue 11, "Safe updates", through real `signet` processes: check-and-set writes (`--cas`,
//! `expectedVersion`) that change nothing at another version and say which one is current;
//! partial updates of a structured secret (`--set`, `--unset`) that keep every field not named;
//! and project rename.

use serde_json::{Value, json};
use signet_client::{ErrorCode, ProjectId};

use crate::harness::AdminJson;
use crate::harness::{Backend, Fixture, every_backend, stderr, stdout};

/// What the machine reads (one field, or the whole value), or `None` if the read fails.
fn read(f: &Fixture, secret: &str, field: Option<&str>) -> Option<String> {
    let mut args = vec!["get", secret];
    args.extend(field);
    let out = f.server.machine(&args);
    out.status
        .success()
        .then(|| stdout(&out).trim_end().to_owned())
}

fn version(f: &Fixture, secret: &str) -> Value {
    f.server.op_json(&["secret", "show", secret])["version"].clone()
}

/// The `ok` audit records of `action` on `target`.
fn ok_records(f: &Fixture, action: &str, target: &str) -> usize {
    f.server
        .op_json(&["audit", "list", "--action", action, "--limit", "1000"])["records"]
        .as_array()
        .expect("records")
        .iter()
        .filter(|r| r["target"] == target && r["result"] == "ok")
        .count()
}

/// Runs a CLI command that must fail, and returns its stderr.
fn refused(f: &Fixture, args: &[&str]) -> String {
    let out = f.server.op(args);
    assert!(
        !out.status.success(),
        "{args:?} succeeded: {}",
        stdout(&out)
    );
    stderr(&out)
}

every_backend!(async fn check_and_set_writes_only_at_the_expected_version);
async fn check_and_set_writes_only_at_the_expected_version(backend: Backend) {
    let f = Fixture::on(backend);
    let s = &f.server;
    let secret = f.secret.as_str();

    // The expected version is the current one: written.
    let v2 = s.op_json(&["secret", "update", secret, "--cas", "1", "--value", "v2"]);
    assert_eq!(v2["version"], 2);
    assert_eq!(read(&f, secret, None).as_deref(), Some("v2"));

    // A stale one: refused, nothing written, and the message names the current version.
    let says = refused(
        &f,
        &["secret", "update", secret, "--cas", "1", "--value", "stale"],
    );
    assert!(says.contains("version 2"), "{says}");
    assert_eq!(version(&f, secret), 2);
    assert_eq!(read(&f, secret, None).as_deref(), Some("v2"));
    let says = refused(
        &f,
        &["secret", "rollback", secret, "--version", "1", "--cas", "1"],
    );
    assert!(says.contains("version 2"), "{says}");
    assert_eq!(version(&f, secret), 2);

    // On the wire: 409 `version_conflict` with `currentVersion`, for each form of write.
    let op = f.operator_client();
    let update = format!("/v1/admin/secrets/{secret}/update");
    let rollback = format!("/v1/admin/secrets/{secret}/rollback");
    for (path, body) in [
        (&update, json!({"value": "stale", "expectedVersion": 1})),
        (&rollback, json!({"version": 1, "expectedVersion": 3})),
    ] {
        let e = op
            .request_json("POST", path, Some(&body))
            .await
            .expect_err("a stale expectation");
        assert_eq!(e.status(), Some(409), "{body}: {e}");
        assert_eq!(e.error_code(), Some(ErrorCode::VersionConflict), "{body}");
        assert_eq!(e.current_version(), Some(2), "{body}");
    }
    // Any other error carries no current version (here a field merge's stale base).
    let structured = s.op_json(&[
        "secret",
        "create",
        "--project",
        &f.project,
        "--name",
        "db",
        "--field",
        "a=1",
    ])["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let e = op
        .request_json(
            "POST",
            &format!("/v1/admin/secrets/{structured}/update"),
            Some(&json!({"baseVersion": 7, "keepFields": ["a"]})),
        )
        .await
        .expect_err("stale base");
    assert_eq!(e.error_code(), Some(ErrorCode::Conflict), "{e}");
    assert_eq!(e.current_version(), None);
    // A merge with `--cas` is refused the same way when the version moved on.
    let says = refused(
        &f,
        &[
            "secret",
            "update",
            &structured,
            "--cas",
            "2",
            "--keep-field",
            "a",
            "--field",
            "b=2",
        ],
    );
    assert!(says.contains("version 1"), "{says}");
    assert_eq!(version(&f, &structured), 1);

    // Rollback at the right version, then nothing but the two writes is in the log.
    let v3 = s.op_json(&["secret", "rollback", secret, "--version", "1", "--cas", "2"]);
    assert_eq!(v3["version"], 3);
    assert_eq!(read(&f, secret, None).as_deref(), Some(f.value.as_str()));
    assert_eq!(ok_records(&f, "secret_update", secret), 1);
    assert_eq!(ok_records(&f, "secret_rollback", secret), 1);
    // Without --cas, writes go on as before.
    assert_eq!(
        s.op_json(&["secret", "update", secret, "--value", "v4"])["version"],
        4
    );
    assert_eq!(s.op_json(&["audit", "verify"])["ok"], true);
}

every_backend!(async fn set_and_unset_keep_every_field_not_named);
async fn set_and_unset_keep_every_field_not_named(backend: Backend) {
    let f = Fixture::on(backend);
    let s = &f.server;
    let secret = f.structured_secret("db", &["host=db.internal", "user=app", "pass=old-pass"]);

    // Set one, add one, remove one, in one version; `user` is not named and stays.
    let out = s.op(&[
        "--json",
        "secret",
        "update",
        &secret,
        "--set",
        "pass=new-pass",
        "--set",
        "port=5432",
        "--unset",
        "host",
        "--cas",
        "1",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let answer = stdout(&out);
    assert!(
        !answer.contains("new-pass"),
        "a value in an answer: {answer}"
    );
    let v2: Value = serde_json::from_str(&answer).expect("json");
    assert_eq!(v2["version"], 2);
    assert_eq!(v2["fieldNames"], json!(["pass", "port", "user"]));
    assert_eq!(read(&f, &secret, Some("user")).as_deref(), Some("app"));
    assert_eq!(read(&f, &secret, Some("pass")).as_deref(), Some("new-pass"));
    assert_eq!(read(&f, &secret, Some("port")).as_deref(), Some("5432"));
    assert_eq!(
        read(&f, &secret, Some("host")),
        None,
        "an unset field is gone"
    );

    // Only --set: everything else kept.
    let v3 = s.op_json(&["secret", "update", &secret, "--set", "user=svc"]);
    assert_eq!(v3["version"], 3);
    assert_eq!(read(&f, &secret, Some("user")).as_deref(), Some("svc"));
    assert_eq!(read(&f, &secret, Some("pass")).as_deref(), Some("new-pass"));

    // Refused, nothing written: a field both set and unset, an unknown field, every field
    // removed, a stale --cas, and --set beside a whole value.
    for (args, says) in [
        (
            vec!["--set", "user=x", "--unset", "user"],
            "both set and unset",
        ),
        (
            vec!["--unset", "nope"],
            "not a field of the current version",
        ),
        (
            vec!["--unset", "pass", "--unset", "port", "--unset", "user"],
            "1-100 fields",
        ),
        (vec!["--set", "pass=x", "--cas", "2"], "version 3"),
        (
            vec!["--set", "pass=x", "--value", "whole"],
            "cannot be used with",
        ),
        (
            vec!["--unset", "pass", "--keep-field", "user"],
            "cannot be used with",
        ),
    ] {
        let mut cmd = vec!["secret", "update", secret.as_str()];
        cmd.extend(&args);
        let said = refused(&f, &cmd);
        assert!(said.contains(says), "{args:?}: {said}");
    }
    assert_eq!(version(&f, &secret), 3);
    assert_eq!(read(&f, &secret, Some("pass")).as_deref(), Some("new-pass"));

    // On the wire: 400 for the same mistakes, and for set/unset mixed with another form.
    let op = f.operator_client();
    let path = format!("/v1/admin/secrets/{secret}/update");
    for body in [
        json!({"unset": ["nope"]}),
        json!({"set": {"user": "x"}, "unset": ["user"]}),
        json!({"unset": ["pass", "port", "user"]}),
        json!({"set": {"a": "1"}, "keepFields": ["user"]}),
        json!({"set": {"a": "1"}, "value": "whole"}),
        json!({"set": {}, "unset": []}),
    ] {
        let e = op
            .request_json("POST", &path, Some(&body))
            .await
            .expect_err("refused");
        assert_eq!(e.status(), Some(400), "{body}: {e}");
    }
    // A standard secret has no fields to set.
    let e = op
        .request_json(
            "POST",
            &format!("/v1/admin/secrets/{}/update", f.secret),
            Some(&json!({"set": {"a": "1"}})),
        )
        .await
        .expect_err("standard");
    assert_eq!(e.status(), Some(400), "{e}");
    assert_eq!(version(&f, &secret), 3);

    // The audit record names fields, never values.
    let records = s.op_json(&[
        "audit",
        "list",
        "--action",
        "secret_update",
        "--limit",
        "10",
    ]);
    let details: Vec<&str> = records["records"]
        .as_array()
        .expect("records")
        .iter()
        .filter(|r| r["target"] == secret.as_str())
        .map(|r| r["detail"].as_str().expect("detail"))
        .collect();
    assert_eq!(
        details,
        [
            "version=3 kept=pass,port replaced=user removed= added=",
            "version=2 kept=user replaced=pass removed=host added=port",
        ]
    );
    assert!(!s.log().contains("new-pass"), "a value in the server log");
}

every_backend!(async fn a_project_is_renamed);
async fn a_project_is_renamed(backend: Backend) {
    let f = Fixture::on(backend);
    let s = &f.server;
    // By name, then by id.
    let renamed = s.op_json(&["project", "rename", "payments", "billing"]);
    assert_eq!(renamed["id"], f.project.as_str());
    assert_eq!(renamed["name"], "billing");
    let renamed = s.op_json(&["project", "rename", &f.project, "billing-v2"]);
    assert_eq!(renamed["name"], "billing-v2");
    let names: Vec<Value> = s.op_json(&["project", "list"])["projects"]
        .as_array()
        .expect("projects")
        .iter()
        .map(|p| p["name"].clone())
        .collect();
    assert_eq!(names, [json!("billing-v2")]);

    // Another project's name: 409 `conflict`, nothing changed.
    s.op_json(&["project", "create", "other"]);
    let says = refused(&f, &["project", "rename", "billing-v2", "other"]);
    assert!(says.contains("conflict"), "{says}");
    let op = f.operator_client();
    let id = ProjectId::parse(&f.project).expect("project id");
    let e = op.projects().rename(&id, "other").await.expect_err("taken");
    assert_eq!(
        (e.status(), e.error_code()),
        (Some(409), Some(ErrorCode::Conflict))
    );
    let e = op
        .projects()
        .rename(&id, " spaced")
        .await
        .expect_err("bad name");
    assert_eq!(e.status(), Some(400), "{e}");
    let e = op
        .projects()
        .rename(&ProjectId::parse("proj_0000000000").expect("id"), "x")
        .await
        .expect_err("missing");
    assert_eq!(e.status(), Some(404), "{e}");
    assert_eq!(op.projects().list().await.expect("list").projects.len(), 2);

    // The project keeps its secrets and machines: the machine still reads.
    assert_eq!(read(&f, &f.secret, None).as_deref(), Some(f.value.as_str()));
    let out = s.op(&["secret", "list", "--project", "billing-v2"]);
    assert!(stdout(&out).contains("DATABASE_URL"), "{}", stderr(&out));
    assert_eq!(ok_records(&f, "project_rename", &f.project), 2);
    assert_eq!(s.op_json(&["audit", "verify"])["ok"], true);
}
