//! The change feed: LISTEN/NOTIFY on one dedicated connection.
//!
//! Every write to the vault settings or the IP allowlist advances the vault's policy stamp and
//! runs `pg_notify(CHANNEL, 'policy')` in its own transaction, and every audit append runs
//! `pg_notify(CHANNEL, 'audit')` in its own (the event hub's wake-up, `Change::Audit`), so the notification goes out
//! exactly when the change commits, from whichever replica made it. The notification is only a
//! hint for an early reload: it arrives some time after the commit, so correctness rests on the
//! stamp, which each signed request reads with its machine lookup. Each store runs a listener task on a connection of its own
//! (application name [`LISTENER_APP`], outside the main pool so that a `LISTEN` never leaks into
//! a pooled connection) and calls every watcher on each notification.
//!
//! A dropped connection loses notifications, silently. So when the listener's connection fails
//! the task reports [`Change::Lost`], reconnects with a doubling backoff, and reports
//! [`Change::Resumed`] once it is listening again: core then distrusts its caches in between.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use signet_store::{Change, ChangeFeed, ChangeWatcher, FeedState, StoreResult};
use sqlx::PgConnection;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::error::db;
use crate::{PgOptions, PgStore};

/// The notification channel every replica listens on.
pub(crate) const CHANNEL: &str = "signet_changes";

/// The payload of an audit append (`audit::move_head`): the event hub's wake-up, which must not
/// reload any policy cache.
pub(crate) const AUDIT: &str = "audit";

/// The listener connection's `application_name`, so an operator can tell it apart.
pub const LISTENER_APP: &str = "signet-listener";

const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Records a policy change inside the caller's transaction: advances the vault's policy stamp
/// (what makes the change binding on every replica's next request) and announces it (an early
/// hint, which PostgreSQL delivers only if and when that transaction commits). One statement,
/// so the stamp costs no extra round trip; without a vault row there is no stamp to advance.
pub(crate) async fn policy_changed(conn: &mut PgConnection) -> StoreResult<()> {
    sqlx::query(
        "WITH bumped AS (
             UPDATE vault SET policy_version = policy_version + 1 WHERE singleton = 1
         )
         SELECT pg_notify('signet_changes', 'policy')",
    )
    .execute(conn)
    .await
    .map(drop)
    .map_err(db)
}

/// Announces a policy change without advancing the stamp, inside the caller's transaction: for
/// an import, which copies the stamp along with the rest of the vault row.
pub(crate) async fn notify_policy(conn: &mut PgConnection) -> StoreResult<()> {
    sqlx::query("SELECT pg_notify('signet_changes', 'policy')")
        .execute(conn)
        .await
        .map(drop)
        .map_err(db)
}

/// Whether the feed is live, and who to tell. One lock over both, so that a watcher either
/// registers before a transition (and is told of it) or after (and sees its outcome).
#[derive(Default)]
struct Watchers {
    live: bool,
    all: Vec<ChangeWatcher>,
}

type Shared = Arc<Mutex<Watchers>>;

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, Watchers> {
    // A poisoned lock only means a watcher panicked; the list is still valid.
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

/// Sets the state (if given) and returns who to tell, in one critical section. Watchers are
/// called after the lock is released, so one may call `watch` without deadlocking.
fn transition(shared: &Shared, live: Option<bool>) -> Vec<ChangeWatcher> {
    let mut w = lock(shared);
    if let Some(live) = live {
        w.live = live;
    }
    w.all.clone()
}

fn tell(watchers: &[ChangeWatcher], change: Change) {
    for w in watchers {
        w(change);
    }
}

/// The listener task and its watchers. Dropping it stops the task.
pub(crate) struct Feed {
    shared: Shared,
    task: JoinHandle<()>,
}

impl Feed {
    /// Starts the listener and waits (at most `options.listen_timeout`) for its first `LISTEN`,
    /// so a freshly connected store is live.
    pub(crate) async fn start(connect: &PgConnectOptions, options: &PgOptions) -> Feed {
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .min_connections(0)
            .acquire_timeout(options.acquire_timeout)
            .max_lifetime(None)
            .idle_timeout(None)
            .connect_lazy_with(connect.clone().application_name(LISTENER_APP));
        let shared = Shared::default();
        let (ready, listening) = oneshot::channel();
        let task = tokio::spawn(listen(pool, Arc::clone(&shared), ready));
        if tokio::time::timeout(options.listen_timeout, listening)
            .await
            .is_err()
        {
            tracing::warn!("the change feed is not listening yet; starting without it");
        }
        Feed { shared, task }
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn subscribe(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    // On a lost connection, return at once (so `Lost` is reported) and reconnect here, with
    // backoff, rather than inside `try_recv`.
    listener.eager_reconnect(false);
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

async fn listen(pool: PgPool, shared: Shared, ready: oneshot::Sender<()>) {
    let mut ready = Some(ready);
    let mut backoff = MIN_BACKOFF;
    loop {
        match subscribe(&pool).await {
            Ok(mut listener) => {
                backoff = MIN_BACKOFF;
                // Everyone registered so far was told `Down` (at registration, or by `Lost`).
                tell(&transition(&shared, Some(true)), Change::Resumed);
                if let Some(ready) = ready.take() {
                    let _ = ready.send(());
                }
                tracing::info!("change feed listening");
                loop {
                    match listener.try_recv().await {
                        // Any payload but an audit append counts as a policy change: an
                        // unknown one is a newer replica's change, and reporting it as a policy
                        // change only costs a reload.
                        Ok(Some(n)) => deliver(&shared, change_of(n.payload())),
                        Ok(None) => {
                            tracing::warn!("change feed connection lost");
                            break;
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "change feed connection failed");
                            break;
                        }
                    }
                }
                drop(listener);
                tell(&transition(&shared, Some(false)), Change::Lost);
            }
            Err(e) => tracing::warn!(error = %e, "change feed cannot listen"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Tells every watcher of one notification. The fault point `change_feed_drop` (test builds
/// only) swallows it, as a notification still in flight would: the policy stamp, not the feed,
/// must keep every replica's next request on the current policy.
fn deliver(shared: &Shared, change: Change) {
    fail::fail_point!("change_feed_drop", |_| ());
    tell(&transition(shared, None), change);
}

/// What a notification's payload reports.
fn change_of(payload: &str) -> Change {
    if payload == AUDIT {
        Change::Audit
    } else {
        Change::Policy
    }
}

impl ChangeFeed for PgStore {
    fn watch(&self, watcher: ChangeWatcher) -> FeedState {
        let mut w = lock(&self.feed.shared);
        w.all.push(watcher);
        if w.live {
            FeedState::Live
        } else {
            FeedState::Down
        }
    }
}
