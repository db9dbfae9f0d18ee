//! Roles end to end: the owner creates a viewer and a developer with `signet user create`, each
//! signs in with `signet login` and TOTP, and then every mutating admin route is called with the
//! viewer's key: each must be a 403 with the uniform body and change nothing. The table of
//! routes is checked against the router's source, so a POST route added without a role check
//! fails here until it is listed (and refused).

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use signet_client::OperatorClient;
use signet_client::identity::{self, OperatorIdentity};
use signet_testkit::routes::route_path;
use totp_rs::Totp;

use crate::harness::AdminJson;
use crate::harness::{Backend, Fixture, TestServer, every_backend, run_with_stdin, stderr};

pub(crate) const PASSWORD: &str = "a long enough passphrase";

/// The owner creates a user with `role`; returns their TOTP generator and recovery codes.
pub(crate) fn create_user(server: &TestServer, name: &str, role: &str) -> (Totp, Vec<String>) {
    let email = format!("{name}@example.test");
    let out = run_with_stdin(
        &server.operator_home,
        &[
            "--json",
            "user",
            "create",
            "--username",
            name,
            "--email",
            &email,
            "--role",
            role,
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
    );
    assert!(out.status.success(), "user create: {}", stderr(&out));
    let made: Value = serde_json::from_slice(&out.stdout).expect("user create JSON");
    assert_eq!(made["user"]["role"], role);
    assert_eq!(made["recoveryCodes"].as_array().expect("codes").len(), 10);
    assert!(made["user"].get("passwordHash").is_none());
    let codes = made["recoveryCodes"]
        .as_array()
        .expect("codes")
        .iter()
        .map(|c| c.as_str().expect("code").to_owned())
        .collect();
    (
        Totp::from_url(made["otpauthUri"].as_str().expect("uri")).expect("otpauth uri"),
        codes,
    )
}

/// A dashboard session for `login`, signed in with a recovery code (the TOTP step may be spent
/// already); returns the cookie pair and the CSRF token.
async fn browser_login(server: &TestServer, login: &str, recovery_code: &str) -> (String, String) {
    let r = reqwest::Client::new()
        .post(format!("{}/v1/auth/session", server.url))
        .header("origin", &server.url)
        .json(&json!({"login": login, "password": PASSWORD, "recoveryCode": recovery_code}))
        .send()
        .await
        .expect("session login");
    assert_eq!(r.status(), 200, "session login");
    let cookie = r
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .expect("set-cookie")
        .to_owned();
    let view: Value = r.json().await.expect("session JSON");
    (cookie, view["csrfToken"].as_str().expect("csrf").to_owned())
}

/// Status and body of one call made the way the dashboard makes it: cookie, CSRF token, Origin.
async fn session_call(
    server: &TestServer,
    (cookie, csrf): &(String, String),
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> (u16, Vec<u8>) {
    let mut req = reqwest::Client::new()
        .request(
            method.parse().expect("method"),
            format!("{}{path}", server.url),
        )
        .header("cookie", cookie)
        .header("origin", &server.url)
        .header("x-csrf-token", csrf);
    if method == "POST" {
        req = req
            .header("content-type", "application/json")
            .body(body.map_or_else(|| b"{}".to_vec(), |b| serde_json::to_vec(b).expect("json")));
    }
    let r = req.send().await.expect("send");
    let status = r.status().as_u16();
    (status, r.bytes().await.expect("body").to_vec())
}

/// `signet login` as that user into a home of their own; returns a client with the new key.
pub(crate) fn login(server: &TestServer, name: &str, totp: &Totp) -> OperatorClient {
    let home = server.root.path().join(format!("{name}-home"));
    let email = format!("{name}@example.test");
    let code = totp.generate_current().to_string();
    let out = run_with_stdin(
        &home,
        &[
            "--json",
            "login",
            "--server",
            &server.url,
            "--email",
            &email,
            "--password-stdin",
            "--totp",
            &code,
        ],
        &format!("{PASSWORD}\n"),
    );
    assert!(out.status.success(), "login {name}: {}", stderr(&out));
    let dir = std::fs::read_dir(home.join("operators"))
        .expect("operators")
        .next()
        .expect("one")
        .expect("entry")
        .path();
    OperatorClient::new(identity::load::<OperatorIdentity>(&dir.join("identity.json")).expect("id"))
        .expect("client")
}

pub(crate) fn owner_client(server: &TestServer) -> OperatorClient {
    let dir: PathBuf = std::fs::read_dir(server.operator_home.join("operators"))
        .expect("operators")
        .next()
        .expect("one")
        .expect("entry")
        .path();
    OperatorClient::new(identity::load::<OperatorIdentity>(&dir.join("identity.json")).expect("id"))
        .expect("client")
}

/// Status and body of one signed call, without retries or error mapping.
pub(crate) async fn raw(
    c: &OperatorClient,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> (u16, Vec<u8>) {
    let mut req = c.signed(method, path);
    if let Some(b) = body {
        req = req.body(serde_json::to_vec(b).expect("json"));
    }
    let r = req.build().expect("build").send().await.expect("send");
    (r.status, r.body.clone())
}

/// Every POST `.route(...)` under `/v1/admin/` in the routers' sources (the admin routes and
/// the user management routes).
fn admin_post_routes() -> Vec<String> {
    let mut out = Vec::new();
    for file in ["admin.rs", "user.rs", "share.rs", "alert.rs"] {
        let src = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../server/src/routes")
                .join(file),
        )
        .expect("router source");
        out.extend(
            post_routes(&src)
                .into_iter()
                .filter(|r| r.starts_with("/v1/admin/")),
        );
    }
    out
}

/// Every `.route(...)` in a router's source that takes POST.
fn post_routes(src: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = src;
    while let Some(i) = rest.find(".route(") {
        rest = &rest[i + ".route(".len()..];
        let mut depth = 1;
        let end = rest
            .char_indices()
            .find(|&(_, c)| {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                depth == 0
            })
            .map(|(j, _)| j)
            .expect("balanced .route(");
        let call = &rest[..end];
        if call.contains("post(") {
            out.push(route_path(call));
        }
        rest = &rest[end..];
    }
    out
}

every_backend!(async fn a_viewer_cannot_change_anything_and_a_developer_only_secrets);
async fn a_viewer_cannot_change_anything_and_a_developer_only_secrets(backend: Backend) {
    let f = Fixture::on(backend);
    let s = &f.server;
    let owner = owner_client(s);
    let (p, sid, mid) = (&f.project, &f.secret, &f.machine);

    // Objects for the id-taking routes to aim at, so a 403 is the role and not a missing id.
    let token = owner
        .request_json(
            "POST",
            "/v1/admin/tokens/enrollment",
            Some(&json!({"projectIds": [p]})),
        )
        .await
        .expect("enrollment token");
    let tid = token["id"].as_str().expect("token id").to_owned();
    let entry = owner
        .request_json(
            "POST",
            "/v1/admin/ip-allowlist",
            Some(&json!({"cidr": "127.0.0.0/8", "label": "here"})),
        )
        .await
        .expect("allowlist entry");
    let eid = entry["id"].as_str().expect("entry id").to_owned();
    let policy = owner
        .request_json(
            "POST",
            &format!("/v1/admin/projects/{p}/policies"),
            Some(&json!({"name": "pol", "rules": {"perMinute": 5}})),
        )
        .await
        .expect("policy");
    let polid = policy["id"].as_str().expect("policy id").to_owned();

    let (viewer_totp, viewer_codes) = create_user(s, "vera", "viewer");
    let (dev_totp, _) = create_user(s, "dave", "developer");
    let listed = s.op_json(&["user", "list"]);
    assert_eq!(listed["users"].as_array().expect("users").len(), 2);
    let dave_id = listed["users"][1]["id"]
        .as_str()
        .expect("user id")
        .to_owned();
    let invite = s.op_json(&[
        "user",
        "invite",
        "--email",
        "inv@example.test",
        "--role",
        "viewer",
    ]);
    let iid = invite["inviteId"].as_str().expect("invite id").to_owned();
    let viewer = login(s, "vera", &viewer_totp);

    let before = |v: &Value| v.to_string();
    let snapshot = async || {
        let mut all = Vec::new();
        for path in [
            "/v1/admin/vault".to_owned(),
            "/v1/admin/projects".to_owned(),
            format!("/v1/admin/secrets/{sid}"),
            format!("/v1/admin/secrets/{sid}/versions"),
            "/v1/admin/tokens/enrollment".to_owned(),
            "/v1/admin/machines".to_owned(),
            "/v1/admin/ip-allowlist".to_owned(),
            "/v1/admin/users".to_owned(),
            "/v1/admin/users/invites".to_owned(),
            "/v1/admin/request-budgets".to_owned(),
        ] {
            all.push(before(
                &owner.request_json("GET", &path, None).await.expect(&path),
            ));
        }
        all
    };
    let was = snapshot().await;
    let tokenless = owner
        .request_json("GET", "/v1/admin/vault", None)
        .await
        .expect("vault")["tokenlessEnrollment"]
        .as_bool()
        .expect("bool");

    // (route as written in admin.rs, concrete path, body). Every POST route of the router
    // must appear here or in `open_to_viewers` below.
    let m = |a: &str| format!("/v1/admin/machines/{mid}/{a}");
    let machine_route = "/v1/admin/machines/{id}/{action}";
    let u = |a: &str| format!("/v1/admin/users/{dave_id}/{a}");
    let user_route = "/v1/admin/users/{id}/{action}";
    let table: Vec<(&str, String, Option<Value>)> = vec![
        (
            "/v1/admin/vault/settings",
            "/v1/admin/vault/settings".into(),
            Some(json!({"tokenlessEnrollment": !tokenless})),
        ),
        (
            "/v1/admin/request-budgets",
            "/v1/admin/request-budgets".into(),
            Some(json!({"requestsPerMinute": 5})),
        ),
        (
            "/v1/admin/projects",
            "/v1/admin/projects".into(),
            Some(json!({"name": "x"})),
        ),
        (
            "/v1/admin/projects/{id}/rename",
            format!("/v1/admin/projects/{p}/rename"),
            Some(json!({"name": "renamed"})),
        ),
        (
            "/v1/admin/projects/{id}/policies",
            format!("/v1/admin/projects/{p}/policies"),
            Some(json!({"name": "x"})),
        ),
        (
            "/v1/admin/projects/{id}/policies/{policy}/update",
            format!("/v1/admin/projects/{p}/policies/{polid}/update"),
            Some(json!({"rules": {}})),
        ),
        (
            "/v1/admin/projects/{id}/policies/{policy}/delete",
            format!("/v1/admin/projects/{p}/policies/{polid}/delete"),
            None,
        ),
        (
            "/v1/admin/secrets/{id}/policy",
            format!("/v1/admin/secrets/{sid}/policy"),
            Some(json!({"policyId": polid})),
        ),
        (
            "/v1/admin/projects/{id}/delete",
            format!("/v1/admin/projects/{p}/delete"),
            None,
        ),
        (
            "/v1/admin/trash/{id}/restore",
            format!("/v1/admin/trash/{sid}/restore"),
            None,
        ),
        (
            "/v1/admin/trash/{id}/purge",
            format!("/v1/admin/trash/{sid}/purge"),
            None,
        ),
        (
            "/v1/admin/trash/retention",
            "/v1/admin/trash/retention".into(),
            Some(json!({"days": 7})),
        ),
        (
            "/v1/admin/projects/{id}/canaries",
            format!("/v1/admin/projects/{p}/canaries"),
            Some(json!({"name": "TRAP"})),
        ),
        (
            "/v1/admin/projects/{id}/unfreeze",
            format!("/v1/admin/projects/{p}/unfreeze"),
            None,
        ),
        (
            "/v1/admin/projects/{id}/key/rotate",
            format!("/v1/admin/projects/{p}/key/rotate"),
            None,
        ),
        (
            "/v1/admin/secrets",
            "/v1/admin/secrets".into(),
            Some(json!({"projectId": p, "name": "X", "value": "v"})),
        ),
        (
            "/v1/admin/secrets/{id}/update",
            format!("/v1/admin/secrets/{sid}/update"),
            Some(json!({"value": "changed"})),
        ),
        (
            "/v1/admin/secrets/{id}/rollback",
            format!("/v1/admin/secrets/{sid}/rollback"),
            Some(json!({"version": 1})),
        ),
        (
            "/v1/admin/secrets/{id}/delete",
            format!("/v1/admin/secrets/{sid}/delete"),
            None,
        ),
        (
            "/v1/admin/secrets/{id}/rotate",
            format!("/v1/admin/secrets/{sid}/rotate"),
            None,
        ),
        (
            "/v1/admin/secrets/{id}/rotation",
            format!("/v1/admin/secrets/{sid}/rotation"),
            Some(json!({"intervalSeconds": 300})),
        ),
        (
            "/v1/admin/secrets/{id}/rotation/clear",
            format!("/v1/admin/secrets/{sid}/rotation/clear"),
            None,
        ),
        (
            "/v1/admin/secrets/{id}/rotation/pause",
            format!("/v1/admin/secrets/{sid}/rotation/pause"),
            None,
        ),
        (
            "/v1/admin/secrets/{id}/rotation/resume",
            format!("/v1/admin/secrets/{sid}/rotation/resume"),
            None,
        ),
        (
            "/v1/admin/tokens/bootstrap",
            "/v1/admin/tokens/bootstrap".into(),
            Some(json!({})),
        ),
        (
            "/v1/admin/tokens/enrollment",
            "/v1/admin/tokens/enrollment".into(),
            Some(json!({"projectIds": [p]})),
        ),
        (
            "/v1/admin/tokens/enrollment/{id}/revoke",
            format!("/v1/admin/tokens/enrollment/{tid}/revoke"),
            None,
        ),
        (machine_route, m("approve"), None),
        (machine_route, m("deny"), None),
        (machine_route, m("enable"), None),
        (machine_route, m("disable"), None),
        (machine_route, m("revoke"), None),
        (machine_route, m("attach"), Some(json!({"projectId": p}))),
        (machine_route, m("detach"), Some(json!({"projectId": p}))),
        (machine_route, m("grant"), Some(json!({"secretIds": [sid]}))),
        (
            machine_route,
            m("ungrant"),
            Some(json!({"secretIds": [sid]})),
        ),
        (
            machine_route,
            m("cidrs"),
            Some(json!({"cidrs": ["10.0.0.0/8"]})),
        ),
        (
            "/v1/admin/ip-allowlist",
            "/v1/admin/ip-allowlist".into(),
            Some(json!({"cidr": "10.9.0.0/16"})),
        ),
        (
            "/v1/admin/ip-allowlist/enable",
            "/v1/admin/ip-allowlist/enable".into(),
            None,
        ),
        (
            "/v1/admin/ip-allowlist/disable",
            "/v1/admin/ip-allowlist/disable".into(),
            None,
        ),
        (
            "/v1/admin/ip-allowlist/{id}/delete",
            format!("/v1/admin/ip-allowlist/{eid}/delete"),
            None,
        ),
        (
            "/v1/admin/users",
            "/v1/admin/users".into(),
            Some(
                json!({"username": "mal", "email": "mal@example.test", "password": PASSWORD, "role": "viewer"}),
            ),
        ),
        (
            "/v1/admin/users/invite",
            "/v1/admin/users/invite".into(),
            Some(json!({"email": "mal@example.test", "role": "viewer"})),
        ),
        (
            "/v1/admin/users/invites/{id}/revoke",
            format!("/v1/admin/users/invites/{iid}/revoke"),
            None,
        ),
        (
            "/v1/admin/shares",
            "/v1/admin/shares".into(),
            Some(json!({"value": "v", "passphrase": "long enough passphrase", "ttlSeconds": 600})),
        ),
        (
            "/v1/admin/shares/{id}/revoke",
            "/v1/admin/shares/shr_0000000000000000/revoke".into(),
            None,
        ),
        (
            "/v1/admin/projects/{id}/connections",
            format!("/v1/admin/projects/{p}/connections"),
            Some(
                json!({"name": "db", "host": "127.0.0.1", "port": 5432, "database": "d", "adminUser": "u", "adminPassword": "p", "tlsMode": "disable"}),
            ),
        ),
        (
            "/v1/admin/projects/{id}/connections/{connection}/update",
            format!("/v1/admin/projects/{p}/connections/dbc_0000000000/update"),
            Some(
                json!({"name": "db", "host": "127.0.0.1", "port": 5432, "database": "d", "adminUser": "u", "adminPassword": "p", "tlsMode": "disable"}),
            ),
        ),
        (
            "/v1/admin/projects/{id}/connections/{connection}/delete",
            format!("/v1/admin/projects/{p}/connections/dbc_0000000000/delete"),
            None,
        ),
        (
            "/v1/admin/projects/{id}/connections/{connection}/test",
            format!("/v1/admin/projects/{p}/connections/dbc_0000000000/test"),
            None,
        ),
        (
            "/v1/admin/projects/{id}/leased-secrets",
            format!("/v1/admin/projects/{p}/leased-secrets"),
            Some(
                json!({"name": "DB", "settings": json!({"connectionId": "dbc_0000000000", "ttlSecs": 60, "maxTtlSecs": 60, "grantSql": ["SELECT 1"]})}),
            ),
        ),
        (
            "/v1/admin/secrets/{id}/lease",
            format!("/v1/admin/secrets/{sid}/lease"),
            Some(
                json!({"connectionId": "dbc_0000000000", "ttlSecs": 60, "maxTtlSecs": 60, "grantSql": ["SELECT 1"]}),
            ),
        ),
        (
            "/v1/admin/secrets/{id}/managed",
            format!("/v1/admin/secrets/{sid}/managed"),
            Some(json!({"connectionId": "dbc_0000000000"})),
        ),
        (
            "/v1/admin/leases/{id}/renew",
            "/v1/admin/leases/lease_0000000000000000/renew".into(),
            None,
        ),
        (
            "/v1/admin/leases/{id}/revoke",
            "/v1/admin/leases/lease_0000000000000000/revoke".into(),
            None,
        ),
        (
            "/v1/admin/webhooks",
            "/v1/admin/webhooks".into(),
            Some(json!({"name": "w", "url": "https://hooks.example.com/x"})),
        ),
        (
            "/v1/admin/webhooks/{id}/update",
            "/v1/admin/webhooks/wh_000000000000/update".into(),
            Some(json!({"enabled": false})),
        ),
        (
            "/v1/admin/webhooks/{id}/delete",
            "/v1/admin/webhooks/wh_000000000000/delete".into(),
            None,
        ),
        (
            "/v1/admin/webhooks/{id}/test",
            "/v1/admin/webhooks/wh_000000000000/test".into(),
            None,
        ),
        (
            "/v1/admin/alerts",
            "/v1/admin/alerts".into(),
            Some(
                json!({"name": "r", "severity": "info", "actions": ["canary_triggered"], "webhooks": ["wh_000000000000"]}),
            ),
        ),
        (
            "/v1/admin/alerts/{id}/delete",
            "/v1/admin/alerts/alr_000000000000/delete".into(),
            None,
        ),
        (
            "/v1/admin/secrets/{id}/managed",
            "/v1/admin/secrets/sk_0000000000/managed".into(),
            Some(json!({"connectionId": "dbc_0000000000"})),
        ),
        (
            "/v1/admin/audit/archive",
            "/v1/admin/audit/archive".into(),
            None,
        ),
        (user_route, u("role"), Some(json!({"role": "viewer"}))),
        (user_route, u("suspend"), None),
        (user_route, u("activate"), None),
        (user_route, u("delete"), None),
    ];
    // POST only because signed routes carry their parameters in the body, or acting on the
    // caller's own key: open to viewers on purpose.
    let open_to_viewers = [
        "/v1/admin/logout",
        "/v1/admin/secrets/query",
        "/v1/admin/audit/query",
        "/v1/admin/audit/verify",
        "/v1/admin/leases/query",
    ];
    let routes = admin_post_routes();
    assert!(routes.len() > 10, "parsed the router: {routes:?}");
    for r in &routes {
        assert!(
            table.iter().any(|(t, _, _)| t == r) || open_to_viewers.contains(&r.as_str()),
            "POST {r} is in the router but not in this table: add it (and a role check in core)"
        );
    }
    let actions = [
        "approve", "deny", "enable", "disable", "revoke", "attach", "detach", "grant", "ungrant",
        "cidrs",
    ];
    for a in actions {
        assert!(table.iter().any(|(_, path, _)| *path == m(a)), "{a}");
    }

    let uniform = serde_json::to_vec(&json!({"error": "access denied", "code": "access_denied"}))
        .expect("json");
    let mut first: Option<Vec<u8>> = None;
    for (_, path, body) in &table {
        let (status, got) = raw(&viewer, "POST", path, body.as_ref()).await;
        assert_eq!(
            status,
            403,
            "viewer POST {path}: {}",
            String::from_utf8_lossy(&got)
        );
        let parsed: Value = serde_json::from_slice(&got).expect("403 JSON");
        assert_eq!(
            parsed,
            serde_json::from_slice::<Value>(&uniform).expect("json")
        );
        match &first {
            None => first = Some(got),
            Some(b) => assert_eq!(b, &got, "403 bodies must be identical ({path})"),
        }
    }
    // The role is checked before the id is: a malformed id is the same 403 to a viewer (the path
    // says nothing about what exists), and only a caller allowed to act learns it is not found.
    let malformed = [
        "/v1/admin/secrets/sk_nope/update",
        "/v1/admin/secrets/sk_nope/rollback",
        "/v1/admin/secrets/sk_nope/delete",
        "/v1/admin/machines/not-a-uuid/revoke",
    ];
    for path in malformed {
        let body = if path.ends_with("/update") {
            Some(json!({"value": "changed"}))
        } else if path.ends_with("/rollback") {
            Some(json!({"version": 1}))
        } else {
            None
        };
        let (status, got) = raw(&viewer, "POST", path, body.as_ref()).await;
        assert_eq!(
            (status, &got),
            (403, first.as_ref().expect("a 403 body")),
            "viewer POST {path}: {}",
            String::from_utf8_lossy(&got)
        );
        let (status, got) = raw(&owner, "POST", path, body.as_ref()).await;
        assert_eq!(
            status,
            404,
            "owner POST {path}: {}",
            String::from_utf8_lossy(&got)
        );
    }
    // Listing users shows emails: not for viewers either.
    assert_eq!(raw(&viewer, "GET", "/v1/admin/users", None).await.0, 403);
    assert_eq!(snapshot().await, was, "a refused call changed something");

    // The same table through the dashboard's way in: a viewer's browser session with a valid
    // CSRF token gets the same 403 body everywhere, and nothing changes.
    let session = browser_login(s, "VERA", &viewer_codes[0]).await;
    for (_, path, body) in &table {
        let (status, got) = session_call(s, &session, "POST", path, body.as_ref()).await;
        assert_eq!(
            (status, &got),
            (403, first.as_ref().expect("a 403 body")),
            "viewer session POST {path}: {}",
            String::from_utf8_lossy(&got)
        );
    }
    assert_eq!(
        session_call(s, &session, "GET", "/v1/admin/users", None)
            .await
            .0,
        403
    );
    assert_eq!(
        session_call(s, &session, "GET", "/v1/admin/projects", None)
            .await
            .0,
        200
    );
    assert_eq!(
        snapshot().await,
        was,
        "a refused session call changed something"
    );

    // Reads still work for the viewer.
    for path in [
        "/v1/admin/projects",
        "/v1/admin/machines",
        "/v1/admin/whoami",
    ] {
        assert_eq!(raw(&viewer, "GET", path, None).await.0, 200, "{path}");
    }
    let audit = viewer
        .request_json(
            "POST",
            "/v1/admin/audit/query",
            // More refusals than one default page (100) holds.
            Some(&json!({"result": "denied", "limit": 1000})),
        )
        .await
        .expect("viewer reads the audit log");
    let denials = audit["records"]
        .as_array()
        .expect("records")
        .iter()
        .filter(|r| {
            r["detail"]
                .as_str()
                .is_some_and(|d| d.starts_with("role=viewer"))
        })
        .count();
    // The table and the user listing, by key and by session; and the malformed ids, by key.
    assert_eq!(
        denials,
        2 * (table.len() + 1) + malformed.len(),
        "every refusal is audited: {:#}",
        audit["records"]
    );
    let me = viewer
        .request_json("GET", "/v1/admin/whoami", None)
        .await
        .expect("whoami");
    assert_eq!(me["role"], "viewer");

    // A developer writes secrets, and nothing else.
    let dev = login(s, "dave", &dev_totp);
    let created = dev
        .request_json(
            "POST",
            "/v1/admin/secrets",
            Some(&json!({"projectId": p, "name": "DEV_ONLY", "value": "one"})),
        )
        .await
        .expect("developer creates a secret");
    let new_id = created["id"].as_str().expect("id").to_owned();
    let updated = dev
        .request_json(
            "POST",
            &format!("/v1/admin/secrets/{new_id}/update"),
            Some(&json!({"value": "two"})),
        )
        .await
        .expect("developer updates a secret");
    assert_eq!(updated["version"], 2);
    assert_eq!(raw(&dev, "POST", &m("approve"), None).await.0, 403);
    assert_eq!(
        raw(
            &dev,
            "POST",
            &format!("/v1/admin/projects/{p}/rename"),
            Some(&json!({"name": "mine"}))
        )
        .await
        .0,
        403
    );
    assert_eq!(
        raw(
            &dev,
            "POST",
            &format!("/v1/admin/projects/{p}/delete"),
            None
        )
        .await
        .0,
        403
    );
    assert_eq!(
        raw(&dev, "POST", &format!("/v1/admin/trash/{sid}/purge"), None)
            .await
            .0,
        403
    );
    assert_eq!(
        raw(&dev, "POST", "/v1/admin/tokens/bootstrap", Some(&json!({})))
            .await
            .0,
        403
    );
    assert!(
        !s.log().contains(PASSWORD),
        "a password reached the server log"
    );
}
