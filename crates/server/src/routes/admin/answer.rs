//! Core's domain types as the operator routes' wire answers (`signet_api::admin`). Functions,
//! not `From` impls: both sides are other crates' types.

use signet_api::admin::{
    allowlist::{AllowlistAnswer, AllowlistEntryAnswer, AllowlistEntryId},
    audit::{AuditRecordAnswer, VerifyAnswer},
    budget::{BudgetsAnswer, MachineBudgetAnswer},
    machine::MachineAnswer,
    project::ProjectAnswer,
    secret::{SecretAnswer, VersionAnswer},
    token::{EnrollmentTokenAnswer, EnrollmentTokenId},
    user::UserAnswer,
    vault::VaultAnswer,
};
use signet_core::account::UserView;
use signet_core::audit::{AuditView, VerifyReport};
use signet_core::budget::BudgetView;
use signet_core::enrollment::EnrollmentTokenView;
use signet_core::machine::MachineView;
use signet_core::network::{AllowlistView, EntryView};
use signet_core::secret::{ProjectView, SecretView, VersionView};
use signet_core::vault::VaultView;
use zeroize::Zeroizing;

pub(super) fn project(p: ProjectView) -> ProjectAnswer {
    ProjectAnswer {
        id: p.id,
        name: p.name,
        created_at: p.created_at,
    }
}

pub(super) fn secret(s: SecretView) -> SecretAnswer {
    SecretAnswer {
        id: s.id,
        name: s.name,
        project_id: s.project_id,
        kind: s.kind.to_owned(),
        field_names: s.field_names,
        version: s.version,
        created_at: s.created_at,
        updated_at: s.updated_at,
    }
}

pub(super) fn version(v: VersionView) -> VersionAnswer {
    VersionAnswer {
        version: v.version,
        value_version: v.value_version,
        kind: v.kind.to_owned(),
        field_names: v.field_names,
        created_by: v.created_by,
        created_at: v.created_at,
    }
}

pub(super) fn enrollment_token(t: EnrollmentTokenView) -> EnrollmentTokenAnswer {
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

pub(super) fn machine(m: MachineView) -> MachineAnswer {
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

pub(super) fn allowlist(a: AllowlistView) -> AllowlistAnswer {
    AllowlistAnswer {
        enabled: a.enabled,
        entries: a.entries.into_iter().map(allowlist_entry).collect(),
    }
}

pub(super) fn allowlist_entry(e: EntryView) -> AllowlistEntryAnswer {
    AllowlistEntryAnswer {
        id: AllowlistEntryId(e.id),
        cidr: e.cidr,
        label: e.label,
        created_at: e.created_at,
    }
}

pub(super) fn budgets(b: BudgetView) -> BudgetsAnswer {
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

pub(super) fn vault(v: VaultView) -> VaultAnswer {
    VaultAnswer {
        vault_id: v.vault_id,
        tokenless_enrollment: v.tokenless_enrollment,
        ip_allowlist_enabled: v.ip_allowlist_enabled,
        cli_key_ttl_ms: v.cli_key_ttl_ms,
        require_enrollment_proof: v.require_enrollment_proof,
        created_at: v.created_at,
    }
}

pub(super) fn audit_record(r: AuditView) -> AuditRecordAnswer {
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
    }
}

pub(super) fn verify(r: VerifyReport) -> VerifyAnswer {
    VerifyAnswer {
        ok: r.ok,
        records: r.records,
        head_seq: r.head_seq,
        first_bad_seq: r.first_bad_seq,
        problem: r.problem,
    }
}

pub(super) fn user(u: UserView) -> UserAnswer {
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
