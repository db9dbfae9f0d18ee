//! Network rules: the vault IP allowlist and per-machine CIDRs.
//!
//! Addresses are compared in canonical form: an IPv4-mapped IPv6 address (`::ffff:10.0.0.1`) is
//! the IPv4 address it maps, so it cannot slip past an IPv4 rule.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use ipnet::IpNet;
use serde::Serialize;
use signet_store::{AllowlistEntry, Change, FeedState, Store, StoreResult};

use crate::auth::AuthedOperator;
use crate::role::Permission;
use crate::{CoreError, CoreResult, Signet};

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

/// The vault-level network state every machine request consults.
#[derive(Debug, Clone, Default)]
struct Policy {
    allowlist_enabled: bool,
    nets: Vec<IpNet>,
}

/// A snapshot of the vault's network policy.
///
/// It is reloaded after every change this process makes, and, when several replicas share the
/// store, whenever the store's change feed reports a change made anywhere. While the feed is down
/// the snapshot is not trusted at all: every request reads the policy from the store, so a
/// replica never admits an address that another replica has just removed.
pub(crate) struct PolicyCache(Arc<PolicyState>);

struct PolicyState {
    policy: RwLock<Policy>,
    /// Counts changes reported by the feed.
    reported: AtomicU64,
    /// The value of `reported` when the snapshot was read; older than `reported` means stale.
    loaded: AtomicU64,
    /// The feed is down, so changes may go unreported.
    blind: AtomicBool,
}

impl PolicyState {
    fn on_change(&self, change: Change) {
        match change {
            Change::Policy => {
                self.reported.fetch_add(1, Ordering::SeqCst);
            }
            Change::Lost => self.blind.store(true, Ordering::SeqCst),
            Change::Resumed => {
                // Bump first: a request between the two stores must reload, not trust the
                // snapshot taken while the feed was down.
                self.reported.fetch_add(1, Ordering::SeqCst);
                self.blind.store(false, Ordering::SeqCst);
            }
        }
    }

    fn fresh(&self) -> bool {
        !self.blind.load(Ordering::SeqCst)
            && self.loaded.load(Ordering::SeqCst) == self.reported.load(Ordering::SeqCst)
    }
}

impl PolicyCache {
    /// Watches `store` for changes, then loads the policy, in that order, so nothing changed
    /// after the load goes unnoticed.
    pub(crate) async fn load(store: &dyn Store) -> StoreResult<Self> {
        let state = Arc::new(PolicyState {
            policy: RwLock::new(Policy::default()),
            reported: AtomicU64::new(0),
            loaded: AtomicU64::new(0),
            blind: AtomicBool::new(false),
        });
        let watcher = Arc::clone(&state);
        let feed = store.watch(Arc::new(move |change| watcher.on_change(change)));
        if feed == FeedState::Down {
            state.blind.store(true, Ordering::SeqCst);
        }
        let cache = Self(state);
        cache.refresh(store).await?;
        Ok(cache)
    }

    pub(crate) async fn refresh(&self, store: &dyn Store) -> StoreResult<()> {
        // Read the counter before the store: a change reported during the load leaves the
        // snapshot marked stale, to be read again by the next request.
        let generation = self.0.reported.load(Ordering::SeqCst);
        let enabled = store.vault().await?.is_some_and(|v| v.ip_allowlist_enabled);
        let nets = store
            .allowlist()
            .await?
            .iter()
            .filter_map(|e| e.cidr.parse().ok())
            .collect();
        // A poisoned lock only means a writer panicked mid-assignment of a plain value; the
        // value is still a whole Policy, so recover it.
        let mut p = self.0.policy.write().unwrap_or_else(|e| e.into_inner());
        *p = Policy {
            allowlist_enabled: enabled,
            nets,
        };
        self.0.loaded.fetch_max(generation, Ordering::SeqCst);
        Ok(())
    }

    /// Step 1 of machine authentication. Enabled and empty admits nothing. Reads the store
    /// first when the snapshot may be stale; fails (closed) if it cannot.
    /// An unknown address is inside no entry, so an enabled allowlist refuses it.
    pub(crate) async fn ip_allowed(&self, store: &dyn Store, ip: ClientAddr) -> StoreResult<bool> {
        if !self.0.fresh() {
            self.refresh(store).await?;
        }
        let p = self.0.policy.read().unwrap_or_else(|e| e.into_inner());
        Ok(!p.allowlist_enabled || p.nets.iter().any(|n| ip.within(n)))
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
        self.audited(op, "ip_allowlist_add", &entry.id, &entry.cidr)
            .insert_allowlist_entry(&entry)
            .await?;
        self.policy.refresh(self.store.as_ref()).await?;
        Ok(entry.into())
    }

    /// Removes an entry.
    pub async fn allowlist_remove(&self, op: &AuthedOperator, id: &str) -> CoreResult<()> {
        self.require(op, Permission::ManageAllowlist, "ip_allowlist_remove")
            .await?;
        self.require_step_up(op, "ip_allowlist_remove").await?;
        self.audited(op, "ip_allowlist_remove", id, "")
            .remove_allowlist_entry(id)
            .await?;
        self.policy.refresh(self.store.as_ref()).await?;
        Ok(())
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
        self.audited(op, action, "", "")
            .set_ip_allowlist_enabled(enabled)
            .await?;
        self.policy.refresh(self.store.as_ref()).await?;
        self.allowlist().await
    }

    /// Whether enrollment from `ip` passes the vault allowlist.
    pub(crate) async fn enrollment_ip_allowed(&self, ip: ClientAddr) -> CoreResult<bool> {
        Ok(self.policy.ip_allowed(self.store.as_ref(), ip).await?)
    }
}

#[cfg(test)]
mod tests {
    use signet_store::{NetworkStore, VaultStore};

    use super::*;

    #[test]
    fn cidrs_must_be_canonical() {
        assert!(parse_cidr("10.0.0.0/8").is_ok());
        assert!(parse_cidr("2001:db8::/32").is_ok());
        assert!(parse_cidr("10.0.0.1/8").is_err());
        assert!(parse_cidr("10.0.0.0").is_err());
        assert!(parse_cidr("010.0.0.0/8").is_err());
    }

    fn entry(id: &str, cidr: &str) -> AllowlistEntry {
        AllowlistEntry {
            id: id.into(),
            cidr: cidr.into(),
            label: String::new(),
            created_ms: 1,
        }
    }

    /// Writes made behind the cache's back stand for another replica's writes: the snapshot
    /// holds until the feed reports them, and is not trusted at all while the feed is down.
    #[tokio::test]
    async fn the_change_feed_invalidates_the_policy_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let store = signet_store_sqlite::SqliteStore::open(&dir.path().join("s.db")).unwrap();
        let vault = signet_store::VaultRecord {
            id: signet_proto::VaultId::parse("vault_a1b2c3d4e5f6g7h8").unwrap(),
            key_check: vec![0; 32],
            tokenless_enrollment: false,
            ip_allowlist_enabled: true,
            created_ms: 1,
            cli_key_ttl_ms: 43_200_000,
            enrollment_proof_required: false,
        };
        store.create_vault(&vault).await.unwrap();
        store
            .insert_allowlist_entry(&entry("ipa_1", "10.0.0.0/8"))
            .await
            .unwrap();
        let cache = PolicyCache::load(&store).await.unwrap();
        let inside: ClientAddr = "10.1.1.1".parse().unwrap();
        let other: ClientAddr = "192.168.1.1".parse().unwrap();
        assert!(cache.ip_allowed(&store, inside).await.unwrap());
        assert!(!cache.ip_allowed(&store, other).await.unwrap());
        assert!(
            !cache.ip_allowed(&store, ClientAddr::Unknown).await.unwrap(),
            "an unknown address is inside no entry"
        );

        // Unreported, the snapshot stands: that is what the feed is for.
        store
            .insert_allowlist_entry(&entry("ipa_2", "192.168.0.0/16"))
            .await
            .unwrap();
        assert!(!cache.ip_allowed(&store, other).await.unwrap());
        cache.0.on_change(Change::Policy);
        assert!(cache.ip_allowed(&store, other).await.unwrap());

        // Feed down: every request reads the store, so an unreported removal still counts.
        cache.0.on_change(Change::Lost);
        store.remove_allowlist_entry("ipa_2").await.unwrap();
        assert!(!cache.ip_allowed(&store, other).await.unwrap());
        store.remove_allowlist_entry("ipa_1").await.unwrap();
        assert!(!cache.ip_allowed(&store, inside).await.unwrap());

        // Back up: one reload, then the snapshot is trusted again.
        cache.0.on_change(Change::Resumed);
        store.set_ip_allowlist_enabled(false).await.unwrap();
        assert!(cache.ip_allowed(&store, other).await.unwrap());
        store.set_ip_allowlist_enabled(true).await.unwrap();
        assert!(
            cache.ip_allowed(&store, other).await.unwrap(),
            "a live feed's snapshot is used until the next report"
        );
        cache.0.on_change(Change::Policy);
        assert!(!cache.ip_allowed(&store, other).await.unwrap());
    }

    #[test]
    fn an_unknown_address_is_inside_no_network() {
        let everything = vec!["0.0.0.0/0".to_owned(), "::/0".to_owned()];
        assert!(ip_in_cidrs("192.0.2.1".parse().unwrap(), &everything));
        assert!(!ip_in_cidrs(ClientAddr::Unknown, &everything));
        assert_eq!(ClientAddr::Unknown.to_string(), "unknown");
        assert!("unknown".parse::<ClientAddr>().is_err());
        assert_eq!(
            "::ffff:10.0.0.1".parse::<ClientAddr>().unwrap().to_string(),
            "10.0.0.1"
        );
    }

    #[test]
    fn mapped_addresses_match_ipv4_rules() {
        let cidrs = vec!["10.0.0.0/8".to_owned()];
        assert!(ip_in_cidrs("10.1.2.3".parse().unwrap(), &cidrs));
        assert!(ip_in_cidrs("::ffff:10.1.2.3".parse().unwrap(), &cidrs));
        assert!(!ip_in_cidrs("11.1.2.3".parse().unwrap(), &cidrs));
    }
}
