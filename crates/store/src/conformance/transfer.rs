//! Export and import between two stores: each body gets a fresh source and a fresh target of
//! the same backend. What is checked is what the traits can see: after a copy, every read the
//! target answers is the read the source answers.

use std::sync::Arc;

use signet_proto::{
    CeremonyId, InviteId, MachineId, OperatorId, PasskeyId, ProjectId, SecretId, SessionId,
};

use super::fixture::{self, FAR_FUTURE, HOUR, NOW, chain, event};
use crate::{
    AuditFilter, AuditResult, Cell, CeremonyKind, CeremonyRecord, Conflict, EnrollmentGrant,
    InviteRecord, JournalBatch, LoginRecord, LoginResult, MachineRecord, MachineStatus, NewVersion,
    OperatorRecord, PasskeyRecord, ReadMark, Role, SecretKind, SecretRecord, SessionRecord,
    SsoAttemptRecord, SsoPurpose, Store, StoreError, Table, UserRecord, VersionContent,
};

/// The principal whose nonces the source remembers.
const PRINCIPAL: &str = "0b6f7a51-8b0e-4a57-9a7e-3c1c1b0a4f11";

/// Ids and keys of everything [`populate`] made, for reading it back.
struct Population {
    projects: Vec<ProjectId>,
    secrets: Vec<SecretId>,
    machines: Vec<MachineId>,
    users: Vec<UserRecord>,
    operators: Vec<OperatorId>,
    sessions: Vec<SessionRecord>,
    invites: Vec<InviteRecord>,
    passkeys: Vec<PasskeyRecord>,
    ceremonies: Vec<CeremonyRecord>,
    bootstrap_hashes: Vec<[u8; 32]>,
    enrollment_hashes: Vec<[u8; 32]>,
    nonces: Vec<String>,
    sso_attempts: Vec<SsoAttemptRecord>,
}

/// Fills `store` through the traits with at least one row of every table, and rows in the states
/// that matter: a rollback, a deleted secret, a structured secret, machines pending, approved,
/// denied, revoked, disabled and ephemeral, spent tokens, a locked, a suspended and a removed
/// user, an accepted and a revoked invite, and several audit batches with read marks.
async fn populate(store: &Arc<dyn Store>) -> Population {
    let mut vault = fixture::vault();
    vault.tokenless_enrollment = true;
    vault.cli_key_ttl_ms = 2 * HOUR;
    vault.enrollment_proof_required = true;
    store.create_vault(&vault).await.unwrap();
    store.set_ip_allowlist_enabled(true).await.unwrap();

    // Projects and secrets.
    let payments = fixture::add_project(store, "payments").await;
    let web = fixture::add_project(store, "web").await;
    let db_url = fixture::add_secret(store, &payments.id, "DATABASE_URL").await;
    store
        .append_version(
            &db_url.id,
            1,
            // With a record of what changed, so that the column is seen to travel.
            &NewVersion {
                changed_fields: Some(vec!["password".to_owned()]),
                ..fixture::version(fixture::sealed(2), NOW + 1)
            },
        )
        .await
        .unwrap();
    store
        .append_version(
            &db_url.id,
            2,
            &fixture::version(VersionContent::Pointer(1), NOW + 2),
        )
        .await
        .unwrap();
    store
        .set_rotation(&crate::RotationRecord {
            secret_id: db_url.id.clone(),
            charset: "hex".to_owned(),
            length: 40,
            fields: None,
            interval_ms: Some(3_600_000),
            paused: false,
            next_due_ms: Some(NOW + 3_600_000),
            last_rotated_ms: Some(NOW + 2),
            updated_ms: NOW + 2,
        })
        .await
        .unwrap();
    let fields = vec!["user".to_owned(), "password".to_owned()];
    let structured = SecretRecord {
        id: SecretId::generate(),
        project_id: payments.id.clone(),
        name: "SMTP".to_owned(),
        kind: SecretKind::Structured,
        field_names: Some(fields.clone()),
        current_version: 1,
        created_ms: NOW,
        updated_ms: NOW,
        deleted_ms: None,
        canary: false,
    };
    let structured_first = NewVersion {
        key_generation: 0,
        kind: SecretKind::Structured,
        field_names: Some(fields),
        content: fixture::sealed(9),
        created_by: "op".to_owned(),
        created_ms: NOW,
        changed_fields: None,
    };
    store
        .insert_secret(&structured, &structured_first)
        .await
        .unwrap();
    let gone = fixture::add_secret(store, &payments.id, "OLD_KEY").await;
    store.delete_secret(&gone.id, NOW + 3).await.unwrap();
    let web_key = fixture::add_secret(store, &web.id, "API_KEY").await;

    // Machines in every state, with memberships, grants and allowed networks.
    let approved = fixture::add_machine(store, "web-1").await;
    store.attach(&approved.id, &payments.id).await.unwrap();
    store.attach(&approved.id, &web.id).await.unwrap();
    for s in [&db_url.id, &structured.id, &gone.id, &web_key.id] {
        store.grant(&approved.id, s).await.unwrap();
    }
    store
        .set_machine_cidrs(
            &approved.id,
            &["10.0.0.0/8".to_owned(), "192.0.2.0/24".to_owned()],
        )
        .await
        .unwrap();
    // The structured secret is a managed one, with its agent, a heartbeat, a finished and a
    // pending rotation.
    store
        .set_managed(&crate::ManagedRecord {
            secret_id: structured.id.clone(),
            connection_id: "dbc_0123456789".to_owned(),
            username: "smtp_app".to_owned(),
            agent_machine_id: Some(approved.id),
            poll_interval_secs: 15,
            created_ms: NOW,
            updated_ms: NOW + 1,
        })
        .await
        .unwrap();
    store
        .record_heartbeat(
            &structured.id,
            &crate::Heartbeat {
                status: "healthy".to_owned(),
                error: None,
                at_ms: NOW + 2,
            },
        )
        .await
        .unwrap();
    for (rotation, tag) in [("rot_done", 10_u8), ("rot_open", 11_u8)] {
        store
            .begin_managed_rotation(
                &structured.id,
                &crate::PendingRotation {
                    rotation_id: rotation.to_owned(),
                    version: NewVersion {
                        content: fixture::sealed(tag),
                        ..structured_first.clone()
                    },
                    sealed_for: 2,
                    trigger: "schedule".to_owned(),
                },
                None,
            )
            .await
            .unwrap();
        if rotation == "rot_done" {
            store
                .reject_managed_rotation(&structured.id, rotation, "verify failed", NOW + 3)
                .await
                .unwrap();
        }
    }
    let pending = fixture::machine("pending-1");
    store.insert_machine(&pending).await.unwrap();
    let denied = fixture::machine("denied-1");
    store.insert_machine(&denied).await.unwrap();
    store
        .transition_machine(&denied.id, MachineStatus::Pending, MachineStatus::Denied)
        .await
        .unwrap();
    let revoked = fixture::add_machine(store, "revoked-1").await;
    store.attach(&revoked.id, &payments.id).await.unwrap();
    store.grant(&revoked.id, &db_url.id).await.unwrap();
    store.revoke_machine(&revoked.id).await.unwrap();
    let disabled = fixture::add_machine(store, "disabled-1").await;
    store
        .set_machine_enabled(&disabled.id, false)
        .await
        .unwrap();

    // Tokens: a spent and a live bootstrap token, a used and a revoked enrollment token.
    let spent = fixture::bootstrap_token(NOW + HOUR);
    store.insert_bootstrap_token(&spent).await.unwrap();
    let bootstrapped = fixture::machine("bootstrapped-1");
    store
        .redeem_bootstrap_token(&spent.token_hash, NOW, &bootstrapped)
        .await
        .unwrap();
    let live = fixture::bootstrap_token(NOW + HOUR);
    store.insert_bootstrap_token(&live).await.unwrap();
    let mut enrollment = fixture::enrollment_token(5, NOW + HOUR);
    enrollment.project_ids = vec![web.id.clone()];
    enrollment.secret_ids = vec![web_key.id.clone()];
    store.insert_enrollment_token(&enrollment).await.unwrap();
    let ephemeral: MachineRecord = fixture::ephemeral_machine("ci-1", &enrollment);
    let grant = EnrollmentGrant {
        project_ids: enrollment.project_ids.clone(),
        secret_ids: enrollment.secret_ids.clone(),
    };
    store
        .redeem_enrollment_token(&enrollment.id, NOW, &ephemeral, &grant)
        .await
        .unwrap();
    let withdrawn = fixture::enrollment_token(1, NOW + HOUR);
    store.insert_enrollment_token(&withdrawn).await.unwrap();
    store
        .revoke_enrollment_token(&withdrawn.id, NOW + 1)
        .await
        .unwrap();

    store
        .insert_allowlist_entry(&fixture::allowlist_entry("10.0.0.0/8", NOW))
        .await
        .unwrap();
    store
        .insert_allowlist_entry(&fixture::allowlist_entry("192.0.2.0/24", NOW))
        .await
        .unwrap();

    // People: an owner with codes and TOTP, a scoped developer with a lockout, a suspended
    // viewer and a removed admin; operator keys of every kind.
    let owner = UserRecord {
        role: Role::Owner,
        ..fixture::user("olivia", NOW)
    };
    store
        .insert_first_user(&owner, &[fixture::random32(), fixture::random32()])
        .await
        .unwrap();
    let spent_code = fixture::random32();
    store
        .replace_recovery_codes(&owner.id, &[spent_code, fixture::random32()])
        .await
        .unwrap();
    assert!(
        store
            .use_recovery_code(&owner.id, &spent_code, NOW)
            .await
            .unwrap()
    );
    store.set_totp(&owner.id, &[5; 40], 100).await.unwrap();
    assert!(store.accept_totp_step(&owner.id, 101).await.unwrap());
    let dev = fixture::user("dave", NOW + 1);
    store
        .insert_user_with_codes(&dev, &[fixture::random32()])
        .await
        .unwrap();
    store
        .set_user_access(
            &dev.id,
            Role::Developer,
            Some(std::slice::from_ref(&web.id)),
        )
        .await
        .unwrap();
    store
        .record_login_failure(&dev.id, NOW, 1, HOUR)
        .await
        .unwrap();
    store
        .record_login_failure(&dev.id, NOW + 1, 5, HOUR)
        .await
        .unwrap();
    let viewer = UserRecord {
        role: Role::Viewer,
        ..fixture::user("vera", NOW + 2)
    };
    store.insert_user(&viewer).await.unwrap();
    store.set_user_active(&viewer.id, false).await.unwrap();
    let admin = UserRecord {
        role: Role::Admin,
        ..fixture::user("adam", NOW + 3)
    };
    store.insert_user(&admin).await.unwrap();
    for (user, at_ms, result) in [
        (Some(owner.id), NOW, LoginResult::Ok),
        (Some(dev.id), NOW, LoginResult::Failed),
        (Some(dev.id), NOW, LoginResult::Throttled),
        (None, NOW + 1, LoginResult::Failed),
    ] {
        store
            .append_login(&LoginRecord {
                user_id: user,
                at_ms,
                ip: "192.0.2.7".to_owned(),
                user_agent: "curl".to_owned(),
                result,
            })
            .await
            .unwrap();
    }

    let init = OperatorRecord {
        owner: true,
        ..fixture::operator("owner", NOW)
    };
    store.insert_operator(&init).await.unwrap();
    let cli = OperatorRecord {
        user_id: Some(owner.id),
        expires_ms: Some(FAR_FUTURE),
        ..fixture::operator("olivia@laptop", NOW)
    };
    store.insert_operator(&cli).await.unwrap();
    let admins = OperatorRecord {
        user_id: Some(admin.id),
        expires_ms: Some(FAR_FUTURE),
        ..fixture::operator("adam@laptop", NOW)
    };
    store.insert_operator(&admins).await.unwrap();
    let retired = fixture::operator("retired", NOW + 1);
    store.insert_operator(&retired).await.unwrap();
    store.disable_operator(&retired.id).await.unwrap();
    store.remove_user(&admin.id, NOW + 4).await.unwrap();

    let mut sessions = Vec::new();
    for (user, revoked) in [(owner.id, false), (owner.id, true), (dev.id, false)] {
        let s = SessionRecord {
            id: SessionId::generate(),
            token_hash: fixture::random32(),
            user_id: user,
            operator_id: OperatorId::generate(),
            created_ms: NOW + sessions.len() as i64,
            last_seen_ms: NOW,
            expires_ms: NOW + 12 * HOUR,
            step_up_ms: None,
            ip: "192.0.2.1".to_owned(),
            user_agent: "firefox".to_owned(),
            revoked_ms: None,
        };
        store.insert_session(&s).await.unwrap();
        store.touch_session(&s.id, NOW + 60_000).await.unwrap();
        store
            .set_session_step_up(&s.id, NOW + 60_000)
            .await
            .unwrap();
        if revoked {
            store.revoke_session(&user, &s.id, NOW + 1).await.unwrap();
        }
        sessions.push(s);
    }

    let invite = |email: &str, created_ms: i64| InviteRecord {
        id: InviteId::generate(),
        code_hash: fixture::random32(),
        email: email.to_owned(),
        role: Role::Developer,
        projects: Some(vec![payments.id.clone()]),
        created_by: init.id,
        created_ms,
        expires_ms: created_ms + 72 * HOUR,
        used_ms: None,
        revoked_ms: None,
    };
    let accepted = invite("ann@example.test", NOW);
    let withdrawn_invite = invite("rob@example.test", NOW + 1);
    let open = InviteRecord {
        projects: None,
        role: Role::Viewer,
        ..invite("pat@example.test", NOW + 2)
    };
    for i in [&accepted, &withdrawn_invite, &open] {
        store.insert_invite(i).await.unwrap();
    }
    let ann = UserRecord {
        projects: Some(vec![payments.id.clone()]),
        ..fixture::user("ann", NOW + 5)
    };
    store
        .accept_invite(&accepted.id, NOW + 5, &ann, &[fixture::random32()])
        .await
        .unwrap();
    store
        .revoke_invite(&withdrawn_invite.id, NOW + 6)
        .await
        .unwrap();

    let mut passkeys = Vec::new();
    for (user, cred, created_ms) in [
        (owner.id, b"o-1".as_slice(), NOW),
        (owner.id, b"o-2".as_slice(), NOW + 1),
        (dev.id, b"d-1".as_slice(), NOW),
    ] {
        let p = PasskeyRecord {
            id: PasskeyId::generate(),
            user_id: user,
            credential_id: cred.to_vec(),
            name: "laptop".to_owned(),
            credential: format!("{{\"cred\":{cred:?}}}"),
            sign_count: 0,
            created_ms,
            last_used_ms: None,
        };
        store.insert_passkey(&p, 10).await.unwrap();
        passkeys.push(p);
    }
    assert!(
        store
            .record_passkey_use(&passkeys[0].id, "{\"cred\":\"used\"}", 4, NOW + 7)
            .await
            .unwrap()
    );
    let ceremonies = vec![
        CeremonyRecord {
            id: CeremonyId::generate(),
            kind: CeremonyKind::Registration,
            user_id: Some(owner.id),
            state: "{\"challenge\":\"r\"}".to_owned(),
            expires_ms: FAR_FUTURE,
        },
        CeremonyRecord {
            id: CeremonyId::generate(),
            kind: CeremonyKind::Authentication,
            user_id: None,
            state: "{\"challenge\":\"a\"}".to_owned(),
            expires_ms: FAR_FUTURE,
        },
    ];
    for c in &ceremonies {
        store.insert_ceremony(c).await.unwrap();
    }

    // Nonces, then the audit log. An append after the nonces also makes them durable on a
    // backend that writes them behind the caller's back.
    let nonces: Vec<String> = (0..3).map(|i| format!("nonce-{i}")).collect();
    for n in &nonces {
        assert!(
            store
                .remember_nonce(PRINCIPAL, n, FAR_FUTURE)
                .await
                .unwrap()
        );
    }
    // An access policy bound to a secret, with counters and a last read spent by a read.
    let policy = crate::PolicyRecord {
        id: signet_proto::PolicyId::generate(),
        project_id: payments.id.clone(),
        name: "office-hours".to_owned(),
        rules: r#"{"perMinute":3,"rotateAfterReads":10}"#.to_owned(),
        created_ms: NOW,
        updated_ms: NOW,
    };
    store.insert_policy(&policy).await.unwrap();
    store
        .bind_policy(&db_url.id, Some(&policy.id))
        .await
        .unwrap();
    store
        .record_policy_read(&crate::PolicyRead {
            secret: db_url.id.clone(),
            machine: approved.id,
            now_ms: NOW + 3,
            cosign: None,
            takes: vec![
                crate::CounterTake {
                    machine: Some(approved.id),
                    axis: crate::CounterAxis::Minute,
                    window: NOW / 60_000 * 60_000,
                    cap: Some(3),
                },
                crate::CounterTake {
                    machine: None,
                    axis: crate::CounterAxis::Version,
                    window: 1,
                    cap: None,
                },
            ],
        })
        .await
        .unwrap();
    // Shares: one still pending (sealed value and all), one already opened (erased).
    let pending_share = super::share::share(NOW, NOW + HOUR);
    store.insert_share(&pending_share).await.unwrap();
    let opened_share = super::share::share(NOW + 1, NOW + HOUR);
    store.insert_share(&opened_share).await.unwrap();
    store
        .close_share(&opened_share.id, crate::ShareStatus::Viewed, NOW + 2)
        .await
        .unwrap();
    // A database connection, a leased secret on it, and two leases: one revoked, then one
    // active (a machine holds one reusable active lease per secret, so not the other way round).
    let connection = super::connection::record(&payments.id, "main-db");
    store.insert_connection(&connection).await.unwrap();
    store
        .set_leased_secret(&super::connection::leased(&structured, &connection.id))
        .await
        .unwrap();
    for (i, revoked) in [true, false].into_iter().enumerate() {
        let lease = crate::LeaseRecord {
            key_generation: 0,
            id: signet_proto::LeaseId::generate(),
            secret_id: structured.id.clone(),
            project_id: payments.id.clone(),
            machine_id: approved.id,
            connection_id: connection.id.clone(),
            role_name: format!("signet_transfer_{i}"),
            password_wrapped_dek: vec![7; 60],
            password_ciphertext: vec![8; 40],
            created_ms: NOW + i as i64,
            expires_ms: NOW + HOUR,
            max_expires_ms: NOW + 2 * HOUR,
            state: crate::LeaseState::Active,
            claim_until_ms: None,
            revoked_ms: None,
            revoke_reason: None,
        };
        store.insert_lease(&lease).await.unwrap();
        if revoked {
            store.claim_lease(&lease.id, NOW, NOW + 5).await.unwrap();
            store
                .finish_lease(&lease.id, NOW + 5, NOW + 1, "operator")
                .await
                .unwrap();
        }
    }
    // Alerts: a webhook, a rule, the tailer's cursor and one delivery.
    let hook = super::alert::webhook(NOW);
    store.insert_webhook(&hook).await.unwrap();
    store
        .insert_alert_rule(&crate::AlertRuleRecord {
            id: signet_proto::AlertRuleId::generate(),
            name: "canaries".to_owned(),
            severity: "critical".to_owned(),
            spec: "{}".to_owned(),
            webhooks: vec![hook.id.clone()],
            created_by: signet_proto::OperatorId::generate(),
            created_ms: NOW,
        })
        .await
        .unwrap();
    store
        .advance_alerts(
            None,
            &crate::AlertCursor {
                next_seq: 1,
                state: "{}".to_owned(),
            },
            &[super::alert::delivery(&hook.id, Some("1:r:w"), NOW)],
        )
        .await
        .unwrap();
    for batch in 0..3 {
        let events = (0..4)
            .map(|i| {
                let result = if i == 3 {
                    AuditResult::Denied
                } else {
                    AuditResult::Ok
                };
                let e = event(
                    &approved.id.to_string(),
                    &format!("action_{batch}_{i}"),
                    result,
                );
                // One record in each batch keeps a machine's signed evidence.
                if i == 0 {
                    crate::AuditEvent {
                        evidence: Some(Arc::new(crate::SignedEvidence {
                            method: "GET".to_owned(),
                            path: format!("/v1/secret/{}", db_url.id),
                            timestamp: NOW / 1000,
                            nonce: format!("nonce-{batch}-aaaaaaaaaaaa"),
                            body_sha256: [1; 32],
                            signature: [2; 64],
                        })),
                        ..e
                    }
                } else {
                    e
                }
            })
            .collect();
        let read_marks = vec![ReadMark {
            machine: approved.id,
            secret: db_url.id.clone(),
            version: batch + 1,
        }];
        store
            .append_journal(JournalBatch { events, read_marks }, chain())
            .await
            .unwrap();
    }
    // A trusted OIDC issuer with a rule, and a workload it enrolled (its token's digest stays
    // remembered, so a replay after the move is still refused).
    let trusted = super::issuer::issuer("ci");
    store.insert_issuer(&trusted).await.unwrap();
    store
        .insert_issuer_rule(&super::issuer::rule(&trusted.id, 1))
        .await
        .unwrap();
    let workload = super::issuer::workload("ci-job");
    store
        .enroll_with_platform_token(
            &crate::PlatformTokenUse {
                digest: [9; 32],
                forget_after_ms: NOW + HOUR,
            },
            NOW,
            &workload,
            &super::issuer::nothing(),
        )
        .await
        .unwrap();
    // A trusted SSO provider with a mapping, a person linked through it, the vault requiring
    // SSO with a break-glass owner, and attempts in flight: one to consume, and a CLI attempt
    // consumed and completed, still to finish.
    let idp = super::sso::provider("idp");
    store.insert_sso_provider(&idp).await.unwrap();
    store
        .insert_sso_mapping(&super::sso::mapping(&idp.id, 1))
        .await
        .unwrap();
    store
        .insert_sso_identity(&super::sso::identity(&idp.id, "sub-dev", dev.id))
        .await
        .unwrap();
    let sso_login = super::sso::attempt(&idp.id, SsoPurpose::Login, FAR_FUTURE);
    store.insert_sso_attempt(&sso_login).await.unwrap();
    let sso_cli = super::sso::attempt(&idp.id, SsoPurpose::Cli, FAR_FUTURE);
    store.insert_sso_attempt(&sso_cli).await.unwrap();
    store
        .take_sso_attempt(&sso_cli.state_hash, NOW)
        .await
        .unwrap()
        .unwrap();
    store
        .complete_sso_attempt(&sso_cli.id, &dev.id, &[5; 32])
        .await
        .unwrap();
    store
        .set_sso_settings(true, Some(&owner.id), true)
        .await
        .unwrap();
    // The oldest record archived: the checkpoint moves too, and the live chain starts after it.
    let oldest = store.audit_range(1, 1).await.unwrap();
    assert!(
        store
            .prune_audit(&crate::AuditCheckpoint {
                first_seq: 1,
                last_seq: oldest[0].seq,
                last_hash: oldest[0].hash,
                prev_checkpoint: [0; 32],
                segment_sha256: [3; 32],
                signature: [4; 64],
            })
            .await
            .unwrap()
    );

    Population {
        projects: vec![payments.id, web.id],
        secrets: vec![db_url.id, structured.id, gone.id, web_key.id],
        machines: vec![
            approved.id,
            pending.id,
            denied.id,
            revoked.id,
            disabled.id,
            bootstrapped.id,
            ephemeral.id,
            workload.id,
        ],
        users: vec![owner, dev, viewer, admin, ann],
        operators: vec![init.id, cli.id, admins.id, retired.id],
        sessions,
        invites: vec![accepted, withdrawn_invite, open],
        passkeys,
        ceremonies,
        bootstrap_hashes: vec![spent.token_hash, live.token_hash],
        enrollment_hashes: vec![enrollment.token_hash, withdrawn.token_hash],
        nonces,
        sso_attempts: vec![sso_login, sso_cli],
    }
}

/// Every read the traits offer over `p`, rendered with `Debug` one line per read, so that a
/// difference names the read that differs. Reads that change state come last, in `take_all`.
async fn reads(store: &Arc<dyn Store>, p: &Population) -> Vec<String> {
    let mut out = Vec::new();
    macro_rules! read {
        ($label:expr, $e:expr) => {
            out.push(format!("{}: {:?}", $label, $e.await.unwrap()))
        };
    }
    read!("vault", store.vault());
    read!("projects", store.projects());
    for id in &p.projects {
        read!("project", store.project(id));
        read!("secrets_in_project", store.secrets_in_project(id));
    }
    for id in &p.secrets {
        read!("secret", store.secret(id));
        read!("versions", store.versions(id));
        read!("rotation", store.rotation(id));
        read!("managed", store.managed(id));
    }
    read!("shares", store.shares());
    read!("webhooks", store.webhooks());
    read!("alert_rules", store.alert_rules());
    read!("alert_cursor", store.alert_cursor());
    read!("deliveries", store.deliveries(100));
    for project in &p.projects {
        read!("policies", store.policies(project));
        read!("connections", store.connections(project));
    }
    for id in &p.secrets {
        read!("leased_secret", store.leased_secret(id));
    }
    read!("leases", store.leases(&crate::LeaseFilter::default(), 100));
    read!("issuers", store.issuers());
    for i in store.issuers().await.unwrap() {
        read!("issuer_rules", store.issuer_rules(&i.id));
    }
    read!("sso_providers", store.sso_providers());
    for i in store.sso_providers().await.unwrap() {
        read!("sso_mappings", store.sso_mappings(&i.id));
        read!("sso_identity", store.sso_identity(&i.id, "sub-dev"));
    }
    read!("machines", store.machines());
    for m in &p.machines {
        read!("machine", store.machine(m));
        read!("memberships", store.memberships(m));
        read!("grants", store.grants(m));
        read!("poll", store.poll(m, &p.secrets));
        read!("granted_read_views", store.granted_read_views(m, None));
        read!("granted_secrets", store.granted_secrets(m, None));
        for project in &p.projects {
            read!(
                "granted_read_views/project",
                store.granted_read_views(m, Some(project))
            );
            read!(
                "granted_secrets/project",
                store.granted_secrets(m, Some(project))
            );
        }
        for s in &p.secrets {
            read!("read_view", store.read_view(m, s));
        }
    }
    for hash in &p.bootstrap_hashes {
        read!("bootstrap_token", store.bootstrap_token(hash));
    }
    read!("enrollment_tokens", store.enrollment_tokens());
    for hash in &p.enrollment_hashes {
        read!("enrollment_token", store.enrollment_token_by_hash(hash));
    }
    read!("allowlist", store.allowlist());
    read!("users", store.users());
    read!("user_count", store.user_count());
    for u in &p.users {
        read!("user", store.user(&u.id));
        read!("user_by_login/username", store.user_by_login(&u.username));
        read!("user_by_login/email", store.user_by_login(&u.email));
        read!("unused_recovery_codes", store.unused_recovery_codes(&u.id));
        read!("logins", store.logins(&u.id, 100));
        read!("user_operators", store.user_operators(&u.id, NOW));
        read!("live_sessions", store.live_sessions(&u.id, NOW));
        read!("passkeys", store.passkeys(&u.id));
        read!("user_sso_identities", store.user_sso_identities(&u.id));
    }
    read!("operators", store.operators());
    for id in &p.operators {
        read!("operator", store.operator(id));
    }
    for s in &p.sessions {
        read!("session_by_token", store.session_by_token(&s.token_hash));
    }
    read!("invites", store.invites());
    for i in &p.invites {
        read!("invite_by_code", store.invite_by_code(&i.code_hash));
    }
    for k in &p.passkeys {
        read!(
            "passkey_by_credential",
            store.passkey_by_credential(&k.credential_id)
        );
    }
    read!("audit_head", store.audit_head());
    read!("audit_checkpoints", store.audit_checkpoints());
    read!("audit_range", store.audit_range(1, 1000));
    read!(
        "audit",
        store.audit(&AuditFilter {
            limit: 1000,
            ..AuditFilter::default()
        })
    );
    read!(
        "audit/denied",
        store.audit(&AuditFilter {
            result: Some(AuditResult::Denied),
            limit: 1000,
            ..AuditFilter::default()
        })
    );
    out
}

/// The reads that consume state: each ceremony can be taken once.
async fn take_all(store: &Arc<dyn Store>, p: &Population) -> Vec<Option<CeremonyRecord>> {
    let mut out = Vec::new();
    for c in &p.ceremonies {
        out.push(store.take_ceremony(&c.id, c.kind, NOW).await.unwrap());
    }
    out
}

/// Rows of installation state. The keyring's generation 0 row (the root key file itself, no
/// key in it) is in every migrated store from the start, so it is not counted.
fn count(tables: &[Table]) -> usize {
    tables.iter().map(Table::state_rows).sum()
}

/// Everything copied reads back the same: records, listings and their order, views, the audit
/// chain and its head, ceremonies, and the nonces, which still refuse a replay on the target.
pub async fn round_trip_reads_the_same(source: Arc<dyn Store>, target: Arc<dyn Store>) {
    let p = populate(&source).await;
    let tables = source.export_tables().await.unwrap();
    assert!(
        tables.iter().all(|t| !t.rows.is_empty()),
        "every table has rows: {:?}",
        tables
            .iter()
            .filter(|t| t.rows.is_empty())
            .map(|t| &t.name)
            .collect::<Vec<_>>()
    );
    target.import_tables(tables.clone()).await.unwrap();

    let before = reads(&source, &p).await;
    let after = reads(&target, &p).await;
    assert_eq!(before.len(), after.len());
    for (s, t) in before.iter().zip(&after) {
        assert_eq!(s, t);
    }
    assert_eq!(
        target.audit_range(1, 1000).await.unwrap().len(),
        11,
        "the whole live log came across (the first record is archived)"
    );
    assert_eq!(target.export_tables().await.unwrap(), tables);

    let taken = take_all(&source, &p).await;
    assert!(taken.iter().all(Option::is_some));
    assert_eq!(take_all(&target, &p).await, taken);
    for a in &p.sso_attempts {
        let (s, t) = match a.purpose {
            SsoPurpose::Cli => (
                source.finish_sso_attempt(&a.id, NOW).await.unwrap(),
                target.finish_sso_attempt(&a.id, NOW).await.unwrap(),
            ),
            _ => (
                source.take_sso_attempt(&a.state_hash, NOW).await.unwrap(),
                target.take_sso_attempt(&a.state_hash, NOW).await.unwrap(),
            ),
        };
        assert!(s.is_some(), "an imported attempt is taken or finished once");
        assert_eq!(s, t);
    }

    for n in &p.nonces {
        assert!(
            !target
                .remember_nonce(PRINCIPAL, n, FAR_FUTURE)
                .await
                .unwrap(),
            "an imported nonce refuses a replay"
        );
    }
    assert!(
        target
            .remember_nonce(PRINCIPAL, "fresh", FAR_FUTURE)
            .await
            .unwrap()
    );

    // The copy carries on where the source stopped: the chain continues from the same head.
    let next = JournalBatch {
        events: vec![event("a", "after_copy", AuditResult::Ok)],
        read_marks: Vec::new(),
    };
    assert_eq!(
        target.append_journal(next.clone(), chain()).await.unwrap(),
        source.append_journal(next, chain()).await.unwrap()
    );
    assert_eq!(
        target.audit_head().await.unwrap(),
        source.audit_head().await.unwrap()
    );
}

/// A target that holds a vault is refused, and nothing of the import lands in it.
pub async fn import_refuses_a_store_that_is_not_empty(
    source: Arc<dyn Store>,
    target: Arc<dyn Store>,
) {
    populate(&source).await;
    let tables = source.export_tables().await.unwrap();
    let vault = fixture::vault();
    target.create_vault(&vault).await.unwrap();
    fixture::add_project(&target, "own").await;
    let before = target.export_tables().await.unwrap();

    assert_eq!(
        target.import_tables(tables).await,
        Err(StoreError::Conflict(Conflict::NotEmpty))
    );
    assert_eq!(target.export_tables().await.unwrap(), before);
    assert_eq!(target.vault().await.unwrap(), Some(vault));
}

/// An unknown table or column is refused before anything is written.
pub async fn import_refuses_unknown_tables_and_columns(
    source: Arc<dyn Store>,
    target: Arc<dyn Store>,
) {
    populate(&source).await;
    let tables = source.export_tables().await.unwrap();

    let mut extra_table = tables.clone();
    extra_table.push(Table {
        name: "no_such_table".to_owned(),
        columns: vec!["id".to_owned()],
        rows: vec![vec![Cell::Int(1)]],
    });
    let mut hostile_table = tables.clone();
    hostile_table.push(Table {
        name: "vault; DROP TABLE audit; --".to_owned(),
        columns: vec!["id".to_owned()],
        rows: Vec::new(),
    });
    let mut extra_column = tables.clone();
    let last = extra_column.last_mut().unwrap();
    last.columns.push("no_such_column".to_owned());
    for row in &mut last.rows {
        row.push(Cell::Null);
    }
    let mut hostile_column = tables.clone();
    let projects = hostile_column
        .iter_mut()
        .find(|t| t.name == "projects")
        .unwrap();
    projects.columns[0] = "id) VALUES (1); --".to_owned();

    for bad in [extra_table, hostile_table, extra_column, hostile_column] {
        assert_eq!(target.import_tables(bad).await, Err(StoreError::Corrupt));
        assert_eq!(target.vault().await.unwrap(), None);
        assert_eq!(count(&target.export_tables().await.unwrap()), 0);
    }
    // The refusals left the target as fresh as it was: the real tables still go in.
    target.import_tables(tables).await.unwrap();
    assert!(target.vault().await.unwrap().is_some());
}

/// A cell whose type does not fit its column is refused, wherever it is, and nothing is
/// written: not even the tables before it.
pub async fn import_refuses_an_ill_typed_cell(source: Arc<dyn Store>, target: Arc<dyn Store>) {
    populate(&source).await;
    let tables = source.export_tables().await.unwrap();
    let swap = |cell: &Cell| match cell {
        Cell::Int(_) => Cell::Text("1".to_owned()),
        Cell::Text(_) => Cell::Bytes(vec![1]),
        Cell::Bytes(_) => Cell::Int(1),
        Cell::Null => Cell::Bytes(vec![1]),
    };
    // The first cell of the last table (so every earlier table would already be in), and a
    // text cell of a secret row.
    let mut last = tables.clone();
    let row = &mut last.last_mut().unwrap().rows[0];
    row[0] = swap(&row[0]);
    let mut secrets = tables.clone();
    let table = secrets.iter_mut().find(|t| t.name == "secrets").unwrap();
    let name = table.columns.iter().position(|c| c == "name").unwrap();
    table.rows[0][name] = Cell::Int(7);
    let mut short = tables.clone();
    short.last_mut().unwrap().rows[0].pop();

    for bad in [last, secrets, short] {
        assert_eq!(target.import_tables(bad).await, Err(StoreError::Corrupt));
        assert_eq!(target.vault().await.unwrap(), None);
        assert_eq!(count(&target.export_tables().await.unwrap()), 0);
    }
}

/// Two exports of an unchanged store are equal, table for table and row for row; a fresh store
/// exports every table, empty.
pub async fn export_is_stable(source: Arc<dyn Store>, target: Arc<dyn Store>) {
    let empty = target.export_tables().await.unwrap();
    assert!(!empty.is_empty());
    assert_eq!(count(&empty), 0);
    populate(&source).await;
    let first = source.export_tables().await.unwrap();
    let second = source.export_tables().await.unwrap();
    assert_eq!(first, second);
    let names: Vec<&String> = first.iter().map(|t| &t.name).collect();
    let empty_names: Vec<&String> = empty.iter().map(|t| &t.name).collect();
    assert_eq!(names, empty_names, "the same tables, in the same order");
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), names.len(), "each table once: {names:?}");
    assert!(
        !names.iter().any(|n| n.starts_with('_')
            || n.starts_with("sqlite_")
            || n.contains("migration")
            || n.contains("schema")),
        "no bookkeeping: {names:?}"
    );
}
