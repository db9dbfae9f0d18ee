//! Access policies, bindings, and the counters their caps spend.

use async_trait::async_trait;
use signet_proto::{MachineId, PolicyId, ProjectId, SecretId};
use signet_store::{
    Conflict, PolicyRead, PolicyReadOutcome, PolicyRecord, PolicyStore, StoreError, StoreResult,
};
use sqlx::postgres::PgRow;

use crate::PgStore;
use crate::error::{corrupt, db};
use crate::row::{col, id, opt_id};

pub(crate) fn policy(row: &PgRow, at: usize) -> StoreResult<PolicyRecord> {
    Ok(PolicyRecord {
        id: id(row, at)?,
        project_id: id(row, at + 1)?,
        name: col(row, at + 2)?,
        rules: col(row, at + 3)?,
        created_ms: col(row, at + 4)?,
        updated_ms: col(row, at + 5)?,
    })
}

fn count(v: i64) -> StoreResult<u64> {
    u64::try_from(v).map_err(|_| corrupt("policy_counters.n"))
}

#[async_trait]
impl PolicyStore for PgStore {
    async fn insert_policy(&self, p: &PolicyRecord) -> StoreResult<()> {
        self.execute(
            sqlx::query(
                "INSERT INTO policies (id, project_id, name, rules, created_ms, updated_ms)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(p.id.as_str())
            .bind(p.project_id.as_str())
            .bind(&p.name)
            .bind(&p.rules)
            .bind(p.created_ms)
            .bind(p.updated_ms),
        )
        .await
        .map(drop)
    }

    async fn policy(&self, id: &PolicyId) -> StoreResult<Option<PolicyRecord>> {
        sqlx::query(
            "SELECT id, project_id, name, rules, created_ms, updated_ms FROM policies WHERE id = $1",
        )
        .bind(id.as_str())
        .fetch_optional(self.pool())
        .await
        .map_err(db)?
        .map(|r| policy(&r, 0))
        .transpose()
    }

    async fn policies(&self, project: &ProjectId) -> StoreResult<Vec<(PolicyRecord, u32)>> {
        sqlx::query(
            "SELECT p.id, p.project_id, p.name, p.rules, p.created_ms, p.updated_ms,
                    (SELECT COUNT(*) FROM secrets s WHERE s.policy_id = p.id)
             FROM policies p WHERE p.project_id = $1 ORDER BY p.name COLLATE \"C\"",
        )
        .bind(project.as_str())
        .fetch_all(self.pool())
        .await
        .map_err(db)?
        .iter()
        .map(|r| {
            let bound: i64 = col(r, 6)?;
            let bound = u32::try_from(bound).map_err(|_| corrupt("bound secrets"))?;
            Ok((policy(r, 0)?, bound))
        })
        .collect()
    }

    async fn update_policy(
        &self,
        id: &PolicyId,
        name: &str,
        rules: &str,
        now_ms: i64,
    ) -> StoreResult<()> {
        self.execute_found(
            sqlx::query("UPDATE policies SET name = $2, rules = $3, updated_ms = $4 WHERE id = $1")
                .bind(id.as_str())
                .bind(name)
                .bind(rules)
                .bind(now_ms),
        )
        .await
    }

    async fn delete_policy(&self, id: &PolicyId) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        // The row lock orders this delete against a concurrent bind (whose foreign key check
        // takes a share lock on the same row): whichever commits first, the other sees it, so
        // a policy is never deleted while bound.
        let exists = sqlx::query("SELECT 1 FROM policies WHERE id = $1 FOR UPDATE")
            .bind(id.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        if exists.is_none() {
            return Err(StoreError::NotFound);
        }
        let bound = sqlx::query("SELECT 1 FROM secrets WHERE policy_id = $1 LIMIT 1")
            .bind(id.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        if bound.is_some() {
            return Err(StoreError::Conflict(Conflict::PolicyInUse));
        }
        sqlx::query("DELETE FROM policies WHERE id = $1")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        self.commit(tx).await
    }

    async fn bind_policy(&self, secret: &SecretId, policy: Option<&PolicyId>) -> StoreResult<()> {
        self.execute_found(
            sqlx::query(
                "UPDATE secrets SET policy_id = $2
                 WHERE id = $1 AND deleted_ms IS NULL
                   AND ($2::TEXT IS NULL OR EXISTS (SELECT 1 FROM policies p
                                                    WHERE p.id = $2 AND p.project_id = secrets.project_id))",
            )
            .bind(secret.as_str())
            .bind(policy.map(PolicyId::as_str)),
        )
        .await
    }

    async fn secret_policy(&self, secret: &SecretId) -> StoreResult<Option<PolicyId>> {
        let row = sqlx::query("SELECT policy_id FROM secrets WHERE id = $1")
            .bind(secret.as_str())
            .fetch_optional(self.pool())
            .await
            .map_err(db)?;
        Ok(row.map(|r| opt_id(&r, 0)).transpose()?.flatten())
    }

    async fn record_policy_read(&self, read: &PolicyRead) -> StoreResult<PolicyReadOutcome> {
        // Dropping `tx` before its commit rolls back every take made so far.
        let mut tx = self.begin().await?;
        if let Some((machine, since_ms)) = &read.cosign {
            let seen = sqlx::query(
                "SELECT 1 FROM policy_reads WHERE secret_id = $1 AND machine_id = $2 AND read_ms >= $3",
            )
            .bind(read.secret.as_str())
            .bind(machine.to_string())
            .bind(*since_ms)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
            if seen.is_none() {
                return Ok(PolicyReadOutcome::NoCosign);
            }
        }
        let mut counts = Vec::with_capacity(read.takes.len());
        for (i, t) in read.takes.iter().enumerate() {
            let machine = t.machine.map(|m| m.to_string()).unwrap_or_default();
            let cap = t
                .cap
                .map_or(i64::MAX, |c| i64::try_from(c).unwrap_or(i64::MAX));
            // Older windows of this key are spent; dropping them keeps one row a key.
            sqlx::query(
                "DELETE FROM policy_counters
                 WHERE secret_id = $1 AND machine_id = $2 AND axis = $3 AND bucket < $4",
            )
            .bind(read.secret.as_str())
            .bind(&machine)
            .bind(t.axis.as_str())
            .bind(t.window)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
            // The whole rule in one statement: a racing take waits on the row's lock, then
            // re-checks the cap against the committed count, so takes never pass the cap.
            let n: Option<i64> = sqlx::query_scalar(
                "INSERT INTO policy_counters (secret_id, machine_id, axis, bucket, n)
                 SELECT $1, $2, $3, $4, 1 WHERE $5::BIGINT >= 1
                 ON CONFLICT (secret_id, machine_id, axis, bucket) DO UPDATE SET n = policy_counters.n + 1
                     WHERE policy_counters.n < $5
                 RETURNING n",
            )
            .bind(read.secret.as_str())
            .bind(&machine)
            .bind(t.axis.as_str())
            .bind(t.window)
            .bind(cap)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
            match n {
                Some(n) => counts.push(count(n)?),
                None => return Ok(PolicyReadOutcome::AtCap(i)),
            }
        }
        sqlx::query(
            "INSERT INTO policy_reads (secret_id, machine_id, read_ms) VALUES ($1, $2, $3)
             ON CONFLICT (secret_id, machine_id)
             DO UPDATE SET read_ms = GREATEST(policy_reads.read_ms, excluded.read_ms)",
        )
        .bind(read.secret.as_str())
        .bind(read.machine.to_string())
        .bind(read.now_ms)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        self.commit(tx).await?;
        Ok(PolicyReadOutcome::Taken(counts))
    }

    async fn last_policy_read(
        &self,
        machine: &MachineId,
        secret: &SecretId,
    ) -> StoreResult<Option<i64>> {
        sqlx::query_scalar(
            "SELECT read_ms FROM policy_reads WHERE secret_id = $1 AND machine_id = $2",
        )
        .bind(secret.as_str())
        .bind(machine.to_string())
        .fetch_optional(self.pool())
        .await
        .map_err(db)
    }
}
