//! The vault IP allowlist.

use async_trait::async_trait;

use crate::StoreResult;

/// One allowlisted CIDR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowlistEntry {
    /// Public id.
    pub id: String,
    /// The network, in canonical `addr/prefix` form.
    pub cidr: String,
    /// A label for people.
    pub label: String,
    /// Unix ms.
    pub created_ms: i64,
}

/// The vault IP allowlist. Whether it is enforced is a vault setting.
#[async_trait]
pub trait NetworkStore {
    /// Adds an entry. `Conflict::Cidr` if the CIDR is listed already.
    async fn insert_allowlist_entry(&self, entry: &AllowlistEntry) -> StoreResult<()>;
    /// Removes an entry. `NotFound` if missing.
    async fn remove_allowlist_entry(&self, id: &str) -> StoreResult<()>;
    /// All entries, oldest first.
    async fn allowlist(&self) -> StoreResult<Vec<AllowlistEntry>>;
}
