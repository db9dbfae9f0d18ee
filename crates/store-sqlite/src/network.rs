//! The vault IP allowlist. Every write advances the policy stamp in the same transaction.

use async_trait::async_trait;
use rusqlite::{Row, params};
use signet_store::{AllowlistEntry, NetworkStore, StoreResult};

use crate::SqliteStore;
use crate::row::col;
use crate::statement::{all, exec, exec_found};
use crate::vault::bump_policy;

fn entry(row: &Row<'_>) -> StoreResult<AllowlistEntry> {
    Ok(AllowlistEntry {
        id: col(row, 0)?,
        cidr: col(row, 1)?,
        label: col(row, 2)?,
        created_ms: col(row, 3)?,
    })
}

#[async_trait]
impl NetworkStore for SqliteStore {
    async fn insert_allowlist_entry(&self, e: &AllowlistEntry) -> StoreResult<()> {
        let e = e.clone();
        self.write(move |tx| {
            exec(
                tx,
                "INSERT INTO ip_allowlist (id, cidr, label, created_ms) VALUES (?1, ?2, ?3, ?4)",
                params![e.id, e.cidr, e.label, e.created_ms],
            )?;
            bump_policy(tx)
        })
        .await
    }

    async fn remove_allowlist_entry(&self, id: &str) -> StoreResult<()> {
        let id = id.to_owned();
        self.write(move |tx| {
            exec_found(tx, "DELETE FROM ip_allowlist WHERE id = ?1", [id])?;
            bump_policy(tx)
        })
        .await
    }

    async fn allowlist(&self) -> StoreResult<Vec<AllowlistEntry>> {
        self.read(|c| {
            all(
                c,
                "SELECT id, cidr, label, created_ms FROM ip_allowlist ORDER BY created_ms, rowid",
                [],
                entry,
            )
        })
    }
}
