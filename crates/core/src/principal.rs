//! Who is acting: a machine or an operator whose request authenticated. Every service takes
//! one of these; they live below the services so that authentication, the audit log and the
//! permission checks can all name them without importing each other.

use std::sync::Arc;

use signet_proto::{MachineId, OperatorId, SessionId, UserId};
use signet_store::{AccessStamp, MachineRecord, OperatorRecord, Role, SignedEvidence};

use crate::address::ClientAddr;
use crate::role::Scope;

/// A machine whose request authenticated and whose state allows it to ask.
#[derive(Debug, Clone)]
pub struct AuthedMachine {
    /// The machine as it was at this request.
    pub record: MachineRecord,
    /// Where the request came from.
    pub source_ip: ClientAddr,
    /// What it signed, kept with every audit record of this request so that an auditor can
    /// check offline that the machine itself asked; `None` only where no signed request exists
    /// (tests that build a machine directly).
    pub evidence: Option<Arc<SignedEvidence>>,
    /// The store's access stamp read for this request, after it arrived (with its nonce), if
    /// it was read: the read path uses a cached view only if it was read at exactly this stamp.
    /// `None` (a principal made without a signed request) never uses the view cache.
    pub access_stamp: Option<AccessStamp>,
}

/// An operator whose request authenticated: a signed request from an operator key, or a
/// browser session (`crate::session`).
#[derive(Debug, Clone)]
pub struct AuthedOperator {
    /// The acting principal: the key's id, or the session's own operator id. Audit records and
    /// `created_by` fields name it.
    pub id: OperatorId,
    /// The key's label, or `browser` for a session.
    pub name: String,
    /// Whether it is the headless owner key made by `signet operator init`.
    pub owner: bool,
    /// The signed-in user behind it; `None` for a headless `operator init` key.
    pub user_id: Option<UserId>,
    /// Set when the request came with a browser session cookie.
    pub session: Option<SessionGrant>,
    /// The role this request acts with, resolved once at authentication (`crate::role`).
    pub role: Role,
    /// The projects this request may touch, resolved with the role.
    pub scope: Scope,
    /// Where the request came from.
    pub source_ip: ClientAddr,
    /// Set only on the stand-in `crate::ai_agent` builds for an AI agent's request inside core:
    /// audit records then name the agent (`ai_agent` actor) instead of an operator.
    pub ai_agent: Option<MachineId>,
}

/// What a browser session brings to a request beyond its user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionGrant {
    /// The session.
    pub id: SessionId,
    /// When a second factor was last given in it, Unix ms (step-up).
    pub step_up_ms: Option<i64>,
}

impl AuthedOperator {
    /// An operator authenticated by a signed request with `key`.
    pub fn key(key: OperatorRecord, role: Role, source_ip: ClientAddr) -> Self {
        Self {
            id: key.id,
            name: key.name,
            owner: key.owner,
            user_id: key.user_id,
            session: None,
            role,
            scope: Scope::All,
            source_ip,
            ai_agent: None,
        }
    }
}
