//! `signet sso provider add|list|show|update|delete`, `signet sso mapping add|list|delete` and
//! `signet sso identities|unlink`: the OpenID providers people sign in through, the mappings
//! from their claims to a role and project scope, and one's own linked identities. Also
//! `signet login --sso`, which signs in through a provider in a browser.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};
use serde_json::json;
use signet_client::api::sso::{
    SsoMappingCreateRequest, SsoProviderAnswer, SsoProviderCreateRequest, SsoProviderUpdateRequest,
};
use signet_client::sso::{LoopbackOutcome, SsoLogin, login_options};
use signet_client::{SignetHome, Sso, SsoMappingId, SsoProviderId};
use zeroize::Zeroizing;

use crate::identity::OperatorOpts;
use crate::output::{self, Table};
use crate::vault::Switch;

/// A client secret longer than this is not one.
const MAX_CLIENT_SECRET: u64 = 4096;

/// `signet sso`.
#[derive(Debug, clap::Args)]
pub struct SsoArgs {
    #[command(flatten)]
    opts: OperatorOpts,
    #[command(subcommand)]
    command: SsoCommand,
}

#[derive(Debug, clap::Subcommand)]
enum SsoCommand {
    /// OpenID providers people sign in through (owners).
    #[command(subcommand)]
    Provider(ProviderCommand),
    /// Mappings from a person's claims to a role and project scope; the first that holds
    /// decides, at every sign-in (owners).
    #[command(subcommand)]
    Mapping(MappingCommand),
    /// The provider identities linked to your account.
    Identities,
    /// Unlink one of your provider identities.
    Unlink {
        /// The provider's id (sso_…) or name.
        provider: String,
    },
}

#[derive(Debug, clap::Subcommand)]
enum ProviderCommand {
    /// Trust a provider. Register the redirect URI it prints at the provider.
    Add {
        /// A label shown on the sign-in button, unique in the vault.
        name: String,
        /// The provider's issuer URL, exactly as its ID tokens' `iss` carries it.
        #[arg(long)]
        issuer: String,
        /// The client id Signet is registered under at the provider.
        #[arg(long)]
        client_id: String,
        /// Read the client secret from a file (`-`: standard input) [default: none, a public
        /// client with PKCE only].
        #[arg(long, value_name = "FILE")]
        client_secret_file: Option<PathBuf>,
        /// A scope asked for besides `openid` (repeatable) [default: profile, email].
        #[arg(long = "scope", value_name = "SCOPE")]
        scopes: Vec<String>,
        /// The claim naming the Signet user [default: preferred_username, else email].
        #[arg(long, value_name = "CLAIM")]
        username_claim: Option<String>,
        /// The claim listing the person's groups [default: groups].
        #[arg(long, value_name = "CLAIM")]
        groups_claim: Option<String>,
        /// Create the user at their first sign-in if a mapping holds (just in time).
        #[arg(long)]
        jit: bool,
        /// Add it switched off: no button, no sign-in.
        #[arg(long)]
        disabled: bool,
    },
    /// Trusted providers.
    List,
    /// One provider with its mappings, in the order they are tried.
    Show {
        /// The provider's id (sso_…) or name.
        provider: String,
    },
    /// Change a provider's settings; what is not given stays.
    Update {
        /// The provider's id (sso_…) or name.
        provider: String,
        /// A new label.
        #[arg(long)]
        name: Option<String>,
        /// A new client id.
        #[arg(long)]
        client_id: Option<String>,
        /// Read a new client secret from a file (`-`: standard input).
        #[arg(long, value_name = "FILE", conflicts_with = "no_client_secret")]
        client_secret_file: Option<PathBuf>,
        /// Remove the client secret (a public client with PKCE only).
        #[arg(long)]
        no_client_secret: bool,
        /// The scopes asked for besides `openid` (repeatable; replaces the list).
        #[arg(long = "scope", value_name = "SCOPE")]
        scopes: Vec<String>,
        /// A new username claim.
        #[arg(long, value_name = "CLAIM")]
        username_claim: Option<String>,
        /// A new groups claim.
        #[arg(long, value_name = "CLAIM")]
        groups_claim: Option<String>,
        /// Just-in-time user creation.
        #[arg(long, value_enum)]
        jit: Option<Switch>,
        /// Whether sign-ins through it are accepted.
        #[arg(long, value_enum)]
        enabled: Option<Switch>,
    },
    /// Stop trusting a provider: its mappings and linked identities go, the users stay.
    Delete {
        /// The provider's id (sso_…) or name.
        provider: String,
    },
}

#[derive(Debug, clap::Subcommand)]
enum MappingCommand {
    /// Add a mapping, tried after the existing ones.
    Add {
        /// The provider's id (sso_…) or name.
        provider: String,
        /// The claim to test, e.g. groups, email, hd.
        #[arg(long)]
        claim: String,
        /// The value the claim must equal (a string) or contain (a list).
        #[arg(long)]
        value: String,
        /// The role it gives: owner, admin, developer or viewer.
        #[arg(long)]
        role: String,
        /// Limit a developer or viewer to this project (repeatable) [default: every project].
        #[arg(long = "project", value_name = "PROJECT_ID")]
        projects: Vec<String>,
    },
    /// A provider's mappings, in the order they are tried.
    List {
        /// The provider's id (sso_…) or name.
        provider: String,
    },
    /// Remove a mapping.
    Delete {
        /// The provider's id (sso_…) or name.
        provider: String,
        /// The mapping's id (ssm_…).
        mapping: String,
    },
}

/// A client secret from a file or standard input, without the line ending a file usually has.
fn read_client_secret(path: &Path) -> Result<Zeroizing<String>> {
    let mut raw = Zeroizing::new(String::new());
    if path == Path::new("-") {
        std::io::stdin()
            .take(MAX_CLIENT_SECRET + 1)
            .read_to_string(&mut raw)
            .context("cannot read the client secret from standard input")?;
    } else {
        std::fs::File::open(path)
            .and_then(|f| f.take(MAX_CLIENT_SECRET + 1).read_to_string(&mut raw))
            .with_context(|| format!("cannot read the client secret from {}", path.display()))?;
    }
    if raw.len() as u64 > MAX_CLIENT_SECRET {
        bail!("the client secret is longer than {MAX_CLIENT_SECRET} bytes");
    }
    let secret = Zeroizing::new(raw.trim_end_matches(['\r', '\n']).to_owned());
    if secret.is_empty() {
        bail!("the client secret is empty (to remove one, use --no-client-secret)");
    }
    Ok(secret)
}

/// A provider named by id, else by its exact name.
async fn provider_id(sso: Sso<'_>, raw: &str) -> Result<SsoProviderId> {
    if let Ok(id) = SsoProviderId::parse(raw) {
        return Ok(id);
    }
    sso.providers()
        .await?
        .providers
        .into_iter()
        .find(|p| p.name == raw)
        .map(|p| p.id)
        .ok_or_else(|| anyhow!("no SSO provider is named {raw:?}"))
}

fn mapping_id(raw: &str) -> Result<SsoMappingId> {
    SsoMappingId::parse(raw)
        .map_err(|_| anyhow!("{raw:?} is not a mapping id (ssm_ and 12 letters or digits)"))
}

fn on_off(b: bool) -> &'static str {
    if b { "on" } else { "off" }
}

fn print_provider(p: &SsoProviderAnswer) -> Result<()> {
    let mut scopes = vec!["openid".to_owned()];
    scopes.extend(p.scopes.iter().map(output::cell));
    output::lines([
        format!("provider:       {} ({})", p.id, output::cell(&p.name)),
        format!("issuer:         {}", output::cell(&p.issuer)),
        format!("client id:      {}", output::cell(&p.client_id)),
        format!(
            "client secret:  {}",
            if p.has_client_secret {
                "set"
            } else {
                "none (public client, PKCE only)"
            }
        ),
        format!("scopes:         {}", scopes.join(" ")),
        format!("username claim: {}", output::cell(&p.username_claim)),
        format!("groups claim:   {}", output::cell(&p.groups_claim)),
        format!("just in time:   {}", on_off(p.jit_users)),
        format!("enabled:        {}", on_off(p.enabled)),
        format!("redirect URI:   {}", output::cell(&p.redirect_uri)),
    ])?;
    print_mappings(p)
}

fn print_mappings(p: &SsoProviderAnswer) -> Result<()> {
    let mut t = Table::new(&["#", "ID", "CLAIM", "VALUE", "ROLE", "PROJECTS"]);
    for m in &p.mappings {
        t.row(vec![
            m.position.to_string(),
            m.id.to_string(),
            output::cell(&m.claim),
            output::cell(&m.value),
            output::cell(&m.role),
            if m.project_ids.is_empty() {
                "every project".to_owned()
            } else {
                output::cell(&m.project_ids)
            },
        ]);
    }
    t.print("no mappings: nobody can sign in through it yet")
}

/// Runs an `sso` subcommand.
pub async fn run(args: SsoArgs, json: bool) -> Result<ExitCode> {
    let client = args.opts.client()?;
    let sso = client.sso();
    let shown = match args.command {
        SsoCommand::Provider(ProviderCommand::Add {
            name,
            issuer,
            client_id,
            client_secret_file,
            scopes,
            username_claim,
            groups_claim,
            jit,
            disabled,
        }) => {
            let client_secret = client_secret_file
                .as_deref()
                .map(read_client_secret)
                .transpose()?;
            sso.create(&SsoProviderCreateRequest {
                name,
                issuer,
                client_id,
                client_secret,
                scopes: (!scopes.is_empty()).then_some(scopes),
                username_claim,
                groups_claim,
                jit_users: Some(jit),
                enabled: Some(!disabled),
            })
            .await?
        }
        SsoCommand::Provider(ProviderCommand::List) => {
            let list = sso.providers().await?;
            if json {
                output::json(&list)?;
            } else {
                let mut t = Table::new(&[
                    "ID", "NAME", "ISSUER", "CLIENT", "JIT", "ENABLED", "MAPPINGS",
                ]);
                for p in &list.providers {
                    t.row(vec![
                        p.id.to_string(),
                        output::cell(&p.name),
                        output::cell(&p.issuer),
                        output::cell(&p.client_id),
                        on_off(p.jit_users).to_owned(),
                        on_off(p.enabled).to_owned(),
                        p.mappings.len().to_string(),
                    ]);
                }
                t.print("no SSO providers")?;
            }
            return Ok(ExitCode::SUCCESS);
        }
        SsoCommand::Provider(ProviderCommand::Show { provider }) => {
            sso.show(&provider_id(sso, &provider).await?).await?
        }
        SsoCommand::Provider(ProviderCommand::Update {
            provider,
            name,
            client_id,
            client_secret_file,
            no_client_secret,
            scopes,
            username_claim,
            groups_claim,
            jit,
            enabled,
        }) => {
            let client_secret = if no_client_secret {
                Some(Zeroizing::new(String::new()))
            } else {
                client_secret_file
                    .as_deref()
                    .map(read_client_secret)
                    .transpose()?
            };
            let req = SsoProviderUpdateRequest {
                name,
                client_id,
                client_secret,
                scopes: (!scopes.is_empty()).then_some(scopes),
                username_claim,
                groups_claim,
                jit_users: jit.map(Switch::on),
                enabled: enabled.map(Switch::on),
            };
            if req == SsoProviderUpdateRequest::default() {
                bail!(
                    "nothing to change: give --name, --client-id, --client-secret-file, \
                     --no-client-secret, --scope, --username-claim, --groups-claim, --jit or \
                     --enabled"
                );
            }
            sso.update(&provider_id(sso, &provider).await?, &req)
                .await?
        }
        SsoCommand::Provider(ProviderCommand::Delete { provider }) => {
            let d = sso.delete(&provider_id(sso, &provider).await?).await?;
            if json {
                output::json(&d)?;
            } else {
                output::lines([format!(
                    "Provider {} deleted, with its mappings and linked identities.",
                    d.id
                )])?;
            }
            return Ok(ExitCode::SUCCESS);
        }
        SsoCommand::Mapping(MappingCommand::Add {
            provider,
            claim,
            value,
            role,
            projects,
        }) => {
            let id = provider_id(sso, &provider).await?;
            sso.add_mapping(
                &id,
                &SsoMappingCreateRequest {
                    claim,
                    value,
                    role,
                    project_ids: projects,
                },
            )
            .await?
        }
        SsoCommand::Mapping(MappingCommand::List { provider }) => {
            let p = sso.show(&provider_id(sso, &provider).await?).await?;
            if json {
                output::json(&p.mappings)?;
            } else {
                print_mappings(&p)?;
            }
            return Ok(ExitCode::SUCCESS);
        }
        SsoCommand::Mapping(MappingCommand::Delete { provider, mapping }) => {
            let mapping = mapping_id(&mapping)?;
            sso.delete_mapping(&provider_id(sso, &provider).await?, &mapping)
                .await?
        }
        SsoCommand::Identities => {
            let r = sso.identities().await?;
            print_identities(&r, json)?;
            return Ok(ExitCode::SUCCESS);
        }
        SsoCommand::Unlink { provider } => {
            // Anyone may unlink their own identity, so the name is looked up among those, not
            // in the owners' provider list.
            let id = match SsoProviderId::parse(&provider) {
                Ok(id) => id,
                Err(_) => sso
                    .identities()
                    .await?
                    .identities
                    .into_iter()
                    .find(|i| i.provider_name == provider)
                    .map(|i| i.provider_id)
                    .ok_or_else(|| {
                        anyhow!("no identity of yours is linked through {provider:?}")
                    })?,
            };
            let r = sso.unlink(&id).await?;
            print_identities(&r, json)?;
            return Ok(ExitCode::SUCCESS);
        }
    };
    if json {
        output::json(&shown)?;
    } else {
        print_provider(&shown)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn print_identities(r: &signet_client::api::sso::SsoIdentitiesAnswer, json: bool) -> Result<()> {
    if json {
        return output::json(r);
    }
    let mut t = Table::new(&["PROVIDER", "NAME", "SUBJECT", "LINKED", "LAST SIGN-IN"]);
    for i in &r.identities {
        t.row(vec![
            i.provider_id.to_string(),
            output::cell(&i.provider_name),
            output::cell(&i.subject),
            output::at(i.linked_at),
            output::at(i.last_login_at),
        ]);
    }
    t.print("no linked identities")
}

/// The provider to use when `--sso` names none: the only one the server offers.
async fn only_provider(server: &str) -> Result<String> {
    let offered = login_options(server)
        .await
        .context("cannot list the server's SSO providers")?;
    match offered.providers.as_slice() {
        [one] => Ok(one.id.to_string()),
        [] => bail!("this server offers no single sign-on"),
        many => bail!(
            "this server offers several SSO providers; name one: signet login --sso NAME ({})",
            many.iter()
                .map(|p| output::cell(&p.name))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Hands `url` to the desktop's browser launcher; false if there is none or it failed.
async fn open_browser(url: &str) -> bool {
    let launcher = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    let child = tokio::process::Command::new(launcher)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .status();
    matches!(
        tokio::time::timeout(Duration::from_secs(10), child).await,
        Ok(Ok(status)) if status.success()
    )
}

/// `signet login --sso [PROVIDER]`: the key is made here, the browser signs in at the
/// provider, and the server's redirect to this host's loopback address finishes the sign-in.
pub async fn login(
    server: &str,
    provider: Option<String>,
    no_browser: bool,
    name: &str,
    json: bool,
) -> Result<ExitCode> {
    let home = SignetHome::from_env()?;
    let provider = match provider {
        Some(p) => p,
        None => only_provider(server).await?,
    };
    let attempt = SsoLogin::start(server, &provider, Some(name))
        .await
        .context("cannot start single sign-on")?;
    let url = attempt.authorize_url();
    if no_browser || !open_browser(url).await {
        eprintln!("Open this URL to sign in: {url}");
    } else {
        eprintln!("Your browser was opened to sign in. If it did not appear, open: {url}");
    }
    eprintln!(
        "Waiting for the sign-in to finish (until {})...",
        output::utc_from_millis(attempt.expires_at())
    );
    let code = match attempt.wait().await? {
        LoopbackOutcome::Completed(code) => code,
        LoopbackOutcome::Refused => bail!(
            "single sign-on was refused (an owner can find the reason in the audit log, \
             action sso_login)"
        ),
        LoopbackOutcome::Expired => {
            bail!("the sign-in was not finished in time; run signet login --sso again")
        }
    };
    let done = attempt.finish(&home, &code).await.context("login failed")?;
    let l = &done.login;
    let me = &done.whoami;
    let path = l.credentials.path().display().to_string();
    let id = l.credentials.identity();
    if json {
        output::json(&json!({
            "operatorId": id.operator_id,
            "vaultId": id.vault_id,
            "apiUrl": id.api_url,
            "expiresAt": l.expires_at,
            "identity": path,
            "userId": me.user_id,
            "role": me.role,
            "projects": me.projects,
        }))?;
    } else {
        let mut lines = vec![
            format!(
                "Logged in to vault {} as operator {} ({}).",
                id.vault_id,
                id.operator_id,
                output::cell(&me.role)
            ),
            format!("Identity written to {path} (key 0600)."),
            format!(
                "The key expires at {}.",
                output::utc_from_millis(l.expires_at)
            ),
        ];
        if let Some(old) = &l.replaced {
            lines.push(format!(
                "The previous identity was moved to {}.",
                old.display()
            ));
        }
        output::lines(lines)?;
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::io::Write as _;

    use super::*;

    #[test]
    fn client_secrets_come_from_files_without_their_line_ending() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(b"s3cret\r\n").unwrap();
        assert_eq!(read_client_secret(f.path()).unwrap().as_str(), "s3cret");
        let mut empty = tempfile::NamedTempFile::new().unwrap();
        empty.write_all(b"\n").unwrap();
        assert!(read_client_secret(empty.path()).is_err());
        let mut huge = tempfile::NamedTempFile::new().unwrap();
        huge.write_all(&[b'a'; 5000]).unwrap();
        assert!(read_client_secret(huge.path()).is_err());
        assert!(read_client_secret(Path::new("/nonexistent/secret")).is_err());
    }

    #[test]
    fn ids_are_checked_before_they_reach_a_path() {
        assert!(mapping_id("ssm_abcdefghijkl").is_ok());
        assert!(mapping_id("ssm_../../x").is_err());
    }
}
