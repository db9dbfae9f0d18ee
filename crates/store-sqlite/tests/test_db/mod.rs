//! A fresh database file per test under `target/tmp/test-dbs/`, deleted when the test passes and
//! kept (with its path printed) when it fails, so a failure can be inspected with `sqlite3`.

// Shared by several test binaries, each of which uses only part of it.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use signet_store::Store;
use signet_store::conformance::{Harness, Reopened};
use signet_store_sqlite::SqliteStore;

static NEXT: AtomicUsize = AtomicUsize::new(0);

pub struct TestDb {
    store: Option<Arc<SqliteStore>>,
    path: PathBuf,
}

impl TestDb {
    /// Async only so that it fits `conformance_suite!`, which awaits its argument.
    pub async fn new() -> TestDb {
        Self::create()
    }

    pub fn create() -> TestDb {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("test-dbs");
        std::fs::create_dir_all(&dir).unwrap();
        // libtest names each test's thread after the test; the counter keeps names unique when
        // tests share a thread (`--test-threads=1`).
        let test = std::thread::current()
            .name()
            .unwrap_or("test")
            .replace("::", ".");
        let binary = module_path!().split("::").next().unwrap_or("tests");
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!(
            "{binary}.{test}.{}-{n}.sqlite3",
            std::process::id()
        ));
        remove_files(&path);
        let store = Arc::new(SqliteStore::open(&path).unwrap());
        TestDb {
            store: Some(store),
            path,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn sqlite(&self) -> &Arc<SqliteStore> {
        self.store.as_ref().unwrap()
    }

    pub fn dyn_store(&self) -> Arc<dyn Store> {
        Arc::clone(self.sqlite()) as Arc<dyn Store>
    }

    /// Closes the store (waiting for its writer) and opens the file again, as a restart would.
    pub fn reopen(&mut self) {
        let old = self.store.take().unwrap();
        assert_eq!(
            Arc::strong_count(&old),
            1,
            "the test still holds the old store"
        );
        drop(old);
        self.store = Some(Arc::new(SqliteStore::open(&self.path).unwrap()));
    }
}

impl Harness for TestDb {
    fn store(&self) -> Arc<dyn Store> {
        self.dyn_store()
    }

    /// A second store on the file, as a restarted process opens it (this one stays open).
    fn reopen(&self) -> Reopened<'_> {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&self.path).unwrap());
        Box::pin(async move { Some(store) })
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        drop(self.store.take());
        if std::thread::panicking() {
            eprintln!(
                "test failed; its database is kept at {}",
                self.path.display()
            );
        } else {
            remove_files(&self.path);
        }
    }
}

fn remove_files(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(p);
    }
}
