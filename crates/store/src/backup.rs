//! The backup file format (`signet backup`, `signet restore`): pure encoding, no I/O.
//!
//! ```text
//! header:  "SIGNETBK" | format version (u16 BE) | manifest length (u32 BE) | manifest (JSON)
//!          | salt (32 random bytes)
//! chunks:  { length (u32 BE) | AES-256-GCM ciphertext and tag }, the last one flagged
//! ```
//!
//! The manifest is plaintext, so `signet backup inspect` reads it without a key, and
//! authenticated: the header is every chunk's AAD and salts the file key
//! (`signet_crypto::backup`). The chunks' plaintext is the tables [`TransferStore`] exported,
//! one after another, each in the encoding of [`encode_table`]; the manifest holds every
//! table's row count and the SHA-256 of its encoding, checked before a restore writes anything.
//!
//! [`TransferStore`]: crate::TransferStore

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Cell, Table};

/// The file's first bytes.
pub const MAGIC: &[u8; 8] = b"SIGNETBK";
/// The format this build writes and the newest it reads.
pub const FORMAT_VERSION: u16 = 1;
/// Plaintext bytes per chunk (the last may be shorter).
pub const CHUNK_SIZE: u32 = 1 << 20;
/// The most a manifest may take: far above any real one, and small enough to read into memory
/// before anything is checked.
pub const MAX_MANIFEST: u32 = 16 << 20;
/// Bytes before the manifest: magic, version, manifest length.
pub const PREAMBLE_LEN: usize = 8 + 2 + 4;
/// The random salt after the manifest.
pub const SALT_LEN: usize = 32;

/// What a backup holds, in clear at the head of the file (and authenticated).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Manifest {
    /// [`FORMAT_VERSION`] when written; repeated from the preamble so the JSON stands alone.
    pub format: u16,
    /// A random id naming this backup (hex); the `backup_create` and `backup_restore` audit
    /// records name it.
    pub id: String,
    /// The Signet release that wrote the file.
    pub signet_version: String,
    /// The commit it was built from.
    pub signet_commit: String,
    /// The backend the snapshot was taken from: `sqlite` or `postgres`.
    pub backend: String,
    /// The logical schema: see [`schema_id`].
    pub schema: String,
    /// The vault.
    pub vault_id: String,
    /// When the snapshot was taken, Unix ms.
    pub created_at_ms: i64,
    /// The audit chain's head in the snapshot (none for an empty log).
    pub audit_head: Option<ManifestHead>,
    /// Every table, in the order of the payload.
    pub tables: Vec<ManifestTable>,
    /// Which key encrypts the chunks.
    pub key: ManifestKey,
    /// Plaintext bytes per chunk.
    pub chunk_size: u32,
}

/// The audit head a backup holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ManifestHead {
    /// The newest record's sequence number.
    pub seq: u64,
    /// Its chain hash, hex.
    pub hash: String,
}

/// One table of a backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ManifestTable {
    /// The logical table name.
    pub name: String,
    /// Its rows.
    pub rows: u64,
    /// SHA-256 of its encoding ([`encode_table`]), hex.
    pub sha256: String,
}

/// The key a backup was encrypted with, named without revealing it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ManifestKey {
    /// `backupKey` (a key file) or `rootKey` (derived from the installation's root key).
    pub kind: String,
    /// The key's fingerprint (`BackupKey::fingerprint`).
    pub fingerprint: String,
}

/// Why a backup file could not be read. Deliberately plain: the caller says which file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// Not a Signet backup at all.
    #[error("not a Signet backup file")]
    NotBackup,
    /// Written by a newer Signet.
    #[error(
        "the backup uses format version {0}, newer than this Signet reads ({FORMAT_VERSION}); \
         restore it with a newer signet"
    )]
    Newer(u16),
    /// Cut short or malformed.
    #[error("the backup file is truncated or damaged")]
    Damaged,
}

/// Writes the header: preamble, manifest, salt. These bytes are the chunks' AAD.
pub fn encode_header(manifest: &Manifest, salt: &[u8; SALT_LEN]) -> Result<Vec<u8>, FormatError> {
    let json = serde_json::to_vec(manifest).map_err(|_| FormatError::Damaged)?;
    let len = u32::try_from(json.len())
        .ok()
        .filter(|l| *l <= MAX_MANIFEST)
        .ok_or(FormatError::Damaged)?;
    let mut out = Vec::with_capacity(PREAMBLE_LEN + json.len() + SALT_LEN);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_be_bytes());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&json);
    out.extend_from_slice(salt);
    Ok(out)
}

/// Reads the preamble: the manifest's length. Refuses another file type and a newer format
/// before anything else is read.
pub fn decode_preamble(preamble: &[u8; PREAMBLE_LEN]) -> Result<u32, FormatError> {
    if &preamble[..8] != MAGIC {
        return Err(FormatError::NotBackup);
    }
    let version = u16::from_be_bytes([preamble[8], preamble[9]]);
    if version > FORMAT_VERSION {
        return Err(FormatError::Newer(version));
    }
    if version == 0 {
        return Err(FormatError::Damaged);
    }
    let len = u32::from_be_bytes([preamble[10], preamble[11], preamble[12], preamble[13]]);
    if len > MAX_MANIFEST {
        return Err(FormatError::Damaged);
    }
    Ok(len)
}

/// Parses the manifest that followed the preamble.
pub fn decode_manifest(json: &[u8]) -> Result<Manifest, FormatError> {
    let manifest: Manifest = serde_json::from_slice(json).map_err(|_| FormatError::Damaged)?;
    if manifest.format > FORMAT_VERSION {
        return Err(FormatError::Newer(manifest.format));
    }
    if manifest.chunk_size == 0 || manifest.chunk_size > MAX_MANIFEST {
        return Err(FormatError::Damaged);
    }
    Ok(manifest)
}

/// Names the logical schema: the first 16 hex digits of SHA-256 over every table's name and
/// columns, in order. Both backends export the same logical schema, so a SQLite and a
/// PostgreSQL installation of one release have the same id; a restore into a release whose
/// tables differ is refused by the target's import (an unknown table or column).
pub fn schema_id(tables: &[Table]) -> String {
    let mut h = Sha256::new();
    for t in tables {
        put_str(&mut h, &t.name);
        h.update((t.columns.len() as u64).to_be_bytes());
        for c in &t.columns {
            put_str(&mut h, c);
        }
    }
    hex::encode(&h.finalize()[..8])
}

fn put_str(h: &mut Sha256, s: &str) {
    h.update((s.len() as u64).to_be_bytes());
    h.update(s.as_bytes());
}

const NULL: u8 = 0;
const INT: u8 = 1;
const TEXT: u8 = 2;
const BYTES: u8 = 3;

/// Appends one table's encoding to `out`: name, columns, row count, then every cell as a tag
/// and its value. Lengths and integers are big-endian; nothing is optional, so one table has
/// one encoding and its hash is stable.
pub fn encode_table(table: &Table, out: &mut Vec<u8>) {
    put_bytes(out, table.name.as_bytes());
    out.extend_from_slice(&(table.columns.len() as u64).to_be_bytes());
    for c in &table.columns {
        put_bytes(out, c.as_bytes());
    }
    out.extend_from_slice(&(table.rows.len() as u64).to_be_bytes());
    for row in &table.rows {
        for cell in row {
            match cell {
                Cell::Null => out.push(NULL),
                Cell::Int(v) => {
                    out.push(INT);
                    out.extend_from_slice(&v.to_be_bytes());
                }
                Cell::Text(v) => {
                    out.push(TEXT);
                    put_bytes(out, v.as_bytes());
                }
                Cell::Bytes(v) => {
                    out.push(BYTES);
                    put_bytes(out, v);
                }
            }
        }
    }
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u64).to_be_bytes());
    out.extend_from_slice(b);
}

/// SHA-256 of an encoded table, hex, as the manifest holds it.
pub fn digest(encoded: &[u8]) -> String {
    hex::encode(Sha256::digest(encoded))
}

/// Reads the tables [`encode_table`] wrote, one after another, to the end of `payload`. Each
/// comes with its encoding's length, so the caller can hash exactly its bytes.
pub fn decode_tables(payload: &[u8]) -> Result<Vec<(Table, std::ops::Range<usize>)>, FormatError> {
    let mut r = Reader {
        buf: payload,
        at: 0,
    };
    let mut tables = Vec::new();
    while r.at < payload.len() {
        let start = r.at;
        let name = r.string()?;
        let ncols = r.len()?;
        let columns = (0..ncols)
            .map(|_| r.string())
            .collect::<Result<Vec<_>, _>>()?;
        let nrows = r.len()?;
        let mut rows = Vec::new();
        for _ in 0..nrows {
            let row = (0..ncols)
                .map(|_| r.cell())
                .collect::<Result<Vec<_>, _>>()?;
            rows.push(row);
        }
        tables.push((
            Table {
                name,
                columns,
                rows,
            },
            start..r.at,
        ));
    }
    Ok(tables)
}

struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], FormatError> {
        let end = self.at.checked_add(n).ok_or(FormatError::Damaged)?;
        let out = self.buf.get(self.at..end).ok_or(FormatError::Damaged)?;
        self.at = end;
        Ok(out)
    }

    fn u64(&mut self) -> Result<u64, FormatError> {
        let b: [u8; 8] = self.take(8)?.try_into().map_err(|_| FormatError::Damaged)?;
        Ok(u64::from_be_bytes(b))
    }

    /// A count or length, never more than the bytes left (each item takes at least one), so a
    /// damaged length cannot make a huge allocation.
    fn len(&mut self) -> Result<usize, FormatError> {
        let n = usize::try_from(self.u64()?).map_err(|_| FormatError::Damaged)?;
        if n > self.buf.len() - self.at {
            return Err(FormatError::Damaged);
        }
        Ok(n)
    }

    fn bytes(&mut self) -> Result<Vec<u8>, FormatError> {
        let n = self.len()?;
        Ok(self.take(n)?.to_vec())
    }

    fn string(&mut self) -> Result<String, FormatError> {
        String::from_utf8(self.bytes()?).map_err(|_| FormatError::Damaged)
    }

    fn cell(&mut self) -> Result<Cell, FormatError> {
        let tag = self.take(1)?[0];
        Ok(match tag {
            NULL => Cell::Null,
            INT => Cell::Int(self.u64()? as i64),
            TEXT => Cell::Text(self.string()?),
            BYTES => Cell::Bytes(self.bytes()?),
            _ => return Err(FormatError::Damaged),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn tables() -> Vec<Table> {
        vec![
            Table {
                name: "vault".into(),
                columns: vec!["id".into(), "n".into()],
                rows: vec![vec![Cell::Text("v".into()), Cell::Int(-3)]],
            },
            Table {
                name: "audit".into(),
                columns: vec!["hash".into()],
                rows: vec![vec![Cell::Bytes(vec![1, 2])], vec![Cell::Null]],
            },
            Table {
                name: "empty".into(),
                columns: vec![],
                rows: vec![],
            },
        ]
    }

    fn manifest() -> Manifest {
        Manifest {
            format: FORMAT_VERSION,
            id: "00".into(),
            signet_version: "0.1.0".into(),
            signet_commit: "abc".into(),
            backend: "sqlite".into(),
            schema: schema_id(&tables()),
            vault_id: "vault_x".into(),
            created_at_ms: 1,
            audit_head: Some(ManifestHead {
                seq: 2,
                hash: "ff".into(),
            }),
            tables: vec![],
            key: ManifestKey {
                kind: "rootKey".into(),
                fingerprint: "01".into(),
            },
            chunk_size: CHUNK_SIZE,
        }
    }

    #[test]
    fn tables_round_trip_and_damage_is_refused() {
        let mut payload = Vec::new();
        for t in tables() {
            encode_table(&t, &mut payload);
        }
        let back = decode_tables(&payload).unwrap();
        assert_eq!(
            back.iter().map(|(t, _)| t.clone()).collect::<Vec<_>>(),
            tables()
        );
        let mut first = Vec::new();
        encode_table(&tables()[0], &mut first);
        assert_eq!(&payload[back[0].1.clone()], first.as_slice());
        for cut in 1..payload.len() {
            assert!(
                decode_tables(&payload[..cut]).is_err()
                    || cut == back[1].1.start
                    || cut == back[2].1.start
            );
        }
        let mut bad = payload.clone();
        // The first row's first cell tag (after name, column count, columns, row count).
        let tag_at = 8 + 5 + 8 + (8 + 2) + (8 + 1) + 8;
        assert_eq!(bad[tag_at], TEXT);
        bad[tag_at] = 9;
        assert_eq!(decode_tables(&bad).unwrap_err(), FormatError::Damaged);
        // A huge length is refused, not allocated.
        let mut huge = payload.clone();
        huge[..8].copy_from_slice(&u64::MAX.to_be_bytes());
        assert_eq!(decode_tables(&huge).unwrap_err(), FormatError::Damaged);
    }

    #[test]
    fn headers_round_trip_and_newer_formats_are_refused() {
        let m = manifest();
        let header = encode_header(&m, &[7; SALT_LEN]).unwrap();
        let preamble: [u8; PREAMBLE_LEN] = header[..PREAMBLE_LEN].try_into().unwrap();
        let len = decode_preamble(&preamble).unwrap() as usize;
        assert_eq!(header.len(), PREAMBLE_LEN + len + SALT_LEN);
        assert_eq!(
            decode_manifest(&header[PREAMBLE_LEN..PREAMBLE_LEN + len]).unwrap(),
            m
        );
        let mut newer = preamble;
        newer[8..10].copy_from_slice(&(FORMAT_VERSION + 1).to_be_bytes());
        assert_eq!(
            decode_preamble(&newer),
            Err(FormatError::Newer(FORMAT_VERSION + 1))
        );
        assert!(
            FormatError::Newer(2)
                .to_string()
                .contains("newer than this Signet reads")
        );
        let mut other = preamble;
        other[0] = b'X';
        assert_eq!(decode_preamble(&other), Err(FormatError::NotBackup));
        let mut m2 = m.clone();
        m2.format = FORMAT_VERSION + 1;
        let json = serde_json::to_vec(&m2).unwrap();
        assert_eq!(
            decode_manifest(&json),
            Err(FormatError::Newer(FORMAT_VERSION + 1))
        );
        assert_eq!(decode_manifest(b"{}"), Err(FormatError::Damaged));
    }

    #[test]
    fn the_schema_id_follows_names_and_columns_only() {
        let a = tables();
        let mut b = tables();
        b[1].rows.clear();
        assert_eq!(schema_id(&a), schema_id(&b));
        b[1].columns.push("x".into());
        assert_ne!(schema_id(&a), schema_id(&b));
    }
}
