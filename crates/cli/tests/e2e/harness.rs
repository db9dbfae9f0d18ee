//! Real processes: a `signet server` on a free port with its own data folder, and `signet` CLI
//! invocations with their own `SIGNET_HOME`. The harness lives in `signet-testkit` (feature
//! `process`), shared with any other crate's tests; this module keeps the test files' paths.

pub use signet_testkit::every_backend;
pub use signet_testkit::postgres::{PgDatabase, psql};
pub use signet_testkit::process::{
    Backend, Fixture, TestServer, bin, run, run_with_stdin, shared_config, stderr, stdout,
};
