//! The schema: forward-only migrations, applied at connect under a session advisory lock.
//!
//! Several replicas may start at once against one database. Each takes
//! `pg_advisory_lock(MIGRATION_LOCK)` on a connection of its own (not a pooled one, so closing it
//! is sure to release the lock), reads which versions `signet_schema_migrations` records, and
//! applies the missing ones, each in its own transaction together with its record. The first
//! replica does the work; the others wait on the lock, then find nothing to do.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use signet_store::{StoreError, StoreResult};
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{Connection, Row};

use crate::error::db;

/// The advisory lock key that serialises migrations ("SIGNET" then 1).
const MIGRATION_LOCK: i64 = 0x5349_474E_4554_0001;

/// One migration: its version (the number its file name starts with), its name and its SQL.
pub(crate) struct Migration {
    pub(crate) version: i64,
    pub(crate) name: &'static str,
    pub(crate) sql: &'static str,
}

/// Every migration, in order. Never edit or reorder one that has shipped; add a new file.
/// Numbers are handed out ahead of time to concurrent work, so a build may lack some (a gap):
/// each is applied when its own version is not recorded, not by comparison with the highest.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "0001_init.sql",
        sql: include_str!("../migrations/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "0002_policy_version.sql",
        sql: include_str!("../migrations/0002_policy_version.sql"),
    },
    Migration {
        version: 3,
        name: "0003_request_budget.sql",
        sql: include_str!("../migrations/0003_request_budget.sql"),
    },
    Migration {
        version: 4,
        name: "0004_enrollment_proof.sql",
        sql: include_str!("../migrations/0004_enrollment_proof.sql"),
    },
    Migration {
        version: 5,
        name: "0005_policies.sql",
        sql: include_str!("../migrations/0005_policies.sql"),
    },
    Migration {
        version: 6,
        name: "0006_shares.sql",
        sql: include_str!("../migrations/0006_shares.sql"),
    },
    Migration {
        version: 7,
        name: "0007_rotation.sql",
        sql: include_str!("../migrations/0007_rotation.sql"),
    },
    Migration {
        version: 8,
        name: "0008_trash.sql",
        sql: include_str!("../migrations/0008_trash.sql"),
    },
    Migration {
        version: 9,
        name: "0009_canaries.sql",
        sql: include_str!("../migrations/0009_canaries.sql"),
    },
    Migration {
        version: 10,
        name: "0010_leases.sql",
        sql: include_str!("../migrations/0010_leases.sql"),
    },
    Migration {
        version: 11,
        name: "0011_alerts.sql",
        sql: include_str!("../migrations/0011_alerts.sql"),
    },
    Migration {
        version: 12,
        name: "0012_managed.sql",
        sql: include_str!("../migrations/0012_managed.sql"),
    },
    Migration {
        version: 13,
        name: "0013_lease_reuse.sql",
        sql: include_str!("../migrations/0013_lease_reuse.sql"),
    },
    Migration {
        version: 14,
        name: "0014_audit_evidence.sql",
        sql: include_str!("../migrations/0014_audit_evidence.sql"),
    },
    Migration {
        version: 15,
        name: "0015_access_stamp.sql",
        sql: include_str!("../migrations/0015_access_stamp.sql"),
    },
    Migration {
        version: 16,
        name: "0016_oidc_issuers.sql",
        sql: include_str!("../migrations/0016_oidc_issuers.sql"),
    },
    Migration {
        version: 17,
        name: "0017_audit_append.sql",
        sql: include_str!("../migrations/0017_audit_append.sql"),
    },
    Migration {
        version: 18,
        name: "0018_ai_agents.sql",
        sql: include_str!("../migrations/0018_ai_agents.sql"),
    },
    Migration {
        version: 19,
        name: "0019_sso.sql",
        sql: include_str!("../migrations/0019_sso.sql"),
    },
    Migration {
        version: 20,
        name: "0020_keyring.sql",
        sql: include_str!("../migrations/0020_keyring.sql"),
    },
    Migration {
        version: 21,
        name: "0021_project_keys.sql",
        sql: include_str!("../migrations/0021_project_keys.sql"),
    },
    Migration {
        version: 22,
        name: "0022_totp_confirmed.sql",
        sql: include_str!("../migrations/0022_totp_confirmed.sql"),
    },
    Migration {
        version: 23,
        name: "0023_version_changes.sql",
        sql: include_str!("../migrations/0023_version_changes.sql"),
    },
];

/// Applies any missing migrations. [`StoreError::Corrupt`] if the database records a version
/// this binary does not know (it was written by a newer Signet); [`StoreError::Unavailable`] if
/// no connection opens within `connect_timeout`. Waiting for another replica's migrations is
/// not limited: they are what this replica needs before it can serve.
pub(crate) async fn migrate(
    options: &PgConnectOptions,
    connect_timeout: Duration,
) -> StoreResult<()> {
    let mut conn = tokio::time::timeout(connect_timeout, PgConnection::connect_with(options))
        .await
        .map_err(|_| {
            tracing::error!("postgres did not answer in time");
            StoreError::Unavailable
        })?
        .map_err(db)?;
    let result = migrate_locked(&mut conn).await;
    // Closing the session releases the advisory lock whatever happened above; an explicit
    // unlock first keeps it short when the close is slow.
    let _ = sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut conn)
        .await;
    if let Err(e) = conn.close().await {
        tracing::warn!(error = %e, "closing the migration connection failed");
    }
    result
}

async fn migrate_locked(conn: &mut PgConnection) -> StoreResult<()> {
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS signet_schema_migrations (
             version    BIGINT PRIMARY KEY,
             name       TEXT   NOT NULL,
             applied_ms BIGINT NOT NULL
         )",
    )
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    let applied: Vec<i64> = sqlx::query("SELECT version FROM signet_schema_migrations")
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()
        .map_err(db)?;
    if let Some(unknown) = applied
        .iter()
        .find(|v| !MIGRATIONS.iter().any(|m| m.version == **v))
    {
        tracing::error!(
            schema = unknown,
            "the database was written by a newer Signet; refusing to open it"
        );
        return Err(StoreError::Corrupt);
    }
    for m in MIGRATIONS.iter().filter(|m| !applied.contains(&m.version)) {
        let mut tx = conn.begin().await.map_err(db)?;
        sqlx::raw_sql(m.sql).execute(&mut *tx).await.map_err(db)?;
        sqlx::query(
            "INSERT INTO signet_schema_migrations (version, name, applied_ms) VALUES ($1, $2, $3)",
        )
        .bind(m.version)
        .bind(m.name)
        .bind(now_ms())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        tracing::info!(
            version = m.version,
            name = m.name,
            "applied postgres migration"
        );
        // Each migration commits with its own record, so a crash between two leaves a database
        // that the next start carries on from.
        fail::fail_point!("migration_mid", |_| std::process::abort());
    }
    Ok(())
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A migration file that is not compiled in would never run; one compiled in twice, or out
    /// of order, would corrupt the version numbering.
    #[test]
    fn the_compiled_list_is_the_migrations_folder() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".sql"))
            .collect();
        files.sort();
        let compiled: Vec<String> = MIGRATIONS.iter().map(|m| m.name.to_owned()).collect();
        assert_eq!(files, compiled);
        // Versions only increase (numbers are handed out per change, so one may land before a
        // lower one that is still in review); the file name carries the version.
        let mut last = 0;
        for m in MIGRATIONS {
            assert!(m.version > last, "versions increase");
            last = m.version;
            assert!(m.name.starts_with(&format!("{:04}_", m.version)));
            let path = format!("{dir}/{}", m.name);
            assert_eq!(std::fs::read_to_string(path).ok().as_deref(), Some(m.sql));
        }
    }
}
