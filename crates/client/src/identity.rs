//! Identity files on disk: where they live, how they are found, written and loaded.
//!
//! Layout under the Signet home (`SIGNET_HOME`, default `~/.signet`), mirroring SikkerKey's
//! `~/.sikkerkey/vaults/<vaultId>/`:
//!
//! ```text
//! $SIGNET_HOME/                     0700
//!   vaults/<vaultId>/               0700   a machine identity
//!     identity.json                 0600   {machineId, machineName, vaultId, apiUrl, privateKeyPath}
//!     private.pem                   0600   PKCS#8 Ed25519
//!   operators/<vaultId>/            0700   an operator identity
//!     identity.json                 0600   {operatorId, name, vaultId, apiUrl, privateKeyPath}
//!     private.pem                   0600
//! ```
//!
//! Files are written atomically (a temporary file in the same folder, then a rename), so a
//! crash never leaves a half-written key. A private key that other users can read or write is
//! refused on load, as OpenSSH does (see [`IdentityFileError::KeyPermissions`]).

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde::de::DeserializeOwned;
use signet_proto::{Fingerprint, Identity, OperatorId, SecretSeed, VaultId};
use zeroize::Zeroizing;

use crate::error::IdentityFileError;

/// Environment variable naming the Signet home folder.
pub const ENV_HOME: &str = "SIGNET_HOME";
/// Environment variable naming a machine's `identity.json`.
pub const ENV_IDENTITY: &str = "SIGNET_IDENTITY";
/// Environment variable naming an operator's `identity.json`.
pub const ENV_OPERATOR_IDENTITY: &str = "SIGNET_OPERATOR_IDENTITY";
/// File name of an identity document.
pub const IDENTITY_FILE: &str = "identity.json";
/// File name of the private key beside it.
pub const KEY_FILE: &str = "private.pem";

/// Permission bits of identity and key files.
const FILE_MODE: u32 = 0o600;
/// Permission bits of the folders holding them.
const DIR_MODE: u32 = 0o700;

/// The `identity.json` of an operator: a human's signing key for the admin API.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OperatorIdentity {
    /// The operator's id, which travels in `X-Operator-Id`.
    pub operator_id: OperatorId,
    /// A human-readable name.
    pub name: String,
    /// The vault the operator administers.
    pub vault_id: VaultId,
    /// The server's base URL, without a trailing slash.
    pub api_url: String,
    /// Absolute path of the private key file.
    pub private_key_path: String,
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for signet_proto::Identity {}
    impl Sealed for super::OperatorIdentity {}
}

/// What the file code needs to know about an identity document. Implemented for the machine
/// [`Identity`] and the [`OperatorIdentity`]; sealed, since the layout is fixed.
pub trait IdentityDocument: Serialize + DeserializeOwned + sealed::Sealed {
    /// The folder under the home that holds identities of this kind.
    const FOLDER: &'static str;
    /// The vault, which names the identity's folder.
    fn vault_id(&self) -> &VaultId;
    /// The server's base URL.
    fn api_url(&self) -> &str;
    /// The key path as written in the document.
    fn private_key_path(&self) -> &str;
    /// Records where the key was written.
    fn set_private_key_path(&mut self, path: String);
}

impl IdentityDocument for Identity {
    const FOLDER: &'static str = "vaults";
    fn vault_id(&self) -> &VaultId {
        &self.vault_id
    }
    fn api_url(&self) -> &str {
        &self.api_url
    }
    fn private_key_path(&self) -> &str {
        &self.private_key_path
    }
    fn set_private_key_path(&mut self, path: String) {
        self.private_key_path = path;
    }
}

impl IdentityDocument for OperatorIdentity {
    const FOLDER: &'static str = "operators";
    fn vault_id(&self) -> &VaultId {
        &self.vault_id
    }
    fn api_url(&self) -> &str {
        &self.api_url
    }
    fn private_key_path(&self) -> &str {
        &self.private_key_path
    }
    fn set_private_key_path(&mut self, path: String) {
        self.private_key_path = path;
    }
}

/// An identity document with its loaded private key.
#[derive(Debug)]
pub struct Credentials<I> {
    identity: I,
    seed: SecretSeed,
    path: PathBuf,
}

impl<I> Credentials<I> {
    /// Pairs a document with its key. `path` is where the document lives (or would live); it
    /// is only used in messages.
    pub fn new(identity: I, seed: SecretSeed, path: PathBuf) -> Self {
        Self {
            identity,
            seed,
            path,
        }
    }

    /// The identity document.
    pub fn identity(&self) -> &I {
        &self.identity
    }

    /// The private key.
    pub fn seed(&self) -> &SecretSeed {
        &self.seed
    }

    /// The path of `identity.json`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The fingerprint of the public key, as the server shows it to operators.
    pub fn fingerprint(&self) -> Fingerprint {
        self.seed.public_key().fingerprint()
    }

    /// The document, the key and the path.
    pub fn into_parts(self) -> (I, SecretSeed, PathBuf) {
        (self.identity, self.seed, self.path)
    }
}

/// What [`SignetHome::save`] did.
#[derive(Debug)]
pub struct Saved<I> {
    /// The identity as written, with its absolute `privateKeyPath`, and its key.
    pub credentials: Credentials<I>,
    /// When an identity for the same vault was already there: where its `identity.json` was
    /// moved (its key sits beside it with the same suffix). Keys are never overwritten, because
    /// an overwritten key cannot be recovered and may still be the one an operator approved.
    pub replaced: Option<PathBuf>,
}

/// The Signet home folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignetHome {
    root: PathBuf,
}

impl SignetHome {
    /// A home at `root`, made absolute against the current folder so that the key paths
    /// written into identity files are absolute.
    pub fn new(root: impl AsRef<Path>) -> Result<Self, IdentityFileError> {
        let root = root.as_ref();
        let root =
            std::path::absolute(root).map_err(|source| io("cannot resolve", root, source))?;
        Ok(Self { root })
    }

    /// `explicit` (typically the value of `SIGNET_HOME`) when given and non-empty, else
    /// `~/.signet`.
    pub fn resolve(explicit: Option<&Path>) -> Result<Self, IdentityFileError> {
        match explicit {
            Some(p) if !p.as_os_str().is_empty() => Self::new(p),
            _ => {
                let home = std::env::home_dir()
                    .filter(|h| !h.as_os_str().is_empty())
                    .ok_or(IdentityFileError::NoHome)?;
                Self::new(home.join(".signet"))
            }
        }
    }

    /// The home named by `SIGNET_HOME`, else `~/.signet`.
    pub fn from_env() -> Result<Self, IdentityFileError> {
        let var = std::env::var_os(ENV_HOME).map(PathBuf::from);
        Self::resolve(var.as_deref())
    }

    /// The folder itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The folder holding identities of kind `I`, one sub-folder per vault.
    pub fn folder<I: IdentityDocument>(&self) -> PathBuf {
        self.root.join(I::FOLDER)
    }

    /// Finds the `identity.json` to use.
    ///
    /// `explicit` (a `--identity` flag or the `SIGNET_IDENTITY` variable) may be the file, the
    /// folder holding it, or a bare vault id naming a folder under this home. Without it, the
    /// folder for kind `I` must hold exactly one identity.
    pub fn locate<I: IdentityDocument>(
        &self,
        explicit: Option<&Path>,
    ) -> Result<PathBuf, IdentityFileError> {
        let folder = self.folder::<I>();
        if let Some(p) = explicit.filter(|p| !p.as_os_str().is_empty()) {
            if p.is_dir() {
                return Ok(p.join(IDENTITY_FILE));
            }
            if !p.exists()
                && let Some(vault) = p.to_str().and_then(|s| VaultId::parse(s).ok())
            {
                return Ok(folder.join(vault.as_str()).join(IDENTITY_FILE));
            }
            return Ok(p.to_path_buf());
        }
        let entries = match fs::read_dir(&folder) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(IdentityFileError::NotFound { dir: folder });
            }
            Err(e) => return Err(io("cannot read", &folder, e)),
        };
        let mut found = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| io("cannot read", &folder, e))?;
            if entry.path().join(IDENTITY_FILE).is_file() {
                found.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        found.sort();
        match found.as_slice() {
            [] => Err(IdentityFileError::NotFound { dir: folder }),
            [one] => Ok(folder.join(one).join(IDENTITY_FILE)),
            _ => Err(IdentityFileError::Ambiguous {
                dir: folder,
                names: found,
            }),
        }
    }

    /// [`locate`](Self::locate) then [`load`].
    pub fn load<I: IdentityDocument>(
        &self,
        explicit: Option<&Path>,
    ) -> Result<Credentials<I>, IdentityFileError> {
        load(&self.locate::<I>(explicit)?)
    }

    /// Writes `identity` and `seed` to `<home>/<kind>/<vaultId>/`, setting the document's
    /// `privateKeyPath` to the absolute key path. Folders this creates are 0700, files 0600. An
    /// identity already there is moved aside, never overwritten (see [`Saved::replaced`]).
    pub fn save<I: IdentityDocument>(
        &self,
        mut identity: I,
        seed: SecretSeed,
    ) -> Result<Saved<I>, IdentityFileError> {
        let folder = self.folder::<I>();
        let dir = folder.join(identity.vault_id().as_str());
        for d in [&self.root, &folder, &dir] {
            ensure_private_dir(d)?;
        }
        let identity_path = dir.join(IDENTITY_FILE);
        let key_path = dir.join(KEY_FILE);
        let replaced = move_aside(&identity_path, &key_path)?;

        let pem = seed.to_pkcs8_pem().map_err(|_| IdentityFileError::Key {
            path: key_path.clone(),
        })?;
        let key_text = key_path
            .to_str()
            .ok_or_else(|| non_utf8(&key_path))?
            .to_owned();
        identity.set_private_key_path(key_text);
        let json = document_json(&identity);
        // The key first: a reader treats identity.json as the sign that the pair is complete.
        write_atomic(&key_path, pem.as_bytes())?;
        write_atomic(&identity_path, json.as_bytes())?;
        Ok(Saved {
            credentials: Credentials::new(identity, seed, identity_path),
            replaced,
        })
    }
}

/// Loads one identity file and its key.
///
/// The key is found at `privateKeyPath`; a relative path is taken relative to the identity's
/// folder (not the current folder, so the pair can be moved together), and an empty one means
/// `private.pem` beside it. The key must not be accessible by group or others.
pub fn load<I: IdentityDocument>(path: &Path) -> Result<Credentials<I>, IdentityFileError> {
    let text = fs::read_to_string(path).map_err(|e| io("cannot read", path, e))?;
    let identity: I = serde_json::from_str(&text).map_err(|_| IdentityFileError::Malformed {
        path: path.to_path_buf(),
    })?;
    if let Err(reason) = Identity::check_url(identity.api_url()) {
        return Err(IdentityFileError::InsecureUrl {
            path: path.to_path_buf(),
            reason,
        });
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let key_path = match identity.private_key_path() {
        "" => dir.join(KEY_FILE),
        p => dir.join(p), // `join` keeps an absolute `p` as it is.
    };
    let seed = load_key(&key_path)?;
    Ok(Credentials::new(identity, seed, path.to_path_buf()))
}

/// Loads a machine identity: `explicit` path, else `SIGNET_IDENTITY`, else the single vault
/// under `SIGNET_HOME` (default `~/.signet`).
pub fn load_machine_from_env(
    explicit: Option<&Path>,
) -> Result<Credentials<Identity>, IdentityFileError> {
    let var = std::env::var_os(ENV_IDENTITY).map(PathBuf::from);
    SignetHome::from_env()?.load(explicit.or(var.as_deref()))
}

/// Loads an operator identity: `explicit` path, else `SIGNET_OPERATOR_IDENTITY`, else the single
/// folder under `$SIGNET_HOME/operators`.
pub fn load_operator_from_env(
    explicit: Option<&Path>,
) -> Result<Credentials<OperatorIdentity>, IdentityFileError> {
    let var = std::env::var_os(ENV_OPERATOR_IDENTITY).map(PathBuf::from);
    SignetHome::from_env()?.load(explicit.or(var.as_deref()))
}

/// Reads a PKCS#8 key, refusing one that group or others may access.
fn load_key(path: &Path) -> Result<SecretSeed, IdentityFileError> {
    let meta = fs::metadata(path).map_err(|e| io("cannot read", path, e))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(IdentityFileError::KeyPermissions {
            path: path.to_path_buf(),
            mode,
        });
    }
    let pem = Zeroizing::new(fs::read_to_string(path).map_err(|e| io("cannot read", path, e))?);
    SecretSeed::from_pkcs8_pem(&pem).map_err(|_| IdentityFileError::Key {
        path: path.to_path_buf(),
    })
}

/// The document as pretty JSON with a trailing newline, like `Identity::to_json`.
fn document_json<I: Serialize>(identity: &I) -> String {
    // Serialising a struct of strings and ids cannot fail.
    let mut s = serde_json::to_string_pretty(identity).unwrap_or_default();
    s.push('\n');
    s
}

/// Creates `dir` (and missing parents) as 0700 when it is missing. Folders that already exist
/// are left alone: they may be shared, and changing their mode is not this code's business.
fn ensure_private_dir(dir: &Path) -> Result<(), IdentityFileError> {
    if dir.is_dir() {
        return Ok(());
    }
    DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)
        .map_err(|e| io("cannot create", dir, e))?;
    // The umask may have cleared bits the owner needs; set the mode exactly.
    fs::set_permissions(dir, fs::Permissions::from_mode(DIR_MODE))
        .map_err(|e| io("cannot set permissions on", dir, e))
}

/// Renames an existing identity pair to `*.replaced-<unix seconds>`; returns the new path of
/// `identity.json`, or `None` when there was nothing to move.
fn move_aside(identity_path: &Path, key_path: &Path) -> Result<Option<PathBuf>, IdentityFileError> {
    if !identity_path.exists() && !key_path.exists() {
        return Ok(None);
    }
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut n = 0u32;
    let suffix = loop {
        let suffix = if n == 0 {
            format!("replaced-{secs}")
        } else {
            format!("replaced-{secs}-{n}")
        };
        let taken = [identity_path, key_path]
            .iter()
            .any(|p| with_suffix(p, &suffix).exists());
        if !taken {
            break suffix;
        }
        n += 1;
    };
    for p in [key_path, identity_path] {
        if p.exists() {
            let to = with_suffix(p, &suffix);
            fs::rename(p, &to).map_err(|e| io("cannot move aside", p, e))?;
        }
    }
    Ok(Some(with_suffix(identity_path, &suffix)))
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".");
    s.push(suffix);
    PathBuf::from(s)
}

/// Writes `bytes` to `path` through a 0600 temporary file in the same folder and a rename, then
/// syncs the folder so the rename survives a crash.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), IdentityFileError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let tmp = dir.join(format!(".{name}.tmp-{}-{nanos}", std::process::id()));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(FILE_MODE)
            .open(&tmp)
            .map_err(|e| io("cannot create", &tmp, e))?;
        // The umask can only clear bits, but set the mode exactly anyway.
        f.set_permissions(fs::Permissions::from_mode(FILE_MODE))
            .map_err(|e| io("cannot set permissions on", &tmp, e))?;
        f.write_all(bytes)
            .map_err(|e| io("cannot write", &tmp, e))?;
        f.sync_all().map_err(|e| io("cannot write", &tmp, e))?;
        fs::rename(&tmp, path).map_err(|e| io("cannot write", path, e))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io("cannot sync", dir, e))
}

fn io(action: &'static str, path: &Path, source: std::io::Error) -> IdentityFileError {
    IdentityFileError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

fn non_utf8(path: &Path) -> IdentityFileError {
    io(
        "cannot use (not UTF-8)",
        path,
        std::io::Error::from(std::io::ErrorKind::InvalidInput),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use signet_proto::MachineId;

    use super::*;

    fn machine(vault: &VaultId) -> Identity {
        Identity {
            machine_id: MachineId::generate(),
            machine_name: "web-1".into(),
            vault_id: vault.clone(),
            api_url: "http://localhost:8420".into(),
            private_key_path: String::new(),
        }
    }

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn save_then_load_round_trips_with_private_modes() {
        let tmp = tempfile::tempdir().unwrap();
        let home = SignetHome::new(tmp.path().join("home")).unwrap();
        let vault = VaultId::generate();
        let seed = SecretSeed::from_bytes([5; 32]);
        let saved = home.save(machine(&vault), seed).unwrap();
        assert!(saved.replaced.is_none());
        let id_path = saved.credentials.path().to_path_buf();
        assert_eq!(
            id_path,
            home.root()
                .join("vaults")
                .join(vault.as_str())
                .join(IDENTITY_FILE)
        );
        let key_path = PathBuf::from(&saved.credentials.identity().private_key_path);
        assert!(key_path.is_absolute());
        assert_eq!(mode(&id_path), 0o600);
        assert_eq!(mode(&key_path), 0o600);
        assert_eq!(mode(home.root()), 0o700);
        assert_eq!(mode(id_path.parent().unwrap()), 0o700);
        assert!(
            fs::read_to_string(&key_path)
                .unwrap()
                .starts_with("-----BEGIN PRIVATE KEY-----")
        );

        let loaded: Credentials<Identity> = home.load(None).unwrap();
        assert_eq!(loaded.identity(), saved.credentials.identity());
        assert_eq!(loaded.seed().expose(), &[5; 32]);
        // By folder, by file, and by bare vault id.
        let by_dir: Credentials<Identity> = home.load(Some(id_path.parent().unwrap())).unwrap();
        assert_eq!(by_dir.path(), id_path);
        let by_vault: Credentials<Identity> = home.load(Some(Path::new(vault.as_str()))).unwrap();
        assert_eq!(by_vault.path(), id_path);
        // No temporary files are left behind.
        let names: Vec<_> = fs::read_dir(id_path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }

    #[test]
    fn saving_again_moves_the_old_pair_aside() {
        let tmp = tempfile::tempdir().unwrap();
        let home = SignetHome::new(tmp.path()).unwrap();
        let vault = VaultId::generate();
        home.save(machine(&vault), SecretSeed::from_bytes([1; 32]))
            .unwrap();
        let second = home
            .save(machine(&vault), SecretSeed::from_bytes([2; 32]))
            .unwrap();
        let old = second.replaced.unwrap();
        assert!(old.to_string_lossy().contains("identity.json.replaced-"));
        assert!(old.exists());
        let loaded: Credentials<Identity> = home.load(None).unwrap();
        assert_eq!(loaded.seed().expose(), &[2; 32]);
    }

    #[test]
    fn discovery_needs_exactly_one_identity() {
        let tmp = tempfile::tempdir().unwrap();
        let home = SignetHome::new(tmp.path()).unwrap();
        assert!(matches!(
            home.locate::<Identity>(None),
            Err(IdentityFileError::NotFound { .. })
        ));
        home.save(machine(&VaultId::generate()), SecretSeed::generate())
            .unwrap();
        assert!(home.locate::<Identity>(None).is_ok());
        // Operators live in their own folder.
        assert!(matches!(
            home.locate::<OperatorIdentity>(None),
            Err(IdentityFileError::NotFound { .. })
        ));
        home.save(machine(&VaultId::generate()), SecretSeed::generate())
            .unwrap();
        let err = home.locate::<Identity>(None).unwrap_err();
        assert!(matches!(err, IdentityFileError::Ambiguous { ref names, .. } if names.len() == 2));
        assert!(err.to_string().contains("several identities"));
    }

    #[test]
    fn operator_identities_use_their_own_folder_and_field_names() {
        let tmp = tempfile::tempdir().unwrap();
        let home = SignetHome::new(tmp.path()).unwrap();
        let op = OperatorIdentity {
            operator_id: OperatorId::generate(),
            name: "alice".into(),
            vault_id: VaultId::generate(),
            api_url: "https://vault.example".into(),
            private_key_path: String::new(),
        };
        let saved = home.save(op.clone(), SecretSeed::generate()).unwrap();
        assert!(
            saved
                .credentials
                .path()
                .starts_with(home.root().join("operators"))
        );
        let text = fs::read_to_string(saved.credentials.path()).unwrap();
        for key in ["operatorId", "name", "vaultId", "apiUrl", "privateKeyPath"] {
            assert!(text.contains(&format!("\"{key}\"")), "{key}");
        }
        let loaded: Credentials<OperatorIdentity> = home.load(None).unwrap();
        assert_eq!(loaded.identity().operator_id, op.operator_id);
    }

    #[test]
    fn refuses_keys_readable_by_others_and_insecure_urls() {
        let tmp = tempfile::tempdir().unwrap();
        let home = SignetHome::new(tmp.path()).unwrap();
        let saved = home
            .save(machine(&VaultId::generate()), SecretSeed::generate())
            .unwrap();
        let key = PathBuf::from(&saved.credentials.identity().private_key_path);
        fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).unwrap();
        let err = load::<Identity>(saved.credentials.path()).unwrap_err();
        assert!(
            matches!(err, IdentityFileError::KeyPermissions { mode: 0o644, .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("chmod 600"));
        fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).unwrap();

        let path = saved.credentials.path();
        let text = fs::read_to_string(path)
            .unwrap()
            .replace("http://localhost:8420", "http://vault.example");
        fs::write(path, text).unwrap();
        assert!(matches!(
            load::<Identity>(path),
            Err(IdentityFileError::InsecureUrl { .. })
        ));
        fs::write(path, "{").unwrap();
        assert!(matches!(
            load::<Identity>(path),
            Err(IdentityFileError::Malformed { .. })
        ));
    }

    #[test]
    fn relative_and_empty_key_paths_resolve_beside_the_identity() {
        let tmp = tempfile::tempdir().unwrap();
        let home = SignetHome::new(tmp.path()).unwrap();
        let saved = home
            .save(
                machine(&VaultId::generate()),
                SecretSeed::from_bytes([8; 32]),
            )
            .unwrap();
        let path = saved.credentials.path();
        for key_path in ["", "private.pem"] {
            let mut id = saved.credentials.identity().clone();
            id.private_key_path = key_path.into();
            fs::write(path, id.to_json()).unwrap();
            assert_eq!(load::<Identity>(path).unwrap().seed().expose(), &[8; 32]);
        }
    }
}
