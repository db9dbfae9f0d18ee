//! AI agents (issue 14 §2): the scope table, each method allowed with its scope and refused
//! (audited) without it; the principal classes kept apart at authentication; an agent never
//! acting on an agent; the project allowlist; only operators approving agents and changing their
//! scopes. Manual clock, real SQLite store (the store's part runs on both backends in the
//! conformance suite; the e2e and MCP tests run the routes on both).
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly by design.

use signet_core::CoreError;
use signet_core::ai_agent::{AgentScope, AgentSecretValue, AiAgents, AuthedAgent};
use signet_core::auth::AuthedOperator;
use signet_core::secret::SecretInput;
use signet_proto::{MachineId, SecretSeed};
use signet_store::{
    ActorKind, AuditFilter, AuditResult, EnrollMethod, MachineKind, MachineRecord, MachineStatus,
};
use signet_testkit::signing::signed;
use signet_testkit::world::{GrantedMachine, granted_machine};
use zeroize::Zeroizing;

signet_testkit::world_with! {
    /// The shared world with the headless owner key acting, and a granted machine.
    struct World {
        owner: AuthedOperator,
        machine: GrantedMachine,
    }
}

async fn world() -> World {
    let kit = signet_testkit::World::sqlite().await;
    let owner = kit.owner_operator().await;
    let machine = granted_machine(&kit.signet, &owner, "app", None).await;
    World {
        kit,
        owner,
        machine,
    }
}

/// A pending tokenless request, as `signet enroll --request` leaves one.
async fn pending(w: &World, name: &str) -> (SecretSeed, MachineRecord) {
    pending_via(w, name, EnrollMethod::Request).await
}

/// A pending machine that enrolled `via` a tokenless request or a bootstrap token.
async fn pending_via(w: &World, name: &str, via: EnrollMethod) -> (SecretSeed, MachineRecord) {
    let seed = SecretSeed::generate();
    let m = MachineRecord {
        id: MachineId::generate(),
        name: name.to_owned(),
        hostname: format!("{name}.example"),
        public_key: seed.public_key(),
        status: MachineStatus::Pending,
        enabled: true,
        kind: MachineKind::Standard,
        expires_ms: None,
        enrolled_via: via,
        enrollment_token_id: None,
        registered_ip: "127.0.0.1".to_owned(),
        allowed_cidrs: Vec::new(),
        created_ms: w.now_ms(),
        ai_agent: None,
    };
    w.store.insert_machine(&m).await.unwrap();
    (seed, m)
}

fn fingerprint(m: &MachineRecord) -> String {
    m.public_key.fingerprint().to_string()
}

/// An approved agent with `scopes` (and `projects`, if limited), authenticated.
async fn agent(w: &World, scopes: &[&str], projects: Option<&[String]>) -> AuthedAgent {
    let (seed, m) = pending(w, "agent").await;
    let scopes: Vec<String> = scopes.iter().map(|s| (*s).to_owned()).collect();
    AiAgents::of(&w.signet)
        .approve_as_agent(
            &w.owner,
            &m.id.to_string(),
            &fingerprint(&m),
            &scopes,
            projects,
        )
        .await
        .unwrap();
    let mut parts = Vec::new();
    let id = m.id.to_string();
    AiAgents::of(&w.signet)
        .authenticate(&signed(&seed, &id, "/v1/ai/whoami", w.now_ms(), &mut parts))
        .await
        .unwrap()
}

/// Calls the method each scope covers, on fresh targets; `Ok` means it was allowed.
async fn try_scope(w: &World, a: &AuthedAgent, scope: AgentScope) -> Result<(), CoreError> {
    let agents = AiAgents::of(&w.signet);
    let project = w.machine.project.to_string();
    let secret = w.machine.secret.to_string();
    match scope {
        AgentScope::ProjectsRead => agents.projects(a).await.map(drop),
        AgentScope::ProjectsWrite => agents
            .create_project(a, &format!("p{}", w.now_ms()))
            .await
            .map(drop),
        AgentScope::SecretsRead => agents.secrets(a, &project).await.map(drop),
        AgentScope::SecretsWrite => agents.rotate_secret(a, &secret).await.map(drop),
        AgentScope::MachinesRead => agents.machines(a).await.map(drop),
        AgentScope::MachinesWrite => agents
            .set_machine_enabled(a, &w.machine.id, true)
            .await
            .map(drop),
        AgentScope::AuditRead => agents
            .audit(
                a,
                &AuditFilter {
                    limit: 10,
                    ..AuditFilter::default()
                },
            )
            .await
            .map(drop),
    }
}

#[tokio::test]
async fn each_scope_allows_its_methods_and_nothing_else() {
    let w = world().await;
    for granted in AgentScope::ALL {
        let a = agent(&w, &[granted.as_str()], None).await;
        for tried in AgentScope::ALL {
            let got = try_scope(&w, &a, tried).await;
            if tried == granted {
                assert!(got.is_ok(), "{granted:?} must allow itself: {got:?}");
            } else {
                assert_eq!(
                    got.err(),
                    Some(CoreError::Forbidden),
                    "{granted:?} must not allow {tried:?}"
                );
            }
        }
    }
    // Every refusal was recorded, with the agent as the actor.
    let denied = w
        .store
        .audit(&AuditFilter {
            result: Some(AuditResult::Denied),
            limit: 1000,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    let by_agents: Vec<_> = denied
        .iter()
        .filter(|r| r.event.actor_kind == ActorKind::AiAgent)
        .collect();
    assert_eq!(
        by_agents.len(),
        AgentScope::ALL.len() * (AgentScope::ALL.len() - 1)
    );
    assert!(
        by_agents
            .iter()
            .all(|r| r.event.detail.contains("reason=agent_scope"))
    );
}

#[tokio::test]
async fn an_agent_key_never_passes_as_a_machine_and_a_machine_key_never_as_an_agent() {
    let w = world().await;
    let (seed, m) = pending(&w, "agent").await;
    let all: Vec<String> = AgentScope::ALL.map(|s| s.as_str().to_owned()).to_vec();
    AiAgents::of(&w.signet)
        .approve_as_agent(&w.owner, &m.id.to_string(), &fingerprint(&m), &all, None)
        .await
        .unwrap();
    let id = m.id.to_string();
    let mut parts = Vec::new();
    // Even with every scope, the machine read route is the uniform 401.
    let read = w
        .signet
        .auth()
        .authenticate_machine(&signed(&seed, &id, &w.machine.path, w.now_ms(), &mut parts))
        .await;
    assert_eq!(read.err(), Some(CoreError::Unauthenticated));
    // A granted machine's key on an agent route: the same 401.
    let as_agent = AiAgents::of(&w.signet)
        .authenticate(&signed(
            &w.machine.seed,
            &w.machine.id,
            "/v1/ai/whoami",
            w.now_ms(),
            &mut parts,
        ))
        .await;
    assert_eq!(as_agent.err(), Some(CoreError::Unauthenticated));
    // The refusal is recorded with its reason (later failures from the same source within the
    // interval are counted into one aggregated record: `crate::failures`).
    let records = w
        .store
        .audit(&AuditFilter {
            limit: 1000,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    let class = records
        .iter()
        .filter(|r| r.event.detail.contains("principal_class"))
        .count();
    assert!(class >= 1, "the refusal is audited");
}

#[tokio::test]
async fn an_agent_never_acts_on_an_agent_or_itself() {
    let w = world().await;
    let a = agent(&w, &["machines.write", "machines.read"], None).await;
    let (_, other) = pending(&w, "other-agent").await;
    let all = vec!["audit.read".to_owned()];
    AiAgents::of(&w.signet)
        .approve_as_agent(
            &w.owner,
            &other.id.to_string(),
            &fingerprint(&other),
            &all,
            None,
        )
        .await
        .unwrap();
    let agents = AiAgents::of(&w.signet);
    let me = a.machine.record.id.to_string();
    for target in [me.as_str(), &other.id.to_string()] {
        assert_eq!(
            agents.set_machine_enabled(&a, target, false).await.err(),
            Some(CoreError::Forbidden)
        );
        assert_eq!(
            agents.set_machine_enabled(&a, target, true).await.err(),
            Some(CoreError::Forbidden)
        );
        let secret = w.machine.secret.to_string();
        assert_eq!(
            agents.set_grant(&a, target, &secret, true).await.err(),
            Some(CoreError::Forbidden)
        );
    }
    // A pending agent-to-be cannot be approved by an agent either, and agents are not listed.
    let (_, fresh) = pending_via(&w, "fresh", EnrollMethod::Bootstrap).await;
    let listed = agents.machines(&a).await.unwrap();
    assert!(
        listed
            .iter()
            .all(|m| m.id != a.machine.record.id && m.id != other.id)
    );
    assert!(listed.iter().any(|m| m.id == fresh.id));
    // A wrong fingerprint is refused; the right one approves the machine as a machine.
    let wrong = fingerprint(&pending(&w, "decoy").await.1);
    assert!(matches!(
        agents
            .approve_machine(&a, &fresh.id.to_string(), &wrong)
            .await,
        Err(CoreError::BadRequest(_))
    ));
    let approved = agents
        .approve_machine(&a, &fresh.id.to_string(), &fingerprint(&fresh))
        .await
        .unwrap();
    assert_eq!(approved.status, "approved");
    let row = w.store.machine(&fresh.id).await.unwrap().unwrap();
    assert_eq!(
        row.ai_agent, None,
        "an agent approves machines, never agents"
    );
    // A tokenless request (anyone may file one) needs a person: with the right fingerprint
    // too, the agent gets the uniform 403, the refusal is audited, and the machine stays
    // pending, so a hijacked agent cannot admit an attacker's machine and grant it secrets.
    let (_, stranger) = pending(&w, "stranger").await;
    assert_eq!(
        agents
            .approve_machine(&a, &stranger.id.to_string(), &fingerprint(&stranger))
            .await
            .err(),
        Some(CoreError::Forbidden)
    );
    let row = w.store.machine(&stranger.id).await.unwrap().unwrap();
    assert_eq!(row.status, MachineStatus::Pending);
    let refusals = w
        .store
        .audit(&AuditFilter {
            action: Some("machine_approve".to_owned()),
            limit: 10,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert!(
        refusals
            .iter()
            .any(|r| r.event.result == AuditResult::Denied
                && r.event.detail.contains("tokenless_request")),
        "{refusals:?}"
    );
    // Unknown and malformed ids are the same 403 as an agent.
    assert_eq!(
        agents
            .set_machine_enabled(&a, &MachineId::generate().to_string(), false)
            .await
            .err(),
        Some(CoreError::Forbidden)
    );
    assert_eq!(
        agents.set_machine_enabled(&a, "../x", false).await.err(),
        Some(CoreError::Forbidden)
    );
}

#[tokio::test]
async fn the_allowlist_limits_projects_machines_and_the_audit_log() {
    let w = world().await;
    let other = w
        .signet
        .secrets()
        .create_project(&w.owner, "other")
        .await
        .unwrap();
    let hidden = w
        .signet
        .secrets()
        .create_secret(
            &w.owner,
            other.id.as_str(),
            "hidden",
            SecretInput::Value(Zeroizing::new("h".into())),
        )
        .await
        .unwrap();
    let all: Vec<&str> = AgentScope::ALL.map(AgentScope::as_str).to_vec();
    let only = vec![w.machine.project.to_string()];
    let a = agent(&w, &all, Some(&only)).await;
    let agents = AiAgents::of(&w.signet);
    let projects = agents.projects(&a).await.unwrap();
    assert_eq!(
        projects.iter().map(|p| p.id.clone()).collect::<Vec<_>>(),
        std::slice::from_ref(&w.machine.project)
    );
    assert_eq!(
        agents.secrets(&a, other.id.as_str()).await.err(),
        Some(CoreError::Forbidden)
    );
    assert_eq!(
        agents
            .create_secret(&a, other.id.as_str(), "x", AgentSecretValue::Generated)
            .await
            .err(),
        Some(CoreError::Forbidden)
    );
    assert_eq!(
        agents.rotate_secret(&a, hidden.id.as_str()).await.err(),
        Some(CoreError::Forbidden)
    );
    assert_eq!(
        agents.create_project(&a, "mine").await.err(),
        Some(CoreError::Forbidden)
    );
    assert_eq!(
        agents
            .audit(
                &a,
                &AuditFilter {
                    limit: 1,
                    ..AuditFilter::default()
                }
            )
            .await
            .err(),
        Some(CoreError::Forbidden)
    );
    // The machine attached to the allowed project is visible and manageable; a pending one
    // (attached nowhere) is neither.
    let machines = agents.machines(&a).await.unwrap();
    assert_eq!(machines.len(), 1);
    agents
        .set_machine_enabled(&a, &w.machine.id, false)
        .await
        .unwrap();
    let (_, fresh) = pending(&w, "fresh").await;
    assert_eq!(
        agents
            .approve_machine(&a, &fresh.id.to_string(), &fingerprint(&fresh))
            .await
            .err(),
        Some(CoreError::Forbidden)
    );
    // Granting a secret outside the allowlist is refused before anything is attached.
    assert_eq!(
        agents
            .set_grant(&a, &w.machine.id, hidden.id.as_str(), true)
            .await
            .err(),
        Some(CoreError::Forbidden)
    );
    let mid = MachineId::parse(&w.machine.id).unwrap();
    assert_eq!(
        w.store.memberships(&mid).await.unwrap(),
        std::slice::from_ref(&w.machine.project)
    );
}

#[tokio::test]
async fn operators_approve_agents_and_set_scopes_strictly() {
    let w = world().await;
    let ops = AiAgents::of(&w.signet);
    let (_, m) = pending(&w, "agent").await;
    let id = m.id.to_string();
    let bad = |s: &str| vec![s.to_owned()];
    for scopes in [
        bad("secrets.reveal"),
        bad("Projects.Read"),
        bad(""),
        vec!["audit.read".to_owned(), "audit.read".to_owned()],
    ] {
        assert!(matches!(
            ops.approve_as_agent(&w.owner, &id, &fingerprint(&m), &scopes, None)
                .await,
            Err(CoreError::BadRequest(_))
        ));
    }
    assert!(matches!(
        ops.approve_as_agent(
            &w.owner,
            &id,
            &fingerprint(&m),
            &bad("audit.read"),
            Some(&["proj_0000000000".to_owned()])
        )
        .await,
        Err(CoreError::BadRequest(_))
    ));
    // Below admin, no approval: developers and viewers do not manage machines.
    for role in [signet_store::Role::Viewer, signet_store::Role::Developer] {
        let low = AuthedOperator {
            role,
            ..w.owner.clone()
        };
        assert_eq!(
            ops.approve_as_agent(&low, &id, &fingerprint(&m), &bad("audit.read"), None)
                .await
                .err(),
            Some(CoreError::Forbidden)
        );
    }
    let (_, decoy) = pending(&w, "decoy").await;
    assert!(matches!(
        ops.approve_as_agent(
            &w.owner,
            &id,
            &fingerprint(&decoy),
            &bad("audit.read"),
            None
        )
        .await,
        Err(CoreError::BadRequest(_))
    ));
    assert_eq!(
        w.store.machine(&m.id).await.unwrap().unwrap().status,
        MachineStatus::Pending
    );

    let v = ops
        .approve_as_agent(&w.owner, &id, &fingerprint(&m), &bad("audit.read"), None)
        .await
        .unwrap();
    assert_eq!(v.scopes, ["audit.read"]);
    assert_eq!(v.machine.status, "approved");
    // Once approved, never again; an approved machine never becomes an agent.
    assert!(matches!(
        ops.approve_as_agent(&w.owner, &id, &fingerprint(&m), &bad("audit.read"), None)
            .await,
        Err(CoreError::Conflict(_))
    ));
    assert_eq!(
        ops.set_profile(&w.owner, &w.machine.id, &bad("audit.read"), None)
            .await
            .err(),
        Some(CoreError::NotFound)
    );
    let changed = ops
        .set_profile(&w.owner, &id, &bad("projects.read"), None)
        .await
        .unwrap();
    assert_eq!(changed.scopes, ["projects.read"]);
    let listed = ops.agents(&w.owner).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].machine.id, m.id);
    // The approval and the change are audited with the operator as the actor.
    let records = w
        .store
        .audit(&AuditFilter {
            limit: 1000,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    for action in ["ai_agent_approve", "ai_agent_scopes"] {
        assert!(records.iter().any(|r| r.event.action == action
            && r.event.actor_kind == ActorKind::Operator
            && r.event.result == AuditResult::Ok));
    }
}
