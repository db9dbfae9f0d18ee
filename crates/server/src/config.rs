//! Server configuration: every setting a config-file key, a flag and an environment variable
//! (one declaration, [`FileConfig`]), layered flag over environment over file, then resolved
//! once into typed values (parse, don't validate later). `docs/configuration.md` is the
//! reference generated from the declaration.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;

use signet_core::failures::FailureLimits;

use crate::connection::ConnectionLimits;
use crate::install::DatabaseUrl;
use clap::builder::BoolishValueParser;
use serde::{Deserialize, Deserializer, Serialize};
use signet_core::duration;
use signet_proto::loopback::is_loopback_ip;
use signet_proto::web_url::WebUrl;

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {0}")]
    Read(String),
    /// The file is not valid TOML for this schema.
    #[error("invalid config file {path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A value is invalid; the message says which and why.
    #[error("{0}")]
    Invalid(String),
}

/// Every server setting, declared once: each field is a config-file key (serde), a
/// `signet server` flag and a `SIGNET_*` environment variable (clap), and its doc comment is the
/// help text and the entry in `docs/configuration.md` (generated from this declaration by
/// `crates/server/tests/configuration.rs`, which also proves each setting is read from each
/// source). Every field is optional; a flag beats the environment, which beats the file
/// ([`FileConfig::over`]), which beats the default [`FileConfig::resolve`] applies.
///
/// A new setting needs: `#[arg(long, env = "SIGNET_<KEY>", value_name = "<KIND>")]` with a kind
/// the test knows (`ADDR`, `PATH`, `URL`, `NAME`, `N`, `SECONDS`, `MS`, `CIDRS`, `BOOL`, plus
/// the kind's extra attributes as on the fields below), `hide_env_values = true` if its value
/// is a secret, and `SIGNET_BLESS=1` to regenerate the reference.
#[derive(Debug, Default, Clone, Deserialize, Serialize, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Address to listen on (default `127.0.0.1:8420`).
    #[arg(long, env = "SIGNET_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Data folder (default `./signet-data`).
    #[arg(long, env = "SIGNET_DATA_DIR", value_name = "PATH")]
    pub data_dir: Option<PathBuf>,
    /// Public base URL given to machines and browsers, `http(s)://host[:port]` exactly as a URL
    /// parser writes it: lower case, no default port, no path or trailing slash (default:
    /// derived from `listen`, with `localhost` for a loopback address).
    #[arg(long, env = "SIGNET_API_URL", value_name = "URL")]
    pub api_url: Option<String>,
    /// TLS certificate chain (PEM); give `tls_key` with it. Default: no TLS.
    #[arg(long, env = "SIGNET_TLS_CERT", value_name = "PATH")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM); give `tls_cert` with it.
    #[arg(long, env = "SIGNET_TLS_KEY", value_name = "PATH")]
    pub tls_key: Option<PathBuf>,
    /// Allow plain HTTP on a non-loopback address, only behind a TLS-terminating proxy (default
    /// false).
    #[arg(long, env = "SIGNET_INSECURE_HTTP", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", value_parser = BoolishValueParser::new())]
    pub insecure_http: Option<bool>,
    /// CIDRs of proxies whose `X-Forwarded-For` is believed (default: none).
    #[arg(
        long,
        env = "SIGNET_TRUSTED_PROXIES",
        value_name = "CIDRS",
        value_delimiter = ','
    )]
    pub trusted_proxies: Option<Vec<String>>,
    /// Where the data lives: `sqlite://PATH` or `postgres://…` (several replicas may share one
    /// PostgreSQL database; special characters in its password percent-encoded, as a URL parser
    /// writes it). Default: `<data_dir>/signet.db`.
    #[arg(
        long,
        env = "SIGNET_DATABASE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,
    /// File holding the root key (64 hex digits). Default: `<data_dir>/root.key`.
    #[arg(long, env = "SIGNET_ROOT_KEY_FILE", value_name = "PATH")]
    pub root_key_file: Option<PathBuf>,
    /// Name of an environment variable holding the root key instead of a file (not the key
    /// itself).
    #[arg(long, env = "SIGNET_ROOT_KEY_ENV", value_name = "NAME")]
    pub root_key_env: Option<String>,
    /// Log as JSON lines instead of text (default false).
    #[arg(long, env = "SIGNET_LOG_JSON", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", value_parser = BoolishValueParser::new())]
    pub log_json: Option<bool>,
    /// Tokenless enrollment requests per source per minute (default 5).
    #[arg(long, env = "SIGNET_TOKENLESS_REQUESTS_PER_MINUTE", value_name = "N")]
    pub tokenless_requests_per_minute: Option<u32>,
    /// Seconds a client has to send a request's headers, counted from the connection or from
    /// the previous response, so it also closes idle kept-alive connections (default 10).
    #[arg(long, env = "SIGNET_HEADER_READ_TIMEOUT_SECS", value_name = "SECONDS", value_parser = duration::secs)]
    #[serde(default, deserialize_with = "secs_or_duration")]
    pub header_read_timeout_secs: Option<u64>,
    /// Seconds a client has to send a request's body once its headers arrived (default 30).
    #[arg(long, env = "SIGNET_BODY_READ_TIMEOUT_SECS", value_name = "SECONDS", value_parser = duration::secs)]
    #[serde(default, deserialize_with = "secs_or_duration")]
    pub body_read_timeout_secs: Option<u64>,
    /// Seconds a client has to finish the TLS handshake (default 10).
    #[arg(long, env = "SIGNET_TLS_HANDSHAKE_TIMEOUT_SECS", value_name = "SECONDS", value_parser = duration::secs)]
    #[serde(default, deserialize_with = "secs_or_duration")]
    pub tls_handshake_timeout_secs: Option<u64>,
    /// Open connections at most; further ones wait in the listen backlog (default 1024).
    #[arg(long, env = "SIGNET_MAX_CONNECTIONS", value_name = "N")]
    pub max_connections: Option<usize>,
    /// Failed signed requests a source may make per minute before it is answered 429 without
    /// any signature work (default 30; 0 turns the budget off, not the aggregation).
    #[arg(long, env = "SIGNET_AUTH_FAILURES_PER_MINUTE", value_name = "N")]
    pub auth_failures_per_minute: Option<u32>,
    /// Seconds over which a source's authentication failures are counted into one audit record
    /// (default 60).
    #[arg(long, env = "SIGNET_AUTH_FAILURE_AUDIT_INTERVAL_SECS", value_name = "SECONDS", value_parser = duration::secs)]
    #[serde(default, deserialize_with = "secs_or_duration")]
    pub auth_failure_audit_interval_secs: Option<u64>,
    /// Sources whose failures are tracked at most; the oldest is evicted beyond (default 10000).
    #[arg(long, env = "SIGNET_AUTH_FAILURE_MAX_SOURCES", value_name = "N")]
    pub auth_failure_max_sources: Option<usize>,
    /// Seconds between runs of the job that purges trashed items past the vault's retention
    /// (default 60). Every replica runs it; each item is purged by exactly one.
    #[arg(long, env = "SIGNET_TRASH_PURGE_INTERVAL_SECS", value_name = "SECONDS", value_parser = duration::secs)]
    #[serde(default, deserialize_with = "secs_or_duration")]
    pub trash_purge_interval_secs: Option<u64>,
    /// Seconds between runs of the lease reaper, which revokes leased database credentials
    /// past their expiry (default 5). Every replica runs it; each lease is revoked by exactly
    /// one.
    #[arg(long, env = "SIGNET_LEASE_REAP_INTERVAL_SECS", value_name = "SECONDS", value_parser = duration::secs)]
    #[serde(default, deserialize_with = "secs_or_duration")]
    pub lease_reap_interval_secs: Option<u64>,
    /// Change-notification streams (`GET /v1/events`) one machine may hold open at once; the
    /// next is refused with 429 (default 4).
    #[arg(long, env = "SIGNET_EVENT_STREAMS_PER_MACHINE", value_name = "N")]
    pub event_streams_per_machine: Option<usize>,
    /// Address ranges webhooks may reach despite the SSRF guard (private, loopback, ...), as
    /// CIDRs. Plain `http://` is accepted only to an allowed loopback address. Default: none.
    #[arg(
        long,
        env = "SIGNET_WEBHOOK_ALLOW_CIDRS",
        value_name = "CIDRS",
        value_delimiter = ','
    )]
    pub webhook_allow_cidrs: Option<Vec<String>>,
    /// Seconds one delivery attempt may take (default 10).
    #[arg(long, env = "SIGNET_WEBHOOK_TIMEOUT_SECS", value_name = "SECONDS", value_parser = duration::secs)]
    #[serde(default, deserialize_with = "secs_or_duration")]
    pub webhook_timeout_secs: Option<u64>,
    /// Address ranges the fetches of trusted OIDC issuers' discovery documents and key sets
    /// may reach despite the outbound guard, as CIDRs (the same guard as webhooks). Plain
    /// `http://` is accepted only to an allowed loopback address. Default: none.
    #[arg(
        long,
        env = "SIGNET_OIDC_ALLOW_CIDRS",
        value_name = "CIDRS",
        value_delimiter = ','
    )]
    pub oidc_allow_cidrs: Option<Vec<String>>,
    /// Seconds a trusted issuer's discovered keys are used before they are fetched again
    /// (default 600).
    #[arg(long, env = "SIGNET_OIDC_KEYS_TTL_SECS", value_name = "SECONDS", value_parser = duration::secs)]
    #[serde(default, deserialize_with = "secs_or_duration")]
    pub oidc_keys_ttl_secs: Option<u64>,
    /// The least seconds between two fetches of one issuer's keys (default 30): a token whose
    /// `kid` is not held asks the issuer again only this often, so rotation is picked up and
    /// made-up `kid`s cannot make Signet hammer the issuer.
    #[arg(long, env = "SIGNET_OIDC_KEYS_REFETCH_SECS", value_name = "SECONDS", value_parser = duration::secs)]
    #[serde(default, deserialize_with = "secs_or_duration")]
    pub oidc_keys_refetch_secs: Option<u64>,
    /// The first retry waits up to this many ms, each next one up to twice as long, with full
    /// jitter (default 10000).
    #[arg(long, env = "SIGNET_WEBHOOK_RETRY_BASE_MS", value_name = "MS", value_parser = duration::millis)]
    #[serde(default, deserialize_with = "millis_or_duration")]
    pub webhook_retry_base_ms: Option<u64>,
    /// No retry waits longer than this many seconds (default 3600).
    #[arg(long, env = "SIGNET_WEBHOOK_RETRY_CAP_SECS", value_name = "SECONDS", value_parser = duration::secs)]
    #[serde(default, deserialize_with = "secs_or_duration")]
    pub webhook_retry_cap_secs: Option<u64>,
    /// Attempts before a delivery is marked failed (default 8).
    #[arg(long, env = "SIGNET_WEBHOOK_MAX_ATTEMPTS", value_name = "N")]
    pub webhook_max_attempts: Option<u32>,
    /// Milliseconds between the alert tailer's reads of the audit log (default 1000).
    #[arg(long, env = "SIGNET_ALERT_TAIL_INTERVAL_MS", value_name = "MS", value_parser = duration::millis)]
    #[serde(default, deserialize_with = "millis_or_duration")]
    pub alert_tail_interval_ms: Option<u64>,
    /// Milliseconds between the dispatcher's looks for due deliveries (default 1000).
    #[arg(long, env = "SIGNET_WEBHOOK_DISPATCH_INTERVAL_MS", value_name = "MS", value_parser = duration::millis)]
    #[serde(default, deserialize_with = "millis_or_duration")]
    pub webhook_dispatch_interval_ms: Option<u64>,
    /// Folder archived audit segments are written to; unset, the log is never archived and
    /// `signet audit archive` is refused.
    #[arg(long, env = "SIGNET_AUDIT_ARCHIVE_DIR", value_name = "PATH")]
    pub audit_archive_dir: Option<PathBuf>,
    /// Records per archived segment (default 1000000). Only full segments are archived.
    #[arg(long, env = "SIGNET_AUDIT_ARCHIVE_SEGMENT_RECORDS", value_name = "N")]
    pub audit_archive_segment_records: Option<u64>,
    /// Seconds between the archiver's looks for a full segment (default 3600). Every replica
    /// runs it; each segment is recorded once.
    #[arg(long, env = "SIGNET_AUDIT_ARCHIVE_INTERVAL_SECS", value_name = "SECONDS", value_parser = duration::secs)]
    #[serde(default, deserialize_with = "secs_or_duration")]
    pub audit_archive_interval_secs: Option<u64>,
    /// Address of the Prometheus listener serving `/metrics` (default: none, no metrics
    /// listener). Loopback only unless `metrics_allow_remote`.
    #[arg(long, env = "SIGNET_METRICS_LISTEN", value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,
    /// Let `metrics_listen` be a non-loopback address (plain HTTP, no authentication: firewall
    /// it to the scrapers).
    #[arg(long, env = "SIGNET_METRICS_ALLOW_REMOTE", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", value_parser = BoolishValueParser::new())]
    pub metrics_allow_remote: Option<bool>,
    /// Benchmarks only (`scripts/bench.sh`): secret reads check the signature and answer a
    /// constant. Refused on a non-loopback address. Not documented for operators on purpose.
    #[arg(long, env = "SIGNET_BENCH_CEILING", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", value_parser = BoolishValueParser::new(), hide = true)]
    pub bench_ceiling: Option<bool>,
    /// Audit devices, one `[[audit_device]]` table each (`kind`, `path` or `address`,
    /// `required`, `name`): every audit record also goes there (`docs/operations.md`).
    #[arg(skip)]
    pub audit_device: Option<Vec<crate::audit_device::AuditDeviceTable>>,
    /// Audit devices as specs, besides the `[[audit_device]]` tables: `file:/PATH`, `stdout`,
    /// `syslog`, `syslog:unix:/PATH`, `syslog:udp:HOST:PORT` or `syslog:tcp:HOST:PORT`, each
    /// followed by `,best-effort` (default: required) and `,name=NAME`. Repeat the flag (or its
    /// alias `--audit-device`) for several; in the environment separate them with `;`.
    #[arg(
        long,
        alias = "audit-device",
        env = "SIGNET_AUDIT_DEVICES",
        value_name = "DEVICES",
        value_delimiter = ';'
    )]
    pub audit_devices: Option<Vec<String>>,
    // Unsealing the root key (crate::unseal; docs/operations.md, "Unsealing the root key").
    /// A passphrase-sealed root key file (`signet unseal init|seal --passphrase`), instead of
    /// `root_key_file` / `root_key_env`.
    #[arg(long, env = "SIGNET_ROOT_KEY_SEALED_FILE", value_name = "PATH")]
    pub root_key_sealed_file: Option<PathBuf>,
    /// A file descriptor the passphrase is read from (to its end) at start, before the systemd
    /// credential and the terminal prompt.
    #[arg(long, env = "SIGNET_ROOT_KEY_PASSPHRASE_FD", value_name = "N")]
    pub root_key_passphrase_fd: Option<i32>,
    /// The systemd credential holding the passphrase, read from `$CREDENTIALS_DIRECTORY`
    /// (default `signet-root-passphrase`).
    #[arg(
        long,
        env = "SIGNET_ROOT_KEY_PASSPHRASE_CREDENTIAL",
        value_name = "NAME",
        hide_env_values = true
    )]
    pub root_key_passphrase_credential: Option<String>,
    /// A root key file sealed by a PKCS#11 token (`signet unseal init|seal --pkcs11`).
    #[arg(long, env = "SIGNET_ROOT_KEY_PKCS11_FILE", value_name = "PATH")]
    pub root_key_pkcs11_file: Option<PathBuf>,
    /// The PKCS#11 module (for example `/usr/lib/softhsm/libsofthsm2.so`).
    #[arg(long, env = "SIGNET_PKCS11_MODULE", value_name = "PATH")]
    pub pkcs11_module: Option<PathBuf>,
    /// A file holding the token's user PIN.
    #[arg(long, env = "SIGNET_PKCS11_PIN_FILE", value_name = "PATH")]
    pub pkcs11_pin_file: Option<PathBuf>,
    /// An environment variable holding the token's user PIN.
    #[arg(long, env = "SIGNET_PKCS11_PIN_ENV", value_name = "NAME")]
    pub pkcs11_pin_env: Option<String>,
    /// The systemd credential holding the token's user PIN (default `signet-pkcs11-pin`), used
    /// when neither `pkcs11_pin_file` nor `pkcs11_pin_env` is set.
    #[arg(
        long,
        env = "SIGNET_PKCS11_PIN_CREDENTIAL",
        value_name = "NAME",
        hide_env_values = true
    )]
    pub pkcs11_pin_credential: Option<String>,
}

impl FileConfig {
    /// Reads a TOML file. An unknown key is refused (a typo must not leave a setting at its
    /// default unnoticed), and every error names the line and the key it is about: serde's own
    /// message for a bad value names only the type it wanted.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|_| ConfigError::Read(path.display().to_string()))?;
        Self::parse(&text).map_err(|message| ConfigError::Parse {
            path: path.display().to_string(),
            message,
        })
    }

    /// The settings in a config file's text, or what is wrong with it, in one line.
    fn parse(text: &str) -> Result<Self, String> {
        let at = |e: &toml::de::Error| {
            e.span().map_or_else(String::new, |span| {
                let line = text
                    .get(..span.start)
                    .map_or(0, |before| before.matches('\n').count());
                format!("line {}: ", line + 1)
            })
        };
        let de =
            toml::Deserializer::parse(text).map_err(|e| format!("{}{}", at(&e), e.message()))?;
        serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let message = inner.message();
            if let Some(unknown) = unknown_key(message) {
                format!("{}{unknown}", at(&inner))
            } else if path == "." {
                format!("{}{message}", at(&inner))
            } else {
                format!("{}{path}: {message}", at(&inner))
            }
        })
    }
}

/// serde's "unknown field `lisen`, expected one of `listen`, ..." (every key, some fifty) as
/// "unknown key `lisen` (did you mean `listen`?)": the one close key is what a typo needs, and
/// the reference lists them all.
fn unknown_key(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    let (key, rest) = rest.split_once('`')?;
    let known = rest.split('`').skip(1).step_by(2);
    let closest = known
        .filter(|k| *k != "bench_ceiling")
        .map(|k| (edit_distance(key, k), k))
        .min()
        .filter(|(d, _)| *d <= 2.max(key.len() / 4));
    let hint = closest.map_or_else(String::new, |(_, k)| format!(" (did you mean `{k}`?)"));
    Some(format!(
        "unknown key `{key}`{hint}; docs/configuration.md lists every key"
    ))
}

/// Levenshtein distance between two keys (insertions, deletions and substitutions).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

impl FileConfig {
    /// Layers these settings (from flags and the environment, where clap already put a flag
    /// before its variable) over `below` (from the file): every setting given here wins, every
    /// other keeps the file's value. Done through the serde form of both, so a setting added to
    /// the declaration is layered without a line here.
    pub fn over(self, below: FileConfig) -> Result<FileConfig, ConfigError> {
        // Only a path that is not UTF-8 fails to serialise; no message carries a value.
        let unreadable =
            |_| ConfigError::Invalid("settings must be UTF-8 text (a path is not)".into());
        let serde_json::Value::Object(top) = serde_json::to_value(&self).map_err(unreadable)?
        else {
            return Err(ConfigError::Invalid("settings are not a table".into()));
        };
        let serde_json::Value::Object(mut merged) =
            serde_json::to_value(&below).map_err(unreadable)?
        else {
            return Err(ConfigError::Invalid("settings are not a table".into()));
        };
        for (key, value) in top {
            if !value.is_null() {
                merged.insert(key, value);
            }
        }
        // Both sides were typed settings already, so this only fails if a key's serde form does
        // not read back; the message names no value (one may be a database password).
        serde_json::from_value(serde_json::Value::Object(merged))
            .map_err(|_| ConfigError::Invalid("the settings do not combine".into()))
    }
}

/// A number, or a duration text in the same forms as on the command line.
#[derive(Deserialize)]
#[serde(untagged)]
enum NumberOrDuration {
    Number(u64),
    Text(String),
}

/// A `*_secs` key: whole seconds as a number (the original form, kept) or a duration text
/// (`"90s"`, `"10m"`, `"1h30m"`).
fn secs_or_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    match Option::<NumberOrDuration>::deserialize(d)? {
        None => Ok(None),
        Some(NumberOrDuration::Number(n)) => Ok(Some(n)),
        Some(NumberOrDuration::Text(t)) => duration::secs(&t)
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

/// A `*_ms` key: milliseconds as a number, or a duration text (`"2s"`, `"250ms"`).
fn millis_or_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    match Option::<NumberOrDuration>::deserialize(d)? {
        None => Ok(None),
        Some(NumberOrDuration::Number(n)) => Ok(Some(n)),
        Some(NumberOrDuration::Text(t)) => duration::millis(&t)
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

/// Where the root key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootKeySource {
    /// `<data_dir>/root.key`, created on first start.
    DataDir,
    /// A file the operator manages; never created by Signet.
    File(PathBuf),
    /// An environment variable.
    Env(String),
    /// A passphrase-sealed key file ([`signet_crypto::SealedRootKey`]).
    Passphrase {
        /// The sealed file.
        file: PathBuf,
        /// Where the passphrase comes from.
        passphrase: crate::unseal::PassphraseSource,
    },
    /// A key file sealed by a key inside a PKCS#11 token.
    Pkcs11 {
        /// The sealed file.
        file: PathBuf,
        /// The module and the PIN.
        token: crate::unseal::TokenAccess,
    },
}

/// The resolved configuration.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Data folder.
    pub data_dir: PathBuf,
    /// Public base URL, without a trailing slash.
    pub api_url: String,
    /// TLS certificate and key, if serving HTTPS.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Trusted proxies.
    pub trusted_proxies: Vec<IpNet>,
    /// Where the data lives.
    pub database: DatabaseUrl,
    /// Root key source.
    pub root_key: RootKeySource,
    /// JSON logs.
    pub log_json: bool,
    /// Tokenless enrollment rate.
    pub tokenless_requests_per_minute: u32,
    /// Connection timeouts and cap.
    pub limits: ConnectionLimits,
    /// The per-source authentication-failure budget and audit aggregation.
    pub auth_failures: FailureLimits,
    /// How often the trash retention job runs.
    pub trash_purge_every: Duration,
    /// How often the lease reaper runs.
    pub lease_reap_every: Duration,
    /// Event streams one machine may hold open at once.
    pub event_streams_per_machine: usize,
    /// Webhook delivery settings.
    pub webhooks: WebhookSettings,
    /// Ranges the outbound guard lets OIDC key fetches reach (`oidc_allow_cidrs`).
    pub oidc_allow: Vec<IpNet>,
    /// How long discovered issuer keys are used, and how often an issuer may be asked again.
    pub oidc_keys: signet_core::issuer::KeyPolicy,
    /// Where and how the audit log is archived, if it is.
    pub audit_archive: Option<signet_core::audit::ArchiveSettings>,
    /// How often the archiver looks for a full segment.
    pub audit_archive_every: Duration,
    /// Where `/metrics` is served, if anywhere (`crate::metrics`).
    pub metrics_listen: Option<SocketAddr>,
    /// The benchmark's ceiling mode (loopback only): see [`crate::AppState::with_bench_ceiling`].
    pub bench_ceiling: bool,
    /// Where audit records go besides the database (`crate::audit_device`).
    pub audit_devices: Vec<crate::audit_device::DeviceSpec>,
}

/// Webhook delivery settings (the `webhook_*` and `alert_*` keys).
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// Ranges the SSRF guard lets through.
    pub allow: Vec<IpNet>,
    /// One attempt's time limit.
    pub timeout: Duration,
    /// Retries and claims.
    pub policy: signet_core::webhook::WebhookPolicy,
    /// How often the tailer reads the audit log.
    pub tail_every: Duration,
    /// How often the dispatcher looks for due deliveries.
    pub dispatch_every: Duration,
}

/// The URL a listener advertises when none is configured. The SikkerKey SDKs accept plain HTTP
/// only to `http://localhost`, so loopback listeners advertise that name rather than the address.
pub fn default_api_url(listen: SocketAddr, tls: bool) -> String {
    let scheme = if tls { "https" } else { "http" };
    let host = match listen.ip() {
        ip if is_loopback_ip(ip) => "localhost".to_owned(),
        // As the URL parser writes it (`::ffff:a00:1`, not `::ffff:10.0.0.1`), so that
        // `check_api_url` takes it as written.
        ip => signet_proto::web_url::ip_host(ip),
    };
    let default_port = if tls { 443 } else { 80 };
    if listen.port() == default_port {
        format!("{scheme}://{host}")
    } else {
        format!("{scheme}://{host}:{}", listen.port())
    }
}

/// Checks a public URL: `http(s)://host[:port]` as the one URL parser writes it
/// ([`signet_proto::web_url`]), with no path, query or user info. Its host is a DNS name or an
/// IP address, so nothing in it can break out of the quoting in the bootstrap script.
fn check_api_url(url: &str) -> Result<String, ConfigError> {
    match WebUrl::parse_origin(url) {
        Ok(_) => Ok(url.to_owned()),
        Err(e) => Err(ConfigError::Invalid(format!(
            "api_url (--api-url, SIGNET_API_URL) {e}; got {:?}",
            url.chars().take(256).collect::<String>()
        ))),
    }
}

impl FileConfig {
    /// Resolves into a [`ServerConfig`], applying defaults and checking combinations.
    pub fn resolve(self) -> Result<ServerConfig, ConfigError> {
        let webhooks = resolve_webhooks(&self)?;
        let root_key = resolve_root_key(&self)?;
        let oidc_allow = resolve_cidrs("oidc_allow_cidrs", self.oidc_allow_cidrs.as_deref())?;
        let secs_ms = |name: &str, v: Option<u64>, default_ms: i64| match v {
            None => Ok(default_ms),
            Some(0) => Err(ConfigError::Invalid(format!("{name} must be at least 1"))),
            Some(n) => i64::try_from(n)
                .ok()
                .and_then(|n| n.checked_mul(1000))
                .ok_or_else(|| ConfigError::Invalid(format!("{name} is too large"))),
        };
        let oidc_keys = signet_core::issuer::KeyPolicy {
            ttl_ms: secs_ms(
                "oidc_keys_ttl_secs",
                self.oidc_keys_ttl_secs,
                signet_core::issuer::KEYS_TTL_MS,
            )?,
            refetch_every_ms: secs_ms(
                "oidc_keys_refetch_secs",
                self.oidc_keys_refetch_secs,
                signet_core::issuer::REFETCH_EVERY_MS,
            )?,
        };
        let listen = self
            .listen
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8420)));
        let tls = match (self.tls_cert, self.tls_key) {
            (Some(c), Some(k)) => Some((c, k)),
            (None, None) => None,
            _ => {
                return Err(ConfigError::Invalid(
                    "give both tls_cert and tls_key, or neither".into(),
                ));
            }
        };
        if tls.is_none() && !is_loopback_ip(listen.ip()) && !self.insecure_http.unwrap_or(false) {
            return Err(ConfigError::Invalid(format!(
                "refusing plain HTTP on non-loopback address {listen}: give --tls-cert/--tls-key, or --insecure-http behind a TLS proxy"
            )));
        }
        let bench_ceiling = self.bench_ceiling.unwrap_or(false);
        // The ceiling answers without reading, auditing or checking nonces: it must never face
        // a network.
        if bench_ceiling && !is_loopback_ip(listen.ip()) {
            return Err(ConfigError::Invalid(format!(
                "bench_ceiling is for benchmarks on loopback only, not on {listen}"
            )));
        }
        // The scrape tells whoever reaches it how busy the vault is and what fails: the host
        // only, unless the operator says otherwise.
        if let Some(addr) = self.metrics_listen
            && !is_loopback_ip(addr.ip())
            && !self.metrics_allow_remote.unwrap_or(false)
        {
            return Err(ConfigError::Invalid(format!(
                "refusing the metrics listener on non-loopback address {addr}: give \
                 --metrics-allow-remote (metrics_allow_remote = true) and firewall it to your \
                 scrapers"
            )));
        }
        // The default is made from the listen address in the form the check takes (with port 0
        // it is remade once the port is known: `signet serve`).
        let api_url = match &self.api_url {
            Some(url) => check_api_url(url)?,
            None => default_api_url(listen, tls.is_some()),
        };
        let trusted_proxies = self
            .trusted_proxies
            .unwrap_or_default()
            .iter()
            .map(|c| {
                c.parse::<IpNet>().map_err(|_| {
                    ConfigError::Invalid(format!("trusted_proxies: not a CIDR: {c:?}"))
                })
            })
            .collect::<Result<_, _>>()?;
        let data_dir = self
            .data_dir
            .unwrap_or_else(|| PathBuf::from("signet-data"));
        let database = match &self.database_url {
            Some(url) => {
                DatabaseUrl::parse(url).map_err(|e| ConfigError::Invalid(e.to_string()))?
            }
            None => DatabaseUrl::Sqlite(data_dir.join(crate::install::DB_FILE)),
        };
        // Replicas starting at once on an empty database must not each invent a key.
        if matches!(database, DatabaseUrl::Postgres(_)) && root_key == RootKeySource::DataDir {
            return Err(ConfigError::Invalid(
                "a PostgreSQL database needs the root key every replica shares: set \
                 root_key_file, root_key_env, root_key_sealed_file or root_key_pkcs11_file in \
                 the config (make a plain one with \
                 `head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n'`, or a sealed one with \
                 `signet unseal init`)"
                    .into(),
            ));
        }
        let defaults = ConnectionLimits::default();
        let secs = |name: &str, v: Option<u64>, default: Duration| match v {
            None => Ok(default),
            Some(0) => Err(ConfigError::Invalid(format!(
                "{name} must be at least 1 (seconds)"
            ))),
            Some(s) => Ok(Duration::from_secs(s)),
        };
        let limits = ConnectionLimits {
            header_read: secs(
                "header_read_timeout_secs",
                self.header_read_timeout_secs,
                defaults.header_read,
            )?,
            body_read: secs(
                "body_read_timeout_secs",
                self.body_read_timeout_secs,
                defaults.body_read,
            )?,
            tls_handshake: secs(
                "tls_handshake_timeout_secs",
                self.tls_handshake_timeout_secs,
                defaults.tls_handshake,
            )?,
            max_connections: match self.max_connections {
                None => defaults.max_connections,
                Some(0) => {
                    return Err(ConfigError::Invalid(
                        "max_connections must be at least 1".into(),
                    ));
                }
                Some(n) => n,
            },
        };
        let failure_defaults = FailureLimits::default();
        let auth_failures = FailureLimits {
            per_minute: self
                .auth_failures_per_minute
                .unwrap_or(failure_defaults.per_minute),
            audit_interval_secs: match self.auth_failure_audit_interval_secs {
                None => failure_defaults.audit_interval_secs,
                Some(0) => {
                    return Err(ConfigError::Invalid(
                        "auth_failure_audit_interval_secs must be at least 1".into(),
                    ));
                }
                Some(s) => s,
            },
            max_sources: match self.auth_failure_max_sources {
                None => failure_defaults.max_sources,
                Some(0) => {
                    return Err(ConfigError::Invalid(
                        "auth_failure_max_sources must be at least 1".into(),
                    ));
                }
                Some(n) => n,
            },
        };
        let trash_purge_every = secs(
            "trash_purge_interval_secs",
            self.trash_purge_interval_secs,
            crate::TRASH_PURGE_EVERY,
        )?;
        let lease_reap_every = secs(
            "lease_reap_interval_secs",
            self.lease_reap_interval_secs,
            crate::LEASE_REAP_EVERY,
        )?;
        let audit_archive_every = secs(
            "audit_archive_interval_secs",
            self.audit_archive_interval_secs,
            crate::AUDIT_ARCHIVE_EVERY,
        )?;
        let audit_archive = match (&self.audit_archive_dir, self.audit_archive_segment_records) {
            (_, Some(0)) => {
                return Err(ConfigError::Invalid(
                    "audit_archive_segment_records must be at least 1".into(),
                ));
            }
            (None, _) => None,
            (Some(dir), n) => Some(signet_core::audit::ArchiveSettings {
                dir: dir.clone(),
                segment_records: n.unwrap_or(crate::AUDIT_ARCHIVE_SEGMENT_RECORDS),
                call_budget: signet_core::audit::ARCHIVE_CALL_BUDGET,
            }),
        };
        let audit_devices = crate::audit_device::resolve(
            self.audit_device.as_deref().unwrap_or_default(),
            self.audit_devices.as_deref().unwrap_or_default(),
        )?;
        Ok(ServerConfig {
            listen,
            data_dir,
            database,
            api_url,
            tls,
            trusted_proxies,
            root_key,
            log_json: self.log_json.unwrap_or(false),
            tokenless_requests_per_minute: self.tokenless_requests_per_minute.unwrap_or(5),
            limits,
            auth_failures,
            trash_purge_every,
            lease_reap_every,
            event_streams_per_machine: match self.event_streams_per_machine {
                None => signet_core::events::MAX_STREAMS_PER_MACHINE,
                Some(0) => {
                    return Err(ConfigError::Invalid(
                        "event_streams_per_machine must be at least 1".into(),
                    ));
                }
                Some(n) => n,
            },
            webhooks,
            oidc_allow,
            oidc_keys,
            audit_archive,
            audit_archive_every,
            metrics_listen: self.metrics_listen,
            bench_ceiling,
            audit_devices,
        })
    }
}

/// The root key's source: at most one of the four keys, and the unseal settings only with the
/// source they serve (a PIN file with no PKCS#11 key file is a mistake worth hearing about).
fn resolve_root_key(f: &FileConfig) -> Result<RootKeySource, ConfigError> {
    use crate::unseal::{
        PASSPHRASE_CREDENTIAL, PIN_CREDENTIAL, PassphraseSource, PinSource, TokenAccess,
    };
    let given = [
        f.root_key_file.is_some(),
        f.root_key_env.is_some(),
        f.root_key_sealed_file.is_some(),
        f.root_key_pkcs11_file.is_some(),
    ];
    if given.iter().filter(|g| **g).count() > 1 {
        return Err(ConfigError::Invalid(
            "give only one of root_key_file, root_key_env, root_key_sealed_file and \
             root_key_pkcs11_file"
                .into(),
        ));
    }
    let passphrase_keys =
        f.root_key_passphrase_fd.is_some() || f.root_key_passphrase_credential.is_some();
    if passphrase_keys && f.root_key_sealed_file.is_none() {
        return Err(ConfigError::Invalid(
            "root_key_passphrase_fd and root_key_passphrase_credential need \
             root_key_sealed_file"
                .into(),
        ));
    }
    let pkcs11_keys = f.pkcs11_module.is_some()
        || f.pkcs11_pin_file.is_some()
        || f.pkcs11_pin_env.is_some()
        || f.pkcs11_pin_credential.is_some();
    if pkcs11_keys && f.root_key_pkcs11_file.is_none() {
        return Err(ConfigError::Invalid(
            "the pkcs11_* settings need root_key_pkcs11_file".into(),
        ));
    }
    if let Some(fd) = f.root_key_passphrase_fd
        && fd < 0
    {
        return Err(ConfigError::Invalid(format!(
            "root_key_passphrase_fd must be a file descriptor (0 or more), got {fd}"
        )));
    }
    Ok(
        match (
            &f.root_key_file,
            &f.root_key_env,
            &f.root_key_sealed_file,
            &f.root_key_pkcs11_file,
        ) {
            (Some(file), ..) => RootKeySource::File(file.clone()),
            (_, Some(var), ..) => RootKeySource::Env(var.clone()),
            (_, _, Some(file), _) => RootKeySource::Passphrase {
                file: file.clone(),
                passphrase: PassphraseSource {
                    fd: f.root_key_passphrase_fd,
                    credential: f
                        .root_key_passphrase_credential
                        .clone()
                        .unwrap_or_else(|| PASSPHRASE_CREDENTIAL.to_owned()),
                },
            },
            (_, _, _, Some(file)) => {
                let Some(module) = f.pkcs11_module.clone() else {
                    return Err(ConfigError::Invalid(
                        "root_key_pkcs11_file needs pkcs11_module (the token's PKCS#11 \
                         library, for example /usr/lib/softhsm/libsofthsm2.so)"
                            .into(),
                    ));
                };
                let pin = match (&f.pkcs11_pin_file, &f.pkcs11_pin_env) {
                    (Some(_), Some(_)) => {
                        return Err(ConfigError::Invalid(
                            "give pkcs11_pin_file or pkcs11_pin_env, not both".into(),
                        ));
                    }
                    (Some(p), None) => PinSource::File(p.clone()),
                    (None, Some(v)) => PinSource::Env(v.clone()),
                    (None, None) => PinSource::Credential(
                        f.pkcs11_pin_credential
                            .clone()
                            .unwrap_or_else(|| PIN_CREDENTIAL.to_owned()),
                    ),
                };
                RootKeySource::Pkcs11 {
                    file: file.clone(),
                    token: TokenAccess { module, pin },
                }
            }
            (None, None, None, None) => RootKeySource::DataDir,
        },
    )
}

/// A list of CIDRs, each parsed.
fn resolve_cidrs(key: &str, list: Option<&[String]>) -> Result<Vec<IpNet>, ConfigError> {
    list.unwrap_or_default()
        .iter()
        .map(|c| {
            c.parse::<IpNet>()
                .map_err(|_| ConfigError::Invalid(format!("{key}: not a CIDR: {c:?}")))
        })
        .collect()
}

/// The webhook keys, checked: CIDRs parse, every duration and count is at least 1.
fn resolve_webhooks(f: &FileConfig) -> Result<WebhookSettings, ConfigError> {
    let allow = f
        .webhook_allow_cidrs
        .clone()
        .unwrap_or_default()
        .iter()
        .map(|c| {
            c.parse::<IpNet>().map_err(|_| {
                ConfigError::Invalid(format!("webhook_allow_cidrs: not a CIDR: {c:?}"))
            })
        })
        .collect::<Result<_, _>>()?;
    let positive = |name: &str, v: Option<u64>, default: u64| match v {
        None => Ok(default),
        Some(0) => Err(ConfigError::Invalid(format!("{name} must be at least 1"))),
        Some(n) => Ok(n),
    };
    let defaults = signet_core::webhook::WebhookPolicy::default();
    let timeout = Duration::from_secs(positive(
        "webhook_timeout_secs",
        f.webhook_timeout_secs,
        10,
    )?);
    let policy = signet_core::webhook::WebhookPolicy {
        retry_base: Duration::from_millis(positive(
            "webhook_retry_base_ms",
            f.webhook_retry_base_ms,
            10_000,
        )?),
        retry_cap: Duration::from_secs(positive(
            "webhook_retry_cap_secs",
            f.webhook_retry_cap_secs,
            3600,
        )?),
        max_attempts: u32::try_from(positive(
            "webhook_max_attempts",
            f.webhook_max_attempts.map(u64::from),
            u64::from(defaults.max_attempts),
        )?)
        .unwrap_or(u32::MAX),
        // A claim outlives the attempt it covers, so a live dispatcher never loses one.
        claim: timeout + Duration::from_secs(30),
        batch: defaults.batch,
    };
    Ok(WebhookSettings {
        allow,
        timeout,
        policy,
        tail_every: Duration::from_millis(positive(
            "alert_tail_interval_ms",
            f.alert_tail_interval_ms,
            1000,
        )?),
        dispatch_every: Duration::from_millis(positive(
            "webhook_dispatch_interval_ms",
            f.webhook_dispatch_interval_ms,
            1000,
        )?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example configurations shipped in `deploy/` keep loading and resolving.
    #[test]
    fn the_shipped_example_configs_load() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy");
        for file in [
            "systemd/signet.toml",
            "compose/signet-postgres.toml",
            "container/signet.toml",
        ] {
            let f = FileConfig::load(&root.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
            // The container's file leaves TLS to the command line (`--insecure-http` behind a
            // proxy, or a certificate), as its compose file and Containerfile give it.
            let f = FileConfig {
                insecure_http: Some(true),
                ..Default::default()
            }
            .over(f)
            .unwrap();
            f.resolve().unwrap_or_else(|e| panic!("{file}: {e}"));
        }
    }

    /// A typo in the file is refused, not ignored, and every refusal names the line and the
    /// key: an operator must not find out from a default that a setting was never read.
    #[test]
    fn file_errors_name_the_line_and_the_key() {
        let dir = tempfile::tempdir().unwrap();
        for (text, wants) in [
            (
                "listen = \"127.0.0.1:8420\"\nlisen = \"0.0.0.0:1\"\n",
                &["line 2", "unknown key `lisen` (did you mean `listen`?)"][..],
            ),
            (
                "[tls]\ncert = \"/x\"\n",
                &[
                    "line 1",
                    "unknown key `tls`; docs/configuration.md lists every key",
                ],
            ),
            (
                "max_conections = 9\n",
                &["unknown key `max_conections` (did you mean `max_connections`?)"],
            ),
            (
                "data_dir = \"/d\"\nmax_connections = \"lots\"\n",
                &["line 2", "max_connections: invalid type"],
            ),
            ("listen = \"nowhere\"\n", &["line 1", "listen: invalid"]),
            (
                "\n\nbody_read_timeout_secs = \"soon\"\n",
                &["line 3", "body_read_timeout_secs: "],
            ),
            (
                "trusted_proxies = [1]\n",
                &["trusted_proxies[0]: invalid type"],
            ),
            (
                "[[audit_device]]\nkind = \"file\"\npth = \"/x\"\n",
                &["line 3", "unknown key `pth` (did you mean `path`?)"],
            ),
            ("listen = \n", &["line 1"]),
        ] {
            let path = dir.path().join("signet.toml");
            std::fs::write(&path, text).unwrap();
            let e = FileConfig::load(&path).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("invalid config file {}: ", path.display())),
                "{e}"
            );
            for want in wants {
                assert!(e.contains(want), "{text:?}: {e:?} lacks {want:?}");
            }
            assert!(!e.contains('\n'), "one line: {e:?}");
            assert!(!e.contains("expected one of"), "not every key: {e:?}");
        }
        // Far from every key: no guess.
        let e = unknown_key("unknown field `zzzzzz`, expected one of `listen`, `data_dir`");
        assert_eq!(
            e.as_deref(),
            Some("unknown key `zzzzzz`; docs/configuration.md lists every key")
        );
        assert_eq!(edit_distance("lisen", "listen"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    /// `*_secs` and `*_ms` keys take the old integers and duration texts alike.
    #[test]
    fn duration_keys_take_numbers_and_texts() {
        let f: FileConfig = toml::from_str(
            "header_read_timeout_secs = 7\nbody_read_timeout_secs = \"2m\"\n\
             lease_reap_interval_secs = \"1h30m\"\nwebhook_retry_base_ms = 250\n\
             alert_tail_interval_ms = \"2s\"\n",
        )
        .unwrap();
        let c = f.resolve().unwrap();
        assert_eq!(c.limits.header_read, Duration::from_secs(7));
        assert_eq!(c.limits.body_read, Duration::from_secs(120));
        assert_eq!(c.lease_reap_every, Duration::from_secs(5400));
        assert_eq!(c.webhooks.policy.retry_base, Duration::from_millis(250));
        assert_eq!(c.webhooks.tail_every, Duration::from_secs(2));
        for bad in [
            "body_read_timeout_secs = \"-1m\"",
            "body_read_timeout_secs = \"1.5s\"",
            "body_read_timeout_secs = \"1 month\"",
            "body_read_timeout_secs = -1",
            "alert_tail_interval_ms = \"soon\"",
        ] {
            assert!(toml::from_str::<FileConfig>(bad).is_err(), "{bad}");
        }
        assert!(
            toml::from_str::<FileConfig>("body_read_timeout_secs = \"0s\"")
                .unwrap()
                .resolve()
                .is_err()
        );
    }

    /// A setting given above wins; one not given keeps the value below.
    #[test]
    fn settings_layer_over_the_file() {
        let file = FileConfig {
            listen: Some("127.0.0.1:1".parse().unwrap()),
            log_json: Some(true),
            trusted_proxies: Some(vec!["10.0.0.0/8".into()]),
            ..Default::default()
        };
        let top = FileConfig {
            listen: Some("127.0.0.1:2".parse().unwrap()),
            insecure_http: Some(false),
            ..Default::default()
        };
        let f = top.over(file).unwrap();
        assert_eq!(f.listen, Some("127.0.0.1:2".parse().unwrap()));
        assert_eq!(f.log_json, Some(true));
        assert_eq!(f.insecure_http, Some(false));
        assert_eq!(f.trusted_proxies, Some(vec!["10.0.0.0/8".to_owned()]));
    }

    #[test]
    fn defaults_are_loopback_and_localhost() {
        let c = FileConfig::default().resolve().unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8420");
        assert_eq!(c.api_url, "http://localhost:8420");
        assert_eq!(c.root_key, RootKeySource::DataDir);
        assert_eq!(c.limits, ConnectionLimits::default());
    }

    #[test]
    fn connection_limits_are_read_and_zero_is_refused() {
        let c = FileConfig {
            header_read_timeout_secs: Some(2),
            body_read_timeout_secs: Some(3),
            tls_handshake_timeout_secs: Some(4),
            max_connections: Some(5),
            ..Default::default()
        }
        .resolve()
        .unwrap();
        assert_eq!(c.limits.header_read, Duration::from_secs(2));
        assert_eq!(c.limits.body_read, Duration::from_secs(3));
        assert_eq!(c.limits.tls_handshake, Duration::from_secs(4));
        assert_eq!(c.limits.max_connections, 5);
        for bad in [
            FileConfig {
                header_read_timeout_secs: Some(0),
                ..Default::default()
            },
            FileConfig {
                max_connections: Some(0),
                ..Default::default()
            },
        ] {
            assert!(bad.resolve().is_err());
        }
    }

    #[test]
    fn auth_failure_settings_are_read_and_zero_is_refused_where_meaningless() {
        let d = FileConfig::default().resolve().unwrap().auth_failures;
        assert_eq!(
            (d.per_minute, d.audit_interval_secs, d.max_sources),
            (30, 60, 10_000)
        );
        let c = FileConfig {
            auth_failures_per_minute: Some(0),
            auth_failure_audit_interval_secs: Some(5),
            auth_failure_max_sources: Some(7),
            ..Default::default()
        }
        .resolve()
        .unwrap();
        assert_eq!(
            c.auth_failures,
            FailureLimits {
                per_minute: 0,
                audit_interval_secs: 5,
                max_sources: 7
            }
        );
        for bad in [
            FileConfig {
                auth_failure_audit_interval_secs: Some(0),
                ..Default::default()
            },
            FileConfig {
                auth_failure_max_sources: Some(0),
                ..Default::default()
            },
        ] {
            assert!(bad.resolve().is_err());
        }
    }

    #[test]
    fn plain_http_off_loopback_needs_the_flag() {
        let f = FileConfig {
            listen: Some("0.0.0.0:8420".parse().unwrap()),
            ..Default::default()
        };
        assert!(f.clone().resolve().is_err());
        assert!(
            FileConfig {
                insecure_http: Some(true),
                ..f
            }
            .resolve()
            .is_ok()
        );
    }

    #[test]
    fn a_remote_metrics_listener_needs_the_flag() {
        assert_eq!(
            FileConfig::default().resolve().unwrap().metrics_listen,
            None
        );
        let local = FileConfig {
            metrics_listen: Some("127.0.0.1:9420".parse().unwrap()),
            ..Default::default()
        };
        assert!(local.resolve().is_ok());
        for addr in ["0.0.0.0:9420", "[::]:9420", "192.0.2.7:9420"] {
            let f = FileConfig {
                metrics_listen: Some(addr.parse().unwrap()),
                ..Default::default()
            };
            assert!(f.clone().resolve().is_err(), "{addr}");
            let allowed = FileConfig {
                metrics_allow_remote: Some(true),
                ..f
            };
            assert_eq!(
                allowed.resolve().unwrap().metrics_listen,
                Some(addr.parse().unwrap())
            );
        }
    }

    #[test]
    fn api_urls_cannot_break_the_script_quoting() {
        for bad in [
            "http://x/'; rm -rf /",
            "http://x/",
            "ftp://x",
            "http://x$(id)",
            "https://",
            "http://localhost:1@evil.example",
            "https://x?a",
        ] {
            assert!(check_api_url(bad).is_err(), "{bad}");
        }
        assert!(check_api_url("https://vault.example:8443").is_ok());
    }

    /// The public URL is read as every URL is (`signet_proto::web_url::CASES`), and the error
    /// names the setting and what to write instead.
    #[test]
    fn api_urls_follow_the_one_url_table() {
        for (url, want) in signet_proto::web_url::CASES {
            assert_eq!(check_api_url(url).is_ok(), want.api_url, "{url:?}");
        }
        let err = check_api_url("http://LOCALHOST:80")
            .unwrap_err()
            .to_string();
        assert!(err.contains("api_url (--api-url, SIGNET_API_URL)"), "{err}");
        assert!(
            err.contains("write its scheme, host and port as http://localhost "),
            "{err}"
        );
    }

    /// Every listen address advertises a URL the check takes as written.
    #[test]
    fn default_api_urls_pass_the_check() {
        for (listen, tls, want) in [
            ("127.0.0.1:8420", false, "http://localhost:8420"),
            ("[::1]:8420", true, "https://localhost:8420"),
            ("0.0.0.0:443", true, "https://0.0.0.0"),
            ("10.0.0.1:80", false, "http://10.0.0.1"),
            ("[2001:db8:0:0::1]:8443", true, "https://[2001:db8::1]:8443"),
            (
                "[::ffff:10.0.0.1]:8420",
                false,
                "http://[::ffff:a00:1]:8420",
            ),
        ] {
            let url = default_api_url(listen.parse().unwrap(), tls);
            assert_eq!(url, want);
            assert!(check_api_url(&url).is_ok(), "{url}");
        }
    }

    #[test]
    fn a_sealed_root_key_is_one_source_among_four_with_its_own_settings() {
        use crate::unseal::{PassphraseSource, PinSource, TokenAccess};
        let parse = |text: &str| toml::from_str::<FileConfig>(text).unwrap().resolve();
        let c = parse("root_key_sealed_file = \"/k.sealed\"").unwrap();
        assert_eq!(
            c.root_key,
            RootKeySource::Passphrase {
                file: "/k.sealed".into(),
                passphrase: PassphraseSource {
                    fd: None,
                    credential: "signet-root-passphrase".into()
                }
            }
        );
        let c = parse(
            "root_key_pkcs11_file = \"/k.p11\"\npkcs11_module = \"/m.so\"\npkcs11_pin_env = \"P\"",
        )
        .unwrap();
        assert_eq!(
            c.root_key,
            RootKeySource::Pkcs11 {
                file: "/k.p11".into(),
                token: TokenAccess {
                    module: "/m.so".into(),
                    pin: PinSource::Env("P".into())
                }
            }
        );
        for (bad, why) in [
            (
                "root_key_file = \"/a\"\nroot_key_sealed_file = \"/b\"",
                "only one of",
            ),
            ("root_key_passphrase_fd = 3", "need root_key_sealed_file"),
            ("pkcs11_module = \"/m.so\"", "need root_key_pkcs11_file"),
            ("root_key_pkcs11_file = \"/k.p11\"", "needs pkcs11_module"),
            (
                "root_key_sealed_file = \"/b\"\nroot_key_passphrase_fd = -1",
                "file descriptor",
            ),
        ] {
            let Err(e) = parse(bad) else {
                panic!("accepted: {bad}");
            };
            assert!(e.to_string().contains(why), "{bad}: {e}");
        }
        // A shared database accepts a sealed key as its explicit source.
        let c = parse("database_url = \"postgres://db/x\"\nroot_key_sealed_file = \"/k.sealed\"");
        assert!(c.is_ok());
    }
}
