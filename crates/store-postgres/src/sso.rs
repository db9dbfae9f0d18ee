//! SSO providers, mappings, linked identities and sign-in attempts. Consuming an attempt and
//! finishing one are each a single conditional `UPDATE ... RETURNING`: PostgreSQL makes a racing
//! update of the same row wait for the first to commit and then re-check the `WHERE`, which no
//! longer holds, so of two callbacks with one state (on any replicas) one wins.

use async_trait::async_trait;
use signet_proto::{SsoAttemptId, SsoMappingId, SsoProviderId, UserId};
use signet_store::{
    Role, SsoAttemptRecord, SsoIdentityRecord, SsoMappingRecord, SsoProviderRecord, SsoPurpose,
    SsoStore, StoreResult, UserRecord,
};
use sqlx::PgConnection;
use sqlx::postgres::PgRow;

use crate::error::{corrupt, db};
use crate::row::{col, digest, id, id_list, list, name, opt_id, small, to_list};
use crate::{PgStore, found};

macro_rules! provider_select {
    ($rest:literal) => {
        concat!(
            "SELECT id, name, issuer, client_id, sealed_secret, scopes, username_claim,
                    groups_claim, jit_users, enabled, created_ms, updated_ms
             FROM sso_providers ",
            $rest
        )
    };
}

macro_rules! returning_attempt {
    ($sql:literal) => {
        concat!(
            $sql,
            " RETURNING id, state_hash, provider_id, purpose, binding_hash, nonce, pkce_verifier,
                 user_id, session_id, public_key, key_name, loopback_port, completion_hash,
                 created_ms, expires_ms, used_ms, finished_ms"
        )
    };
}

fn provider(row: &PgRow) -> StoreResult<SsoProviderRecord> {
    Ok(SsoProviderRecord {
        id: id(row, 0)?,
        name: col(row, 1)?,
        issuer: col(row, 2)?,
        client_id: col(row, 3)?,
        sealed_secret: col(row, 4)?,
        scopes: list(row, 5)?,
        username_claim: col(row, 6)?,
        groups_claim: col(row, 7)?,
        jit_users: col(row, 8)?,
        enabled: col(row, 9)?,
        created_ms: col(row, 10)?,
        updated_ms: col(row, 11)?,
    })
}

fn mapping(row: &PgRow) -> StoreResult<SsoMappingRecord> {
    Ok(SsoMappingRecord {
        id: id(row, 0)?,
        provider_id: id(row, 1)?,
        position: small(row, 2)?,
        claim: col(row, 3)?,
        value: col(row, 4)?,
        role: name(row, 5, Role::parse)?,
        project_ids: id_list(row, 6)?,
        created_ms: col(row, 7)?,
    })
}

fn identity(row: &PgRow) -> StoreResult<SsoIdentityRecord> {
    Ok(SsoIdentityRecord {
        provider_id: id(row, 0)?,
        subject: col(row, 1)?,
        user_id: id(row, 2)?,
        linked_ms: col(row, 3)?,
        last_login_ms: col(row, 4)?,
    })
}

fn opt_digest(row: &PgRow, idx: usize) -> StoreResult<Option<[u8; 32]>> {
    let raw: Option<Vec<u8>> = col(row, idx)?;
    raw.map(|v| v.try_into().map_err(|_| corrupt("digest")))
        .transpose()
}

fn attempt(row: &PgRow) -> StoreResult<SsoAttemptRecord> {
    let port: Option<i64> = col(row, 11)?;
    Ok(SsoAttemptRecord {
        id: id(row, 0)?,
        state_hash: digest(row, 1)?,
        provider_id: id(row, 2)?,
        purpose: name(row, 3, SsoPurpose::parse)?,
        binding_hash: opt_digest(row, 4)?,
        nonce: col(row, 5)?,
        pkce_verifier: col(row, 6)?,
        user_id: opt_id(row, 7)?,
        session_id: opt_id(row, 8)?,
        public_key: col(row, 9)?,
        key_name: col(row, 10)?,
        loopback_port: port
            .map(|p| u16::try_from(p).map_err(|_| corrupt("loopback port")))
            .transpose()?,
        completion_hash: opt_digest(row, 12)?,
        created_ms: col(row, 13)?,
        expires_ms: col(row, 14)?,
        used_ms: col(row, 15)?,
        finished_ms: col(row, 16)?,
    })
}

async fn insert_identity(conn: &mut PgConnection, i: &SsoIdentityRecord) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO sso_identities (provider_id, subject, user_id, linked_ms, last_login_ms)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(i.provider_id.as_str())
    .bind(&i.subject)
    .bind(i.user_id.to_string())
    .bind(i.linked_ms)
    .bind(i.last_login_ms)
    .execute(conn)
    .await
    .map_err(db)
    .map(drop)
}

#[async_trait]
impl SsoStore for PgStore {
    async fn insert_sso_provider(&self, p: &SsoProviderRecord) -> StoreResult<()> {
        self.execute(
            sqlx::query(
                "INSERT INTO sso_providers (id, name, issuer, client_id, sealed_secret, scopes,
                     username_claim, groups_claim, jit_users, enabled, created_ms, updated_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            )
            .bind(p.id.as_str())
            .bind(&p.name)
            .bind(&p.issuer)
            .bind(&p.client_id)
            .bind(p.sealed_secret.as_deref())
            .bind(to_list(&p.scopes))
            .bind(&p.username_claim)
            .bind(&p.groups_claim)
            .bind(p.jit_users)
            .bind(p.enabled)
            .bind(p.created_ms)
            .bind(p.updated_ms),
        )
        .await
        .map(drop)
    }

    async fn sso_providers(&self) -> StoreResult<Vec<SsoProviderRecord>> {
        sqlx::query(provider_select!("ORDER BY name COLLATE \"C\""))
            .fetch_all(self.pool())
            .await
            .map_err(db)?
            .iter()
            .map(provider)
            .collect()
    }

    async fn sso_provider(&self, pid: &SsoProviderId) -> StoreResult<Option<SsoProviderRecord>> {
        sqlx::query(provider_select!("WHERE id = $1"))
            .bind(pid.as_str())
            .fetch_optional(self.pool())
            .await
            .map_err(db)?
            .map(|r| provider(&r))
            .transpose()
    }

    async fn update_sso_provider(&self, p: &SsoProviderRecord) -> StoreResult<()> {
        self.execute_found(
            sqlx::query(
                "UPDATE sso_providers SET name = $2, client_id = $3, sealed_secret = $4,
                     scopes = $5, username_claim = $6, groups_claim = $7, jit_users = $8,
                     enabled = $9, updated_ms = $10
                 WHERE id = $1",
            )
            .bind(p.id.as_str())
            .bind(&p.name)
            .bind(&p.client_id)
            .bind(p.sealed_secret.as_deref())
            .bind(to_list(&p.scopes))
            .bind(&p.username_claim)
            .bind(&p.groups_claim)
            .bind(p.jit_users)
            .bind(p.enabled)
            .bind(p.updated_ms),
        )
        .await
    }

    async fn delete_sso_provider(&self, pid: &SsoProviderId) -> StoreResult<u64> {
        let mut tx = self.begin().await?;
        let links = sqlx::query("DELETE FROM sso_identities WHERE provider_id = $1")
            .bind(pid.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db)?
            .rows_affected();
        // Mappings and attempts go with it (ON DELETE CASCADE).
        found(
            sqlx::query("DELETE FROM sso_providers WHERE id = $1")
                .bind(pid.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db)?,
        )?;
        self.commit(tx).await?;
        Ok(links)
    }

    async fn insert_sso_mapping(&self, m: &SsoMappingRecord) -> StoreResult<()> {
        let projects: Vec<&str> = m.project_ids.iter().map(|p| p.as_str()).collect();
        self.execute(
            sqlx::query(
                "INSERT INTO sso_mappings (id, provider_id, position, claim, value, role,
                     project_ids, created_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(m.id.as_str())
            .bind(m.provider_id.as_str())
            .bind(i64::from(m.position))
            .bind(&m.claim)
            .bind(&m.value)
            .bind(m.role.as_str())
            .bind(to_list(&projects))
            .bind(m.created_ms),
        )
        .await
        .map(drop)
    }

    async fn sso_mappings(&self, pid: &SsoProviderId) -> StoreResult<Vec<SsoMappingRecord>> {
        sqlx::query(
            "SELECT id, provider_id, position, claim, value, role, project_ids, created_ms
             FROM sso_mappings WHERE provider_id = $1 ORDER BY position",
        )
        .bind(pid.as_str())
        .fetch_all(self.pool())
        .await
        .map_err(db)?
        .iter()
        .map(mapping)
        .collect()
    }

    async fn delete_sso_mapping(
        &self,
        pid: &SsoProviderId,
        mid: &SsoMappingId,
    ) -> StoreResult<()> {
        self.execute_found(
            sqlx::query("DELETE FROM sso_mappings WHERE id = $1 AND provider_id = $2")
                .bind(mid.as_str())
                .bind(pid.as_str()),
        )
        .await
    }

    async fn sso_identity(
        &self,
        pid: &SsoProviderId,
        subject: &str,
    ) -> StoreResult<Option<SsoIdentityRecord>> {
        sqlx::query(
            "SELECT provider_id, subject, user_id, linked_ms, last_login_ms
             FROM sso_identities WHERE provider_id = $1 AND subject = $2",
        )
        .bind(pid.as_str())
        .bind(subject)
        .fetch_optional(self.pool())
        .await
        .map_err(db)?
        .map(|r| identity(&r))
        .transpose()
    }

    async fn user_sso_identities(&self, user: &UserId) -> StoreResult<Vec<SsoIdentityRecord>> {
        sqlx::query(
            "SELECT provider_id, subject, user_id, linked_ms, last_login_ms
             FROM sso_identities WHERE user_id = $1 ORDER BY linked_ms, provider_id",
        )
        .bind(user.to_string())
        .fetch_all(self.pool())
        .await
        .map_err(db)?
        .iter()
        .map(identity)
        .collect()
    }

    async fn insert_sso_identity(&self, i: &SsoIdentityRecord) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        insert_identity(&mut tx, i).await?;
        self.commit(tx).await
    }

    async fn insert_sso_user(
        &self,
        user: &UserRecord,
        identity: &SsoIdentityRecord,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        crate::user::insert(&mut tx, user).await?;
        insert_identity(&mut tx, identity).await?;
        self.commit(tx).await
    }

    async fn touch_sso_identity(
        &self,
        pid: &SsoProviderId,
        subject: &str,
        now_ms: i64,
    ) -> StoreResult<()> {
        self.execute_found(
            sqlx::query(
                "UPDATE sso_identities SET last_login_ms = $3
                 WHERE provider_id = $1 AND subject = $2",
            )
            .bind(pid.as_str())
            .bind(subject)
            .bind(now_ms),
        )
        .await
    }

    async fn delete_sso_identity(&self, user: &UserId, pid: &SsoProviderId) -> StoreResult<()> {
        self.execute_found(
            sqlx::query("DELETE FROM sso_identities WHERE user_id = $1 AND provider_id = $2")
                .bind(user.to_string())
                .bind(pid.as_str()),
        )
        .await
    }

    async fn insert_sso_attempt(&self, a: &SsoAttemptRecord) -> StoreResult<()> {
        self.execute(
            sqlx::query(
                "INSERT INTO sso_attempts (id, state_hash, provider_id, purpose, binding_hash,
                     nonce, pkce_verifier, user_id, session_id, public_key, key_name,
                     loopback_port, completion_hash, created_ms, expires_ms, used_ms, finished_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                         $17)",
            )
            .bind(a.id.as_str())
            .bind(a.state_hash.as_slice())
            .bind(a.provider_id.as_str())
            .bind(a.purpose.as_str())
            .bind(a.binding_hash.as_ref().map(|h| h.to_vec()))
            .bind(&a.nonce)
            .bind(&a.pkce_verifier)
            .bind(a.user_id.map(|u| u.to_string()))
            .bind(a.session_id.map(|s| s.to_string()))
            .bind(a.public_key.as_deref())
            .bind(a.key_name.as_deref())
            .bind(a.loopback_port.map(i64::from))
            .bind(a.completion_hash.as_ref().map(|h| h.to_vec()))
            .bind(a.created_ms)
            .bind(a.expires_ms)
            .bind(a.used_ms)
            .bind(a.finished_ms),
        )
        .await
        .map(drop)
    }

    async fn take_sso_attempt(
        &self,
        state_hash: &[u8; 32],
        now_ms: i64,
    ) -> StoreResult<Option<SsoAttemptRecord>> {
        sqlx::query(returning_attempt!(
            "UPDATE sso_attempts SET used_ms = $2
             WHERE state_hash = $1 AND used_ms IS NULL AND expires_ms > $2"
        ))
        .bind(state_hash.as_slice())
        .bind(now_ms)
        .fetch_optional(self.pool())
        .await
        .map_err(db)?
        .map(|r| attempt(&r))
        .transpose()
    }

    async fn complete_sso_attempt(
        &self,
        aid: &SsoAttemptId,
        user: &UserId,
        completion_hash: &[u8; 32],
    ) -> StoreResult<()> {
        self.execute_found(
            sqlx::query(
                "UPDATE sso_attempts SET user_id = $2, completion_hash = $3
                 WHERE id = $1 AND purpose = 'cli' AND used_ms IS NOT NULL
                   AND completion_hash IS NULL",
            )
            .bind(aid.as_str())
            .bind(user.to_string())
            .bind(completion_hash.as_slice()),
        )
        .await
    }

    async fn finish_sso_attempt(
        &self,
        aid: &SsoAttemptId,
        now_ms: i64,
    ) -> StoreResult<Option<SsoAttemptRecord>> {
        sqlx::query(returning_attempt!(
            "UPDATE sso_attempts SET finished_ms = $2
             WHERE id = $1 AND purpose = 'cli' AND completion_hash IS NOT NULL
               AND finished_ms IS NULL AND expires_ms > $2"
        ))
        .bind(aid.as_str())
        .bind(now_ms)
        .fetch_optional(self.pool())
        .await
        .map_err(db)?
        .map(|r| attempt(&r))
        .transpose()
    }

    async fn sweep_sso_attempts(&self, now_ms: i64) -> StoreResult<u64> {
        sqlx::query("DELETE FROM sso_attempts WHERE expires_ms <= $1")
            .bind(now_ms)
            .execute(self.pool())
            .await
            .map_err(db)
            .map(|d| d.rows_affected())
    }
}
