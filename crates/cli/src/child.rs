//! `signet run`: a child process started with secrets added to its environment. Signet stays in
//! between only to forward SIGINT and SIGTERM and to pass the child's exit status back; with
//! `--watch`, also to hear of changes (a rotation, an update, a deletion, a change of this
//! machine's access) on the server's event stream, or by polling a server that has none, and
//! restart the child with the new values: SIGTERM, then SIGKILL after `--grace`.

use std::io::Write as _;
use std::os::unix::process::ExitStatusExt as _;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use futures_util::StreamExt as _;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use signet_client::events::Event;
use signet_client::{MachineClient, ProjectId, SecretId};
use tokio::signal::unix::{SignalKind, signal};

use crate::environment::EnvVars;
use crate::export::{collect, resolve_project};
use crate::identity::MachineOpts;

/// `signet run`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["secret", "all"])))]
pub struct RunArgs {
    /// A secret to inject, by id (repeatable). Its variable is named after the secret's name.
    #[arg(long, value_name = "ID")]
    secret: Vec<String>,
    /// Inject every readable secret (or every one in --project).
    #[arg(long)]
    all: bool,
    /// Limit to this project (its name or id).
    #[arg(long, value_name = "PROJECT")]
    project: Option<String>,
    /// Prepended to every variable name.
    #[arg(long, default_value = "")]
    prefix: String,
    /// Print the variables that would be set (values masked) instead of running anything.
    #[arg(long)]
    dry_run: bool,
    /// With --dry-run, print the real values.
    #[arg(long, requires = "dry_run")]
    show_values: bool,
    /// Listen for changes to the injected secrets (a rotation, an update, a deletion, a change
    /// of this machine's access) on the server's event stream, or poll a server that has none;
    /// on one, stop the child (SIGTERM, then SIGKILL after --grace) and start it again with the
    /// new values. A child that exits is started again at the next change.
    #[arg(long, conflicts_with = "dry_run")]
    watch: bool,
    /// With --watch, how often to poll a server without an event stream (e.g. 15s, 1m; default
    /// 15s).
    #[arg(long, value_name = "DURATION", value_parser = crate::duration::parse, requires = "watch")]
    watch_interval: Option<u64>,
    /// With --watch, how long the child has to exit after SIGTERM before it gets SIGKILL
    /// (default 10s).
    #[arg(long, value_name = "DURATION", value_parser = crate::duration::parse, requires = "watch")]
    grace: Option<u64>,
    #[command(flatten)]
    opts: MachineOpts,
    /// The command and its arguments, after `--`.
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// Builds the variables, then runs the command (or prints them for `--dry-run`).
pub async fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    if args.command.is_empty() && !args.dry_run {
        anyhow::bail!("no command given: use `signet run ... -- COMMAND [ARGS...]`");
    }
    let client = args.opts.client()?;
    let project = match &args.project {
        Some(p) => Some(resolve_project(&client, p).await?),
        None => None,
    };
    // Where the event stream starts, taken before the first read: a change from here on
    // restarts the child, even one made while the variables are read. A server without event
    // streams (404) is polled instead.
    let position = if args.watch {
        match client.event_position().await {
            Ok(p) => Some(p),
            Err(e) if e.status() == Some(404) => None,
            Err(e) => return Err(e).context("cannot open the event stream"),
        }
    } else {
        None
    };
    let vars = variables(&client, &args, project.as_ref()).await?;

    if args.dry_run {
        eprintln!("{} env var(s)", vars.len());
        let mut out = std::io::stdout().lock();
        for (k, v) in vars.iter() {
            let shown = if args.show_values { v.expose() } else { "****" };
            writeln!(out, "{k}={shown}")?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    if !args.watch {
        return spawn_and_wait(&args.command, vars).await;
    }
    let how = Watch {
        every: Duration::from_secs(args.watch_interval.unwrap_or(15)),
        grace: Duration::from_secs(args.grace.unwrap_or(10)),
        position,
    };
    watch(&client, &args, project.as_ref(), vars, how).await
}

/// How `--watch` hears of changes and stops the child.
struct Watch {
    /// The poll interval, without an event stream.
    every: Duration,
    /// From SIGTERM to SIGKILL.
    grace: Duration,
    /// Where the event stream starts; `None`: poll.
    position: Option<u64>,
}

/// Whether an event should restart a child that was given `ids` (every event, for `--all`,
/// whose set of secrets an access change may change).
fn restarts(e: &Event, ids: &[SecretId], all: bool) -> bool {
    all || e.secret_id.as_ref().is_none_or(|s| ids.contains(s))
}

/// The variables `args` asks for, read now.
async fn variables(
    client: &MachineClient,
    args: &RunArgs,
    project: Option<&ProjectId>,
) -> anyhow::Result<EnvVars> {
    if args.all {
        collect(client, project, &args.prefix).await
    } else {
        chosen(client, &args.secret, project, &args.prefix).await
    }
}

/// `--watch`: runs the child, and on a change of an injected secret (an event, or without an
/// event stream a poll every `how.every` that finds a version this machine has not read) stops
/// it (SIGTERM, SIGKILL after `how.grace`), reads the variables again and starts it again. A
/// poll that fails is retried at the next tick, and a stream that ends with an error (the
/// machine may no longer listen) falls back to polling: the child keeps its values meanwhile.
/// SIGINT or SIGTERM to Signet is forwarded and ends the watch with the child's code.
async fn watch(
    client: &MachineClient,
    args: &RunArgs,
    project: Option<&ProjectId>,
    first: EnvVars,
    how: Watch,
) -> anyhow::Result<ExitCode> {
    let mut sigint = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
    let mut sigterm = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    // One stream for the whole watch: it keeps its place across restarts of the child.
    let mut events = how.position.map(|p| Box::pin(client.events(Some(p))));
    let mut vars = Some(first);
    loop {
        let current = match vars.take() {
            Some(v) => v,
            None => variables(client, args, project).await?,
        };
        let ids: Vec<SecretId> = current
            .ids()
            .iter()
            .filter_map(|id| SecretId::parse(id).ok())
            .collect();
        let mut running = match spawn(&args.command, current) {
            Ok(child) => Some(Running::start(child)),
            Err(code) => return Ok(ExitCode::from(code)),
        };
        let mut tick = tokio::time::interval(how.every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            let exited = async {
                match running.as_mut() {
                    Some(r) => (&mut r.exited).await,
                    None => std::future::pending().await,
                }
            };
            let polling = events.is_none();
            let event = async {
                match events.as_mut() {
                    Some(s) => s.next().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                status = exited => {
                    // Started again at the next change, with the values of that change.
                    if let Ok(Ok(status)) = status {
                        eprintln!("signet: the command exited with {}; waiting for a change", exit_code(status));
                    }
                    running = None;
                }
                _ = sigint.recv() => return Running::stop(running, Signal::SIGINT).await,
                _ = sigterm.recv() => return Running::stop(running, Signal::SIGTERM).await,
                event = event => match event {
                    Some(Ok(e)) if restarts(&e, &ids, args.all) => {
                        let what = e.secret_id.as_ref().map_or("this machine's access", SecretId::as_str);
                        eprintln!("signet: {what} ({}) changed; restarting the command", e.kind.as_str());
                        Running::stop_within(running.take(), how.grace).await?;
                        break;
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => {
                        eprintln!("signet: the event stream ended ({e}); polling instead");
                        events = None;
                    }
                    None => events = None,
                },
                _ = tick.tick(), if polling => {
                    match client.poll(&ids).await {
                        Ok(changes) if !changes.is_empty() => {
                            eprintln!("signet: {} secret(s) changed; restarting the command", changes.len());
                            Running::stop_within(running.take(), how.grace).await?;
                            break;
                        }
                        Ok(_) => {}
                        Err(e) => eprintln!("signet: polling for changes failed ({e}); will retry"),
                    }
                }
            }
        }
    }
}

/// A child under `--watch`: a task owns it and reports its exit, so the watch loop keeps only
/// its pid to signal.
struct Running {
    pid: Option<u32>,
    exited: tokio::sync::oneshot::Receiver<std::io::Result<std::process::ExitStatus>>,
}

impl Running {
    fn start(mut child: tokio::process::Child) -> Self {
        let pid = child.id();
        let (tx, exited) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let _ = tx.send(child.wait().await);
        });
        Self { pid, exited }
    }

    /// Stops the child for a restart: SIGTERM, and SIGKILL if it has not exited within
    /// `grace`. Waits until it has exited.
    async fn stop_within(running: Option<Self>, grace: Duration) -> anyhow::Result<()> {
        let Some(mut r) = running else {
            return Ok(());
        };
        forward(r.pid, Signal::SIGTERM);
        if tokio::time::timeout(grace, &mut r.exited).await.is_err() {
            eprintln!(
                "signet: the command did not exit within {}s of SIGTERM; sending SIGKILL",
                grace.as_secs()
            );
            forward(r.pid, Signal::SIGKILL);
            r.exited
                .await
                .context("the child's waiter stopped")?
                .context("cannot wait for the child")?;
        }
        Ok(())
    }

    /// Sends `sig` to the child and waits for it: its exit code (0 without a child).
    async fn stop(running: Option<Self>, sig: Signal) -> anyhow::Result<ExitCode> {
        let Some(r) = running else {
            return Ok(ExitCode::SUCCESS);
        };
        forward(r.pid, sig);
        let status = r
            .exited
            .await
            .context("the child's waiter stopped")?
            .context("cannot wait for the child")?;
        Ok(ExitCode::from(exit_code(status)))
    }
}

/// Starts `command` with `vars` in its environment; on failure, the exit code a shell would give
/// (127 not found, 126 not executable).
fn spawn(command: &[String], vars: EnvVars) -> Result<tokio::process::Child, u8> {
    let Some((program, rest)) = command.split_first() else {
        eprintln!("error: no command given");
        return Err(1);
    };
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(rest);
    for (k, v) in vars.iter() {
        cmd.env(k, v.expose());
    }
    let spawned = cmd.spawn();
    // The values now live in the child; drop Signet's copies before the long wait.
    drop(cmd);
    drop(vars);
    spawned.map_err(|e| {
        eprintln!("error: cannot run {program:?}: {e}");
        match e.kind() {
            std::io::ErrorKind::NotFound => 127,
            std::io::ErrorKind::PermissionDenied => 126,
            _ => 1,
        }
    })
}

/// The variables for `--secret` ids: names from the listing, values read one by one (so each
/// read is a read of that secret, as the server's change tracking expects).
async fn chosen(
    client: &MachineClient,
    ids: &[String],
    project: Option<&ProjectId>,
    prefix: &str,
) -> anyhow::Result<EnvVars> {
    let listed = match project {
        Some(p) => client.list_secrets_in_project(p).await?,
        None => client.list_secrets().await?,
    };
    let mut vars = EnvVars::new(prefix);
    for raw in ids {
        let id = SecretId::parse(raw).map_err(|_| {
            anyhow::anyhow!("{raw:?} is not a secret id (sk_ and 10 letters or digits)")
        })?;
        let summary = listed.iter().find(|s| s.id == id);
        if summary.is_none() && project.is_some() {
            anyhow::bail!("secret {id} is not readable in that project");
        }
        let value = client
            .get_secret(&id)
            .await
            .with_context(|| format!("cannot read secret {id}"))?;
        // A secret missing from the listing (it should not be) is named by its id, as
        // SikkerKey's CLI names every `--secret`.
        let (name, structured) = summary.map_or((id.as_str(), false), |s| {
            (s.name.as_str(), s.field_names.is_some())
        });
        vars.add(id.as_str(), name, &value, structured);
    }
    for w in &vars.warnings {
        eprintln!("warning: {w}");
    }
    Ok(vars)
}

/// Starts the child, forwards SIGINT and SIGTERM to it, and returns its exit code (128 + the
/// signal number when a signal ended it). A command that cannot be found exits 127, one that
/// cannot be executed 126, as shells and `env` do.
async fn spawn_and_wait(command: &[String], vars: EnvVars) -> anyhow::Result<ExitCode> {
    // Listen before spawning, so no signal can arrive in between and kill Signet instead.
    let mut sigint = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
    let mut sigterm = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;

    let mut child = match spawn(command, vars) {
        Ok(child) => child,
        Err(code) => return Ok(ExitCode::from(code)),
    };

    let status = loop {
        tokio::select! {
            status = child.wait() => break status.context("cannot wait for the child")?,
            _ = sigint.recv() => forward(child.id(), Signal::SIGINT),
            _ = sigterm.recv() => forward(child.id(), Signal::SIGTERM),
        }
    };
    Ok(ExitCode::from(exit_code(status)))
}

/// Sends `sig` to the child. A child that already exited (no pid, or ESRCH) needs nothing.
fn forward(pid: Option<u32>, sig: Signal) {
    if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
        let _ = kill(Pid::from_raw(pid), sig);
    }
}

/// The child's exit code, or 128 + signal, clamped to what a process can exit with.
fn exit_code(status: std::process::ExitStatus) -> u8 {
    let code = match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(sig)) => 128 + sig,
        (None, None) => 1,
    };
    u8::try_from(code & 0xff).unwrap_or(1)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::os::unix::process::ExitStatusExt as _;

    use super::*;

    #[test]
    fn events_restart_the_child_only_for_its_secrets_or_its_access_as_a_whole() {
        let mine = SecretId::parse("sk_aaaaaaaaaa").unwrap();
        let other = SecretId::parse("sk_bbbbbbbbbb").unwrap();
        let event = |kind, secret: Option<&SecretId>| Event {
            id: 1,
            kind,
            secret_id: secret.cloned(),
            version: None,
            ts: 0,
        };
        use signet_client::events::EventType::*;
        let ids = [mine.clone()];
        assert!(restarts(&event(SecretRotated, Some(&mine)), &ids, false));
        assert!(restarts(&event(SecretDeleted, Some(&mine)), &ids, false));
        assert!(restarts(&event(AccessChanged, None), &ids, false));
        assert!(!restarts(&event(SecretChanged, Some(&other)), &ids, false));
        assert!(!restarts(&event(AccessChanged, Some(&other)), &ids, false));
        // With --all, a new grant may add a variable: every event restarts.
        assert!(restarts(&event(AccessChanged, Some(&other)), &ids, true));
        assert!(crate::watch::wanted(
            &event(SecretChanged, Some(&other)),
            &[]
        ));
        assert!(!crate::watch::wanted(
            &event(SecretChanged, Some(&other)),
            &ids
        ));
        assert!(crate::watch::wanted(&event(AccessChanged, None), &ids));
    }

    #[test]
    fn exit_codes_pass_through_and_signals_add_128() {
        assert_eq!(exit_code(std::process::ExitStatus::from_raw(0)), 0);
        assert_eq!(exit_code(std::process::ExitStatus::from_raw(3 << 8)), 3);
        assert_eq!(exit_code(std::process::ExitStatus::from_raw(15)), 143);
        assert_eq!(exit_code(std::process::ExitStatus::from_raw(9)), 137);
    }

    /// One test, not several: a signal sent to this test process reaches every listener in it.
    #[tokio::test]
    async fn the_child_gets_the_variables_and_forwarded_signals_and_its_code_comes_back() {
        let mut vars = EnvVars::new("T_");
        vars.add(
            "sk_1",
            "db pass",
            &signet_client::SecretValue::new("s3cret"),
            false,
        );
        let script = r#"test "$T_DB_PASS" = s3cret && exit 7"#;
        let code = spawn_and_wait(&["sh".into(), "-c".into(), script.into()], vars)
            .await
            .unwrap();
        assert_eq!(code, ExitCode::from(7));

        let missing = spawn_and_wait(&["/nonexistent/cmd".into()], EnvVars::new(""))
            .await
            .unwrap();
        assert_eq!(missing, ExitCode::from(127));

        // SIGTERM to Signet reaches the child, whose own exit code comes back.
        let script = r#"trap 'kill $! 2>/dev/null; exit 42' TERM; sleep 30 & wait"#;
        let run = tokio::spawn(spawn_and_wait(
            vec!["sh".into(), "-c".into(), script.into()].leak(),
            EnvVars::new(""),
        ));
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        kill(nix::unistd::getpid(), Signal::SIGTERM).unwrap();
        let code = tokio::time::timeout(std::time::Duration::from_secs(10), run)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(code, ExitCode::from(42));
    }
}
