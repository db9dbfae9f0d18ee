//! Conversions between stored columns and record fields. Anything that does not decode is
//! [`StoreError::Corrupt`](signet_store::StoreError::Corrupt): the store wrote it, so a bad value
//! is a bug or tampering.

use std::str::FromStr;

use signet_proto::PublicKey;
use signet_store::StoreResult;
use sqlx::postgres::PgRow;
use sqlx::{Decode, Postgres, Row, Type};

use crate::error::{corrupt, db};

/// One column, with driver errors mapped.
pub(crate) fn col<'r, T>(row: &'r PgRow, idx: usize) -> StoreResult<T>
where
    T: Decode<'r, Postgres> + Type<Postgres>,
{
    row.try_get(idx).map_err(db)
}

/// A `u32` field kept in a BIGINT column.
pub(crate) fn small(row: &PgRow, idx: usize) -> StoreResult<u32> {
    let v: i64 = col(row, idx)?;
    u32::try_from(v).map_err(|_| corrupt("count"))
}

/// An optional `u32` field kept in a BIGINT column.
pub(crate) fn opt_small(row: &PgRow, idx: usize) -> StoreResult<Option<u32>> {
    let v: Option<i64> = col(row, idx)?;
    v.map(|v| u32::try_from(v).map_err(|_| corrupt("count")))
        .transpose()
}

/// An id in its wire form.
pub(crate) fn id<T: FromStr>(row: &PgRow, idx: usize) -> StoreResult<T> {
    let s: &str = col(row, idx)?;
    s.parse().map_err(|_| corrupt("id"))
}

/// An optional id in its wire form.
pub(crate) fn opt_id<T: FromStr>(row: &PgRow, idx: usize) -> StoreResult<Option<T>> {
    let s: Option<&str> = col(row, idx)?;
    s.map(|s| s.parse().map_err(|_| corrupt("id"))).transpose()
}

/// A stored enum name, parsed with the record type's own `parse`.
pub(crate) fn name<T>(row: &PgRow, idx: usize, parse: fn(&str) -> Option<T>) -> StoreResult<T> {
    let s: &str = col(row, idx)?;
    parse(s).ok_or_else(|| corrupt("enum name"))
}

/// A 32-byte digest or hash.
pub(crate) fn digest(row: &PgRow, idx: usize) -> StoreResult<[u8; 32]> {
    let raw: &[u8] = col(row, idx)?;
    raw.try_into().map_err(|_| corrupt("digest"))
}

/// A public key as registered. It was fully validated before it was stored; `verify_strict`
/// still refuses small-order keys at every use.
pub(crate) fn public_key(row: &PgRow, idx: usize) -> StoreResult<PublicKey> {
    Ok(PublicKey::from_registered(digest(row, idx)?))
}

/// A sequence number, stored as a BIGINT.
pub(crate) fn seq(row: &PgRow, idx: usize) -> StoreResult<u64> {
    let v: i64 = col(row, idx)?;
    u64::try_from(v).map_err(|_| corrupt("sequence number"))
}

/// A sequence number as a bound parameter; none above `i64::MAX` can exist.
pub(crate) fn seq_param(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

/// A JSON array of strings.
pub(crate) fn list(row: &PgRow, idx: usize) -> StoreResult<Vec<String>> {
    let s: &str = col(row, idx)?;
    serde_json::from_str(s).map_err(|_| corrupt("list"))
}

/// An optional JSON array of strings.
pub(crate) fn opt_list(row: &PgRow, idx: usize) -> StoreResult<Option<Vec<String>>> {
    let s: Option<&str> = col(row, idx)?;
    s.map(|s| serde_json::from_str(s).map_err(|_| corrupt("list")))
        .transpose()
}

/// A JSON array of ids.
pub(crate) fn id_list<T: FromStr>(row: &PgRow, idx: usize) -> StoreResult<Vec<T>> {
    list(row, idx)?
        .iter()
        .map(|s| s.parse().map_err(|_| corrupt("id")))
        .collect()
}

/// Encodes a list of strings for a JSON column, exactly as the SQLite backend does.
pub(crate) fn to_list<S: AsRef<str>>(items: &[S]) -> String {
    serde_json::Value::Array(
        items
            .iter()
            .map(|s| serde_json::Value::String(s.as_ref().to_owned()))
            .collect(),
    )
    .to_string()
}
