//! The composition root: makes the data folder, loads or creates the root key, picks the storage
//! backend and opens the vault. It is the only code that names a backend crate.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use signet_core::{Signet, SignetConfig, SystemClock};
use signet_crypto::RootKey;
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
    /// The root key is unreadable or malformed.
    #[error("the root key in {0} is not 64 hex digits")]
    BadRootKey(String),
    /// The key does not match the database.
    #[error("{0}")]
    Open(#[from] signet_core::vault::OpenError),
    /// The store could not be opened.
    #[error("cannot open the database {0}; is it readable and not corrupt?")]
    Store(String),
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
    match fs::read_to_string(path) {
        Ok(text) => {
            let text = Zeroizing::new(text);
            RootKey::from_hex(&text)
                .map(Some)
                .map_err(|_| InstallError::BadRootKey(path.display().to_string()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(InstallError::DataDir(
            path.display().to_string(),
            e.to_string(),
        )),
    }
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

/// Loads the root key for `data_dir`, creating it only for a brand-new installation.
pub fn root_key(source: &RootKeySource, data_dir: &Path) -> Result<RootKey, InstallError> {
    let db = data_dir.join(DB_FILE);
    let db_exists = db.exists();
    match source {
        RootKeySource::File(path) => read_key_file(path)?.ok_or_else(|| {
            InstallError::MissingRootKey(
                db.display().to_string(),
                format!("file {} not found", path.display()),
            )
        }),
        RootKeySource::Env(var) => {
            let text = Zeroizing::new(std::env::var(var).unwrap_or_default());
            if text.trim().is_empty() {
                return Err(InstallError::MissingRootKey(
                    db.display().to_string(),
                    format!("environment variable {var} is empty"),
                ));
            }
            RootKey::from_hex(&text).map_err(|_| InstallError::BadRootKey(format!("${var}")))
        }
        RootKeySource::DataDir => {
            let path = data_dir.join(ROOT_KEY_FILE);
            match read_key_file(&path)? {
                Some(k) => Ok(k),
                None if db_exists => Err(InstallError::MissingRootKey(
                    db.display().to_string(),
                    format!("{} not found", path.display()),
                )),
                None => create_key_file(&path),
            }
        }
    }
}

/// Opens (or creates) the installation in `data_dir` and returns the business layer.
pub async fn open(
    data_dir: &Path,
    source: &RootKeySource,
    config: SignetConfig,
) -> Result<Arc<Signet>, InstallError> {
    make_private_dir(data_dir)?;
    let key = root_key(source, data_dir)?;
    let db: PathBuf = data_dir.join(DB_FILE);
    let store =
        SqliteStore::open(&db).map_err(|_| InstallError::Store(db.display().to_string()))?;
    let signet = Signet::open(Arc::new(store), key, Arc::new(SystemClock), config).await?;
    Ok(Arc::new(signet))
}

/// Opens the installation a [`ServerConfig`] describes.
pub async fn open_server(config: &ServerConfig) -> Result<Arc<Signet>, InstallError> {
    let core = SignetConfig {
        api_url: config.api_url.clone(),
        tokenless_requests_per_minute: config.tokenless_requests_per_minute,
    };
    open(&config.data_dir, &config.root_key, core).await
}
