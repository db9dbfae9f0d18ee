use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use serde_json::json;
use signet_client::MachineClient;
use signet_client::identity;
use signet_proto::{Identity, SecretId};

use crate::harness::{Backend, Fixture, TestServer, every_backend, stderr, stdout};

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777
}

every_backend!(fn the_bootstrap_script_enrolls_with_openssl_and_curl);
fn the_bootstrap_script_enrolls_with_openssl_and_curl(backend: Backend) {
    let s = TestServer::start_on(backend);
    s.operator_init();
    let project = s.op_json(&["project", "create", "scripts"])["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let secret = s.op_json(&[
        "secret",
        "create",
        "--project",
        &project,
        "--name",
        "API_KEY",
        "--value",
        "k-123",
    ])["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let issued = s.op_json(&["token", "bootstrap"]);
    let command = issued["command"].as_str().expect("command").to_owned();
    assert!(
        command.starts_with("curl -fsSL '") && command.ends_with("| sh"),
        "{command}"
    );

    let home = s.root.path().join("script-home");
    let out = Command::new("sh")
        .arg("-c")
        .arg(&command)
        .env("SIGNET_HOME", &home)
        .env("HOME", s.root.path())
        .output()
        .expect("sh");
    assert!(
        out.status.success(),
        "script failed: {}{}",
        stdout(&out),
        stderr(&out)
    );
    let vaults = home.join("vaults");
    let dir = std::fs::read_dir(&vaults)
        .expect("vaults")
        .next()
        .expect("one")
        .expect("entry")
        .path();
    assert_eq!(mode(&home), 0o700);
    assert_eq!(mode(&vaults), 0o700);
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("private.pem")), 0o600);
    assert_eq!(mode(&dir.join("identity.json")), 0o600);
    let ident: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("identity.json")).expect("read"))
            .expect("json");
    let machine = ident["machineId"].as_str().expect("id").to_owned();
    let printed = stdout(&out);
    let fp = printed
        .lines()
        .find_map(|l| l.strip_prefix("Key fingerprint: "))
        .expect("fingerprint line")
        .trim()
        .to_owned();

    // The token was single use: the script is no longer served (curl -f fails, so `sh` reads
    // nothing), and no identity is written.
    let h2 = s.root.path().join("h2");
    let again = Command::new("sh")
        .arg("-c")
        .arg(&command)
        .env("SIGNET_HOME", &h2)
        .output()
        .expect("sh");
    assert!(
        stderr(&again).contains("403"),
        "curl reports the refusal: {}",
        stderr(&again)
    );
    assert!(
        !h2.join("vaults").exists(),
        "a spent token must not enroll twice"
    );

    s.op_json(&["machine", "approve", &machine, "--fingerprint", &fp]);
    s.op_json(&["machine", "attach", &machine, "--project", &project]);
    s.op_json(&["machine", "grant", &machine, "--secret", &secret]);
    let out = crate::harness::run(&home, &["get", &secret]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim_end(), "k-123");
}

every_backend!(fn an_enrollment_token_creates_approved_ephemeral_machines_up_to_its_uses);
fn an_enrollment_token_creates_approved_ephemeral_machines_up_to_its_uses(backend: Backend) {
    let s = TestServer::start_on(backend);
    s.operator_init();
    let project = s.op_json(&["project", "create", "ci"])["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let secret = s.op_json(&[
        "secret",
        "create",
        "--project",
        &project,
        "--name",
        "TOKEN",
        "--value",
        "t-1",
    ])["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let vault = s.op_json(&["vault", "show"])["vaultId"]
        .as_str()
        .expect("vault")
        .to_owned();
    let t = s.op_json(&[
        "token",
        "enrollment",
        "create",
        "--project",
        &project,
        "--secret",
        &secret,
        "--uses",
        "1",
        "--machine-ttl",
        "1h",
        "--hostname-pattern",
        "[a-z0-9.-]+",
    ]);
    let token = t["token"].as_str().expect("token").to_owned();

    let out = s.machine(&[
        "enroll",
        "--server",
        &s.url,
        "--vault",
        &vault,
        "--enrollment-token",
        &token,
        "--name",
        "ci-runner",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = s.machine(&["get", &secret]);
    assert!(
        out.status.success(),
        "auto-approved and granted: {}",
        stderr(&out)
    );
    assert_eq!(stdout(&out).trim_end(), "t-1");
    let listed = s.op_json(&["machine", "list"]);
    let m = &listed["machines"][0];
    assert_eq!(m["kind"], "ephemeral");
    assert!(m["expiresAt"].as_i64().is_some());

    let other = s.root.path().join("other");
    let out = crate::harness::run(
        &other,
        &[
            "enroll",
            "--server",
            &s.url,
            "--vault",
            &vault,
            "--enrollment-token",
            &token,
        ],
    );
    assert!(!out.status.success(), "uses are exhausted");

    // Revoking the token stops new enrollments but not existing machines.
    let id = t["id"].as_str().expect("id").to_owned();
    s.op_json(&["token", "enrollment", "revoke", &id]);
    assert!(s.machine(&["get", &secret]).status.success());
}

every_backend!(async fn poll_list_export_and_revoke);
async fn poll_list_export_and_revoke(backend: Backend) {
    let f = Fixture::on(backend);
    let s = &f.server;
    let fields = s.op_json(&[
        "secret",
        "create",
        "--project",
        &f.project,
        "--name",
        "db_creds",
        "--field",
        "user=app",
        "--field",
        "pass=pw",
    ]);
    let fields_id = fields["id"].as_str().expect("id").to_owned();
    s.op_json(&["machine", "grant", &f.machine, "--secret", &fields_id]);
    let c =
        MachineClient::new(identity::load::<Identity>(&s.machine_identity()).expect("identity"))
            .expect("client");
    let sid = SecretId::parse(&f.secret).expect("id");

    // List: SikkerKey shape, fieldNames a string or null.
    let r = c
        .signed("GET", "/v1/secrets")
        .build()
        .expect("build")
        .send()
        .await
        .expect("send");
    let v = r.json::<serde_json::Value>().expect("json");
    let rows = v["secrets"].as_array().expect("secrets");
    assert_eq!(rows.len(), 2);
    let structured = rows
        .iter()
        .find(|r| r["id"] == fields_id.as_str())
        .expect("listed");
    assert_eq!(structured["fieldNames"], "pass,user");
    assert_eq!(structured["projectId"], f.project.as_str());
    assert!(
        rows.iter()
            .any(|r| r["id"] == f.secret.as_str() && r["fieldNames"].is_null())
    );

    // Export with an empty body, as the SDKs send it.
    let exported = c.export(None).await.expect("export");
    assert_eq!(exported.len(), 2);
    let out = s.machine(&["get", &fields_id, "pass"]);
    assert_eq!(stdout(&out).trim_end(), "pw");
    let out = s.machine(&["run", "--all", "--", "env"]);
    assert!(
        stdout(&out).lines().any(|l| l == "DB_CREDS_USER=app"),
        "{}",
        stdout(&out)
    );

    // Poll: nothing changed since the reads above; then changed, access_denied, deleted.
    let body = json!({"watch": [f.secret, fields_id]});
    let poll = |c: &MachineClient, body: serde_json::Value| {
        let req = c
            .signed("POST", "/v1/secrets/poll")
            .json(&body)
            .build()
            .expect("build");
        async move {
            req.send()
                .await
                .expect("send")
                .json::<serde_json::Value>()
                .expect("json")
        }
    };
    assert_eq!(poll(&c, body.clone()).await["changes"], json!({}));
    s.op_json(&["secret", "update", &f.secret, "--value", "v2"]);
    assert_eq!(
        poll(&c, body.clone()).await["changes"][&f.secret]["status"],
        "changed"
    );
    assert_eq!(c.get_secret(&sid).await.expect("read").expose(), "v2");
    assert_eq!(poll(&c, body.clone()).await["changes"], json!({}));
    s.op_json(&["machine", "ungrant", &f.machine, "--secret", &fields_id]);
    assert_eq!(
        poll(&c, body.clone()).await["changes"][&fields_id]["status"],
        "access_denied"
    );
    s.op_json(&["secret", "delete", &f.secret]);
    assert_eq!(
        poll(&c, body.clone()).await["changes"][&f.secret]["status"],
        "deleted"
    );

    // Revoked: the next request does not authenticate.
    s.op_json(&["machine", "revoke", &f.machine]);
    let r = c
        .signed("GET", "/v1/secrets")
        .build()
        .expect("build")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status, 401);
}

every_backend!(async fn poll_answers_alike_for_unknown_and_unreadable_ids);
/// Issue 9, finding 2: poll answers an id that never existed, a malformed one, and secrets of
/// another project (live or deleted) with the same bytes; `deleted` is kept for a secret the
/// machine was granted.
async fn poll_answers_alike_for_unknown_and_unreadable_ids(backend: Backend) {
    let f = Fixture::on(backend);
    let s = &f.server;
    let other = s.op_json(&["project", "create", "other"])["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let create = |name: &str| {
        s.op_json(&[
            "secret",
            "create",
            "--project",
            &other,
            "--name",
            name,
            "--value",
            "v",
        ])["id"]
            .as_str()
            .expect("id")
            .to_owned()
    };
    let elsewhere = create("ELSEWHERE");
    let deleted_elsewhere = create("GONE");
    s.op_json(&["secret", "delete", &deleted_elsewhere]);
    let never = SecretId::generate().to_string();
    let c =
        MachineClient::new(identity::load::<Identity>(&s.machine_identity()).expect("identity"))
            .expect("client");
    let answer = async |id: &str| {
        let r = c
            .signed("POST", "/v1/secrets/poll")
            .json(&json!({ "watch": [id] }))
            .build()
            .expect("build")
            .send()
            .await
            .expect("send");
        let body = String::from_utf8_lossy(&r.body).into_owned();
        (r.status, body.replace(id, "ID"))
    };

    let baseline = answer(&never).await;
    assert_eq!(
        baseline,
        (
            200,
            r#"{"changes":{"ID":{"status":"access_denied"}}}"#.to_owned()
        )
    );
    for id in [elsewhere.as_str(), deleted_elsewhere.as_str(), "sk_nope"] {
        assert_eq!(answer(id).await, baseline, "{id}");
    }
    s.op_json(&["secret", "delete", &f.secret]);
    assert_eq!(
        answer(&f.secret).await,
        (200, r#"{"changes":{"ID":{"status":"deleted"}}}"#.to_owned())
    );
}

every_backend!(fn rollback_makes_a_new_version_with_the_old_value);
fn rollback_makes_a_new_version_with_the_old_value(backend: Backend) {
    let f = Fixture::on(backend);
    let s = &f.server;
    s.op_json(&["secret", "update", &f.secret, "--value", "second"]);
    s.op_json(&["secret", "update", &f.secret, "--value", "third"]);
    assert_eq!(stdout(&s.machine(&["get", &f.secret])).trim_end(), "third");
    let rolled = s.op_json(&["secret", "rollback", &f.secret, "--version", "1"]);
    assert_eq!(rolled["version"], 4);
    assert_eq!(stdout(&s.machine(&["get", &f.secret])).trim_end(), f.value);
    let versions = s.op_json(&["secret", "versions", &f.secret]);
    let v = versions["versions"].as_array().expect("versions");
    assert_eq!(v.len(), 4);
    assert_eq!(v[3]["valueVersion"], 1);
}

#[test]
fn the_server_speaks_tls_with_rustls() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
        ])
        .args(["-addext", "subjectAltName=DNS:localhost"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl");
    assert!(made.status.success(), "openssl: {}", stderr(&made));

    let mut tls = TestServer::start_with(&[
        "--tls-cert",
        cert.to_str().expect("utf8"),
        "--tls-key",
        key.to_str().expect("utf8"),
    ]);
    let url = format!("https://localhost:{}/healthz", tls.port);
    let out = Command::new("curl")
        .args(["-sS", "--cacert"])
        .arg(&cert)
        .arg(&url)
        .output()
        .expect("curl");
    assert!(out.status.success(), "curl over TLS: {}", stderr(&out));
    assert_eq!(stdout(&out), "ok");
    // Plain HTTP to the TLS port is not served.
    let plain = Command::new("curl")
        .args(["-sS", "--max-time", "5"])
        .arg(format!("http://localhost:{}/healthz", tls.port))
        .output()
        .expect("curl");
    assert_ne!(stdout(&plain), "ok");
    tls.stop();
}

#[test]
fn plain_http_off_loopback_is_refused_without_the_flag() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = Command::new(crate::harness::bin())
        .args(["server", "--listen", "0.0.0.0:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("refusing plain HTTP"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn run_exits_with_the_childs_code_and_forwards_sigterm() {
    let f = Fixture::new();
    let out = f.server.machine(&[
        "run",
        "--secret",
        &f.secret,
        "--",
        "sh",
        "-c",
        "test -n \"$DATABASE_URL\" && exit 7",
    ]);
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));

    let mut child = Command::new(crate::harness::bin())
        .args([
            "run",
            "--all",
            "--",
            "sh",
            "-c",
            "trap 'exit 42' TERM; echo ready; while :; do sleep 0.1; done",
        ])
        .env("SIGNET_HOME", &f.server.machine_home)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().expect("stdout")),
        &mut line,
    )
    .expect("read");
    assert_eq!(line.trim(), "ready");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("signal");
    let status = child.wait().expect("wait");
    assert_eq!(
        status.code(),
        Some(42),
        "the child saw SIGTERM and its exit code came back"
    );
}

/// `POST path` with a JSON body, unsigned (enrollment routes are): the status and JSON answer.
async fn post_json(url: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
    let r = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("send");
    let status = r.status().as_u16();
    let text = r.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    )
}

/// The `proof` and `timestamp` fields `seed` makes for its own key.
fn proof_by(
    seed: &signet_proto::SecretSeed,
    vault: Option<&signet_proto::VaultId>,
    token: Option<&str>,
    secs: i64,
) -> (String, i64) {
    let p = signet_proto::EnrollmentProof::sign(
        seed,
        vault,
        token,
        signet_proto::Timestamp::from_secs(secs),
    );
    (p.signature.to_base64(), p.timestamp.secs())
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

every_backend!(async fn enrollment_proves_possession_of_the_key_and_a_vault_can_require_it);
async fn enrollment_proves_possession_of_the_key_and_a_vault_can_require_it(backend: Backend) {
    use signet_proto::{SecretSeed, VaultId};

    let s = TestServer::start_on(backend);
    s.operator_init();
    let project = s.op_json(&["project", "create", "pop"])["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let secret = s.op_json(&[
        "secret",
        "create",
        "--project",
        &project,
        "--name",
        "K",
        "--value",
        "v-1",
    ])["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let shown = s.op_json(&["vault", "show"]);
    assert_eq!(shown["requireEnrollmentProof"], false, "off by default");
    let vault_text = shown["vaultId"].as_str().expect("vault").to_owned();
    let vault = VaultId::parse(&vault_text).expect("vault id");
    let t = s.op_json(&[
        "token",
        "enrollment",
        "create",
        "--project",
        &project,
        "--secret",
        &secret,
        "--uses",
        "3",
    ]);
    let token = t["token"].as_str().expect("token").to_owned();
    let register = format!("{}/v1/{vault_text}/enroll/register", s.url);
    let uses = || s.op_json(&["token", "enrollment", "list"])["tokens"][0]["uses"].clone();

    let set = s.op_json(&["vault", "settings", "--require-enrollment-proof", "on"]);
    assert_eq!(set["requireEnrollmentProof"], true);
    let audit = s
        .op_json(&["audit", "list", "--action", "vault_settings_update"])
        .to_string();
    assert!(
        audit.contains("require_enrollment_proof=true"),
        "the change is audited: {audit}"
    );

    // The attack: a token holder registers someone else's public key. Without a proof it is
    // refused while the vault requires one, with a message that says why.
    let victim = SecretSeed::generate().public_key();
    let attacker = SecretSeed::generate();
    let bare = json!({"token": token, "publicKey": victim.to_base64(), "hostname": "h"});
    let (status, body) = post_json(&register, &bare).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["code"], "enrollment_proof_required");
    let message = body["error"].as_str().expect("error");
    assert!(
        message.contains("prove possession") && message.contains("SikkerKey"),
        "{message}"
    );

    // With a proof the attacker can make (by their own key): refused, setting on or off.
    let (proof, ts) = proof_by(&attacker, Some(&vault), Some(&token), unix_now());
    let forged = json!({
        "token": token, "publicKey": victim.to_base64(), "hostname": "h",
        "proof": proof, "timestamp": ts,
    });
    let (status, body) = post_json(&register, &forged).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "enrollment_proof_invalid");
    // A stale proof by the right key is refused too, and says so.
    let own = SecretSeed::generate();
    let (proof, ts) = proof_by(&own, Some(&vault), Some(&token), unix_now() - 3600);
    let stale = json!({
        "token": token, "publicKey": own.public_key().to_base64(), "hostname": "h",
        "proof": proof, "timestamp": ts,
    });
    let (status, body) = post_json(&register, &stale).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]
            .as_str()
            .expect("error")
            .contains("300 seconds"),
        "{body}"
    );
    assert_eq!(uses(), 0, "no refused attempt spends a use of the token");

    // Signet's CLI proves possession: it enrolls while the proof is required, and reads.
    let out = s.machine(&[
        "enroll",
        "--server",
        &s.url,
        "--vault",
        &vault_text,
        "--enrollment-token",
        &token,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&s.machine(&["get", &secret])).trim_end(), "v-1");
    assert_eq!(uses(), 1);
    // So does a tokenless request, and the bootstrap script (openssl pkeyutl -rawin).
    let asking = s.root.path().join("asking");
    let out = crate::harness::run(
        &asking,
        &[
            "enroll",
            "--server",
            &s.url,
            "--vault",
            &vault_text,
            "--request",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let command = s.op_json(&["token", "bootstrap"])["command"]
        .as_str()
        .expect("command")
        .to_owned();
    let out = Command::new("sh")
        .arg("-c")
        .arg(&command)
        .env("SIGNET_HOME", s.root.path().join("scripted"))
        .env("HOME", s.root.path())
        .output()
        .expect("sh");
    assert!(
        out.status.success(),
        "the script proves possession: {}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        !stderr(&out).contains("without a proof"),
        "{}",
        stderr(&out)
    );

    // Off: a SikkerKey-style body (no proof) registers again; a bad proof is still refused.
    let set = s.op_json(&["vault", "settings", "--require-enrollment-proof", "off"]);
    assert_eq!(set["requireEnrollmentProof"], false);
    let (status, body) = post_json(&register, &forged).await;
    assert_eq!(
        (status, &body["code"]),
        (400, &json!("enrollment_proof_invalid"))
    );
    let sdk_key = SecretSeed::generate().public_key();
    let sdk_style = json!({"token": token, "publicKey": sdk_key.to_base64(), "hostname": "sdk"});
    let (status, body) = post_json(&register, &sdk_style).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["vaultId"], vault_text.as_str());
    assert_eq!(uses(), 2);
}
