//! Issue 12 §1, leased PostgreSQL credentials, through core over a real store of each kind and
//! a real PostgreSQL for the leases themselves (the provisioner below is `signet-database`, as
//! the server's composition root wires it): a signed read mints a role that logs in and uses its
//! grant; the next read answers the same lease (renewed); the reaper revokes it once due and it
//! no longer logs in; mint-fresh and revoke-on-disable; a failed mint is a 503 with no role
//! left; replicas reap each lease exactly once; what fell due while down is revoked at start.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly by design.

use std::sync::Arc;

use async_trait::async_trait;
use signet_core::auth::AuthedOperator;
use signet_core::connection::ConnectionInput;
use signet_core::lease::LeaseSettingsInput;
use signet_core::provision::{DbTarget, ProvisionError, Provisioner};
use signet_core::{Clock, CoreError, Signet, SignetConfig};
use signet_crypto::RootKey;
use signet_database::{RoleName, Target, Tls};
use signet_proto::SecretSeed;
use signet_store::{AuditFilter, LeaseState, Role, Store, TlsMode};
use signet_testkit::postgres::TestDatabase;
use signet_testkit::{ManualClock, granted_machine, signed};
use sqlx::{Connection, PgConnection};
use zeroize::Zeroizing;

/// The composition root's provisioner, over `signet-database`.
#[derive(Debug)]
struct Pg;

fn target(t: &DbTarget) -> Target {
    Target {
        host: t.host.clone(),
        port: t.port,
        database: t.database.clone(),
        user: t.user.clone(),
        password: t.password.clone(),
        tls: match t.tls {
            TlsMode::Disable => Tls::Disable,
            TlsMode::Prefer => Tls::Prefer,
            TlsMode::Require => Tls::Require,
            TlsMode::VerifyFull => Tls::VerifyFull,
        },
    }
}

fn role(name: &str) -> Result<RoleName, ProvisionError> {
    RoleName::parse(name).ok_or(ProvisionError { class: "role_name" })
}

fn class(e: signet_database::DatabaseError) -> ProvisionError {
    ProvisionError { class: e.class() }
}

#[async_trait]
impl Provisioner for Pg {
    async fn ping(&self, a: &DbTarget) -> Result<(), ProvisionError> {
        signet_database::ping(&target(a)).await.map_err(class)
    }
    async fn create_role(
        &self,
        a: &DbTarget,
        r: &str,
        p: &str,
        until: i64,
        g: &[String],
    ) -> Result<(), ProvisionError> {
        signet_database::create_role(&target(a), &role(r)?, p, until, g)
            .await
            .map_err(class)
    }
    async fn set_valid_until(
        &self,
        a: &DbTarget,
        r: &str,
        until: i64,
    ) -> Result<(), ProvisionError> {
        signet_database::set_valid_until(&target(a), &role(r)?, until)
            .await
            .map_err(class)
    }
    async fn drop_role(&self, a: &DbTarget, r: &str) -> Result<(), ProvisionError> {
        signet_database::drop_role(&target(a), &role(r)?)
            .await
            .map_err(class)
    }
    async fn set_password(&self, a: &DbTarget, r: &str, p: &str) -> Result<(), ProvisionError> {
        signet_database::set_password(&target(a), &role(r)?, p)
            .await
            .map_err(class)
    }
}

fn config() -> SignetConfig {
    SignetConfig {
        provisioner: Arc::new(Pg),
        ..SignetConfig::default()
    }
}

/// A vault with a granted machine, a connection to a fresh database holding table `t`, and a
/// leased secret on it granted to the machine.
struct Vault {
    signet: Signet,
    clock: Arc<ManualClock>,
    op: AuthedOperator,
    machine: String,
    seed: SecretSeed,
    leased: String,
    /// The root key, to open a replica or a restarted process over the same store.
    root: Zeroizing<String>,
    store: Arc<dyn Store>,
    /// The database leases are minted in (dropped last).
    db: TestDatabase,
}

fn settings(connection: &str, mint_fresh: bool, grants: &[&str]) -> LeaseSettingsInput {
    LeaseSettingsInput {
        connection: connection.to_owned(),
        ttl_secs: 60,
        max_ttl_secs: 300,
        renew_on_read: true,
        mint_fresh,
        revoke_on_disable: true,
        password_length: None,
        password_charset: None,
        grant_sql: grants.iter().map(|g| (*g).to_owned()).collect(),
    }
}

async fn vault_with(store: Arc<dyn Store>, root: RootKey, clock: Arc<ManualClock>) -> Signet {
    Signet::open(store, root, clock, config())
        .await
        .expect("open")
}

async fn vault(store: Arc<dyn Store>, mint_fresh: bool, grants: &[&str]) -> Vault {
    let db = TestDatabase::create().await;
    let mut admin = PgConnection::connect(db.url()).await.unwrap();
    sqlx::raw_sql("CREATE TABLE t (x int); INSERT INTO t VALUES (7)")
        .execute(&mut admin)
        .await
        .unwrap();
    let clock = Arc::new(ManualClock::default());
    let root = RootKey::generate().unwrap();
    let root_hex = root.to_hex();
    let signet = vault_with(store.clone(), root, clock.clone()).await;
    let (rec, _) = signet
        .operators()
        .create_operator("owner", true)
        .await
        .unwrap();
    let op = AuthedOperator::key(rec, Role::Owner, signet_testkit::LOCAL);
    let m = granted_machine(&signet, &op, "app", None).await;
    let c = signet
        .leases()
        .connections()
        .create(
            &op,
            m.project.as_str(),
            ConnectionInput {
                name: "main".to_owned(),
                host: "127.0.0.1".to_owned(),
                port: 5432,
                database: db.name().to_owned(),
                admin_user: "postgres".to_owned(),
                admin_password: Some(Zeroizing::new("unused-with-trust".to_owned())),
                tls_mode: "disable".to_owned(),
            },
        )
        .await
        .unwrap();
    let (secret, _) = signet
        .leases()
        .create(
            &op,
            m.project.as_str(),
            "DB",
            &settings(c.id.as_str(), mint_fresh, grants),
        )
        .await
        .unwrap();
    signet
        .machines()
        .set_grants(&op, &m.id, &[secret.id.to_string()], true)
        .await
        .unwrap();
    Vault {
        signet,
        clock,
        op,
        machine: m.id,
        seed: m.seed,
        leased: secret.id.to_string(),
        root: root_hex,
        store,
        db,
    }
}

impl Vault {
    async fn try_read(&self) -> Result<serde_json::Value, CoreError> {
        let mut parts = Vec::new();
        let path = format!("/v1/secret/{}", self.leased);
        let m = self
            .signet
            .auth()
            .authenticate_machine(&signed(
                &self.seed,
                &self.machine,
                &path,
                self.clock.now_ms(),
                &mut parts,
            ))
            .await
            .unwrap();
        let v = self.signet.reads().read_secret(&m, &self.leased).await?;
        Ok(serde_json::from_str(&v.0).unwrap())
    }

    async fn records(&self, action: &str) -> Vec<String> {
        let mut r: Vec<String> = self
            .signet
            .audit()
            .audit_list(
                &self.op,
                &AuditFilter {
                    action: Some(action.to_owned()),
                    limit: 1000,
                    ..AuditFilter::default()
                },
            )
            .await
            .unwrap()
            .into_iter()
            .map(|a| format!("{} {}", a.result, a.detail))
            .collect();
        r.reverse();
        r
    }

    /// Logs in with the credentials a read answered and reads `t`.
    async fn use_credentials(&self, v: &serde_json::Value) -> Result<i32, sqlx::Error> {
        let opts = sqlx::postgres::PgConnectOptions::new_without_pgpass()
            .host(v["host"].as_str().unwrap())
            .port(v["port"].as_str().unwrap().parse().unwrap())
            .database(v["database"].as_str().unwrap())
            .username(v["username"].as_str().unwrap())
            .password(v["password"].as_str().unwrap());
        let mut c = PgConnection::connect_with(&opts).await?;
        let (x,): (i32,) = sqlx::query_as("SELECT x FROM t").fetch_one(&mut c).await?;
        Ok(x)
    }

    async fn role_exists(&self, name: &str) -> bool {
        let mut admin = PgConnection::connect(self.db.url()).await.unwrap();
        let row: Option<(i32,)> = sqlx::query_as("SELECT 1 FROM pg_roles WHERE rolname = $1")
            .bind(name)
            .fetch_optional(&mut admin)
            .await
            .unwrap();
        row.is_some()
    }

    async fn leases(&self) -> Vec<signet_core::lease::LeaseView> {
        self.signet
            .leases()
            .list(&self.op, None, None)
            .await
            .unwrap()
    }
}

async fn a_read_mints_a_role_that_is_renewed_then_reaped(store: Arc<dyn Store>) {
    let v = vault(store, false, &["GRANT SELECT ON t TO {{name}}"]).await;
    let first = v.try_read().await.unwrap();
    let user = first["username"].as_str().unwrap().to_owned();
    assert!(user.starts_with("signet_"), "{first}");
    assert_eq!(first["password"].as_str().unwrap().len(), 32);
    assert_eq!(first["host"], "127.0.0.1");
    assert_eq!(first["port"], "5432");
    assert_eq!(first["database"], v.db.name());
    assert!(first["expiresAt"].as_str().unwrap().ends_with('Z'));
    assert_eq!(v.use_credentials(&first).await.unwrap(), 7);

    // The next read answers the same lease, renewed from now.
    v.clock.advance(30_000);
    let again = v.try_read().await.unwrap();
    assert_eq!(again["username"], first["username"]);
    assert_eq!(again["password"], first["password"]);
    let leases = v.leases().await;
    assert_eq!(leases.len(), 1);
    assert_eq!(leases[0].expires_ms, v.clock.now_ms() + 60_000);

    // An operator's renewal never passes the hard maximum (5 min from minting).
    let renewed = v
        .signet
        .leases()
        .renew(&v.op, leases[0].id.as_str(), Some(3600))
        .await
        .unwrap();
    assert_eq!(renewed.expires_ms, leases[0].max_expires_ms);

    // Not due yet: the reaper leaves it.
    assert_eq!(v.signet.leases().reap().await.unwrap().revoked, 0);
    v.clock.advance(300_000);
    assert_eq!(v.signet.leases().reap().await.unwrap().revoked, 1);
    assert_eq!(v.signet.leases().reap().await.unwrap().revoked, 0);
    assert_eq!(v.leases().await[0].state, LeaseState::Revoked);
    assert!(!v.role_exists(&user).await);
    assert!(
        v.use_credentials(&first).await.is_err(),
        "login after revocation"
    );
    let revokes = v.records("lease_revoke").await;
    assert_eq!(revokes.len(), 1);
    assert!(revokes[0].starts_with("ok reason=expired"), "{revokes:?}");
    assert_eq!(v.records("lease_create").await.len(), 1);
    assert_eq!(v.records("lease_renew").await.len(), 2);
    // The operator's view never carries a password.
    assert!(!format!("{:?}", v.leases().await).contains(first["password"].as_str().unwrap()));
    // The connection is free again once its secret is gone, not before.
    let deleted = v
        .signet
        .leases()
        .connections()
        .list(&v.op, leases[0].project_id.as_str())
        .await
        .unwrap();
    let err = v
        .signet
        .leases()
        .connections()
        .delete(&v.op, leases[0].project_id.as_str(), deleted[0].id.as_str())
        .await
        .unwrap_err();
    assert!(matches!(err, CoreError::Conflict(_)), "{err:?}");
}

async fn mint_fresh_leases_are_revoked_when_the_machine_is_disabled(store: Arc<dyn Store>) {
    let v = vault(store, true, &["GRANT SELECT ON t TO {{name}}"]).await;
    let a = v.try_read().await.unwrap();
    let b = v.try_read().await.unwrap();
    assert_ne!(a["username"], b["username"], "mint fresh on every read");
    assert_eq!(v.use_credentials(&a).await.unwrap(), 7);
    assert_eq!(v.use_credentials(&b).await.unwrap(), 7);
    v.signet
        .machines()
        .set_machine_enabled(&v.op, &v.machine, false)
        .await
        .unwrap();
    let leases = v.leases().await;
    assert!(
        leases.iter().all(|l| l.state == LeaseState::Revoked),
        "{leases:?}"
    );
    assert!(v.use_credentials(&a).await.is_err());
    assert!(v.use_credentials(&b).await.is_err());
    let revokes = v.records("lease_revoke").await;
    assert_eq!(revokes.len(), 2);
    assert!(
        revokes
            .iter()
            .all(|r| r.starts_with("ok reason=machine_disabled"))
    );
}

async fn a_failed_mint_is_unavailable_and_leaves_no_role(store: Arc<dyn Store>) {
    // The second statement fails: the role the first made is rolled back with it.
    let v = vault(
        store,
        false,
        &[
            "GRANT SELECT ON t TO {{name}}",
            "GRANT SELECT ON no_such_table TO {{name}}",
        ],
    )
    .await;
    // A moment no other test mints at, so the role this mint would have left (its VALID UNTIL
    // is that moment plus the lifetime) can be looked for in the shared cluster.
    let mut raw = [0u8; 4];
    getrandom::fill(&mut raw).unwrap();
    v.clock
        .advance(i64::from(u32::from_le_bytes(raw) % 3_600_000));
    let until = v.clock.now_ms() + 60_000;
    let err = v.try_read().await.unwrap_err();
    assert!(matches!(err, CoreError::Unavailable), "{err:?}");
    assert!(v.leases().await.is_empty());
    let mut admin = PgConnection::connect(v.db.url()).await.unwrap();
    let (n,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM pg_roles
         WHERE (extract(epoch FROM rolvaliduntil) * 1000)::bigint = $1",
    )
    .bind(until)
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert_eq!(n, 0, "no role is left behind");
    let failed = v.records("lease_create").await;
    assert_eq!(failed, ["failed class=statement"]);

    // A database that is down: the same 503, the same nothing.
    let project = v.signet.leases().settings(&v.op, &v.leased).await.unwrap();
    let conns = v
        .signet
        .leases()
        .connections()
        .list(
            &v.op,
            v.signet
                .secrets()
                .secret_view(&v.op, &v.leased)
                .await
                .unwrap()
                .project_id
                .as_str(),
        )
        .await
        .unwrap();
    assert_eq!(conns[0].id, project.connection_id);
    let pid = conns[0].project_id.to_string();
    let moved = |password: Option<&str>| ConnectionInput {
        name: "main".to_owned(),
        host: "127.0.0.1".to_owned(),
        port: 1,
        database: v.db.name().to_owned(),
        admin_user: "postgres".to_owned(),
        admin_password: password.map(|p| Zeroizing::new(p.to_owned())),
        tls_mode: "disable".to_owned(),
    };
    // The stored password never follows the connection to another server unasked.
    let err = v
        .signet
        .leases()
        .connections()
        .update(&v.op, &pid, conns[0].id.as_str(), moved(None))
        .await
        .unwrap_err();
    assert!(matches!(err, CoreError::BadRequest(_)), "{err:?}");
    v.signet
        .leases()
        .connections()
        .update(&v.op, &pid, conns[0].id.as_str(), moved(Some("again")))
        .await
        .unwrap();
    let err = v.try_read().await.unwrap_err();
    assert!(matches!(err, CoreError::Unavailable), "{err:?}");
    assert!(v.leases().await.is_empty());
    assert_eq!(
        v.signet
            .leases()
            .connections()
            .test(&v.op, &pid, conns[0].id.as_str())
            .await
            .unwrap(),
        Some("unreachable")
    );
}

/// A leased secret moved to another connection: a machine's active lease belongs to the old
/// database, so the next read mints on the new one instead of answering the old role with the
/// new connection's host and database.
async fn a_read_after_the_connection_changed_mints_on_the_new_one(store: Arc<dyn Store>) {
    let v = vault(store, false, &["GRANT SELECT ON t TO {{name}}"]).await;
    let first = v.try_read().await.unwrap();
    assert_eq!(v.use_credentials(&first).await.unwrap(), 7);
    let db2 = TestDatabase::create().await;
    let mut admin = PgConnection::connect(db2.url()).await.unwrap();
    sqlx::raw_sql("CREATE TABLE t (x int); INSERT INTO t VALUES (8)")
        .execute(&mut admin)
        .await
        .unwrap();
    let pid = v
        .signet
        .secrets()
        .secret_view(&v.op, &v.leased)
        .await
        .unwrap()
        .project_id
        .to_string();
    let c = v
        .signet
        .leases()
        .connections()
        .create(
            &v.op,
            &pid,
            ConnectionInput {
                name: "second".to_owned(),
                host: "127.0.0.1".to_owned(),
                port: 5432,
                database: db2.name().to_owned(),
                admin_user: "postgres".to_owned(),
                admin_password: Some(Zeroizing::new("unused-with-trust".to_owned())),
                tls_mode: "disable".to_owned(),
            },
        )
        .await
        .unwrap();
    v.signet
        .leases()
        .set(
            &v.op,
            &v.leased,
            &settings(c.id.as_str(), false, &["GRANT SELECT ON t TO {{name}}"]),
        )
        .await
        .unwrap();
    v.clock.advance(1000);
    let second = v.try_read().await.unwrap();
    assert_eq!(second["database"], db2.name());
    assert_ne!(second["username"], first["username"]);
    assert_eq!(v.use_credentials(&second).await.unwrap(), 8);
    // And the new lease is the one read from now on.
    assert_eq!(v.try_read().await.unwrap()["username"], second["username"]);
    // Both roles are dropped when they fall due (roles are cluster-wide: none is left behind).
    v.clock.advance(301_000);
    assert_eq!(v.signet.leases().reap().await.unwrap().revoked, 2);
}

/// An agent (SikkerKey's CLI) puts host, database and admin user into a libpq `key=value`
/// string unquoted, where a later key wins: a database named `db host=evil.example` would send
/// the stored admin password elsewhere, without the password being typed again.
async fn connection_fields_cannot_carry_connection_string_keys(store: Arc<dyn Store>) {
    let v = vault(store, false, &["GRANT SELECT ON t TO {{name}}"]).await;
    let project = v.signet.leases().settings(&v.op, &v.leased).await.unwrap();
    let pid = v
        .signet
        .secrets()
        .secret_view(&v.op, &v.leased)
        .await
        .unwrap()
        .project_id
        .to_string();
    let input = |host: &str, database: &str, user: &str, password: Option<&str>| ConnectionInput {
        name: "other".to_owned(),
        host: host.to_owned(),
        port: 5432,
        database: database.to_owned(),
        admin_user: user.to_owned(),
        admin_password: password.map(|p| Zeroizing::new(p.to_owned())),
        tls_mode: "disable".to_owned(),
    };
    let db = v.db.name().to_owned();
    let redirect = format!("{db} host=evil.example");
    for (host, database, user) in [
        ("127.0.0.1", redirect.as_str(), "postgres"),
        ("127.0.0.1", "a=b", "postgres"),
        ("127.0.0.1", "it's", "postgres"),
        ("127.0.0.1", r"back\slash", "postgres"),
        ("127.0.0.1 host=evil.example", db.as_str(), "postgres"),
        ("127.0.0.1", db.as_str(), "postgres password=x"),
    ] {
        let err = v
            .signet
            .leases()
            .connections()
            .update(
                &v.op,
                &pid,
                project.connection_id.as_str(),
                input(host, database, user, None),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, CoreError::BadRequest(_)),
            "{database:?}: {err:?}"
        );
        let err = v
            .signet
            .leases()
            .connections()
            .create(&v.op, &pid, input(host, database, user, Some("pw")))
            .await
            .unwrap_err();
        assert!(matches!(err, CoreError::BadRequest(_)), "{host:?}: {err:?}");
    }
    // The stored connection is unchanged: a read still mints against the real database.
    assert_eq!(v.try_read().await.unwrap()["database"], db.as_str());
    v.clock.advance(301_000);
    assert_eq!(v.signet.leases().reap().await.unwrap().revoked, 1);
}

async fn a_lease_due_while_down_is_revoked_at_start(store: Arc<dyn Store>) {
    let v = vault(store, false, &["GRANT SELECT ON t TO {{name}}"]).await;
    let creds = v.try_read().await.unwrap();
    assert_eq!(v.use_credentials(&creds).await.unwrap(), 7);
    // The process stops; time passes beyond the lease; another process starts on the same
    // store and key, and its first tick finds the lease.
    let Vault {
        signet,
        clock,
        root,
        store,
        op,
        db,
        ..
    } = v;
    drop(signet);
    clock.advance(10 * 60_000);
    let restarted = vault_with(store, RootKey::from_hex(&root).unwrap(), clock.clone()).await;
    assert_eq!(restarted.leases().reap().await.unwrap().revoked, 1);
    let leases = restarted.leases().list(&op, None, None).await.unwrap();
    assert_eq!(leases[0].state, LeaseState::Revoked);
    let mut admin = PgConnection::connect(db.url()).await.unwrap();
    let gone: Option<(i32,)> = sqlx::query_as("SELECT 1 FROM pg_roles WHERE rolname = $1")
        .bind(creds["username"].as_str().unwrap())
        .fetch_optional(&mut admin)
        .await
        .unwrap();
    assert!(gone.is_none());
}

/// Two replicas over one store reap together: every lease is revoked, and recorded, once.
async fn replicas_reap_each_lease_once(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    let v = vault(a, true, &["GRANT SELECT ON t TO {{name}}"]).await;
    let mut users = Vec::new();
    for _ in 0..6 {
        users.push(v.try_read().await.unwrap());
    }
    let replica = vault_with(b, RootKey::from_hex(&v.root).unwrap(), v.clock.clone()).await;
    v.clock.advance(61_000);
    // Both reap at once, tick after tick. A tick may fail part way (two SQLite handles on one
    // file can find the file busy): that lease's claim lapses and a later tick finishes it.
    let mut revoked = 0;
    for _ in 0..5 {
        let (x, y) = tokio::join!(v.signet.leases().reap(), replica.leases().reap());
        let (x, y) = (x.unwrap(), y.unwrap());
        revoked += x.revoked + y.revoked;
        if x.failed + y.failed == 0 && revoked == 6 {
            break;
        }
        v.clock.advance(signet_core::lease::CLAIM_MS + 1);
    }
    assert_eq!(revoked, 6, "each lease revoked once");
    assert_eq!(v.records("lease_revoke").await.len(), 6);
    assert!(
        v.leases()
            .await
            .iter()
            .all(|l| l.state == LeaseState::Revoked)
    );
    for u in &users {
        assert!(v.use_credentials(u).await.is_err());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_replicas_reap_each_lease_once() {
    let db = TestDatabase::create().await;
    let a: Arc<dyn Store> = Arc::new(db.store().await);
    let b: Arc<dyn Store> = Arc::new(db.store().await);
    replicas_reap_each_lease_once(a, b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_handles_on_one_file_reap_each_lease_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("signet.db");
    let a: Arc<dyn Store> = Arc::new(signet_store_sqlite::SqliteStore::open(&path).unwrap());
    let b: Arc<dyn Store> = Arc::new(signet_store_sqlite::SqliteStore::open(&path).unwrap());
    replicas_reap_each_lease_once(a, b).await;
}

/// Racing first reads by one machine of a secret that is not mint-fresh share one lease: each
/// mints a role, the store keeps one reusable lease per machine and secret, and every loser
/// drops its role and answers the winner's credentials.
async fn racing_first_reads_share_one_lease(store: Arc<dyn Store>) {
    let v = vault(store, false, &["GRANT SELECT ON t TO {{name}}"]).await;
    let (a, b, c, d) = tokio::join!(v.try_read(), v.try_read(), v.try_read(), v.try_read());
    let answers = [a.unwrap(), b.unwrap(), c.unwrap(), d.unwrap()];
    for other in &answers[1..] {
        assert_eq!(other["username"], answers[0]["username"]);
        assert_eq!(other["password"], answers[0]["password"]);
    }
    assert_eq!(v.use_credentials(&answers[0]).await.unwrap(), 7);
    let leases = v.leases().await;
    assert_eq!(leases.len(), 1, "{leases:?}");
    assert_eq!(v.records("lease_create").await.len(), 1);
    assert_eq!(v.records("secret_read").await.len(), 4);
    // The losers' roles are gone: the winner's is the only one holding a grant on `t`.
    let mut admin = PgConnection::connect(v.db.url()).await.unwrap();
    let grantees: Vec<(String,)> = sqlx::query_as(
        "SELECT DISTINCT a.grantee::regrole::text FROM pg_class c, aclexplode(c.relacl) a
         WHERE c.relname = 't' AND a.grantee <> c.relowner",
    )
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert_eq!(grantees, [(leases[0].role_name.clone(),)]);
}

signet_testkit::on_both_backends!(
    a_read_mints_a_role_that_is_renewed_then_reaped,
    mint_fresh_leases_are_revoked_when_the_machine_is_disabled,
    a_failed_mint_is_unavailable_and_leaves_no_role,
    a_lease_due_while_down_is_revoked_at_start,
    racing_first_reads_share_one_lease,
    connection_fields_cannot_carry_connection_string_keys,
    a_read_after_the_connection_changed_mints_on_the_new_one,
);
