//! AI agents: a machine row with a profile.

use std::sync::Arc;

use super::fixture::{self, add_project, add_secret};
use crate::{AiAgentProfile, MachineRecord, MachineStatus, Store, StoreError};

fn profile(scopes: &[&str]) -> AiAgentProfile {
    AiAgentProfile {
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        projects: None,
    }
}

/// A machine reads back without a profile; an agent inserted with one reads it back, in the
/// lookup, the policy-stamped lookup and the listing.
pub async fn an_agent_profile_round_trips(store: Arc<dyn Store>) {
    let p = add_project(&store, "p").await;
    let plain = fixture::machine("plain");
    let agent = MachineRecord {
        ai_agent: Some(AiAgentProfile {
            scopes: vec!["projects.read".to_owned(), "audit.read".to_owned()],
            projects: Some(vec![p.id.clone()]),
        }),
        created_ms: fixture::NOW + 1,
        ..fixture::machine("agent")
    };
    store.insert_machine(&plain).await.unwrap();
    store.insert_machine(&agent).await.unwrap();
    assert_eq!(
        store.machine(&plain.id).await.unwrap().unwrap().ai_agent,
        None
    );
    assert_eq!(store.machine(&agent.id).await.unwrap(), Some(agent.clone()));
    let at = store.machine_at_policy(&agent.id).await.unwrap();
    assert_eq!(at.machine, Some(agent.clone()));
    assert_eq!(store.machines().await.unwrap(), [agent, plain]);
}

/// Only a pending machine is approved as an agent, and approval drops whatever it held.
pub async fn only_a_pending_machine_becomes_an_agent(store: Arc<dyn Store>) {
    let p = add_project(&store, "p").await;
    let s = add_secret(&store, &p.id, "s").await;
    let pending = fixture::machine("pending");
    store.insert_machine(&pending).await.unwrap();
    store.attach(&pending.id, &p.id).await.unwrap();
    store.grant(&pending.id, &s.id).await.unwrap();
    let approved = fixture::add_machine(&store, "approved").await;

    let scopes = profile(&["secrets.write"]);
    assert_eq!(
        store.approve_agent(&approved.id, &scopes).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        store.machine(&approved.id).await.unwrap().unwrap().ai_agent,
        None
    );
    store.approve_agent(&pending.id, &scopes).await.unwrap();
    let got = store.machine(&pending.id).await.unwrap().unwrap();
    assert_eq!(got.status, MachineStatus::Approved);
    assert_eq!(got.ai_agent, Some(scopes.clone()));
    assert!(store.memberships(&pending.id).await.unwrap().is_empty());
    assert!(store.grants(&pending.id).await.unwrap().is_empty());
    // Approved now, so not again.
    assert_eq!(
        store.approve_agent(&pending.id, &scopes).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        store
            .approve_agent(&signet_proto::MachineId::generate(), &scopes)
            .await,
        Err(StoreError::NotFound)
    );
}

/// Only an agent's profile changes; a machine never becomes an agent this way.
pub async fn only_an_agent_profile_changes(store: Arc<dyn Store>) {
    let p = add_project(&store, "p").await;
    let agent = fixture::machine("agent");
    store.insert_machine(&agent).await.unwrap();
    store
        .approve_agent(&agent.id, &profile(&["audit.read"]))
        .await
        .unwrap();
    let narrowed = AiAgentProfile {
        scopes: vec!["projects.read".to_owned()],
        projects: Some(vec![p.id.clone()]),
    };
    store.set_agent_profile(&agent.id, &narrowed).await.unwrap();
    assert_eq!(
        store.machine(&agent.id).await.unwrap().unwrap().ai_agent,
        Some(narrowed.clone())
    );
    let empty = profile(&[]);
    store.set_agent_profile(&agent.id, &empty).await.unwrap();
    assert_eq!(
        store.machine(&agent.id).await.unwrap().unwrap().ai_agent,
        Some(empty.clone())
    );

    let plain = fixture::add_machine(&store, "plain").await;
    assert_eq!(
        store.set_agent_profile(&plain.id, &narrowed).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        store.machine(&plain.id).await.unwrap().unwrap().ai_agent,
        None
    );
}
