//! Issue 16, bugs 3 and 4: the audit log and a secret's versions name the person behind a
//! browser session (each session acts as its own operator principal), a person's records are
//! found under all of their sessions, and an action filter finds part of an action's name.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly by design.

use std::net::{IpAddr, Ipv4Addr};

use signet_core::Clock;
use signet_core::account::{LoginAttempt, Password, SecondFactor};
use signet_core::audit::matching_actions;
use signet_core::auth::AuthedOperator;
use signet_core::network::ClientAddr;
use signet_core::secret::SecretInput;
use signet_store::AuditFilter;
use signet_testkit::PASSWORD;
use totp_rs::Totp;
use zeroize::Zeroizing;

signet_testkit::world_with! {
    /// The shared world with its first owner account's authenticator.
    struct World {
        totp: Totp,
        user_id: String,
    }
}

fn ip() -> ClientAddr {
    ClientAddr::Known(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)))
}

impl World {
    /// Signs the owner in and returns the session's principal.
    async fn session(&self) -> AuthedOperator {
        self.advance(30_000);
        let secs = u64::try_from(self.clock.now_ms() / 1000).unwrap();
        let code = self.totp.generate(secs).to_string();
        let s = self
            .signet
            .sessions()
            .session_login(
                LoginAttempt {
                    login: "owner",
                    password: Password::new(PASSWORD),
                    second_factor: SecondFactor::Totp(Zeroizing::new(code)),
                    source_ip: ip(),
                    user_agent: "test",
                },
                None,
            )
            .await
            .expect("login");
        self.signet
            .sessions()
            .authenticate_session(&s.secret, ip())
            .await
            .unwrap()
    }
}

async fn world() -> World {
    let kit = signet_testkit::World::sqlite().await;
    let owner = kit.owner_user("owner", "owner@example.test").await;
    let totp = Totp::from_url(owner.otpauth_uri.as_str()).expect("otpauth uri");
    World {
        kit,
        totp,
        user_id: owner.user.id.to_string(),
    }
}

fn filter(action: &str) -> AuditFilter {
    AuditFilter {
        action: Some(action.to_owned()),
        limit: 100,
        ..AuditFilter::default()
    }
}

#[tokio::test]
async fn records_and_versions_name_the_person_behind_each_session() {
    let w = world().await;
    let first = w.session().await;
    let second = w.session().await;
    assert_ne!(
        first.id, second.id,
        "each session acts as its own principal"
    );
    let p = w
        .signet
        .secrets()
        .create_project(&first, "payments")
        .await
        .unwrap();
    let s = w
        .signet
        .secrets()
        .create_secret(
            &second,
            p.id.as_str(),
            "DATABASE_URL",
            SecretInput::Value(Zeroizing::new("v1".into())),
        )
        .await
        .unwrap();
    // A headless key acts too: it is nobody's session and stays out of the owner's records.
    let (rec, _) = w
        .signet
        .operators()
        .create_operator("ops-key", true)
        .await
        .unwrap();
    let key = AuthedOperator::key(rec, signet_store::Role::Owner, signet_testkit::LOCAL);
    w.signet
        .secrets()
        .create_project(&key, "ops")
        .await
        .unwrap();

    let audit = w.signet.audit();
    let created = audit
        .audit_search(&first, &filter("project_create"), None)
        .await
        .unwrap();
    assert_eq!(created.len(), 2);
    for r in &created {
        let name = r.actor.as_ref().map(|a| a.name.as_str());
        if r.actor_id == first.id.to_string() {
            assert_eq!(name, Some("owner"), "a session is named by its user");
            assert_eq!(
                r.actor
                    .as_ref()
                    .and_then(|a| a.user_id.as_ref())
                    .map(ToString::to_string),
                Some(w.user_id.clone())
            );
        } else {
            assert_eq!(r.actor_id, key.id.to_string());
            assert_eq!(name, Some("ops-key"), "a headless key by its label");
        }
    }

    // The person's records, under both sessions, and none of the headless key's.
    let mine = audit
        .audit_search(&first, &filter("create"), Some(&w.user_id))
        .await
        .unwrap();
    let actions: Vec<(&str, &str)> = mine
        .iter()
        .map(|r| (r.action.as_str(), r.actor_id.as_str()))
        .collect();
    let first_id = first.id.to_string();
    let second_id = second.id.to_string();
    assert!(
        actions.contains(&("project_create", first_id.as_str())),
        "{actions:?}"
    );
    assert!(
        actions.contains(&("secret_create", second_id.as_str())),
        "{actions:?}"
    );
    assert!(
        mine.iter().all(|r| r.actor_id != key.id.to_string()),
        "{actions:?}"
    );
    // Newest first, no duplicates.
    assert!(mine.windows(2).all(|p| p[0].seq > p[1].seq));

    // A malformed person id is nobody; an unknown one too.
    let nobody = audit
        .audit_search(&first, &filter("create"), Some("not-an-id"))
        .await
        .unwrap();
    assert!(nobody.is_empty());

    // A version's author is the person too.
    let versions = w
        .signet
        .secrets()
        .versions(&first, s.id.as_str())
        .await
        .unwrap();
    assert_eq!(versions[0].created_by, second_id);
    assert_eq!(versions[0].created_by_name.as_deref(), Some("owner"));
}

#[test]
fn an_action_filter_matches_part_of_a_name_as_people_write_it() {
    assert_eq!(matching_actions("machine_approve"), ["machine_approve"]);
    assert_eq!(matching_actions("machine.approve"), ["machine_approve"]);
    assert!(matching_actions("Approve").contains(&"machine_approve".to_owned()));
    let secret = matching_actions("secret_");
    assert!(secret.len() > 3 && secret.iter().all(|a| a.contains("secret_")));
    assert!(matching_actions("no such action at all").is_empty());
}
