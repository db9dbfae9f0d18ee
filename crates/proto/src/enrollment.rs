//! Proof of possession at enrollment: the new key signs the registration that carries it.
//!
//! Enrollment routes are unsigned (the machine has no identity yet), so without a proof anyone
//! holding a token could register a public key whose private half they do not have: someone
//! else's key, to make that key's owner a machine it never asked to be, or to take the key so its
//! owner cannot enroll. The proof is an Ed25519 signature by the submitted key over
//!
//! ```text
//! signet-enroll-v1:<vaultId>:<sha256hex(token)>:<publicKey>:<timestamp>
//! ```
//!
//! - `vaultId` is the vault in the route (`/v1/{vaultId}/enroll/...`), and empty on
//!   `/v1/enroll/bootstrap`, whose token names the vault (the machine does not know it yet);
//! - the token is hashed so the string can be logged and shown; empty when there is no token
//!   (a tokenless request);
//! - `publicKey` is the registration form (standard padded base64 of the raw key);
//! - `timestamp` is decimal Unix seconds, within [`CLOCK_WINDOW_SECS`] of the server's clock.
//!
//! No field can contain `:` (ids are `[A-Za-z0-9_]`, hex, base64, digits), so the string parses
//! back one way only. The proof binds one key to one token and one vault: it cannot be replayed
//! with another token, in another vault, or for another key, and the key's uniqueness stops a
//! replay of the same body.
//!
//! [`CLOCK_WINDOW_SECS`]: crate::CLOCK_WINDOW_SECS

use ed25519_dalek::Signer as _;
use sha2::{Digest, Sha256};

use crate::id::VaultId;
use crate::key::{PublicKey, SecretSeed};
use crate::request::{ProtocolError, SignatureB64, Timestamp, verify};

/// The first field of every proof string; a new format gets a new version.
pub const PROOF_DOMAIN: &str = "signet-enroll-v1";

/// The token as the proof string carries it: lower-case hex SHA-256 of its text.
pub fn token_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The exact string the new key signs.
pub fn proof_message(
    vault: Option<&VaultId>,
    token: Option<&str>,
    public_key: &PublicKey,
    ts: Timestamp,
) -> String {
    let vault = vault.map(VaultId::as_str).unwrap_or_default();
    let token = token.map(token_digest).unwrap_or_default();
    format!(
        "{PROOF_DOMAIN}:{vault}:{token}:{}:{}",
        public_key.to_base64(),
        ts.secs()
    )
}

/// The `proof` and `timestamp` fields of an enrollment body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollmentProof {
    /// When it was made.
    pub timestamp: Timestamp,
    /// The new key's signature over [`proof_message`].
    pub signature: SignatureB64,
}

impl EnrollmentProof {
    /// Reads the two body fields: the signature must be canonical padded base64 of 64 bytes,
    /// and the timestamp follow the `X-Timestamp` grammar (no sign, at most 12 digits).
    pub fn parse(signature: &str, timestamp: i64) -> Result<Self, ProtocolError> {
        Ok(Self {
            timestamp: Timestamp::parse(&timestamp.to_string())?,
            signature: SignatureB64::parse(signature)?,
        })
    }

    /// Proves possession of `seed`'s key for one registration.
    pub fn sign(
        seed: &SecretSeed,
        vault: Option<&VaultId>,
        token: Option<&str>,
        ts: Timestamp,
    ) -> Self {
        let message = proof_message(vault, token, &seed.public_key(), ts);
        Self {
            timestamp: ts,
            signature: SignatureB64::from(seed.signing_key().sign(message.as_bytes())),
        }
    }

    /// Checks the window first (a stale proof is refused whatever it signs), then the signature
    /// with `verify_strict`.
    pub fn verify(
        &self,
        public_key: &PublicKey,
        vault: Option<&VaultId>,
        token: Option<&str>,
        now_secs: i64,
    ) -> Result<(), ProtocolError> {
        self.timestamp.check_window(now_secs)?;
        let vk = public_key
            .verifying_key()
            .map_err(|_| ProtocolError::BadSignature)?;
        verify(
            &vk,
            &proof_message(vault, token, public_key, self.timestamp),
            &self.signature,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed(byte: u8) -> SecretSeed {
        SecretSeed::from_bytes([byte; 32])
    }

    #[test]
    fn the_message_binds_every_field() {
        let key = seed(1).public_key();
        let vault = VaultId::parse("vault_a1b2c3d4e5f6g7h8").unwrap();
        let ts = Timestamp::from_secs(1_711_468_800);
        let m = proof_message(Some(&vault), Some("sge_x"), &key, ts);
        assert_eq!(
            m,
            format!(
                "signet-enroll-v1:vault_a1b2c3d4e5f6g7h8:{}:{}:1711468800",
                hex::encode(Sha256::digest(b"sge_x")),
                key.to_base64()
            )
        );
        assert_eq!(
            proof_message(None, None, &key, ts),
            format!("signet-enroll-v1:::{}:1711468800", key.to_base64())
        );
    }

    #[test]
    fn a_proof_verifies_only_for_its_key_token_vault_and_window() {
        let vault = VaultId::parse("vault_a1b2c3d4e5f6g7h8").unwrap();
        let other = VaultId::parse("vault_zzzzzzzzzzzzzzzz").unwrap();
        let now = 1_711_468_800;
        let p = EnrollmentProof::sign(&seed(1), Some(&vault), Some("t"), Timestamp::from_secs(now));
        let key = seed(1).public_key();
        assert_eq!(p.verify(&key, Some(&vault), Some("t"), now + 300), Ok(()));
        let refused = [
            p.verify(&seed(2).public_key(), Some(&vault), Some("t"), now),
            p.verify(&key, Some(&other), Some("t"), now),
            p.verify(&key, None, Some("t"), now),
            p.verify(&key, Some(&vault), Some("u"), now),
            p.verify(&key, Some(&vault), None, now),
        ];
        for r in refused {
            assert_eq!(r, Err(ProtocolError::BadSignature));
        }
        assert_eq!(
            p.verify(&key, Some(&vault), Some("t"), now + 301),
            Err(ProtocolError::Window)
        );
    }

    #[test]
    fn parsing_is_strict() {
        let p = EnrollmentProof::sign(&seed(1), None, None, Timestamp::from_secs(5));
        let text = p.signature.to_base64();
        assert_eq!(EnrollmentProof::parse(&text, 5), Ok(p));
        assert_eq!(
            EnrollmentProof::parse(text.trim_end_matches('='), 5),
            Err(ProtocolError::Signature)
        );
        assert_eq!(
            EnrollmentProof::parse(&text, -1),
            Err(ProtocolError::Timestamp)
        );
        assert_eq!(
            EnrollmentProof::parse(&text, 1_000_000_000_000),
            Err(ProtocolError::Timestamp)
        );
    }
}
