//! Machines, their memberships and grants.

use async_trait::async_trait;
use signet_proto::{MachineId, ProjectId, SecretId};
use signet_store::{
    AccessStamp, EnrollMethod, MachineAtPolicy, MachineKind, MachineRecord, MachineStatus,
    MachineStore, NewMachine, PolicyVersion, StoreResult,
};
use sqlx::PgConnection;
use sqlx::postgres::PgRow;

use crate::error::db;
use crate::operator::claim_key;
use crate::row::{col, id, list, name, public_key, to_list};
use crate::{PgStore, found};

macro_rules! machine_select {
    ($rest:literal) => {
        concat!(
            "SELECT id, name, hostname, public_key, status, enabled, kind, expires_ms, enrolled_via,
                    enrollment_token_id, registered_ip, allowed_cidrs, created_ms, agent_scopes,
                    agent_projects
             FROM machines ",
            $rest
        )
    };
}

fn machine(row: &PgRow) -> StoreResult<MachineRecord> {
    Ok(MachineRecord {
        id: id(row, 0)?,
        name: col(row, 1)?,
        hostname: col(row, 2)?,
        public_key: public_key(row, 3)?,
        status: name(row, 4, MachineStatus::parse)?,
        enabled: col(row, 5)?,
        kind: name(row, 6, MachineKind::parse)?,
        expires_ms: col(row, 7)?,
        enrolled_via: name(row, 8, EnrollMethod::parse)?,
        enrollment_token_id: col(row, 9)?,
        registered_ip: col(row, 10)?,
        allowed_cidrs: list(row, 11)?,
        created_ms: col(row, 12)?,
        ai_agent: crate::ai_agent::profile(row, 13)?,
    })
}

/// Claims the machine's key and inserts it, inside the caller's transaction (token redemptions
/// do this together with spending the token).
pub(crate) async fn insert(conn: &mut PgConnection, m: &NewMachine) -> StoreResult<()> {
    let id = m.id.to_string();
    claim_key(&mut *conn, &m.public_key, "machine", &id).await?;
    sqlx::query(
        "INSERT INTO machines (id, name, hostname, public_key, status, enabled, kind, expires_ms, enrolled_via,
                               enrollment_token_id, registered_ip, allowed_cidrs, created_ms, agent_scopes,
                               agent_projects)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
    )
    .bind(&id)
    .bind(&m.name)
    .bind(&m.hostname)
    .bind(m.public_key.as_bytes().as_slice())
    .bind(m.status.as_str())
    .bind(m.enabled)
    .bind(m.kind.as_str())
    .bind(m.expires_ms)
    .bind(m.enrolled_via.as_str())
    .bind(m.enrollment_token_id.as_deref())
    .bind(&m.registered_ip)
    .bind(to_list(&m.allowed_cidrs))
    .bind(m.created_ms)
    .bind(crate::ai_agent::scopes_cell(m.ai_agent.as_ref()))
    .bind(crate::ai_agent::projects_cell(m.ai_agent.as_ref()))
    .execute(conn)
    .await
    .map(drop)
    .map_err(db)
}

/// Attaches inside the caller's transaction. `NotFound` (a foreign key) if either is missing.
pub(crate) async fn attach(
    conn: &mut PgConnection,
    machine: &str,
    project: &str,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO memberships (machine_id, project_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(machine)
    .bind(project)
    .execute(conn)
    .await
    .map(drop)
    .map_err(db)
}

#[async_trait]
impl MachineStore for PgStore {
    async fn machine(&self, id: &MachineId) -> StoreResult<Option<MachineRecord>> {
        sqlx::query(machine_select!("WHERE id = $1"))
            .bind(id.to_string())
            .fetch_optional(self.pool())
            .await
            .map_err(db)?
            .map(|r| machine(&r))
            .transpose()
    }

    async fn machine_at_policy(&self, id: &MachineId) -> StoreResult<MachineAtPolicy> {
        // One row whatever exists: the machine's columns are NULL for an unknown id, the stamp
        // NULL (read as zero) without a vault.
        let row = sqlx::query(
            "SELECT m.id, m.name, m.hostname, m.public_key, m.status, m.enabled, m.kind, m.expires_ms,
                    m.enrolled_via, m.enrollment_token_id, m.registered_ip, m.allowed_cidrs,
                    m.created_ms, m.agent_scopes, m.agent_projects, v.policy_version,
                    (SELECT stamp FROM access_stamp WHERE singleton = 1)
             FROM (SELECT 1) AS one
             LEFT JOIN vault AS v ON v.singleton = 1
             LEFT JOIN machines AS m ON m.id = $1",
        )
        .bind(id.to_string())
        .fetch_one(self.pool())
        .await
        .map_err(db)?;
        let present: Option<String> = col(&row, 0)?;
        let version: Option<i64> = col(&row, 15)?;
        let stamp: Option<i64> = col(&row, 16)?;
        Ok(MachineAtPolicy {
            machine: present.map(|_| machine(&row)).transpose()?,
            policy_version: PolicyVersion(version.unwrap_or_default()),
            access_stamp: AccessStamp(stamp.unwrap_or_default()),
        })
    }

    async fn machines(&self) -> StoreResult<Vec<MachineRecord>> {
        // SQLite breaks ties on insertion order (rowid); the id makes this order stable.
        sqlx::query(machine_select!("ORDER BY created_ms DESC, id DESC"))
            .fetch_all(self.pool())
            .await
            .map_err(db)?
            .iter()
            .map(machine)
            .collect()
    }

    async fn insert_machine(&self, m: &NewMachine) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        insert(&mut tx, m).await?;
        self.commit(tx).await
    }

    async fn transition_machine(
        &self,
        id: &MachineId,
        from: MachineStatus,
        to: MachineStatus,
    ) -> StoreResult<()> {
        self.execute_found(
            sqlx::query("UPDATE machines SET status = $3 WHERE id = $1 AND status = $2")
                .bind(id.to_string())
                .bind(from.as_str())
                .bind(to.as_str()),
        )
        .await
    }

    async fn set_machine_enabled(&self, id: &MachineId, enabled: bool) -> StoreResult<()> {
        self.execute_found(
            sqlx::query("UPDATE machines SET enabled = $2 WHERE id = $1")
                .bind(id.to_string())
                .bind(enabled),
        )
        .await
    }

    async fn revoke_machine(&self, id: &MachineId) -> StoreResult<()> {
        let id = id.to_string();
        let mut tx = self.begin().await?;
        found(
            sqlx::query(
                "UPDATE machines SET status = 'revoked' WHERE id = $1 AND status <> 'revoked'",
            )
            .bind(&id)
            .execute(&mut *tx)
            .await
            .map_err(db)?,
        )?;
        sqlx::query("DELETE FROM grants WHERE machine_id = $1")
            .bind(&id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        sqlx::query("DELETE FROM memberships WHERE machine_id = $1")
            .bind(&id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        self.commit(tx).await
    }

    async fn set_machine_cidrs(&self, id: &MachineId, cidrs: &[String]) -> StoreResult<()> {
        self.execute_found(
            sqlx::query("UPDATE machines SET allowed_cidrs = $2 WHERE id = $1")
                .bind(id.to_string())
                .bind(to_list(cidrs)),
        )
        .await
    }

    async fn attach(&self, machine: &MachineId, project: &ProjectId) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        attach(&mut tx, &machine.to_string(), &project.to_string()).await?;
        self.commit(tx).await
    }

    async fn detach(&self, machine: &MachineId, project: &ProjectId) -> StoreResult<()> {
        let (machine, project) = (machine.to_string(), project.to_string());
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM memberships WHERE machine_id = $1 AND project_id = $2")
            .bind(&machine)
            .bind(&project)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        sqlx::query(
            "DELETE FROM grants WHERE machine_id = $1 AND secret_id IN (SELECT id FROM secrets WHERE project_id = $2)",
        )
        .bind(&machine)
        .bind(&project)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        self.commit(tx).await
    }

    async fn memberships(&self, machine: &MachineId) -> StoreResult<Vec<ProjectId>> {
        sqlx::query(
            "SELECT project_id FROM memberships WHERE machine_id = $1 ORDER BY project_id COLLATE \"C\"",
        )
        .bind(machine.to_string())
        .fetch_all(self.pool())
        .await
        .map_err(db)?
        .iter()
        .map(|r| id(r, 0))
        .collect()
    }

    async fn grant(&self, machine: &MachineId, secret: &SecretId) -> StoreResult<()> {
        self.execute(
            sqlx::query(
                "INSERT INTO grants (machine_id, secret_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(machine.to_string())
            .bind(secret.to_string()),
        )
        .await
        .map(drop)
    }

    async fn ungrant(&self, machine: &MachineId, secret: &SecretId) -> StoreResult<()> {
        self.execute(
            sqlx::query("DELETE FROM grants WHERE machine_id = $1 AND secret_id = $2")
                .bind(machine.to_string())
                .bind(secret.to_string()),
        )
        .await
        .map(drop)
    }

    async fn grants(&self, machine: &MachineId) -> StoreResult<Vec<SecretId>> {
        sqlx::query(
            "SELECT secret_id FROM grants WHERE machine_id = $1 ORDER BY secret_id COLLATE \"C\"",
        )
        .bind(machine.to_string())
        .fetch_all(self.pool())
        .await
        .map_err(db)?
        .iter()
        .map(|r| id(r, 0))
        .collect()
    }
}
