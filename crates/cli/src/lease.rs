//! `signet connection` (database connections of a project) and `signet lease` (leased secrets
//! and their leases: create, list, renew, revoke).

use std::process::ExitCode;

use signet_client::api::admin::connection::{ConnectionAnswer, ConnectionRequest};
use signet_client::api::admin::lease::{
    LeaseAnswer, LeaseQueryRequest, LeaseSettings, LeaseSettingsAnswer,
};
use signet_client::{ConnectionId, LeaseId};
use zeroize::Zeroizing;

use crate::identity::OperatorOpts;
use crate::output::{self, Table};
use crate::{duration, ids, project};

/// `signet connection`.
#[derive(Debug, clap::Args)]
pub struct ConnectionArgs {
    #[command(flatten)]
    opts: OperatorOpts,
    #[command(subcommand)]
    command: ConnectionCommand,
}

/// Where the database is.
#[derive(Debug, Clone, clap::Args)]
struct Endpoint {
    /// The connection's name, unique in the project.
    #[arg(long)]
    name: String,
    /// Host name or address of the PostgreSQL server.
    #[arg(long)]
    host: String,
    /// Its port.
    #[arg(long, default_value_t = 5432)]
    port: u16,
    /// The database roles get rights in.
    #[arg(long)]
    database: String,
    /// The admin role Signet logs in as (needs CREATEROLE).
    #[arg(long)]
    admin_user: String,
    /// Read the admin password from this environment variable (never from the command line).
    #[arg(long, value_name = "VAR")]
    admin_password_env: Option<String>,
    /// `disable`, `prefer`, `require` or `verify-full`.
    #[arg(long, default_value = "verify-full")]
    tls_mode: String,
}

#[derive(Debug, clap::Subcommand)]
enum ConnectionCommand {
    /// Register a connection (the admin password comes from --admin-password-env).
    Create {
        /// The project (its name or id).
        #[arg(long)]
        project: String,
        #[command(flatten)]
        endpoint: Endpoint,
    },
    /// List a project's connections.
    List {
        /// The project (its name or id).
        #[arg(long)]
        project: String,
    },
    /// Change a connection (without --admin-password-env the stored password is kept).
    Update {
        /// The project (its name or id).
        #[arg(long)]
        project: String,
        /// The connection's id.
        id: String,
        #[command(flatten)]
        endpoint: Endpoint,
    },
    /// Delete a connection nothing uses.
    Delete {
        /// The project (its name or id).
        #[arg(long)]
        project: String,
        /// The connection's id.
        id: String,
    },
    /// Log in as the connection's admin and say whether it worked.
    Test {
        /// The project (its name or id).
        #[arg(long)]
        project: String,
        /// The connection's id.
        id: String,
    },
}

fn connection_id(raw: &str) -> anyhow::Result<ConnectionId> {
    ConnectionId::parse(raw).map_err(|_| {
        anyhow::anyhow!("{raw:?} is not a connection id (dbc_ and 10 letters or digits)")
    })
}

fn lease_id(raw: &str) -> anyhow::Result<LeaseId> {
    LeaseId::parse(raw)
        .map_err(|_| anyhow::anyhow!("{raw:?} is not a lease id (lease_ and 16 letters or digits)"))
}

impl Endpoint {
    fn request(self, required: bool) -> anyhow::Result<ConnectionRequest> {
        let admin_password = match &self.admin_password_env {
            Some(var) => {
                Some(Zeroizing::new(std::env::var(var).map_err(|_| {
                    anyhow::anyhow!("environment variable {var} is not set")
                })?))
            }
            None if required => anyhow::bail!("--admin-password-env VAR is required"),
            None => None,
        };
        Ok(ConnectionRequest {
            name: self.name,
            host: self.host,
            port: self.port,
            database: self.database,
            admin_user: self.admin_user,
            admin_password,
            tls_mode: self.tls_mode,
        })
    }
}

fn print_connection(json: bool, verb: &str, c: &ConnectionAnswer) -> anyhow::Result<()> {
    if json {
        return output::json(c);
    }
    output::lines([format!(
        "{verb}connection {} ({}): {}@{}:{}/{} tls={}",
        output::cell(&c.id),
        output::cell(&c.name),
        output::cell(&c.admin_user),
        output::cell(&c.host),
        c.port,
        output::cell(&c.database),
        c.tls_mode
    )])
}

/// Runs a `connection` subcommand.
pub async fn connection(args: ConnectionArgs, json: bool) -> anyhow::Result<ExitCode> {
    let client = args.opts.client()?;
    match args.command {
        ConnectionCommand::Create { project, endpoint } => {
            let project = project::resolve(&client, &project).await?;
            let c = client
                .connections()
                .create(&project, &endpoint.request(true)?)
                .await?;
            print_connection(json, "created ", &c)?;
        }
        ConnectionCommand::List { project } => {
            let project = project::resolve(&client, &project).await?;
            let r = client.connections().list(&project).await?;
            if json {
                output::json(&r)?;
            } else {
                let mut t = Table::new(&["ID", "NAME", "HOST", "PORT", "DATABASE", "ADMIN", "TLS"]);
                for c in &r.connections {
                    t.row(vec![
                        output::cell(&c.id),
                        output::cell(&c.name),
                        output::cell(&c.host),
                        c.port.to_string(),
                        output::cell(&c.database),
                        output::cell(&c.admin_user),
                        c.tls_mode.clone(),
                    ]);
                }
                t.print("no connections")?;
            }
        }
        ConnectionCommand::Update {
            project,
            id,
            endpoint,
        } => {
            let project = project::resolve(&client, &project).await?;
            let c = client
                .connections()
                .update(&project, &connection_id(&id)?, &endpoint.request(false)?)
                .await?;
            print_connection(json, "updated ", &c)?;
        }
        ConnectionCommand::Delete { project, id } => {
            let project = project::resolve(&client, &project).await?;
            let r = client
                .connections()
                .delete(&project, &connection_id(&id)?)
                .await?;
            if json {
                output::json(&r)?;
            } else {
                output::lines([format!("deleted connection {}", output::cell(&r.id))])?;
            }
        }
        ConnectionCommand::Test { project, id } => {
            let project = project::resolve(&client, &project).await?;
            let r = client
                .connections()
                .test(&project, &connection_id(&id)?)
                .await?;
            if json {
                output::json(&r)?;
            } else if r.ok {
                output::lines(["ok: logged in as the admin"])?;
            } else {
                output::lines([format!("failed: {}", r.error.as_deref().unwrap_or("other"))])?;
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `signet lease`.
#[derive(Debug, clap::Args)]
pub struct LeaseArgs {
    #[command(flatten)]
    opts: OperatorOpts,
    #[command(subcommand)]
    command: LeaseCommand,
}

/// A leased secret's settings.
#[derive(Debug, Clone, clap::Args)]
struct SettingsArgs {
    /// The database connection's id.
    #[arg(long)]
    connection: String,
    /// Lifetime of a lease (and of each renewal): `60s` to `30d`.
    #[arg(long, value_parser = duration::parse)]
    ttl: u64,
    /// Hard maximum from minting, renewals included (default: the lifetime).
    #[arg(long, value_parser = duration::parse)]
    max_ttl: Option<u64>,
    /// A read of the machine's active lease extends it.
    #[arg(long)]
    renew_on_read: bool,
    /// Every read mints a fresh role.
    #[arg(long)]
    mint_fresh: bool,
    /// Disabling or revoking the machine revokes its leases.
    #[arg(long)]
    revoke_on_disable: bool,
    /// Generated password length (default 32).
    #[arg(long)]
    password_length: Option<u32>,
    /// Generated password charset (default alphanumeric).
    #[arg(long)]
    password_charset: Option<String>,
    /// A grant statement; `{{name}}` is the new role. Repeat for several.
    #[arg(long = "grant", required = true)]
    grants: Vec<String>,
}

impl SettingsArgs {
    fn settings(self) -> LeaseSettings {
        LeaseSettings {
            connection_id: self.connection,
            ttl_secs: self.ttl,
            max_ttl_secs: self.max_ttl.unwrap_or(self.ttl),
            renew_on_read: self.renew_on_read,
            mint_fresh: self.mint_fresh,
            revoke_on_disable: self.revoke_on_disable,
            password_length: self.password_length,
            password_charset: self.password_charset,
            grant_sql: self.grants,
        }
    }
}

#[derive(Debug, clap::Subcommand)]
enum LeaseCommand {
    /// Create a leased secret: each machine read mints a database role.
    Create {
        /// The project (its name or id).
        #[arg(long)]
        project: String,
        /// The secret's name.
        #[arg(long)]
        name: String,
        #[command(flatten)]
        settings: SettingsArgs,
    },
    /// Show a leased secret's settings.
    Settings {
        /// The secret's id.
        secret: String,
    },
    /// List leases, newest first.
    List {
        /// Only this secret's.
        #[arg(long)]
        secret: Option<String>,
        /// Only this machine's.
        #[arg(long)]
        machine: Option<String>,
    },
    /// Extend a lease (never past its hard maximum).
    Renew {
        /// The lease's id.
        id: String,
        /// Extend to now plus this (default: the secret's lifetime).
        #[arg(long, value_parser = duration::parse)]
        ttl: Option<u64>,
    },
    /// Revoke a lease now: drop its role and end its sessions.
    Revoke {
        /// The lease's id.
        id: String,
    },
}

fn print_settings(json: bool, verb: &str, s: &LeaseSettingsAnswer) -> anyhow::Result<()> {
    if json {
        return output::json(s);
    }
    output::lines([format!(
        "{verb}leased secret {} on connection {}: ttl {}s, max {}s{}{}{}, {} grant statement(s)",
        output::cell(&s.secret_id),
        output::cell(&s.connection_id),
        s.ttl_secs,
        s.max_ttl_secs,
        if s.renew_on_read {
            ", renew on read"
        } else {
            ""
        },
        if s.mint_fresh { ", mint fresh" } else { "" },
        if s.revoke_on_disable {
            ", revoke on disable"
        } else {
            ""
        },
        s.grant_sql.len()
    )])
}

fn print_lease(json: bool, verb: &str, l: &LeaseAnswer) -> anyhow::Result<()> {
    if json {
        return output::json(l);
    }
    output::lines([format!(
        "{verb}lease {} ({}): {}, expires {}",
        output::cell(&l.id),
        output::cell(&l.role),
        l.state,
        output::at(l.expires_at)
    )])
}

/// Runs a `lease` subcommand.
pub async fn lease(args: LeaseArgs, json: bool) -> anyhow::Result<ExitCode> {
    let client = args.opts.client()?;
    match args.command {
        LeaseCommand::Create {
            project,
            name,
            settings,
        } => {
            let project = project::resolve(&client, &project).await?;
            let s = client
                .leases()
                .create_secret(&project, &name, &settings.settings())
                .await?;
            print_settings(json, "created ", &s)?;
        }
        LeaseCommand::Settings { secret } => {
            let s = client.leases().settings(&ids::secret(&secret)?).await?;
            print_settings(json, "", &s)?;
        }
        LeaseCommand::List { secret, machine } => {
            let query = LeaseQueryRequest {
                secret_id: secret
                    .as_deref()
                    .map(ids::secret)
                    .transpose()?
                    .map(|s| s.to_string()),
                machine_id: machine
                    .as_deref()
                    .map(ids::machine)
                    .transpose()?
                    .map(|m| m.to_string()),
            };
            let r = client.leases().list(&query).await?;
            if json {
                output::json(&r)?;
            } else {
                let mut t = Table::new(&["ID", "SECRET", "MACHINE", "ROLE", "EXPIRES", "STATE"]);
                for l in &r.leases {
                    t.row(vec![
                        output::cell(&l.id),
                        output::cell(&l.secret_id),
                        output::cell(&l.machine_id),
                        output::cell(&l.role),
                        output::at(l.expires_at),
                        l.state.clone(),
                    ]);
                }
                t.print("no leases")?;
            }
        }
        LeaseCommand::Renew { id, ttl } => {
            let l = client.leases().renew(&lease_id(&id)?, ttl).await?;
            print_lease(json, "renewed ", &l)?;
        }
        LeaseCommand::Revoke { id } => {
            let l = client.leases().revoke(&lease_id(&id)?).await?;
            print_lease(json, "revoked ", &l)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
