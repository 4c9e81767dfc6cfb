//! Connections, pragmas, migrations, and the read/write helpers every query goes through.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use roster_core::{StoreError, WriteError};
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

/// Migrations in order; `PRAGMA user_version` records how many have been applied.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_init.sql"),
    include_str!("../migrations/0002_group_logos.sql"),
    include_str!("../migrations/0003_group_counts.sql"),
];

/// Idle read connections kept for reuse; more are opened under load and dropped after.
const MAX_IDLE_READERS: usize = 16;

pub(crate) struct Connections {
    path: PathBuf,
    readers: Mutex<Vec<Connection>>,
    writer: Arc<Mutex<Connection>>,
}

impl Connections {
    pub(crate) fn open(path: &Path) -> Result<Self, StoreError> {
        let mut writer = open_connection(path)?;
        migrate(&mut writer)?;
        Ok(Self {
            path: path.to_owned(),
            readers: Mutex::new(Vec::new()),
            writer: Arc::new(Mutex::new(writer)),
        })
    }

    /// Runs a one-statement read on this thread with a pooled connection. (A single
    /// statement sees one snapshot by itself; no transaction is needed.)
    pub(crate) fn read<T>(
        &self,
        context: &'static str,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let pooled = self.readers.lock().unwrap_or_else(PoisonError::into_inner).pop();
        let conn = match pooled {
            Some(conn) => conn,
            None => open_connection(&self.path)?,
        };
        let result = f(&conn).map_err(|e| StoreError::new(context, e));
        let mut idle = self.readers.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
        result
    }

    /// Runs a read of several statements inside one read transaction, so that they all
    /// see the same snapshot. `BEGIN` and `COMMIT` are cached statements: parsing them on
    /// every read showed up in profiles.
    pub(crate) fn read_snapshot<T>(
        &self,
        context: &'static str,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        self.read(context, |conn| {
            conn.prepare_cached("BEGIN")?.execute([])?;
            let result = f(conn);
            let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
            conn.prepare_cached(end)?.execute([])?;
            result
        })
    }

    /// Runs a write on the blocking pool in one `BEGIN IMMEDIATE` transaction, committed
    /// only when `f` succeeds; any error rolls everything back.
    pub(crate) async fn write<T, F>(&self, context: &'static str, f: F) -> Result<T, WriteError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T, TxError> + Send + 'static,
    {
        let writer = Arc::clone(&self.writer);
        let task = tokio::task::spawn_blocking(move || {
            let mut conn = writer.lock().unwrap_or_else(PoisonError::into_inner);
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(|e| StoreError::new(context, e))?;
            let value = f(&tx).map_err(|e| e.into_write_error(context))?;
            tx.commit().map_err(|e| StoreError::new(context, e))?;
            Ok(value)
        });
        task.await.map_err(|e| WriteError::Store(StoreError::new(context, e)))?
    }
}

/// What a write's body may fail with: SQL trouble, or the domain refusing the write.
pub(crate) enum TxError {
    Sql(rusqlite::Error),
    Refused(WriteError),
}

impl TxError {
    fn into_write_error(self, context: &'static str) -> WriteError {
        match self {
            Self::Sql(e) => WriteError::Store(StoreError::new(context, e)),
            Self::Refused(e) => e,
        }
    }
}

impl From<rusqlite::Error> for TxError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Sql(e)
    }
}

impl From<StoreError> for TxError {
    fn from(e: StoreError) -> Self {
        Self::Refused(WriteError::Store(e))
    }
}

impl From<WriteError> for TxError {
    fn from(e: WriteError) -> Self {
        Self::Refused(e)
    }
}

fn open_connection(path: &Path) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)
        .map_err(|e| StoreError::new("open database", format!("{}: {e}", path.display())))?;
    conn.busy_timeout(Duration::from_secs(5)).map_err(|e| StoreError::new("open database", e))?;
    // WAL lets readers run beside the writer (and beside admin commands in another
    // process); synchronous=FULL makes every acknowledged commit survive power loss.
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;",
    )
    .map_err(|e| StoreError::new("configure database", e))?;
    // Plans that never depend on bound values. Without this, SQLite marks join
    // statements for re-preparation when their bindings are cleared, which rusqlite's
    // statement cache does on every reuse: profiles showed every request re-parsing and
    // re-planning its queries (about 5 µs each, a third of a read's cost).
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
        .map_err(|e| StoreError::new("configure database", e))?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| StoreError::new("migrate", e))?;
    let applied: i64 = tx
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(|e| StoreError::new("migrate", e))?;
    let applied = usize::try_from(applied).unwrap_or(usize::MAX);
    if applied > MIGRATIONS.len() {
        return Err(StoreError::new(
            "migrate",
            format!(
                "the database is at schema version {applied}, newer than this binary's {}",
                MIGRATIONS.len()
            ),
        ));
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        tx.execute_batch(sql)
            .map_err(|e| StoreError::new("migrate", format!("migration {}: {e}", index + 1)))?;
    }
    let version = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
    tx.pragma_update(None, "user_version", version).map_err(|e| StoreError::new("migrate", e))?;
    tx.commit().map_err(|e| StoreError::new("migrate", e))
}

impl Connections {
    pub(crate) fn set_synchronous(&self, level: &str) -> Result<(), StoreError> {
        let conn = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        conn.pragma_update(None, "synchronous", level)
            .map_err(|e| StoreError::new("synchronous", e))
    }

    /// A write that can only fail in storage (no domain refusal is possible).
    pub(crate) async fn write_plain<T, F>(
        &self,
        context: &'static str,
        f: F,
    ) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T, TxError> + Send + 'static,
    {
        self.write(context, f).await.map_err(|e| match e {
            WriteError::Store(e) => e,
            refused => StoreError::new(context, refused),
        })
    }
}
