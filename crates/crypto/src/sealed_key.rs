//! The passphrase-sealed root key file (`root.key.sealed`): the root key sealed with AES-256-GCM
//! under a key Argon2id derives from a passphrase. Pure: the caller reads and writes the file and
//! finds the passphrase.
//!
//! ```json
//! {"format":"signet-sealed-root-key","version":1,"kdf":"argon2id",
//!  "m_kib":65536,"t":3,"p":1,"salt":"<32 hex bytes>","sealed":"<hex: 1 || nonce || ct || tag>"}
//! ```
//!
//! Every header field (version, KDF, its three costs and the salt) is the AEAD's associated data,
//! so a file whose parameters were lowered to make guessing cheap fails to open even before the
//! different derived key would make it fail: the tamper is reported as what it is, a file that
//! does not authenticate, never as a silently weaker seal.

use std::fmt;

use argon2::{Algorithm, Argon2, Params, Version};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::RootKey;
use crate::envelope::{open, seal};

/// The `format` field: says what the file is to someone who opens it.
pub const SEALED_KEY_FORMAT: &str = "signet-sealed-root-key";
/// The only format version this build writes and reads.
pub const SEALED_KEY_VERSION: u32 = 1;
const KDF_ARGON2ID: &str = "argon2id";
const LABEL: &str = "signet/v1/sealed-root-key";
const SALT_LEN: usize = 32;

/// Argon2id's costs. Stored in the file, so a later default does not orphan older files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_kib: u32,
    /// Passes.
    pub t: u32,
    /// Lanes.
    pub p: u32,
}

impl Default for KdfParams {
    /// 64 MiB, 3 passes, 1 lane: about a second on a server core, once per start; RFC 9106's
    /// second recommended option.
    fn default() -> Self {
        Self {
            m_kib: 64 * 1024,
            t: 3,
            p: 1,
        }
    }
}

/// The most a file may ask for. A file is written by the operator, but a start must not be
/// turned into an out-of-memory kill or an hour of hashing by a corrupted number: 4 GiB, 64
/// passes and 16 lanes are far above any sane seal.
const MAX_M_KIB: u32 = 4 * 1024 * 1024;
const MAX_T: u32 = 64;
const MAX_P: u32 = 16;

/// Why a sealed key file could not be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
#[non_exhaustive]
pub enum SealedKeyError {
    /// Not a sealed key file this build understands; the message says what is wrong (never a
    /// byte of key material).
    #[error("not a sealed root key file: {0}")]
    Format(String),
    /// The passphrase is wrong, or the file was altered.
    #[error("wrong passphrase, or the sealed key file was altered")]
    Open,
    /// The KDF or the RNG failed while sealing.
    #[error("sealing the root key failed")]
    Seal,
}

/// A parsed `root.key.sealed`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealedRootKey {
    format: String,
    version: u32,
    kdf: String,
    m_kib: u32,
    t: u32,
    p: u32,
    salt: String,
    sealed: String,
}

impl SealedRootKey {
    /// Seals `key` under `passphrase` with a fresh salt and nonce.
    pub fn seal(
        key: &RootKey,
        passphrase: &[u8],
        params: KdfParams,
    ) -> Result<Self, SealedKeyError> {
        let mut salt = [0u8; SALT_LEN];
        getrandom::fill(&mut salt).map_err(|_| SealedKeyError::Seal)?;
        let mut file = Self {
            format: SEALED_KEY_FORMAT.to_owned(),
            version: SEALED_KEY_VERSION,
            kdf: KDF_ARGON2ID.to_owned(),
            m_kib: params.m_kib,
            t: params.t,
            p: params.p,
            salt: hex::encode(salt),
            sealed: String::new(),
        };
        let (params, salt) = file.check()?;
        let kek = derive(passphrase, &salt, params).map_err(|_| SealedKeyError::Seal)?;
        let sealed = seal(&kek, &file.aad(), key.as_bytes()).map_err(|_| SealedKeyError::Seal)?;
        file.sealed = hex::encode(sealed);
        Ok(file)
    }

    /// Opens the root key with `passphrase`.
    pub fn open(&self, passphrase: &[u8]) -> Result<RootKey, SealedKeyError> {
        let (params, salt) = self.check()?;
        let sealed = hex::decode(&self.sealed)
            .map_err(|_| SealedKeyError::Format("`sealed` is not hex".into()))?;
        let kek = derive(passphrase, &salt, params).map_err(|_| SealedKeyError::Open)?;
        let raw = open(&kek, &self.aad(), &sealed).map_err(|_| SealedKeyError::Open)?;
        let bytes: [u8; 32] = raw
            .as_slice()
            .try_into()
            .map_err(|_| SealedKeyError::Open)?;
        Ok(RootKey::from_bytes(bytes))
    }

    /// Parses the file's text.
    pub fn parse(text: &str) -> Result<Self, SealedKeyError> {
        let file: Self = serde_json::from_str(text).map_err(|e| {
            // serde_json's message names a field or a position, never the file's values.
            SealedKeyError::Format(e.to_string())
        })?;
        file.check()?;
        Ok(file)
    }

    /// The file's text (pretty JSON and a final newline).
    pub fn to_json(&self) -> String {
        // Only strings and numbers: serialising cannot fail.
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }

    /// The Argon2id costs the file names.
    pub fn params(&self) -> KdfParams {
        KdfParams {
            m_kib: self.m_kib,
            t: self.t,
            p: self.p,
        }
    }

    /// Refuses what this build cannot open (with a reason) before any hashing.
    fn check(&self) -> Result<(Params, [u8; SALT_LEN]), SealedKeyError> {
        if self.format != SEALED_KEY_FORMAT {
            return Err(SealedKeyError::Format(format!(
                "`format` must be {SEALED_KEY_FORMAT:?}"
            )));
        }
        if self.version != SEALED_KEY_VERSION {
            return Err(SealedKeyError::Format(format!(
                "version {} is not supported (this build reads version {SEALED_KEY_VERSION})",
                self.version
            )));
        }
        if self.kdf != KDF_ARGON2ID {
            return Err(SealedKeyError::Format(format!(
                "`kdf` must be {KDF_ARGON2ID:?}"
            )));
        }
        if self.m_kib > MAX_M_KIB || self.t > MAX_T || self.p > MAX_P {
            return Err(SealedKeyError::Format(format!(
                "Argon2id costs above the limits (m_kib <= {MAX_M_KIB}, t <= {MAX_T}, p <= {MAX_P})"
            )));
        }
        let params = Params::new(self.m_kib, self.t, self.p, Some(32))
            .map_err(|e| SealedKeyError::Format(format!("invalid Argon2id costs: {e}")))?;
        let salt: [u8; SALT_LEN] = hex::decode(&self.salt)
            .ok()
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| {
                SealedKeyError::Format(format!("`salt` must be {SALT_LEN} hex bytes"))
            })?;
        Ok((params, salt))
    }

    /// Every header field, length-prefixed so no two headers encode alike.
    fn aad(&self) -> Vec<u8> {
        let fields = [
            LABEL.as_bytes().to_vec(),
            self.format.as_bytes().to_vec(),
            self.version.to_be_bytes().to_vec(),
            self.kdf.as_bytes().to_vec(),
            self.m_kib.to_be_bytes().to_vec(),
            self.t.to_be_bytes().to_vec(),
            self.p.to_be_bytes().to_vec(),
            self.salt.as_bytes().to_vec(),
        ];
        let mut out = Vec::new();
        for f in fields {
            // Every field is far shorter than 4 GiB.
            out.extend_from_slice(&u32::try_from(f.len()).unwrap_or(u32::MAX).to_be_bytes());
            out.extend_from_slice(&f);
        }
        out
    }
}

fn derive(
    passphrase: &[u8],
    salt: &[u8],
    params: Params,
) -> Result<Zeroizing<[u8; 32]>, argon2::Error> {
    let mut out = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params).hash_password_into(
        passphrase,
        salt,
        out.as_mut(),
    )?;
    Ok(out)
}

impl fmt::Debug for SealedRootKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealedRootKey")
            .field("version", &self.version)
            .field("params", &self.params())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cheap costs: the format, not Argon2's strength, is under test.
    const CHEAP: KdfParams = KdfParams {
        m_kib: 64,
        t: 2,
        p: 1,
    };

    fn sealed() -> (RootKey, SealedRootKey) {
        let key = RootKey::generate().unwrap();
        let file = SealedRootKey::seal(&key, b"correct horse battery staple", CHEAP).unwrap();
        (key, file)
    }

    fn edit(file: &SealedRootKey, f: impl FnOnce(&mut serde_json::Value)) -> String {
        let mut v: serde_json::Value = serde_json::from_str(&file.to_json()).unwrap();
        f(&mut v);
        v.to_string()
    }

    #[test]
    fn round_trip_through_the_file_text() {
        let (key, file) = sealed();
        let text = file.to_json();
        assert!(!text.contains(key.to_hex().as_str()));
        let back = SealedRootKey::parse(&text).unwrap();
        assert_eq!(back, file);
        let opened = back.open(b"correct horse battery staple").unwrap();
        assert_eq!(*opened.to_hex(), *key.to_hex());
        assert_eq!(back.params(), CHEAP);
        // Two seals of one key share nothing: fresh salt and nonce each time.
        let again = SealedRootKey::seal(&key, b"correct horse battery staple", CHEAP).unwrap();
        assert_ne!(again.salt, file.salt);
        assert_ne!(again.sealed, file.sealed);
    }

    #[test]
    fn the_default_costs_are_strong() {
        let d = KdfParams::default();
        assert!(d.m_kib >= 64 * 1024 && d.t >= 3 && d.p >= 1);
    }

    #[test]
    fn a_wrong_passphrase_is_refused() {
        let (_, file) = sealed();
        assert_eq!(
            file.open(b"correct horse battery stapler").err(),
            Some(SealedKeyError::Open)
        );
        assert_eq!(file.open(b"").err(), Some(SealedKeyError::Open));
    }

    #[test]
    fn lowered_costs_or_another_salt_are_detected() {
        let (_, file) = sealed();
        for (field, value) in [
            ("t", serde_json::json!(1)),
            ("m_kib", serde_json::json!(32)),
            ("p", serde_json::json!(2)),
            ("salt", serde_json::json!("00".repeat(32))),
        ] {
            let text = edit(&file, |v| v[field] = value.clone());
            let Ok(tampered) = SealedRootKey::parse(&text) else {
                panic!("{field}: the tampered file should still parse");
            };
            assert_ne!(tampered, file, "{field}");
            assert_eq!(
                tampered.open(b"correct horse battery staple").err(),
                Some(SealedKeyError::Open),
                "{field}"
            );
        }
        // A file sealed with stronger costs and edited down to weaker ones.
        let key = RootKey::generate().unwrap();
        let strong = SealedRootKey::seal(
            &key,
            b"pw",
            KdfParams {
                m_kib: 128,
                t: 2,
                p: 1,
            },
        )
        .unwrap();
        let weakened = SealedRootKey::parse(&edit(&strong, |v| v["t"] = 1.into())).unwrap();
        assert_eq!(weakened.open(b"pw").err(), Some(SealedKeyError::Open));
        assert!(strong.open(b"pw").is_ok());
    }

    #[test]
    fn tampered_ciphertext_is_refused() {
        let (_, file) = sealed();
        let mut raw = hex::decode(&file.sealed).unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        let text = edit(&file, |v| v["sealed"] = hex::encode(&raw).into());
        let tampered = SealedRootKey::parse(&text).unwrap();
        assert_eq!(
            tampered.open(b"correct horse battery staple").err(),
            Some(SealedKeyError::Open)
        );
        raw.truncate(10);
        let short = edit(&file, |v| v["sealed"] = hex::encode(&raw).into());
        assert_eq!(
            SealedRootKey::parse(&short)
                .unwrap()
                .open(b"correct horse battery staple")
                .err(),
            Some(SealedKeyError::Open)
        );
    }

    #[test]
    fn unknown_versions_kdfs_and_shapes_are_refused_before_hashing() {
        let (_, file) = sealed();
        let cases = [
            edit(&file, |v| v["version"] = 2.into()),
            edit(&file, |v| v["kdf"] = "scrypt".into()),
            edit(&file, |v| v["format"] = "something-else".into()),
            edit(&file, |v| v["m_kib"] = (u64::from(MAX_M_KIB) + 1).into()),
            edit(&file, |v| v["t"] = 0.into()),
            edit(&file, |v| v["salt"] = "abcd".into()),
            edit(&file, |v| v["extra"] = 1.into()),
            edit(&file, |v| {
                v.as_object_mut().unwrap().remove("sealed");
            }),
            "not json".to_owned(),
        ];
        for text in cases {
            assert!(
                matches!(SealedRootKey::parse(&text), Err(SealedKeyError::Format(_))),
                "{text}"
            );
        }
        let v2 = edit(&file, |v| v["version"] = 2.into());
        let Err(SealedKeyError::Format(why)) = SealedRootKey::parse(&v2) else {
            panic!("version 2 accepted");
        };
        assert!(why.contains("version 2 is not supported"), "{why}");
    }

    #[test]
    fn debug_shows_no_key_material() {
        let (_, file) = sealed();
        let shown = format!("{file:?}");
        assert!(!shown.contains(&file.sealed) && !shown.contains(&file.salt));
    }
}
