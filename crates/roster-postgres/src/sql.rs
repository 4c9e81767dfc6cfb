//! Small helpers every query module uses: cached statements, errors, and listing bounds.

use deadpool_postgres::GenericClient;
use roster_core::listing::{ListParams, Window};
use roster_core::{StoreError, StoreErrorKind, WriteError};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Error, Row};

pub(crate) type Tx<'a> = deadpool_postgres::Transaction<'a>;
pub(crate) type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

pub(crate) async fn opt<C: GenericClient>(
    c: &C,
    sql: &str,
    params: Params<'_>,
) -> Result<Option<Row>, Error> {
    let statement = c.prepare_cached(sql).await?;
    c.query_opt(&statement, params).await
}

pub(crate) async fn all<C: GenericClient>(
    c: &C,
    sql: &str,
    params: Params<'_>,
) -> Result<Vec<Row>, Error> {
    let statement = c.prepare_cached(sql).await?;
    c.query(&statement, params).await
}

pub(crate) async fn one<C: GenericClient>(
    c: &C,
    sql: &str,
    params: Params<'_>,
) -> Result<Row, Error> {
    let statement = c.prepare_cached(sql).await?;
    c.query_one(&statement, params).await
}

pub(crate) async fn exec<C: GenericClient>(
    c: &C,
    sql: &str,
    params: Params<'_>,
) -> Result<i64, Error> {
    let statement = c.prepare_cached(sql).await?;
    let rows = c.execute(&statement, params).await?;
    Ok(i64::try_from(rows).unwrap_or(i64::MAX))
}

pub(crate) async fn exists<C: GenericClient>(
    c: &C,
    sql: &str,
    params: Params<'_>,
) -> Result<bool, Error> {
    Ok(opt(c, sql, params).await?.is_some())
}

/// The user ids a query answers in its first column (non-positive ones, which no user
/// has, are dropped).
pub(crate) async fn user_ids<C: GenericClient>(
    c: &C,
    sql: &str,
    params: Params<'_>,
) -> Result<std::collections::HashSet<roster_core::UserId>, Error> {
    let rows = all(c, sql, params).await?;
    let mut ids = std::collections::HashSet::with_capacity(rows.len());
    for row in rows {
        if let Some(id) = roster_core::UserId::new(row.try_get(0)?) {
            ids.insert(id);
        }
    }
    Ok(ids)
}

/// A transaction that lost to a concurrent one: starting over will see the winner's commit.
pub(crate) fn lost_race(e: &Error) -> bool {
    matches!(
        e.code(),
        Some(code) if *code == SqlState::UNIQUE_VIOLATION
            || *code == SqlState::T_R_SERIALIZATION_FAILURE
            || *code == SqlState::T_R_DEADLOCK_DETECTED
    )
}

/// LIMIT (NULL: none) and OFFSET for a page read forwards.
pub(crate) fn limit_offset(params: &ListParams) -> (Option<i64>, i64) {
    if params.unpaged {
        return (None, 0);
    }
    (
        Some(i64::try_from(params.per_page).unwrap_or(i64::MAX)),
        i64::try_from(params.offset()).unwrap_or(i64::MAX),
    )
}

/// One page of a listing as PostgreSQL reads it: ORDER BY direction, LIMIT (NULL: none) and
/// OFFSET, from whichever end of the order is nearer (`ListParams::window`).
pub(crate) struct PageRead {
    pub direction: &'static str,
    pub limit: Option<i64>,
    pub offset: i64,
    window: Window,
}

impl PageRead {
    /// `total`: the listing's row count, read in the same snapshot as the page.
    pub(crate) fn new(params: &ListParams, total: i64) -> Self {
        let window = params.window(u64::try_from(total).unwrap_or(0));
        Self {
            direction: if window.read_descending(params.descending) { "DESC" } else { "ASC" },
            limit: window.limit.map(|limit| i64::try_from(limit).unwrap_or(i64::MAX)),
            offset: i64::try_from(window.offset).unwrap_or(i64::MAX),
            window,
        }
    }

    /// The rows read, in the listing's order.
    pub(crate) fn in_order<T>(&self, rows: Vec<T>) -> Vec<T> {
        self.window.in_order(rows)
    }
}

/// What a write's body may fail with: SQL trouble, or the domain refusing the write.
pub(crate) enum TxError {
    Sql(Error),
    Refused(WriteError),
}

impl TxError {
    pub(crate) fn into_write_error(self, context: &'static str) -> WriteError {
        match self {
            Self::Sql(e) => WriteError::Store(store_error(context, &e)),
            Self::Refused(e) => e,
        }
    }
}

impl TxError {
    pub(crate) fn into_store_error(self, context: &'static str) -> StoreError {
        storage_only(context)(self.into_write_error(context))
    }
}

impl From<Error> for TxError {
    fn from(e: Error) -> Self {
        Self::Sql(e)
    }
}

impl From<WriteError> for TxError {
    fn from(e: WriteError) -> Self {
        Self::Refused(e)
    }
}

impl From<StoreError> for TxError {
    fn from(e: StoreError) -> Self {
        Self::Refused(WriteError::Store(e))
    }
}

/// Counts are never negative; the database says BIGINT.
pub(crate) fn count(raw: i64) -> u64 {
    raw.max(0).unsigned_abs()
}

/// A stored value this binary cannot read back.
pub(crate) fn undecodable(what: &str, value: &str) -> TxError {
    TxError::Refused(WriteError::Store(StoreError::new(
        "decode",
        format!("bad stored {what}: {value:?}"),
    )))
}

/// A driver error as a storage failure, classified by what a retry can do for the client.
pub(crate) fn store_error(context: &'static str, e: &Error) -> StoreError {
    StoreError::of_kind(kind_of(e), context, describe(e))
}

fn kind_of(e: &Error) -> StoreErrorKind {
    if e.is_closed() {
        return StoreErrorKind::Unreachable;
    }
    let Some(code) = e.code() else {
        // Not the server's answer: the connection itself failed (refused, reset, cut).
        let io = std::error::Error::source(e).is_some_and(|source| source.is::<std::io::Error>());
        return if io { StoreErrorKind::Unreachable } else { StoreErrorKind::Fault };
    };
    let code = code.code();
    match code {
        // disk_full
        "53100" => StoreErrorKind::Full,
        // Class 08 (connection exceptions), too_many_connections, out_of_memory,
        // admin_shutdown, crash_shutdown, cannot_connect_now (starting up or shutting
        // down), and a read-only transaction (a standby, or mid-failover).
        "53300" | "53200" | "57P01" | "57P02" | "57P03" | "25006" => StoreErrorKind::Unreachable,
        _ if code.starts_with("08") => StoreErrorKind::Unreachable,
        // lock_not_available and query_canceled (a statement or lock timeout).
        "55P03" | "57014" => StoreErrorKind::Busy,
        _ => StoreErrorKind::Fault,
    }
}

/// The whole story of a driver error: tokio-postgres's own `Display` says only "db error".
pub(crate) fn describe(e: &Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({}): {}", db.severity(), db.code().code(), db.message()),
        None => format!("{e:?}"),
    }
}

/// For work whose only failures are storage failures: a refusal there is a bug, reported
/// as a storage failure of `context`.
pub(crate) fn storage_only(context: &'static str) -> impl Fn(WriteError) -> StoreError {
    move |e| match e {
        WriteError::Store(e) => e,
        refused => StoreError::new(context, refused),
    }
}
