//! `signet backup FILE`, `signet backup keygen`, `signet backup inspect` and `signet restore
//! FILE`: encrypted, verified snapshots of an installation, run on the server host with the
//! options `signet user create-owner` takes. The snapshot and the restore are
//! `signet_server::install::{backup_snapshot, restore}` (the composition root opens stores); the
//! file format is `signet_store::backup`, its encryption `signet_crypto::backup`. This module
//! reads and writes the file.

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use serde_json::json;
use signet_crypto::BackupKey;
use signet_crypto::backup::{BackupOpener, BackupSealer, TAG_LEN, fresh_salt};
use signet_server::config::{FileConfig, ServerConfig};
use signet_server::install::{self, Watch};
use signet_store::Table;
use signet_store::backup::{
    self as format, CHUNK_SIZE, FORMAT_VERSION, Manifest, ManifestHead, ManifestKey, ManifestTable,
    PREAMBLE_LEN, SALT_LEN,
};
use zeroize::Zeroizing;

use crate::output;
use crate::progress::{Progress, Unit};

/// Where the installation is, as `signet user create-owner` takes it.
#[derive(Debug, clap::Args)]
pub struct Installation {
    /// The server's data folder.
    #[arg(long, env = "SIGNET_DATA_DIR")]
    data_dir: PathBuf,
    /// The server's config file, if the root key is not in the data folder.
    #[arg(long, env = "SIGNET_CONFIG")]
    config: Option<PathBuf>,
    /// The server's database, if not the SQLite file in the data folder.
    #[arg(long, env = "SIGNET_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
}

impl Installation {
    fn resolve(&self) -> Result<ServerConfig> {
        let mut file = match &self.config {
            Some(p) => FileConfig::load(p)?,
            None => FileConfig::default(),
        };
        file.data_dir = Some(self.data_dir.clone());
        file.database_url = self.database_url.clone().or(file.database_url);
        // No listener is opened here; only the data folder, database and key source matter.
        file.insecure_http = Some(true);
        Ok(file.resolve()?)
    }
}

/// `signet backup`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BackupArgs {
    #[command(subcommand)]
    command: Option<BackupCommand>,
    /// The backup file to write (refused if it exists; written 0600).
    #[arg(value_name = "FILE")]
    file: Option<PathBuf>,
    /// Encrypt with this backup key file (64 hex digits, mode 0600; see `signet backup
    /// keygen`) instead of a key derived from the root key.
    #[arg(long, value_name = "FILE", visible_alias = "backup-key")]
    key_file: Option<PathBuf>,
    /// The server's data folder.
    #[arg(long, env = "SIGNET_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// The server's config file, if the root key is not in the data folder.
    #[arg(long, env = "SIGNET_CONFIG")]
    config: Option<PathBuf>,
    /// The server's database, if not the SQLite file in the data folder.
    #[arg(long, env = "SIGNET_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
}

#[derive(Debug, clap::Subcommand)]
enum BackupCommand {
    /// Make a backup key file with the OS RNG (mode 0600, its folder made 0700 if missing).
    Keygen {
        /// The key file to create (refused if it exists).
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Print a backup's manifest; with its key, also decrypt and check every chunk and table.
    Inspect {
        /// The backup file.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// The backup key file, for a backup made with one.
        #[arg(long, value_name = "FILE", visible_alias = "backup-key")]
        key_file: Option<PathBuf>,
        /// The installation's data folder, for a backup encrypted under its root key.
        #[arg(long, env = "SIGNET_DATA_DIR")]
        data_dir: Option<PathBuf>,
        /// The server's config file, if the root key is not in the data folder.
        #[arg(long, env = "SIGNET_CONFIG")]
        config: Option<PathBuf>,
    },
}

/// `signet restore`.
#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    /// The backup file.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// The backup key file, for a backup made with one (otherwise the key is derived from the
    /// configured root key, which must be the backed-up installation's).
    #[arg(long, value_name = "FILE", visible_alias = "backup-key")]
    key_file: Option<PathBuf>,
    #[command(flatten)]
    installation: Installation,
}

/// Runs `signet backup ...`.
pub async fn backup(args: BackupArgs, json: bool) -> Result<ExitCode> {
    match args.command {
        Some(BackupCommand::Keygen { file }) => keygen(&file, json),
        Some(BackupCommand::Inspect {
            file,
            key_file,
            data_dir,
            config,
        }) => {
            let key = match (key_file, data_dir) {
                (Some(k), _) => Some(read_key_file(&k)?),
                // A root key opens only a backup made with it (SIGNET_DATA_DIR may be set
                // for a backup made with a key file).
                (None, Some(data_dir))
                    if open_backup(&file)?.manifest.key.kind == KIND_ROOT_KEY =>
                {
                    let installation = Installation {
                        data_dir,
                        config,
                        database_url: None,
                    };
                    Some(install::root_backup_key(&installation.resolve()?)?)
                }
                (None, _) => None,
            };
            inspect(&file, key.as_ref(), json)
        }
        None => {
            let (Some(file), Some(data_dir)) = (args.file, args.data_dir) else {
                bail!(
                    "usage: signet backup FILE --data-dir DIR [--config FILE] \
                     [--database-url URL] [--key-file FILE]"
                );
            };
            let installation = Installation {
                data_dir,
                config: args.config,
                database_url: args.database_url,
            };
            let key = args.key_file.as_deref().map(read_key_file).transpose()?;
            create(&file, key, &installation.resolve()?, json).await
        }
    }
}

/// A [`Progress`] as the composition root's [`Watch`].
impl Watch for Progress {
    fn step(&self, what: &str) {
        Progress::step(self, what);
    }

    fn total(&self, total: u64) {
        self.set_total(total);
    }

    fn advance(&self, n: u64) {
        Progress::advance(self, n);
    }
}

/// Reads a backup key file: private (0600), 64 hex digits.
fn read_key_file(path: &Path) -> Result<BackupKey> {
    let mut file =
        File::open(path).with_context(|| format!("cannot read the key file {}", path.display()))?;
    // As for the root key: a key others could read may already be theirs. The mode is read from
    // the open file, so the file checked is the file read.
    let mode = file.metadata()?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        bail!(
            "the key file {} is accessible to other users (mode {mode:o}); make it private with: \
             chmod 600 {}",
            path.display(),
            path.display()
        );
    }
    let mut text = Zeroizing::new(String::new());
    file.read_to_string(&mut text)?;
    BackupKey::from_hex(&text)
        .map_err(|_| anyhow!("the key file {} is not 64 hex digits", path.display()))
}

fn keygen(path: &Path, json: bool) -> Result<ExitCode> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.exists()
    {
        fs::create_dir_all(dir)?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    }
    let key = BackupKey::generate().map_err(|_| anyhow!("the OS RNG failed"))?;
    // create_new: never overwrite a key whose backups would become unreadable.
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create the key file {}", path.display()))?;
    f.write_all(key.to_hex().as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()?;
    if json {
        output::json(&json!({ "keyFile": path, "fingerprint": key.fingerprint() }))?;
    } else {
        output::lines([
            format!(
                "Wrote backup key {} to {}.",
                key.fingerprint(),
                path.display()
            ),
            "Keep a copy away from the backups: without it they cannot be restored.".to_owned(),
        ])?;
    }
    Ok(ExitCode::SUCCESS)
}

fn random_id() -> Result<String> {
    let mut id = [0u8; 16];
    getrandom::fill(&mut id).map_err(|_| anyhow!("the OS RNG failed"))?;
    Ok(hex::encode(id))
}

async fn create(
    path: &Path,
    key: Option<BackupKey>,
    config: &ServerConfig,
    json: bool,
) -> Result<ExitCode> {
    if path.exists() {
        bail!(
            "{} exists; a backup never overwrites a file",
            path.display()
        );
    }
    let id = random_id()?;
    // Written beside the target and renamed at the end, so FILE is either whole or absent.
    let partial = path.with_file_name(format!(
        ".{}.{id}.partial",
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    ));
    let result = write_backup(path, &partial, &id, key, config).await;
    if result.is_err() {
        let _ = fs::remove_file(&partial);
    }
    let manifest = result?;
    let rows: u64 = manifest.tables.iter().map(|t| t.rows).sum();
    let size = fs::metadata(path)?.len();
    if json {
        output::json(&json!({
            "file": path,
            "bytes": size,
            "manifest": manifest,
            "rows": rows,
        }))?;
    } else {
        let head = manifest
            .audit_head
            .as_ref()
            .map_or("none".to_owned(), |h| h.seq.to_string());
        output::lines([
            format!(
                "Backed up vault {} to {} ({size} bytes): {rows} rows in {} tables, audit head {head}.",
                manifest.vault_id,
                path.display(),
                manifest.tables.len(),
            ),
            format!(
                "Manifest {}; encrypted with the {} {}.",
                manifest.id,
                key_kind_words(&manifest.key.kind),
                manifest.key.fingerprint
            ),
        ])?;
    }
    Ok(ExitCode::SUCCESS)
}

fn key_kind_words(kind: &str) -> &'static str {
    match kind {
        KIND_BACKUP_KEY => "backup key",
        _ => "root-derived key",
    }
}

const KIND_BACKUP_KEY: &str = "backupKey";
const KIND_ROOT_KEY: &str = "rootKey";

async fn write_backup(
    path: &Path,
    partial: &Path,
    id: &str,
    key: Option<BackupKey>,
    config: &ServerConfig,
) -> Result<Manifest> {
    let mut out = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(partial)
        .with_context(|| format!("cannot create {}", partial.display()))?;

    let progress = Progress::start("taking a snapshot", None, Unit::Items);
    let snapshot = install::backup_snapshot(config, id, &progress).await?;
    progress.finish();
    let (key, kind) = match key {
        Some(k) => (k, KIND_BACKUP_KEY),
        None => (snapshot.root_backup_key, KIND_ROOT_KEY),
    };

    let rows: u64 = snapshot.tables.iter().map(|t| t.rows.len() as u64).sum();
    let progress = Progress::start("encoding tables", Some(rows), Unit::Items);
    let mut payload = Zeroizing::new(Vec::new());
    let mut tables = Vec::with_capacity(snapshot.tables.len());
    for t in &snapshot.tables {
        progress.step(&format!("table {}", t.name));
        let start = payload.len();
        format::encode_table(t, &mut payload);
        tables.push(ManifestTable {
            name: t.name.clone(),
            rows: t.rows.len() as u64,
            sha256: format::digest(&payload[start..]),
        });
        progress.advance(t.rows.len() as u64);
    }
    progress.finish();

    let manifest = Manifest {
        format: FORMAT_VERSION,
        id: id.to_owned(),
        signet_version: env!("CARGO_PKG_VERSION").to_owned(),
        signet_commit: env!("SIGNET_COMMIT").to_owned(),
        backend: snapshot.backend.to_owned(),
        schema: format::schema_id(&snapshot.tables),
        vault_id: snapshot.vault_id.to_string(),
        created_at_ms: snapshot.taken_at_ms,
        audit_head: snapshot.audit_head.map(|(seq, hash)| ManifestHead {
            seq,
            hash: hex::encode(hash),
        }),
        tables,
        key: ManifestKey {
            kind: kind.to_owned(),
            fingerprint: key.fingerprint(),
        },
        chunk_size: CHUNK_SIZE,
    };
    let salt = fresh_salt().map_err(|_| anyhow!("the OS RNG failed"))?;
    let header = format::encode_header(&manifest, &salt)?;
    let mut sealer =
        BackupSealer::new(&key, &header).map_err(|_| anyhow!("cannot start the encryption"))?;
    out.write_all(&header)?;

    let progress = Progress::start(
        &format!("writing {}", path.display()),
        Some(payload.len() as u64),
        Unit::Bytes,
    );
    let mut chunks = payload.chunks(CHUNK_SIZE as usize).peekable();
    if chunks.peek().is_none() {
        write_chunk(&mut out, &sealer.seal_chunk(&[], true)?)?;
    }
    while let Some(chunk) = chunks.next() {
        let sealed = sealer
            .seal_chunk(chunk, chunks.peek().is_none())
            .map_err(|_| anyhow!("encryption failed"))?;
        write_chunk(&mut out, &sealed)?;
        progress.advance(chunk.len() as u64);
    }
    out.sync_all()?;
    drop(out);
    progress.finish();
    // Refuses nothing on Linux if FILE appeared meanwhile; the check at the start covers the
    // usual mistake (pointing at last night's backup).
    fs::rename(partial, path)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        File::open(dir)?.sync_all()?;
    }
    Ok(manifest)
}

fn write_chunk(out: &mut File, sealed: &[u8]) -> Result<()> {
    let len = u32::try_from(sealed.len()).context("a chunk is too large")?;
    out.write_all(&len.to_be_bytes())?;
    out.write_all(sealed)?;
    Ok(())
}

/// A backup file's header, read and parsed, and the reader positioned at its first chunk.
struct Opened {
    manifest: Manifest,
    header: Vec<u8>,
    reader: BufReader<File>,
    len: u64,
}

fn open_backup(path: &Path) -> Result<Opened> {
    let file = File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let len = file.metadata()?.len();
    let mut reader = BufReader::new(file);
    let damaged = || anyhow!("{}: {}", path.display(), format::FormatError::Damaged);
    let mut preamble = [0u8; PREAMBLE_LEN];
    reader
        .read_exact(&mut preamble)
        .map_err(|_| anyhow!("{}: {}", path.display(), format::FormatError::NotBackup))?;
    let manifest_len =
        format::decode_preamble(&preamble).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    let mut header = preamble.to_vec();
    let mut rest = vec![0u8; manifest_len as usize + SALT_LEN];
    reader.read_exact(&mut rest).map_err(|_| damaged())?;
    header.extend_from_slice(&rest);
    let manifest = format::decode_manifest(&rest[..manifest_len as usize])
        .map_err(|e| anyhow!("{}: {e}", path.display()))?;
    Ok(Opened {
        manifest,
        header,
        reader,
        len,
    })
}

/// Decrypts every chunk and checks every table against the manifest. Nothing is returned
/// unless the whole file authenticates and every count and hash matches.
fn decrypt_tables(
    opened: Opened,
    key: &BackupKey,
    path: &Path,
    quiet: bool,
) -> Result<(Manifest, Vec<Table>)> {
    let Opened {
        manifest,
        header,
        mut reader,
        len,
    } = opened;
    if key.fingerprint() != manifest.key.fingerprint {
        bail!(
            "wrong key for {}: it was encrypted with the {} {}, and the key given is {} \
             (nothing was written)",
            path.display(),
            key_kind_words(&manifest.key.kind),
            manifest.key.fingerprint,
            key.fingerprint()
        );
    }
    let refused = || {
        anyhow!(
            "{} does not authenticate: it was changed, truncated or damaged (nothing was \
             written)",
            path.display()
        )
    };
    let mut opener = BackupOpener::new(key, &header).map_err(|_| refused())?;
    let max = manifest.chunk_size as usize + TAG_LEN;
    let progress = (!quiet).then(|| {
        Progress::start(
            &format!("checking {}", path.display()),
            Some(len.saturating_sub(header.len() as u64)),
            Unit::Bytes,
        )
    });
    let mut payload = Zeroizing::new(Vec::new());
    let mut sealed = Vec::new();
    while !reader.fill_buf()?.is_empty() {
        let mut len = [0u8; 4];
        reader.read_exact(&mut len).map_err(|_| refused())?;
        let len = u32::from_be_bytes(len) as usize;
        if !(TAG_LEN..=max).contains(&len) {
            return Err(refused());
        }
        sealed.resize(len, 0);
        reader.read_exact(&mut sealed).map_err(|_| refused())?;
        let last = reader.fill_buf()?.is_empty();
        let plain = opener.open_chunk(&sealed, last).map_err(|_| refused())?;
        payload.extend_from_slice(&plain);
        if let Some(p) = &progress {
            p.advance((len + 4) as u64);
        }
    }
    if !opener.finished() {
        return Err(refused());
    }
    if let Some(p) = progress {
        p.finish();
    }
    let decoded = format::decode_tables(&payload).map_err(|_| refused())?;
    let mismatch = |what: &str| {
        anyhow!(
            "{} holds tables that do not match its manifest ({what}); nothing was written",
            path.display()
        )
    };
    if decoded.len() != manifest.tables.len() {
        return Err(mismatch("the number of tables"));
    }
    let mut tables = Vec::with_capacity(decoded.len());
    for ((table, range), listed) in decoded.into_iter().zip(&manifest.tables) {
        if table.name != listed.name
            || table.rows.len() as u64 != listed.rows
            || format::digest(&payload[range]) != listed.sha256
        {
            return Err(mismatch(&format!("table {}", listed.name)));
        }
        tables.push(table);
    }
    if format::schema_id(&tables) != manifest.schema {
        return Err(mismatch("the schema"));
    }
    Ok((manifest, tables))
}

fn inspect(path: &Path, key: Option<&BackupKey>, json: bool) -> Result<ExitCode> {
    let opened = open_backup(path)?;
    let (manifest, verified) = match key {
        Some(key) => (decrypt_tables(opened, key, path, json)?.0, true),
        None => (opened.manifest, false),
    };
    if json {
        output::json(&json!({ "manifest": manifest, "verified": verified }))?;
        return Ok(ExitCode::SUCCESS);
    }
    let head = manifest
        .audit_head
        .as_ref()
        .map_or("none".to_owned(), |h| format!("{} ({})", h.seq, h.hash));
    output::lines([
        format!("Backup      {}", manifest.id),
        format!("Format      {}", manifest.format),
        format!(
            "Written by  signet {} ({})",
            manifest.signet_version, manifest.signet_commit
        ),
        format!("Backend     {}", manifest.backend),
        format!("Schema      {}", manifest.schema),
        format!("Vault       {}", manifest.vault_id),
        format!("Created     {}", output::at(manifest.created_at_ms)),
        format!("Audit head  {head}"),
        format!(
            "Key         {} {}",
            key_kind_words(&manifest.key.kind),
            manifest.key.fingerprint
        ),
    ])?;
    let mut table = output::Table::new(&["TABLE", "ROWS", "SHA-256"]);
    for t in &manifest.tables {
        table.row(vec![t.name.clone(), t.rows.to_string(), t.sha256.clone()]);
    }
    table.print("(no tables)")?;
    output::lines([if verified {
        "Every chunk and table verified."
    } else {
        "Not verified: give --key-file (or --data-dir for a root-derived key) to check every chunk."
    }])?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `signet restore FILE`.
pub async fn restore(args: RestoreArgs, json: bool) -> Result<ExitCode> {
    let config = args.installation.resolve()?;
    let opened = open_backup(&args.file)?;
    let key = match &args.key_file {
        Some(k) => read_key_file(k)?,
        None => install::root_backup_key(&config)?,
    };
    let (manifest, tables) = decrypt_tables(opened, &key, &args.file, json)?;
    let head = match &manifest.audit_head {
        Some(h) => {
            let hash: [u8; 32] = hex::decode(&h.hash)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| anyhow!("the manifest's audit head is malformed"))?;
            Some((h.seq, hash))
        }
        None => None,
    };
    let progress = Progress::start("restoring", None, Unit::Items);
    let restored = install::restore(&config, tables, &manifest.id, head, &progress).await?;
    progress.finish();
    let rows: usize = restored.tables.iter().map(|(_, n)| n).sum();
    if json {
        output::json(&json!({
            "file": args.file,
            "manifestId": manifest.id,
            "vaultId": restored.vault_id,
            "to": config.database.to_string(),
            "rows": rows,
            "tables": restored.tables.iter().map(|(t, n)| json!({"table": t, "rows": n})).collect::<Vec<_>>(),
            "auditRecords": restored.audit_records,
            "auditHead": restored.head_seq,
            "verified": true,
        }))?;
    } else {
        output::lines([
            format!(
                "Restored vault {} from {} into {}: {rows} rows in {} tables.",
                restored.vault_id,
                args.file.display(),
                config.database,
                restored.tables.len()
            ),
            format!(
                "Every chunk, table and the audit chain ({} records) verified; backup_restore \
                 recorded.",
                restored.audit_records
            ),
            "Start the server on it with the same root key.".to_owned(),
        ])?;
    }
    Ok(ExitCode::SUCCESS)
}
