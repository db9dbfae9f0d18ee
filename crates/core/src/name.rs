//! The names operators give what they create (projects, secrets, policies, tokens) and machines
//! give themselves (hostname and name at enrollment): one rule each,
//! below every service, so that any of them can check a name without importing another.

use crate::{CoreError, CoreResult};

/// Secret and project names: 1–255 characters of letters, digits, space and `_ - . / : @ +`,
/// not starting or ending with a space. Wide enough for `DATABASE_URL` and `db creds`, narrow
/// enough to be safe in a shell, an HTML page and a log line.
pub fn check_name(what: &str, name: &str) -> CoreResult<()> {
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || " _-./:@+".contains(c));
    let len = name.chars().count();
    if !(1..=255).contains(&len) || !ok_chars || name.starts_with(' ') || name.ends_with(' ') {
        return Err(CoreError::bad(format!(
            "{what} name must be 1-255 characters of letters, digits, space and _-./:@+ (no leading or trailing space)"
        )));
    }
    Ok(())
}

/// Secret names: [`check_name`]'s rule, refused as sent with its own error code. A space
/// inside a name stays allowed, as it always was here and is in SikkerKey (whose clients
/// export `db creds` as `DB_CREDS`): names already in use and scripts that write them keep
/// working. The dashboard says what such a name becomes for a machine before it sends one.
/// Nothing is ever trimmed or rewritten: a leading or trailing space, a tab or a newline is
/// refused.
pub fn check_secret_name(name: &str) -> CoreResult<()> {
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || " _-./:@+".contains(c));
    let len = name.chars().count();
    if !(1..=255).contains(&len) || !ok_chars || name.starts_with(' ') || name.ends_with(' ') {
        let why = if name.starts_with(char::is_whitespace) || name.ends_with(char::is_whitespace) {
            "no leading or trailing space"
        } else {
            "1-255 characters of letters, digits, space and _-./:@+"
        };
        return Err(CoreError::InvalidName(format!(
            "`name` is not a valid secret name ({why}); nothing was rewritten or saved"
        )));
    }
    Ok(())
}

pub(crate) fn check_hostname(h: &str) -> CoreResult<()> {
    let ok = (1..=253).contains(&h.len())
        && h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(CoreError::bad(
            "hostname must be 1-253 characters of letters, digits and -._",
        ))
    }
}

pub(crate) fn machine_name(name: Option<&str>, hostname: &str) -> CoreResult<String> {
    let n = name.unwrap_or(hostname);
    if !(1..=255).contains(&n.chars().count()) || n.chars().any(char::is_control) {
        return Err(CoreError::bad(
            "name must be 1-255 characters without control characters",
        ));
    }
    Ok(n.to_owned())
}
