//! Roles: the permission table, the "grant at or below your own role" rule, the role resolved at
//! authentication, and every mutating operator method refusing (and auditing) a role without
//! the permission while changing nothing. Manual clock, real SQLite store.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly by design.

use signet_core::account::{NewUser, Password};
use signet_core::auth::AuthedOperator;
use signet_core::enrollment::EnrollmentSpec;
use signet_core::role::{Permission, allows, may_grant};
use signet_core::rotation::RotationSpec;
use signet_core::secret::SecretInput;
use signet_core::share::NewShare;
use signet_core::{Conflict, CoreError};
use signet_crypto::generator::{Charset, Generator};
use signet_proto::{OperatorId, SecretSeed};
use signet_store::{AuditFilter, Role};
use zeroize::Zeroizing;

const ROLES: [Role; 4] = [Role::Viewer, Role::Developer, Role::Admin, Role::Owner];

signet_testkit::world_with! {
    /// The shared world with the headless owner key acting.
    struct World {
        owner: AuthedOperator,
    }
}

async fn world() -> World {
    let kit = signet_testkit::World::sqlite().await;
    let owner = kit.owner_operator().await;
    World { kit, owner }
}

impl World {
    /// A user with `role` and a CLI key of theirs, as `signet login` would leave them.
    async fn user_key(&self, name: &str, role: Role) -> (SecretSeed, OperatorId) {
        let k = self.kit.user_key(name, role, None).await;
        (k.seed, k.key)
    }

    async fn authed(&self, seed: &SecretSeed, id: &OperatorId) -> AuthedOperator {
        self.authenticate_key(seed, id)
            .await
            .expect("authenticates")
    }

    fn as_role(&self, role: Role) -> AuthedOperator {
        AuthedOperator {
            role,
            ..self.owner.clone()
        }
    }
}

fn new_user(name: &str, role: Role) -> NewUser<'_> {
    NewUser {
        username: name,
        email: "someone@example.test",
        password: Password::new("correct horse battery staple"),
        role,
        projects: None,
    }
}

fn value(s: &str) -> SecretInput {
    SecretInput::Value(Zeroizing::new(s.to_owned()))
}

/// The documented table, written out in full so a change to it is a deliberate test change.
#[test]
fn the_permission_table() {
    use Permission::*;
    let expected: [(Permission, [bool; 4]); 9] = [
        //                  viewer developer admin owner
        (Read, [true, true, true, true]),
        (WriteSecrets, [false, true, true, true]),
        (ManageProjects, [false, false, true, true]),
        (ManageTokens, [false, false, true, true]),
        (ManageMachines, [false, false, true, true]),
        (ManageAllowlist, [false, false, true, true]),
        (ManageVault, [false, false, true, true]),
        (ManageUsers, [false, false, true, true]),
        (ManageOwners, [false, false, false, true]),
    ];
    assert_eq!(expected.len(), Permission::ALL.len());
    for (perm, row) in expected {
        for (role, want) in ROLES.into_iter().zip(row) {
            assert_eq!(allows(role, perm), want, "{role:?} {perm:?}");
        }
    }
}

#[test]
fn a_role_is_granted_only_at_or_below_ones_own() {
    for granter in ROLES {
        for granted in ROLES {
            let want = match granter {
                Role::Owner => true,
                Role::Admin => granted != Role::Owner,
                Role::Developer | Role::Viewer => false,
            };
            assert_eq!(
                may_grant(granter, granted),
                want,
                "{granter:?} -> {granted:?}"
            );
        }
    }
}

#[tokio::test]
async fn the_role_is_resolved_at_authentication() {
    let w = world().await;
    // The headless key has no user: it is the owner.
    let headless = w
        .signet
        .operators()
        .create_operator("headless", true)
        .await
        .expect("op");
    assert!(headless.0.user_id.is_none());
    let op = w.authed(&headless.1, &headless.0.id).await;
    assert_eq!(op.role, Role::Owner);
    for (name, role) in [
        ("viewer", Role::Viewer),
        ("developer", Role::Developer),
        ("admin", Role::Admin),
    ] {
        let (seed, id) = w.user_key(name, role).await;
        assert_eq!(w.authed(&seed, &id).await.role, role);
    }
}

#[tokio::test]
async fn a_viewer_changes_nothing_and_every_refusal_is_audited() {
    let w = world().await;
    let (seed, id) = w.user_key("viewer", Role::Viewer).await;
    let viewer = w.authed(&seed, &id).await;
    assert_eq!(viewer.role, Role::Viewer);

    let project = w
        .signet
        .secrets()
        .create_project(&w.owner, "app")
        .await
        .expect("p");
    let pid = project.id.to_string();
    let secret = w
        .signet
        .secrets()
        .create_secret(&w.owner, &pid, "DB", value("one"))
        .await
        .expect("s");
    let sid = secret.id.to_string();
    // Any well-formed or not id: the role check comes before the lookup, so it never matters.
    let mid = "00000000-0000-4000-8000-000000000000";
    let s = &w.signet;
    let v = &viewer;
    let spec = EnrollmentSpec {
        name: None,
        project_ids: vec![pid.clone()],
        secret_ids: Vec::new(),
        max_uses: Some(1),
        ttl_secs: None,
        machine_ttl_secs: None,
        source_cidr: None,
        hostname_pattern: None,
    };
    let secrets = vec![sid.clone()];
    let cidrs = vec!["10.0.0.0/8".to_owned()];
    let tokenless = s.vault().vault_view().await.unwrap().tokenless_enrollment;

    let refusals: Vec<(&str, Result<(), CoreError>)> = vec![
        (
            "create_project",
            s.secrets().create_project(v, "x").await.map(drop),
        ),
        (
            "rename_project",
            s.secrets().rename_project(v, &pid, "x").await.map(drop),
        ),
        (
            "create_canary",
            s.secrets()
                .create_canary(
                    v,
                    &pid,
                    "X",
                    Generator::new(None, Charset::Symbols).unwrap(),
                )
                .await
                .map(drop),
        ),
        (
            "unfreeze_project",
            s.secrets().unfreeze_project(v, &pid).await.map(drop),
        ),
        (
            "rotate_project_key",
            signet_core::root_rotation::Keys::of(s)
                .rotate_project_key(v, &pid)
                .await
                .map(drop),
        ),
        (
            "create_secret",
            s.secrets()
                .create_secret(v, &pid, "X", value("v"))
                .await
                .map(drop),
        ),
        (
            "update_secret",
            s.secrets()
                .update_secret(v, &sid, value("two"), None)
                .await
                .map(drop),
        ),
        (
            "rollback_secret",
            s.secrets()
                .rollback_secret(v, &sid, 1, None)
                .await
                .map(drop),
        ),
        ("delete_secret", s.secrets().delete_secret(v, &sid).await),
        ("delete_project", s.trash().delete_project(v, &pid).await),
        ("trash_restore", s.trash().restore(v, &sid).await.map(drop)),
        ("trash_purge", s.trash().purge(v, &sid).await.map(drop)),
        (
            "trash_retention",
            s.trash().set_retention_days(v, 7).await.map(drop),
        ),
        (
            "create_policy",
            s.policies()
                .create(v, &pid, "x", &Default::default())
                .await
                .map(drop),
        ),
        (
            "update_policy",
            s.policies()
                .update(v, &pid, "pol_0123456789", None, &Default::default())
                .await
                .map(drop),
        ),
        (
            "delete_policy",
            s.policies().delete(v, &pid, "pol_0123456789").await,
        ),
        (
            "bind_policy",
            s.policies().bind(v, &sid, None).await.map(drop),
        ),
        (
            "rotate_secret",
            s.rotation().rotate_now(v, &sid).await.map(drop),
        ),
        (
            "set_rotation",
            s.rotation()
                .set(v, &sid, RotationSpec::default())
                .await
                .map(drop),
        ),
        ("clear_rotation", s.rotation().clear(v, &sid).await),
        (
            "pause_rotation",
            s.rotation().set_paused(v, &sid, true).await.map(drop),
        ),
        (
            "resume_rotation",
            s.rotation().set_paused(v, &sid, false).await.map(drop),
        ),
        (
            "issue_bootstrap_token",
            s.enrollment().issue_bootstrap_token(v).await.map(drop),
        ),
        (
            "issue_enrollment_token",
            s.enrollment()
                .issue_enrollment_token(v, &spec)
                .await
                .map(drop),
        ),
        (
            "revoke_enrollment_token",
            s.enrollment()
                .revoke_enrollment_token(v, mid)
                .await
                .map(drop),
        ),
        (
            "approve_machine",
            s.machines().approve_machine(v, mid, None).await.map(drop),
        ),
        (
            "deny_machine",
            s.machines().deny_machine(v, mid).await.map(drop),
        ),
        (
            "enable_machine",
            s.machines()
                .set_machine_enabled(v, mid, true)
                .await
                .map(drop),
        ),
        (
            "disable_machine",
            s.machines()
                .set_machine_enabled(v, mid, false)
                .await
                .map(drop),
        ),
        (
            "revoke_machine",
            s.machines().revoke_machine(v, mid).await.map(drop),
        ),
        (
            "attach",
            s.machines()
                .set_membership(v, mid, &pid, true)
                .await
                .map(drop),
        ),
        (
            "detach",
            s.machines()
                .set_membership(v, mid, &pid, false)
                .await
                .map(drop),
        ),
        (
            "grant",
            s.machines()
                .set_grants(v, mid, &secrets, true)
                .await
                .map(drop),
        ),
        (
            "ungrant",
            s.machines()
                .set_grants(v, mid, &secrets, false)
                .await
                .map(drop),
        ),
        (
            "cidrs",
            s.machines()
                .set_machine_cidrs(v, mid, &cidrs)
                .await
                .map(drop),
        ),
        (
            "allowlist_add",
            s.network()
                .allowlist_add(v, "10.0.0.0/8", "x")
                .await
                .map(drop),
        ),
        (
            "allowlist_remove",
            s.network().allowlist_remove(v, mid).await,
        ),
        (
            "allowlist_enable",
            s.network().allowlist_set_enabled(v, true).await.map(drop),
        ),
        (
            "allowlist_disable",
            s.network().allowlist_set_enabled(v, false).await.map(drop),
        ),
        (
            "vault_settings",
            s.vault()
                .set_tokenless_enrollment(v, !tokenless)
                .await
                .map(drop),
        ),
        (
            "enrollment_proof_setting",
            s.vault()
                .set_enrollment_proof_required(v, true)
                .await
                .map(drop),
        ),
        (
            "vault_request_budget",
            s.budgets()
                .set_request_budget(v, None, Some(5))
                .await
                .map(drop),
        ),
        (
            "machine_request_budget",
            s.budgets()
                .set_request_budget(v, Some(mid), Some(5))
                .await
                .map(drop),
        ),
        (
            "create_user",
            s.accounts()
                .create_user(v, new_user("eve", Role::Viewer))
                .await
                .map(drop),
        ),
        ("list_users", s.accounts().users(v).await.map(drop)),
        (
            "create_share",
            s.shares()
                .create_share(
                    v,
                    NewShare {
                        value: Zeroizing::new("v".to_owned()),
                        passphrase: Password::new("long enough passphrase"),
                        ttl_secs: 600,
                    },
                )
                .await
                .map(drop),
        ),
        (
            "revoke_share",
            s.shares().revoke_share(v, "shr_0000000000000000").await,
        ),
        (
            "create_webhook",
            s.webhooks()
                .create(v, "w", "https://hooks.example.com/x", true)
                .await
                .map(drop),
        ),
        (
            "update_webhook",
            s.webhooks()
                .update(v, "wh_000000000000", Default::default())
                .await
                .map(drop),
        ),
        (
            "delete_webhook",
            s.webhooks().delete(v, "wh_000000000000").await.map(drop),
        ),
        (
            "test_webhook",
            s.webhooks().test(v, "wh_000000000000").await.map(drop),
        ),
        (
            "create_alert_rule",
            s.alerts()
                .create(
                    v,
                    signet_core::alert::NewRule {
                        name: "r".to_owned(),
                        severity: "info".to_owned(),
                        actions: Some(vec!["canary_triggered".to_owned()]),
                        result: None,
                        burst: None,
                        webhooks: vec!["wh_000000000000".to_owned()],
                    },
                )
                .await
                .map(drop),
        ),
        (
            "delete_alert_rule",
            s.alerts().delete(v, "alr_000000000000").await.map(drop),
        ),
        (
            "set_managed",
            s.managed()
                .set(
                    v,
                    "sk_0000000000",
                    signet_core::managed::ManagedSpec {
                        connection_id: "dbc_0000000000".to_owned(),
                        agent_machine_id: None,
                        poll_interval_secs: None,
                    },
                )
                .await
                .map(drop),
        ),
        (
            "audit archive",
            s.audit()
                .archive_now(
                    v,
                    Some(&signet_core::audit::ArchiveSettings {
                        dir: std::env::temp_dir().join("signet-roles-archive-never-written"),
                        segment_records: 1,
                        call_budget: std::time::Duration::from_secs(5),
                    }),
                )
                .await
                .map(drop),
        ),
        (
            "issuer create",
            s.enrollment()
                .issuers()
                .create(
                    v,
                    signet_core::issuer::NewIssuer {
                        name: "ci".into(),
                        issuer: "https://ci.example".into(),
                        audience: "signet".into(),
                        ..Default::default()
                    },
                )
                .await
                .map(drop),
        ),
        (
            "issuer update",
            s.enrollment()
                .issuers()
                .update(v, "iss_000000000000", Default::default())
                .await
                .map(drop),
        ),
        (
            "issuer delete",
            s.enrollment()
                .issuers()
                .delete(v, "iss_000000000000")
                .await
                .map(drop),
        ),
        (
            "issuer rule add",
            s.enrollment()
                .issuers()
                .add_rule(v, "iss_000000000000", Default::default())
                .await
                .map(drop),
        ),
        (
            "issuer rule delete",
            s.enrollment()
                .issuers()
                .delete_rule(v, "iss_000000000000", "isr_000000000000")
                .await
                .map(drop),
        ),
    ];
    for (what, r) in &refusals {
        assert_eq!(r, &Err(CoreError::Forbidden), "{what}");
    }

    // Nothing changed.
    let o = &w.owner;
    let projects = s.secrets().projects(o).await.unwrap();
    assert_eq!(projects.len(), 1);
    assert_eq!(projects[0].name, "app");
    let now = s.secrets().secret_view(o, &sid).await.unwrap();
    assert_eq!(now.version, 1);
    assert_eq!(s.secrets().versions(o, &sid).await.unwrap().len(), 1);
    assert!(
        s.enrollment()
            .enrollment_tokens(o)
            .await
            .unwrap()
            .is_empty()
    );
    let al = s.network().allowlist().await.unwrap();
    assert!(!al.enabled && al.entries.is_empty());
    assert_eq!(
        s.vault().vault_view().await.unwrap().tokenless_enrollment,
        tokenless
    );

    // Every refusal is in the audit log as a denial by this operator.
    let denied = s
        .audit()
        .audit_list(
            &w.owner,
            &AuditFilter {
                before_seq: None,
                actor_id: Some(viewer.id.to_string()),
                action: None,
                result: None,
                limit: 1000,
                ..AuditFilter::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(denied.len(), refusals.len());
    assert!(denied.iter().all(|r| r.result == "denied"
        && r.detail.starts_with("role=viewer needs=")
        && r.target.is_empty()));

    // Reads still work, and audit verify is a read.
    assert!(s.audit().audit_verify(v).await.is_ok());
}

#[tokio::test]
async fn a_developer_writes_secrets_but_manages_nothing_else() {
    let w = world().await;
    let dev = w.as_role(Role::Developer);
    let pid = w
        .signet
        .secrets()
        .create_project(&w.owner, "app")
        .await
        .unwrap()
        .id
        .to_string();
    let s = &w.signet;
    let sec = s
        .secrets()
        .create_secret(&dev, &pid, "DB", value("one"))
        .await
        .expect("developer creates");
    let sid = sec.id.to_string();
    assert_eq!(
        s.secrets()
            .update_secret(&dev, &sid, value("two"), None)
            .await
            .unwrap()
            .version,
        2
    );
    s.rotation()
        .set(&dev, &sid, RotationSpec::default())
        .await
        .expect("developer sets rotation");
    assert_eq!(
        s.rotation().rotate_now(&dev, &sid).await.unwrap().version,
        3,
        "developer rotates"
    );
    assert_eq!(
        s.secrets()
            .rollback_secret(&dev, &sid, 1, None)
            .await
            .unwrap()
            .version,
        4
    );
    s.secrets()
        .delete_secret(&dev, &sid)
        .await
        .expect("developer deletes");

    assert_eq!(
        s.secrets().create_project(&dev, "other").await.unwrap_err(),
        CoreError::Forbidden
    );
    assert_eq!(
        s.secrets()
            .rename_project(&dev, &pid, "other")
            .await
            .unwrap_err(),
        CoreError::Forbidden
    );
    assert_eq!(
        s.enrollment()
            .issue_bootstrap_token(&dev)
            .await
            .unwrap_err(),
        CoreError::Forbidden
    );
    assert_eq!(
        s.machines()
            .approve_machine(&dev, "00000000-0000-4000-8000-000000000000", None)
            .await
            .unwrap_err(),
        CoreError::Forbidden
    );
}

#[tokio::test]
async fn an_admin_manages_the_vault() {
    let w = world().await;
    let admin = w.as_role(Role::Admin);
    let s = &w.signet;
    let p = s
        .secrets()
        .create_project(&admin, "app")
        .await
        .expect("project");
    s.secrets()
        .rename_project(&admin, p.id.as_str(), "app2")
        .await
        .expect("rename");
    s.enrollment()
        .issue_bootstrap_token(&admin)
        .await
        .expect("token");
    s.network()
        .allowlist_add(&admin, "10.0.0.0/8", "office")
        .await
        .expect("allowlist");
    let before = s.vault().vault_view().await.unwrap().tokenless_enrollment;
    assert_eq!(
        s.vault()
            .set_tokenless_enrollment(&admin, !before)
            .await
            .unwrap()
            .tokenless_enrollment,
        !before
    );
}

/// Every admin POST route, from the API's route table: the OpenAPI document, which
/// `crates/server/tests/openapi.rs` holds to the router (every method the router answers on a
/// path is declared, every route constant documented), so no route file can be missed.
fn admin_posts() -> Vec<String> {
    let doc: serde_json::Value =
        serde_json::from_str(&signet_api::openapi::document_json()).expect("OpenAPI JSON");
    doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .filter(|(path, item)| path.starts_with("/v1/admin/") && item.get("post").is_some())
        .map(|(path, _)| path.clone())
        .collect()
}

/// Catches a mutating admin route added without a role check: every POST route (and every
/// machine action) must be listed here, either as checked by
/// `a_viewer_changes_nothing_and_every_refusal_is_audited` or as open to viewers on purpose.
#[test]
fn every_post_admin_route_is_classified() {
    // Refused to viewers, each by a core method exercised in the viewer test above.
    let checked = [
        "/v1/admin/vault/settings",
        "/v1/admin/request-budgets",
        "/v1/admin/projects",
        "/v1/admin/projects/{id}/rename",
        "/v1/admin/projects/{id}/delete",
        "/v1/admin/trash/{id}/restore",
        "/v1/admin/trash/{id}/purge",
        "/v1/admin/trash/retention",
        "/v1/admin/projects/{id}/canaries",
        "/v1/admin/projects/{id}/unfreeze",
        "/v1/admin/projects/{id}/key/rotate",
        "/v1/admin/secrets",
        "/v1/admin/secrets/{id}/update",
        "/v1/admin/secrets/{id}/rollback",
        "/v1/admin/secrets/{id}/delete",
        "/v1/admin/projects/{id}/policies",
        "/v1/admin/projects/{id}/policies/{policy}/update",
        "/v1/admin/projects/{id}/policies/{policy}/delete",
        "/v1/admin/secrets/{id}/policy",
        "/v1/admin/secrets/{id}/rotate",
        "/v1/admin/secrets/{id}/rotation",
        "/v1/admin/secrets/{id}/rotation/clear",
        "/v1/admin/secrets/{id}/rotation/pause",
        "/v1/admin/secrets/{id}/rotation/resume",
        "/v1/admin/tokens/bootstrap",
        "/v1/admin/tokens/enrollment",
        "/v1/admin/tokens/enrollment/{id}/revoke",
        "/v1/admin/machines/{id}/{action}",
        "/v1/admin/ip-allowlist",
        "/v1/admin/ip-allowlist/enable",
        "/v1/admin/ip-allowlist/disable",
        "/v1/admin/ip-allowlist/{id}/delete",
        "/v1/admin/users",
        "/v1/admin/shares",
        "/v1/admin/shares/{id}/revoke",
        "/v1/admin/projects/{id}/connections",
        "/v1/admin/projects/{id}/connections/{connection}/update",
        "/v1/admin/projects/{id}/connections/{connection}/delete",
        "/v1/admin/projects/{id}/connections/{connection}/test",
        "/v1/admin/projects/{id}/leased-secrets",
        "/v1/admin/secrets/{id}/lease",
        "/v1/admin/leases/{id}/renew",
        "/v1/admin/leases/{id}/revoke",
        "/v1/admin/webhooks",
        "/v1/admin/webhooks/{id}/update",
        "/v1/admin/webhooks/{id}/delete",
        "/v1/admin/webhooks/{id}/test",
        "/v1/admin/alerts",
        "/v1/admin/alerts/{id}/delete",
        "/v1/admin/secrets/{id}/managed",
        "/v1/admin/audit/archive",
        "/v1/admin/issuers",
        "/v1/admin/issuers/{id}/update",
        "/v1/admin/issuers/{id}/delete",
        "/v1/admin/issuers/{id}/rules",
        "/v1/admin/issuers/{id}/rules/{rule}/delete",
    ];
    // Refused to the roles below them by the named test (file, function), not the viewer test.
    let checked_elsewhere = [
        (
            "/v1/admin/users/invite",
            "members.rs",
            "an_invitation_is_used_once_before_it_expires",
        ),
        (
            "/v1/admin/users/invites/{id}/revoke",
            "members.rs",
            "sessions_carry_the_scope_and_role_changes_and_invitations_need_a_step_up",
        ),
        (
            "/v1/admin/users/{id}/{action}",
            "members.rs",
            "role_changes_follow_the_rules",
        ),
        (
            "/v1/admin/ai-agents/{id}/approve",
            "ai_agent.rs",
            "operators_approve_agents_and_set_scopes_strictly",
        ),
        (
            "/v1/admin/ai-agents/{id}/scopes",
            "ai_agent.rs",
            "operators_approve_agents_and_set_scopes_strictly",
        ),
        (
            "/v1/admin/keys/root/rotate",
            "keyring.rs",
            "only_owners_with_a_fresh_second_factor_rotate_or_retire",
        ),
        (
            "/v1/admin/keys/root/retire",
            "keyring.rs",
            "only_owners_with_a_fresh_second_factor_rotate_or_retire",
        ),
        (
            "/v1/admin/sso/providers",
            "../../server/tests/sso.rs",
            "only_owners_manage_providers_and_mappings",
        ),
        (
            "/v1/admin/sso/providers/{id}/update",
            "../../server/tests/sso.rs",
            "only_owners_manage_providers_and_mappings",
        ),
        (
            "/v1/admin/sso/providers/{id}/delete",
            "../../server/tests/sso.rs",
            "only_owners_manage_providers_and_mappings",
        ),
        (
            "/v1/admin/sso/providers/{id}/mappings",
            "../../server/tests/sso.rs",
            "only_owners_manage_providers_and_mappings",
        ),
        (
            "/v1/admin/sso/providers/{id}/mappings/{mapping}/delete",
            "../../server/tests/sso.rs",
            "only_owners_manage_providers_and_mappings",
        ),
    ];
    let tests = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    for (route, file, test) in &checked_elsewhere {
        let src = std::fs::read_to_string(tests.join(file)).expect("test file");
        assert!(
            src.contains(&format!("async fn {test}("))
                && (src.contains("Forbidden") || src.contains("FORBIDDEN")),
            "{route}: {file} has no test {test} refusing it"
        );
    }
    // POST only because signed routes carry parameters in the body, or acting on one's own
    // account, key or session.
    let open_to_viewers = [
        "/v1/admin/logout",
        "/v1/admin/secrets/query",
        "/v1/admin/audit/query",
        "/v1/admin/audit/verify",
        "/v1/admin/leases/query",
        "/v1/admin/account/password",
        "/v1/admin/account/sessions/{id}/revoke",
        "/v1/admin/account/cli-keys/{id}/revoke",
        "/v1/admin/account/passkeys/register/start",
        "/v1/admin/account/passkeys/register/finish",
        "/v1/admin/account/passkeys/{id}/rename",
        "/v1/admin/account/passkeys/{id}/delete",
        "/v1/admin/account/sso/{provider}/delete",
    ];
    let elsewhere: Vec<&str> = checked_elsewhere.iter().map(|(r, _, _)| *r).collect();
    let posts = admin_posts();
    assert!(
        posts.len() > 10,
        "the route table has the routes: {posts:?}"
    );
    for p in &posts {
        let p = p.as_str();
        assert!(
            checked.contains(&p) || open_to_viewers.contains(&p) || elsewhere.contains(&p),
            "POST {p} is not classified: add a role check in core and to the viewer test"
        );
    }
    for p in checked.iter().chain(&open_to_viewers).chain(&elsewhere) {
        assert!(
            posts.iter().any(|q| q == p),
            "{p} is no longer a POST route"
        );
    }
    // The machine actions are the wire names of `signet_api::admin::machine::MachineAction`
    // (its `as_str` arms), each one a viewer refusal above.
    let api = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../api/src/admin/machine.rs"),
    )
    .expect("api machine.rs");
    let arms = api
        .split("impl MachineAction {")
        .nth(1)
        .and_then(|rest| rest.split("pub fn as_str(self)").nth(1))
        .expect("MachineAction::as_str");
    let actions: Vec<&str> = arms
        .lines()
        .take_while(|l| !l.trim_start().starts_with("pub fn"))
        .filter_map(|l| l.trim().strip_prefix("Self::")?.split('"').nth(1))
        .collect();
    let tested = [
        "approve", "deny", "enable", "disable", "revoke", "attach", "detach", "grant", "ungrant",
        "cidrs",
    ];
    assert_eq!(
        actions, tested,
        "machine actions changed: update the viewer test"
    );
}

#[tokio::test]
async fn users_are_created_with_a_role_at_or_below_the_creators() {
    let w = world().await;
    let s = &w.signet;
    let admin = w.as_role(Role::Admin);
    let made = s
        .accounts()
        .create_user(&admin, new_user("Dev", Role::Developer))
        .await
        .expect("admin creates a developer");
    assert_eq!(made.user.role, Role::Developer);
    assert_eq!(made.user.username, "dev");
    assert_eq!(made.recovery_codes.len(), 10);
    assert!(made.otpauth_uri.starts_with("otpauth://totp/"));
    // The debug form of what was shown once carries neither the URI nor the codes.
    let shown = format!("{made:?}");
    assert!(!shown.contains("otpauth") && !shown.contains(made.recovery_codes[0].as_str()));

    // An admin cannot make an owner; a developer or viewer cannot make anyone.
    let owner_try = NewUser {
        email: "boss@example.test",
        ..new_user("boss", Role::Owner)
    };
    assert_eq!(
        s.accounts()
            .create_user(&admin, owner_try)
            .await
            .unwrap_err(),
        CoreError::Forbidden
    );
    for role in [Role::Developer, Role::Viewer] {
        let weak = w.as_role(role);
        assert_eq!(
            s.accounts()
                .create_user(&weak, new_user("v", Role::Viewer))
                .await
                .unwrap_err(),
            CoreError::Forbidden
        );
    }
    // The owner can make another owner; the same username again is a conflict.
    let owner2 = NewUser {
        email: "boss@example.test",
        ..new_user("boss", Role::Owner)
    };
    s.accounts()
        .create_user(&w.owner, owner2)
        .await
        .expect("owner creates owner");
    let again = NewUser {
        email: "dev2@example.test",
        ..new_user("dev", Role::Viewer)
    };
    assert_eq!(
        s.accounts().create_user(&admin, again).await.unwrap_err(),
        CoreError::Conflict(Conflict::Username)
    );

    let list = s.accounts().users(&admin).await.expect("list");
    let roles: Vec<(&str, &str)> = list.iter().map(|u| (u.username.as_str(), u.role)).collect();
    assert_eq!(roles, [("boss", "owner"), ("dev", "developer")]);
    // The view holds no hash: nothing that prints or maps it can show one.
    let shown = format!("{list:?}");
    assert!(!shown.contains("argon2") && !shown.contains("password"));

    // The refused owner grant is audited with what was asked for.
    let denied = s
        .audit()
        .audit_list(
            &w.owner,
            &AuditFilter {
                before_seq: None,
                actor_id: None,
                action: Some("user_create".into()),
                result: None,
                limit: 100,
                ..AuditFilter::default()
            },
        )
        .await
        .unwrap();
    assert!(
        denied
            .iter()
            .any(|r| r.result == "denied" && r.detail == "role=admin grants=owner")
    );
}
