//! The benchmark's ceiling mode (`bench_ceiling`, BENCHMARKS.md): off unless asked for, and even
//! then a secret read answers only a request whose signature verifies.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly by design.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{Request, StatusCode};
use signet_core::SignetConfig;
use signet_proto::{
    CanonicalPath, HEADER_MACHINE_ID, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP, Method,
    Nonce, SecretSeed, SignedHeaders, Timestamp,
};
use signet_server::config::FileConfig;
use signet_server::extract::Peer;
use signet_server::{AppState, router};
use signet_store::AuditFilter;
use signet_testkit::app::{PEER, TestApp, call};
use signet_testkit::signing::LOCAL;
use signet_testkit::world::granted_machine;

/// A signed `GET path` for machine `id`, signed by `seed` at the server's clock.
fn signed_get(seed: &SecretSeed, id: &str, path: &str, now_secs: i64) -> Request<Body> {
    let h = SignedHeaders::sign(
        seed,
        &Method::parse("GET").unwrap(),
        &CanonicalPath::parse(path).unwrap(),
        b"",
        Timestamp::from_secs(now_secs),
        &Nonce::generate(),
    );
    Request::get(path)
        .header(HEADER_MACHINE_ID, id)
        .header(HEADER_TIMESTAMP, h.timestamp)
        .header(HEADER_NONCE, h.nonce)
        .header(HEADER_SIGNATURE, h.signature)
        .body(Body::empty())
        .unwrap()
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .try_into()
        .unwrap()
}

async fn read_records(app: &TestApp, op: &signet_core::auth::AuthedOperator) -> usize {
    app.signet
        .audit()
        .audit_list(
            op,
            &AuditFilter {
                action: Some("secret_read".into()),
                limit: 100,
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .len()
}

async fn owner(app: &TestApp) -> signet_core::auth::AuthedOperator {
    let (rec, _) = app
        .signet
        .operators()
        .create_operator("owner", true)
        .await
        .unwrap();
    signet_core::auth::AuthedOperator::key(rec, signet_store::Role::Owner, LOCAL)
}

fn ceiling_router(app: &TestApp) -> Router {
    router(AppState::new(app.signet.clone(), Vec::new()).with_bench_ceiling())
        .layer(MockConnectInfo(Peer(SocketAddr::from(PEER))))
}

#[test]
fn the_ceiling_is_off_unless_set_and_never_off_loopback() {
    assert!(!FileConfig::default().resolve().unwrap().bench_ceiling);
    let on = FileConfig {
        bench_ceiling: Some(true),
        ..Default::default()
    };
    assert!(on.resolve().unwrap().bench_ceiling);
    let exposed = FileConfig {
        bench_ceiling: Some(true),
        listen: Some("0.0.0.0:8420".parse().unwrap()),
        insecure_http: Some(true),
        ..Default::default()
    };
    assert!(exposed.resolve().is_err());
}

#[tokio::test]
async fn the_default_router_reads_for_real_and_the_ceiling_answers_only_good_signatures() {
    let app = TestApp::sqlite(SignetConfig::default()).await;
    let op = owner(&app).await;
    let m = granted_machine(&app.signet, &op, "bench", None).await;

    // The default router (as `signet server` builds it without the setting): the real value,
    // audited.
    let (status, body, _) = app
        .call(signed_get(&m.seed, &m.id, &m.path, now_secs()))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["value"], "v");
    assert_eq!(read_records(&app, &op).await, 1);

    let ceiling = ceiling_router(&app);
    let (status, body, _) = call(&ceiling, signed_get(&m.seed, &m.id, &m.path, now_secs())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let constant = body["value"].as_str().unwrap();
    assert_ne!(constant, "v", "the ceiling never reads the secret");
    assert_eq!(constant.len(), 64, "as long as the benchmark's value");
    assert_eq!(read_records(&app, &op).await, 1, "and never audits");

    // What the real path refuses with its uniform 401, the ceiling refuses the same way.
    let (_, uniform, _) = app
        .call(Request::get(&m.path).body(Body::empty()).unwrap())
        .await;
    let stranger = SecretSeed::generate();
    for (why, req) in [
        (
            "signed by another key",
            signed_get(&stranger, &m.id, &m.path, now_secs()),
        ),
        (
            "outside the clock window",
            signed_get(&m.seed, &m.id, &m.path, now_secs() - 3600),
        ),
        ("signed for another path", {
            let mut r = signed_get(&m.seed, &m.id, &m.path, now_secs());
            *r.uri_mut() = "/v1/secret/sk_AAAAAAAAAA".parse().unwrap();
            r
        }),
        (
            "an unknown machine",
            signed_get(
                &m.seed,
                "7d444840-9dc0-11d1-b245-5ffdce74fad2",
                &m.path,
                now_secs(),
            ),
        ),
        (
            "unsigned",
            Request::get(&m.path).body(Body::empty()).unwrap(),
        ),
    ] {
        let (status, body, _) = call(&ceiling, req).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{why}");
        assert_eq!(body, uniform, "{why}");
    }
}
