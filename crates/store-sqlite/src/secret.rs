//! Secrets, their versions, and the machine read path.

use async_trait::async_trait;
use rusqlite::{Row, Transaction, params};
use signet_proto::{MachineId, ProjectId, SecretId};
use signet_store::{
    Conflict, GrantedSecret, NewVersion, PollRow, SecretKind, SecretReadView, SecretRecord,
    SecretStore, StoreError, StoreResult, VersionContent, VersionRecord,
};

use crate::SqliteStore;
use crate::error::corrupt;
use crate::row::{col, id, name, opt_list, to_list};
use crate::statement::{all, exec, exec_found, one};

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

fn secret(row: &Row<'_>) -> StoreResult<SecretRecord> {
    Ok(SecretRecord {
        id: id(row, 0)?,
        project_id: id(row, 1)?,
        name: col(row, 2)?,
        kind: name(row, 3, SecretKind::parse)?,
        field_names: opt_list(row, 4)?,
        current_version: col(row, 5)?,
        created_ms: col(row, 6)?,
        updated_ms: col(row, 7)?,
        deleted_ms: col(row, 8)?,
        canary: col(row, 9)?,
    })
}

fn view(row: &Row<'_>) -> StoreResult<SecretReadView> {
    let value_version: Option<u32> = col(row, 13)?;
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
        project_root_generation: col(row, 34)?,
        project_key_generation: col(row, 35)?,
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

fn version(row: &Row<'_>) -> StoreResult<VersionRecord> {
    Ok(VersionRecord {
        version: col(row, 0)?,
        value_version: col(row, 1)?,
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
fn insert_version(
    tx: &Transaction<'_>,
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
            let sealed = one(
                tx,
                "SELECT 1 FROM secret_versions WHERE secret_id = ?1 AND version = ?2 AND ciphertext IS NOT NULL",
                params![secret, target],
                |_| Ok(()),
            )?;
            if sealed.is_none() {
                return Err(StoreError::NotFound);
            }
            (*target, None, None)
        }
    };
    exec(
        tx,
        "INSERT INTO secret_versions (secret_id, version, value_version, kind, field_names, wrapped_dek, ciphertext,
                                      created_by, created_ms, changed_fields, key_generation)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            secret,
            number,
            value_version,
            v.kind.as_str(),
            field_names(v.field_names.as_ref()),
            wrapped_dek,
            ciphertext,
            v.created_by,
            v.created_ms,
            field_names(v.changed_fields.as_ref()),
            v.key_generation,
        ],
    )
    .map(drop)
}

/// Appends version `expected_current + 1` if the secret is live and still at `expected_current`
/// (see `SecretStore::append_version`); returns the number written.
pub(crate) fn append(
    tx: &Transaction<'_>,
    id: &SecretId,
    expected_current: u32,
    v: &NewVersion,
) -> StoreResult<u32> {
    let next = expected_current
        .checked_add(1)
        .ok_or(StoreError::Conflict(Conflict::Version))?;
    // The condition on `current_version` is what makes concurrent writers safe: only one of two
    // appends built on the same version can match it.
    let moved = exec(
        tx,
        "UPDATE secrets SET current_version = ?3, kind = ?4, field_names = ?5, updated_ms = ?6
         WHERE id = ?1 AND current_version = ?2 AND deleted_ms IS NULL",
        params![
            id.as_str(),
            expected_current,
            next,
            v.kind.as_str(),
            field_names(v.field_names.as_ref()),
            v.created_ms
        ],
    )?;
    if moved == 0 {
        let live = one(
            tx,
            "SELECT deleted_ms IS NULL FROM secrets WHERE id = ?1",
            [id.as_str()],
            |r| col::<bool>(r, 0),
        )?;
        return Err(match live {
            Some(true) => StoreError::Conflict(Conflict::Version),
            _ => StoreError::NotFound,
        });
    }
    insert_version(tx, id.as_str(), next, v)?;
    Ok(next)
}

#[async_trait]
impl SecretStore for SqliteStore {
    async fn insert_secret(&self, s: &SecretRecord, first: &NewVersion) -> StoreResult<()> {
        let (s, first) = (s.clone(), first.clone());
        self.write(move |tx| {
            // A new secret is live and at version 1 whatever the record says.
            exec(
                tx,
                "INSERT INTO secrets (id, project_id, name, kind, field_names, current_version, created_ms, updated_ms, canary)
                 VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6, ?7, ?8)",
                params![
                    s.id.as_str(),
                    s.project_id.as_str(),
                    s.name,
                    s.kind.as_str(),
                    field_names(s.field_names.as_ref()),
                    s.created_ms,
                    s.updated_ms,
                    s.canary,
                ],
            )?;
            insert_version(tx, s.id.as_str(), 1, &first)
        })
        .await
    }

    async fn append_version(
        &self,
        id: &SecretId,
        expected_current: u32,
        v: &NewVersion,
    ) -> StoreResult<u32> {
        let (id, v) = (id.clone(), v.clone());
        self.write(move |tx| append(tx, &id, expected_current, &v))
            .await
    }

    async fn delete_secret(&self, id: &SecretId, now_ms: i64) -> StoreResult<()> {
        let id = id.clone();
        self.write(move |tx| {
            exec_found(
                tx,
                "UPDATE secrets SET deleted_ms = ?2 WHERE id = ?1 AND deleted_ms IS NULL",
                params![id.as_str(), now_ms],
            )
        })
        .await
    }

    async fn secret(&self, id: &SecretId) -> StoreResult<Option<SecretRecord>> {
        self.read(|c| {
            one(
                c,
                concat!(
                    "SELECT ",
                    secret_columns!(),
                    " FROM secrets s WHERE s.id = ?1"
                ),
                [id.as_str()],
                secret,
            )
        })
    }

    async fn secrets_in_project(&self, project: &ProjectId) -> StoreResult<Vec<SecretRecord>> {
        self.read(|c| {
            all(
                c,
                concat!("SELECT ", secret_columns!(), " FROM secrets s WHERE s.project_id = ?1 AND s.deleted_ms IS NULL ORDER BY s.name"),
                [project.as_str()],
                secret,
            )
        })
    }

    async fn versions(&self, id: &SecretId) -> StoreResult<Vec<VersionRecord>> {
        self.read(|c| {
            all(
                c,
                "SELECT version, value_version, kind, field_names, created_by, created_ms, changed_fields
                 FROM secret_versions WHERE secret_id = ?1 ORDER BY version",
                [id.as_str()],
                version,
            )
        })
    }

    async fn read_view(
        &self,
        machine: &MachineId,
        secret: &SecretId,
    ) -> StoreResult<Option<SecretReadView>> {
        let machine = machine.to_string();
        self.read(|c| {
            one(
                c,
                view_select!(
                    "FROM secrets s
                     LEFT JOIN memberships m ON m.machine_id = ?1 AND m.project_id = s.project_id
                     LEFT JOIN grants g ON g.machine_id = ?1 AND g.secret_id = s.id",
                    "s.id = ?2 AND s.deleted_ms IS NULL AND p.deleted_ms IS NULL",
                    ""
                ),
                [machine.as_str(), secret.as_str()],
                view,
            )
        })
    }

    async fn granted_read_views(
        &self,
        machine: &MachineId,
        project: Option<&ProjectId>,
    ) -> StoreResult<Vec<SecretReadView>> {
        let machine = machine.to_string();
        self.read(|c| {
            all(
                c,
                view_select!(
                    "FROM grants g
                     JOIN secrets s ON s.id = g.secret_id
                     JOIN memberships m ON m.machine_id = g.machine_id AND m.project_id = s.project_id",
                    "g.machine_id = ?1 AND s.deleted_ms IS NULL AND p.deleted_ms IS NULL AND (?2 IS NULL OR s.project_id = ?2)",
                    " ORDER BY s.name, s.project_id"
                ),
                params![machine, project.map(ProjectId::as_str)],
                view,
            )
        })
    }

    async fn granted_secrets(
        &self,
        machine: &MachineId,
        project: Option<&ProjectId>,
    ) -> StoreResult<Vec<GrantedSecret>> {
        let machine = machine.to_string();
        self.read(|c| {
            all(
                c,
                concat!(
                    "SELECT ",
                    secret_columns!(),
                    ", p.name, p.frozen_ms IS NOT NULL, ls.secret_id IS NOT NULL
                     FROM grants g
                     JOIN secrets s ON s.id = g.secret_id
                     JOIN memberships m ON m.machine_id = g.machine_id AND m.project_id = s.project_id
                     JOIN projects p ON p.id = s.project_id
                     LEFT JOIN leased_secrets ls ON ls.secret_id = s.id
                     WHERE g.machine_id = ?1 AND s.deleted_ms IS NULL AND p.deleted_ms IS NULL AND (?2 IS NULL OR s.project_id = ?2)
                     ORDER BY p.name, s.name"
                ),
                params![machine, project.map(ProjectId::as_str)],
                |r| Ok(GrantedSecret { secret: secret(r)?, project_name: col(r, 10)?, project_frozen: col(r, 11)?, leased: col(r, 12)? }),
            )
        })
    }

    async fn poll(&self, machine: &MachineId, ids: &[SecretId]) -> StoreResult<Vec<PollRow>> {
        let machine = machine.to_string();
        let watched = to_list(&ids.iter().map(SecretId::as_str).collect::<Vec<_>>());
        // One statement over the whole list, so the rows come from one snapshot.
        let rows = self.read(|c| {
            all(
                c,
                "SELECT s.current_version,
                        (s.deleted_ms IS NOT NULL OR EXISTS (SELECT 1 FROM projects pd WHERE pd.id = s.project_id AND pd.deleted_ms IS NOT NULL)),
                        EXISTS (SELECT 1 FROM memberships m WHERE m.machine_id = ?1 AND m.project_id = s.project_id)
                          AND EXISTS (SELECT 1 FROM grants g WHERE g.machine_id = ?1 AND g.secret_id = s.id),
                        rm.version,
                        p.frozen_ms IS NOT NULL
                 FROM json_each(?2) w
                 LEFT JOIN secrets s ON s.id = w.value
                 LEFT JOIN projects p ON p.id = s.project_id
                 LEFT JOIN read_marks rm ON rm.machine_id = ?1 AND rm.secret_id = w.value
                 ORDER BY w.key",
                [machine.as_str(), watched.as_str()],
                |r| {
                    let current_version: Option<u32> = col(r, 0)?;
                    let deleted: Option<bool> = col(r, 1)?;
                    let granted: Option<bool> = col(r, 2)?;
                    let last_read: Option<u32> = col(r, 3)?;
                    let frozen: Option<bool> = col(r, 4)?;
                    Ok((current_version, deleted.unwrap_or(false), granted.unwrap_or(false), last_read, frozen.unwrap_or(false)))
                },
            )
        })?;
        if rows.len() != ids.len() {
            return Err(corrupt("poll rows"));
        }
        Ok(ids
            .iter()
            .zip(rows)
            .map(
                |(id, (current_version, deleted, granted, last_read_version, frozen))| PollRow {
                    secret_id: id.clone(),
                    current_version,
                    deleted: deleted && current_version.is_some(),
                    granted: granted && current_version.is_some(),
                    last_read_version,
                    project_frozen: frozen && current_version.is_some(),
                },
            )
            .collect())
    }
}
