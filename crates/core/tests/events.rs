//! Issue 12 §3, change notifications, through core over a real store of each kind: a machine's
//! stream hears of the secrets it may read within a second, never of others; a resume replays
//! exactly what was missed; a revoked grant is one `access.changed` and then silence; a disabled
//! machine's stream ends; streams per machine are capped.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly by design.

use std::sync::Arc;
use std::time::Duration;

use signet_api::events::EventType;
use signet_core::auth::{AuthedMachine, AuthedOperator};
use signet_core::events::{Event, MAX_STREAMS_PER_MACHINE, StreamItem, Subscription};
use signet_core::secret::SecretInput;
use signet_core::{CoreError, Signet, SignetConfig};
use signet_crypto::RootKey;
use signet_proto::SecretId;
use signet_store::{AuditFilter, Role, Store};
use signet_testkit::{GrantedMachine, ManualClock, granted_machine, on_both_backends, signed};
use zeroize::Zeroizing;

/// How long an event may take: the "within a second".
const WITHIN: Duration = Duration::from_secs(1);

struct Vault {
    signet: Signet,
    op: AuthedOperator,
    machine: GrantedMachine,
    /// A secret in the machine's project that it is not granted.
    other: SecretId,
}

async fn vault(store: Arc<dyn Store>) -> Vault {
    let signet = Signet::open(
        store,
        RootKey::generate().unwrap(),
        Arc::new(ManualClock::default()),
        SignetConfig::default(),
    )
    .await
    .expect("open");
    let (rec, _) = signet
        .operators()
        .create_operator("owner-key", true)
        .await
        .unwrap();
    let op = AuthedOperator::key(rec, Role::Owner, signet_testkit::LOCAL);
    let machine = granted_machine(&signet, &op, "app", None).await;
    let other = signet
        .secrets()
        .create_secret(
            &op,
            machine.project.as_str(),
            "OTHER",
            SecretInput::Value(Zeroizing::new("o".into())),
        )
        .await
        .unwrap()
        .id;
    Vault {
        signet,
        op,
        machine,
        other,
    }
}

impl Vault {
    async fn machine(&self) -> AuthedMachine {
        let mut parts = Vec::new();
        let req = signed(
            &self.machine.seed,
            &self.machine.id,
            "/v1/events",
            self.signet.now_ms(),
            &mut parts,
        );
        self.signet.auth().authenticate_machine(&req).await.unwrap()
    }

    async fn subscribe(&self, after: Option<u64>) -> Result<Subscription, CoreError> {
        let m = self.machine().await;
        self.signet.events().subscribe(&m, after).await
    }

    async fn update(&self, secret: &SecretId, value: &str) -> u32 {
        self.signet
            .secrets()
            .update_secret(
                &self.op,
                secret.as_str(),
                SecretInput::Value(Zeroizing::new(value.into())),
                None,
            )
            .await
            .unwrap()
            .version
    }

    async fn grant(&self, secret: &SecretId, grant: bool) {
        self.signet
            .machines()
            .set_grants(&self.op, &self.machine.id, &[secret.to_string()], grant)
            .await
            .unwrap();
    }
}

/// The next event within [`WITHIN`] (keep-alives skipped).
async fn next(sub: &mut Subscription) -> Event {
    let deadline = tokio::time::Instant::now() + WITHIN;
    loop {
        match tokio::time::timeout_at(deadline, sub.next()).await {
            Ok(Some(StreamItem::Event(e))) => return e,
            Ok(Some(StreamItem::KeepAlive)) => {}
            Ok(None) => panic!("the stream ended"),
            Err(_) => panic!("no event within {WITHIN:?}"),
        }
    }
}

/// Nothing (but keep-alives) for `wait`.
async fn quiet(sub: &mut Subscription, wait: Duration) {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, sub.next()).await {
            Ok(Some(StreamItem::Event(e))) => panic!("unexpected event {e:?}"),
            Ok(Some(StreamItem::KeepAlive)) => {}
            Ok(None) => panic!("the stream ended"),
            Err(_) => return,
        }
    }
}

fn about(e: &Event, kind: EventType, secret: &SecretId) {
    assert_eq!((e.kind, e.secret.as_ref()), (kind, Some(secret)), "{e:?}");
}

on_both_backends!(
    a_machine_hears_only_of_secrets_it_may_read,
    a_resume_replays_exactly_what_was_missed,
    a_revoked_grant_is_one_access_change_then_silence,
    an_allowlist_that_leaves_the_source_out_ends_the_stream,
    streams_per_machine_are_capped_and_given_back,
);

async fn a_machine_hears_only_of_secrets_it_may_read(store: Arc<dyn Store>) {
    let v = vault(store).await;
    let s = v.machine.secret.clone();
    let mut sub = v.subscribe(None).await.unwrap();
    let start = sub.position();

    // The ungranted secret changes first: by the time the granted one's event arrives, the
    // other's record has been considered and dropped.
    v.update(&v.other, "o2").await;
    let version = v.update(&s, "v2").await;
    let e = next(&mut sub).await;
    about(&e, EventType::SecretChanged, &s);
    assert_eq!(e.version, Some(version));
    assert!(e.id > start);

    v.signet
        .rotation()
        .rotate_now(&v.op, s.as_str())
        .await
        .unwrap();
    let e = next(&mut sub).await;
    about(&e, EventType::SecretRotated, &s);
    assert_eq!(e.version, Some(version + 1));

    // Deleted, then restored: the machine could read it until the deletion, and again after.
    v.signet
        .secrets()
        .delete_secret(&v.op, s.as_str())
        .await
        .unwrap();
    about(&next(&mut sub).await, EventType::SecretDeleted, &s);
    v.signet.trash().restore(&v.op, s.as_str()).await.unwrap();
    about(&next(&mut sub).await, EventType::SecretChanged, &s);

    // Reads, listings and the other secret's deletion mean nothing to it.
    v.signet
        .secrets()
        .delete_secret(&v.op, v.other.as_str())
        .await
        .unwrap();
    quiet(&mut sub, Duration::from_millis(700)).await;

    // Its whole project to the trash and back: each of its secrets, once each way.
    let project = v.machine.project.as_str();
    v.signet
        .trash()
        .delete_project(&v.op, project)
        .await
        .unwrap();
    about(&next(&mut sub).await, EventType::SecretDeleted, &s);
    v.signet.trash().restore(&v.op, project).await.unwrap();
    about(&next(&mut sub).await, EventType::SecretChanged, &s);
    quiet(&mut sub, Duration::from_millis(500)).await;

    // The record of the stream's opening names where it started.
    let opened = v
        .signet
        .audit()
        .audit_list(
            &v.op,
            &AuditFilter {
                action: Some("events_open".into()),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(opened.len(), 1, "{opened:?}");
}

async fn a_resume_replays_exactly_what_was_missed(store: Arc<dyn Store>) {
    let v = vault(store).await;
    let s = v.machine.secret.clone();
    let mut sub = v.subscribe(None).await.unwrap();
    v.update(&s, "v2").await;
    let seen = next(&mut sub).await;
    drop(sub);

    // Missed while disconnected: two versions of its secret, one of another.
    let v3 = v.update(&s, "v3").await;
    v.update(&v.other, "o2").await;
    let v4 = v.update(&s, "v4").await;

    let mut sub = v.subscribe(Some(seen.id)).await.unwrap();
    assert_eq!(sub.position(), seen.id);
    let a = next(&mut sub).await;
    let b = next(&mut sub).await;
    about(&a, EventType::SecretChanged, &s);
    about(&b, EventType::SecretChanged, &s);
    assert_eq!((a.version, b.version), (Some(v3), Some(v4)));
    assert!(seen.id < a.id && a.id < b.id);
    quiet(&mut sub, Duration::from_millis(700)).await;

    // Resuming from the last id gives nothing again; a live change still arrives.
    let mut again = v.subscribe(Some(b.id)).await.unwrap();
    quiet(&mut again, Duration::from_millis(300)).await;
    let v5 = v.update(&s, "v5").await;
    assert_eq!(next(&mut again).await.version, Some(v5));
    // An id from the future starts at the head rather than skipping what comes next.
    drop(sub);
    let mut future = v.subscribe(Some(u64::MAX)).await.unwrap();
    let v6 = v.update(&s, "v6").await;
    assert_eq!(next(&mut future).await.version, Some(v6));
}

async fn a_revoked_grant_is_one_access_change_then_silence(store: Arc<dyn Store>) {
    let v = vault(store).await;
    let s = v.machine.secret.clone();
    let mut sub = v.subscribe(None).await.unwrap();

    v.grant(&s, false).await;
    about(&next(&mut sub).await, EventType::AccessChanged, &s);
    // Its changes are no longer told; the granted other secret's are.
    v.update(&s, "v2").await;
    v.grant(&v.other, true).await;
    about(&next(&mut sub).await, EventType::AccessChanged, &v.other);
    v.update(&v.other, "o2").await;
    about(&next(&mut sub).await, EventType::SecretChanged, &v.other);
    v.signet
        .secrets()
        .delete_secret(&v.op, s.as_str())
        .await
        .unwrap();
    quiet(&mut sub, Duration::from_millis(500)).await;

    // Disabled: the open stream ends, and a new one is refused at authentication.
    v.signet
        .machines()
        .set_machine_enabled(&v.op, &v.machine.id, false)
        .await
        .unwrap();
    let end = tokio::time::timeout(WITHIN, async {
        loop {
            match sub.next().await {
                Some(StreamItem::KeepAlive) => {}
                other => return other,
            }
        }
    })
    .await
    .expect("the stream ends within a second");
    assert_eq!(end, None);
    let mut parts = Vec::new();
    let req = signed(
        &v.machine.seed,
        &v.machine.id,
        "/v1/events",
        v.signet.now_ms(),
        &mut parts,
    );
    assert_eq!(
        v.signet
            .auth()
            .authenticate_machine(&req)
            .await
            .unwrap_err(),
        CoreError::Forbidden
    );
}

async fn an_allowlist_that_leaves_the_source_out_ends_the_stream(store: Arc<dyn Store>) {
    let v = vault(store).await;
    let mut sub = v.subscribe(None).await.unwrap();
    let net = v.signet.network();
    // An entry that keeps the stream's source (127.0.0.1) in changes nothing.
    net.allowlist_add(&v.op, "127.0.0.0/8", "here")
        .await
        .unwrap();
    net.allowlist_set_enabled(&v.op, true).await.unwrap();
    let version = v.update(&v.machine.secret, "v2").await;
    assert_eq!(next(&mut sub).await.version, Some(version));
    // One that leaves it out ends the open stream, as it refuses the next request.
    let here = net.allowlist().await.unwrap().entries.remove(0).id;
    net.allowlist_add(&v.op, "10.0.0.0/8", "elsewhere")
        .await
        .unwrap();
    net.allowlist_remove(&v.op, &here).await.unwrap();
    let end = tokio::time::timeout(WITHIN, async {
        loop {
            match sub.next().await {
                Some(StreamItem::KeepAlive) => {}
                other => return other,
            }
        }
    })
    .await
    .expect("the stream ends within a second");
    assert_eq!(end, None);
}

async fn streams_per_machine_are_capped_and_given_back(store: Arc<dyn Store>) {
    let v = vault(store).await;
    let mut open = Vec::new();
    for _ in 0..MAX_STREAMS_PER_MACHINE {
        open.push(v.subscribe(None).await.unwrap());
    }
    assert_eq!(v.subscribe(None).await.unwrap_err(), CoreError::RateLimited);
    assert_eq!(v.signet.events().open_streams(), MAX_STREAMS_PER_MACHINE);
    open.pop();
    let mut sub = v.subscribe(None).await.unwrap();
    // Shutdown ends every stream and refuses new ones.
    v.signet.events().close();
    assert_eq!(
        tokio::time::timeout(WITHIN, sub.next()).await.unwrap(),
        None
    );
    assert_eq!(v.subscribe(None).await.unwrap_err(), CoreError::Unavailable);
    let refused = v
        .signet
        .audit()
        .audit_list(
            &v.op,
            &AuditFilter {
                action: Some("events_open".into()),
                result: Some(signet_store::AuditResult::Denied),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(refused.len(), 1, "{refused:?}");
}
