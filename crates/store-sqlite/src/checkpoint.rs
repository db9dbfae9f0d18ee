//! The WAL checkpointer: copies committed pages from the log into the database file on its own
//! thread and connection, so that no commit ever does it.
//!
//! By default SQLite checkpoints inside the COMMIT that takes the log past 1000 pages: that one
//! commit copies the pages and fsyncs the database file while every caller in its batch (and
//! every caller queued behind it) waits. Measured on the read benchmark, that was the p99 tail:
//! a few milliseconds every second or so, at any load. The write connection therefore has
//! `wal_autocheckpoint = 0` (see `schema.rs`) and this thread does the work instead:
//!
//! * every [`Thresholds::poll`] it asks SQLite how long the log is (a `NOOP` checkpoint reads the
//!   WAL index and takes no lock);
//! * once [`Thresholds::passive`] pages wait to be copied (or the log has stopped growing with
//!   some still uncopied, or it is past [`Thresholds::restart`]), it runs a `PASSIVE`
//!   checkpoint, which never blocks the writer or a reader;
//! * a passive checkpoint cannot finish while the writer keeps appending, and the log only
//!   starts over from its beginning when a writer finds it fully copied. So under sustained load
//!   the log can keep growing: past [`Thresholds::restart`] pages, a `RESTART` checkpoint waits
//!   (at most [`Thresholds::restart_wait`], and then only once per [`Thresholds::restart_gap`])
//!   for the writer and readers to step aside, copies what the passive runs left and makes the
//!   next commit start the log over. That bounds the log; the write connection's
//!   `journal_size_limit` then gives the disk space back.
//!
//! A checkpoint never loses anything: the log is durable (`synchronous = FULL`) and a page is
//! only copied, never moved. A crash mid-checkpoint is repaired by the next open, as SQLite
//! always does. Failures are logged and retried at the next poll.

use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use rusqlite::wal::CheckpointMode;
use signet_store::{StoreError, StoreResult};

use crate::error::db;

/// When the checkpointer acts. [`Thresholds::default`] is what the server uses; tests shrink it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Thresholds {
    /// How often the log's length is looked at.
    pub(crate) poll: Duration,
    /// Uncopied pages that start a passive checkpoint: SQLite's own default, so the database
    /// file lags the log by no more than it did.
    pub(crate) passive: u32,
    /// Log length (pages) past which the log is made to start over.
    pub(crate) restart: u32,
    /// How long a restart may hold off new commits while it waits for readers.
    pub(crate) restart_wait: Duration,
    /// The least time between two restarts, so that a long reader (an export, a backup) costs
    /// the writer at most one short wait per gap.
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

/// What the checkpointer did, for the log line at shutdown and for tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Counts {
    /// Passive checkpoints run.
    pub(crate) passive: u64,
    /// Restart checkpoints that completed.
    pub(crate) restarts: u64,
    /// The longest log seen, in pages.
    pub(crate) longest_log: u32,
}

/// The checkpointer thread. Dropping it stops the thread and waits for it.
pub(crate) struct Checkpointer {
    stop: Option<SyncSender<()>>,
    thread: Option<JoinHandle<Counts>>,
}

impl Checkpointer {
    /// Opens its own connection to `path` (already created and in WAL mode) and starts.
    pub(crate) fn spawn(path: &Path, thresholds: Thresholds) -> StoreResult<Checkpointer> {
        let conn = Connection::open(path).map_err(|e| {
            tracing::error!(error = %e, path = %path.display(), "cannot open the sqlite checkpointer");
            StoreError::Unavailable
        })?;
        // The busy handler is only consulted by a restart (a passive checkpoint never waits),
        // so this bounds how long a restart holds off new commits.
        conn.busy_timeout(thresholds.restart_wait).map_err(db)?;
        // A checkpoint fsyncs the log before copying and the database file after, per this
        // connection's setting; FULL is the default, stated here so nobody lowers it by accident.
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(db)?;
        let (stop, stopped) = mpsc::sync_channel(1);
        let thread = std::thread::Builder::new()
            .name("signet-sqlite-checkpoint".into())
            .spawn(move || run(&conn, &stopped, thresholds))
            .map_err(|e| {
                tracing::error!(error = %e, "cannot start the sqlite checkpointer thread");
                StoreError::Unavailable
            })?;
        Ok(Checkpointer {
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Stops the thread and returns what it did.
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
                restarts = counts.restarts,
                longest_log_pages = counts.longest_log,
                "sqlite checkpointer stopped"
            );
        }
    }
}

/// The log's length and how much of it is already in the database file, in pages.
fn wal_state(conn: &Connection, mode: CheckpointMode) -> Result<(u32, u32), rusqlite::Error> {
    let (log, copied) = conn.wal_checkpoint_v2(None::<&str>, mode)?;
    // -1 means "not in WAL mode", which `schema.rs` refuses to run without.
    Ok((
        u32::try_from(log).unwrap_or(0),
        u32::try_from(copied).unwrap_or(0),
    ))
}

fn run(conn: &Connection, stopped: &mpsc::Receiver<()>, t: Thresholds) -> Counts {
    let mut counts = Counts::default();
    let mut last_log = 0;
    let mut last_restart: Option<Instant> = None;
    loop {
        match stopped.recv_timeout(t.poll) {
            Err(RecvTimeoutError::Timeout) => {}
            // The sender is dropped (or sent, which nobody does) at shutdown.
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return counts,
        }
        let (log, copied) = match wal_state(conn, CheckpointMode::NOOP) {
            Ok(state) => state,
            Err(e) => {
                db(e);
                continue;
            }
        };
        counts.longest_log = counts.longest_log.max(log);
        let waiting = log.saturating_sub(copied);
        // An idle log is copied to the end, so that the next commit starts it over.
        let idle = log == last_log;
        last_log = log;
        if waiting == 0 || (waiting < t.passive && !idle && log < t.restart) {
            continue;
        }
        let (log, copied) = match wal_state(conn, CheckpointMode::PASSIVE) {
            Ok(state) => state,
            Err(e) => {
                // Another process's checkpoint holds the lock: it does the same work.
                busy_or_logged(e);
                continue;
            }
        };
        counts.passive += 1;
        let overdue = last_restart.is_none_or(|at| at.elapsed() >= t.restart_gap);
        if log >= t.restart && overdue {
            last_restart = Some(Instant::now());
            // Whatever the passive run left is copied with new commits held off for a moment,
            // and the next commit starts the log over.
            tracing::debug!(log, copied, "sqlite log past its bound; restarting it");
            match wal_state(conn, CheckpointMode::RESTART) {
                Ok(_) => counts.restarts += 1,
                Err(e) => busy_or_logged(e),
            }
        }
    }
}

/// A checkpoint that found the lock taken, or readers that would not step aside in time, is
/// not a failure: the next poll tries again.
fn busy_or_logged(e: rusqlite::Error) {
    if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy) {
        tracing::debug!("sqlite checkpoint found the log busy; retrying later");
    } else {
        db(e);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::path::PathBuf;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

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
                        tx.execute(
                            "INSERT INTO filler (body) VALUES (zeroblob(4000))",
                            [],
                        )
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
        wal_state(&conn, CheckpointMode::NOOP).unwrap()
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
        let writer = Arc::new(Writer::spawn(conn, None).unwrap());
        // Readers run throughout, as they do beside a busy writer, and may hold back a
        // checkpoint for the length of a query.
        let done = Arc::new(AtomicBool::new(false));
        let reader = {
            let (done, path) = (Arc::clone(&done), path.clone());
            std::thread::spawn(move || {
                let conn = Connection::open(&path).unwrap();
                let mut reads = 0_u64;
                while !done.load(Ordering::Relaxed) {
                    let _: i64 = conn
                        .query_row("SELECT count(*) FROM filler", [], |r| r.get(0))
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
        drop(writer);
        let counts = checkpointer.stop();

        assert!(counts.passive > 0, "no passive checkpoint ran: {counts:?}");
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
        let writer = Writer::spawn(conn, None).unwrap();
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
        drop(writer);
        assert!(checkpointer.stop().passive > 0);
    }

    #[test]
    fn the_write_connection_trims_the_log_file_when_it_starts_over() {
        let (_dir, _path, conn) = scratch();
        let limit: i64 = conn
            .query_row("PRAGMA journal_size_limit", [], |r| r.get(0))
            .unwrap();
        assert_eq!(limit, WAL_SIZE_LIMIT);
    }
}
