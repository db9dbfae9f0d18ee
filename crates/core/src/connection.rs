//! Database connections (issue 12 §1): a project registers the PostgreSQL server its leased
//! secrets mint roles in. The admin password is sealed under the project key like a secret
//! value (`RecordAad`, kind `ConnectionPassword`) and never leaves the server: no view, listing,
//! record or log carries it. Core reaches the database only through the `crate::provision::Provisioner` the
//! composition root installs (`SignetConfig::provisioner`); core itself links no driver.

use std::sync::Arc;

use signet_api::audit::AuditAction;
use signet_crypto::{ProjectKey, RecordAad, RecordKind, SealedValue};
use signet_proto::{ConnectionId, ProjectId};
use signet_store::{AuditResult, ConnectionRecord, ProjectRecord, TlsMode};
use zeroize::Zeroizing;

use crate::context::Context;
use crate::journal::Actor;
use crate::name::check_name;
use crate::principal::AuthedOperator;
use crate::provision::DbTarget;
use crate::role::Permission;
use crate::{CoreError, CoreResult};

/// Longest host name, database name or admin user accepted.
pub const MAX_FIELD: usize = 255;
/// Longest admin password accepted.
pub const MAX_PASSWORD: usize = 1024;

/// What an operator sends to create or change a connection. On update a `None` password keeps
/// the stored one.
pub struct ConnectionInput {
    /// Unique within the project.
    pub name: String,
    /// Host name or address.
    pub host: String,
    /// TCP port, 1-65535.
    pub port: u16,
    /// Database name.
    pub database: String,
    /// The admin role (needs `CREATEROLE`).
    pub admin_user: String,
    /// The admin role's password.
    pub admin_password: Option<Zeroizing<String>>,
    /// `disable`, `prefer`, `require` or `verify-full`, exactly.
    pub tls_mode: String,
}

/// A connection as operators see it: everything but the password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionView {
    /// Its id.
    pub id: ConnectionId,
    /// Its project.
    pub project_id: ProjectId,
    /// Its name.
    pub name: String,
    /// Host.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Database.
    pub database: String,
    /// Admin role.
    pub admin_user: String,
    /// TLS mode.
    pub tls_mode: TlsMode,
    /// Unix ms.
    pub created_ms: i64,
    /// Unix ms.
    pub updated_ms: i64,
}

impl From<ConnectionRecord> for ConnectionView {
    fn from(c: ConnectionRecord) -> Self {
        Self {
            id: c.id,
            project_id: c.project_id,
            name: c.name,
            host: c.host,
            port: c.port,
            database: c.database,
            admin_user: c.admin_user,
            tls_mode: c.tls_mode,
            created_ms: c.created_ms,
            updated_ms: c.updated_ms,
        }
    }
}

/// A field of text that lands in a connection string: non-empty, bounded, no control
/// characters (parse, don't normalise: nothing is trimmed). Nor whitespace, `=`, `'` or `\`:
/// agents (SikkerKey's CLI) put these fields into a libpq `key=value` string unquoted, where
/// `db host=evil.example` would add a key that wins and send the admin password elsewhere.
fn check_field(what: &str, value: &str) -> CoreResult<()> {
    if value.is_empty()
        || value.len() > MAX_FIELD
        || value
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || matches!(c, '=' | '\'' | '\\'))
    {
        return Err(CoreError::bad(format!(
            "{what} must be 1-{MAX_FIELD} characters without spaces, control characters, =, ' or \\"
        )));
    }
    Ok(())
}

impl Context {
    /// The project's key, unwrapped.
    pub(crate) async fn project_key(&self, project: &ProjectRecord) -> CoreResult<ProjectKey> {
        self.unwrap_project_key(&project.id, &project.wrapped_key, project.root_generation)
            .await
    }

    /// The project `id`; `Unavailable` if it is gone (a row that refers to it outlived it).
    pub(crate) async fn project_record(&self, id: &ProjectId) -> CoreResult<ProjectRecord> {
        self.store.project(id).await?.ok_or(CoreError::NotFound)
    }

    /// The admin target of a stored connection, its password opened.
    pub(crate) async fn admin_target(&self, c: &ConnectionRecord) -> CoreResult<DbTarget> {
        let project = self.project_record(&c.project_id).await?;
        let key = self.project_key(&project).await?;
        let aad = RecordAad {
            vault: self.vault.as_str(),
            project: c.project_id.as_str(),
            kind: RecordKind::ConnectionPassword,
            id: c.id.as_str(),
        };
        let sealed = SealedValue {
            wrapped_dek: c.password_wrapped_dek.clone(),
            ciphertext: c.password_ciphertext.clone(),
        };
        let plain = key.open_record(&aad, &sealed).map_err(|_| {
            tracing::error!(connection = %c.id, "connection password failed to decrypt");
            CoreError::Unavailable
        })?;
        let password = String::from_utf8(plain.to_vec()).map_err(|_| CoreError::Unavailable)?;
        Ok(DbTarget {
            host: c.host.clone(),
            port: c.port,
            database: c.database.clone(),
            user: c.admin_user.clone(),
            password: Zeroizing::new(password),
            tls: c.tls_mode,
        })
    }
}

/// Database connections as operators manage them.
#[derive(Clone)]
pub struct Connections {
    /// The shared store, keys, clock, audit writer and permission checks.
    pub(crate) cx: Arc<Context>,
}

impl Connections {
    /// The project, after the role and scope checks; `NotFound` if it does not exist.
    async fn project(
        &self,
        op: &AuthedOperator,
        perm: Permission,
        project: &str,
        action: AuditAction,
    ) -> CoreResult<ProjectRecord> {
        self.cx.require(op, perm, action).await?;
        let parsed = ProjectId::parse(project).ok();
        self.cx.require_project(op, parsed.as_ref(), action).await?;
        let id = parsed.ok_or(CoreError::NotFound)?;
        self.cx.project_record(&id).await
    }

    /// The connection `id` of `project`; another project's is `NotFound`, like a missing one.
    async fn connection_in(&self, project: &ProjectId, id: &str) -> CoreResult<ConnectionRecord> {
        let id = ConnectionId::parse(id).map_err(|_| CoreError::NotFound)?;
        match self.cx.store.connection(&id).await? {
            Some(c) if c.project_id == *project => Ok(c),
            _ => Err(CoreError::NotFound),
        }
    }

    async fn seal(
        &self,
        project: &ProjectRecord,
        id: &ConnectionId,
        password: &str,
    ) -> CoreResult<SealedValue> {
        let key = self.cx.project_key(project).await?;
        let aad = RecordAad {
            vault: self.cx.vault.as_str(),
            project: project.id.as_str(),
            kind: RecordKind::ConnectionPassword,
            id: id.as_str(),
        };
        key.seal_record(&aad, password.as_bytes())
            .map_err(|_| CoreError::Unavailable)
    }

    fn check(input: &ConnectionInput) -> CoreResult<TlsMode> {
        check_name("connection", &input.name)?;
        check_field("host", &input.host)?;
        check_field("database", &input.database)?;
        check_field("adminUser", &input.admin_user)?;
        if input.port == 0 {
            return Err(CoreError::bad("port must be 1-65535"));
        }
        if let Some(p) = &input.admin_password
            && (p.is_empty() || p.len() > MAX_PASSWORD)
        {
            return Err(CoreError::bad(format!(
                "adminPassword must be 1-{MAX_PASSWORD} bytes"
            )));
        }
        TlsMode::parse(&input.tls_mode).ok_or_else(|| {
            CoreError::bad("tlsMode must be one of disable, prefer, require, verify-full")
        })
    }

    /// A project's connections, by name.
    pub async fn list(
        &self,
        op: &AuthedOperator,
        project: &str,
    ) -> CoreResult<Vec<ConnectionView>> {
        let project = self
            .project(op, Permission::Read, project, AuditAction::DbConnectionList)
            .await?;
        Ok(self
            .cx
            .store
            .connections(&project.id)
            .await?
            .into_iter()
            .map(ConnectionView::from)
            .collect())
    }

    /// One connection.
    pub async fn show(
        &self,
        op: &AuthedOperator,
        project: &str,
        id: &str,
    ) -> CoreResult<ConnectionView> {
        let project = self
            .project(op, Permission::Read, project, AuditAction::DbConnectionList)
            .await?;
        Ok(self.connection_in(&project.id, id).await?.into())
    }

    /// Registers a connection; the password is required. Audited `db_connection_create`.
    pub async fn create(
        &self,
        op: &AuthedOperator,
        project: &str,
        input: ConnectionInput,
    ) -> CoreResult<ConnectionView> {
        let action = AuditAction::DbConnectionCreate;
        let project = self
            .project(op, Permission::WriteSecrets, project, action)
            .await?;
        let tls_mode = Self::check(&input)?;
        let password = input
            .admin_password
            .as_ref()
            .ok_or_else(|| CoreError::bad("adminPassword is required"))?;
        let id = ConnectionId::generate();
        let sealed = self.seal(&project, &id, password).await?;
        let now = self.cx.now_ms();
        let record = ConnectionRecord {
            id,
            project_id: project.id.clone(),
            name: input.name,
            host: input.host,
            port: input.port,
            database: input.database,
            admin_user: input.admin_user,
            tls_mode,
            password_wrapped_dek: sealed.wrapped_dek,
            password_ciphertext: sealed.ciphertext,
            key_generation: project.key_generation,
            created_ms: now,
            updated_ms: now,
        };
        let detail = format!("project={} name={:?}", project.id, record.name);
        self.cx
            .audited(op, action, record.id.as_str(), &detail)
            .insert_connection(&record)
            .await?;
        Ok(record.into())
    }

    /// Changes a connection; a `None` password keeps the stored one. Audited
    /// `db_connection_update` (with `password=changed` when it was replaced).
    pub async fn update(
        &self,
        op: &AuthedOperator,
        project: &str,
        id: &str,
        input: ConnectionInput,
    ) -> CoreResult<ConnectionView> {
        let action = AuditAction::DbConnectionUpdate;
        let project = self
            .project(op, Permission::WriteSecrets, project, action)
            .await?;
        let current = self.connection_in(&project.id, id).await?;
        let tls_mode = Self::check(&input)?;
        // The stored password goes only where it went before: moving the connection to another
        // server, user or weaker TLS needs the password typed again, so an operator cannot
        // redirect Signet to send the admin password to a host of their choosing.
        let moved = input.host != current.host
            || input.port != current.port
            || input.admin_user != current.admin_user
            || tls_mode != current.tls_mode;
        if moved && input.admin_password.is_none() {
            return Err(CoreError::bad(
                "adminPassword is required when host, port, adminUser or tlsMode changes",
            ));
        }
        // A kept password keeps the generation it was read with: if a rotation re-wrapped it
        // since, the store refuses the stale copy.
        let (wrapped_dek, ciphertext, key_generation, changed) = match &input.admin_password {
            Some(p) => {
                let s = self.seal(&project, &current.id, p).await?;
                (s.wrapped_dek, s.ciphertext, project.key_generation, true)
            }
            None => (
                current.password_wrapped_dek.clone(),
                current.password_ciphertext.clone(),
                current.key_generation,
                false,
            ),
        };
        let record = ConnectionRecord {
            name: input.name,
            host: input.host,
            port: input.port,
            database: input.database,
            admin_user: input.admin_user,
            tls_mode,
            password_wrapped_dek: wrapped_dek,
            password_ciphertext: ciphertext,
            key_generation,
            updated_ms: self.cx.now_ms(),
            ..current
        };
        let detail = format!(
            "name={:?}{}",
            record.name,
            if changed { " password=changed" } else { "" }
        );
        self.cx
            .audited(op, action, record.id.as_str(), &detail)
            .update_connection(&record)
            .await?;
        Ok(record.into())
    }

    /// Deletes a connection; 409 `connection_in_use` while a leased secret is bound to it.
    /// Audited `db_connection_delete`.
    pub async fn delete(&self, op: &AuthedOperator, project: &str, id: &str) -> CoreResult<()> {
        let action = AuditAction::DbConnectionDelete;
        let project = self
            .project(op, Permission::WriteSecrets, project, action)
            .await?;
        let c = self.connection_in(&project.id, id).await?;
        self.cx
            .audited(op, action, c.id.as_str(), &format!("name={:?}", c.name))
            .delete_connection(&c.id)
            .await?;
        Ok(())
    }

    /// Connects as the admin: `Ok(None)` if it works, `Ok(Some(class))` with a safe class if
    /// not. Audited `db_connection_test` (ok or failed).
    pub async fn test(
        &self,
        op: &AuthedOperator,
        project: &str,
        id: &str,
    ) -> CoreResult<Option<&'static str>> {
        let action = AuditAction::DbConnectionTest;
        let project = self
            .project(op, Permission::WriteSecrets, project, action)
            .await?;
        let c = self.connection_in(&project.id, id).await?;
        let admin = self.cx.admin_target(&c).await?;
        let outcome = self.cx.config.provisioner.ping(&admin).await.err();
        let (result, detail) = match outcome {
            None => (AuditResult::Ok, String::new()),
            Some(e) => (AuditResult::Failed, format!("class={}", e.class)),
        };
        let e = self
            .cx
            .event(&Actor::operator(op), action, c.id.as_str(), result, &detail);
        self.cx.journal(vec![e], Vec::new()).await?;
        Ok(outcome.map(|e| e.class))
    }
}
