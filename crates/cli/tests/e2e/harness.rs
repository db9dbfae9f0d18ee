//! Real processes: a `signet server` on a free port with its own data folder, and `signet` CLI
//! invocations with their own `SIGNET_HOME`. The harness lives in `signet-testkit` (feature
//! `process`), shared with any other crate's tests; this module keeps the test files' paths.

pub use signet_testkit::every_backend;
pub use signet_testkit::postgres::{PgDatabase, psql};
pub use signet_testkit::process::{
    Backend, Fixture, TestServer, bin, run, run_with_stdin, shared_config, stderr, stdout,
};

/// The untyped admin call the tests use to reach a route's edges (bodies an honest caller would
/// not send, answers looked at field by field). The SDK's own [`OperatorClient::request`] is
/// generic; this fixes both sides to `serde_json::Value`.
pub trait AdminJson {
    /// Calls `method path` with `body` as compact JSON (`None`: an empty body).
    async fn request_json(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<serde_json::Value, signet_client::ClientError>;
}

impl AdminJson for signet_client::OperatorClient {
    async fn request_json(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<serde_json::Value, signet_client::ClientError> {
        self.request(method, path, body).await
    }
}

/// `count(sql)` against a PostgreSQL database: the single number a `SELECT count(*) …` prints,
/// read with `psql` as an operator would, bypassing the server under test.
pub fn postgres_count(url: String) -> impl Fn(&str) -> u64 {
    move |sql| count_from(std::process::Command::new("psql").args([url.as_str(), "-tAc", sql]))
}

/// The same against a SQLite file, with the `sqlite3` shell.
pub fn sqlite_count(file: std::path::PathBuf) -> impl Fn(&str) -> u64 {
    move |sql| count_from(std::process::Command::new("sqlite3").arg(&file).arg(sql))
}

fn count_from(command: &mut std::process::Command) -> u64 {
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}
