//! Access policies, bindings, and the counters their caps spend.

use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use rusqlite::{Row, Transaction, params};
use signet_proto::{MachineId, PolicyId, ProjectId, SecretId};
use signet_store::{
    Conflict, PolicyRead, PolicyReadOutcome, PolicyRecord, PolicyStore, StoreError, StoreResult,
};

use crate::SqliteStore;
use crate::error::corrupt;
use crate::row::{col, id};
use crate::statement::{all, exec, exec_found, one};

pub(crate) fn policy(row: &Row<'_>, at: usize) -> StoreResult<PolicyRecord> {
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

/// Spends every counter of `read`, or none: `Err` with the outcome set when one is refused, so
/// the writer rolls the savepoint back.
fn take(
    tx: &Transaction<'_>,
    read: &PolicyRead,
    refused: &Mutex<Option<PolicyReadOutcome>>,
) -> StoreResult<Vec<u64>> {
    let refuse = |outcome| {
        *refused.lock().unwrap_or_else(PoisonError::into_inner) = Some(outcome);
        Err(StoreError::NotFound)
    };
    if let Some((machine, since_ms)) = &read.cosign {
        let seen = one(
            tx,
            "SELECT 1 FROM policy_reads WHERE secret_id = ?1 AND machine_id = ?2 AND read_ms >= ?3",
            params![read.secret.as_str(), machine.to_string(), since_ms],
            |_| Ok(()),
        )?;
        if seen.is_none() {
            return refuse(PolicyReadOutcome::NoCosign);
        }
    }
    let mut counts = Vec::with_capacity(read.takes.len());
    for (i, t) in read.takes.iter().enumerate() {
        let machine = t.machine.map(|m| m.to_string()).unwrap_or_default();
        let cap = t
            .cap
            .map_or(i64::MAX, |c| i64::try_from(c).unwrap_or(i64::MAX));
        // Older windows of this key are spent; dropping them keeps the table at one row a key.
        exec(
            tx,
            "DELETE FROM policy_counters
             WHERE secret_id = ?1 AND machine_id = ?2 AND axis = ?3 AND bucket < ?4",
            params![read.secret.as_str(), machine, t.axis.as_str(), t.window],
        )?;
        // The whole rule in one statement: the row moves only while below the cap, and the
        // statement answers the count it reached, so racing takes can never pass the cap.
        let n = one(
            tx,
            "INSERT INTO policy_counters (secret_id, machine_id, axis, bucket, n)
             SELECT ?1, ?2, ?3, ?4, 1 WHERE ?5 >= 1
             ON CONFLICT (secret_id, machine_id, axis, bucket) DO UPDATE SET n = n + 1
                 WHERE policy_counters.n < ?5
             RETURNING n",
            params![
                read.secret.as_str(),
                machine,
                t.axis.as_str(),
                t.window,
                cap
            ],
            |r| col::<i64>(r, 0),
        )?;
        match n {
            Some(n) => counts.push(count(n)?),
            None => return refuse(PolicyReadOutcome::AtCap(i)),
        }
    }
    exec(
        tx,
        "INSERT INTO policy_reads (secret_id, machine_id, read_ms) VALUES (?1, ?2, ?3)
         ON CONFLICT (secret_id, machine_id) DO UPDATE SET read_ms = MAX(read_ms, excluded.read_ms)",
        params![read.secret.as_str(), read.machine.to_string(), read.now_ms],
    )?;
    Ok(counts)
}

#[async_trait]
impl PolicyStore for SqliteStore {
    async fn insert_policy(&self, p: &PolicyRecord) -> StoreResult<()> {
        let p = p.clone();
        self.write(move |tx| {
            exec(
                tx,
                "INSERT INTO policies (id, project_id, name, rules, created_ms, updated_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    p.id.as_str(),
                    p.project_id.as_str(),
                    p.name,
                    p.rules,
                    p.created_ms,
                    p.updated_ms
                ],
            )
            .map(drop)
        })
        .await
    }

    async fn policy(&self, id: &PolicyId) -> StoreResult<Option<PolicyRecord>> {
        self.read(|c| {
            one(
                c,
                "SELECT id, project_id, name, rules, created_ms, updated_ms FROM policies WHERE id = ?1",
                [id.as_str()],
                |r| policy(r, 0),
            )
        })
    }

    async fn policies(&self, project: &ProjectId) -> StoreResult<Vec<(PolicyRecord, u32)>> {
        self.read(|c| {
            all(
                c,
                "SELECT p.id, p.project_id, p.name, p.rules, p.created_ms, p.updated_ms,
                        (SELECT COUNT(*) FROM secrets s WHERE s.policy_id = p.id)
                 FROM policies p WHERE p.project_id = ?1 ORDER BY p.name",
                [project.as_str()],
                |r| Ok((policy(r, 0)?, col(r, 6)?)),
            )
        })
    }

    async fn update_policy(
        &self,
        id: &PolicyId,
        name: &str,
        rules: &str,
        now_ms: i64,
    ) -> StoreResult<()> {
        let (id, name, rules) = (id.clone(), name.to_owned(), rules.to_owned());
        self.write(move |tx| {
            exec_found(
                tx,
                "UPDATE policies SET name = ?2, rules = ?3, updated_ms = ?4 WHERE id = ?1",
                params![id.as_str(), name, rules, now_ms],
            )
        })
        .await
    }

    async fn delete_policy(&self, id: &PolicyId) -> StoreResult<()> {
        let id = id.clone();
        self.write(move |tx| {
            let gone = exec(
                tx,
                "DELETE FROM policies
                 WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM secrets WHERE policy_id = ?1)",
                [id.as_str()],
            )?;
            if gone > 0 {
                return Ok(());
            }
            let exists = one(
                tx,
                "SELECT 1 FROM policies WHERE id = ?1",
                [id.as_str()],
                |_| Ok(()),
            )?;
            Err(match exists {
                Some(()) => StoreError::Conflict(Conflict::PolicyInUse),
                None => StoreError::NotFound,
            })
        })
        .await
    }

    async fn bind_policy(&self, secret: &SecretId, policy: Option<&PolicyId>) -> StoreResult<()> {
        let (secret, policy) = (secret.clone(), policy.cloned());
        self.write(move |tx| {
            exec_found(
                tx,
                "UPDATE secrets SET policy_id = ?2
                 WHERE id = ?1 AND deleted_ms IS NULL
                   AND (?2 IS NULL OR EXISTS (SELECT 1 FROM policies p
                                              WHERE p.id = ?2 AND p.project_id = secrets.project_id))",
                params![secret.as_str(), policy.as_ref().map(PolicyId::as_str)],
            )
        })
        .await
    }

    async fn secret_policy(&self, secret: &SecretId) -> StoreResult<Option<PolicyId>> {
        self.read(|c| {
            one(
                c,
                "SELECT policy_id FROM secrets WHERE id = ?1",
                [secret.as_str()],
                |r| crate::row::opt_id(r, 0),
            )
        })
        .map(Option::flatten)
    }

    async fn record_policy_read(&self, read: &PolicyRead) -> StoreResult<PolicyReadOutcome> {
        let refused = Arc::new(Mutex::new(None));
        let slot = Arc::clone(&refused);
        let read = read.clone();
        let taken = self.write(move |tx| take(tx, &read, &slot)).await;
        let refusal = refused
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        match (taken, refusal) {
            (_, Some(outcome)) => Ok(outcome),
            (Ok(counts), None) => Ok(PolicyReadOutcome::Taken(counts)),
            (Err(e), None) => Err(e),
        }
    }

    async fn last_policy_read(
        &self,
        machine: &MachineId,
        secret: &SecretId,
    ) -> StoreResult<Option<i64>> {
        let machine = machine.to_string();
        self.read(|c| {
            one(
                c,
                "SELECT read_ms FROM policy_reads WHERE secret_id = ?1 AND machine_id = ?2",
                params![secret.as_str(), machine],
                |r| col(r, 0),
            )
        })
    }
}
