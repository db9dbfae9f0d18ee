//! The WAL checkpointer: copies committed pages from the log into the database file on its own
//! thread and connection, so that no commit ever does it.
//!
//! By default SQLite checkpoints inside the COMMIT that takes the log past 1000 pages: that one
//! commit copies the pages and fsyncs the database file while every caller in its batch (and
//! every caller queued behind it) waits. That was the p99 tail of the read benchmark: a stall of
//! a few milliseconds every second or so, at any load. The write connection therefore has
//! `wal_autocheckpoint = 0` (see `schema.rs`) and this thread does the work instead:
//!
//! * every [`Thresholds::poll`] it asks SQLite how long the log is (a `NOOP` checkpoint reads the
//!   WAL index and takes no lock);
//! * once [`Thresholds::passive`] pages wait to be copied, or the log has stopped growing with
//!   some still uncopied, it runs a `PASSIVE` checkpoint, which never blocks the writer or a
//!   reader;
//! * the log only starts over from its beginning when a commit finds it copied to its end, and
//!   a passive checkpoint cannot reach the end while the writer keeps appending. So past
//!   [`Thresholds::restart`] pages the checkpointer closes the writer's [`Gate`] and runs a
//!   `RESTART` checkpoint: the batch in progress finishes, the next waits while readers with an
//!   older snapshot finish (at most [`Thresholds::restart_wait`]) and the few pages appended
//!   since the last passive run are copied, and then commits into a log that starts over. That
//!   wait is the only one the writer ever has for checkpoints; the write connection's
//!   `journal_size_limit` then gives the disk space back.
//!
//! A reader whose snapshot predates the end of the log holds a checkpoint back (SQLite never
//! copies a page a reader may still need from the log): a long one (an export) lets the log grow
//! until it finishes, as with SQLite's own checkpoints, and costs the writer one
//! [`Thresholds::restart_wait`] per [`Thresholds::restart_gap`] meanwhile.
//!
//! A checkpoint never loses anything: the log is durable (`synchronous = FULL`) and a page is
//! only copied, never moved. A crash mid-checkpoint is repaired by the next open, as SQLite
//! always does. Failures are logged and retried at the next poll.

use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use signet_store::{StoreError, StoreMetrics, StoreResult};

use crate::error::db;

/// When the checkpointer acts. [`Thresholds::default`] is what the server uses; tests shrink it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Thresholds {
    /// How often the log's length is looked at.
    pub(crate) poll: Duration,
    /// Uncopied pages that start a passive checkpoint: SQLite's own default, so the database
    /// file lags the log by no more than it did.
    pub(crate) passive: u32,
    /// Log length (pages) past which the writer is held for a moment so that the log starts
    /// over.
    pub(crate) restart: u32,
    /// How long the writer may be held while readers of an older snapshot finish.
    pub(crate) restart_wait: Duration,
    /// The least time after a hold that could not finish before the next, so that a reader
    /// holding the log back costs the writer at most one short wait per gap.
    pub(crate) restart_gap: Duration,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            poll: Duration::from_millis(10),
            passive: 1000,
            // 16 MiB of 4 KiB pages.
            restart: 4096,
            restart_wait: Duration::from_millis(20),
            restart_gap: Duration::from_secs(1),
        }
    }
}

/// The most the log file keeps on disk after it starts over, in bytes (`journal_size_limit`):
/// what [`Thresholds::restart`] lets it reach with the default page size.
pub(crate) const WAL_SIZE_LIMIT: i64 = 16 * 1024 * 1024;

/// Held by the writer around each batch, and by the checkpointer while it copies the end of the
/// log with the writer held off. Uncontended otherwise (a lock and an unlock per batch).
#[derive(Debug, Default, Clone)]
pub(crate) struct Gate(Arc<Mutex<()>>);

impl Gate {
    pub(crate) fn enter(&self) -> MutexGuard<'_, ()> {
        // The mutex guards no data, so a poisoned one is as good as any.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What the checkpointer did, for the log line at shutdown and for tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Counts {
    /// Passive checkpoints run, the writer going on beside them.
    pub(crate) passive: u64,
    /// Restart checkpoints run with the writer held off (the log past its bound).
    pub(crate) held: u64,
    /// Of those, the ones that copied the whole log (so the next commit started it over).
    pub(crate) restarted: u64,
    /// The longest log seen, in pages.
    pub(crate) longest_log: u32,
}

/// The checkpointer thread. Dropping it stops the thread and waits for it.
pub(crate) struct Checkpointer {
    stop: Option<SyncSender<()>>,
    thread: Option<JoinHandle<Counts>>,
    gate: Gate,
}

impl Checkpointer {
    /// Opens its own connection to `path` (already created and in WAL mode) and starts.
    #[cfg(test)]
    pub(crate) fn spawn(path: &Path, thresholds: Thresholds) -> StoreResult<Checkpointer> {
        Self::spawn_counted(path, thresholds, Arc::default())
    }

    /// Opens its own connection to `path` (already created and in WAL mode) and starts, timing
    /// each checkpoint that copies pages into `metrics`.
    pub(crate) fn spawn_counted(
        path: &Path,
        thresholds: Thresholds,
        metrics: Arc<StoreMetrics>,
    ) -> StoreResult<Checkpointer> {
        let conn = Connection::open(path).map_err(|e| {
            tracing::error!(error = %e, path = %path.display(), "cannot open the sqlite checkpointer");
            StoreError::Unavailable
        })?;
        // Only a restart waits (NOOP and PASSIVE never do): for readers of an older snapshot,
        // with the writer held at the gate, so this bounds how long the writer is held.
        conn.busy_timeout(thresholds.restart_wait).map_err(db)?;
        // A checkpoint fsyncs the log before copying and the database file after, per this
        // connection's setting; FULL is the default, stated here so nobody lowers it by accident.
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(db)?;
        let (stop, stopped) = mpsc::sync_channel(1);
        let gate = Gate::default();
        let held = gate.clone();
        let thread = std::thread::Builder::new()
            .name("signet-sqlite-checkpoint".into())
            .spawn(move || run(&conn, &stopped, &held, thresholds, &metrics))
            .map_err(|e| {
                tracing::error!(error = %e, "cannot start the sqlite checkpointer thread");
                StoreError::Unavailable
            })?;
        Ok(Checkpointer {
            stop: Some(stop),
            thread: Some(thread),
            gate,
        })
    }

    /// The gate the writer must hold around each batch.
    pub(crate) fn gate(&self) -> Gate {
        self.gate.clone()
    }

    /// Stops the thread and returns what it did.
    #[cfg(test)]
    pub(crate) fn stop(mut self) -> Counts {
        self.halt()
    }

    fn halt(&mut self) -> Counts {
        drop(self.stop.take());
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(counts)) => counts,
            Some(Err(_)) => {
                tracing::error!("the sqlite checkpointer thread panicked");
                Counts::default()
            }
            None => Counts::default(),
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        if self.thread.is_some() {
            let counts = self.halt();
            tracing::debug!(
                passive = counts.passive,
                held = counts.held,
                restarted = counts.restarted,
                longest_log_pages = counts.longest_log,
                "sqlite checkpointer stopped"
            );
        }
    }
}

/// A `PRAGMA wal_checkpoint` mode. `Noop` only reports; an unknown word would mean `PASSIVE`
/// to SQLite, so the words are spelled once, here. `Restart` runs only with the writer held at
/// the [`Gate`]: SQLite's busy handler polls in steps of milliseconds and would almost never
/// find a busy writer between two batches on its own.
#[derive(Debug, Clone, Copy)]
enum Mode {
    Noop,
    Passive,
    Restart,
}

/// Where a checkpoint left the log, in pages.
#[derive(Debug, Clone, Copy)]
struct WalState {
    /// The checkpoint could not do all it was asked (another checkpoint held the lock, or a
    /// reader did not finish in time).
    busy: bool,
    /// The log's length.
    log: u32,
    /// How much of it is in the database file.
    copied: u32,
}

fn checkpoint(conn: &Connection, mode: Mode) -> Result<WalState, rusqlite::Error> {
    let sql = match mode {
        Mode::Noop => "PRAGMA wal_checkpoint(NOOP)",
        Mode::Passive => "PRAGMA wal_checkpoint(PASSIVE)",
        Mode::Restart => "PRAGMA wal_checkpoint(RESTART)",
    };
    conn.prepare_cached(sql)?.query_row([], |r| {
        // -1 means "not in WAL mode", which `schema.rs` refuses to run without.
        let pages = |i| r.get::<_, i64>(i).map(|n| u32::try_from(n).unwrap_or(0));
        Ok(WalState {
            busy: r.get::<_, i64>(0)? != 0,
            log: pages(1)?,
            copied: pages(2)?,
        })
    })
}

fn run(
    conn: &Connection,
    stopped: &mpsc::Receiver<()>,
    gate: &Gate,
    t: Thresholds,
    metrics: &StoreMetrics,
) -> Counts {
    let mut counts = Counts::default();
    let mut last_log = 0;
    let mut last_hold: Option<Instant> = None;
    loop {
        match stopped.recv_timeout(t.poll) {
            Err(RecvTimeoutError::Timeout) => {}
            // The sender is dropped (or sent, which nobody does) at shutdown.
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return counts,
        }
        let Some(now) = logged(checkpoint(conn, Mode::Noop)) else {
            continue;
        };
        counts.longest_log = counts.longest_log.max(now.log);
        let waiting = now.log.saturating_sub(now.copied);
        // An idle log is copied to its end, so that the next commit starts it over.
        let idle = now.log == last_log;
        last_log = now.log;
        // Only a hold that could not finish (a reader held the log back) waits out the gap
        // before the next one.
        let overdue = last_hold.is_none_or(|at| at.elapsed() >= t.restart_gap);
        if now.log >= t.restart && waiting > 0 && overdue {
            // The passive runs so far copied all but the last pages; with the writer held off,
            // this one waits for older readers, copies the rest, and the next commit starts
            // the log over.
            let held = gate.enter();
            let started = Instant::now();
            let state = logged(checkpoint(conn, Mode::Restart));
            metrics
                .checkpoint_micros
                .observe_duration(started.elapsed());
            drop(held);
            counts.held += 1;
            if state.is_some_and(|s| !s.busy) {
                counts.restarted += 1;
                last_hold = None;
            } else {
                last_hold = Some(Instant::now());
            }
            tracing::debug!(
                log = now.log,
                ?state,
                "sqlite log past its bound; copied its end with the writer held"
            );
            continue;
        }
        if waiting == 0 || (waiting < t.passive && !idle) {
            continue;
        }
        let started = Instant::now();
        let copied = logged(checkpoint(conn, Mode::Passive));
        metrics
            .checkpoint_micros
            .observe_duration(started.elapsed());
        if copied.is_some() {
            counts.passive += 1;
        }
    }
}

/// A failed look at the log is logged and retried at the next poll. A busy one is not a
/// failure: it did what it could.
fn logged(state: Result<WalState, rusqlite::Error>) -> Option<WalState> {
    match state {
        Ok(state) => {
            if state.busy {
                tracing::debug!(?state, "sqlite checkpoint could not finish; retrying later");
            }
            Some(state)
        }
        Err(e) => {
            db(e);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::path::PathBuf;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use rusqlite::OptionalExtension;

    use super::*;
    use crate::writer::Writer;

    /// A migrated database with a table of page-sized rows, and the writer's connection to it.
    fn scratch() -> (tempfile::TempDir, PathBuf, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.sqlite3");
        let conn = crate::schema::open_writer(&path).unwrap();
        conn.execute_batch("CREATE TABLE filler (id INTEGER PRIMARY KEY, body BLOB NOT NULL)")
            .unwrap();
        (dir, path, conn)
    }

    /// Commits `batches` transactions of `rows` page-sized rows each, one commit at a time.
    async fn fill(writer: &Writer, batches: usize, rows: usize) {
        for _ in 0..batches {
            writer
                .write(move |tx| {
                    for _ in 0..rows {
                        tx.execute("INSERT INTO filler (body) VALUES (zeroblob(4000))", [])
                            .map_err(db)?;
                    }
                    Ok(())
                })
                .await
                .unwrap();
        }
    }

    fn outside_view(path: &Path) -> (u32, u32) {
        let conn = Connection::open(path).unwrap();
        let state = checkpoint(&conn, Mode::Noop).unwrap();
        (state.log, state.copied)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_writer_never_checkpoints_on_its_own() {
        let (_dir, path, conn) = scratch();
        let autocheckpoint: i64 = conn
            .query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0))
            .unwrap();
        assert_eq!(autocheckpoint, 0);
        let writer = Writer::spawn(conn, None).unwrap();
        // Well past the 1000 pages at which SQLite would checkpoint inside a commit.
        fill(&writer, 60, 50).await;
        let (log, copied) = outside_view(&path);
        assert!(log > 3000, "the log holds every commit: {log} pages");
        assert_eq!(copied, 0, "no commit copied a page into the database file");
        drop(writer);
    }

    fn quick() -> Thresholds {
        Thresholds {
            poll: Duration::from_millis(1),
            passive: 50,
            restart: 400,
            restart_wait: Duration::from_millis(20),
            restart_gap: Duration::ZERO,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_checkpointer_copies_the_log_and_keeps_it_bounded_under_sustained_writes() {
        let (_dir, path, conn) = scratch();
        let checkpointer = Checkpointer::spawn(&path, quick()).unwrap();
        let writer = Arc::new(Writer::spawn(conn, Some(checkpointer)).unwrap());
        // Readers run throughout, as they do beside a busy writer, and may hold back a
        // checkpoint for the length of a query.
        let done = Arc::new(AtomicBool::new(false));
        let reader = {
            let (done, path) = (Arc::clone(&done), path.clone());
            std::thread::spawn(move || {
                let conn = Connection::open(&path).unwrap();
                let mut reads = 0_i64;
                while !done.load(Ordering::Relaxed) {
                    // A point lookup, as the server's reads are.
                    let _: Option<i64> = conn
                        .query_row(
                            "SELECT length(body) FROM filler WHERE id = ?1",
                            [reads % 1000],
                            |r| r.get(0),
                        )
                        .optional()
                        .unwrap();
                    reads += 1;
                }
                reads
            })
        };
        // About 6000 pages in all, one commit after another without a pause: fifteen times
        // the restart bound.
        fill(&writer, 600, 10).await;
        done.store(true, Ordering::Relaxed);
        assert!(reader.join().unwrap() > 0);
        let (_, counts) = Arc::into_inner(writer).unwrap().stop();
        let counts = counts.unwrap();

        assert!(counts.passive > 0, "no passive checkpoint ran: {counts:?}");
        assert!(
            counts.held > 0,
            "the log never passed its bound: {counts:?}"
        );
        assert!(
            counts.restarted > 0,
            "the log never started over: {counts:?}"
        );
        assert!(
            counts.longest_log < 4 * quick().restart,
            "the log grew to {} pages: {counts:?}",
            counts.longest_log
        );
        let (log, copied) = outside_view(&path);
        assert!(
            log < 4 * quick().restart,
            "the log holds {log} pages at the end"
        );
        assert!(copied <= log);
        // Everything committed is there, whichever file holds it.
        let conn = Connection::open(&path).unwrap();
        let rows: i64 = conn
            .query_row("SELECT count(*) FROM filler", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 6000);
        let ok: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(ok, "ok");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_idle_log_is_copied_to_its_end() {
        let (_dir, path, conn) = scratch();
        let checkpointer = Checkpointer::spawn(&path, quick()).unwrap();
        let writer = Writer::spawn(conn, Some(checkpointer)).unwrap();
        // Far fewer pages than start a passive checkpoint while the log grows.
        fill(&writer, 1, 5).await;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (log, copied) = outside_view(&path);
            if log > 0 && copied == log {
                break;
            }
            assert!(Instant::now() < deadline, "log {log}, copied {copied}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let (_, counts) = writer.stop();
        assert!(counts.unwrap().passive > 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_closed_gate_holds_the_next_commit_until_it_opens() {
        let (_dir, path, conn) = scratch();
        // Polls too rarely to close the gate itself during the test.
        let checkpointer = Checkpointer::spawn(
            &path,
            Thresholds {
                poll: Duration::from_secs(3600),
                ..quick()
            },
        )
        .unwrap();
        let gate = checkpointer.gate();
        let writer = Arc::new(Writer::spawn(conn, Some(checkpointer)).unwrap());
        let held = gate.enter();
        let pending = tokio::spawn({
            let writer = Arc::clone(&writer);
            async move { fill(&writer, 1, 1).await }
        });
        // A blocking sleep: the guard is a std mutex's, not to be held across an await. The
        // write waits on the writer thread meanwhile.
        std::thread::sleep(Duration::from_millis(100));
        assert!(
            !pending.is_finished(),
            "a commit went through a closed gate"
        );
        drop(held);
        tokio::time::timeout(Duration::from_secs(10), pending)
            .await
            .unwrap()
            .unwrap();
    }

    #[test]
    fn the_write_connection_trims_the_log_file_when_it_starts_over() {
        let (_dir, _path, conn) = scratch();
        let limit: i64 = conn
            .query_row("PRAGMA journal_size_limit", [], |r| r.get(0))
            .unwrap();
        assert_eq!(limit, WAL_SIZE_LIMIT);
    }

    /// Sustained journal appends from 32 callers for a few seconds, with the checkpoint in the
    /// commit (SQLite's default) and with the checkpointer; prints both commit-time histograms.
    /// A measurement, not a check (the machine's load decides the numbers):
    /// `cargo test --workspace --locked --lib commit_times_with_and_without -- --ignored --nocapture`
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "a measurement: run by hand"]
    async fn commit_times_with_and_without_the_checkpoint_in_the_commit() {
        for in_commit in [true, false] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("m.sqlite3");
            let conn = crate::schema::open_writer(&path).unwrap();
            let checkpointer = if in_commit {
                conn.pragma_update(None, "wal_autocheckpoint", 1000)
                    .unwrap();
                None
            } else {
                Some(Checkpointer::spawn(&path, Thresholds::default()).unwrap())
            };
            let writer = Arc::new(Writer::spawn(conn, checkpointer).unwrap());
            let until = Instant::now() + Duration::from_secs(4);
            let mut callers = Vec::new();
            for _ in 0..32 {
                let writer = Arc::clone(&writer);
                callers.push(tokio::spawn(async move {
                    let mut appends = 0_u64;
                    while Instant::now() < until {
                        crate::audit::tests::append_one(&writer).await;
                        appends += 1;
                    }
                    appends
                }));
            }
            let mut appends = 0;
            for c in callers {
                appends += c.await.unwrap();
            }
            let (times, counts) = Arc::into_inner(writer).unwrap().stop();
            println!(
                "checkpoint {}: {appends} appends, {} commits, p50 < {} us, p99 < {} us, \
                 p99.9 < {} us, longest {} us; buckets {:?}; checkpointer {:?}",
                if in_commit {
                    "in the commit (SQLite default)"
                } else {
                    "on its own thread"
                },
                times.count,
                times.quantile_bound_us(0.5),
                times.quantile_bound_us(0.99),
                times.quantile_bound_us(0.999),
                times.longest.as_micros(),
                times.buckets,
                counts,
            );
        }
    }
}
