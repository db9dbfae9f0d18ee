//! Issue 14 §1 through core on the manual clock: the key cache and its rate-limited refetch
//! (rotation picked up, made-up `kid`s never hammer the issuer, stale keys refreshed, an
//! unreachable issuer a 503), issuer and rule validation (no `none` or HMAC, shadowed rules
//! refused, only admins), and the machine a token makes. The fetcher is a counting stand-in
//! serving the test issuer's key set; `crates/cli/tests/e2e/oidc.rs` runs the real HTTP path.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly by design.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use async_trait::async_trait;
use serde_json::{Value, json};
use signet_core::CoreError;
use signet_core::auth::AuthedOperator;
use signet_core::enrollment::Registration;
use signet_core::issuer::{FetchError, KeyFetcher, KeyPolicy, NewIssuer, NewRule};
use signet_core::secret::SecretInput;
use signet_proto::{EnrollmentProof, SecretSeed, Timestamp};
use signet_store::{AuditFilter, MachineKind, Role};
use signet_testkit::oidc::{KeyKind, TestIssuer};
use signet_testkit::{LOCAL, World};
use zeroize::Zeroizing;

/// Serves the test issuer's discovery document and key set, counting key-set fetches.
struct Fetcher {
    issuer: Arc<TestIssuer>,
    fetches: AtomicU32,
    down: AtomicBool,
}

#[async_trait]
impl KeyFetcher for Fetcher {
    async fn get(&self, url: &str) -> Result<Vec<u8>, FetchError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(FetchError::Failed);
        }
        let base = self.issuer.url();
        if url == format!("{base}/.well-known/openid-configuration") {
            let doc = json!({"issuer": base, "jwks_uri": format!("{base}/jwks")});
            return Ok(doc.to_string().into_bytes());
        }
        assert_eq!(url, format!("{base}/jwks"));
        self.fetches.fetch_add(1, Ordering::SeqCst);
        Ok(self.issuer.jwks().to_string().into_bytes())
    }
}

struct Setup {
    w: World,
    op: AuthedOperator,
    issuer: Arc<TestIssuer>,
    fetcher: Arc<Fetcher>,
    issuer_id: String,
}

async fn setup() -> Setup {
    let w = World::sqlite().await;
    let op = w.owner_operator().await;
    let issuer = Arc::new(TestIssuer::start());
    let fetcher = Arc::new(Fetcher {
        issuer: issuer.clone(),
        fetches: AtomicU32::new(0),
        down: AtomicBool::new(false),
    });
    w.signet
        .enrollment()
        .issuers()
        .set_fetcher(fetcher.clone(), KeyPolicy::default());
    let project = w.signet.secrets().create_project(&op, "ci").await.unwrap();
    let secret = w
        .signet
        .secrets()
        .create_secret(
            &op,
            project.id.as_str(),
            "S",
            SecretInput::Value(Zeroizing::new("v".into())),
        )
        .await
        .unwrap();
    let v = w
        .signet
        .enrollment()
        .issuers()
        .create(
            &op,
            NewIssuer {
                name: "ci".into(),
                issuer: issuer.url().to_owned(),
                audience: "signet".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let issuer_id = v.issuer.id.to_string();
    w.signet
        .enrollment()
        .issuers()
        .add_rule(
            &op,
            &issuer_id,
            NewRule {
                name: "main".into(),
                claims: BTreeMap::from([("repository".into(), "acme/api".into())]),
                project_ids: vec![project.id.to_string()],
                secret_ids: vec![secret.id.to_string()],
                machine_ttl_secs: Some(600),
            },
        )
        .await
        .unwrap();
    Setup {
        w,
        op,
        issuer,
        fetcher,
        issuer_id,
    }
}

impl Setup {
    /// Claims valid on the world's clock.
    fn claims(&self) -> Value {
        let now = self.w.now_ms() / 1000;
        let mut jti = [0u8; 8];
        getrandom::fill(&mut jti).unwrap();
        json!({"iss": self.issuer.url(), "aud": "signet", "exp": now + 300, "iat": now,
            "jti": hex::encode(jti), "sub": "repo:acme/api", "repository": "acme/api"})
    }

    async fn enroll(&self, token: &str) -> Result<signet_core::enrollment::Registered, CoreError> {
        let seed = SecretSeed::generate();
        let pk = seed.public_key().to_base64();
        let proof = EnrollmentProof::sign(
            &seed,
            Some(self.w.signet.vault_id()),
            Some(token),
            Timestamp::from_secs(self.w.now_ms() / 1000),
        );
        let sig = proof.signature.to_base64();
        let reg = Registration {
            public_key: &pk,
            hostname: "runner",
            name: None,
            source_ip: LOCAL,
            proof: Some(&sig),
            proof_timestamp: Some(proof.timestamp.secs()),
        };
        self.w
            .signet
            .enrollment()
            .issuers()
            .enroll(self.w.signet.vault_id().as_str(), token, &reg)
            .await
    }

    fn fetches(&self) -> u32 {
        self.fetcher.fetches.load(Ordering::SeqCst)
    }

    async fn last_refusal(&self) -> String {
        let records = self
            .w
            .store
            .audit(&AuditFilter {
                action: Some("machine_enroll_oidc".into()),
                limit: 1,
                ..Default::default()
            })
            .await
            .unwrap();
        records[0].event.detail.clone()
    }
}

#[tokio::test]
async fn a_token_makes_an_ephemeral_machine_with_the_rules_lifetime() {
    let s = setup().await;
    let token = s.issuer.mint(&s.issuer.kid(KeyKind::Rs256), &s.claims());
    let r = s.enroll(&token).await.unwrap();
    assert_eq!(r.status, "approved");
    assert_eq!(r.expires_at, Some(s.w.now_ms() + 600_000));
    let m = s.w.store.machine(&r.machine_id).await.unwrap().unwrap();
    assert_eq!(m.kind, MachineKind::Ephemeral);
    assert_eq!(s.w.store.grants(&m.id).await.unwrap().len(), 1);
    // The same token again: replayed, and nothing more is made.
    assert_eq!(s.enroll(&token).await.unwrap_err(), CoreError::Forbidden);
    assert!(s.last_refusal().await.starts_with("reason=token_replayed"));
    assert_eq!(s.w.store.machines().await.unwrap().len(), 1);
}

#[tokio::test]
async fn rotation_is_picked_up_but_made_up_kids_never_hammer_the_issuer() {
    let s = setup().await;
    let ok = s.issuer.mint(&s.issuer.kid(KeyKind::Es256), &s.claims());
    s.enroll(&ok).await.unwrap();
    assert_eq!(s.fetches(), 1);
    // Twenty tokens with made-up kids within the refetch interval: one fetch at most, here none
    // (the last fetch was just now), and each is refused as an unknown kid.
    for n in 0..20 {
        let header = json!({"alg": "ES256", "kid": format!("made-up-{n}")});
        let t = s
            .issuer
            .mint_with_header(&s.issuer.kid(KeyKind::Es256), &header, &s.claims());
        assert_eq!(s.enroll(&t).await.unwrap_err(), CoreError::Forbidden);
    }
    assert_eq!(s.fetches(), 1);
    assert!(s.last_refusal().await.starts_with("reason=unknown_kid"));

    // The issuer rotates. Within the interval the new kid is not fetched yet...
    let new = s.issuer.rotate(KeyKind::Es256);
    let rotated = s.issuer.mint(&new, &s.claims());
    assert_eq!(s.enroll(&rotated).await.unwrap_err(), CoreError::Forbidden);
    assert_eq!(s.fetches(), 1);
    // ...after it, one fetch picks it up (a token is single use, so a fresh one).
    s.w.advance(30_000);
    s.enroll(&s.issuer.mint(&new, &s.claims())).await.unwrap();
    assert_eq!(s.fetches(), 2);
    // Known kids are served from the cache until the keys are ten minutes old.
    s.enroll(&s.issuer.mint(&new, &s.claims())).await.unwrap();
    assert_eq!(s.fetches(), 2);
    s.w.advance(10 * 60_000);
    s.enroll(&s.issuer.mint(&new, &s.claims())).await.unwrap();
    assert_eq!(s.fetches(), 3);
}

#[tokio::test]
async fn an_unreachable_issuer_is_a_503_but_held_keys_keep_serving() {
    let s = setup().await;
    s.fetcher.down.store(true, Ordering::SeqCst);
    let t = s.issuer.mint(&s.issuer.kid(KeyKind::EdDsa), &s.claims());
    assert_eq!(s.enroll(&t).await.unwrap_err(), CoreError::Unavailable);
    assert!(
        s.last_refusal()
            .await
            .starts_with("reason=issuer_unavailable")
    );
    s.fetcher.down.store(false, Ordering::SeqCst);
    s.w.advance(30_000);
    s.enroll(&t).await.unwrap();
    // Down again, and the keys are stale: the held ones still serve.
    s.fetcher.down.store(true, Ordering::SeqCst);
    s.w.advance(11 * 60_000);
    let t = s.issuer.mint(&s.issuer.kid(KeyKind::EdDsa), &s.claims());
    s.enroll(&t).await.unwrap();
}

#[tokio::test]
async fn issuers_refuse_none_hmac_and_shadowed_rules_and_need_an_admin() {
    let s = setup().await;
    let issuers = s.w.signet.enrollment().issuers();
    for algs in [vec!["none"], vec!["HS256"], vec!["RS256", "HS512"], vec![]] {
        let r = issuers
            .create(
                &s.op,
                NewIssuer {
                    name: "bad".into(),
                    issuer: "https://bad.example".into(),
                    audience: "signet".into(),
                    algorithms: Some(algs.iter().map(|a| (*a).to_owned()).collect()),
                    ..Default::default()
                },
            )
            .await;
        assert!(matches!(r, Err(CoreError::BadRequest(_))), "{algs:?}");
    }
    // A pinned set must hold a signing key with a kid; symmetric keys do not count.
    let r = issuers
        .create(
            &s.op,
            NewIssuer {
                name: "pinned".into(),
                issuer: "https://pinned.example".into(),
                audience: "signet".into(),
                jwks: Some(json!({"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "h"}]})),
                ..Default::default()
            },
        )
        .await;
    assert!(matches!(r, Err(CoreError::BadRequest(_))));
    // Shadowed: the first rule's conditions are a subset of this one's.
    let project =
        issuers.show(&s.op, &s.issuer_id).await.unwrap().rules[0].project_ids[0].to_string();
    let shadowed = NewRule {
        name: "never".into(),
        claims: BTreeMap::from([
            ("repository".into(), "acme/api".into()),
            ("ref".into(), "refs/heads/main".into()),
        ]),
        project_ids: vec![project.clone()],
        ..Default::default()
    };
    let r = issuers.add_rule(&s.op, &s.issuer_id, shadowed).await;
    assert!(matches!(r, Err(CoreError::BadRequest(m)) if m.contains("never apply")));
    // A developer may not trust issuers or add rules.
    let key = s.w.user_key("dev", Role::Developer, None).await;
    let dev = s.w.authenticate_key(&key.seed, &key.key).await.unwrap();
    let r = issuers
        .create(
            &dev,
            NewIssuer {
                name: "dev".into(),
                issuer: "https://dev.example".into(),
                audience: "signet".into(),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(r.unwrap_err(), CoreError::Forbidden);
}

#[tokio::test]
async fn pinned_keys_need_no_fetch_and_changes_apply_to_the_next_token() {
    let s = setup().await;
    let issuers = s.w.signet.enrollment().issuers();
    // Trust the same issuer again, pinned: first delete the discovered trust (one per `iss`).
    let rules = issuers.show(&s.op, &s.issuer_id).await.unwrap().rules;
    let project = rules[0].project_ids[0].to_string();
    issuers.delete(&s.op, &s.issuer_id).await.unwrap();
    let t = s.issuer.mint(&s.issuer.kid(KeyKind::Rs256), &s.claims());
    assert_eq!(s.enroll(&t).await.unwrap_err(), CoreError::Forbidden);
    assert_eq!(s.last_refusal().await, "reason=wrong_issuer");
    let pinned = issuers
        .create(
            &s.op,
            NewIssuer {
                name: "pinned".into(),
                issuer: s.issuer.url().to_owned(),
                audience: "signet".into(),
                jwks: Some(s.issuer.jwks()),
                algorithms: Some(vec!["RS256".into()]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let id = pinned.issuer.id.to_string();
    // No rule yet: nothing matches.
    assert_eq!(s.enroll(&t).await.unwrap_err(), CoreError::Forbidden);
    assert!(
        s.last_refusal()
            .await
            .starts_with("reason=no_matching_rule")
    );
    let v = issuers
        .add_rule(
            &s.op,
            &id,
            NewRule {
                name: "any api".into(),
                claims: BTreeMap::from([("repository".into(), "acme/api".into())]),
                project_ids: vec![project],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    s.enroll(&t).await.unwrap();
    assert_eq!(s.fetches(), 0, "pinned keys are never fetched");
    // Only RS256 is allowed now: an EdDSA token is refused for its algorithm.
    let ed = s.issuer.mint(&s.issuer.kid(KeyKind::EdDsa), &s.claims());
    assert_eq!(s.enroll(&ed).await.unwrap_err(), CoreError::Forbidden);
    assert!(s.last_refusal().await.starts_with("reason=bad_algorithm"));
    // A new audience applies to the next token.
    issuers
        .update(
            &s.op,
            &id,
            signet_core::issuer::IssuerChange {
                audience: Some("other".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let t = s.issuer.mint(&s.issuer.kid(KeyKind::Rs256), &s.claims());
    assert_eq!(s.enroll(&t).await.unwrap_err(), CoreError::Forbidden);
    assert!(s.last_refusal().await.starts_with("reason=wrong_audience"));
    // Rule removed: nothing matches any more.
    issuers
        .update(
            &s.op,
            &id,
            signet_core::issuer::IssuerChange {
                audience: Some("signet".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    issuers
        .delete_rule(&s.op, &id, v.rules[0].id.as_str())
        .await
        .unwrap();
    assert_eq!(s.enroll(&t).await.unwrap_err(), CoreError::Forbidden);
    assert!(
        s.last_refusal()
            .await
            .starts_with("reason=no_matching_rule")
    );
    // Every change was audited.
    for action in [
        "issuer_create",
        "issuer_update",
        "issuer_delete",
        "issuer_rule_create",
        "issuer_rule_delete",
    ] {
        let n =
            s.w.store
                .audit(&AuditFilter {
                    action: Some(action.into()),
                    limit: 10,
                    ..Default::default()
                })
                .await
                .unwrap()
                .len();
        assert!(n >= 1, "{action}");
    }
}
