//! The root key sealed by an AES-256 key that never leaves a PKCS#11 token (an HSM; tested with
//! SoftHSM2). The module is loaded at run time from the configured path.
//!
//! The file (`root.key.p11`) holds only what is independent of the module:
//!
//! ```json
//! {"format":"signet-pkcs11-root-key","version":1,"token_label":"signet",
//!  "key_label":"signet-root","mechanism":"CKM_AES_GCM","iv":"<12 hex bytes>","tag_bits":128,
//!  "sealed":"<hex: ciphertext || tag>"}
//! ```
//!
//! **Why `CKM_AES_GCM` (`C_Encrypt`/`C_Decrypt`) and not `CKM_AES_KEY_WRAP_PAD`.** The root key
//! is not a token object: Signet needs its 32 bytes in its own memory to derive every other key.
//! `C_UnwrapKey` would create a token object holding the root key, which then has to be
//! extractable and not sensitive for Signet to read it back (`C_GetAttributeValue(CKA_VALUE)`):
//! a weaker object in the token than the one it protects, and two calls where one does. GCM
//! decrypts straight into Signet's memory, and its associated data binds every header field of
//! the file (token and key label, mechanism, IV), so an edited file does not authenticate.
//! SoftHSM2 2.6 supports `CKM_AES_GCM` encryption and decryption with a 12-byte IV and a
//! 128-bit tag for a sensitive, non-extractable AES key (`CKA_ENCRYPT`/`CKA_DECRYPT` true); the
//! IV comes from the OS RNG, and one key seals one root key at a time, so IV reuse is not a
//! concern.

use std::path::Path;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as P11Error, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::object::{Attribute, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use serde::{Deserialize, Serialize};
use signet_crypto::RootKey;
use zeroize::Zeroizing;

use super::{TokenAccess, UnsealError};

/// The `format` field.
pub const FORMAT: &str = "signet-pkcs11-root-key";
/// The only version this build writes and reads.
pub const VERSION: u32 = 1;
const MECHANISM: &str = "CKM_AES_GCM";
const TAG_BITS: u32 = 128;
const IV_LEN: usize = 12;
const LABEL: &str = "signet/v1/pkcs11-root-key";

/// A parsed `root.key.p11`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenSealedKey {
    format: String,
    version: u32,
    /// The label the token was initialised with.
    pub token_label: String,
    /// The `CKA_LABEL` of the AES key in it.
    pub key_label: String,
    mechanism: String,
    iv: String,
    tag_bits: u32,
    sealed: String,
}

impl TokenSealedKey {
    /// Parses the file's text.
    pub fn parse(text: &str) -> Result<Self, String> {
        let file: Self = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if file.format != FORMAT {
            return Err(format!("`format` must be {FORMAT:?}"));
        }
        if file.version != VERSION {
            return Err(format!(
                "version {} is not supported (this build reads version {VERSION})",
                file.version
            ));
        }
        if file.mechanism != MECHANISM || file.tag_bits != TAG_BITS {
            return Err(format!(
                "only {MECHANISM} with a {TAG_BITS}-bit tag is supported"
            ));
        }
        file.iv_bytes()?;
        Ok(file)
    }

    /// The file's text.
    pub fn to_json(&self) -> String {
        // Only strings and numbers: serialising cannot fail.
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }

    fn iv_bytes(&self) -> Result<[u8; IV_LEN], String> {
        hex::decode(&self.iv)
            .ok()
            .and_then(|v| v.try_into().ok())
            .ok_or_else(|| format!("`iv` must be {IV_LEN} hex bytes"))
    }

    /// Every header field, length-prefixed.
    fn aad(&self) -> Vec<u8> {
        let fields: [&[u8]; 8] = [
            LABEL.as_bytes(),
            self.format.as_bytes(),
            &self.version.to_be_bytes(),
            self.token_label.as_bytes(),
            self.key_label.as_bytes(),
            self.mechanism.as_bytes(),
            self.iv.as_bytes(),
            &self.tag_bits.to_be_bytes(),
        ];
        let mut out = Vec::new();
        for f in fields {
            // Labels are at most 32 bytes in PKCS#11; every field is far below 4 GiB.
            out.extend_from_slice(&u32::try_from(f.len()).unwrap_or(u32::MAX).to_be_bytes());
            out.extend_from_slice(f);
        }
        out
    }
}

/// A logged-in session on the token labelled `token_label`. The context is kept beside the
/// session so the module stays loaded while it is used.
pub struct TokenSession {
    session: Session,
    // Dropped after the session (fields drop in order): finalises the module.
    _ctx: Pkcs11,
}

impl TokenSession {
    /// Loads the module, finds the token, and logs in as its user.
    pub fn open(access: &TokenAccess, token_label: &str, rw: bool) -> Result<Self, UnsealError> {
        let pin = super::pin(&access.pin)?;
        let module = access.module.display().to_string();
        let ctx = Pkcs11::new(&access.module).map_err(|e| {
            UnsealError::Token(format!(
                "cannot load the PKCS#11 module {module}: {e}; check pkcs11_module"
            ))
        })?;
        ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
            .map_err(|e| {
                token(
                    &format!("the PKCS#11 module {module} did not initialise"),
                    &e,
                )
            })?;
        let slots = ctx
            .get_slots_with_token()
            .map_err(|e| token("cannot list the PKCS#11 slots", &e))?;
        let mut found = None;
        for slot in slots {
            let info = ctx
                .get_token_info(slot)
                .map_err(|e| token("cannot read a PKCS#11 token's information", &e))?;
            if info.label().trim_end() == token_label {
                found = Some(slot);
                break;
            }
        }
        let Some(slot) = found else {
            return Err(UnsealError::Token(format!(
                "no PKCS#11 token labelled {token_label:?} is present in {module}; refusing to \
                 start (is the token plugged in, or was it deleted?)"
            )));
        };
        let session = if rw {
            ctx.open_rw_session(slot)
        } else {
            ctx.open_ro_session(slot)
        }
        .map_err(|e| token("cannot open a session on the PKCS#11 token", &e))?;
        let auth = AuthPin::from(pin.as_str().to_owned());
        match session.login(UserType::User, Some(&auth)) {
            Ok(()) => {}
            Err(P11Error::Pkcs11(
                RvError::PinIncorrect | RvError::PinInvalid | RvError::PinLenRange,
                _,
            )) => {
                return Err(UnsealError::Token(format!(
                    "the PKCS#11 token {token_label:?} refused the PIN (wrong PIN); refusing to \
                     start"
                )));
            }
            Err(P11Error::Pkcs11(RvError::PinLocked, _)) => {
                return Err(UnsealError::Token(format!(
                    "the PKCS#11 token {token_label:?} has locked its user PIN; ask its security \
                     officer to reset it"
                )));
            }
            Err(e) => return Err(token("cannot log in to the PKCS#11 token", &e)),
        }
        Ok(Self { session, _ctx: ctx })
    }

    /// The session, for tests that probe the token.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The AES key labelled `key_label`; exactly one must exist.
    pub fn find_key(&self, key_label: &str) -> Result<Option<ObjectHandle>, UnsealError> {
        let found = self
            .session
            .find_objects(&[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::AES),
                Attribute::Label(key_label.as_bytes().to_vec()),
            ])
            .map_err(|e| token("cannot search the PKCS#11 token", &e))?;
        match found.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(*one)),
            _ => Err(UnsealError::Token(format!(
                "the PKCS#11 token holds several keys labelled {key_label:?}; give each a \
                 label of its own"
            ))),
        }
    }

    /// Makes an AES-256 key in the token that never leaves it: a token object, sensitive, not
    /// extractable, usable only to encrypt and decrypt. Refuses if the label is taken.
    pub fn generate_key(&self, key_label: &str) -> Result<ObjectHandle, UnsealError> {
        if self.find_key(key_label)?.is_some() {
            return Err(UnsealError::Token(format!(
                "the PKCS#11 token already holds a key labelled {key_label:?}; use it (leave \
                 out --generate-token-key) or pick another --key-label"
            )));
        }
        self.session
            .generate_key(
                &Mechanism::AesKeyGen,
                &[
                    Attribute::Class(ObjectClass::SECRET_KEY),
                    Attribute::KeyType(KeyType::AES),
                    Attribute::ValueLen(32.into()),
                    Attribute::Token(true),
                    Attribute::Private(true),
                    Attribute::Sensitive(true),
                    Attribute::Extractable(false),
                    Attribute::Encrypt(true),
                    Attribute::Decrypt(true),
                    Attribute::Wrap(false),
                    Attribute::Unwrap(false),
                    Attribute::Label(key_label.as_bytes().to_vec()),
                ],
            )
            .map_err(|e| token("the PKCS#11 token could not generate the AES-256 key", &e))
    }

    fn key(&self, key_label: &str, token_label: &str) -> Result<ObjectHandle, UnsealError> {
        self.find_key(key_label)?.ok_or_else(|| {
            UnsealError::Token(format!(
                "the PKCS#11 token {token_label:?} holds no key labelled {key_label:?}; \
                 refusing to start"
            ))
        })
    }

    /// Seals `root` under the token key `key_label`.
    pub fn seal(
        &self,
        token_label: &str,
        key_label: &str,
        root: &RootKey,
    ) -> Result<TokenSealedKey, UnsealError> {
        let key = self.key(key_label, token_label)?;
        let mut iv = [0u8; IV_LEN];
        getrandom::fill(&mut iv).map_err(|e| UnsealError::Seal(format!("OS RNG: {e}")))?;
        let mut file = TokenSealedKey {
            format: FORMAT.to_owned(),
            version: VERSION,
            token_label: token_label.to_owned(),
            key_label: key_label.to_owned(),
            mechanism: MECHANISM.to_owned(),
            iv: hex::encode(iv),
            tag_bits: TAG_BITS,
            sealed: String::new(),
        };
        let aad = file.aad();
        let raw = raw_key(root)?;
        let params = GcmParams::new(&mut iv, &aad, u64::from(TAG_BITS).into())
            .map_err(|e| token("bad AES-GCM parameters", &e))?;
        let sealed = self
            .session
            .encrypt(&Mechanism::AesGcm(params), key, raw.as_ref())
            .map_err(|e| token("the PKCS#11 token could not encrypt the root key", &e))?;
        file.sealed = hex::encode(sealed);
        Ok(file)
    }

    /// Opens `file` with the token key it names.
    pub fn open_key(&self, file: &TokenSealedKey) -> Result<RootKey, UnsealError> {
        let key = self.key(&file.key_label, &file.token_label)?;
        let mut iv = file.iv_bytes().map_err(UnsealError::Token)?;
        let aad = file.aad();
        let sealed = hex::decode(&file.sealed).map_err(|_| {
            UnsealError::Token("`sealed` in the PKCS#11 key file is not hex".into())
        })?;
        let params = GcmParams::new(&mut iv, &aad, u64::from(TAG_BITS).into())
            .map_err(|e| token("bad AES-GCM parameters", &e))?;
        let raw = Zeroizing::new(
            self.session
                .decrypt(&Mechanism::AesGcm(params), key, &sealed)
                .map_err(|_| {
                    UnsealError::Token(format!(
                        "the PKCS#11 token key {:?} did not open the root key: the file was \
                         altered or sealed by another key; refusing to start",
                        file.key_label
                    ))
                })?,
        );
        let text = Zeroizing::new(hex::encode(raw.as_slice()));
        RootKey::from_hex(&text)
            .map_err(|_| UnsealError::Token("the unsealed root key is not 32 bytes".into()))
    }
}

/// The root key's 32 bytes, through its hex form (the crypto crate keeps the bytes private).
fn raw_key(root: &RootKey) -> Result<Zeroizing<Vec<u8>>, UnsealError> {
    hex::decode(root.to_hex().as_str())
        .map(Zeroizing::new)
        .map_err(|_| UnsealError::Seal("the root key's hex form".into()))
}

fn token(what: &str, e: &P11Error) -> UnsealError {
    UnsealError::Token(format!("{what}: {e}"))
}

/// Reads and opens a PKCS#11-sealed key file.
pub fn unseal(text: &str, file: &Path, access: &TokenAccess) -> Result<RootKey, UnsealError> {
    let sealed = TokenSealedKey::parse(text)
        .map_err(|e| UnsealError::Format(file.display().to_string(), e))?;
    TokenSession::open(access, &sealed.token_label, false)?.open_key(&sealed)
}
