//! The server's settings, declared once in `FileConfig` (config-file key, flag, environment
//! variable, help text), checked against that declaration:
//!
//! - every setting has a flag and a `SIGNET_*` variable named after its key, of a kind this
//!   file knows how to write, and secret-looking ones hide their values from `--help`;
//! - every setting is read from each of the three sources, and a flag beats the environment,
//!   which beats the file: the cases are generated from the declaration, so a setting added
//!   later is covered without a line here. The environment is real: each case runs this test
//!   binary again as a child process with the variables set (the workspace forbids the unsafe
//!   `set_var`), where clap reads them as `signet server` does;
//! - `docs/configuration.md` is the reference generated from the declaration, byte for byte
//!   (regenerate with `SIGNET_BLESS=1 cargo test --workspace --locked --test configuration`).
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly by design.

use std::path::{Path, PathBuf};
use std::process::Command;

use clap::{Args, FromArgMatches};
use serde_json::{Value, json};
use signet_server::config::FileConfig;

/// The settings as `signet server` declares them (plus nothing: `--config` is the file itself).
fn settings_command() -> clap::Command {
    FileConfig::augment_args(clap::Command::new("server"))
}

/// Each declared setting: key, flag, variable, kind, whether hidden from operators' docs.
struct Setting {
    key: String,
    long: Option<String>,
    env: Option<String>,
    kind: String,
    hidden: bool,
    hides_env_value: bool,
    help: String,
}

fn settings() -> Vec<Setting> {
    settings_command()
        .get_arguments()
        .filter(|a| !matches!(a.get_id().as_str(), "help" | "version"))
        .map(|a| Setting {
            key: a.get_id().to_string(),
            long: a.get_long().map(str::to_owned),
            env: a.get_env().map(|e| e.to_string_lossy().into_owned()),
            kind: a
                .get_value_names()
                .and_then(|n| n.first())
                .map(ToString::to_string)
                .unwrap_or_default(),
            hidden: a.is_hide_set(),
            hides_env_value: a.is_hide_env_values_set(),
            help: a
                .get_long_help()
                .or(a.get_help())
                .map(ToString::to_string)
                .unwrap_or_default(),
        })
        .collect()
}

/// The config-file keys, as serde sees them (captured from `deserialize_struct`).
fn file_keys() -> Vec<&'static str> {
    use serde::de::{Deserialize, Error as _, Visitor};
    struct Fields<'a>(&'a mut &'static [&'static str]);
    impl<'de> serde::Deserializer<'de> for Fields<'_> {
        type Error = serde::de::value::Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(Self::Error::custom("only the field names are wanted"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(Self::Error::custom("only the field names are wanted"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }
    let mut fields: &'static [&'static str] = &[];
    let _ = FileConfig::deserialize(Fields(&mut fields));
    fields.to_vec()
}

/// Kinds of value, how each is written, and samples: `(flag or variable text, TOML value,
/// what the layered settings hold)`. Sample 0 and 1 differ, so a case shows which source won.
const KINDS: &[(&str, &str)] = &[
    (
        "ADDR",
        "an IP address and port: `127.0.0.1:8420`, `[::1]:8420`",
    ),
    ("PATH", "a file or folder path"),
    ("URL", "a URL"),
    ("NAME", "a name"),
    ("N", "a whole number"),
    (
        "SECONDS",
        "a duration: a number of seconds (`90`), or a duration text (`\"90s\"`, `\"10m\"`, \
         `\"1h30m\"`, `\"7d\"`, `\"PT1H\"`); in the file the number form is an integer",
    ),
    (
        "MS",
        "a duration: a number of milliseconds (`250`), or a duration text (`\"2s\"`, \
         `\"1500ms\"`); in the file the number form is an integer",
    ),
    (
        "CIDRS",
        "address ranges as CIDRs: comma-separated on the command line and in the environment \
         (`10.0.0.0/8,::1/128`), a TOML array in the file (`[\"10.0.0.0/8\", \"::1/128\"]`)",
    ),
    (
        "DEVICES",
        "audit device specs (`file:/var/log/signet/audit.jsonl`, `stdout`, \
         `syslog:udp:127.0.0.1:514,best-effort`): the flag repeated, `;`-separated in the \
         environment, a TOML array of texts in the file",
    ),
    (
        "BOOL",
        "`true` or `false` (the environment also takes `1`/`0`, `yes`/`no`, `on`/`off`); the \
         flag alone means `true`",
    ),
];

fn sample(kind: &str, i: usize) -> (String, String, Value) {
    let n = 100 + i as u64;
    match kind {
        "ADDR" => {
            let a = format!("127.0.0.1:{}", 1000 + i);
            (a.clone(), format!("{a:?}"), json!(a))
        }
        "PATH" | "URL" | "NAME" => {
            let v = match kind {
                "PATH" => format!("/srv/sample-{i}"),
                "URL" => format!("https://sample-{i}.example"),
                _ => format!("SAMPLE_{i}"),
            };
            (v.clone(), format!("{v:?}"), json!(v))
        }
        "N" => (n.to_string(), n.to_string(), json!(n)),
        // Texts on the command line, a text and a number in the file.
        "SECONDS" => match i {
            0 => ("2m".into(), "\"2m\"".into(), json!(120)),
            1 => ("45".into(), "45".into(), json!(45)),
            _ => ("1h30m".into(), "\"1h30m\"".into(), json!(5400)),
        },
        "MS" => match i {
            0 => ("2s".into(), "\"2s\"".into(), json!(2000)),
            1 => ("250".into(), "250".into(), json!(250)),
            _ => ("1m".into(), "\"1m\"".into(), json!(60_000)),
        },
        "CIDRS" => {
            let list = [format!("10.{i}.0.0/16"), format!("fd00:{i}::/64")];
            (
                list.join(","),
                format!("[{:?}, {:?}]", list[0], list[1]),
                json!(list),
            )
        }
        "DEVICES" => {
            let list = [
                format!("file:/srv/audit-{i}.jsonl"),
                "stdout,best-effort".to_owned(),
            ];
            (
                list.join(";"),
                format!("[{:?}, {:?}]", list[0], list[1]),
                json!(list),
            )
        }
        "BOOL" => {
            let b = i != 1;
            (b.to_string(), b.to_string(), json!(b))
        }
        other => panic!("no samples for the kind {other}"),
    }
}

/// Config-file keys with no flag or variable (`#[arg(skip)]`), each with the reason: only for a
/// value that has no one-line form (a list of tables). Everything else is settable three ways.
const FILE_ONLY: &[(&str, &str)] = &[(
    "audit_device",
    "a list of tables (`[[audit_device]]`); its one-line form is `audit_devices`",
)];

const PROBE: &str = "SIGNET_CONFIG_TEST_PROBE";

/// The child's side: parse the flags given in the probe (with the real environment), layer
/// them over the file, print the result. Does nothing when run as an ordinary test.
#[test]
fn probe_child() {
    let Ok(spec) = std::env::var(PROBE) else {
        return;
    };
    let spec: Value = serde_json::from_str(&spec).unwrap();
    let args = spec["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned());
    let matches = settings_command()
        .try_get_matches_from(std::iter::once("server".to_owned()).chain(args))
        .unwrap_or_else(|e| panic!("{e}"));
    let top = FileConfig::from_arg_matches(&matches).unwrap();
    let file = match spec["file"].as_str() {
        Some(p) => FileConfig::load(Path::new(p)).unwrap(),
        None => FileConfig::default(),
    };
    let layered = top.over(file).unwrap();
    println!("PROBE-RESULT {}", serde_json::to_string(&layered).unwrap());
}

/// Runs the probe in a child with exactly these flags, variables and file.
fn probe(args: &[String], env: &[(String, String)], file: Option<&str>) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("signet.toml");
    if let Some(text) = file {
        std::fs::write(&path, text).unwrap();
    }
    let spec = json!({ "args": args, "file": file.map(|_| path.to_str().unwrap()) });
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["probe_child", "--exact", "--nocapture", "--test-threads=1"]);
    // Nothing of the parent's environment may stand in for a source under test.
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("SIGNET_") {
            cmd.env_remove(k);
        }
    }
    cmd.env(PROBE, spec.to_string()).envs(env.iter().cloned());
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "probe failed for {args:?} {env:?}:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .find_map(|l| l.split_once("PROBE-RESULT ").map(|(_, json)| json))
        .unwrap_or_else(|| panic!("no result in:\n{stdout}"));
    serde_json::from_str(line).unwrap()
}

/// Where one case takes each setting's value from: `None`, or the sample index.
struct Case {
    name: &'static str,
    flag: Option<usize>,
    env: Option<usize>,
    file: Option<usize>,
    wins: usize,
}

#[test]
fn every_setting_has_a_flag_and_a_variable_named_for_its_key() {
    let settings = settings();
    let mut keys: Vec<&str> = settings.iter().map(|s| s.key.as_str()).collect();
    let mut file: Vec<&str> = file_keys()
        .into_iter()
        .filter(|k| !FILE_ONLY.iter().any(|(only, _)| only == k))
        .collect();
    keys.sort_unstable();
    file.sort_unstable();
    assert_eq!(
        keys, file,
        "every config-file key must be a setting with a flag and a variable (no `#[arg(skip)]`), \
         and every flag a config-file key"
    );
    for s in &settings {
        let key = &s.key;
        assert_eq!(
            s.long.as_deref(),
            Some(key.replace('_', "-").as_str()),
            "{key}: give it #[arg(long)]"
        );
        assert_eq!(
            s.env.as_deref(),
            Some(format!("SIGNET_{}", key.to_uppercase()).as_str()),
            "{key}: give it env = \"SIGNET_{}\"",
            key.to_uppercase()
        );
        assert!(
            KINDS.iter().any(|(k, _)| *k == s.kind),
            "{key}: value_name {:?} is not a kind this test knows ({:?}); add it to KINDS and \
             sample()",
            s.kind,
            KINDS.iter().map(|(k, _)| k).collect::<Vec<_>>()
        );
        assert!(!s.help.is_empty(), "{key}: document it (the doc comment)");
        // A variable's value must not show in `--help` when it is or may hold a secret.
        let secret_like = [
            "password",
            "passphrase",
            "pin",
            "secret",
            "token",
            "database_url",
        ]
        .iter()
        .any(|w| key.split('_').any(|part| part == *w) || key == w)
            && !["_file", "_env", "_fd", "_name"]
                .iter()
                .any(|suffix| key.ends_with(suffix));
        assert!(
            !secret_like || s.hides_env_value,
            "{key}: a secret-looking setting needs hide_env_values = true"
        );
    }
    let db = settings.iter().find(|s| s.key == "database_url").unwrap();
    assert!(db.hides_env_value);
}

#[test]
fn every_setting_is_read_from_each_source_and_flag_beats_env_beats_file() {
    let settings = settings();
    let cases = [
        Case {
            name: "flag alone",
            flag: Some(0),
            env: None,
            file: None,
            wins: 0,
        },
        Case {
            name: "variable alone",
            flag: None,
            env: Some(1),
            file: None,
            wins: 1,
        },
        Case {
            name: "file alone",
            flag: None,
            env: None,
            file: Some(2),
            wins: 2,
        },
        Case {
            name: "flag over variable and file",
            flag: Some(0),
            env: Some(1),
            file: Some(1),
            wins: 0,
        },
        Case {
            name: "variable over file",
            flag: None,
            env: Some(0),
            file: Some(1),
            wins: 0,
        },
        Case {
            name: "flag over file",
            flag: Some(0),
            env: None,
            file: Some(1),
            wins: 0,
        },
    ];
    for case in &cases {
        let (mut args, mut env, mut file) = (Vec::new(), Vec::new(), String::new());
        for s in &settings {
            let long = s.long.as_deref().unwrap();
            if let Some(i) = case.flag {
                let (text, _, _) = sample(&s.kind, i);
                // A boolean flag alone means true (`--insecure-http`, as before).
                if s.kind == "BOOL" && text == "true" {
                    args.push(format!("--{long}"));
                } else {
                    args.push(format!("--{long}={text}"));
                }
            }
            if let Some(i) = case.env {
                env.push((s.env.clone().unwrap(), sample(&s.kind, i).0));
            }
            if let Some(i) = case.file {
                file.push_str(&format!("{} = {}\n", s.key, sample(&s.kind, i).1));
            }
        }
        let got = probe(&args, &env, case.file.map(|_| file.as_str()));
        for s in &settings {
            let want = sample(&s.kind, case.wins).2;
            assert_eq!(got[&s.key], want, "{}: {}", case.name, s.key);
        }
    }
    // Nothing given: nothing set, so the defaults apply.
    let got = probe(&[], &[], None);
    for s in &settings {
        assert_eq!(got[&s.key], Value::Null, "{}", s.key);
    }
}

/// Bad values are refused naming the setting, and a secret's value is not echoed.
#[test]
fn bad_values_are_refused() {
    for (flag, text) in [
        ("--listen", "nowhere"),
        ("--body-read-timeout-secs", "-1m"),
        ("--body-read-timeout-secs", "1 month"),
        ("--alert-tail-interval-ms", "soon"),
        ("--insecure-http", "maybe"),
        ("--max-connections", "-1"),
    ] {
        let e = settings_command()
            .try_get_matches_from(["server", &format!("{flag}={text}")])
            .unwrap_err()
            .to_string();
        assert!(e.contains(flag), "{flag}={text}: {e}");
    }
    let help = settings_command().render_long_help().to_string();
    assert!(help.contains("SIGNET_DATABASE_URL"));
}

fn committed_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/configuration.md")
}

/// The reference, generated from the declaration.
fn reference() -> String {
    let mut out = String::from(
        "# Configuration reference\n\n\
         <!-- Generated from `FileConfig` in crates/server/src/config.rs by \
         crates/server/tests/configuration.rs. Do not edit: change the doc comments there and \
         run `SIGNET_BLESS=1 cargo test --workspace --locked --test configuration`. -->\n\n\
         Every setting of `signet server` can be given three ways: as a key in the TOML file \
         named by `--config` (or `SIGNET_CONFIG`), as an environment variable, and as a flag. \
         A flag beats its environment variable, which beats the file, which beats the default. \
         So a file can hold the installation's settings, a unit or container can override one \
         with a variable, and a flag wins for one run. A list given by a flag or a variable \
         replaces the file's list. Unknown keys in the file are refused, so a typo is not \
         silently ignored, and an error in the file names its line and key.\n\n\
         Two variables are not settings of the file: `SIGNET_CONFIG`, the file itself, and \
         `SIGNET_LOG`, the log filter (`info` by default; for example `signet_server=debug`).\n\n\
         Keys are written as in the file; the flag is the key with dashes (`--data-dir`), the \
         variable the key in capitals after `SIGNET_` (`SIGNET_DATA_DIR`). The value of \
         `SIGNET_DATABASE_URL`, which may carry a password, is never shown by `--help`.\n\n\
         ## Values\n\n",
    );
    for (kind, text) in KINDS {
        out.push_str(&format!("- `{kind}`: {text}.\n"));
    }
    out.push_str(
        "\nDurations are read by the same parser as the command line's (`signet_core::duration`, \
         over the jiff library): units `ms`, `s`, `m`, `h`, `d` (24 hours), `w` (7 days) and \
         sums of them; months and years are refused. Existing files with whole numbers keep \
         their meaning.\n\n## Settings\n\n\
         | Key | Flag | Environment | Kind |\n|---|---|---|---|\n",
    );
    let settings: Vec<Setting> = settings().into_iter().filter(|s| !s.hidden).collect();
    for s in &settings {
        out.push_str(&format!(
            "| [`{k}`](#{k}) | `--{l}` | `{e}` | {kind} |\n",
            k = s.key,
            l = s.long.as_deref().unwrap_or_default(),
            e = s.env.as_deref().unwrap_or_default(),
            kind = s.kind,
        ));
    }
    if !FILE_ONLY.is_empty() {
        out.push_str("\nOnly in the file (no one-line form):\n\n");
        for (key, why) in FILE_ONLY {
            out.push_str(&format!("- `{key}`: {why}\n"));
        }
    }
    for s in &settings {
        out.push_str(&format!(
            "\n### `{k}`\n\n`{k} = …` · `--{l} <{kind}>` · `{e}`\n\n{help}\n",
            k = s.key,
            l = s.long.as_deref().unwrap_or_default(),
            e = s.env.as_deref().unwrap_or_default(),
            kind = s.kind,
            help = sentence(&s.help),
        ));
    }
    out
}

/// Help text as a sentence: clap drops a doc comment's final full stop.
fn sentence(help: &str) -> String {
    let help = help.trim();
    if help.ends_with('.') {
        help.to_owned()
    } else {
        format!("{help}.")
    }
}

#[test]
fn committed_reference_is_the_generated_one() {
    let generated = reference();
    let path = committed_path();
    if std::env::var_os("SIGNET_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("write docs/configuration.md");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/configuration.md differs from the reference generated from FileConfig; review \
         the change and regenerate it with \
         `SIGNET_BLESS=1 cargo test --workspace --locked --test configuration`"
    );
}
