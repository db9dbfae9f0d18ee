//! Durations on the command line, as clap value parsers over the one parser the server's
//! configuration uses too ([`signet_core::duration`], jiff's friendly format): `30s`, `10m`,
//! `1h`, `7d`, `2w`, sums like `1h30m`, `1 hour`, ISO 8601 `PT1H`, or a bare number of seconds.

/// Parses a lifetime into whole seconds. Zero and negative durations are refused: every
/// duration here is a lifetime or an interval, and a zero one is always a mistake. The forms
/// and refusals are tested once, where the parser lives (`signet_core::duration`).
pub fn parse(s: &str) -> Result<u64, String> {
    signet_core::duration::lifetime_secs(s).map_err(|e| e.to_string())
}
