//! `signet`: the one binary for the server, the operator CLI and the machine CLI.
//!
//! The machine side mirrors SikkerKey's public CLI (`get`, `list`, `export`, `run`, `whoami`,
//! `status`; plus `watch`), reading `~/.signet/vaults/<vaultId>/identity.json`. The operator side calls the
//! admin API with an operator identity from `~/.signet/operators/<vaultId>/`. Exit codes: 0 on
//! success, 1 on any error with one `error: ...` line on stderr; `run` exits with its child's
//! code.

use std::io::Write as _;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod access;
mod account;
mod agent;
mod ai_agent;
mod alert;
mod allowlist;
mod audit;
mod budget;
mod child;
mod duration;
mod enrollment;
mod environment;
mod export;
mod identity;
mod ids;
mod issuer;
mod lease;
mod machine;
mod managed;
mod mcp;
mod output;
mod policy;
mod project;
mod rotation;
mod secret;
mod serve;
mod share;
mod sso;
mod storage;
mod token;
mod trash;
mod vault;
mod watch;

/// Signet: a self-hosted secrets manager in which no machine holds a bearer token.
#[derive(Debug, Parser)]
#[command(name = "signet", version, max_term_width = 100)]
struct Cli {
    /// Print one JSON object instead of text (accepted before or after the subcommand).
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the Signet server.
    Server(serve::ServerArgs),
    /// Operator identities.
    #[command(subcommand)]
    Operator(OperatorCommand),
    /// The database itself: copy an installation to another backend (runs on the server host).
    Storage(storage::StorageArgs),
    /// Human accounts (`create-owner` runs on the server host).
    User(account::UserArgs),
    /// Sign in with a password and a second factor, or through single sign-on (`--sso`); makes
    /// an operator key here that expires.
    Login(account::LoginArgs),
    /// Revoke the operator key made by `signet login`.
    Logout(account::LogoutArgs),

    /// Projects, which group secrets (operator).
    Project(project::ProjectArgs),
    /// Access policies: named rules a machine's read of a bound secret must pass (operator).
    Policy(policy::PolicyArgs),
    /// Secrets: create, update, version, delete (operator; values go in, never out).
    Secret(secret::SecretArgs),
    /// Bootstrap and enrollment tokens (operator).
    Token(token::TokenArgs),
    /// Machines: approve, scope and revoke (operator).
    Machine(machine::MachineArgs),
    /// Vault-wide settings (operator).
    Vault(vault::VaultArgs),
    /// The vault's source-IP allowlist (operator).
    IpAllowlist(allowlist::AllowlistArgs),
    /// The hash-chained audit log (operator).
    Audit(audit::AuditArgs),
    /// Request budgets: signed requests per minute, vault-wide and per machine (operator).
    Budget(budget::BudgetArgs),
    /// One-time share links: a value for one reader, behind a passphrase (operator; `open`
    /// needs no identity).
    Share(share::ShareArgs),
    /// Deleted secrets and projects: list, restore, purge, retention (operator).
    Trash(trash::TrashArgs),
    /// Database connections a project's leased secrets mint roles in (operator).
    Connection(lease::ConnectionArgs),
    /// Leased secrets and leases: create, list, renew, revoke (operator).
    Lease(lease::LeaseArgs),
    /// Webhooks alerts are delivered to, their delivery log, and `verify` for a saved delivery
    /// (operator; `verify` needs no identity).
    Webhook(alert::WebhookArgs),
    /// Alert rules: which audit actions, or bursts of denied reads, raise an alert (operator).
    Alert(alert::AlertArgs),
    /// Trusted OIDC issuers whose platform tokens (CI jobs, Kubernetes service accounts) may
    /// enroll workloads, and their rules (operator).
    Issuer(issuer::IssuerArgs),
    /// Single sign-on: the OpenID providers people sign in through and the mappings from their
    /// claims to roles (owners), and your own linked identities (operator).
    Sso(sso::SsoArgs),
    /// AI agents: approve a pending machine as an agent with scopes, change them, cut it off
    /// (operator).
    AiAgent(ai_agent::AiAgentArgs),

    /// Enroll this machine: make a key here and register its public half.
    Enroll(enrollment::EnrollArgs),
    /// Print one secret's value, or one field of a structured secret.
    Get(access::GetArgs),
    /// List the secrets this machine can read, by project.
    List(access::ListArgs),
    /// Print readable secrets as env, dotenv, YAML or JSON.
    Export(export::ExportArgs),
    /// Run a command with secrets in its environment.
    Run(child::RunArgs),
    /// Print change notifications for the secrets this machine may read, as they happen.
    Watch(watch::WatchArgs),
    /// Show this machine's identity, locally and as the server sees it.
    Whoami(identity::WhoamiArgs),
    /// Check the key file, authenticate, and count readable secrets.
    Status(identity::StatusArgs),
    /// Keep managed database passwords in sync, and render secrets into files (machine).
    Agent(agent::AgentArgs),
    /// Serve the Model Context Protocol over stdio as an AI agent (its identity approved by
    /// `signet ai-agent approve`); it can manage, never read a value.
    Mcp(mcp::McpArgs),
}

#[derive(Debug, Subcommand)]
enum OperatorCommand {
    /// Create the vault's first operator identity (run on the server host).
    Init(serve::OperatorInitArgs),
    /// Show the operator identity as the server sees it.
    Whoami(identity::OperatorWhoamiArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout with success; usage errors exit 1 (not clap's 2).
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    // Test builds only: arms the fault points `FAILPOINTS` names (see signet_core::fault).
    let _faults = signet_core::fault::arm_from_env();
    let outcome = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(dispatch(cli.command, cli.json)),
        Err(e) => Err(anyhow::Error::new(e).context("cannot start the async runtime")),
    };
    match outcome {
        Ok(code) => code,
        Err(e) => report(&e),
    }
}

async fn dispatch(command: Command, json: bool) -> anyhow::Result<ExitCode> {
    match command {
        Command::Server(args) => serve::server(args).await.map(|()| ExitCode::SUCCESS),
        Command::Operator(OperatorCommand::Init(args)) => serve::operator_init(args, json)
            .await
            .map(|()| ExitCode::SUCCESS),
        Command::Operator(OperatorCommand::Whoami(args)) => {
            identity::operator_whoami(args, json).await
        }
        Command::Storage(args) => {
            serve::init_logging(false, "warn");
            storage::run(args, json).await
        }
        Command::User(args) => account::user(args, json).await,
        Command::Login(args) => account::login(args, json).await,
        Command::Logout(args) => account::logout(args, json).await,
        Command::Project(args) => project::run(args, json).await,
        Command::Policy(args) => policy::run(args, json).await,
        Command::Secret(args) => secret::run(args, json).await,
        Command::Token(args) => token::run(args, json).await,
        Command::Machine(args) => machine::run(args, json).await,
        Command::Vault(args) => vault::run(args, json).await,
        Command::IpAllowlist(args) => allowlist::run(args, json).await,
        Command::Audit(args) => audit::run(args, json).await,
        Command::Budget(args) => budget::run(args, json).await,
        Command::Share(args) => share::run(args, json).await,
        Command::Trash(args) => trash::run(args, json).await,
        Command::Connection(args) => lease::connection(args, json).await,
        Command::Lease(args) => lease::lease(args, json).await,
        Command::Webhook(args) => alert::webhook(args, json).await,
        Command::Alert(args) => alert::alert(args, json).await,
        Command::Issuer(args) => issuer::run(args, json).await,
        Command::Sso(args) => sso::run(args, json).await,
        Command::AiAgent(args) => ai_agent::run(args, json).await,
        Command::Enroll(args) => enrollment::run(args, json).await,
        Command::Get(args) => access::get(args, json).await,
        Command::List(args) => access::list(args, json).await,
        Command::Export(args) => export::run(args, json).await,
        Command::Run(args) => child::run(args).await,
        Command::Watch(args) => watch::run(args, json).await,
        Command::Whoami(args) => identity::whoami(args, json).await,
        Command::Status(args) => identity::status(args, json).await,
        Command::Agent(args) => agent::run(args).await,
        Command::Mcp(args) => mcp::run(args).await,
    }
}

/// Prints the error as one line and picks the exit code. A closed stdout (`signet get x | head`)
/// is not an error.
fn report(e: &anyhow::Error) -> ExitCode {
    let broken_pipe = e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    });
    if broken_pipe {
        return ExitCode::SUCCESS;
    }
    let text: String = format!("{e:#}")
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let _ = writeln!(std::io::stderr(), "error: {text}");
    ExitCode::from(1)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use clap::CommandFactory as _;

    use super::*;

    #[test]
    fn command_tree_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn run_takes_the_command_after_the_separator() {
        let cli = Cli::try_parse_from([
            "signet", "run", "--all", "--prefix", "APP_", "--", "env", "--json",
        ])
        .unwrap();
        let Command::Run(args) = cli.command else {
            panic!()
        };
        assert_eq!(args.command, ["env", "--json"]);
    }

    #[test]
    fn secret_content_is_exactly_one_of_value_file_or_fields() {
        let ok = [
            "signet",
            "secret",
            "create",
            "--project",
            "p",
            "--name",
            "n",
            "--field",
            "a=1",
            "--field",
            "b=2",
        ];
        assert!(Cli::try_parse_from(ok).is_ok());
        let both = [
            "signet",
            "secret",
            "create",
            "--project",
            "p",
            "--name",
            "n",
            "--value",
            "v",
            "--field",
            "a=1",
        ];
        assert!(Cli::try_parse_from(both).is_err());
        let none = [
            "signet",
            "secret",
            "create",
            "--project",
            "p",
            "--name",
            "n",
        ];
        assert!(Cli::try_parse_from(none).is_err());
    }

    #[test]
    fn storage_migrate_takes_two_database_urls() {
        let ok = [
            "signet",
            "storage",
            "migrate",
            "--from",
            "sqlite:///var/lib/signet/signet.db",
            "--to",
            "postgres://signet@db/signet",
        ];
        assert!(Cli::try_parse_from(ok).is_ok());
        let missing = ["signet", "storage", "migrate", "--from", "sqlite:///a"];
        assert!(Cli::try_parse_from(missing).is_err());
    }

    #[test]
    fn enroll_modes_are_exclusive() {
        assert!(
            Cli::try_parse_from(["signet", "enroll", "--server", "https://x", "--token", "t"])
                .is_ok()
        );
        assert!(
            Cli::try_parse_from([
                "signet",
                "enroll",
                "--server",
                "https://x",
                "--vault",
                "vault_a1b2c3d4e5f6g7h8",
                "--request"
            ])
            .is_ok()
        );
        assert!(
            Cli::try_parse_from(["signet", "enroll", "--server", "https://x", "--request"])
                .is_err()
        );
        assert!(
            Cli::try_parse_from([
                "signet",
                "enroll",
                "--server",
                "https://x",
                "--token",
                "t",
                "--request",
                "--vault",
                "vault_a1b2c3d4e5f6g7h8"
            ])
            .is_err()
        );
        assert!(Cli::try_parse_from(["signet", "enroll", "--server", "https://x"]).is_err());
    }

    #[test]
    fn login_takes_a_password_or_single_sign_on_never_both() {
        let server = ["signet", "login", "--server", "https://x"];
        let parses = |extra: &[&str]| {
            let mut argv = server.to_vec();
            argv.extend_from_slice(extra);
            Cli::try_parse_from(argv).is_ok()
        };
        assert!(parses(&["--email", "a@b.test", "--totp", "123456"]));
        assert!(parses(&["--sso"]));
        assert!(parses(&["--sso", "corp", "--no-browser"]));
        assert!(parses(&["--sso", "--no-browser", "--name", "laptop"]));
        assert!(!parses(&[]), "neither a login nor --sso");
        assert!(!parses(&["--sso", "corp", "--email", "a@b.test"]));
        assert!(!parses(&["--sso", "--password-stdin"]));
        assert!(!parses(&["--sso", "--totp", "123456"]));
        assert!(!parses(&["--email", "a@b.test", "--no-browser"]));
    }

    #[test]
    fn sso_and_vault_switches_take_on_off_or_true_false() {
        for argv in [
            &["signet", "vault", "settings", "--sso-required", "on"][..],
            &[
                "signet",
                "vault",
                "settings",
                "--sso-trust-provider-mfa",
                "false",
            ],
            &["signet", "vault", "settings", "--break-glass", "owner"],
            &[
                "signet",
                "sso",
                "provider",
                "update",
                "corp",
                "--enabled",
                "true",
            ],
            &[
                "signet",
                "sso",
                "provider",
                "add",
                "corp",
                "--issuer",
                "https://i",
                "--client-id",
                "c",
                "--jit",
                "--disabled",
            ],
            &[
                "signet",
                "sso",
                "mapping",
                "add",
                "corp",
                "--claim",
                "groups",
                "--value",
                "v",
                "--role",
                "viewer",
                "--project",
                "p1",
                "--project",
                "p2",
            ],
            &[
                "signet",
                "sso",
                "mapping",
                "delete",
                "corp",
                "ssm_abcdefghijkl",
            ],
        ] {
            Cli::try_parse_from(argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
        }
        assert!(
            Cli::try_parse_from(["signet", "vault", "settings", "--sso-required", "yes"]).is_err()
        );
        // A client secret is never a flag's value.
        assert!(
            Cli::try_parse_from([
                "signet",
                "sso",
                "provider",
                "add",
                "corp",
                "--issuer",
                "https://i",
                "--client-id",
                "c",
                "--client-secret",
                "s"
            ])
            .is_err()
        );
        assert!(
            Cli::try_parse_from([
                "signet",
                "sso",
                "provider",
                "update",
                "corp",
                "--client-secret-file",
                "-",
                "--no-client-secret"
            ])
            .is_err()
        );
    }

    #[test]
    fn json_flag_is_accepted_before_or_after_the_subcommand() {
        for argv in [
            &["signet", "--json", "project", "list"][..],
            &["signet", "project", "list", "--json"],
            &[
                "signet",
                "machine",
                "approve",
                "x",
                "--json",
                "--fingerprint",
                "f",
            ],
            &["signet", "--json", "list"],
            &["signet", "export", "--json"],
        ] {
            let cli = Cli::try_parse_from(argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
            assert!(cli.json, "{argv:?}");
        }
    }
}
