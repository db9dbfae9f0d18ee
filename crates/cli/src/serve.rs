//! `signet server` and `signet operator init`: the two commands that run on the server host
//! with file access to the data folder.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use sd_notify::NotifyState;
use signet_client::identity::{OperatorIdentity, SignetHome};
use signet_core::SignetConfig;
use signet_server::config::FileConfig;
use signet_server::{AppState, Listener, TlsListener, install};

/// `signet server` flags. Each overrides the same key of `--config`.
#[derive(Debug, Args)]
pub struct ServerArgs {
    /// Data folder (database and, by default, the root key). Default: ./signet-data
    #[arg(long, env = "SIGNET_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Address to listen on. Default: 127.0.0.1:8420
    #[arg(long, env = "SIGNET_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// TOML configuration file.
    #[arg(long, env = "SIGNET_CONFIG")]
    pub config: Option<PathBuf>,
    /// Where the data lives: sqlite://PATH, or postgres://USER@HOST/DB to run several replicas
    /// on one database (the root key must then come from root_key_file or root_key_env).
    /// Default: the SQLite file in the data folder.
    #[arg(long, env = "SIGNET_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// TLS certificate chain (PEM).
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Allow plain HTTP on a non-loopback address (only behind a TLS-terminating proxy).
    #[arg(long)]
    pub insecure_http: bool,
    /// Public base URL given to machines. Default: derived from --listen.
    #[arg(long)]
    pub api_url: Option<String>,
    /// Log JSON lines instead of text.
    #[arg(long)]
    pub log_json: bool,
    /// Serve Prometheus metrics at /metrics on this address (a listener of its own, plain
    /// HTTP). Loopback only unless --metrics-allow-remote. Default: off.
    #[arg(long, env = "SIGNET_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// Allow --metrics-listen on a non-loopback address (no authentication: firewall it).
    #[arg(long, env = "SIGNET_METRICS_ALLOW_REMOTE")]
    pub metrics_allow_remote: bool,
    /// Benchmarks only: secret reads check the signature and answer a constant (loopback only).
    #[arg(long, env = "SIGNET_BENCH_CEILING", hide = true)]
    pub bench_ceiling: bool,
    // Unsealing the root key (docs/operations.md, "Unsealing the root key"). The PIN is never
    // a flag's value: it would show in `ps`.
    /// A passphrase-sealed root key file (made by `signet unseal init|seal --passphrase`).
    #[arg(long, env = "SIGNET_ROOT_KEY_SEALED_FILE", value_name = "PATH")]
    pub root_key_sealed_file: Option<PathBuf>,
    /// Read the sealed key's passphrase from this file descriptor (to its end) at start.
    /// Without it: the systemd credential, then a prompt if stdin is a terminal.
    #[arg(long, env = "SIGNET_ROOT_KEY_PASSPHRASE_FD", value_name = "N")]
    pub root_key_passphrase_fd: Option<i32>,
    /// The systemd credential holding the passphrase. Default: signet-root-passphrase
    #[arg(
        long,
        env = "SIGNET_ROOT_KEY_PASSPHRASE_CREDENTIAL",
        value_name = "NAME"
    )]
    pub root_key_passphrase_credential: Option<String>,
    /// A root key file sealed by a PKCS#11 token (made by `signet unseal init|seal --pkcs11`).
    #[arg(long, env = "SIGNET_ROOT_KEY_PKCS11_FILE", value_name = "PATH")]
    pub root_key_pkcs11_file: Option<PathBuf>,
    /// The PKCS#11 module, for example /usr/lib/softhsm/libsofthsm2.so.
    #[arg(long, env = "SIGNET_PKCS11_MODULE", value_name = "PATH")]
    pub pkcs11_module: Option<PathBuf>,
    /// A file holding the token's user PIN.
    #[arg(long, env = "SIGNET_PKCS11_PIN_FILE", value_name = "PATH")]
    pub pkcs11_pin_file: Option<PathBuf>,
    /// The name of an environment variable holding the token's user PIN.
    #[arg(long, env = "SIGNET_PKCS11_PIN_ENV", value_name = "VAR")]
    pub pkcs11_pin_env: Option<String>,
    /// The systemd credential holding the token's user PIN. Default: signet-pkcs11-pin
    #[arg(long, env = "SIGNET_PKCS11_PIN_CREDENTIAL", value_name = "NAME")]
    pub pkcs11_pin_credential: Option<String>,
}

impl ServerArgs {
    fn file_config(&self) -> Result<FileConfig> {
        let mut f = match &self.config {
            Some(p) => FileConfig::load(p)?,
            None => FileConfig::default(),
        };
        f.data_dir = self.data_dir.clone().or(f.data_dir);
        f.database_url = self.database_url.clone().or(f.database_url);
        f.listen = self.listen.or(f.listen);
        f.tls_cert = self.tls_cert.clone().or(f.tls_cert);
        f.tls_key = self.tls_key.clone().or(f.tls_key);
        f.api_url = self.api_url.clone().or(f.api_url);
        if self.insecure_http {
            f.insecure_http = Some(true);
        }
        if self.log_json {
            f.log_json = Some(true);
        }
        f.metrics_listen = self.metrics_listen.or(f.metrics_listen);
        if self.metrics_allow_remote {
            f.metrics_allow_remote = Some(true);
        }
        if self.bench_ceiling {
            f.bench_ceiling = Some(true);
        }
        // Unsealing the root key.
        f.root_key_sealed_file = self.root_key_sealed_file.clone().or(f.root_key_sealed_file);
        f.root_key_passphrase_fd = self.root_key_passphrase_fd.or(f.root_key_passphrase_fd);
        f.root_key_passphrase_credential = self
            .root_key_passphrase_credential
            .clone()
            .or(f.root_key_passphrase_credential);
        f.root_key_pkcs11_file = self.root_key_pkcs11_file.clone().or(f.root_key_pkcs11_file);
        f.pkcs11_module = self.pkcs11_module.clone().or(f.pkcs11_module);
        f.pkcs11_pin_file = self.pkcs11_pin_file.clone().or(f.pkcs11_pin_file);
        f.pkcs11_pin_env = self.pkcs11_pin_env.clone().or(f.pkcs11_pin_env);
        f.pkcs11_pin_credential = self
            .pkcs11_pin_credential
            .clone()
            .or(f.pkcs11_pin_credential);
        Ok(f)
    }
}

/// Logs to stderr at `default` level unless `SIGNET_LOG` says otherwise.
pub(crate) fn init_logging(json: bool, default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SIGNET_LOG")
        .unwrap_or_else(|_| default.into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal: a file, journald or a log shipper
        // would keep them as noise.
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// A secrets server must not leave its memory in a core file.
fn disable_core_dumps() {
    if let Err(e) = nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_CORE, 0, 0) {
        tracing::warn!(error = %e, "could not disable core dumps");
    }
}

/// Resolves on the first SIGINT or SIGTERM. Both handlers are installed when this is called, not
/// when the future is first polled: the server announces readiness before the accept loop polls
/// it, and a `systemctl stop` right after must drain, not meet the default action and kill.
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut int = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    Ok(async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        tracing::info!("shutting down: draining in-flight requests");
        notify_service_manager(&[
            NotifyState::Stopping,
            NotifyState::Status("draining in-flight requests"),
        ]);
    })
}

/// Tells systemd (`Type=notify`, deploy/systemd/signet.service) how start-up and shutdown go.
/// Without `NOTIFY_SOCKET`, that is anywhere but under a service manager, it does nothing. A
/// failure is logged and never stops the server: the manager's start timeout is what reports a
/// readiness that never came.
fn notify_service_manager(states: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::warn!(error = %e, "could not notify the service manager");
    }
}

/// Sends `READY=1` once the store answers as `/readyz` requires, so units ordered after Signet
/// (and `systemctl start`, which waits for it) find a server that serves. The listener is bound
/// before this runs: a request sent on the notification waits in the backlog until the accept
/// loop, started right after, takes it. While the store opened but cannot take writes yet (a
/// write lock held elsewhere, a PostgreSQL failing over) the unit's status says so and the check
/// is repeated.
///
/// `ready` is the `/readyz` check and `notify` the way to the service manager, as parameters so
/// the unit test below can hold the store back.
async fn announce_ready<R, F>(mut ready: R, status: String, notify: impl Fn(&[NotifyState<'_>]))
where
    R: FnMut() -> F,
    F: std::future::Future<Output = bool>,
{
    let mut said_waiting = false;
    loop {
        if ready().await {
            notify(&[NotifyState::Ready, NotifyState::Status(&status)]);
            return;
        }
        if !said_waiting {
            notify(&[NotifyState::Status("waiting for the store to answer")]);
            said_waiting = true;
        }
        tokio::time::sleep(READY_RETRY).await;
    }
}

/// How often start-up asks the store again before announcing readiness.
const READY_RETRY: Duration = Duration::from_millis(250);

/// Runs the server until SIGINT or SIGTERM.
pub async fn server(args: ServerArgs) -> Result<()> {
    let file = args.file_config()?;
    let url_given = file.api_url.is_some();
    let mut config = file.resolve()?;
    init_logging(config.log_json, "info");
    disable_core_dumps();
    // Bind first: with port 0 the advertised URL depends on the port the OS picked.
    let tcp = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    if !url_given && config.listen.port() == 0 {
        config.api_url =
            signet_server::config::default_api_url(tcp.local_addr()?, config.tls.is_some());
    }
    let signet = install::open_server(&config).await?;
    let listener = match &config.tls {
        Some((cert, key)) => Listener::Tls(TlsListener::new(
            tcp,
            signet_server::listener::acceptor(cert, key)?,
        )?),
        None => Listener::Plain(tcp),
    };
    let addr = listener.local_addr()?;
    let data_dir = std::path::absolute(&config.data_dir).unwrap_or(config.data_dir.clone());
    // A stable line for scripts and tests that start the server on port 0.
    eprintln!("signet: listening on {addr}");
    tracing::info!(%addr, vault = %signet.vault_id(), api_url = %config.api_url, data_dir = %data_dir.display(), "signet server listening");
    eprintln!(
        "\nSignet is serving vault {vault} on {url}\n\
         Next, in another shell on this host, create your operator key (once):\n  \
         signet operator init --data-dir {dir} --api-url {url}\n",
        vault = signet.vault_id(),
        url = config.api_url,
        dir = data_dir.display(),
    );
    // Printed, never logged: the code is a credential for the first owner, for one hour.
    if let Some(code) = signet.sessions().issue_setup_code().await? {
        eprintln!(
            "First run: create the owner account in a browser, within one hour:\n  \
             {url}/#/setup/{code}\n\
             (or headless: signet user create-owner --data-dir {dir})\n",
            url = config.api_url,
            code = code.as_str(),
            dir = data_dir.display(),
        );
    }
    let state = AppState::new(signet, config.trusted_proxies.clone())
        .with_limits(config.limits)
        .with_trash_purge_every(config.trash_purge_every)
        .with_lease_reap_every(config.lease_reap_every)
        .with_alert_intervals(config.webhooks.tail_every, config.webhooks.dispatch_every)
        .with_audit_archive(config.audit_archive.clone(), config.audit_archive_every)
        .with_build(signet_client::api::health::ServerVersionAnswer {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            commit: env!("SIGNET_COMMIT").to_owned(),
            build_date: env!("SIGNET_BUILD_DATE").to_owned(),
        });
    let state = if config.bench_ceiling {
        eprintln!(
            "signet: BENCHMARK CEILING MODE: secret reads answer a constant after the signature \
             check (no nonce, no audit). For scripts/bench.sh only."
        );
        state.with_bench_ceiling()
    } else {
        state
    };
    // Bound before serving, so a bad address fails the start rather than the first scrape.
    let metrics = match config.metrics_listen {
        Some(addr) => {
            let tcp = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen for metrics on {addr}"))?;
            let addr = tcp.local_addr()?;
            // A stable line for scripts and tests that start the listener on port 0.
            eprintln!(
                "signet: metrics on http://{addr}{}",
                signet_server::metrics::PATH
            );
            tracing::info!(%addr, "metrics listener");
            let state = state.clone();
            let limits = config.limits;
            Some(tokio::spawn(async move {
                let served = signet_server::metrics::serve(
                    Listener::Plain(tcp),
                    &state,
                    limits,
                    std::future::pending(),
                )
                .await;
                if let Err(e) = served {
                    tracing::error!(error = %e, "the metrics listener stopped");
                }
            }))
        }
        None => None,
    };
    let shutdown = shutdown_signal()?;
    let signet = Arc::clone(&state.signet);
    let ready = tokio::spawn(announce_ready(
        move || {
            let signet = Arc::clone(&signet);
            async move { signet.ready().await }
        },
        format!("serving vault {} on {addr}", state.signet.vault_id()),
        notify_service_manager,
    ));
    let served = signet_server::run(listener, state, shutdown).await;
    // A stop that came before readiness must not be followed by a late READY=1.
    ready.abort();
    if let Some(task) = metrics {
        task.abort();
    }
    served?;
    Ok(())
}

/// `signet operator init` flags.
#[derive(Debug, Args)]
pub struct OperatorInitArgs {
    /// The server's data folder.
    #[arg(long, env = "SIGNET_DATA_DIR")]
    pub data_dir: PathBuf,
    /// The server's public URL, written into the operator identity.
    #[arg(long)]
    pub api_url: String,
    /// A name for this operator key.
    #[arg(long, default_value = "owner")]
    pub name: String,
    /// The server's config file, if the root key is not in the data folder.
    #[arg(long, env = "SIGNET_CONFIG")]
    pub config: Option<PathBuf>,
    /// The server's database, if not the SQLite file in the data folder.
    #[arg(long, env = "SIGNET_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
}

/// Creates an operator key pair for the local CLI. Needs file access to the data folder and no
/// network; the private key is written only under `$SIGNET_HOME/operators/<vaultId>/`.
pub async fn operator_init(args: OperatorInitArgs, json: bool) -> Result<()> {
    let mut file = match &args.config {
        Some(p) => FileConfig::load(p)?,
        None => FileConfig::default(),
    };
    file.data_dir = Some(args.data_dir.clone());
    file.database_url = args.database_url.clone().or(file.database_url);
    file.api_url = Some(args.api_url.trim_end_matches('/').to_owned());
    // No listener is opened here; only the key source and the URL are resolved.
    file.insecure_http = Some(true);
    let config = file.resolve()?;
    let core = SignetConfig {
        api_url: config.api_url.clone(),
        ..SignetConfig::default()
    };
    let signet = install::open(&config.data_dir, &config.database, &config.root_key, core).await?;
    let (rec, seed) = signet.operators().create_operator(&args.name, true).await?;
    let identity = OperatorIdentity {
        operator_id: rec.id,
        name: rec.name.clone(),
        vault_id: signet.vault_id().clone(),
        api_url: config.api_url.clone(),
        private_key_path: String::new(),
    };
    let saved = SignetHome::from_env()?.save(identity, seed)?;
    let path = saved.credentials.path().display().to_string();
    if json {
        println!(
            "{}",
            serde_json::json!({ "id": rec.id, "operatorId": rec.id, "vaultId": signet.vault_id(), "identity": path })
        );
    } else {
        println!(
            "Operator {} created for vault {}.",
            rec.id,
            signet.vault_id()
        );
        println!("Identity written to {path} (key 0600).");
        if let Some(old) = saved.replaced {
            println!("The previous identity was moved to {}.", old.display());
        }
        println!("Try: signet project create demo");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// systemd must hear READY=1 only after the readiness check passed, once, with the status
    /// line; while it fails, only a status saying why (once, not every retry).
    #[tokio::test]
    async fn ready_is_announced_once_and_only_after_the_store_answers() {
        let checks = AtomicUsize::new(0);
        let sent = Mutex::new(Vec::<String>::new());
        announce_ready(
            || {
                let n = checks.fetch_add(1, Ordering::SeqCst);
                let before = sent.lock().map(|s| s.len()).unwrap_or(0);
                async move {
                    // Nothing but the one waiting status may have been sent while not ready.
                    assert!(
                        before <= 1,
                        "sent {before} messages before the store answered"
                    );
                    n >= 3
                }
            },
            "serving vault v on 127.0.0.1:1".into(),
            |states: &[NotifyState<'_>]| {
                let line: Vec<String> = states.iter().map(ToString::to_string).collect();
                sent.lock().unwrap().push(line.join("\n"));
            },
        )
        .await;
        assert_eq!(checks.load(Ordering::SeqCst), 4);
        assert_eq!(
            *sent.lock().unwrap(),
            [
                "STATUS=waiting for the store to answer",
                "READY=1\nSTATUS=serving vault v on 127.0.0.1:1",
            ]
        );
    }
}
