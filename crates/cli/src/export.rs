//! `signet export`: readable secrets as env, dotenv, YAML or JSON, as SikkerKey's CLI prints
//! them (variables sorted by name).

use std::io::Write as _;
use std::process::ExitCode;

use signet_client::{MachineClient, ProjectId};
use zeroize::Zeroizing;

use crate::environment::EnvVars;
use crate::identity::MachineOpts;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// `KEY=value`, verbatim (for `env`-style consumers; values are not quoted).
    Env,
    /// `KEY="value"` with `\`, `"`, newline and carriage return escaped.
    Dotenv,
    /// `KEY: "value"` as YAML double-quoted scalars.
    Yaml,
    /// One JSON object, keys sorted.
    Json,
}

/// `signet export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value = "env")]
    format: Format,
    /// Only this project's secrets (its name or id).
    #[arg(long, value_name = "PROJECT")]
    project: Option<String>,
    #[command(flatten)]
    opts: MachineOpts,
}

/// Prints every readable secret (or one project's) in the chosen format.
pub async fn run(args: ExportArgs, json: bool) -> anyhow::Result<ExitCode> {
    let client = args.opts.client()?;
    let project = match &args.project {
        Some(p) => Some(resolve_project(&client, p).await?),
        None => None,
    };
    let vars = collect(&client, project.as_ref(), "").await?;
    let rendered = render(&vars, if json { Format::Json } else { args.format });
    let mut out = std::io::stdout().lock();
    out.write_all(rendered.as_bytes())?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Exports and turns the secrets into variables, printing warnings to stderr.
pub async fn collect(
    client: &MachineClient,
    project: Option<&ProjectId>,
    prefix: &str,
) -> anyhow::Result<EnvVars> {
    let secrets = client.export(project).await?;
    let mut vars = EnvVars::new(prefix);
    for s in &secrets {
        vars.add(s.id.as_str(), &s.name, &s.value, s.field_names.is_some());
    }
    for w in &vars.warnings {
        eprintln!("warning: {w}");
    }
    Ok(vars)
}

/// Finds a project this machine can read by name first, then by id, as SikkerKey's CLI does.
pub async fn resolve_project(client: &MachineClient, wanted: &str) -> anyhow::Result<ProjectId> {
    let projects = client.cli_projects().await?;
    let hit = projects
        .iter()
        .find(|p| p.project_name == wanted)
        .or_else(|| projects.iter().find(|p| p.project_id == wanted))
        .ok_or_else(|| anyhow::anyhow!("no readable project named {wanted:?}"))?;
    Ok(ProjectId::parse(&hit.project_id)?)
}

/// Renders variables in `format`. The text holds the values, so it is wiped when dropped.
pub fn render(vars: &EnvVars, format: Format) -> Zeroizing<String> {
    // Built by pushing pieces, so no unwiped temporary copy of a value is left behind.
    let mut out = Zeroizing::new(String::new());
    match format {
        Format::Env => {
            for (k, v) in vars.iter() {
                out.push_str(k);
                out.push('=');
                out.push_str(v.expose());
                out.push('\n');
            }
        }
        Format::Dotenv => {
            for (k, v) in vars.iter() {
                out.push_str(k);
                out.push_str("=\"");
                dotenv_escape(v.expose(), &mut out);
                out.push_str("\"\n");
            }
        }
        Format::Yaml => {
            for (k, v) in vars.iter() {
                out.push_str(&yaml_key(k));
                out.push_str(": \"");
                yaml_escape(v.expose(), &mut out);
                out.push_str("\"\n");
            }
        }
        Format::Json => {
            let map: std::collections::BTreeMap<&str, &str> =
                vars.iter().map(|(k, v)| (k, v.expose())).collect();
            let mut buf = Zeroizing::new(Vec::new());
            // A map of strings always serialises.
            let _ = serde_json::to_writer_pretty(&mut *buf, &map);
            out.push_str(&String::from_utf8_lossy(&buf));
            out.push('\n');
        }
    }
    out
}

/// Escapes for a double-quoted dotenv value, in the dialect python-dotenv, Docker Compose and
/// godotenv share: `\\`, `\"`, `\n`, `\r`.
fn dotenv_escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

/// Escapes for a YAML double-quoted scalar: backslash, quote, and every control or
/// line-breaking character.
fn yaml_escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{2028}' | '\u{2029}' => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
}

/// A YAML key: plain when it reads back as the same string, quoted when YAML would take it for
/// a number, boolean or null (`TRUE`, `NO`, `123`...).
fn yaml_key(k: &str) -> String {
    const RESERVED: &[&str] = &["Y", "N", "YES", "NO", "TRUE", "FALSE", "ON", "OFF", "NULL"];
    let plain = k.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !RESERVED.contains(&k.to_ascii_uppercase().as_str());
    if plain {
        return k.to_owned();
    }
    let mut quoted = String::from("\"");
    yaml_escape(k, &mut quoted);
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use signet_client::SecretValue;

    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> EnvVars {
        let mut v = EnvVars::new("");
        for (i, (k, val)) in pairs.iter().enumerate() {
            v.add(&format!("sk_{i}"), k, &SecretValue::new(*val), false);
        }
        v
    }

    #[test]
    fn env_is_verbatim() {
        assert_eq!(
            *render(&vars(&[("b", "2"), ("a", "x=\"y\"")]), Format::Env),
            "A=x=\"y\"\nB=2\n"
        );
    }

    #[test]
    fn dotenv_escapes_quotes_backslashes_and_newlines() {
        let v = vars(&[("pem", "line1\nline2\r\n"), ("q", r#"say "hi" \o/"#)]);
        assert_eq!(
            *render(&v, Format::Dotenv),
            "PEM=\"line1\\nline2\\r\\n\"\nQ=\"say \\\"hi\\\" \\\\o/\"\n"
        );
    }

    #[test]
    fn yaml_escapes_and_quotes_ambiguous_keys() {
        let v = vars(&[("pem", "a\nb\t\"c\"\u{7}"), ("true", "1"), ("2fa", "x")]);
        assert_eq!(
            *render(&v, Format::Yaml),
            "\"2FA\": \"x\"\nPEM: \"a\\nb\\t\\\"c\\\"\\u0007\"\n\"TRUE\": \"1\"\n"
        );
    }

    #[test]
    fn json_is_one_sorted_object() {
        let out = render(&vars(&[("b", "2"), ("a", "line\n\"q\"")]), Format::Json);
        assert_eq!(
            *out,
            "{\n  \"A\": \"line\\n\\\"q\\\"\",\n  \"B\": \"2\"\n}\n"
        );
        let back: std::collections::BTreeMap<String, String> = serde_json::from_str(&out).unwrap();
        assert_eq!(back["A"], "line\n\"q\"");
    }
}
