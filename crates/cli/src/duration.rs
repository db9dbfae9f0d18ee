//! Durations on the command line, as clap value parsers over the one parser the server's
//! configuration uses too ([`signet_core::duration`], jiff's friendly format): `30s`, `10m`,
//! `1h`, `7d`, `2w`, sums like `1h30m`, `1 hour`, ISO 8601 `PT1H`, or a bare number of seconds.

/// Parses a lifetime into whole seconds. Zero and negative durations are refused: every
/// duration here is a lifetime or an interval, and a zero one is always a mistake.
pub fn parse(s: &str) -> Result<u64, String> {
    signet_core::duration::lifetime_secs(s).map_err(|e| e.to_string())
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
        assert_eq!(parse("90m"), Ok(5400));
    }

    #[test]
    fn refuses_malformed_zero_negative_and_overflow() {
        for bad in [
            "",
            "0",
            "0s",
            "h",
            "1x",
            "1h30",
            "-1h",
            "1h ago",
            "99999999999999999999s",
            "9999999999999999999w",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
