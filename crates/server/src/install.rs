//! The composition root: makes the data folder, loads or creates the root key, picks the storage
//! backend and opens the vault. It is the only code that names a backend crate.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use signet_core::{Signet, SignetConfig, SystemClock};
use signet_crypto::RootKey;
use signet_store::Store;
use signet_store_postgres::PgStore;
use signet_store_sqlite::SqliteStore;
use zeroize::Zeroizing;

use crate::config::{RootKeySource, ServerConfig};

/// The database file inside the data folder.
pub const DB_FILE: &str = "signet.db";
/// The default root key file inside the data folder.
pub const ROOT_KEY_FILE: &str = "root.key";

/// Why the installation could not be opened. Messages say what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InstallError {
    /// The data folder could not be created or used.
    #[error("cannot use data folder {0}: {1}")]
    DataDir(String, String),
    /// A database exists but its root key is missing.
    #[error(
        "the database {0} exists but its root key is missing ({1}); refusing to start. \
         Restore the root key this database was created with"
    )]
    MissingRootKey(String, String),
    /// The root key file can be read or written by group or others.
    #[error(
        "the root key file {0} is accessible to other users (mode {1:o}); refusing to start. \
         Make it private with: chmod 600 {0}"
    )]
    KeyFileExposed(String, u32),
    /// The root key is unreadable or malformed.
    #[error("the root key in {0} is not 64 hex digits")]
    BadRootKey(String),
    /// The key does not match the database.
    #[error("{0}")]
    Open(#[from] signet_core::vault::OpenError),
    /// The store could not be opened.
    #[error("cannot open the database {0}; is it readable and not corrupt?")]
    Store(String),
    /// A database URL that names no backend Signet knows, or no database.
    #[error("{0}")]
    DatabaseUrl(String),
}

/// Where a store lives: `sqlite://PATH` or `postgres://...` / `postgresql://...`.
///
/// Parsed, not normalised: the SQLite path is the text after `sqlite://` exactly (so
/// `sqlite:///var/lib/signet/signet.db` is absolute and `sqlite://data/signet.db` relative to
/// the working directory), and a PostgreSQL URL is kept as given for the driver to read. Both
/// `Debug` and `Display` hide a PostgreSQL password.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DatabaseUrl {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL, as given.
    Postgres(String),
}

impl DatabaseUrl {
    /// Parses a URL. The error names only the scheme, never the rest: it may hold a password.
    pub fn parse(url: &str) -> Result<DatabaseUrl, InstallError> {
        let Some((scheme, rest)) = url.split_once("://") else {
            return Err(InstallError::DatabaseUrl(
                "a database URL starts with sqlite://, postgres:// or postgresql:// \
                 (for example sqlite:///var/lib/signet/signet.db)"
                    .into(),
            ));
        };
        match scheme {
            "sqlite" if rest.is_empty() => Err(InstallError::DatabaseUrl(
                "sqlite:// needs the path of the database file after it \
                 (sqlite:///absolute/path or sqlite://relative/path)"
                    .into(),
            )),
            "sqlite" => Ok(DatabaseUrl::Sqlite(PathBuf::from(rest))),
            "postgres" | "postgresql" => Ok(DatabaseUrl::Postgres(url.to_owned())),
            other => Err(InstallError::DatabaseUrl(format!(
                "unsupported database URL scheme `{}`; use sqlite://PATH, postgres:// or \
                 postgresql://",
                other
                    .chars()
                    .filter(|c| !c.is_control())
                    .collect::<String>()
            ))),
        }
    }
}

impl std::str::FromStr for DatabaseUrl {
    type Err = InstallError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            Self::Postgres(url) => f.write_str(&redact_password(url)),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

/// `scheme://user:secret@host/db` becomes `scheme://user:***@host/db`; anything else is
/// returned as it is.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
        None => url.to_owned(),
    }
}

/// Opens the store `url` names, creating an empty one if there is none (a SQLite file with mode
/// 0600 in a 0700 folder made if missing), and bringing its schema up to date. Opens no vault:
/// `signet storage migrate` needs the store as it is, and a target without a vault.
pub async fn open_store(url: &DatabaseUrl) -> Result<Arc<dyn Store>, InstallError> {
    match url {
        DatabaseUrl::Sqlite(path) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                make_private_dir(dir)?;
            }
            let store = SqliteStore::open(path)
                .map_err(|_| InstallError::Store(path.display().to_string()))?;
            Ok(Arc::new(store))
        }
        // Migrations run under an advisory lock, so replicas may all start at once.
        DatabaseUrl::Postgres(raw) => {
            let store = PgStore::connect(raw)
                .await
                .map_err(|_| InstallError::Store(url.to_string()))?;
            Ok(Arc::new(store))
        }
    }
}

fn make_private_dir(dir: &Path) -> Result<(), InstallError> {
    let err = |e: std::io::Error| InstallError::DataDir(dir.display().to_string(), e.to_string());
    if !dir.exists() {
        fs::create_dir_all(dir).map_err(err)?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(err)?;
    }
    let mode = fs::metadata(dir).map_err(err)?.permissions().mode();
    if mode & 0o077 != 0 {
        tracing::warn!(dir = %dir.display(), mode = format!("{:o}", mode & 0o777), "data folder is accessible to other users; chmod 700 it");
    }
    Ok(())
}

fn read_key_file(path: &Path) -> Result<Option<RootKey>, InstallError> {
    let io = |e: std::io::Error| InstallError::DataDir(path.display().to_string(), e.to_string());
    let mut file = match fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(e)),
    };
    // As ssh does for private keys: a key others could read may already be theirs, and one
    // others could write may be swapped. The mode is read from the open file, so the file
    // checked is the file read.
    let mode = file.metadata().map_err(io)?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(InstallError::KeyFileExposed(
            path.display().to_string(),
            mode,
        ));
    }
    let mut text = Zeroizing::new(String::new());
    std::io::Read::read_to_string(&mut file, &mut text).map_err(io)?;
    RootKey::from_hex(&text)
        .map(Some)
        .map_err(|_| InstallError::BadRootKey(path.display().to_string()))
}

fn create_key_file(path: &Path) -> Result<RootKey, InstallError> {
    let err = |e: std::io::Error| InstallError::DataDir(path.display().to_string(), e.to_string());
    let key = RootKey::generate()
        .map_err(|_| InstallError::DataDir(path.display().to_string(), "OS RNG failed".into()))?;
    // create_new: never overwrite a key that appeared meanwhile.
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(err)?;
    f.write_all(key.to_hex().as_bytes()).map_err(err)?;
    f.write_all(b"\n").map_err(err)?;
    f.sync_all().map_err(err)?;
    Ok(key)
}

/// Loads the root key for the installation in `data_dir` whose data lives in `database`,
/// creating it only for a brand-new SQLite installation. A PostgreSQL database is shared by
/// replicas, so its key always comes from the config.
pub fn root_key(
    source: &RootKeySource,
    data_dir: &Path,
    database: &DatabaseUrl,
) -> Result<RootKey, InstallError> {
    let db = database.to_string();
    match source {
        RootKeySource::File(path) => read_key_file(path)?.ok_or_else(|| {
            InstallError::MissingRootKey(db, format!("file {} not found", path.display()))
        }),
        RootKeySource::Env(var) => {
            let text = Zeroizing::new(std::env::var(var).unwrap_or_default());
            if text.trim().is_empty() {
                return Err(InstallError::MissingRootKey(
                    db,
                    format!("environment variable {var} is empty"),
                ));
            }
            RootKey::from_hex(&text).map_err(|_| InstallError::BadRootKey(format!("${var}")))
        }
        RootKeySource::DataDir => {
            let DatabaseUrl::Sqlite(file) = database else {
                return Err(InstallError::MissingRootKey(
                    db,
                    "a shared database needs root_key_file or root_key_env".into(),
                ));
            };
            let path = data_dir.join(ROOT_KEY_FILE);
            match read_key_file(&path)? {
                Some(k) => Ok(k),
                None if file.exists() => Err(InstallError::MissingRootKey(
                    db,
                    format!("{} not found", path.display()),
                )),
                None => create_key_file(&path),
            }
        }
    }
}

/// Opens (or creates) the installation whose data lives in `database` and returns the business
/// layer. `data_dir` holds the root key by default.
pub async fn open(
    data_dir: &Path,
    database: &DatabaseUrl,
    source: &RootKeySource,
    config: SignetConfig,
) -> Result<Arc<Signet>, InstallError> {
    make_private_dir(data_dir)?;
    let key = root_key(source, data_dir, database)?;
    let store = open_store(database).await?;
    let signet = Signet::open(store, key, Arc::new(SystemClock), config).await?;
    Ok(Arc::new(signet))
}

/// Opens the installation a [`ServerConfig`] describes.
pub async fn open_server(config: &ServerConfig) -> Result<Arc<Signet>, InstallError> {
    let core = SignetConfig {
        api_url: config.api_url.clone(),
        tokenless_requests_per_minute: config.tokenless_requests_per_minute,
        auth_failures: config.auth_failures,
    };
    open(&config.data_dir, &config.database, &config.root_key, core).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn database_urls_parse_without_normalising() {
        assert_eq!(
            DatabaseUrl::parse("sqlite:///var/lib/signet/signet.db").unwrap(),
            DatabaseUrl::Sqlite(PathBuf::from("/var/lib/signet/signet.db"))
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite://data/../signet.db").unwrap(),
            DatabaseUrl::Sqlite(PathBuf::from("data/../signet.db"))
        );
        for url in [
            "postgres://signet:pw@db:5432/signet?sslmode=require",
            "postgresql://db/signet",
        ] {
            assert_eq!(
                DatabaseUrl::parse(url).unwrap(),
                DatabaseUrl::Postgres(url.to_owned())
            );
        }
    }

    #[test]
    fn bad_database_urls_are_refused_without_echoing_them() {
        for url in [
            "",
            "sqlite://",
            "sqlite:signet.db",
            "/var/lib/signet/signet.db",
            "mysql://root:hunter2@db/signet",
            "SQLITE:///x",
        ] {
            let e = DatabaseUrl::parse(url).unwrap_err().to_string();
            assert!(e.contains("sqlite://"), "{url}: {e}");
            assert!(!e.contains("hunter2"), "{e}");
        }
    }

    #[test]
    fn a_postgres_password_is_never_displayed() {
        let url = DatabaseUrl::parse("postgres://signet:hunter2@db:5432/signet").unwrap();
        assert_eq!(url.to_string(), "postgres://signet:***@db:5432/signet");
        assert!(!format!("{url:?}").contains("hunter2"));
        let url = DatabaseUrl::parse("postgresql://db/signet?user=x").unwrap();
        assert_eq!(url.to_string(), "postgresql://db/signet?user=x");
    }

    #[tokio::test]
    async fn open_store_makes_the_folder_and_an_empty_store() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new").join("signet.db");
        let url = DatabaseUrl::parse(&format!("sqlite://{}", path.display())).unwrap();
        let store = open_store(&url).await.unwrap();
        assert_eq!(store.vault().await.unwrap(), None);
        let mode = fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
        // Nothing listens on port 9: a clear error that names the database but not the password.
        let pg = DatabaseUrl::parse("postgres://signet:hunter2@127.0.0.1:9/signet").unwrap();
        let Err(e) = open_store(&pg).await else {
            panic!("connected to nothing")
        };
        let msg = e.to_string();
        assert!(
            msg.contains("127.0.0.1:9/signet") && !msg.contains("hunter2"),
            "{msg}"
        );
    }
}
