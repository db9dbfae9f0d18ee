//! Secrets, their versions, and the machine read path.

use async_trait::async_trait;
use signet_proto::{MachineId, ProjectId, SecretId};
use signet_store::{
    Conflict, GrantedSecret, NewVersion, PollRow, SecretKind, SecretReadView, SecretRecord,
    SecretStore, StoreError, StoreResult, VersionContent, VersionRecord,
};
use sqlx::PgConnection;
use sqlx::postgres::PgRow;

use crate::PgStore;
use crate::error::{corrupt, db};
use crate::row::{col, id, name, opt_list, opt_small, small, to_list};

/// The secret columns every query below starts with, in the order [`secret`] reads them.
macro_rules! secret_columns {
    () => {
        "s.id, s.project_id, s.name, s.kind, s.field_names, s.current_version, s.created_ms, s.updated_ms, COALESCE(s.deleted_ms, (SELECT pd.deleted_ms FROM projects pd WHERE pd.id = s.project_id)), s.canary"
    };
}

/// A read view: the secret, then the flags, the value, the bound policy and the lease
/// settings, in the order [`view`] reads them. Versions are left-joined so that a missing one shows up as corruption,
/// not as "no secret". The policy is joined by primary key into this same statement, so a read
/// of a secret without a policy costs no extra query (issue 11, section 4); the lease settings
/// are joined the same way (by primary key), so a leased secret is told apart in the same trip.
macro_rules! view_select {
    ($from:literal, $where:literal, $order:literal) => {
        concat!(
            "SELECT ",
            secret_columns!(),
            ", m.machine_id IS NOT NULL, g.machine_id IS NOT NULL, p.wrapped_key, val.version, val.wrapped_dek, val.ciphertext, p.frozen_ms IS NOT NULL,
               pol.id, pol.project_id, pol.name, pol.rules, pol.created_ms, pol.updated_ms,
               ls.secret_id, ls.connection_id, ls.ttl_ms, ls.max_ttl_ms, ls.renew_on_read, ls.mint_fresh,
               ls.revoke_on_disable, ls.password_length, ls.password_charset, ls.grant_sql, ls.updated_ms,
               p.root_generation, p.key_generation ",
            $from,
            " JOIN projects p ON p.id = s.project_id
              LEFT JOIN secret_versions cur ON cur.secret_id = s.id AND cur.version = s.current_version
              LEFT JOIN secret_versions val ON val.secret_id = s.id AND val.version = cur.value_version
              LEFT JOIN policies pol ON pol.id = s.policy_id
              LEFT JOIN leased_secrets ls ON ls.secret_id = s.id
              WHERE ",
            $where,
            $order
        )
    };
}

fn secret(row: &PgRow) -> StoreResult<SecretRecord> {
    Ok(SecretRecord {
        id: id(row, 0)?,
        project_id: id(row, 1)?,
        name: col(row, 2)?,
        kind: name(row, 3, SecretKind::parse)?,
        field_names: opt_list(row, 4)?,
        current_version: small(row, 5)?,
        created_ms: col(row, 6)?,
        updated_ms: col(row, 7)?,
        deleted_ms: col(row, 8)?,
        canary: col(row, 9)?,
    })
}

fn view(row: &PgRow) -> StoreResult<SecretReadView> {
    let value_version = opt_small(row, 13)?;
    let wrapped_dek: Option<Vec<u8>> = col(row, 14)?;
    let ciphertext: Option<Vec<u8>> = col(row, 15)?;
    let (Some(value_version), Some(wrapped_dek), Some(ciphertext)) =
        (value_version, wrapped_dek, ciphertext)
    else {
        return Err(corrupt("current version of a live secret"));
    };
    Ok(SecretReadView {
        secret: secret(row)?,
        attached: col(row, 10)?,
        granted: col(row, 11)?,
        project_frozen: col(row, 16)?,
        wrapped_project_key: col(row, 12)?,
        project_root_generation: small(row, 34)?,
        project_key_generation: small(row, 35)?,
        value_version,
        wrapped_dek,
        ciphertext,
        policy: match col::<Option<String>>(row, 17)? {
            Some(_) => Some(crate::policy::policy(row, 17)?),
            None => None,
        },
        leased: match col::<Option<String>>(row, 23)? {
            Some(_) => Some(crate::lease::leased(row, 23)?),
            None => None,
        },
    })
}

fn version(row: &PgRow) -> StoreResult<VersionRecord> {
    Ok(VersionRecord {
        version: small(row, 0)?,
        value_version: small(row, 1)?,
        kind: name(row, 2, SecretKind::parse)?,
        field_names: opt_list(row, 3)?,
        created_by: col(row, 4)?,
        created_ms: col(row, 5)?,
        changed_fields: opt_list(row, 6)?,
    })
}

fn field_names(names: Option<&Vec<String>>) -> Option<String> {
    names.map(|n| to_list(n))
}

/// Inserts version `number` of a secret whose row already says so.
async fn insert_version(
    conn: &mut PgConnection,
    secret: &str,
    number: u32,
    v: &NewVersion,
) -> StoreResult<()> {
    let (value_version, wrapped_dek, ciphertext) = match &v.content {
        VersionContent::Sealed {
            wrapped_dek,
            ciphertext,
        } => (number, Some(wrapped_dek), Some(ciphertext)),
        VersionContent::Pointer(target) => {
            // A pointer names a sealed version, never another pointer, so a read is one hop.
            let sealed = sqlx::query(
                "SELECT 1 FROM secret_versions WHERE secret_id = $1 AND version = $2 AND ciphertext IS NOT NULL",
            )
            .bind(secret)
            .bind(i64::from(*target))
            .fetch_optional(&mut *conn)
            .await
            .map_err(db)?;
            if sealed.is_none() {
                return Err(StoreError::NotFound);
            }
            (*target, None, None)
        }
    };
    sqlx::query(
        "INSERT INTO secret_versions (secret_id, version, value_version, kind, field_names, wrapped_dek, ciphertext,
                                      created_by, created_ms, changed_fields, key_generation)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(secret)
    .bind(i64::from(number))
    .bind(i64::from(value_version))
    .bind(v.kind.as_str())
    .bind(field_names(v.field_names.as_ref()))
    .bind(wrapped_dek)
    .bind(ciphertext)
    .bind(&v.created_by)
    .bind(v.created_ms)
    .bind(field_names(v.changed_fields.as_ref()))
    .bind(i64::from(v.key_generation))
    .execute(conn)
    .await
    .map(drop)
    .map_err(db)
}

/// Appends version `expected_current + 1` if the secret is live and still at `expected_current`
/// (see `SecretStore::append_version`); returns the number written. The caller commits.
pub(crate) async fn append(
    conn: &mut PgConnection,
    id: &str,
    expected_current: u32,
    v: &NewVersion,
) -> StoreResult<u32> {
    let next = expected_current
        .checked_add(1)
        .ok_or(StoreError::Conflict(Conflict::Version))?;
    // The condition on `current_version` is what makes concurrent writers safe: a second append
    // built on the same version waits for the first to commit, then no longer matches.
    let moved = sqlx::query(
        "UPDATE secrets SET current_version = $3, kind = $4, field_names = $5, updated_ms = $6
         WHERE id = $1 AND current_version = $2 AND deleted_ms IS NULL",
    )
    .bind(id)
    .bind(i64::from(expected_current))
    .bind(i64::from(next))
    .bind(v.kind.as_str())
    .bind(field_names(v.field_names.as_ref()))
    .bind(v.created_ms)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    if moved.rows_affected() == 0 {
        let live: Option<bool> =
            sqlx::query_scalar("SELECT deleted_ms IS NULL FROM secrets WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *conn)
                .await
                .map_err(db)?;
        return Err(match live {
            Some(true) => StoreError::Conflict(Conflict::Version),
            _ => StoreError::NotFound,
        });
    }
    insert_version(conn, id, next, v).await?;
    Ok(next)
}

#[async_trait]
impl SecretStore for PgStore {
    async fn insert_secret(&self, s: &SecretRecord, first: &NewVersion) -> StoreResult<()> {
        let id = s.id.to_string();
        let mut tx = self.begin().await?;
        // A new secret is live and at version 1 whatever the record says.
        sqlx::query(
            "INSERT INTO secrets (id, project_id, name, kind, field_names, current_version, created_ms, updated_ms, canary)
             VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $8)",
        )
        .bind(&id)
        .bind(s.project_id.to_string())
        .bind(&s.name)
        .bind(s.kind.as_str())
        .bind(field_names(s.field_names.as_ref()))
        .bind(s.created_ms)
        .bind(s.updated_ms)
        .bind(s.canary)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        insert_version(&mut tx, &id, 1, first).await?;
        self.commit(tx).await
    }

    async fn append_version(
        &self,
        id: &SecretId,
        expected_current: u32,
        v: &NewVersion,
    ) -> StoreResult<u32> {
        let mut tx = self.begin().await?;
        let next = append(&mut tx, &id.to_string(), expected_current, v).await?;
        self.commit(tx).await?;
        Ok(next)
    }

    async fn delete_secret(&self, id: &SecretId, now_ms: i64) -> StoreResult<()> {
        self.execute_found(
            sqlx::query("UPDATE secrets SET deleted_ms = $2 WHERE id = $1 AND deleted_ms IS NULL")
                .bind(id.to_string())
                .bind(now_ms),
        )
        .await
    }

    async fn secret(&self, id: &SecretId) -> StoreResult<Option<SecretRecord>> {
        sqlx::query(concat!(
            "SELECT ",
            secret_columns!(),
            " FROM secrets s WHERE s.id = $1"
        ))
        .bind(id.to_string())
        .fetch_optional(self.pool())
        .await
        .map_err(db)?
        .map(|r| secret(&r))
        .transpose()
    }

    async fn secrets_in_project(&self, project: &ProjectId) -> StoreResult<Vec<SecretRecord>> {
        sqlx::query(concat!(
            "SELECT ",
            secret_columns!(),
            " FROM secrets s WHERE s.project_id = $1 AND s.deleted_ms IS NULL ORDER BY s.name COLLATE \"C\""
        ))
        .bind(project.to_string())
        .fetch_all(self.pool())
        .await
        .map_err(db)?
        .iter()
        .map(secret)
        .collect()
    }

    async fn versions(&self, id: &SecretId) -> StoreResult<Vec<VersionRecord>> {
        sqlx::query(
            "SELECT version, value_version, kind, field_names, created_by, created_ms, changed_fields
             FROM secret_versions WHERE secret_id = $1 ORDER BY version",
        )
        .bind(id.to_string())
        .fetch_all(self.pool())
        .await
        .map_err(db)?
        .iter()
        .map(version)
        .collect()
    }

    async fn read_view(
        &self,
        machine: &MachineId,
        secret: &SecretId,
    ) -> StoreResult<Option<SecretReadView>> {
        sqlx::query(view_select!(
            "FROM secrets s
             LEFT JOIN memberships m ON m.machine_id = $1 AND m.project_id = s.project_id
             LEFT JOIN grants g ON g.machine_id = $1 AND g.secret_id = s.id",
            "s.id = $2 AND s.deleted_ms IS NULL AND p.deleted_ms IS NULL",
            ""
        ))
        .bind(machine.to_string())
        .bind(secret.to_string())
        .fetch_optional(self.pool())
        .await
        .map_err(db)?
        .map(|r| view(&r))
        .transpose()
    }

    async fn granted_read_views(
        &self,
        machine: &MachineId,
        project: Option<&ProjectId>,
    ) -> StoreResult<Vec<SecretReadView>> {
        sqlx::query(view_select!(
            "FROM grants g
             JOIN secrets s ON s.id = g.secret_id
             JOIN memberships m ON m.machine_id = g.machine_id AND m.project_id = s.project_id",
            "g.machine_id = $1 AND s.deleted_ms IS NULL AND p.deleted_ms IS NULL AND ($2::text IS NULL OR s.project_id = $2)",
            " ORDER BY s.name COLLATE \"C\", s.project_id COLLATE \"C\""
        ))
        .bind(machine.to_string())
        .bind(project.map(ToString::to_string))
        .fetch_all(self.pool())
        .await
        .map_err(db)?
        .iter()
        .map(view)
        .collect()
    }

    async fn granted_secrets(
        &self,
        machine: &MachineId,
        project: Option<&ProjectId>,
    ) -> StoreResult<Vec<GrantedSecret>> {
        sqlx::query(concat!(
            "SELECT ",
            secret_columns!(),
            ", p.name, p.frozen_ms IS NOT NULL, ls.secret_id IS NOT NULL
             FROM grants g
             JOIN secrets s ON s.id = g.secret_id
             JOIN memberships m ON m.machine_id = g.machine_id AND m.project_id = s.project_id
             JOIN projects p ON p.id = s.project_id
             LEFT JOIN leased_secrets ls ON ls.secret_id = s.id
             WHERE g.machine_id = $1 AND s.deleted_ms IS NULL AND p.deleted_ms IS NULL AND ($2::text IS NULL OR s.project_id = $2)
             ORDER BY p.name COLLATE \"C\", s.name COLLATE \"C\""
        ))
        .bind(machine.to_string())
        .bind(project.map(ToString::to_string))
        .fetch_all(self.pool())
        .await
        .map_err(db)?
        .iter()
        .map(|r| {
            Ok(GrantedSecret {
                secret: secret(r)?,
                project_name: col(r, 10)?,
                project_frozen: col(r, 11)?,
                leased: col(r, 12)?,
            })
        })
        .collect()
    }

    async fn poll(&self, machine: &MachineId, ids: &[SecretId]) -> StoreResult<Vec<PollRow>> {
        let watched: Vec<String> = ids.iter().map(ToString::to_string).collect();
        // One statement over the whole list, so the rows come from one snapshot.
        let rows = sqlx::query(
            "SELECT s.current_version,
                    (s.deleted_ms IS NOT NULL OR EXISTS (SELECT 1 FROM projects pd WHERE pd.id = s.project_id AND pd.deleted_ms IS NOT NULL)),
                    EXISTS (SELECT 1 FROM memberships m WHERE m.machine_id = $1 AND m.project_id = s.project_id)
                      AND EXISTS (SELECT 1 FROM grants g WHERE g.machine_id = $1 AND g.secret_id = s.id),
                    rm.version,
                    p.frozen_ms IS NOT NULL
             FROM unnest($2::text[]) WITH ORDINALITY AS w (id, pos)
             LEFT JOIN secrets s ON s.id = w.id
             LEFT JOIN projects p ON p.id = s.project_id
             LEFT JOIN read_marks rm ON rm.machine_id = $1 AND rm.secret_id = w.id
             ORDER BY w.pos",
        )
        .bind(machine.to_string())
        .bind(watched)
        .fetch_all(self.pool())
        .await
        .map_err(db)?;
        if rows.len() != ids.len() {
            return Err(corrupt("poll rows"));
        }
        ids.iter()
            .zip(rows)
            .map(|(id, r)| {
                let current_version = opt_small(&r, 0)?;
                let deleted: Option<bool> = col(&r, 1)?;
                let granted: Option<bool> = col(&r, 2)?;
                let frozen: Option<bool> = col(&r, 4)?;
                Ok(PollRow {
                    secret_id: id.clone(),
                    current_version,
                    deleted: deleted.unwrap_or(false) && current_version.is_some(),
                    granted: granted.unwrap_or(false) && current_version.is_some(),
                    last_read_version: opt_small(&r, 3)?,
                    project_frozen: frozen.unwrap_or(false) && current_version.is_some(),
                })
            })
            .collect()
    }
}
