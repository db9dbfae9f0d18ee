//! Trusted OIDC issuers and their rules; a platform token is remembered in the same transaction
//! as the machine it creates, so it enrolls one machine at most.

use std::collections::BTreeMap;

use async_trait::async_trait;
use rusqlite::{Row, params};
use signet_proto::{IssuerId, IssuerRuleId};
use signet_store::{
    EnrollmentGrant, IssuerRecord, IssuerRuleRecord, IssuerStore, NewMachine, PlatformTokenUse,
    StoreError, StoreResult,
};

use crate::SqliteStore;
use crate::error::corrupt;
use crate::machine::{attach, insert};
use crate::row::{col, id, id_list, list, to_list};
use crate::statement::{all, exec, exec_found, one};

macro_rules! issuer_select {
    ($rest:literal) => {
        concat!(
            "SELECT id, name, issuer, pinned_jwks, audience, algorithms, leeway_secs, created_by,
                    created_ms, updated_ms
             FROM oidc_issuers ",
            $rest
        )
    };
}

fn issuer(row: &Row<'_>) -> StoreResult<IssuerRecord> {
    Ok(IssuerRecord {
        id: id(row, 0)?,
        name: col(row, 1)?,
        issuer: col(row, 2)?,
        pinned_jwks: col(row, 3)?,
        audience: col(row, 4)?,
        algorithms: list(row, 5)?,
        leeway_secs: col(row, 6)?,
        created_by: id(row, 7)?,
        created_ms: col(row, 8)?,
        updated_ms: col(row, 9)?,
    })
}

fn rule(row: &Row<'_>) -> StoreResult<IssuerRuleRecord> {
    let claims: String = col(row, 4)?;
    Ok(IssuerRuleRecord {
        id: id(row, 0)?,
        issuer_id: id(row, 1)?,
        position: col(row, 2)?,
        name: col(row, 3)?,
        claims: serde_json::from_str::<BTreeMap<String, String>>(&claims)
            .map_err(|_| corrupt("rule claims"))?,
        project_ids: id_list(row, 5)?,
        secret_ids: id_list(row, 6)?,
        machine_ttl_secs: col(row, 7)?,
        created_ms: col(row, 8)?,
    })
}

fn claims_text(claims: &BTreeMap<String, String>) -> StoreResult<String> {
    serde_json::to_string(claims).map_err(|_| StoreError::Corrupt)
}

#[async_trait]
impl IssuerStore for SqliteStore {
    async fn insert_issuer(&self, i: &IssuerRecord) -> StoreResult<()> {
        let i = i.clone();
        self.write(move |tx| {
            exec(
                tx,
                "INSERT INTO oidc_issuers (id, name, issuer, pinned_jwks, audience, algorithms,
                     leeway_secs, created_by, created_ms, updated_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    i.id.as_str(),
                    i.name,
                    i.issuer,
                    i.pinned_jwks,
                    i.audience,
                    to_list(&i.algorithms),
                    i.leeway_secs,
                    i.created_by.to_string(),
                    i.created_ms,
                    i.updated_ms
                ],
            )
            .map(drop)
        })
        .await
    }

    async fn issuers(&self) -> StoreResult<Vec<IssuerRecord>> {
        self.read(|c| all(c, issuer_select!("ORDER BY name"), [], issuer))
    }

    async fn issuer(&self, iid: &IssuerId) -> StoreResult<Option<IssuerRecord>> {
        self.read(|c| one(c, issuer_select!("WHERE id = ?1"), [iid.as_str()], issuer))
    }

    async fn issuer_by_url(&self, url: &str) -> StoreResult<Option<IssuerRecord>> {
        self.read(|c| one(c, issuer_select!("WHERE issuer = ?1"), [url], issuer))
    }

    async fn update_issuer(&self, i: &IssuerRecord) -> StoreResult<()> {
        let i = i.clone();
        self.write(move |tx| {
            exec_found(
                tx,
                "UPDATE oidc_issuers SET name = ?2, pinned_jwks = ?3, audience = ?4,
                     algorithms = ?5, leeway_secs = ?6, updated_ms = ?7
                 WHERE id = ?1",
                params![
                    i.id.as_str(),
                    i.name,
                    i.pinned_jwks,
                    i.audience,
                    to_list(&i.algorithms),
                    i.leeway_secs,
                    i.updated_ms
                ],
            )
        })
        .await
    }

    async fn delete_issuer(&self, iid: &IssuerId) -> StoreResult<()> {
        let iid = iid.to_string();
        self.write(move |tx| {
            exec(tx, "DELETE FROM oidc_rules WHERE issuer_id = ?1", [&iid])?;
            exec_found(tx, "DELETE FROM oidc_issuers WHERE id = ?1", [&iid])
        })
        .await
    }

    async fn insert_issuer_rule(&self, r: &IssuerRuleRecord) -> StoreResult<()> {
        let r = r.clone();
        let claims = claims_text(&r.claims)?;
        self.write(move |tx| {
            exec(
                tx,
                "INSERT INTO oidc_rules (id, issuer_id, position, name, claims, project_ids,
                     secret_ids, machine_ttl_secs, created_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    r.id.as_str(),
                    r.issuer_id.as_str(),
                    r.position,
                    r.name,
                    claims,
                    to_list(&r.project_ids.iter().map(|p| p.as_str()).collect::<Vec<_>>()),
                    to_list(&r.secret_ids.iter().map(|s| s.as_str()).collect::<Vec<_>>()),
                    r.machine_ttl_secs,
                    r.created_ms
                ],
            )
            .map(drop)
        })
        .await
    }

    async fn issuer_rules(&self, iid: &IssuerId) -> StoreResult<Vec<IssuerRuleRecord>> {
        self.read(|c| {
            all(
                c,
                "SELECT id, issuer_id, position, name, claims, project_ids, secret_ids,
                        machine_ttl_secs, created_ms
                 FROM oidc_rules WHERE issuer_id = ?1 ORDER BY position",
                [iid.as_str()],
                rule,
            )
        })
    }

    async fn delete_issuer_rule(&self, iid: &IssuerId, rid: &IssuerRuleId) -> StoreResult<()> {
        let (iid, rid) = (iid.to_string(), rid.to_string());
        self.write(move |tx| {
            exec_found(
                tx,
                "DELETE FROM oidc_rules WHERE id = ?1 AND issuer_id = ?2",
                [rid, iid],
            )
        })
        .await
    }

    async fn enroll_with_platform_token(
        &self,
        token: &PlatformTokenUse,
        now_ms: i64,
        machine: &NewMachine,
        grant: &EnrollmentGrant,
    ) -> StoreResult<()> {
        let (token, machine, grant) = (*token, machine.clone(), grant.clone());
        self.write(move |tx| {
            exec(
                tx,
                "DELETE FROM oidc_tokens_used WHERE forget_after_ms < ?1",
                [now_ms],
            )?;
            // A replay inserts nothing: NotFound, and the transaction writes nothing else.
            exec_found(
                tx,
                "INSERT INTO oidc_tokens_used (digest, forget_after_ms) VALUES (?1, ?2)
                 ON CONFLICT (digest) DO NOTHING",
                params![token.digest.as_slice(), token.forget_after_ms],
            )?;
            insert(tx, &machine)?;
            let machine_id = machine.id.to_string();
            for project in &grant.project_ids {
                attach(tx, &machine_id, project.as_str())?;
            }
            for secret in &grant.secret_ids {
                // Only secrets of the projects just attached; others are skipped, not refused.
                exec(
                    tx,
                    "INSERT INTO grants (machine_id, secret_id)
                     SELECT m.machine_id, s.id FROM secrets s
                     JOIN memberships m ON m.machine_id = ?1 AND m.project_id = s.project_id
                     WHERE s.id = ?2
                     ON CONFLICT DO NOTHING",
                    [machine_id.as_str(), secret.as_str()],
                )?;
            }
            Ok(())
        })
        .await
    }
}
