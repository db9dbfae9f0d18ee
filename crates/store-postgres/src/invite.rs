//! Invitations. Accepting one spends it and creates the account in one transaction, behind one
//! conditional `UPDATE`, so a code creates at most one account however many requests race.

use async_trait::async_trait;
use signet_proto::{InviteId, ProjectId};
use signet_store::{
    Conflict, InviteRecord, InviteStore, Role, StoreError, StoreResult, UserRecord,
};
use sqlx::postgres::PgRow;

use crate::error::{corrupt, db};
use crate::row::{col, digest, id, name, to_list};
use crate::user::{insert, insert_codes};
use crate::{PgStore, found};

macro_rules! invite_select {
    ($rest:literal) => {
        concat!(
            "SELECT id, code_hash, email, role, projects, created_by, created_ms, expires_ms,
                    used_ms, revoked_ms
             FROM invites ",
            $rest
        )
    };
}

fn invite(row: &PgRow) -> StoreResult<InviteRecord> {
    let projects: Option<&str> = col(row, 4)?;
    let projects = projects
        .map(|s| {
            let ids: Vec<String> = serde_json::from_str(s).map_err(|_| corrupt("list"))?;
            ids.iter()
                .map(|p| ProjectId::parse(p).map_err(|_| corrupt("id")))
                .collect::<StoreResult<Vec<_>>>()
        })
        .transpose()?;
    Ok(InviteRecord {
        id: id(row, 0)?,
        code_hash: digest(row, 1)?,
        email: col(row, 2)?,
        role: name(row, 3, Role::parse)?,
        projects,
        created_by: id(row, 5)?,
        created_ms: col(row, 6)?,
        expires_ms: col(row, 7)?,
        used_ms: col(row, 8)?,
        revoked_ms: col(row, 9)?,
    })
}

#[async_trait]
impl InviteStore for PgStore {
    async fn insert_invite(&self, i: &InviteRecord) -> StoreResult<()> {
        let projects = i
            .projects
            .as_ref()
            .map(|p| to_list(&p.iter().map(ProjectId::as_str).collect::<Vec<_>>()));
        self.execute(
            sqlx::query(
                "INSERT INTO invites (id, code_hash, email, role, projects, created_by,
                 created_ms, expires_ms, used_ms, revoked_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(i.id.to_string())
            .bind(i.code_hash.as_slice())
            .bind(&i.email)
            .bind(i.role.as_str())
            .bind(projects)
            .bind(i.created_by.to_string())
            .bind(i.created_ms)
            .bind(i.expires_ms)
            .bind(i.used_ms)
            .bind(i.revoked_ms),
        )
        .await
        .map(drop)
    }

    async fn invites(&self) -> StoreResult<Vec<InviteRecord>> {
        // SQLite breaks ties on insertion order (rowid); the id makes this order stable.
        sqlx::query(invite_select!("ORDER BY created_ms DESC, id DESC"))
            .fetch_all(self.pool())
            .await
            .map_err(db)?
            .iter()
            .map(invite)
            .collect()
    }

    async fn invite_by_code(&self, code_hash: &[u8; 32]) -> StoreResult<Option<InviteRecord>> {
        sqlx::query(invite_select!("WHERE code_hash = $1"))
            .bind(code_hash.as_slice())
            .fetch_optional(self.pool())
            .await
            .map_err(db)?
            .map(|r| invite(&r))
            .transpose()
    }

    async fn revoke_invite(&self, invite_id: &InviteId, now_ms: i64) -> StoreResult<()> {
        let invite_id = invite_id.to_string();
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE invites SET revoked_ms = $2
             WHERE id = $1 AND used_ms IS NULL AND revoked_ms IS NULL",
        )
        .bind(&invite_id)
        .bind(now_ms)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if done.rows_affected() == 1 {
            return self.commit(tx).await;
        }
        let exists = sqlx::query("SELECT 1 FROM invites WHERE id = $1")
            .bind(&invite_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        Err(match exists {
            Some(_) => StoreError::Conflict(Conflict::InviteSpent),
            None => StoreError::NotFound,
        })
    }

    async fn accept_invite(
        &self,
        invite_id: &InviteId,
        now_ms: i64,
        user: &UserRecord,
        recovery_hashes: &[[u8; 32]],
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        // The invitation is spent first: a racing acceptance waits here for this transaction
        // and then finds it spent, before it can touch the users table. The user goes in after,
        // and `used_by` is pointed at them once they exist; a username or email conflict rolls
        // the whole transaction back, invitation unspent.
        found(
            sqlx::query(
                "UPDATE invites SET used_ms = $2
                 WHERE id = $1 AND used_ms IS NULL AND revoked_ms IS NULL AND expires_ms > $2",
            )
            .bind(invite_id.to_string())
            .bind(now_ms)
            .execute(&mut *tx)
            .await
            .map_err(db)?,
        )?;
        insert(&mut tx, user).await?;
        insert_codes(&mut tx, &user.id, recovery_hashes).await?;
        sqlx::query("UPDATE invites SET used_by = $2 WHERE id = $1")
            .bind(invite_id.to_string())
            .bind(user.id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        self.commit(tx).await
    }
}
