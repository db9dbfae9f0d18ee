//! Export and import of every table, for `signet storage migrate`.
//!
//! The set of tables comes from the file itself (`sqlite_master`), checked against [`TABLES`]:
//! that list fixes the order (parents before children, so an import in that order satisfies every
//! foreign key) and names every table a migration has ever created. A table the list does not
//! name makes both directions refuse rather than leave installation state behind; a unit test
//! keeps the list and the migrations in step.
//!
//! Rows of a rowid table travel in rowid order, and are inserted in that order, so ties in the
//! listings that break on `rowid` (operators, machines, logins, ...) list the same after a copy.
//! `WITHOUT ROWID` tables travel in primary-key order. Either way two exports of an unchanged
//! file are equal.
//!
//! `access_stamp` is left out on both sides, like PostgreSQL's migration bookkeeping: the stamp
//! only has to move forward within one database, and a copy's own triggers start its own.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use rusqlite::Connection;
use rusqlite::types::{Value, ValueRef};
use signet_store::{Cell, Conflict, StoreError, StoreResult, Table, TransferStore};

use crate::SqliteStore;
use crate::error::db;
use crate::statement::{all, one};

/// Every table of the final schema, parents before children. A new migration's table goes here,
/// after every table it references.
pub(crate) const TABLES: &[&str] = &[
    "vault",
    "root_keys",
    "principal_keys",
    "users",
    "operators",
    "recovery_codes",
    "logins",
    "sessions",
    "projects",
    "user_projects",
    "invites",
    "passkeys",
    "webauthn_ceremonies",
    "policies",
    "secrets",
    "secret_versions",
    "secret_rotations",
    "managed_secrets",
    "machines",
    "memberships",
    "grants",
    "bootstrap_tokens",
    "enrollment_tokens",
    "ip_allowlist",
    "nonces",
    "audit",
    "audit_head",
    "audit_checkpoints",
    "read_marks",
    "policy_counters",
    "policy_reads",
    "shares",
    "db_connections",
    "leased_secrets",
    "leases",
    "webhooks",
    "alert_rules",
    "alert_cursor",
    "webhook_deliveries",
    "oidc_issuers",
    "oidc_rules",
    "oidc_tokens_used",
    "sso_providers",
    "sso_mappings",
    "sso_identities",
    "sso_attempts",
];

/// Columns that do not travel: each is computed on import from the row's other columns, so the
/// logical table is the same as PostgreSQL's. `nonces.key` is the pair's key in the replay set
/// (`nonce.rs`); `signet_pair_key` is a function of the writer connection, which imports run on.
/// Each entry: table, column, and the function of the writer connection that computes it from
/// the listed columns.
const DERIVED: &[Derived] = &[Derived {
    table: "nonces",
    column: "key",
    function: "signet_pair_key",
    from: &["principal", "nonce"],
}];

struct Derived {
    table: &'static str,
    column: &'static str,
    function: &'static str,
    from: &'static [&'static str],
}

fn derived(table: &str) -> impl Iterator<Item = &'static Derived> + '_ {
    DERIVED.iter().filter(move |d| d.table == table)
}

/// What a column holds, from its declared type. Every table is `STRICT`, so the declared type is
/// the only type a value of that column can have.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Affinity {
    Blob,
    Integer,
    Text,
}

impl Affinity {
    fn parse(declared: &str) -> Option<Self> {
        match declared.to_ascii_uppercase().as_str() {
            "BLOB" => Some(Self::Blob),
            "INTEGER" => Some(Self::Integer),
            "TEXT" => Some(Self::Text),
            _ => None,
        }
    }

    fn fits(self, cell: &Cell) -> bool {
        matches!(
            (self, cell),
            (_, Cell::Null)
                | (Self::Integer, Cell::Int(_))
                | (Self::Text, Cell::Text(_))
                | (Self::Blob, Cell::Bytes(_))
        )
    }
}

/// One table as this file defines it.
struct Shape {
    /// Columns in declaration order, with what each holds.
    columns: Vec<(String, Affinity)>,
    /// `ORDER BY` for a stable export: the rowid, or the primary key of a `WITHOUT ROWID` table.
    order: String,
}

/// The file's tables, by name, after checking that they are exactly [`TABLES`].
fn schema(conn: &Connection) -> StoreResult<HashMap<String, Shape>> {
    let names = all(
        conn,
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
         AND name <> 'access_stamp'",
        [],
        |r| r.get::<_, String>(0).map_err(db),
    )?;
    let listed: HashSet<&str> = TABLES.iter().copied().collect();
    let present: HashSet<&str> = names.iter().map(String::as_str).collect();
    if let Some(extra) = present.difference(&listed).next() {
        tracing::error!(
            table = extra,
            "the schema has a table the transfer list does not name"
        );
        return Err(StoreError::Corrupt);
    }
    if let Some(missing) = listed.difference(&present).next() {
        tracing::error!(table = missing, "a table of the transfer list is missing");
        return Err(StoreError::Corrupt);
    }
    names
        .into_iter()
        .map(|name| {
            let shape = shape(conn, &name)?;
            Ok((name, shape))
        })
        .collect()
}

fn shape(conn: &Connection, table: &str) -> StoreResult<Shape> {
    let info = all(
        conn,
        "SELECT name, type, pk FROM pragma_table_info(?1) ORDER BY cid",
        [table],
        |r| {
            Ok((
                r.get::<_, String>(0).map_err(db)?,
                r.get::<_, String>(1).map_err(db)?,
                r.get::<_, i64>(2).map_err(db)?,
            ))
        },
    )?;
    let mut columns = Vec::with_capacity(info.len());
    for (name, declared, _) in &info {
        if derived(table).any(|d| d.column == name) {
            continue;
        }
        let Some(affinity) = Affinity::parse(declared) else {
            tracing::error!(
                table,
                column = name,
                declared,
                "a column type cannot travel"
            );
            return Err(StoreError::Corrupt);
        };
        columns.push((name.clone(), affinity));
    }
    let without_rowid = one(
        conn,
        "SELECT wr FROM pragma_table_list WHERE schema = 'main' AND name = ?1",
        [table],
        |r| r.get::<_, bool>(0).map_err(db),
    )?
    .ok_or(StoreError::Corrupt)?;
    let order = if without_rowid {
        let mut pk: Vec<(i64, &str)> = info
            .iter()
            .filter(|(_, _, pk)| *pk > 0)
            .map(|(name, _, pk)| (*pk, name.as_str()))
            .collect();
        pk.sort_unstable();
        pk.iter()
            .map(|(_, name)| quoted(name))
            .collect::<Vec<_>>()
            .join(", ")
    } else {
        "rowid".to_owned()
    };
    Ok(Shape { columns, order })
}

/// An identifier for SQL text. Only names read back from this file's own schema reach it (never
/// a caller's string), and ours are plain `[a-z_]` words; the quoting is for form's sake.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn export_table(conn: &Connection, name: &str, shape: &Shape) -> StoreResult<Table> {
    let columns: Vec<String> = shape.columns.iter().map(|(c, _)| c.clone()).collect();
    let list = columns
        .iter()
        .map(|c| quoted(c))
        .collect::<Vec<_>>()
        .join(", ");
    // Table and column names come from the schema, not from input.
    let sql = format!(
        "SELECT {list} FROM {} ORDER BY {}",
        quoted(name),
        shape.order
    );
    let mut st = conn.prepare(&sql).map_err(db)?;
    let mut rows = st.query([]).map_err(db)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(db)? {
        let cells = (0..columns.len())
            .map(|i| cell(row.get_ref(i).map_err(db)?, name))
            .collect::<StoreResult<Vec<Cell>>>()?;
        out.push(cells);
    }
    Ok(Table {
        name: name.to_owned(),
        columns,
        rows: out,
    })
}

fn cell(value: ValueRef<'_>, table: &str) -> StoreResult<Cell> {
    match value {
        ValueRef::Null => Ok(Cell::Null),
        ValueRef::Integer(i) => Ok(Cell::Int(i)),
        ValueRef::Text(t) => match std::str::from_utf8(t) {
            Ok(s) => Ok(Cell::Text(s.to_owned())),
            Err(_) => {
                tracing::error!(table, "a text value is not UTF-8");
                Err(StoreError::Corrupt)
            }
        },
        ValueRef::Blob(b) => Ok(Cell::Bytes(b.to_vec())),
        ValueRef::Real(_) => {
            tracing::error!(table, "a real value has no place in the logical schema");
            Err(StoreError::Corrupt)
        }
    }
}

/// Checks `tables` against the schema and returns them in import order, each with its column
/// list as the schema spells it. Nothing has been written yet when this fails.
fn plan(conn: &Connection, tables: Vec<Table>) -> StoreResult<Vec<(String, Table)>> {
    let schema = schema(conn)?;
    let mut by_name: HashMap<String, Table> = HashMap::with_capacity(tables.len());
    for table in tables {
        let Some(shape) = schema.get(&table.name) else {
            tracing::error!(table = table.name, "an imported table is unknown here");
            return Err(StoreError::Corrupt);
        };
        check_table(&table, shape)?;
        let name = table.name.clone();
        if by_name.insert(name.clone(), table).is_some() {
            tracing::error!(table = name, "an imported table appears twice");
            return Err(StoreError::Corrupt);
        }
    }
    let mut ordered = Vec::with_capacity(by_name.len());
    for name in TABLES {
        if let Some(table) = by_name.remove(*name) {
            ordered.push(((*name).to_owned(), table));
        }
    }
    Ok(ordered)
}

/// Every column of the table, each once, and every cell of the type its column holds. A missing
/// column would be filled with its default and lose what the source held, so it is refused too.
fn check_table(table: &Table, shape: &Shape) -> StoreResult<()> {
    let mut seen = HashSet::with_capacity(table.columns.len());
    let mut affinities = Vec::with_capacity(table.columns.len());
    for column in &table.columns {
        let Some((_, affinity)) = shape.columns.iter().find(|(c, _)| c == column) else {
            tracing::error!(
                table = table.name,
                column,
                "an imported column is unknown here"
            );
            return Err(StoreError::Corrupt);
        };
        if !seen.insert(column.as_str()) {
            tracing::error!(
                table = table.name,
                column,
                "an imported column appears twice"
            );
            return Err(StoreError::Corrupt);
        }
        affinities.push(*affinity);
    }
    if seen.len() != shape.columns.len() {
        tracing::error!(table = table.name, "an imported table lacks columns");
        return Err(StoreError::Corrupt);
    }
    for row in &table.rows {
        if row.len() != affinities.len() {
            tracing::error!(table = table.name, "an imported row has the wrong width");
            return Err(StoreError::Corrupt);
        }
        if let Some(i) = row.iter().zip(&affinities).position(|(c, a)| !a.fits(c)) {
            tracing::error!(
                table = table.name,
                column = table.columns[i],
                "an imported value does not fit its column"
            );
            return Err(StoreError::Corrupt);
        }
    }
    Ok(())
}

fn import_table(conn: &Connection, name: &str, table: Table) -> StoreResult<()> {
    if table.rows.is_empty() {
        return Ok(());
    }
    // Safe to build from names: `plan` has checked the table name and every column name against
    // this file's own schema, so only identifiers the schema defines reach the SQL text. Values
    // are always bound parameters.
    // A derived column's value is its function over the parameters of the columns it is
    // derived from (the function and column names are constants of this file).
    let mut derived_columns = Vec::new();
    let mut derived_values = Vec::new();
    for d in derived(name) {
        let args = d
            .from
            .iter()
            .map(|from| {
                let i = table.columns.iter().position(|c| c == from)?;
                Some(format!("?{}", i + 1))
            })
            .collect::<Option<Vec<_>>>()
            .ok_or(StoreError::Corrupt)?;
        derived_columns.push(quoted(d.column));
        derived_values.push(format!("{}({})", d.function, args.join(", ")));
    }
    let list = table
        .columns
        .iter()
        .map(|c| quoted(c))
        .chain(derived_columns)
        .collect::<Vec<_>>()
        .join(", ");
    let params = (1..=table.columns.len())
        .map(|i| format!("?{i}"))
        .chain(derived_values)
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!("INSERT INTO {} ({list}) VALUES ({params})", quoted(name));
    let mut st = conn.prepare(&sql).map_err(db)?;
    for row in table.rows {
        let values = row.into_iter().map(|c| match c {
            Cell::Null => Value::Null,
            Cell::Int(i) => Value::Integer(i),
            Cell::Text(t) => Value::Text(t),
            Cell::Bytes(b) => Value::Blob(b),
        });
        st.execute(rusqlite::params_from_iter(values))
            .map_err(|e| {
                tracing::error!(table = name, "an imported row was refused");
                db(e)
            })?;
    }
    Ok(())
}

#[async_trait]
impl TransferStore for SqliteStore {
    async fn export_tables(&self) -> StoreResult<Vec<Table>> {
        // Inline on the calling task like every read; only `signet storage migrate` exports, and
        // it has nothing else to run meanwhile.
        self.read(|c| {
            // One read transaction: WAL gives it one snapshot of the file, however many commits
            // the server makes meanwhile. Dropping it ends it; a reader has nothing to commit.
            let tx = c.unchecked_transaction().map_err(db)?;
            let schema = schema(&tx)?;
            TABLES
                .iter()
                .map(|name| {
                    let shape = schema.get(*name).ok_or(StoreError::Corrupt)?;
                    export_table(&tx, name, shape)
                })
                .collect()
        })
    }

    async fn import_tables(&self, tables: Vec<Table>) -> StoreResult<()> {
        self.write(move |tx| {
            let vaults: i64 = tx
                .query_row("SELECT count(*) FROM vault", [], |r| r.get(0))
                .map_err(db)?;
            if vaults != 0 {
                return Err(StoreError::Conflict(Conflict::NotEmpty));
            }
            // A migrated store holds the keyring's generation 0 already; the copy brings its
            // own keyring (which may have retired generation 0), so it replaces that row.
            if tables.iter().any(|t| t.name == "root_keys") {
                tx.execute("DELETE FROM root_keys", []).map_err(db)?;
            }
            for (i, (name, table)) in plan(tx, tables)?.into_iter().enumerate() {
                // A crash with some tables copied must leave the target without any of them.
                if i > 0 {
                    fail::fail_point!("transfer_mid_import", |_| std::process::abort());
                }
                import_table(tx, &name, table)?;
            }
            Ok(())
        })
        .await?;
        // The set, not the table, refuses replays; it must hold the imported pairs too.
        self.nonces.learn(&self.readers).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// A migration that adds a table must add it to [`TABLES`] too, or `signet storage migrate`
    /// would refuse every file (and, without the check, leave the table behind).
    #[test]
    fn the_list_names_every_table_of_the_schema() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::schema::open_writer(&dir.path().join("t.sqlite3")).unwrap();
        let mut names = all(
            &conn,
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
         AND name <> 'access_stamp'",
            [],
            |r| r.get::<_, String>(0).map_err(db),
        )
        .unwrap();
        names.sort();
        let mut listed: Vec<String> = TABLES.iter().map(|s| (*s).to_owned()).collect();
        listed.sort();
        assert_eq!(names, listed);
        assert!(schema(&conn).is_ok());
    }

    /// Importing in list order satisfies every foreign key: each table comes after every table
    /// it references.
    #[test]
    fn the_list_puts_parents_before_children() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::schema::open_writer(&dir.path().join("t.sqlite3")).unwrap();
        let position = |t: &str| TABLES.iter().position(|n| *n == t).unwrap();
        for child in TABLES {
            let parents = all(
                &conn,
                "SELECT DISTINCT \"table\" FROM pragma_foreign_key_list(?1)",
                [child],
                |r| r.get::<_, String>(0).map_err(db),
            )
            .unwrap();
            for parent in parents {
                assert!(
                    position(&parent) < position(child),
                    "{parent} must come before {child}"
                );
            }
        }
    }

    #[test]
    fn a_real_value_is_corrupt() {
        assert_eq!(
            cell(ValueRef::Real(1.5), "t").err(),
            Some(StoreError::Corrupt)
        );
        assert_eq!(cell(ValueRef::Integer(3), "t").ok(), Some(Cell::Int(3)));
    }
}
