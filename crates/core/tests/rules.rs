//! Business rules that depend on time, driven with a manual clock over a real SQLite store.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly by design.

use signet_core::network::ClientAddr;

use signet_core::auth::{AuthedOperator, SignedRequest};
use signet_core::enrollment::{EnrollmentSpec, Registration};
use signet_core::secret::SecretInput;
use signet_core::{Clock, Conflict, CoreError};
use signet_proto::{SecretSeed, Timestamp};
use signet_testkit::{LOCAL, signed};
use zeroize::Zeroizing;

signet_testkit::world_with! {
    /// The shared world with the headless owner key acting.
    struct World {
        op: AuthedOperator,
    }
}

async fn world() -> World {
    let kit = signet_testkit::World::sqlite().await;
    let op = kit.owner_operator().await;
    World { kit, op }
}

#[tokio::test]
async fn ephemeral_machines_stop_authenticating_at_expiry() {
    let w = world().await;
    let project = w
        .signet
        .secrets()
        .create_project(&w.op, "p")
        .await
        .expect("project");
    let secret = w
        .signet
        .secrets()
        .create_secret(
            &w.op,
            project.id.as_str(),
            "S",
            SecretInput::Value(Zeroizing::new("v".into())),
        )
        .await
        .expect("secret");
    let spec = EnrollmentSpec {
        project_ids: vec![project.id.to_string()],
        secret_ids: vec![secret.id.to_string()],
        machine_ttl_secs: Some(120),
        ..Default::default()
    };
    let token = w
        .signet
        .enrollment()
        .issue_enrollment_token(&w.op, &spec)
        .await
        .expect("token")
        .token
        .expect("text");
    let seed = SecretSeed::generate();
    let pk = seed.public_key().to_base64();
    let reg = Registration {
        public_key: &pk,
        hostname: "fn-1",
        name: None,
        source_ip: LOCAL,
        proof: None,
        proof_timestamp: None,
    };
    let r = w
        .signet
        .enrollment()
        .enroll_with_enrollment_token(w.signet.vault_id().as_str(), &token, &reg)
        .await
        .expect("enroll");
    let id = r.machine_id.to_string();
    let path = format!("/v1/secret/{}", secret.id);
    let mut buf = Vec::new();

    let m = w
        .signet
        .auth()
        .authenticate_machine(&signed(&seed, &id, &path, w.clock.now_ms(), &mut buf))
        .await
        .expect("fresh machine");
    assert_eq!(
        w.signet
            .reads()
            .read_secret(&m, secret.id.as_str())
            .await
            .expect("read")
            .0
            .as_str(),
        "v"
    );

    w.clock.advance(121_000);
    let err = w
        .signet
        .auth()
        .authenticate_machine(&signed(&seed, &id, &path, w.clock.now_ms(), &mut buf))
        .await
        .expect_err("expired");
    assert_eq!(err, CoreError::Unauthenticated);
}

#[tokio::test]
async fn bootstrap_tokens_expire_after_ten_minutes_and_work_once() {
    let w = world().await;
    let (_, token) = w
        .signet
        .enrollment()
        .issue_bootstrap_token(&w.op)
        .await
        .expect("token");
    let (_, late) = w
        .signet
        .enrollment()
        .issue_bootstrap_token(&w.op)
        .await
        .expect("token");
    let k1 = SecretSeed::generate().public_key().to_base64();
    let k2 = SecretSeed::generate().public_key().to_base64();
    let reg1 = Registration {
        public_key: &k1,
        hostname: "a",
        name: None,
        source_ip: LOCAL,
        proof: None,
        proof_timestamp: None,
    };
    let reg2 = Registration {
        public_key: &k2,
        hostname: "b",
        name: None,
        source_ip: LOCAL,
        proof: None,
        proof_timestamp: None,
    };
    let r = w
        .signet
        .enrollment()
        .enroll_with_bootstrap_token(&token.0, &reg1)
        .await
        .expect("first use");
    assert_eq!(r.status, "pending");
    assert_eq!(
        w.signet
            .enrollment()
            .enroll_with_bootstrap_token(&token.0, &reg2)
            .await
            .expect_err("second use"),
        CoreError::Forbidden
    );
    w.clock.advance(10 * 60 * 1000 + 1);
    assert_eq!(
        w.signet
            .enrollment()
            .enroll_with_bootstrap_token(&late.0, &reg2)
            .await
            .expect_err("expired"),
        CoreError::Forbidden
    );
}

#[tokio::test]
async fn a_pending_machine_is_forbidden_and_a_reused_key_is_refused() {
    let w = world().await;
    let (_, token) = w
        .signet
        .enrollment()
        .issue_bootstrap_token(&w.op)
        .await
        .expect("token");
    let seed = SecretSeed::generate();
    let pk = seed.public_key().to_base64();
    let reg = Registration {
        public_key: &pk,
        hostname: "a",
        name: None,
        source_ip: LOCAL,
        proof: None,
        proof_timestamp: None,
    };
    let r = w
        .signet
        .enrollment()
        .enroll_with_bootstrap_token(&token.0, &reg)
        .await
        .expect("enroll");
    let id = r.machine_id.to_string();
    let mut buf = Vec::new();
    let err = w
        .signet
        .auth()
        .authenticate_machine(&signed(
            &seed,
            &id,
            "/v1/secrets",
            w.clock.now_ms(),
            &mut buf,
        ))
        .await
        .expect_err("pending");
    assert_eq!(err, CoreError::Forbidden);
    let (_, token2) = w
        .signet
        .enrollment()
        .issue_bootstrap_token(&w.op)
        .await
        .expect("token");
    let err = w
        .signet
        .enrollment()
        .enroll_with_bootstrap_token(&token2.0, &reg)
        .await
        .expect_err("same key twice");
    assert_eq!(err, CoreError::Conflict(Conflict::PublicKeyTaken));
}

#[tokio::test]
async fn the_vault_allowlist_is_checked_first_and_empty_admits_nothing() {
    let w = world().await;
    let seed = SecretSeed::generate();
    let mut buf = Vec::new();
    w.signet
        .network()
        .allowlist_set_enabled(&w.op, true)
        .await
        .expect("enable");
    // Enabled and empty: even an unknown machine is refused as forbidden, before any signature
    // work.
    let err = w
        .signet
        .auth()
        .authenticate_machine(&signed(
            &seed,
            "7d444840-9dc0-11d1-b245-5ffdce74fad2",
            "/v1/secrets",
            w.clock.now_ms(),
            &mut buf,
        ))
        .await
        .expect_err("blocked");
    assert_eq!(err, CoreError::Forbidden);
    w.signet
        .network()
        .allowlist_add(&w.op, "127.0.0.0/8", "local")
        .await
        .expect("add");
    let err = w
        .signet
        .auth()
        .authenticate_machine(&signed(
            &seed,
            "7d444840-9dc0-11d1-b245-5ffdce74fad2",
            "/v1/secrets",
            w.clock.now_ms(),
            &mut buf,
        ))
        .await
        .expect_err("unknown");
    assert_eq!(err, CoreError::Unauthenticated);
}

/// Proof of possession at enrollment: a sent proof must hold for this key, token, vault and
/// clock; a vault that requires one refuses a body without it; and no refusal spends the token.
#[tokio::test]
async fn enrollment_proofs_bind_key_token_vault_and_time_and_never_spend_a_token() {
    use signet_proto::EnrollmentProof;

    let w = world().await;
    let vault = w.signet.vault_id().clone();
    let now_secs = w.clock.now_ms() / 1000;
    let (_, token) = w
        .signet
        .enrollment()
        .issue_bootstrap_token(&w.op)
        .await
        .expect("token");
    let own = SecretSeed::generate();
    let victim = SecretSeed::generate().public_key().to_base64();
    let own_key = own.public_key().to_base64();
    let (victim, own_key) = (victim.as_str(), own_key.as_str());
    let proof = |seed: &SecretSeed, vault, token, secs| {
        let p = EnrollmentProof::sign(seed, vault, token, Timestamp::from_secs(secs));
        (p.signature.to_base64(), p.timestamp.secs())
    };
    fn reg<'a>(key: &'a str, p: Option<&'a (String, i64)>) -> Registration<'a> {
        Registration {
            public_key: key,
            hostname: "a",
            name: None,
            source_ip: LOCAL,
            proof: p.map(|p| p.0.as_str()),
            proof_timestamp: p.map(|p| p.1),
        }
    }
    let invalid = |e: CoreError| matches!(e, CoreError::EnrollmentProofInvalid(_));

    // Sent, it must hold, whatever the setting: someone else's key with the holder's proof,
    // a proof for another token or vault, and a stale one are all refused.
    let for_token = proof(&own, None, Some(token.0.as_str()), now_secs);
    let wrong = [
        (victim, for_token.clone()),
        (own_key, proof(&own, None, Some("sgb_other"), now_secs)),
        (
            own_key,
            proof(&own, Some(&vault), Some(token.0.as_str()), now_secs),
        ),
        (
            own_key,
            proof(&own, None, Some(token.0.as_str()), now_secs - 301),
        ),
    ];
    for (key, p) in &wrong {
        let e = w
            .signet
            .enrollment()
            .enroll_with_bootstrap_token(&token.0, &reg(key, Some(p)))
            .await
            .expect_err("a proof that does not hold");
        assert!(invalid(e.clone()), "{e:?}");
    }

    // Required: a proof-less body (SikkerKey-style) is refused with its own error.
    w.signet
        .vault()
        .set_enrollment_proof_required(&w.op, true)
        .await
        .expect("setting");
    assert_eq!(
        w.signet
            .enrollment()
            .enroll_with_bootstrap_token(&token.0, &reg(victim, None))
            .await
            .expect_err("no proof"),
        CoreError::EnrollmentProofRequired
    );

    // None of the refusals spent the single-use token: the honest proof still enrolls with it.
    let r = w
        .signet
        .enrollment()
        .enroll_with_bootstrap_token(&token.0, &reg(own_key, Some(&for_token)))
        .await
        .expect("honest proof");
    assert_eq!(r.status, "pending");

    // Off again: a body without a proof is accepted, as the SikkerKey SDKs send it.
    w.signet
        .vault()
        .set_enrollment_proof_required(&w.op, false)
        .await
        .expect("setting");
    let (_, token2) = w
        .signet
        .enrollment()
        .issue_bootstrap_token(&w.op)
        .await
        .expect("token");
    w.signet
        .enrollment()
        .enroll_with_bootstrap_token(&token2.0, &reg(victim, None))
        .await
        .expect("no proof, not required");
}

/// An approved machine (from an enrollment token) granted one secret: its key, id and read path.
async fn granted_machine(w: &World, name: &str) -> (SecretSeed, String, String) {
    let m = signet_testkit::granted_machine(&w.signet, &w.op, name, Some(3600)).await;
    (m.seed, m.id, m.path)
}

#[tokio::test]
async fn a_machine_over_its_request_budget_waits_and_others_do_not() {
    let w = world().await;
    let (seed, id, path) = granted_machine(&w, "busy").await;
    let (seed2, id2, path2) = granted_machine(&w, "calm").await;
    let mut buf = Vec::new();
    w.signet
        .budgets()
        .set_request_budget(&w.op, Some(&id), Some(2))
        .await
        .expect("set");
    for _ in 0..2 {
        w.signet
            .auth()
            .authenticate_machine(&signed(&seed, &id, &path, w.clock.now_ms(), &mut buf))
            .await
            .expect("within budget");
    }
    let over = w
        .signet
        .auth()
        .authenticate_machine(&signed(&seed, &id, &path, w.clock.now_ms(), &mut buf))
        .await;
    assert_eq!(
        over.err(),
        Some(CoreError::OverBudget {
            retry_after_secs: 30
        })
    );
    for _ in 0..5 {
        w.signet
            .auth()
            .authenticate_machine(&signed(&seed2, &id2, &path2, w.clock.now_ms(), &mut buf))
            .await
            .expect("another machine is unaffected");
    }
    // Two a minute refill one every 30 s.
    w.clock.advance(30_000);
    w.signet
        .auth()
        .authenticate_machine(&signed(&seed, &id, &path, w.clock.now_ms(), &mut buf))
        .await
        .expect("refilled");
    // The vault default applies to machines without their own; 0 is unlimited.
    w.signet
        .budgets()
        .set_request_budget(&w.op, None, Some(1))
        .await
        .expect("default");
    w.signet
        .budgets()
        .set_request_budget(&w.op, Some(&id), Some(0))
        .await
        .expect("unlimited");
    for _ in 0..5 {
        w.signet
            .auth()
            .authenticate_machine(&signed(&seed, &id, &path, w.clock.now_ms(), &mut buf))
            .await
            .expect("unlimited");
    }
    w.signet
        .auth()
        .authenticate_machine(&signed(&seed2, &id2, &path2, w.clock.now_ms(), &mut buf))
        .await
        .expect("first under the default");
    assert!(matches!(
        w.signet
            .auth()
            .authenticate_machine(&signed(&seed2, &id2, &path2, w.clock.now_ms(), &mut buf))
            .await,
        Err(CoreError::OverBudget { .. })
    ));
    let view = w
        .signet
        .budgets()
        .request_budgets(&w.op)
        .await
        .expect("view");
    assert_eq!(view.default_per_minute, Some(1));
    assert_eq!(view.machines.len(), 1);
}

fn from(mut r: SignedRequest<'_>, ip: ClientAddr) -> SignedRequest<'_> {
    r.source_ip = ip;
    r
}

#[tokio::test]
async fn a_source_past_its_failure_budget_is_refused_before_any_signature_work() {
    let w = world().await;
    let (seed, id, path) = granted_machine(&w, "m").await;
    let forger = SecretSeed::generate();
    let mut buf = Vec::new();
    let attacker = ClientAddr::Known("203.0.113.9".parse().unwrap());
    // 30 failures a minute (the default): each is a 401, then 429.
    for _ in 0..30 {
        let r = from(
            signed(&forger, &id, &path, w.clock.now_ms(), &mut buf),
            attacker,
        );
        assert_eq!(
            w.signet.auth().authenticate_machine(&r).await.err(),
            Some(CoreError::Unauthenticated)
        );
    }
    let r = from(
        signed(&forger, &id, &path, w.clock.now_ms(), &mut buf),
        attacker,
    );
    assert!(matches!(
        w.signet.auth().authenticate_machine(&r).await,
        Err(CoreError::OverBudget {
            retry_after_secs: 1..=2
        })
    ));
    // Now even a correctly signed request from that source is refused unread...
    let r = from(
        signed(&seed, &id, &path, w.clock.now_ms(), &mut buf),
        attacker,
    );
    assert!(matches!(
        w.signet.auth().authenticate_machine(&r).await,
        Err(CoreError::OverBudget { .. })
    ));
    // ...while the same machine from its own address is served.
    w.signet
        .auth()
        .authenticate_machine(&signed(&seed, &id, &path, w.clock.now_ms(), &mut buf))
        .await
        .expect("another source is unaffected");
    // The failures so far: one record now, the rest in one aggregate when the interval ends.
    w.clock.advance(60_000);
    assert_eq!(
        w.signet
            .audit()
            .flush_auth_failures(false)
            .await
            .expect("flush"),
        1
    );
    assert_eq!(
        w.signet
            .audit()
            .flush_auth_failures(true)
            .await
            .expect("flush"),
        0
    );
}
