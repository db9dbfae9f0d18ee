//! Operator keys. The owner's key is created on the server host with file access
//! (`signet operator init`), never over the network.

use std::sync::Arc;

use signet_api::audit::AuditAction;
use signet_proto::{OperatorId, SecretSeed};
use signet_store::{ActorKind, AuditResult, OperatorRecord};

use crate::context::Context;
use crate::journal::Actor;
use crate::{CoreError, CoreResult};

/// Headless operator keys (`signet operator init`).
#[derive(Clone)]
pub struct Operators {
    /// The shared store, keys, clock, audit writer and permission checks.
    pub(crate) cx: Arc<Context>,
}

impl Operators {
    /// Creates an operator key pair. The private seed is returned to be written to the caller's
    /// identity file; the store keeps only the public key.
    pub async fn create_operator(
        &self,
        name: &str,
        owner: bool,
    ) -> CoreResult<(OperatorRecord, SecretSeed)> {
        if !(1..=255).contains(&name.chars().count()) || name.chars().any(char::is_control) {
            return Err(CoreError::bad("operator name must be 1-255 characters"));
        }
        let seed = SecretSeed::generate();
        let rec = OperatorRecord {
            id: OperatorId::generate(),
            name: name.to_owned(),
            public_key: seed.public_key(),
            owner,
            disabled: false,
            created_ms: self.cx.now_ms(),
            // The headless key belongs to no user and never expires: it is how an installation
            // is administered before (or without) accounts.
            user_id: None,
            expires_ms: None,
        };
        let e = self.cx.event(
            &Actor::new(ActorKind::System, "", "local"),
            AuditAction::OperatorCreate,
            &rec.id.to_string(),
            AuditResult::Ok,
            &format!("owner={owner}"),
        );
        self.cx.audited_event(e).insert_operator(&rec).await?;
        Ok((rec, seed))
    }
}
