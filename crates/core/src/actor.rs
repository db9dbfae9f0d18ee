//! Who is behind an audit actor id, for people reading the log or a secret's history.
//!
//! A browser session acts as its own operator principal (a fresh id per session), so an audit
//! record or a version's `created_by` names a key nobody recognises. The person is found from
//! what is already stored: an operator key carries its `user_id`, and a session's principal is
//! named by the `session_open` record its sign-in wrote (`detail` `user=<id>`). Raw ids stay in
//! every answer; the names are an addition for people.

use std::collections::{BTreeSet, HashMap};

use signet_api::audit::AuditAction;
use signet_proto::{MachineId, OperatorId, UserId};
use signet_store::{ActorKind, AuditFilter};

use crate::CoreResult;
use crate::context::Context;

/// Pages of `session_open` records read when collecting a person's sessions: past this the
/// search covers the newest sessions only (each page holds 1000).
const SESSION_PAGES: usize = 20;

/// The person (or machine) behind an actor id, as shown to people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActorName {
    /// The user behind an operator key or session; `None` for a machine or a headless key.
    pub user_id: Option<UserId>,
    /// The username, a machine's name, or a headless key's label.
    pub name: String,
}

/// The user named in a `session_open` record's detail (`user=<id>`, maybe with more pairs).
fn user_in_detail(detail: &str) -> Option<UserId> {
    detail
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("user="))
        .and_then(|id| UserId::parse(id).ok())
}

/// Resolves actor ids to names, remembering each answer for the rest of one request.
pub(crate) struct ActorNames<'a> {
    cx: &'a Context,
    known: HashMap<(&'static str, String), Option<ActorName>>,
}

impl<'a> ActorNames<'a> {
    pub(crate) fn new(cx: &'a Context) -> Self {
        Self {
            cx,
            known: HashMap::new(),
        }
    }

    /// The name behind `id` of kind `kind`; `None` when nobody is known (anonymous, system,
    /// a removed user, a session whose sign-in record was archived).
    pub(crate) async fn name(
        &mut self,
        kind: ActorKind,
        id: &str,
    ) -> CoreResult<Option<ActorName>> {
        let key = (kind.as_str(), id.to_owned());
        if let Some(known) = self.known.get(&key) {
            return Ok(known.clone());
        }
        let found = match kind {
            ActorKind::Operator => self.operator(id).await?,
            ActorKind::Machine | ActorKind::AiAgent => match MachineId::parse(id) {
                Ok(mid) => self.cx.store.machine(&mid).await?.map(|m| ActorName {
                    user_id: None,
                    name: m.name,
                }),
                Err(_) => None,
            },
            ActorKind::Anonymous | ActorKind::System => None,
        };
        self.known.insert(key, found.clone());
        Ok(found)
    }

    async fn operator(&self, id: &str) -> CoreResult<Option<ActorName>> {
        let Ok(oid) = OperatorId::parse(id) else {
            return Ok(None);
        };
        let user_id = match self.cx.store.operator(&oid).await? {
            Some(key) => match key.user_id {
                Some(u) => Some(u),
                // A headless `signet operator init` key: its label is all there is.
                None => {
                    return Ok(Some(ActorName {
                        user_id: None,
                        name: key.name,
                    }));
                }
            },
            None => {
                // A session's principal: its sign-in record names the user.
                let opened = self
                    .cx
                    .store
                    .audit(&AuditFilter {
                        actor_id: Some(id.to_owned()),
                        action: Some(AuditAction::SessionOpen.as_str().to_owned()),
                        limit: 1,
                        ..AuditFilter::default()
                    })
                    .await?;
                opened.first().and_then(|r| user_in_detail(&r.event.detail))
            }
        };
        let Some(user_id) = user_id else {
            return Ok(None);
        };
        Ok(self.cx.store.user(&user_id).await?.map(|u| ActorName {
            user_id: Some(u.id),
            name: u.username,
        }))
    }
}

/// Every actor id a person has acted under: their user id, their operator keys, and the
/// principals of their browser sessions (newest `SESSION_PAGES` thousand sign-ins).
pub(crate) async fn ids_of_person(cx: &Context, user: &UserId) -> CoreResult<BTreeSet<String>> {
    let mut ids = BTreeSet::from([user.to_string()]);
    for key in cx.store.operators().await? {
        if key.user_id.as_ref() == Some(user) {
            ids.insert(key.id.to_string());
        }
    }
    let mut before_seq = None;
    for _ in 0..SESSION_PAGES {
        let page = cx
            .store
            .audit(&AuditFilter {
                action: Some(AuditAction::SessionOpen.as_str().to_owned()),
                before_seq,
                limit: 1000,
                ..AuditFilter::default()
            })
            .await?;
        for r in &page {
            if user_in_detail(&r.event.detail).as_ref() == Some(user) {
                ids.insert(r.event.actor_id.clone());
            }
        }
        match page.last() {
            Some(last) if page.len() == 1000 => before_seq = Some(last.seq),
            _ => break,
        }
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detail_names_the_user() {
        let u = UserId::generate();
        assert_eq!(user_in_detail(&format!("user={u}")), Some(u));
        assert_eq!(user_in_detail(&format!("user={u} provider=p")), Some(u));
        assert_eq!(user_in_detail("provider=p"), None);
        assert_eq!(user_in_detail("user=not-an-id"), None);
    }
}
