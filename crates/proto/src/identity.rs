//! The identity file a machine keeps: `identity.json` beside a PKCS#8 `private.pem`.
//!
//! The field names are the ones the SikkerKey SDKs read, so `SIKKERKEY_IDENTITY` can point an
//! existing SDK at a Signet identity. Reading and writing the files is the caller's job (this
//! crate does no I/O); this module owns the format.

use serde::{Deserialize, Serialize};

use crate::id::{MachineId, VaultId};
use crate::web_url::WebUrl;

/// Why an identity document was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdentityError {
    /// Not the JSON shape of an identity file.
    #[error("identity.json is malformed")]
    Json,
    /// The API URL is neither HTTPS nor plain HTTP to a loopback host.
    #[error("apiUrl must be https://, or http:// to a loopback host")]
    InsecureUrl,
    /// The API URL is not exactly `scheme://host[:port]`: it has a path (even a trailing `/`),
    /// a query, a fragment, user info, an empty host or a bad port.
    #[error(
        "apiUrl must be scheme://host[:port], with no path, trailing slash, query or user info"
    )]
    MalformedUrl,
}

/// The contents of `identity.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    /// The machine's id, which travels in `X-Machine-Id`.
    pub machine_id: MachineId,
    /// A human-readable name chosen at enrollment.
    pub machine_name: String,
    /// The vault the machine belongs to.
    pub vault_id: VaultId,
    /// The server's origin, `scheme://host[:port]`: no path, not even a trailing slash
    /// (see [`Identity::check_url`]).
    pub api_url: String,
    /// Absolute path of the private key file.
    pub private_key_path: String,
}

impl Identity {
    /// Checks an `apiUrl`: an origin and nothing else, and never plain HTTP to another host.
    ///
    /// The form is `https://host[:port]`, or `http://host[:port]` with `host` a loopback host
    /// as [`crate::loopback`] defines it (`localhost`, `127.0.0.0/8`, `[::1]`,
    /// `[::ffff:7f00:1]`), parsed as [`crate::web_url`] parses every URL (as written, nothing
    /// a parser would rewrite):
    ///
    /// - no path, not even `/`: the SikkerKey SDKs build request URLs as `apiUrl + path`, so a
    ///   trailing slash would send `//v1/...`, which the server refuses as non-canonical;
    /// - no query, fragment or user info (`http://localhost:8420@evil.example` names
    ///   `evil.example`, not the loopback host);
    /// - `host` is a name of letters, digits, `-`, `.` and `_`, or an IP address; `port` is 1
    ///   to 65535 in decimal without leading zeros, and not the scheme's default.
    ///
    /// Scheme and loopback failures are [`IdentityError::InsecureUrl`]; any other departure from
    /// the form is [`IdentityError::MalformedUrl`].
    pub fn check_url(url: &str) -> Result<(), IdentityError> {
        // The scheme as written decides which error: an upper-case or missing scheme is not a
        // malformed secure URL but no secure URL at all.
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(IdentityError::InsecureUrl);
        }
        let parsed = WebUrl::parse_origin(url).map_err(|_| IdentityError::MalformedUrl)?;
        if parsed.is_secure() {
            Ok(())
        } else {
            Err(IdentityError::InsecureUrl)
        }
    }

    /// Parses `identity.json` and checks its URL.
    pub fn from_json(text: &str) -> Result<Self, IdentityError> {
        let id: Self = serde_json::from_str(text).map_err(|_| IdentityError::Json)?;
        Self::check_url(&id.api_url)?;
        Ok(id)
    }

    /// Serialises `identity.json` (pretty, with a trailing newline).
    pub fn to_json(&self) -> String {
        // Serialising a struct of strings cannot fail.
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_policy() {
        for ok in [
            "https://x",
            "https://vault.example",
            "https://vault.example:8443",
            "https://10.0.0.1",
            "https://[2001:db8::1]:8443",
            "https://signet_server:8420",
            "http://localhost",
            "http://localhost:8420",
            "http://127.0.0.1:1",
            "http://127.1.2.3:65535",
            "http://[::1]",
            "http://[::1]:8420",
            "http://[::ffff:7f00:1]",
        ] {
            assert_eq!(Identity::check_url(ok), Ok(()), "{ok}");
        }
        for insecure in [
            "http://vault.example",
            "http://10.0.0.1",
            "http://[2001:db8::1]",
            "http://localhost.evil.com",
            "http://127.0.0.1.evil.com",
            "ftp://x",
            "HTTPS://x",
            "localhost",
            "//localhost",
            " https://x",
            "",
        ] {
            assert_eq!(
                Identity::check_url(insecure),
                Err(IdentityError::InsecureUrl),
                "{insecure}"
            );
        }
        for malformed in [
            // A path of any kind, including the bare trailing slash the SDKs would double.
            "https://x/",
            "https://x/api",
            "https://x:8443/",
            "http://localhost:8420/",
            "http://localhost/v1",
            "http://[::1]/",
            "https://x\\api",
            // Query, fragment, user info.
            "https://x?",
            "https://x?a=b",
            "https://x#",
            "https://user@x",
            "http://localhost:8420@evil.example",
            "http://localhost@evil.example",
            // Empty host, bad ports, bad brackets, whitespace.
            "https://",
            "https://:8443",
            "http://localhost:",
            "http://localhost:0",
            "http://localhost:08420",
            "http://localhost:65536",
            "http://localhost:84a0",
            "http://localhost:8420:1",
            "http://[::1",
            "http://[::1]x",
            "http://[::1]:",
            "http://[localhost]",
            "https://x ",
            "https://x\n",
            // Anything a parser would rewrite.
            "https://X",
            "http://LOCALHOST",
            "http://localhost:80",
            "https://x:443",
            "https://[2001:db8::1]:443",
            "http://127.1",
            "http://[0:0:0:0:0:0:0:1]",
            "http://[::ffff:127.0.0.1]",
        ] {
            assert_eq!(
                Identity::check_url(malformed),
                Err(IdentityError::MalformedUrl),
                "{malformed:?}"
            );
        }
    }

    #[test]
    fn from_json_applies_the_url_policy() {
        let mut id = Identity {
            machine_id: MachineId::generate(),
            machine_name: "web-1".into(),
            vault_id: VaultId::generate(),
            api_url: "https://vault.example/".into(),
            private_key_path: "/home/a/.signet/vaults/v/private.pem".into(),
        };
        assert_eq!(
            Identity::from_json(&id.to_json()),
            Err(IdentityError::MalformedUrl)
        );
        id.api_url = "http://vault.example".into();
        assert_eq!(
            Identity::from_json(&id.to_json()),
            Err(IdentityError::InsecureUrl)
        );
        id.api_url = "https://vault.example".into();
        assert_eq!(Identity::from_json(&id.to_json()), Ok(id));
    }

    #[test]
    fn round_trip_uses_sdk_field_names() {
        let id = Identity {
            machine_id: MachineId::generate(),
            machine_name: "web-1".into(),
            vault_id: VaultId::generate(),
            api_url: "http://localhost:8420".into(),
            private_key_path: "/home/a/.signet/vaults/v/private.pem".into(),
        };
        let json = id.to_json();
        for key in [
            "machineId",
            "machineName",
            "vaultId",
            "apiUrl",
            "privateKeyPath",
        ] {
            assert!(json.contains(key), "{key}");
        }
        assert_eq!(Identity::from_json(&json).unwrap(), id);
    }
}
