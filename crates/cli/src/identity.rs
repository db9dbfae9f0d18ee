//! Which identity a command signs with, and the commands that show it: `whoami`, `status` and
//! `operator whoami`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use serde_json::{Value, json};
use signet_client::{
    Credentials, Identity, MachineClient, OperatorClient, OperatorIdentity, SignetHome,
};

use crate::output;

/// Options of every machine-side command.
#[derive(Debug, Clone, clap::Args)]
pub struct MachineOpts {
    /// The machine identity: its identity.json, that file's folder, or a vault id under
    /// $SIGNET_HOME/vaults [default: the only vault there].
    #[arg(long, global = true, env = "SIGNET_IDENTITY", value_name = "PATH")]
    pub identity: Option<PathBuf>,
}

impl MachineOpts {
    /// Loads the identity and its key.
    pub fn credentials(&self) -> anyhow::Result<Credentials<Identity>> {
        let home = SignetHome::from_env()?;
        Ok(home.load(self.identity.as_deref())?)
    }

    /// A client signing as this machine.
    pub fn client(&self) -> anyhow::Result<MachineClient> {
        Ok(MachineClient::new(self.credentials()?)?)
    }
}

/// Options of every operator command.
#[derive(Debug, Clone, clap::Args)]
pub struct OperatorOpts {
    /// The operator identity: its identity.json, that file's folder, or a vault id under
    /// $SIGNET_HOME/operators [default: the only one there].
    #[arg(
        long,
        global = true,
        env = "SIGNET_OPERATOR_IDENTITY",
        value_name = "PATH"
    )]
    pub operator_identity: Option<PathBuf>,
}

impl OperatorOpts {
    /// A client signing as this operator.
    pub fn client(&self) -> anyhow::Result<OperatorClient> {
        let home = SignetHome::from_env()?;
        let credentials: Credentials<OperatorIdentity> =
            home.load(self.operator_identity.as_deref())?;
        Ok(OperatorClient::new(credentials)?)
    }
}

/// `signet whoami`.
#[derive(Debug, clap::Args)]
pub struct WhoamiArgs {
    #[command(flatten)]
    opts: MachineOpts,
}

/// `signet status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    opts: MachineOpts,
}

/// `signet operator whoami`.
#[derive(Debug, clap::Args)]
pub struct OperatorWhoamiArgs {
    #[command(flatten)]
    opts: OperatorOpts,
}

/// Prints the local identity and the server's view of it.
pub async fn whoami(args: WhoamiArgs, json: bool) -> anyhow::Result<ExitCode> {
    let credentials = args.opts.credentials()?;
    let path = credentials.path().to_path_buf();
    let fingerprint = credentials.fingerprint().to_string();
    let client = MachineClient::new(credentials)?;
    let me = client.whoami().await?;
    let local = client.identity();
    if json {
        output::json(&json!({
            "machineId": me.machine_id,
            "machineName": me.machine_name,
            "vaultId": me.vault_id,
            "apiUrl": local.api_url,
            "identityPath": path,
            "fingerprint": fingerprint,
            "status": me.status,
            "kind": me.kind,
            "expiresAt": me.expires_at,
        }))?;
    } else {
        let mut lines = vec![
            format!(
                "machine:     {} ({})",
                me.machine_id,
                output::text(&Value::from(me.machine_name.as_str()))
            ),
            format!("vault:       {}", me.vault_id),
            format!("server:      {}", local.api_url),
            format!("identity:    {}", path.display()),
            format!("fingerprint: {fingerprint}"),
            format!("status:      {} ({})", me.status, me.kind),
        ];
        if let Some(ms) = me.expires_at {
            lines.push(format!("expires:     {}", output::utc_from_millis(ms)));
        }
        output::lines(lines)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Checks, in order, the identity file, the key, authentication, and access; stops at the
/// first failure with its error.
pub async fn status(args: StatusArgs, json: bool) -> anyhow::Result<ExitCode> {
    let credentials = args.opts.credentials()?;
    let path = credentials.path().to_path_buf();
    let fingerprint = credentials.fingerprint().to_string();
    let client = MachineClient::new(credentials)?;
    let me = client.whoami().await.context("cannot authenticate")?;
    let secrets = client.list_secrets().await.context("cannot list secrets")?;
    let local = client.identity();
    if json {
        output::json(&json!({
            "identityPath": path,
            "machineId": local.machine_id,
            "vaultId": local.vault_id,
            "apiUrl": local.api_url,
            "fingerprint": fingerprint,
            "keyOk": true,
            "authenticated": true,
            "status": me.status,
            "secrets": secrets.len(),
        }))?;
    } else {
        output::lines([
            format!(
                "identity: {} (machine {}, vault {})",
                path.display(),
                local.machine_id,
                local.vault_id
            ),
            format!(
                "key:      ok ({}, fingerprint {fingerprint})",
                local.private_key_path
            ),
            format!("server:   {} authenticated ({})", local.api_url, me.status),
            format!("secrets:  {} accessible", secrets.len()),
        ])?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints the operator as the server sees it.
pub async fn operator_whoami(args: OperatorWhoamiArgs, json: bool) -> anyhow::Result<ExitCode> {
    let client = args.opts.client()?;
    let me = client.whoami().await?;
    if json {
        output::json(&me)?;
    } else {
        output::lines([
            format!(
                "operator: {} ({})",
                output::cell(&me.operator_id),
                output::cell(&me.name)
            ),
            format!("vault:    {}", output::cell(&me.vault_id)),
            format!("owner:    {}", output::cell(&me.owner)),
            format!("server:   {}", client.identity().api_url),
        ])?;
    }
    Ok(ExitCode::SUCCESS)
}
