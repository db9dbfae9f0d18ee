//! Running cached statements with driver errors mapped. Every statement text is a `'static`
//! literal, so nothing is ever built from input.

use rusqlite::{Connection, Params, Row};
use signet_store::{StoreError, StoreResult};

use crate::error::db;

/// Runs a statement that changes rows; returns how many.
pub(crate) fn exec<P: Params>(
    conn: &Connection,
    sql: &'static str,
    params: P,
) -> StoreResult<usize> {
    conn.prepare_cached(sql)
        .and_then(|mut st| st.execute(params))
        .map_err(db)
}

/// The first row of a query, decoded.
pub(crate) fn one<T, P: Params>(
    conn: &Connection,
    sql: &'static str,
    params: P,
    decode: impl Fn(&Row<'_>) -> StoreResult<T>,
) -> StoreResult<Option<T>> {
    let mut st = conn.prepare_cached(sql).map_err(db)?;
    let mut rows = st.query(params).map_err(db)?;
    match rows.next().map_err(db)? {
        Some(row) => decode(row).map(Some),
        None => Ok(None),
    }
}

/// Every row of a query, decoded.
pub(crate) fn all<T, P: Params>(
    conn: &Connection,
    sql: &'static str,
    params: P,
    decode: impl Fn(&Row<'_>) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    let mut st = conn.prepare_cached(sql).map_err(db)?;
    let mut rows = st.query(params).map_err(db)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(db)? {
        out.push(decode(row)?);
    }
    Ok(out)
}

/// Runs a statement that must change at least one row: [`StoreError::NotFound`] otherwise, the
/// row being missing or no longer in the state the statement's `WHERE` requires.
pub(crate) fn exec_found<P: Params>(
    conn: &Connection,
    sql: &'static str,
    params: P,
) -> StoreResult<()> {
    if exec(conn, sql, params)? == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}
