//! `signet enroll`: make a key on this machine, register its public half, save the identity.

use std::process::ExitCode;

use std::io::Read as _;

use anyhow::Context as _;
use serde_json::json;
use signet_client::{SignetHome, VaultId, enroll};
use zeroize::Zeroizing;

use crate::output;

/// `signet enroll`: one of `--token`, `--vault V --request`, `--vault V --enrollment-token T`,
/// or a platform token: `--vault V --oidc-token FILE|-`, `--github-actions`, `--kubernetes`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("mode").required(true).args(["token", "request", "enrollment_token", "oidc_token", "github_actions", "kubernetes"])))]
pub struct EnrollArgs {
    /// The server's URL (https://, or http:// to this host).
    #[arg(long, value_name = "URL")]
    server: String,
    /// A bootstrap token from `signet token bootstrap`; the machine then waits for approval.
    #[arg(long, value_name = "TOKEN", conflicts_with = "vault")]
    token: Option<String>,
    /// The vault to join (for --request and --enrollment-token).
    #[arg(long, value_name = "VAULT_ID")]
    vault: Option<String>,
    /// Ask to join without a token; an operator approves by quoting the printed fingerprint.
    #[arg(long, requires = "vault")]
    request: bool,
    /// An enrollment token: the machine is approved at once, ephemeral, and scoped by the token.
    #[arg(long, value_name = "TOKEN", requires = "vault")]
    enrollment_token: Option<String>,
    /// A platform token (a JWT from an OIDC issuer the vault trusts) read from FILE, or from
    /// standard input with `-`: the machine is approved at once, ephemeral, and scoped by the
    /// issuer's first matching rule.
    #[arg(long, value_name = "FILE|-", requires = "vault")]
    oidc_token: Option<String>,
    /// Enroll with this GitHub Actions job's OIDC token (the job needs
    /// `permissions: id-token: write`).
    #[arg(long, requires = "vault")]
    github_actions: bool,
    /// The audience to ask GitHub for (the issuer's expected audience in Signet).
    #[arg(long, value_name = "AUD", requires = "github_actions")]
    audience: Option<String>,
    /// Enroll with this pod's projected service-account token.
    #[arg(long, requires = "vault")]
    kubernetes: bool,
    /// Where the service-account token is
    /// [default: /var/run/secrets/kubernetes.io/serviceaccount/token].
    #[arg(long, value_name = "PATH", requires = "kubernetes")]
    token_file: Option<String>,
    /// A name for this machine [default: chosen by the server].
    #[arg(long)]
    name: Option<String>,
    /// The hostname to report [default: this host's name].
    #[arg(long)]
    hostname: Option<String>,
}

/// Which way in the machine took; it decides what the operator must do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// A bootstrap token: pending until approved.
    Bootstrap,
    /// An enrollment token: approved at once, ephemeral.
    EnrollmentToken,
    /// Tokenless: pending until approved with the fingerprint.
    Request,
    /// A platform token: approved at once, ephemeral.
    Platform,
}

/// Where Kubernetes projects a pod's service-account token.
const KUBERNETES_TOKEN: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/// Reads a platform token from a file or standard input, trimmed of the line end a file or a
/// pipe adds.
fn read_token(source: &str) -> anyhow::Result<Zeroizing<String>> {
    let mut text = Zeroizing::new(String::new());
    if source == "-" {
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the token from standard input")?;
    } else {
        let mut f = std::fs::File::open(source)
            .with_context(|| format!("cannot read the token file {source}"))?;
        f.read_to_string(&mut text)
            .with_context(|| format!("cannot read the token file {source}"))?;
    }
    let token = Zeroizing::new(text.trim().to_owned());
    if token.is_empty() {
        anyhow::bail!("the token from {source} is empty");
    }
    Ok(token)
}

/// The platform token the flags name, if any.
async fn platform_token(args: &EnrollArgs) -> anyhow::Result<Option<Zeroizing<String>>> {
    if let Some(source) = &args.oidc_token {
        return read_token(source).map(Some);
    }
    if args.kubernetes {
        let path = args.token_file.as_deref().unwrap_or(KUBERNETES_TOKEN);
        return read_token(path).map(Some);
    }
    if args.github_actions {
        let var = |name: &str| {
            std::env::var(name).map_err(|_| {
                anyhow::anyhow!(
                    "{name} is not set: run inside a GitHub Actions job with \
                     `permissions: id-token: write`"
                )
            })
        };
        let url = var("ACTIONS_ID_TOKEN_REQUEST_URL")?;
        let bearer = Zeroizing::new(var("ACTIONS_ID_TOKEN_REQUEST_TOKEN")?);
        let token = enroll::github_actions_token(&url, &bearer, args.audience.as_deref())
            .await
            .context("cannot get the job's OIDC token from GitHub")?;
        return Ok(Some(token));
    }
    Ok(None)
}

/// Enrolls and prints what the operator needs to know.
pub async fn run(args: EnrollArgs, json: bool) -> anyhow::Result<ExitCode> {
    let home = SignetHome::from_env()?;
    let hostname = match args.hostname.clone() {
        Some(h) => h,
        None => nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .unwrap_or_else(|| "unknown".to_owned()),
    };
    let name = args.name.as_deref();
    let vault = || -> anyhow::Result<VaultId> {
        let raw = args.vault.as_deref().unwrap_or_default();
        VaultId::parse(raw).map_err(|_| {
            anyhow::anyhow!("{raw:?} is not a vault id (vault_ and 16 letters or digits)")
        })
    };
    let platform = platform_token(&args).await?;
    let (mode, e) = if let Some(token) = &platform {
        (
            Mode::Platform,
            enroll::register_with_platform_token(
                &home,
                &args.server,
                &vault()?,
                token,
                &hostname,
                name,
            )
            .await,
        )
    } else if let Some(token) = &args.token {
        (
            Mode::Bootstrap,
            enroll::bootstrap(&home, &args.server, token, &hostname, name).await,
        )
    } else if let Some(token) = &args.enrollment_token {
        (
            Mode::EnrollmentToken,
            enroll::register_with_enrollment_token(
                &home,
                &args.server,
                &vault()?,
                token,
                &hostname,
                name,
            )
            .await,
        )
    } else {
        (
            Mode::Request,
            enroll::request(&home, &args.server, &vault()?, &hostname, name).await,
        )
    };
    let e = e.context("enrollment failed")?;
    let id = e.credentials.identity();
    let status = e.status.clone().unwrap_or_else(|| "approved".to_owned());

    if let Some(old) = &e.replaced {
        eprintln!(
            "note: the previous identity for this vault was moved to {}",
            old.display()
        );
    }
    if json {
        output::json(&json!({
            "machineId": id.machine_id,
            "machineName": id.machine_name,
            "vaultId": id.vault_id,
            "apiUrl": id.api_url,
            "identityPath": e.credentials.path(),
            "fingerprint": e.fingerprint.to_string(),
            "status": status,
            "expiresAt": e.expires_at,
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut lines = vec![
        format!(
            "machine:     {} ({})",
            id.machine_id,
            output::text(&id.machine_name.as_str().into())
        ),
        format!("vault:       {}", id.vault_id),
        format!("fingerprint: {}", e.fingerprint),
        format!("identity:    {}", e.credentials.path().display()),
    ];
    match mode {
        Mode::Request => {
            lines.push(format!("status:      {status} approval"));
            lines.push(String::new());
            lines.push(
                "Ask an operator to approve this machine, quoting the fingerprint above:"
                    .to_owned(),
            );
            lines.push(format!(
                "  signet machine approve {} --fingerprint {}",
                id.machine_id, e.fingerprint
            ));
            lines.push("or, for an AI agent that will run `signet mcp` here:".to_owned());
            lines.push(format!(
                "  signet ai-agent approve {} --fingerprint {} --scope ...",
                id.machine_id, e.fingerprint
            ));
        }
        Mode::Bootstrap => {
            lines.push(format!("status:      {status} approval"));
            lines.push(String::new());
            lines.push("An operator must approve it:".to_owned());
            lines.push(format!("  signet machine approve {}", id.machine_id));
        }
        Mode::EnrollmentToken | Mode::Platform => {
            let expiry = e.expires_at.map_or_else(String::new, |ms| {
                format!(", expires {}", output::utc_from_millis(ms))
            });
            lines.push(format!("status:      {status} (ephemeral{expiry})"));
        }
    }
    output::lines(lines)?;
    Ok(ExitCode::SUCCESS)
}
