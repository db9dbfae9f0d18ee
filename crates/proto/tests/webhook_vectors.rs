//! The webhook signature vectors (`testdata/vectors/webhook/`): each file's request is verified
//! with the file's JWKS at its clock and must give its outcome; the signature base and digest
//! it records are the ones this crate builds; and the signer's seed reproduces the signature.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly by design.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;
use signet_proto::webhook::{
    COVERED, ReceivedDelivery, VerifyError, WebhookKey, content_digest, keys_from_jwks, verify,
};

fn reason(e: &VerifyError) -> &'static str {
    match e {
        VerifyError::MissingHeader(_) => "missing_header",
        VerifyError::Malformed(_) => "malformed",
        VerifyError::DigestMismatch => "digest_mismatch",
        VerifyError::NotCovered(_) => "not_covered",
        VerifyError::WrongProfile => "wrong_profile",
        VerifyError::UnknownKey(_) => "unknown_key",
        VerifyError::TooOld(..) => "too_old",
        VerifyError::FromFuture => "from_future",
        VerifyError::BadSignature => "bad_signature",
    }
}

#[test]
fn every_webhook_vector_gives_its_outcome() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/vectors/webhook");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("vector directory") {
        let path = entry.unwrap().path();
        let case: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let req = &case["request"];
        let headers: BTreeMap<String, String> = req["headers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                (
                    h["name"].as_str().unwrap().to_owned(),
                    h["value"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let body = req["body_utf8"].as_str().unwrap();
        let d = ReceivedDelivery {
            method: req["method"].as_str().unwrap().to_owned(),
            url: req["url"].as_str().unwrap().to_owned(),
            headers,
            body: body.to_owned(),
        };
        assert_eq!(
            content_digest(body.as_bytes()),
            case["body_content_digest"].as_str().unwrap(),
            "{name}: digest"
        );
        let keys = keys_from_jwks(&case["jwks"]);
        let got = verify(
            &d,
            &keys,
            case["now"].as_i64().unwrap(),
            case["max_age"].as_i64().unwrap(),
        );
        match case["expect"].as_str().unwrap() {
            "valid" => assert_eq!(got, Ok(()), "{name}"),
            _ => assert_eq!(
                got.as_ref().map_err(reason).err(),
                case["reason"].as_str(),
                "{name}: {got:?}"
            ),
        }
        // The signer's seed reproduces the Signature header (Ed25519 is deterministic).
        let seed: [u8; 32] = hex::decode(case["signer_seed"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        let signer = WebhookKey::from_seed(&seed);
        let input = d.header("signature-input").unwrap();
        let created: i64 = input
            .split(";created=")
            .nth(1)
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        if case["expect"] == "valid" {
            let again = signer.sign(
                &d.url,
                body.as_bytes(),
                d.header("signet-delivery-id").unwrap(),
                created,
            );
            assert_eq!(again.signature, d.header("signature").unwrap(), "{name}");
            assert_eq!(again.signature_input, input, "{name}");
        }
        assert!(COVERED.iter().all(|c| input.contains(&format!("\"{c}\""))));
        seen += 1;
    }
    assert!(seen >= 5, "only {seen} webhook vectors");
}
