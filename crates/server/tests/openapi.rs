//! The served document, and the router and the document agreeing: every operation the document
//! declares is routed with its method, every method the router answers on a documented path is
//! declared, and every route path `signet_api::route` names is documented.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly by design.

use std::collections::BTreeSet;
use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use signet_core::SignetConfig;
use signet_server::config::RootKeySource;
use signet_server::extract::Peer;
use signet_server::{AppState, install, router};
use tower::ServiceExt;

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

async fn app() -> (axum::Router, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tmp");
    let signet = install::open(
        &dir.path().join("data"),
        &install::DatabaseUrl::Sqlite(dir.path().join("data").join(install::DB_FILE)),
        &RootKeySource::DataDir,
        SignetConfig::default(),
    )
    .await
    .expect("open");
    let state = AppState::new(signet, Vec::new());
    let peer = Peer(SocketAddr::from(([127, 0, 0, 1], 40000)));
    (router(state).layer(MockConnectInfo(peer)), dir)
}

/// Every route path `signet_api::route` names, read from its source so that a constant added
/// there is checked without another list to keep.
fn route_constants() -> BTreeSet<String> {
    include_str!("../../api/src/route.rs")
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub const "))
        .filter_map(|l| l.split_once("= \"").map(|(_, rest)| rest))
        .filter_map(|rest| rest.split_once('"').map(|(path, _)| path.to_owned()))
        .collect()
}

/// A concrete URI for a templated path: every `{param}` becomes a placeholder segment.
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|seg| if seg.starts_with('{') { "x" } else { seg })
        .collect::<Vec<_>>()
        .join("/")
}

/// Whether the router has a handler for `method` on `path`: anything but the router's own 404
/// (no such route) or 405 (method not routed) means a handler ran.
async fn routed(app: &axum::Router, method: &str, path: &str) -> bool {
    let req = Request::builder()
        .method(method)
        .uri(concrete(path))
        .body(Body::empty())
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let router_refusal = (status == StatusCode::NOT_FOUND && v["code"] == "not_found")
        || status == StatusCode::METHOD_NOT_ALLOWED;
    !router_refusal
}

fn documented() -> BTreeSet<(String, String)> {
    let doc: serde_json::Value =
        serde_json::from_str(&signet_api::openapi::document_json()).unwrap();
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            out.insert((path.clone(), method.to_uppercase()));
        }
    }
    out
}

#[tokio::test]
async fn router_and_document_agree() {
    let (app, _dir) = app().await;
    let declared = documented();
    let constants = route_constants();
    for (path, method) in &declared {
        assert!(
            constants.contains(path),
            "{method} {path} is documented but is not a signet_api::route constant"
        );
        assert!(
            routed(&app, method, path).await,
            "{method} {path} is documented but not routed"
        );
    }
    let documented_paths: BTreeSet<&String> = declared.iter().map(|(p, _)| p).collect();
    for path in documented_paths {
        for method in METHODS {
            if routed(&app, method, path).await {
                assert!(
                    declared.contains(&(path.clone(), method.to_owned())),
                    "{method} {path} is routed but not in the document"
                );
            }
        }
    }
}

#[test]
fn every_route_constant_is_documented() {
    let documented: BTreeSet<String> = documented().into_iter().map(|(p, _)| p).collect();
    let missing: Vec<String> = route_constants()
        .into_iter()
        .filter(|p| !documented.contains(p))
        .collect();
    assert!(
        missing.is_empty(),
        "route constants missing from the document: {missing:?}"
    );
}

#[tokio::test]
async fn the_document_is_served_as_generated() {
    let (app, _dir) = app().await;
    let resp = app
        .clone()
        .oneshot(
            Request::get("/v1/openapi.json")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers().get("content-type").unwrap(),
        "application/json"
    );
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(
        std::str::from_utf8(&body).unwrap(),
        signet_api::openapi::document_json()
    );
}
