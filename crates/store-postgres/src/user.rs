//! Users, recovery codes and login history. Each rule that must survive concurrent sign-ins (a
//! TOTP step accepted once, a recovery code spent once, every failure counted) is one
//! conditional statement, which PostgreSQL re-checks after a concurrent writer commits. The two
//! check-then-write rules (the first user, the last owner) take a transaction advisory lock
//! first, so replicas deciding them at once are serialised.

use async_trait::async_trait;
use signet_proto::{ProjectId, UserId};
use signet_store::{
    Conflict, Lockout, LoginRecord, LoginResult, Role, StoreError, StoreResult, UserRecord,
    UserStatus, UserStore,
};
use sqlx::PgConnection;
use sqlx::postgres::PgRow;

use crate::PgStore;
use crate::error::{corrupt, db};
use crate::row::{col, id, name, opt_id, small};

/// Serialises "is there a user yet" with the insert that follows ("SIGNET" then 4).
const FIRST_USER_LOCK: i64 = 0x5349_474E_4554_0004;

/// Serialises "is there another active owner" with the change that follows ("SIGNET" then 5).
const OWNER_LOCK: i64 = 0x5349_474E_4554_0005;

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
fn user(row: &PgRow) -> StoreResult<UserRecord> {
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
        failed_attempts: small(row, 9)?,
        locked_until_ms: col(row, 10)?,
        created_ms: col(row, 11)?,
    })
}

/// Reads a scoped user's projects.
async fn with_projects(conn: &mut PgConnection, mut u: UserRecord) -> StoreResult<UserRecord> {
    if let Some(list) = u.projects.as_mut() {
        *list = sqlx::query(
            "SELECT project_id FROM user_projects WHERE user_id = $1 ORDER BY project_id COLLATE \"C\"",
        )
        .bind(u.id.to_string())
        .fetch_all(conn)
        .await
        .map_err(db)?
        .iter()
        .map(|r| id(r, 0))
        .collect::<StoreResult<_>>()?;
    }
    Ok(u)
}

/// Replaces a user's scope: `None` unscopes them.
async fn write_scope(
    conn: &mut PgConnection,
    user: &UserId,
    projects: Option<&[ProjectId]>,
) -> StoreResult<()> {
    let user = user.to_string();
    sqlx::query("DELETE FROM user_projects WHERE user_id = $1")
        .bind(&user)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    sqlx::query("UPDATE users SET scoped = $2 WHERE id = $1")
        .bind(&user)
        .bind(projects.is_some())
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    for p in projects.unwrap_or_default() {
        sqlx::query(
            "INSERT INTO user_projects (user_id, project_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(&user)
        .bind(p.to_string())
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    }
    Ok(())
}

async fn advisory_lock(conn: &mut PgConnection, key: i64) -> StoreResult<()> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(key)
        .execute(conn)
        .await
        .map(drop)
        .map_err(db)
}

/// Refuses, inside the caller's transaction (which holds [`OWNER_LOCK`]), a change that would
/// leave no active owner: `user` is about to stop being one.
async fn keep_an_owner(conn: &mut PgConnection, user: &UserId) -> StoreResult<()> {
    let others: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM users
         WHERE role = 'owner' AND status = 'active' AND removed_ms IS NULL AND id <> $1",
    )
    .bind(user.to_string())
    .fetch_one(conn)
    .await
    .map_err(db)?;
    if others == 0 {
        return Err(StoreError::Conflict(Conflict::LastOwner));
    }
    Ok(())
}

/// Takes [`OWNER_LOCK`] and returns the user as it is now; `NotFound` for unknown or removed.
async fn live_user(conn: &mut PgConnection, id: &UserId) -> StoreResult<UserRecord> {
    advisory_lock(&mut *conn, OWNER_LOCK).await?;
    let row = sqlx::query(user_select!("WHERE id = $1 FOR UPDATE"))
        .bind(id.to_string())
        .fetch_optional(conn)
        .await
        .map_err(db)?;
    match row.map(|r| user(&r)).transpose()? {
        Some(u) if u.status != UserStatus::Removed => Ok(u),
        _ => Err(StoreError::NotFound),
    }
}

fn is_active_owner(u: &UserRecord) -> bool {
    u.role == Role::Owner && u.status == UserStatus::Active
}

fn login(row: &PgRow) -> StoreResult<LoginRecord> {
    Ok(LoginRecord {
        user_id: opt_id(row, 0)?,
        at_ms: col(row, 1)?,
        ip: col(row, 2)?,
        user_agent: col(row, 3)?,
        result: name(row, 4, LoginResult::parse)?,
    })
}

pub(crate) async fn insert(conn: &mut PgConnection, u: &UserRecord) -> StoreResult<()> {
    // A removed user is stored as suspended plus `removed_ms`, as in SQLite.
    let (status, removed_ms) = match u.status {
        UserStatus::Removed => (UserStatus::Suspended, Some(u.created_ms)),
        s => (s, None),
    };
    sqlx::query(
        "INSERT INTO users (id, username, email, display_name, password_hash, totp_sealed,
             totp_last_step, role, status, failed_attempts, locked_until_ms, created_ms,
             removed_ms, totp_confirmed)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(u.id.to_string())
    .bind(&u.username)
    .bind(&u.email)
    .bind(&u.display_name)
    .bind(&u.password_hash)
    .bind(u.totp_sealed.as_deref())
    .bind(u.totp_last_step)
    .bind(u.role.as_str())
    .bind(status.as_str())
    .bind(i64::from(u.failed_attempts))
    .bind(u.locked_until_ms)
    .bind(u.created_ms)
    .bind(removed_ms)
    .bind(u.totp_confirmed)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    write_scope(conn, &u.id, u.projects.as_deref()).await
}

pub(crate) async fn insert_codes(
    conn: &mut PgConnection,
    user: &UserId,
    hashes: &[[u8; 32]],
) -> StoreResult<()> {
    if hashes.is_empty() {
        return Ok(());
    }
    let codes: Vec<Vec<u8>> = hashes.iter().map(|h| h.to_vec()).collect();
    sqlx::query(
        "INSERT INTO recovery_codes (user_id, code_hash, used_ms)
         SELECT $1, h, NULL FROM unnest($2::bytea[]) AS h",
    )
    .bind(user.to_string())
    .bind(codes)
    .execute(conn)
    .await
    .map(drop)
    .map_err(db)
}

#[async_trait]
impl UserStore for PgStore {
    async fn insert_user(&self, u: &UserRecord) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        insert(&mut tx, u).await?;
        self.commit(tx).await
    }

    async fn insert_first_user(
        &self,
        u: &UserRecord,
        recovery_hashes: &[[u8; 32]],
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        // Under the lock, two callers cannot both see an empty table.
        advisory_lock(&mut tx, FIRST_USER_LOCK).await?;
        let exists = sqlx::query("SELECT 1 FROM users LIMIT 1")
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        if exists.is_some() {
            return Err(StoreError::Conflict(Conflict::UsersExist));
        }
        insert(&mut tx, u).await?;
        insert_codes(&mut tx, &u.id, recovery_hashes).await?;
        self.commit(tx).await
    }

    async fn insert_user_with_codes(
        &self,
        u: &UserRecord,
        recovery_hashes: &[[u8; 32]],
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        insert(&mut tx, u).await?;
        insert_codes(&mut tx, &u.id, recovery_hashes).await?;
        self.commit(tx).await
    }

    async fn users(&self) -> StoreResult<Vec<UserRecord>> {
        // One snapshot for the users and their scopes.
        let mut tx = self.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let rows = sqlx::query(user_select!("ORDER BY created_ms, username COLLATE \"C\""))
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            out.push(with_projects(&mut tx, user(r)?).await?);
        }
        // A read: it must not take an audited handle's record.
        tx.commit().await.map_err(db)?;
        Ok(out)
    }

    async fn user(&self, id: &UserId) -> StoreResult<Option<UserRecord>> {
        let mut conn = self.pool().acquire().await.map_err(db)?;
        let row = sqlx::query(user_select!("WHERE id = $1"))
            .bind(id.to_string())
            .fetch_optional(&mut *conn)
            .await
            .map_err(db)?;
        match row {
            Some(r) => Ok(Some(with_projects(&mut conn, user(&r)?).await?)),
            None => Ok(None),
        }
    }

    async fn user_by_login(&self, canonical: &str) -> StoreResult<Option<UserRecord>> {
        let mut conn = self.pool().acquire().await.map_err(db)?;
        let row = sqlx::query(user_select!("WHERE username = $1 OR email = $1"))
            .bind(canonical)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db)?;
        match row {
            Some(r) => Ok(Some(with_projects(&mut conn, user(&r)?).await?)),
            None => Ok(None),
        }
    }

    async fn user_count(&self) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
            .fetch_one(self.pool())
            .await
            .map_err(db)?;
        u64::try_from(n).map_err(|_| corrupt("count"))
    }

    async fn set_password_hash(&self, id: &UserId, phc: &str) -> StoreResult<()> {
        self.execute_found(
            sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
                .bind(id.to_string())
                .bind(phc),
        )
        .await
    }

    async fn set_totp(&self, id: &UserId, sealed: &[u8], step: i64) -> StoreResult<()> {
        self.execute_found(
            sqlx::query(
                "UPDATE users SET totp_sealed = $2, totp_last_step = $3, totp_confirmed = FALSE
                 WHERE id = $1",
            )
            .bind(id.to_string())
            .bind(sealed)
            .bind(step),
        )
        .await
    }

    async fn accept_totp_step(&self, id: &UserId, step: i64) -> StoreResult<bool> {
        let done = self
            .execute(
                sqlx::query(
                    "UPDATE users SET totp_last_step = $2 WHERE id = $1 AND totp_last_step < $2",
                )
                .bind(id.to_string())
                .bind(step),
            )
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn confirm_totp(&self, id: &UserId) -> StoreResult<bool> {
        let done = self
            .execute(
                sqlx::query(
                    "UPDATE users SET totp_confirmed = TRUE
                     WHERE id = $1 AND totp_sealed IS NOT NULL AND NOT totp_confirmed",
                )
                .bind(id.to_string()),
            )
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn record_login_failure(
        &self,
        id: &UserId,
        now_ms: i64,
        limit: u32,
        lock_ms: i64,
    ) -> StoreResult<Lockout> {
        // One statement reads and writes the counter, so concurrent failures each count.
        let row = sqlx::query(
            "UPDATE users SET
                 failed_attempts = CASE WHEN failed_attempts + 1 >= $2 THEN 0
                                        ELSE failed_attempts + 1 END,
                 locked_until_ms = CASE WHEN failed_attempts + 1 >= $2 THEN $3 + $4
                                        ELSE locked_until_ms END
             WHERE id = $1
             RETURNING failed_attempts, locked_until_ms",
        )
        .bind(id.to_string())
        .bind(i64::from(limit))
        .bind(now_ms)
        .bind(lock_ms)
        .fetch_optional(self.pool())
        .await
        .map_err(db)?
        .ok_or(StoreError::NotFound)?;
        Ok(Lockout {
            failed_attempts: small(&row, 0)?,
            locked_until_ms: col(&row, 1)?,
        })
    }

    async fn reset_login_failures(&self, id: &UserId) -> StoreResult<()> {
        self.execute_found(
            sqlx::query(
                "UPDATE users SET failed_attempts = 0, locked_until_ms = NULL WHERE id = $1",
            )
            .bind(id.to_string()),
        )
        .await
    }

    async fn replace_recovery_codes(&self, id: &UserId, hashes: &[[u8; 32]]) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        insert_codes(&mut tx, id, hashes).await?;
        self.commit(tx).await
    }

    async fn use_recovery_code(
        &self,
        id: &UserId,
        hash: &[u8; 32],
        now_ms: i64,
    ) -> StoreResult<bool> {
        let done = self
            .execute(
                sqlx::query(
                    "UPDATE recovery_codes SET used_ms = $3
             WHERE user_id = $1 AND code_hash = $2 AND used_ms IS NULL",
                )
                .bind(id.to_string())
                .bind(hash.as_slice())
                .bind(now_ms),
            )
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn unused_recovery_codes(&self, id: &UserId) -> StoreResult<u32> {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM recovery_codes WHERE user_id = $1 AND used_ms IS NULL",
        )
        .bind(id.to_string())
        .fetch_one(self.pool())
        .await
        .map_err(db)?;
        u32::try_from(n).map_err(|_| corrupt("count"))
    }

    async fn append_login(&self, l: &LoginRecord) -> StoreResult<()> {
        self.execute(sqlx::query(
            "INSERT INTO logins (user_id, at_ms, ip, user_agent, result) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(l.user_id.map(|u| u.to_string()))
        .bind(l.at_ms)
        .bind(&l.ip)
        .bind(&l.user_agent)
        .bind(l.result.as_str())
        )
        .await.map(drop)
    }

    async fn logins(&self, id: &UserId, limit: u32) -> StoreResult<Vec<LoginRecord>> {
        // Logins are never updated or deleted, so their physical order is their insertion order,
        // which is SQLite's tie-breaker (rowid).
        sqlx::query(
            "SELECT user_id, at_ms, ip, user_agent, result FROM logins
             WHERE user_id = $1 ORDER BY at_ms DESC, ctid DESC LIMIT $2",
        )
        .bind(id.to_string())
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await
        .map_err(db)?
        .iter()
        .map(login)
        .collect()
    }

    async fn set_user_access(
        &self,
        id: &UserId,
        role: Role,
        projects: Option<&[ProjectId]>,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let u = live_user(&mut tx, id).await?;
        if is_active_owner(&u) && role != Role::Owner {
            keep_an_owner(&mut tx, id).await?;
        }
        sqlx::query("UPDATE users SET role = $2 WHERE id = $1")
            .bind(id.to_string())
            .bind(role.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        write_scope(&mut tx, id, projects).await?;
        self.commit(tx).await
    }

    async fn set_user_active(&self, id: &UserId, active: bool) -> StoreResult<()> {
        let status = if active {
            UserStatus::Active
        } else {
            UserStatus::Suspended
        };
        let mut tx = self.begin().await?;
        let u = live_user(&mut tx, id).await?;
        if is_active_owner(&u) && status != UserStatus::Active {
            keep_an_owner(&mut tx, id).await?;
        }
        sqlx::query("UPDATE users SET status = $2 WHERE id = $1")
            .bind(id.to_string())
            .bind(status.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        self.commit(tx).await
    }

    async fn remove_user(&self, id: &UserId, now_ms: i64) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let u = live_user(&mut tx, id).await?;
        if is_active_owner(&u) {
            keep_an_owner(&mut tx, id).await?;
        }
        let id = id.to_string();
        sqlx::query("UPDATE users SET status = 'suspended', removed_ms = $2 WHERE id = $1")
            .bind(&id)
            .bind(now_ms)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        sqlx::query("UPDATE operators SET disabled = TRUE WHERE user_id = $1")
            .bind(&id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        self.commit(tx).await
    }
}
