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
