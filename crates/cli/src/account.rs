//! Human accounts from the command line: `signet user create-owner` on the server host, and
//! `signet login` / `signet logout`, which trade a password and a second factor for a short-lived
//! operator key made on this host.

use std::io::{BufRead as _, IsTerminal as _};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use serde_json::json;
use signet_client::SignetHome;
use signet_client::login::{LoginFactor, cli_login};
use signet_core::SignetConfig;
use signet_core::account::{NewOwner, Password};
use signet_server::config::FileConfig;
use signet_server::install;
use zeroize::Zeroizing;

use crate::identity::OperatorOpts;
use crate::output::{self, Table};

/// `signet user`.
#[derive(Debug, clap::Args)]
pub struct UserArgs {
    #[command(subcommand)]
    command: UserCommand,
}

#[derive(Debug, clap::Subcommand)]
enum UserCommand {
    /// Create the vault's owner account (run on the server host, once). Prints the TOTP
    /// enrollment URI and ten recovery codes, which are shown only this once.
    CreateOwner(CreateOwnerArgs),
    /// Create a user with a role at or below yours (admins and owners). Prints their TOTP
    /// enrollment URI and ten recovery codes, shown only this once: hand them over privately.
    Create(CreateUserArgs),
    /// List users (admins and owners).
    List {
        #[command(flatten)]
        opts: OperatorOpts,
    },
}

#[derive(Debug, clap::Args)]
struct CreateUserArgs {
    #[command(flatten)]
    opts: OperatorOpts,
    /// Their username.
    #[arg(long)]
    username: String,
    /// Their email.
    #[arg(long)]
    email: String,
    /// owner, admin, developer or viewer.
    #[arg(long)]
    role: String,
    /// Read the password from the first line of standard input instead of prompting.
    #[arg(long)]
    password_stdin: bool,
}

#[derive(Debug, clap::Args)]
struct CreateOwnerArgs {
    /// The server's data folder.
    #[arg(long, env = "SIGNET_DATA_DIR")]
    data_dir: PathBuf,
    /// The owner's email.
    #[arg(long)]
    email: String,
    /// The owner's username.
    #[arg(long)]
    username: String,
    /// Read the password from the first line of standard input instead of prompting.
    #[arg(long)]
    password_stdin: bool,
    /// The server's config file, if the root key is not in the data folder.
    #[arg(long, env = "SIGNET_CONFIG")]
    config: Option<PathBuf>,
}

/// `signet login`.
#[derive(Debug, clap::Args)]
pub struct LoginArgs {
    /// The server's URL (https://, or http:// to a loopback address).
    #[arg(long)]
    server: String,
    /// Your email (or username).
    #[arg(long)]
    email: String,
    /// Read the password from the first line of standard input instead of prompting.
    #[arg(long)]
    password_stdin: bool,
    /// The code from your authenticator app [default: prompt].
    #[arg(long, conflicts_with = "recovery_code")]
    totp: Option<String>,
    /// One of your recovery codes, instead of a TOTP code.
    #[arg(long)]
    recovery_code: Option<String>,
    /// A name for the key this login creates.
    #[arg(long, default_value = "cli")]
    name: String,
}

/// `signet logout`.
#[derive(Debug, clap::Args)]
pub struct LogoutArgs {
    #[command(flatten)]
    opts: OperatorOpts,
}

/// The password: a line from standard input when asked to or when it is not a terminal, else a
/// prompt that does not echo.
fn read_password(from_stdin: bool) -> Result<Zeroizing<String>> {
    if from_stdin || !std::io::stdin().is_terminal() {
        let mut line = Zeroizing::new(String::new());
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        let trimmed = Zeroizing::new(line.trim_end_matches(['\r', '\n']).to_owned());
        if trimmed.is_empty() {
            bail!("no password on standard input");
        }
        return Ok(trimmed);
    }
    Ok(Zeroizing::new(
        rpassword::prompt_password("Password: ").context("cannot read the password")?,
    ))
}

/// Runs a `user` subcommand.
pub async fn user(args: UserArgs, json: bool) -> Result<ExitCode> {
    match args.command {
        UserCommand::CreateOwner(a) => create_owner(a, json).await,
        UserCommand::Create(a) => create_user(a, json).await,
        UserCommand::List { opts } => list_users(opts, json).await,
    }
}

/// `POST /v1/admin/users`.
#[derive(serde::Serialize)]
struct NewUserBody<'a> {
    username: &'a str,
    email: &'a str,
    password: &'a str,
    role: &'a str,
}

async fn create_user(args: CreateUserArgs, json: bool) -> Result<ExitCode> {
    let password = read_password(args.password_stdin)?;
    let client = args.opts.client()?;
    // The body holds the password, so it is encoded straight into zeroizing memory rather than
    // kept in a `serde_json::Value`.
    let body = Zeroizing::new(serde_json::to_vec(&NewUserBody {
        username: &args.username,
        email: &args.email,
        password: password.as_str(),
        role: &args.role,
    })?);
    let r = client
        .request_bytes("POST", "/v1/admin/users", &body)
        .await
        .context("cannot create the user")?;
    if json {
        output::json(&r)?;
    } else {
        let u = &r["user"];
        let mut lines = vec![
            format!(
                "User {} ({}) created with role {}.",
                output::text(&u["username"]),
                output::text(&u["email"]),
                output::text(&u["role"])
            ),
            "Their authenticator enrollment (shown once):".to_owned(),
            format!("  {}", output::text(&r["otpauthUri"])),
            "Their recovery codes, each usable once (shown once):".to_owned(),
        ];
        lines.extend(
            r["recoveryCodes"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| format!("  {}", output::text(c))),
        );
        output::lines(lines)?;
    }
    Ok(ExitCode::SUCCESS)
}

async fn list_users(opts: OperatorOpts, json: bool) -> Result<ExitCode> {
    let client = opts.client()?;
    let r = client.request("GET", "/v1/admin/users", None).await?;
    if json {
        output::json(&r)?;
    } else {
        let mut t = Table::new(&["ID", "USERNAME", "EMAIL", "ROLE", "STATUS", "CREATED"]);
        for u in r["users"].as_array().into_iter().flatten() {
            t.row(vec![
                output::text(&u["id"]),
                output::text(&u["username"]),
                output::text(&u["email"]),
                output::text(&u["role"]),
                output::text(&u["status"]),
                output::time(&u["createdAt"]),
            ]);
        }
        t.print("no users")?;
    }
    Ok(ExitCode::SUCCESS)
}

async fn create_owner(args: CreateOwnerArgs, json: bool) -> Result<ExitCode> {
    let password = read_password(args.password_stdin)?;
    let mut file = match &args.config {
        Some(p) => FileConfig::load(p)?,
        None => FileConfig::default(),
    };
    file.data_dir = Some(args.data_dir.clone());
    // No listener is opened here; only the data folder and the key source are resolved.
    file.insecure_http = Some(true);
    let config = file.resolve()?;
    let core = SignetConfig {
        api_url: config.api_url.clone(),
        ..SignetConfig::default()
    };
    let signet = install::open(&config.data_dir, &config.root_key, core).await?;
    let owner = signet
        .create_owner(NewOwner {
            username: &args.username,
            email: &args.email,
            password: Password::new(password.as_str()),
        })
        .await
        .context("cannot create the owner")?;
    let codes: Vec<&str> = owner.recovery_codes.iter().map(|c| c.as_str()).collect();
    if json {
        output::json(&json!({
            "userId": owner.user.id,
            "username": owner.user.username,
            "email": owner.user.email,
            "vaultId": signet.vault_id(),
            "otpauthUri": owner.otpauth_uri.as_str(),
            "recoveryCodes": codes,
        }))?;
    } else {
        let mut lines = vec![
            format!(
                "Owner {} ({}) created for vault {}.",
                owner.user.username,
                owner.user.email,
                signet.vault_id()
            ),
            "Add this to your authenticator app (shown once):".to_owned(),
            format!("  {}", owner.otpauth_uri.as_str()),
            "Recovery codes, each usable once (shown once; keep them offline):".to_owned(),
        ];
        lines.extend(codes.iter().map(|c| format!("  {c}")));
        lines.push("Then: signet login --server URL --email EMAIL".to_owned());
        output::lines(lines)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `signet login`.
pub async fn login(args: LoginArgs, json: bool) -> Result<ExitCode> {
    let password = read_password(args.password_stdin)?;
    let factor = match (args.totp, args.recovery_code) {
        (Some(code), _) => LoginFactor::Totp(Zeroizing::new(code)),
        (None, Some(code)) => LoginFactor::RecoveryCode(Zeroizing::new(code)),
        (None, None) if std::io::stdin().is_terminal() => LoginFactor::Totp(Zeroizing::new(
            rpassword::prompt_password("TOTP code: ").context("cannot read the code")?,
        )),
        (None, None) => bail!("give --totp CODE or --recovery-code CODE"),
    };
    let home = SignetHome::from_env()?;
    let l = cli_login(
        &home,
        &args.server,
        &args.email,
        &password,
        Some(&factor),
        Some(&args.name),
    )
    .await
    .context("login failed")?;
    let path = l.credentials.path().display().to_string();
    let id = l.credentials.identity();
    if json {
        output::json(&json!({
            "operatorId": id.operator_id,
            "vaultId": id.vault_id,
            "apiUrl": id.api_url,
            "expiresAt": l.expires_at,
            "identity": path,
        }))?;
    } else {
        let mut lines = vec![
            format!(
                "Logged in to vault {} as operator {}.",
                id.vault_id, id.operator_id
            ),
            format!("Identity written to {path} (key 0600)."),
            format!(
                "The key expires at {}.",
                output::utc_from_millis(l.expires_at)
            ),
        ];
        if let Some(old) = l.replaced {
            lines.push(format!(
                "The previous identity was moved to {}.",
                old.display()
            ));
        }
        output::lines(lines)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `signet logout`: revokes the key on the server. The local files stay, but sign nothing the
/// server accepts.
pub async fn logout(args: LogoutArgs, json: bool) -> Result<ExitCode> {
    let client = args.opts.client()?;
    client.request("POST", "/v1/admin/logout", None).await?;
    let id = client.identity();
    if json {
        output::json(&json!({ "operatorId": id.operator_id, "loggedOut": true }))?;
    } else {
        output::lines([format!("Operator key {} revoked.", id.operator_id)])?;
    }
    Ok(ExitCode::SUCCESS)
}
