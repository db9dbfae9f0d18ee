//! Durations on the command line: `30s`, `10m`, `1h`, `7d`, `2w`, or sums like `1h30m`.

/// Parses a duration into whole seconds. A bare number is seconds. Zero is refused: every
/// duration here is a lifetime, and a zero lifetime is always a mistake.
pub fn parse(s: &str) -> Result<u64, String> {
    let bad = || format!("invalid duration {s:?}: use e.g. 30s, 10m, 1h, 7d or 1h30m");
    if s.is_empty() {
        return Err(bad());
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(bad);
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit: u64 = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return Err(bad()),
        };
        let n: u64 = digits.parse().map_err(|_| bad())?;
        digits.clear();
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
    }
    if !digits.is_empty() || total == 0 {
        return Err(bad());
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn units_and_sums() {
        assert_eq!(parse("30s"), Ok(30));
        assert_eq!(parse("10m"), Ok(600));
        assert_eq!(parse("1h"), Ok(3600));
        assert_eq!(parse("7d"), Ok(604_800));
        assert_eq!(parse("2w"), Ok(1_209_600));
        assert_eq!(parse("1h30m"), Ok(5400));
        assert_eq!(parse("90"), Ok(90));
    }

    #[test]
    fn refuses_malformed_zero_and_overflow() {
        for bad in [
            "",
            "0",
            "0s",
            "h",
            "1x",
            "1h30",
            "-1h",
            "1.5h",
            " 1h",
            "1H",
            "99999999999999999999s",
            "9999999999999999999w",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
