//! Machine records and read views, cached per replica and validated by the store's access stamp
//! ([`AccessStamp`]).
//!
//! Every entry carries the stamp it was read at (or an older one: a view read after a stamp was
//! read is at least as new as that stamp). An entry answers a request only if the stamp read for
//! that request, after it arrived, is exactly the entry's: the stamp moves in the same
//! transaction as any change to the data behind the entry, so equal stamps mean the entry is
//! what the database would answer now, on this replica or any other. A revocation, a removed
//! grant, a new version or a freeze therefore reaches the very next request everywhere, and the
//! cache saves only the queries, never a check: expiry (`expires_ms`) is still judged per
//! request against the clock, and policy counters are still taken per read.
//!
//! Bounded by two generations of at most [`GENERATION`] entries each: a hit in the older one is
//! moved to the newer, and when the newer is full the older is dropped whole. That is an
//! approximate LRU at the cost of a map insert, with no per-entry bookkeeping. Views hold
//! wrapped keys and ciphertext only, never plaintext, and are never logged.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use signet_proto::{MachineId, SecretId};
use signet_store::{AccessStamp, MachineAtPolicy, SecretReadView};

/// Entries per generation, per map: at most twice this many live in each. A view is a few
/// hundred bytes plus its ciphertext, so the two maps stay within a few megabytes however many
/// machines and secrets the vault holds.
const GENERATION: usize = 4096;

/// Two generations of stamped entries.
struct Generations<K, V> {
    young: HashMap<K, (AccessStamp, V)>,
    old: HashMap<K, (AccessStamp, V)>,
}

impl<K: Eq + Hash, V: Clone> Generations<K, V> {
    fn new() -> Self {
        Self {
            young: HashMap::new(),
            old: HashMap::new(),
        }
    }

    /// The entry for `key` if it was read at exactly `stamp`. An entry at another stamp stays:
    /// a request that read an older stamp than a concurrent one does not evict the newer entry,
    /// and one that is outdated is replaced by the next insert.
    fn get(&mut self, key: &K, stamp: AccessStamp) -> Option<V> {
        if let Some((s, v)) = self.young.get(key) {
            return (*s == stamp).then(|| v.clone());
        }
        let (k, (s, v)) = self.old.remove_entry(key)?;
        let hit = (s == stamp).then(|| v.clone());
        self.insert(k, s, v);
        hit
    }

    /// Keeps `value`, read at `stamp`, unless a newer entry for the key is already kept.
    fn insert(&mut self, key: K, stamp: AccessStamp, value: V) {
        if self.young.get(&key).is_some_and(|(s, _)| *s > stamp) {
            return;
        }
        if self.young.len() >= GENERATION && !self.young.contains_key(&key) {
            self.old = std::mem::take(&mut self.young);
        }
        self.young.insert(key, (stamp, value));
    }
}

/// The stamped caches of one process, shared by authentication and the read path.
pub(crate) struct StampedCache {
    machines: Mutex<Generations<MachineId, Arc<MachineAtPolicy>>>,
    views: Mutex<Generations<(MachineId, SecretId), Arc<SecretReadView>>>,
}

impl Default for StampedCache {
    fn default() -> Self {
        Self {
            machines: Mutex::new(Generations::new()),
            views: Mutex::new(Generations::new()),
        }
    }
}

impl StampedCache {
    /// The last lookup of `id` this process made, whatever its stamp: authentication uses it
    /// tentatively (the allowlist and the signature, with a public key that never changes for
    /// a machine id) and checks its stamp once the request's own stamp is known.
    pub(crate) fn machine(&self, id: &MachineId) -> Option<Arc<MachineAtPolicy>> {
        // A poisoned lock means a panic mid-insert of a map whose entries are each complete;
        // the maps are still sound, and stale entries are rejected by their stamps.
        let mut m = self.machines.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, v)) = m.young.get(id) {
            return Some(v.clone());
        }
        let (k, (s, v)) = m.old.remove_entry(id)?;
        m.insert(k, s, v.clone());
        Some(v)
    }

    /// Keeps a machine lookup, tagged with the stamp its own statement read.
    pub(crate) fn keep_machine(&self, found: Arc<MachineAtPolicy>) {
        let Some(record) = &found.machine else {
            return;
        };
        let id = record.id;
        let stamp = found.access_stamp;
        let mut m = self.machines.lock().unwrap_or_else(|e| e.into_inner());
        m.insert(id, stamp, found);
    }

    /// The view of `secret` for `machine` if it was read at exactly `stamp`.
    pub(crate) fn view(
        &self,
        machine: &MachineId,
        secret: &SecretId,
        stamp: AccessStamp,
    ) -> Option<Arc<SecretReadView>> {
        let mut v = self.views.lock().unwrap_or_else(|e| e.into_inner());
        v.get(&(*machine, secret.clone()), stamp)
    }

    /// Keeps a view read after `stamp` was read.
    pub(crate) fn keep_view(
        &self,
        machine: &MachineId,
        secret: &SecretId,
        stamp: AccessStamp,
        view: Arc<SecretReadView>,
    ) {
        let mut v = self.views.lock().unwrap_or_else(|e| e.into_inner());
        v.insert((*machine, secret.clone()), stamp, view);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_answers_only_its_own_stamp() {
        let mut g: Generations<u32, &str> = Generations::new();
        g.insert(1, AccessStamp(5), "five");
        assert_eq!(g.get(&1, AccessStamp(5)), Some("five"));
        assert_eq!(g.get(&1, AccessStamp(6)), None);
        assert_eq!(g.get(&1, AccessStamp(4)), None);
        // An older read does not replace a newer entry.
        g.insert(1, AccessStamp(4), "four");
        assert_eq!(g.get(&1, AccessStamp(5)), Some("five"));
        g.insert(1, AccessStamp(6), "six");
        assert_eq!(g.get(&1, AccessStamp(6)), Some("six"));
    }

    #[test]
    fn the_maps_stay_bounded_and_keep_recent_entries() {
        let mut g: Generations<usize, usize> = Generations::new();
        let s = AccessStamp(1);
        for k in 0..GENERATION * 5 {
            g.insert(k, s, k);
            // A key read again keeps being found however many others come after it.
            assert_eq!(g.get(&0, s), Some(0));
            assert!(g.young.len() + g.old.len() <= 2 * GENERATION);
        }
        assert_eq!(g.get(&(GENERATION * 5 - 1), s), Some(GENERATION * 5 - 1));
        assert_eq!(g.get(&1, s), None);
    }
}
