//! Identity files: `identity.json` (machine and operator), the PKCS#8 PEM key, the public key's
//! registration form and fingerprints, and the client's loader over the pair on disk.
//!
//! Input: `identity.json` bytes, NUL, `private.pem` bytes, NUL, a public key or fingerprint.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::LazyLock;

use signet_client::identity::{OperatorIdentity, load};
use signet_proto::{Fingerprint, Identity, PublicKey, SecretSeed};

/// A private folder for the loader, one per fuzzing process.
static DIR: LazyLock<PathBuf> = LazyLock::new(|| {
    let dir = std::env::temp_dir().join(format!("signet-fuzz-identity-{}", std::process::id()));
    fs::create_dir_all(&dir).expect("temp dir");
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).expect("temp dir mode");
    dir
});

/// The target: one input.
pub fn check(data: &[u8]) {
    let mut parts = data.splitn(3, |b| *b == 0);
    let json = parts.next().unwrap_or_default();
    let pem = parts.next().unwrap_or_default();
    let key_text = parts.next().unwrap_or_default();

    let json_text = std::str::from_utf8(json).ok();
    let machine = json_text.and_then(|t| Identity::from_json(t).ok());
    if let Some(id) = &machine {
        // What the loader accepts, it writes back in a form it accepts again, unchanged.
        assert_eq!(Identity::from_json(&id.to_json()).as_ref(), Ok(id));
        assert!(Identity::check_url(&id.api_url).is_ok());
    }
    let operator = json_text.and_then(|t| serde_json::from_str::<OperatorIdentity>(t).ok());
    if let Some(op) = &operator {
        let again = serde_json::to_string(op).expect("serialises");
        assert_eq!(
            serde_json::from_str::<OperatorIdentity>(&again)
                .ok()
                .as_ref(),
            Some(op)
        );
    }

    let seed = std::str::from_utf8(pem)
        .ok()
        .and_then(|p| SecretSeed::from_pkcs8_pem(p).ok());
    if let Some(seed) = &seed {
        let pem_again = seed.to_pkcs8_pem().expect("a parsed key writes back");
        let again = SecretSeed::from_pkcs8_pem(&pem_again).expect("what we write, we read");
        assert_eq!(again.expose(), seed.expose());
        let public = seed.public_key();
        assert_eq!(
            PublicKey::from_base64(&public.to_base64()).ok(),
            Some(public)
        );
    }

    if let Ok(text) = std::str::from_utf8(key_text) {
        // Registration form: strict base64, so exactly one spelling per key.
        if let Ok(key) = PublicKey::from_base64(text) {
            assert_eq!(key.to_base64(), text);
            assert!(key.verifying_key().is_ok());
        }
        if let Some(f) = Fingerprint::parse(text) {
            let again = Fingerprint::parse(&f.to_string()).expect("a fingerprint parses back");
            assert!(again.matches(&f));
        }
    }

    // The client's loader on the same pair: it must agree with the pure parsers, and must not
    // be pointed outside its folder by the fuzzer.
    let key_path_is_local = json_text
        .and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok())
        .is_none_or(|v| {
            matches!(
                v.get("privateKeyPath").and_then(|p| p.as_str()),
                None | Some("" | "private.pem")
            )
        });
    if !key_path_is_local {
        return;
    }
    let id_path = DIR.join("identity.json");
    let key_path = DIR.join("private.pem");
    fs::write(&id_path, json).expect("write identity");
    fs::write(&key_path, pem).expect("write key");
    fs::set_permissions(&key_path, fs::Permissions::from_mode(0o600)).expect("key mode");
    let loaded = load::<Identity>(&id_path);
    assert_eq!(
        loaded.is_ok(),
        machine.is_some() && seed.is_some(),
        "{loaded:?}"
    );
    if let (Ok(creds), Some(id), Some(seed)) = (&loaded, &machine, &seed) {
        assert_eq!(creds.identity(), id);
        assert_eq!(creds.seed().expose(), seed.expose());
    }
    if let (Ok(creds), Some(op)) = (load::<OperatorIdentity>(&id_path), &operator) {
        assert_eq!(creds.identity(), op);
    }
}
