//! Connections, pragmas, migrations, and the read/write helpers every query goes through.

use std::ops::Deref;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use roster_core::events::Origin;
use roster_core::store::ChangeEpoch;
use roster_core::{StoreError, StoreErrorKind, WriteError};
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use tokio::sync::oneshot;

/// Migrations in order; `PRAGMA user_version` records how many have been applied.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_init.sql"),
    include_str!("../migrations/0002_group_logos.sql"),
    include_str!("../migrations/0003_group_counts.sql"),
    include_str!("../migrations/0004_group_search.sql"),
    include_str!("../migrations/0005_events.sql"),
    include_str!("../migrations/0006_trash_and_expiry.sql"),
    include_str!("../migrations/0007_webhooks.sql"),
];

/// Idle read connections kept for reuse; more are opened under load and dropped after.
const MAX_IDLE_READERS: usize = 16;

/// Writes committed together at most (see `writer_loop`).
const MAX_BATCH: usize = 256;

/// Run by every batch just before COMMIT: applies the search-index changes its writes
/// queued, in order (see migration 0004 for why they wait).
/// (Two cached statements run in order, rather than one batch parsed at every commit.)
const APPLY_QUEUED_INDEX_CHANGES: [&str; 2] = [
    "INSERT INTO group_search (group_search, rowid, name_key, description_key)
     SELECT command, pk, name_key, description_key FROM group_search_queue ORDER BY seq",
    "DELETE FROM group_search_queue",
];

pub(crate) struct Connections {
    path: PathBuf,
    readers: Mutex<Vec<Reader>>,
    /// See [`Connections::change_epoch`].
    epoch: AtomicU64,
    /// The fast way to notice commits; `None` when the WAL index cannot be read.
    wal_index: Option<WalIndexWatch>,
    /// To the writer thread, which owns the one write connection.
    writer: mpsc::Sender<Job>,
    /// The most pages a write may leave the database with (0: no cap); see
    /// [`Connections::set_size_cap`].
    size_cap_pages: AtomicU64,
    /// Raised by the writer after every commit (see `Store::commits`).
    commits: tokio::sync::watch::Receiver<u64>,
    pub(crate) clock: roster_core::Clock,
}

/// A pooled read connection, with the `data_version` it reported last (`None` before
/// it was first asked).
struct Reader {
    conn: Connection,
    data_version: Option<i64>,
}

/// A connection inside the writer's open transaction, inside this write's own savepoint,
/// with the origin of the change (captured where the write was asked for) and the
/// store clock's time as the write began: every time the write records or compares.
pub(crate) struct WriteTx<'a> {
    conn: &'a Connection,
    origin: &'a Origin,
    now: roster_core::Timestamp,
}

impl WriteTx<'_> {
    pub(crate) fn origin(&self) -> &Origin {
        self.origin
    }

    pub(crate) fn now(&self) -> roster_core::Timestamp {
        self.now
    }
}

impl Deref for WriteTx<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn
    }
}

/// One write: runs inside the batch's transaction (or learns that it could not begin),
/// and gives back what to tell its caller once the batch's fate is known.
type QueuedWrite = Box<dyn FnOnce(Result<&Connection, &StoreError>) -> Finish + Send>;

/// Work for the writer thread.
enum Job {
    Write(QueuedWrite),
    /// Something that must run outside any transaction (a pragma).
    Alone(Box<dyn FnOnce(&Connection) + Send>),
}

/// Answers a write's caller with the batch's commit result; `poisoned` (with its cause)
/// when the write left the transaction in a state that must not be committed.
struct Finish {
    answer: Box<dyn FnOnce(Result<(), StoreError>) + Send>,
    poisoned: Option<StoreError>,
}

impl Connections {
    pub(crate) fn open(path: &Path) -> Result<Self, StoreError> {
        let mut writer = open_connection(path)?;
        migrate(&mut writer)?;
        // The writer touches random leaves of the name and id indexes on every create; a
        // cache that holds them spared it page reads (a tenth of its time in profiles).
        // Checkpoints (copying the WAL back into the database, which the committing
        // writer does once the WAL passes this many pages) are rarer with 10,000 pages
        // (40 MB) than SQLite's 1,000: a leaf rewritten by many commits is copied back once.
        // Measured: creates 11-12k/s -> 14k/s. Every commit is still fsynced before it is
        // acknowledged; only the copying back waits longer.
        writer
            .execute_batch("PRAGMA cache_size = -16384; PRAGMA wal_autocheckpoint = 10000;")
            .map_err(|e| StoreError::new("configure database", e))?;
        let (sender, jobs) = mpsc::channel();
        let (committed, commits) = tokio::sync::watch::channel(0);
        std::thread::Builder::new()
            .name("roster-sqlite-writer".into())
            .spawn(move || writer_loop(&writer, &jobs, &committed))
            .map_err(|e| StoreError::new("start the writer", e))?;
        Ok(Self {
            path: path.to_owned(),
            readers: Mutex::new(Vec::new()),
            epoch: AtomicU64::new(0),
            wal_index: WalIndexWatch::open(path),
            writer: sender,
            size_cap_pages: AtomicU64::new(0),
            commits,
            clock: roster_core::Clock::system(),
        })
    }

    pub(crate) fn commits(&self) -> tokio::sync::watch::Receiver<u64> {
        self.commits.clone()
    }

    /// Runs a one-statement read on this thread with a pooled connection. (A single
    /// statement sees one snapshot by itself; no transaction is needed.)
    pub(crate) fn read<T>(
        &self,
        context: &'static str,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        self.with_reader(|reader| f(&reader.conn).map_err(|e| store_error(context, e)))
    }

    /// The store's change epoch: raised whenever something was committed since the last
    /// look, by any connection of any process.
    ///
    /// The fast way reads SQLite's WAL-index header (see [`WalIndexWatch`]): one `pread`.
    /// When that header cannot be read consistently, the way below decides.
    ///
    /// `PRAGMA data_version` changes on a connection exactly when another connection has
    /// committed since that connection's previous look (SQLite's own change counter, read
    /// from the WAL index: no page is read). Each connection compares with what it saw
    /// last, and the first to notice a commit raises the shared epoch; so any caller
    /// that asks after a write was acknowledged is told a higher epoch than any caller
    /// that asked before the write began (a connection new to the pool has seen nothing
    /// and raises it too). Reads made after asking see at least what the asking saw.
    pub(crate) fn change_epoch(&self) -> Result<ChangeEpoch, StoreError> {
        if let Some(changed) = self.wal_index.as_ref().and_then(WalIndexWatch::changed) {
            if changed {
                self.epoch.fetch_add(1, Ordering::SeqCst);
            }
            return Ok(ChangeEpoch(self.epoch.load(Ordering::SeqCst)));
        }
        self.with_reader(|reader| {
            let version: i64 = reader
                .conn
                .prepare_cached("PRAGMA data_version")
                .and_then(|mut statement| statement.query_row([], |row| row.get(0)))
                .map_err(|e| store_error("read the data version", e))?;
            if reader.data_version != Some(version) {
                reader.data_version = Some(version);
                self.epoch.fetch_add(1, Ordering::SeqCst);
            }
            Ok(ChangeEpoch(self.epoch.load(Ordering::SeqCst)))
        })
    }

    /// Whether commits are noticed through the WAL-index header (the fast way).
    #[cfg(test)]
    pub(crate) fn reads_wal_index(&self) -> bool {
        self.wal_index.is_some()
    }

    /// Lends `f` an idle read connection (opening one when none is idle) and takes it
    /// back afterwards, keeping at most [`MAX_IDLE_READERS`].
    fn with_reader<T>(
        &self,
        f: impl FnOnce(&mut Reader) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let pooled = self.readers.lock().unwrap_or_else(PoisonError::into_inner).pop();
        let mut reader = match pooled {
            Some(reader) => reader,
            None => Reader { conn: open_connection(&self.path)?, data_version: None },
        };
        let result = f(&mut reader);
        let mut idle = self.readers.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < MAX_IDLE_READERS {
            idle.push(reader);
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

    /// Runs a write on the writer thread and answers once it is durable. Writes that queue
    /// up while a commit waits for the disk are committed together ("group commit"): one
    /// `BEGIN IMMEDIATE`, each write in its own savepoint (a refused or failed write
    /// rolls back alone), one `COMMIT` and one fsync for all. Nobody hears of a write
    /// before its commit, so every acknowledged write survives a crash.
    pub(crate) async fn write<T, F>(&self, context: &'static str, f: F) -> Result<T, WriteError>
    where
        T: Send + 'static,
        F: FnOnce(&WriteTx<'_>) -> Result<T, TxError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel::<Result<T, WriteError>>();
        let size_cap = std::num::NonZeroU64::new(self.size_cap_pages.load(Ordering::Relaxed));
        let origin = Origin::current();
        let clock = self.clock.clone();
        let job = Job::Write(Box::new(move |conn: Result<&Connection, &StoreError>| {
            let (outcome, poisoned) = match conn {
                Ok(conn) => {
                    let tx = WriteTx { conn, origin: &origin, now: clock.now() };
                    in_savepoint(tx, context, size_cap, f)
                }
                Err(e) => (Err(WriteError::Store(e.clone())), None),
            };
            let answer = Box::new(move |committed: Result<(), StoreError>| {
                let result = match (outcome, committed) {
                    (Ok(value), Ok(())) => Ok(value),
                    (Ok(_), Err(e)) => Err(WriteError::Store(e)),
                    // A refused write rolled back alone; its refusal stands either way.
                    (Err(e), _) => Err(e),
                };
                // The caller may have gone away (its connection closed); the write stands.
                let _ = reply.send(result);
            });
            Finish { answer, poisoned }
        }));
        self.writer.send(job).map_err(|_| StoreError::new(context, "the writer has stopped"))?;
        answer.await.map_err(|_| StoreError::new(context, "the write was abandoned"))?
    }
}

/// Runs `f` in a savepoint of the open transaction: released when it succeeds, rolled
/// back (alone) when it fails. Beside the outcome, why the whole batch must roll back, if
/// it must: the savepoint itself could not be managed, `f` panicked, or SQLite already
/// rolled the transaction back (it does so on a full disk, an I/O error or no memory),
/// so that nothing may run or commit after it.
fn in_savepoint<T>(
    tx: WriteTx<'_>,
    context: &'static str,
    size_cap: Option<std::num::NonZeroU64>,
    f: impl FnOnce(&WriteTx<'_>) -> Result<T, TxError>,
) -> (Result<T, WriteError>, Option<StoreError>) {
    let conn = tx.conn;
    if let Err(e) = conn.prepare_cached("SAVEPOINT write").and_then(|mut s| s.execute([])) {
        let cause = store_error(context, e);
        return (Err(WriteError::Store(cause.clone())), Some(cause));
    }
    let cap_and_size = size_cap.map(|cap| (cap, page_count(conn)));
    let outcome = match catch_unwind(AssertUnwindSafe(|| f(&tx))) {
        Ok(Ok(value)) => {
            match cap_and_size.and_then(|(cap, before)| grew_past(conn, cap, before)) {
                Some(after) => Err(WriteError::Store(StoreError::full(
                    context,
                    format!(
                        "the write would grow the database to {after} pages, past --sqlite-max-mib"
                    ),
                ))),
                None => Ok(value),
            }
        }
        Ok(Err(e)) => Err(e.into_write_error(context)),
        Err(_) => {
            let cause = StoreError::new(context, "the write panicked");
            return (Err(WriteError::Store(cause.clone())), Some(cause));
        }
    };
    let end = if outcome.is_ok() { "RELEASE write" } else { "ROLLBACK TO write" };
    let mut ended = conn.prepare_cached(end).and_then(|mut s| s.execute([]));
    if outcome.is_err() && ended.is_ok() {
        ended = conn.prepare_cached("RELEASE write").and_then(|mut s| s.execute([]));
    }
    let poisoned = match (&outcome, ended) {
        // The transaction is gone: what failed the write is what failed the batch.
        (Err(WriteError::Store(cause)), _) if conn.is_autocommit() => Some(cause.clone()),
        (_, Err(e)) => Some(store_error(context, e)),
        _ if conn.is_autocommit() => {
            Some(StoreError::new(context, "the batch's transaction ended early"))
        }
        _ => None,
    };
    (outcome, poisoned)
}

/// The writer thread: takes whatever writes are waiting (at most `MAX_BATCH`), runs them
/// in one transaction, commits, and only then answers them. Ends when the store is dropped.
fn writer_loop(
    conn: &Connection,
    jobs: &mpsc::Receiver<Job>,
    committed: &tokio::sync::watch::Sender<u64>,
) {
    let mut next = jobs.recv().ok();
    while let Some(first) = next.take() {
        let mut batch = Vec::new();
        let mut alone = None;
        match first {
            Job::Write(write) => batch.push(write),
            Job::Alone(job) => alone = Some(job),
        }
        while alone.is_none() && batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(Job::Write(write)) => batch.push(write),
                Ok(Job::Alone(job)) => alone = Some(job),
                Err(_) => break,
            }
        }
        if !batch.is_empty() {
            commit_batch(conn, batch);
            committed.send_modify(|n| *n += 1);
        }
        if let Some(job) = alone {
            job(conn);
        }
        next = jobs.recv().ok();
    }
}

fn commit_batch(conn: &Connection, batch: Vec<QueuedWrite>) {
    let begin = conn
        .prepare_cached("BEGIN IMMEDIATE")
        .and_then(|mut s| s.execute([]))
        .map_err(|e| store_error("begin a write", e));
    if let Err(e) = &begin {
        for write in batch {
            (write(Err(e)).answer)(Err(e.clone()));
        }
        return;
    }
    let mut poisoned: Option<StoreError> = None;
    let mut finishes = Vec::with_capacity(batch.len());
    for write in batch {
        // Once the batch is lost, the writes after it do not run: outside the batch's
        // transaction each would commit on its own, unseen by the batch's answer.
        let finish = match &poisoned {
            Some(cause) => write(Err(cause)),
            None => write(Ok(conn)),
        };
        if poisoned.is_none() {
            poisoned.clone_from(&finish.poisoned);
        }
        finishes.push(finish);
    }
    let committed = if let Some(cause) = poisoned {
        if !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        Err(cause)
    } else {
        APPLY_QUEUED_INDEX_CHANGES
            .iter()
            .chain(&["COMMIT"])
            .try_for_each(|sql| {
                conn.prepare_cached(sql).and_then(|mut s| s.execute([])).map(|_| ())
            })
            .map_err(|e| {
                // Leave no transaction open behind a failed commit.
                if !conn.is_autocommit() {
                    let _ = conn.execute_batch("ROLLBACK");
                }
                store_error("commit", e)
            })
    };
    for finish in finishes {
        (finish.answer)(committed.clone());
    }
}

/// SQLite's default page size, which Roster's databases keep.
const PAGE_BYTES: u64 = 4096;

/// The pages a write left the database with, if that is past `cap` and more than the
/// `before` it found (a write that only reuses freed pages never is).
fn grew_past(conn: &Connection, cap: std::num::NonZeroU64, before: u64) -> Option<u64> {
    let after = page_count(conn);
    (after > cap.get() && after > before).then_some(after)
}

/// The database's size in pages, as the open transaction sees it (0 if it cannot tell,
/// which lets the write through: SQLite's own `max_page_count` still holds).
fn page_count(conn: &Connection) -> u64 {
    conn.prepare_cached("PRAGMA page_count")
        .and_then(|mut s| s.query_row([], |row| row.get::<_, i64>(0)))
        .map_or(0, |pages| pages.unsigned_abs())
}

/// A SQLite error as a storage failure, classified by what a retry can do for the client.
pub(crate) fn store_error(context: &'static str, e: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode;
    let kind = match e.sqlite_error_code() {
        // A full disk, or the database at its `max_page_count` (`--sqlite-max-mib`).
        Some(ErrorCode::DiskFull) => StoreErrorKind::Full,
        // Another process held the lock past the busy timeout.
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreErrorKind::Busy,
        // The file cannot be read or written right now (a failing or vanished disk, a
        // file system remounted read-only).
        Some(ErrorCode::SystemIoFailure | ErrorCode::CannotOpen | ErrorCode::ReadOnly) => {
            StoreErrorKind::Unreachable
        }
        _ => StoreErrorKind::Fault,
    };
    StoreError::of_kind(kind, context, e)
}

/// What a write's body may fail with: SQL trouble, or the domain refusing the write.
pub(crate) enum TxError {
    Sql(rusqlite::Error),
    Refused(WriteError),
}

impl TxError {
    fn into_write_error(self, context: &'static str) -> WriteError {
        match self {
            Self::Sql(e) => WriteError::Store(store_error(context, e)),
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

/// Notices commits by reading the header of SQLite's WAL index (the `-shm` file), as
/// SQLite's own readers do before each read: every commit, by any process, rewrites it
/// (its change counter, frame count and checksums) before the commit returns. The format
/// is SQLite's documented, stable one (sqlite.org/walformat.html, "the WAL-index
/// header"): two copies of a 48-byte header, written second copy first; a reader that
/// finds both copies equal has a whole header, either the one before a commit (which
/// then had not returned yet) or the one after.
///
/// One `pread` instead of a read transaction, whose two `fcntl` lock calls on the
/// WAL index cost a cached `GET` a fifth of its throughput.
struct WalIndexWatch {
    shm: std::fs::File,
    last: Mutex<[u8; WAL_INDEX_HEADER]>,
}

/// Bytes in one copy of the WAL-index header.
const WAL_INDEX_HEADER: usize = 48;

impl WalIndexWatch {
    /// `None` when the WAL index is not where the default VFS keeps it (the caller then
    /// asks SQLite itself).
    fn open(db: &Path) -> Option<Self> {
        let mut name = db.as_os_str().to_owned();
        name.push("-shm");
        let shm = std::fs::File::open(PathBuf::from(name)).ok()?;
        let watch = Self { shm, last: Mutex::new([0; WAL_INDEX_HEADER]) };
        watch.header()?;
        Some(watch)
    }

    /// A whole, initialised header, or `None` (torn by a writer right now, or unreadable).
    fn header(&self) -> Option<[u8; WAL_INDEX_HEADER]> {
        use std::os::unix::fs::FileExt;
        let mut both = [0u8; 2 * WAL_INDEX_HEADER];
        self.shm.read_exact_at(&mut both, 0).ok()?;
        let (first, second) = both.split_at(WAL_INDEX_HEADER);
        // Byte 12 is `isInit`; version 3007000 is the only WAL-index format there is.
        let version = u32::from_ne_bytes([first[0], first[1], first[2], first[3]]);
        (first == second && first[12] == 1 && version == 3_007_000)
            .then(|| first.try_into().ok())
            .flatten()
    }

    /// Whether the header changed since the last look; `None` when it cannot tell.
    fn changed(&self) -> Option<bool> {
        let header = self.header()?;
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        if *last == header {
            return Some(false);
        }
        *last = header;
        Some(true)
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
    /// Sets one of the writer's pragmas (outside any transaction, between batches).
    pub(crate) fn set_writer_pragma(
        &self,
        pragma: &'static str,
        value: String,
    ) -> Result<(), StoreError> {
        let (reply, answer) = mpsc::channel();
        let job = Job::Alone(Box::new(move |conn: &Connection| {
            let _ = reply
                .send(conn.pragma_update(None, pragma, value).map_err(|e| store_error(pragma, e)));
        }));
        self.writer.send(job).map_err(|_| StoreError::new(pragma, "the writer has stopped"))?;
        answer.recv().map_err(|_| StoreError::new(pragma, "the writer has stopped"))?
    }

    /// Caps the database at about `max_bytes` (`None`: no cap).
    ///
    /// The cap is checked after each write, in its savepoint: a write that left the
    /// database with more pages than the cap (and more than before it) is rolled back and
    /// answered as full storage. Writes that reuse freed pages, and deletes, go through.
    /// SQLite's own `max_page_count` sits an eighth above it (at least 1 MiB), so that the
    /// search-index changes applied at commit, which a delete makes too, find room.
    pub(crate) fn set_size_cap(&self, max_bytes: Option<u64>) -> Result<(), StoreError> {
        let cap = max_bytes.map_or(0, |bytes| (bytes / PAGE_BYTES).max(1));
        let hard = if cap == 0 { u64::from(u32::MAX - 1) } else { cap + (cap / 8).max(256) };
        self.set_writer_pragma("max_page_count", hard.to_string())?;
        self.size_cap_pages.store(cap, Ordering::Relaxed);
        Ok(())
    }

    /// A write that can only fail in storage (no domain refusal is possible).
    pub(crate) async fn write_plain<T, F>(
        &self,
        context: &'static str,
        f: F,
    ) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&WriteTx<'_>) -> Result<T, TxError> + Send + 'static,
    {
        self.write(context, f).await.map_err(|e| match e {
            WriteError::Store(e) => e,
            refused => StoreError::new(context, refused),
        })
    }
}
