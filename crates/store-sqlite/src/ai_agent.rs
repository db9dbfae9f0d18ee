//! AI agents: the two agent columns of `machines` (migration `0022_ai_agents.sql`).

use async_trait::async_trait;
use rusqlite::{Row, params};
use signet_proto::MachineId;
use signet_store::{AiAgentProfile, AiAgentStore, StoreResult};

use crate::SqliteStore;
use crate::row::{opt_list, to_list};
use crate::statement::{exec, exec_found};

/// The profile in columns `idx` (scopes) and `idx + 1` (projects); `None` for a machine.
pub(crate) fn profile(row: &Row<'_>, idx: usize) -> StoreResult<Option<AiAgentProfile>> {
    let Some(scopes) = opt_list(row, idx)? else {
        return Ok(None);
    };
    let projects = opt_list(row, idx + 1)?
        .map(|list| {
            list.iter()
                .map(|p| p.parse().map_err(|_| signet_store::StoreError::Corrupt))
                .collect::<StoreResult<Vec<_>>>()
        })
        .transpose()?;
    Ok(Some(AiAgentProfile { scopes, projects }))
}

/// The `agent_scopes` cell: NULL for a machine.
pub(crate) fn scopes_cell(p: Option<&AiAgentProfile>) -> Option<String> {
    p.map(|p| to_list(&p.scopes))
}

/// The `agent_projects` cell: NULL for a machine and for an agent on every project.
pub(crate) fn projects_cell(p: Option<&AiAgentProfile>) -> Option<String> {
    let ids = p?.projects.as_ref()?;
    Some(to_list(
        &ids.iter().map(ToString::to_string).collect::<Vec<_>>(),
    ))
}

#[async_trait]
impl AiAgentStore for SqliteStore {
    async fn approve_agent(&self, id: &MachineId, profile: &AiAgentProfile) -> StoreResult<()> {
        let id = id.to_string();
        let (scopes, projects) = (scopes_cell(Some(profile)), projects_cell(Some(profile)));
        self.write(move |tx| {
            exec_found(
                tx,
                "UPDATE machines SET status = 'approved', agent_scopes = ?2, agent_projects = ?3
                 WHERE id = ?1 AND status = 'pending'",
                params![id, scopes, projects],
            )?;
            exec(tx, "DELETE FROM grants WHERE machine_id = ?1", [&id])?;
            exec(tx, "DELETE FROM memberships WHERE machine_id = ?1", [&id])?;
            Ok(())
        })
        .await
    }

    async fn set_agent_profile(&self, id: &MachineId, profile: &AiAgentProfile) -> StoreResult<()> {
        let id = id.to_string();
        let (scopes, projects) = (scopes_cell(Some(profile)), projects_cell(Some(profile)));
        self.write(move |tx| {
            exec_found(
                tx,
                "UPDATE machines SET agent_scopes = ?2, agent_projects = ?3
                 WHERE id = ?1 AND agent_scopes IS NOT NULL",
                params![id, scopes, projects],
            )
        })
        .await
    }
}
