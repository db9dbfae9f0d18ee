//! Database connections a project registers so Signet can mint leased credentials in them.
//!
//! The admin password is kept only sealed under the project key (`signet_crypto::RecordAad`,
//! kind `ConnectionPassword`); the store never sees it in the clear.

use async_trait::async_trait;
use signet_proto::{ConnectionId, ProjectId};

use crate::StoreResult;

/// How Signet's connection to the database uses TLS, as PostgreSQL's `sslmode` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TlsMode {
    /// Plain TCP only.
    Disable,
    /// TLS if the server offers it, plain otherwise (no certificate check).
    Prefer,
    /// TLS, without checking the certificate.
    Require,
    /// TLS, the certificate checked against the system roots and the host name.
    VerifyFull,
}

impl TlsMode {
    /// Every mode, in the order the API lists them.
    pub const ALL: &'static [TlsMode] =
        &[Self::Disable, Self::Prefer, Self::Require, Self::VerifyFull];

    /// The stored and wire text.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Prefer => "prefer",
            Self::Require => "require",
            Self::VerifyFull => "verify-full",
        }
    }

    /// The mode a text names, exactly as [`TlsMode::as_str`] spells it (no case folding).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|m| m.as_str() == s)
    }
}

/// One registered database connection.
#[derive(Clone, PartialEq, Eq)]
pub struct ConnectionRecord {
    /// Its id.
    pub id: ConnectionId,
    /// The project it belongs to, fixed at creation.
    pub project_id: ProjectId,
    /// Unique within the project.
    pub name: String,
    /// Host name or address of the PostgreSQL server.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// The database roles are granted rights in.
    pub database: String,
    /// The role Signet connects as to create and drop roles (needs `CREATEROLE`).
    pub admin_user: String,
    /// TLS use.
    pub tls_mode: TlsMode,
    /// The admin password's data key, sealed under the project key.
    pub password_wrapped_dek: Vec<u8>,
    /// The project key generation that sealed it; a write under another generation than the
    /// project's fails with `Conflict::ProjectKeyStale`.
    pub key_generation: u32,
    /// The admin password, sealed under its data key.
    pub password_ciphertext: Vec<u8>,
    /// Creation time, Unix ms.
    pub created_ms: i64,
    /// Time of the last change, Unix ms.
    pub updated_ms: i64,
}

impl std::fmt::Debug for ConnectionRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionRecord")
            .field("id", &self.id)
            .field("project_id", &self.project_id)
            .field("name", &self.name)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("database", &self.database)
            .field("admin_user", &self.admin_user)
            .field("tls_mode", &self.tls_mode)
            .field("created_ms", &self.created_ms)
            .field("updated_ms", &self.updated_ms)
            .finish_non_exhaustive()
    }
}

/// Database connections.
#[async_trait]
pub trait ConnectionStore {
    /// Adds a connection. `Conflict::ConnectionName` if the project has one of that name;
    /// `NotFound` if the project does not exist.
    async fn insert_connection(&self, connection: &ConnectionRecord) -> StoreResult<()>;
    /// One connection by id.
    async fn connection(&self, id: &ConnectionId) -> StoreResult<Option<ConnectionRecord>>;
    /// A project's connections, by name.
    async fn connections(&self, project: &ProjectId) -> StoreResult<Vec<ConnectionRecord>>;
    /// Replaces everything but the id, the project and the creation time.
    /// `Conflict::ConnectionName` if another connection of the project has the name; `NotFound`
    /// if there is no such connection.
    async fn update_connection(&self, connection: &ConnectionRecord) -> StoreResult<()>;
    /// Deletes a connection. `Conflict::ConnectionInUse` if a leased secret (live or in the
    /// trash; a purged one no longer counts) or a managed secret (live or in the trash; the
    /// trash's purge removes its binding) is still bound to it or a lease through it is not yet
    /// revoked, decided in the delete's own transaction; `NotFound` if there is none.
    async fn delete_connection(&self, id: &ConnectionId) -> StoreResult<()>;
}
