//! Client addresses and CIDR rules: the pure part of the network rules, shared by
//! authentication, the audit log and the network service (`crate::network`).
//!
//! Addresses are compared in canonical form: an IPv4-mapped IPv6 address (`::ffff:10.0.0.1`) is
//! the IPv4 address it maps, so it cannot slip past an IPv4 rule.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::{CoreError, CoreResult};

/// The client address of a request, as the server decided it.
///
/// `Unknown` is what a forwarded chain that cannot be read yields (a trusted proxy passed on a
/// hop that is not an address): no network rule can place it, so every rule refuses it. It is a
/// variant, not a sentinel address, so no CIDR can ever contain it by accident. Audit records
/// show it as `unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientAddr {
    /// A readable address, kept in canonical form (IPv4-mapped IPv6 is the IPv4 address).
    Known(IpAddr),
    /// No address could be read.
    Unknown,
}

impl ClientAddr {
    /// The address, if known.
    pub fn ip(self) -> Option<IpAddr> {
        match self {
            Self::Known(ip) => Some(ip),
            Self::Unknown => None,
        }
    }

    /// The same address in canonical form.
    pub fn to_canonical(self) -> Self {
        match self {
            Self::Known(ip) => Self::Known(ip.to_canonical()),
            Self::Unknown => Self::Unknown,
        }
    }

    /// Whether the address is inside `net`; an unknown address is inside nothing.
    pub fn within(self, net: &IpNet) -> bool {
        match self {
            Self::Known(ip) => net.contains(&ip.to_canonical()),
            Self::Unknown => false,
        }
    }
}

impl From<IpAddr> for ClientAddr {
    fn from(ip: IpAddr) -> Self {
        Self::Known(ip.to_canonical())
    }
}

/// Parses a bare address only (`10.0.0.1`, `::1`); `unknown` is never parsed into `Unknown`,
/// which only the server's own decision can produce.
impl std::str::FromStr for ClientAddr {
    type Err = std::net::AddrParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse::<IpAddr>().map(Self::from)
    }
}

impl std::fmt::Display for ClientAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Known(ip) => ip.fmt(f),
            Self::Unknown => f.write_str("unknown"),
        }
    }
}

/// Parses a CIDR and requires its canonical form (host bits clear, no leading zeros), so what an
/// operator reads back is exactly what is enforced.
pub fn parse_cidr(s: &str) -> CoreResult<IpNet> {
    let net: IpNet = s
        .parse()
        .map_err(|_| CoreError::bad(format!("not a CIDR: {s:?}")))?;
    if net.trunc() != net || net.to_string() != s {
        return Err(CoreError::bad(format!(
            "CIDR must be in canonical form: {}",
            net.trunc()
        )));
    }
    Ok(net)
}

/// Whether `ip` is inside any of `cidrs` (stored canonical strings; unparsable ones match
/// nothing). An unknown address is inside none.
pub fn ip_in_cidrs(ip: ClientAddr, cidrs: &[String]) -> bool {
    cidrs
        .iter()
        .filter_map(|c| c.parse::<IpNet>().ok())
        .any(|n| ip.within(&n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_must_be_canonical() {
        assert!(parse_cidr("10.0.0.0/8").is_ok());
        assert!(parse_cidr("2001:db8::/32").is_ok());
        assert!(parse_cidr("10.0.0.1/8").is_err());
        assert!(parse_cidr("10.0.0.0").is_err());
        assert!(parse_cidr("010.0.0.0/8").is_err());
    }
}
