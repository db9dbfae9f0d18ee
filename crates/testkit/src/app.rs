//! The HTTP router in-process (feature `server`): a fresh install on SQLite in a temporary folder,
//! exactly as `signet server` composes it, driven request by request with `oneshot` from a fixed
//! loopback peer. Nothing listens; nothing is mocked below the router.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use signet_core::{Signet, SignetConfig};
use signet_server::config::RootKeySource;
use signet_server::extract::Peer;
use signet_server::{AppState, install, router};
use tower::ServiceExt;

/// The peer every in-process request comes from.
pub const PEER: ([u8; 4], u16) = ([127, 0, 0, 1], 40000);

/// A router over its own data folder.
pub struct TestApp {
    /// The router, answering as if from 127.0.0.1:40000.
    pub router: Router,
    /// The service behind it, for arranging what HTTP cannot (an owner with a passkey, say).
    pub signet: Arc<Signet>,
    /// Keeps the data folder (database and root key file) alive.
    pub dir: tempfile::TempDir,
}

impl TestApp {
    /// A fresh install with `config`: `install::open` on `<tmp>/data`, root key in the folder.
    pub async fn sqlite(config: SignetConfig) -> Self {
        let dir = tempfile::tempdir().expect("temporary folder");
        let data = dir.path().join("data");
        let signet = install::open(
            &data,
            &install::DatabaseUrl::Sqlite(data.join(install::DB_FILE)),
            &RootKeySource::DataDir,
            config,
        )
        .await
        .expect("open install");
        let router = router(AppState::new(signet.clone(), Vec::new()))
            .layer(MockConnectInfo(Peer(SocketAddr::from(PEER))));
        Self {
            router,
            signet,
            dir,
        }
    }

    /// [`call`] on this app's router.
    pub async fn call(&self, req: Request<Body>) -> (StatusCode, Value, HeaderMap) {
        call(&self.router, req).await
    }
}

/// Sends one request; the answer's status, its body as JSON (`Null` when it is not JSON) and its
/// headers.
pub async fn call(router: &Router, req: Request<Body>) -> (StatusCode, Value, HeaderMap) {
    let resp = router.clone().oneshot(req).await.expect("infallible");
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        headers,
    )
}
