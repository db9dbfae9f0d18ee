//! Secrets as environment variables, named the way SikkerKey's CLI and SDKs name them: the
//! secret's name upper-cased, each run of other characters turned into `_`, trimmed of `_`; a
//! structured secret becomes one `NAME_FIELD` variable per field.

use std::collections::BTreeMap;

use signet_client::SecretValue;

/// The variable name for a secret or field name: `db creds` → `DB_CREDS`, `api-key` → `API_KEY`.
/// Only ASCII letters and digits survive, since other characters are not portable in names.
pub fn env_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut pending_sep = false;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            if pending_sep && !out.is_empty() {
                out.push('_');
            }
            pending_sep = false;
            out.push(c.to_ascii_uppercase());
        } else {
            pending_sep = true;
        }
    }
    out
}

/// Variables built from secrets, sorted by name. When two secrets map to one name the later
/// wins, as in the SikkerKey clients, and a warning says so (naming no value).
#[derive(Debug, Default)]
pub struct EnvVars {
    prefix: String,
    vars: BTreeMap<String, SecretValue>,
    /// The secrets the variables came from, for `signet run --watch`.
    ids: Vec<String>,
    /// Problems worth telling the user about on stderr.
    pub warnings: Vec<String>,
}

impl EnvVars {
    /// An empty set whose names all start with `prefix` (used as given).
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
            ..Self::default()
        }
    }

    /// Adds one secret. When `structured` (the server gave field names) and the value is a
    /// non-empty JSON object of strings, each field becomes `NAME_FIELD`; otherwise the value is
    /// set as it is.
    pub fn add(&mut self, id: &str, name: &str, value: &SecretValue, structured: bool) {
        if !self.ids.iter().any(|i| i == id) {
            self.ids.push(id.to_owned());
        }
        let base = env_name(name);
        if base.is_empty() {
            self.warnings.push(format!(
                "secret {id}: its name has no letters or digits to name a variable; skipped"
            ));
            return;
        }
        match value.fields().filter(|_| structured) {
            Some(fields) => {
                for (field, v) in fields {
                    let field_name = env_name(&field);
                    let key = if field_name.is_empty() {
                        base.clone()
                    } else {
                        format!("{base}_{field_name}")
                    };
                    self.insert(key, v);
                }
            }
            None => self.insert(base, value.clone()),
        }
    }

    fn insert(&mut self, name: String, value: SecretValue) {
        let key = format!("{}{name}", self.prefix);
        if self.vars.insert(key.clone(), value).is_some() {
            self.warnings.push(format!(
                "{key} is set by more than one secret; the later one wins"
            ));
        }
    }

    /// The variables, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &SecretValue)> {
        self.vars.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The ids of the secrets added, in the order first added.
    pub fn ids(&self) -> &[String] {
        &self.ids
    }

    /// How many variables there are.
    pub fn len(&self) -> usize {
        self.vars.len()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn names_follow_the_sikkerkey_rule() {
        assert_eq!(env_name("db creds"), "DB_CREDS");
        assert_eq!(env_name("api-key"), "API_KEY");
        assert_eq!(env_name("--Stripe..Live__key--"), "STRIPE_LIVE_KEY");
        assert_eq!(env_name("a1"), "A1");
        assert_eq!(env_name("héllo wörld"), "H_LLO_W_RLD");
        assert_eq!(env_name("___"), "");
    }

    #[test]
    fn structured_secrets_expand_only_when_flagged_and_parseable() {
        let mut vars = EnvVars::new("APP_");
        let creds = SecretValue::new(r#"{"user":"u","pass-word":"p"}"#);
        vars.add("sk_1", "db creds", &creds, true);
        vars.add("sk_2", "raw json", &creds, false);
        vars.add("sk_3", "not json", &SecretValue::new("plain"), true);
        let got: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_owned(), v.expose().to_owned()))
            .collect();
        assert_eq!(
            got,
            [
                ("APP_DB_CREDS_PASS_WORD".to_owned(), "p".to_owned()),
                ("APP_DB_CREDS_USER".to_owned(), "u".to_owned()),
                ("APP_NOT_JSON".to_owned(), "plain".to_owned()),
                ("APP_RAW_JSON".to_owned(), creds.expose().to_owned()),
            ]
        );
        assert!(vars.warnings.is_empty());
    }

    #[test]
    fn collisions_and_unnameable_secrets_warn_without_values() {
        let mut vars = EnvVars::new("");
        vars.add("sk_1", "api key", &SecretValue::new("first"), false);
        vars.add("sk_2", "API-KEY", &SecretValue::new("second"), false);
        vars.add("sk_3", "!!!", &SecretValue::new("x"), false);
        assert_eq!(vars.len(), 1);
        assert_eq!(vars.iter().next().unwrap().1.expose(), "second");
        assert_eq!(vars.warnings.len(), 2);
        assert!(
            vars.warnings
                .iter()
                .all(|w| !w.contains("first") && !w.contains("second"))
        );
    }
}
