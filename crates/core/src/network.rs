//! Network rules: the vault IP allowlist and per-machine CIDRs.
//!
//! Addresses are compared in canonical form: an IPv4-mapped IPv6 address (`::ffff:10.0.0.1`) is
//! the IPv4 address it maps, so it cannot slip past an IPv4 rule.

use std::net::IpAddr;
use std::sync::RwLock;

use ipnet::IpNet;
use serde::Serialize;
use signet_store::{AllowlistEntry, Store, StoreResult};

use crate::auth::AuthedOperator;
use crate::role::Permission;
use crate::{CoreError, CoreResult, Signet};

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
/// nothing).
pub fn ip_in_cidrs(ip: IpAddr, cidrs: &[String]) -> bool {
    let ip = ip.to_canonical();
    cidrs
        .iter()
        .filter_map(|c| c.parse::<IpNet>().ok())
        .any(|n| n.contains(&ip))
}

/// The vault-level network state every machine request consults.
#[derive(Debug, Clone, Default)]
struct Policy {
    allowlist_enabled: bool,
    nets: Vec<IpNet>,
}

/// A snapshot of the vault's network policy, refreshed by every change this process makes.
pub(crate) struct PolicyCache(RwLock<Policy>);

impl PolicyCache {
    pub(crate) async fn load(store: &dyn Store) -> StoreResult<Self> {
        let cache = Self(RwLock::new(Policy::default()));
        cache.refresh(store).await?;
        Ok(cache)
    }

    pub(crate) async fn refresh(&self, store: &dyn Store) -> StoreResult<()> {
        let enabled = store.vault().await?.is_some_and(|v| v.ip_allowlist_enabled);
        let nets = store
            .allowlist()
            .await?
            .iter()
            .filter_map(|e| e.cidr.parse().ok())
            .collect();
        // A poisoned lock only means a writer panicked mid-assignment of a plain value; the
        // value is still a whole Policy, so recover it.
        let mut p = self.0.write().unwrap_or_else(|e| e.into_inner());
        *p = Policy {
            allowlist_enabled: enabled,
            nets,
        };
        Ok(())
    }

    /// Step 1 of machine authentication. Enabled and empty admits nothing.
    pub(crate) fn ip_allowed(&self, ip: IpAddr) -> bool {
        let p = self.0.read().unwrap_or_else(|e| e.into_inner());
        let ip = ip.to_canonical();
        !p.allowlist_enabled || p.nets.iter().any(|n| n.contains(&ip))
    }
}

/// The allowlist as shown to operators.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AllowlistView {
    /// Whether it is enforced.
    pub enabled: bool,
    /// Its entries.
    pub entries: Vec<EntryView>,
}

/// One entry.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EntryView {
    /// Its id.
    pub id: String,
    /// The network.
    pub cidr: String,
    /// A label.
    pub label: String,
    /// Unix ms.
    pub created_at: i64,
}

impl From<AllowlistEntry> for EntryView {
    fn from(e: AllowlistEntry) -> Self {
        Self {
            id: e.id,
            cidr: e.cidr,
            label: e.label,
            created_at: e.created_ms,
        }
    }
}

pub(crate) fn new_public_id(prefix: &str) -> String {
    let mut raw = [0u8; 8];
    // The OS RNG failing leaves no safe way to make ids.
    #[allow(clippy::expect_used)]
    getrandom::fill(&mut raw).expect("the OS random number generator failed");
    format!("{prefix}{}", hex::encode(raw))
}

impl Signet {
    /// The allowlist and whether it is enforced.
    pub async fn allowlist(&self) -> CoreResult<AllowlistView> {
        let enabled = self
            .store
            .vault()
            .await?
            .is_some_and(|v| v.ip_allowlist_enabled);
        let entries = self
            .store
            .allowlist()
            .await?
            .into_iter()
            .map(EntryView::from)
            .collect();
        Ok(AllowlistView { enabled, entries })
    }

    /// Adds a CIDR.
    pub async fn allowlist_add(
        &self,
        op: &AuthedOperator,
        cidr: &str,
        label: &str,
    ) -> CoreResult<EntryView> {
        self.require(op, Permission::ManageAllowlist, "ip_allowlist_add")
            .await?;
        self.require_step_up(op, "ip_allowlist_add").await?;
        let net = parse_cidr(cidr)?;
        if label.chars().count() > 100 || label.chars().any(char::is_control) {
            return Err(CoreError::bad(
                "label must be at most 100 printable characters",
            ));
        }
        let entry = AllowlistEntry {
            id: new_public_id("ipa_"),
            cidr: net.to_string(),
            label: label.to_owned(),
            created_ms: self.now_ms(),
        };
        self.store.insert_allowlist_entry(&entry).await?;
        self.policy.refresh(self.store.as_ref()).await?;
        self.audit_operator(op, "ip_allowlist_add", &entry.id, &entry.cidr)
            .await?;
        Ok(entry.into())
    }

    /// Removes an entry.
    pub async fn allowlist_remove(&self, op: &AuthedOperator, id: &str) -> CoreResult<()> {
        self.require(op, Permission::ManageAllowlist, "ip_allowlist_remove")
            .await?;
        self.require_step_up(op, "ip_allowlist_remove").await?;
        self.store.remove_allowlist_entry(id).await?;
        self.policy.refresh(self.store.as_ref()).await?;
        self.audit_operator(op, "ip_allowlist_remove", id, "").await
    }

    /// Turns enforcement on or off.
    pub async fn allowlist_set_enabled(
        &self,
        op: &AuthedOperator,
        enabled: bool,
    ) -> CoreResult<AllowlistView> {
        let action = if enabled {
            "ip_allowlist_enable"
        } else {
            "ip_allowlist_disable"
        };
        self.require(op, Permission::ManageAllowlist, action)
            .await?;
        self.require_step_up(op, action).await?;
        self.store.set_ip_allowlist_enabled(enabled).await?;
        self.policy.refresh(self.store.as_ref()).await?;
        let action = if enabled {
            "ip_allowlist_enable"
        } else {
            "ip_allowlist_disable"
        };
        self.audit_operator(op, action, "", "").await?;
        self.allowlist().await
    }

    /// Whether enrollment from `ip` passes the vault allowlist.
    pub(crate) fn enrollment_ip_allowed(&self, ip: IpAddr) -> bool {
        self.policy.ip_allowed(ip)
    }
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

    #[test]
    fn mapped_addresses_match_ipv4_rules() {
        let cidrs = vec!["10.0.0.0/8".to_owned()];
        assert!(ip_in_cidrs("10.1.2.3".parse().unwrap(), &cidrs));
        assert!(ip_in_cidrs("::ffff:10.1.2.3".parse().unwrap(), &cidrs));
        assert!(!ip_in_cidrs("11.1.2.3".parse().unwrap(), &cidrs));
    }
}
