//! Project keys, per-version data keys and sealed values.

use std::fmt;

use aws_lc_rs::aead::{AES_256_GCM, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};
use zeroize::Zeroizing;

use crate::aad::{RecordAad, SecretAad};
use crate::{CryptoError, random_key};

/// Format tag of every sealed blob, so a later scheme can coexist with this one.
const FORMAT_V1: u8 = 1;
const LABEL_DEK: &str = "signet/v1/data-key";
const LABEL_VALUE: &str = "signet/v1/value";
const LABEL_RECORD_DEK: &str = "signet/v1/record-data-key";
const LABEL_RECORD_VALUE: &str = "signet/v1/record-value";

/// Seals `plaintext` under `key` with a fresh random nonce: `FORMAT_V1 || nonce || ct || tag`.
pub(crate) fn seal(key: &[u8; 32], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let k = RandomizedNonceKey::new(&AES_256_GCM, key).map_err(|_| CryptoError::Seal)?;
    let mut buf = Vec::with_capacity(1 + NONCE_LEN + plaintext.len() + 16);
    buf.extend_from_slice(plaintext);
    let nonce = k
        .seal_in_place_append_tag(Aad::from(aad), &mut buf)
        .map_err(|_| CryptoError::Seal)?;
    let mut out = Vec::with_capacity(1 + NONCE_LEN + buf.len());
    out.push(FORMAT_V1);
    out.extend_from_slice(nonce.as_ref());
    out.extend_from_slice(&buf);
    Ok(out)
}

/// Opens what [`seal`] produced. The plaintext is returned in zeroizing memory.
pub(crate) fn open(
    key: &[u8; 32],
    aad: &[u8],
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let (&format, rest) = sealed.split_first().ok_or(CryptoError::Open)?;
    if format != FORMAT_V1 || rest.len() < NONCE_LEN + 16 {
        return Err(CryptoError::Open);
    }
    let (nonce, ct) = rest.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| CryptoError::Open)?;
    let k = RandomizedNonceKey::new(&AES_256_GCM, key).map_err(|_| CryptoError::Open)?;
    let mut buf = Zeroizing::new(ct.to_vec());
    let len = k
        .open_in_place(nonce, Aad::from(aad), buf.as_mut_slice())
        .map_err(|_| CryptoError::Open)?
        .len();
    buf.truncate(len);
    Ok(buf)
}

/// A project's key: it wraps the data key of every secret version in the project.
pub struct ProjectKey(pub(crate) Zeroizing<[u8; 32]>);

impl ProjectKey {
    /// A fresh random project key.
    pub fn generate() -> Result<Self, CryptoError> {
        random_key().map(Self)
    }

    /// Encrypts one secret version: a fresh data key seals the value, and this project key
    /// seals the data key. Both seals are bound to `aad`.
    pub fn seal_value(
        &self,
        aad: &SecretAad<'_>,
        plaintext: &[u8],
    ) -> Result<SealedValue, CryptoError> {
        let dek = random_key()?;
        let ciphertext = seal(&dek, &aad.bytes(LABEL_VALUE), plaintext)?;
        let wrapped_dek = seal(&self.0, &aad.bytes(LABEL_DEK), dek.as_ref())?;
        Ok(SealedValue {
            wrapped_dek,
            ciphertext,
        })
    }

    /// Decrypts one secret version. Fails if any part was altered or belongs to another row.
    pub fn open_value(
        &self,
        aad: &SecretAad<'_>,
        sealed: &SealedValue,
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        self.unwrap_data_key(aad, &sealed.wrapped_dek)?
            .open_value(aad, &sealed.ciphertext)
    }

    /// Unwraps the data key of the secret version `aad` names: the first half of
    /// [`Self::open_value`], for a caller that keeps the key for the version's next reads.
    pub fn unwrap_data_key(
        &self,
        aad: &SecretAad<'_>,
        wrapped_dek: &[u8],
    ) -> Result<DataKey, CryptoError> {
        let dek = open(&self.0, &aad.bytes(LABEL_DEK), wrapped_dek)?;
        let dek: [u8; 32] = dek.as_slice().try_into().map_err(|_| CryptoError::Open)?;
        Ok(DataKey(Zeroizing::new(dek)))
    }
}

/// One secret version's data key, unwrapped ([`ProjectKey::unwrap_data_key`]). Zeroized on drop.
pub struct DataKey(Zeroizing<[u8; 32]>);

impl DataKey {
    /// Decrypts the version's value: the second half of [`ProjectKey::open_value`]. The value's
    /// own tag and `aad` still bind it to its row, so a cached key opens nothing else.
    pub fn open_value(
        &self,
        aad: &SecretAad<'_>,
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        open(&self.0, &aad.bytes(LABEL_VALUE), ciphertext)
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(***)")
    }
}

impl ProjectKey {
    /// Seals a value that is not a secret version (module `aad`, [`RecordAad`]) the same way:
    /// a fresh data key seals the value, this key seals the data key, both bound to `aad`.
    pub fn seal_record(
        &self,
        aad: &RecordAad<'_>,
        plaintext: &[u8],
    ) -> Result<SealedValue, CryptoError> {
        let dek = random_key()?;
        let ciphertext = seal(&dek, &aad.bytes(LABEL_RECORD_VALUE), plaintext)?;
        let wrapped_dek = seal(&self.0, &aad.bytes(LABEL_RECORD_DEK), dek.as_ref())?;
        Ok(SealedValue {
            wrapped_dek,
            ciphertext,
        })
    }

    /// Opens what [`Self::seal_record`] produced for the same `aad`.
    pub fn open_record(
        &self,
        aad: &RecordAad<'_>,
        sealed: &SealedValue,
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let dek = open(&self.0, &aad.bytes(LABEL_RECORD_DEK), &sealed.wrapped_dek)?;
        let dek: &[u8; 32] = dek.as_slice().try_into().map_err(|_| CryptoError::Open)?;
        open(dek, &aad.bytes(LABEL_RECORD_VALUE), &sealed.ciphertext)
    }
}

impl ProjectKey {
    /// Re-wraps the data key of the secret version `aad` names from this key to `to`, for a
    /// project key rotation: the value's own ciphertext is left as it is.
    pub fn rewrap_data_key(
        &self,
        to: &ProjectKey,
        aad: &SecretAad<'_>,
        wrapped_dek: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let label = aad.bytes(LABEL_DEK);
        let dek = open(&self.0, &label, wrapped_dek)?;
        seal(&to.0, &label, &dek)
    }

    /// Re-wraps the data key of a record [`Self::seal_record`] sealed for `aad` from this key to
    /// `to`, like [`Self::rewrap_data_key`].
    pub fn rewrap_record_key(
        &self,
        to: &ProjectKey,
        aad: &RecordAad<'_>,
        wrapped_dek: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let label = aad.bytes(LABEL_RECORD_DEK);
        let dek = open(&self.0, &label, wrapped_dek)?;
        seal(&to.0, &label, &dek)
    }
}

impl fmt::Debug for ProjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ProjectKey(***)")
    }
}

/// One encrypted secret version as stored: the wrapped data key and the value's ciphertext.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedValue {
    /// The data key, sealed under the project key.
    pub wrapped_dek: Vec<u8>,
    /// The value, sealed under the data key.
    pub ciphertext: Vec<u8>,
}

impl fmt::Debug for SealedValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SealedValue({} + {} bytes)",
            self.wrapped_dek.len(),
            self.ciphertext.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aad(version: u32) -> SecretAad<'static> {
        SecretAad {
            vault: "vault_a1b2c3d4e5f6g7h8",
            project: "proj_0123456789",
            secret: "sk_a1b2c3d4e5",
            version,
        }
    }

    #[test]
    fn a_record_opens_only_as_its_own_kind_and_row() {
        use crate::aad::RecordKind;
        let key = ProjectKey::generate().unwrap();
        let aad = RecordAad {
            vault: "vault_a1b2c3d4e5f6g7h8",
            project: "proj_0123456789",
            kind: RecordKind::ConnectionPassword,
            id: "dbc_0123456789",
        };
        let sealed = key.seal_record(&aad, b"admin-pw").unwrap();
        assert_eq!(
            key.open_record(&aad, &sealed).unwrap().as_slice(),
            b"admin-pw"
        );
        let other_kind = RecordAad {
            kind: RecordKind::LeasePassword,
            ..aad
        };
        assert_eq!(
            key.open_record(&other_kind, &sealed),
            Err(CryptoError::Open)
        );
        let other_row = RecordAad {
            id: "dbc_9876543210",
            ..aad
        };
        assert_eq!(key.open_record(&other_row, &sealed), Err(CryptoError::Open));
    }

    #[test]
    fn round_trip() {
        let pk = ProjectKey::generate().unwrap();
        let sealed = pk.seal_value(&aad(1), b"hunter2").unwrap();
        assert_eq!(
            pk.open_value(&aad(1), &sealed).unwrap().as_slice(),
            b"hunter2"
        );
        assert!(!sealed.ciphertext.windows(7).any(|w| w == b"hunter2"));
    }

    #[test]
    fn moved_or_altered_ciphertexts_fail() {
        let pk = ProjectKey::generate().unwrap();
        let sealed = pk.seal_value(&aad(1), b"hunter2").unwrap();
        assert_eq!(pk.open_value(&aad(2), &sealed), Err(CryptoError::Open));
        let other = SecretAad {
            secret: "sk_zzzzzzzzzz",
            ..aad(1)
        };
        assert_eq!(pk.open_value(&other, &sealed), Err(CryptoError::Open));
        let other = SecretAad {
            project: "proj_zzzzzzzzzz",
            ..aad(1)
        };
        assert_eq!(pk.open_value(&other, &sealed), Err(CryptoError::Open));
        for i in 0..sealed.ciphertext.len() {
            let mut bad = sealed.clone();
            bad.ciphertext[i] ^= 1;
            assert_eq!(
                pk.open_value(&aad(1), &bad),
                Err(CryptoError::Open),
                "byte {i}"
            );
        }
        let mut bad = sealed.clone();
        bad.wrapped_dek.truncate(10);
        assert_eq!(pk.open_value(&aad(1), &bad), Err(CryptoError::Open));
        let wrong = ProjectKey::generate().unwrap();
        assert_eq!(wrong.open_value(&aad(1), &sealed), Err(CryptoError::Open));
    }

    #[test]
    fn debug_is_redacted() {
        let pk = ProjectKey::generate().unwrap();
        assert_eq!(format!("{pk:?}"), "ProjectKey(***)");
    }

    #[test]
    fn a_rewrapped_data_key_opens_only_under_the_new_project_key() {
        let (old, new) = (
            ProjectKey::generate().unwrap(),
            ProjectKey::generate().unwrap(),
        );
        let sealed = old.seal_value(&aad(3), b"value").unwrap();
        let wrapped_dek = old
            .rewrap_data_key(&new, &aad(3), &sealed.wrapped_dek)
            .unwrap();
        let moved = SealedValue {
            wrapped_dek,
            ciphertext: sealed.ciphertext.clone(),
        };
        assert_eq!(
            new.open_value(&aad(3), &moved).unwrap().as_slice(),
            b"value"
        );
        assert!(old.open_value(&aad(3), &moved).is_err());
        // Bound to its row: another version's AAD does not re-wrap it.
        assert!(
            old.rewrap_data_key(&new, &aad(4), &sealed.wrapped_dek)
                .is_err()
        );
        assert!(
            new.rewrap_data_key(&old, &aad(3), &sealed.wrapped_dek)
                .is_err()
        );

        let record = RecordAad {
            vault: "vault_a1b2c3d4e5f6g7h8",
            project: "proj_0123456789",
            kind: crate::aad::RecordKind::LeasePassword,
            id: "lease_1",
        };
        let sealed = old.seal_record(&record, b"pw").unwrap();
        let moved = SealedValue {
            wrapped_dek: old
                .rewrap_record_key(&new, &record, &sealed.wrapped_dek)
                .unwrap(),
            ciphertext: sealed.ciphertext,
        };
        assert_eq!(new.open_record(&record, &moved).unwrap().as_slice(), b"pw");
        assert!(old.open_record(&record, &moved).is_err());
    }
}
