//! A machine reading its secrets one at a time: `signet get` and `signet list`, with the output
//! of SikkerKey's CLI.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::process::ExitCode;

use serde::Serialize;
use signet_client::{CliSecret, SecretId};
use zeroize::Zeroizing;

use crate::identity::MachineOpts;
use crate::output;

/// How `get` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GetFormat {
    /// The raw value and a newline.
    Plain,
    /// `{"id","value"[,"fields"]}`, indented.
    Json,
}

/// `signet get`.
#[derive(Debug, clap::Args)]
pub struct GetArgs {
    /// The secret's id (sk_...).
    id: String,
    /// Print only this field of a structured secret.
    field: Option<String>,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value = "plain")]
    format: GetFormat,
    #[command(flatten)]
    opts: MachineOpts,
}

/// `signet list`.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    opts: MachineOpts,
}

/// `get -o json`, with keys in the sorted order SikkerKey's CLI prints.
#[derive(Serialize)]
struct GetJson<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fields: Option<BTreeMap<&'a str, &'a str>>,
    id: &'a str,
    value: &'a str,
}

/// Prints one secret's value (its purpose is to reveal it), or one field of it.
pub async fn get(args: GetArgs, json: bool) -> anyhow::Result<ExitCode> {
    let id = SecretId::parse(&args.id).map_err(|_| {
        anyhow::anyhow!(
            "{:?} is not a secret id (sk_ and 10 letters or digits)",
            args.id
        )
    })?;
    let client = args.opts.client()?;
    let value = client.get_secret(&id).await?;
    let fields = value.fields();
    let json = json || args.format == GetFormat::Json;

    let selected = match &args.field {
        None => None,
        Some(field) => {
            let fields = fields
                .as_ref()
                .ok_or_else(|| anyhow::anyhow!("secret {id} is not a structured secret"))?;
            let v = fields.get(field).ok_or_else(|| {
                let names: Vec<&str> = fields.keys().map(String::as_str).collect();
                anyhow::anyhow!(
                    "secret {id} has no field {field:?} (fields: {})",
                    names.join(", ")
                )
            })?;
            Some((field.as_str(), v))
        }
    };

    let mut text = Zeroizing::new(String::new());
    if json {
        let doc = match selected {
            Some((field, v)) => GetJson {
                field: Some(field),
                fields: None,
                id: id.as_str(),
                value: v.expose(),
            },
            None => GetJson {
                field: None,
                fields: fields
                    .as_ref()
                    .map(|f| f.iter().map(|(k, v)| (k.as_str(), v.expose())).collect()),
                id: id.as_str(),
                value: value.expose(),
            },
        };
        let mut buf = Zeroizing::new(Vec::new());
        serde_json::to_writer_pretty(&mut *buf, &doc)?;
        text.push_str(&String::from_utf8_lossy(&buf));
    } else {
        text.push_str(selected.map_or(value.expose(), |(_, v)| v.expose()));
    }
    text.push('\n');
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Lists readable secrets grouped by project, in the order the server lists them.
pub async fn list(args: ListArgs, json: bool) -> anyhow::Result<ExitCode> {
    let client = args.opts.client()?;
    let secrets = client.cli_secrets().await?;
    if json {
        output::json(&serde_json::json!({ "secrets": secrets }))?;
    } else {
        output::lines(render_list(&secrets))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `[project]` headers in first-appearance order, then `  id  name  [tag]` lines.
fn render_list(secrets: &[CliSecret]) -> Vec<String> {
    if secrets.is_empty() {
        return vec!["no secrets available".to_owned()];
    }
    let mut groups: Vec<(&str, Vec<&CliSecret>)> = Vec::new();
    for s in secrets {
        let project = if s.project_name.is_empty() {
            s.project_id.as_str()
        } else {
            s.project_name.as_str()
        };
        match groups.iter_mut().find(|(p, _)| *p == project) {
            Some((_, members)) => members.push(s),
            None => groups.push((project, vec![s])),
        }
    }
    let mut lines = Vec::new();
    for (project, members) in groups {
        lines.push(format!("[{}]", output::text(&project.into())));
        for s in members {
            let mut line = format!(
                "  {}  {}",
                output::text(&s.id.as_str().into()),
                output::text(&s.name.as_str().into())
            );
            if let Some(tag) = tag(s) {
                line.push_str(&format!("  [{tag}]"));
            }
            lines.push(line);
        }
    }
    lines
}

/// The kind tag SikkerKey's CLI appends: none for a plain secret.
fn tag(s: &CliSecret) -> Option<String> {
    match s.kind.as_str() {
        "secret" => None,
        "" => s
            .field_names
            .as_deref()
            .filter(|f| !f.is_empty() && *f != "[]")
            .map(|_| "structured".to_owned()),
        "leased-secret" => Some("leased".to_owned()),
        other => Some(output::text(&other.into())),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn secret(id: &str, name: &str, project: &str, kind: &str) -> CliSecret {
        CliSecret {
            id: id.into(),
            name: name.into(),
            project_name: project.into(),
            kind: kind.into(),
            ..CliSecret::default()
        }
    }

    #[test]
    fn list_groups_by_project_in_first_appearance_order() {
        let secrets = [
            secret("sk_1", "db", "web", "structured"),
            secret("sk_2", "api", "ops", "secret"),
            secret("sk_3", "key", "web", "secret"),
        ];
        assert_eq!(
            render_list(&secrets),
            [
                "[web]",
                "  sk_1  db  [structured]",
                "  sk_3  key",
                "[ops]",
                "  sk_2  api"
            ]
        );
        assert_eq!(render_list(&[]), ["no secrets available"]);
    }
}
