//! `signet-database` against the real local PostgreSQL: a fresh database per test, and role
//! names prefixed per test (roles are cluster-wide), each dropped at the end.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use signet_database::{
    DatabaseError, RoleName, Target, Tls, check_login, create_role, drop_role, ping, role_exists,
    set_password, set_valid_until,
};
use signet_store_postgres::testing::TestDatabase;
use sqlx::{Connection, PgConnection};
use zeroize::Zeroizing;

const FAR: i64 = 4_102_444_800_000; // 2100-01-01

/// The test server's admin (trust authentication on 127.0.0.1) in database `db`.
fn admin(db: &TestDatabase) -> Target {
    Target {
        host: "127.0.0.1".to_owned(),
        port: 5432,
        database: db.name().to_owned(),
        user: "postgres".to_owned(),
        password: Zeroizing::new(String::new()),
        tls: Tls::Disable,
    }
}

/// A role name unique to this test run.
fn role(tag: &str) -> RoleName {
    let mut raw = [0u8; 4];
    getrandom::fill(&mut raw).unwrap();
    let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    RoleName::parse(&format!("signet_dbt_{hex}_{tag}")).unwrap()
}

async fn admin_conn(db: &TestDatabase) -> PgConnection {
    PgConnection::connect(db.url()).await.unwrap()
}

#[tokio::test]
async fn a_created_role_logs_in_uses_its_grants_and_is_dropped() {
    let db = TestDatabase::create().await;
    let admin = admin(&db);
    let mut conn = admin_conn(&db).await;
    sqlx::raw_sql("CREATE TABLE t (x int); INSERT INTO t VALUES (42); CREATE TABLE secret (y int)")
        .execute(&mut conn)
        .await
        .unwrap();
    let r = role("use");
    create_role(
        &admin,
        &r,
        "pa'ss\"word;--",
        FAR,
        &["GRANT SELECT ON t TO {{name}}".to_owned()],
    )
    .await
    .unwrap();
    assert!(role_exists(&admin, &r).await.unwrap());
    let as_role = admin.as_role(r.as_str(), "pa'ss\"word;--");
    check_login(&as_role).await.unwrap();
    let url = format!("postgres://{}@127.0.0.1:5432/{}", r, db.name());
    let mut user = PgConnection::connect(&url).await.unwrap();
    let (x,): (i32,) = sqlx::query_as("SELECT x FROM t")
        .fetch_one(&mut user)
        .await
        .unwrap();
    assert_eq!(x, 42);
    assert!(
        sqlx::query("SELECT y FROM secret")
            .fetch_all(&mut user)
            .await
            .is_err(),
        "only what the grant gave"
    );
    // VALID UNTIL is set and moves.
    let (until,): (Option<i64>,) = sqlx::query_as(
        "SELECT (extract(epoch FROM rolvaliduntil) * 1000)::bigint FROM pg_roles WHERE rolname = $1",
    )
    .bind(r.as_str())
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(until, Some(FAR));
    set_valid_until(&admin, &r, FAR + 60_000).await.unwrap();
    set_password(&admin, &r, "another'one").await.unwrap();

    // Dropping ends the open session and the role; a second drop is no error.
    drop_role(&admin, &r).await.unwrap();
    assert!(!role_exists(&admin, &r).await.unwrap());
    assert!(sqlx::query("SELECT 1").fetch_one(&mut user).await.is_err());
    assert_eq!(
        check_login(&as_role).await,
        Err(DatabaseError::Authentication)
    );
    drop_role(&admin, &r).await.unwrap();
}

#[tokio::test]
async fn a_failing_grant_leaves_no_role() {
    let db = TestDatabase::create().await;
    let admin = admin(&db);
    let r = role("bad");
    let err = create_role(
        &admin,
        &r,
        "pw",
        FAR,
        &[
            "GRANT CONNECT ON DATABASE postgres TO {{name}}".to_owned(),
            "GRANT SELECT ON no_such_table TO {{name}}".to_owned(),
        ],
    )
    .await
    .unwrap_err();
    assert_eq!(err, DatabaseError::Statement);
    assert!(!role_exists(&admin, &r).await.unwrap());
    let err = create_role(&admin, &r, "pw", FAR, &["NOT SQL AT ALL".to_owned()])
        .await
        .unwrap_err();
    assert_eq!(err, DatabaseError::Statement);
    assert!(!role_exists(&admin, &r).await.unwrap());
}

#[tokio::test]
async fn names_and_values_cannot_inject() {
    for bad in [
        "",
        "Upper",
        "1starts_with_digit",
        "has space",
        "quote\"",
        "semi;colon",
        "dash-ed",
        &"a".repeat(64),
    ] {
        assert_eq!(RoleName::parse(bad), None, "{bad:?}");
    }
    let db = TestDatabase::create().await;
    let admin = admin(&db);
    let mut conn = admin_conn(&db).await;
    sqlx::raw_sql("CREATE TABLE canary (x int)")
        .execute(&mut conn)
        .await
        .unwrap();
    let r = role("inj");
    // A password that would end a literal and run a statement is only ever a value.
    let evil = "x' ; DROP TABLE canary; --";
    create_role(&admin, &r, evil, FAR, &[]).await.unwrap();
    check_login(&admin.as_role(r.as_str(), evil)).await.unwrap();
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM pg_tables WHERE tablename = 'canary'")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(n, 1, "the table is still there");
    // The role may do nothing beyond logging in.
    let (superuser, createrole): (bool, bool) =
        sqlx::query_as("SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname = $1")
            .bind(r.as_str())
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert!(!superuser && !createrole);
    drop_role(&admin, &r).await.unwrap();
}

#[tokio::test]
async fn an_unreachable_server_is_a_class_not_a_hang() {
    let db = TestDatabase::create().await;
    let down = Target {
        port: 1,
        ..admin(&db)
    };
    assert_eq!(ping(&down).await, Err(DatabaseError::Unreachable));
    ping(&admin(&db)).await.unwrap();
    let err = create_role(&down, &role("down"), "pw", FAR, &[])
        .await
        .unwrap_err();
    assert_eq!(err, DatabaseError::Unreachable);
    // Debug never shows the password.
    let t = admin(&db).as_role("someone", "hunter2");
    assert!(!format!("{t:?}").contains("hunter2"));
}
