//! The root key and what is derived from it.

use std::fmt;

use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::aad::{ShareAad, encode};
use crate::envelope::{ProjectKey, SealedValue, open, seal};
use crate::{CryptoError, random_key};

const INFO_PROJECT_KEK: &[u8] = b"signet/v1/project-kek";
const INFO_KEY_CHECK: &[u8] = b"signet/v1/key-check";
const INFO_AUDIT: &[u8] = b"signet/v1/audit-chain";
const LABEL_PROJECT_KEY: &str = "signet/v1/project-key";
const INFO_TOTP_KEK: &[u8] = b"signet/v1/totp-kek";
const LABEL_TOTP_SEED: &str = "signet/v1/totp-seed";
const LABEL_TOTP_TICKET: &str = "signet/v1/totp-enrollment-ticket";
const INFO_SHARE_KEK: &[u8] = b"signet/v1/share-kek";
const LABEL_SHARE_DEK: &str = "signet/v1/share-data-key";
const LABEL_SHARE_VALUE: &str = "signet/v1/share-value";
const INFO_WEBHOOK_SIGNING: &[u8] = b"signet/v1/webhook-signing-seed";
const INFO_AUDIT_ARCHIVE_SIGNING: &[u8] = b"signet/v1/audit-archive-signing-seed";
const INFO_WEBHOOK_KEK: &[u8] = b"signet/v1/webhook-kek";
const LABEL_WEBHOOK_SECRET: &str = "signet/v1/webhook-hmac-secret";
const INFO_KEYRING_KEK: &[u8] = b"signet/v1/keyring-kek";
const LABEL_ROOT_GENERATION: &str = "signet/v1/root-generation";

/// A root key: the installation's unseal key (the root key file, generation 0), or one of the
/// keyring's later generations, which the unseal key seals into the store
/// ([`RootKey::seal_generation`]). Only derived keys ever touch data. Integrity keys (audit
/// chain, key check, webhook and archive signing) are only ever derived from the unseal key.
pub struct RootKey {
    key: Zeroizing<[u8; 32]>,
    /// 0 for the unseal key. A later generation's number is bound into the AAD of everything
    /// it wraps, so a blob moved to a row naming another generation fails to open.
    generation: u32,
}

impl RootKey {
    /// A fresh random root key (generation 0: an unseal key).
    pub fn generate() -> Result<Self, CryptoError> {
        random_key().map(|key| Self { key, generation: 0 })
    }

    /// A fresh random key for keyring generation `generation` (at least 1).
    pub fn generate_generation(generation: u32) -> Result<Self, CryptoError> {
        if generation == 0 {
            return Err(CryptoError::KeyFormat);
        }
        random_key().map(|key| Self { key, generation })
    }

    /// Which keyring generation this key is: 0 for the unseal key.
    pub fn generation(&self) -> u32 {
        self.generation
    }

    /// The same key and generation, as a second value (the keyring keeps the unseal key both
    /// as itself and as generation 0).
    pub fn duplicate(&self) -> Self {
        Self {
            key: Zeroizing::new(*self.key),
            generation: self.generation,
        }
    }

    /// Seals keyring generation `key` (at least 1) for the store, under a KEK derived from this
    /// unseal key and bound to the vault and the generation's number.
    pub fn seal_generation(&self, vault: &str, key: &RootKey) -> Result<Vec<u8>, CryptoError> {
        if key.generation == 0 {
            return Err(CryptoError::KeyFormat);
        }
        let kek = self.derive(INFO_KEYRING_KEK);
        let number = key.generation.to_string();
        seal(
            &kek,
            &encode(LABEL_ROOT_GENERATION, &[vault, &number], None),
            key.key.as_ref(),
        )
    }

    /// Opens what [`Self::seal_generation`] sealed for generation `generation`.
    pub fn open_generation(
        &self,
        vault: &str,
        generation: u32,
        sealed: &[u8],
    ) -> Result<RootKey, CryptoError> {
        if generation == 0 {
            return Err(CryptoError::Open);
        }
        let kek = self.derive(INFO_KEYRING_KEK);
        let number = generation.to_string();
        let raw = open(
            &kek,
            &encode(LABEL_ROOT_GENERATION, &[vault, &number], None),
            sealed,
        )?;
        let bytes: [u8; 32] = raw.as_slice().try_into().map_err(|_| CryptoError::Open)?;
        Ok(Self {
            key: Zeroizing::new(bytes),
            generation,
        })
    }

    /// The AAD of a wrapped project key: generation 0 keeps the original layout, so data
    /// written before keyrings existed reads unchanged.
    fn project_key_aad(&self, vault: &str, project: &str) -> Vec<u8> {
        if self.generation == 0 {
            encode(LABEL_PROJECT_KEY, &[vault, project], None)
        } else {
            encode(LABEL_PROJECT_KEY, &[vault, project], Some(self.generation))
        }
    }

    /// Parses the file form: 64 hex digits, surrounding whitespace allowed.
    pub fn from_hex(text: &str) -> Result<Self, CryptoError> {
        let raw = Zeroizing::new(hex::decode(text.trim()).map_err(|_| CryptoError::KeyFormat)?);
        let bytes: [u8; 32] = raw
            .as_slice()
            .try_into()
            .map_err(|_| CryptoError::KeyFormat)?;
        Ok(Self {
            key: Zeroizing::new(bytes),
            generation: 0,
        })
    }

    /// From raw bytes (an unsealed key file): an unseal key, generation 0.
    pub(crate) fn from_bytes(bytes: [u8; 32]) -> Self {
        Self {
            key: Zeroizing::new(bytes),
            generation: 0,
        }
    }

    /// The raw bytes, for sealing.
    pub(crate) fn as_bytes(&self) -> &[u8; 32] {
        &self.key
    }

    /// The file form.
    pub fn to_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(hex::encode(self.key.as_ref()))
    }

    fn derive(&self, info: &[u8]) -> Zeroizing<[u8; 32]> {
        let hk = Hkdf::<Sha256>::new(None, self.key.as_ref());
        let mut out = Zeroizing::new([0u8; 32]);
        // 32 bytes is far below HKDF-SHA256's 8160-byte limit, so expand cannot fail.
        let _ = hk.expand(info, out.as_mut());
        out
    }

    /// A value that identifies this key without revealing it. Stored beside the data so that a
    /// wrong key is detected at start, not at the first failed decryption.
    pub fn key_check(&self) -> KeyCheck {
        KeyCheck(*self.derive(INFO_KEY_CHECK))
    }

    /// The MAC key that chains the audit log.
    pub fn audit_key(&self) -> AuditKey {
        AuditKey(self.derive(INFO_AUDIT))
    }

    /// Wraps a project key for storage, bound to its vault and project.
    pub fn wrap_project_key(
        &self,
        vault: &str,
        project: &str,
        key: &ProjectKey,
    ) -> Result<WrappedProjectKey, CryptoError> {
        let kek = self.derive(INFO_PROJECT_KEK);
        seal(&kek, &self.project_key_aad(vault, project), key.0.as_ref()).map(WrappedProjectKey)
    }

    /// Unwraps a stored project key.
    pub fn unwrap_project_key(
        &self,
        vault: &str,
        project: &str,
        wrapped: &WrappedProjectKey,
    ) -> Result<ProjectKey, CryptoError> {
        let kek = self.derive(INFO_PROJECT_KEK);
        let raw = open(&kek, &self.project_key_aad(vault, project), &wrapped.0)?;
        let bytes: [u8; 32] = raw.as_slice().try_into().map_err(|_| CryptoError::Open)?;
        Ok(ProjectKey(Zeroizing::new(bytes)))
    }

    /// Seals a user's TOTP seed for storage, bound to its vault and user, under a key of its
    /// own: a leaked database alone yields no second factor.
    pub fn seal_totp_seed(
        &self,
        vault: &str,
        user: &str,
        seed: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let kek = self.derive(INFO_TOTP_KEK);
        seal(&kek, &encode(LABEL_TOTP_SEED, &[vault, user], None), seed)
    }

    /// Opens a stored TOTP seed.
    pub fn open_totp_seed(
        &self,
        vault: &str,
        user: &str,
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let kek = self.derive(INFO_TOTP_KEK);
        open(&kek, &encode(LABEL_TOTP_SEED, &[vault, user], None), sealed)
    }

    /// Seals an enrollment ticket's expiry (Unix ms) for one user's pending TOTP seed: whoever
    /// holds the ticket just created the account, and may confirm its seed until then. Sealed
    /// under the TOTP key with a label of its own, so a ticket never opens as a seed or back.
    pub fn seal_totp_ticket(
        &self,
        vault: &str,
        user: &str,
        expires_ms: i64,
    ) -> Result<Vec<u8>, CryptoError> {
        let kek = self.derive(INFO_TOTP_KEK);
        seal(
            &kek,
            &encode(LABEL_TOTP_TICKET, &[vault, user], None),
            &expires_ms.to_be_bytes(),
        )
    }

    /// Opens an enrollment ticket: its expiry, if it was sealed for this vault and user.
    pub fn open_totp_ticket(
        &self,
        vault: &str,
        user: &str,
        sealed: &[u8],
    ) -> Result<i64, CryptoError> {
        let kek = self.derive(INFO_TOTP_KEK);
        let raw = open(
            &kek,
            &encode(LABEL_TOTP_TICKET, &[vault, user], None),
            sealed,
        )?;
        let bytes: [u8; 8] = raw.as_slice().try_into().map_err(|_| CryptoError::Open)?;
        Ok(i64::from_be_bytes(bytes))
    }
}

impl RootKey {
    /// Seals a one-time share's value like a secret version: a fresh data key seals the value
    /// and a key derived for shares alone seals the data key, both bound to the vault and the
    /// share, so a sealed share moved to another row (or read as a secret) fails to open.
    pub fn seal_share(
        &self,
        aad: &ShareAad<'_>,
        plaintext: &[u8],
    ) -> Result<SealedValue, CryptoError> {
        let dek = random_key()?;
        let ciphertext = seal(&dek, &aad.bytes(LABEL_SHARE_VALUE), plaintext)?;
        let kek = self.derive(INFO_SHARE_KEK);
        let wrapped_dek = seal(&kek, &aad.bytes(LABEL_SHARE_DEK), dek.as_ref())?;
        Ok(SealedValue {
            wrapped_dek,
            ciphertext,
        })
    }

    /// Opens what [`Self::seal_share`] produced.
    pub fn open_share(
        &self,
        aad: &ShareAad<'_>,
        sealed: &SealedValue,
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let kek = self.derive(INFO_SHARE_KEK);
        let dek = open(&kek, &aad.bytes(LABEL_SHARE_DEK), &sealed.wrapped_dek)?;
        let dek: &[u8; 32] = dek.as_slice().try_into().map_err(|_| CryptoError::Open)?;
        open(dek, &aad.bytes(LABEL_SHARE_VALUE), &sealed.ciphertext)
    }
}

impl RootKey {
    /// The Ed25519 seed of the vault's webhook signing key. Derived, not stored: every replica
    /// holding the root key signs with the same key, nothing new has to be backed up, and the
    /// key changes exactly when the root key does (`docs/protocol.md`, "Webhook signatures").
    pub fn webhook_signing_seed(&self) -> Zeroizing<[u8; 32]> {
        self.derive(INFO_WEBHOOK_SIGNING)
    }

    /// The seed of the vault's Ed25519 audit archive key, which signs each archived segment's
    /// checkpoint (`docs/protocol.md` §21). Derived like the webhook key, under its own label,
    /// so the two never sign for each other, and nothing new has to be backed up.
    pub fn audit_archive_seed(&self) -> Zeroizing<[u8; 32]> {
        self.derive(INFO_AUDIT_ARCHIVE_SIGNING)
    }

    /// Seals a webhook's HMAC secret for storage, bound to its vault and webhook.
    pub fn seal_webhook_secret(
        &self,
        vault: &str,
        webhook: &str,
        secret: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let kek = self.derive(INFO_WEBHOOK_KEK);
        seal(
            &kek,
            &encode(LABEL_WEBHOOK_SECRET, &[vault, webhook], None),
            secret,
        )
    }

    /// Opens a stored webhook HMAC secret.
    pub fn open_webhook_secret(
        &self,
        vault: &str,
        webhook: &str,
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let kek = self.derive(INFO_WEBHOOK_KEK);
        open(
            &kek,
            &encode(LABEL_WEBHOOK_SECRET, &[vault, webhook], None),
            sealed,
        )
    }
}

impl fmt::Debug for RootKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RootKey(generation {}, ***)", self.generation)
    }
}

/// Backups (`signet backup` without `--key-file`).
const INFO_BACKUP: &[u8] = b"signet/v1/backup-key";

impl RootKey {
    /// The key that encrypts backups taken without a backup key file: its own HKDF label, so a
    /// backup file's key opens nothing else in the installation.
    pub fn backup_key(&self) -> crate::BackupKey {
        crate::BackupKey::from_bytes(self.derive(INFO_BACKUP))
    }
}

/// A stored project key, sealed under the root key's project-KEK.
#[derive(Clone, PartialEq, Eq)]
pub struct WrappedProjectKey(pub Vec<u8>);

impl fmt::Debug for WrappedProjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WrappedProjectKey({} bytes)", self.0.len())
    }
}

/// Identifies a root key; see [`RootKey::key_check`].
#[derive(Clone, Copy)]
pub struct KeyCheck(pub [u8; 32]);

impl KeyCheck {
    /// Constant-time comparison with a stored value.
    pub fn matches(&self, stored: &[u8]) -> bool {
        stored.len() == 32 && bool::from(self.0.ct_eq(stored))
    }
}

impl fmt::Debug for KeyCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyCheck(..)")
    }
}

/// Keys the audit hash chain: without it, nobody can rewrite the log and recompute the chain.
pub struct AuditKey(Zeroizing<[u8; 32]>);

impl AuditKey {
    /// `HMAC-SHA256(key, prev_hash || record)`: the link after `prev_hash`.
    pub fn link(&self, prev_hash: &[u8; 32], record: &[u8]) -> [u8; 32] {
        // HMAC takes keys of any length, so construction cannot fail.
        let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(self.0.as_ref()) else {
            return [0; 32];
        };
        mac.update(prev_hash);
        mac.update(record);
        mac.finalize().into_bytes().into()
    }

    /// Constant-time check of a stored link.
    pub fn check(&self, prev_hash: &[u8; 32], record: &[u8], stored: &[u8]) -> bool {
        stored.len() == 32 && bool::from(self.link(prev_hash, record).ct_eq(stored))
    }
}

impl fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuditKey(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SecretAad;

    #[test]
    fn project_keys_unwrap_only_with_the_same_root_and_ids() {
        let root = RootKey::generate().unwrap();
        let pk = ProjectKey::generate().unwrap();
        let w = root.wrap_project_key("vault_a", "proj_a", &pk).unwrap();
        let back = root.unwrap_project_key("vault_a", "proj_a", &w).unwrap();
        let aad = SecretAad {
            vault: "vault_a",
            project: "proj_a",
            secret: "sk_a",
            version: 1,
        };
        let sealed = pk.seal_value(&aad, b"v").unwrap();
        assert_eq!(back.open_value(&aad, &sealed).unwrap().as_slice(), b"v");
        assert!(root.unwrap_project_key("vault_a", "proj_b", &w).is_err());
        let other = RootKey::generate().unwrap();
        assert!(other.unwrap_project_key("vault_a", "proj_a", &w).is_err());
    }

    #[test]
    fn shares_open_only_for_their_vault_share_and_root() {
        let root = RootKey::generate().unwrap();
        let aad = ShareAad {
            vault: "vault_a",
            share: "shr_a",
        };
        let sealed = root.seal_share(&aad, b"hunter2").unwrap();
        assert_eq!(
            root.open_share(&aad, &sealed).unwrap().as_slice(),
            b"hunter2"
        );
        assert!(!sealed.ciphertext.windows(7).any(|w| w == b"hunter2"));
        let moved = ShareAad {
            share: "shr_b",
            ..aad
        };
        assert_eq!(root.open_share(&moved, &sealed), Err(CryptoError::Open));
        let other_vault = ShareAad {
            vault: "vault_b",
            ..aad
        };
        assert_eq!(
            root.open_share(&other_vault, &sealed),
            Err(CryptoError::Open)
        );
        let other = RootKey::generate().unwrap();
        assert_eq!(other.open_share(&aad, &sealed), Err(CryptoError::Open));
        // A share's data key is wrapped under its own derived key, never a project's.
        let pk = ProjectKey::generate().unwrap();
        let as_secret = SecretAad {
            vault: "vault_a",
            project: "shr_a",
            secret: "",
            version: 0,
        };
        assert!(pk.open_value(&as_secret, &sealed).is_err());
    }

    #[test]
    fn totp_seeds_open_only_for_their_user_and_root() {
        let root = RootKey::generate().unwrap();
        let sealed = root.seal_totp_seed("vault_a", "u1", &[7; 20]).unwrap();
        let back = root.open_totp_seed("vault_a", "u1", &sealed).unwrap();
        assert_eq!(back.as_slice(), &[7; 20]);
        assert!(root.open_totp_seed("vault_a", "u2", &sealed).is_err());
        let other = RootKey::generate().unwrap();
        assert!(other.open_totp_seed("vault_a", "u1", &sealed).is_err());
    }

    #[test]
    fn totp_tickets_open_only_for_their_user_and_never_as_seeds() {
        let root = RootKey::generate().unwrap();
        let ticket = root.seal_totp_ticket("vault_a", "u1", 1_234).unwrap();
        assert_eq!(
            root.open_totp_ticket("vault_a", "u1", &ticket).unwrap(),
            1_234
        );
        assert!(root.open_totp_ticket("vault_a", "u2", &ticket).is_err());
        assert!(root.open_totp_seed("vault_a", "u1", &ticket).is_err());
        let seed = root.seal_totp_seed("vault_a", "u1", &[7; 8]).unwrap();
        assert!(root.open_totp_ticket("vault_a", "u1", &seed).is_err());
    }

    #[test]
    fn webhook_secrets_open_only_for_their_webhook_and_the_seed_is_per_root() {
        let root = RootKey::generate().unwrap();
        let sealed = root
            .seal_webhook_secret("vault_a", "wh_a", b"whsec_x")
            .unwrap();
        let back = root
            .open_webhook_secret("vault_a", "wh_a", &sealed)
            .unwrap();
        assert_eq!(back.as_slice(), b"whsec_x");
        assert!(
            root.open_webhook_secret("vault_a", "wh_b", &sealed)
                .is_err()
        );
        let again = RootKey::from_hex(&root.to_hex()).unwrap();
        assert_eq!(*root.webhook_signing_seed(), *again.webhook_signing_seed());
        let other = RootKey::generate().unwrap();
        assert_ne!(*root.webhook_signing_seed(), *other.webhook_signing_seed());
    }

    #[test]
    fn generations_seal_under_the_unseal_key_and_bind_their_number() {
        let unseal = RootKey::generate().unwrap();
        let g1 = RootKey::generate_generation(1).unwrap();
        let sealed = unseal.seal_generation("vault_a", &g1).unwrap();
        let back = unseal.open_generation("vault_a", 1, &sealed).unwrap();
        assert_eq!(back.generation(), 1);
        assert_eq!(*back.key, *g1.key);
        assert!(unseal.open_generation("vault_a", 2, &sealed).is_err());
        assert!(unseal.open_generation("vault_b", 1, &sealed).is_err());
        assert!(
            RootKey::generate()
                .unwrap()
                .open_generation("vault_a", 1, &sealed)
                .is_err()
        );
        assert!(unseal.seal_generation("vault_a", &unseal).is_err());
        assert!(RootKey::generate_generation(0).is_err());

        // A project key wrapped under generation 1 opens only under generation 1: the same
        // bytes presented as another generation fail, because the number is in the AAD.
        let pk = ProjectKey::generate().unwrap();
        let w = g1.wrap_project_key("vault_a", "proj_a", &pk).unwrap();
        assert!(back.unwrap_project_key("vault_a", "proj_a", &w).is_ok());
        let renumbered = RootKey {
            key: Zeroizing::new(*g1.key),
            generation: 2,
        };
        assert!(
            renumbered
                .unwrap_project_key("vault_a", "proj_a", &w)
                .is_err()
        );
        let as_zero = RootKey {
            key: Zeroizing::new(*g1.key),
            generation: 0,
        };
        assert!(as_zero.unwrap_project_key("vault_a", "proj_a", &w).is_err());
        assert!(unseal.unwrap_project_key("vault_a", "proj_a", &w).is_err());
    }

    #[test]
    fn key_check_tells_keys_apart() {
        let a = RootKey::generate().unwrap();
        let b = RootKey::from_hex(&a.to_hex()).unwrap();
        assert!(a.key_check().matches(&b.key_check().0));
        let c = RootKey::generate().unwrap();
        assert!(!a.key_check().matches(&c.key_check().0));
        assert!(RootKey::from_hex("abcd").is_err());
        assert_eq!(format!("{a:?}"), "RootKey(generation 0, ***)");
    }

    #[test]
    fn audit_links_depend_on_key_prev_and_record() {
        let root = RootKey::generate().unwrap();
        let k = root.audit_key();
        let l = k.link(&[0; 32], b"r1");
        assert!(k.check(&[0; 32], b"r1", &l));
        assert!(!k.check(&[1; 32], b"r1", &l));
        assert!(!k.check(&[0; 32], b"r2", &l));
        assert!(
            !RootKey::generate()
                .unwrap()
                .audit_key()
                .check(&[0; 32], b"r1", &l)
        );
    }
}
