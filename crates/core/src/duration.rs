//! Durations as people write them, parsed by one library (jiff's "friendly" format, so `90s`,
//! `10m`, `1h30m`, `7d`, `2w`, `1 hour 30 minutes` and ISO 8601 `PT1H30M` all read), plus a bare
//! number in the caller's unit for the forms that came before. The command line (TTLs, lease
//! durations, `audit list --since`) and the server's configuration (every `*_secs` and `*_ms`
//! setting) parse through here, so they accept the same texts.
//!
//! A day is 24 hours and a week 7 days here: these are lifetimes and intervals, not calendar
//! arithmetic. Months and years are refused, having no fixed length.

use std::time::Duration;

use jiff::{Span, SpanRelativeTo};

/// Why a duration was refused. Carries the text: a duration is never a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {input:?}: {why}; use e.g. 30s, 10m, 1h, 7d or 1h30m")]
pub struct DurationError {
    input: String,
    why: &'static str,
}

fn refuse(input: &str, why: &'static str) -> DurationError {
    DurationError {
        input: input.to_owned(),
        why,
    }
}

/// Parses a duration; a bare number of digits counts `bare_unit`s. Negative durations are
/// refused, zero is not (see [`lifetime_secs`] for where it is).
pub fn parse(s: &str, bare_unit: Duration) -> Result<Duration, DurationError> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        let n: u32 = s.parse().map_err(|_| refuse(s, "too large"))?;
        return bare_unit
            .checked_mul(n)
            .ok_or_else(|| refuse(s, "too large"));
    }
    let span: Span = s.parse().map_err(|_| refuse(s, "not a duration"))?;
    let signed = span
        .to_duration(SpanRelativeTo::days_are_24_hours())
        .map_err(|_| refuse(s, "months and years have no fixed length"))?;
    if signed.is_negative() {
        return Err(refuse(s, "negative"));
    }
    Duration::try_from(signed).map_err(|_| refuse(s, "out of range"))
}

/// Whole seconds, a bare number being seconds (the `*_secs` settings). Zero is allowed here;
/// the setting decides whether it means something.
pub fn secs(s: &str) -> Result<u64, DurationError> {
    let d = parse(s, Duration::from_secs(1))?;
    if d.subsec_nanos() != 0 {
        return Err(refuse(s, "not a whole number of seconds"));
    }
    Ok(d.as_secs())
}

/// Whole milliseconds, a bare number being milliseconds (the `*_ms` settings).
pub fn millis(s: &str) -> Result<u64, DurationError> {
    let d = parse(s, Duration::from_millis(1))?;
    if d.subsec_nanos() % 1_000_000 != 0 {
        return Err(refuse(s, "not a whole number of milliseconds"));
    }
    u64::try_from(d.as_millis()).map_err(|_| refuse(s, "too large"))
}

/// A lifetime in whole seconds (a TTL, a lease, a share): like [`secs`], and zero is refused,
/// since a zero lifetime is always a mistake.
pub fn lifetime_secs(s: &str) -> Result<u64, DurationError> {
    match secs(s)? {
        0 => Err(refuse(s, "a lifetime must be longer than zero")),
        n => Ok(n),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    /// Every form the hand-written parser accepted still reads the same.
    #[test]
    fn the_old_forms_still_read() {
        for (text, want) in [
            ("30s", 30),
            ("10m", 600),
            ("1h", 3600),
            ("7d", 604_800),
            ("2w", 1_209_600),
            ("1h30m", 5400),
            ("90", 90),
            ("1d12h", 129_600),
        ] {
            assert_eq!(lifetime_secs(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn the_library_forms_read_too() {
        for (text, want) in [
            ("1 hour 30 minutes", 5400),
            ("PT1H30M", 5400),
            ("1.5h", 5400),
            ("90m", 5400),
            ("P7D", 604_800),
        ] {
            assert_eq!(lifetime_secs(text), Ok(want), "{text}");
        }
        assert_eq!(millis("250"), Ok(250));
        assert_eq!(millis("2s"), Ok(2000));
        assert_eq!(millis("1500ms"), Ok(1500));
        assert_eq!(secs("0"), Ok(0));
        assert_eq!(secs("0s"), Ok(0));
    }

    #[test]
    fn refuses_malformed_zero_negative_calendar_and_overflow() {
        for bad in [
            "",
            "0",
            "0s",
            "h",
            "1x",
            "1h30",
            "-1h",
            "1h ago",
            "-PT1H",
            " 1h",
            "1 month",
            "1y",
            "500ms",
            "99999999999999999999s",
            "9999999999999999999w",
            "99999999999",
        ] {
            assert!(lifetime_secs(bad).is_err(), "{bad}");
        }
        let e = lifetime_secs("1x").unwrap_err().to_string();
        assert!(e.contains("\"1x\"") && e.contains("1h30m"), "{e}");
    }
}
