//! Signet's envelope encryption.
//!
//! ```text
//! root key ──HKDF──► project-KEK ──AES-256-GCM──► project key (one per project)
//!                                                     │
//!                                        AES-256-GCM  ▼
//!                                          data key (one per secret version)
//!                                                     │
//!                                        AES-256-GCM  ▼
//!                                                secret value
//! ```
//!
//! Every seal carries an AAD that names the vault, project, secret and version it belongs to, so
//! a ciphertext copied to another row fails to open. Keys live in zeroizing memory, print as
//! `***`, and are never serialised except wrapped. The crate is pure: no files, no clocks.
//!
//! [`generator`] makes the random values rotation writes: a length and a charset, unbiased.
#![forbid(unsafe_code)]

mod aad;
pub mod backup;
mod envelope;
pub mod generator;
mod root;
pub mod sealed_key;

pub use aad::{RecordAad, RecordKind, SecretAad, ShareAad};
pub use backup::BackupKey;
pub use envelope::{DataKey, ProjectKey, SealedValue};
pub use root::{AuditKey, KeyCheck, RootKey, WrappedProjectKey};
pub use sealed_key::{KdfParams, SealedKeyError, SealedRootKey};

/// Why a cryptographic operation failed. Deliberately coarse: callers must not learn which byte
/// was wrong.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone, Copy)]
#[non_exhaustive]
pub enum CryptoError {
    /// A ciphertext failed authentication, was truncated, or has an unknown format version.
    #[error("ciphertext did not authenticate")]
    Open,
    /// The OS RNG or the AEAD implementation failed while sealing.
    #[error("sealing failed")]
    Seal,
    /// Key material had the wrong length or encoding.
    #[error("key material is malformed")]
    KeyFormat,
}

/// Fills a fresh 32-byte key from the OS RNG.
fn random_key() -> Result<zeroize::Zeroizing<[u8; 32]>, CryptoError> {
    let mut k = zeroize::Zeroizing::new([0u8; 32]);
    getrandom::fill(k.as_mut()).map_err(|_| CryptoError::Seal)?;
    Ok(k)
}
