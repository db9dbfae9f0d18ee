//! Machines, their memberships and grants.

use async_trait::async_trait;
use rusqlite::{Row, Transaction, params};
use signet_proto::{MachineId, ProjectId, SecretId};
use signet_store::{
    AccessStamp, EnrollMethod, MachineAtPolicy, MachineKind, MachineRecord, MachineStatus,
    MachineStore, NewMachine, PolicyVersion, StoreResult,
};

use crate::SqliteStore;
use crate::operator::claim_key;
use crate::row::{col, id, list, name, public_key, to_list};
use crate::statement::{all, exec, exec_found, one};

fn machine(row: &Row<'_>) -> StoreResult<MachineRecord> {
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
pub(crate) fn insert(tx: &Transaction<'_>, m: &NewMachine) -> StoreResult<()> {
    let id = m.id.to_string();
    claim_key(tx, &m.public_key, "machine", &id)?;
    exec(
        tx,
        "INSERT INTO machines (id, name, hostname, public_key, status, enabled, kind, expires_ms, enrolled_via,
                               enrollment_token_id, registered_ip, allowed_cidrs, created_ms, agent_scopes,
                               agent_projects)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
        params![
            id,
            m.name,
            m.hostname,
            m.public_key.as_bytes(),
            m.status.as_str(),
            m.enabled,
            m.kind.as_str(),
            m.expires_ms,
            m.enrolled_via.as_str(),
            m.enrollment_token_id,
            m.registered_ip,
            to_list(&m.allowed_cidrs),
            m.created_ms,
            crate::ai_agent::scopes_cell(m.ai_agent.as_ref()),
            crate::ai_agent::projects_cell(m.ai_agent.as_ref()),
        ],
    )
    .map(drop)
}

/// Attaches inside the caller's transaction. `NotFound` (a foreign key) if either is missing.
pub(crate) fn attach(tx: &Transaction<'_>, machine: &str, project: &str) -> StoreResult<()> {
    exec(
        tx,
        "INSERT INTO memberships (machine_id, project_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
        [machine, project],
    )
    .map(drop)
}

#[async_trait]
impl MachineStore for SqliteStore {
    async fn machine(&self, id: &MachineId) -> StoreResult<Option<MachineRecord>> {
        let id = id.to_string();
        self.read(|c| {
            one(
                c,
                "SELECT id, name, hostname, public_key, status, enabled, kind, expires_ms, enrolled_via,
                        enrollment_token_id, registered_ip, allowed_cidrs, created_ms, agent_scopes,
                        agent_projects
                 FROM machines WHERE id = ?1",
                [id],
                machine,
            )
        })
    }

    async fn machine_at_policy(&self, id: &MachineId) -> StoreResult<MachineAtPolicy> {
        let id = id.to_string();
        // One row whatever exists: the machine's columns are NULL for an unknown id, the stamp
        // NULL (read as zero) without a vault.
        let found = self.read(|c| {
            one(
                c,
                "SELECT m.id, m.name, m.hostname, m.public_key, m.status, m.enabled, m.kind, m.expires_ms,
                        m.enrolled_via, m.enrollment_token_id, m.registered_ip, m.allowed_cidrs,
                        m.created_ms, m.agent_scopes, m.agent_projects, v.policy_version,
                    (SELECT stamp FROM access_stamp WHERE singleton = 1)
                 FROM (SELECT 1) AS one
                 LEFT JOIN vault AS v ON v.singleton = 1
                 LEFT JOIN machines AS m ON m.id = ?1",
                [id],
                |row| {
                    let present: Option<String> = col(row, 0)?;
                    let version: Option<i64> = col(row, 15)?;
                    let stamp: Option<i64> = col(row, 16)?;
                    Ok(MachineAtPolicy {
                        machine: present.map(|_| machine(row)).transpose()?,
                        policy_version: PolicyVersion(version.unwrap_or_default()),
                        access_stamp: AccessStamp(stamp.unwrap_or_default()),
                    })
                },
            )
        })?;
        Ok(found.unwrap_or(MachineAtPolicy {
            machine: None,
            policy_version: PolicyVersion::default(),
            access_stamp: AccessStamp::default(),
        }))
    }

    async fn machines(&self) -> StoreResult<Vec<MachineRecord>> {
        self.read(|c| {
            all(
                c,
                "SELECT id, name, hostname, public_key, status, enabled, kind, expires_ms, enrolled_via,
                        enrollment_token_id, registered_ip, allowed_cidrs, created_ms, agent_scopes,
                        agent_projects
                 FROM machines ORDER BY created_ms DESC, rowid DESC",
                [],
                machine,
            )
        })
    }

    async fn insert_machine(&self, m: &NewMachine) -> StoreResult<()> {
        let m = m.clone();
        self.write(move |tx| insert(tx, &m)).await
    }

    async fn transition_machine(
        &self,
        id: &MachineId,
        from: MachineStatus,
        to: MachineStatus,
    ) -> StoreResult<()> {
        let id = id.to_string();
        self.write(move |tx| {
            exec_found(
                tx,
                "UPDATE machines SET status = ?3 WHERE id = ?1 AND status = ?2",
                [id.as_str(), from.as_str(), to.as_str()],
            )
        })
        .await
    }

    async fn set_machine_enabled(&self, id: &MachineId, enabled: bool) -> StoreResult<()> {
        let id = id.to_string();
        self.write(move |tx| {
            exec_found(
                tx,
                "UPDATE machines SET enabled = ?2 WHERE id = ?1",
                params![id, enabled],
            )
        })
        .await
    }

    async fn revoke_machine(&self, id: &MachineId) -> StoreResult<()> {
        let id = id.to_string();
        self.write(move |tx| {
            exec_found(
                tx,
                "UPDATE machines SET status = 'revoked' WHERE id = ?1 AND status <> 'revoked'",
                [&id],
            )?;
            exec(tx, "DELETE FROM grants WHERE machine_id = ?1", [&id])?;
            exec(tx, "DELETE FROM memberships WHERE machine_id = ?1", [&id])?;
            Ok(())
        })
        .await
    }

    async fn set_machine_cidrs(&self, id: &MachineId, cidrs: &[String]) -> StoreResult<()> {
        let id = id.to_string();
        let cidrs = to_list(cidrs);
        self.write(move |tx| {
            exec_found(
                tx,
                "UPDATE machines SET allowed_cidrs = ?2 WHERE id = ?1",
                [id, cidrs],
            )
        })
        .await
    }

    async fn attach(&self, machine: &MachineId, project: &ProjectId) -> StoreResult<()> {
        let (machine, project) = (machine.to_string(), project.to_string());
        self.write(move |tx| attach(tx, &machine, &project)).await
    }

    async fn detach(&self, machine: &MachineId, project: &ProjectId) -> StoreResult<()> {
        let (machine, project) = (machine.to_string(), project.to_string());
        self.write(move |tx| {
            exec(tx, "DELETE FROM memberships WHERE machine_id = ?1 AND project_id = ?2", [&machine, &project])?;
            exec(
                tx,
                "DELETE FROM grants WHERE machine_id = ?1 AND secret_id IN (SELECT id FROM secrets WHERE project_id = ?2)",
                [&machine, &project],
            )?;
            Ok(())
        })
        .await
    }

    async fn memberships(&self, machine: &MachineId) -> StoreResult<Vec<ProjectId>> {
        let machine = machine.to_string();
        self.read(|c| {
            all(
                c,
                "SELECT project_id FROM memberships WHERE machine_id = ?1 ORDER BY project_id",
                [machine],
                |r| id(r, 0),
            )
        })
    }

    async fn grant(&self, machine: &MachineId, secret: &SecretId) -> StoreResult<()> {
        let (machine, secret) = (machine.to_string(), secret.to_string());
        self.write(move |tx| {
            exec(
                tx,
                "INSERT INTO grants (machine_id, secret_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                [machine, secret],
            )
            .map(drop)
        })
        .await
    }

    async fn ungrant(&self, machine: &MachineId, secret: &SecretId) -> StoreResult<()> {
        let (machine, secret) = (machine.to_string(), secret.to_string());
        self.write(move |tx| {
            exec(
                tx,
                "DELETE FROM grants WHERE machine_id = ?1 AND secret_id = ?2",
                [machine, secret],
            )
            .map(drop)
        })
        .await
    }

    async fn grants(&self, machine: &MachineId) -> StoreResult<Vec<SecretId>> {
        let machine = machine.to_string();
        self.read(|c| {
            all(
                c,
                "SELECT secret_id FROM grants WHERE machine_id = ?1 ORDER BY secret_id",
                [machine],
                |r| id(r, 0),
            )
        })
    }
}
