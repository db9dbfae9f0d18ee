//! `signet storage migrate`: copies a whole installation from one store to another (SQLite to
//! PostgreSQL, or to a new SQLite file) through the backends' export and import, then proves the
//! copy by exporting it again. Runs on the server host; needs no root key, since nothing is
//! decrypted: ciphertexts, wrapped keys and audit hashes travel byte for byte.

use signet_store::Conflict;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use serde_json::json;
use signet_server::install::{self, DatabaseUrl};
use signet_store::{Cell, Store, StoreError, Table};

use crate::output;

/// `signet storage`.
#[derive(Debug, clap::Args)]
pub struct StorageArgs {
    #[command(subcommand)]
    command: StorageCommand,
}

#[derive(Debug, clap::Subcommand)]
enum StorageCommand {
    /// Copy every table from one database into a new, empty one and verify the copy.
    ///
    /// The source may stay in use by a running server: the copy is one consistent snapshot.
    /// Writes the server makes after the snapshot are not copied, so stop the server before the
    /// copy you intend to switch to. The target must hold no vault. Start the new server with the
    /// same root key.
    Migrate {
        // Plain strings, parsed in `run`: clap's own error would echo the value, password and
        // all.
        /// The database to copy: sqlite://PATH (sqlite:///absolute or sqlite://relative).
        #[arg(long, value_name = "URL")]
        from: String,
        /// The empty database to fill: sqlite://PATH, postgres://... or postgresql://...
        #[arg(long, value_name = "URL")]
        to: String,
    },
}

/// Runs a `storage` subcommand.
pub async fn run(args: StorageArgs, json: bool) -> Result<ExitCode> {
    match args.command {
        StorageCommand::Migrate { from, to } => {
            let from = DatabaseUrl::parse(&from).context("--from")?;
            let to = DatabaseUrl::parse(&to).context("--to")?;
            migrate(&from, &to, json).await
        }
    }
}

async fn migrate(from: &DatabaseUrl, to: &DatabaseUrl, json: bool) -> Result<ExitCode> {
    // Opening a missing SQLite file would create it, and then report an empty source.
    if let DatabaseUrl::Sqlite(path) = from
        && !path.exists()
    {
        bail!("no database at {}; check --from", path.display());
    }
    if from == to {
        bail!("--from and --to name the same database");
    }
    let source = install::open_store(from)
        .await
        .with_context(|| format!("cannot open the source {from}"))?;
    let Some(vault) = source
        .vault()
        .await
        .map_err(store_error)
        .with_context(|| format!("cannot read the source {from}"))?
    else {
        bail!("the source {from} holds no vault; there is nothing to migrate");
    };
    let target = install::open_store(to)
        .await
        .with_context(|| format!("cannot open the target {to}"))?;
    refuse_unless_empty(target.as_ref(), to).await?;

    let tables = source
        .export_tables()
        .await
        .map_err(store_error)
        .with_context(|| format!("cannot export {from}"))?;
    match target.import_tables(tables.clone()).await {
        Ok(()) => {}
        Err(StoreError::Conflict(Conflict::NotEmpty)) => bail!(not_empty(to)),
        Err(e) => {
            return Err(store_error(e))
                .with_context(|| format!("cannot import into {to}; nothing was written to it"));
        }
    }
    let copy = target
        .export_tables()
        .await
        .map_err(store_error)
        .with_context(|| format!("cannot read back {to} to verify the copy"))?;
    if let Some(name) = first_difference(&tables, &copy) {
        bail!(
            "the copy in {to} differs from the source (table {name}); do not use it: \
             delete it and run the migration again"
        );
    }

    let rows: usize = tables.iter().map(|t| t.rows.len()).sum();
    if json {
        let counts: Vec<_> = tables
            .iter()
            .map(|t| json!({ "table": t.name, "rows": t.rows.len() }))
            .collect();
        output::json(&json!({
            "from": from.to_string(),
            "to": to.to_string(),
            "vaultId": vault.id,
            "tables": counts,
            "rows": rows,
            "verified": true,
        }))?;
    } else {
        let mut table = output::Table::new(&["TABLE", "ROWS"]);
        for t in &tables {
            table.row(vec![t.name.clone(), t.rows.len().to_string()]);
        }
        table.print("(no tables)")?;
        output::lines([
            format!(
                "Copied vault {} from {from} to {to}: {rows} rows in {} tables, verified.",
                vault.id,
                tables.len()
            ),
            "Start the server on the new database with the same root key.".to_owned(),
        ])?;
    }
    Ok(ExitCode::SUCCESS)
}

async fn refuse_unless_empty(target: &dyn Store, to: &DatabaseUrl) -> Result<()> {
    let vault = target
        .vault()
        .await
        .map_err(store_error)
        .with_context(|| format!("cannot read the target {to}"))?;
    let tables = target
        .export_tables()
        .await
        .map_err(store_error)
        .with_context(|| format!("cannot read the target {to}"))?;
    if vault.is_some() || tables.iter().any(|t| !t.rows.is_empty()) {
        bail!(not_empty(to));
    }
    Ok(())
}

fn not_empty(to: &DatabaseUrl) -> String {
    format!("the target {to} is not empty; migrate only into a new database (nothing was changed)")
}

/// A cell in a form that sorts, so rows can be compared as multisets.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum Key<'a> {
    Null,
    Int(i64),
    Text(&'a str),
    Bytes(&'a [u8]),
}

/// A table's rows with their cells in `columns` order, sorted. Backends keep different table
/// and row orders (SQLite by rowid, PostgreSQL by key), so a copy is the same data, not the same
/// sequence. `None` if the table lacks one of `columns`.
fn canonical<'a>(table: &'a Table, columns: &[String]) -> Option<Vec<Vec<Key<'a>>>> {
    let index: Vec<usize> = columns
        .iter()
        .map(|c| table.columns.iter().position(|have| have == c))
        .collect::<Option<_>>()?;
    let mut rows: Vec<Vec<Key<'a>>> = table
        .rows
        .iter()
        .map(|row| {
            index
                .iter()
                .map(|&i| match row.get(i) {
                    Some(Cell::Int(v)) => Key::Int(*v),
                    Some(Cell::Text(v)) => Key::Text(v),
                    Some(Cell::Bytes(v)) => Key::Bytes(v),
                    Some(Cell::Null) | None => Key::Null,
                })
                .collect()
        })
        .collect();
    rows.sort_unstable();
    Some(rows)
}

/// The name of the first table whose columns or rows differ, or that is missing on one side.
fn first_difference<'a>(expected: &'a [Table], actual: &[Table]) -> Option<&'a str> {
    for want in expected {
        let same = actual
            .iter()
            .find(|t| t.name == want.name)
            .is_some_and(|got| {
                got.columns.len() == want.columns.len()
                    && canonical(got, &want.columns) == canonical(want, &want.columns)
            });
        if !same {
            return Some(&want.name);
        }
    }
    (actual.len() != expected.len()).then_some("(extra tables)")
}

/// Store errors carry no detail by design (the backend logged it); say what they mean.
fn store_error(e: StoreError) -> anyhow::Error {
    anyhow::anyhow!(match e {
        StoreError::Unavailable => "the database is unavailable (see the log above)".to_owned(),
        StoreError::Corrupt =>
            "the data does not fit the database schema (see the log above)".to_owned(),
        other => other.to_string(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use signet_store::Cell;

    use super::*;

    fn table(name: &str, rows: Vec<Vec<Cell>>) -> Table {
        Table {
            name: name.to_owned(),
            columns: vec!["v".to_owned()],
            rows,
        }
    }

    #[test]
    fn a_difference_names_its_table() {
        let a = vec![
            table("vault", vec![vec![Cell::Int(1)]]),
            table("audit", vec![]),
        ];
        assert_eq!(first_difference(&a, &a.clone()), None);
        let mut b = a.clone();
        b[1].rows.push(vec![Cell::Null]);
        assert_eq!(first_difference(&a, &b), Some("audit"));
        assert_eq!(first_difference(&a, &a[..1]), Some("audit"));
        let mut c = a.clone();
        c.push(table("extra", vec![]));
        assert_eq!(first_difference(&a, &c), Some("(extra tables)"));
        // Another backend's table and row order is the same data.
        let swapped = vec![a[1].clone(), a[0].clone()];
        assert_eq!(first_difference(&a, &swapped), None);
        let two = table("audit", vec![vec![Cell::Int(1)], vec![Cell::Int(2)]]);
        let mut reversed = two.clone();
        reversed.rows.reverse();
        assert_eq!(
            first_difference(std::slice::from_ref(&two), &[reversed]),
            None
        );
        let mut changed = two.clone();
        changed.rows[1] = vec![Cell::Text("2".into())];
        assert_eq!(first_difference(&[two], &[changed]), Some("audit"));
    }
}
