//! Users: listing, creating, inviting, and the per-user actions.

use signet_api::admin::user::{
    CreateUserRequest, CreatedUserAnswer, InviteRequest, InvitedAnswer, InvitesAnswer, UserAction,
    UserActionAnswer, UserAnswer, UserRoleRequest, UsersAnswer,
};
use signet_api::admin::{DeletedFlagAnswer, RevokedAnswer};
use signet_api::route::admin as route;
use signet_proto::{InviteId, UserId};
use zeroize::Zeroizing;

use crate::error::ClientError;
use crate::operator::OperatorClient;

/// Users, invitations and the per-user actions: `client.users()`.
#[derive(Clone, Copy)]
pub struct Users<'a> {
    /// The signed client every call goes through.
    pub(super) client: &'a OperatorClient,
}

impl OperatorClient {
    /// Calls on users and invitations (owners and admins).
    pub fn users(&self) -> Users<'_> {
        Users { client: self }
    }
}

impl Users<'_> {
    /// `GET /v1/admin/users`.
    pub async fn list(&self) -> Result<UsersAnswer, ClientError> {
        self.client.call("GET", route::USERS, &[]).await
    }

    /// `POST /v1/admin/users`: creates a user; the answer's TOTP URI and recovery codes are
    /// shown once. The encoded body, which holds the password, is wiped after sending.
    pub async fn create(&self, user: &CreateUserRequest) -> Result<CreatedUserAnswer, ClientError> {
        let body = Zeroizing::new(super::body(user)?);
        self.client.call("POST", route::USERS, &body).await
    }
}

impl Users<'_> {
    /// `POST /v1/admin/users/invite`: answers the invitation link, shown once.
    pub async fn invite(&self, invite: &InviteRequest) -> Result<InvitedAnswer, ClientError> {
        let body = super::body(invite)?;
        self.client.call("POST", route::USERS_INVITE, &body).await
    }

    /// `GET /v1/admin/users/invites`: every invitation and its state.
    pub async fn invites(&self) -> Result<InvitesAnswer, ClientError> {
        self.client.call("GET", route::USERS_INVITES, &[]).await
    }

    /// `POST /v1/admin/users/invites/{id}/revoke`.
    pub async fn revoke_invite(&self, id: &InviteId) -> Result<RevokedAnswer, ClientError> {
        let path = super::path(route::USERS_INVITE_REVOKE, &[("id", &id.to_string())]);
        self.client.call("POST", &path, &[]).await
    }

    /// `POST /v1/admin/users/{id}/role`: changes a user's role and project scope; answers the
    /// user after.
    pub async fn set_role(
        &self,
        id: &UserId,
        change: &UserRoleRequest,
    ) -> Result<UserAnswer, ClientError> {
        let body = super::body(change)?;
        match self.user_action(id, UserAction::Role, &body).await? {
            UserActionAnswer::User(u) => Ok(u),
            UserActionAnswer::Deleted(_) => Err(unexpected()),
        }
    }

    /// `POST /v1/admin/users/{id}/suspend` (`active == false`) or `.../activate`; answers the
    /// user after.
    pub async fn set_active(&self, id: &UserId, active: bool) -> Result<UserAnswer, ClientError> {
        let action = if active {
            UserAction::Activate
        } else {
            UserAction::Suspend
        };
        match self.user_action(id, action, &[]).await? {
            UserActionAnswer::User(u) => Ok(u),
            UserActionAnswer::Deleted(_) => Err(unexpected()),
        }
    }

    /// `POST /v1/admin/users/{id}/delete`: removes a user for good.
    pub async fn remove(&self, id: &UserId) -> Result<DeletedFlagAnswer, ClientError> {
        match self.user_action(id, UserAction::Delete, &[]).await? {
            UserActionAnswer::Deleted(d) => Ok(d),
            UserActionAnswer::User(_) => Err(unexpected()),
        }
    }

    async fn user_action(
        &self,
        id: &UserId,
        action: UserAction,
        body: &[u8],
    ) -> Result<UserActionAnswer, ClientError> {
        let path = super::path(
            route::USER_ACTION,
            &[("id", &id.to_string()), ("action", action.as_str())],
        );
        self.client.call("POST", &path, body).await
    }
}

/// A user action answered with the other action's shape.
fn unexpected() -> ClientError {
    ClientError::Decode {
        what: "user action answer of the wrong shape",
        source: None,
    }
}
