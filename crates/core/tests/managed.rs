//! Issue 12 §2, managed database passwords, through core over a real store of each kind with a
//! manual clock: only a structured secret of `username` and `password` can be managed; a due
//! schedule makes a rotation pending (never a live version) once, and a pending rotation blocks
//! the next; the agent's sync configuration carries the connection's admin password and the
//! pending value; a confirmation makes it the next version (the schedule starts again from
//! then), a repeat answers the same and writes nothing; a rejection keeps the live value; a
//! granted machine that is not the agent gets the uniform 403.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly by design.

use std::collections::BTreeMap;
use std::sync::Arc;

use signet_api::admin::policy::PolicyRules;
use signet_core::auth::{AuthedMachine, AuthedOperator};
use signet_core::connection::ConnectionInput;
use signet_core::managed::ManagedSpec;
use signet_core::rotation::RotationSpec;
use signet_core::secret::{FieldPatch, SecretInput};
use signet_core::{Clock, Conflict, CoreError, Signet, SignetConfig};
use signet_crypto::RootKey;
use signet_proto::SecretSeed;
use signet_store::{AuditFilter, Role, Store};
use signet_testkit::{ManualClock, granted_machine, signed};
use zeroize::Zeroizing;

struct Vault {
    signet: Signet,
    clock: Arc<ManualClock>,
    op: AuthedOperator,
    machine: String,
    seed: SecretSeed,
    /// A managed secret, granted to the machine, which is its agent.
    managed: String,
    connection: String,
}

fn fields(pairs: &[(&str, &str)]) -> SecretInput {
    SecretInput::Fields(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Zeroizing::new((*v).to_owned())))
            .collect::<BTreeMap<_, _>>(),
    )
}

async fn vault(store: Arc<dyn Store>) -> Vault {
    let clock = Arc::new(ManualClock::default());
    let signet = Signet::open(
        store,
        RootKey::generate().unwrap(),
        clock.clone(),
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
    let m = granted_machine(&signet, &op, "agent", None).await;
    let project = m.project.to_string();
    let connection = signet
        .leases()
        .connections()
        .create(
            &op,
            &project,
            ConnectionInput {
                name: "main".to_owned(),
                host: "db.internal".to_owned(),
                port: 5432,
                database: "app".to_owned(),
                admin_user: "signet_admin".to_owned(),
                admin_password: Some(Zeroizing::new("admin-pw".to_owned())),
                tls_mode: "verify-full".to_owned(),
            },
        )
        .await
        .unwrap()
        .id
        .to_string();
    let s = signet
        .secrets()
        .create_secret(
            &op,
            &project,
            "APP_DB",
            fields(&[("username", "app_user"), ("password", "old")]),
        )
        .await
        .unwrap();
    let managed = s.id.to_string();
    signet
        .machines()
        .set_grants(&op, &m.id, std::slice::from_ref(&managed), true)
        .await
        .unwrap();
    // A plain structured secret with other fields cannot be managed.
    let other = signet
        .secrets()
        .create_secret(
            &op,
            &project,
            "OTHER",
            fields(&[("user", "x"), ("password", "y")]),
        )
        .await
        .unwrap();
    let spec = |agent: Option<String>| ManagedSpec {
        connection_id: connection.clone(),
        agent_machine_id: agent,
        poll_interval_secs: None,
    };
    assert!(matches!(
        signet
            .managed()
            .set(&op, &other.id.to_string(), spec(None))
            .await,
        Err(CoreError::BadRequest(_))
    ));
    assert!(matches!(
        signet
            .managed()
            .set(
                &op,
                &managed,
                ManagedSpec {
                    connection_id: "dbc_0000000000".to_owned(),
                    ..spec(None)
                }
            )
            .await,
        Err(CoreError::BadRequest(_))
    ));
    let view = signet
        .managed()
        .set(&op, &managed, spec(Some(m.id.clone())))
        .await
        .unwrap();
    assert_eq!(view.username, "app_user");
    assert_eq!(view.poll_interval_secs, 10);
    Vault {
        signet,
        clock,
        op,
        machine: m.id,
        seed: m.seed,
        managed,
        connection,
    }
}

impl Vault {
    async fn machine(&self, path: &str) -> AuthedMachine {
        let mut parts = Vec::new();
        self.signet
            .auth()
            .authenticate_machine(&signed(
                &self.seed,
                &self.machine,
                path,
                self.clock.now_ms(),
                &mut parts,
            ))
            .await
            .unwrap()
    }

    async fn version(&self) -> u32 {
        self.signet
            .secrets()
            .secret_view(&self.op, &self.managed)
            .await
            .unwrap()
            .version
    }

    async fn pending(&self) -> Option<String> {
        self.signet
            .managed()
            .show(&self.op, &self.managed)
            .await
            .unwrap()
            .unwrap()
            .pending
            .map(|(id, _)| id)
    }

    async fn records(&self, action: &str) -> usize {
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
            .len()
    }
}

/// The connection's admin role cannot be the managed role: its rotated password would become a
/// value every granted machine reads, and the agent would lock itself out.
async fn the_connections_admin_role_cannot_be_managed(store: Arc<dyn Store>) {
    let v = vault(store).await;
    let project = v
        .signet
        .secrets()
        .secret_view(&v.op, &v.managed)
        .await
        .unwrap()
        .project_id
        .to_string();
    let admin = v
        .signet
        .secrets()
        .create_secret(
            &v.op,
            &project,
            "ADMIN_DB",
            fields(&[("username", "signet_admin"), ("password", "x")]),
        )
        .await
        .unwrap();
    let err = v
        .signet
        .managed()
        .set(
            &v.op,
            &admin.id.to_string(),
            ManagedSpec {
                connection_id: v.connection.clone(),
                agent_machine_id: Some(v.machine.clone()),
                poll_interval_secs: None,
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, CoreError::BadRequest(_)), "{err:?}");
}

/// `sync-config` hands out the pending value, the secret's next value: a policy that keeps the
/// secret's reads to other networks keeps it from the agent too (audited, the uniform 403).
async fn the_secrets_policy_networks_hold_for_sync_config(store: Arc<dyn Store>) {
    let v = vault(store).await;
    let id = v.managed.clone();
    let path = format!("/v1/secret/{id}/sync-config");
    let m = v.machine(&path).await;
    v.signet.managed().sync_config(&m, &id).await.unwrap();
    let project = v
        .signet
        .secrets()
        .secret_view(&v.op, &id)
        .await
        .unwrap()
        .project_id
        .to_string();
    let p = v
        .signet
        .policies()
        .create(
            &v.op,
            &project,
            "elsewhere",
            &PolicyRules {
                cidrs: Some(vec!["10.0.0.0/8".to_owned()]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    v.signet
        .policies()
        .bind(&v.op, &id, Some(p.id.as_str()))
        .await
        .unwrap();
    let m = v.machine(&path).await;
    let err = v.signet.managed().sync_config(&m, &id).await.err();
    assert!(matches!(err, Some(CoreError::Forbidden)), "{err:?}");
}

/// An operator's write to a managed secret keeps its role's username: machines would otherwise
/// read another role's name, and SikkerKey's agent rolls a failed rotation back to the live
/// value (setting *that* role's password). A new password under the same username is fine.
async fn an_operators_write_keeps_the_managed_username(store: Arc<dyn Store>) {
    let v = vault(store).await;
    let secrets = v.signet.secrets();
    for bad in [
        fields(&[("username", "signet_admin"), ("password", "x")]),
        fields(&[("username", "app_user"), ("password", "x"), ("extra", "y")]),
        SecretInput::Value(Zeroizing::new("postgres://x".to_owned())),
    ] {
        let err = secrets
            .update_secret(&v.op, &v.managed, bad, None)
            .await
            .unwrap_err();
        assert!(matches!(err, CoreError::BadRequest(_)), "{err:?}");
    }
    let patch = |k: &str| FieldPatch {
        set: [(k.to_owned(), Zeroizing::new("other".to_owned()))]
            .into_iter()
            .collect(),
        unset: Vec::new(),
        expected_version: None,
    };
    let err = secrets
        .patch_secret_fields(&v.op, &v.managed, patch("username"))
        .await
        .unwrap_err();
    assert!(matches!(err, CoreError::BadRequest(_)), "{err:?}");
    assert_eq!(v.version().await, 1);
    secrets
        .patch_secret_fields(&v.op, &v.managed, patch("password"))
        .await
        .unwrap();
    secrets
        .update_secret(
            &v.op,
            &v.managed,
            fields(&[("username", "app_user"), ("password", "new")]),
            None,
        )
        .await
        .unwrap();
    assert_eq!(v.version().await, 3);
}

async fn a_scheduled_rotation_is_pending_until_the_agent_confirms_it(store: Arc<dyn Store>) {
    let v = vault(store).await;
    let id = v.managed.clone();
    v.signet
        .rotation()
        .set(
            &v.op,
            &id,
            RotationSpec {
                interval_secs: Some(300),
                ..RotationSpec::default()
            },
        )
        .await
        .unwrap();
    v.clock.advance(300_000);
    let tick = v.signet.rotation().rotate_due().await.unwrap();
    assert_eq!(tick.rotated, 1);
    assert_eq!(v.version().await, 1, "pending, not live");
    let rotation = v.pending().await.expect("pending");

    // One at a time: the next due tick and a manual rotation find it pending.
    v.clock.advance(300_000);
    let tick = v.signet.rotation().rotate_due().await.unwrap();
    assert_eq!((tick.rotated, tick.lost), (0, 1));
    assert!(matches!(
        v.signet.rotation().rotate_now(&v.op, &id).await,
        Err(CoreError::Conflict(Conflict::RotationPending))
    ));
    assert_eq!(v.pending().await.as_deref(), Some(rotation.as_str()));

    let path = format!("/v1/secret/{id}/sync-config");
    let m = v.machine(&path).await;
    let cfg = v.signet.managed().sync_config(&m, &id).await.unwrap();
    assert_eq!(cfg.connection.host, "db.internal");
    assert_eq!(cfg.connection.admin_user, "signet_admin");
    assert_eq!(cfg.connection.admin_password.as_str(), "admin-pw");
    assert_eq!(cfg.connection.tls_mode, "verify-full");
    assert_eq!(cfg.managed_username, "app_user");
    assert_eq!(cfg.rotation_status, "pending");
    let (pending_id, value) = cfg.pending.clone().expect("pending value");
    assert_eq!(pending_id, rotation);
    let value: BTreeMap<String, String> = serde_json::from_str(&value).unwrap();
    assert_eq!(value["username"], "app_user");
    assert_eq!(value["password"].len(), 32);
    assert!(value["password"].bytes().all(|b| b.is_ascii_alphanumeric()));

    let m = v
        .machine(&format!("/v1/secret/{id}/agent/confirm-rotation"))
        .await;
    v.signet
        .managed()
        .confirm(&m, &id, &rotation)
        .await
        .unwrap();
    assert_eq!(v.version().await, 2);
    // A retry answers the same and writes nothing.
    v.signet
        .managed()
        .confirm(&m, &id, &rotation)
        .await
        .unwrap();
    assert_eq!(v.version().await, 2);
    assert_eq!(v.records("secret_rotation_confirmed").await, 1);
    assert!(matches!(
        v.signet.managed().reject(&m, &id, &rotation, None).await,
        Err(CoreError::Conflict(Conflict::RotationStale))
    ));
    let shown = v.signet.rotation().show(&v.op, &id).await.unwrap().unwrap();
    assert_eq!(
        shown.next_due_at,
        Some(v.clock.now_ms() + 300_000),
        "the schedule starts again from the confirmation"
    );
    assert_eq!(v.records("secret_rotation_pending").await, 1);
}

async fn only_the_agent_is_answered_and_a_rejection_keeps_the_value(store: Arc<dyn Store>) {
    let v = vault(store).await;
    let id = v.managed.clone();
    v.signet.rotation().rotate_now(&v.op, &id).await.unwrap();
    let rotation = v.pending().await.unwrap();
    let m = v
        .machine(&format!("/v1/secret/{id}/agent/reject-rotation"))
        .await;
    v.signet
        .managed()
        .reject(&m, &id, &rotation, Some("verify failed\n\u{1b}[31m"))
        .await
        .unwrap();
    assert_eq!(v.version().await, 1);
    let shown = v.signet.managed().show(&v.op, &id).await.unwrap().unwrap();
    assert_eq!(shown.pending, None);
    let (last, _, error, _) = shown.last.unwrap();
    assert_eq!(last, rotation);
    assert_eq!(error.as_deref(), Some("verify failed  [31m"));

    // No longer the agent: the uniform 403, for every route; a malformed id too.
    v.signet
        .managed()
        .set(
            &v.op,
            &id,
            ManagedSpec {
                connection_id: v.connection.clone(),
                agent_machine_id: None,
                poll_interval_secs: Some(30),
            },
        )
        .await
        .unwrap();
    let m = v.machine(&format!("/v1/secret/{id}/sync-config")).await;
    assert!(matches!(
        v.signet.managed().sync_config(&m, &id).await,
        Err(CoreError::Forbidden)
    ));
    assert!(matches!(
        v.signet.managed().heartbeat(&m, &id, "healthy", None).await,
        Err(CoreError::Forbidden)
    ));
    assert!(matches!(
        v.signet.managed().sync_config(&m, "sk_bad!").await,
        Err(CoreError::Forbidden)
    ));
    assert!(matches!(
        v.signet.managed().heartbeat(&m, &id, "fine", None).await,
        Err(CoreError::BadRequest(_))
    ));
}

signet_testkit::on_both_backends!(
    a_scheduled_rotation_is_pending_until_the_agent_confirms_it,
    only_the_agent_is_answered_and_a_rejection_keeps_the_value,
    the_connections_admin_role_cannot_be_managed,
    the_secrets_policy_networks_hold_for_sync_config,
    an_operators_write_keeps_the_managed_username,
);
