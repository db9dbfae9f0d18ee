//! Human accounts from the command line: `signet user create-owner` on the server host, and
//! `signet login` / `signet logout`, which trade a password and a second factor for a short-lived
//! operator key made on this host.

use std::io::{BufRead as _, IsTerminal as _};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use serde_json::json;
use signet_client::api::admin::user::{CreateUserRequest, InviteRequest, UserRoleRequest};
use signet_client::login::{LoginFactor, accept_invite, cli_login, confirm_totp};
use signet_client::{ErrorCode, ProjectId, SignetHome};
use signet_core::account::{NewOwner, Password};
use signet_server::config::FileConfig;
use signet_server::install;
use zeroize::Zeroizing;

use crate::identity::OperatorOpts;
use crate::ids;
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
    /// Invite someone by email with a role at or below yours. Prints a link, valid 72 hours and
    /// shown once: Signet sends no mail, so pass it on yourself.
    Invite(InviteArgs),
    /// List invitations and their state.
    Invites {
        #[command(flatten)]
        opts: OperatorOpts,
    },
    /// Revoke a pending invitation.
    RevokeInvite {
        #[command(flatten)]
        opts: OperatorOpts,
        /// The invitation's id.
        id: String,
    },
    /// Change a user's role, and for developers and viewers their projects.
    Role(RoleArgs),
    /// Suspend a user: their keys stop working until they are activated again.
    Suspend(UserIdArgs),
    /// Activate a suspended user.
    Activate(UserIdArgs),
    /// Remove a user for good: they never sign in again and every key of theirs is disabled.
    Remove(UserIdArgs),
    /// Create your account from an invitation link. Prints your TOTP enrollment URI and ten
    /// recovery codes, shown only this once.
    AcceptInvite(AcceptInviteArgs),
}

#[derive(Debug, clap::Args)]
struct InviteArgs {
    #[command(flatten)]
    opts: OperatorOpts,
    /// Their email.
    #[arg(long)]
    email: String,
    /// admin, developer or viewer (owner, for owners).
    #[arg(long)]
    role: String,
    /// Limit a developer or viewer to this project (repeat for more) [default: every project].
    #[arg(long = "project", value_name = "PROJECT_ID")]
    projects: Vec<String>,
}

#[derive(Debug, clap::Args)]
struct RoleArgs {
    #[command(flatten)]
    opts: OperatorOpts,
    /// The user's id.
    id: String,
    /// owner, admin, developer or viewer.
    #[arg(long)]
    role: String,
    /// Limit a developer or viewer to this project (repeat for more) [default: every project].
    #[arg(long = "project", value_name = "PROJECT_ID")]
    projects: Vec<String>,
}

#[derive(Debug, clap::Args)]
struct UserIdArgs {
    #[command(flatten)]
    opts: OperatorOpts,
    /// The user's id.
    id: String,
}

#[derive(Debug, clap::Args)]
struct AcceptInviteArgs {
    /// The link you were sent (URL/#/invite/CODE).
    link: String,
    /// The username you want.
    #[arg(long)]
    username: String,
    /// Read the password from the first line of standard input instead of prompting.
    #[arg(long)]
    password_stdin: bool,
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
    /// Limit a developer or viewer to this project (repeat for more) [default: every project].
    #[arg(long = "project", value_name = "PROJECT_ID")]
    projects: Vec<String>,
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
    /// The server's database, if not the SQLite file in the data folder.
    #[arg(long, env = "SIGNET_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
}

/// `signet login`.
#[derive(Debug, clap::Args)]
pub struct LoginArgs {
    /// The server's URL (https://, or http:// to a loopback address).
    #[arg(long)]
    server: String,
    /// Your email (or username).
    #[arg(long, required_unless_present = "sso")]
    email: Option<String>,
    /// Read the password from the first line of standard input instead of prompting.
    #[arg(long)]
    password_stdin: bool,
    /// The code from your authenticator app [default: prompt].
    #[arg(long, conflicts_with = "recovery_code")]
    totp: Option<String>,
    /// One of your recovery codes, instead of a TOTP code.
    #[arg(long)]
    recovery_code: Option<String>,
    /// Sign in through the vault's OpenID provider in a browser instead of with a password
    /// [default provider: the only one the server offers].
    #[arg(
        long,
        value_name = "PROVIDER",
        num_args = 0..=1,
        conflicts_with_all = ["email", "password_stdin", "totp", "recovery_code"]
    )]
    sso: Option<Option<String>>,
    /// With --sso: print the sign-in URL instead of opening a browser.
    #[arg(long, requires = "sso", conflicts_with = "email")]
    no_browser: bool,
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
        UserCommand::Invite(a) => invite(a, json).await,
        UserCommand::Invites { opts } => list_invites(opts, json).await,
        UserCommand::RevokeInvite { opts, id } => {
            let invite = ids::invite(&id)?;
            let r = opts.client()?.users().revoke_invite(&invite).await?;
            done(&r, json, format!("Invitation {id} revoked."))
        }
        UserCommand::Role(a) => {
            let id = ids::user(&a.id)?;
            let change = UserRoleRequest {
                role: a.role,
                projects: scope(a.projects),
            };
            let u = a.opts.client()?.users().set_role(&id, &change).await?;
            let msg = format!(
                "User {} is now {}{}.",
                output::cell(&u.username),
                output::cell(&u.role),
                scope_text(u.projects.as_deref())
            );
            done(&u, json, msg)
        }
        UserCommand::Suspend(a) => set_active(a, false, json).await,
        UserCommand::Activate(a) => set_active(a, true, json).await,
        UserCommand::Remove(a) => {
            let id = ids::user(&a.id)?;
            let r = a.opts.client()?.users().remove(&id).await?;
            done(&r, json, format!("User {} removed.", a.id))
        }
        UserCommand::AcceptInvite(a) => accept(a, json).await,
    }
}

/// Repeated `--project` flags as the wire's `projects`: none given is every project.
fn scope(projects: Vec<String>) -> Option<Vec<String>> {
    (!projects.is_empty()).then_some(projects)
}

/// ` on p1, p2` for a project scope; nothing for every project.
fn scope_text(projects: Option<&[ProjectId]>) -> String {
    match projects {
        Some(list) => format!(
            " on {}",
            list.iter().map(output::cell).collect::<Vec<_>>().join(", ")
        ),
        None => String::new(),
    }
}

fn done(r: &impl serde::Serialize, json: bool, message: String) -> Result<ExitCode> {
    if json {
        output::json(r)?;
    } else {
        output::lines([message])?;
    }
    Ok(ExitCode::SUCCESS)
}

async fn set_active(a: UserIdArgs, active: bool, json: bool) -> Result<ExitCode> {
    let id = ids::user(&a.id)?;
    let u = a.opts.client()?.users().set_active(&id, active).await?;
    let msg = format!(
        "User {} is {}.",
        output::cell(&u.username),
        output::cell(&u.status)
    );
    done(&u, json, msg)
}

async fn invite(a: InviteArgs, json: bool) -> Result<ExitCode> {
    let request = InviteRequest {
        email: a.email,
        role: a.role,
        projects: scope(a.projects),
    };
    let r = a
        .opts
        .client()?
        .users()
        .invite(&request)
        .await
        .context("cannot create the invitation")?;
    let msg = format!(
        "Invitation {} for {} created. Send them this link (shown once, valid until {}):\n  {}",
        output::cell(&r.invite_id),
        request.email,
        output::at(r.expires_at),
        output::cell(&r.invite_url)
    );
    done(&r, json, msg)
}

async fn list_invites(opts: OperatorOpts, json: bool) -> Result<ExitCode> {
    let r = opts.client()?.users().invites().await?;
    if json {
        output::json(&r)?;
    } else {
        let mut t = Table::new(&["ID", "EMAIL", "ROLE", "STATUS", "EXPIRES"]);
        for i in &r.invites {
            t.row(vec![
                output::cell(&i.id),
                output::cell(&i.email),
                format!(
                    "{}{}",
                    output::cell(&i.role),
                    scope_text(i.projects.as_deref())
                ),
                output::cell(&i.status),
                output::at(i.expires_at),
            ]);
        }
        t.print("no invitations")?;
    }
    Ok(ExitCode::SUCCESS)
}

async fn accept(a: AcceptInviteArgs, json: bool) -> Result<ExitCode> {
    let password = read_password(a.password_stdin)?;
    let r = accept_invite(&a.link, &a.username, &password)
        .await
        .map_err(sso_hint)
        .context("cannot accept the invitation")?;
    if json {
        output::json(&r)?;
    } else {
        let u = &r.user;
        let mut lines = vec![
            format!(
                "Account {} ({}) created with role {}{}.",
                output::cell(&u.username),
                output::cell(&u.email),
                output::cell(&u.role),
                scope_text(u.projects.as_deref())
            ),
            "Add this to your authenticator app (shown once):".to_owned(),
            format!("  {}", output::cell(&r.otpauth_uri)),
            "Recovery codes, each usable once (shown once; keep them offline):".to_owned(),
        ];
        lines.extend(
            r.recovery_codes
                .iter()
                .map(|c| format!("  {}", output::cell(c))),
        );
        // At a terminal the person has the app in hand now: confirm it at once, so a mistyped
        // seed shows here and not at the first sign-in. A script (no terminal) gets today's
        // output, and the first sign-in with a code confirms the seed as before.
        let interactive = std::io::stdin().is_terminal();
        if !interactive {
            lines.push("Then: signet login --server URL --email EMAIL".to_owned());
        }
        output::lines(lines)?;
        if interactive {
            confirm_now(&a.link, &r.enrollment_ticket).await?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Tries at most this many codes at the confirm prompt (the server limits attempts too).
const CONFIRM_TRIES: usize = 3;

/// Asks for a code from the new authenticator entry and confirms it with `ticket`; an empty
/// line skips (the first sign-in with a code confirms it then). A wrong or reused code asks
/// again, up to [`CONFIRM_TRIES`] times; nothing here undoes the account.
async fn confirm_now(link: &str, ticket: &str) -> Result<()> {
    let mut stdin = std::io::stdin().lock();
    for _ in 0..CONFIRM_TRIES {
        eprint!("Code from your authenticator app, to confirm it now (Enter to skip): ");
        let mut line = Zeroizing::new(String::new());
        if stdin.read_line(&mut line).context("cannot read the code")? == 0 {
            break;
        }
        let code: String = line.chars().filter(|c| !c.is_whitespace()).collect();
        if code.is_empty() {
            break;
        }
        match confirm_totp(link, ticket, &code).await {
            Ok(()) => {
                output::lines([
                    "Authenticator confirmed.".to_owned(),
                    "Then: signet login --server URL --email EMAIL".to_owned(),
                ])?;
                return Ok(());
            }
            Err(e) => match e.error_code() {
                Some(ErrorCode::WrongFactor) => eprintln!(
                    "That code is not right. Type the code the app shows now; if it fails again, \
                     check that the phone sets its clock automatically."
                ),
                Some(ErrorCode::CodeReused) => {
                    eprintln!("That code was used already. Wait for the next one, then type it.");
                }
                _ => {
                    return Err(anyhow::Error::new(e).context(
                        "cannot confirm the authenticator; the first sign-in with a code \
                         confirms it instead",
                    ));
                }
            },
        }
    }
    output::lines([
        "Not confirmed yet: your first sign-in with a code from the app confirms it.".to_owned(),
        "Then: signet login --server URL --email EMAIL".to_owned(),
    ])?;
    Ok(())
}

async fn create_user(args: CreateUserArgs, json: bool) -> Result<ExitCode> {
    let password = read_password(args.password_stdin)?;
    let client = args.opts.client()?;
    let request = CreateUserRequest {
        username: args.username,
        email: args.email,
        password,
        role: args.role,
        projects: scope(args.projects),
    };
    let r = client
        .users()
        .create(&request)
        .await
        .context("cannot create the user")?;
    if json {
        output::json(&r)?;
    } else {
        let u = &r.user;
        let mut lines = vec![
            format!(
                "User {} ({}) created with role {}.",
                output::cell(&u.username),
                output::cell(&u.email),
                output::cell(&u.role)
            ),
            "Their authenticator enrollment (shown once):".to_owned(),
            format!("  {}", output::cell(&r.otpauth_uri)),
            "Their recovery codes, each usable once (shown once):".to_owned(),
        ];
        lines.extend(
            r.recovery_codes
                .iter()
                .map(|c| format!("  {}", output::cell(c))),
        );
        output::lines(lines)?;
    }
    Ok(ExitCode::SUCCESS)
}

async fn list_users(opts: OperatorOpts, json: bool) -> Result<ExitCode> {
    let r = opts.client()?.users().list().await?;
    if json {
        output::json(&r)?;
    } else {
        let mut t = Table::new(&["ID", "USERNAME", "EMAIL", "ROLE", "STATUS", "CREATED"]);
        for u in &r.users {
            t.row(vec![
                output::cell(&u.id),
                output::cell(&u.username),
                output::cell(&u.email),
                format!(
                    "{}{}",
                    output::cell(&u.role),
                    scope_text(u.projects.as_deref())
                ),
                output::cell(&u.status),
                output::at(u.created_at),
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
    file.database_url = args.database_url.clone().or(file.database_url);
    // No listener is opened here; only the data folder and the key source are resolved.
    file.insecure_http = Some(true);
    let config = file.resolve()?;
    let (owner, vault_id) = install::create_owner(
        &config,
        NewOwner {
            username: &args.username,
            email: &args.email,
            password: Password::new(password.as_str()),
        },
    )
    .await?;
    let codes: Vec<&str> = owner.recovery_codes.iter().map(|c| c.as_str()).collect();
    if json {
        output::json(&json!({
            "userId": owner.user.id,
            "username": owner.user.username,
            "email": owner.user.email,
            "vaultId": vault_id,
            "otpauthUri": owner.otpauth_uri.as_str(),
            "recoveryCodes": codes,
        }))?;
    } else {
        let mut lines = vec![
            format!(
                "Owner {} ({}) created for vault {}.",
                owner.user.username, owner.user.email, vault_id
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

/// Turns the server's `sso_required` refusal into the command that works instead.
fn sso_hint(e: signet_client::ClientError) -> anyhow::Error {
    if e.error_code() == Some(ErrorCode::SsoRequired) {
        anyhow::anyhow!("this vault requires single sign-on: signet login --sso")
    } else {
        anyhow::Error::new(e)
    }
}

/// `signet login`.
pub async fn login(args: LoginArgs, json: bool) -> Result<ExitCode> {
    let Some(email) = args.email else {
        let provider = args.sso.flatten();
        return crate::sso::login(&args.server, provider, args.no_browser, &args.name, json).await;
    };
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
        &email,
        &password,
        Some(&factor),
        Some(&args.name),
    )
    .await
    .map_err(sso_hint)
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
    client.logout().await?;
    let id = client.identity();
    if json {
        output::json(&json!({ "operatorId": id.operator_id, "loggedOut": true }))?;
    } else {
        output::lines([format!("Operator key {} revoked.", id.operator_id)])?;
    }
    Ok(ExitCode::SUCCESS)
}
