//! The composition root: makes the data folder, loads or creates the root key, picks the storage
//! backend and opens the vault. It is the only code that names a backend crate or holds a
//! [`Store`]; the CLI's offline commands (`create-owner`, `storage migrate`) call the operations
//! here instead of opening stores themselves.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use signet_core::account::{NewOwner, OwnerEnrollment};
use signet_core::{ChainKey, CoreError, Signet, SignetConfig, SystemClock};
use signet_crypto::RootKey;
use signet_proto::VaultId;
use signet_store::{AuditChain, Cell, Conflict, Store, StoreError, Table};
use signet_store_postgres::PgStore;
use signet_store_sqlite::SqliteStore;
use zeroize::Zeroizing;

use crate::config::{RootKeySource, ServerConfig};

/// The database file inside the data folder.
pub const DB_FILE: &str = "signet.db";
/// The default root key file inside the data folder.
pub const ROOT_KEY_FILE: &str = "root.key";
/// The passphrase-sealed root key's usual name in the data folder (`signet unseal`).
pub const SEALED_KEY_FILE: &str = "root.key.sealed";
/// The PKCS#11-sealed root key's usual name in the data folder (`signet unseal`).
pub const PKCS11_KEY_FILE: &str = "root.key.p11";

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
    /// An audit device could not be opened (the message names it and the path).
    #[error("{0}")]
    AuditDevice(String),
    /// A sealed root key could not be unsealed (crate::unseal).
    #[error(transparent)]
    Unseal(#[from] crate::unseal::UnsealError),
    /// A sealed root key file lies in the data folder but the config does not name it.
    #[error(
        "{0} exists but the config names no sealed root key; set root_key_sealed_file or \
         root_key_pkcs11_file (or --root-key-sealed-file / --root-key-pkcs11-file) to it; \
         refusing to start rather than make a new plain key"
    )]
    UnnamedSealedKey(String),
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
            "postgres" | "postgresql" => check_postgres_url(url).map(DatabaseUrl::Postgres),
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

/// A PostgreSQL URL as sqlx reads it (the `url` crate, the parser of every URL here), taken
/// only as that parser writes it: a password with an unencoded `@` or `/`, a space or a
/// `#fragment` would otherwise reach the driver as something else than what was written. The
/// errors never repeat the URL: it may hold a password.
fn check_postgres_url(text: &str) -> Result<String, InstallError> {
    let parsed = url::Url::parse(text).map_err(|e| {
        InstallError::DatabaseUrl(format!("the PostgreSQL database URL is not a URL ({e})"))
    })?;
    if parsed.fragment().is_some() {
        return Err(InstallError::DatabaseUrl(
            "the PostgreSQL database URL must not have a #fragment".into(),
        ));
    }
    if parsed.as_str() != text {
        return Err(InstallError::DatabaseUrl(
            "the PostgreSQL database URL is not written as a URL parser reads it: \
             percent-encode special characters (`@ / : ? # %` and spaces) in the user name, \
             password and database name, and write nothing around it"
                .into(),
        ));
    }
    Ok(text.to_owned())
}

/// `scheme://user:secret@host/db` becomes `scheme://user:***@host/db`; a URL that does not
/// parse (never one [`DatabaseUrl::parse`] made) is hidden whole.
fn redact_password(text: &str) -> String {
    match url::Url::parse(text) {
        Ok(mut parsed) => {
            if parsed.password().is_some() && parsed.set_password(Some("***")).is_err() {
                return format!("{}://***", parsed.scheme());
            }
            parsed.to_string()
        }
        Err(_) => "postgres://***".to_owned(),
    }
}

/// Opens the store `url` names, creating an empty one if there is none (a SQLite file with mode
/// 0600 in a 0700 folder made if missing), and bringing its schema up to date. Opens no vault:
/// `signet storage migrate` needs the store as it is, and a target without a vault.
async fn open_store(url: &DatabaseUrl) -> Result<Arc<dyn Store>, InstallError> {
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

pub fn make_private_dir(dir: &Path) -> Result<(), InstallError> {
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

/// Reads a key file (plain or sealed) that only its owner may read or write: `None` if it does
/// not exist.
pub fn read_private_file(path: &Path) -> Result<Option<Zeroizing<String>>, InstallError> {
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
    Ok(Some(text))
}

/// Reads a plain root key file (64 hex digits): `None` if it does not exist.
pub fn read_key_file(path: &Path) -> Result<Option<RootKey>, InstallError> {
    let Some(text) = read_private_file(path)? else {
        return Ok(None);
    };
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
        RootKeySource::Passphrase { file, passphrase } => {
            let text = read_private_file(file)?.ok_or_else(|| {
                InstallError::MissingRootKey(db, format!("file {} not found", file.display()))
            })?;
            let pass = crate::unseal::passphrase(passphrase, file)?;
            Ok(crate::unseal::open_sealed(&text, &pass, file)?)
        }
        RootKeySource::Pkcs11 { file, token } => {
            let text = read_private_file(file)?.ok_or_else(|| {
                InstallError::MissingRootKey(db, format!("file {} not found", file.display()))
            })?;
            Ok(crate::unseal::pkcs11::unseal(&text, file, token)?)
        }
        RootKeySource::DataDir => {
            let DatabaseUrl::Sqlite(file) = database else {
                return Err(InstallError::MissingRootKey(
                    db,
                    "a shared database needs root_key_file or root_key_env".into(),
                ));
            };
            let path = data_dir.join(ROOT_KEY_FILE);
            // A sealed key beside where the plain one would be: the operator sealed this
            // installation and forgot the setting. Making a new plain key would start an empty
            // vault (or refuse the database); saying so is the useful answer.
            for sealed in [SEALED_KEY_FILE, PKCS11_KEY_FILE] {
                let sealed = data_dir.join(sealed);
                if !path.exists() && sealed.exists() {
                    return Err(InstallError::UnnamedSealedKey(sealed.display().to_string()));
                }
            }
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

/// An installation opened for bulk seeding (`signet-seed`, crates/bench): the business layer,
/// the store under it, and the audit chain key. Only a seeder needs the store itself, to append
/// audit records and nonces in batches far larger than any request makes, through the same
/// journal and nonce set the server uses, so that `signet audit verify` checks them like any
/// other record. The server never opens an installation this way.
pub struct Seeding {
    /// The business layer over `store`.
    pub signet: Arc<Signet>,
    /// The store the server would open.
    pub store: Arc<dyn Store>,
    /// Links audit records as core does.
    pub chain: Arc<dyn AuditChain>,
}

/// Opens (or creates) the installation in `data_dir` as [`open`] does, for a seeder. Run it
/// while no server holds the installation: the seeder's in-memory nonce set is its own.
pub async fn open_for_seeding(
    data_dir: &Path,
    database: &DatabaseUrl,
    source: &RootKeySource,
) -> Result<Seeding, InstallError> {
    make_private_dir(data_dir)?;
    let key = root_key(source, data_dir, database)?;
    let chain: Arc<dyn AuditChain> = Arc::new(ChainKey::new(key.audit_key()));
    let store = open_store(database).await?;
    let signet = Signet::open(
        store.clone(),
        key,
        Arc::new(SystemClock),
        SignetConfig::default(),
    )
    .await?;
    Ok(Seeding {
        signet: Arc::new(signet),
        store,
        chain,
    })
}

/// Opens the installation a [`ServerConfig`] describes.
pub async fn open_server(config: &ServerConfig) -> Result<Arc<Signet>, InstallError> {
    let core = SignetConfig {
        api_url: config.api_url.clone(),
        tokenless_requests_per_minute: config.tokenless_requests_per_minute,
        auth_failures: config.auth_failures,
        provisioner: Arc::new(crate::provision::PgProvisioner),
        event_streams_per_machine: config.event_streams_per_machine,
    };
    let signet = open(&config.data_dir, &config.database, &config.root_key, core).await?;
    // The composition root picks how webhooks are sent: over HTTP, behind the SSRF guard.
    let w = &config.webhooks;
    signet.webhooks().set_sender(
        Arc::new(crate::webhook::HttpSender::new(w.allow.clone(), w.timeout)),
        w.policy,
    );
    // Trusted OIDC issuers' keys are fetched behind the same guard, with their own allowance.
    signet.enrollment().issuers().set_fetcher(
        Arc::new(crate::issuer_keys::KeyClient::new(
            config.oidc_allow.clone(),
        )),
        config.oidc_keys,
    );
    Ok(signet)
}

/// Opens the audit devices `specs` names and sends every record from now on to them too
/// (`crate::audit_device`). The answer reopens the devices' files on SIGHUP.
pub async fn attach_audit_devices(
    signet: &Signet,
    specs: &[crate::audit_device::DeviceSpec],
) -> Result<crate::audit_device::Devices, InstallError> {
    let devices = crate::audit_device::Devices::open(specs)
        .map_err(|e| InstallError::AuditDevice(e.to_string()))?;
    signet
        .audit()
        .set_devices(devices.all.clone())
        .await
        .map_err(|_| InstallError::Store("(reading the audit head)".to_owned()))?;
    Ok(devices)
}

/// The audit chain's key for checking device files offline (`signet audit verify --file`):
/// the root key as the server would load it, but never created.
pub fn audit_chain_key(config: &ServerConfig) -> Result<ChainKey, InstallError> {
    let key = match &config.root_key {
        RootKeySource::DataDir => {
            let path = config.data_dir.join(ROOT_KEY_FILE);
            read_key_file(&path)?.ok_or_else(|| {
                InstallError::MissingRootKey(
                    config.database.to_string(),
                    format!("{} not found", path.display()),
                )
            })?
        }
        source => root_key(source, &config.data_dir, &config.database)?,
    };
    Ok(ChainKey::new(key.audit_key()))
}

/// Why the first owner could not be created offline.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OwnerError {
    /// The installation could not be opened.
    #[error(transparent)]
    Install(#[from] InstallError),
    /// The business layer refused the owner (a user exists, a weak password, ...).
    #[error("cannot create the owner")]
    Create(#[source] CoreError),
}

/// `signet server create-owner`: opens (or creates) the installation `config` describes and
/// creates its first owner. Returns what the owner is shown once, and the vault's id.
pub async fn create_owner(
    config: &ServerConfig,
    owner: NewOwner<'_>,
) -> Result<(OwnerEnrollment, VaultId), OwnerError> {
    // Offline: only the public URL matters (it goes into the authenticator's label); the
    // server's budgets keep their defaults, as no request is served.
    let core = SignetConfig {
        api_url: config.api_url.clone(),
        ..SignetConfig::default()
    };
    let signet = open(&config.data_dir, &config.database, &config.root_key, core).await?;
    let created = signet
        .accounts()
        .create_owner(owner)
        .await
        .map_err(OwnerError::Create)?;
    Ok((created, signet.vault_id().clone()))
}

/// Why `signet storage migrate` stopped. The messages name the command's `--from` and `--to`,
/// since that command is their only reader.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransferError {
    /// The source is a SQLite file that does not exist (opening it would create it).
    #[error("no database at {}; check --from", .0.display())]
    NoSource(PathBuf),
    /// Source and target are the same database.
    #[error("--from and --to name the same database")]
    SameDatabase,
    /// The source could not be opened.
    #[error("cannot open the source {0}")]
    OpenSource(DatabaseUrl, #[source] InstallError),
    /// The source could not be read.
    #[error("cannot read the source {0}")]
    ReadSource(DatabaseUrl, #[source] StoreFailure),
    /// The source holds no vault.
    #[error("the source {0} holds no vault; there is nothing to migrate")]
    NoVault(DatabaseUrl),
    /// The target could not be opened.
    #[error("cannot open the target {0}")]
    OpenTarget(DatabaseUrl, #[source] InstallError),
    /// The target could not be read.
    #[error("cannot read the target {0}")]
    ReadTarget(DatabaseUrl, #[source] StoreFailure),
    /// The target holds a vault or rows already; nothing was changed.
    #[error("the target {0} is not empty; migrate only into a new database (nothing was changed)")]
    NotEmpty(DatabaseUrl),
    /// The source could not be exported.
    #[error("cannot export {0}")]
    Export(DatabaseUrl, #[source] StoreFailure),
    /// The target refused the import; it wrote nothing.
    #[error("cannot import into {0}; nothing was written to it")]
    Import(DatabaseUrl, #[source] StoreFailure),
    /// The copy could not be read back.
    #[error("cannot read back {0} to verify the copy")]
    ReadBack(DatabaseUrl, #[source] StoreFailure),
    /// The copy read back differs from what was exported.
    #[error(
        "the copy in {to} differs from the source (table {table}); do not use it: delete it and \
         run the migration again"
    )]
    Differs {
        /// The target.
        to: DatabaseUrl,
        /// The first table that differs (or "(extra tables)").
        table: String,
    },
}

/// A store error told to the person running a migration. Store errors carry no detail by design
/// (the backend logged it), so this says what each means.
#[derive(Debug, thiserror::Error)]
#[error("{}", describe(.0))]
pub struct StoreFailure(StoreError);

fn describe(e: &StoreError) -> String {
    match e {
        StoreError::Unavailable => "the database is unavailable (see the log above)".to_owned(),
        StoreError::Corrupt => {
            "the data does not fit the database schema (see the log above)".to_owned()
        }
        StoreError::Conflict(_) | StoreError::NotFound => e.to_string(),
    }
}

/// What a migration copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    /// The vault that was copied.
    pub vault_id: VaultId,
    /// Every table, in the source's order, with its row count.
    pub tables: Vec<(String, usize)>,
}

/// `signet storage migrate`: copies every table from the store `from` names into the empty
/// store `to` names, through the backends' export and import, then proves the copy by exporting
/// it again. Needs no root key, since nothing is decrypted: ciphertexts, wrapped keys and audit
/// hashes travel byte for byte. The source may stay in use; the copy is one consistent snapshot.
pub async fn transfer(from: &DatabaseUrl, to: &DatabaseUrl) -> Result<Transfer, TransferError> {
    transfer_with(from, to, &Unwatched).await
}

async fn transfer_with(
    from: &DatabaseUrl,
    to: &DatabaseUrl,
    watch: &dyn Watch,
) -> Result<Transfer, TransferError> {
    // Opening a missing SQLite file would create it, and then report an empty source.
    if let DatabaseUrl::Sqlite(path) = from
        && !path.exists()
    {
        return Err(TransferError::NoSource(path.clone()));
    }
    if from == to {
        return Err(TransferError::SameDatabase);
    }
    let failed = |e: StoreError| StoreFailure(e);
    let source = open_store(from)
        .await
        .map_err(|e| TransferError::OpenSource(from.clone(), e))?;
    let Some(vault) = source
        .vault()
        .await
        .map_err(|e| TransferError::ReadSource(from.clone(), failed(e)))?
    else {
        return Err(TransferError::NoVault(from.clone()));
    };
    let target = open_store(to)
        .await
        .map_err(|e| TransferError::OpenTarget(to.clone(), e))?;
    refuse_unless_empty(target.as_ref(), to).await?;

    let tables = source
        .export_tables()
        .await
        .map_err(|e| TransferError::Export(from.clone(), failed(e)))?;
    let rows: usize = tables.iter().map(|t| t.rows.len()).sum();
    watch.total(rows as u64);
    watch.step(&format!("writing {} tables", tables.len()));
    match target.import_tables(tables.clone()).await {
        Ok(()) => {}
        Err(StoreError::Conflict(Conflict::NotEmpty)) => {
            return Err(TransferError::NotEmpty(to.clone()));
        }
        Err(e) => return Err(TransferError::Import(to.clone(), failed(e))),
    }
    watch.advance(rows as u64);
    watch.step("verifying the copy");
    let copy = target
        .export_tables()
        .await
        .map_err(|e| TransferError::ReadBack(to.clone(), failed(e)))?;
    if let Some(name) = first_difference(&tables, &copy) {
        return Err(TransferError::Differs {
            to: to.clone(),
            table: name.to_owned(),
        });
    }
    Ok(Transfer {
        vault_id: vault.id,
        tables: tables.into_iter().map(|t| (t.name, t.rows.len())).collect(),
    })
}

async fn refuse_unless_empty(target: &dyn Store, to: &DatabaseUrl) -> Result<(), TransferError> {
    let read = |e: StoreError| TransferError::ReadTarget(to.clone(), StoreFailure(e));
    let vault = target.vault().await.map_err(read)?;
    let tables = target.export_tables().await.map_err(read)?;
    if vault.is_some() || tables.iter().any(|t| t.state_rows() > 0) {
        return Err(TransferError::NotEmpty(to.clone()));
    }
    Ok(())
}

/// A cell in a form that sorts, so rows can be compared as multisets.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum Key<'a> {
    Null,
    Int(i64),
    Text(&'a str),
    Bytes(&'a [u8]),
}

/// A table's rows with their cells in `columns` order, sorted. Backends keep different table
/// and row orders (SQLite by rowid, PostgreSQL by key), so a copy is the same data, not the same
/// sequence. `None` if the table lacks one of `columns`.
fn canonical<'a>(table: &'a Table, columns: &[String]) -> Option<Vec<Vec<Key<'a>>>> {
    let index: Vec<usize> = columns
        .iter()
        .map(|c| table.columns.iter().position(|have| have == c))
        .collect::<Option<_>>()?;
    let mut rows: Vec<Vec<Key<'a>>> = table
        .rows
        .iter()
        .map(|row| {
            index
                .iter()
                .map(|&i| match row.get(i) {
                    Some(Cell::Int(v)) => Key::Int(*v),
                    Some(Cell::Text(v)) => Key::Text(v),
                    Some(Cell::Bytes(v)) => Key::Bytes(v),
                    Some(Cell::Null) | None => Key::Null,
                })
                .collect()
        })
        .collect();
    rows.sort_unstable();
    Some(rows)
}

/// The name of the first table whose columns or rows differ, or that is missing on one side.
fn first_difference<'a>(expected: &'a [Table], actual: &[Table]) -> Option<&'a str> {
    for want in expected {
        let same = actual
            .iter()
            .find(|t| t.name == want.name)
            .is_some_and(|got| {
                got.columns.len() == want.columns.len()
                    && canonical(got, &want.columns) == canonical(want, &want.columns)
            });
        if !same {
            return Some(&want.name);
        }
    }
    (actual.len() != expected.len()).then_some("(extra tables)")
}

// ---------------------------------------------------------------------------------------------
// Backups (`signet backup`, `signet restore`, issue 15 §2) and progress on long host-side work.
// The file format and its encryption are pure (`signet_store::backup`, `signet_crypto::backup`);
// the CLI reads and writes the file. What needs a store or the root key is here.

/// What long host-side work reports as it goes; the CLI draws it as a progress bar on a
/// terminal. Every method has a default that does nothing.
pub trait Watch: Send + Sync {
    /// A new phase ("exporting", "importing 40 rows").
    fn step(&self, _what: &str) {}
    /// The phase's total, once known.
    fn total(&self, _total: u64) {}
    /// `n` more done.
    fn advance(&self, _n: u64) {}
}

/// Watches nothing.
pub struct Unwatched;

impl Watch for Unwatched {}

/// [`transfer`], reporting its phases and rows to `watch`.
pub async fn transfer_watched(
    from: &DatabaseUrl,
    to: &DatabaseUrl,
    watch: &dyn Watch,
) -> Result<Transfer, TransferError> {
    watch.step("reading the source");
    let copied = transfer_with(from, to, watch).await?;
    Ok(copied)
}

/// The root key of the installation `config` describes, read and never created: a backup or a
/// restore must not mint a key for a data folder that lacks one.
fn existing_root_key(config: &ServerConfig) -> Result<RootKey, BackupError> {
    if let (RootKeySource::DataDir, DatabaseUrl::Sqlite(_)) = (&config.root_key, &config.database) {
        let path = config.data_dir.join(ROOT_KEY_FILE);
        return read_key_file(&path)?.ok_or(BackupError::NoRootKey(path));
    }
    Ok(root_key(
        &config.root_key,
        &config.data_dir,
        &config.database,
    )?)
}

/// The key that encrypts backups taken without a key file: derived from the root key of the
/// installation `config` describes.
pub fn root_backup_key(config: &ServerConfig) -> Result<signet_crypto::BackupKey, BackupError> {
    Ok(existing_root_key(config)?.backup_key())
}

/// Why `signet backup` or `signet restore` stopped. Messages say what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    /// The installation (or the target's root key) could not be opened.
    #[error(transparent)]
    Install(#[from] InstallError),
    /// The data folder has no root key file (and a backup or restore never makes one).
    #[error(
        "no root key at {}; copy the backed-up installation's root key there (mode 0600), or \
         give --config with its root_key_file (nothing was written)",
        .0.display()
    )]
    NoRootKey(PathBuf),
    /// No database where the configuration points.
    #[error("no database at {}; check --data-dir, --config and --database-url", .0.display())]
    NoDatabase(PathBuf),
    /// The database holds no vault.
    #[error("the database {0} holds no vault; there is nothing to back up")]
    NoVault(DatabaseUrl),
    /// The store failed.
    #[error("{1} {0}")]
    Store(DatabaseUrl, &'static str, #[source] StoreFailure),
    /// The audit record could not be appended: fail closed.
    #[error("cannot record the {0} in the audit log of {1}; nothing was done")]
    Audit(&'static str, DatabaseUrl),
    /// The restore target holds data.
    #[error("the target {0} is not empty; restore only into a new database (nothing was changed)")]
    NotEmpty(DatabaseUrl),
    /// The backup's vault was written under another root key.
    #[error(
        "the backup's vault was written under another root key than the one configured for \
         {0}; give the target the root key of the backed-up installation (nothing was changed)"
    )]
    WrongRootKey(DatabaseUrl),
    /// The restored copy does not read back as the backup holds it.
    #[error(
        "the restored copy in {to} differs from the backup (table {table}); do not use it: \
         delete it and restore again"
    )]
    Differs {
        /// The target.
        to: DatabaseUrl,
        /// The first table that differs.
        table: String,
    },
    /// The restored audit chain does not verify or does not end where the backup's did.
    #[error(
        "the restored audit chain in {0} does not verify ({1}); do not use this copy: delete it"
    )]
    Chain(DatabaseUrl, String),
}

/// One consistent snapshot of a running installation, for a backup file.
pub struct Snapshot {
    /// The vault.
    pub vault_id: VaultId,
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    /// Every table, as [`signet_store::TransferStore::export_tables`] read them.
    pub tables: Vec<Table>,
    /// The audit head in the snapshot: the `backup_create` record or a later one.
    pub audit_head: Option<(u64, [u8; 32])>,
    /// When the snapshot was taken, Unix ms.
    pub taken_at_ms: i64,
    /// The backup key derived from the installation's root key.
    pub root_backup_key: signet_crypto::BackupKey,
}

fn backend_name(url: &DatabaseUrl) -> &'static str {
    match url {
        DatabaseUrl::Sqlite(_) => "sqlite",
        DatabaseUrl::Postgres(_) => "postgres",
    }
}

/// `signet backup`: records `backup_create` (naming `manifest_id`) in the installation's audit
/// chain through core's journal, then exports every table in one read snapshot (which holds that
/// record). The server may keep serving meanwhile.
pub async fn backup_snapshot(
    config: &ServerConfig,
    manifest_id: &str,
    watch: &dyn Watch,
) -> Result<Snapshot, BackupError> {
    let url = &config.database;
    // Opening a missing SQLite file would create it.
    if let DatabaseUrl::Sqlite(path) = url
        && !path.exists()
    {
        return Err(BackupError::NoDatabase(path.clone()));
    }
    let store_err = |what: &'static str| {
        move |e: StoreError| BackupError::Store(url.clone(), what, StoreFailure(e))
    };
    let key = existing_root_key(config)?;
    let store = open_store(url).await?;
    if store
        .vault()
        .await
        .map_err(store_err("cannot read"))?
        .is_none()
    {
        return Err(BackupError::NoVault(url.clone()));
    }
    let root_backup_key = key.backup_key();
    let signet = Signet::open(
        store.clone(),
        key,
        Arc::new(SystemClock),
        SignetConfig::default(),
    )
    .await
    .map_err(InstallError::from)?;
    signet
        .audit()
        .record_backup(manifest_id)
        .await
        .map_err(|_| BackupError::Audit("backup", url.clone()))?;
    watch.step("reading a snapshot");
    let taken_at_ms = signet.now_ms();
    let tables = store
        .export_tables()
        .await
        .map_err(store_err("cannot export"))?;
    Ok(Snapshot {
        vault_id: signet.vault_id().clone(),
        backend: backend_name(url),
        audit_head: audit_head_of(&tables),
        tables,
        taken_at_ms,
        root_backup_key,
    })
}

/// The head an exported `audit_head` table holds.
pub fn audit_head_of(tables: &[Table]) -> Option<(u64, [u8; 32])> {
    let t = tables.iter().find(|t| t.name == "audit_head")?;
    let seq = t.columns.iter().position(|c| c == "seq")?;
    let hash = t.columns.iter().position(|c| c == "hash")?;
    let row = t.rows.first()?;
    match (row.get(seq)?, row.get(hash)?) {
        (Cell::Int(s), Cell::Bytes(h)) => {
            Some((u64::try_from(*s).ok()?, h.as_slice().try_into().ok()?))
        }
        _ => None,
    }
}

/// The key-check value an exported `vault` table holds.
fn key_check_of(tables: &[Table]) -> Option<&[u8]> {
    let t = tables.iter().find(|t| t.name == "vault")?;
    let col = t.columns.iter().position(|c| c == "key_check")?;
    match t.rows.first()?.get(col)? {
        Cell::Bytes(b) => Some(b),
        _ => None,
    }
}

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    /// The vault restored.
    pub vault_id: VaultId,
    /// Every table with its row count.
    pub tables: Vec<(String, usize)>,
    /// Audit records checked after the import.
    pub audit_records: u64,
    /// The chain's head after the `backup_restore` record.
    pub head_seq: Option<u64>,
}

/// `signet restore`: loads `tables` (read from a backup file whose every chunk and table hash
/// the caller has verified) into the empty store `config` names, in one transaction; reads the
/// copy back and compares; opens the vault with the configured root key and checks the whole
/// audit chain, which must end at `expected_head`; then records `backup_restore`.
///
/// Refuses, writing nothing, a target that holds anything and a root key the backup's vault was
/// not written under.
pub async fn restore(
    config: &ServerConfig,
    tables: Vec<Table>,
    manifest_id: &str,
    expected_head: Option<(u64, [u8; 32])>,
    watch: &dyn Watch,
) -> Result<Restored, BackupError> {
    let url = &config.database;
    let store_err = |what: &'static str| {
        move |e: StoreError| BackupError::Store(url.clone(), what, StoreFailure(e))
    };
    let key = existing_root_key(config)?;
    if !key_check_of(&tables).is_some_and(|check| key.key_check().matches(check)) {
        return Err(BackupError::WrongRootKey(url.clone()));
    }
    let store = open_store(url).await?;
    match refuse_unless_empty(store.as_ref(), url).await {
        Ok(()) => {}
        Err(TransferError::NotEmpty(_)) => return Err(BackupError::NotEmpty(url.clone())),
        Err(TransferError::ReadTarget(_, StoreFailure(e))) => {
            return Err(store_err("cannot read")(e));
        }
        Err(_) => return Err(BackupError::NotEmpty(url.clone())),
    }
    let rows: usize = tables.iter().map(|t| t.rows.len()).sum();
    watch.step(&format!("importing {rows} rows"));
    match store.import_tables(tables.clone()).await {
        Ok(()) => {}
        Err(StoreError::Conflict(Conflict::NotEmpty)) => {
            return Err(BackupError::NotEmpty(url.clone()));
        }
        Err(e) => return Err(store_err("cannot import into (nothing was written)")(e)),
    }
    watch.advance(rows as u64);
    watch.step("reading the copy back");
    let copy = store
        .export_tables()
        .await
        .map_err(store_err("cannot read back"))?;
    if let Some(name) = first_difference(&tables, &copy) {
        return Err(BackupError::Differs {
            to: url.clone(),
            table: name.to_owned(),
        });
    }
    watch.step("verifying the audit chain");
    let signet = Signet::open(
        store.clone(),
        key,
        Arc::new(SystemClock),
        SignetConfig::default(),
    )
    .await
    .map_err(InstallError::from)?;
    let report = signet
        .audit()
        .verify_host()
        .await
        .map_err(|_| BackupError::Chain(url.clone(), "the chain could not be read".into()))?;
    if !report.ok {
        return Err(BackupError::Chain(
            url.clone(),
            report.problem.unwrap_or_else(|| "broken".into()),
        ));
    }
    let head = store.audit_head().await.map_err(store_err("cannot read"))?;
    if head.map(|h| (h.seq, h.hash)) != expected_head {
        return Err(BackupError::Chain(
            url.clone(),
            "its head is not the backup's".into(),
        ));
    }
    signet
        .audit()
        .record_restore(manifest_id)
        .await
        .map_err(|_| BackupError::Audit("restore", url.clone()))?;
    let head = store.audit_head().await.map_err(store_err("cannot read"))?;
    Ok(Restored {
        vault_id: signet.vault_id().clone(),
        tables: tables
            .iter()
            .map(|t| (t.name.clone(), t.rows.len()))
            .collect(),
        audit_records: report.records,
        head_seq: head.map(|h| h.seq),
    })
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
        // PostgreSQL URLs the parser would rewrite (so the driver would read something else).
        for url in [
            "postgres://signet:hunter2@x@db/signet",
            "postgres://signet:hunter 2@db/signet",
            "postgres://signet:hunter2@db/signet#x",
            "postgres://signet:hunter2@db:5432:1/signet",
            "postgres://signet:hunter2@[::1/signet",
            " postgres://signet:hunter2@db/signet",
        ] {
            let e = match DatabaseUrl::parse(url) {
                Err(e) => e.to_string(),
                Ok(u) => panic!("{url:?} taken as {u}"),
            };
            assert!(
                e.contains("PostgreSQL") || e.contains("sqlite://"),
                "{url}: {e}"
            );
            assert!(!e.contains("hunter2"), "{e}");
        }
        for url in [
            "postgres://signet:hunter%40x@db/signet",
            "postgres:///signet?host=/var/run/postgresql",
            "postgres://[::1]:5432/signet",
            "postgres://postgres@127.0.0.1:5432",
        ] {
            assert!(DatabaseUrl::parse(url).is_ok(), "{url}");
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

#[cfg(test)]
mod transfer_tests {
    use super::*;

    fn table(name: &str, rows: Vec<Vec<Cell>>) -> Table {
        Table {
            name: name.to_owned(),
            columns: vec!["v".to_owned()],
            rows,
        }
    }

    #[test]
    fn a_difference_names_its_table() {
        let a = vec![
            table("vault", vec![vec![Cell::Int(1)]]),
            table("audit", vec![]),
        ];
        assert_eq!(first_difference(&a, &a.clone()), None);
        let mut b = a.clone();
        b[1].rows.push(vec![Cell::Null]);
        assert_eq!(first_difference(&a, &b), Some("audit"));
        assert_eq!(first_difference(&a, &a[..1]), Some("audit"));
        let mut c = a.clone();
        c.push(table("extra", vec![]));
        assert_eq!(first_difference(&a, &c), Some("(extra tables)"));
        // Another backend's table and row order is the same data.
        let swapped = vec![a[1].clone(), a[0].clone()];
        assert_eq!(first_difference(&a, &swapped), None);
        let two = table("audit", vec![vec![Cell::Int(1)], vec![Cell::Int(2)]]);
        let mut reversed = two.clone();
        reversed.rows.reverse();
        assert_eq!(
            first_difference(std::slice::from_ref(&two), &[reversed]),
            None
        );
        let mut changed = two.clone();
        changed.rows[1] = vec![Cell::Text("2".into())];
        assert_eq!(first_difference(&[two], &[changed]), Some("audit"));
    }
}
