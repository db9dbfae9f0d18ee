//! `signet secret`: operators write secrets and manage their versions. Values go in, never come
//! back out: the admin API has no route that returns one.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use signet_client::api::admin::secret::SecretMetadataAnswer;
use signet_client::{SecretContent, SecretValue};
use zeroize::Zeroizing;

use crate::identity::OperatorOpts;
use crate::output::{self, Table};
use crate::{ids, project};

/// `signet secret`.
#[derive(Debug, clap::Args)]
pub struct SecretArgs {
    #[command(flatten)]
    opts: OperatorOpts,
    #[command(subcommand)]
    command: SecretCommand,
}

#[derive(Debug, clap::Subcommand)]
enum SecretCommand {
    /// Create a secret in a project.
    Create {
        /// The project (its name or id).
        #[arg(long)]
        project: String,
        /// The secret's name (it also names the variable in `signet run` and `export`).
        #[arg(long)]
        name: String,
        #[command(flatten)]
        content: ContentArgs,
    },
    /// Write a new version of a secret.
    ///
    /// With --set or --unset, a structured secret's new version changes only the fields named:
    /// --set replaces or adds a field, --unset removes one, and every other field is kept as it
    /// is (its value stays on the server).
    ///
    /// With --keep-field or --remove-field, a structured secret's new version starts from its
    /// current fields: each current field is kept (--keep-field, its value stays on the server),
    /// replaced (--field), or removed (--remove-field), and every current field must be named;
    /// --field with a new name adds one.
    ///
    /// With --cas N, the version is written only if the secret's current version is N;
    /// otherwise nothing is written and the error names the current version.
    Update {
        /// The secret's id.
        id: String,
        #[command(flatten)]
        content: ContentArgs,
        /// Set this field of a structured secret, keeping every field not named (repeatable).
        #[arg(long = "set", value_name = "NAME=VALUE", value_parser = parse_field, group = "ContentArgs",
              conflicts_with_all = ["value", "value_file", "fields", "keep_fields", "remove_fields", "base_version"])]
        set: Vec<(String, String)>,
        /// Remove this field of a structured secret, keeping every field not named (repeatable).
        #[arg(long = "unset", value_name = "NAME", group = "ContentArgs",
              conflicts_with_all = ["value", "value_file", "fields", "keep_fields", "remove_fields", "base_version"])]
        unset: Vec<String>,
        /// Check-and-set: write only if the secret's current version is N.
        #[arg(long, value_name = "N")]
        cas: Option<u32>,
        /// Keep this current field's value as it is (repeatable).
        #[arg(long = "keep-field", value_name = "NAME", group = "ContentArgs", conflicts_with_all = ["value", "value_file"])]
        keep_fields: Vec<String>,
        /// Leave this current field out of the new version (repeatable).
        #[arg(long = "remove-field", value_name = "NAME", group = "ContentArgs", conflicts_with_all = ["value", "value_file"])]
        remove_fields: Vec<String>,
        /// The version the kept fields are read from; the update is refused if the secret has
        /// moved on since (default: the current version, read just before).
        #[arg(long, value_name = "N")]
        base_version: Option<u32>,
    },
    /// List a project's secrets (without values).
    List {
        /// The project (its name or id).
        #[arg(long)]
        project: String,
    },
    /// Show one secret's metadata.
    Show {
        /// The secret's id.
        id: String,
    },
    /// List a secret's versions.
    Versions {
        /// The secret's id.
        id: String,
    },
    /// Make an old version's value current again (as a new version).
    Rollback {
        /// The secret's id.
        id: String,
        /// The version whose value to restore.
        #[arg(long)]
        version: u64,
        /// Check-and-set: roll back only if the secret's current version is N.
        #[arg(long, value_name = "N")]
        cas: Option<u32>,
    },
    /// Delete a secret.
    Delete {
        /// The secret's id.
        id: String,
    },
    /// Bind an access policy of the secret's project to it, or unbind with --none.
    Policy {
        /// The secret's id.
        id: String,
        /// The policy's id.
        #[arg(long, conflicts_with = "none", required_unless_present = "none")]
        policy: Option<String>,
        /// Unbind the secret's policy.
        #[arg(long)]
        none: bool,
    },
    /// Rotate a secret now: a new version with a value generated on the server (its rotation
    /// settings, or 32 symbols in every field).
    Rotate {
        /// The secret's id.
        id: String,
    },
    /// How a secret rotates: set, show, pause, resume, clear.
    Rotation {
        #[command(subcommand)]
        command: crate::rotation::RotationCommand,
    },
    /// A managed database password: its connection and sync agent (set, show).
    Managed {
        #[command(subcommand)]
        command: crate::managed::ManagedCommand,
    },
}

/// The new content: exactly one of a value, a value file, or fields (for an update, fields may
/// come with --keep-field and --remove-field, which join this group).
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = true)]
struct ContentArgs {
    /// The value. It shows in shell history and `ps`; prefer --value-file.
    #[arg(long, conflicts_with_all = ["value_file", "fields"])]
    value: Option<String>,
    /// Read the value from a file, byte for byte (`-` reads stdin; a trailing newline is kept).
    #[arg(long, value_name = "FILE", conflicts_with = "fields")]
    value_file: Option<PathBuf>,
    /// One field of a structured secret (repeatable).
    #[arg(long = "field", value_name = "KEY=VALUE", value_parser = parse_field)]
    fields: Vec<(String, String)>,
}

impl ContentArgs {
    fn into_content(self) -> anyhow::Result<SecretContent> {
        if let Some(v) = self.value {
            return Ok(SecretContent::Value(SecretValue::new(v)));
        }
        if let Some(path) = self.value_file {
            return Ok(SecretContent::Value(read_value_file(&path)?));
        }
        Ok(SecretContent::Fields(field_map(self.fields)?))
    }
}

/// `KEY=VALUE` pairs as a map; a key given twice is refused rather than silently overwritten.
fn field_map(pairs: Vec<(String, String)>) -> anyhow::Result<BTreeMap<String, SecretValue>> {
    let mut fields = BTreeMap::new();
    for (k, v) in pairs {
        if fields.insert(k.clone(), SecretValue::new(v)).is_some() {
            anyhow::bail!("field {k:?} is given twice");
        }
    }
    Ok(fields)
}

/// Parses `KEY=VALUE`, splitting at the first `=`. Field names are `[A-Za-z0-9_.-]`, the set the
/// server accepts (so the comma-joined `fieldNames` stays unambiguous).
fn parse_field(s: &str) -> Result<(String, String), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| "expected KEY=VALUE".to_owned())?;
    let valid = !k.is_empty()
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if !valid {
        return Err(format!(
            "field name {k:?} must be letters, digits, '_', '.' or '-'"
        ));
    }
    Ok((k.to_owned(), v.to_owned()))
}

/// The secret's current version, from its metadata.
async fn current_version(
    client: &signet_client::OperatorClient,
    id: &signet_proto::SecretId,
) -> anyhow::Result<u32> {
    Ok(client.secrets().show(id).await?.version)
}

/// Reads a value verbatim; it must be UTF-8, since values travel as JSON strings.
fn read_value_file(path: &Path) -> anyhow::Result<SecretValue> {
    let mut bytes = Zeroizing::new(Vec::new());
    if path == Path::new("-") {
        std::io::stdin()
            .read_to_end(&mut bytes)
            .context("cannot read the value from stdin")?;
    } else {
        let mut f =
            std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
        f.read_to_end(&mut bytes)
            .with_context(|| format!("cannot read {}", path.display()))?;
    }
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| anyhow::anyhow!("the value in {} is not UTF-8 text", path.display()))?;
    Ok(SecretValue::new(text))
}

/// Runs a `secret` subcommand.
pub async fn run(args: SecretArgs, json: bool) -> anyhow::Result<ExitCode> {
    let client = args.opts.client()?;
    match args.command {
        SecretCommand::Create {
            project,
            name,
            content,
        } => {
            let content = content.into_content()?;
            let project = project::resolve(&client, &project).await?;
            let s = client.secrets().create(&project, &name, &content).await?;
            print_secret(json, "created secret", &s)?;
        }
        SecretCommand::Update {
            id,
            set,
            unset,
            cas,
            ..
        } if !set.is_empty() || !unset.is_empty() => {
            let id = ids::secret(&id)?;
            let set = field_map(set)?;
            print_secret(
                json,
                "updated secret",
                &client
                    .secrets()
                    .patch_fields(&id, &set, &unset, cas)
                    .await?,
            )?;
        }
        SecretCommand::Update {
            id,
            content,
            keep_fields,
            remove_fields,
            base_version,
            cas,
            ..
        } if !keep_fields.is_empty() || !remove_fields.is_empty() => {
            let id = ids::secret(&id)?;
            let SecretContent::Fields(set) = content.into_content()? else {
                anyhow::bail!("--keep-field and --remove-field go with --field, not a value");
            };
            // The version the person expects is the one the kept fields are read from.
            let base = match base_version.or(cas) {
                Some(b) => b,
                None => current_version(&client, &id).await?,
            };
            print_secret(
                json,
                "updated secret",
                &client
                    .secrets()
                    .merge_fields(&id, base, &keep_fields, &remove_fields, &set, cas)
                    .await?,
            )?;
        }
        SecretCommand::Update {
            id,
            content,
            base_version,
            cas,
            ..
        } => {
            if base_version.is_some() {
                anyhow::bail!("--base-version goes with --keep-field or --remove-field");
            }
            let id = ids::secret(&id)?;
            let content = content.into_content()?;
            print_secret(
                json,
                "updated secret",
                &client.secrets().update(&id, &content, cas).await?,
            )?;
        }
        SecretCommand::Show { id } => {
            let id = ids::secret(&id)?;
            print_secret(json, "secret", &client.secrets().show(&id).await?)?;
        }
        SecretCommand::Rollback { id, version, cas } => {
            let id = ids::secret(&id)?;
            let version = u32::try_from(version)
                .map_err(|_| anyhow::anyhow!("there is no version {version}"))?;
            let s = client.secrets().rollback(&id, version, cas).await?;
            print_secret(json, "rolled back secret", &s)?;
        }
        SecretCommand::Policy {
            id,
            policy,
            none: _,
        } => {
            crate::policy::bind(&client, &id, policy.as_deref(), json).await?;
        }
        SecretCommand::Rotate { id } => {
            let id = ids::secret(&id)?;
            let s = client.rotation().rotate(&id).await?;
            // A managed secret's rotation waits for its agent: the version is unchanged.
            match client.managed().show(&id).await?.managed {
                Some(m) if !json => output::lines([format!(
                    "rotation {} of secret {} is pending until its agent confirms it",
                    m.pending_rotation_id.as_deref().unwrap_or("?"),
                    output::cell(&id)
                )])?,
                _ => print_secret(json, "rotated secret", &s)?,
            }
        }
        SecretCommand::Rotation { command } => {
            return crate::rotation::run(&client, command, json).await;
        }
        SecretCommand::Managed { command } => {
            return crate::managed::run(&client, command, json).await;
        }
        SecretCommand::Delete { id } => {
            let id = ids::secret(&id)?;
            let r = client.secrets().delete(&id).await?;
            if json {
                output::json(&r)?;
            } else {
                output::lines([format!("deleted secret {}", output::cell(&r.id))])?;
            }
        }
        SecretCommand::List { project } => {
            let project = project::resolve(&client, &project).await?;
            let r = client.secrets().list(&project).await?;
            if json {
                return output::json(&r).map(|()| ExitCode::SUCCESS);
            }
            let mut t = Table::new(&["ID", "NAME", "TYPE", "FIELDS", "VERSION", "UPDATED"]);
            for s in &r.secrets {
                t.row(vec![
                    output::cell(&s.id),
                    output::cell(&s.name),
                    output::cell(&s.kind),
                    output::cell(&s.field_names),
                    output::cell(&s.version),
                    output::at(s.updated_at),
                ]);
            }
            t.print("no secrets")?;
        }
        SecretCommand::Versions { id } => {
            let id = ids::secret(&id)?;
            let r = client.secrets().versions(&id).await?;
            if json {
                return output::json(&r).map(|()| ExitCode::SUCCESS);
            }
            let mut t = Table::new(&[
                "VERSION",
                "VALUE-VERSION",
                "TYPE",
                "FIELDS",
                "CREATED-BY",
                "CREATED",
            ]);
            for v in &r.versions {
                t.row(vec![
                    output::cell(&v.version),
                    output::cell(&v.value_version),
                    output::cell(&v.kind),
                    output::cell(&v.field_names),
                    output::cell(&v.created_by),
                    output::at(v.created_at),
                ]);
            }
            t.print("no versions")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints a secret object: as it is with `--json`, else a title (what just happened) and its
/// metadata. Secret objects never carry a value.
fn print_secret(json: bool, title: &str, s: &SecretMetadataAnswer) -> anyhow::Result<()> {
    if json {
        return output::json(s);
    }
    output::lines([
        format!(
            "{title} {} ({})",
            output::cell(&s.id),
            output::cell(&s.name)
        ),
        format!("  project: {}", output::cell(&s.project_id)),
        format!(
            "  type:    {} (fields: {})",
            output::cell(&s.kind),
            output::cell(&s.field_names)
        ),
        format!("  version: {}", output::cell(&s.version)),
        format!("  updated: {}", output::at(s.updated_at)),
    ])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn fields_split_at_the_first_equals_sign() {
        assert_eq!(
            parse_field("url=postgres://u:p@h/db?x=1"),
            Ok(("url".into(), "postgres://u:p@h/db?x=1".into()))
        );
        assert_eq!(parse_field("empty="), Ok(("empty".into(), String::new())));
        assert_eq!(parse_field("a.b-c_d=1"), Ok(("a.b-c_d".into(), "1".into())));
        for bad in ["novalue", "=v", "a b=1", "a,b=1", "é=1"] {
            assert!(parse_field(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn duplicate_fields_are_refused() {
        let content = ContentArgs {
            value: None,
            value_file: None,
            fields: vec![("a".into(), "1".into()), ("a".into(), "2".into())],
        };
        assert!(content.into_content().is_err());
    }

    #[test]
    fn value_files_are_read_verbatim() {
        let tmp = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(tmp.path(), "line1\nline2\n").unwrap();
        assert_eq!(
            read_value_file(tmp.path()).unwrap().expose(),
            "line1\nline2\n"
        );
        std::fs::write(tmp.path(), [0xff, 0xfe]).unwrap();
        assert!(read_value_file(tmp.path()).is_err());
    }
}
