//! Issue 11, "Trash", through real `signet` processes on each backend: a machine's read of a
//! deleted secret (or of a secret in a deleted project) is the uniform 403, it reads again after a
//! restore, and a purge leaves the 403 for good, with restore refused like any unknown id.

use serde_json::Value;

use crate::harness::{Backend, Fixture, every_backend, stdout};

/// What the machine reads, or `None` if the read fails.
fn read(f: &Fixture) -> Option<String> {
    let out = f.server.machine(&["get", &f.secret]);
    out.status
        .success()
        .then(|| stdout(&out).trim_end().to_owned())
}

fn trash(f: &Fixture) -> Value {
    f.server.op_json(&["trash", "list"])
}

every_backend!(async fn delete_restore_and_purge_through_the_cli);
async fn delete_restore_and_purge_through_the_cli(backend: Backend) {
    let f = Fixture::on(backend);
    let s = &f.server;
    let (secret, project) = (f.secret.as_str(), f.project.as_str());
    assert_eq!(read(&f).as_deref(), Some(f.value.as_str()));

    // A deleted secret: 403 to the machine, in the trash with who and when.
    s.op_json(&["secret", "delete", secret]);
    assert_eq!(read(&f), None);
    let t = trash(&f);
    let items = t["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{t}");
    assert_eq!(items[0]["kind"], "secret");
    assert_eq!(items[0]["id"], secret);
    assert_eq!(items[0]["projectId"], project);
    assert!(!items[0]["deletedBy"].as_str().expect("by").is_empty());
    assert!(!items[0]["deletedByName"].as_str().expect("name").is_empty());
    let at = items[0]["deletedAt"].as_i64().expect("deletedAt");
    assert_eq!(t["retentionDays"], 30);
    assert_eq!(
        items[0]["purgeAfter"].as_i64().expect("purgeAfter"),
        at + 30 * 86_400_000
    );

    // Restored: readable again, same value and version.
    s.op_json(&["trash", "restore", secret]);
    assert_eq!(read(&f).as_deref(), Some(f.value.as_str()));
    assert!(trash(&f)["items"].as_array().expect("items").is_empty());

    // A deleted project hides its secrets; restoring it brings them back.
    s.op_json(&["project", "delete", project]);
    assert_eq!(read(&f), None);
    assert_eq!(trash(&f)["items"][0]["kind"], "project");
    let listed = s.op_json(&["project", "list"]);
    assert!(listed["projects"].as_array().expect("projects").is_empty());
    s.op_json(&["trash", "restore", project]);
    assert_eq!(read(&f).as_deref(), Some(f.value.as_str()));

    // The retention is an admin setting.
    assert_eq!(s.op_json(&["trash", "retention", "7"])["retentionDays"], 7);
    assert!(!s.op(&["trash", "retention", "0"]).status.success());
    assert_eq!(trash(&f)["retentionDays"], 7);

    // Purged: 403 for good, and restore or purge again is the uniform 403.
    s.op_json(&["secret", "delete", secret]);
    s.op_json(&["trash", "purge", secret]);
    assert_eq!(read(&f), None);
    assert!(trash(&f)["items"].as_array().expect("items").is_empty());
    let op = f.operator_client();
    for e in [
        op.trash()
            .restore(secret)
            .await
            .expect_err("restore after purge"),
        op.trash()
            .purge(secret)
            .await
            .expect_err("purge after purge"),
        op.trash()
            .restore("proj_0000000000")
            .await
            .expect_err("unknown"),
    ] {
        assert_eq!(e.status(), Some(403), "{e}");
    }
    assert!(!s.op(&["trash", "restore", secret]).status.success());
    let purges = s.op_json(&["audit", "list", "--action", "trash_purge"]);
    // One purge happened; the refused one is a `denied` record.
    let ok = purges["records"]
        .as_array()
        .expect("records")
        .iter()
        .filter(|r| r["result"] == "ok" && r["target"] == secret)
        .count();
    assert_eq!(ok, 1, "{purges}");
}
