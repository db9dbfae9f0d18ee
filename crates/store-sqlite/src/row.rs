//! Conversions between stored columns and record fields. Anything that does not decode is
//! [`StoreError::Corrupt`](signet_store::StoreError::Corrupt): the store wrote it, so a bad value
//! is a bug or tampering.

use std::str::FromStr;

use rusqlite::Row;
use rusqlite::types::FromSql;
use signet_proto::PublicKey;
use signet_store::StoreResult;

use crate::error::{corrupt, db};

/// One column, with driver errors mapped.
pub(crate) fn col<T: FromSql>(row: &Row<'_>, idx: usize) -> StoreResult<T> {
    row.get(idx).map_err(db)
}

/// An id in its wire form.
pub(crate) fn id<T: FromStr>(row: &Row<'_>, idx: usize) -> StoreResult<T> {
    let s: String = col(row, idx)?;
    s.parse().map_err(|_| corrupt("id"))
}

/// An optional id in its wire form.
pub(crate) fn opt_id<T: FromStr>(row: &Row<'_>, idx: usize) -> StoreResult<Option<T>> {
    let s: Option<String> = col(row, idx)?;
    s.map(|s| s.parse().map_err(|_| corrupt("id"))).transpose()
}

/// A stored enum name, parsed with the record type's own `parse`.
pub(crate) fn name<T>(row: &Row<'_>, idx: usize, parse: fn(&str) -> Option<T>) -> StoreResult<T> {
    let s: String = col(row, idx)?;
    parse(&s).ok_or_else(|| corrupt("enum name"))
}

/// A public key as registered. It was fully validated before it was stored; repeating the
/// validation (a scalar multiplication) on every request would double authentication's cost,
/// and `verify_strict` still refuses small-order keys at every use.
pub(crate) fn public_key(row: &Row<'_>, idx: usize) -> StoreResult<PublicKey> {
    let raw: [u8; 32] = col(row, idx)?;
    Ok(PublicKey::from_registered(raw))
}

/// A sequence number, stored as SQLite's signed integer.
pub(crate) fn seq(row: &Row<'_>, idx: usize) -> StoreResult<u64> {
    let v: i64 = col(row, idx)?;
    u64::try_from(v).map_err(|_| corrupt("sequence number"))
}

/// A sequence number as a bound parameter; none above `i64::MAX` can exist.
pub(crate) fn seq_param(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

/// A JSON array of strings.
pub(crate) fn list(row: &Row<'_>, idx: usize) -> StoreResult<Vec<String>> {
    let s: String = col(row, idx)?;
    serde_json::from_str(&s).map_err(|_| corrupt("list"))
}

/// An optional JSON array of strings.
pub(crate) fn opt_list(row: &Row<'_>, idx: usize) -> StoreResult<Option<Vec<String>>> {
    let s: Option<String> = col(row, idx)?;
    s.map(|s| serde_json::from_str(&s).map_err(|_| corrupt("list")))
        .transpose()
}

/// A JSON array of ids.
pub(crate) fn id_list<T: FromStr>(row: &Row<'_>, idx: usize) -> StoreResult<Vec<T>> {
    list(row, idx)?
        .iter()
        .map(|s| s.parse().map_err(|_| corrupt("id")))
        .collect()
}

/// Encodes a list of strings for a JSON column.
pub(crate) fn to_list<S: AsRef<str>>(items: &[S]) -> String {
    serde_json::Value::Array(
        items
            .iter()
            .map(|s| serde_json::Value::String(s.as_ref().to_owned()))
            .collect(),
    )
    .to_string()
}
