//! Export and import of every table, for `signet storage migrate`.
//!
//! The tables and columns are SQLite's, so the two backends exchange [`Table`]s directly.
//! Flags are BOOLEAN here and travel as `Cell::Int` 0/1; every other column is BIGINT, TEXT or
//! BYTEA and travels as the matching cell. Export reads every table in one REPEATABLE READ
//! snapshot, so a running server may keep writing. Import writes every table in one
//! transaction, and checks everything it was given (table names, column names, cell types)
//! against this database's own catalog before the first row is written.

use std::collections::HashMap;

use async_trait::async_trait;
use signet_store::{Cell, Conflict, StoreError, StoreResult, Table, TransferStore};
use sqlx::postgres::PgRow;
use sqlx::{Column, PgConnection, Row};

use crate::PgStore;
use crate::change::notify_policy;
use crate::error::{corrupt, db};

/// Every table that holds installation state, parents before children, with the statement that
/// exports it (in a stable order, oldest first where a table has a time).
/// `signet_schema_migrations` and `access_stamp` are bookkeeping and are deliberately absent.
const TABLES: &[(&str, &str)] = &[
    ("vault", "SELECT * FROM vault ORDER BY singleton"),
    ("root_keys", "SELECT * FROM root_keys ORDER BY generation"),
    (
        "principal_keys",
        "SELECT * FROM principal_keys ORDER BY public_key",
    ),
    ("users", "SELECT * FROM users ORDER BY created_ms, id"),
    (
        "operators",
        "SELECT * FROM operators ORDER BY created_ms, id",
    ),
    ("projects", "SELECT * FROM projects ORDER BY created_ms, id"),
    ("policies", "SELECT * FROM policies ORDER BY created_ms, id"),
    ("secrets", "SELECT * FROM secrets ORDER BY created_ms, id"),
    (
        "secret_versions",
        "SELECT * FROM secret_versions ORDER BY secret_id, version",
    ),
    (
        "secret_rotations",
        "SELECT * FROM secret_rotations ORDER BY secret_id",
    ),
    (
        "managed_secrets",
        "SELECT * FROM managed_secrets ORDER BY secret_id",
    ),
    ("machines", "SELECT * FROM machines ORDER BY created_ms, id"),
    (
        "memberships",
        "SELECT * FROM memberships ORDER BY machine_id, project_id",
    ),
    (
        "grants",
        "SELECT * FROM grants ORDER BY machine_id, secret_id",
    ),
    (
        "bootstrap_tokens",
        "SELECT * FROM bootstrap_tokens ORDER BY created_ms, id",
    ),
    (
        "enrollment_tokens",
        "SELECT * FROM enrollment_tokens ORDER BY created_ms, id",
    ),
    (
        "ip_allowlist",
        "SELECT * FROM ip_allowlist ORDER BY created_ms, id",
    ),
    (
        "nonces",
        "SELECT * FROM nonces ORDER BY expires_ms, principal, nonce",
    ),
    ("audit", "SELECT * FROM audit ORDER BY seq"),
    ("audit_head", "SELECT * FROM audit_head ORDER BY singleton"),
    (
        "audit_checkpoints",
        "SELECT * FROM audit_checkpoints ORDER BY last_seq",
    ),
    (
        "read_marks",
        "SELECT * FROM read_marks ORDER BY machine_id, secret_id",
    ),
    (
        "policy_counters",
        "SELECT * FROM policy_counters ORDER BY secret_id, machine_id, axis, bucket",
    ),
    (
        "policy_reads",
        "SELECT * FROM policy_reads ORDER BY secret_id, machine_id",
    ),
    (
        "recovery_codes",
        "SELECT * FROM recovery_codes ORDER BY user_id, code_hash",
    ),
    // Logins are append-only, so physical order is insertion order (SQLite's rowid).
    ("logins", "SELECT * FROM logins ORDER BY at_ms, ctid"),
    ("sessions", "SELECT * FROM sessions ORDER BY created_ms, id"),
    (
        "user_projects",
        "SELECT * FROM user_projects ORDER BY user_id, project_id",
    ),
    ("invites", "SELECT * FROM invites ORDER BY created_ms, id"),
    ("passkeys", "SELECT * FROM passkeys ORDER BY created_ms, id"),
    (
        "webauthn_ceremonies",
        "SELECT * FROM webauthn_ceremonies ORDER BY expires_ms, id",
    ),
    ("shares", "SELECT * FROM shares ORDER BY created_ms, id"),
    (
        "db_connections",
        "SELECT * FROM db_connections ORDER BY created_ms, id",
    ),
    (
        "leased_secrets",
        "SELECT * FROM leased_secrets ORDER BY secret_id",
    ),
    ("leases", "SELECT * FROM leases ORDER BY created_ms, id"),
    ("webhooks", "SELECT * FROM webhooks ORDER BY created_ms, id"),
    (
        "alert_rules",
        "SELECT * FROM alert_rules ORDER BY created_ms, id",
    ),
    ("alert_cursor", "SELECT * FROM alert_cursor ORDER BY id"),
    (
        "webhook_deliveries",
        "SELECT * FROM webhook_deliveries ORDER BY created_ms, id",
    ),
    (
        "oidc_issuers",
        "SELECT * FROM oidc_issuers ORDER BY created_ms, id",
    ),
    (
        "oidc_rules",
        "SELECT * FROM oidc_rules ORDER BY issuer_id, position",
    ),
    (
        "oidc_tokens_used",
        "SELECT * FROM oidc_tokens_used ORDER BY forget_after_ms, digest",
    ),
    (
        "sso_providers",
        "SELECT * FROM sso_providers ORDER BY created_ms, id",
    ),
    (
        "sso_mappings",
        "SELECT * FROM sso_mappings ORDER BY provider_id, position",
    ),
    (
        "sso_identities",
        "SELECT * FROM sso_identities ORDER BY provider_id, subject",
    ),
    (
        "sso_attempts",
        "SELECT * FROM sso_attempts ORDER BY created_ms, id",
    ),
];

/// Rows per `INSERT` on import: large enough to amortise the round trip, small enough to keep
/// each statement's arrays modest.
const CHUNK: usize = 1000;

/// Serialises imports with each other ("SIGNET" then 3).
const IMPORT_LOCK: i64 = 0x5349_474E_4554_0003;

/// The column types the schema uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    Bool,
    Text,
    Bytes,
}

impl Kind {
    fn from_catalog(data_type: &str) -> Option<Kind> {
        match data_type {
            "bigint" => Some(Kind::Int),
            "boolean" => Some(Kind::Bool),
            "text" => Some(Kind::Text),
            "bytea" => Some(Kind::Bytes),
            _ => None,
        }
    }

    /// The array cast of an `UNNEST` parameter: a fixed string per kind, never input.
    fn array_cast(self) -> &'static str {
        match self {
            Kind::Int => "int8[]",
            Kind::Bool => "bool[]",
            Kind::Text => "text[]",
            Kind::Bytes => "bytea[]",
        }
    }
}

/// Each table's columns in catalog order, with their kinds.
type Catalog = HashMap<String, Vec<(String, Kind)>>;

async fn catalog(conn: &mut PgConnection) -> StoreResult<Catalog> {
    let rows = sqlx::query(
        "SELECT table_name::text, column_name::text, data_type::text
         FROM information_schema.columns
         WHERE table_schema = current_schema()
         ORDER BY table_name, ordinal_position",
    )
    .fetch_all(conn)
    .await
    .map_err(db)?;
    let mut out = Catalog::new();
    for r in rows {
        let (table, column, data_type): (String, String, String) = (
            r.try_get(0).map_err(db)?,
            r.try_get(1).map_err(db)?,
            r.try_get(2).map_err(db)?,
        );
        // Tables outside the export list (bookkeeping) may use other types; they are never
        // exported or imported, so they need no kind.
        if let Some(kind) = Kind::from_catalog(&data_type) {
            out.entry(table).or_default().push((column, kind));
        } else if TABLES.iter().any(|(t, _)| *t == table) {
            tracing::error!(table, column, data_type, "a column of an unexpected type");
            return Err(StoreError::Corrupt);
        }
    }
    Ok(out)
}

fn cell(row: &PgRow, idx: usize, kind: Kind) -> StoreResult<Cell> {
    let c = match kind {
        Kind::Int => row
            .try_get::<Option<i64>, _>(idx)
            .map_err(db)?
            .map(Cell::Int),
        Kind::Bool => row
            .try_get::<Option<bool>, _>(idx)
            .map_err(db)?
            .map(|b| Cell::Int(i64::from(b))),
        Kind::Text => row
            .try_get::<Option<String>, _>(idx)
            .map_err(db)?
            .map(Cell::Text),
        Kind::Bytes => row
            .try_get::<Option<Vec<u8>>, _>(idx)
            .map_err(db)?
            .map(Cell::Bytes),
    };
    Ok(c.unwrap_or(Cell::Null))
}

/// One column's cells for an `UNNEST` parameter, checked against the column's kind.
enum Values {
    Int(Vec<Option<i64>>),
    Bool(Vec<Option<bool>>),
    Text(Vec<Option<String>>),
    Bytes(Vec<Option<Vec<u8>>>),
}

impl Values {
    fn new(kind: Kind) -> Values {
        match kind {
            Kind::Int => Values::Int(Vec::new()),
            Kind::Bool => Values::Bool(Vec::new()),
            Kind::Text => Values::Text(Vec::new()),
            Kind::Bytes => Values::Bytes(Vec::new()),
        }
    }

    /// Appends a cell; `false` if it does not fit the column.
    fn push(&mut self, cell: Cell) -> bool {
        match (self, cell) {
            (Values::Int(v), Cell::Null) => v.push(None),
            (Values::Bool(v), Cell::Null) => v.push(None),
            (Values::Text(v), Cell::Null) => v.push(None),
            (Values::Bytes(v), Cell::Null) => v.push(None),
            (Values::Int(v), Cell::Int(i)) => v.push(Some(i)),
            (Values::Bool(v), Cell::Int(i @ (0 | 1))) => v.push(Some(i == 1)),
            (Values::Text(v), Cell::Text(s)) => v.push(Some(s)),
            (Values::Bytes(v), Cell::Bytes(b)) => v.push(Some(b)),
            _ => return false,
        }
        true
    }

    fn split_off(&mut self, at: usize) -> Values {
        match self {
            Values::Int(v) => Values::Int(v.split_off(at)),
            Values::Bool(v) => Values::Bool(v.split_off(at)),
            Values::Text(v) => Values::Text(v.split_off(at)),
            Values::Bytes(v) => Values::Bytes(v.split_off(at)),
        }
    }
}

/// A table checked against the catalog, ready to insert.
struct Checked {
    /// Index into [`TABLES`], which orders parents before children.
    order: usize,
    name: &'static str,
    /// Column names and kinds as the catalog spells them.
    columns: Vec<(String, Kind)>,
    values: Vec<Values>,
    rows: usize,
}

/// Checks a table and turns its rows into columns. Only names found both in [`TABLES`] and in
/// the catalog survive, and they are returned as the catalog's own strings.
fn check(table: Table, catalog: &Catalog) -> StoreResult<Checked> {
    let Some(order) = TABLES.iter().position(|(t, _)| *t == table.name) else {
        tracing::error!("import names a table this backend does not have");
        return Err(StoreError::Corrupt);
    };
    let name = TABLES[order].0;
    let known = catalog
        .get(name)
        .ok_or_else(|| corrupt("table missing from the catalog"))?;
    let mut columns: Vec<(String, Kind)> = Vec::with_capacity(table.columns.len());
    for c in &table.columns {
        let Some((column, kind)) = known.iter().find(|(k, _)| k == c) else {
            tracing::error!(
                table = name,
                "import names a column this backend does not have"
            );
            return Err(StoreError::Corrupt);
        };
        if columns.iter().any(|(seen, _)| seen == column) {
            tracing::error!(table = name, "import names a column twice");
            return Err(StoreError::Corrupt);
        }
        // The catalog's own string, not the caller's.
        columns.push((column.clone(), *kind));
    }
    let mut values: Vec<Values> = columns.iter().map(|(_, k)| Values::new(*k)).collect();
    let rows = table.rows.len();
    for row in table.rows {
        if row.len() != columns.len() {
            tracing::error!(
                table = name,
                "an imported row has the wrong number of cells"
            );
            return Err(StoreError::Corrupt);
        }
        for (cell, column) in row.into_iter().zip(values.iter_mut()) {
            if !column.push(cell) {
                tracing::error!(table = name, "an imported cell does not fit its column");
                return Err(StoreError::Corrupt);
            }
        }
    }
    if rows > 0 && columns.is_empty() {
        return Err(corrupt("imported rows without columns"));
    }
    Ok(Checked {
        order,
        name,
        columns,
        values,
        rows,
    })
}

/// `INSERT INTO "t" ("a", "b") SELECT * FROM UNNEST($1::int8[], $2::text[])`.
fn insert_sql(t: &Checked) -> String {
    let columns: Vec<String> = t.columns.iter().map(|(c, _)| format!("\"{c}\"")).collect();
    let params: Vec<String> = t
        .columns
        .iter()
        .enumerate()
        .map(|(i, (_, k))| format!("${}::{}", i + 1, k.array_cast()))
        .collect();
    let mut sql = format!(
        "INSERT INTO \"{}\" ({}) SELECT * FROM UNNEST({})",
        t.name,
        columns.join(", "),
        params.join(", ")
    );
    if t.name == "nonces" {
        // SQLite keeps its nonce table without a key, so an export may repeat a pair (reused
        // after a sweep); keeping the later expiry is what SQLite's reload does.
        sql.push_str(
            " ON CONFLICT (principal, nonce) DO UPDATE SET expires_ms = greatest(nonces.expires_ms, excluded.expires_ms)",
        );
    }
    sql
}

async fn insert(conn: &mut PgConnection, mut t: Checked) -> StoreResult<()> {
    if t.rows == 0 {
        return Ok(());
    }
    let sql = insert_sql(&t);
    let mut done = 0;
    while done < t.rows {
        let take = CHUNK.min(t.rows - done);
        let chunk: Vec<Values> = t
            .values
            .iter_mut()
            .map(|v| {
                let rest = v.split_off(take);
                std::mem::replace(v, rest)
            })
            .collect();
        // Safe to treat as SQL: every identifier in `sql` is a table name from `TABLES` and a
        // column name from this database's own catalog (both checked in `check`), quoted; the
        // casts are fixed strings per column kind; and every value travels as a bound
        // parameter.
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone())).persistent(false);
        for column in chunk {
            q = match column {
                Values::Int(v) => q.bind(v),
                Values::Bool(v) => q.bind(v),
                Values::Text(v) => q.bind(v),
                Values::Bytes(v) => q.bind(v),
            };
        }
        q.execute(&mut *conn).await.map_err(db)?;
        done += take;
    }
    Ok(())
}

#[async_trait]
impl TransferStore for PgStore {
    async fn export_tables(&self) -> StoreResult<Vec<Table>> {
        let mut tx = self.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let catalog = catalog(&mut tx).await?;
        let mut out = Vec::with_capacity(TABLES.len());
        for (name, select) in TABLES {
            let columns = catalog
                .get(*name)
                .ok_or_else(|| corrupt("table missing from the catalog"))?;
            let rows = sqlx::query(*select).fetch_all(&mut *tx).await.map_err(db)?;
            let mut table = Table {
                name: (*name).to_owned(),
                columns: columns.iter().map(|(c, _)| c.clone()).collect(),
                rows: Vec::with_capacity(rows.len()),
            };
            for r in &rows {
                let names_match = r.columns().len() == columns.len()
                    && r.columns()
                        .iter()
                        .zip(columns)
                        .all(|(a, (b, _))| a.name() == b);
                if !names_match {
                    return Err(corrupt("exported columns differ from the catalog"));
                }
                table.rows.push(
                    columns
                        .iter()
                        .enumerate()
                        .map(|(i, (_, kind))| cell(r, i, *kind))
                        .collect::<StoreResult<_>>()?,
                );
            }
            out.push(table);
        }
        tx.commit().await.map_err(db)?;
        Ok(out)
    }

    async fn import_tables(&self, tables: Vec<Table>) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(IMPORT_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        // Keeps a vault from being created between the check below and the commit.
        sqlx::query("LOCK TABLE vault IN SHARE ROW EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let occupied = sqlx::query("SELECT 1 FROM vault LIMIT 1")
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        if occupied.is_some() {
            return Err(StoreError::Conflict(Conflict::NotEmpty));
        }
        // A migrated store holds the keyring's generation 0 already; the copy brings its own
        // keyring (which may have retired generation 0), so it replaces that row.
        if tables.iter().any(|t| t.name == "root_keys") {
            sqlx::query("DELETE FROM root_keys")
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        let catalog = catalog(&mut tx).await?;
        let mut checked = tables
            .into_iter()
            .map(|t| check(t, &catalog))
            .collect::<StoreResult<Vec<_>>>()?;
        checked.sort_by_key(|t| t.order);
        if checked.windows(2).any(|w| w[0].order == w[1].order) {
            return Err(corrupt("a table imported twice"));
        }
        for (i, t) in checked.into_iter().enumerate() {
            // A crash with some tables copied must leave the target without any of them.
            if i > 0 {
                fail::fail_point!("transfer_mid_import", |_| std::process::abort());
            }
            insert(&mut tx, t).await?;
        }
        notify_policy(&mut tx).await?;
        tx.commit().await.map_err(db)
    }
}
