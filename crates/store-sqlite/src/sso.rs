//! SSO providers, mappings, linked identities and sign-in attempts. Consuming an attempt and
//! finishing one are each a single conditional `UPDATE ... RETURNING` in the writer's
//! transaction, so of two racing callbacks (or finishes) one wins.

use async_trait::async_trait;
use rusqlite::{Row, params};
use signet_proto::{SsoAttemptId, SsoMappingId, SsoProviderId, UserId};
use signet_store::{
    Role, SsoAttemptRecord, SsoIdentityRecord, SsoMappingRecord, SsoProviderRecord, SsoPurpose,
    SsoStore, StoreResult, UserRecord,
};

use crate::SqliteStore;
use crate::error::corrupt;
use crate::row::{col, id, id_list, list, name, opt_id, to_list};
use crate::statement::{all, exec, exec_found, one};

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

fn provider(row: &Row<'_>) -> StoreResult<SsoProviderRecord> {
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

fn mapping(row: &Row<'_>) -> StoreResult<SsoMappingRecord> {
    Ok(SsoMappingRecord {
        id: id(row, 0)?,
        provider_id: id(row, 1)?,
        position: col(row, 2)?,
        claim: col(row, 3)?,
        value: col(row, 4)?,
        role: name(row, 5, Role::parse)?,
        project_ids: id_list(row, 6)?,
        created_ms: col(row, 7)?,
    })
}

fn identity(row: &Row<'_>) -> StoreResult<SsoIdentityRecord> {
    Ok(SsoIdentityRecord {
        provider_id: id(row, 0)?,
        subject: col(row, 1)?,
        user_id: id(row, 2)?,
        linked_ms: col(row, 3)?,
        last_login_ms: col(row, 4)?,
    })
}

fn digest(v: Vec<u8>) -> StoreResult<[u8; 32]> {
    v.try_into().map_err(|_| corrupt("digest"))
}

fn opt_digest(v: Option<Vec<u8>>) -> StoreResult<Option<[u8; 32]>> {
    v.map(digest).transpose()
}

fn attempt(row: &Row<'_>) -> StoreResult<SsoAttemptRecord> {
    let port: Option<i64> = col(row, 11)?;
    Ok(SsoAttemptRecord {
        id: id(row, 0)?,
        state_hash: digest(col(row, 1)?)?,
        provider_id: id(row, 2)?,
        purpose: name(row, 3, SsoPurpose::parse)?,
        binding_hash: opt_digest(col(row, 4)?)?,
        nonce: col(row, 5)?,
        pkce_verifier: col(row, 6)?,
        user_id: opt_id(row, 7)?,
        session_id: opt_id(row, 8)?,
        public_key: col(row, 9)?,
        key_name: col(row, 10)?,
        loopback_port: port
            .map(|p| u16::try_from(p).map_err(|_| corrupt("loopback port")))
            .transpose()?,
        completion_hash: opt_digest(col(row, 12)?)?,
        created_ms: col(row, 13)?,
        expires_ms: col(row, 14)?,
        used_ms: col(row, 15)?,
        finished_ms: col(row, 16)?,
    })
}

fn insert_identity(tx: &rusqlite::Connection, i: &SsoIdentityRecord) -> StoreResult<()> {
    exec(
        tx,
        "INSERT INTO sso_identities (provider_id, subject, user_id, linked_ms, last_login_ms)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            i.provider_id.as_str(),
            i.subject,
            i.user_id.to_string(),
            i.linked_ms,
            i.last_login_ms
        ],
    )
    .map(drop)
}

#[async_trait]
impl SsoStore for SqliteStore {
    async fn insert_sso_provider(&self, p: &SsoProviderRecord) -> StoreResult<()> {
        let p = p.clone();
        self.write(move |tx| {
            exec(
                tx,
                "INSERT INTO sso_providers (id, name, issuer, client_id, sealed_secret, scopes,
                     username_claim, groups_claim, jit_users, enabled, created_ms, updated_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                params![
                    p.id.as_str(),
                    p.name,
                    p.issuer,
                    p.client_id,
                    p.sealed_secret,
                    to_list(&p.scopes),
                    p.username_claim,
                    p.groups_claim,
                    p.jit_users,
                    p.enabled,
                    p.created_ms,
                    p.updated_ms
                ],
            )
            .map(drop)
        })
        .await
    }

    async fn sso_providers(&self) -> StoreResult<Vec<SsoProviderRecord>> {
        self.read(|c| all(c, provider_select!("ORDER BY name"), [], provider))
    }

    async fn sso_provider(&self, pid: &SsoProviderId) -> StoreResult<Option<SsoProviderRecord>> {
        self.read(|c| one(c, provider_select!("WHERE id = ?1"), [pid.as_str()], provider))
    }

    async fn update_sso_provider(&self, p: &SsoProviderRecord) -> StoreResult<()> {
        let p = p.clone();
        self.write(move |tx| {
            exec_found(
                tx,
                "UPDATE sso_providers SET name = ?2, client_id = ?3, sealed_secret = ?4,
                     scopes = ?5, username_claim = ?6, groups_claim = ?7, jit_users = ?8,
                     enabled = ?9, updated_ms = ?10
                 WHERE id = ?1",
                params![
                    p.id.as_str(),
                    p.name,
                    p.client_id,
                    p.sealed_secret,
                    to_list(&p.scopes),
                    p.username_claim,
                    p.groups_claim,
                    p.jit_users,
                    p.enabled,
                    p.updated_ms
                ],
            )
        })
        .await
    }

    async fn delete_sso_provider(&self, pid: &SsoProviderId) -> StoreResult<u64> {
        let pid = pid.to_string();
        self.write(move |tx| {
            exec(tx, "DELETE FROM sso_attempts WHERE provider_id = ?1", [&pid])?;
            exec(tx, "DELETE FROM sso_mappings WHERE provider_id = ?1", [&pid])?;
            let links = exec(tx, "DELETE FROM sso_identities WHERE provider_id = ?1", [&pid])?;
            exec_found(tx, "DELETE FROM sso_providers WHERE id = ?1", [&pid])?;
            Ok(links as u64)
        })
        .await
    }

    async fn insert_sso_mapping(&self, m: &SsoMappingRecord) -> StoreResult<()> {
        let m = m.clone();
        self.write(move |tx| {
            exec(
                tx,
                "INSERT INTO sso_mappings (id, provider_id, position, claim, value, role,
                     project_ids, created_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    m.id.as_str(),
                    m.provider_id.as_str(),
                    m.position,
                    m.claim,
                    m.value,
                    m.role.as_str(),
                    to_list(&m.project_ids.iter().map(|p| p.as_str()).collect::<Vec<_>>()),
                    m.created_ms
                ],
            )
            .map(drop)
        })
        .await
    }

    async fn sso_mappings(&self, pid: &SsoProviderId) -> StoreResult<Vec<SsoMappingRecord>> {
        self.read(|c| {
            all(
                c,
                "SELECT id, provider_id, position, claim, value, role, project_ids, created_ms
                 FROM sso_mappings WHERE provider_id = ?1 ORDER BY position",
                [pid.as_str()],
                mapping,
            )
        })
    }

    async fn delete_sso_mapping(
        &self,
        pid: &SsoProviderId,
        mid: &SsoMappingId,
    ) -> StoreResult<()> {
        let (pid, mid) = (pid.to_string(), mid.to_string());
        self.write(move |tx| {
            exec_found(
                tx,
                "DELETE FROM sso_mappings WHERE id = ?1 AND provider_id = ?2",
                [mid, pid],
            )
        })
        .await
    }

    async fn sso_identity(
        &self,
        pid: &SsoProviderId,
        subject: &str,
    ) -> StoreResult<Option<SsoIdentityRecord>> {
        self.read(|c| {
            one(
                c,
                "SELECT provider_id, subject, user_id, linked_ms, last_login_ms
                 FROM sso_identities WHERE provider_id = ?1 AND subject = ?2",
                [pid.as_str(), subject],
                identity,
            )
        })
    }

    async fn user_sso_identities(&self, user: &UserId) -> StoreResult<Vec<SsoIdentityRecord>> {
        let user = user.to_string();
        self.read(|c| {
            all(
                c,
                "SELECT provider_id, subject, user_id, linked_ms, last_login_ms
                 FROM sso_identities WHERE user_id = ?1 ORDER BY linked_ms, provider_id",
                [user],
                identity,
            )
        })
    }

    async fn insert_sso_identity(&self, i: &SsoIdentityRecord) -> StoreResult<()> {
        let i = i.clone();
        self.write(move |tx| insert_identity(tx, &i)).await
    }

    async fn insert_sso_user(
        &self,
        user: &UserRecord,
        identity: &SsoIdentityRecord,
    ) -> StoreResult<()> {
        let (user, identity) = (user.clone(), identity.clone());
        self.write(move |tx| {
            crate::user::insert(tx, &user)?;
            insert_identity(tx, &identity)
        })
        .await
    }

    async fn touch_sso_identity(
        &self,
        pid: &SsoProviderId,
        subject: &str,
        now_ms: i64,
    ) -> StoreResult<()> {
        let (pid, subject) = (pid.to_string(), subject.to_owned());
        self.write(move |tx| {
            exec_found(
                tx,
                "UPDATE sso_identities SET last_login_ms = ?3 WHERE provider_id = ?1 AND subject = ?2",
                params![pid, subject, now_ms],
            )
        })
        .await
    }

    async fn delete_sso_identity(&self, user: &UserId, pid: &SsoProviderId) -> StoreResult<()> {
        let (user, pid) = (user.to_string(), pid.to_string());
        self.write(move |tx| {
            exec_found(
                tx,
                "DELETE FROM sso_identities WHERE user_id = ?1 AND provider_id = ?2",
                [user, pid],
            )
        })
        .await
    }

    async fn insert_sso_attempt(&self, a: &SsoAttemptRecord) -> StoreResult<()> {
        let a = a.clone();
        self.write(move |tx| {
            exec(
                tx,
                "INSERT INTO sso_attempts (id, state_hash, provider_id, purpose, binding_hash,
                     nonce, pkce_verifier, user_id, session_id, public_key, key_name,
                     loopback_port, completion_hash, created_ms, expires_ms, used_ms, finished_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
                params![
                    a.id.as_str(),
                    a.state_hash.as_slice(),
                    a.provider_id.as_str(),
                    a.purpose.as_str(),
                    a.binding_hash.as_ref().map(|h| h.to_vec()),
                    a.nonce,
                    a.pkce_verifier,
                    a.user_id.map(|u| u.to_string()),
                    a.session_id.map(|s| s.to_string()),
                    a.public_key,
                    a.key_name,
                    a.loopback_port,
                    a.completion_hash.as_ref().map(|h| h.to_vec()),
                    a.created_ms,
                    a.expires_ms,
                    a.used_ms,
                    a.finished_ms
                ],
            )
            .map(drop)
        })
        .await
    }

    async fn take_sso_attempt(
        &self,
        state_hash: &[u8; 32],
        now_ms: i64,
    ) -> StoreResult<Option<SsoAttemptRecord>> {
        let hash = state_hash.to_vec();
        self.write_where(
            move |tx| {
                one(
                    tx,
                    returning_attempt!(
                        "UPDATE sso_attempts SET used_ms = ?2
                         WHERE state_hash = ?1 AND used_ms IS NULL AND expires_ms > ?2"
                    ),
                    params![hash, now_ms],
                    attempt,
                )
            },
            Option::is_some,
        )
        .await
    }

    async fn complete_sso_attempt(
        &self,
        aid: &SsoAttemptId,
        user: &UserId,
        completion_hash: &[u8; 32],
    ) -> StoreResult<()> {
        let (aid, user, hash) = (aid.to_string(), user.to_string(), completion_hash.to_vec());
        self.write(move |tx| {
            exec_found(
                tx,
                "UPDATE sso_attempts SET user_id = ?2, completion_hash = ?3
                 WHERE id = ?1 AND purpose = 'cli' AND used_ms IS NOT NULL
                   AND completion_hash IS NULL",
                params![aid, user, hash],
            )
        })
        .await
    }

    async fn finish_sso_attempt(
        &self,
        aid: &SsoAttemptId,
        now_ms: i64,
    ) -> StoreResult<Option<SsoAttemptRecord>> {
        let aid = aid.to_string();
        self.write_where(
            move |tx| {
                one(
                    tx,
                    returning_attempt!(
                        "UPDATE sso_attempts SET finished_ms = ?2
                         WHERE id = ?1 AND purpose = 'cli' AND completion_hash IS NOT NULL
                           AND finished_ms IS NULL AND expires_ms > ?2"
                    ),
                    params![aid, now_ms],
                    attempt,
                )
            },
            Option::is_some,
        )
        .await
    }

    async fn sweep_sso_attempts(&self, now_ms: i64) -> StoreResult<u64> {
        self.write(move |tx| {
            exec(tx, "DELETE FROM sso_attempts WHERE expires_ms <= ?1", [now_ms]).map(|n| n as u64)
        })
        .await
    }
}
