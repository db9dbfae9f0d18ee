//! The names operators give what they create (projects, secrets, policies, tokens): one rule,
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
