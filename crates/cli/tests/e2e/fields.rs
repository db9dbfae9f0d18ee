//! Issue 9, finding 11: a structured secret's update that starts from its current fields. Each
//! current field is kept (its value never leaves the server), replaced or removed, and new
//! fields are added; names that are not current fields are a 400; the merge is against the
//! version the caller saw, so a concurrent update in between is a 409, never undone.

use serde_json::{Value, json};

use crate::harness::AdminJson;
use crate::harness::{Backend, Fixture, every_backend, stderr, stdout};

/// What the machine reads for one field, or `None` if the read fails.
fn read(f: &Fixture, secret: &str, field: &str) -> Option<String> {
    let out = f.server.machine(&["get", secret, field]);
    out.status
        .success()
        .then(|| stdout(&out).trim_end().to_owned())
}

fn version(f: &Fixture, secret: &str) -> Value {
    f.server.op_json(&["secret", "show", secret])
}

every_backend!(async fn updates_keep_replace_remove_and_add_fields);
async fn updates_keep_replace_remove_and_add_fields(backend: Backend) {
    let f = Fixture::on(backend);
    let s = &f.server;
    let secret = f.structured_secret("db", &["host=db.internal", "user=app", "pass=old-pass"]);

    // Replace one field, keep the other two: they are not retyped and stay intact.
    let v2 = s.op_json(&[
        "secret",
        "update",
        &secret,
        "--field",
        "pass=new-pass",
        "--keep-field",
        "host",
        "--keep-field",
        "user",
    ]);
    assert_eq!(v2["version"], 2);
    assert_eq!(v2["fieldNames"], json!(["host", "pass", "user"]));
    assert_eq!(read(&f, &secret, "pass").as_deref(), Some("new-pass"));
    assert_eq!(read(&f, &secret, "host").as_deref(), Some("db.internal"));
    assert_eq!(read(&f, &secret, "user").as_deref(), Some("app"));

    // Remove one, add one, keep the rest.
    let v3 = s.op_json(&[
        "secret",
        "update",
        &secret,
        "--remove-field",
        "host",
        "--field",
        "port=5432",
        "--keep-field",
        "user",
        "--keep-field",
        "pass",
    ]);
    assert_eq!(v3["version"], 3);
    assert_eq!(v3["fieldNames"], json!(["pass", "port", "user"]));
    assert_eq!(read(&f, &secret, "port").as_deref(), Some("5432"));
    assert_eq!(read(&f, &secret, "pass").as_deref(), Some("new-pass"));
    assert_eq!(read(&f, &secret, "user").as_deref(), Some("app"));
    assert_eq!(read(&f, &secret, "host"), None, "a removed field is gone");

    // Refused with a 400, and nothing written: an unknown name to keep or remove, a current
    // field left unnamed, a field named twice, a merge of a standard secret.
    let op = f.operator_client();
    let path = format!("/v1/admin/secrets/{secret}/update");
    for (body, says) in [
        (
            json!({"baseVersion": 3, "keepFields": ["user", "pass", "port", "nope"]}),
            "not a field of the current version",
        ),
        (
            json!({"baseVersion": 3, "keepFields": ["user"], "removeFields": ["nope"], "fields": {"pass": "x", "port": "1"}}),
            "not a field of the current version",
        ),
        (
            json!({"baseVersion": 3, "keepFields": ["user", "pass"]}),
            "neither kept, replaced nor removed",
        ),
        (
            json!({"baseVersion": 3, "keepFields": ["user", "pass", "port"], "removeFields": ["port"]}),
            "named more than once",
        ),
        (
            json!({"keepFields": ["user", "pass", "port"]}),
            "baseVersion",
        ),
        (
            json!({"baseVersion": 3, "removeFields": ["user", "pass", "port"]}),
            "1-100 fields",
        ),
    ] {
        let e = op
            .request_json("POST", &path, Some(&body))
            .await
            .expect_err("refused");
        assert_eq!(e.status(), Some(400), "{body}: {e}");
        assert!(e.to_string().contains(says), "{body}: {e}");
    }
    let standard = op
        .request_json(
            "POST",
            &format!("/v1/admin/secrets/{}/update", f.secret),
            Some(&json!({"baseVersion": 1, "keepFields": []})),
        )
        .await
        .expect_err("a standard secret has no fields");
    assert_eq!(standard.status(), Some(400), "{standard}");
    let out = s.op(&["secret", "update", &secret, "--keep-field", "nope"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("not a field of the current version"),
        "{}",
        stderr(&out)
    );
    assert_eq!(version(&f, &secret)["version"], 3, "nothing was written");

    // A concurrent update between what the person saw (version 3) and their save: the save is
    // refused with a 409, and the other update is not undone.
    let other = s.op_json(&[
        "secret",
        "update",
        &secret,
        "--field",
        "pass=theirs",
        "--keep-field",
        "user",
        "--keep-field",
        "port",
    ]);
    assert_eq!(other["version"], 4);
    let late = op
        .request_json(
            "POST",
            &path,
            Some(&json!({"baseVersion": 3, "keepFields": ["pass", "port"], "fields": {"user": "mine"}})),
        )
        .await
        .expect_err("conflict");
    assert_eq!(late.status(), Some(409), "{late}");
    let out = s.op(&[
        "secret",
        "update",
        &secret,
        "--base-version",
        "3",
        "--field",
        "user=mine",
        "--keep-field",
        "pass",
        "--keep-field",
        "port",
    ]);
    assert!(!out.status.success(), "the CLI's merge is refused too");
    assert!(stderr(&out).contains("conflict"), "{}", stderr(&out));
    assert_eq!(version(&f, &secret)["version"], 4);
    assert_eq!(read(&f, &secret, "pass").as_deref(), Some("theirs"));
    assert_eq!(read(&f, &secret, "user").as_deref(), Some("app"));
}
