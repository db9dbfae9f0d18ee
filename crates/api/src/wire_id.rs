//! An id as the caller sent it: parsed when it has the canonical form, kept verbatim when not.
//!
//! Some routes answer a malformed id exactly like a well-formed one the caller may not see (a
//! machine asking for `sk_nope` gets the same audited 403 as for a secret in another project),
//! so a malformed id must reach the business layer instead of being refused while the body or
//! path is decoded. [`WireId`] carries both outcomes; its schema is a plain string.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An id of kind `T` as received: [`WireId::Valid`] when it parses, else the text as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireId<T> {
    /// The canonical form of a `T`.
    Valid(T),
    /// Text that is not a `T`; never stored, only refused or audited.
    Malformed(String),
}

impl<T: FromStr> WireId<T> {
    /// Parses `text`, keeping it verbatim when it is not a `T`.
    pub fn parse(text: &str) -> Self {
        match text.parse() {
            Ok(id) => Self::Valid(id),
            Err(_) => Self::Malformed(text.to_owned()),
        }
    }
}

impl<T> WireId<T> {
    /// The parsed id, if the text was one.
    pub fn valid(&self) -> Option<&T> {
        match self {
            Self::Valid(id) => Some(id),
            Self::Malformed(_) => None,
        }
    }
}

impl<T> From<T> for WireId<T> {
    fn from(id: T) -> Self {
        Self::Valid(id)
    }
}

impl<T: fmt::Display> fmt::Display for WireId<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Valid(id) => id.fmt(f),
            Self::Malformed(text) => f.write_str(text),
        }
    }
}

impl<T: fmt::Display> Serialize for WireId<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de, T: FromStr> Deserialize<'de> for WireId<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Ok(Self::parse(&text))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use signet_proto::SecretId;

    use super::*;

    #[test]
    fn keeps_malformed_text_and_round_trips_both() {
        let ok: WireId<SecretId> = serde_json::from_str(r#""sk_a1b2c3d4e5""#).unwrap();
        assert!(ok.valid().is_some());
        let bad: WireId<SecretId> = serde_json::from_str(r#""sk_nope""#).unwrap();
        assert_eq!(bad, WireId::Malformed("sk_nope".to_owned()));
        assert_eq!(serde_json::to_string(&bad).unwrap(), r#""sk_nope""#);
        assert_eq!(serde_json::to_string(&ok).unwrap(), r#""sk_a1b2c3d4e5""#);
        assert!(serde_json::from_str::<WireId<SecretId>>("3").is_err());
    }
}
