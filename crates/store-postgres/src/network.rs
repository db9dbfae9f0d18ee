//! The vault IP allowlist. Every change is announced on the change feed in its own transaction.

use async_trait::async_trait;
use signet_store::{AllowlistEntry, NetworkStore, StoreResult};
use sqlx::postgres::PgRow;

use crate::change::policy_changed;
use crate::error::db;
use crate::row::col;
use crate::{PgStore, found};

fn entry(row: &PgRow) -> StoreResult<AllowlistEntry> {
    Ok(AllowlistEntry {
        id: col(row, 0)?,
        cidr: col(row, 1)?,
        label: col(row, 2)?,
        created_ms: col(row, 3)?,
    })
}

#[async_trait]
impl NetworkStore for PgStore {
    async fn insert_allowlist_entry(&self, e: &AllowlistEntry) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO ip_allowlist (id, cidr, label, created_ms) VALUES ($1, $2, $3, $4)",
        )
        .bind(&e.id)
        .bind(&e.cidr)
        .bind(&e.label)
        .bind(e.created_ms)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        policy_changed(&mut tx).await?;
        self.commit(tx).await
    }

    async fn remove_allowlist_entry(&self, id: &str) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        found(
            sqlx::query("DELETE FROM ip_allowlist WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(db)?,
        )?;
        policy_changed(&mut tx).await?;
        self.commit(tx).await
    }

    async fn allowlist(&self) -> StoreResult<Vec<AllowlistEntry>> {
        // SQLite breaks ties on insertion order (rowid), which PostgreSQL does not keep; the id
        // makes the order at least stable.
        sqlx::query("SELECT id, cidr, label, created_ms FROM ip_allowlist ORDER BY created_ms, id")
            .fetch_all(self.pool())
            .await
            .map_err(db)?
            .iter()
            .map(entry)
            .collect()
    }
}
