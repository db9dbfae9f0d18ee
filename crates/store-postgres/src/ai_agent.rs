//! AI agents: the two agent columns of `machines` (migration `0018_ai_agents.sql`).

use async_trait::async_trait;
use signet_proto::MachineId;
use signet_store::{AiAgentProfile, AiAgentStore, StoreError, StoreResult};
use sqlx::postgres::PgRow;

use crate::error::db;
use crate::row::{opt_list, to_list};
use crate::{PgStore, found};

/// The profile in columns `idx` (scopes) and `idx + 1` (projects); `None` for a machine.
pub(crate) fn profile(row: &PgRow, idx: usize) -> StoreResult<Option<AiAgentProfile>> {
    let Some(scopes) = opt_list(row, idx)? else {
        return Ok(None);
    };
    let projects = opt_list(row, idx + 1)?
        .map(|list| {
            list.iter()
                .map(|p| p.parse().map_err(|_| StoreError::Corrupt))
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
impl AiAgentStore for PgStore {
    async fn approve_agent(&self, id: &MachineId, profile: &AiAgentProfile) -> StoreResult<()> {
        let id = id.to_string();
        let mut tx = self.begin().await?;
        found(
            sqlx::query(
                "UPDATE machines SET status = 'approved', agent_scopes = $2, agent_projects = $3
                 WHERE id = $1 AND status = 'pending'",
            )
            .bind(&id)
            .bind(scopes_cell(Some(profile)))
            .bind(projects_cell(Some(profile)))
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

    async fn set_agent_profile(&self, id: &MachineId, profile: &AiAgentProfile) -> StoreResult<()> {
        self.execute_found(
            sqlx::query(
                "UPDATE machines SET agent_scopes = $2, agent_projects = $3
                 WHERE id = $1 AND agent_scopes IS NOT NULL",
            )
            .bind(id.to_string())
            .bind(scopes_cell(Some(profile)))
            .bind(projects_cell(Some(profile))),
        )
        .await
    }
}
