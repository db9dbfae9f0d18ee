//! Unsealing the root key beyond a plain key file: a passphrase-sealed file
//! ([`signet_crypto::SealedRootKey`], the passphrase from a file descriptor, a systemd
//! credential or a terminal prompt), and a file sealed by a key inside a PKCS#11 token
//! ([`pkcs11`]). Both yield the same 32-byte [`RootKey`] a plain `root.key` holds.
//!
//! Every failure is one line saying what to do, and names files and sources, never a byte of a
//! passphrase, a PIN or a key. There is no retry: a wrong passphrase stops the start.

pub mod pkcs11;

use std::io::{IsTerminal, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use signet_crypto::{RootKey, SealedKeyError, SealedRootKey};
use zeroize::Zeroizing;

/// The systemd credential the passphrase is read from when no descriptor is given.
pub const PASSPHRASE_CREDENTIAL: &str = "signet-root-passphrase";
/// The systemd credential the token PIN is read from when no file or variable is given.
pub const PIN_CREDENTIAL: &str = "signet-pkcs11-pin";
/// The most a passphrase or PIN source may hold: a source that goes on and on is a mistake
/// (`--root-key-passphrase-fd` pointed at the wrong descriptor), not a passphrase.
const MAX_SECRET_LEN: u64 = 64 * 1024;

/// Where the passphrase of a sealed key file comes from, tried in this order: the descriptor,
/// the systemd credential (when `$CREDENTIALS_DIRECTORY` is set and holds it), the terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassphraseSource {
    /// `--root-key-passphrase-fd N`.
    pub fd: Option<i32>,
    /// The credential's name under `$CREDENTIALS_DIRECTORY`.
    pub credential: String,
}

/// Where a PKCS#11 token's user PIN comes from. Never a flag's value: it would show in `ps`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinSource {
    /// A file holding the PIN (0600).
    File(PathBuf),
    /// An environment variable holding it.
    Env(String),
    /// A systemd credential under `$CREDENTIALS_DIRECTORY`.
    Credential(String),
}

/// How to reach the token: its module and its PIN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenAccess {
    /// The PKCS#11 library, loaded at run time.
    pub module: PathBuf,
    /// The user PIN.
    pub pin: PinSource,
}

/// Why the root key could not be unsealed. One line each, saying what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UnsealError {
    /// No passphrase source was available.
    #[error(
        "the root key in {0} is sealed with a passphrase and none was given: pass \
         --root-key-passphrase-fd N, provide the systemd credential {1} \
         (LoadCredentialEncrypted=), or start from a terminal to be asked; refusing to start"
    )]
    NoPassphrase(String, String),
    /// A passphrase or PIN source could not be read.
    #[error("cannot read the {0}: {1}")]
    ReadSecret(String, String),
    /// A passphrase or PIN source was empty.
    #[error("the {0} is empty; refusing to start")]
    EmptySecret(String),
    /// The sealed file is not one this build reads.
    #[error("{0}: {1}")]
    Format(String, String),
    /// Wrong passphrase or altered file.
    #[error(
        "cannot unseal the root key in {0}: wrong passphrase, or the file was altered; \
         refusing to start"
    )]
    WrongPassphrase(String),
    /// The token refused, is missing, or the module failed; the message says which.
    #[error("{0}")]
    Token(String),
    /// Sealing failed (RNG or KDF).
    #[error("sealing the root key failed: {0}")]
    Seal(String),
}

/// Drops one final line ending (`echo`, `systemd-creds encrypt` of a typed file): what is left
/// is the secret, byte for byte. Nothing else is trimmed.
fn strip_newline(mut raw: Zeroizing<Vec<u8>>) -> Zeroizing<Vec<u8>> {
    if raw.last() == Some(&b'\n') {
        raw.pop();
        if raw.last() == Some(&b'\r') {
            raw.pop();
        }
    }
    raw
}

/// Reads a whole source, refusing one larger than [`MAX_SECRET_LEN`].
fn read_all(what: &str, mut from: impl Read) -> Result<Zeroizing<Vec<u8>>, UnsealError> {
    let mut raw = Zeroizing::new(Vec::new());
    (&mut from)
        .take(MAX_SECRET_LEN + 1)
        .read_to_end(&mut raw)
        .map_err(|e| UnsealError::ReadSecret(what.to_owned(), e.to_string()))?;
    if raw.len() as u64 > MAX_SECRET_LEN {
        return Err(UnsealError::ReadSecret(
            what.to_owned(),
            format!("more than {MAX_SECRET_LEN} bytes"),
        ));
    }
    let raw = strip_newline(raw);
    if raw.is_empty() {
        return Err(UnsealError::EmptySecret(what.to_owned()));
    }
    Ok(raw)
}

/// Reads descriptor `fd` to its end. Through `/proc/self/fd`, as the workspace forbids the
/// `unsafe` that adopting a raw descriptor takes; for a pipe (the usual case, and what systemd
/// and `signet ... N<file` shells hand over) reading it to the end drains it either way.
pub fn read_fd(fd: i32, what: &str) -> Result<Zeroizing<Vec<u8>>, UnsealError> {
    if fd == 0 {
        return read_all(what, std::io::stdin().lock());
    }
    let path = format!("/proc/self/fd/{fd}");
    let file = std::fs::File::open(&path).map_err(|e| {
        UnsealError::ReadSecret(what.to_owned(), format!("file descriptor {fd}: {e}"))
    })?;
    read_all(what, file)
}

/// Reads the systemd credential `name` if `$CREDENTIALS_DIRECTORY` is set and holds it.
pub fn read_credential(name: &str, what: &str) -> Result<Option<Zeroizing<Vec<u8>>>, UnsealError> {
    let Some(dir) = std::env::var_os("CREDENTIALS_DIRECTORY") else {
        return Ok(None);
    };
    // A name is one path component: `../x` must not read beside the credentials.
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(UnsealError::ReadSecret(
            what.to_owned(),
            format!("{name:?} is not a credential name"),
        ));
    }
    let path = Path::new(&dir).join(name);
    match std::fs::File::open(&path) {
        Ok(f) => read_all(what, f).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(UnsealError::ReadSecret(
            what.to_owned(),
            format!("{}: {e}", path.display()),
        )),
    }
}

/// The passphrase, from the first source that has one.
pub fn passphrase(
    source: &PassphraseSource,
    sealed_file: &Path,
) -> Result<Zeroizing<Vec<u8>>, UnsealError> {
    const WHAT: &str = "root key passphrase";
    if let Some(fd) = source.fd {
        return read_fd(fd, WHAT);
    }
    if let Some(p) = read_credential(&source.credential, WHAT)? {
        return Ok(p);
    }
    if std::io::stdin().is_terminal() {
        return prompt(&format!(
            "Passphrase for the root key in {}: ",
            sealed_file.display()
        ));
    }
    Err(UnsealError::NoPassphrase(
        sealed_file.display().to_string(),
        source.credential.clone(),
    ))
}

/// Asks on the terminal, without echo.
pub fn prompt(question: &str) -> Result<Zeroizing<Vec<u8>>, UnsealError> {
    let typed = Zeroizing::new(rpassword::prompt_password(question).map_err(|e| {
        UnsealError::ReadSecret("passphrase from the terminal".into(), e.to_string())
    })?);
    if typed.is_empty() {
        return Err(UnsealError::EmptySecret("passphrase typed".into()));
    }
    Ok(Zeroizing::new(typed.as_bytes().to_vec()))
}

/// Opens a passphrase-sealed file's text with `passphrase`.
pub fn open_sealed(text: &str, passphrase: &[u8], file: &Path) -> Result<RootKey, UnsealError> {
    let sealed = SealedRootKey::parse(text).map_err(|e| format_error(file, &e))?;
    sealed.open(passphrase).map_err(|e| match e {
        SealedKeyError::Open => UnsealError::WrongPassphrase(file.display().to_string()),
        other => format_error(file, &other),
    })
}

fn format_error(file: &Path, e: &SealedKeyError) -> UnsealError {
    UnsealError::Format(file.display().to_string(), e.to_string())
}

/// The token's PIN.
pub fn pin(source: &PinSource) -> Result<Zeroizing<String>, UnsealError> {
    const WHAT: &str = "PKCS#11 PIN";
    let raw = match source {
        PinSource::File(path) => {
            let f = std::fs::File::open(path).map_err(|e| {
                UnsealError::ReadSecret(WHAT.into(), format!("{}: {e}", path.display()))
            })?;
            // Held to the key files' rule: a PIN others could read may already be theirs. The
            // mode is read from the open file, so the file checked is the file read.
            let mode = f
                .metadata()
                .map_err(|e| UnsealError::ReadSecret(WHAT.into(), e.to_string()))?
                .permissions()
                .mode()
                & 0o777;
            if mode & 0o077 != 0 {
                return Err(UnsealError::ReadSecret(
                    WHAT.into(),
                    format!(
                        "{p} is accessible to other users (mode {mode:o}); refusing to start. \
                         Make it private with: chmod 600 {p}",
                        p = path.display()
                    ),
                ));
            }
            read_all(WHAT, f)?
        }
        PinSource::Env(var) => {
            let value = Zeroizing::new(std::env::var(var).unwrap_or_default());
            read_all(WHAT, value.as_bytes())?
        }
        PinSource::Credential(name) => read_credential(name, WHAT)?.ok_or_else(|| {
            UnsealError::ReadSecret(
                WHAT.into(),
                format!(
                    "no pkcs11_pin_file or pkcs11_pin_env is set and the systemd credential \
                     {name} is not in $CREDENTIALS_DIRECTORY"
                ),
            )
        })?,
    };
    let text = std::str::from_utf8(&raw)
        .map_err(|_| UnsealError::ReadSecret(WHAT.into(), "not UTF-8".into()))?;
    Ok(Zeroizing::new(text.to_owned()))
}
