//! Issue 12 §4 through core over a real store of each kind: rule and webhook changes are
//! audited and only admins make them, a webhook's HMAC secret is answered once; two replicas
//! tailing one log enqueue each alert once and deliver it once; a burst fires once per window;
//! failures are retried with backoff under the same delivery id, then given up; a refused
//! address fails at once; the tailer starts at the head and resumes after a restart.
//! The sender is a recording stand-in for the HTTP client (the end-to-end test in
//! `crates/cli/tests/e2e/alerts.rs` uses the real one and a real receiver).
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly by design.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use signet_api::audit::AuditAction;
use signet_core::alert::NewRule;
use signet_core::auth::AuthedOperator;
use signet_core::role::Scope;
use signet_core::webhook::{
    OutgoingDelivery, SendError, SendOutcome, WebhookChange, WebhookPolicy, WebhookSender,
};
use signet_core::{CoreError, Signet, SignetConfig};
use signet_crypto::RootKey;
use signet_proto::{OperatorId, UserId};
use signet_store::{
    ActorKind, AuditChain, AuditEvent, AuditFilter, AuditResult, DeliveryStatus, JournalBatch,
    Role, Store,
};
use signet_testkit::ManualClock;

const START: i64 = 1_760_000_000_000;

/// Records every attempt; answers 503 to the first `fail_first` attempts of each delivery.
#[derive(Default)]
struct Recorder {
    sent: Mutex<Vec<OutgoingDelivery>>,
    fail_first: u32,
    refuse: bool,
}

impl Recorder {
    fn ids(&self) -> Vec<String> {
        self.sent
            .lock()
            .unwrap()
            .iter()
            .map(|d| header(d, "signet-delivery-id").to_owned())
            .collect()
    }
}

fn header<'a>(d: &'a OutgoingDelivery, name: &str) -> &'a str {
    d.headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .unwrap_or_default()
}

#[async_trait]
impl WebhookSender for Recorder {
    async fn check(&self, url: &str) -> Result<(), SendError> {
        if url.contains("169.254.169.254") {
            return Err(SendError::AddressRefused("metadata".to_owned()));
        }
        Ok(())
    }

    async fn send(&self, d: &OutgoingDelivery) -> SendOutcome {
        if self.refuse {
            return SendOutcome {
                status_code: None,
                error: Some(SendError::AddressRefused("now private".to_owned())),
                duration_ms: 0,
            };
        }
        let mut sent = self.sent.lock().unwrap();
        let id = header(d, "signet-delivery-id").to_owned();
        let before = sent
            .iter()
            .filter(|s| header(s, "signet-delivery-id") == id)
            .count() as u32;
        sent.push(d.clone());
        if before < self.fail_first {
            SendOutcome {
                status_code: Some(503),
                error: Some(SendError::Status),
                duration_ms: 1,
            }
        } else {
            SendOutcome {
                status_code: Some(204),
                error: None,
                duration_ms: 1,
            }
        }
    }
}

fn policy() -> WebhookPolicy {
    WebhookPolicy {
        retry_base: Duration::from_secs(10),
        retry_cap: Duration::from_secs(60),
        max_attempts: 4,
        claim: Duration::from_secs(60),
        batch: 100,
    }
}

struct Vault {
    signet: Signet,
    clock: Arc<ManualClock>,
    store: Arc<dyn Store>,
    owner: AuthedOperator,
    hex: String,
}

async fn vault(store: Arc<dyn Store>, sender: Arc<Recorder>) -> Vault {
    let root = RootKey::generate().unwrap();
    let hex = root.to_hex().to_string();
    let clock = Arc::new(ManualClock::at(START));
    let signet = Signet::open(store.clone(), root, clock.clone(), SignetConfig::default())
        .await
        .unwrap();
    signet.webhooks().set_sender(sender, policy());
    let (rec, _) = signet
        .operators()
        .create_operator("owner", true)
        .await
        .unwrap();
    let owner = AuthedOperator::key(rec, Role::Owner, signet_testkit::LOCAL);
    Vault {
        signet,
        clock,
        store,
        owner,
        hex,
    }
}

impl Vault {
    /// Another replica over the same store and root key, with its own sender.
    async fn replica(&self, sender: Arc<Recorder>) -> Signet {
        let s = Signet::open(
            self.store.clone(),
            RootKey::from_hex(&self.hex).unwrap(),
            self.clock.clone(),
            SignetConfig::default(),
        )
        .await
        .unwrap();
        s.webhooks().set_sender(sender, policy());
        s
    }

    async fn webhook(&self) -> String {
        self.signet
            .webhooks()
            .create(
                &self.owner,
                "ops",
                "https://hooks.example.com/signet",
                false,
            )
            .await
            .unwrap()
            .webhook
            .id
            .to_string()
    }

    async fn rule(&self, actions: &[&str], hook: &str) {
        self.signet
            .alerts()
            .create(
                &self.owner,
                NewRule {
                    name: "r".to_owned(),
                    severity: "critical".to_owned(),
                    actions: Some(actions.iter().map(|a| (*a).to_owned()).collect()),
                    result: None,
                    burst: None,
                    webhooks: vec![hook.to_owned()],
                },
            )
            .await
            .unwrap();
    }

    async fn records(&self, action: AuditAction) -> Vec<AuditResult> {
        self.store
            .audit(&AuditFilter {
                action: Some(action.as_str().to_owned()),
                limit: 1000,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.event.result)
            .collect()
    }
}

fn operator(role: Role) -> AuthedOperator {
    AuthedOperator {
        id: OperatorId::generate(),
        name: "someone".to_owned(),
        owner: false,
        user_id: Some(UserId::generate()),
        session: None,
        role,
        scope: Scope::All,
        source_ip: signet_testkit::LOCAL,
        ai_agent: None,
    }
}

async fn changes_are_audited_admin_only_and_the_secret_is_shown_once(store: Arc<dyn Store>) {
    let v = vault(store, Arc::new(Recorder::default())).await;
    let hooks = v.signet.webhooks();
    let created = hooks
        .create(&v.owner, "ops", "https://hooks.example.com/a", true)
        .await
        .unwrap();
    let secret = created.hmac_secret.expect("asked for a secret");
    assert!(secret.starts_with("whsec_") && secret.len() == 70);
    assert!(created.webhook.has_hmac_secret);
    let id = created.webhook.id.to_string();
    // The secret is nowhere in what a list answers, nor in any audit record.
    let listed = format!("{:?}", hooks.webhooks(&v.owner).await.unwrap());
    assert!(!listed.contains(secret.as_str()));
    let all = v
        .store
        .audit(&AuditFilter {
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(!format!("{all:?}").contains(secret.as_str()));
    // A metadata address is refused at creation with a reason.
    match hooks
        .create(&v.owner, "evil", "https://169.254.169.254/latest", false)
        .await
    {
        Err(CoreError::BadRequest(m)) => assert!(m.contains("refused"), "{m}"),
        other => panic!("metadata address accepted: {other:?}"),
    }
    hooks
        .update(
            &v.owner,
            &id,
            WebhookChange {
                enabled: Some(false),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    hooks.test(&v.owner, &id).await.unwrap();
    v.rule(&["canary_triggered", "machine_approve"], &id).await;
    let rule_id = v.signet.alerts().rules(&v.owner).await.unwrap()[0]
        .id
        .to_string();
    // An action the vocabulary does not know is refused.
    let bad = v
        .signet
        .alerts()
        .create(
            &v.owner,
            NewRule {
                name: "x".to_owned(),
                severity: "info".to_owned(),
                actions: Some(vec!["not_an_action".to_owned()]),
                result: None,
                burst: None,
                webhooks: vec![id.clone()],
            },
        )
        .await;
    assert!(matches!(bad, Err(CoreError::BadRequest(_))));
    // Developers and viewers are refused every change, each refusal audited.
    for role in [Role::Developer, Role::Viewer] {
        let op = operator(role);
        assert_eq!(
            hooks
                .create(&op, "x", "https://hooks.example.com/b", false)
                .await
                .err(),
            Some(CoreError::Forbidden)
        );
        assert_eq!(
            hooks.delete(&op, &id).await.err(),
            Some(CoreError::Forbidden)
        );
        assert_eq!(
            v.signet.alerts().delete(&op, &rule_id).await.err(),
            Some(CoreError::Forbidden)
        );
    }
    v.signet.alerts().delete(&v.owner, &rule_id).await.unwrap();
    hooks.delete(&v.owner, &id).await.unwrap();
    assert_eq!(
        hooks.delete(&v.owner, &id).await.err(),
        Some(CoreError::NotFound)
    );
    use AuditResult::{Denied, Ok as Done};
    assert_eq!(
        v.records(AuditAction::WebhookCreate).await,
        [Denied, Denied, Done]
    );
    assert_eq!(v.records(AuditAction::WebhookUpdate).await, [Done]);
    assert_eq!(v.records(AuditAction::WebhookTest).await, [Done]);
    assert_eq!(
        v.records(AuditAction::WebhookDelete).await,
        [Done, Denied, Denied]
    );
    assert_eq!(v.records(AuditAction::AlertRuleCreate).await, [Done]);
    assert_eq!(
        v.records(AuditAction::AlertRuleDelete).await,
        [Done, Denied, Denied]
    );
}

async fn two_replicas_enqueue_and_deliver_each_alert_once(store: Arc<dyn Store>) {
    let sent_a = Arc::new(Recorder::default());
    let sent_b = Arc::new(Recorder::default());
    let v = vault(store, sent_a.clone()).await;
    let b = v.replica(sent_b.clone()).await;
    let hook = v.webhook().await;
    v.rule(&["project_create"], &hook).await;
    // The first tail starts at the head: nothing before it is alerted on.
    v.signet.alerts().tail().await.unwrap();
    for i in 0..30 {
        v.signet
            .secrets()
            .create_project(&v.owner, &format!("p{i}"))
            .await
            .unwrap();
    }
    let (ra, rb) = tokio::join!(v.signet.alerts().tail(), b.alerts().tail());
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(ra.enqueued + rb.enqueued, 30, "{ra:?} {rb:?}");
    // Again, from both: nothing new.
    let (ra, rb) = tokio::join!(v.signet.alerts().tail(), b.alerts().tail());
    assert_eq!(ra.unwrap().enqueued + rb.unwrap().enqueued, 0);
    let (da, db) = tokio::join!(v.signet.webhooks().dispatch(), b.webhooks().dispatch());
    assert_eq!(da.unwrap().delivered + db.unwrap().delivered, 30);
    let mut ids = sent_a.ids();
    ids.extend(sent_b.ids());
    assert_eq!(ids.len(), 30);
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 30, "a delivery was sent twice");
    // Each body names its project's record; none carries a value.
    let sent = sent_a.sent.lock().unwrap().clone();
    for d in sent.iter().chain(sent_b.sent.lock().unwrap().iter()) {
        let body: serde_json::Value = serde_json::from_str(&d.body).unwrap();
        assert_eq!(body["event"], "project_create");
        assert_eq!(body["severity"], "critical");
        assert_eq!(body["id"], header(d, "signet-delivery-id"));
        assert_eq!(
            header(d, "x-sikkerkey-delivery-id"),
            header(d, "signet-delivery-id")
        );
        assert_eq!(body["data"]["result"], "ok");
    }
}

/// Links records with a fixed key: the tailer reads records, it does not check the chain.
struct TestChain;

impl AuditChain for TestChain {
    fn link(&self, _prev: &[u8; 32], seq: u64, _event: &AuditEvent) -> [u8; 32] {
        let mut out = [0; 32];
        out[..8].copy_from_slice(&seq.to_le_bytes());
        out
    }
}

/// A denied read by `machine` from `ip` at `ts_ms`.
fn denied_read(machine: &str, ip: &str, ts_ms: i64) -> AuditEvent {
    AuditEvent {
        ts_ms,
        actor_kind: ActorKind::Machine,
        actor_id: machine.to_owned(),
        action: "secret_read".to_owned(),
        target: "sk_a1b2c3d4e5".to_owned(),
        source_ip: ip.to_owned(),
        result: AuditResult::Denied,
        detail: "reason=no_grant".to_owned(),
        evidence: None,
    }
}

async fn a_burst_fires_once_per_window(store: Arc<dyn Store>) {
    let sent = Arc::new(Recorder::default());
    let v = vault(store.clone(), sent.clone()).await;
    let hook = v.webhook().await;
    v.signet
        .alerts()
        .create(
            &v.owner,
            NewRule {
                name: "burst".to_owned(),
                severity: "warning".to_owned(),
                actions: None,
                result: None,
                burst: Some((3, 60, "machine".to_owned())),
                webhooks: vec![hook.clone()],
            },
        )
        .await
        .unwrap();
    v.signet.alerts().tail().await.unwrap();
    let m = "5f0c6c1e-2b1a-4c3d-9e8f-0a1b2c3d4e5f";
    let quiet = "6f0c6c1e-2b1a-4c3d-9e8f-0a1b2c3d4e5f";
    let append = |events: Vec<AuditEvent>| {
        let store = store.clone();
        async move {
            store
                .append_journal(
                    JournalBatch {
                        events,
                        read_marks: Vec::new(),
                    },
                    Arc::new(TestChain),
                )
                .await
                .unwrap();
        }
    };
    // Ten denied reads in 10 s, split over two tails, and two from a quieter machine: one alert.
    append(
        (0..6)
            .map(|i| denied_read(m, "10.0.0.1", START + i * 1000))
            .collect(),
    )
    .await;
    append(vec![
        denied_read(quiet, "10.0.0.2", START),
        denied_read(quiet, "10.0.0.2", START + 1),
    ])
    .await;
    v.signet.alerts().tail().await.unwrap();
    append(
        (6..10)
            .map(|i| denied_read(m, "10.0.0.1", START + i * 1000))
            .collect(),
    )
    .await;
    let r = v.signet.alerts().tail().await.unwrap();
    assert_eq!(r.enqueued, 0, "the window already fired");
    let log = v.store.deliveries(100).await.unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].event, "burst");
    let body: serde_json::Value = serde_json::from_str(&log[0].payload).unwrap();
    assert_eq!(body["data"]["machineId"], m);
    assert_eq!(body["data"]["count"], 3);
    // A successful read is not counted; after the window, a new one opens and fires once more.
    let mut ok = denied_read(m, "10.0.0.1", START + 61_000);
    ok.result = AuditResult::Ok;
    append(vec![ok]).await;
    append(
        (0..5)
            .map(|i| denied_read(m, "10.0.0.1", START + 70_000 + i))
            .collect(),
    )
    .await;
    v.signet.alerts().tail().await.unwrap();
    assert_eq!(v.store.deliveries(100).await.unwrap().len(), 2);
}

async fn failures_retry_with_backoff_under_one_id_then_give_up(store: Arc<dyn Store>) {
    let flaky = Arc::new(Recorder {
        fail_first: 2,
        ..Recorder::default()
    });
    let v = vault(store.clone(), flaky.clone()).await;
    let hook = v.webhook().await;
    let id = v.signet.webhooks().test(&v.owner, &hook).await.unwrap();
    let hooks = v.signet.webhooks();
    assert_eq!(hooks.dispatch().await.unwrap().retried, 1);
    let row = |log: Vec<signet_store::DeliveryRecord>, id| {
        log.into_iter()
            .find(|d: &signet_store::DeliveryRecord| d.id == id)
            .unwrap()
    };
    let first = row(v.store.deliveries(10).await.unwrap(), id);
    assert_eq!(first.status, DeliveryStatus::Pending);
    assert_eq!((first.attempts, first.last_status_code), (1, Some(503)));
    assert!(first.next_attempt_ms >= START && first.next_attempt_ms <= START + 10_000);
    // Not due yet (unless the jitter drew zero): nothing is sent before the backoff ends.
    if first.next_attempt_ms > START {
        assert_eq!(hooks.dispatch().await.unwrap().retried, 0);
    }
    v.clock.set(first.next_attempt_ms);
    assert_eq!(hooks.dispatch().await.unwrap().retried, 1);
    let second = row(v.store.deliveries(10).await.unwrap(), id);
    assert!(
        second.next_attempt_ms - first.next_attempt_ms <= 20_000,
        "backoff above its cap"
    );
    v.clock.set(second.next_attempt_ms);
    assert_eq!(hooks.dispatch().await.unwrap().delivered, 1);
    let done = row(v.store.deliveries(10).await.unwrap(), id);
    assert_eq!((done.status, done.attempts), (DeliveryStatus::Delivered, 3));
    let ids = flaky.ids();
    assert_eq!(
        ids,
        vec![id.to_string(); 3],
        "the same delivery id on every attempt"
    );

    // Always failing: given up after max_attempts.
    let down = Arc::new(Recorder {
        fail_first: u32::MAX,
        ..Recorder::default()
    });
    let b = v.replica(down.clone()).await;
    let id = b.webhooks().test(&v.owner, &hook).await.unwrap();
    for _ in 0..10 {
        b.webhooks().dispatch().await.unwrap();
        v.clock.advance(60_001);
    }
    let gone = row(v.store.deliveries(10).await.unwrap(), id);
    assert_eq!((gone.status, gone.attempts), (DeliveryStatus::Failed, 4));
    assert_eq!(down.ids().len(), 4);

    // An address refused at delivery time fails at once, never retried.
    let refusing = Arc::new(Recorder {
        refuse: true,
        ..Recorder::default()
    });
    let c = v.replica(refusing).await;
    let id = c.webhooks().test(&v.owner, &hook).await.unwrap();
    assert_eq!(c.webhooks().dispatch().await.unwrap().failed, 1);
    let refused = v
        .store
        .deliveries(10)
        .await
        .unwrap()
        .into_iter()
        .find(|d| d.id == id)
        .unwrap();
    assert_eq!(refused.status, DeliveryStatus::Failed);
    assert_eq!(refused.last_error.as_deref(), Some("address_refused"));
}

async fn the_tailer_resumes_after_a_restart_without_repeats(store: Arc<dyn Store>) {
    let sent = Arc::new(Recorder::default());
    let v = vault(store, sent.clone()).await;
    let hook = v.webhook().await;
    v.rule(&["project_create"], &hook).await;
    // Records before the first tail (the rule's own creation included) raise nothing.
    v.signet
        .secrets()
        .create_project(&v.owner, "before")
        .await
        .unwrap();
    assert_eq!(v.signet.alerts().tail().await.unwrap().enqueued, 0);
    v.signet
        .secrets()
        .create_project(&v.owner, "one")
        .await
        .unwrap();
    assert_eq!(v.signet.alerts().tail().await.unwrap().enqueued, 1);
    // "Restart": a new instance over the same store, while a record arrived.
    let again = v.replica(sent.clone()).await;
    v.signet
        .secrets()
        .create_project(&v.owner, "two")
        .await
        .unwrap();
    assert_eq!(again.alerts().tail().await.unwrap().enqueued, 1);
    assert_eq!(again.alerts().tail().await.unwrap().enqueued, 0);
    let events: HashMap<String, usize> =
        v.store
            .deliveries(10)
            .await
            .unwrap()
            .iter()
            .fold(HashMap::new(), |mut m, d| {
                *m.entry(d.event.clone()).or_default() += 1;
                m
            });
    assert_eq!(events.get("project_create"), Some(&2));
}

signet_testkit::on_both_backends!(
    changes_are_audited_admin_only_and_the_secret_is_shown_once,
    two_replicas_enqueue_and_deliver_each_alert_once,
    a_burst_fires_once_per_window,
    failures_retry_with_backoff_under_one_id_then_give_up,
    the_tailer_resumes_after_a_restart_without_repeats,
);
