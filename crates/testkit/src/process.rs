//! Real processes (feature `process`): a `signet server` on a free port with its own data
//! folder, and `signet` CLI invocations with their own `SIGNET_HOME`. Nothing is mocked; a test
//! talks HTTP to the server exactly as a user's shell would.
//!
//! The binary is the `signet` next to the running test's folder (`target/<profile>/signet`, which
//! cargo builds before `signet-cli`'s integration tests), or `SIGNET_TEST_BIN` when set.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

use crate::postgres::PgDatabase;

/// The binary under test: `SIGNET_TEST_BIN`, else `signet` in the folder above the running test
/// executable's (`target/<profile>/deps/<test>` → `target/<profile>/signet`).
pub fn bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(path) = std::env::var_os("SIGNET_TEST_BIN") {
            return PathBuf::from(path);
        }
        let exe = std::env::current_exe().expect("the test's own path");
        let profile = exe
            .parent()
            .and_then(Path::parent)
            .expect("a test executable under target/<profile>/deps");
        let path = profile.join(format!("signet{}", std::env::consts::EXE_SUFFIX));
        assert!(
            path.is_file(),
            "no signet binary at {} (run the tests with cargo test -p signet-cli, or set \
             SIGNET_TEST_BIN)",
            path.display()
        );
        path
    })
}

/// Which storage a test server runs on. Tests that hold for every backend run once per variant
/// (see [`every_backend!`](crate::every_backend)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The embedded default: a SQLite file in the data folder.
    Sqlite,
    /// A fresh database on the test PostgreSQL, with the root key in a file named by the config.
    Postgres,
}

/// Writes `signet.toml` naming `database_url` and a fresh root key file, both in `dir`; returns
/// the config's path. Every replica given this file shares the database and the key.
pub fn shared_config(dir: &Path, database_url: &str) -> PathBuf {
    use std::os::unix::fs::OpenOptionsExt;
    let key_path = dir.join("root.key");
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).expect("OS RNG");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&key_path)
        .expect("root key file");
    std::io::Write::write_all(&mut f, hex::encode(key).as_bytes()).expect("write root key");
    let config = dir.join("signet.toml");
    std::fs::write(
        &config,
        format!(
            "database_url = {:?}\nroot_key_file = {:?}\n",
            database_url,
            key_path.display().to_string()
        ),
    )
    .expect("write config");
    config
}

/// Runs one test body once per [`Backend`]: `every_backend!(async fn name)` (or `fn name` for a
/// synchronous body) expands to a module `name` with the tests `sqlite` and `postgres`, each
/// calling `name(backend)`. The calling crate needs `tokio` (with `macros`) for the async form.
#[macro_export]
macro_rules! every_backend {
    (async fn $name:ident) => {
        mod $name {
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::process::Backend::Sqlite).await
            }
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::process::Backend::Postgres).await
            }
        }
    };
    (fn $name:ident) => {
        mod $name {
            #[test]
            fn sqlite() {
                super::$name($crate::process::Backend::Sqlite)
            }
            #[test]
            fn postgres() {
                super::$name($crate::process::Backend::Postgres)
            }
        }
    };
}

/// A running server and the folders around it.
pub struct TestServer {
    /// Keeps the temporary folders alive (data, homes, logs).
    pub root: tempfile::TempDir,
    /// The server's data folder.
    pub data_dir: PathBuf,
    /// `SIGNET_HOME` of the operator's CLI.
    pub operator_home: PathBuf,
    /// `SIGNET_HOME` of the machine's CLI.
    pub machine_home: PathBuf,
    /// Where the server's stderr goes (appended across restarts).
    pub log_path: PathBuf,
    /// `http://localhost:PORT`.
    pub url: String,
    /// The port, kept across restarts so identities stay valid.
    pub port: u16,
    /// The `--config` file, also given to `operator init` (replicas keep their database URL and
    /// shared root key there).
    pub config: Option<PathBuf>,
    /// Extra environment for the server process (for example `FAILPOINTS`), kept across
    /// restarts.
    pub env: Vec<(String, String)>,
    /// Where the server's stdout goes (appended across restarts); `None` discards it. Set
    /// before spawning, for the stdout audit device.
    pub stdout_path: Option<PathBuf>,
    child: Option<Child>,
    // After `child` (killed in `drop`), so the database outlives the process.
    db: Option<PgDatabase>,
}

impl TestServer {
    /// Starts a fresh server on a free port.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts a fresh server on `backend`.
    pub fn start_on(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => Self::start(),
            Backend::Postgres => {
                let db = PgDatabase::create();
                let mut s = Self::unstarted();
                let config = shared_config(s.root.path(), db.url());
                s.config = Some(config);
                s.db = Some(db);
                s.spawn(0, &[]).expect("server starts on PostgreSQL");
                s
            }
        }
    }

    /// Starts a fresh server with a config file (which stays in charge across restarts).
    pub fn start_with_config(config: &Path) -> Self {
        Self::try_start_with_config(config).expect("server starts")
    }

    /// The same, returning the server's log if it exits instead of listening.
    pub fn try_start_with_config(config: &Path) -> Result<Self, String> {
        Self::try_start_with_config_env(config, &[])
    }

    /// The same, with extra environment for the server process.
    pub fn try_start_with_config_env(config: &Path, env: &[(&str, &str)]) -> Result<Self, String> {
        let mut s = Self::unstarted();
        s.config = Some(config.to_owned());
        s.env = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        s.spawn(0, &[])?;
        Ok(s)
    }

    /// Starts a fresh server with extra flags.
    pub fn start_with(extra: &[&str]) -> Self {
        let mut s = Self::unstarted();
        s.spawn(0, extra).expect("server starts");
        s
    }

    /// A server on `backend` that has not started yet (to start it with [`TestServer::spawn_env`]).
    pub fn unstarted_on(backend: Backend) -> Self {
        let mut s = Self::unstarted();
        if backend == Backend::Postgres {
            let db = PgDatabase::create();
            s.config = Some(shared_config(s.root.path(), db.url()));
            s.db = Some(db);
        }
        s
    }

    fn unstarted() -> Self {
        let root = tempfile::tempdir().expect("tempdir");
        let data_dir = root.path().join("data");
        let operator_home = root.path().join("operator-home");
        let machine_home = root.path().join("machine-home");
        let log_path = root.path().join("server.log");
        Self {
            root,
            data_dir,
            operator_home,
            machine_home,
            log_path,
            url: String::new(),
            port: 0,
            config: None,
            env: Vec::new(),
            stdout_path: None,
            child: None,
            db: None,
        }
    }

    /// Spawns the server process; returns its stderr text if it exits instead of listening.
    pub fn spawn(&mut self, port: u16, extra: &[&str]) -> Result<(), String> {
        self.spawn_env(port, extra, &[])
    }

    /// [`TestServer::spawn`] with extra environment variables (`FAILPOINTS`, say).
    pub fn spawn_env(
        &mut self,
        port: u16,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Result<(), String> {
        let mut cmd = Command::new(bin());
        cmd.arg("server")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"));
        if let Some(config) = &self.config {
            cmd.arg("--config").arg(config);
        }
        cmd.args(extra);
        cmd.env("SIGNET_LOG", "debug")
            .envs(env.iter().copied())
            .env_remove("SIGNET_CONFIG")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stderr(Stdio::piped());
        match &self.stdout_path {
            None => cmd.stdout(Stdio::null()),
            Some(path) => cmd.stdout(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .expect("stdout file"),
            ),
        };
        let mut child = cmd.spawn().expect("spawn signet server");
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, rx) = mpsc::channel();
        let log_path = self.log_path.clone();
        std::thread::spawn(move || {
            use std::io::Write;
            let mut log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log_path)
                .expect("log file");
            let mut sent = false;
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let _ = writeln!(log, "{line}");
                if !sent && let Some(addr) = line.strip_prefix("signet: listening on ") {
                    let _ = tx.send(Ok(addr.to_owned()));
                    sent = true;
                }
            }
            if !sent {
                let _ = tx.send(Err(()));
            }
        });
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(Ok(addr)) => {
                let port: u16 = addr
                    .rsplit(':')
                    .next()
                    .and_then(|p| p.parse().ok())
                    .expect("port");
                self.port = port;
                self.url = format!("http://localhost:{port}");
                self.child = Some(child);
                Ok(())
            }
            _ => {
                let _ = child.wait();
                Err(std::fs::read_to_string(&self.log_path).unwrap_or_default())
            }
        }
    }

    /// SIGKILL, as a crash would.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Waits up to `timeout` for the server to exit on its own; true if it did.
    pub fn wait_exit(&mut self, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            match self.child.as_mut().map(Child::try_wait) {
                None => return true,
                Some(Ok(Some(_))) => {
                    self.child = None;
                    return true;
                }
                Some(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
        false
    }

    /// Graceful stop (SIGTERM), waiting for exit.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(c.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            let _ = c.wait();
        }
    }

    /// Starts again on the same port and data folder.
    pub fn restart(&mut self) {
        self.stop();
        let port = self.port;
        self.spawn(port, &[]).expect("server restarts");
    }

    /// Runs the CLI as the operator.
    pub fn op(&self, args: &[&str]) -> Output {
        run(&self.operator_home, args)
    }

    /// Runs the CLI as the operator with `--json` and parses the one object it prints; panics
    /// with the CLI's stderr on failure.
    pub fn op_json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.op(&all);
        assert!(
            out.status.success(),
            "signet {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "signet {args:?}: not JSON ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    /// Runs the CLI as the machine.
    pub fn machine(&self, args: &[&str]) -> Output {
        run(&self.machine_home, args)
    }

    /// The machine's identity file.
    pub fn machine_identity(&self) -> PathBuf {
        let vaults = self.machine_home.join("vaults");
        let dir = std::fs::read_dir(&vaults)
            .expect("vaults dir")
            .next()
            .expect("one vault")
            .expect("entry")
            .path();
        dir.join("identity.json")
    }

    /// `signet operator init` for this server.
    pub fn operator_init(&self) -> Value {
        let mut cmd = Command::new(bin());
        cmd.args(["operator", "init", "--json", "--data-dir"])
            .arg(&self.data_dir)
            .args(["--api-url", &self.url])
            .env("SIGNET_HOME", &self.operator_home);
        if let Some(config) = &self.config {
            cmd.arg("--config").arg(config);
        }
        let out = cmd.output().expect("run operator init");
        assert!(
            out.status.success(),
            "operator init: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("operator init JSON")
    }

    /// The PostgreSQL database this server runs on, if not SQLite.
    pub fn database_url(&self) -> Option<&str> {
        self.db.as_ref().map(PgDatabase::url)
    }

    /// The server process's id, while it runs (for reading `/proc/<pid>/status`).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Runs `signet` with `SIGNET_HOME=home`.
pub fn run(home: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .env("SIGNET_HOME", home)
        .env_remove("SIGNET_IDENTITY")
        .env_remove("SIGNET_OPERATOR_IDENTITY")
        .output()
        .expect("run signet")
}

/// Runs `signet` with `SIGNET_HOME=home` and `stdin` on its standard input (a password, say).
pub fn run_with_stdin(home: &Path, args: &[&str], stdin: &str) -> Output {
    use std::io::Write as _;
    let mut child = Command::new(bin())
        .args(args)
        .env("SIGNET_HOME", home)
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

/// Stdout as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Everything a signed read needs: a project, a secret, and an approved machine attached to the
/// project and granted the secret.
pub struct Fixture {
    /// The server.
    pub server: TestServer,
    /// The project id.
    pub project: String,
    /// A standard secret's id.
    pub secret: String,
    /// Its value.
    pub value: String,
    /// The machine id.
    pub machine: String,
}

impl Fixture {
    /// A typed client signed with the operator key `operator init` made for this fixture.
    pub fn operator_client(&self) -> signet_client::OperatorClient {
        let dir = std::fs::read_dir(self.server.operator_home.join("operators"))
            .expect("operators")
            .next()
            .expect("one")
            .expect("entry")
            .path();
        signet_client::OperatorClient::new(
            signet_client::identity::load::<signet_client::identity::OperatorIdentity>(
                &dir.join("identity.json"),
            )
            .expect("op identity"),
        )
        .expect("op client")
    }

    /// Creates a structured secret named `name` in the fixture's project with `fields`
    /// (`NAME=VALUE` each, through the CLI's `--field`), grants it to the fixture's machine, and
    /// returns its id.
    pub fn structured_secret(&self, name: &str, fields: &[&str]) -> String {
        let mut args = vec![
            "secret",
            "create",
            "--project",
            &self.project,
            "--name",
            name,
        ];
        for field in fields {
            args.extend(["--field", field]);
        }
        let id = self.server.op_json(&args)["id"]
            .as_str()
            .expect("secret id")
            .to_owned();
        self.server
            .op_json(&["machine", "grant", &self.machine, "--secret", &id]);
        id
    }

    /// The full newcomer path: operator init, project, secret, bootstrap token, enroll,
    /// approve, attach, grant.
    // No `Default`: this starts a process and runs a dozen CLI commands, nothing a default is.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        Self::with_server(TestServer::start())
    }

    /// The same on `backend`.
    pub fn on(backend: Backend) -> Self {
        Self::with_server(TestServer::start_on(backend))
    }

    /// The same, on a given server.
    pub fn with_server(server: TestServer) -> Self {
        server.operator_init();
        let project = server.op_json(&["project", "create", "payments"])["id"]
            .as_str()
            .expect("project id")
            .to_owned();
        let value = "postgres://app:s3cr3t@db/payments".to_owned();
        let secret = server.op_json(&[
            "secret",
            "create",
            "--project",
            &project,
            "--name",
            "DATABASE_URL",
            "--value",
            &value,
        ])["id"]
            .as_str()
            .expect("secret id")
            .to_owned();
        let token = server.op_json(&["token", "bootstrap"])["token"]
            .as_str()
            .expect("token")
            .to_owned();
        let out = server.machine(&[
            "enroll",
            "--server",
            &server.url,
            "--token",
            &token,
            "--name",
            "web-1",
        ]);
        assert!(out.status.success(), "enroll: {}", stderr(&out));
        let ident: Value = serde_json::from_str(
            &std::fs::read_to_string(server.machine_identity()).expect("identity"),
        )
        .expect("json");
        let machine = ident["machineId"].as_str().expect("machine id").to_owned();
        server.op_json(&["machine", "approve", &machine]);
        server.op_json(&["machine", "attach", &machine, "--project", &project]);
        server.op_json(&["machine", "grant", &machine, "--secret", &secret]);
        Self {
            server,
            project,
            secret,
            value,
            machine,
        }
    }
}
