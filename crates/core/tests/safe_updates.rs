//! Issue 11, "Safe updates", through core over a real store of each kind: a check-and-set
//! write (update, partial field update, rollback) happens only at the version it expects, and
//! the check is atomic with the write: of writers racing with the same expected version exactly
//! one wins, every other is told the version that won, and nothing else is written or audited.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly by design.

use std::collections::BTreeMap;
use std::sync::Arc;

use signet_core::auth::AuthedOperator;
use signet_core::secret::{FieldPatch, SecretInput};
use signet_core::{CoreError, Signet, SignetConfig, SystemClock};
use signet_crypto::RootKey;
use signet_store::{AuditFilter, Role, Store};
use zeroize::Zeroizing;

/// Writers per race: more than the two cores, so some really overlap in the store.
const RACERS: usize = 8;

struct Vault {
    signet: Signet,
    op: AuthedOperator,
    project: String,
}

async fn vault(store: Arc<dyn Store>) -> Vault {
    let signet = Signet::open(
        store,
        RootKey::generate().unwrap(),
        Arc::new(SystemClock),
        SignetConfig::default(),
    )
    .await
    .expect("open");
    let (rec, _) = signet
        .operators()
        .create_operator("owner", true)
        .await
        .unwrap();
    let op = AuthedOperator::key(rec, Role::Owner, signet_testkit::LOCAL);
    let project = signet
        .secrets()
        .create_project(&op, "app")
        .await
        .unwrap()
        .id
        .to_string();
    Vault {
        signet,
        op,
        project,
    }
}

fn value(s: &str) -> SecretInput {
    SecretInput::Value(Zeroizing::new(s.to_owned()))
}

fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, Zeroizing<String>> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Zeroizing::new((*v).to_owned())))
        .collect()
}

/// Which kind of write a race runs.
#[derive(Clone, Copy, Debug)]
enum Write {
    Update,
    Patch,
    Rollback,
}

impl Vault {
    async fn write(
        &self,
        kind: Write,
        id: &str,
        i: usize,
        expected: u32,
    ) -> Result<u32, CoreError> {
        let s = self.signet.secrets();
        let view = match kind {
            Write::Update => {
                s.update_secret(&self.op, id, value(&format!("racer-{i}")), Some(expected))
                    .await
            }
            Write::Patch => {
                let patch = FieldPatch {
                    set: fields(&[("pass", &format!("racer-{i}"))]),
                    unset: Vec::new(),
                    expected_version: Some(expected),
                };
                s.patch_secret_fields(&self.op, id, patch).await
            }
            Write::Rollback => s.rollback_secret(&self.op, id, 1, Some(expected)).await,
        };
        view.map(|v| v.version)
    }

    /// `RACERS` writers of `kind` expecting `expected` at once: exactly one writes
    /// `expected + 1`, the others are told that version and write nothing.
    async fn race(self: &Arc<Self>, kind: Write, id: &str, expected: u32) {
        let tasks: Vec<_> = (0..RACERS)
            .map(|i| {
                let (vault, id) = (Arc::clone(self), id.to_owned());
                tokio::spawn(async move { vault.write(kind, &id, i, expected).await })
            })
            .collect();
        let mut won = 0;
        for t in tasks {
            match t.await.expect("racer") {
                Ok(v) => {
                    assert_eq!(
                        v,
                        expected + 1,
                        "{kind:?}: the winner wrote the next version"
                    );
                    won += 1;
                }
                Err(e) => assert_eq!(
                    e,
                    CoreError::VersionConflict {
                        current_version: expected + 1
                    },
                    "{kind:?}: a loser is told the version that won"
                ),
            }
        }
        assert_eq!(won, 1, "{kind:?}: exactly one writer wins");
        let versions = self.signet.secrets().versions(&self.op, id).await.unwrap();
        assert_eq!(
            versions.last().map(|v| v.version),
            Some(expected + 1),
            "{kind:?}: no version beyond the winner's"
        );
    }

    /// The `ok` audit records of `action` on `target`.
    async fn ok_records(&self, action: &str, target: &str) -> usize {
        self.signet
            .audit()
            .audit_list(
                &self.op,
                &AuditFilter {
                    action: Some(action.to_owned()),
                    limit: 1000,
                    ..AuditFilter::default()
                },
            )
            .await
            .unwrap()
            .iter()
            .filter(|r| r.target == target && r.result == "ok")
            .count()
    }
}

async fn racing_writers_with_one_expected_version_let_exactly_one_win(store: Arc<dyn Store>) {
    let v = Arc::new(vault(store).await);
    let s = v.signet.secrets();
    let standard = s
        .create_secret(&v.op, &v.project, "TOKEN", value("v1"))
        .await
        .unwrap()
        .id
        .to_string();
    let structured = s
        .create_secret(
            &v.op,
            &v.project,
            "DB",
            SecretInput::Fields(fields(&[("user", "app"), ("pass", "p1")])),
        )
        .await
        .unwrap()
        .id
        .to_string();

    v.race(Write::Update, &standard, 1).await;
    v.race(Write::Rollback, &standard, 2).await;
    v.race(Write::Patch, &structured, 1).await;
    v.race(Write::Patch, &structured, 2).await;

    // One record per version written, none for a refused writer.
    assert_eq!(v.ok_records("secret_update", &standard).await, 1);
    assert_eq!(v.ok_records("secret_rollback", &standard).await, 1);
    assert_eq!(v.ok_records("secret_update", &structured).await, 2);

    // A stale expectation alone (no race) changes nothing either, and says where things are.
    assert_eq!(
        v.write(Write::Update, &standard, 0, 1).await,
        Err(CoreError::VersionConflict { current_version: 3 })
    );
    assert_eq!(
        v.write(Write::Rollback, &standard, 0, 2).await,
        Err(CoreError::VersionConflict { current_version: 3 })
    );
    assert_eq!(
        v.write(Write::Patch, &structured, 0, 99).await,
        Err(CoreError::VersionConflict { current_version: 3 })
    );
    assert_eq!(s.secret_view(&v.op, &standard).await.unwrap().version, 3);
    assert_eq!(s.versions(&v.op, &structured).await.unwrap().len(), 3);
    assert_eq!(v.ok_records("secret_update", &standard).await, 1);
    // The expected version, when right, is no obstacle; without one, writes go on as before.
    assert_eq!(v.write(Write::Update, &standard, 0, 3).await, Ok(4));
    assert_eq!(
        s.update_secret(&v.op, &standard, value("free"), None)
            .await
            .unwrap()
            .version,
        5
    );
}

async fn a_partial_update_keeps_the_fields_it_does_not_name(store: Arc<dyn Store>) {
    let v = vault(store).await;
    let s = v.signet.secrets();
    let id = s
        .create_secret(
            &v.op,
            &v.project,
            "DB",
            SecretInput::Fields(fields(&[("host", "h"), ("user", "app"), ("pass", "p1")])),
        )
        .await
        .unwrap()
        .id
        .to_string();
    let patch = |set: &[(&str, &str)], unset: &[&str]| FieldPatch {
        set: fields(set),
        unset: unset.iter().map(|s| (*s).to_owned()).collect(),
        expected_version: None,
    };
    let v2 = s
        .patch_secret_fields(
            &v.op,
            &id,
            patch(&[("pass", "p2"), ("port", "5432")], &["host"]),
        )
        .await
        .unwrap();
    assert_eq!(v2.version, 2);
    assert_eq!(
        v2.field_names.as_deref(),
        Some(&["pass".to_owned(), "port".to_owned(), "user".to_owned()][..])
    );
    // Refused with a 400, nothing written: an unknown field to unset, one both set and unset,
    // every field removed, nothing to do.
    for (bad, says) in [
        (patch(&[], &["host"]), "not a field of the current version"),
        (patch(&[("user", "x")], &["user"]), "both set and unset"),
        (patch(&[], &["pass", "port", "user"]), "1-100 fields"),
        (patch(&[], &[]), "at least one field"),
    ] {
        match s.patch_secret_fields(&v.op, &id, bad).await {
            Err(CoreError::BadRequest(m)) => assert!(m.contains(says), "{m}"),
            other => panic!("expected a 400 saying {says:?}, got {other:?}"),
        }
    }
    // A standard secret has no fields to patch.
    let standard = s
        .create_secret(&v.op, &v.project, "TOKEN", value("t"))
        .await
        .unwrap()
        .id
        .to_string();
    assert!(matches!(
        s.patch_secret_fields(&v.op, &standard, patch(&[("a", "b")], &[]))
            .await,
        Err(CoreError::BadRequest(_))
    ));
    assert_eq!(s.versions(&v.op, &id).await.unwrap().len(), 2);
    // The audit record names fields, never values.
    let records = v
        .signet
        .audit()
        .audit_list(
            &v.op,
            &AuditFilter {
                action: Some("secret_update".to_owned()),
                limit: 10,
                ..AuditFilter::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(
        records[0].detail,
        "version=2 kept=user replaced=pass removed=host added=port"
    );
    assert!(!records[0].detail.contains("p2"));
}

async fn a_project_is_renamed_and_audited(store: Arc<dyn Store>) {
    let v = vault(store).await;
    let s = v.signet.secrets();
    s.create_project(&v.op, "other").await.unwrap();
    let renamed = s
        .rename_project(&v.op, &v.project, "payments")
        .await
        .unwrap();
    assert_eq!(
        (renamed.id.to_string(), renamed.name.as_str()),
        (v.project.clone(), "payments")
    );
    assert_eq!(
        s.rename_project(&v.op, &v.project, "other")
            .await
            .unwrap_err(),
        CoreError::Conflict(signet_store::Conflict::ProjectName)
    );
    assert!(matches!(
        s.rename_project(&v.op, &v.project, " bad").await,
        Err(CoreError::BadRequest(_))
    ));
    for missing in ["proj_0000000000", "nope"] {
        assert_eq!(
            s.rename_project(&v.op, missing, "x").await.unwrap_err(),
            CoreError::NotFound
        );
    }
    let names: Vec<String> = s
        .projects(&v.op)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names, ["other", "payments"]);
    let records = v
        .signet
        .audit()
        .audit_list(
            &v.op,
            &AuditFilter {
                action: Some("project_rename".to_owned()),
                limit: 10,
                ..AuditFilter::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        records.len(),
        1,
        "only the rename that happened is recorded"
    );
    assert_eq!(records[0].target, v.project);
    assert_eq!(records[0].detail, r#"from="app" to="payments""#);
    assert!(v.signet.audit().audit_verify(&v.op).await.unwrap().ok);
}

signet_testkit::on_both_backends!(
    racing_writers_with_one_expected_version_let_exactly_one_win,
    a_partial_update_keeps_the_fields_it_does_not_name,
    a_project_is_renamed_and_audited,
);
