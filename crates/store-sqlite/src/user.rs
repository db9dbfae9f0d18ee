//! Users, recovery codes and login history. Each rule that must survive concurrent sign-ins (a
//! TOTP step accepted once, a recovery code spent once, every failure counted) is one
//! conditional statement, so it holds however the writer batches the requests.

use async_trait::async_trait;
use rusqlite::{Connection, Row, params};
use signet_proto::{ProjectId, UserId};
use signet_store::{
    Conflict, Lockout, LoginRecord, LoginResult, Role, StoreError, StoreResult, UserRecord,
    UserStatus, UserStore,
};

use crate::SqliteStore;
use crate::row::{col, id, name, opt_id};
use crate::statement::{all, exec, exec_found, one};

/// `SELECT` of every user column, in the order [`user`] decodes, then the rest of the statement.
macro_rules! user_select {
    ($rest:literal) => {
        concat!(
            "SELECT id, username, email, display_name, password_hash, totp_sealed, totp_last_step,
                    role, status, failed_attempts, locked_until_ms, created_ms, scoped, removed_ms,
                    totp_confirmed
             FROM users ",
            $rest
        )
    };
}

/// A user row. `projects` is `Some(empty)` when the user is scoped; [`with_projects`] fills it.
fn user(row: &Row<'_>) -> StoreResult<UserRecord> {
    let scoped: bool = col(row, 12)?;
    let removed_ms: Option<i64> = col(row, 13)?;
    let status = if removed_ms.is_some() {
        UserStatus::Removed
    } else {
        name(row, 8, UserStatus::parse)?
    };
    Ok(UserRecord {
        id: id(row, 0)?,
        username: col(row, 1)?,
        email: col(row, 2)?,
        display_name: col(row, 3)?,
        password_hash: col(row, 4)?,
        totp_sealed: col(row, 5)?,
        totp_last_step: col(row, 6)?,
        totp_confirmed: col(row, 14)?,
        role: name(row, 7, Role::parse)?,
        projects: scoped.then(Vec::new),
        status,
        failed_attempts: col(row, 9)?,
        locked_until_ms: col(row, 10)?,
        created_ms: col(row, 11)?,
    })
}

/// Reads a scoped user's projects.
fn with_projects(c: &Connection, mut u: UserRecord) -> StoreResult<UserRecord> {
    if let Some(list) = u.projects.as_mut() {
        *list = all(
            c,
            "SELECT project_id FROM user_projects WHERE user_id = ?1 ORDER BY project_id",
            [u.id.to_string()],
            |r| id(r, 0),
        )?;
    }
    Ok(u)
}

/// Replaces a user's scope: `None` unscopes them.
fn write_scope(c: &Connection, user: &UserId, projects: Option<&[ProjectId]>) -> StoreResult<()> {
    let user = user.to_string();
    exec(c, "DELETE FROM user_projects WHERE user_id = ?1", [&user])?;
    exec(
        c,
        "UPDATE users SET scoped = ?2 WHERE id = ?1",
        params![user, projects.is_some()],
    )?;
    for p in projects.unwrap_or_default() {
        exec(
            c,
            "INSERT OR IGNORE INTO user_projects (user_id, project_id) VALUES (?1, ?2)",
            params![user, p.as_str()],
        )?;
    }
    Ok(())
}

/// Refuses, inside the caller's transaction, a change that would leave no active owner: `user`
/// is about to stop being one.
fn keep_an_owner(c: &Connection, user: &UserId) -> StoreResult<()> {
    let others = one(
        c,
        "SELECT count(*) FROM users
         WHERE role = 'owner' AND status = 'active' AND removed_ms IS NULL AND id != ?1",
        [user.to_string()],
        |r| col::<i64>(r, 0),
    )?
    .unwrap_or(0);
    if others == 0 {
        return Err(StoreError::Conflict(Conflict::LastOwner));
    }
    Ok(())
}

/// The user as the writer sees it now; `NotFound` for unknown or removed.
fn live_user(c: &Connection, id: &UserId) -> StoreResult<UserRecord> {
    match one(c, user_select!("WHERE id = ?1"), [id.to_string()], user)? {
        Some(u) if u.status != UserStatus::Removed => Ok(u),
        _ => Err(StoreError::NotFound),
    }
}

fn is_active_owner(u: &UserRecord) -> bool {
    u.role == Role::Owner && u.status == UserStatus::Active
}

fn login(row: &Row<'_>) -> StoreResult<LoginRecord> {
    Ok(LoginRecord {
        user_id: opt_id(row, 0)?,
        at_ms: col(row, 1)?,
        ip: col(row, 2)?,
        user_agent: col(row, 3)?,
        result: name(row, 4, LoginResult::parse)?,
    })
}

pub(crate) fn insert(tx: &rusqlite::Transaction<'_>, u: &UserRecord) -> StoreResult<()> {
    // A removed user is stored as suspended plus `removed_ms` (migration 0005).
    let (status, removed_ms) = match u.status {
        UserStatus::Removed => (UserStatus::Suspended, Some(u.created_ms)),
        s => (s, None),
    };
    exec(
        tx,
        "INSERT INTO users (id, username, email, display_name, password_hash, totp_sealed,
             totp_last_step, role, status, failed_attempts, locked_until_ms, created_ms,
             removed_ms, totp_confirmed)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        params![
            u.id.to_string(),
            u.username,
            u.email,
            u.display_name,
            u.password_hash,
            u.totp_sealed,
            u.totp_last_step,
            u.role.as_str(),
            status.as_str(),
            u.failed_attempts,
            u.locked_until_ms,
            u.created_ms,
            removed_ms,
            u.totp_confirmed
        ],
    )?;
    write_scope(tx, &u.id, u.projects.as_deref())
}

pub(crate) fn insert_codes(
    tx: &rusqlite::Transaction<'_>,
    user: &str,
    hashes: &[[u8; 32]],
) -> StoreResult<()> {
    for h in hashes {
        exec(
            tx,
            "INSERT INTO recovery_codes (user_id, code_hash, used_ms) VALUES (?1, ?2, NULL)",
            params![user, h.as_slice()],
        )?;
    }
    Ok(())
}

#[async_trait]
impl UserStore for SqliteStore {
    async fn insert_user(&self, u: &UserRecord) -> StoreResult<()> {
        let u = u.clone();
        self.write(move |tx| insert(tx, &u)).await
    }

    async fn insert_first_user(
        &self,
        u: &UserRecord,
        recovery_hashes: &[[u8; 32]],
    ) -> StoreResult<()> {
        let (u, hashes) = (u.clone(), recovery_hashes.to_vec());
        // The check and the insert share the writer's transaction, so two callers cannot both
        // see an empty table.
        self.write(move |tx| {
            let exists = one(tx, "SELECT 1 FROM users LIMIT 1", [], |r| col::<i64>(r, 0))?;
            if exists.is_some() {
                return Err(StoreError::Conflict(Conflict::UsersExist));
            }
            insert(tx, &u)?;
            insert_codes(tx, &u.id.to_string(), &hashes)
        })
        .await
    }

    async fn insert_user_with_codes(
        &self,
        u: &UserRecord,
        recovery_hashes: &[[u8; 32]],
    ) -> StoreResult<()> {
        let (u, hashes) = (u.clone(), recovery_hashes.to_vec());
        self.write(move |tx| {
            insert(tx, &u)?;
            insert_codes(tx, &u.id.to_string(), &hashes)
        })
        .await
    }

    async fn users(&self) -> StoreResult<Vec<UserRecord>> {
        self.read(|c| {
            all(c, user_select!("ORDER BY created_ms, username"), [], user)?
                .into_iter()
                .map(|u| with_projects(c, u))
                .collect()
        })
    }

    async fn user(&self, id: &UserId) -> StoreResult<Option<UserRecord>> {
        let id = id.to_string();
        self.read(|c| {
            one(c, user_select!("WHERE id = ?1"), [id], user)?
                .map(|u| with_projects(c, u))
                .transpose()
        })
    }

    async fn user_by_login(&self, canonical: &str) -> StoreResult<Option<UserRecord>> {
        let canonical = canonical.to_owned();
        self.read(|c| {
            one(
                c,
                user_select!("WHERE username = ?1 OR email = ?1"),
                [canonical],
                user,
            )?
            .map(|u| with_projects(c, u))
            .transpose()
        })
    }

    async fn user_count(&self) -> StoreResult<u64> {
        let n = self.read(|c| one(c, "SELECT count(*) FROM users", [], |r| col::<i64>(r, 0)))?;
        u64::try_from(n.unwrap_or(0)).map_err(|_| StoreError::Corrupt)
    }

    async fn set_password_hash(&self, id: &UserId, phc: &str) -> StoreResult<()> {
        let (id, phc) = (id.to_string(), phc.to_owned());
        self.write(move |tx| {
            exec_found(
                tx,
                "UPDATE users SET password_hash = ?2 WHERE id = ?1",
                params![id, phc],
            )
        })
        .await
    }

    async fn set_totp(&self, id: &UserId, sealed: &[u8], step: i64) -> StoreResult<()> {
        let (id, sealed) = (id.to_string(), sealed.to_vec());
        self.write(move |tx| {
            exec_found(
                tx,
                "UPDATE users SET totp_sealed = ?2, totp_last_step = ?3, totp_confirmed = 0
                 WHERE id = ?1",
                params![id, sealed, step],
            )
        })
        .await
    }

    async fn accept_totp_step(&self, id: &UserId, step: i64) -> StoreResult<bool> {
        let id = id.to_string();
        self.write(move |tx| {
            exec(
                tx,
                "UPDATE users SET totp_last_step = ?2 WHERE id = ?1 AND totp_last_step < ?2",
                params![id, step],
            )
            .map(|n| n == 1)
        })
        .await
    }

    async fn confirm_totp(&self, id: &UserId) -> StoreResult<bool> {
        let id = id.to_string();
        self.write(move |tx| {
            exec(
                tx,
                "UPDATE users SET totp_confirmed = 1
                 WHERE id = ?1 AND totp_sealed IS NOT NULL AND totp_confirmed = 0",
                params![id],
            )
            .map(|n| n == 1)
        })
        .await
    }

    async fn record_login_failure(
        &self,
        id: &UserId,
        now_ms: i64,
        limit: u32,
        lock_ms: i64,
    ) -> StoreResult<Lockout> {
        let id = id.to_string();
        self.write(move |tx| {
            // One statement reads and writes the counter, so concurrent failures each count.
            let row = one(
                tx,
                "UPDATE users SET
                     failed_attempts = CASE WHEN failed_attempts + 1 >= ?2 THEN 0
                                            ELSE failed_attempts + 1 END,
                     locked_until_ms = CASE WHEN failed_attempts + 1 >= ?2 THEN ?3 + ?4
                                            ELSE locked_until_ms END
                 WHERE id = ?1
                 RETURNING failed_attempts, locked_until_ms",
                params![id, limit, now_ms, lock_ms],
                |r| {
                    Ok(Lockout {
                        failed_attempts: col(r, 0)?,
                        locked_until_ms: col(r, 1)?,
                    })
                },
            )?;
            row.ok_or(StoreError::NotFound)
        })
        .await
    }

    async fn reset_login_failures(&self, id: &UserId) -> StoreResult<()> {
        let id = id.to_string();
        self.write(move |tx| {
            exec_found(
                tx,
                "UPDATE users SET failed_attempts = 0, locked_until_ms = NULL WHERE id = ?1",
                [id],
            )
        })
        .await
    }

    async fn replace_recovery_codes(&self, id: &UserId, hashes: &[[u8; 32]]) -> StoreResult<()> {
        let (id, hashes) = (id.to_string(), hashes.to_vec());
        self.write(move |tx| {
            exec(tx, "DELETE FROM recovery_codes WHERE user_id = ?1", [&id])?;
            insert_codes(tx, &id, &hashes)
        })
        .await
    }

    async fn use_recovery_code(
        &self,
        id: &UserId,
        hash: &[u8; 32],
        now_ms: i64,
    ) -> StoreResult<bool> {
        let (id, hash) = (id.to_string(), *hash);
        self.write(move |tx| {
            exec(
                tx,
                "UPDATE recovery_codes SET used_ms = ?3
                 WHERE user_id = ?1 AND code_hash = ?2 AND used_ms IS NULL",
                params![id, hash.as_slice(), now_ms],
            )
            .map(|n| n == 1)
        })
        .await
    }

    async fn unused_recovery_codes(&self, id: &UserId) -> StoreResult<u32> {
        let id = id.to_string();
        let n = self.read(|c| {
            one(
                c,
                "SELECT count(*) FROM recovery_codes WHERE user_id = ?1 AND used_ms IS NULL",
                [id],
                |r| col::<u32>(r, 0),
            )
        })?;
        Ok(n.unwrap_or(0))
    }

    async fn append_login(&self, l: &LoginRecord) -> StoreResult<()> {
        let l = l.clone();
        self.write(move |tx| {
            exec(
                tx,
                "INSERT INTO logins (user_id, at_ms, ip, user_agent, result) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    l.user_id.map(|u| u.to_string()),
                    l.at_ms,
                    l.ip,
                    l.user_agent,
                    l.result.as_str()
                ],
            )
            .map(drop)
        })
        .await
    }

    async fn logins(&self, id: &UserId, limit: u32) -> StoreResult<Vec<LoginRecord>> {
        let id = id.to_string();
        self.read(|c| {
            all(
                c,
                "SELECT user_id, at_ms, ip, user_agent, result FROM logins
                 WHERE user_id = ?1 ORDER BY at_ms DESC, rowid DESC LIMIT ?2",
                params![id, limit],
                login,
            )
        })
    }

    async fn set_user_access(
        &self,
        id: &UserId,
        role: Role,
        projects: Option<&[ProjectId]>,
    ) -> StoreResult<()> {
        let (id, projects) = (*id, projects.map(<[ProjectId]>::to_vec));
        self.write(move |tx| {
            let u = live_user(tx, &id)?;
            if is_active_owner(&u) && role != Role::Owner {
                keep_an_owner(tx, &id)?;
            }
            exec(
                tx,
                "UPDATE users SET role = ?2 WHERE id = ?1",
                params![id.to_string(), role.as_str()],
            )?;
            write_scope(tx, &id, projects.as_deref())
        })
        .await
    }

    async fn set_user_active(&self, id: &UserId, active: bool) -> StoreResult<()> {
        let id = *id;
        let status = if active {
            UserStatus::Active
        } else {
            UserStatus::Suspended
        };
        self.write(move |tx| {
            let u = live_user(tx, &id)?;
            if is_active_owner(&u) && status != UserStatus::Active {
                keep_an_owner(tx, &id)?;
            }
            exec(
                tx,
                "UPDATE users SET status = ?2 WHERE id = ?1",
                params![id.to_string(), status.as_str()],
            )
            .map(drop)
        })
        .await
    }

    async fn remove_user(&self, id: &UserId, now_ms: i64) -> StoreResult<()> {
        let id = *id;
        self.write(move |tx| {
            let u = live_user(tx, &id)?;
            if is_active_owner(&u) {
                keep_an_owner(tx, &id)?;
            }
            let id = id.to_string();
            exec(
                tx,
                "UPDATE users SET status = 'suspended', removed_ms = ?2 WHERE id = ?1",
                params![id, now_ms],
            )?;
            exec(
                tx,
                "UPDATE operators SET disabled = 1 WHERE user_id = ?1",
                [id],
            )
            .map(drop)
        })
        .await
    }
}
