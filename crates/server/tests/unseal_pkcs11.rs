//! The PKCS#11 unseal against a real SoftHSM2 token, in process: the generated key never
//! leaves the token (its value is refused to `C_GetAttributeValue` and to `C_WrapKey`), a
//! sealed root key opens only with that key and the right PIN, and an edited file fails.
//!
//! SoftHSM2 reads `SOFTHSM2_CONF` when the module initialises, and a test cannot set its own
//! environment without `unsafe`; so each test runs its body in a child copy of this test binary
//! started with a fresh token's configuration.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use cryptoki::mechanism::Mechanism;
use cryptoki::object::{AttributeInfo, AttributeType};
use signet_crypto::RootKey;
use signet_server::unseal::pkcs11::{TokenSealedKey, TokenSession};
use signet_server::unseal::{PinSource, TokenAccess, UnsealError};

const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
const CHILD: &str = "SIGNET_UNSEAL_PKCS11_CHILD";
const TOKEN: &str = "unseal-test";

/// Runs `test` (this binary's test of that name) in a child with a fresh token, or runs `body`
/// when this is the child.
fn in_fresh_token(test: &str, body: impl FnOnce()) {
    if std::env::var_os(CHILD).is_some() {
        body();
        return;
    }
    if !Path::new(MODULE).exists() {
        assert!(
            std::env::var_os("SIGNET_REQUIRE_SOFTHSM").is_none(),
            "SIGNET_REQUIRE_SOFTHSM is set but {MODULE} is missing (apt-get install softhsm2)"
        );
        eprintln!("!!! {MODULE} missing: {test} was SKIPPED");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::create_dir(&tokens).unwrap();
    let conf = dir.path().join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            tokens.display()
        ),
    )
    .unwrap();
    let init = Command::new("softhsm2-util")
        .args(["--init-token", "--free", "--label", TOKEN])
        .args(["--so-pin", "so-secret", "--pin", "1234"])
        .env("SOFTHSM2_CONF", &conf)
        .output()
        .expect("softhsm2-util");
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    let out = Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads", "1"])
        .env(CHILD, "1")
        .env("SOFTHSM2_CONF", &conf)
        .env("TOKEN_PIN", "1234")
        .env("WRONG_PIN", "0000")
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "child {test} failed:\n{said}");
    assert!(said.contains("1 passed"), "the child ran no test:\n{said}");
}

fn access(pin_var: &str) -> TokenAccess {
    TokenAccess {
        module: PathBuf::from(MODULE),
        pin: PinSource::Env(pin_var.into()),
    }
}

#[test]
fn the_token_key_never_leaves_the_token() {
    in_fresh_token("the_token_key_never_leaves_the_token", || {
        let s = TokenSession::open(&access("TOKEN_PIN"), TOKEN, true).unwrap();
        let key = s.generate_key("root-wrap").unwrap();
        let session = s.session();
        let info = session
            .get_attribute_info(key, &[AttributeType::Value])
            .unwrap();
        assert!(
            matches!(info.as_slice(), [AttributeInfo::Sensitive]),
            "CKA_VALUE is not reported sensitive: {info:?}"
        );
        let got = session
            .get_attributes(key, &[AttributeType::Value])
            .unwrap();
        assert!(
            got.is_empty(),
            "the value was returned: {} attributes",
            got.len()
        );
        // Not even wrapped under another key of the token.
        let other = s.generate_key("other").unwrap();
        assert!(
            session
                .wrap_key(&Mechanism::AesKeyWrapPad, other, key)
                .is_err()
        );
        // A label is taken once.
        assert!(matches!(
            s.generate_key("root-wrap"),
            Err(UnsealError::Token(m)) if m.contains("already holds")
        ));
    });
}

#[test]
fn a_sealed_root_key_opens_only_with_its_token_key_and_pin() {
    in_fresh_token(
        "a_sealed_root_key_opens_only_with_its_token_key_and_pin",
        || {
            let root = RootKey::generate().unwrap();
            let text = {
                let s = TokenSession::open(&access("TOKEN_PIN"), TOKEN, true).unwrap();
                s.generate_key("root-wrap").unwrap();
                s.generate_key("decoy").unwrap();
                s.seal(TOKEN, "root-wrap", &root).unwrap().to_json()
            };
            assert!(!text.contains(root.to_hex().as_str()));
            let file = Path::new("root.key.p11");
            let back =
                signet_server::unseal::pkcs11::unseal(&text, file, &access("TOKEN_PIN")).unwrap();
            assert!(back.key_check().matches(&root.key_check().0));

            // The wrong PIN.
            let Err(e) = signet_server::unseal::pkcs11::unseal(&text, file, &access("WRONG_PIN"))
            else {
                panic!("a wrong PIN opened the key");
            };
            assert!(e.to_string().contains("wrong PIN"), "{e}");
            assert!(!e.to_string().contains("0000"));

            // Another key of the token named in the file: its label is in the associated data, and
            // the other key cannot open the ciphertext anyway.
            let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
            v["key_label"] = "decoy".into();
            let moved = v.to_string();
            assert!(
                signet_server::unseal::pkcs11::unseal(&moved, file, &access("TOKEN_PIN")).is_err()
            );
            // An edited IV or ciphertext fails to authenticate.
            let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
            v["iv"] = "00".repeat(12).into();
            assert!(
                signet_server::unseal::pkcs11::unseal(&v.to_string(), file, &access("TOKEN_PIN"))
                    .is_err()
            );
            // A label nobody has.
            let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
            v["token_label"] = "elsewhere".into();
            let Err(e) =
                signet_server::unseal::pkcs11::unseal(&v.to_string(), file, &access("TOKEN_PIN"))
            else {
                panic!("opened on a missing token");
            };
            assert!(e.to_string().contains("no PKCS#11 token labelled"), "{e}");
            // A version from the future.
            let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
            v["version"] = 2.into();
            assert!(TokenSealedKey::parse(&v.to_string()).is_err());
        },
    );
}
