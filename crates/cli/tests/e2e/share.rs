//! Issue 11 §6, one-time share links, through real `signet` processes: `signet share create`
//! (value on stdin, passphrase from the environment) answers a link once; `signet share open`
//! shows the value once and then the link is gone; a wrong passphrase destroys it; revoke
//! destroys it; a machine gets nothing; nothing secret reaches the audit log or the server log.

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};
use signet_client::{MachineClient, identity};
use signet_proto::Identity;

use crate::harness::AdminJson;
use crate::harness::{Backend, Fixture, bin, every_backend, stderr, stdout};

const PASSPHRASE: &str = "open sesame, once";
const VALUE: &str = "postgres://app:9f8e7d6c-share-marker@db/app\n";

/// Runs the CLI as the operator with the value on stdin and the passphrase in the environment.
fn share(f: &Fixture, args: &[&str], stdin: &str, passphrase: &str) -> Output {
    let mut child = Command::new(bin())
        .args(args)
        .env("SIGNET_HOME", &f.server.operator_home)
        .env("SIGNET_SHARE_PASSPHRASE", passphrase)
        .env_remove("SIGNET_IDENTITY")
        .env_remove("SIGNET_OPERATOR_IDENTITY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn signet");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("signet output")
}

fn create(f: &Fixture, ttl: &str) -> Value {
    let out = share(
        f,
        &["--json", "share", "create", "--ttl", ttl],
        VALUE,
        PASSPHRASE,
    );
    assert!(out.status.success(), "share create: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("JSON")
}

fn open(f: &Fixture, url: &str, passphrase: &str) -> Output {
    share(f, &["share", "open", url], "", passphrase)
}

fn status(f: &Fixture, id: &str) -> String {
    let list = f.server.op_json(&["share", "list"]);
    list["shares"]
        .as_array()
        .expect("shares")
        .iter()
        .find(|s| s["id"] == id)
        .expect("listed")["status"]
        .as_str()
        .expect("status")
        .to_owned()
}

every_backend!(async fn a_share_link_opens_once);
async fn a_share_link_opens_once(backend: Backend) {
    let f = Fixture::on(backend);
    let link = create(&f, "10m");
    let (id, url) = (link["id"].as_str().unwrap(), link["url"].as_str().unwrap());
    let secret = url.rsplit_once('.').expect("id.secret").1;
    assert!(
        url.starts_with(&format!("{}/#/s/{id}.", f.server.url)),
        "{url}"
    );
    assert_eq!(secret.len(), 43, "32 bytes, base64url");
    assert_eq!(status(&f, id), "pending");

    // Opened once, verbatim; then gone.
    let out = open(&f, url, PASSPHRASE);
    assert!(out.status.success(), "open: {}", stderr(&out));
    assert_eq!(stdout(&out), VALUE);
    assert_eq!(status(&f, id), "viewed");
    let again = open(&f, url, PASSPHRASE);
    assert!(!again.status.success());
    assert!(stdout(&again).is_empty(), "nothing shown the second time");

    // A wrong passphrase destroys the link; the right one then fails too.
    let second = create(&f, "1h");
    let url2 = second["url"].as_str().unwrap();
    assert!(!open(&f, url2, "not the passphrase").status.success());
    assert_eq!(status(&f, second["id"].as_str().unwrap()), "destroyed");
    assert!(!open(&f, url2, PASSPHRASE).status.success());

    // Revoked: destroyed, opens for nobody; a second revoke is a conflict.
    let third = create(&f, "1h");
    let id3 = third["id"].as_str().unwrap();
    let revoked = f.server.op_json(&["share", "revoke", id3]);
    assert_eq!(revoked["revoked"], true);
    assert_eq!(status(&f, id3), "destroyed");
    assert!(
        !open(&f, third["url"].as_str().unwrap(), PASSPHRASE)
            .status
            .success()
    );
    assert!(!f.server.op(&["share", "revoke", id3]).status.success());

    // Lifetimes outside a minute to a day and values over 100 KB are refused.
    for ttl in ["30s", "25h"] {
        let out = share(&f, &["share", "create", "--ttl", ttl], VALUE, PASSPHRASE);
        assert!(!out.status.success(), "ttl {ttl}");
    }
    let op = f.operator_client();
    let big = "x".repeat(100 * 1024 + 1);
    let e = op.shares().create(&big, PASSPHRASE, 600).await.unwrap_err();
    assert_eq!(e.status(), Some(413));
    let e = op
        .request_json(
            "POST",
            "/v1/admin/shares",
            Some(&json!({"value": "v", "passphrase": "short", "ttlSeconds": 600})),
        )
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(400));

    // A machine gets nothing: not the admin routes, and not a link it was handed, which stays
    // pending for its human reader.
    let fourth = create(&f, "1h");
    let url4 = fourth["url"].as_str().unwrap();
    let (id4, secret4) = url4
        .rsplit_once("/#/s/")
        .unwrap()
        .1
        .split_once('.')
        .unwrap();
    let creds = identity::load::<Identity>(&f.server.machine_identity()).expect("identity");
    let machine = MachineClient::new(creds).expect("client");
    for (method, path, body) in [
        ("GET", "/v1/admin/shares", Vec::new()),
        (
            "POST",
            "/v1/share/open",
            serde_json::to_vec(&json!({"id": id4, "secret": secret4, "passphrase": PASSPHRASE}))
                .unwrap(),
        ),
    ] {
        let resp = machine
            .signed(method, path)
            .body(body)
            .build()
            .expect("build")
            .send()
            .await
            .expect("send");
        assert!(
            resp.status == 401 || resp.status == 403,
            "{method} {path}: {}",
            resp.status
        );
        assert!(!String::from_utf8_lossy(&resp.body).contains("share-marker"));
    }
    assert_eq!(status(&f, id4), "pending");
    assert_eq!(stdout(&open(&f, url4, PASSPHRASE)), VALUE);

    // Audited, and no record or log line holds the value, the passphrase or a secret part.
    let records = f.server.op_json(&["audit", "list", "--limit", "1000"])["records"].clone();
    let text = records.to_string();
    for action in ["share_create", "share_open", "share_revoke"] {
        assert!(text.contains(action), "{action} audited");
    }
    let log = f.server.log();
    for leak in ["share-marker", PASSPHRASE, secret, secret4] {
        assert!(!text.contains(leak), "audit holds {leak:?}");
        assert!(!log.contains(leak), "server log holds {leak:?}");
    }
}
