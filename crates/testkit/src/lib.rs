//! Test scaffolding shared by Signet's core, server and CLI tests, so each test binary states
//! only what its tests are about.
//!
//! - [`clock`]: [`ManualClock`], the time source a test moves by hand.
//! - [`world`]: [`World`], a `Signet` over a real SQLite file in a temporary folder, and the
//!   people and machines tests populate it with; [`world_with!`] declares a test binary's own
//!   world around it.
//! - [`signing`]: signed machine and operator requests as core's authenticators take them.
//! - [`passkey`]: [`Passkey`](passkey::Passkey), a software passkey that signs real challenges.
//! - [`postgres`]: a fresh real PostgreSQL database per test, kept when the test fails.
//! - [`oidc`]: [`TestIssuer`](oidc::TestIssuer), an OIDC issuer on loopback that mints good and
//!   bad platform tokens.
//! - [`oidc_provider`]: [`TestOidcProvider`](oidc_provider::TestOidcProvider), a real OpenID
//!   provider (`tests/oidc`, Node) for SSO sign-in, and a person signing in at it over HTTP.
//! - [`routes`]: route paths read from the routers' source, for rules checked on every route.
//! - `app` (feature `server`): the HTTP router in-process, driven with `oneshot`.
//! - `process` (feature `process`): a real `signet server` process on a free port, the CLI run
//!   against it, and [`every_backend!`](crate::every_backend) to run a test on each backend.
//!
//! Used only as a dev-dependency (`publish = false`): it panics freely, as tests should.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test scaffolding fails loudly by design.

#[cfg(feature = "server")]
pub mod app;
pub mod clock;
pub mod oidc;
pub mod oidc_provider;
pub mod passkey;
pub mod postgres;
#[cfg(feature = "process")]
pub mod process;
pub mod routes;
pub mod signing;
pub mod world;

pub use clock::ManualClock;
pub use signing::{LOCAL, signed, signed_from};
pub use world::{GrantedMachine, PASSWORD, UserKey, World, WorldBuilder, granted_machine};

// The crates `on_both_backends!` names from the calling test crate, which need not depend on
// them itself.
#[doc(hidden)]
pub use {signet_store, signet_store_sqlite, tempfile};

/// Runs each named `async fn(Arc<dyn Store>)` of the calling test file twice, as `NAME::sqlite`
/// on a fresh SQLite file and as `NAME::postgres` on a fresh PostgreSQL database (kept when the
/// test fails), so one test body covers both backends.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let dir = $crate::tempfile::tempdir().unwrap();
                    let store: ::std::sync::Arc<dyn $crate::signet_store::Store> =
                        ::std::sync::Arc::new(
                            $crate::signet_store_sqlite::SqliteStore::open(
                                &dir.path().join("signet.db"),
                            )
                            .unwrap(),
                        );
                    super::$name(store).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let db = $crate::postgres::TestDatabase::create().await;
                    let store: ::std::sync::Arc<dyn $crate::signet_store::Store> =
                        ::std::sync::Arc::new(db.store().await);
                    super::$name(store).await;
                }
            }
        )*
    };
}
