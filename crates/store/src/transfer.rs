//! Moving a whole installation from one backend to another (`signet storage migrate`).
//!
//! Both backends keep the same logical schema: the same table names and column names, with
//! integers, text and bytes in matching columns. A backend may store a column with a richer type
//! (a boolean, say) as long as it exports it as the [`Cell`] the other backend exports and
//! accepts that cell back. Nothing is re-encrypted or re-chained: ciphertexts, wrapped keys and
//! audit hashes are copied byte for byte, which is what lets `signet audit verify` pass on the
//! target with the same root key.

use async_trait::async_trait;

use crate::StoreResult;

/// One value.
#[derive(Clone, PartialEq)]
pub enum Cell {
    /// SQL NULL.
    Null,
    /// An integer (also booleans, as 0 and 1, and times, as Unix ms).
    Int(i64),
    /// Text.
    Text(String),
    /// Bytes: ciphertexts, wrapped keys, hashes, public keys.
    Bytes(Vec<u8>),
}

// Cells hold ciphertexts and password hashes: never print them.
impl std::fmt::Debug for Cell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Null => "Null",
            Self::Int(_) => "Int(..)",
            Self::Text(_) => "Text(..)",
            Self::Bytes(_) => "Bytes(..)",
        })
    }
}

/// Every row of one table.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The logical table name, such as `secrets`.
    pub name: String,
    /// Column names, in the order of each row's cells.
    pub columns: Vec<String>,
    /// The rows.
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    /// The rows that are installation state: all of them, except the root keyring's generation 0
    /// row (`KeyringStore`), which every migrated store holds from the start (it names the root
    /// key file and holds no key).
    pub fn state_rows(&self) -> usize {
        if self.name == "root_keys" {
            self.rows
                .iter()
                .filter(|r| r.first() != Some(&Cell::Int(0)))
                .count()
        } else {
            self.rows.len()
        }
    }
}

/// Export and import of every table.
#[async_trait]
pub trait TransferStore {
    /// Every table that holds installation state, read in one consistent snapshot (so a running
    /// server may keep writing), parents before children so that importing them in order
    /// satisfies every foreign key. Bookkeeping such as the schema version is not included.
    async fn export_tables(&self) -> StoreResult<Vec<Table>>;
    /// Loads `tables` (as another backend exported them) into this store in one transaction.
    /// Fails with `Conflict::NotEmpty` and writes nothing unless the store holds no vault.
    /// Fails with `Corrupt` and writes nothing if a table or column is unknown here, or a cell
    /// does not fit its column. Table and column names are checked against this backend's own
    /// schema before any statement is built from them.
    async fn import_tables(&self, tables: Vec<Table>) -> StoreResult<()>;
}
