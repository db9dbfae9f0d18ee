//! Envelope opening: stored blobs and AAD chosen by an attacker who can write the database,
//! opened under fixed keys. Every open of something we did not seal must be an error, never a
//! panic; what we sealed opens to the same bytes, and one changed bit or AAD field refuses it.

use std::sync::LazyLock;

use signet_crypto::{CryptoError, ProjectKey, RootKey, SealedValue, SecretAad, WrappedProjectKey};

static ROOT: LazyLock<RootKey> = LazyLock::new(|| {
    RootKey::from_hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
        .expect("a literal root key")
});
/// Project keys are only ever random; one per fuzzing process is as fixed as they get.
static PROJECT: LazyLock<ProjectKey> =
    LazyLock::new(|| ProjectKey::generate().expect("OS randomness"));

#[derive(Debug, arbitrary::Arbitrary)]
pub struct Input {
    vault: String,
    project: String,
    secret: String,
    version: u32,
    wrapped_dek: Vec<u8>,
    ciphertext: Vec<u8>,
    plaintext: Vec<u8>,
    flip_at: u16,
    flip_mask: u8,
}

/// The target: one decoded input.
pub fn check(input: Input) {
    let aad = SecretAad {
        vault: &input.vault,
        project: &input.project,
        secret: &input.secret,
        version: input.version,
    };

    // Arbitrary blobs: refused, with the one coarse error.
    let foreign = SealedValue {
        wrapped_dek: input.wrapped_dek.clone(),
        ciphertext: input.ciphertext.clone(),
    };
    assert_eq!(
        PROJECT.open_value(&aad, &foreign).err(),
        Some(CryptoError::Open)
    );
    let wrapped = WrappedProjectKey(input.wrapped_dek.clone());
    assert!(matches!(
        ROOT.unwrap_project_key(&input.vault, &input.project, &wrapped),
        Err(CryptoError::Open)
    ));
    assert_eq!(
        ROOT.open_totp_seed(&input.vault, &input.secret, &input.ciphertext)
            .err(),
        Some(CryptoError::Open)
    );

    // What we seal opens to the same bytes, under the same AAD only.
    let sealed = PROJECT.seal_value(&aad, &input.plaintext).expect("seal");
    let opened = PROJECT
        .open_value(&aad, &sealed)
        .expect("what we sealed opens");
    assert_eq!(opened.as_slice(), input.plaintext.as_slice());
    let next = SecretAad {
        version: input.version.wrapping_add(1),
        ..aad
    };
    assert!(PROJECT.open_value(&next, &sealed).is_err());

    // One flipped bit anywhere in either blob is refused.
    if input.flip_mask != 0 {
        let mut tampered = sealed.clone();
        let total = tampered.wrapped_dek.len() + tampered.ciphertext.len();
        let at = usize::from(input.flip_at) % total;
        if at < tampered.wrapped_dek.len() {
            tampered.wrapped_dek[at] ^= input.flip_mask;
        } else {
            tampered.ciphertext[at - tampered.wrapped_dek.len()] ^= input.flip_mask;
        }
        assert!(PROJECT.open_value(&aad, &tampered).is_err());
        // Truncated or extended blobs too.
        let mut short = sealed.clone();
        short.ciphertext.truncate(at % short.ciphertext.len());
        assert!(PROJECT.open_value(&aad, &short).is_err());
    }

    // The project key round-trips through the root key for its own vault and project only.
    let wrapped = ROOT
        .wrap_project_key(&input.vault, &input.project, &PROJECT)
        .expect("wrap");
    let unwrapped = ROOT
        .unwrap_project_key(&input.vault, &input.project, &wrapped)
        .expect("what we wrapped unwraps");
    assert_eq!(
        unwrapped
            .open_value(&aad, &sealed)
            .as_deref()
            .map(Vec::as_slice),
        Ok(input.plaintext.as_slice())
    );
    let elsewhere = format!("{}x", input.project);
    assert!(
        ROOT.unwrap_project_key(&input.vault, &elsewhere, &wrapped)
            .is_err()
    );
}
