//! PostgreSQL stopped mid-load (issue 4, acceptance 3): reads answer 503 and never a secret or
//! a 500, acknowledged writes survive, and the same server process recovers by itself.
//!
//! The shared PostgreSQL on 5432 serves every other test, so this one stops a private cluster
//! of its own, made with Debian's `pg_createcluster` on a free port and dropped at the end.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{Fixture, TestServer, shared_config};

/// A PostgreSQL cluster owned by one test.
struct PrivateCluster {
    version: String,
    name: String,
    port: u16,
}

fn pg(args: &[&str]) {
    let out = Command::new(args[0]).args(&args[1..]).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl PrivateCluster {
    fn create() -> Self {
        let version = std::fs::read_dir("/etc/postgresql")
            .expect("Debian's PostgreSQL packages")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .max()
            .expect("a PostgreSQL version");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let name = format!("signet_outage_{port}");
        let port_s = port.to_string();
        pg(&[
            "pg_createcluster",
            &version,
            &name,
            "-p",
            &port_s,
            "--start",
            "--",
            "--auth-host=trust",
            "--auth-local=trust",
        ]);
        Self {
            version,
            name,
            port,
        }
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn ctl(&self, action: &str, extra: &[&str]) {
        let mut args = vec![
            "pg_ctlcluster",
            "--skip-systemctl-redirect",
            &self.version,
            &self.name,
            action,
        ];
        args.extend_from_slice(extra);
        pg(&args);
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        let _ = Command::new("pg_dropcluster")
            .args([&self.version, &self.name, "--stop"])
            .output();
    }
}

/// One machine read: the status and the body as text.
async fn read(c: &signet_client::MachineClient, secret: &str) -> (u16, String) {
    match c
        .signed("GET", &format!("/v1/secret/{secret}"))
        .build()
        .unwrap()
        .send()
        .await
    {
        Ok(r) => (r.status, String::from_utf8_lossy(&r.body).into_owned()),
        Err(e) => panic!("the server stopped answering: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_mid_load_fails_closed_and_recovers() {
    let cluster = PrivateCluster::create();
    let dir = tempfile::tempdir().unwrap();
    let config = shared_config(dir.path(), &cluster.url());
    let f = Fixture::with_server(TestServer::start_with_config(&config));
    let client = Arc::new({
        let creds =
            signet_client::identity::load::<signet_proto::Identity>(&f.server.machine_identity())
                .unwrap();
        signet_client::MachineClient::new(creds).unwrap()
    });
    assert_eq!(read(&client, &f.secret).await.0, 200);

    // Readers and one writer run throughout; the writer remembers what was acknowledged.
    let stop = Arc::new(AtomicBool::new(false));
    let mut readers = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let (c, secret, stop) = (Arc::clone(&client), f.secret.clone(), Arc::clone(&stop));
        readers.spawn(async move {
            let mut seen = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                seen.push(read(&c, &secret).await);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            seen
        });
    }
    let writer = {
        let (stop, home, secret) = (
            Arc::clone(&stop),
            f.server.operator_home.clone(),
            f.secret.clone(),
        );
        std::thread::spawn(move || {
            let mut acknowledged: Vec<(u64, String)> = Vec::new();
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                i += 1;
                let value = format!("written-{i}");
                let out = crate::harness::run(
                    &home,
                    &["--json", "secret", "update", &secret, "--value", &value],
                );
                if out.status.success() {
                    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
                    acknowledged.push((v["version"].as_u64().unwrap(), value));
                }
            }
            acknowledged
        })
    };

    tokio::time::sleep(Duration::from_secs(2)).await;
    cluster.ctl("stop", &["-m", "immediate"]);
    // Reads while it is down must be refused, quickly and safely.
    let down_from = Instant::now();
    let mut refused = 0;
    while down_from.elapsed() < Duration::from_secs(4) {
        let (status, body) = read(&client, &f.secret).await;
        assert_eq!(status, 503, "with PostgreSQL down: {body}");
        assert!(!body.contains("written-") && !body.contains(&f.value));
        refused += 1;
    }
    assert!(refused > 0);
    cluster.ctl("start", &[]);

    // The same process recovers without a restart.
    let up_from = Instant::now();
    loop {
        let (status, _) = read(&client, &f.secret).await;
        if status == 200 {
            break;
        }
        assert!(
            up_from.elapsed() < Duration::from_secs(60),
            "no recovery after PostgreSQL came back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::SeqCst);
    let acknowledged = writer.join().unwrap();

    // Every answer was a value or a bare 503: never a 500, never a secret in an error.
    let mut statuses = std::collections::BTreeMap::new();
    for (status, body) in readers.join_all().await.into_iter().flatten() {
        *statuses.entry(status).or_insert(0u32) += 1;
        match status {
            200 => assert!(body.contains("written-") || body.contains(&f.value)),
            503 => {
                assert!(!body.contains("written-") && !body.contains(&f.value));
                let lower = body.to_lowercase();
                for leak in ["sql", "postgres", "connection", "panic", "error returned"] {
                    assert!(!lower.contains(leak), "503 body leaks {leak:?}: {body}");
                }
            }
            other => panic!("status {other} with PostgreSQL stopped: {body}"),
        }
    }
    assert!(statuses.get(&503).copied().unwrap_or(0) > 0, "{statuses:?}");

    // No acknowledged write was lost.
    assert!(!acknowledged.is_empty());
    let versions = f.server.op_json(&["secret", "versions", &f.secret]);
    let stored: std::collections::BTreeSet<u64> = versions["versions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v["version"].as_u64())
        .collect();
    for (version, _) in &acknowledged {
        assert!(
            stored.contains(version),
            "acknowledged version {version} lost"
        );
    }
    let (status, body) = read(&client, &f.secret).await;
    let (last, value) = acknowledged.last().unwrap();
    assert_eq!(status, 200);
    assert!(
        body.contains(value.as_str()) || stored.iter().any(|v| v > last),
        "the newest acknowledged value is not what is read"
    );
    assert_eq!(f.server.op_json(&["audit", "verify"])["ok"], true);
    assert!(!f.server.log().contains("panicked"));
}
