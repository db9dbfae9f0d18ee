//! `signet unseal init|seal`: make a root key that is sealed from the start (a fresh install;
//! its plain form never touches a disk), or seal an existing plain `root.key`, under a
//! passphrase (Argon2id) or a key inside a PKCS#11 token. The server opens either at start
//! (`signet_server::unseal`; docs/operations.md, "Unsealing the root key").

use std::fs::OpenOptions;
use std::io::{IsTerminal, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use serde_json::json;
use signet_crypto::{KdfParams, RootKey, SealedRootKey};
use signet_server::install;
use signet_server::unseal::pkcs11::TokenSession;
use signet_server::unseal::{self, PinSource, TokenAccess};
use zeroize::Zeroizing;

/// `signet unseal`.
#[derive(Debug, clap::Args)]
pub struct UnsealArgs {
    #[command(subcommand)]
    command: UnsealCommand,
}

#[derive(Debug, clap::Subcommand)]
enum UnsealCommand {
    /// Make a new root key, sealed from the start, for a fresh installation (its plain form is
    /// never written anywhere).
    Init(KeyInitArgs),
    /// Seal an existing plain root key file (64 hex digits), then shred the plain one.
    Seal(KeySealArgs),
}

/// How the key is sealed: one of `--passphrase` and `--pkcs11`, with their settings.
#[derive(Debug, clap::Args)]
pub struct Sealing {
    /// Seal under a passphrase (Argon2id, 64 MiB, 3 passes), read from --passphrase-fd or
    /// asked twice on the terminal.
    #[arg(long, conflicts_with = "pkcs11", required_unless_present = "pkcs11")]
    passphrase: bool,
    /// Read the passphrase from this file descriptor (to its end; one final newline is
    /// dropped) instead of asking.
    #[arg(long, value_name = "N", requires = "passphrase")]
    passphrase_fd: Option<i32>,
    /// Seal under an AES-256 key inside a PKCS#11 token (an HSM).
    #[arg(long)]
    pkcs11: bool,
    /// The PKCS#11 module, for example /usr/lib/softhsm/libsofthsm2.so.
    #[arg(
        long,
        value_name = "PATH",
        env = "SIGNET_PKCS11_MODULE",
        requires = "pkcs11"
    )]
    module: Option<PathBuf>,
    /// The token's label.
    #[arg(long, value_name = "LABEL", requires = "pkcs11")]
    token_label: Option<String>,
    /// The AES key's label in the token.
    #[arg(
        long,
        value_name = "LABEL",
        default_value = "signet-root",
        requires = "pkcs11"
    )]
    key_label: String,
    /// Make that AES-256 key in the token first (sensitive, never extractable, kept in the
    /// token); refused if the label is taken.
    #[arg(long, requires = "pkcs11")]
    generate_token_key: bool,
    /// A file holding the token's user PIN.
    #[arg(
        long,
        value_name = "PATH",
        requires = "pkcs11",
        conflicts_with = "pin_env"
    )]
    pin_file: Option<PathBuf>,
    /// An environment variable holding the token's user PIN (the default: SIGNET_PKCS11_PIN).
    #[arg(long, value_name = "VAR", requires = "pkcs11")]
    pin_env: Option<String>,
}

/// `signet unseal init`.
#[derive(Debug, clap::Args)]
pub struct KeyInitArgs {
    #[command(flatten)]
    sealing: Sealing,
    /// Where to write the sealed key (0600; never overwritten), for example
    /// /var/lib/signet/root.key.sealed or root.key.p11.
    #[arg(long, value_name = "PATH")]
    out: PathBuf,
}

/// `signet unseal seal`.
#[derive(Debug, clap::Args)]
pub struct KeySealArgs {
    #[command(flatten)]
    sealing: Sealing,
    /// The plain root key file to seal (64 hex digits, 0600).
    #[arg(long = "in", value_name = "PATH")]
    input: PathBuf,
    /// Where to write the sealed key (0600; never overwritten).
    #[arg(long, value_name = "PATH")]
    out: PathBuf,
}

/// Runs an `unseal` subcommand.
pub fn run(args: UnsealArgs, json: bool) -> Result<ExitCode> {
    match args.command {
        UnsealCommand::Init(a) => {
            let key = RootKey::generate().context("the OS RNG failed")?;
            let written = seal_to(&a.sealing, &key, &a.out)?;
            report(&written, &a.out, None, json);
        }
        UnsealCommand::Seal(a) => {
            let key = install::read_key_file(&a.input)?
                .with_context(|| format!("no root key file at {}", a.input.display()))?;
            let written = seal_to(&a.sealing, &key, &a.out)?;
            report(&written, &a.out, Some(&a.input), json);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Which kind was written, and the settings the server needs to open it.
struct Written {
    kind: &'static str,
    settings: Vec<(&'static str, String)>,
}

fn seal_to(s: &Sealing, key: &RootKey, out: &Path) -> Result<Written> {
    if out.exists() {
        bail!("{} exists; refusing to overwrite a key file", out.display());
    }
    if s.passphrase {
        let pass = passphrase(s)?;
        let sealed = SealedRootKey::seal(key, &pass, KdfParams::default())?;
        // Opened again before it is written: the operator is told to shred the plain key
        // next, so what is written must be known to open.
        let back = sealed.open(&pass)?;
        if !back.key_check().matches(&key.key_check().0) {
            bail!("the sealed key did not open to the same key; nothing was written");
        }
        write_new(out, &sealed.to_json())?;
        let out = absolute(out);
        return Ok(Written {
            kind: "passphrase",
            settings: vec![("root_key_sealed_file", out)],
        });
    }
    let (Some(module), Some(token_label)) = (&s.module, &s.token_label) else {
        bail!("--pkcs11 needs --module and --token-label");
    };
    let pin = match (&s.pin_file, &s.pin_env) {
        (Some(f), _) => PinSource::File(f.clone()),
        (None, Some(v)) => PinSource::Env(v.clone()),
        (None, None) => PinSource::Env("SIGNET_PKCS11_PIN".into()),
    };
    let access = TokenAccess {
        module: module.clone(),
        pin: pin.clone(),
    };
    let session = TokenSession::open(&access, token_label, s.generate_token_key)?;
    if s.generate_token_key {
        session.generate_key(&s.key_label)?;
    }
    let sealed = session.seal(token_label, &s.key_label, key)?;
    let back = session.open_key(&sealed)?;
    if !back.key_check().matches(&key.key_check().0) {
        bail!("the sealed key did not open to the same key; nothing was written");
    }
    write_new(out, &sealed.to_json())?;
    let mut settings = vec![
        ("root_key_pkcs11_file", absolute(out)),
        ("pkcs11_module", absolute(module)),
    ];
    match pin {
        PinSource::File(f) => settings.push(("pkcs11_pin_file", absolute(&f))),
        PinSource::Env(v) => settings.push(("pkcs11_pin_env", v)),
        PinSource::Credential(c) => settings.push(("pkcs11_pin_credential", c)),
    }
    Ok(Written {
        kind: "pkcs11",
        settings,
    })
}

fn absolute(p: &Path) -> String {
    std::path::absolute(p)
        .unwrap_or_else(|_| p.to_owned())
        .display()
        .to_string()
}

/// The passphrase: from the descriptor, or typed twice on the terminal.
fn passphrase(s: &Sealing) -> Result<Zeroizing<Vec<u8>>> {
    if let Some(fd) = s.passphrase_fd {
        return Ok(unseal::read_fd(fd, "passphrase")?);
    }
    if !std::io::stdin().is_terminal() {
        bail!("give the passphrase with --passphrase-fd N (stdin is not a terminal to ask on)");
    }
    let first = unseal::prompt("New root key passphrase: ")?;
    let again = unseal::prompt("The same passphrase again: ")?;
    if *first != *again {
        bail!("the two passphrases differ; nothing was written");
    }
    Ok(first)
}

/// Writes a new 0600 file (never over an existing one), in a 0700 folder made if missing.
fn write_new(path: &Path, text: &str) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.exists()
    {
        install::make_private_dir(dir)?;
    }
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

fn report(w: &Written, out: &Path, plain: Option<&Path>, json: bool) {
    if json {
        let settings: serde_json::Map<String, serde_json::Value> = w
            .settings
            .iter()
            .map(|(k, v)| ((*k).to_owned(), json!(v)))
            .collect();
        println!(
            "{}",
            json!({ "sealed": out.display().to_string(), "kind": w.kind, "config": settings })
        );
        return;
    }
    println!("Sealed root key written to {} (0600).", out.display());
    println!("Start the server with these settings in its config file:");
    for (k, v) in &w.settings {
        println!("  {k} = {v:?}");
    }
    if w.kind == "passphrase" {
        println!(
            "and the passphrase from --root-key-passphrase-fd N, the systemd credential {} \
             (LoadCredentialEncrypted=), or the terminal.",
            unseal::PASSPHRASE_CREDENTIAL
        );
    }
    if let Some(plain) = plain {
        println!(
            "Now destroy the plain key, keeping an offline backup if you need one:\n  \
             shred -u {}",
            plain.display()
        );
    }
}
