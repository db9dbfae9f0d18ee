//! Records and setups the suite builds on: valid, distinct, and boring.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use signet_proto::{
    MachineId, OperatorId, ProjectId, PublicKey, SecretId, SecretSeed, UserId, VaultId,
};

use crate::{
    ActorKind, AllowlistEntry, AuditChain, AuditEvent, AuditRecord, AuditResult,
    BootstrapTokenRecord, EnrollMethod, EnrollmentTokenRecord, MachineKind, MachineRecord,
    MachineStatus, NewVersion, OperatorRecord, ProjectRecord, Role, SecretKind, SecretRecord,
    Store, UserRecord, UserStatus, VaultRecord, VersionContent,
};

/// A fixed "now" for records and token checks. Nonce expiry is judged by the backend's own
/// clock, so nonce tests use times far in the past or future instead.
pub const NOW: i64 = 1_750_000_000_000;

/// An hour, in ms.
pub const HOUR: i64 = 3_600_000;

/// Far in the future of any clock the tests run under (year 2286).
pub const FAR_FUTURE: i64 = 9_999_999_999_999;

/// 32 random bytes, for token digests.
pub fn random32() -> [u8; 32] {
    let mut out = [0; 32];
    getrandom::fill(&mut out).unwrap();
    out
}

/// A fresh, valid Ed25519 public key.
pub fn key() -> PublicKey {
    SecretSeed::generate().public_key()
}

/// A vault.
pub fn vault() -> VaultRecord {
    VaultRecord {
        id: VaultId::generate(),
        key_check: vec![7; 16],
        tokenless_enrollment: false,
        ip_allowlist_enabled: false,
        created_ms: NOW,
        cli_key_ttl_ms: 12 * HOUR,
        enrollment_proof_required: false,
        sso_required: false,
        break_glass_user: None,
        sso_trust_provider_mfa: false,
    }
}

/// An enabled, non-owner operator.
pub fn operator(name: &str, created_ms: i64) -> OperatorRecord {
    OperatorRecord {
        id: OperatorId::generate(),
        name: name.to_owned(),
        public_key: key(),
        owner: false,
        disabled: false,
        created_ms,
        user_id: None,
        expires_ms: None,
    }
}

/// An active developer without TOTP, named after `name` (already canonical).
pub fn user(name: &str, created_ms: i64) -> UserRecord {
    UserRecord {
        id: UserId::generate(),
        username: name.to_owned(),
        email: format!("{name}@example.test"),
        display_name: name.to_uppercase(),
        password_hash: format!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA${name}"),
        totp_sealed: None,
        totp_last_step: 0,
        totp_confirmed: false,
        role: Role::Developer,
        projects: None,
        status: UserStatus::Active,
        failed_attempts: 0,
        locked_until_ms: None,
        created_ms,
    }
}

/// A project whose wrapped key is recognisably its own.
pub fn project(name: &str) -> ProjectRecord {
    ProjectRecord {
        key_generation: 0,
        id: ProjectId::generate(),
        name: name.to_owned(),
        wrapped_key: format!("pk:{name}").into_bytes(),
        created_ms: NOW,
        frozen_ms: None,
        root_generation: 0,
    }
}

/// A pending standard machine registered with a bootstrap token.
pub fn machine(name: &str) -> MachineRecord {
    MachineRecord {
        id: MachineId::generate(),
        name: name.to_owned(),
        hostname: format!("{name}.example"),
        public_key: key(),
        status: MachineStatus::Pending,
        enabled: true,
        kind: MachineKind::Standard,
        expires_ms: None,
        enrolled_via: EnrollMethod::Bootstrap,
        enrollment_token_id: None,
        registered_ip: "192.0.2.10".to_owned(),
        allowed_cidrs: Vec::new(),
        created_ms: NOW,
        ai_agent: None,
    }
}

/// A sealed value whose bytes are recognisably `tag`'s.
pub fn sealed(tag: u8) -> VersionContent {
    VersionContent::Sealed {
        wrapped_dek: vec![tag; 8],
        ciphertext: vec![tag; 24],
    }
}

/// A standard version with the given content.
pub fn version(content: VersionContent, created_ms: i64) -> NewVersion {
    NewVersion {
        key_generation: 0,
        kind: SecretKind::Standard,
        field_names: None,
        content,
        created_by: "op".to_owned(),
        created_ms,
        changed_fields: None,
    }
}

/// A live standard secret at version 1, and that version (sealed with tag 1).
pub fn secret(project: &ProjectId, name: &str) -> (SecretRecord, NewVersion) {
    let record = SecretRecord {
        id: SecretId::generate(),
        project_id: project.clone(),
        name: name.to_owned(),
        kind: SecretKind::Standard,
        field_names: None,
        current_version: 1,
        created_ms: NOW,
        updated_ms: NOW,
        deleted_ms: None,
        canary: false,
    };
    (record, version(sealed(1), NOW))
}

/// An unused bootstrap token.
pub fn bootstrap_token(expires_ms: i64) -> BootstrapTokenRecord {
    BootstrapTokenRecord {
        id: format!("bt_{}", SecretId::generate().as_str()),
        token_hash: random32(),
        created_by: OperatorId::generate(),
        created_ms: NOW,
        expires_ms,
        used_ms: None,
    }
}

/// An unused enrollment token with no projects or secrets.
pub fn enrollment_token(max_uses: u32, expires_ms: i64) -> EnrollmentTokenRecord {
    EnrollmentTokenRecord {
        id: format!("et_{}", SecretId::generate().as_str()),
        token_hash: random32(),
        name: "ci runners".to_owned(),
        project_ids: Vec::new(),
        secret_ids: Vec::new(),
        max_uses,
        uses: 0,
        expires_ms,
        machine_ttl_secs: 3600,
        source_cidr: Some("10.0.0.0/8".to_owned()),
        hostname_pattern: Some("ci-[0-9]+".to_owned()),
        created_by: OperatorId::generate(),
        created_ms: NOW,
        revoked_ms: None,
    }
}

/// A machine as an enrollment token would create it.
pub fn ephemeral_machine(name: &str, token: &EnrollmentTokenRecord) -> MachineRecord {
    MachineRecord {
        status: MachineStatus::Approved,
        kind: MachineKind::Ephemeral,
        expires_ms: Some(NOW + HOUR),
        enrolled_via: EnrollMethod::Enrollment,
        enrollment_token_id: Some(token.id.clone()),
        ..machine(name)
    }
}

/// An allowlist entry.
pub fn allowlist_entry(cidr: &str, created_ms: i64) -> AllowlistEntry {
    AllowlistEntry {
        id: format!("ip_{}", SecretId::generate().as_str()),
        cidr: cidr.to_owned(),
        label: format!("net {cidr}"),
        created_ms,
    }
}

/// An audit event.
pub fn event(actor_id: &str, action: &str, result: AuditResult) -> AuditEvent {
    AuditEvent {
        ts_ms: NOW,
        actor_kind: ActorKind::Machine,
        actor_id: actor_id.to_owned(),
        action: action.to_owned(),
        target: "sk_0123456789".to_owned(),
        source_ip: "192.0.2.10".to_owned(),
        result,
        detail: String::new(),
        evidence: None,
    }
}

/// A deterministic chain over every field of the event, so a backend that hands `link` the
/// wrong predecessor, sequence number or event is caught. Not cryptographic, and need not be.
pub struct TestChain;

impl AuditChain for TestChain {
    fn link(&self, prev: &[u8; 32], seq: u64, event: &AuditEvent) -> [u8; 32] {
        let mut out = [0; 32];
        for (lane, chunk) in (0_u8..).zip(out.chunks_mut(8)) {
            let mut h = DefaultHasher::new();
            (
                lane,
                prev,
                seq,
                event.ts_ms,
                event.actor_kind.as_str(),
                &event.actor_id,
                &event.action,
            )
                .hash(&mut h);
            (
                &event.target,
                &event.source_ip,
                event.result.as_str(),
                &event.detail,
                event.evidence.as_ref().map(|e| e.to_bytes()),
            )
                .hash(&mut h);
            chunk.copy_from_slice(&h.finish().to_le_bytes());
        }
        out
    }
}

/// The test chain, shared as the trait wants it.
pub fn chain() -> Arc<dyn AuditChain> {
    Arc::new(TestChain)
}

/// Asserts that `records` are consecutive from seq 1 and each links to the one before.
pub fn assert_chain(records: &[AuditRecord]) {
    let mut prev = [0; 32];
    for (expected_seq, r) in (1_u64..).zip(records) {
        assert_eq!(r.seq, expected_seq, "sequence numbers are gapless from 1");
        assert_eq!(
            r.prev_hash, prev,
            "record {} links to its predecessor",
            r.seq
        );
        assert_eq!(
            r.hash,
            TestChain.link(&prev, r.seq, &r.event),
            "record {} hash",
            r.seq
        );
        prev = r.hash;
    }
}

/// Inserts a project.
pub async fn add_project(store: &Arc<dyn Store>, name: &str) -> ProjectRecord {
    let p = project(name);
    store.insert_project(&p).await.unwrap();
    p
}

/// Inserts a live secret at version 1.
pub async fn add_secret(store: &Arc<dyn Store>, project: &ProjectId, name: &str) -> SecretRecord {
    let (s, first) = secret(project, name);
    store.insert_secret(&s, &first).await.unwrap();
    s
}

/// Inserts an approved machine.
pub async fn add_machine(store: &Arc<dyn Store>, name: &str) -> MachineRecord {
    let m = MachineRecord {
        status: MachineStatus::Approved,
        ..machine(name)
    };
    store.insert_machine(&m).await.unwrap();
    m
}
