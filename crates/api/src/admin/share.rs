//! One-time share links as their creators manage them: create (the link is answered once),
//! list, revoke. Opening a link is [`crate::share`]: it needs no sign-in.

use serde::{Deserialize, Serialize};
use signet_proto::{OperatorId, ShareId, UserId};
use utoipa::{OpenApi, ToSchema};
use zeroize::Zeroizing;

/// `POST /v1/admin/shares`. Its secrets are held in zeroizing memory.
#[derive(Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ShareCreateRequest {
    /// The value to share: UTF-8, at most 100 KB (102400 bytes; 413 above).
    #[schema(value_type = String)]
    pub value: Zeroizing<String>,
    /// What the reader must type to open the link: at least 8 characters.
    #[schema(value_type = String)]
    pub passphrase: Zeroizing<String>,
    /// How long the link works, in seconds: 60 (a minute) to 86400 (a day).
    pub ttl_seconds: u32,
}

impl std::fmt::Debug for ShareCreateRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShareCreateRequest")
            .field("ttl_seconds", &self.ttl_seconds)
            .finish_non_exhaustive()
    }
}

/// `POST /v1/admin/shares`: the link, shown this once. Its secret part is in the URL's fragment
/// (after `#`), which browsers never send to a server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ShareCreatedAnswer {
    /// The link's id (public: it names the link in lists and for revoking).
    #[schema(value_type = String)]
    pub id: ShareId,
    /// `<api URL>/#/s/<id>.<secret>`: pass it on privately, and the passphrase separately.
    #[schema(value_type = String)]
    pub url: Zeroizing<String>,
    /// When it stops working, Unix ms.
    pub expires_at: i64,
}

/// A share link as its creator sees it: never the value, the passphrase or the secret part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ShareAnswer {
    /// Its id.
    #[schema(value_type = String)]
    pub id: ShareId,
    /// `pending`, `viewed`, `destroyed` or `expired`.
    pub status: String,
    /// The operator key or session that created it.
    #[schema(value_type = String)]
    pub created_by: OperatorId,
    /// The user behind it; `null` for a headless `operator init` key.
    #[schema(value_type = Option<String>)]
    pub created_by_user: Option<UserId>,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms.
    pub expires_at: i64,
    /// When it stopped being pending (opened, destroyed, revoked or expired), Unix ms.
    pub closed_at: Option<i64>,
}

/// `GET /v1/admin/shares`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SharesAnswer {
    /// The caller's share links (an admin's or owner's: everyone's), newest first.
    pub shares: Vec<ShareAnswer>,
}

/// Creates a one-time share link; the answer holds the link, shown once.
#[utoipa::path(post, path = "/v1/admin/shares", tag = "admin",
    request_body = ShareCreateRequest,
    responses((status = 200, description = "Success", body = ShareCreatedAnswer),
              (status = 400, description = "Malformed request (lifetime outside 1 minute to 24 hours, short passphrase)", body = crate::openapi::ErrorBody),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (the caller's role, CSRF or step-up)", body = crate::openapi::ErrorBody),
              (status = 413, description = "The value is over 100 KB", body = crate::openapi::ErrorBody),
              (status = 429, description = "The passphrase hashing queue is full", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn create_share() {}

/// Lists the caller's share links (an admin's or owner's: everyone's) with their status.
#[utoipa::path(get, path = "/v1/admin/shares", tag = "admin",
    responses((status = 200, description = "Success", body = SharesAnswer),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (the caller's role, CSRF or step-up)", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn shares() {}

/// Revokes a pending share link: it is destroyed. Takes no body (or `{}`).
#[utoipa::path(post, path = "/v1/admin/shares/{id}/revoke", tag = "admin",
    params(("id" = String, Path, description = "The share link's id")),
    responses((status = 200, description = "Success", body = super::RevokedAnswer),
              (status = 400, description = "Malformed request", body = crate::openapi::ErrorBody),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed, or no such link of the caller's", body = crate::openapi::ErrorBody),
              (status = 409, description = "The link was opened, revoked or expired already", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn revoke_share() {}

/// The share routes of the operator API.
#[derive(OpenApi)]
#[openapi(
    paths(create_share, shares, revoke_share),
    components(schemas(ShareCreateRequest, ShareCreatedAnswer, ShareAnswer, SharesAnswer))
)]
pub struct Api;
