//! The shared conformance suite, each test on its own fresh SQLite file.

mod test_db;

use test_db::TestDb;

signet_store::conformance_suite!(TestDb::new());
