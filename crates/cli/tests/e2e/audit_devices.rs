//! Audit devices (issue 15 §1): a real server sends every audit record to a JSON-lines file,
//! stdout or syslog besides the database. The file equals `signet audit list` field by field and
//! `signet audit verify --file` passes, then fails naming the line on a tampered, deleted or
//! swapped line; SIGHUP rotation continues the chain in a new file; a required device on a full
//! disk (`/dev/full`) answers 503 without the value and recovers; a failing best-effort device
//! only moves its metric; syslog messages reach real sockets as RFC 5424 frames.

use std::io::{BufRead as _, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{Backend, Fixture, TestServer, every_backend, run, stderr, stdout};

/// A server on `backend` whose audit devices are `specs` (through `SIGNET_AUDIT_DEVICES`, so
/// they survive restarts), with `extra` flags.
fn server_with_devices(backend: Backend, specs: &str, extra: &[&str]) -> TestServer {
    let mut server = TestServer::unstarted_on(backend);
    server
        .env
        .push(("SIGNET_AUDIT_DEVICES".into(), specs.into()));
    server
        .spawn(0, extra)
        .expect("server starts with audit devices");
    server
}

fn lines_of(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// `signet audit verify --file FILES [--config C | --data-dir D]`: (success, stdout, stderr).
fn verify(server: &TestServer, files: &[&Path], with_key: bool) -> (bool, String, String) {
    let mut args: Vec<String> = vec!["audit".into(), "verify".into(), "--file".into()];
    args.extend(files.iter().map(|f| f.display().to_string()));
    if with_key {
        args.push("--data-dir".into());
        args.push(server.data_dir.display().to_string());
        if let Some(c) = &server.config {
            args.push("--config".into());
            args.push(c.display().to_string());
        }
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run(&server.operator_home, &args);
    (out.status.success(), stdout(&out), stderr(&out))
}

fn machine_reads(f: &Fixture, n: usize) {
    for _ in 0..n {
        let out = f.server.machine(&["get", &f.secret]);
        assert!(out.status.success(), "get: {}", stderr(&out));
    }
}

fn write_lines(path: &Path, lines: &[String]) {
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(path, text).unwrap();
}

/// The fields a line shares with `signet audit list --json`.
const SHARED: [&str; 11] = [
    "seq",
    "ts",
    "actorKind",
    "actorId",
    "action",
    "target",
    "sourceIp",
    "result",
    "detail",
    "hash",
    "evidence",
];

every_backend!(fn a_file_device_holds_the_log_and_verifies_alone);
fn a_file_device_holds_the_log_and_verifies_alone(backend: Backend) {
    let root = tempfile::tempdir().unwrap();
    // The folder does not exist yet: the server makes it, 0700, and the file 0600.
    let file = root.path().join("audit").join("audit.jsonl");
    let server = server_with_devices(backend, &format!("file:{}", file.display()), &[]);
    let f = Fixture::with_server(server);
    machine_reads(&f, 3);
    f.server
        .op_json(&["secret", "update", &f.secret, "--value", "rotated-value"]);
    machine_reads(&f, 2);
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(file.parent().unwrap()), 0o700);
        assert_eq!(mode(&file), 0o600);
    }

    let listed = f.server.op_json(&["audit", "list", "--limit", "1000"])["records"]
        .as_array()
        .unwrap()
        .clone();
    let lines = lines_of(&file);
    assert!(lines.len() >= 10, "{lines:#?}");
    let first = lines[0]["seq"].as_u64().unwrap();
    // One line per record, in seq order, without a gap.
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(l["seq"].as_u64().unwrap(), first + i as u64, "{l}");
    }
    // Every record the database lists from the device's start is a line, field by field.
    let mut compared = 0;
    for r in &listed {
        let seq = r["seq"].as_u64().unwrap();
        if seq < first {
            continue;
        }
        let l = &lines[(seq - first) as usize];
        for k in SHARED {
            assert_eq!(l.get(k), r.get(k), "field {k} of record {seq}");
        }
        compared += 1;
    }
    assert!(compared >= 10, "{compared} records compared");
    let reads = lines
        .iter()
        .filter(|l| l["action"] == "secret_read" && l["result"] == "ok")
        .count();
    assert_eq!(reads, 5);
    // The lines carry no secret value.
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(!text.contains(&f.value) && !text.contains("rotated-value"));

    let (ok, out, err) = verify(&f.server, &[&file], true);
    assert!(ok, "{out}{err}");
    assert!(out.contains("every MAC recomputed"), "{out}");
    let (ok, out, err) = verify(&f.server, &[&file], false);
    assert!(ok, "{out}{err}");
    assert!(out.contains("MACs not"), "{out}");

    let raw: Vec<String> = text.lines().map(str::to_owned).collect();
    let dir = tempfile::tempdir().unwrap();
    // One field changed (the record's detail): only the MAC shows it, so the key is needed.
    let tampered = dir.path().join("tampered.jsonl");
    let mut edited = raw.clone();
    let mut v: Value = serde_json::from_str(&edited[2]).unwrap();
    v["detail"] = Value::from("nothing to see");
    edited[2] = serde_json::to_string(&v).unwrap();
    write_lines(&tampered, &edited);
    let (ok, _, err) = verify(&f.server, &[&tampered], true);
    assert!(!ok);
    assert!(err.contains("tampered.jsonl:3:"), "{err}");
    // Its hash recomputed by someone without the key breaks the next line's link, keyless.
    let mut v: Value = serde_json::from_str(&raw[2]).unwrap();
    v["hash"] = Value::from("00".repeat(32));
    edited[2] = serde_json::to_string(&v).unwrap();
    write_lines(&tampered, &edited);
    let (ok, _, err) = verify(&f.server, &[&tampered], false);
    assert!(!ok);
    assert!(err.contains("tampered.jsonl:4:"), "{err}");
    // One line deleted.
    let deleted = dir.path().join("deleted.jsonl");
    let mut fewer = raw.clone();
    fewer.remove(4);
    write_lines(&deleted, &fewer);
    for with_key in [false, true] {
        let (ok, _, err) = verify(&f.server, &[&deleted], with_key);
        assert!(!ok);
        assert!(
            err.contains("deleted.jsonl:5:") && err.contains("missing"),
            "{err}"
        );
    }
    // ...which a best-effort device's reader may accept, seeing the gap listed.
    let out = run(
        &f.server.operator_home,
        &[
            "audit",
            "verify",
            "--allow-gaps",
            "--file",
            deleted.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("gap: records"), "{}", stdout(&out));
    // Two lines swapped.
    let swapped = dir.path().join("swapped.jsonl");
    let mut order = raw.clone();
    order.swap(5, 6);
    write_lines(&swapped, &order);
    let (ok, _, err) = verify(&f.server, &[&swapped], false);
    assert!(!ok);
    assert!(err.contains("swapped.jsonl:6:"), "{err}");
    // A cut-off last line.
    let cut = dir.path().join("cut.jsonl");
    std::fs::write(&cut, &text[..text.len() - 10]).unwrap();
    let (ok, _, err) = verify(&f.server, &[&cut], false);
    assert!(!ok);
    assert!(err.contains(&format!("cut.jsonl:{}:", raw.len())), "{err}");
    // Another vault's key does not verify it.
    let other = TestServer::start();
    let out = run(
        &f.server.operator_home,
        &[
            "audit",
            "verify",
            "--file",
            file.to_str().unwrap(),
            "--data-dir",
            other.data_dir.to_str().unwrap(),
        ],
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("audit.jsonl:1:"), "{}", stderr(&out));
}

/// Waits until the server's log holds `needle`.
fn wait_for_log(server: &TestServer, needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !server.log().contains(needle) {
        assert!(
            Instant::now() < deadline,
            "no {needle:?} in {}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn hup(server: &TestServer) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(server.pid().unwrap() as i32),
        nix::sys::signal::Signal::SIGHUP,
    )
    .unwrap();
}

#[test]
fn sighup_reopens_the_file_and_the_chain_continues_in_the_new_one() {
    let root = tempfile::tempdir().unwrap();
    let file = root.path().join("audit.jsonl");
    let rotated = root.path().join("audit.jsonl.1");
    let server = server_with_devices(Backend::Sqlite, &format!("file:{}", file.display()), &[]);
    let f = Fixture::with_server(server);
    machine_reads(&f, 2);
    // logrotate without copytruncate: rename, then HUP.
    std::fs::rename(&file, &rotated).unwrap();
    hup(&f.server);
    wait_for_log(&f.server, "audit device files reopened");
    machine_reads(&f, 3);
    let old = lines_of(&rotated);
    let new = lines_of(&file);
    assert!(!old.is_empty() && new.len() >= 3, "{old:#?} {new:#?}");
    assert_eq!(new[0]["prevHash"], old.last().unwrap()["hash"]);
    assert_eq!(
        new[0]["seq"].as_u64().unwrap(),
        old.last().unwrap()["seq"].as_u64().unwrap() + 1
    );
    for files in [
        vec![rotated.as_path(), file.as_path()],
        // In any order (a shell glob sorts audit.jsonl first): by their first records.
        vec![file.as_path(), rotated.as_path()],
        vec![rotated.as_path()],
        vec![file.as_path()],
    ] {
        let (ok, out, err) = verify(&f.server, &files, true);
        assert!(ok, "{files:?}: {out}{err}");
    }
}

/// One signed read through the SDK: status and body.
async fn signed_read(f: &Fixture) -> (u16, String) {
    let creds =
        signet_client::identity::load::<signet_proto::Identity>(&f.server.machine_identity())
            .unwrap();
    let c = signet_client::MachineClient::new(creds).unwrap();
    let r = c
        .signed("GET", &format!("/v1/secret/{}", f.secret))
        .build()
        .unwrap()
        .send()
        .await
        .expect("the server answers");
    (r.status, String::from_utf8_lossy(&r.body).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_required_device_on_a_full_disk_answers_503_without_the_value_and_recovers() {
    let root = tempfile::tempdir().unwrap();
    // The device's path is a link: to a file, then to /dev/full (every write fails with
    // ENOSPC, a real full disk without root), then to a new file.
    let link = root.path().join("audit.jsonl");
    let first = root.path().join("first.jsonl");
    let second = root.path().join("second.jsonl");
    std::os::unix::fs::symlink(&first, &link).unwrap();
    let server = server_with_devices(Backend::Sqlite, &format!("file:{}", link.display()), &[]);
    let f = Fixture::with_server(server);
    assert_eq!(signed_read(&f).await.0, 200);

    std::fs::remove_file(&link).unwrap();
    std::os::unix::fs::symlink("/dev/full", &link).unwrap();
    hup(&f.server);
    wait_for_log(&f.server, "audit device files reopened");
    for _ in 0..3 {
        let (status, body) = signed_read(&f).await;
        assert_eq!(status, 503, "{body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["code"], "unavailable", "{body}");
        assert!(
            !body.contains(&f.value) && !body.contains("s3cr3t"),
            "{body}"
        );
    }
    // The CLI sees a server that is unavailable (exit 6), and no value.
    let out = f.server.machine(&["get", &f.secret]);
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    assert!(!stdout(&out).contains("s3cr3t") && !stderr(&out).contains("s3cr3t"));
    // The log says why, in the operating system's words, so the operator knows to free space.
    let log = f.server.log();
    assert!(
        log.lines()
            .any(|l| l.contains("required audit device failed")
                && l.contains("device=\"file\"")
                && l.contains("No space left on device")),
        "{log}"
    );

    // Space again: the device reopens its path after a failure, by itself.
    std::fs::remove_file(&link).unwrap();
    std::os::unix::fs::symlink(&second, &link).unwrap();
    let (status, body) = signed_read(&f).await;
    assert_eq!(status, 200);
    assert!(body.contains(&f.value));
    // The records the device missed are written first: the two files are one unbroken chain.
    let (ok, out, err) = verify(&f.server, &[&first, &second], true);
    assert!(ok, "{out}{err}");
    let refused = lines_of(&second)
        .iter()
        .filter(|l| l["action"] == "secret_read")
        .count();
    assert!(refused >= 5, "{refused}");
}

/// `signet_audit_device_failures_total{device="NAME"}` from a scrape of `addr`.
fn device_failures(addr: &str, name: &str) -> u64 {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let want = format!("signet_audit_device_failures_total{{device=\"{name}\"}} ");
    raw.lines()
        .find_map(|l| l.strip_prefix(&want))
        .unwrap_or_else(|| panic!("no {want} in {raw}"))
        .trim()
        .parse()
        .unwrap()
}

fn metrics_addr(server: &TestServer) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(a) = server.log().lines().find_map(|l| {
            l.strip_prefix("signet: metrics on http://")
                .and_then(|r| r.strip_suffix("/metrics"))
                .map(str::to_owned)
        }) {
            return a;
        }
        assert!(Instant::now() < deadline, "{}", server.log());
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_best_effort_device_only_moves_its_counter() {
    let root = tempfile::tempdir().unwrap();
    let file = root.path().join("audit.jsonl");
    let server = server_with_devices(
        Backend::Sqlite,
        &format!(
            "file:/dev/full,best-effort,name=full;file:{},name=copy",
            file.display()
        ),
        &["--metrics-listen", "127.0.0.1:0"],
    );
    let f = Fixture::with_server(server);
    let addr = metrics_addr(&f.server);
    let before = device_failures(&addr, "full");
    assert!(
        before > 0,
        "the fixture's own records failed on /dev/full too"
    );
    assert_eq!(device_failures(&addr, "copy"), 0);
    for _ in 0..4 {
        let (status, body) = signed_read(&f).await;
        assert_eq!(status, 200, "{body}");
    }
    // One write per read: each read's record is written before its value leaves.
    assert_eq!(device_failures(&addr, "full"), before + 4);
    assert_eq!(device_failures(&addr, "copy"), 0);
    let (ok, out, err) = verify(&f.server, &[&file], true);
    assert!(ok, "{out}{err}");
    let log = f.server.log();
    assert!(
        log.lines()
            .any(|l| l.contains("best-effort audit device failed")
                && l.contains("device=\"full\"")
                && l.contains("No space left on device")),
        "{log}"
    );
}

/// A tmpfs of `bytes` mounted on a new folder, unmounted when dropped.
struct Tmpfs(tempfile::TempDir);

impl Tmpfs {
    fn mount(bytes: u64) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={bytes},mode=0700"),
                "tmpfs",
            ])
            .arg(dir.path())
            .output()
            .expect("mount runs");
        assert!(
            out.status.success(),
            "mount a tmpfs: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Self(dir)
    }

    fn path(&self) -> &Path {
        self.0.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .args(["-l"])
            .arg(self.0.path())
            .status();
    }
}

/// The same as the `/dev/full` test on a real file system that fills up: a small tmpfs (so
/// root only; CI runs as root). A real disk takes part of a write before refusing the rest, so
/// this also checks that a half-written batch is cut back and the file stays one chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_required_device_on_a_real_full_file_system_answers_503_and_recovers() {
    let uid = std::process::Command::new("id").arg("-u").output().unwrap();
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        eprintln!("skipped: mounting a tmpfs needs root (the /dev/full test covers the rest)");
        return;
    }
    let fs = Tmpfs::mount(256 * 1024);
    let file = fs.path().join("audit.jsonl");
    let server = server_with_devices(Backend::Sqlite, &format!("file:{}", file.display()), &[]);
    let f = Fixture::with_server(server);
    assert_eq!(signed_read(&f).await.0, 200);

    // Fill every free page. The audit file can still grow into the rest of its last page (at
    // most 4 KiB, a dozen lines): reads are answered until that is used up, then refused.
    let filler = fs.path().join("filler");
    {
        let mut w = std::fs::File::create(&filler).unwrap();
        let chunk = vec![0u8; 4096];
        while w.write_all(&chunk).is_ok() {}
    }
    let mut answered = 0;
    loop {
        let (status, body) = signed_read(&f).await;
        if status == 503 {
            assert!(!body.contains(&f.value), "{body}");
            break;
        }
        assert_eq!(status, 200, "{body}");
        answered += 1;
        assert!(answered < 40, "reads still answered on a full disk");
    }
    // Refused from then on, each without its value.
    for _ in 0..3 {
        let (status, body) = signed_read(&f).await;
        assert_eq!(status, 503, "{body}");
        assert!(!body.contains(&f.value), "{body}");
    }
    let log = f.server.log();
    assert!(
        log.lines()
            .any(|l| l.contains("required audit device failed")
                && l.contains("No space left on device")),
        "{log}"
    );
    // Every line on the disk is whole: a batch that did not fit was cut back.
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.ends_with('\n'), "a half line was left behind");
    let (ok, out, err) = verify(&f.server, &[&file], true);
    assert!(ok, "{out}{err}");

    // Space again: the next read is answered and the missed records follow, in one chain.
    std::fs::remove_file(&filler).unwrap();
    let (status, body) = signed_read(&f).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(&f.value));
    let (ok, out, err) = verify(&f.server, &[&file], true);
    assert!(ok, "{out}{err}");
    let reads = lines_of(&file)
        .iter()
        .filter(|l| l["action"] == "secret_read")
        .count();
    assert!(reads >= 6, "{reads} read records");
}

#[test]
fn the_stdout_device_writes_lines_that_verify() {
    let root = tempfile::tempdir().unwrap();
    let captured = root.path().join("stdout.jsonl");
    let mut server = TestServer::unstarted_on(Backend::Sqlite);
    server.stdout_path = Some(captured.clone());
    server.spawn(0, &["--audit-device", "stdout"]).unwrap();
    let f = Fixture::with_server(server);
    machine_reads(&f, 3);
    let lines = lines_of(&captured);
    assert!(
        lines
            .iter()
            .filter(|l| l["action"] == "secret_read")
            .count()
            >= 3
    );
    let (ok, out, err) = verify(&f.server, &[&captured], true);
    assert!(ok, "{out}{err}");
}

/// Parses one RFC 5424 message strictly: `<86>1 TIMESTAMP HOST signet PID audit - MSG`, the
/// timestamp RFC 3339 UTC with milliseconds; returns the MSG as a record.
fn rfc5424(frame: &[u8]) -> Value {
    let text = std::str::from_utf8(frame).expect("UTF-8");
    let rest = text
        .strip_prefix("<86>1 ")
        .unwrap_or_else(|| panic!("{text}"));
    let mut parts = rest.splitn(7, ' ');
    let ts = parts.next().unwrap();
    let host = parts.next().unwrap();
    let app = parts.next().unwrap();
    let pid = parts.next().unwrap();
    let msgid = parts.next().unwrap();
    let sd = parts.next().unwrap();
    let msg = parts.next().unwrap();
    assert_eq!(ts.len(), 24, "{ts}");
    assert!(ts.ends_with('Z') && ts.as_bytes()[10] == b'T' && ts.as_bytes()[19] == b'.');
    assert!(!host.is_empty() && host.bytes().all(|b| (33..=126).contains(&b)));
    assert_eq!(app, "signet");
    assert!(pid.parse::<u32>().is_ok(), "{pid}");
    assert_eq!(msgid, "audit");
    assert_eq!(sd, "-");
    let v: Value = serde_json::from_str(msg).unwrap_or_else(|e| panic!("{e}: {msg}"));
    // The header's time is the record's.
    let secs = v["ts"].as_i64().unwrap() / 1000;
    let hms = format!(
        "{:02}:{:02}:{:02}",
        secs % 86_400 / 3600,
        secs % 3600 / 60,
        secs % 60
    );
    assert_eq!(&ts[11..19], hms, "{text}");
    v
}

#[test]
fn syslog_messages_reach_real_sockets_as_rfc5424() {
    let root = tempfile::tempdir().unwrap();
    let sock_path = root.path().join("log.sock");
    let unix = std::os::unix::net::UnixDatagram::bind(&sock_path).unwrap();
    unix.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let tcp_addr = tcp.local_addr().unwrap();
    // The TCP receiver: octet-counted frames (RFC 6587), collected on a thread.
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        let (conn, _) = tcp.accept().unwrap();
        let mut r = std::io::BufReader::new(conn);
        loop {
            let mut len = Vec::new();
            if r.read_until(b' ', &mut len).unwrap_or(0) == 0 {
                return;
            }
            let n: usize = std::str::from_utf8(&len[..len.len() - 1])
                .unwrap()
                .parse()
                .unwrap();
            let mut frame = vec![0u8; n];
            r.read_exact(&mut frame).unwrap();
            if tx.send(frame).is_err() {
                return;
            }
        }
    });
    let specs = format!(
        "syslog:unix:{},name=local;syslog:tcp:{tcp_addr},name=remote",
        sock_path.display()
    );
    let server = server_with_devices(Backend::Sqlite, &specs, &[]);
    let f = Fixture::with_server(server);
    machine_reads(&f, 2);
    let head = f.server.op_json(&["audit", "list", "--limit", "1"])["records"][0]["seq"]
        .as_u64()
        .unwrap();
    let collect = |next: &mut dyn FnMut() -> Vec<u8>| {
        let mut got: Vec<Value> = Vec::new();
        while got.last().is_none_or(|l| l["seq"].as_u64().unwrap() < head) {
            got.push(rfc5424(&next()));
        }
        got
    };
    let mut buf = vec![0u8; 65_536];
    let local = collect(&mut || {
        let n = unix.recv(&mut buf).expect("a datagram");
        buf[..n].to_vec()
    });
    let remote = collect(&mut || rx.recv_timeout(Duration::from_secs(10)).expect("a frame"));
    assert_eq!(local, remote);
    for pair in local.windows(2) {
        assert_eq!(
            pair[1]["seq"].as_u64().unwrap(),
            pair[0]["seq"].as_u64().unwrap() + 1
        );
        assert_eq!(pair[1]["prevHash"], pair[0]["hash"]);
    }
    assert!(
        local
            .iter()
            .filter(|l| l["action"] == "secret_read")
            .count()
            >= 2
    );
    // The messages, as lines, verify with the vault's key.
    let dir = tempfile::tempdir().unwrap();
    let file: PathBuf = dir.path().join("from-syslog.jsonl");
    write_lines(
        &file,
        &local.iter().map(|v| v.to_string()).collect::<Vec<_>>(),
    );
    let (ok, out, err) = verify(&f.server, &[&file], true);
    assert!(ok, "{out}{err}");
}
