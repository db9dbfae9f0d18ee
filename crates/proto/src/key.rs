//! Ed25519 keys as Signet accepts them: public keys are parsed strictly (canonical, not of small
//! order, no small-order component), private seeds live in zeroizing memory and never print.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, KeypairBytes};
use ed25519_dalek::{SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// Why a key was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// Not standard padded base64 of exactly 32 bytes.
    #[error("public key must be 32 bytes in standard base64")]
    Encoding,
    /// Not a point on the curve, or not its canonical encoding.
    #[error("public key is not a canonical Ed25519 point")]
    NonCanonical,
    /// A point of small order: it would verify signatures on almost any message.
    #[error("public key has small order")]
    Weak,
    /// A "mixed-order" point: not of small order, but with a small-order (torsion) component,
    /// so `[L]A` is not the identity. No key derived from a seed has one, and cofactored and
    /// cofactorless verifiers disagree on signatures under such a key.
    #[error("public key has a small-order component (it is not in the prime-order subgroup)")]
    Torsion,
    /// The PEM was not a PKCS#8 Ed25519 private key.
    #[error("private key must be a PKCS#8 Ed25519 PEM")]
    PrivatePem,
}

/// A validated Ed25519 public key. Only the raw 32 bytes ever reach the server.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PublicKey([u8; 32]);

impl PublicKey {
    /// Parses the registration form: standard padded base64 of the raw 32 bytes.
    pub fn from_base64(s: &str) -> Result<Self, KeyError> {
        let raw = STANDARD.decode(s).map_err(|_| KeyError::Encoding)?;
        let bytes: [u8; 32] = raw.try_into().map_err(|_| KeyError::Encoding)?;
        Self::from_bytes(&bytes)
    }

    /// Validates raw bytes, in this order (`docs/protocol.md` §12): on the curve and canonically
    /// encoded ([`KeyError::NonCanonical`]), not of small order ([`KeyError::Weak`]), and in the
    /// prime-order subgroup, `[L]A = identity` ([`KeyError::Torsion`]).
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, KeyError> {
        let vk = VerifyingKey::from_bytes(bytes).map_err(|_| KeyError::NonCanonical)?;
        // Decompression accepts y >= p; re-compressing exposes such aliases of a valid key.
        if vk.to_edwards().compress().to_bytes() != *bytes {
            return Err(KeyError::NonCanonical);
        }
        if vk.is_weak() {
            return Err(KeyError::Weak);
        }
        // A mixed-order key (a valid key plus a point of order 2, 4 or 8) passes the checks
        // above and `verify_strict`. Every honest key is [a]B, so it lies in the prime-order
        // subgroup; anything else is refused.
        if !vk.to_edwards().is_torsion_free() {
            return Err(KeyError::Torsion);
        }
        Ok(Self(*bytes))
    }

    /// Re-admits a key that [`from_bytes`](Self::from_bytes) accepted when it was registered,
    /// as a store reads it back. The registration checks cost a full scalar multiplication, and
    /// repeating them on every request would double the cost of authentication; skipping them
    /// loses nothing, because only validated keys are ever stored and `verify_strict` still
    /// refuses small-order keys on every request. Never use it for a key from the network.
    pub fn from_registered(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The registration form.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// The decompressed key, ready for `verify_strict`. Fails only for a key re-admitted with
    /// [`from_registered`](Self::from_registered) from a store that was tampered with.
    pub fn verifying_key(&self) -> Result<VerifyingKey, KeyError> {
        VerifyingKey::from_bytes(&self.0).map_err(|_| KeyError::NonCanonical)
    }

    /// The short fingerprint an operator quotes to approve a tokenless request.
    pub fn fingerprint(&self) -> Fingerprint {
        let digest = Sha256::digest(self.0);
        Fingerprint(digest[..10].try_into().unwrap_or([0; 10]))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_base64())
    }
}

/// The first 80 bits of SHA-256 over the raw public key, shown as five groups of four hex
/// digits (`3f2a-91c0-...`). 80 bits keep a second-preimage search out of reach while staying
/// short enough to read over the phone.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint([u8; 10]);

impl Fingerprint {
    /// Parses the displayed form, accepting upper or lower case and optional dashes, since a
    /// human retypes it.
    pub fn parse(s: &str) -> Option<Self> {
        let compact: String = s.chars().filter(|c| *c != '-').collect();
        let raw = hex::decode(compact.to_ascii_lowercase()).ok()?;
        Some(Self(raw.try_into().ok()?))
    }

    /// Constant-time equality.
    pub fn matches(&self, other: &Fingerprint) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = hex::encode(self.0);
        for (i, chunk) in h.as_bytes().chunks(4).enumerate() {
            if i > 0 {
                f.write_str("-")?;
            }
            f.write_str(std::str::from_utf8(chunk).map_err(|_| fmt::Error)?)?;
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

/// An Ed25519 private seed. Zeroized on drop; `Debug` never shows it.
pub struct SecretSeed(Zeroizing<[u8; 32]>);

impl SecretSeed {
    /// A fresh seed from the OS RNG.
    pub fn generate() -> Self {
        let mut seed = Zeroizing::new([0u8; 32]);
        // No key may be made without the OS RNG; there is no safe fallback.
        #[allow(clippy::expect_used)]
        getrandom::fill(seed.as_mut()).expect("the OS random number generator failed");
        Self(seed)
    }

    /// Wraps an existing seed (test vectors, decoded files).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// The signing key. `SigningKey` zeroizes itself on drop.
    pub fn signing_key(&self) -> SigningKey {
        SigningKey::from_bytes(&self.0)
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.signing_key().verifying_key().to_bytes())
    }

    /// PKCS#8 v1 PEM (`-----BEGIN PRIVATE KEY-----`), the form `openssl genpkey` writes and
    /// every SikkerKey SDK reads, with LF line endings on every platform (`LineEnding::default()`
    /// is CRLF on Windows, which would make the file differ from `openssl` and the vectors).
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>, KeyError> {
        let kp = KeypairBytes {
            secret_key: *self.0,
            public_key: None,
        };
        kp.to_pkcs8_pem(LineEnding::LF)
            .map_err(|_| KeyError::PrivatePem)
    }

    /// Reads a PKCS#8 Ed25519 PEM (v1 or v2).
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, KeyError> {
        let sk = SigningKey::from_pkcs8_pem(pem).map_err(|_| KeyError::PrivatePem)?;
        Ok(Self(Zeroizing::new(sk.to_bytes())))
    }

    /// The raw seed, for a caller that must hand it to another key schedule.
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for SecretSeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretSeed(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_small_order_and_non_canonical_keys() {
        // The identity point (small order).
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(PublicKey::from_bytes(&identity), Err(KeyError::Weak));
        // y = p + 1 encodes the same point as y = 1, non-canonically.
        // p = 2^255 - 19 = 0x7fff..ffed (little-endian: ed ff .. ff 7f); p + 1 = ee ff .. ff 7f.
        let mut alias = [0xffu8; 32];
        alias[0] = 0xee;
        alias[31] = 0x7f;
        assert_eq!(PublicKey::from_bytes(&alias), Err(KeyError::NonCanonical));
        // Wrong lengths and encodings.
        assert_eq!(PublicKey::from_base64("AAAA"), Err(KeyError::Encoding));
        let good = SecretSeed::from_bytes([7; 32]).public_key();
        let unpadded = good.to_base64().trim_end_matches('=').to_owned();
        assert_eq!(PublicKey::from_base64(&unpadded), Err(KeyError::Encoding));
        assert_eq!(PublicKey::from_base64(&good.to_base64()), Ok(good));
    }

    #[test]
    fn rejects_mixed_order_keys() {
        use curve25519_dalek::edwards::CompressedEdwardsY;
        let honest = SecretSeed::from_bytes([7; 32]).public_key();
        // A point of order 8 (docs/protocol.md §12 lists all eight small-order points).
        let t8: [u8; 32] =
            hex::decode("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05")
                .unwrap()
                .try_into()
                .unwrap();
        let t8 = CompressedEdwardsY(t8).decompress().unwrap();
        assert_eq!(
            PublicKey::from_bytes(&t8.compress().to_bytes()),
            Err(KeyError::Weak)
        );
        let a = CompressedEdwardsY(*honest.as_bytes()).decompress().unwrap();
        for k in 1..8u8 {
            // A plus a torsion point of order 8, 4 or 2: canonical, not small, still refused.
            let mixed = (a + t8 * curve25519_dalek::Scalar::from(k))
                .compress()
                .to_bytes();
            assert_eq!(
                PublicKey::from_bytes(&mixed),
                Err(KeyError::Torsion),
                "A + [{k}]T8"
            );
            assert_eq!(
                PublicKey::from_base64(&STANDARD.encode(mixed)),
                Err(KeyError::Torsion)
            );
        }
        // y = 3 is a canonical point of order 8L.
        let mut y3 = [0u8; 32];
        y3[0] = 3;
        assert_eq!(PublicKey::from_bytes(&y3), Err(KeyError::Torsion));
        assert_eq!(PublicKey::from_bytes(honest.as_bytes()), Ok(honest));
    }

    #[test]
    fn pem_round_trips_and_debug_is_redacted() {
        let seed = SecretSeed::from_bytes([9; 32]);
        let pem = seed.to_pkcs8_pem().unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        assert!(pem.ends_with("-----END PRIVATE KEY-----\n"));
        assert!(!pem.contains('\r'), "LF line endings only");
        let back = SecretSeed::from_pkcs8_pem(&pem).unwrap();
        assert_eq!(back.expose(), seed.expose());
        assert_eq!(format!("{seed:?}"), "SecretSeed(***)");
    }

    #[test]
    fn fingerprint_parses_what_it_displays() {
        let pk = SecretSeed::from_bytes([3; 32]).public_key();
        let fp = pk.fingerprint();
        let shown = fp.to_string();
        assert_eq!(shown.len(), 24);
        assert!(Fingerprint::parse(&shown).unwrap().matches(&fp));
        assert!(
            Fingerprint::parse(&shown.to_uppercase())
                .unwrap()
                .matches(&fp)
        );
        let other = SecretSeed::from_bytes([4; 32]).public_key().fingerprint();
        assert!(!other.matches(&fp));
    }
}
