//! The shared conformance suite, each test on its own fresh PostgreSQL database
//! (`SIGNET_TEST_PG_URL`, default `postgres://postgres@127.0.0.1:5432/test`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use signet_store_postgres::testing::TestStore;

signet_store::conformance_suite!(TestStore::create());
