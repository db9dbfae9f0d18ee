//! `signet agent run`: a machine's long-running agent. It keeps managed database passwords in
//! sync with their database by the two-phase protocol of SikkerKey's CLI agent (set the pending
//! password, log in with it, confirm; on failure put the old one back and reject), and renders
//! chosen secrets into files, running a reload command when a file's content changed.
//!
//! Files are written atomically: a new file with mode 0600 in the same folder, flushed to disk,
//! then renamed over the old one (and the folder flushed), so a reader sees the old content or
//! the new, never a mix, and never a file others may read. A folder anyone may write to is
//! refused: another user could swap the file between the write and the rename. A render folder
//! that does not exist yet is made, owner-only (so one inside a Kubernetes emptyDir, which every
//! user may write to, needs no set-up step).
//!
//! Changes to rendered secrets are found by polling (`POST /v1/secrets/poll`) through
//! [`Changes`], the one place to switch to a pushed event stream.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use signet_client::{ClientError, MachineClient, SecretId};
use signet_database::{RoleName, Target, Tls};
use tokio::signal::unix::{SignalKind, signal};
use zeroize::Zeroizing;

use crate::identity::MachineOpts;

/// How often a running agent tells the server it is alive.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(30);
/// How a lost confirmation's error starts (the rotation is then confirmed again, not applied).
const CONFIRM_FAILED: &str = "confirm failed";
/// The shortest poll interval the server's sync configuration may ask for.
const MIN_SYNC_EVERY: Duration = Duration::from_secs(5);

/// `signet agent`.
#[derive(Debug, clap::Args)]
pub struct AgentArgs {
    #[command(subcommand)]
    command: AgentCommand,
}

#[derive(Debug, clap::Subcommand)]
enum AgentCommand {
    /// Keep managed secrets' passwords in sync with their database, and render secrets into
    /// files; runs until SIGINT or SIGTERM (or one pass with --once).
    Run(RunArgs),
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// A managed secret this machine is the agent of (repeatable): its pending rotations are
    /// applied to the database, verified and confirmed.
    #[arg(long = "secret", value_name = "ID")]
    secrets: Vec<String>,
    /// Write a secret into a file (repeatable): ID=PATH writes the value, ID:FIELD=PATH one
    /// field of a structured secret. Mode 0600, written atomically.
    #[arg(long = "render", value_name = "ID[:FIELD]=PATH")]
    renders: Vec<String>,
    /// Run this shell command after a pass that changed any rendered file's content.
    #[arg(long, value_name = "COMMAND")]
    on_change: Option<String>,
    /// How often to look for changes to rendered secrets (default 15s).
    #[arg(long, value_name = "DURATION", value_parser = crate::duration::parse)]
    interval: Option<u64>,
    /// Do one pass (apply what is pending, render every file) and exit.
    #[arg(long)]
    once: bool,
    #[command(flatten)]
    opts: MachineOpts,
}

/// One `--render`.
#[derive(Debug, Clone)]
struct Render {
    id: SecretId,
    field: Option<String>,
    path: PathBuf,
}

fn parse_render(raw: &str) -> anyhow::Result<Render> {
    let (source, path) = raw
        .split_once('=')
        .ok_or_else(|| anyhow::anyhow!("--render {raw:?}: use ID=PATH or ID:FIELD=PATH"))?;
    let (id, field) = match source.split_once(':') {
        Some((id, field)) if !field.is_empty() => (id, Some(field.to_owned())),
        Some(_) => anyhow::bail!("--render {raw:?}: the field name is empty"),
        None => (source, None),
    };
    if path.is_empty() {
        anyhow::bail!("--render {raw:?}: the path is empty");
    }
    Ok(Render {
        id: crate::ids::secret(id)?,
        field,
        path: PathBuf::from(path),
    })
}

/// Runs `signet agent ...`.
pub async fn run(args: AgentArgs) -> anyhow::Result<ExitCode> {
    let AgentCommand::Run(args) = args.command;
    let secrets = args
        .secrets
        .iter()
        .map(|s| crate::ids::secret(s))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let renders = args
        .renders
        .iter()
        .map(|r| parse_render(r))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if secrets.is_empty() && renders.is_empty() {
        anyhow::bail!("nothing to do: name at least one --secret or --render");
    }
    let client = args.opts.client()?;
    let mut synced: Vec<Synced> = secrets.into_iter().map(Synced::new).collect();
    let mut changes = Changes::new(renders.iter().map(|r| r.id.clone()).collect());

    // The first pass: everything pending, every file.
    let mut sync_every = Duration::from_secs(10);
    for s in &mut synced {
        if let Some(every) = s.pass(&client).await {
            sync_every = sync_every.min(every);
        }
        s.heartbeat(&client).await;
    }
    if render_all(&client, &renders).await? {
        reload(args.on_change.as_deref()).await;
    }
    if args.once {
        return Ok(if synced.iter().any(|s| s.failed) {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        });
    }

    let mut sigint = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
    let mut sigterm = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    let mut sync_tick = tokio::time::interval(sync_every.max(MIN_SYNC_EVERY));
    let mut heartbeat_tick = tokio::time::interval(HEARTBEAT_EVERY);
    let mut render_tick = tokio::time::interval(Duration::from_secs(args.interval.unwrap_or(15)));
    for t in [&mut sync_tick, &mut heartbeat_tick, &mut render_tick] {
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        t.tick().await;
    }
    loop {
        tokio::select! {
            _ = sigint.recv() => break,
            _ = sigterm.recv() => break,
            _ = sync_tick.tick(), if !synced.is_empty() => {
                for s in &mut synced {
                    s.pass(&client).await;
                }
                synced.retain(|s| !s.done);
                if synced.is_empty() && renders.is_empty() {
                    eprintln!("signet agent: no secret left to keep in sync; exiting");
                    break;
                }
            }
            _ = heartbeat_tick.tick(), if !synced.is_empty() => {
                for s in &synced {
                    s.heartbeat(&client).await;
                }
            }
            _ = render_tick.tick(), if !renders.is_empty() => {
                match changes.changed(&client).await {
                    Ok(true) => match render_all(&client, &renders).await {
                        Ok(true) => reload(args.on_change.as_deref()).await,
                        Ok(false) => {}
                        Err(e) => eprintln!("signet agent: rendering failed ({e:#}); will retry"),
                    },
                    Ok(false) => {}
                    Err(e) => eprintln!("signet agent: looking for changes failed ({e}); will retry"),
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Which rendered secrets changed since the agent last read them. Polls today; the seam where
/// a pushed event stream (`GET /v1/events`) replaces the poll.
struct Changes {
    ids: Vec<SecretId>,
}

impl Changes {
    fn new(mut ids: Vec<SecretId>) -> Self {
        ids.sort();
        ids.dedup();
        Self { ids }
    }

    /// Whether any watched secret has a version this machine has not read (or went away).
    async fn changed(&mut self, client: &MachineClient) -> Result<bool, ClientError> {
        if self.ids.is_empty() {
            return Ok(false);
        }
        Ok(!client.poll(&self.ids).await?.is_empty())
    }
}

/// Writes every rendered file whose content differs; `true` if any did.
async fn render_all(client: &MachineClient, renders: &[Render]) -> anyhow::Result<bool> {
    let mut changed = false;
    for r in renders {
        let value = client
            .get_secret(&r.id)
            .await
            .with_context(|| format!("reading {}", r.id))?;
        let content: Zeroizing<String> = match &r.field {
            None => Zeroizing::new(value.expose().to_owned()),
            Some(f) => {
                let fields = value
                    .fields()
                    .ok_or_else(|| anyhow::anyhow!("secret {} is not a structured secret", r.id))?;
                let v = fields
                    .get(f)
                    .ok_or_else(|| anyhow::anyhow!("secret {} has no field {f:?}", r.id))?;
                Zeroizing::new(v.expose().to_owned())
            }
        };
        if write_if_changed(&r.path, content.as_bytes())
            .with_context(|| format!("writing {}", r.path.display()))?
        {
            eprintln!("signet agent: wrote {}", r.path.display());
            changed = true;
        }
    }
    Ok(changed)
}

/// Creates `dir` (its parent must exist) with mode 0700 if it is missing. A folder this call
/// creates is this user's and private however open its parent is, so a render folder inside a
/// shared scratch volume (a Kubernetes emptyDir is writable by every user) needs no set-up step.
/// A folder that exists already is judged as it is, by the caller.
fn private_folder(dir: &Path) -> anyhow::Result<()> {
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {
            eprintln!("signet agent: created {} (mode 0700)", dir.display());
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e).with_context(|| format!("creating the folder {}", dir.display())),
    }
}

/// Replaces `path` with `content` atomically, unless it holds exactly that already.
fn write_if_changed(path: &Path, content: &[u8]) -> anyhow::Result<bool> {
    if let Ok(old) = std::fs::read(path).map(Zeroizing::new)
        && old.as_slice() == content
    {
        return Ok(false);
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    private_folder(&dir)?;
    let mode = std::fs::metadata(&dir)
        .with_context(|| format!("the folder {}", dir.display()))?
        .permissions()
        .mode();
    if mode & 0o002 != 0 {
        anyhow::bail!(
            "the folder {} is writable by every user; render into a folder only its owner can change",
            dir.display()
        );
    }
    let name = path
        .file_name()
        .ok_or_else(|| anyhow::anyhow!("{} names no file", path.display()))?;
    let mut nonce = [0u8; 8];
    getrandom::fill(&mut nonce)
        .map_err(|_| anyhow::anyhow!("the OS random number generator failed"))?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        u64::from_le_bytes(nonce)
    ));
    let written = (|| -> std::io::Result<()> {
        // create_new: never follows or reuses a file someone placed at the temporary name.
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(content)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(&dir)?.sync_all()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e.into());
    }
    Ok(true)
}

/// Runs the reload command once, waiting for it.
async fn reload(command: Option<&str>) {
    let Some(command) = command else { return };
    match tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .status()
        .await
    {
        Ok(s) if s.success() => {}
        Ok(s) => eprintln!("signet agent: the reload command exited with {s}"),
        Err(e) => eprintln!("signet agent: the reload command could not start ({e})"),
    }
}

/// One managed secret's sync state.
struct Synced {
    id: SecretId,
    /// The newest rotation this agent applied (confirmed or rejected), so a rotation is never
    /// applied twice.
    last: Option<String>,
    /// A rotation applied and verified whose confirmation did not reach the server.
    unconfirmed: Option<String>,
    /// The last pass's error, for the heartbeat.
    error: Option<String>,
    /// The last pass failed (the exit code of `--once`).
    failed: bool,
    /// The server refused the secret (deleted, no longer granted, no longer the agent).
    done: bool,
}

impl Synced {
    fn new(id: SecretId) -> Self {
        Self {
            id,
            last: None,
            unconfirmed: None,
            error: None,
            failed: false,
            done: false,
        }
    }

    async fn heartbeat(&self, client: &MachineClient) {
        if self.done {
            return;
        }
        let r = client
            .agent()
            .heartbeat(
                &self.id,
                self.error.is_none(),
                self.error.as_deref().unwrap_or(""),
            )
            .await;
        if let Err(e) = r {
            eprintln!("signet agent: {}: heartbeat failed ({e})", self.id);
        }
    }

    /// Fetches the sync configuration and applies a pending rotation; answers the poll
    /// interval the server asks for.
    async fn pass(&mut self, client: &MachineClient) -> Option<Duration> {
        let cfg = match client.agent().sync_config(&self.id).await {
            Ok(c) => c,
            Err(e) if matches!(e.status(), Some(403 | 404)) => {
                eprintln!(
                    "signet agent: {}: the server refused it ({e}); no longer keeping it in sync",
                    self.id
                );
                self.done = true;
                self.failed = true;
                return None;
            }
            Err(e) => {
                eprintln!(
                    "signet agent: {}: sync configuration failed ({e}); will retry",
                    self.id
                );
                self.error = Some(format!("sync config failed: {e}"));
                self.failed = true;
                return None;
            }
        };
        let every = Duration::from_secs(u64::from(cfg.poll_interval_seconds));
        let tls = match cfg.connection.tls_mode.as_str() {
            "disable" => Tls::Disable,
            "prefer" => Tls::Prefer,
            "require" => Tls::Require,
            _ => Tls::VerifyFull,
        };
        let admin = Target {
            host: cfg.connection.host.clone(),
            port: cfg.connection.port,
            database: cfg.connection.database.clone(),
            user: cfg.connection.admin_user.clone(),
            password: cfg.connection.admin_pass.clone(),
            tls,
        };
        self.failed = false;
        // Applied and verified, but the confirmation was lost: the database already has the
        // new password, so only the (idempotent) confirmation is sent again.
        if let Some(rotation) = cfg
            .pending_rotation_id
            .as_ref()
            .filter(|r| self.unconfirmed.as_ref() == Some(*r))
        {
            match client.agent().confirm(&self.id, rotation).await {
                Ok(_) => {
                    eprintln!("signet agent: {}: rotation {rotation} confirmed", self.id);
                    self.unconfirmed = None;
                    self.error = None;
                }
                Err(e) => {
                    self.failed = true;
                    self.error = Some(format!("confirm failed: {e}"));
                }
            }
            return Some(every);
        }
        if let (Some(rotation), Some(value)) = (cfg.pending_rotation_id, cfg.pending_value)
            && self.last.as_deref() != Some(rotation.as_str())
        {
            let outcome = self
                .apply(client, &admin, &cfg.managed_username, &rotation, &value)
                .await;
            if outcome
                .as_ref()
                .is_err_and(|e| e.starts_with(CONFIRM_FAILED))
            {
                self.unconfirmed = Some(rotation.clone());
            }
            self.last = Some(rotation);
            self.failed = outcome.is_err();
            self.error = outcome.err();
            self.heartbeat(client).await;
        }
        Some(every)
    }

    /// The two phases: set the new password, log in with it, confirm; on failure put the old
    /// one back and reject. `Err` carries the text sent with the rejection.
    async fn apply(
        &self,
        client: &MachineClient,
        admin: &Target,
        managed_username: &str,
        rotation: &str,
        value: &str,
    ) -> Result<(), String> {
        eprintln!("signet agent: {}: applying rotation {rotation}", self.id);
        let fields: Result<BTreeMap<String, Zeroizing<String>>, String> =
            serde_json::from_str(value)
                .map_err(|_| "the pending value is not an object of strings".to_owned());
        let result = match fields {
            Err(e) => Err(e),
            Ok(fields) => {
                self.two_phase(client, admin, managed_username, &fields)
                    .await
            }
        };
        match result {
            Ok(()) => match client.agent().confirm(&self.id, rotation).await {
                Ok(_) => {
                    eprintln!("signet agent: {}: rotation {rotation} confirmed", self.id);
                    Ok(())
                }
                Err(e) => {
                    // The database has the new password: the next pass sends only the
                    // confirmation again (`unconfirmed`), never the password.
                    eprintln!(
                        "signet agent: {}: confirming {rotation} failed ({e})",
                        self.id
                    );
                    Err(format!("confirm failed: {e}"))
                }
            },
            Err(error) => {
                eprintln!(
                    "signet agent: {}: rotation {rotation} rejected: {error}",
                    self.id
                );
                if let Err(e) = client.agent().reject(&self.id, rotation, &error).await {
                    eprintln!(
                        "signet agent: {}: rejecting {rotation} failed ({e})",
                        self.id
                    );
                }
                Err(error)
            }
        }
    }

    async fn two_phase(
        &self,
        client: &MachineClient,
        admin: &Target,
        managed_username: &str,
        fields: &BTreeMap<String, Zeroizing<String>>,
    ) -> Result<(), String> {
        let username = fields
            .get("username")
            .map_or(managed_username, |u| u.as_str());
        let role = RoleName::parse(username)
            .ok_or_else(|| format!("{username:?} is not a role name Signet manages"))?;
        let password = fields
            .get("password")
            .filter(|p| !p.is_empty())
            .ok_or_else(|| "the pending value has no password".to_owned())?;
        // The live password, to put back if the new one does not work.
        let old = client
            .get_secret(&self.id)
            .await
            .ok()
            .and_then(|v| v.fields())
            .and_then(|f| {
                f.get("password")
                    .map(|p| Zeroizing::new(p.expose().to_owned()))
            });
        signet_database::set_password(admin, &role, password)
            .await
            .map_err(|e| format!("apply failed: {e}"))?;
        let verified = signet_database::check_login(&admin.as_role(role.as_str(), password)).await;
        let Err(verify) = verified else {
            return Ok(());
        };
        let mut error = format!("verification failed after apply: {verify}");
        match old {
            Some(old) => {
                if let Err(e) = signet_database::set_password(admin, &role, &old).await {
                    error = format!("{error}; rollback failed too: {e}");
                }
            }
            None => error.push_str("; no live password to roll back to"),
        }
        Err(error)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn a_missing_render_folder_is_made_private_inside_an_open_one() {
        let root = tempfile::tempdir().unwrap();
        // As a Kubernetes emptyDir is mounted: writable by every user.
        std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let open = root.path().join("DIRECT");
        let refused = write_if_changed(&open, b"v").unwrap_err();
        assert!(format!("{refused:#}").contains("writable by every user"));
        assert!(!open.exists());

        let file = root.path().join("secrets").join("DATABASE_URL");
        assert!(write_if_changed(&file, b"postgres://x").unwrap());
        let folder = std::fs::metadata(root.path().join("secrets")).unwrap();
        assert_eq!(folder.permissions().mode() & 0o777, 0o700);
        assert_eq!(std::fs::read(&file).unwrap(), b"postgres://x");
        assert!(
            !write_if_changed(&file, b"postgres://x").unwrap(),
            "unchanged"
        );

        // Only the last folder is made: a missing parent is an error, not a tree of folders.
        let deep = root.path().join("a").join("b").join("F");
        assert!(write_if_changed(&deep, b"v").is_err());
        assert!(!root.path().join("a").exists());
    }
}
