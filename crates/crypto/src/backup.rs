//! Encryption of backup files (`signet backup`): AES-256-GCM over fixed-size chunks, in the
//! STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizár, "Online authenticated-encryption
//! and its nonce-reuse misuse-resistance", 2015).
//!
//! ```text
//! backup key ──HKDF(salt = SHA-256(header), "signet/v1/backup-file")──► file key
//! chunk i:  AES-256-GCM(file key, nonce = 0^3 || i (u64 BE) || last, aad = SHA-256(header))
//! ```
//!
//! The header (the file's magic, version, manifest and a random salt, see
//! `signet_store::backup`) is bound into the file key and into every chunk's AAD, so a changed
//! manifest opens nothing. The chunk counter in the nonce catches reordered, repeated and
//! dropped chunks; the last-chunk flag catches a file cut at a chunk boundary. Each file has its
//! own key (its salt is random), so counter nonces never repeat under one key.
//!
//! A backup key is either its own random key (a key file, [`BackupKey::generate`]) or derived
//! from the root key ([`crate::RootKey::backup_key`]).

use std::fmt;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use hkdf::Hkdf;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::{CryptoError, random_key};

const INFO_FILE_KEY: &[u8] = b"signet/v1/backup-file";
const INFO_KEY_ID: &[u8] = b"signet/v1/backup-key-id";
/// The GCM tag each chunk carries.
pub const TAG_LEN: usize = 16;
/// The random salt every backup header ends with.
pub const SALT_LEN: usize = 32;

/// A key that encrypts backups. Zeroized on drop; prints as `***`.
pub struct BackupKey(Zeroizing<[u8; 32]>);

impl BackupKey {
    /// A fresh random key (`signet backup keygen`).
    pub fn generate() -> Result<Self, CryptoError> {
        random_key().map(Self)
    }

    pub(crate) fn from_bytes(bytes: Zeroizing<[u8; 32]>) -> Self {
        Self(bytes)
    }

    /// Parses the file form: 64 hex digits, surrounding whitespace allowed.
    pub fn from_hex(text: &str) -> Result<Self, CryptoError> {
        let raw = Zeroizing::new(hex::decode(text.trim()).map_err(|_| CryptoError::KeyFormat)?);
        let bytes: [u8; 32] = raw
            .as_slice()
            .try_into()
            .map_err(|_| CryptoError::KeyFormat)?;
        Ok(Self(Zeroizing::new(bytes)))
    }

    /// The file form.
    pub fn to_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(hex::encode(self.0.as_ref()))
    }

    fn derive(&self, salt: &[u8], info: &[u8]) -> Zeroizing<[u8; 32]> {
        let hk = Hkdf::<Sha256>::new(Some(salt), self.0.as_ref());
        let mut out = Zeroizing::new([0u8; 32]);
        // 32 bytes is far below HKDF-SHA256's 8160-byte limit, so expand cannot fail.
        let _ = hk.expand(info, out.as_mut());
        out
    }

    /// Names this key without revealing it (16 hex digits), for a backup's manifest: a restore
    /// with the wrong key file says so before trying to decrypt anything.
    pub fn fingerprint(&self) -> String {
        hex::encode(&self.derive(&[], INFO_KEY_ID)[..8])
    }
}

impl fmt::Debug for BackupKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BackupKey(***)")
    }
}

/// A fresh random salt for a backup header.
pub fn fresh_salt() -> Result<[u8; SALT_LEN], CryptoError> {
    let mut salt = [0u8; SALT_LEN];
    getrandom::fill(&mut salt).map_err(|_| CryptoError::Seal)?;
    Ok(salt)
}

/// The chunk sequence of one file, under the file key derived from `header`.
struct Stream {
    key: LessSafeKey,
    /// SHA-256 of the header: every chunk's AAD.
    aad: [u8; 32],
    /// The next chunk's number.
    counter: u64,
    /// The last chunk was sealed or opened: nothing may follow it.
    done: bool,
}

impl Stream {
    fn new(key: &BackupKey, header: &[u8]) -> Result<Self, CryptoError> {
        let aad: [u8; 32] = Sha256::digest(header).into();
        let file_key = key.derive(&aad, INFO_FILE_KEY);
        let key = UnboundKey::new(&AES_256_GCM, file_key.as_ref())
            .map(LessSafeKey::new)
            .map_err(|_| CryptoError::KeyFormat)?;
        Ok(Self {
            key,
            aad,
            counter: 0,
            done: false,
        })
    }

    /// The next chunk's nonce, or `None` when the stream is over (or the counter would wrap,
    /// which 2^64 chunks never reach).
    fn next_nonce(&mut self, last: bool) -> Option<Nonce> {
        if self.done {
            return None;
        }
        let mut nonce = [0u8; NONCE_LEN];
        nonce[3..11].copy_from_slice(&self.counter.to_be_bytes());
        nonce[11] = u8::from(last);
        self.counter = self.counter.checked_add(1)?;
        self.done = last;
        Some(Nonce::assume_unique_for_key(nonce))
    }
}

/// Encrypts one backup file's chunks in order.
pub struct BackupSealer(Stream);

impl BackupSealer {
    /// Starts the file whose header (everything before the first chunk, salt included) is
    /// `header`.
    pub fn new(key: &BackupKey, header: &[u8]) -> Result<Self, CryptoError> {
        Stream::new(key, header).map(Self)
    }

    /// Seals the next chunk; `last` for the final one (a file always has one, possibly empty).
    /// Returns ciphertext and tag.
    pub fn seal_chunk(&mut self, plaintext: &[u8], last: bool) -> Result<Vec<u8>, CryptoError> {
        let nonce = self.0.next_nonce(last).ok_or(CryptoError::Seal)?;
        let mut buf = Vec::with_capacity(plaintext.len() + TAG_LEN);
        buf.extend_from_slice(plaintext);
        self.0
            .key
            .seal_in_place_append_tag(nonce, Aad::from(self.0.aad), &mut buf)
            .map_err(|_| CryptoError::Seal)?;
        Ok(buf)
    }
}

/// Decrypts one backup file's chunks in order; any change, reordering, repetition or
/// truncation fails with [`CryptoError::Open`].
pub struct BackupOpener(Stream);

impl BackupOpener {
    /// Starts reading the file whose header is `header`.
    pub fn new(key: &BackupKey, header: &[u8]) -> Result<Self, CryptoError> {
        Stream::new(key, header).map(Self)
    }

    /// Opens the next chunk; `last` when nothing follows it in the file.
    pub fn open_chunk(
        &mut self,
        sealed: &[u8],
        last: bool,
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let nonce = self.0.next_nonce(last).ok_or(CryptoError::Open)?;
        let mut buf = Zeroizing::new(sealed.to_vec());
        let len = self
            .0
            .key
            .open_in_place(nonce, Aad::from(self.0.aad), buf.as_mut_slice())
            .map_err(|_| CryptoError::Open)?
            .len();
        buf.truncate(len);
        Ok(buf)
    }

    /// Whether the last chunk has been opened: a reader that ran out of chunks before this is
    /// holding a truncated file.
    pub fn finished(&self) -> bool {
        self.0.done
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::RootKey;

    fn seal_all(key: &BackupKey, header: &[u8], chunks: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut s = BackupSealer::new(key, header).unwrap();
        chunks
            .iter()
            .enumerate()
            .map(|(i, c)| s.seal_chunk(c, i + 1 == chunks.len()).unwrap())
            .collect()
    }

    fn open_all(
        key: &BackupKey,
        header: &[u8],
        sealed: &[Vec<u8>],
    ) -> Result<Vec<u8>, CryptoError> {
        let mut o = BackupOpener::new(key, header)?;
        let mut out = Vec::new();
        for (i, c) in sealed.iter().enumerate() {
            out.extend_from_slice(&o.open_chunk(c, i + 1 == sealed.len())?);
        }
        if !o.finished() {
            return Err(CryptoError::Open);
        }
        Ok(out)
    }

    #[test]
    fn chunks_round_trip_and_any_change_is_refused() {
        let key = BackupKey::generate().unwrap();
        let header = b"SIGNETBK header";
        let sealed = seal_all(&key, header, &[b"one", b"two", b"three"]);
        assert_eq!(open_all(&key, header, &sealed).unwrap(), b"onetwothree");

        // Wrong key, changed header.
        let other = BackupKey::generate().unwrap();
        assert_eq!(open_all(&other, header, &sealed), Err(CryptoError::Open));
        assert_eq!(
            open_all(&key, b"SIGNETBK headex", &sealed),
            Err(CryptoError::Open)
        );
        // A flipped bit in any chunk.
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i][0] ^= 1;
            assert_eq!(open_all(&key, header, &bad), Err(CryptoError::Open));
        }
        // Swapped, repeated, dropped (at the end: the new last chunk was not sealed as last).
        let swapped = vec![sealed[1].clone(), sealed[0].clone(), sealed[2].clone()];
        assert_eq!(open_all(&key, header, &swapped), Err(CryptoError::Open));
        let repeated = vec![sealed[0].clone(), sealed[0].clone(), sealed[2].clone()];
        assert_eq!(open_all(&key, header, &repeated), Err(CryptoError::Open));
        assert_eq!(open_all(&key, header, &sealed[..2]), Err(CryptoError::Open));
        assert_eq!(open_all(&key, header, &sealed[1..]), Err(CryptoError::Open));
        // Nothing opens after the last chunk.
        let mut o = BackupOpener::new(&key, header).unwrap();
        for (i, c) in sealed.iter().enumerate() {
            o.open_chunk(c, i == 2).unwrap();
        }
        assert_eq!(o.open_chunk(&sealed[2], true), Err(CryptoError::Open));
    }

    #[test]
    fn keys_parse_print_and_fingerprint() {
        let key = BackupKey::generate().unwrap();
        let again = BackupKey::from_hex(&format!("{}\n", key.to_hex().as_str())).unwrap();
        assert_eq!(key.fingerprint(), again.fingerprint());
        assert_eq!(key.fingerprint().len(), 16);
        assert_ne!(
            key.fingerprint(),
            BackupKey::generate().unwrap().fingerprint()
        );
        assert_eq!(format!("{key:?}"), "BackupKey(***)");
        assert!(BackupKey::from_hex("abcd").is_err());
        // The root key's backup key is its own derivation, stable for one root key.
        let root = RootKey::generate().unwrap();
        assert_eq!(
            root.backup_key().fingerprint(),
            root.backup_key().fingerprint()
        );
        assert_ne!(root.backup_key().to_hex().as_str(), root.to_hex().as_str());
    }
}
