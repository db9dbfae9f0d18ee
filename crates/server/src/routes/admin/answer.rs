//! Core's domain types as the operator and sign-in routes' wire answers (`signet_api::admin`,
//! `signet_api::auth`). Functions, not `From` impls: both sides are other crates' types.

use base64::Engine as _;
use signet_api::admin::{
    account::{AccountAnswer, AccountSessionAnswer, CliKeyAnswer, LoginAttemptAnswer},
    allowlist::{AllowlistAnswer, AllowlistEntryAnswer, AllowlistEntryId},
    audit::{AuditEvidenceAnswer, AuditRecordAnswer, CheckpointAnswer, VerifyAnswer},
    budget::{BudgetsAnswer, MachineBudgetAnswer},
    machine::MachineAnswer,
    passkey::{PasskeyAnswer, PasskeyChallengeAnswer},
    project::ProjectAnswer,
    secret::{SecretMetadataAnswer, VersionAnswer},
    share::ShareAnswer,
    token::{EnrollmentTokenAnswer, EnrollmentTokenId},
    trash::TrashItemAnswer,
    user::{InviteAnswer, UserAnswer},
    vault::VaultAnswer,
};
use signet_api::auth::{NewAccountAnswer, SessionAnswer};
use signet_core::account::{OwnerEnrollment, UserView};
use signet_core::audit::{AuditView, VerifyReport};
use signet_core::budget::BudgetView;
use signet_core::enrollment::EnrollmentTokenView;
use signet_core::invite::InviteView;
use signet_core::machine::MachineView;
use signet_core::network::{AllowlistView, EntryView};
use signet_core::passkey::{PasskeyChallenge, PasskeyView};
use signet_core::secret::{ProjectView, SecretView, VersionView};
use signet_core::session::{AccountView, SessionView};
use signet_core::share::ShareView;
use signet_core::trash::TrashItemView;
use signet_core::vault::VaultView;
use zeroize::Zeroizing;

pub(crate) fn project(p: ProjectView) -> ProjectAnswer {
    ProjectAnswer {
        id: p.id,
        name: p.name,
        created_at: p.created_at,
        frozen_at: p.frozen_at,
    }
}

pub(crate) fn trash_item(i: TrashItemView) -> TrashItemAnswer {
    TrashItemAnswer {
        kind: i.kind.as_str().to_owned(),
        id: i.id,
        name: i.name,
        project_id: i.project_id,
        project_name: i.project_name,
        deleted_by: i.deleted_by,
        deleted_by_name: i.deleted_by_name,
        deleted_at: i.deleted_ms,
        purge_after: i.purge_after_ms,
    }
}

pub(crate) fn secret(s: SecretView) -> SecretMetadataAnswer {
    SecretMetadataAnswer {
        id: s.id,
        name: s.name,
        project_id: s.project_id,
        kind: s.kind.to_owned(),
        field_names: s.field_names,
        version: s.version,
        created_at: s.created_at,
        updated_at: s.updated_at,
        canary: s.canary,
    }
}

pub(crate) fn version(v: VersionView) -> VersionAnswer {
    VersionAnswer {
        version: v.version,
        value_version: v.value_version,
        kind: v.kind.to_owned(),
        field_names: v.field_names,
        created_by: v.created_by,
        created_by_name: v.created_by_name,
        created_at: v.created_at,
        changed_fields: v.changed_fields,
    }
}

pub(crate) fn enrollment_token(t: EnrollmentTokenView) -> EnrollmentTokenAnswer {
    EnrollmentTokenAnswer {
        id: EnrollmentTokenId(t.id),
        token: t.token.map(Zeroizing::new),
        name: t.name,
        project_ids: t.project_ids,
        secret_ids: t.secret_ids,
        max_uses: t.max_uses,
        uses: t.uses,
        expires_at: t.expires_at,
        machine_ttl_secs: t.machine_ttl_secs,
        source_cidr: t.source_cidr,
        hostname_pattern: t.hostname_pattern,
        revoked_at: t.revoked_at,
        created_at: t.created_at,
    }
}

pub(crate) fn machine(m: MachineView) -> MachineAnswer {
    MachineAnswer {
        id: m.id,
        name: m.name,
        hostname: m.hostname,
        status: m.status.to_owned(),
        enabled: m.enabled,
        kind: m.kind.to_owned(),
        expires_at: m.expires_at,
        enrolled_via: m.enrolled_via.to_owned(),
        fingerprint: m.fingerprint,
        public_key: m.public_key,
        registered_ip: m.registered_ip,
        allowed_cidrs: m.allowed_cidrs,
        projects: m.projects,
        grants: m.grants,
        created_at: m.created_at,
    }
}

pub(crate) fn allowlist(a: AllowlistView) -> AllowlistAnswer {
    AllowlistAnswer {
        enabled: a.enabled,
        entries: a.entries.into_iter().map(allowlist_entry).collect(),
    }
}

pub(crate) fn allowlist_entry(e: EntryView) -> AllowlistEntryAnswer {
    AllowlistEntryAnswer {
        id: AllowlistEntryId(e.id),
        cidr: e.cidr,
        label: e.label,
        created_at: e.created_at,
    }
}

pub(crate) fn budgets(b: BudgetView) -> BudgetsAnswer {
    BudgetsAnswer {
        default_per_minute: b.default_per_minute,
        machines: b
            .machines
            .into_iter()
            .map(|m| MachineBudgetAnswer {
                machine_id: m.machine_id,
                per_minute: m.per_minute,
            })
            .collect(),
    }
}

pub(crate) fn vault(v: VaultView) -> VaultAnswer {
    VaultAnswer {
        vault_id: v.vault_id,
        tokenless_enrollment: v.tokenless_enrollment,
        ip_allowlist_enabled: v.ip_allowlist_enabled,
        cli_key_ttl_ms: v.cli_key_ttl_ms,
        require_enrollment_proof: v.require_enrollment_proof,
        sso_required: v.sso_required,
        break_glass_user: v.break_glass_user,
        sso_trust_provider_mfa: v.sso_trust_provider_mfa,
        created_at: v.created_at,
    }
}

pub(crate) fn audit_record(r: AuditView) -> AuditRecordAnswer {
    AuditRecordAnswer {
        seq: r.seq,
        ts: r.ts,
        actor_kind: r.actor_kind.to_owned(),
        actor_id: r.actor_id,
        action: r.action,
        target: r.target,
        source_ip: r.source_ip,
        result: r.result.to_owned(),
        detail: r.detail,
        hash: r.hash,
        actor_name: r.actor.as_ref().map(|a| a.name.clone()),
        actor_user_id: r
            .actor
            .as_ref()
            .and_then(|a| a.user_id.as_ref())
            .map(ToString::to_string),
        evidence: r.evidence.map(|e| AuditEvidenceAnswer {
            method: e.method.clone(),
            path: e.path.clone(),
            timestamp: e.timestamp,
            nonce: e.nonce.clone(),
            body_sha256: signet_proto::BodyHash::from_digest(&e.body_sha256)
                .as_str()
                .to_owned(),
            signature: base64::engine::general_purpose::STANDARD.encode(e.signature),
        }),
    }
}

pub(crate) fn checkpoint(c: signet_proto::archive::Checkpoint) -> CheckpointAnswer {
    CheckpointAnswer {
        version: c.version,
        first_seq: c.first_seq,
        last_seq: c.last_seq,
        records: c.records,
        last_hash: c.last_hash,
        prev_checkpoint: c.prev_checkpoint,
        segment_sha256: c.segment_sha256,
        public_key: c.public_key,
        signature: c.signature,
    }
}

pub(crate) fn verify(r: VerifyReport) -> VerifyAnswer {
    VerifyAnswer {
        ok: r.ok,
        records: r.records,
        head_seq: r.head_seq,
        first_bad_seq: r.first_bad_seq,
        problem: r.problem,
    }
}

pub(crate) fn user(u: UserView) -> UserAnswer {
    UserAnswer {
        id: u.id,
        username: u.username,
        email: u.email,
        display_name: u.display_name,
        role: u.role.to_owned(),
        status: u.status.to_owned(),
        created_at: u.created_at,
        projects: u.projects,
    }
}

pub(crate) fn invite(i: InviteView) -> InviteAnswer {
    InviteAnswer {
        id: i.id,
        email: i.email,
        role: i.role.to_owned(),
        projects: i.projects,
        created_at: i.created_at,
        expires_at: i.expires_at,
        status: i.status.to_owned(),
    }
}

pub(crate) fn share(s: ShareView) -> ShareAnswer {
    ShareAnswer {
        id: s.id,
        status: s.status.to_owned(),
        created_by: s.created_by,
        created_by_user: s.created_by_user,
        created_at: s.created_at,
        expires_at: s.expires_at,
        closed_at: s.closed_at,
    }
}

pub(crate) fn passkey(p: PasskeyView) -> PasskeyAnswer {
    PasskeyAnswer {
        id: p.id,
        name: p.name,
        created_at: p.created_at,
        last_used_at: p.last_used_at,
    }
}

pub(crate) fn challenge(c: PasskeyChallenge) -> PasskeyChallengeAnswer {
    PasskeyChallengeAnswer {
        challenge_id: c.challenge_id,
        public_key: c.public_key,
    }
}

pub(crate) fn account(a: AccountView) -> AccountAnswer {
    AccountAnswer {
        user: user(a.user),
        totp_enabled: a.totp_enabled,
        totp_pending: a.totp_pending,
        recovery_codes_left: a.recovery_codes_left,
        passkeys: a.passkeys.into_iter().map(passkey).collect(),
        sessions: a
            .sessions
            .into_iter()
            .map(|s| AccountSessionAnswer {
                id: s.id,
                created_at: s.created_at,
                last_seen_at: s.last_seen_at,
                expires_at: s.expires_at,
                ip: s.ip,
                user_agent: s.user_agent,
                current: s.current,
            })
            .collect(),
        cli_keys: a
            .cli_keys
            .into_iter()
            .map(|k| CliKeyAnswer {
                operator_id: k.operator_id,
                name: k.name,
                created_at: k.created_at,
                expires_at: k.expires_at,
            })
            .collect(),
        logins: a
            .logins
            .into_iter()
            .map(|l| LoginAttemptAnswer {
                at: l.at,
                ip: l.ip,
                user_agent: l.user_agent,
                result: l.result.to_owned(),
            })
            .collect(),
    }
}

pub(crate) fn session(v: SessionView) -> SessionAnswer {
    SessionAnswer {
        csrf_token: v.csrf_token,
        user: user(v.user),
        session_id: v.session_id,
        expires_at: v.expires_at,
        idle_timeout_ms: v.idle_timeout_ms,
        step_up_until: v.step_up_until,
        permissions: v.permissions.into_iter().map(str::to_owned).collect(),
        scoped: v.scoped,
    }
}

/// What a new account is shown once: the user, the authenticator URI and its secret (for typing
/// in), and the recovery codes.
pub(crate) fn new_account(e: OwnerEnrollment) -> NewAccountAnswer {
    // The seed is the `secret=` query parameter; the label before `?` is percent-encoded, so it
    // cannot hold one.
    let totp_secret = Zeroizing::new(
        e.otpauth_uri
            .split(['?', '&'])
            .find_map(|kv| kv.strip_prefix("secret="))
            .unwrap_or_default()
            .to_owned(),
    );
    NewAccountAnswer {
        user: user(UserView::from(e.user)),
        qr_svg: qr_svg(&e.otpauth_uri),
        otpauth_uri: e.otpauth_uri,
        totp_secret,
        recovery_codes: e.recovery_codes,
        enrollment_ticket: e.ticket,
        enrollment_expires_at: e.ticket_expires_ms,
    }
}

/// `otpauth_uri` as a QR code: an SVG of black modules on a white quiet zone, whatever the
/// page's colour scheme, so a phone can scan it. Drawn here rather than by a third party, which
/// would learn the seed. Empty if the URI does not fit a QR code (it always does: about 150
/// bytes against a capacity of over 2000); the page then offers the link and secret alone.
pub(crate) fn qr_svg(otpauth_uri: &str) -> Zeroizing<String> {
    use qrcode::render::svg;
    match qrcode::QrCode::with_error_correction_level(otpauth_uri, qrcode::EcLevel::M) {
        Ok(code) => Zeroizing::new(
            code.render::<svg::Color<'_>>()
                .min_dimensions(240, 240)
                .dark_color(svg::Color("#000000"))
                .light_color(svg::Color("#ffffff"))
                .quiet_zone(true)
                .build(),
        ),
        Err(e) => {
            tracing::error!(error = %e, "cannot draw the enrollment QR code");
            Zeroizing::new(String::new())
        }
    }
}
