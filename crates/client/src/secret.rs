//! Secret values as the SDK hands them out: zeroized on drop, never shown by `Debug`.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer};
use zeroize::Zeroizing;

/// A secret's value. The memory is wiped on drop, and `Debug` prints `***`, so a value cannot
/// reach a log through a stray `{:?}`. Read it with [`SecretValue::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(Zeroizing<String>);

impl SecretValue {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(Zeroizing::new(value.into()))
    }

    /// The plaintext. The name is deliberately loud, so every place that reveals a secret is
    /// easy to find.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Parses the value of a structured secret: a JSON object whose values are all strings.
    /// `None` for anything else (plain text, an array, a non-string field, an empty object), the
    /// rule every SikkerKey client applies before expanding a secret into fields.
    pub fn fields(&self) -> Option<BTreeMap<String, SecretValue>> {
        let map: BTreeMap<String, SecretValue> = serde_json::from_str(self.expose()).ok()?;
        (!map.is_empty()).then_some(map)
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue(***)")
    }
}

impl From<String> for SecretValue {
    fn from(value: String) -> Self {
        Self(Zeroizing::new(value))
    }
}

impl<'de> Deserialize<'de> for SecretValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Self::from)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn debug_is_redacted() {
        let v = SecretValue::new("hunter2");
        assert_eq!(format!("{v:?}"), "SecretValue(***)");
        assert_eq!(v.expose(), "hunter2");
    }

    #[test]
    fn fields_require_a_non_empty_object_of_strings() {
        let f = SecretValue::new(r#"{"user":"u","pass":"p"}"#)
            .fields()
            .unwrap();
        assert_eq!(f["user"].expose(), "u");
        assert_eq!(f["pass"].expose(), "p");
        for not_structured in [
            "plain",
            "{}",
            r#"{"port":5432}"#,
            r#"["a"]"#,
            r#""s""#,
            r#"{"a":null}"#,
        ] {
            assert!(
                SecretValue::new(not_structured).fields().is_none(),
                "{not_structured}"
            );
        }
    }
}
