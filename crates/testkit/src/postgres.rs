//! A fresh real PostgreSQL database per test on the server named by `SIGNET_TEST_PG_URL`
//! (default `postgres://postgres@127.0.0.1:5432/test`), dropped when the test passes and kept,
//! with its name printed, when it fails.
//!
//! Two flavours over the same rule: [`TestDatabase`] (async, through sqlx; from
//! `signet_store_postgres::testing`, which the store's own conformance suite uses without this
//! crate) for tests that open stores in-process, and [`PgDatabase`] (synchronous, through `psql`)
//! for tests that hand a URL to a `signet` process and may run outside any runtime.

use std::process::Command;

pub use signet_store_postgres::testing::{DEFAULT_URL, TestDatabase, TestStore, admin_url};

/// A database made with `psql` for one test: `signet_e2e_<hex>`.
pub struct PgDatabase {
    admin: String,
    name: String,
    url: String,
}

/// Runs SQL with `psql` against `url`; the error is psql's stderr.
pub fn psql(url: &str, sql: &str) -> Result<(), String> {
    let out = Command::new("psql")
        .args([url, "-qc", sql])
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

impl PgDatabase {
    /// Creates it; panics if the server cannot be reached.
    pub fn create() -> Self {
        let admin = admin_url();
        let mut raw = [0u8; 6];
        getrandom::fill(&mut raw).expect("OS RNG");
        let name = format!("signet_e2e_{}", hex::encode(raw));
        psql(&admin, &format!("CREATE DATABASE {name}"))
            .unwrap_or_else(|e| panic!("cannot create a test database on {admin}: {e}"));
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
        let url = format!("{base}/{name}");
        Self { admin, name, url }
    }

    /// A `postgres://` URL to it.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("kept database {} for inspection ({})", self.name, self.url);
        } else if let Err(e) = psql(
            &self.admin,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        ) {
            eprintln!("could not drop test database {}: {e}", self.name);
        }
    }
}
