//! The single writer: one thread owns the write connection and commits queued work in groups.
//!
//! SQLite admits one writer at a time, and with `synchronous=FULL` each commit costs an fsync
//! (about 130 µs here). Instead of many connections queueing on the lock and paying one fsync
//! each, every write is a closure sent to this thread. The thread takes whatever is queued (up to
//! [`MAX_BATCH`]), opens one `BEGIN IMMEDIATE` transaction, runs each closure inside its own
//! savepoint, and commits once. A closure that fails rolls back only its savepoint and its caller
//! gets that error; the others are unaffected. Results are sent only after the commit has
//! returned, so an acknowledged write is on disk. If the commit fails (or SQLite abandons the
//! transaction mid-batch), every caller in the batch gets [`StoreError::Unavailable`].
//!
//! The queue is FIFO: work enqueued after other work commits in the same batch or a later one,
//! never earlier. The nonce store relies on this (see `nonce.rs`).
//!
//! Consecutive journal appends (one per signed read, the bulk of the traffic) are coalesced:
//! they share one savepoint, one read of the audit head and one update of it (see
//! `audit::append_coalesced`). If that fails, the savepoint is rolled back and they run again
//! one by one in savepoints of their own, so one bad append fails only its own caller.
//!
//! The writer never checkpoints the WAL: `checkpoint.rs` does, on its own thread, so that no
//! commit pays for copying pages into the database file.
//!
//! A caller that stops waiting (its future is dropped) does not cancel its write.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::{Connection, Transaction, TransactionBehavior};
use signet_store::{StoreError, StoreMetrics, StoreResult};
use tokio::sync::{mpsc, oneshot};

use crate::audit::JournalCall;
use crate::checkpoint::{Checkpointer, Gate};
use crate::error::db;

/// How many closures share one transaction at most, which bounds how long the first caller in a
/// batch waits behind the others.
const MAX_BATCH: usize = 512;

/// How much work may wait for the writer before enqueueing callers wait too.
const QUEUE_DEPTH: usize = 4096;

/// One unit of work for the writer, type-erased so that closures returning different types share
/// one queue.
pub(crate) trait Work: Send {
    /// Runs inside the batch's transaction. `false` means the closure failed and its savepoint
    /// must be rolled back.
    fn run(&mut self, tx: &Transaction<'_>) -> bool;
    /// Tells the caller how it ended, once the fate of the batch is known.
    fn finish(self: Box<Self>, committed: bool);
    /// A journal append, which the writer may coalesce with the appends next to it.
    fn journal(&mut self) -> Option<&mut JournalCall> {
        None
    }
}

/// Sends a caller its result: the one its work produced if the batch committed, otherwise
/// [`StoreError::Unavailable`] (nothing it did is on disk).
pub(crate) fn reply<R>(
    reply: oneshot::Sender<StoreResult<R>>,
    result: Option<StoreResult<R>>,
    committed: bool,
) {
    let result = match result {
        Some(result) if committed => result,
        _ => Err(StoreError::Unavailable),
    };
    // The caller may have stopped waiting; the outcome stands either way.
    let _ = reply.send(result);
}

/// A closure, its result once run, and where to send that result.
struct Call<F, R> {
    job: Option<F>,
    result: Option<StoreResult<R>>,
    reply: oneshot::Sender<StoreResult<R>>,
}

impl<F, R> Work for Call<F, R>
where
    F: FnOnce(&Transaction<'_>) -> StoreResult<R> + Send,
    R: Send,
{
    fn run(&mut self, tx: &Transaction<'_>) -> bool {
        let Some(job) = self.job.take() else {
            return false;
        };
        // A panicking closure must not take the writer thread, and with it every later write,
        // down with it. Its savepoint is rolled back like any other failure.
        let result = catch_unwind(AssertUnwindSafe(|| job(tx))).unwrap_or_else(|_| {
            tracing::error!("a write closure panicked");
            Err(StoreError::Unavailable)
        });
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn finish(self: Box<Self>, committed: bool) {
        reply(self.reply, self.result, committed);
    }
}

/// The writer: the sending side of its queue, and its thread.
///
/// Dropping it closes the queue, then waits for the thread to commit what was already queued,
/// so work handed over without waiting (nonces) is on disk once the store is gone; then it
/// stops the checkpointer.
pub(crate) struct Writer {
    /// `None` only while dropping.
    tx: Option<mpsc::Sender<Box<dyn Work>>>,
    thread: Option<JoinHandle<CommitTimes>>,
    checkpointer: Option<Checkpointer>,
}

impl Writer {
    /// Starts the writer on its own thread with the connection it will own (which must not
    /// checkpoint on commit: see `schema.rs`), beside the checkpointer that does it instead.
    #[cfg(test)]
    pub(crate) fn spawn(
        conn: Connection,
        checkpointer: Option<Checkpointer>,
    ) -> StoreResult<Writer> {
        Self::spawn_counted(conn, checkpointer, Arc::default())
    }

    /// Starts the writer on its own thread with the connection it will own (which must not
    /// checkpoint on commit), counting each group commit's size and time into `metrics`.
    pub(crate) fn spawn_counted(
        conn: Connection,
        checkpointer: Option<Checkpointer>,
        metrics: Arc<StoreMetrics>,
    ) -> StoreResult<Writer> {
        let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
        let gate = checkpointer.as_ref().map(Checkpointer::gate);
        let thread = std::thread::Builder::new()
            .name("signet-sqlite-writer".into())
            .spawn(move || run(conn, rx, gate, &metrics))
            .map_err(|e| {
                tracing::error!(error = %e, "cannot start the sqlite writer thread");
                StoreError::Unavailable
            })?;
        Ok(Writer {
            tx: Some(tx),
            thread: Some(thread),
            checkpointer,
        })
    }

    /// Enqueues a closure and returns where its result will arrive. Waits only if the queue is
    /// full.
    pub(crate) async fn submit<F, R>(
        &self,
        job: F,
    ) -> StoreResult<oneshot::Receiver<StoreResult<R>>>
    where
        F: FnOnce(&Transaction<'_>) -> StoreResult<R> + Send + 'static,
        R: Send + 'static,
    {
        let (reply, rx) = oneshot::channel();
        let call = Call {
            job: Some(job),
            result: None,
            reply,
        };
        self.enqueue(Box::new(call)).await?;
        Ok(rx)
    }

    /// Enqueues work that reports through its own channel. Waits only if the queue is full.
    pub(crate) async fn enqueue(&self, work: Box<dyn Work>) -> StoreResult<()> {
        let Some(tx) = &self.tx else {
            return Err(StoreError::Unavailable);
        };
        tx.send(work).await.map_err(|_| {
            tracing::error!("the sqlite writer has stopped");
            StoreError::Unavailable
        })
    }

    /// Enqueues a closure and waits until its batch is committed.
    pub(crate) async fn write<F, R>(&self, job: F) -> StoreResult<R>
    where
        F: FnOnce(&Transaction<'_>) -> StoreResult<R> + Send + 'static,
        R: Send + 'static,
    {
        let rx = self.submit(job).await?;
        rx.await.map_err(|_| StoreError::Unavailable)?
    }
}

impl Writer {
    /// Commits what is queued, stops the thread and then the checkpointer, and returns how
    /// long the commits took.
    #[cfg(test)]
    pub(crate) fn stop(mut self) -> (CommitTimes, Option<crate::checkpoint::Counts>) {
        let times = self.halt();
        (times, self.checkpointer.take().map(Checkpointer::stop))
    }

    /// Stops the writer thread (the checkpointer is left to the caller).
    fn halt(&mut self) -> CommitTimes {
        // The thread leaves its loop once the queue is closed and drained; joining before
        // closing it would wait forever.
        drop(self.tx.take());
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(times)) => times,
            Some(Err(_)) => {
                tracing::error!("the sqlite writer thread panicked");
                CommitTimes::default()
            }
            None => CommitTimes::default(),
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.halt().log();
        }
        // After the last commit, so that what it wrote is copied too (or by the close).
        drop(self.checkpointer.take());
    }
}

/// How long the writer's commits took, from `BEGIN` to the end of `COMMIT` (the fsync included),
/// in power-of-two buckets of microseconds. Logged at shutdown (debug level), so a benchmark
/// run shows whether any commit stalled.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct CommitTimes {
    /// `buckets[i]` counts commits that took less than `2^i` µs (the last one: any longer).
    pub(crate) buckets: [u64; 24],
    pub(crate) count: u64,
    pub(crate) longest: Duration,
}

impl CommitTimes {
    fn add(&mut self, took: Duration) {
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        // The number of bits of `micros` is the first bucket whose bound exceeds it.
        let bits = usize::try_from(u64::BITS - micros.leading_zeros()).unwrap_or(usize::MAX);
        let last = self.buckets.len() - 1;
        self.buckets[bits.min(last)] += 1;
        self.count += 1;
        self.longest = self.longest.max(took);
    }

    /// The bound (µs) under which at least `share` of the commits finished.
    // Precision loss is irrelevant for a count compared with a share of it.
    #[allow(clippy::cast_precision_loss)]
    pub(crate) fn quantile_bound_us(&self, share: f64) -> u64 {
        let mut seen = 0;
        for (i, n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen as f64 >= share * self.count as f64 {
                return 1 << i;
            }
        }
        u64::MAX
    }

    fn log(&self) {
        tracing::debug!(
            commits = self.count,
            p50_under_us = self.quantile_bound_us(0.5),
            p99_under_us = self.quantile_bound_us(0.99),
            p999_under_us = self.quantile_bound_us(0.999),
            longest_us = u64::try_from(self.longest.as_micros()).unwrap_or(u64::MAX),
            "sqlite writer commit times"
        );
    }
}

fn run(
    mut conn: Connection,
    mut rx: mpsc::Receiver<Box<dyn Work>>,
    gate: Option<Gate>,
    metrics: &StoreMetrics,
) -> CommitTimes {
    let mut batch: Vec<Box<dyn Work>> = Vec::with_capacity(MAX_BATCH);
    let mut busy = false;
    let mut times = CommitTimes::default();
    // `blocking_recv` is fine here: this is a plain thread, never a runtime worker.
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        drain(&mut rx, &mut batch);
        // Under load (the last batch had company), linger briefly so that the requests being
        // handled right now join this commit instead of paying for the next fsync. An idle
        // store commits at once.
        if busy && batch.len() < MAX_BATCH {
            std::thread::sleep(LINGER);
            drain(&mut rx, &mut batch);
        }
        busy = batch.len() > 1;
        metrics
            .commit_batch
            .observe(u64::try_from(batch.len()).unwrap_or(u64::MAX));
        let started = Instant::now();
        // Closed only while the checkpointer copies the end of an overlong log (see
        // `checkpoint.rs`); the wait counts in the commit's time, as its callers feel it.
        let held = gate.as_ref().map(Gate::enter);
        let committed = run_in_transaction(&mut conn, &mut batch, Some(metrics));
        finish(&mut batch, committed);
        drop(held);
        let took = started.elapsed();
        metrics.commit_micros.observe_duration(took);
        times.add(took);
    }
    times
}

/// How long a busy writer waits for more work before committing.
const LINGER: Duration = Duration::from_micros(250);

fn drain(rx: &mut mpsc::Receiver<Box<dyn Work>>, batch: &mut Vec<Box<dyn Work>>) {
    while batch.len() < MAX_BATCH {
        match rx.try_recv() {
            Ok(work) => batch.push(work),
            Err(_) => break,
        }
    }
}

/// Runs one batch in one transaction and reports to every caller in it. Leaves `batch` empty.
#[cfg(test)]
pub(crate) fn commit_batch(conn: &mut Connection, batch: &mut Vec<Box<dyn Work>>) {
    let committed = run_in_transaction(conn, batch, None);
    finish(batch, committed);
}

/// Tells every piece of work whether its group committed.
fn finish(batch: &mut Vec<Box<dyn Work>>, committed: bool) {
    for work in batch.drain(..) {
        work.finish(committed);
    }
}

/// Returns whether the batch committed. `metrics`, when given, times the `COMMIT` alone: the
/// WAL write and its fsync.
fn run_in_transaction(
    conn: &mut Connection,
    batch: &mut [Box<dyn Work>],
    metrics: Option<&StoreMetrics>,
) -> bool {
    let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            db(e);
            return false;
        }
    };
    let mut i = 0;
    while i < batch.len() {
        // A crash with part of a group written must lose the whole group and answer none of it.
        if i > 0 {
            fail::fail_point!("group_commit_mid", |_| std::process::abort());
        }
        let mut appends = 0;
        while batch
            .get_mut(i + appends)
            .is_some_and(|w| w.journal().is_some())
        {
            appends += 1;
        }
        if appends > 1 {
            match coalesced(&tx, &mut batch[i..i + appends]) {
                Step::Done => {
                    i += appends;
                    continue;
                }
                // One by one below, each in its own savepoint.
                Step::Failed => {}
                Step::Abandoned => return false,
            }
        }
        let end = i + appends.max(1);
        for work in &mut batch[i..end] {
            if alone(&tx, work.as_mut()) == Step::Abandoned {
                return false;
            }
        }
        i = end;
    }
    let syncing = Instant::now();
    let result = tx.commit();
    if let Some(m) = metrics {
        m.sync_micros.observe_duration(syncing.elapsed());
    }
    match result {
        Ok(()) => true,
        Err(e) => {
            db(e);
            false
        }
    }
}

/// How one step of a batch ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Its changes stand (until the commit).
    Done,
    /// Its changes were rolled back; the transaction goes on.
    Failed,
    /// The transaction is gone: nothing in the batch may report success.
    Abandoned,
}

/// Runs one piece of work in its own savepoint.
fn alone(tx: &Transaction<'_>, work: &mut dyn Work) -> Step {
    in_savepoint(
        tx,
        "SAVEPOINT work",
        "ROLLBACK TO work",
        "RELEASE work",
        || work.run(tx),
    )
}

/// Runs consecutive journal appends as one (see `audit::append_coalesced`), in one savepoint.
/// On failure none of them has a result yet, and they can run again one by one.
fn coalesced(tx: &Transaction<'_>, appends: &mut [Box<dyn Work>]) -> Step {
    let mut calls: Vec<&mut JournalCall> = appends.iter_mut().filter_map(|w| w.journal()).collect();
    in_savepoint(
        tx,
        "SAVEPOINT journal",
        "ROLLBACK TO journal",
        "RELEASE journal",
        || {
            catch_unwind(AssertUnwindSafe(|| {
                crate::audit::append_coalesced(tx, &mut calls)
            }))
            .unwrap_or_else(|_| {
                tracing::error!("a coalesced journal append panicked");
                false
            })
        },
    )
}

fn in_savepoint(
    tx: &Transaction<'_>,
    open: &'static str,
    undo: &'static str,
    close: &'static str,
    work: impl FnOnce() -> bool,
) -> Step {
    if savepoint(tx, open).is_err() {
        return Step::Abandoned;
    }
    let ok = work();
    // Some failures (I/O, out of memory) make SQLite roll back the whole transaction itself;
    // the earlier work's changes are gone, so nothing in this batch may report success.
    if tx.is_autocommit() {
        tracing::error!("sqlite abandoned a write transaction; failing the whole batch");
        return Step::Abandoned;
    }
    let (closed, step) = if ok {
        (savepoint(tx, close), Step::Done)
    } else {
        (
            savepoint(tx, undo).and_then(|()| savepoint(tx, close)),
            Step::Failed,
        )
    };
    if closed.is_err() {
        return Step::Abandoned;
    }
    step
}

fn savepoint(tx: &Transaction<'_>, sql: &'static str) -> StoreResult<()> {
    tx.prepare_cached(sql)
        .and_then(|mut st| st.execute([]))
        .map(drop)
        .map_err(db)
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;

    use signet_store::Conflict;

    use super::*;

    fn scratch() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join("w.sqlite3")).unwrap();
        conn.execute_batch(
            "PRAGMA foreign_keys = ON;
             CREATE TABLE parent (id INTEGER PRIMARY KEY);
             CREATE TABLE child (id INTEGER PRIMARY KEY, parent INTEGER NOT NULL REFERENCES parent (id));
             CREATE TABLE t (v INTEGER PRIMARY KEY);",
        )
        .unwrap();
        (dir, conn)
    }

    fn call<F, R>(job: F) -> (Box<dyn Work>, oneshot::Receiver<StoreResult<R>>)
    where
        F: FnOnce(&Transaction<'_>) -> StoreResult<R> + Send + 'static,
        R: Send + 'static,
    {
        let (reply, rx) = oneshot::channel();
        (Box::new(call_for(job, reply)), rx)
    }

    /// A closure as the writer queues it, answering on `reply`.
    pub(crate) fn call_for<F, R>(job: F, reply: oneshot::Sender<StoreResult<R>>) -> impl Work
    where
        F: FnOnce(&Transaction<'_>) -> StoreResult<R> + Send + 'static,
        R: Send + 'static,
    {
        Call {
            job: Some(job),
            result: None,
            reply,
        }
    }

    fn insert(v: i64) -> impl FnOnce(&Transaction<'_>) -> StoreResult<i64> + Send + 'static {
        move |tx| {
            tx.execute("INSERT INTO t (v) VALUES (?1)", [v])
                .map(|_| v)
                .map_err(db)
        }
    }

    fn count(conn: &Connection) -> i64 {
        conn.query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn a_failing_closure_rolls_back_only_itself() {
        let (_dir, mut conn) = scratch();
        let (a, ra) = call(insert(1));
        // Inserts a row, then fails: its row must not survive.
        let (b, rb) = call(|tx: &Transaction<'_>| -> StoreResult<()> {
            tx.execute("INSERT INTO t (v) VALUES (2)", []).map_err(db)?;
            tx.execute("INSERT INTO t (v) VALUES (1)", []).map_err(db)?;
            Ok(())
        });
        let (c, rc) = call(|_tx: &Transaction<'_>| -> StoreResult<()> { panic!("boom") });
        let (d, rd) = call(insert(3));
        commit_batch(&mut conn, &mut vec![a, b, c, d]);

        assert_eq!(ra.blocking_recv().unwrap(), Ok(1));
        assert_eq!(
            rb.blocking_recv().unwrap(),
            Err(StoreError::Conflict(Conflict::Id))
        );
        assert_eq!(rc.blocking_recv().unwrap(), Err(StoreError::Unavailable));
        assert_eq!(rd.blocking_recv().unwrap(), Ok(3));
        let rows: Vec<i64> = conn
            .prepare("SELECT v FROM t ORDER BY v")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(rows, [1, 3]);
    }

    #[test]
    fn a_failed_commit_fails_every_caller_in_the_batch() {
        let (_dir, mut conn) = scratch();
        let (a, ra) = call(insert(1));
        // A deferred foreign key is checked only at COMMIT, so this batch cannot commit.
        let (b, rb) = call(|tx: &Transaction<'_>| -> StoreResult<()> {
            tx.execute_batch(
                "PRAGMA defer_foreign_keys = ON; INSERT INTO child (id, parent) VALUES (1, 99);",
            )
            .map_err(db)
        });
        commit_batch(&mut conn, &mut vec![a, b]);

        assert_eq!(ra.blocking_recv().unwrap(), Err(StoreError::Unavailable));
        assert_eq!(rb.blocking_recv().unwrap(), Err(StoreError::Unavailable));
        assert_eq!(count(&conn), 0);
        assert!(
            conn.is_autocommit(),
            "the failed transaction was rolled back"
        );

        // The connection is still usable for the next batch.
        let (c, rc) = call(insert(5));
        commit_batch(&mut conn, &mut vec![c]);
        assert_eq!(rc.blocking_recv().unwrap(), Ok(5));
        assert_eq!(count(&conn), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_callers_each_get_their_own_result() {
        let (dir, conn) = scratch();
        let writer = Arc::new(Writer::spawn(conn, None).unwrap());
        writer.write(insert(-1)).await.unwrap();
        let mut tasks = Vec::new();
        for v in 0..200_i64 {
            let writer = Arc::clone(&writer);
            // Every tenth caller collides with the row written above.
            let row = if v % 10 == 9 { -1 } else { v };
            tasks.push(tokio::spawn(
                async move { (v, writer.write(insert(row)).await) },
            ));
        }
        for task in tasks {
            let (v, result) = task.await.unwrap();
            if v % 10 == 9 {
                assert_eq!(result, Err(StoreError::Conflict(Conflict::Id)));
            } else {
                assert_eq!(result, Ok(v));
            }
        }
        drop(writer);
        let conn = Connection::open(dir.path().join("w.sqlite3")).unwrap();
        assert_eq!(count(&conn), 181);
    }

    #[test]
    fn commit_times_fall_in_power_of_two_buckets() {
        let mut times = CommitTimes::default();
        for micros in [0, 1, 130, 150, 200, 90_000] {
            times.add(Duration::from_micros(micros));
        }
        assert_eq!(times.count, 6);
        assert_eq!(times.longest, Duration::from_micros(90_000));
        // 0 µs is under 1; 1 under 2; 130, 150 and 200 under 256; 90 ms under 2^17.
        assert_eq!(times.buckets[0], 1);
        assert_eq!(times.buckets[1], 1);
        assert_eq!(times.buckets[8], 3);
        assert_eq!(times.buckets[17], 1);
        assert_eq!(times.quantile_bound_us(0.5), 256);
        assert_eq!(times.quantile_bound_us(0.99), 1 << 17);
        times.add(Duration::from_secs(3600));
        assert_eq!(
            times.buckets[23], 1,
            "anything longer lands in the last bucket"
        );
    }
}
