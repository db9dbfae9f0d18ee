//! Issue 14 §1 through real processes on both backends: an operator trusts a test OIDC issuer
//! (`signet_testkit::oidc`, a real HTTP server serving discovery and a JWKS) and adds rules
//! with the CLI; workloads enroll with `signet enroll --oidc-token`, `--github-actions` (against
//! a fake token-request endpoint) and `--kubernetes` (a token file), then read what their rule
//! grants and nothing else. Every refusal (wrong issuer or audience, expired, not yet valid,
//! replayed, `alg: none`, HS256 keyed with the public key, unknown `kid`, a broken signature,
//! claims that match no rule, a missing or wrong proof) is the same answer, with an audit
//! record naming its reason; a key rotated at the issuer is picked up.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};
use signet_testkit::oidc::{KeyKind, TestIssuer, now_secs};

use crate::harness::{Backend, Fixture, TestServer, bin, every_backend, run, run_with_stdin};
use crate::harness::{stderr, stdout};

const AUD: &str = "signet-test";

/// A server whose key fetches may reach loopback (where the issuer is), asking an issuer again
/// at most once a second.
fn server(backend: Backend) -> TestServer {
    let mut s = TestServer::unstarted_on(backend);
    let config = match &s.config {
        Some(c) => c.clone(),
        None => s.data_dir.with_file_name("oidc.toml"),
    };
    let mut text = std::fs::read_to_string(&config).unwrap_or_default();
    text.push_str("oidc_allow_cidrs = [\"127.0.0.0/8\"]\noidc_keys_refetch_secs = 1\n");
    std::fs::write(&config, text).expect("config");
    s.config = Some(config);
    s.spawn(0, &[]).expect("server starts");
    s
}

struct Setup {
    f: Fixture,
    issuer: TestIssuer,
    issuer_id: String,
    vault: String,
    /// A secret in the fixture's project that no rule grants.
    ungranted: String,
}

/// The fixture (a project with a secret), a second secret, the issuer trusted by discovery,
/// and two rules: `acme/api` on `main` (granted the fixture's secret), and one service
/// account (the same grant).
fn setup(backend: Backend) -> Setup {
    let issuer = TestIssuer::start();
    let f = Fixture::with_server(server(backend));
    let s = &f.server;
    let ungranted = s.op_json(&[
        "secret",
        "create",
        "--project",
        &f.project,
        "--name",
        "OTHER",
        "--value",
        "not-for-ci",
    ])["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let vault = s.op_json(&["vault", "show"])["vaultId"]
        .as_str()
        .expect("vault")
        .to_owned();
    let created = s.op_json(&[
        "issuer",
        "add",
        "--name",
        "ci",
        "--issuer",
        issuer.url(),
        "--audience",
        AUD,
    ]);
    assert_eq!(created["pinned"], false);
    assert_eq!(created["algorithms"], json!(["RS256", "ES256", "EdDSA"]));
    let issuer_id = created["id"].as_str().expect("id").to_owned();
    for (name, claims) in [
        (
            "api main",
            vec!["repository=acme/api", "ref=refs/heads/main"],
        ),
        ("prod api pod", vec!["sub=system:serviceaccount:prod:api"]),
    ] {
        let mut args = vec![
            "issuer",
            "rule",
            "add",
            &issuer_id,
            "--name",
            name,
            "--project",
            &f.project,
            "--secret",
            &f.secret,
            "--ttl",
            "10m",
        ];
        for c in &claims {
            args.extend(["--claim", c]);
        }
        s.op_json(&args);
    }
    Setup {
        f,
        issuer,
        issuer_id,
        vault,
        ungranted,
    }
}

fn ci_claims(issuer: &TestIssuer) -> Value {
    issuer.claims(
        AUD,
        json!({"repository": "acme/api", "ref": "refs/heads/main"}),
    )
}

impl Setup {
    fn home(&self, name: &str) -> PathBuf {
        self.f.server.root.path().join(name)
    }

    /// `signet enroll --oidc-token -` with `token` on standard input, in a fresh home.
    fn enroll(&self, home: &Path, token: &str) -> Output {
        run_with_stdin(
            home,
            &[
                "enroll",
                "--server",
                &self.f.server.url,
                "--vault",
                &self.vault,
                "--oidc-token",
                "-",
                "--name",
                "ci-job",
            ],
            token,
        )
    }

    /// The refused enrollments' records, oldest first: (detail, source).
    fn refusals(&self) -> Vec<String> {
        let v = self.f.server.op_json(&[
            "audit",
            "list",
            "--action",
            "machine_enroll_oidc",
            "--result",
            "denied",
            "--limit",
            "200",
        ]);
        let mut out: Vec<String> = v["records"]
            .as_array()
            .expect("records")
            .iter()
            .map(|r| r["detail"].as_str().expect("detail").to_owned())
            .collect();
        out.reverse();
        out
    }
}

every_backend!(fn a_platform_token_enrolls_a_workload_that_reads_only_its_grant);
fn a_platform_token_enrolls_a_workload_that_reads_only_its_grant(backend: Backend) {
    let t = setup(backend);
    let s = &t.f.server;
    let token = t
        .issuer
        .mint(&t.issuer.kid(KeyKind::Rs256), &ci_claims(&t.issuer));
    let file = s.root.path().join("token.jwt");
    std::fs::write(&file, format!("{token}\n")).expect("token file");
    let home = t.home("ci");
    let out = run(
        &home,
        &[
            "--json",
            "enroll",
            "--server",
            &s.url,
            "--vault",
            &t.vault,
            "--oidc-token",
            file.to_str().expect("path"),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let enrolled: Value = serde_json::from_slice(&out.stdout).expect("json");
    let machine = enrolled["machineId"].as_str().expect("id").to_owned();
    assert_eq!(enrolled["status"], "approved");
    let expires = enrolled["expiresAt"].as_i64().expect("ephemeral");
    let ttl = expires - now_secs() * 1000;
    assert!(
        (500_000..=601_000).contains(&ttl),
        "the rule's 10m lifetime: {ttl}"
    );

    let got = run(&home, &["get", &t.f.secret]);
    assert!(got.status.success(), "granted: {}", stderr(&got));
    assert_eq!(stdout(&got).trim_end(), t.f.value);
    let denied = run(&home, &["get", &t.ungranted]);
    assert!(!denied.status.success(), "not granted");
    assert!(
        stderr(&denied).contains("access denied"),
        "{}",
        stderr(&denied)
    );

    // The record names the issuer, the rule and the token's subject; the token is nowhere.
    let rules = s.op_json(&["issuer", "rule", "list", &t.issuer_id]);
    let rule = rules[0]["id"].as_str().expect("rule id").to_owned();
    let v = s.op_json(&[
        "audit",
        "list",
        "--action",
        "machine_enroll_oidc",
        "--result",
        "ok",
    ]);
    let rec = &v["records"][0];
    assert_eq!(rec["target"], machine.as_str());
    let detail = rec["detail"].as_str().expect("detail");
    assert!(
        detail.starts_with(&format!(
            "issuer={} rule={rule} sub=repo:acme/api:ref:refs/heads/main ",
            t.issuer_id
        )),
        "{detail}"
    );
    let everything = s.op_json(&["audit", "list", "--limit", "1000"]).to_string();
    let signature = token.rsplit('.').next().expect("signature");
    assert!(!everything.contains(signature));
    assert!(!s.log().contains(signature), "the token is never logged");

    // The listing shows the issuer with its rules in order.
    let shown = s.op_json(&["issuer", "show", &t.issuer_id]);
    assert_eq!(shown["rules"][0]["position"], 1);
    assert_eq!(shown["rules"][1]["position"], 2);
    // A rule the first one shadows is refused: it could never apply.
    let shadowed = s.op(&[
        "issuer",
        "rule",
        "add",
        &t.issuer_id,
        "--name",
        "never",
        "--claim",
        "repository=acme/api",
        "--claim",
        "ref=refs/heads/main",
        "--claim",
        "workflow=deploy",
        "--project",
        &t.f.project,
    ]);
    assert!(!shadowed.status.success());
    assert!(
        stderr(&shadowed).contains("never apply"),
        "{}",
        stderr(&shadowed)
    );
}

every_backend!(async fn every_refusal_is_one_answer_with_its_reason_recorded);
async fn every_refusal_is_one_answer_with_its_reason_recorded(backend: Backend) {
    let t = setup(backend);
    let i = &t.issuer;
    let rs = i.kid(KeyKind::Rs256);
    let now = now_secs();
    let good = ci_claims(i);
    let with = |patch: Value| {
        let mut c = ci_claims(i);
        for (k, v) in patch.as_object().expect("object") {
            c[k] = v.clone();
        }
        c
    };
    let hidden = i.hidden_key(KeyKind::Es256);
    let replayed = i.mint(&i.kid(KeyKind::EdDsa), &good);
    let home = t.home("first");
    let first = t.enroll(&home, &replayed);
    assert!(first.status.success(), "{}", stderr(&first));
    let mut broken = i.mint(&rs, &good);
    let flip = if broken.ends_with('A') { 'B' } else { 'A' };
    broken.pop();
    broken.push(flip);

    let cases: Vec<(&str, String)> = vec![
        (
            "wrong_issuer",
            i.mint(&rs, &with(json!({"iss": "https://elsewhere.example"}))),
        ),
        (
            "wrong_audience",
            i.mint(&rs, &with(json!({"aud": "other"}))),
        ),
        (
            "token_expired",
            i.mint(&rs, &with(json!({"exp": now - 120, "iat": now - 400}))),
        ),
        (
            "token_not_yet_valid",
            i.mint(&rs, &with(json!({"nbf": now + 600}))),
        ),
        ("token_replayed", replayed.clone()),
        ("bad_algorithm", i.unsigned(&rs, &good)),
        ("bad_algorithm", i.hs256_with_public_key(&rs, &good)),
        ("unknown_kid", i.mint(&hidden, &good)),
        (
            "unknown_kid",
            i.mint_with_header(&rs, &json!({"alg": "RS256", "typ": "JWT"}), &good),
        ),
        ("bad_token_signature", broken),
        // The ES256 key's kid on a token signed by the RSA key: the type does not fit.
        (
            "bad_algorithm",
            i.mint_with_header(
                &rs,
                &json!({"alg": "RS256", "kid": i.kid(KeyKind::Es256)}),
                &good,
            ),
        ),
        (
            "no_matching_rule",
            i.mint(&rs, &with(json!({"ref": "refs/heads/dev"}))),
        ),
        ("malformed_token", "not.a-token".to_owned()),
    ];
    let before = t.refusals().len();
    let mut answers = Vec::new();
    for (n, (reason, token)) in cases.iter().enumerate() {
        let out = t.enroll(&t.home(&format!("refused-{n}")), token);
        assert!(!out.status.success(), "{reason} was accepted");
        answers.push(stderr(&out));
    }
    // One answer for every refusal: nothing tells the caller which check failed.
    for a in &answers {
        assert_eq!(a, &answers[0], "refusals differ");
    }
    assert!(answers[0].contains("access denied"), "{}", answers[0]);
    let recorded = t.refusals();
    let reasons: Vec<&str> = recorded[before..]
        .iter()
        .map(|d| {
            d.strip_prefix("reason=")
                .and_then(|r| r.split(' ').next())
                .unwrap_or(d)
        })
        .collect();
    let expected: Vec<&str> = cases.iter().map(|(r, _)| *r).collect();
    assert_eq!(reasons, expected);
    // Once the issuer is known, the record names it.
    assert!(
        recorded[before + 1].ends_with(&format!("issuer={}", t.issuer_id)),
        "{}",
        recorded[before + 1]
    );

    // Missing and wrong proofs of possession, sent raw (the CLI always sends a good one).
    let url = format!("{}/v1/{}/enroll/oidc", t.f.server.url, t.vault);
    let seed = signet_proto::SecretSeed::generate();
    let fresh = i.mint(&rs, &ci_claims(i));
    let http = reqwest::Client::new();
    let body = json!({"token": fresh, "publicKey": seed.public_key().to_base64(),
        "hostname": "ci"});
    let r = http.post(&url).json(&body).send().await.expect("send");
    assert_eq!(r.status(), 403);
    let e: Value = r.json().await.expect("json");
    assert_eq!(e["code"], "enrollment_proof_required");
    let vault = signet_proto::VaultId::parse(&t.vault).expect("vault");
    let other = signet_proto::EnrollmentProof::sign(
        &seed,
        Some(&vault),
        Some("another token"),
        signet_proto::Timestamp::from_secs(now_secs()),
    );
    let mut wrong = body.clone();
    wrong["proof"] = json!(other.signature.to_base64());
    wrong["timestamp"] = json!(other.timestamp.secs());
    let r = http.post(&url).json(&wrong).send().await.expect("send");
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.expect("json");
    assert_eq!(e["code"], "enrollment_proof_invalid");
    let recorded = t.refusals();
    let n = recorded.len();
    assert_eq!(
        recorded[n - 2..],
        [
            "reason=proof_required".to_owned(),
            "reason=bad_proof".to_owned()
        ]
    );
    // Neither spent the token: it still enrolls, once.
    let ok = t.enroll(&t.home("after-proofs"), &fresh);
    assert!(ok.status.success(), "{}", stderr(&ok));
}

every_backend!(fn a_rotated_issuer_key_is_picked_up_and_the_old_one_refused);
fn a_rotated_issuer_key_is_picked_up_and_the_old_one_refused(backend: Backend) {
    let t = setup(backend);
    let i = &t.issuer;
    let old = i.kid(KeyKind::Rs256);
    let before_rotation = i.mint(&old, &ci_claims(i));
    let ok = t.enroll(&t.home("a"), &i.mint(&old, &ci_claims(i)));
    assert!(ok.status.success(), "{}", stderr(&ok));
    let fetched = i.jwks_fetches();
    let new = i.rotate(KeyKind::Rs256);
    assert_ne!(new, old);
    // Past the refetch interval (1 s here), the new kid makes Signet ask the issuer again.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let ok = t.enroll(&t.home("b"), &i.mint(&new, &ci_claims(i)));
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert_eq!(i.jwks_fetches(), fetched + 1);
    // The old key is gone from the set: its tokens are now an unknown kid.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let refused = t.enroll(&t.home("c"), &before_rotation);
    assert!(!refused.status.success());
    let last = t.refusals().pop().expect("a refusal");
    assert!(last.starts_with("reason=unknown_kid"), "{last}");
}

every_backend!(fn github_actions_and_kubernetes_workloads_enroll_from_where_their_platform_puts_the_token);
fn github_actions_and_kubernetes_workloads_enroll_from_where_their_platform_puts_the_token(
    backend: Backend,
) {
    let t = setup(backend);
    let i = &t.issuer;
    // GitHub: the runner's request URL and bearer; the audience is the CLI's to ask for.
    let mut gh = ci_claims(i);
    gh["aud"] = json!("whatever-github-defaults-to");
    i.serve_github("runner-bearer", gh, &i.kid(KeyKind::Es256));
    let gh_run = |bearer: &str, home: &Path| {
        Command::new(bin())
            .args([
                "enroll",
                "--server",
                &t.f.server.url,
                "--vault",
                &t.vault,
                "--github-actions",
                "--audience",
                AUD,
            ])
            .env("SIGNET_HOME", home)
            .env("ACTIONS_ID_TOKEN_REQUEST_URL", i.github_request_url())
            .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", bearer)
            .output()
            .expect("run signet")
    };
    let home = t.home("gh");
    let out = gh_run("runner-bearer", &home);
    assert!(out.status.success(), "{}", stderr(&out));
    let got = run(&home, &["get", &t.f.secret]);
    assert!(got.status.success(), "{}", stderr(&got));
    assert_eq!(stdout(&got).trim_end(), t.f.value);
    let out = gh_run("wrong-bearer", &t.home("gh-wrong"));
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("cannot get the job's OIDC token"),
        "{}",
        stderr(&out)
    );
    let out = Command::new(bin())
        .args([
            "enroll",
            "--server",
            &t.f.server.url,
            "--vault",
            &t.vault,
            "--github-actions",
        ])
        .env("SIGNET_HOME", t.home("gh-none"))
        .env_remove("ACTIONS_ID_TOKEN_REQUEST_URL")
        .output()
        .expect("run signet");
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("ACTIONS_ID_TOKEN_REQUEST_URL"),
        "{}",
        stderr(&out)
    );

    // Kubernetes: a projected service-account token in a file, EdDSA-signed.
    let sa = i.claims(AUD, json!({"sub": "system:serviceaccount:prod:api"}));
    let file = t.f.server.root.path().join("sa-token");
    std::fs::write(&file, i.mint(&i.kid(KeyKind::EdDsa), &sa)).expect("token file");
    let home = t.home("pod");
    let out = run(
        &home,
        &[
            "enroll",
            "--server",
            &t.f.server.url,
            "--vault",
            &t.vault,
            "--kubernetes",
            "--token-file",
            file.to_str().expect("path"),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let got = run(&home, &["get", &t.f.secret]);
    assert!(got.status.success(), "{}", stderr(&got));
    // Another namespace's account matches no rule.
    let other = i.claims(AUD, json!({"sub": "system:serviceaccount:dev:api"}));
    std::fs::write(&file, i.mint(&i.kid(KeyKind::EdDsa), &other)).expect("token file");
    let out = run(
        &t.home("dev-pod"),
        &[
            "enroll",
            "--server",
            &t.f.server.url,
            "--vault",
            &t.vault,
            "--kubernetes",
            "--token-file",
            file.to_str().expect("path"),
        ],
    );
    assert!(!out.status.success());
    let last = t.refusals().pop().expect("a refusal");
    assert!(last.starts_with("reason=no_matching_rule"), "{last}");
}
