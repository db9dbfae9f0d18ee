//! `signet`: the one binary for the server, the operator CLI and the machine CLI.
//!
//! The machine side mirrors SikkerKey's public CLI (`get`, `list`, `export`, `run`, `whoami`,
//! `status`; plus `watch`), reading `~/.signet/vaults/<vaultId>/identity.json`. The operator side calls the
//! admin API with an operator identity from `~/.signet/operators/<vaultId>/`. Every error is one
//! `error: ...` line on stderr, and its exit code says which kind it was (see [`exit_code`] and
//! docs/operations.md, "Exit codes"); `run` exits with its child's code.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory as _, Parser, Subcommand};
use signet_client::{ClientError, IdentityFileError, RetryCause};

mod access;
mod account;
mod agent;
mod ai_agent;
mod alert;
mod allowlist;
mod audit;
mod audit_file;
mod backup;
mod budget;
mod child;
mod completions;
mod duration;
mod enrollment;
mod environment;
mod export;
mod identity;
mod ids;
mod issuer;
mod key;
mod lease;
mod machine;
mod managed;
mod manual;
mod mcp;
mod output;
mod policy;
mod progress;
mod project;
mod rotation;
mod secret;
mod serve;
mod share;
mod sso;
mod storage;
mod token;
mod trash;
mod unseal;
mod vault;
mod watch;

/// `signet --version`: the release, the commit and the build date (crates/cli/build.rs).
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("SIGNET_COMMIT"),
    ", built ",
    env!("SIGNET_BUILD_DATE"),
    ")"
);

/// Exit codes scripts can tell apart (docs/operations.md, "Exit codes"); `run` exits with its
/// child's instead.
mod exit {
    /// Anything not below: a bad identity file, a refused input, an unexpected answer...
    pub const OTHER: u8 = 1;
    /// The command line itself is wrong (clap's own convention), or a file it names for the
    /// client (`--cacert`) is unusable.
    pub const USAGE: u8 = 2;
    /// 401: the key, signature or session was refused; or there is no identity to sign with.
    pub const UNAUTHENTICATED: u8 = 3;
    /// 403: the caller may not do this (or it does not exist, for a machine).
    pub const FORBIDDEN: u8 = 4;
    /// 404 or 409: no such object (operators), or it conflicts with the current state.
    pub const NOT_FOUND_OR_CONFLICT: u8 = 5;
    /// The server could not be reached, timed out, or answered 5xx (503 included), after the
    /// retries.
    pub const UNAVAILABLE: u8 = 6;
}

/// Signet: a self-hosted secrets manager in which no machine holds a bearer token.
#[derive(Debug, Parser)]
#[command(name = "signet", version = VERSION, max_term_width = 100)]
struct Cli {
    /// Print one JSON object instead of text (accepted before or after the subcommand).
    #[arg(long, global = true)]
    json: bool,
    /// Trust the CA certificates in this PEM file too (a private CA), besides the system's.
    #[arg(long, global = true, env = "SIGNET_CACERT", value_name = "PEM")]
    cacert: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the Signet server.
    // Boxed: every server setting is a flag, which makes these arguments the largest variant.
    Server(Box<serve::ServerArgs>),
    /// Operator identities.
    #[command(subcommand)]
    Operator(OperatorCommand),
    /// The database itself: copy an installation to another backend (runs on the server host).
    Storage(storage::StorageArgs),
    /// Take an encrypted, verified backup of a running installation (runs on the server host);
    /// `keygen` makes a backup key, `inspect` reads a backup's manifest.
    Backup(backup::BackupArgs),
    /// Restore a backup into a new, empty database and verify it (runs on the server host).
    Restore(backup::RestoreArgs),
    /// Human accounts (`create-owner` runs on the server host).
    User(account::UserArgs),
    /// Seal the root key under a passphrase or a PKCS#11 token: a new one (`init`) or an
    /// existing plain key file (`seal`). Runs on the server host.
    Unseal(unseal::UnsealArgs),
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
    /// The root keyring: rotate the root key online, retire old generations (operator; owners).
    Key(key::KeyArgs),

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

    /// Print a shell completion script (bash, zsh, fish, powershell, elvish).
    Completions(completions::CompletionsArgs),
    /// Print the manual page, or write one per command with `--out DIR`.
    Man(manual::ManArgs),
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
            // Help and version go to stdout with success; usage errors to stderr with 2.
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(exit::USAGE)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    if let Some(pem) = &cli.cacert {
        // Before any client exists, so every one of them trusts it.
        signet_client::trust_ca_file(pem);
    }
    signet_client::on_retry(retry_notice);
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
        Command::Server(args) => serve::server(*args).await.map(|()| ExitCode::SUCCESS),
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
        Command::Backup(args) => {
            serve::init_logging(false, "warn");
            backup::backup(args, json).await
        }
        Command::Restore(args) => {
            serve::init_logging(false, "warn");
            backup::restore(args, json).await
        }
        Command::User(args) => account::user(args, json).await,
        Command::Unseal(args) => unseal::run(args, json),
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
        Command::Key(args) => key::run(args, json).await,
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
        Command::Completions(args) => completions::run(args, Cli::command()),
        Command::Man(args) => manual::run(args, Cli::command(), json),
    }
}

/// Says once, on stderr, that the command is waiting for the server rather than stuck.
fn retry_notice(cause: RetryCause) {
    static SAID: std::sync::Once = std::sync::Once::new();
    SAID.call_once(|| {
        let why = match cause {
            RetryCause::RateLimited => "over the request budget",
            _ => "server unavailable",
        };
        let _ = writeln!(std::io::stderr(), "signet: {why}, retrying…");
    });
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
    ExitCode::from(exit_code(e))
}

/// The exit code of a failed command: the kind of the first SDK error in its chain, else
/// [`exit::OTHER`]. The one place the SDK's errors become exit codes.
fn exit_code(e: &anyhow::Error) -> u8 {
    // No identity at all (never enrolled, never signed in) is not authenticated, as a refused
    // key is: the script's remedy is the same, enroll or `signet login`.
    let identity = e.chain().find_map(|c| {
        c.downcast_ref::<IdentityFileError>()
            .or(match c.downcast_ref::<ClientError>() {
                Some(ClientError::Identity(i)) => Some(i),
                _ => None,
            })
    });
    if let Some(IdentityFileError::NotFound { .. }) = identity {
        return exit::UNAUTHENTICATED;
    }
    let Some(client) = e.chain().find_map(|c| c.downcast_ref::<ClientError>()) else {
        return exit::OTHER;
    };
    match client {
        ClientError::Http { status: 401, .. } => exit::UNAUTHENTICATED,
        ClientError::Http { status: 403, .. } => exit::FORBIDDEN,
        ClientError::Http {
            status: 404 | 409, ..
        } => exit::NOT_FOUND_OR_CONFLICT,
        ClientError::Http {
            status: 500..=599, ..
        }
        | ClientError::Transport { .. } => exit::UNAVAILABLE,
        // `--cacert`/`SIGNET_CACERT` names a file that is no CA: the command line (or its
        // environment) is wrong, as for any other bad flag value, and nothing was sent.
        ClientError::CaCertificate { .. } => exit::USAGE,
        _ => exit::OTHER,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn command_tree_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn each_kind_of_sdk_error_has_its_exit_code() {
        let http = |status: u16| {
            anyhow::Error::new(ClientError::Http {
                status,
                kind: signet_client::HttpErrorKind::from_status(status),
                code: None,
                message: "refused".into(),
                current_version: None,
            })
            // Under a context, as commands add one: the chain is searched.
            .context("cannot list secrets")
        };
        let cases = [
            (401, exit::UNAUTHENTICATED),
            (403, exit::FORBIDDEN),
            (404, exit::NOT_FOUND_OR_CONFLICT),
            (409, exit::NOT_FOUND_OR_CONFLICT),
            (500, exit::UNAVAILABLE),
            (502, exit::UNAVAILABLE),
            (503, exit::UNAVAILABLE),
            (400, exit::OTHER),
            (413, exit::OTHER),
            (423, exit::OTHER),
            (429, exit::OTHER),
        ];
        for (status, code) in cases {
            assert_eq!(exit_code(&http(status)), code, "HTTP {status}");
        }
        let network = anyhow::Error::new(ClientError::Transport {
            connect: true,
            source: Box::new(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)),
        });
        assert_eq!(exit_code(&network), exit::UNAVAILABLE);
        assert_eq!(exit_code(&anyhow::anyhow!("bad input")), exit::OTHER);
        let ca = anyhow::Error::new(ClientError::CaCertificate {
            path: "/x.pem".into(),
            reason: "no PEM certificate in the file".into(),
        });
        assert_eq!(exit_code(&ca), exit::USAGE);
        let none = || IdentityFileError::NotFound {
            dir: "/home/x/.signet/vaults".into(),
        };
        assert_eq!(
            exit_code(&anyhow::Error::new(none()).context("cannot load")),
            exit::UNAUTHENTICATED
        );
        assert_eq!(
            exit_code(&anyhow::Error::new(ClientError::Identity(none()))),
            exit::UNAUTHENTICATED
        );
        let malformed = IdentityFileError::Malformed {
            path: "/x/identity.json".into(),
        };
        assert_eq!(exit_code(&anyhow::Error::new(malformed)), exit::OTHER);
    }

    #[test]
    fn version_names_the_commit_and_the_build_date() {
        let version = Cli::command().render_version();
        assert!(
            version.starts_with(&format!("signet {} (commit ", env!("CARGO_PKG_VERSION"))),
            "{version}"
        );
        assert!(version.contains(", built "), "{version}");
    }

    #[test]
    fn completions_take_a_known_shell_and_man_an_optional_folder() {
        for shell in ["bash", "zsh", "fish", "powershell"] {
            assert!(Cli::try_parse_from(["signet", "completions", shell]).is_ok());
        }
        assert!(Cli::try_parse_from(["signet", "completions", "tcsh"]).is_err());
        assert!(Cli::try_parse_from(["signet", "man"]).is_ok());
        assert!(Cli::try_parse_from(["signet", "man", "--out", "/tmp/man"]).is_ok());
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
