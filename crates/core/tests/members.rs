//! Project scope, invitations and user lifecycle: scoped developers and viewers see and touch
//! only their projects (one 403 for "outside" and "missing"), invitations are single use and
//! expire, and the rules on role changes, suspension and removal hold. Manual clock, real
//! SQLite store.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly by design.

use signet_core::account::Password;
use signet_core::auth::AuthedOperator;
use signet_core::invite::{INVITE_TTL_MS, InviteAcceptance, NewInvite};
use signet_core::role::Scope;
use signet_core::secret::SecretInput;
use signet_core::user::AccessChange;
use signet_core::{Clock, Conflict, CoreError};
use signet_proto::{ProjectId, SecretSeed};
use signet_store::{AuditFilter, Role};
use signet_testkit::{LOCAL, UserKey as Member};
use zeroize::Zeroizing;

signet_testkit::world_with! {
    /// The shared world, with the headless owner key acting and the public URL invitations name.
    struct World {
        owner: AuthedOperator,
    }
}

async fn world() -> World {
    let kit = signet_testkit::World::sqlite()
        .api_url("https://vault.example.test")
        .await;
    let owner = kit.owner_operator().await;
    World { kit, owner }
}

impl World {
    /// A user and a CLI key of theirs, as `signet login` would leave them.
    async fn member(&self, name: &str, role: Role, projects: Option<Vec<ProjectId>>) -> Member {
        self.user_key(name, role, projects).await
    }

    async fn auth(&self, m: &Member) -> Result<AuthedOperator, CoreError> {
        self.authenticate_key(&m.seed, &m.key).await
    }

    async fn project(&self, name: &str) -> ProjectId {
        self.signet
            .secrets()
            .create_project(&self.owner, name)
            .await
            .expect("project")
            .id
    }

    async fn secret(&self, project: &ProjectId, name: &str) -> String {
        self.signet
            .secrets()
            .create_secret(&self.owner, project.as_str(), name, value("v1"))
            .await
            .expect("secret")
            .id
            .to_string()
    }
}

fn value(s: &str) -> SecretInput {
    SecretInput::Value(Zeroizing::new(s.to_owned()))
}

fn denied() -> Result<(), CoreError> {
    Err(CoreError::Forbidden)
}

#[tokio::test]
async fn a_scoped_developer_touches_only_their_projects() {
    let w = world().await;
    let s = &w.signet;
    let mine = w.project("mine").await;
    let theirs = w.project("theirs").await;
    let my_secret = w.secret(&mine, "A").await;
    let their_secret = w.secret(&theirs, "B").await;
    let dev = w
        .member("dev", Role::Developer, Some(vec![mine.clone()]))
        .await;
    let d = w.auth(&dev).await.unwrap();
    assert_eq!(d.scope, Scope::Projects([mine.clone()].into()));

    // Inside the scope: everything a developer may do.
    let listed: Vec<ProjectId> = s
        .secrets()
        .projects(&d)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(listed, std::slice::from_ref(&mine));
    assert_eq!(
        s.secrets()
            .secrets_in_project(&d, mine.as_str())
            .await
            .unwrap()
            .len(),
        1
    );
    s.secrets().secret_view(&d, &my_secret).await.unwrap();
    s.secrets()
        .update_secret(&d, &my_secret, value("v2"), None)
        .await
        .unwrap();
    assert_eq!(s.secrets().versions(&d, &my_secret).await.unwrap().len(), 2);
    s.secrets()
        .rollback_secret(&d, &my_secret, 1, None)
        .await
        .unwrap();
    let made = s
        .secrets()
        .create_secret(&d, mine.as_str(), "C", value("c"))
        .await
        .unwrap();
    s.secrets()
        .delete_secret(&d, made.id.as_str())
        .await
        .unwrap();

    // Outside it, and for what does not exist, the same 403.
    let missing_secret = "sk_0000000000";
    let missing_project = ProjectId::generate();
    for id in [their_secret.as_str(), missing_secret, "not-an-id"] {
        assert_eq!(
            s.secrets().secret_view(&d, id).await.map(drop),
            denied(),
            "{id}"
        );
        assert_eq!(
            s.secrets().versions(&d, id).await.map(drop),
            denied(),
            "{id}"
        );
        assert_eq!(
            s.secrets()
                .update_secret(&d, id, value("x"), None)
                .await
                .map(drop),
            denied(),
            "{id}"
        );
        assert_eq!(
            s.secrets().rollback_secret(&d, id, 1, None).await.map(drop),
            denied(),
            "{id}"
        );
        assert_eq!(s.secrets().delete_secret(&d, id).await, denied(), "{id}");
    }
    for p in [theirs.as_str(), missing_project.as_str(), "nope"] {
        assert_eq!(
            s.secrets().secrets_in_project(&d, p).await.map(drop),
            denied(),
            "{p}"
        );
        assert_eq!(
            s.secrets()
                .create_secret(&d, p, "D", value("d"))
                .await
                .map(drop),
            denied(),
            "{p}"
        );
    }
    // Whole-vault views are for unscoped operators.
    assert_eq!(
        s.enrollment().enrollment_tokens(&d).await.map(drop),
        denied()
    );
    assert_eq!(
        s.audit()
            .audit_list(&d, &AuditFilter::default())
            .await
            .map(drop),
        denied()
    );
    assert_eq!(s.machines().machine_views(&d).await.unwrap().len(), 0);

    // Nothing outside changed, and every refusal is audited as a denial.
    let o = &w.owner;
    assert_eq!(
        s.secrets().versions(o, &their_secret).await.unwrap().len(),
        1
    );
    assert_eq!(
        s.secrets()
            .secrets_in_project(o, theirs.as_str())
            .await
            .unwrap()
            .len(),
        1
    );
    let log = s
        .audit()
        .audit_list(
            o,
            &AuditFilter {
                actor_id: Some(dev.key.to_string()),
                result: Some(signet_store::AuditResult::Denied),
                limit: 1000,
                ..AuditFilter::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(log.len(), 3 * 5 + 3 * 2 + 2);

    // An unscoped developer still gets 404 for what does not exist.
    let free = w.member("free", Role::Developer, None).await;
    let f = w.auth(&free).await.unwrap();
    assert_eq!(f.scope, Scope::All);
    assert_eq!(s.secrets().projects(&f).await.unwrap().len(), 2);
    assert_eq!(
        s.secrets().secret_view(&f, missing_secret).await.map(drop),
        Err(CoreError::NotFound)
    );
    s.secrets().secret_view(&f, &their_secret).await.unwrap();
}

#[tokio::test]
async fn admins_are_never_scoped_and_a_new_scope_applies_on_the_next_request() {
    let w = world().await;
    let a = w.project("a").await;
    let b = w.project("b").await;
    // Stored projects on an admin mean nothing.
    let admin = w.member("adm", Role::Admin, Some(vec![a.clone()])).await;
    assert_eq!(w.auth(&admin).await.unwrap().scope, Scope::All);

    let viewer = w.member("vi", Role::Viewer, Some(vec![a.clone()])).await;
    assert_eq!(
        w.signet
            .secrets()
            .projects(&w.auth(&viewer).await.unwrap())
            .await
            .unwrap()
            .len(),
        1
    );
    let admin_op = w.auth(&admin).await.unwrap();
    let view = w
        .signet
        .users()
        .set_user_role(
            &admin_op,
            &viewer.user.to_string(),
            AccessChange {
                role: Role::Viewer,
                projects: Some(vec![a.to_string(), b.to_string(), a.to_string()]),
            },
        )
        .await
        .unwrap();
    let mut both = vec![a.clone(), b.clone()];
    both.sort();
    assert_eq!(view.projects, Some(both));
    assert_eq!(
        w.signet
            .secrets()
            .projects(&w.auth(&viewer).await.unwrap())
            .await
            .unwrap()
            .len(),
        2
    );

    // Admins take no scope, and only existing projects are accepted.
    for (role, projects) in [
        (Role::Admin, Some(vec![a.to_string()])),
        (Role::Viewer, Some(vec![ProjectId::generate().to_string()])),
        (Role::Viewer, Some(vec!["junk".to_owned()])),
    ] {
        let r = w
            .signet
            .users()
            .set_user_role(
                &admin_op,
                &viewer.user.to_string(),
                AccessChange { role, projects },
            )
            .await;
        assert!(matches!(r, Err(CoreError::BadRequest(_))), "{r:?}");
    }
}

#[tokio::test]
async fn role_changes_follow_the_rules() {
    let w = world().await;
    let s = &w.signet;
    let boss = w.member("boss", Role::Owner, None).await;
    let admin = w.member("adm", Role::Admin, None).await;
    let dev = w.member("dev", Role::Developer, None).await;
    let boss_op = w.auth(&boss).await.unwrap();
    let admin_op = w.auth(&admin).await.unwrap();
    let dev_op = w.auth(&dev).await.unwrap();
    let change = |role| AccessChange {
        role,
        projects: None,
    };
    let id = |m: &Member| m.user.to_string();

    // A developer manages nobody.
    assert_eq!(
        s.users()
            .set_user_active(&dev_op, &id(&admin), false)
            .await
            .map(drop),
        denied()
    );
    // Nobody above their own role, admins never touch owners, nobody touches themselves.
    assert_eq!(
        s.users()
            .set_user_role(&admin_op, &id(&dev), change(Role::Owner))
            .await
            .map(drop),
        denied()
    );
    assert_eq!(
        s.users()
            .set_user_role(&admin_op, &id(&boss), change(Role::Viewer))
            .await
            .map(drop),
        denied()
    );
    assert_eq!(
        s.users()
            .set_user_active(&admin_op, &id(&boss), false)
            .await
            .map(drop),
        denied()
    );
    assert_eq!(s.users().remove_user(&admin_op, &id(&boss)).await, denied());
    assert_eq!(
        s.users()
            .set_user_role(&admin_op, &id(&admin), change(Role::Viewer))
            .await
            .map(drop),
        denied()
    );
    assert_eq!(s.users().remove_user(&boss_op, &id(&boss)).await, denied());
    // The last active owner stays, even for the headless owner key.
    assert_eq!(
        s.users()
            .set_user_role(&w.owner, &id(&boss), change(Role::Admin))
            .await
            .map(drop),
        Err(CoreError::Conflict(Conflict::LastOwner))
    );
    assert_eq!(
        s.users()
            .set_user_active(&w.owner, &id(&boss), false)
            .await
            .map(drop),
        Err(CoreError::Conflict(Conflict::LastOwner))
    );

    // Allowed: the change lands on the next request.
    let v = s
        .users()
        .set_user_role(&admin_op, &id(&dev), change(Role::Viewer))
        .await
        .unwrap();
    assert_eq!(v.role, "viewer");
    assert_eq!(w.auth(&dev).await.unwrap().role, Role::Viewer);

    // Suspension stops the key; activation brings it back; removal ends it for good.
    let v = s
        .users()
        .set_user_active(&admin_op, &id(&dev), false)
        .await
        .unwrap();
    assert_eq!(v.status, "suspended");
    assert_eq!(
        w.auth(&dev).await.map(drop),
        Err(CoreError::Unauthenticated)
    );
    s.users()
        .set_user_active(&admin_op, &id(&dev), true)
        .await
        .unwrap();
    w.auth(&dev).await.unwrap();
    s.users().remove_user(&admin_op, &id(&dev)).await.unwrap();
    assert_eq!(
        w.auth(&dev).await.map(drop),
        Err(CoreError::Unauthenticated)
    );
    assert!(w.store.operator(&dev.key).await.unwrap().unwrap().disabled);
    assert_eq!(
        s.users()
            .set_user_active(&admin_op, &id(&dev), true)
            .await
            .map(drop),
        Err(CoreError::NotFound)
    );
    let listed = s.accounts().users(&admin_op).await.unwrap();
    assert!(
        listed
            .iter()
            .any(|u| u.username == "dev" && u.status == "removed")
    );

    // Every change and refusal is in the log.
    let log = s
        .audit()
        .audit_list(
            &w.owner,
            &AuditFilter {
                limit: 1000,
                ..AuditFilter::default()
            },
        )
        .await
        .unwrap();
    for action in [
        "user_role_set",
        "user_suspend",
        "user_activate",
        "user_remove",
    ] {
        assert!(
            log.iter().any(|r| r.action == action && r.result == "ok"),
            "{action}"
        );
    }
    assert!(
        log.iter().any(|r| r.action == "user_remove"
            && r.result == "denied"
            && r.detail == "target=self")
    );
}

fn code_of(url: &str) -> &str {
    url.rsplit_once("/#/invite/").expect("invite url").1
}

fn acceptance<'a>(code: &'a str, username: &'a str) -> InviteAcceptance<'a> {
    InviteAcceptance {
        code,
        username,
        password: Password::new("correct horse battery staple"),
        source_ip: LOCAL,
    }
}

#[tokio::test]
async fn an_invitation_is_used_once_before_it_expires() {
    let w = world().await;
    let s = &w.signet;
    let p = w.project("p").await;
    let admin = w.member("adm", Role::Admin, None).await;
    let admin_op = w.auth(&admin).await.unwrap();

    // At or below the inviter's role.
    assert_eq!(
        s.invites()
            .invite_user(
                &admin_op,
                NewInvite {
                    email: "o@example.test",
                    role: Role::Owner,
                    projects: None
                }
            )
            .await
            .map(drop),
        denied()
    );
    let issued = s
        .invites()
        .invite_user(
            &admin_op,
            NewInvite {
                email: "New@Example.test",
                role: Role::Developer,
                projects: Some(vec![p.to_string()]),
            },
        )
        .await
        .unwrap();
    assert!(
        issued
            .url
            .starts_with("https://vault.example.test/#/invite/")
    );
    let code = code_of(&issued.url).to_owned();
    assert_eq!(code.len(), 64);
    assert_eq!(
        issued.invite.expires_at - issued.invite.created_at,
        INVITE_TTL_MS
    );
    let listed = s.invites().invites(&admin_op).await.unwrap();
    assert_eq!(
        (listed[0].status, listed[0].email.as_str()),
        ("pending", "new@example.test")
    );
    // The view holds no code: nothing that prints or maps it can show one.
    assert!(!format!("{listed:?}").contains(&code));

    let e = s
        .invites()
        .accept_invite(acceptance(&code, "newbie"))
        .await
        .unwrap();
    assert_eq!(e.recovery_codes.len(), 10);
    assert_eq!(e.user.email, "new@example.test");
    assert_eq!(
        (e.user.role, e.user.projects.clone()),
        (Role::Developer, Some(vec![p.clone()]))
    );
    // Spent: the same code again is refused.
    assert_eq!(
        s.invites()
            .accept_invite(acceptance(&code, "second"))
            .await
            .map(drop),
        Err(CoreError::InviteRefused)
    );
    assert_eq!(
        s.invites().invites(&admin_op).await.unwrap()[0].status,
        "accepted"
    );

    // Expired and revoked codes and unknown ones are refused alike.
    let later = s
        .invites()
        .invite_user(
            &admin_op,
            NewInvite {
                email: "late@example.test",
                role: Role::Viewer,
                projects: None,
            },
        )
        .await
        .unwrap();
    let revoked = s
        .invites()
        .invite_user(
            &admin_op,
            NewInvite {
                email: "rev@example.test",
                role: Role::Viewer,
                projects: None,
            },
        )
        .await
        .unwrap();
    s.invites()
        .revoke_invite(&admin_op, &revoked.invite.id.to_string())
        .await
        .unwrap();
    assert_eq!(
        s.invites()
            .revoke_invite(&admin_op, &revoked.invite.id.to_string())
            .await,
        Err(CoreError::Conflict(Conflict::InviteSpent))
    );
    w.clock.advance(INVITE_TTL_MS);
    for c in [code_of(&later.url), code_of(&revoked.url), &"0".repeat(64)] {
        assert_eq!(
            s.invites()
                .accept_invite(acceptance(c, "someone"))
                .await
                .map(drop),
            Err(CoreError::InviteRefused)
        );
    }
    let states: Vec<&str> = s
        .invites()
        .invites(&admin_op)
        .await
        .unwrap()
        .iter()
        .map(|i| i.status)
        .collect();
    assert_eq!(states, ["revoked", "expired", "accepted"]);
    assert_eq!(s.accounts().users(&admin_op).await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_scoped_viewer_sees_only_machines_on_their_projects() {
    use signet_proto::{MachineId, SecretId};
    use signet_store::{EnrollMethod, MachineKind, MachineRecord, MachineStatus};

    let w = world().await;
    let s = &w.signet;
    let mine = w.project("mine").await;
    let theirs = w.project("theirs").await;
    let my_secret = SecretId::parse(&w.secret(&mine, "A").await).unwrap();
    let their_secret = SecretId::parse(&w.secret(&theirs, "B").await).unwrap();
    let machine = |name: &str| MachineRecord {
        id: MachineId::generate(),
        name: name.to_owned(),
        hostname: name.to_owned(),
        public_key: SecretSeed::generate().public_key(),
        status: MachineStatus::Approved,
        enabled: true,
        kind: MachineKind::Standard,
        expires_ms: None,
        enrolled_via: EnrollMethod::Bootstrap,
        enrollment_token_id: None,
        registered_ip: "192.0.2.1".to_owned(),
        allowed_cidrs: Vec::new(),
        created_ms: w.clock.now_ms(),
        ai_agent: None,
    };
    let both = machine("both");
    let other = machine("other");
    for m in [&both, &other] {
        w.store.insert_machine(m).await.unwrap();
        w.store.attach(&m.id, &theirs).await.unwrap();
    }
    w.store.attach(&both.id, &mine).await.unwrap();
    w.store.grant(&both.id, &my_secret).await.unwrap();
    w.store.grant(&both.id, &their_secret).await.unwrap();

    let viewer = w.member("vi", Role::Viewer, Some(vec![mine.clone()])).await;
    let v = w.auth(&viewer).await.unwrap();
    let seen = s.machines().machine_views(&v).await.unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].id, both.id);
    assert_eq!(seen[0].projects, std::slice::from_ref(&mine));
    assert_eq!(seen[0].grants, std::slice::from_ref(&my_secret));
    s.machines()
        .machine_view(&v, &both.id.to_string())
        .await
        .unwrap();
    assert_eq!(
        s.machines()
            .machine_view(&v, &other.id.to_string())
            .await
            .map(drop),
        denied()
    );
    assert_eq!(
        s.machines()
            .machine_view(&v, &MachineId::generate().to_string())
            .await
            .map(drop),
        denied()
    );
    // The owner sees everything.
    assert_eq!(s.machines().machine_views(&w.owner).await.unwrap().len(), 2);
    assert_eq!(
        s.machines()
            .machine_view(&w.owner, &both.id.to_string())
            .await
            .unwrap()
            .grants
            .len(),
        2
    );
}

/// Signs `login` in to a browser session with a fresh TOTP code of `totp`.
async fn session(w: &World, login: &str, totp: &totp_rs::Totp) -> AuthedOperator {
    use signet_core::account::{LoginAttempt, SecondFactor};

    w.clock.advance(30_000);
    let secs = u64::try_from(w.clock.now_ms() / 1000).unwrap();
    let opened = w
        .signet
        .sessions()
        .session_login(
            LoginAttempt {
                login,
                password: Password::new("correct horse battery staple"),
                second_factor: SecondFactor::Totp(Zeroizing::new(totp.generate(secs).to_string())),
                source_ip: LOCAL,
                user_agent: "test",
            },
            None,
        )
        .await
        .expect("session login");
    w.signet
        .sessions()
        .authenticate_session(&opened.secret, LOCAL)
        .await
        .expect("session")
}

#[tokio::test]
async fn sessions_carry_the_scope_and_role_changes_and_invitations_need_a_step_up() {
    use signet_core::account::{NewOwner, NewUser};
    use signet_core::session::STEP_UP_WINDOW_MS;

    let w = world().await;
    let s = &w.signet;
    let p = w.project("p").await;
    let _other = w.project("other").await;
    let owner = s
        .accounts()
        .create_owner(NewOwner {
            username: "boss",
            email: "boss@example.test",
            password: Password::new("correct horse battery staple"),
        })
        .await
        .unwrap();
    let dev = s
        .accounts()
        .create_user(
            &w.owner,
            NewUser {
                username: "dev",
                email: "dev@example.test",
                password: Password::new("correct horse battery staple"),
                role: Role::Developer,
                projects: Some(vec![p.to_string()]),
            },
        )
        .await
        .unwrap();
    let dev_totp = totp_rs::Totp::from_url(dev.otpauth_uri.as_str()).unwrap();
    let dev_op = session(&w, "dev", &dev_totp).await;
    assert_eq!(dev_op.scope, Scope::Projects([p.clone()].into()));
    assert_eq!(s.secrets().projects(&dev_op).await.unwrap().len(), 1);

    let boss_totp = totp_rs::Totp::from_url(owner.otpauth_uri.as_str()).unwrap();
    let boss = session(&w, "boss", &boss_totp).await;
    let invite = || NewInvite {
        email: "later@example.test",
        role: Role::Viewer,
        projects: None,
    };
    let to_viewer = || AccessChange {
        role: Role::Viewer,
        projects: None,
    };
    let dev_id = dev.user.id.to_string();
    // Signing in counts as a step-up.
    s.invites().invite_user(&boss, invite()).await.unwrap();
    w.clock.advance(STEP_UP_WINDOW_MS);
    assert_eq!(
        s.invites().invite_user(&boss, invite()).await.map(drop),
        Err(CoreError::StepUpRequired)
    );
    assert_eq!(
        s.users()
            .set_user_role(&boss, &dev_id, to_viewer())
            .await
            .map(drop),
        Err(CoreError::StepUpRequired)
    );
    // Taking access away needs no step-up.
    s.users()
        .set_user_active(&boss, &dev_id, false)
        .await
        .unwrap();
    // Signed CLI requests are not subject to it.
    s.users()
        .set_user_role(&w.owner, &dev_id, to_viewer())
        .await
        .unwrap();
}
