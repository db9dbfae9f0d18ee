//! Invitations and project scope end to end: the owner invites a developer limited to one
//! project, they accept with `signet user accept-invite`, sign in, and see only that project;
//! a role change lands on their next request; suspension turns their key into a 401 until they
//! are activated; removal ends it for good.

use serde_json::{Value, json};
use totp_rs::Totp;

use crate::harness::AdminJson;
use crate::harness::run_with_stdin;
use crate::harness::{Backend, Fixture, every_backend, stderr};
use crate::roles::{PASSWORD, login, owner_client, raw};

every_backend!(async fn an_invited_scoped_developer_sees_only_their_project);
async fn an_invited_scoped_developer_sees_only_their_project(backend: Backend) {
    let f = Fixture::on(backend);
    let s = &f.server;
    let owner = owner_client(s);
    let mine = &f.project;
    let theirs = s.op_json(&["project", "create", "elsewhere"])["id"]
        .as_str()
        .expect("project id")
        .to_owned();
    let their_secret = s.op_json(&[
        "secret",
        "create",
        "--project",
        &theirs,
        "--name",
        "OTHER",
        "--value",
        "x",
    ])["id"]
        .as_str()
        .expect("secret id")
        .to_owned();

    let invite = s.op_json(&[
        "user",
        "invite",
        "--email",
        "ivy@example.test",
        "--role",
        "developer",
        "--project",
        mine,
    ]);
    let link = invite["inviteUrl"].as_str().expect("inviteUrl").to_owned();
    assert!(link.starts_with(&format!("{}/#/invite/", s.url)), "{link}");
    let home = s.root.path().join("invitee-home");
    let accept = |username: &str| {
        run_with_stdin(
            &home,
            &[
                "--json",
                "user",
                "accept-invite",
                &link,
                "--username",
                username,
                "--password-stdin",
            ],
            &format!("{PASSWORD}\n"),
        )
    };
    let out = accept("ivy");
    assert!(out.status.success(), "accept-invite: {}", stderr(&out));
    let made: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(made["user"]["role"], "developer");
    assert_eq!(made["user"]["projects"], json!([mine]));
    assert_eq!(made["recoveryCodes"].as_array().expect("codes").len(), 10);
    // The seed in base32 (160 bits), for authenticators that cannot scan the URI.
    let seed = made["totpSecret"].as_str().expect("totpSecret");
    assert_eq!(seed.len(), 32);
    assert!(made["otpauthUri"].as_str().expect("uri").contains(seed));
    let uid = made["user"]["id"].as_str().expect("user id").to_owned();
    let totp = Totp::from_url(made["otpauthUri"].as_str().expect("uri")).expect("otpauth");
    // The link works once.
    let again = accept("ivy2");
    assert!(!again.status.success());
    assert!(stderr(&again).contains("invite_refused") || stderr(&again).contains("refused"));
    let invites = s.op_json(&["user", "invites"]);
    assert_eq!(invites["invites"][0]["status"], "accepted");

    let ivy = login(s, "ivy", &totp);
    let projects = ivy
        .request_json("GET", "/v1/admin/projects", None)
        .await
        .expect("projects");
    let ids: Vec<&str> = projects["projects"]
        .as_array()
        .expect("list")
        .iter()
        .map(|p| p["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, [mine.as_str()]);
    let refused = json!({"error": "access denied", "code": "access_denied"});
    for (method, path, body) in [
        ("GET", format!("/v1/admin/secrets/{their_secret}"), None),
        ("GET", "/v1/admin/secrets/sk_0000000000".to_owned(), None),
        (
            "POST",
            "/v1/admin/secrets/query".to_owned(),
            Some(json!({"projectId": theirs})),
        ),
        (
            "POST",
            "/v1/admin/secrets".to_owned(),
            Some(json!({"projectId": theirs, "name": "NOPE", "value": "v"})),
        ),
        ("POST", "/v1/admin/audit/query".to_owned(), Some(json!({}))),
    ] {
        let (status, got) = raw(&ivy, method, &path, body.as_ref()).await;
        assert_eq!(status, 403, "{method} {path}");
        assert_eq!(
            serde_json::from_slice::<Value>(&got).expect("json"),
            refused
        );
    }
    // Inside the scope, a developer works as usual.
    ivy.request_json(
        "POST",
        "/v1/admin/secrets",
        Some(&json!({"projectId": mine, "name": "IVY", "value": "v"})),
    )
    .await
    .expect("write in scope");

    // A role change lands on the very next request.
    s.op_json(&["user", "role", &uid, "--role", "viewer", "--project", mine]);
    let (status, _) = raw(
        &ivy,
        "POST",
        "/v1/admin/secrets",
        Some(&json!({"projectId": mine, "name": "IVY2", "value": "v"})),
    )
    .await;
    assert_eq!(status, 403);
    let widened = s.op_json(&["user", "role", &uid, "--role", "developer"]);
    assert_eq!(widened["projects"], Value::Null);
    let all = ivy
        .request_json("GET", "/v1/admin/projects", None)
        .await
        .expect("projects");
    assert_eq!(all["projects"].as_array().expect("list").len(), 2);

    // Suspension: the key is a 401 until activation; removal is for good.
    let suspended = s.op_json(&["user", "suspend", &uid]);
    assert_eq!(suspended["status"], "suspended");
    assert_eq!(raw(&ivy, "GET", "/v1/admin/projects", None).await.0, 401);
    s.op_json(&["user", "activate", &uid]);
    assert_eq!(raw(&ivy, "GET", "/v1/admin/projects", None).await.0, 200);
    let removed = s.op_json(&["user", "remove", &uid]);
    assert_eq!(removed["deleted"], true);
    assert_eq!(raw(&ivy, "GET", "/v1/admin/projects", None).await.0, 401);
    let listed = s.op_json(&["user", "list"]);
    assert_eq!(listed["users"][0]["status"], "removed");

    // The audit log has it all, and filters by time.
    let recent = s.op_json(&["audit", "list", "--since", "1h", "--action", "user_remove"]);
    assert_eq!(recent["records"].as_array().expect("records").len(), 1);
    let old = s.op_json(&["audit", "list", "--until", "1h"]);
    assert!(old["records"].as_array().expect("records").is_empty());
    // Dates and timestamps as well as durations ago (read as UTC, by jiff).
    let now = jiff::Timestamp::now();
    let yesterday = now
        .checked_sub(jiff::SignedDuration::from_hours(24))
        .expect("a day ago")
        .strftime("%Y-%m-%d")
        .to_string();
    let hour_ago = now
        .checked_sub(jiff::SignedDuration::from_hours(1))
        .expect("an hour ago")
        .to_string();
    for since in [yesterday.as_str(), hour_ago.as_str(), "1h30m"] {
        let got = s.op_json(&["audit", "list", "--since", since, "--action", "user_remove"]);
        assert_eq!(
            got["records"].as_array().expect("records").len(),
            1,
            "{since}"
        );
    }
    for (flag, when) in [
        ("--since", "2999-01-01"),
        ("--until", "2000-01-01T00:00:00Z"),
    ] {
        let got = s.op_json(&["audit", "list", flag, when]);
        assert!(
            got["records"].as_array().expect("records").is_empty(),
            "{flag} {when}"
        );
    }
    drop(owner);
}
