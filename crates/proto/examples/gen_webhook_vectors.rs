//! Writes the webhook signature vectors under `testdata/vectors/webhook/` (one case per file).
//!
//! `cargo run -p signet-proto --example gen_webhook_vectors -- testdata/vectors/webhook`
//!
//! Everything is fixed (seed, URL, body, delivery id, `created`, the verifier's clock), and
//! Ed25519 is deterministic, so a run reproduces the files byte for byte.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use signet_proto::webhook::{
    CONTENT_TYPE, COVERED, HEADER_DELIVERY_ID, WebhookKey, content_digest, signature_base,
    signature_params,
};

/// RFC 8032 §7.1 TEST 1 and TEST 2 secret keys.
const SEED_1: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
const SEED_2: &str = "4ccd089b28ff96da9db6c346ec114ce924a8ea60a2b6c57a8a7a1e5f83d4e6d3";
const URL: &str = "https://hooks.example.com/signet/alerts";
const DELIVERY: &str = "0b7c3f0e-9a43-4c55-8d3e-1f0a2b3c4d5e";
const CREATED: i64 = 1_750_000_000;
const BODY: &str = r#"{"id":"0b7c3f0e-9a43-4c55-8d3e-1f0a2b3c4d5e","event":"canary_triggered","severity":"critical","timestamp":1750000000000,"data":{"machineId":"5f0c6c1e-2b1a-4c3d-9e8f-0a1b2c3d4e5f","secretId":"sk_a1b2c3d4e5","sourceIp":"203.0.113.7"}}"#;

fn seed(hex_seed: &str) -> [u8; 32] {
    hex::decode(hex_seed).unwrap().try_into().unwrap()
}

struct Case {
    name: &'static str,
    comment: &'static str,
    expect: &'static str,
    reason: Option<&'static str>,
    now: i64,
    /// The key the verifier has on file (its seed, for the public key).
    verifier_seed: &'static str,
    url: &'static str,
    body: &'static str,
    delivery_header: &'static str,
}

fn main() {
    let dir = std::env::args().nth(1).expect("output directory");
    let signer = WebhookKey::from_seed(&seed(SEED_1));
    let signed = signer.sign(URL, BODY.as_bytes(), DELIVERY, CREATED);
    let altered_body = BODY.replace("critical", "info");
    let cases = [
        Case {
            name: "valid_delivery_v1",
            comment: "A delivery as the vault signs it, checked 10 s after it was made: valid.",
            expect: "valid",
            reason: None,
            now: CREATED + 10,
            verifier_seed: SEED_1,
            url: URL,
            body: BODY,
            delivery_header: DELIVERY,
        },
        Case {
            name: "valid_age_edge_v1",
            comment: "Checked exactly max_age (300 s) after it was made: still valid.",
            expect: "valid",
            reason: None,
            now: CREATED + 300,
            verifier_seed: SEED_1,
            url: URL,
            body: BODY,
            delivery_header: DELIVERY,
        },
        Case {
            name: "body_altered_v1",
            comment: "The body was changed after signing (severity critical -> info): its digest no longer matches Content-Digest.",
            expect: "invalid",
            reason: Some("digest_mismatch"),
            now: CREATED + 10,
            verifier_seed: SEED_1,
            url: URL,
            body: Box::leak(altered_body.into_boxed_str()),
            delivery_header: DELIVERY,
        },
        Case {
            name: "delivery_id_altered_v1",
            comment: "The signed Signet-Delivery-Id header was changed: a replay dressed as a new delivery does not verify.",
            expect: "invalid",
            reason: Some("bad_signature"),
            now: CREATED + 10,
            verifier_seed: SEED_1,
            url: URL,
            body: BODY,
            delivery_header: "11111111-1111-4111-8111-111111111111",
        },
        Case {
            name: "target_uri_altered_v1",
            comment: "The delivery was replayed to another URL: @target-uri is signed.",
            expect: "invalid",
            reason: Some("bad_signature"),
            now: CREATED + 10,
            verifier_seed: SEED_1,
            url: "https://hooks.example.com/signet/other",
            body: BODY,
            delivery_header: DELIVERY,
        },
        Case {
            name: "too_old_v1",
            comment: "Checked 301 s after it was made, with the default max_age of 300 s: a stale replay.",
            expect: "invalid",
            reason: Some("too_old"),
            now: CREATED + 301,
            verifier_seed: SEED_1,
            url: URL,
            body: BODY,
            delivery_header: DELIVERY,
        },
        Case {
            name: "unknown_key_v1",
            comment: "The verifier's published key is another one (RFC 8032 TEST 2): no key has the signature's keyid.",
            expect: "invalid",
            reason: Some("unknown_key"),
            now: CREATED + 10,
            verifier_seed: SEED_2,
            url: URL,
            body: BODY,
            delivery_header: DELIVERY,
        },
    ];
    let params = signature_params(&COVERED, CREATED, &signer.key_id());
    for c in cases {
        let verifier = WebhookKey::from_seed(&seed(c.verifier_seed));
        let base = signature_base(
            &[
                ("@method", "POST"),
                ("@target-uri", c.url),
                ("content-digest", &content_digest(c.body.as_bytes())),
                ("content-type", CONTENT_TYPE),
                (HEADER_DELIVERY_ID, c.delivery_header),
            ],
            &params,
        );
        let v = serde_json::json!({
            "comment": c.comment,
            "expect": c.expect,
            "reason": c.reason,
            "now": c.now,
            "max_age": 300,
            "signer_seed": SEED_1,
            "jwks": signet_proto::webhook::jwks(&verifier.public_key()),
            "request": {
                "method": "POST",
                "url": c.url,
                "headers": [
                    {"name": "Content-Type", "value": CONTENT_TYPE},
                    {"name": "Content-Digest", "value": signed.content_digest},
                    {"name": "Signet-Delivery-Id", "value": c.delivery_header},
                    {"name": "Signature-Input", "value": signed.signature_input},
                    {"name": "Signature", "value": signed.signature},
                ],
                "body_utf8": c.body,
            },
            "body_content_digest": content_digest(c.body.as_bytes()),
            "signature_base": base,
            "public_key_x": URL_SAFE_NO_PAD.encode(verifier.public_key()),
        });
        let mut text = serde_json::to_string_pretty(&v).unwrap();
        text.push('\n');
        std::fs::write(Path::new(&dir).join(format!("{}.json", c.name)), text).unwrap();
    }
}
