//! Test support (feature `testing`): a fresh real database per test.
//!
//! [`TestDatabase::create`] makes `signet_t_<hex>` on the server named by `SIGNET_TEST_PG_URL`
//! (default `postgres://postgres@127.0.0.1:5432/test`). When it is dropped it drops the database
//! if the test passed, and keeps it (printing its name to stderr) if the thread is panicking, so
//! a failure can be inspected with `psql`. [`TestStore`] adds a connected [`PgStore`] and is the
//! conformance suite's [`Harness`].

use std::sync::Arc;

use signet_store::Store;
use signet_store::conformance::Harness;
use sqlx::{Connection, PgConnection};

use crate::PgStore;

/// Where test databases are created, unless `SIGNET_TEST_PG_URL` says otherwise.
pub const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// The admin URL tests connect to.
pub fn admin_url() -> String {
    std::env::var("SIGNET_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned())
}

/// A database that lives as long as one test (longer, if the test fails).
#[derive(Debug)]
pub struct TestDatabase {
    name: String,
    url: String,
    admin: String,
}

impl TestDatabase {
    /// Creates a fresh, empty database. Panics if the server cannot be reached.
    pub async fn create() -> TestDatabase {
        let admin = admin_url();
        let mut raw = [0u8; 8];
        getrandom::fill(&mut raw)
            .unwrap_or_else(|e| panic!("no randomness for a test database name: {e}"));
        let name = format!("signet_t_{}", hex::encode(raw));
        let mut conn = PgConnection::connect(&admin)
            .await
            .unwrap_or_else(|e| panic!("cannot reach the test server {admin}: {e}"));
        // The name is ours: `signet_t_` and hex digits, nothing to escape.
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("cannot create test database {name}: {e}"));
        let _ = conn.close().await;
        let url = with_database(&admin, &name);
        TestDatabase { name, url, admin }
    }

    /// A `postgres://` URL to this database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A store connected to this database (migrated, listening).
    pub async fn store(&self) -> PgStore {
        PgStore::connect(&self.url)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to test database {}: {e}", self.name))
    }
}

/// `url` with its database (the path) replaced by `name`, query string kept.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[after_scheme..]
        .find('/')
        .map_or(base.len(), |i| after_scheme + i);
    let mut out = format!("{}/{name}", &base[..host_end]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("test failed: keeping postgres database {}", self.name);
            return;
        }
        // Drop is synchronous and may run inside a runtime, which must not be blocked on from
        // within: a short-lived thread with its own runtime does the async work.
        let (admin, name) = (self.admin.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            rt.block_on(async {
                let mut conn = PgConnection::connect(&admin)
                    .await
                    .map_err(|e| e.to_string())?;
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                )))
                .execute(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
                let _ = conn.close().await;
                Ok::<(), String>(())
            })
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("could not drop test database {}: {e}", self.name),
            Err(_) => eprintln!("dropping test database {} panicked", self.name),
        }
    }
}

/// A connected store on its own fresh database: the conformance suite's harness.
#[derive(Debug)]
pub struct TestStore {
    // Declared first so it is dropped first: its connections close before the database goes.
    store: Arc<PgStore>,
    database: TestDatabase,
}

impl TestStore {
    /// A fresh database and a store connected to it.
    pub async fn create() -> TestStore {
        let database = TestDatabase::create().await;
        let store = Arc::new(database.store().await);
        TestStore { store, database }
    }

    /// The store.
    pub fn pg(&self) -> &Arc<PgStore> {
        &self.store
    }

    /// The database.
    pub fn database(&self) -> &TestDatabase {
        &self.database
    }
}

impl Harness for TestStore {
    fn store(&self) -> Arc<dyn Store> {
        Arc::clone(&self.store) as Arc<dyn Store>
    }

    /// Another replica on the database.
    fn reopen(&self) -> signet_store::conformance::Reopened<'_> {
        Box::pin(async { Some(Arc::new(self.database.store().await) as Arc<dyn Store>) })
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn the_database_is_replaced_in_the_url() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("postgres://u:p@h/test?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
    }
}
