//! Issue 9, finding 5: concurrent updates of one secret are each answered with the version
//! that update created, never with a later one read back after the commit.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::json;
use signet_client::HttpErrorKind;

use crate::harness::AdminJson;
use crate::harness::{Backend, Fixture, every_backend};

const WRITERS: usize = 6;
const EACH: usize = 5;

every_backend!(async fn concurrent_updates_are_told_the_version_they_wrote);
/// Writers race on one secret, each retrying its own update after a 409 until it lands: every
/// answer names a different version, together exactly the versions that exist.
async fn concurrent_updates_are_told_the_version_they_wrote(backend: Backend) {
    let f = Fixture::on(backend);
    let op = Arc::new(f.operator_client());
    let path = format!("/v1/admin/secrets/{}/update", f.secret);
    let tasks: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (op, path) = (Arc::clone(&op), path.clone());
            tokio::spawn(async move {
                let mut told = Vec::new();
                for i in 0..EACH {
                    let body = json!({"value": format!("w{w}-{i}")});
                    loop {
                        match op.request_json("POST", &path, Some(&body)).await {
                            Ok(answer) => {
                                told.push(answer["version"].as_u64().expect("version"));
                                break;
                            }
                            Err(e) if e.http_kind() == Some(HttpErrorKind::Conflict) => {}
                            Err(e) => panic!("update failed: {e}"),
                        }
                    }
                }
                told
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("writer"));
    }
    let distinct: BTreeSet<u64> = all.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        all.len(),
        "two updates were told the same version: {all:?}"
    );
    let total = (WRITERS * EACH) as u64;
    assert_eq!(distinct, (2..=total + 1).collect::<BTreeSet<_>>());
    assert_eq!(
        f.server.op_json(&["secret", "show", &f.secret])["version"],
        total + 1
    );
}
