//! A software passkey for tests: a real P-256 authenticator that signs real challenges, as a
//! browser's platform passkey would answer them.
//!
//! The soft token keeps no resident credentials and returns no user handle, so [`Passkey`]
//! plays the part of a discoverable credential around it: it accepts "resident key required"
//! options, answers a usernameless request with the one credential it holds, and adds the user
//! handle it was registered with.

use serde_json::{Value, json};
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs::prelude::{
    CreationChallengeResponse, PublicKeyCredential, RequestChallengeResponse, Url,
};

/// One software authenticator in a browser at `origin`.
pub struct Passkey {
    /// The authenticator: its private keys and signature counters.
    token: SoftPasskey,
    /// The origin the browser reports in `clientDataJSON`; a test may change it to play a
    /// phishing page.
    pub origin: Url,
    /// The registered credential's id (`rawId`), once [`Passkey::create`] ran.
    pub credential_id: Option<String>,
    /// The user handle sent with every assertion; a test may change or clear it.
    pub user_handle: Option<Vec<u8>>,
}

impl Passkey {
    /// A fresh authenticator for pages at `origin`.
    pub fn new(origin: &str) -> Self {
        Self {
            // Passkeys require user verification, which the soft token can only claim.
            token: SoftPasskey::new(true),
            origin: Url::parse(origin).expect("an origin URL"),
            credential_id: None,
            user_handle: None,
        }
    }

    /// Answers creation options (the server's `publicKey` object) with a new credential, as
    /// the JSON a browser posts back. The options must ask for a discoverable credential.
    pub fn create(&mut self, public_key: &Value) -> Value {
        let mut options = public_key.clone();
        let sel = options["authenticatorSelection"]
            .as_object_mut()
            .expect("authenticatorSelection");
        assert_eq!(
            sel["residentKey"], "required",
            "sign-in needs a discoverable credential"
        );
        sel.insert("residentKey".into(), json!("discouraged"));
        sel.insert("requireResidentKey".into(), json!(false));
        let user_id = options["user"]["id"].as_str().expect("user.id").to_owned();
        let ccr: CreationChallengeResponse =
            serde_json::from_value(json!({ "publicKey": options })).expect("creation options");
        let cred = self
            .token
            .do_registration(self.origin.clone(), ccr)
            .expect("the soft token registers");
        let v = serde_json::to_value(&cred).expect("a credential as JSON");
        self.credential_id = Some(v["rawId"].as_str().expect("rawId").to_owned());
        self.user_handle = Some(b64url_decode(&user_id));
        v
    }

    /// Answers request options (the server's `publicKey` object) with an assertion, as the JSON
    /// a browser posts back. A usernameless request (no `allowCredentials`) gets the credential
    /// this passkey holds, as a discoverable credential would.
    pub fn get(&mut self, public_key: &Value) -> Value {
        let mut options = public_key.clone();
        let usernameless = options["allowCredentials"]
            .as_array()
            .is_none_or(Vec::is_empty);
        if usernameless {
            options["allowCredentials"] = json!([{
                "type": "public-key",
                "id": self.credential_id.clone().expect("a registered credential"),
            }]);
        }
        let rcr: RequestChallengeResponse =
            serde_json::from_value(json!({ "publicKey": options })).expect("request options");
        let mut cred: PublicKeyCredential = self
            .token
            .do_authentication(self.origin.clone(), rcr)
            .expect("the soft token signs");
        cred.response.user_handle = self.user_handle.clone();
        serde_json::to_value(&cred).expect("an assertion as JSON")
    }
}

/// Unpadded base64url (`user.id` in the options) back to bytes.
fn b64url_decode(s: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.bytes().filter(|&c| c != b'=') {
        let v = ALPHABET
            .iter()
            .position(|&a| a == c)
            .expect("a base64url character") as u32;
        bits = (bits << 6) | v;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64url_decodes_with_or_without_padding() {
        assert_eq!(super::b64url_decode("aGk"), b"hi");
        assert_eq!(super::b64url_decode("aGk="), b"hi");
        assert_eq!(super::b64url_decode("_-8"), [0xff, 0xef]);
    }
}
