//! The SDK against a tiny in-test HTTP server that records what it receives: signing, headers,
//! bodies, retries, error mapping, enrollment and the low-level request builder.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use signet_client::{
    ClientError, ClientOptions, Credentials, HttpErrorKind, Identity, MachineClient, MachineId,
    OperatorClient, OperatorId, OperatorIdentity, ProjectId, SecretChange, SecretContent, SecretId,
    SecretSeed, SecretValue, SignetHome, VaultId, enroll,
};
use signet_proto::request::verify_request;
use signet_proto::{CanonicalPath, Method, Nonce, PublicKey, SignatureB64, Timestamp};

#[derive(Debug, Clone)]
struct Seen {
    method: String,
    target: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

type Responder = dyn Fn(&Seen) -> (u16, String) + Send + Sync;

#[derive(Clone)]
struct Server {
    seen: Arc<Mutex<Vec<Seen>>>,
    replies: Arc<Mutex<VecDeque<(u16, String)>>>,
    responder: Option<Arc<Responder>>,
}

impl Server {
    fn new(replies: Vec<(u16, &str)>) -> Self {
        Self {
            seen: Arc::default(),
            replies: Arc::new(Mutex::new(
                replies
                    .into_iter()
                    .map(|(s, b)| (s, b.to_owned()))
                    .collect(),
            )),
            responder: None,
        }
    }

    fn with_responder(f: impl Fn(&Seen) -> (u16, String) + Send + Sync + 'static) -> Self {
        Self {
            responder: Some(Arc::new(f)),
            ..Self::new(vec![])
        }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    async fn spawn(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let app = axum::Router::new()
            .fallback(record)
            .with_state(self.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://127.0.0.1:{port}")
    }
}

async fn record(State(server): State<Server>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap()
        .to_vec();
    let seen = Seen {
        method: parts.method.to_string(),
        target: parts.uri.to_string(),
        headers: parts.headers,
        body,
    };
    let (status, reply) = match &server.responder {
        Some(f) => f(&seen),
        None => server
            .replies
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or((200, "{}".to_owned())),
    };
    server.seen.lock().unwrap().push(seen);
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap())
        .header("content-type", "application/json")
        .body(Body::from(reply))
        .unwrap()
        .into_response()
}

fn fast() -> ClientOptions {
    ClientOptions {
        timeout: Duration::from_secs(5),
        retries: 3,
        first_pause: Duration::from_millis(10),
    }
}

fn machine(url: &str, seed: [u8; 32]) -> MachineClient {
    let id = Identity {
        machine_id: MachineId::generate(),
        machine_name: "web-1".into(),
        vault_id: VaultId::generate(),
        api_url: url.into(),
        private_key_path: "/nonexistent/private.pem".into(),
    };
    MachineClient::with_options(
        Credentials::new(
            id,
            SecretSeed::from_bytes(seed),
            "/nonexistent/identity.json".into(),
        ),
        fast(),
    )
    .unwrap()
}

/// Checks the four headers and the signature over what actually arrived.
fn assert_signed_by(seen: &Seen, principal_header: &str, principal: &str, seed: [u8; 32]) {
    assert_eq!(seen.header(principal_header), Some(principal));
    let ts = Timestamp::parse(seen.header("x-timestamp").unwrap()).unwrap();
    assert!((ts.secs() - signet_client::unix_now()).abs() <= 5);
    let nonce = Nonce::parse(seen.header("x-nonce").unwrap()).unwrap();
    assert_eq!(nonce.as_str().len(), 24);
    let sig = SignatureB64::parse(seen.header("x-signature").unwrap()).unwrap();
    let pk = SecretSeed::from_bytes(seed).public_key();
    let method = Method::parse(&seen.method).unwrap();
    let path = CanonicalPath::parse(&seen.target).unwrap();
    verify_request(&pk, &method, &path, &seen.body, ts, &nonce, &sig).unwrap();
}

#[tokio::test]
async fn get_secret_is_signed_over_exactly_what_is_sent() {
    let server = Server::new(vec![(200, r#"{"value":"hunter2"}"#)]);
    let client = machine(&server.spawn().await, [1; 32]);
    let id = SecretId::parse("sk_a1b2c3d4e5").unwrap();
    let value = client.get_secret(&id).await.unwrap();
    assert_eq!(value.expose(), "hunter2");
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        (seen[0].method.as_str(), seen[0].target.as_str()),
        ("GET", "/v1/secret/sk_a1b2c3d4e5")
    );
    assert_signed_by(
        &seen[0],
        "x-machine-id",
        &client.identity().machine_id.to_string(),
        [1; 32],
    );
    assert!(seen[0].header("content-type").is_none());
    assert!(seen[0].body.is_empty());
}

#[tokio::test]
async fn export_without_a_project_sends_an_empty_body_without_content_type() {
    let reply = r#"{"secrets":[{"id":"sk_a1b2c3d4e5","name":"db","value":"{\"user\":\"u\"}","fieldNames":"user"}]}"#;
    let server = Server::new(vec![(200, reply), (200, r#"{"secrets":[]}"#)]);
    let client = machine(&server.spawn().await, [2; 32]);
    let secrets = client.export(None).await.unwrap();
    assert_eq!(secrets.len(), 1);
    assert_eq!(secrets[0].fields().unwrap()["user"].expose(), "u");
    let project = ProjectId::parse("proj_0123456789").unwrap();
    assert!(client.export(Some(&project)).await.unwrap().is_empty());

    let seen = server.seen();
    assert_eq!(seen[0].method, "POST");
    assert!(seen[0].body.is_empty());
    assert_eq!(seen[0].header("content-length"), Some("0"));
    assert_eq!(seen[0].headers.get_all("content-length").iter().count(), 1);
    assert!(seen[0].header("content-type").is_none());
    assert_signed_by(
        &seen[0],
        "x-machine-id",
        &client.identity().machine_id.to_string(),
        [2; 32],
    );
    assert_eq!(seen[1].body, br#"{"projectId":"proj_0123456789"}"#);
    assert_eq!(seen[1].header("content-type"), Some("application/json"));
    assert_signed_by(
        &seen[1],
        "x-machine-id",
        &client.identity().machine_id.to_string(),
        [2; 32],
    );
}

#[tokio::test]
async fn retries_429_and_503_re_signing_each_attempt() {
    let server = Server::new(vec![
        (503, r#"{"error":"down","code":"unavailable"}"#),
        (429, ""),
        (200, r#"{"secrets":[]}"#),
    ]);
    let client = machine(&server.spawn().await, [3; 32]);
    assert!(client.list_secrets().await.unwrap().is_empty());
    let seen = server.seen();
    assert_eq!(seen.len(), 3);
    let nonces: std::collections::HashSet<_> = seen
        .iter()
        .map(|s| s.header("x-nonce").unwrap().to_owned())
        .collect();
    assert_eq!(nonces.len(), 3, "every attempt has a fresh nonce");
    for s in &seen {
        assert_signed_by(
            s,
            "x-machine-id",
            &client.identity().machine_id.to_string(),
            [3; 32],
        );
    }
}

#[tokio::test]
async fn gives_up_after_three_retries_and_never_retries_other_errors() {
    let server = Server::new(vec![
        (503, r#"{"error":"store down","code":"unavailable"}"#);
        5
    ]);
    let client = machine(&server.spawn().await, [4; 32]);
    let err = client.whoami().await.unwrap_err();
    assert_eq!(err.http_kind(), Some(HttpErrorKind::Unavailable));
    assert_eq!(err.to_string(), "store down");
    assert_eq!(server.seen().len(), 4);

    let server = Server::new(vec![(
        403,
        r#"{"error":"access denied","code":"forbidden"}"#,
    )]);
    let client = machine(&server.spawn().await, [4; 32]);
    let err = client
        .get_secret(&SecretId::parse("sk_a1b2c3d4e5").unwrap())
        .await
        .unwrap_err();
    match &err {
        ClientError::Http {
            status: 403,
            kind: HttpErrorKind::Forbidden,
            code: Some(code),
            message,
            ..
        } => {
            assert_eq!(
                (code.as_str(), message.as_str()),
                ("forbidden", "access denied")
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(server.seen().len(), 1);
}

#[tokio::test]
async fn network_failures_are_retried_then_reported() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let client = machine(&format!("http://127.0.0.1:{port}"), [5; 32]);
    let err = client.list_secrets().await.unwrap_err();
    assert!(
        matches!(err, ClientError::Transport { connect: true, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn success_is_exactly_200() {
    let server = Server::new(vec![(201, r#"{"value":"x"}"#)]);
    let client = machine(&server.spawn().await, [6; 32]);
    let err = client
        .get_secret(&SecretId::parse("sk_a1b2c3d4e5").unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(201));
}

#[tokio::test]
async fn fields_poll_and_listings_decode() {
    let server = Server::new(vec![
        (200, r#"{"value":"{\"host\":\"h\",\"pass\":\"p\"}"}"#),
        (200, r#"{"value":"plain"}"#),
        (
            200,
            r#"{"changes":{"sk_a1b2c3d4e5":{"status":"changed"},"sk_zzzzzzzzzz":{"status":"deleted"},"sk_0000000000":{"status":"odd"}}}"#,
        ),
        (
            200,
            r#"{"secrets":[{"id":"sk_a1b2c3d4e5","name":"db","fieldNames":null,"projectId":"proj_0123456789","projectName":"web","applicationId":"","applicationName":"","type":"secret"}]}"#,
        ),
        (
            200,
            r#"{"machineId":"6f1c1b7e-8a4d-4c3e-9a57-2b1f0e9d8c7b","machineName":"m","vaultId":"vault_a1b2c3d4e5f6g7h8","status":"approved","kind":"standard","expiresAt":null}"#,
        ),
    ]);
    let client = machine(&server.spawn().await, [7; 32]);
    let id = SecretId::parse("sk_a1b2c3d4e5").unwrap();
    let fields = client.get_fields(&id).await.unwrap();
    assert_eq!(fields["host"].expose(), "h");
    assert!(matches!(
        client.get_fields(&id).await,
        Err(ClientError::NotStructured { .. })
    ));
    let other = SecretId::parse("sk_0000000000").unwrap();
    let changes = client.poll(&[id.clone(), other.clone()]).await.unwrap();
    assert_eq!(changes.len(), 2, "ids that were not watched are dropped");
    assert_eq!(changes[&id], SecretChange::Changed);
    assert_eq!(changes[&other], SecretChange::Other("odd".into()));
    let listed = client.cli_secrets().await.unwrap();
    assert_eq!(
        (listed[0].project_name.as_str(), listed[0].kind.as_str()),
        ("web", "secret")
    );
    let me = client.whoami().await.unwrap();
    assert_eq!((me.status.as_str(), me.expires_at), ("approved", None));
    assert_eq!(
        server.seen()[2].body,
        br#"{"watch":["sk_a1b2c3d4e5","sk_0000000000"]}"#
    );
}

#[tokio::test]
async fn low_level_requests_can_fix_replay_and_tamper() {
    let server = Server::new(vec![]);
    let client = machine(&server.spawn().await, [8; 32]);

    // A fixed timestamp and nonce are signed and sent as given; the same request goes twice.
    let req = client
        .signed("GET", "/v1/secrets")
        .timestamp(1_000_000)
        .nonce("AAAAAAAAAAAAAAAAAAAAAA==")
        .build()
        .unwrap();
    assert_eq!(req.header("x-timestamp"), Some("1000000"));
    assert!(
        req.signing_string
            .starts_with("GET:/v1/secrets:1000000:AAAAAAAAAAAAAAAAAAAAAA==:")
    );
    assert_eq!(req.send().await.unwrap().status, 200);
    assert_eq!(req.send().await.unwrap().status, 200);

    // Tampering after signing: the body changes, the signature does not.
    let mut tampered = client
        .signed("POST", "/v1/secrets/list")
        .json(&serde_json::json!({"projectId": "proj_0123456789"}))
        .build()
        .unwrap();
    tampered.body = br#"{"projectId":"proj_9999999999"}"#.to_vec();
    tampered.send().await.unwrap();

    // A relative timestamp, a forged header and a removed one.
    let skewed = client
        .signed("GET", "/v1/whoami")
        .timestamp_offset(-301)
        .header("X-Signature", "forged")
        .remove_header("x-nonce")
        .build()
        .unwrap();
    skewed.send().await.unwrap();

    // Non-canonical paths are refused unless asked for, then signed and sent verbatim.
    assert!(matches!(
        client.signed("GET", "/v1/secrets?x=1").build(),
        Err(ClientError::Protocol(_))
    ));
    let query = client
        .signed("GET", "/v1/secrets?x=1")
        .unchecked_path()
        .build()
        .unwrap();
    assert!(query.signing_string.starts_with("GET:/v1/secrets?x=1:"));
    query.send().await.unwrap();
    let dots = client
        .signed("GET", "/v1/./secrets")
        .unchecked_path()
        .build()
        .unwrap();
    dots.send_verbatim().await.unwrap();

    let seen = server.seen();
    assert_eq!(seen.len(), 6);
    assert_eq!(
        seen[0].headers, seen[1].headers,
        "a replay is byte-identical"
    );
    assert_eq!(seen[0].header("x-nonce"), Some("AAAAAAAAAAAAAAAAAAAAAA=="));
    assert_eq!(seen[2].body, br#"{"projectId":"proj_9999999999"}"#);
    let ts: i64 = seen[3].header("x-timestamp").unwrap().parse().unwrap();
    assert!((signet_client::unix_now() - 301 - ts).abs() <= 5);
    assert_eq!(seen[3].header("x-signature"), Some("forged"));
    assert!(seen[3].header("x-nonce").is_none());
    assert_eq!(seen[4].target, "/v1/secrets?x=1");
    assert_eq!(seen[5].target, "/v1/./secrets");
}

#[tokio::test]
async fn insecure_api_urls_are_refused_before_sending() {
    let id = Identity {
        machine_id: MachineId::generate(),
        machine_name: "m".into(),
        vault_id: VaultId::generate(),
        api_url: "http://vault.example".into(),
        private_key_path: String::new(),
    };
    let err =
        MachineClient::new(Credentials::new(id, SecretSeed::generate(), "x".into())).unwrap_err();
    assert!(matches!(err, ClientError::InsecureUrl { .. }));
}

#[tokio::test]
async fn operator_requests_are_signed_with_the_operator_header() {
    let server = Server::new(vec![
        (
            200,
            r#"{"id":"proj_0123456789","name":"web","createdAt":1}"#,
        ),
        (
            200,
            r#"{"id":"sk_a1b2c3d4e5","name":"db","projectId":"proj_0123456789","type":"standard","fieldNames":null,"version":1,"createdAt":1,"updatedAt":1,"canary":false}"#,
        ),
    ]);
    let url = server.spawn().await;
    let op = OperatorIdentity {
        operator_id: OperatorId::generate(),
        name: "alice".into(),
        vault_id: VaultId::generate(),
        api_url: url,
        private_key_path: String::new(),
    };
    let client = OperatorClient::with_options(
        Credentials::new(op.clone(), SecretSeed::from_bytes([9; 32]), "x".into()),
        fast(),
    )
    .unwrap();
    let created: serde_json::Value = client
        .request(
            "POST",
            "/v1/admin/projects",
            Some(&serde_json::json!({"name": "web"})),
        )
        .await
        .unwrap();
    assert_eq!(created["id"], "proj_0123456789");
    let project = ProjectId::parse("proj_0123456789").unwrap();
    client
        .secrets()
        .create(
            &project,
            "db",
            &SecretContent::Value(SecretValue::new("pw")),
        )
        .await
        .unwrap();
    let seen = server.seen();
    assert_signed_by(
        &seen[0],
        "x-operator-id",
        &op.operator_id.to_string(),
        [9; 32],
    );
    assert!(seen[0].header("x-machine-id").is_none());
    assert_eq!(seen[0].body, br#"{"name":"web"}"#);
    assert_eq!(
        seen[1].body,
        br#"{"projectId":"proj_0123456789","name":"db","value":"pw"}"#
    );
}

fn enroll_responder(
    vault: VaultId,
    api_url: &'static str,
    honest: bool,
) -> impl Fn(&Seen) -> (u16, String) + Send + Sync {
    move |seen| {
        let body: serde_json::Value = serde_json::from_slice(&seen.body).unwrap();
        let pk = PublicKey::from_base64(body["publicKey"].as_str().unwrap()).unwrap();
        let fingerprint = if honest {
            pk.fingerprint().to_string()
        } else {
            "0000-0000-0000-0000-0000".into()
        };
        let reply = serde_json::json!({
            "machineId": MachineId::generate().to_string(),
            "machineName": body["name"].as_str().unwrap_or("host"),
            "vaultId": vault.as_str(),
            "apiUrl": api_url,
            "status": "pending",
            "fingerprint": fingerprint,
        });
        (200, reply.to_string())
    }
}

#[tokio::test]
async fn bootstrap_sends_only_the_public_key_and_saves_the_identity() {
    let vault = VaultId::generate();
    let server = Server::with_responder(enroll_responder(
        vault.clone(),
        "http://localhost:8420/",
        true,
    ));
    let url = server.spawn().await;
    let tmp = tempfile::tempdir().unwrap();
    let home = SignetHome::new(tmp.path()).unwrap();
    let e = enroll::bootstrap(
        &home,
        &format!("{url}/"),
        "tok_123",
        "host-1",
        Some("web-1"),
    )
    .await
    .unwrap();

    let seen = server.seen();
    assert_eq!(
        (seen[0].method.as_str(), seen[0].target.as_str()),
        ("POST", "/v1/enroll/bootstrap")
    );
    assert!(seen[0].header("x-signature").is_none());
    let sent: serde_json::Value = serde_json::from_slice(&seen[0].body).unwrap();
    assert_eq!(sent["token"], "tok_123");
    assert_eq!(sent["hostname"], "host-1");
    assert_eq!(sent["name"], "web-1");
    // The proof of possession is a signature and its timestamp, never key material.
    let mut fields: Vec<&str> = sent
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "hostname",
            "name",
            "proof",
            "publicKey",
            "timestamp",
            "token"
        ],
        "nothing but token, publicKey, hostname, name and the proof"
    );
    assert_eq!(
        sent["publicKey"],
        e.credentials.seed().public_key().to_base64()
    );

    assert_eq!(e.status.as_deref(), Some("pending"));
    assert_eq!(
        e.credentials.identity().api_url,
        "http://localhost:8420",
        "the server's apiUrl, trimmed"
    );
    assert_eq!(e.credentials.identity().vault_id, vault);
    assert_eq!(e.fingerprint, e.credentials.fingerprint());
    let loaded: Credentials<Identity> = home.load(None).unwrap();
    assert_eq!(loaded.identity(), e.credentials.identity());
}

#[tokio::test]
async fn enrollment_checks_the_fingerprint_and_reports_refusals() {
    let vault = VaultId::generate();
    let server = Server::with_responder(enroll_responder(vault.clone(), "", false));
    let url = server.spawn().await;
    let tmp = tempfile::tempdir().unwrap();
    let home = SignetHome::new(tmp.path()).unwrap();
    let err = enroll::request(&home, &url, &vault, "host-1", None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClientError::FingerprintMismatch { .. }),
        "{err:?}"
    );
    assert_eq!(
        server.seen()[0].target,
        format!("/v1/{vault}/enroll/request")
    );
    assert!(home.locate::<Identity>(None).is_err(), "nothing is saved");

    let server = Server::new(vec![(
        403,
        r#"{"error":"enrollment refused","code":"enrollment_refused"}"#,
    )]);
    let url = server.spawn().await;
    let err = enroll::register_with_enrollment_token(&home, &url, &vault, "bad", "h", None)
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "enrollment refused");
    assert_eq!(
        server.seen()[0].target,
        format!("/v1/{vault}/enroll/register")
    );

    let err = enroll::bootstrap(&home, "http://vault.example", "t", "h", None)
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::InsecureUrl { .. }));
}

#[tokio::test]
async fn user_actions_and_invitations_send_their_routes_and_decode_typed_answers() {
    let uid = signet_client::UserId::generate();
    let user = format!(
        r#"{{"id":"{uid}","username":"ann","email":"ann@example.test","displayName":"Ann","role":"viewer","status":"active","createdAt":1,"projects":["proj_0123456789"]}}"#
    );
    let server = Server::new(vec![
        (200, &user),
        (200, r#"{"deleted":true}"#),
        (200, &user),
        (200, r#"{"revoked":true}"#),
    ]);
    let url = server.spawn().await;
    let op = OperatorIdentity {
        operator_id: OperatorId::generate(),
        name: "alice".into(),
        vault_id: VaultId::generate(),
        api_url: url,
        private_key_path: String::new(),
    };
    let client = OperatorClient::with_options(
        Credentials::new(op, SecretSeed::from_bytes([9; 32]), "x".into()),
        fast(),
    )
    .unwrap();
    let change = signet_client::api::admin::user::UserRoleRequest {
        role: "viewer".into(),
        projects: Some(vec!["proj_0123456789".into()]),
    };
    let after = client.users().set_role(&uid, &change).await.unwrap();
    assert_eq!(
        after.projects,
        Some(vec![ProjectId::parse("proj_0123456789").unwrap()])
    );
    assert!(client.users().remove(&uid).await.unwrap().deleted);
    // An answer of the other action's shape is a decode error, not a silent success.
    let wrong = client.users().remove(&uid).await.unwrap_err();
    assert!(matches!(wrong, ClientError::Decode { .. }), "{wrong:?}");
    let invite = signet_client::InviteId::generate();
    assert!(client.users().revoke_invite(&invite).await.unwrap().revoked);

    let seen = server.seen();
    assert_eq!(seen[0].target, format!("/v1/admin/users/{uid}/role"));
    assert_eq!(
        seen[0].body,
        br#"{"role":"viewer","projects":["proj_0123456789"]}"#
    );
    assert_eq!(seen[1].target, format!("/v1/admin/users/{uid}/delete"));
    assert!(seen[1].body.is_empty());
    assert_eq!(
        seen[3].target,
        format!("/v1/admin/users/invites/{invite}/revoke")
    );
}
