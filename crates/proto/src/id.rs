//! Wire forms of ids. Each id is a newtype that can only be built from a string that already has
//! the canonical form: parse, don't normalise.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a string is not an id of the expected kind.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("malformed {kind} id")]
pub struct IdError {
    kind: &'static str,
}

const ALPHANUMERIC: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Draws `len` characters from [`ALPHANUMERIC`] with the OS RNG, without modulo bias.
fn random_alphanumeric(len: usize) -> String {
    let mut out = String::with_capacity(len);
    while out.len() < len {
        let mut buf = [0u8; 32];
        // The OS RNG failing is not recoverable for a secrets server; every key would be unsafe.
        #[allow(clippy::expect_used)]
        getrandom::fill(&mut buf).expect("the OS random number generator failed");
        for b in buf {
            // 248 = 4 * 62: bytes at or above it would bias the draw, so they are skipped.
            if b < 248 && out.len() < len {
                out.push(ALPHANUMERIC[(b % 62) as usize] as char);
            }
        }
    }
    out
}

macro_rules! prefixed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $len:literal, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// The fixed prefix of every id of this kind.
            pub const PREFIX: &'static str = $prefix;

            /// A fresh random id.
            pub fn generate() -> Self {
                Self(format!("{}{}", $prefix, random_alphanumeric($len)))
            }

            /// Parses the exact wire form: the prefix, then exactly the right number of ASCII
            /// letters and digits.
            pub fn parse(s: &str) -> Result<Self, IdError> {
                let ok = s
                    .strip_prefix($prefix)
                    .is_some_and(|rest| rest.len() == $len && rest.bytes().all(|b| b.is_ascii_alphanumeric()));
                if ok { Ok(Self(s.to_owned())) } else { Err(IdError { kind: $kind }) }
            }

            /// The wire form.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

prefixed_id!(
    /// A vault: one installation's tenant. `vault_` and 16 letters or digits.
    VaultId, "vault_", 16, "vault"
);
prefixed_id!(
    /// A project, which groups secrets and owns a project key. `proj_` and 10 letters or digits.
    ProjectId, "proj_", 10, "project"
);
prefixed_id!(
    /// A secret. `sk_` and 10 letters or digits.
    SecretId, "sk_", 10, "secret"
);
prefixed_id!(
    /// A named access policy of one project, bound to secrets. `pol_` and 10 letters or digits.
    PolicyId, "pol_", 10, "policy"
);
prefixed_id!(
    /// A passkey registered to a user. `pkey_` and 16 letters or digits.
    PasskeyId, "pkey_", 16, "passkey"
);
prefixed_id!(
    /// One WebAuthn ceremony (a challenge handed to a browser). `wac_` and 24 letters or digits:
    /// it names server-side state, so it is as long as a session id.
    CeremonyId, "wac_", 24, "challenge"
);
prefixed_id!(
    /// A one-time share link. `shr_` and 16 letters or digits. Public (it names the link in
    /// lists); opening the link also takes the secret part in its fragment.
    ShareId, "shr_", 16, "share"
);
prefixed_id!(
    /// A database connection a project registers for leased credentials. `dbc_` and 10 letters
    /// or digits.
    ConnectionId, "dbc_", 10, "database connection"
);
prefixed_id!(
    /// One lease: a database role minted for one machine's read of a leased secret. `lease_` and
    /// 16 letters or digits.
    LeaseId, "lease_", 16, "lease"
);
prefixed_id!(
    /// A webhook: an HTTPS endpoint alerts are delivered to. `wh_` and 12 letters or digits.
    WebhookId, "wh_", 12, "webhook"
);
prefixed_id!(
    /// An alert rule: which audit records (or bursts of them) become deliveries. `alr_` and 12
    /// letters or digits.
    AlertRuleId, "alr_", 12, "alert rule"
);
prefixed_id!(
    /// A trusted OIDC issuer whose platform tokens may enroll workloads. `iss_` and 12 letters
    /// or digits.
    IssuerId, "iss_", 12, "issuer"
);
prefixed_id!(
    /// A rule under a trusted issuer: claim conditions and what a matching workload is
    /// granted. `isr_` and 12 letters or digits.
    IssuerRuleId, "isr_", 12, "issuer rule"
);
prefixed_id!(
    /// A trusted OpenID provider people sign in through. `sso_` and 12 letters or digits.
    SsoProviderId, "sso_", 12, "SSO provider"
);
prefixed_id!(
    /// A mapping from a claim value to a role, under an SSO provider. `ssm_` and 12 letters or
    /// digits.
    SsoMappingId, "ssm_", 12, "SSO mapping"
);
prefixed_id!(
    /// One SSO sign-in attempt (its `state` is a separate secret). `ssa_` and 24 letters or
    /// digits: it names server-side state, so it is as long as a session id.
    SsoAttemptId, "ssa_", 24, "SSO attempt"
);

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(uuid::Uuid);

        impl $name {
            /// A fresh random (v4) id.
            pub fn generate() -> Self {
                Self(uuid::Uuid::new_v4())
            }

            /// Parses only the canonical hyphenated lowercase form, so that one principal has
            /// exactly one spelling (the nonce store is keyed on it).
            pub fn parse(s: &str) -> Result<Self, IdError> {
                match uuid::Uuid::try_parse(s) {
                    Ok(u) if u.hyphenated().to_string() == s => Ok(Self(u)),
                    _ => Err(IdError { kind: $kind }),
                }
            }

            /// The 16 raw bytes.
            pub fn as_bytes(&self) -> &[u8; 16] {
                self.0.as_bytes()
            }

            /// The id with these 16 raw bytes (the inverse of [`Self::as_bytes`]).
            pub fn from_bytes(bytes: [u8; 16]) -> Self {
                Self(uuid::Uuid::from_bytes(bytes))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(&self.0.hyphenated())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

uuid_id!(
    /// A machine: a workload that reads secrets with its own Ed25519 key.
    MachineId, "machine"
);
uuid_id!(
    /// An operator: a human's signing key for the admin API.
    OperatorId, "operator"
);
uuid_id!(
    /// A user: a human account that signs in with a password and a second factor.
    UserId, "user"
);
uuid_id!(
    /// A browser session: what a signed-in dashboard's cookie stands for. The id is public (it
    /// names the session in lists); the cookie's secret is a different value.
    SessionId, "session"
);
uuid_id!(
    /// An invitation to become a user, spent once by the person it was sent to.
    InviteId, "invite"
);
uuid_id!(
    /// One webhook delivery: the same id on every retry, so a receiver can drop duplicates.
    DeliveryId, "delivery"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixed_ids_parse_only_the_exact_form() {
        assert!(SecretId::parse("sk_a1b2c3d4e5").is_ok());
        for bad in [
            "sk_a1b2c3d4e",
            "sk_a1b2c3d4e5f",
            "SK_a1b2c3d4e5",
            "sk_a1b2c3d4-5",
            "sk_a1b2c3d4é",
            "",
        ] {
            assert!(SecretId::parse(bad).is_err(), "{bad}");
        }
        assert!(VaultId::parse("vault_a1b2c3d4e5f6g7h8").is_ok());
        assert!(ProjectId::parse("proj_0123456789").is_ok());
    }

    #[test]
    fn generated_ids_round_trip() {
        for _ in 0..50 {
            let s = SecretId::generate();
            assert_eq!(SecretId::parse(s.as_str()), Ok(s));
            let v = VaultId::generate();
            assert_eq!(VaultId::parse(v.as_str()), Ok(v));
        }
    }

    #[test]
    fn uuid_ids_reject_non_canonical_spellings() {
        let m = MachineId::generate();
        let s = m.to_string();
        assert_eq!(MachineId::parse(&s), Ok(m));
        assert!(MachineId::parse(&s.to_uppercase()).is_err());
        assert!(MachineId::parse(&s.replace('-', "")).is_err());
        assert!(MachineId::parse(&format!("{{{s}}}")).is_err());
    }
}
