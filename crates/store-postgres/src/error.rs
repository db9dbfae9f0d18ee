//! How driver errors become [`StoreError`]s: the detail is logged here and never returned.

use signet_store::{Conflict, StoreError};

/// The uniqueness rules callers can tell apart, keyed by the constraint (or unique index) name
/// PostgreSQL reports. The migration names each of them, so the list is exact; the rule names
/// are the ones the store traits document and the SQLite backend returns.
const UNIQUE_RULES: &[(&str, Conflict)] = &[
    ("principal_keys_pkey", Conflict::PublicKey),
    ("projects_name_key", Conflict::ProjectName),
    ("secrets_live_name", Conflict::SecretName),
    ("ip_allowlist_cidr_key", Conflict::Cidr),
    ("vault_pkey", Conflict::Vault),
    ("users_username_key", Conflict::Username),
    ("users_email_key", Conflict::Email),
    ("sessions_token_hash_key", Conflict::TokenHash),
    ("invites_code_hash_key", Conflict::InviteCode),
    ("passkeys_credential_id_key", Conflict::CredentialId),
    ("secret_versions_pkey", Conflict::Version),
    ("policies_project_name_key", Conflict::PolicyName),
    ("db_connections_project_name_key", Conflict::ConnectionName),
    ("oidc_issuers_name_key", Conflict::IssuerName),
    ("oidc_issuers_issuer_key", Conflict::IssuerName),
    ("sso_providers_name_key", Conflict::SsoProviderName),
    ("sso_identities_pkey", Conflict::SsoIdentity),
    ("sso_identities_user_key", Conflict::SsoIdentity),
    ("root_keys_pkey", Conflict::RootGenerationStale),
];

/// The rule a unique constraint stands for; an unnamed one is an identifier collision.
pub(crate) fn unique_rule(constraint: Option<&str>) -> Conflict {
    constraint
        .and_then(|c| UNIQUE_RULES.iter().find(|(name, _)| *name == c))
        .map_or(Conflict::Id, |&(_, rule)| rule)
}

/// Maps a driver error, logging what the caller will not see. Only the error code, constraint,
/// table and PostgreSQL's primary message are logged: they name schema objects, never values
/// (the value-bearing `DETAIL` field is left out).
pub(crate) fn db(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(err) => {
            let code = err.code().map(|c| c.into_owned()).unwrap_or_default();
            database(&code, err.constraint(), err.table(), err.message())
        }
        sqlx::Error::RowNotFound => StoreError::NotFound,
        sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::ColumnIndexOutOfBounds { .. }
        | sqlx::Error::TypeNotFound { .. } => {
            tracing::error!(error = %e, "a stored value has the wrong type");
            StoreError::Corrupt
        }
        _ => {
            tracing::error!(error = %e, "postgres unavailable");
            StoreError::Unavailable
        }
    }
}

fn database(
    code: &str,
    constraint: Option<&str>,
    table: Option<&str>,
    message: &str,
) -> StoreError {
    match code {
        // unique_violation
        "23505" => {
            let rule = unique_rule(constraint);
            if rule == Conflict::Id {
                // A random id or token digest collided, or a caller inserted the same record
                // twice: still a uniqueness conflict, just not one with a documented name.
                tracing::warn!(constraint, table, "uniqueness conflict on an identifier");
            }
            StoreError::Conflict(rule)
        }
        // foreign_key_violation: every foreign key points at a row the operation needs.
        "23503" => StoreError::NotFound,
        // Other integrity violations (CHECK, NOT NULL) and data exceptions (class 22) mean a
        // caller passed a value the schema can never hold, or the data was edited: a bug.
        c if c.starts_with("23") || c.starts_with("22") => {
            tracing::error!(code, constraint, table, message, "constraint violated");
            StoreError::Corrupt
        }
        // Migration 0021's triggers: a value sealed under a project key a rotation replaced.
        "SK001" => StoreError::Conflict(Conflict::ProjectKeyStale),
        // The append-only trigger on `audit`.
        "P0001" => {
            tracing::error!(code, table, message, "a trigger refused the change");
            StoreError::Corrupt
        }
        _ => {
            // Serialization failures, shutdowns, terminated backends, missing privileges: the
            // database cannot do the work right now.
            tracing::error!(
                code,
                constraint,
                table,
                message,
                "postgres refused the statement"
            );
            StoreError::Unavailable
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

    #[test]
    fn unique_violations_name_their_rule() {
        assert_eq!(
            database("23505", Some("secrets_live_name"), None, "duplicate key"),
            StoreError::Conflict(Conflict::SecretName)
        );
        assert_eq!(
            database("23505", Some("principal_keys_pkey"), None, "duplicate key"),
            StoreError::Conflict(Conflict::PublicKey)
        );
        assert_eq!(
            database("23505", Some("machines_pkey"), None, "duplicate key"),
            StoreError::Conflict(Conflict::Id)
        );
        assert_eq!(
            database("23505", None, None, "duplicate key"),
            StoreError::Conflict(Conflict::Id)
        );
    }

    #[test]
    fn other_failures_carry_no_detail() {
        assert_eq!(database("23503", None, None, "fk"), StoreError::NotFound);
        assert_eq!(database("23514", None, None, "check"), StoreError::Corrupt);
        assert_eq!(database("23502", None, None, "null"), StoreError::Corrupt);
        assert_eq!(database("22P02", None, None, "syntax"), StoreError::Corrupt);
        assert_eq!(
            database("57P01", None, None, "shutdown"),
            StoreError::Unavailable
        );
        assert_eq!(
            database("40001", None, None, "serialize"),
            StoreError::Unavailable
        );
        assert_eq!(db(sqlx::Error::PoolTimedOut), StoreError::Unavailable);
        assert_eq!(db(sqlx::Error::PoolClosed), StoreError::Unavailable);
        assert_eq!(db(sqlx::Error::RowNotFound), StoreError::NotFound);
        assert_eq!(
            db(sqlx::Error::Io(std::io::Error::from(
                std::io::ErrorKind::ConnectionRefused
            ))),
            StoreError::Unavailable
        );
        assert_eq!(db(sqlx::Error::Decode("bad".into())), StoreError::Corrupt);
    }
}
