//! Issue 16, bug 15 and "which fields changed, never values", through a real server: a secret
//! name with whitespace and an empty value are refused by the server itself (400 with a stable
//! code, nothing rewritten or written), and each version records by name which fields its write
//! changed, compared on the server where the values are.

use serde_json::{Value, json};
use signet_client::ErrorCode;

use crate::harness::AdminJson;
use crate::harness::{Backend, Fixture, every_backend, stderr};

/// The names of the live secrets in the fixture's project, sorted.
async fn names(f: &Fixture) -> Vec<String> {
    let answer = f
        .operator_client()
        .request_json(
            "POST",
            "/v1/admin/secrets/query",
            Some(&json!({"projectId": f.project})),
        )
        .await
        .expect("secrets");
    let mut n: Vec<String> = answer["secrets"]
        .as_array()
        .expect("secrets")
        .iter()
        .map(|s| s["name"].as_str().expect("name").to_owned())
        .collect();
    n.sort();
    n
}

every_backend!(async fn names_with_edge_spaces_and_empty_values_are_refused_as_sent);
async fn names_with_edge_spaces_and_empty_values_are_refused_as_sent(backend: Backend) {
    let f = Fixture::on(backend);
    let op = f.operator_client();
    let before = names(&f).await;
    let project = f.project.as_str();
    let canaries = format!("/v1/admin/projects/{project}/canaries");
    for (path, body, code, says) in [
        (
            "/v1/admin/secrets",
            json!({"projectId": project, "name": "db creds ", "value": "x"}),
            ErrorCode::InvalidName,
            "no leading or trailing space",
        ),
        (
            "/v1/admin/secrets",
            json!({"projectId": project, "name": " DB", "value": "x"}),
            ErrorCode::InvalidName,
            "no leading or trailing space",
        ),
        (
            "/v1/admin/secrets",
            json!({"projectId": project, "name": "DB\t", "value": "x"}),
            ErrorCode::InvalidName,
            "no leading or trailing space",
        ),
        (
            "/v1/admin/secrets",
            json!({"projectId": project, "name": "a;b", "value": "x"}),
            ErrorCode::InvalidName,
            "_-./:@+",
        ),
        (
            canaries.as_str(),
            json!({"name": " aws root key"}),
            ErrorCode::InvalidName,
            "no leading or trailing space",
        ),
        (
            "/v1/admin/secrets",
            json!({"projectId": project, "name": "EMPTY", "value": ""}),
            ErrorCode::EmptyValue,
            "`value`",
        ),
        (
            "/v1/admin/secrets",
            json!({"projectId": project, "name": "EMPTY", "fields": {"user": "u", "pass": ""}}),
            ErrorCode::EmptyValue,
            "`pass`",
        ),
    ] {
        let e = op
            .request_json("POST", path, Some(&body))
            .await
            .expect_err("refused");
        assert_eq!(e.status(), Some(400), "{body}: {e}");
        assert_eq!(e.error_code(), Some(code), "{body}: {e}");
        assert!(e.to_string().contains(says), "{body}: {e}");
    }
    assert_eq!(
        names(&f).await,
        before,
        "nothing was created, under any name"
    );

    // The CLI sends the name as typed and shows the server's reason.
    let out = f.server.op(&[
        "secret",
        "create",
        "--project",
        project,
        "--name",
        "db creds ",
        "--value",
        "x",
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no leading or trailing space"),
        "{}",
        stderr(&out)
    );
    assert_eq!(names(&f).await, before);

    // Updates: an empty value, an empty field set, added or merged, are refused; nothing written.
    let secret = f.secret.as_str();
    let structured = f.structured_secret("DB", &["user=app", "pass=pw"]);
    for (id, body) in [
        (secret, json!({"value": ""})),
        (structured.as_str(), json!({"set": {"pass": ""}})),
        (structured.as_str(), json!({"set": {"port": ""}})),
        (
            structured.as_str(),
            json!({"baseVersion": 1, "keepFields": ["user"], "fields": {"pass": ""}}),
        ),
        (
            structured.as_str(),
            json!({"fields": {"user": "app", "pass": ""}}),
        ),
    ] {
        let e = op
            .request_json(
                "POST",
                &format!("/v1/admin/secrets/{id}/update"),
                Some(&body),
            )
            .await
            .expect_err("refused");
        assert_eq!(e.error_code(), Some(ErrorCode::EmptyValue), "{body}: {e}");
    }
    for id in [secret, structured.as_str()] {
        assert_eq!(f.server.op_json(&["secret", "show", id])["version"], 1);
    }
}

/// The `changedFields` of each version of `id`, `null` where none was recorded.
async fn changes(op: &signet_client::OperatorClient, id: &str) -> Vec<Value> {
    let answer = op
        .request_json("GET", &format!("/v1/admin/secrets/{id}/versions"), None)
        .await
        .expect("versions");
    let text = answer.to_string();
    for value in ["pw-1", "pw-2", "app-2", "5432"] {
        assert!(!text.contains(value), "a value in the history: {text}");
    }
    answer["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .map(|v| v.get("changedFields").cloned().unwrap_or(Value::Null))
        .collect()
}

every_backend!(async fn each_version_records_which_fields_changed_never_values);
async fn each_version_records_which_fields_changed_never_values(backend: Backend) {
    let f = Fixture::on(backend);
    let op = f.operator_client();
    let id = f.structured_secret("DB", &["user=app", "pass=pw-1"]);
    let update = format!("/v1/admin/secrets/{id}/update");
    for body in [
        // A partial update: `user` given its own value again is no change; `port` is added.
        json!({"set": {"user": "app", "pass": "pw-2", "port": "5432"}}),
        // A field merge against the version seen: `user` replaced, `port` removed.
        json!({"baseVersion": 2, "keepFields": ["pass"], "removeFields": ["port"], "fields": {"user": "app-2"}}),
        // A whole new value: the same values as the current ones change nothing.
        json!({"fields": {"user": "app-2", "pass": "pw-2"}}),
    ] {
        op.request_json("POST", &update, Some(&body))
            .await
            .expect("update");
    }
    op.request_json(
        "POST",
        &format!("/v1/admin/secrets/{id}/rollback"),
        Some(&json!({"version": 1})),
    )
    .await
    .expect("rollback");
    op.request_json(
        "POST",
        &format!("/v1/admin/secrets/{id}/rotate"),
        Some(&json!({})),
    )
    .await
    .expect("rotate");
    assert_eq!(
        changes(&op, &id).await,
        [
            Value::Null,
            json!(["pass"]),
            json!(["user"]),
            json!([]),
            Value::Null,
            json!(["pass", "user"]),
        ]
    );
    // A standard secret's versions carry no field record.
    f.server
        .op_json(&["secret", "update", &f.secret, "--value", "v2"]);
    assert_eq!(changes(&op, &f.secret).await, [Value::Null, Value::Null]);
}
