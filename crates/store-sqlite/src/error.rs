//! How driver errors become [`StoreError`]s: the detail is logged here and never returned.

use rusqlite::ErrorCode;
use rusqlite::ffi;
use signet_store::{Conflict, StoreError};

/// The uniqueness rules callers can tell apart, keyed by the column list SQLite names when the
/// rule is violated (`UNIQUE constraint failed: <columns>`). The schema is ours, so the list is
/// exact; the names are the ones the store traits document.
const UNIQUE_RULES: &[(&str, Conflict)] = &[
    ("principal_keys.public_key", Conflict::PublicKey),
    ("projects.name", Conflict::ProjectName),
    ("secrets.project_id, secrets.name", Conflict::SecretName),
    ("ip_allowlist.cidr", Conflict::Cidr),
    ("vault.singleton", Conflict::Vault),
    ("users.username", Conflict::Username),
    ("users.email", Conflict::Email),
    ("sessions.token_hash", Conflict::TokenHash),
    ("invites.code_hash", Conflict::InviteCode),
    ("passkeys.credential_id", Conflict::CredentialId),
    ("policies.project_id, policies.name", Conflict::PolicyName),
    (
        "db_connections.project_id, db_connections.name",
        Conflict::ConnectionName,
    ),
    (
        "secret_versions.secret_id, secret_versions.version",
        Conflict::Version,
    ),
    ("oidc_issuers.name", Conflict::IssuerName),
    ("oidc_issuers.issuer", Conflict::IssuerName),
    ("sso_providers.name", Conflict::SsoProviderName),
    (
        "sso_identities.provider_id, sso_identities.subject",
        Conflict::SsoIdentity,
    ),
    (
        "sso_identities.provider_id, sso_identities.user_id",
        Conflict::SsoIdentity,
    ),
];

/// Maps a driver error, logging what the caller will not see. Only the driver's message is
/// logged: it names tables and columns, never bound values.
pub(crate) fn db(e: rusqlite::Error) -> StoreError {
    match &e {
        rusqlite::Error::SqliteFailure(err, msg) => match err.code {
            ErrorCode::ConstraintViolation => constraint(err.extended_code, msg.as_deref()),
            ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase => {
                tracing::error!(error = %e, "the database file is corrupt");
                StoreError::Corrupt
            }
            _ => {
                tracing::error!(error = %e, "sqlite failure");
                StoreError::Unavailable
            }
        },
        rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::IntegralValueOutOfRange(..)
        | rusqlite::Error::InvalidColumnType(..)
        | rusqlite::Error::Utf8Error(..) => {
            tracing::error!(error = %e, "a stored value has the wrong type");
            StoreError::Corrupt
        }
        rusqlite::Error::QueryReturnedNoRows => StoreError::NotFound,
        _ => {
            tracing::error!(error = %e, "sqlite call failed");
            StoreError::Unavailable
        }
    }
}

fn constraint(extended: i32, msg: Option<&str>) -> StoreError {
    match extended {
        ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
            let columns = msg
                .and_then(|m| m.strip_prefix("UNIQUE constraint failed: "))
                .unwrap_or_default();
            match UNIQUE_RULES.iter().find(|(cols, _)| *cols == columns) {
                Some(&(_, rule)) => StoreError::Conflict(rule),
                None => {
                    // A random id or token digest collided, or a caller inserted the same record
                    // twice: still a uniqueness conflict, just not one with a documented name.
                    tracing::warn!(columns, "uniqueness conflict on an identifier");
                    StoreError::Conflict(Conflict::Id)
                }
            }
        }
        // Every foreign key points at a row the operation needs: a machine, project or secret.
        ffi::SQLITE_CONSTRAINT_FOREIGNKEY => StoreError::NotFound,
        // The keyring's triggers (migration 0025) stand in for PostgreSQL's foreign key and
        // answer as it does: a write naming a retired generation finds no such generation.
        ffi::SQLITE_CONSTRAINT_TRIGGER if msg == Some("root key generation retired") => {
            StoreError::NotFound
        }
        ffi::SQLITE_CONSTRAINT_TRIGGER if msg == Some("root key generation in use") => {
            StoreError::Conflict(Conflict::RootGenerationInUse)
        }
        // Migration 0026: a value sealed under a project key a rotation has replaced.
        ffi::SQLITE_CONSTRAINT_TRIGGER if msg == Some("project key stale") => {
            StoreError::Conflict(Conflict::ProjectKeyStale)
        }
        _ => {
            // CHECK, NOT NULL and trigger failures mean a caller passed a value the schema can
            // never hold, or the file was edited: a bug either way.
            tracing::error!(
                extended,
                message = msg.unwrap_or_default(),
                "constraint violated"
            );
            StoreError::Corrupt
        }
    }
}

/// For values that were read fine but do not decode (an id, a key, a JSON list).
pub(crate) fn corrupt(what: &'static str) -> StoreError {
    tracing::error!(what, "stored value does not decode");
    StoreError::Corrupt
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(extended: i32, msg: &str) -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(ffi::Error::new(extended), Some(msg.to_owned()))
    }

    #[test]
    fn unique_violations_name_their_rule() {
        let e = failure(
            ffi::SQLITE_CONSTRAINT_UNIQUE,
            "UNIQUE constraint failed: secrets.project_id, secrets.name",
        );
        assert_eq!(db(e), StoreError::Conflict(Conflict::SecretName));
        let e = failure(
            ffi::SQLITE_CONSTRAINT_PRIMARYKEY,
            "UNIQUE constraint failed: principal_keys.public_key",
        );
        assert_eq!(db(e), StoreError::Conflict(Conflict::PublicKey));
        let e = failure(
            ffi::SQLITE_CONSTRAINT_PRIMARYKEY,
            "UNIQUE constraint failed: machines.id",
        );
        assert_eq!(db(e), StoreError::Conflict(Conflict::Id));
    }

    #[test]
    fn other_failures_carry_no_detail() {
        assert_eq!(
            db(failure(
                ffi::SQLITE_CONSTRAINT_FOREIGNKEY,
                "FOREIGN KEY constraint failed"
            )),
            StoreError::NotFound
        );
        assert_eq!(
            db(failure(
                ffi::SQLITE_CONSTRAINT_CHECK,
                "CHECK constraint failed: x"
            )),
            StoreError::Corrupt
        );
        assert_eq!(
            db(failure(ffi::SQLITE_BUSY, "database is locked")),
            StoreError::Unavailable
        );
        assert_eq!(
            db(failure(ffi::SQLITE_IOERR_FSYNC, "disk I/O error")),
            StoreError::Unavailable
        );
        assert_eq!(
            db(failure(ffi::SQLITE_FULL, "database or disk is full")),
            StoreError::Unavailable
        );
        assert_eq!(
            db(failure(
                ffi::SQLITE_READONLY,
                "attempt to write a readonly database"
            )),
            StoreError::Unavailable
        );
        assert_eq!(
            db(failure(ffi::SQLITE_NOTADB, "file is not a database")),
            StoreError::Corrupt
        );
    }
}
