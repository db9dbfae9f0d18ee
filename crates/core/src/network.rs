//! Network rules: the vault IP allowlist and per-machine CIDRs.
//!
//! Addresses are compared in canonical form: an IPv4-mapped IPv6 address (`::ffff:10.0.0.1`) is
//! the IPv4 address it maps, so it cannot slip past an IPv4 rule.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use ipnet::IpNet;
use signet_api::audit::AuditAction;
use signet_store::{AllowlistEntry, Change, PolicyVersion, Store, StoreError, StoreResult};

pub use crate::address::{ClientAddr, ip_in_cidrs, parse_cidr};
use crate::context::Context;
use crate::principal::AuthedOperator;
use crate::role::Permission;
use crate::{CoreError, CoreResult};

/// The vault-level network state every machine request consults.
#[derive(Debug, Clone, Default)]
struct Policy {
    allowlist_enabled: bool,
    nets: Vec<IpNet>,
}

/// A policy and the stamp it was read at (at least as new as the stamp: the stamp is read
/// first, the policy after it).
#[derive(Debug, Clone, Default)]
struct Snapshot {
    version: PolicyVersion,
    policy: Arc<Policy>,
}

/// A snapshot of the vault's network policy, kept current by the policy stamp.
///
/// Every write to the policy advances the vault's stamp in its own transaction
/// ([`PolicyVersion`]), and every signed request reads the stamp in the statement that loads its
/// machine. A request whose stamp is newer than the snapshot reloads it before anything is
/// decided, so a change made through any replica binds every replica from the next request on,
/// whether or not its change notification has arrived. The change feed is only a hint: a report
/// marks the snapshot stale so it is reloaded early, before a request has to wait for it.
/// Reloads are single-flight: concurrent requests that find the snapshot stale wait for one load.
#[derive(Clone)]
pub(crate) struct PolicyCache(Arc<PolicyState>);

struct PolicyState {
    snapshot: RwLock<Snapshot>,
    /// Counts changes reported by the feed.
    reported: AtomicU64,
    /// The value of `reported` when the snapshot was read; older than `reported` means stale.
    loaded: AtomicU64,
    /// Held while the snapshot is being reloaded, so one load serves every waiting request.
    reload: tokio::sync::Mutex<()>,
    /// How many times the policy was read from the store (single flight is tested on it).
    loads: AtomicU64,
}

impl PolicyState {
    fn on_change(&self, change: Change) {
        match change {
            // After an outage anything may have changed; one early reload catches up. Requests
            // never depended on the feed, so an outage itself needs no reaction.
            Change::Policy | Change::Resumed => {
                self.reported.fetch_add(1, Ordering::SeqCst);
            }
            Change::Lost | Change::Audit => {}
        }
    }

    fn snapshot(&self) -> Snapshot {
        // A poisoned lock only means a writer panicked mid-assignment of a plain value; the
        // value is still a whole Snapshot, so recover it.
        self.snapshot
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Whether the snapshot may be used for a request that read `stamp`.
    fn current_for(&self, stamp: PolicyVersion) -> bool {
        self.loaded.load(Ordering::SeqCst) == self.reported.load(Ordering::SeqCst)
            && self.snapshot().version >= stamp
    }
}

impl PolicyCache {
    /// Watches `store` for changes, then loads the policy.
    pub(crate) async fn load(store: &dyn Store) -> StoreResult<Self> {
        let state = Arc::new(PolicyState {
            snapshot: RwLock::new(Snapshot::default()),
            reported: AtomicU64::new(0),
            loaded: AtomicU64::new(0),
            reload: tokio::sync::Mutex::new(()),
            loads: AtomicU64::new(0),
        });
        let watcher = Arc::clone(&state);
        // Whether the feed is live does not matter: it only ever brings a reload forward.
        let _ = store.watch(Arc::new(move |change| watcher.on_change(change)));
        let cache = Self(state);
        cache.refresh(store).await?;
        Ok(cache)
    }

    /// Reloads the snapshot now (after this process's own policy writes).
    pub(crate) async fn refresh(&self, store: &dyn Store) -> StoreResult<()> {
        let _flight = self.0.reload.lock().await;
        self.read(store).await
    }

    /// Reads the stamp, then the policy, and installs them; the caller holds `reload`.
    async fn read(&self, store: &dyn Store) -> StoreResult<()> {
        // The feed counter before the store: a change reported during the load leaves the
        // snapshot marked stale, to be read again early.
        let generation = self.0.reported.load(Ordering::SeqCst);
        self.0.loads.fetch_add(1, Ordering::Relaxed);
        // The stamp before the policy: what is read after it is at least that new, so the
        // snapshot never claims a stamp its contents are older than.
        let version = store.policy_version().await?;
        let enabled = store.vault().await?.is_some_and(|v| v.ip_allowlist_enabled);
        let nets = store
            .allowlist()
            .await?
            .iter()
            .filter_map(|e| e.cidr.parse().ok())
            .collect();
        // Loads are serialised by `reload`, so this replaces an older load, never a newer one.
        *self.0.snapshot.write().unwrap_or_else(|e| e.into_inner()) = Snapshot {
            version,
            policy: Arc::new(Policy {
                allowlist_enabled: enabled,
                nets,
            }),
        };
        self.0.loaded.fetch_max(generation, Ordering::SeqCst);
        Ok(())
    }

    /// A snapshot at least as new as `stamp`, reloading first if needed (single-flight).
    async fn at(&self, store: &dyn Store, stamp: PolicyVersion) -> StoreResult<Arc<Policy>> {
        if !self.0.current_for(stamp) {
            let _flight = self.0.reload.lock().await;
            // Another request's load, finished while this one waited, may have done it.
            if !self.0.current_for(stamp) {
                self.read(store).await?;
            }
        }
        let snapshot = self.0.snapshot();
        if snapshot.version < stamp {
            // The load read the stamp after the request did; the store went backwards (a
            // restored backup, say). Deciding on an older policy is what this cache exists
            // to prevent, so refuse to decide.
            tracing::error!(
                snapshot = snapshot.version.0,
                stamp = stamp.0,
                "the policy stamp went backwards"
            );
            return Err(StoreError::Unavailable);
        }
        Ok(snapshot.policy)
    }

    /// Step 1 of machine authentication, for a request that read `stamp` (with its machine, or
    /// on its own): enabled and empty admits nothing. Reloads first when the snapshot is older
    /// than the stamp or the feed reported a change; fails (closed) if it cannot.
    /// An unknown address is inside no entry, so an enabled allowlist refuses it.
    pub(crate) async fn ip_allowed(
        &self,
        store: &dyn Store,
        stamp: PolicyVersion,
        ip: ClientAddr,
    ) -> StoreResult<bool> {
        let p = self.at(store, stamp).await?;
        Ok(!p.allowlist_enabled || p.nets.iter().any(|n| ip.within(n)))
    }
}

/// The allowlist as shown to operators.
#[derive(Debug, Clone)]
pub struct AllowlistView {
    /// Whether it is enforced.
    pub enabled: bool,
    /// Its entries.
    pub entries: Vec<EntryView>,
}

/// One entry.
#[derive(Debug, Clone)]
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

/// The vault IP allowlist: its operator API and the cached policy every machine request reads.
#[derive(Clone)]
pub struct Network {
    /// The shared store, keys, clock, audit writer and permission checks.
    pub(crate) cx: Arc<Context>,
    /// The allowlist, read on every machine request, so cached: reloaded whenever a request's policy stamp is newer than the cache (another replica changed it), after this process's own changes, and early when the store's change feed reports one.
    pub(crate) policy: PolicyCache,
}

impl Network {
    /// The allowlist and whether it is enforced.
    pub async fn allowlist(&self) -> CoreResult<AllowlistView> {
        let enabled = self
            .cx
            .store
            .vault()
            .await?
            .is_some_and(|v| v.ip_allowlist_enabled);
        let entries = self
            .cx
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
        self.cx
            .require(op, Permission::ManageAllowlist, AuditAction::IpAllowlistAdd)
            .await?;
        self.cx
            .require_step_up(op, AuditAction::IpAllowlistAdd)
            .await?;
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
            created_ms: self.cx.now_ms(),
        };
        self.cx
            .audited(op, AuditAction::IpAllowlistAdd, &entry.id, &entry.cidr)
            .insert_allowlist_entry(&entry)
            .await?;
        self.policy.refresh(self.cx.store.as_ref()).await?;
        Ok(entry.into())
    }

    /// Removes an entry.
    pub async fn allowlist_remove(&self, op: &AuthedOperator, id: &str) -> CoreResult<()> {
        self.cx
            .require(
                op,
                Permission::ManageAllowlist,
                AuditAction::IpAllowlistRemove,
            )
            .await?;
        self.cx
            .require_step_up(op, AuditAction::IpAllowlistRemove)
            .await?;
        self.cx
            .audited(op, AuditAction::IpAllowlistRemove, id, "")
            .remove_allowlist_entry(id)
            .await?;
        self.policy.refresh(self.cx.store.as_ref()).await?;
        Ok(())
    }

    /// Turns enforcement on or off.
    pub async fn allowlist_set_enabled(
        &self,
        op: &AuthedOperator,
        enabled: bool,
    ) -> CoreResult<AllowlistView> {
        let action = if enabled {
            AuditAction::IpAllowlistEnable
        } else {
            AuditAction::IpAllowlistDisable
        };
        self.cx
            .require(op, Permission::ManageAllowlist, action)
            .await?;
        self.cx.require_step_up(op, action).await?;
        self.cx
            .audited(op, action, "", "")
            .set_ip_allowlist_enabled(enabled)
            .await?;
        self.policy.refresh(self.cx.store.as_ref()).await?;
        self.allowlist().await
    }

    /// Whether enrollment from `ip` passes the vault allowlist. Enrollment has no machine to
    /// look up, so it reads the stamp on its own: one indexed read, on a rare path.
    pub(crate) async fn enrollment_ip_allowed(&self, ip: ClientAddr) -> CoreResult<bool> {
        let stamp = self.cx.store.policy_version().await?;
        Ok(self
            .policy
            .ip_allowed(self.cx.store.as_ref(), stamp, ip)
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use signet_store::{NetworkStore, VaultStore};

    use super::*;

    fn entry(id: &str, cidr: &str) -> AllowlistEntry {
        AllowlistEntry {
            id: id.into(),
            cidr: cidr.into(),
            label: String::new(),
            created_ms: 1,
        }
    }

    /// Writes made behind the cache's back stand for another replica's writes: a request that
    /// read the newer stamp reloads before deciding, with or without a report from the feed; a
    /// report alone reloads early.
    #[tokio::test]
    async fn a_newer_stamp_or_a_report_reloads_the_policy_snapshot() {
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
            sso_required: false,
            break_glass_user: None,
            sso_trust_provider_mfa: false,
        };
        store.create_vault(&vault).await.unwrap();
        store
            .insert_allowlist_entry(&entry("ipa_1", "10.0.0.0/8"))
            .await
            .unwrap();
        let cache = PolicyCache::load(&store).await.unwrap();
        let inside: ClientAddr = "10.1.1.1".parse().unwrap();
        let other: ClientAddr = "192.168.1.1".parse().unwrap();
        let old = store.policy_version().await.unwrap();
        assert!(cache.ip_allowed(&store, old, inside).await.unwrap());
        assert!(!cache.ip_allowed(&store, old, other).await.unwrap());
        assert!(
            !cache
                .ip_allowed(&store, old, ClientAddr::Unknown)
                .await
                .unwrap(),
            "an unknown address is inside no entry"
        );

        // Another replica adds an entry and no report comes: a request that read its stamp
        // before the change may still be decided on the old snapshot, one that read it after
        // may not.
        store
            .insert_allowlist_entry(&entry("ipa_2", "192.168.0.0/16"))
            .await
            .unwrap();
        assert!(!cache.ip_allowed(&store, old, other).await.unwrap());
        let new = store.policy_version().await.unwrap();
        assert!(new > old);
        assert!(cache.ip_allowed(&store, new, other).await.unwrap());

        // Removals and disabling too, and a lost feed changes nothing.
        cache.0.on_change(Change::Lost);
        store.remove_allowlist_entry("ipa_2").await.unwrap();
        let stamp = store.policy_version().await.unwrap();
        assert!(!cache.ip_allowed(&store, stamp, other).await.unwrap());
        store.set_ip_allowlist_enabled(false).await.unwrap();
        let stamp = store.policy_version().await.unwrap();
        assert!(cache.ip_allowed(&store, stamp, other).await.unwrap());

        // A report reloads early, even for a request that read an older stamp.
        store.set_ip_allowlist_enabled(true).await.unwrap();
        assert!(cache.ip_allowed(&store, stamp, other).await.unwrap());
        cache.0.on_change(Change::Policy);
        assert!(!cache.ip_allowed(&store, stamp, other).await.unwrap());
        assert!(cache.ip_allowed(&store, stamp, inside).await.unwrap());
    }

    /// Many requests that find the snapshot stale share one load.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_stale_requests_share_one_reload() {
        let dir = tempfile::tempdir().unwrap();
        let store =
            Arc::new(signet_store_sqlite::SqliteStore::open(&dir.path().join("s.db")).unwrap());
        let vault = signet_store::VaultRecord {
            id: signet_proto::VaultId::parse("vault_a1b2c3d4e5f6g7h8").unwrap(),
            key_check: vec![0; 32],
            tokenless_enrollment: false,
            ip_allowlist_enabled: false,
            created_ms: 1,
            cli_key_ttl_ms: 43_200_000,
            enrollment_proof_required: false,
            sso_required: false,
            break_glass_user: None,
            sso_trust_provider_mfa: false,
        };
        store.create_vault(&vault).await.unwrap();
        let cache = Arc::new(PolicyCache::load(store.as_ref()).await.unwrap());
        store.set_ip_allowlist_enabled(true).await.unwrap();
        let stamp = store.policy_version().await.unwrap();
        let before = cache.0.loads.load(Ordering::SeqCst);
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..32 {
            let (cache, store) = (Arc::clone(&cache), Arc::clone(&store));
            tasks.spawn(async move {
                cache
                    .ip_allowed(store.as_ref(), stamp, "10.0.0.1".parse().unwrap())
                    .await
                    .unwrap()
            });
        }
        for allowed in tasks.join_all().await {
            assert!(!allowed, "every request sees the enabled, empty allowlist");
        }
        assert_eq!(cache.0.snapshot().version, stamp);
        assert_eq!(cache.0.loads.load(Ordering::SeqCst), before + 1);
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
