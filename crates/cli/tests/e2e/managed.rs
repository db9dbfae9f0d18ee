//! Issue 12 §2, managed database passwords, through real processes against the real local
//! PostgreSQL: the official SikkerKey CLI's `agent start` and `signet agent run` each rotate a
//! role's password by the two-phase protocol (the old password stops working, the new one is
//! the live version, the confirmation is audited); a rotation either agent cannot verify is
//! rolled back and rejected, keeping the old value; a stale rotation id is refused; a machine that is
//! not the secret's agent gets nothing; and `signet agent run` renders a secret into a 0600 file
//! and runs its reload command once per change.
//!
//! PostgreSQL here trusts loopback logins, so the managed roles are made members of
//! `signet_pw_checked`, whose members `scripts/setup.sh` makes log in with a password.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{Backend, Fixture, bin, every_backend, psql, stderr, stdout};

const PG_HOST: &str = "127.0.0.1";
const PG_PORT: &str = "5432";

/// The official CLI, as `scripts/setup.sh` installs it.
fn sikkerkey() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/agent/node_modules/@sikkerkey/cli-linux-x64/sikkerkey");
    assert!(
        p.exists(),
        "{} is missing: run scripts/setup.sh",
        p.display()
    );
    p
}

fn admin_url() -> String {
    signet_testkit::postgres::admin_url()
}

/// A login role whose password PostgreSQL checks, dropped at the end of the test.
struct Role {
    name: String,
}

impl Role {
    fn create(password: &str) -> Self {
        let mut raw = [0u8; 5];
        getrandom::fill(&mut raw).expect("OS RNG");
        let name = format!("signet_m_{}", hex::encode(raw));
        psql(
            &admin_url(),
            &format!("CREATE ROLE {name} LOGIN PASSWORD '{password}' IN ROLE signet_pw_checked"),
        )
        .expect("create role");
        let r = Self { name };
        assert!(
            !r.logs_in("not-the-password"),
            "PostgreSQL let {} in with a wrong password: run scripts/setup.sh (signet_pw_checked)",
            r.name
        );
        r
    }

    /// Whether `password` logs in as this role (over TCP, as the agents connect).
    fn logs_in(&self, password: &str) -> bool {
        Command::new("psql")
            .args([
                "-h", PG_HOST, "-p", PG_PORT, "-U", &self.name, "-d", "postgres", "-w",
            ])
            .args(["-tAc", "SELECT 1"])
            .env("PGPASSWORD", password)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("psql")
            .success()
    }
}

impl Drop for Role {
    fn drop(&mut self) {
        let _ = psql(&admin_url(), &format!("DROP ROLE IF EXISTS {}", self.name));
    }
}

/// A managed secret on a fresh role: its id and the role.
struct Managed {
    id: String,
    role: Role,
}

/// Registers the local PostgreSQL as a connection of the fixture's project, makes a structured
/// secret for `role` managed on it, with the fixture's machine as its agent.
fn managed(f: &Fixture, old_password: &str) -> Managed {
    let s = &f.server;
    let role = Role::create(old_password);
    // The admin password travels in an environment variable, never on the command line;
    // PostgreSQL trusts `postgres` here, so its value does not matter.
    let out = Command::new(bin())
        .args([
            "--json",
            "connection",
            "create",
            "--project",
            &f.project,
            "--name",
            "local",
        ])
        .args([
            "--host",
            PG_HOST,
            "--port",
            PG_PORT,
            "--database",
            "postgres",
        ])
        .args([
            "--admin-user",
            "postgres",
            "--admin-password-env",
            "SIGNET_TEST_ADMIN_PASSWORD",
        ])
        .args(["--tls-mode", "disable"])
        .env("SIGNET_HOME", &s.operator_home)
        .env("SIGNET_TEST_ADMIN_PASSWORD", "trusted-anyway")
        .output()
        .expect("connection create");
    assert!(out.status.success(), "connection create: {}", stderr(&out));
    let connection = serde_json::from_slice::<Value>(&out.stdout).expect("JSON")["id"]
        .as_str()
        .expect("connection id")
        .to_owned();
    let username = format!("username={}", role.name);
    let password = format!("password={old_password}");
    let id = f.structured_secret("APP_DB", &[&username, &password]);
    let m = s.op_json(&[
        "secret",
        "managed",
        "set",
        &id,
        "--connection",
        &connection,
        "--agent",
        &f.machine,
        "--poll-interval",
        "5s",
    ]);
    assert_eq!(m["username"], role.name.as_str());
    assert_eq!(m["agentMachineId"], f.machine.as_str());
    Managed { id, role }
}

fn machine_read(f: &Fixture, secret: &str, field: &str) -> String {
    let out = f.server.machine(&["get", secret, field]);
    assert!(out.status.success(), "get: {}", stderr(&out));
    stdout(&out).trim_end().to_owned()
}

fn show(f: &Fixture, id: &str) -> Value {
    f.server.op_json(&["secret", "managed", "show", id])["managed"].clone()
}

fn wait_for(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn audit_details(f: &Fixture, action: &str) -> Vec<String> {
    f.server
        .op_json(&["audit", "list", "--action", action, "--limit", "50"])["records"]
        .as_array()
        .expect("records")
        .iter()
        .map(|r| r["detail"].as_str().expect("detail").to_owned())
        .collect()
}

fn stop(child: Child) -> String {
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("pid")),
        nix::sys::signal::Signal::SIGTERM,
    );
    let out = child.wait_with_output().expect("agent output");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

every_backend!(async fn the_official_cli_agent_rotates_a_role_password);
async fn the_official_cli_agent_rotates_a_role_password(backend: Backend) {
    let f = Fixture::on(backend);
    let m = managed(&f, "OldPassword1");
    let rotation = f.server.op_json(&["secret", "rotate", &m.id]);
    assert_eq!(
        rotation["version"], 1,
        "a managed rotation is pending, not live"
    );
    let pending = show(&f, &m.id)["pendingRotationId"]
        .as_str()
        .expect("pending rotation")
        .to_owned();
    assert_eq!(machine_read(&f, &m.id, "password"), "OldPassword1");

    // The official CLI, with the machine's Signet identity (the same layout) and an empty HOME,
    // so it has no local agent configuration and asks the server.
    let home = tempfile::tempdir().expect("home");
    let agent = Command::new(sikkerkey())
        .args(["agent", "start", "--secret", &m.id])
        .env("SIKKERKEY_HOME", &f.server.machine_home)
        .env("HOME", home.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the official CLI");
    let mut confirmed = false;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        if show(&f, &m.id)["lastOutcome"] == "confirmed" {
            confirmed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let log = stop(agent);
    assert!(confirmed, "the official agent did not confirm: {log}");

    let state = show(&f, &m.id);
    assert_eq!(state["lastRotationId"], pending.as_str());
    assert_eq!(state["pendingRotationId"], Value::Null);
    assert_eq!(state["heartbeatStatus"], "healthy", "{state}");
    let live = f.server.op_json(&["secret", "show", &m.id]);
    assert_eq!(live["version"], 2);
    let new = machine_read(&f, &m.id, "password");
    assert_ne!(new, "OldPassword1");
    assert_eq!(machine_read(&f, &m.id, "username"), m.role.name);
    assert!(
        !m.role.logs_in("OldPassword1"),
        "the old password still works"
    );
    assert!(m.role.logs_in(&new), "the new password does not work");
    let confirms = audit_details(&f, "secret_rotation_confirmed");
    assert_eq!(confirms.len(), 1, "{confirms:?}");
    assert!(confirms[0].contains(&pending), "{confirms:?}");
    assert!(!audit_details(&f, "secret_sync_config").is_empty());

    // The role may no longer log in: the official agent sets the new password, cannot log in
    // with it, puts the old one back and rejects; the live value stays.
    psql(&admin_url(), &format!("ALTER ROLE {} NOLOGIN", m.role.name)).expect("nologin");
    f.server.op_json(&["secret", "rotate", &m.id]);
    let agent = Command::new(sikkerkey())
        .args(["agent", "start", "--secret", &m.id])
        .env("SIKKERKEY_HOME", &f.server.machine_home)
        .env("HOME", home.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the official CLI");
    let start = Instant::now();
    while show(&f, &m.id)["lastOutcome"] != "rejected" && start.elapsed() < Duration::from_secs(30)
    {
        std::thread::sleep(Duration::from_millis(250));
    }
    let log = stop(agent);
    let state = show(&f, &m.id);
    assert_eq!(state["lastOutcome"], "rejected", "{state} {log}");
    assert!(
        state["lastError"]
            .as_str()
            .is_some_and(|e| e.contains("verification failed")),
        "{state}"
    );
    assert_eq!(f.server.op_json(&["secret", "show", &m.id])["version"], 2);
    assert_eq!(machine_read(&f, &m.id, "password"), new);
    psql(&admin_url(), &format!("ALTER ROLE {} LOGIN", m.role.name)).expect("login");
    assert!(
        m.role.logs_in(&new),
        "the official agent's rollback did not restore it"
    );
    assert_eq!(audit_details(&f, "secret_rotation_rejected").len(), 1);
}

every_backend!(async fn signet_agent_rotates_and_rejects_what_it_cannot_verify);
async fn signet_agent_rotates_and_rejects_what_it_cannot_verify(backend: Backend) {
    let f = Fixture::on(backend);
    let m = managed(&f, "OldPassword2");
    let agent = |f: &Fixture| {
        f.server
            .machine(&["agent", "run", "--secret", &m.id, "--once"])
    };

    // Nothing pending: a pass changes nothing and succeeds.
    let idle = agent(&f);
    assert!(idle.status.success(), "{}", stderr(&idle));

    f.server.op_json(&["secret", "rotate", &m.id]);
    let out = agent(&f);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(show(&f, &m.id)["lastOutcome"], "confirmed");
    let second = machine_read(&f, &m.id, "password");
    assert!(!m.role.logs_in("OldPassword2"));
    assert!(m.role.logs_in(&second));

    // The role may no longer log in: the new password is set, the login fails, the agent puts
    // the old password back and rejects. The live value stays.
    psql(&admin_url(), &format!("ALTER ROLE {} NOLOGIN", m.role.name)).expect("nologin");
    f.server.op_json(&["secret", "rotate", &m.id]);
    let pending = show(&f, &m.id)["pendingRotationId"]
        .as_str()
        .expect("pending")
        .to_owned();
    let out = agent(&f);
    assert!(!out.status.success(), "a rejected pass must fail --once");
    let state = show(&f, &m.id);
    assert_eq!(state["lastOutcome"], "rejected", "{state}");
    assert_eq!(state["lastRotationId"], pending.as_str());
    assert!(
        state["lastError"]
            .as_str()
            .is_some_and(|e| e.contains("verification failed")),
        "{state}"
    );
    assert_eq!(f.server.op_json(&["secret", "show", &m.id])["version"], 2);
    assert_eq!(machine_read(&f, &m.id, "password"), second);
    psql(&admin_url(), &format!("ALTER ROLE {} LOGIN", m.role.name)).expect("login");
    assert!(
        m.role.logs_in(&second),
        "the rollback did not restore the password"
    );
    let rejects = audit_details(&f, "secret_rotation_rejected");
    assert_eq!(rejects.len(), 1, "{rejects:?}");
    assert!(rejects[0].contains(&pending), "{rejects:?}");
}

every_backend!(async fn stale_rotations_and_other_machines_are_refused);
async fn stale_rotations_and_other_machines_are_refused(backend: Backend) {
    let f = Fixture::on(backend);
    let m = managed(&f, "OldPassword3");
    let machine = signet_client::MachineClient::new(
        signet_client::identity::load::<signet_client::Identity>(&f.server.machine_identity())
            .expect("machine identity"),
    )
    .expect("machine client");
    let id = signet_client::SecretId::parse(&m.id).expect("id");

    // A rotation id that is not pending: 409, before and after a real one.
    let status = |r: Result<signet_client::api::agent::AgentAck, signet_client::ClientError>| {
        r.err().and_then(|e| e.status())
    };
    assert_eq!(
        status(machine.agent().confirm(&id, "rot_unknown").await),
        Some(409)
    );
    f.server.op_json(&["secret", "rotate", &m.id]);
    // SikkerKey's CLI lists it with its `managed` type.
    let listed = machine.cli_secrets().await.expect("cli secrets");
    let kinds: Vec<(&str, &str)> = listed
        .iter()
        .map(|s| (s.id.as_str(), s.kind.as_str()))
        .collect();
    assert!(kinds.contains(&(m.id.as_str(), "managed")), "{kinds:?}");
    assert!(kinds.contains(&(f.secret.as_str(), "secret")), "{kinds:?}");
    let cfg = machine.agent().sync_config(&id).await.expect("sync config");
    let rotation = cfg.pending_rotation_id.clone().expect("pending");
    assert_eq!(cfg.provider_type, "postgresql");
    assert_eq!(cfg.managed_username, m.role.name);
    assert_eq!(cfg.rotation_status, "pending");
    assert_eq!(
        status(machine.agent().confirm(&id, "rot_other").await),
        Some(409)
    );
    // A captured confirmation replayed is refused before it is looked at (401, nonce), and a
    // malformed secret id is the uniform 403.
    let confirm_path = format!("/v1/secret/{}/agent/confirm-rotation", m.id);
    let captured = machine
        .signed("POST", &confirm_path)
        .json(&serde_json::json!({"rotationId": "rot_captured"}))
        .build()
        .expect("build");
    assert_eq!(captured.send().await.expect("send").status, 409);
    assert_eq!(captured.send().await.expect("send").status, 401);
    let malformed = machine
        .signed("GET", "/v1/secret/sk_bad/sync-config")
        .build()
        .expect("build")
        .send()
        .await
        .expect("send");
    assert_eq!(malformed.status, 403);
    machine
        .agent()
        .reject(&id, &rotation, "test\u{7}error")
        .await
        .expect("reject");
    // A retry of the same rejection answers the same; confirming it is refused.
    machine
        .agent()
        .reject(&id, &rotation, "test error")
        .await
        .expect("reject again");
    assert_eq!(
        status(machine.agent().confirm(&id, &rotation).await),
        Some(409)
    );
    assert_eq!(
        audit_details(&f, "secret_rotation_rejected").len(),
        1,
        "a retried rejection is recorded once"
    );
    assert_eq!(show(&f, &m.id)["lastError"], "test error");

    // The agent without its grant: the uniform 403, until it is granted again.
    f.server
        .op_json(&["machine", "ungrant", &f.machine, "--secret", &m.id]);
    assert_eq!(
        machine
            .agent()
            .sync_config(&id)
            .await
            .err()
            .and_then(|e| e.status()),
        Some(403)
    );
    f.server
        .op_json(&["machine", "grant", &f.machine, "--secret", &m.id]);
    assert!(machine.agent().sync_config(&id).await.is_ok());

    // No longer its agent: every agent route is a 403, audited.
    let connection = show(&f, &m.id)["connectionId"]
        .as_str()
        .expect("connection")
        .to_owned();
    f.server.op_json(&[
        "secret",
        "managed",
        "set",
        &m.id,
        "--connection",
        &connection,
    ]);
    assert_eq!(
        machine
            .agent()
            .sync_config(&id)
            .await
            .err()
            .and_then(|e| e.status()),
        Some(403)
    );
    assert_eq!(
        status(machine.agent().heartbeat(&id, true, "").await),
        Some(403)
    );
    let denied = f.server.op_json(&[
        "audit",
        "list",
        "--action",
        "secret_sync_config",
        "--limit",
        "50",
    ]);
    assert!(
        denied["records"]
            .as_array()
            .expect("records")
            .iter()
            .any(|r| r["result"] == "denied" && r["detail"] == "not_sync_agent"),
        "{denied}"
    );
    // A standard secret is not managed: the same 403.
    let plain = signet_client::SecretId::parse(&f.secret).expect("id");
    assert_eq!(
        machine
            .agent()
            .sync_config(&plain)
            .await
            .err()
            .and_then(|e| e.status()),
        Some(403)
    );
}

every_backend!(async fn signet_agent_renders_files_and_reloads_once_per_change);
async fn signet_agent_renders_files_and_reloads_once_per_change(backend: Backend) {
    let f = Fixture::on(backend);
    let dir = tempfile::tempdir().expect("dir");
    let out_dir = dir.path().join("rendered");
    std::fs::create_dir(&out_dir).expect("mkdir");
    std::fs::set_permissions(&out_dir, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    let target = out_dir.join("database_url");
    let reloads = dir.path().join("reloads");
    let render = format!("{}={}", f.secret, target.display());
    let on_change = format!("echo reloaded >> {}", reloads.display());

    // A folder every user may write to is refused.
    let open = dir.path().join("open");
    std::fs::create_dir(&open).expect("mkdir");
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let refused = f.server.machine(&[
        "agent",
        "run",
        "--render",
        &format!("{}={}", f.secret, open.join("x").display()),
        "--once",
    ]);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("writable by every user"),
        "{}",
        stderr(&refused)
    );
    assert!(!open.join("x").exists());

    let agent = Command::new(bin())
        .args([
            "agent",
            "run",
            "--render",
            &render,
            "--on-change",
            &on_change,
        ])
        .args(["--interval", "1s"])
        .env("SIGNET_HOME", &f.server.machine_home)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start signet agent");
    let count = || {
        std::fs::read_to_string(&reloads)
            .map(|s| s.lines().count())
            .unwrap_or(0)
    };
    wait_for("the first render", Duration::from_secs(15), || count() == 1);
    assert_eq!(std::fs::read_to_string(&target).expect("read"), f.value);
    let mode = std::fs::metadata(&target)
        .expect("meta")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);

    f.server
        .op_json(&["secret", "update", &f.secret, "--value", "postgres://new"]);
    wait_for("the re-render", Duration::from_secs(15), || {
        std::fs::read_to_string(&target).is_ok_and(|s| s == "postgres://new")
    });
    wait_for("the reload", Duration::from_secs(5), || count() == 2);
    // No change, no reload.
    std::thread::sleep(Duration::from_millis(2500));
    let log = stop(agent);
    assert_eq!(count(), 2, "{log}");
    let leftovers: Vec<_> = std::fs::read_dir(&out_dir)
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "temporary files left: {leftovers:?}");
}
