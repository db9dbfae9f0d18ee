//! The identity file a machine keeps: `identity.json` beside a PKCS#8 `private.pem`.
//!
//! The field names are the ones the SikkerKey SDKs read, so `SIKKERKEY_IDENTITY` can point an
//! existing SDK at a Signet identity. Reading and writing the files is the caller's job (this
//! crate does no I/O); this module owns the format.

use serde::{Deserialize, Serialize};

use crate::id::{MachineId, VaultId};

/// Why an identity document was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// Not the JSON shape of an identity file.
    #[error("identity.json is malformed")]
    Json,
    /// The API URL is neither HTTPS nor plain HTTP to a loopback host.
    #[error("apiUrl must be https://, or http:// to a loopback host")]
    InsecureUrl,
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
    /// The server's base URL, without a trailing slash.
    pub api_url: String,
    /// Absolute path of the private key file.
    pub private_key_path: String,
}

impl Identity {
    /// Checks that the URL would not send signed requests in the clear to another host.
    pub fn check_url(url: &str) -> Result<(), IdentityError> {
        if url.starts_with("https://") {
            return Ok(());
        }
        let Some(rest) = url.strip_prefix("http://") else {
            return Err(IdentityError::InsecureUrl);
        };
        let host_port = rest.split('/').next().unwrap_or_default();
        let host = if let Some(v6) = host_port.strip_prefix('[') {
            v6.split(']').next().unwrap_or_default()
        } else {
            host_port.split(':').next().unwrap_or_default()
        };
        let loopback = host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
        if loopback { Ok(()) } else { Err(IdentityError::InsecureUrl) }
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
        for ok in ["https://vault.example", "http://localhost:8420", "http://127.0.0.1:1", "http://[::1]:8420"] {
            assert!(Identity::check_url(ok).is_ok(), "{ok}");
        }
        for bad in ["http://vault.example", "http://10.0.0.1", "ftp://x", "http://localhost.evil.com", "localhost"] {
            assert!(Identity::check_url(bad).is_err(), "{bad}");
        }
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
        for key in ["machineId", "machineName", "vaultId", "apiUrl", "privateKeyPath"] {
            assert!(json.contains(key), "{key}");
        }
        assert_eq!(Identity::from_json(&json).unwrap(), id);
    }
}
