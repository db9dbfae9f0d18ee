//! Leased secrets (issue 12 §1): a secret whose machine read mints a PostgreSQL login role for
//! that machine, and the leases that record those roles until the server revokes them.
//!
//! # The read
//!
//! A leased secret is stored as a structured secret (its placeholder value names the fields
//! but holds no credential) plus a `leased_secrets` row. `crate::read` runs every usual check
//! (grant, freeze, access policy) first and then comes here: the machine's active lease is
//! answered (renewed first with renew-on-read, never past its hard maximum), or, with
//! mint-fresh or none active, a role is minted. The answer is the usual read answer whose value
//! is the JSON object `{"username","password","host","port","database","expiresAt"}` (strings,
//! like every structured secret's fields).
//!
//! Racing first reads by one machine (not mint-fresh) share one lease: the store keeps one
//! reusable active lease per machine and secret, so the insert that comes second is refused;
//! its read drops the role it just minted and answers the lease that won.
//!
//! Minting is fail-closed: the role is created (with `VALID UNTIL`, a second line of defence)
//! and granted in one database transaction; then the lease row and its `lease_create` record
//! commit together; then the `secret_read` record. If the row cannot be written the role is
//! dropped and the answer is 503; a mint the database refuses (down, bad grant SQL) is a 503
//! with no role left.
//!
//! # Revocation, exactly once
//!
//! The server enforces expiry itself, whatever PostgreSQL's clock or `VALID UNTIL` say: every
//! replica runs [`Leases::reap`] on a timer. A due lease is claimed with a conditional update
//! (`active` → `revoking` with a claim deadline), its role dropped (sessions terminated), then
//! marked `revoked` with its `lease_revoke` record in one transaction conditional on the claim.
//! A drop that fails leaves the claim to lapse; the next reaper after the deadline retries.
//! All state is in the store, so what fell due while every replica was down is found at start.

use std::sync::Arc;

use signet_api::audit::AuditAction;
use signet_crypto::generator::{Charset, Generator};
use signet_crypto::{ProjectKey, RecordAad, RecordKind, SealedValue, SecretAad};
use signet_proto::{ConnectionId, LeaseId, MachineId, ProjectId, SecretId};
use signet_store::{
    AuditResult, Conflict, LeaseFilter, LeaseRecord, LeaseState, LeasedSecretRecord, NewVersion,
    ReadMark, SecretKind, SecretReadView, SecretRecord, StoreError, VersionContent,
};
use zeroize::Zeroizing;

use crate::connection::Connections;
use crate::context::Context;
use crate::journal::Actor;
use crate::principal::{AuthedMachine, AuthedOperator};
use crate::role::Permission;
use crate::{CoreError, CoreResult};

/// Shortest lifetime: 60 s.
pub const MIN_TTL_SECS: u64 = 60;
/// Longest lifetime and hard maximum: 30 days.
pub const MAX_TTL_SECS: u64 = 30 * 24 * 3600;
/// Most grant statements per leased secret.
pub const MAX_GRANT_STATEMENTS: usize = 32;
/// Longest grant statement, bytes.
pub const MAX_GRANT_BYTES: usize = 4096;
/// How long a reaper's claim holds before another replica may retry the drop.
pub const CLAIM_MS: i64 = 60_000;
/// Most leases one reaper tick revokes.
pub const REAP_BATCH: u32 = 100;
/// Most leases a listing answers.
pub const LIST_LIMIT: u32 = 1000;
/// The field names of a leased secret's value, sorted as structured secrets keep them.
pub const LEASE_FIELDS: [&str; 6] = [
    "database",
    "expiresAt",
    "host",
    "password",
    "port",
    "username",
];

/// Lease settings as an operator sends them.
#[derive(Debug, Clone)]
pub struct LeaseSettingsInput {
    /// The connection id, in the secret's project.
    pub connection: String,
    /// Lifetime of a lease and of each renewal, seconds (60 s - 30 d).
    pub ttl_secs: u64,
    /// Hard maximum from minting, seconds (at least `ttl_secs`, at most 30 d).
    pub max_ttl_secs: u64,
    /// A read of the active lease extends it.
    pub renew_on_read: bool,
    /// Every read mints a fresh role.
    pub mint_fresh: bool,
    /// Disabling or deleting the machine revokes its leases of this secret.
    pub revoke_on_disable: bool,
    /// Password length (`None`: 32).
    pub password_length: Option<u32>,
    /// Password charset name (`None`: `alphanumeric`).
    pub password_charset: Option<String>,
    /// The grant statements (module docs of `signet-database`: `{{name}}` is the role).
    pub grant_sql: Vec<String>,
}

/// A leased secret's settings as operators see them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeasedSecretView {
    /// The secret.
    pub secret_id: SecretId,
    /// Its connection.
    pub connection_id: ConnectionId,
    /// Seconds.
    pub ttl_secs: u64,
    /// Seconds.
    pub max_ttl_secs: u64,
    /// Renew on read.
    pub renew_on_read: bool,
    /// Mint fresh on every read.
    pub mint_fresh: bool,
    /// Revoke on machine disable.
    pub revoke_on_disable: bool,
    /// Password length.
    pub password_length: u32,
    /// Password charset.
    pub password_charset: String,
    /// Grant statements.
    pub grant_sql: Vec<String>,
    /// Unix ms.
    pub updated_ms: i64,
}

impl From<LeasedSecretRecord> for LeasedSecretView {
    fn from(r: LeasedSecretRecord) -> Self {
        Self {
            secret_id: r.secret_id,
            connection_id: r.connection_id,
            ttl_secs: u64::try_from(r.ttl_ms / 1000).unwrap_or_default(),
            max_ttl_secs: u64::try_from(r.max_ttl_ms / 1000).unwrap_or_default(),
            renew_on_read: r.renew_on_read,
            mint_fresh: r.mint_fresh,
            revoke_on_disable: r.revoke_on_disable,
            password_length: r.password_length,
            password_charset: r.password_charset,
            grant_sql: r.grant_sql,
            updated_ms: r.updated_ms,
        }
    }
}

/// A lease as operators see it (never its password).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseView {
    /// Its id.
    pub id: LeaseId,
    /// The leased secret.
    pub secret_id: SecretId,
    /// Its project.
    pub project_id: ProjectId,
    /// The machine it was minted for.
    pub machine_id: MachineId,
    /// The connection.
    pub connection_id: ConnectionId,
    /// The role's name.
    pub role_name: String,
    /// Unix ms.
    pub created_ms: i64,
    /// Unix ms.
    pub expires_ms: i64,
    /// Unix ms.
    pub max_expires_ms: i64,
    /// Its state.
    pub state: LeaseState,
    /// Unix ms.
    pub revoked_ms: Option<i64>,
    /// Why it was revoked.
    pub revoke_reason: Option<String>,
}

impl From<LeaseRecord> for LeaseView {
    fn from(l: LeaseRecord) -> Self {
        Self {
            id: l.id,
            secret_id: l.secret_id,
            project_id: l.project_id,
            machine_id: l.machine_id,
            connection_id: l.connection_id,
            role_name: l.role_name,
            created_ms: l.created_ms,
            expires_ms: l.expires_ms,
            max_expires_ms: l.max_expires_ms,
            state: l.state,
            revoked_ms: l.revoked_ms,
            revoke_reason: l.revoke_reason,
        }
    }
}

/// Why a lease was revoked, as its record says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokeReason {
    /// Past its expiry (the reaper).
    Expired,
    /// An operator revoked it.
    Operator,
    /// Its machine was disabled or deleted.
    MachineDisabled,
}

impl RevokeReason {
    /// The stored text.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Expired => "expired",
            Self::Operator => "operator",
            Self::MachineDisabled => "machine_disabled",
        }
    }
}

/// The shortest lifetime accepted: [`MIN_TTL_SECS`], or 1 s in a test build with the fault
/// point `lease_short_lifetimes` armed, so end-to-end tests watch a real server's reaper revoke
/// a lease without waiting out a minute (a release build has no fault points).
fn min_ttl_secs() -> u64 {
    fail::fail_point!("lease_short_lifetimes", |_| 1);
    MIN_TTL_SECS
}

fn secs_to_ms(secs: u64) -> i64 {
    i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX)
}

/// Checks settings and turns them into a record for `secret` (the connection's project is
/// checked by the store's write).
fn settings_record(
    secret: &SecretId,
    input: &LeaseSettingsInput,
    now_ms: i64,
) -> CoreResult<LeasedSecretRecord> {
    let connection = ConnectionId::parse(&input.connection)
        .map_err(|_| CoreError::bad("connection: not a connection id"))?;
    let min = min_ttl_secs();
    if !(min..=MAX_TTL_SECS).contains(&input.ttl_secs) {
        return Err(CoreError::bad(format!(
            "ttlSecs must be {min}-{MAX_TTL_SECS}"
        )));
    }
    if input.max_ttl_secs < input.ttl_secs || input.max_ttl_secs > MAX_TTL_SECS {
        return Err(CoreError::bad(format!(
            "maxTtlSecs must be at least ttlSecs and at most {MAX_TTL_SECS}"
        )));
    }
    let charset_name = input.password_charset.as_deref().unwrap_or("alphanumeric");
    let charset = Charset::parse(charset_name)
        .ok_or_else(|| CoreError::bad("passwordCharset: unknown charset"))?;
    let generator = Generator::new(Some(input.password_length.unwrap_or(32)), charset)
        .map_err(|e| CoreError::bad(format!("passwordLength: {e}")))?;
    if generator.length() < 16 {
        return Err(CoreError::bad("passwordLength must be at least 16"));
    }
    if input.grant_sql.is_empty() || input.grant_sql.len() > MAX_GRANT_STATEMENTS {
        return Err(CoreError::bad(format!(
            "grantSql must hold 1-{MAX_GRANT_STATEMENTS} statements"
        )));
    }
    for s in &input.grant_sql {
        if s.trim().is_empty() || s.len() > MAX_GRANT_BYTES || s.contains('\0') {
            return Err(CoreError::bad(format!(
                "each grantSql statement must be 1-{MAX_GRANT_BYTES} bytes"
            )));
        }
    }
    Ok(LeasedSecretRecord {
        secret_id: secret.clone(),
        connection_id: connection,
        ttl_ms: secs_to_ms(input.ttl_secs),
        max_ttl_ms: secs_to_ms(input.max_ttl_secs),
        renew_on_read: input.renew_on_read,
        mint_fresh: input.mint_fresh,
        revoke_on_disable: input.revoke_on_disable,
        password_length: generator.length(),
        password_charset: charset.as_str().to_owned(),
        grant_sql: input.grant_sql.clone(),
        updated_ms: now_ms,
    })
}

/// A role name: `signet_` and 24 random hex digits (`[a-z0-9_]`, well under 63 bytes).
fn role_name() -> CoreResult<String> {
    let g = Generator::new(Some(24), Charset::Hex).map_err(|_| CoreError::Unavailable)?;
    let suffix = g.generate().map_err(|_| CoreError::Unavailable)?;
    Ok(format!("signet_{}", suffix.as_str()))
}

fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// A leased secret's value, field names as the SikkerKey SDKs read a structured secret's.
#[derive(serde::Serialize)]
struct Credentials<'a> {
    username: &'a str,
    password: &'a str,
    host: &'a str,
    port: String,
    database: &'a str,
    #[serde(rename = "expiresAt")]
    expires_at: String,
}

/// Binds a lease's sealed password to its vault, project and lease.
fn lease_aad<'a>(cx: &'a Context, project: &'a str, lease: &'a str) -> RecordAad<'a> {
    RecordAad {
        vault: cx.vault.as_str(),
        project,
        kind: RecordKind::LeasePassword,
        id: lease,
    }
}

impl Context {
    /// Claims, drops and finishes one lease (module docs). `Ok(false)`: another claim holds it
    /// or it is revoked already. A failed drop is `Unavailable` and leaves the claim to lapse.
    pub(crate) async fn revoke_lease(
        &self,
        lease: &LeaseRecord,
        reason: RevokeReason,
        actor: &Actor,
    ) -> CoreResult<bool> {
        let now = self.now_ms();
        let claim = now + CLAIM_MS;
        match self.store.claim_lease(&lease.id, now, claim).await {
            Ok(()) => {}
            Err(StoreError::NotFound) => return Ok(false),
            Err(e) => return Err(e.into()),
        }
        let connection = self
            .store
            .connection(&lease.connection_id)
            .await?
            .ok_or_else(|| {
                tracing::error!(lease = %lease.id, "a lease's connection is gone");
                CoreError::Unavailable
            })?;
        let admin = self.admin_target(&connection).await?;
        if let Err(e) = self
            .config
            .provisioner
            .drop_role(&admin, &lease.role_name)
            .await
        {
            tracing::warn!(lease = %lease.id, class = e.class, "dropping a lease's role failed; retried after the claim lapses");
            return Err(CoreError::Unavailable);
        }
        let e = self.event(
            actor,
            AuditAction::LeaseRevoke,
            lease.id.as_str(),
            AuditResult::Ok,
            &format!(
                "reason={} secret={} machine={} role={}",
                reason.as_str(),
                lease.secret_id,
                lease.machine_id,
                lease.role_name
            ),
        );
        match self
            .audited_event(e)
            .finish_lease(&lease.id, claim, self.now_ms(), reason.as_str())
            .await
        {
            Ok(()) => {
                self.metrics.lease_revoked();
                Ok(true)
            }
            // The claim lapsed meanwhile and another replica took over: it finishes (its drop
            // is idempotent) and writes the one record.
            Err(StoreError::NotFound) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Revokes the leases of `machine` whose secret revokes on machine disable; best effort
    /// per lease (a failure is logged and left to the reaper's expiry). Answers how many.
    pub(crate) async fn revoke_machine_leases(&self, machine: &MachineId, actor: &Actor) -> u32 {
        let leases = match self.store.disable_revocable_leases(machine).await {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(error = %e, %machine, "listing a disabled machine's leases failed");
                return 0;
            }
        };
        let mut n = 0;
        for l in &leases {
            match self
                .revoke_lease(l, RevokeReason::MachineDisabled, actor)
                .await
            {
                Ok(true) => n += 1,
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(lease = %l.id, error = %e, "revoking a disabled machine's lease failed")
                }
            }
        }
        n
    }

    /// The value of a machine's read of a leased secret (module docs). Runs after every check
    /// of `crate::read`; writes the read's own record and mark.
    pub(crate) async fn read_leased(
        &self,
        m: &AuthedMachine,
        view: &SecretReadView,
        settings: &LeasedSecretRecord,
    ) -> CoreResult<Zeroizing<String>> {
        let s = &view.secret;
        let now = self.now_ms();
        let key = self
            .unwrap_project_key(
                &s.project_id,
                &view.wrapped_project_key,
                view.project_root_generation,
            )
            .await?;
        let connection = self
            .store
            .connection(&settings.connection_id)
            .await?
            .ok_or(CoreError::Unavailable)?;
        let admin = self.admin_target(&connection).await?;
        let who = Actor::machine(m);
        let active = if settings.mint_fresh {
            None
        } else {
            // A lease minted before the secret moved to another connection holds a role on the
            // old database: answering it with the new connection's address would hand out
            // credentials that do not work there. It is left to expire; this read mints anew.
            self.store
                .active_lease(&m.record.id, &s.id, now)
                .await?
                .filter(|l| l.connection_id == settings.connection_id)
        };
        let (lease, password) = match active {
            Some(l) => {
                let l = renew_on_read(self, &who, &admin, settings, l, now).await?;
                let pw = open_password(self, &key, &l)?;
                (l, pw)
            }
            None => {
                let key = (&key, view.project_key_generation);
                mint(self, &who, m.record.id, key, &admin, s, settings, now).await?
            }
        };
        // Serialised from borrowed fields straight into zeroizing memory: no other copy of the
        // password is made on the way.
        let text = Zeroizing::new(
            serde_json::to_string(&Credentials {
                username: &lease.role_name,
                password: &password,
                host: &connection.host,
                port: connection.port.to_string(),
                database: &connection.database,
                expires_at: rfc3339(lease.expires_ms),
            })
            .map_err(|_| CoreError::Unavailable)?,
        );
        let e = self.event(
            &who,
            AuditAction::SecretRead,
            s.id.as_str(),
            AuditResult::Ok,
            &format!("version={} lease={}", s.current_version, lease.id),
        );
        let mark = ReadMark {
            machine: m.record.id,
            secret: s.id.clone(),
            version: s.current_version,
        };
        // Fail closed: the credentials leave only after the read's record is durable.
        self.journal(vec![e], vec![mark]).await?;
        Ok(text)
    }

    /// Moves a lease's expiry (the role's `VALID UNTIL` first, then the row with its
    /// `lease_renew` record).
    pub(crate) async fn extend(
        &self,
        who: &Actor,
        admin: &crate::provision::DbTarget,
        lease: &LeaseRecord,
        expires_ms: i64,
        now: i64,
    ) -> CoreResult<()> {
        if let Err(e) = self
            .config
            .provisioner
            .set_valid_until(admin, &lease.role_name, expires_ms)
            .await
        {
            tracing::warn!(lease = %lease.id, class = e.class, "renewing a lease's VALID UNTIL failed");
            return Err(CoreError::Unavailable);
        }
        let e = self.event(
            who,
            AuditAction::LeaseRenew,
            lease.id.as_str(),
            AuditResult::Ok,
            &format!("expires={}", rfc3339(expires_ms)),
        );
        match self
            .audited_event(e)
            .renew_lease(&lease.id, expires_ms, now)
            .await
        {
            Ok(()) => Ok(()),
            Err(StoreError::NotFound) => Err(CoreError::Conflict(Conflict::LeaseState)),
            Err(e) => Err(e.into()),
        }
    }
}

/// A recorded lease's password, opened with its project's key.
fn open_password(cx: &Context, key: &ProjectKey, l: &LeaseRecord) -> CoreResult<Zeroizing<String>> {
    let sealed = SealedValue {
        wrapped_dek: l.password_wrapped_dek.clone(),
        ciphertext: l.password_ciphertext.clone(),
    };
    let plain = key
        .open_record(
            &lease_aad(cx, l.project_id.as_str(), l.id.as_str()),
            &sealed,
        )
        .map_err(|_| CoreError::Unavailable)?;
    let pw = String::from_utf8(plain.to_vec()).map_err(|_| CoreError::Unavailable)?;
    Ok(Zeroizing::new(pw))
}

async fn renew_on_read(
    cx: &Context,
    who: &Actor,
    admin: &crate::provision::DbTarget,
    settings: &LeasedSecretRecord,
    mut lease: LeaseRecord,
    now: i64,
) -> CoreResult<LeaseRecord> {
    let want = (now + settings.ttl_ms).min(lease.max_expires_ms);
    if !settings.renew_on_read || want <= lease.expires_ms {
        return Ok(lease);
    }
    cx.extend(who, admin, &lease, want, now).await?;
    lease.expires_ms = want;
    Ok(lease)
}

#[allow(clippy::too_many_arguments)]
async fn mint(
    cx: &Context,
    who: &Actor,
    machine: MachineId,
    key: (&ProjectKey, u32),
    admin: &crate::provision::DbTarget,
    s: &SecretRecord,
    settings: &LeasedSecretRecord,
    now: i64,
) -> CoreResult<(LeaseRecord, Zeroizing<String>)> {
    let charset = Charset::parse(&settings.password_charset).ok_or(CoreError::Unavailable)?;
    let password = Generator::new(Some(settings.password_length), charset)
        .and_then(|g| g.generate())
        .map_err(|_| CoreError::Unavailable)?;
    let role = role_name()?;
    let id = LeaseId::generate();
    let expires = now + settings.ttl_ms;
    let max = now + settings.max_ttl_ms;
    let p = &cx.config.provisioner;
    if let Err(e) = p
        .create_role(admin, &role, &password, expires, &settings.grant_sql)
        .await
    {
        tracing::warn!(secret = %s.id, class = e.class, "minting a lease failed");
        let e = cx.event(
            who,
            AuditAction::LeaseCreate,
            s.id.as_str(),
            AuditResult::Failed,
            &format!("class={}", e.class),
        );
        cx.journal(vec![e], Vec::new()).await?;
        return Err(CoreError::Unavailable);
    }
    let (key, key_generation) = key;
    let sealed = key.seal_record(
        &lease_aad(cx, s.project_id.as_str(), id.as_str()),
        password.as_bytes(),
    );
    let record = sealed.map(|sealed| LeaseRecord {
        id: id.clone(),
        secret_id: s.id.clone(),
        project_id: s.project_id.clone(),
        machine_id: machine,
        connection_id: settings.connection_id.clone(),
        role_name: role.clone(),
        password_wrapped_dek: sealed.wrapped_dek,
        password_ciphertext: sealed.ciphertext,
        key_generation,
        created_ms: now,
        expires_ms: expires,
        max_expires_ms: max,
        state: LeaseState::Active,
        claim_until_ms: None,
        revoked_ms: None,
        revoke_reason: None,
    });
    let written = match record {
        Ok(r) => {
            let e = cx.event(
                who,
                AuditAction::LeaseCreate,
                id.as_str(),
                AuditResult::Ok,
                &format!("secret={} role={} expires={}", s.id, role, rfc3339(expires)),
            );
            cx.audited_event(e).insert_lease(&r).await.map(|()| r)
        }
        Err(_) => Err(StoreError::Unavailable),
    };
    match written {
        Ok(r) => {
            cx.metrics.lease_created();
            Ok((r, password))
        }
        Err(StoreError::Conflict(Conflict::LeaseState)) => {
            // A racing first read of the same machine recorded its lease first (the store
            // holds one reusable lease per machine and secret): this role goes, that lease is
            // the answer, as if this read had come a moment later.
            if let Err(d) = p.drop_role(admin, &role).await {
                tracing::error!(class = d.class, role = %role, "dropping a lost race's role failed");
            }
            let won = cx
                .store
                .active_lease(&machine, &s.id, now)
                .await?
                .ok_or(CoreError::Unavailable)?;
            let password = open_password(cx, key, &won)?;
            Ok((won, password))
        }
        Err(e) => {
            // Fail closed: no record, no role.
            tracing::error!(error = %e, "recording a minted lease failed; dropping its role");
            if let Err(d) = p.drop_role(admin, &role).await {
                tracing::error!(class = d.class, role = %role, "dropping an unrecorded lease's role failed");
            }
            Err(CoreError::Unavailable)
        }
    }
}

/// Leased secrets and leases as operators manage them, and the reaper's tick.
#[derive(Clone)]
pub struct Leases {
    /// The shared store, keys, clock, audit writer and permission checks.
    pub(crate) cx: Arc<Context>,
    /// The database connections leases (and managed secrets) are made in; reached through
    /// here so `Signet` hands out one service per area.
    pub(crate) connections: Connections,
}

/// What the reaper's tick did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reaped {
    /// Leases this replica revoked.
    pub revoked: u32,
    /// Due leases whose drop failed (retried after their claim lapses).
    pub failed: u32,
}

impl Leases {
    /// Database connections: registered per project, their admin password sealed.
    pub fn connections(&self) -> &Connections {
        &self.connections
    }

    /// The live secret `id` in the operator's scope (audited refusal otherwise), and its
    /// project; `NotFound` if it does not exist.
    async fn secret(
        &self,
        op: &AuthedOperator,
        perm: Permission,
        id: &str,
        action: AuditAction,
    ) -> CoreResult<SecretRecord> {
        self.cx.require(op, perm, action).await?;
        let found = match SecretId::parse(id) {
            Ok(id) => self
                .cx
                .store
                .secret(&id)
                .await?
                .filter(|s| s.deleted_ms.is_none()),
            Err(_) => None,
        };
        self.cx
            .require_project(op, found.as_ref().map(|s| &s.project_id), action)
            .await?;
        found.ok_or(CoreError::NotFound)
    }

    /// Creates a leased secret: a structured secret whose stored value is a placeholder (the
    /// field names, no credential), and its settings. Audited `secret_create` and
    /// `leased_secret_set`.
    pub async fn create(
        &self,
        op: &AuthedOperator,
        project: &str,
        name: &str,
        input: &LeaseSettingsInput,
    ) -> CoreResult<(SecretRecord, LeasedSecretView)> {
        let action = AuditAction::SecretCreate;
        self.cx
            .require(op, Permission::WriteSecrets, action)
            .await?;
        let parsed = ProjectId::parse(project).ok();
        self.cx.require_project(op, parsed.as_ref(), action).await?;
        crate::name::check_secret_name(name)?;
        let project_id = parsed.ok_or_else(|| CoreError::bad("unknown project"))?;
        let project = self
            .cx
            .store
            .project(&project_id)
            .await?
            .ok_or_else(|| CoreError::bad("unknown project"))?;
        let id = SecretId::generate();
        let now = self.cx.now_ms();
        let settings = settings_record(&id, input, now)?;
        let connection = self
            .cx
            .store
            .connection(&settings.connection_id)
            .await?
            .filter(|c| c.project_id == project_id)
            .ok_or_else(|| CoreError::bad("connection: no such connection in the project"))?;
        // The placeholder: what a value looks like, without one (an export or an operator's
        // view of the version shows this, never a credential).
        let placeholder = serde_json::json!({
            "database": connection.database,
            "expiresAt": "",
            "host": connection.host,
            "password": "",
            "port": connection.port.to_string(),
            "username": "",
        })
        .to_string();
        let key = self.cx.project_key(&project).await?;
        let aad = SecretAad {
            vault: self.cx.vault.as_str(),
            project: project_id.as_str(),
            secret: id.as_str(),
            version: 1,
        };
        let sealed = key
            .seal_value(&aad, placeholder.as_bytes())
            .map_err(|_| CoreError::Unavailable)?;
        let fields: Vec<String> = LEASE_FIELDS.iter().map(|f| (*f).to_owned()).collect();
        let first = NewVersion {
            kind: SecretKind::Structured,
            field_names: Some(fields.clone()),
            content: VersionContent::Sealed {
                wrapped_dek: sealed.wrapped_dek,
                ciphertext: sealed.ciphertext,
            },
            created_by: op.id.to_string(),
            created_ms: now,
            changed_fields: None,
            key_generation: project.key_generation,
        };
        let rec = SecretRecord {
            id: id.clone(),
            project_id: project_id.clone(),
            name: name.to_owned(),
            kind: SecretKind::Structured,
            field_names: Some(fields),
            current_version: 1,
            created_ms: now,
            updated_ms: now,
            deleted_ms: None,
            canary: false,
        };
        self.cx
            .audited(
                op,
                action,
                id.as_str(),
                &format!("project={project_id} version=1 leased=true"),
            )
            .insert_secret(&rec, &first)
            .await?;
        let view = self.write_settings(op, settings).await?;
        Ok((rec, view))
    }

    async fn write_settings(
        &self,
        op: &AuthedOperator,
        settings: LeasedSecretRecord,
    ) -> CoreResult<LeasedSecretView> {
        let detail = format!(
            "connection={} ttl={}s max={}s renew_on_read={} mint_fresh={} revoke_on_disable={} statements={}",
            settings.connection_id,
            settings.ttl_ms / 1000,
            settings.max_ttl_ms / 1000,
            settings.renew_on_read,
            settings.mint_fresh,
            settings.revoke_on_disable,
            settings.grant_sql.len()
        );
        match self
            .cx
            .audited(
                op,
                AuditAction::LeasedSecretSet,
                settings.secret_id.as_str(),
                &detail,
            )
            .set_leased_secret(&settings)
            .await
        {
            Ok(()) => Ok(settings.into()),
            Err(StoreError::NotFound) => Err(CoreError::bad(
                "connection: no such connection in the secret's project",
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// Replaces a leased secret's settings (existing leases keep their expiry and hard
    /// maximum). Audited `leased_secret_set`.
    pub async fn set(
        &self,
        op: &AuthedOperator,
        secret: &str,
        input: &LeaseSettingsInput,
    ) -> CoreResult<LeasedSecretView> {
        let action = AuditAction::LeasedSecretSet;
        let s = self
            .secret(op, Permission::WriteSecrets, secret, action)
            .await?;
        if self.cx.store.leased_secret(&s.id).await?.is_none() {
            return Err(CoreError::NotFound);
        }
        let settings = settings_record(&s.id, input, self.cx.now_ms())?;
        self.write_settings(op, settings).await
    }

    /// A leased secret's settings; `NotFound` for a secret that is not leased.
    pub async fn settings(
        &self,
        op: &AuthedOperator,
        secret: &str,
    ) -> CoreResult<LeasedSecretView> {
        let s = self
            .secret(op, Permission::Read, secret, AuditAction::LeaseList)
            .await?;
        self.cx
            .store
            .leased_secret(&s.id)
            .await?
            .map(LeasedSecretView::from)
            .ok_or(CoreError::NotFound)
    }

    /// Leases, newest first, optionally of one secret and/or machine; a scoped operator sees
    /// only its projects'. Malformed filters are 400.
    pub async fn list(
        &self,
        op: &AuthedOperator,
        secret: Option<&str>,
        machine: Option<&str>,
    ) -> CoreResult<Vec<LeaseView>> {
        let action = AuditAction::LeaseList;
        self.cx.require(op, Permission::Read, action).await?;
        let secret = secret
            .map(|s| SecretId::parse(s).map_err(|_| CoreError::bad("secret: not a secret id")))
            .transpose()?;
        let machine = machine
            .map(|m| {
                m.parse::<MachineId>()
                    .map_err(|_| CoreError::bad("machine: not a machine id"))
            })
            .transpose()?;
        let projects = match &op.scope {
            crate::role::Scope::All => None,
            crate::role::Scope::Projects(set) => Some(set.iter().cloned().collect()),
        };
        let filter = LeaseFilter {
            secret,
            machine,
            projects,
        };
        let rows = self.cx.store.leases(&filter, LIST_LIMIT).await?;
        Ok(rows.into_iter().map(LeaseView::from).collect())
    }

    /// The lease `id` in the operator's scope (audited refusal otherwise); `NotFound` if none.
    async fn lease(
        &self,
        op: &AuthedOperator,
        id: &str,
        action: AuditAction,
    ) -> CoreResult<LeaseRecord> {
        self.cx
            .require(op, Permission::WriteSecrets, action)
            .await?;
        let found = match LeaseId::parse(id) {
            Ok(id) => self.cx.store.lease(&id).await?,
            Err(_) => None,
        };
        self.cx
            .require_project(op, found.as_ref().map(|l| &l.project_id), action)
            .await?;
        found.ok_or(CoreError::NotFound)
    }

    /// Extends an active lease by `ttl_secs` from now (`None`: the secret's lifetime), never
    /// past its hard maximum; the role's `VALID UNTIL` moves too. 409 `lease_state` if it is
    /// expired or revoked. Audited `lease_renew`.
    pub async fn renew(
        &self,
        op: &AuthedOperator,
        id: &str,
        ttl_secs: Option<u64>,
    ) -> CoreResult<LeaseView> {
        let action = AuditAction::LeaseRenew;
        let lease = self.lease(op, id, action).await?;
        let now = self.cx.now_ms();
        if lease.state != LeaseState::Active || lease.expires_ms <= now {
            return Err(CoreError::Conflict(Conflict::LeaseState));
        }
        let ttl_ms = match ttl_secs {
            Some(t) if (min_ttl_secs()..=MAX_TTL_SECS).contains(&t) => secs_to_ms(t),
            Some(_) => {
                return Err(CoreError::bad(format!(
                    "ttlSecs must be {MIN_TTL_SECS}-{MAX_TTL_SECS}"
                )));
            }
            None => match self.cx.store.leased_secret(&lease.secret_id).await? {
                Some(s) => s.ttl_ms,
                None => return Err(CoreError::Conflict(Conflict::LeaseState)),
            },
        };
        let want = (now + ttl_ms).min(lease.max_expires_ms);
        if want <= lease.expires_ms {
            return Ok(lease.into());
        }
        let connection = self
            .cx
            .store
            .connection(&lease.connection_id)
            .await?
            .ok_or(CoreError::Unavailable)?;
        let admin = self.cx.admin_target(&connection).await?;
        self.cx
            .extend(&Actor::operator(op), &admin, &lease, want, now)
            .await?;
        Ok(LeaseView {
            expires_ms: want,
            ..lease.into()
        })
    }

    /// Revokes a lease now: drops its role and ends its sessions. A lease already revoked (or
    /// being revoked by a reaper) is answered as it is. Audited `lease_revoke reason=operator`.
    pub async fn revoke(&self, op: &AuthedOperator, id: &str) -> CoreResult<LeaseView> {
        let action = AuditAction::LeaseRevoke;
        let lease = self.lease(op, id, action).await?;
        if lease.state == LeaseState::Active {
            self.cx
                .revoke_lease(&lease, RevokeReason::Operator, &Actor::operator(op))
                .await?;
        }
        let now = self.cx.store.lease(&lease.id).await?.unwrap_or(lease);
        Ok(now.into())
    }

    /// One reaper tick: revokes every lease due now (past its expiry, or a lapsed claim), at
    /// most [`REAP_BATCH`]. Safe on every replica at once (module docs).
    pub async fn reap(&self) -> CoreResult<Reaped> {
        let due = self
            .cx
            .store
            .due_leases(self.cx.now_ms(), REAP_BATCH)
            .await?;
        let actor = Actor::new(signet_store::ActorKind::System, "lease-reaper", "");
        let mut out = Reaped::default();
        for lease in &due {
            match self
                .cx
                .revoke_lease(lease, RevokeReason::Expired, &actor)
                .await
            {
                Ok(true) => out.revoked += 1,
                Ok(false) => {}
                Err(e) => {
                    out.failed += 1;
                    tracing::warn!(lease = %lease.id, error = %e, "revoking a due lease failed");
                }
            }
        }
        Ok(out)
    }
}
