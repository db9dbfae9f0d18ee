//! Which certificate authorities the SDK's HTTPS connections trust: the system's roots, plus a
//! private CA's certificates from a PEM file, named by `SIGNET_CACERT` or by the program
//! ([`trust_ca_file`]; the CLI's `--cacert`). Never instead of the system's roots: a private CA
//! is added, nothing is switched off.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::error::ClientError;

/// The environment variable naming a PEM file of extra CA certificates.
pub const CACERT_ENV: &str = "SIGNET_CACERT";

/// The file the program named, which wins over the environment.
static CA_FILE: OnceLock<PathBuf> = OnceLock::new();

/// The extra roots, loaded once, on the first client made. An error is kept as the file and the
/// reason, so every client made after fails the same way.
static ROOTS: OnceLock<Result<Vec<reqwest::Certificate>, (PathBuf, String)>> = OnceLock::new();

/// Trusts the certificates in the PEM file at `path` in addition to the system's roots, for
/// every client made afterwards (instead of `SIGNET_CACERT`'s). The file is read when the first
/// client is made; a file that cannot be read or holds no certificate makes that, and every
/// later, client fail with [`ClientError::CaCertificate`]. Returns false, and changes nothing,
/// once a file was set or a client was made.
pub fn trust_ca_file(path: impl Into<PathBuf>) -> bool {
    ROOTS.get().is_none() && CA_FILE.set(path.into()).is_ok()
}

/// The extra roots every client adds to the system's.
pub(crate) fn extra_roots() -> Result<Vec<reqwest::Certificate>, ClientError> {
    ROOTS
        .get_or_init(|| {
            let named = CA_FILE.get().cloned().or_else(|| {
                std::env::var_os(CACERT_ENV)
                    .filter(|v| !v.is_empty())
                    .map(PathBuf::from)
            });
            match named {
                Some(path) => load(&path).map_err(|reason| (path, reason)),
                None => Ok(Vec::new()),
            }
        })
        .clone()
        .map_err(|(path, reason)| ClientError::CaCertificate { path, reason })
}

/// The certificates of a PEM bundle; an error names what is wrong, in words.
fn load(path: &Path) -> Result<Vec<reqwest::Certificate>, String> {
    let pem = std::fs::read(path).map_err(|e| e.to_string())?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|_| "not a PEM certificate bundle".to_owned())?;
    if certs.is_empty() {
        return Err("no PEM certificate in the file".to_owned());
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn a_missing_or_empty_file_is_refused_in_words() {
        let dir = tempfile::tempdir().unwrap();
        let missing = load(&dir.path().join("nope.pem")).unwrap_err();
        assert!(missing.contains("No such file"), "{missing}");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        assert_eq!(load(&empty).unwrap_err(), "no PEM certificate in the file");
    }
}
