//! Invitations. Accepting one spends it and creates the account in one transaction, behind one
//! conditional `UPDATE`, so a code creates at most one account however many requests race.

use async_trait::async_trait;
use rusqlite::{Row, params};
use signet_proto::{InviteId, ProjectId};
use signet_store::{
    Conflict, InviteRecord, InviteStore, Role, StoreError, StoreResult, UserRecord,
};

use crate::SqliteStore;
use crate::error::corrupt;
use crate::row::{col, id, name};
use crate::statement::{all, exec, exec_found, one};
use crate::user::{insert, insert_codes};

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

fn invite(row: &Row<'_>) -> StoreResult<InviteRecord> {
    let projects: Option<String> = col(row, 4)?;
    let projects = projects
        .map(|s| {
            let ids: Vec<String> = serde_json::from_str(&s).map_err(|_| corrupt("list"))?;
            ids.iter()
                .map(|p| ProjectId::parse(p).map_err(|_| corrupt("id")))
                .collect::<StoreResult<Vec<_>>>()
        })
        .transpose()?;
    Ok(InviteRecord {
        id: id(row, 0)?,
        code_hash: col(row, 1)?,
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
impl InviteStore for SqliteStore {
    async fn insert_invite(&self, i: &InviteRecord) -> StoreResult<()> {
        let projects = i
            .projects
            .as_ref()
            .map(|p| {
                let ids: Vec<&str> = p.iter().map(ProjectId::as_str).collect();
                serde_json::to_string(&ids).map_err(|_| StoreError::Unavailable)
            })
            .transpose()?;
        let i = i.clone();
        self.write(move |tx| {
            exec(
                tx,
                "INSERT INTO invites (id, code_hash, email, role, projects, created_by,
                     created_ms, expires_ms, used_ms, revoked_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    i.id.to_string(),
                    i.code_hash.as_slice(),
                    i.email,
                    i.role.as_str(),
                    projects,
                    i.created_by.to_string(),
                    i.created_ms,
                    i.expires_ms,
                    i.used_ms,
                    i.revoked_ms
                ],
            )
            .map(drop)
        })
        .await
    }

    async fn invites(&self) -> StoreResult<Vec<InviteRecord>> {
        self.read(|c| {
            all(
                c,
                invite_select!("ORDER BY created_ms DESC, rowid DESC"),
                [],
                invite,
            )
        })
    }

    async fn invite_by_code(&self, code_hash: &[u8; 32]) -> StoreResult<Option<InviteRecord>> {
        let hash = *code_hash;
        self.read(|c| {
            one(
                c,
                invite_select!("WHERE code_hash = ?1"),
                [hash.as_slice()],
                invite,
            )
        })
    }

    async fn revoke_invite(&self, invite_id: &InviteId, now_ms: i64) -> StoreResult<()> {
        let invite_id = invite_id.to_string();
        self.write(move |tx| {
            let n = exec(
                tx,
                "UPDATE invites SET revoked_ms = ?2
                 WHERE id = ?1 AND used_ms IS NULL AND revoked_ms IS NULL",
                params![invite_id, now_ms],
            )?;
            if n == 1 {
                return Ok(());
            }
            let exists = one(
                tx,
                "SELECT 1 FROM invites WHERE id = ?1",
                [&invite_id],
                |r| col::<i64>(r, 0),
            )?;
            Err(match exists {
                Some(_) => StoreError::Conflict(Conflict::InviteSpent),
                None => StoreError::NotFound,
            })
        })
        .await
    }

    async fn accept_invite(
        &self,
        invite_id: &InviteId,
        now_ms: i64,
        user: &UserRecord,
        recovery_hashes: &[[u8; 32]],
    ) -> StoreResult<()> {
        let (invite_id, u, hashes) = (*invite_id, user.clone(), recovery_hashes.to_vec());
        self.write(move |tx| {
            // The user goes in first, so that the invite's `used_by` can point at them; a
            // username or email conflict then rolls the whole job back, invite unspent.
            insert(tx, &u)?;
            insert_codes(tx, &u.id.to_string(), &hashes)?;
            exec_found(
                tx,
                "UPDATE invites SET used_ms = ?2, used_by = ?3
                 WHERE id = ?1 AND used_ms IS NULL AND revoked_ms IS NULL AND expires_ms > ?2",
                params![invite_id.to_string(), now_ms, u.id.to_string()],
            )
        })
        .await
    }
}
