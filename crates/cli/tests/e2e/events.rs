//! Issue 12 §3, change notifications, through real `signet` processes over HTTP: a stream held by
//! one replica hears a write made through the other within a second; `signet watch` prints
//! events; `signet run --watch` restarts its child on a change, with SIGKILL after the grace for
//! a child that ignores SIGTERM; and the stream is signed like every machine request.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use serde_json::Value;
use signet_client::SignOverrides;
use signet_client::events::EventType;

use crate::harness::{Fixture, TestServer, bin, stderr};
use crate::replicas::Replicas;

/// The bound on how late an event may be.
const WITHIN: Duration = Duration::from_secs(1);

/// `signet` run as the fixture machine, left running, with its stdout piped.
fn spawn_machine(s: &TestServer, args: &[&str]) -> Child {
    Command::new(bin())
        .args(args)
        .env("SIGNET_HOME", &s.machine_home)
        .env_remove("SIGNET_IDENTITY")
        .env_remove("SIGNET_OPERATOR_IDENTITY")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn signet")
}

fn update(s: &TestServer, secret: &str, value: &str) {
    let out = s.op(&["secret", "update", secret, "--value", value]);
    assert!(out.status.success(), "update: {}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_on_one_replica_hears_a_write_through_the_other_within_a_second() {
    let r = Replicas::start();
    let secret = r.a.secret.clone();
    let on_a = r.machine_at(&r.a.server);
    let from = on_a.event_position().await.unwrap();
    let mut events = Box::pin(on_a.events(Some(from)));

    for (i, value) in ["through-b-1", "through-b-2", "through-b-3"]
        .iter()
        .enumerate()
    {
        r.op_b(&["secret", "update", &secret, "--value", value]);
        let written = Instant::now();
        let e = tokio::time::timeout(Duration::from_secs(5), events.next())
            .await
            .expect("an event")
            .expect("the stream goes on")
            .expect("no error");
        // The first event may have waited for the stream to connect; the others are live.
        if i > 0 {
            assert!(
                written.elapsed() < WITHIN,
                "event {i} took {:?}",
                written.elapsed()
            );
        }
        assert_eq!(e.kind, EventType::SecretChanged);
        assert_eq!(
            e.secret_id.as_ref().map(|s| s.as_str()),
            Some(secret.as_str())
        );
        assert_eq!(e.version, Some(i as u32 + 2));
    }
}

#[test]
fn signet_watch_prints_events_as_json_lines() {
    let f = Fixture::new();
    let s = &f.server;
    let mut watch = spawn_machine(s, &["watch", "--json"]);
    let mut lines = BufReader::new(watch.stdout.take().unwrap()).lines();
    // Until the watcher has connected, an update may go unheard; repeat until one is heard.
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        while let Some(Ok(line)) = lines.next() {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut line = None;
    for i in 0..20 {
        update(s, &f.secret, &format!("v{i}"));
        if let Ok(l) = rx.recv_timeout(Duration::from_millis(500)) {
            line = Some(l);
            break;
        }
    }
    // Updates made while the first one was on its way may follow it: let them pass.
    while rx.recv_timeout(Duration::from_millis(500)).is_ok() {}
    let e: Value = serde_json::from_str(&line.expect("signet watch printed an event")).unwrap();
    assert_eq!(e["type"], "secret.changed");
    assert_eq!(e["secretId"], f.secret.as_str());
    assert!(
        e["id"].as_u64().is_some() && e["ts"].as_i64().is_some(),
        "{e}"
    );
    assert!(e.get("value").is_none(), "{e}");

    // The grant revoked: one access change, then nothing about that secret.
    s.op_json(&["machine", "ungrant", &f.machine, "--secret", &f.secret]);
    // A loaded machine may deliver a late event of the updates above (more than 500 ms after the
    // one before it) ahead of this one: skip those, they were written before the ungrant.
    let e = loop {
        let e: Value = serde_json::from_str(&rx.recv_timeout(WITHIN * 3).unwrap()).unwrap();
        if e["type"] != "secret.changed" {
            break e;
        }
    };
    assert_eq!(e["type"], "access.changed");
    assert_eq!(e["secretId"], f.secret.as_str());
    update(s, &f.secret, "unheard");
    assert!(rx.recv_timeout(Duration::from_millis(1500)).is_err());

    // Disabled: the server ends the stream, the reconnect is refused, and watch exits non-zero.
    s.op_json(&["machine", "disable", &f.machine]);
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(st) = watch.try_wait().unwrap() {
            break st;
        }
        assert!(Instant::now() < deadline, "signet watch still running");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(!status.success());
}

#[test]
fn run_watch_restarts_the_child_and_kills_one_that_ignores_sigterm() {
    let f = Fixture::new();
    let s = &f.server;
    let out = s.root.path().join("child.log");
    // The child logs its pid and value, then ignores SIGTERM and waits forever.
    let script = format!(
        "echo \"$$ $DATABASE_URL\" >> '{}'; trap '' TERM; while :; do sleep 1; done",
        out.display()
    );
    let mut run = spawn_machine(
        s,
        &[
            "run", "--watch", "--grace", "1s", "--secret", &f.secret, "--", "sh", "-c", &script,
        ],
    );
    let starts = |n: usize| {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let text = std::fs::read_to_string(&out).unwrap_or_default();
            let lines: Vec<String> = text.lines().map(str::to_owned).collect();
            if lines.len() >= n {
                return lines;
            }
            assert!(
                Instant::now() < deadline,
                "only {} start(s): {text}",
                lines.len()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let first = starts(1);
    assert!(first[0].ends_with(&f.value), "{first:?}");

    update(s, &f.secret, "rotated-value");
    let changed = Instant::now();
    let both = starts(2);
    let took = changed.elapsed();
    assert!(both[1].ends_with(" rotated-value"), "{both:?}");
    // The old child ignored SIGTERM, so it was killed after the 1 s grace: the restart came after
    // it, and (an event, not a 15 s poll) soon after.
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(4),
        "restart took {took:?}"
    );
    let old: i32 = both[0].split(' ').next().unwrap().parse().unwrap();
    assert!(
        !std::path::Path::new(&format!("/proc/{old}")).exists()
            || std::fs::read_to_string(format!("/proc/{old}/stat"))
                .unwrap_or_default()
                .contains(") Z "),
        "the old child is still alive"
    );

    // Clean up what this test started: signet run, then its current child.
    let new: i32 = both[1].split(' ').next().unwrap().parse().unwrap();
    let _ = run.kill();
    let _ = run.wait();
    let _ = Command::new("kill").args(["-9", &new.to_string()]).status();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut run.stderr.take().unwrap(), &mut err).unwrap();
    assert!(err.contains("SIGKILL"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_is_signed_like_every_machine_request() {
    let f = Fixture::new();
    let s = &f.server;
    let client = machine_client(s);
    let http = reqwest::Client::new();

    // Unsigned.
    let r = http
        .get(format!("{}/v1/events", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);

    // Expired, and replayed: the uniform 401.
    let stale = client
        .signed("GET", "/v1/events")
        .overrides(SignOverrides {
            timestamp_offset: -301,
            ..Default::default()
        })
        .build()
        .unwrap();
    assert_eq!(stale.send().await.unwrap().status, 401);
    let once = client.signed("GET", "/v1/events/0").build().unwrap();
    let mut first = open(&http, &s.url, &once).await;
    assert_eq!(first.status().as_u16(), 200);
    assert_eq!(
        first.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    let opening = first.chunk().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&opening).contains("id: 0"));
    assert_eq!(open(&http, &s.url, &once).await.status().as_u16(), 401);

    // A malformed resume id is a 400 (after the signature checked out).
    let bad = client.signed("GET", "/v1/events/x1").build().unwrap();
    assert_eq!(open(&http, &s.url, &bad).await.status().as_u16(), 400);

    // Resumed from 0, the stream replays the history this machine may hear: the grant that
    // made it able to read, at least, and never a value.
    let mut text = String::from_utf8_lossy(&opening).into_owned();
    let granted = format!("\"secretId\":\"{}\"", f.secret);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !text.contains(&granted) && Instant::now() < deadline {
        if let Ok(Ok(Some(c))) = tokio::time::timeout(Duration::from_secs(1), first.chunk()).await {
            text.push_str(&String::from_utf8_lossy(&c));
        }
    }
    assert!(
        text.contains(&format!(
            "event: access.changed\ndata: {{\"type\":\"access.changed\",{granted}"
        )),
        "{text}"
    );
    assert!(!text.contains(&f.value), "{text}");

    // Disabled: the open stream is closed by the server.
    s.op_json(&["machine", "disable", &f.machine]);
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match first.chunk().await {
                Ok(Some(_)) => {}
                _ => return,
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the disabled machine's stream stayed open");
}

/// A client signing as the fixture machine.
fn machine_client(s: &TestServer) -> signet_client::MachineClient {
    let creds = signet_client::identity::load::<signet_proto::Identity>(&s.machine_identity())
        .expect("identity");
    signet_client::MachineClient::new(creds).expect("client")
}

/// Sends a prepared signed request with a streaming client, returning at the headers.
async fn open(
    http: &reqwest::Client,
    base: &str,
    req: &signet_client::PreparedRequest,
) -> reqwest::Response {
    let mut r = http.get(format!("{base}{}", req.path));
    for (n, v) in &req.headers {
        r = r.header(n.as_str(), v.as_str());
    }
    r.send().await.unwrap()
}
