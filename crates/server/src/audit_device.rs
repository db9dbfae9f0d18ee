//! The audit devices' I/O (`signet_core::audit_device` decides what each gets, in order): a
//! JSON-lines file reopened on SIGHUP, stdout, and syslog (RFC 5424 over a unix socket, UDP or
//! TCP). Also the device specs of the configuration (`[[audit_device]]`, `--audit-device`,
//! `SIGNET_AUDIT_DEVICES`) and their parsing.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::Write as _;
use std::net::{TcpStream, ToSocketAddrs, UdpSocket};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use signet_core::audit_device::{AuditDevice, AuditLine};

use crate::config::ConfigError;

/// The default syslog socket.
pub const DEFAULT_SYSLOG_SOCKET: &str = "/dev/log";

/// How long a syslog connection or send may take before the device counts as failed.
const SYSLOG_TIMEOUT: Duration = Duration::from_secs(2);

/// One `[[audit_device]]` table of the config file.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AuditDeviceTable {
    /// `file`, `stdout` or `syslog`.
    pub kind: String,
    /// The file (kind `file`).
    pub path: Option<PathBuf>,
    /// Where syslog goes (kind `syslog`): `unix:/dev/log` (the default), `udp:HOST:PORT` or
    /// `tcp:HOST:PORT`.
    pub address: Option<String>,
    /// Whether a failed write fails the request (default `true`).
    pub required: Option<bool>,
    /// The name in metrics and logs (default: the kind, numbered from the second of a kind).
    pub name: Option<String>,
}

/// Where a device writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceTarget {
    /// A JSON-lines file, appended.
    File(PathBuf),
    /// JSON lines on stdout.
    Stdout,
    /// RFC 5424 messages to syslog.
    Syslog(SyslogAddress),
}

/// Where syslog messages go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyslogAddress {
    /// A unix datagram socket (`/dev/log`).
    Unix(PathBuf),
    /// One datagram per message.
    Udp(String),
    /// Octet-counted frames (RFC 6587) on one connection.
    Tcp(String),
}

/// A resolved device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceSpec {
    /// Name in metrics and logs.
    pub name: String,
    /// Fails requests when it cannot write.
    pub required: bool,
    /// Where it writes.
    pub target: DeviceTarget,
}

fn invalid(msg: impl Into<String>) -> ConfigError {
    ConfigError::Invalid(msg.into())
}

fn syslog_address(s: &str) -> Result<SyslogAddress, ConfigError> {
    let host_port = |rest: &str| -> Result<String, ConfigError> {
        match rest.rsplit_once(':') {
            Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0) => {
                Ok(rest.to_owned())
            }
            _ => Err(invalid(format!(
                "audit device syslog address {s:?}: expected HOST:PORT after udp: or tcp:"
            ))),
        }
    };
    if let Some(path) = s.strip_prefix("unix:") {
        if !path.starts_with('/') {
            return Err(invalid(format!(
                "audit device syslog address {s:?}: the socket path must be absolute"
            )));
        }
        Ok(SyslogAddress::Unix(PathBuf::from(path)))
    } else if let Some(rest) = s.strip_prefix("udp:") {
        Ok(SyslogAddress::Udp(host_port(rest)?))
    } else if let Some(rest) = s.strip_prefix("tcp:") {
        Ok(SyslogAddress::Tcp(host_port(rest)?))
    } else {
        Err(invalid(format!(
            "audit device syslog address {s:?}: expected unix:/PATH, udp:HOST:PORT or tcp:HOST:PORT"
        )))
    }
}

fn file_path(p: &Path, given: &str) -> Result<PathBuf, ConfigError> {
    if !p.is_absolute() {
        return Err(invalid(format!(
            "audit device {given:?}: the file path must be absolute"
        )));
    }
    Ok(p.to_owned())
}

/// Parses one `--audit-device` / `SIGNET_AUDIT_DEVICES` spec: `file:/PATH`, `stdout`, `syslog`,
/// `syslog:unix:/PATH`, `syslog:udp:HOST:PORT` or `syslog:tcp:HOST:PORT`, then options after
/// commas: `best-effort`, `required` (the default), `name=NAME`. A path holding a comma needs
/// the config file.
pub fn parse_spec(spec: &str) -> Result<(Option<String>, bool, DeviceTarget), ConfigError> {
    let mut parts = spec.split(',');
    let head = parts.next().unwrap_or_default().trim();
    let target = if head == "stdout" {
        DeviceTarget::Stdout
    } else if head == "syslog" {
        DeviceTarget::Syslog(SyslogAddress::Unix(PathBuf::from(DEFAULT_SYSLOG_SOCKET)))
    } else if let Some(rest) = head.strip_prefix("syslog:") {
        DeviceTarget::Syslog(syslog_address(rest)?)
    } else if let Some(path) = head.strip_prefix("file:") {
        DeviceTarget::File(file_path(Path::new(path), spec)?)
    } else {
        return Err(invalid(format!(
            "audit device {spec:?}: expected file:/PATH, stdout, syslog or syslog:ADDRESS, \
             optionally followed by ,best-effort and ,name=NAME"
        )));
    };
    let mut required = true;
    let mut name = None;
    for opt in parts {
        match opt.trim() {
            "best-effort" => required = false,
            "required" => required = true,
            o if o.starts_with("name=") => name = Some(o["name=".len()..].to_owned()),
            o => {
                return Err(invalid(format!(
                    "audit device {spec:?}: unknown option {o:?} (expected best-effort, required or name=NAME)"
                )));
            }
        }
    }
    Ok((name, required, target))
}

fn kind(t: &DeviceTarget) -> &'static str {
    match t {
        DeviceTarget::File(_) => "file",
        DeviceTarget::Stdout => "stdout",
        DeviceTarget::Syslog(_) => "syslog",
    }
}

/// Resolves the config file's tables and the flags' specs (both kept: the file's first) into
/// named devices. Names must be unique and plain (`[A-Za-z0-9_.-]`, for the metric label).
pub fn resolve(
    tables: &[AuditDeviceTable],
    specs: &[String],
) -> Result<Vec<DeviceSpec>, ConfigError> {
    let mut raw: Vec<(Option<String>, bool, DeviceTarget)> = Vec::new();
    for t in tables {
        let target = match t.kind.as_str() {
            "file" => {
                if t.address.is_some() {
                    return Err(invalid("audit_device of kind file takes path, not address"));
                }
                let path = t
                    .path
                    .as_deref()
                    .ok_or_else(|| invalid("audit_device of kind file needs a path"))?;
                DeviceTarget::File(file_path(path, &path.display().to_string())?)
            }
            "stdout" => {
                if t.path.is_some() || t.address.is_some() {
                    return Err(invalid(
                        "audit_device of kind stdout takes no path or address",
                    ));
                }
                DeviceTarget::Stdout
            }
            "syslog" => {
                if t.path.is_some() {
                    return Err(invalid(
                        "audit_device of kind syslog takes address, not path",
                    ));
                }
                match &t.address {
                    None => DeviceTarget::Syslog(SyslogAddress::Unix(PathBuf::from(
                        DEFAULT_SYSLOG_SOCKET,
                    ))),
                    Some(a) => DeviceTarget::Syslog(syslog_address(a)?),
                }
            }
            other => {
                return Err(invalid(format!(
                    "audit_device kind {other:?} is unknown (expected file, stdout or syslog)"
                )));
            }
        };
        raw.push((t.name.clone(), t.required.unwrap_or(true), target));
    }
    for s in specs {
        raw.push(parse_spec(s)?);
    }
    let mut out: Vec<DeviceSpec> = Vec::new();
    for (name, required, target) in raw {
        let name = match name {
            Some(n) => n,
            None => {
                let k = kind(&target);
                let same = out.iter().filter(|d| kind(&d.target) == k).count();
                if same == 0 {
                    k.to_owned()
                } else {
                    format!("{k}{}", same + 1)
                }
            }
        };
        if name.is_empty()
            || name.len() > 64
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
        {
            return Err(invalid(format!(
                "audit device name {name:?} must be 1 to 64 of A-Z, a-z, 0-9, _ . -"
            )));
        }
        if out.iter().any(|d| d.name == name) {
            return Err(invalid(format!(
                "two audit devices are named {name:?}; give each a name=NAME"
            )));
        }
        if matches!(target, DeviceTarget::Stdout) && out.iter().any(|d| d.target == target) {
            return Err(invalid("stdout is configured as an audit device twice"));
        }
        out.push(DeviceSpec {
            name,
            required,
            target,
        });
    }
    Ok(out)
}

/// The opened devices, and the handle SIGHUP reopens files through.
#[derive(Clone, Default)]
pub struct Devices {
    /// Every device, for `Signet::set_audit_devices`.
    pub all: Vec<Arc<dyn AuditDevice>>,
    files: Vec<Arc<FileDevice>>,
}

impl Devices {
    /// Opens every device. A file that cannot be opened now is an error (a typo should stop
    /// the start, not the first read); sockets connect on first use.
    pub fn open(specs: &[DeviceSpec]) -> std::io::Result<Self> {
        let mut out = Self::default();
        for s in specs {
            match &s.target {
                DeviceTarget::File(path) => {
                    let f = Arc::new(FileDevice {
                        name: s.name.clone(),
                        required: s.required,
                        path: path.clone(),
                        file: Mutex::new(Some(open_file(path).map_err(|e| {
                            std::io::Error::new(
                                e.kind(),
                                format!(
                                    "audit device {}: cannot open {}: {e}",
                                    s.name,
                                    path.display()
                                ),
                            )
                        })?)),
                    });
                    out.files.push(f.clone());
                    out.all.push(f);
                }
                DeviceTarget::Stdout => out.all.push(Arc::new(StdoutDevice {
                    name: s.name.clone(),
                    required: s.required,
                })),
                DeviceTarget::Syslog(address) => out.all.push(Arc::new(SyslogDevice {
                    name: s.name.clone(),
                    required: s.required,
                    address: address.clone(),
                    hostname: hostname(),
                    conn: Mutex::new(None),
                })),
            }
        }
        Ok(out)
    }

    /// SIGHUP: closes every file and opens its path again (after logrotate renamed it, a new
    /// file). A file that cannot be opened is opened on its next write instead.
    pub fn reopen(&self) {
        for f in &self.files {
            let opened = open_file(&f.path);
            let Ok(mut slot) = f.file.lock() else {
                continue;
            };
            match opened {
                Ok(file) => *slot = Some(file),
                Err(e) => {
                    tracing::error!(device = %f.name, path = %f.path.display(), error = %e, "cannot reopen the audit file; will retry on the next record");
                    *slot = None;
                }
            }
        }
        if !self.files.is_empty() {
            tracing::info!(files = self.files.len(), "audit device files reopened");
        }
    }
}

/// Opens (creating) an audit file for appending: 0600, in a folder made 0700 if missing.
fn open_file(path: &Path) -> std::io::Result<File> {
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
        && !dir.exists()
    {
        DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    }
    OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)
}

/// Lines as the device writes them: one JSON object each, newline-terminated.
fn json_lines(lines: &[AuditLine]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(lines.len() * 360);
    for l in lines {
        serde_json::to_writer(&mut out, l)?;
        out.push(b'\n');
    }
    Ok(out)
}

/// A JSON-lines file.
struct FileDevice {
    name: String,
    required: bool,
    path: PathBuf,
    /// `None` after a failed write or reopen: the next write opens the path again, so a
    /// device whose disk filled up (or whose path was repointed) recovers by itself.
    file: Mutex<Option<File>>,
}

impl AuditDevice for FileDevice {
    fn name(&self) -> &str {
        &self.name
    }

    fn required(&self) -> bool {
        self.required
    }

    fn write(&self, lines: &[AuditLine]) -> std::io::Result<()> {
        let bytes = json_lines(lines)?;
        let mut slot = self
            .file
            .lock()
            .map_err(|_| std::io::Error::other("the audit file's lock is poisoned"))?;
        if slot.is_none() {
            *slot = Some(open_file(&self.path)?);
        }
        let Some(file) = slot.as_mut() else {
            return Err(std::io::Error::other("the audit file is not open"));
        };
        let meta = file.metadata()?;
        let regular = meta.is_file();
        let written = file.write_all(&bytes).and_then(|()| {
            // A required device's lines are on disk before the value leaves, as the
            // database's are. Only a regular file can be synced (not /dev/full, a FIFO...).
            if regular && self.required {
                file.sync_data()
            } else {
                Ok(())
            }
        });
        if let Err(e) = written {
            // Cut off what part of the batch was written, so the retry does not leave a
            // half line or a duplicate; then start over with a fresh handle next time.
            if regular {
                let _ = file.set_len(meta.len());
            }
            *slot = None;
            return Err(e);
        }
        Ok(())
    }
}

/// JSON lines on stdout (the log goes to stderr).
struct StdoutDevice {
    name: String,
    required: bool,
}

impl AuditDevice for StdoutDevice {
    fn name(&self) -> &str {
        &self.name
    }

    fn required(&self) -> bool {
        self.required
    }

    fn write(&self, lines: &[AuditLine]) -> std::io::Result<()> {
        let bytes = json_lines(lines)?;
        let mut out = std::io::stdout().lock();
        out.write_all(&bytes)?;
        out.flush()
    }
}

/// An open syslog transport.
enum SyslogConn {
    Unix(UnixDatagram),
    Udp(UdpSocket),
    Tcp(TcpStream),
}

/// RFC 5424 messages, one per record, the JSON line as MSG.
struct SyslogDevice {
    name: String,
    required: bool,
    address: SyslogAddress,
    hostname: String,
    /// Connected on first use and again after a failure.
    conn: Mutex<Option<SyslogConn>>,
}

fn connect(address: &SyslogAddress) -> std::io::Result<SyslogConn> {
    match address {
        SyslogAddress::Unix(path) => {
            let s = UnixDatagram::unbound()?;
            s.connect(path)?;
            s.set_write_timeout(Some(SYSLOG_TIMEOUT))?;
            Ok(SyslogConn::Unix(s))
        }
        SyslogAddress::Udp(addr) => {
            let to = addr
                .to_socket_addrs()?
                .next()
                .ok_or_else(|| std::io::Error::other(format!("{addr} does not resolve")))?;
            let bind: std::net::SocketAddr = if to.is_ipv4() {
                ([0, 0, 0, 0], 0).into()
            } else {
                ([0u16; 8], 0).into()
            };
            let s = UdpSocket::bind(bind)?;
            s.connect(to)?;
            Ok(SyslogConn::Udp(s))
        }
        SyslogAddress::Tcp(addr) => {
            let to = addr
                .to_socket_addrs()?
                .next()
                .ok_or_else(|| std::io::Error::other(format!("{addr} does not resolve")))?;
            let s = TcpStream::connect_timeout(&to, SYSLOG_TIMEOUT)?;
            s.set_write_timeout(Some(SYSLOG_TIMEOUT))?;
            s.set_nodelay(true)?;
            Ok(SyslogConn::Tcp(s))
        }
    }
}

/// `authpriv` (10) at `info` (6): audit records are security records, kept from general logs.
const SYSLOG_PRI: u8 = 10 * 8 + 6;

/// The host name syslog messages carry: printable ASCII without spaces, else `-` (RFC 5424's
/// nil value).
fn hostname() -> String {
    let h = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let h = h.trim();
    if !h.is_empty() && h.len() <= 255 && h.bytes().all(|b| (33..=126).contains(&b)) {
        h.to_owned()
    } else {
        "-".to_owned()
    }
}

/// Unix ms as RFC 3339 UTC with milliseconds (RFC 5424's TIMESTAMP), without a date library:
/// the civil-from-days algorithm (H. Hinnant).
fn rfc3339_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let milli = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{milli:03}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

/// One RFC 5424 message: `<PRI>1 TIMESTAMP HOSTNAME signet PROCID audit - JSON`.
pub fn syslog_message(hostname: &str, line: &AuditLine) -> std::io::Result<Vec<u8>> {
    let mut out = format!(
        "<{SYSLOG_PRI}>1 {} {hostname} signet {} audit - ",
        rfc3339_ms(line.ts),
        std::process::id()
    )
    .into_bytes();
    serde_json::to_writer(&mut out, line)?;
    Ok(out)
}

impl AuditDevice for SyslogDevice {
    fn name(&self) -> &str {
        &self.name
    }

    fn required(&self) -> bool {
        self.required
    }

    fn write(&self, lines: &[AuditLine]) -> std::io::Result<()> {
        let mut slot = self
            .conn
            .lock()
            .map_err(|_| std::io::Error::other("the syslog connection's lock is poisoned"))?;
        if slot.is_none() {
            *slot = Some(connect(&self.address)?);
        }
        let Some(conn) = slot.as_mut() else {
            return Err(std::io::Error::other("syslog is not connected"));
        };
        let sent = (|| {
            for l in lines {
                let msg = syslog_message(&self.hostname, l)?;
                match conn {
                    SyslogConn::Unix(s) => {
                        s.send(&msg)?;
                    }
                    SyslogConn::Udp(s) => {
                        s.send(&msg)?;
                    }
                    SyslogConn::Tcp(s) => {
                        // RFC 6587 octet counting: JSON may hold no newline, but a frame
                        // length never depends on that.
                        s.write_all(format!("{} ", msg.len()).as_bytes())?;
                        s.write_all(&msg)?;
                    }
                }
            }
            Ok(())
        })();
        if sent.is_err() {
            *slot = None;
        }
        sent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn specs(s: &[&str]) -> Result<Vec<DeviceSpec>, ConfigError> {
        resolve(&[], &s.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
    }

    fn err(s: &[&str]) -> String {
        specs(s).unwrap_err().to_string()
    }

    #[test]
    fn specs_parse() {
        let d = specs(&[
            "file:/var/log/signet/audit.jsonl",
            "stdout,best-effort",
            "syslog",
            "syslog:udp:127.0.0.1:514,best-effort,name=remote",
            "syslog:tcp:logs.example:6514,required",
            "file:/tmp/b.jsonl,name=second",
        ])
        .unwrap();
        let names: Vec<_> = d.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(
            names,
            ["file", "stdout", "syslog", "remote", "syslog3", "second"]
        );
        assert_eq!(
            d[0].target,
            DeviceTarget::File("/var/log/signet/audit.jsonl".into())
        );
        assert!(d[0].required);
        assert!(!d[1].required);
        assert_eq!(
            d[2].target,
            DeviceTarget::Syslog(SyslogAddress::Unix("/dev/log".into()))
        );
        assert_eq!(
            d[3].target,
            DeviceTarget::Syslog(SyslogAddress::Udp("127.0.0.1:514".into()))
        );
        assert!(!d[3].required);
        assert_eq!(
            d[4].target,
            DeviceTarget::Syslog(SyslogAddress::Tcp("logs.example:6514".into()))
        );
        assert!(d[4].required);
    }

    #[test]
    fn bad_specs_are_refused_with_a_clear_message() {
        assert!(err(&["file:relative/audit.jsonl"]).contains("must be absolute"));
        assert!(err(&["file:"]).contains("must be absolute"));
        assert!(err(&["files:/tmp/a"]).contains("expected file:/PATH"));
        assert!(err(&["stdout,best_effort"]).contains("unknown option \"best_effort\""));
        assert!(err(&["syslog:udp:localhost"]).contains("HOST:PORT"));
        assert!(err(&["syslog:udp:localhost:0"]).contains("HOST:PORT"));
        assert!(err(&["syslog:tcp::514"]).contains("HOST:PORT"));
        assert!(err(&["syslog:unix:dev/log"]).contains("absolute"));
        assert!(err(&["syslog:http://x"]).contains("expected unix:/PATH"));
        assert!(err(&["file:/tmp/a", "file:/tmp/b,name=file"]).contains("two audit devices"));
        assert!(err(&["stdout", "stdout,name=other"]).contains("twice"));
        assert!(err(&["stdout,name=a b"]).contains("must be 1 to 64"));
        assert!(err(&["stdout,name="]).contains("must be 1 to 64"));
        assert!(err(&[""]).contains("expected file:/PATH"));
    }

    #[test]
    fn tables_resolve_and_check_their_fields() {
        let t = |kind: &str| AuditDeviceTable {
            kind: kind.to_owned(),
            ..AuditDeviceTable::default()
        };
        let ok = resolve(
            &[
                AuditDeviceTable {
                    path: Some("/var/log/a.jsonl".into()),
                    required: Some(false),
                    ..t("file")
                },
                AuditDeviceTable {
                    address: Some("tcp:127.0.0.1:601".into()),
                    name: Some("siem".into()),
                    ..t("syslog")
                },
            ],
            &["stdout".to_owned()],
        )
        .unwrap();
        assert_eq!(ok.len(), 3);
        assert!(!ok[0].required);
        assert_eq!(ok[1].name, "siem");
        let bad = |t: AuditDeviceTable| resolve(&[t], &[]).unwrap_err().to_string();
        assert!(bad(t("file")).contains("needs a path"));
        assert!(bad(t("journald")).contains("unknown"));
        assert!(
            bad(AuditDeviceTable {
                path: Some("/x".into()),
                ..t("stdout")
            })
            .contains("takes no path")
        );
        assert!(
            bad(AuditDeviceTable {
                address: Some("udp:h".into()),
                ..t("syslog")
            })
            .contains("HOST:PORT")
        );
        // The table form refuses unknown keys, so a misspelt `requird = false` is not ignored.
        let parsed: Result<AuditDeviceTable, _> =
            toml::from_str("kind = \"stdout\"\nrequird = false\n");
        assert!(parsed.is_err());
    }

    #[test]
    fn the_config_file_takes_tables_and_specs() {
        let f: crate::config::FileConfig = toml::from_str(
            "audit_devices = [\"stdout,best-effort\"]\n\
             [[audit_device]]\nkind = \"file\"\npath = \"/var/log/signet/audit.jsonl\"\n\
             [[audit_device]]\nkind = \"syslog\"\nrequired = false\nname = \"siem\"\n",
        )
        .unwrap();
        let c = f.resolve().unwrap();
        let names: Vec<_> = c.audit_devices.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["file", "siem", "stdout"]);
        assert!(c.audit_devices[0].required);
        assert!(!c.audit_devices[1].required);
        let bad: crate::config::FileConfig =
            toml::from_str("[[audit_device]]\nkind = \"file\"\n").unwrap();
        assert!(
            bad.resolve()
                .unwrap_err()
                .to_string()
                .contains("needs a path")
        );
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_ms(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(rfc3339_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339_ms(4_102_444_799_999), "2099-12-31T23:59:59.999Z");
    }
}
