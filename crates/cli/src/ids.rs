//! Ids typed on the command line, checked before they are put into a request path.

use signet_client::{InviteId, MachineId, SecretId, UserId};

/// A secret id (`sk_` and 10 letters or digits).
pub fn secret(raw: &str) -> anyhow::Result<SecretId> {
    SecretId::parse(raw)
        .map_err(|_| anyhow::anyhow!("{raw:?} is not a secret id (sk_ and 10 letters or digits)"))
}

/// A machine id (a lower-case UUID).
pub fn machine(raw: &str) -> anyhow::Result<MachineId> {
    MachineId::parse(raw)
        .map_err(|_| anyhow::anyhow!("{raw:?} is not a machine id (a lower-case UUID)"))
}

/// A user id (a lower-case UUID).
pub fn user(raw: &str) -> anyhow::Result<UserId> {
    UserId::parse(raw).map_err(|_| anyhow::anyhow!("{raw:?} is not a user id (a lower-case UUID)"))
}

/// An invitation id (a lower-case UUID).
pub fn invite(raw: &str) -> anyhow::Result<InviteId> {
    InviteId::parse(raw)
        .map_err(|_| anyhow::anyhow!("{raw:?} is not an invitation id (a lower-case UUID)"))
}

/// Any other id that becomes one path segment (token and allowlist-entry ids). Only letters,
/// digits, `_` and `-` are allowed, so an argument can never reach a different route.
pub fn segment<'a>(what: &str, raw: &'a str) -> anyhow::Result<&'a str> {
    let ok = !raw.is_empty()
        && raw.len() <= 128
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(raw)
    } else {
        anyhow::bail!("{raw:?} is not a valid {what} id")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn path_segments_cannot_escape_their_route() {
        assert!(segment("token", "tok_abc-1").is_ok());
        for bad in ["", "a/b", "..", "a?b", "a%2Fb", "a b"] {
            assert!(segment("token", bad).is_err(), "{bad}");
        }
        assert!(secret("sk_a1b2c3d4e5").is_ok());
        assert!(secret("sk_../x").is_err());
        assert!(machine("not-a-uuid").is_err());
    }
}
