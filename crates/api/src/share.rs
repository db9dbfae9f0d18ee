//! Opening a one-time share link: no sign-in, the link's secret part and the passphrase are the
//! credential, and one attempt, right or wrong, uses the link up. Creating and listing links is
//! [`crate::admin::share`].

use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};
use zeroize::Zeroizing;

/// `POST /v1/share/open`. Its secrets are held in zeroizing memory.
#[derive(Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShareOpenRequest {
    /// The link's id (`shr_…`, before the `.` in the link's fragment).
    pub id: String,
    /// The link's secret part (after the `.`).
    #[schema(value_type = String)]
    pub secret: Zeroizing<String>,
    /// The passphrase the creator passed on separately.
    #[schema(value_type = String)]
    pub passphrase: Zeroizing<String>,
}

impl std::fmt::Debug for ShareOpenRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShareOpenRequest")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// `POST /v1/share/open`: the value, this once.
#[derive(Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ShareOpenAnswer {
    /// The shared value.
    #[schema(value_type = String)]
    pub value: Zeroizing<String>,
}

impl std::fmt::Debug for ShareOpenAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ShareOpenAnswer(***)")
    }
}

/// Opens a share link once. The first request with the link's id and secret part uses it up:
/// with the right passphrase it answers the value; with a wrong one, or after its expiry, the
/// link is destroyed and the answer is the uniform 403. An unknown id or a wrong secret part is
/// the same 403 and consumes nothing.
#[utoipa::path(operation_id = "share_open", post, path = "/v1/share/open", tag = "share",
    request_body = ShareOpenRequest,
    responses((status = 200, description = "The value, this once", body = ShareOpenAnswer),
              (status = 400, description = "Malformed request", body = crate::openapi::ErrorBody),
              (status = 403, description = "Wrong passphrase, expired, used up, revoked or no such link: one answer for all", body = crate::openapi::ErrorBody),
              (status = 429, description = "Source over its failure budget, or the hashing queue is full", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn open() {}

/// The share-opening route.
#[derive(OpenApi)]
#[openapi(
    paths(open),
    components(schemas(ShareOpenRequest, ShareOpenAnswer)),
    tags((name = "share", description = "Opening a one-time share link: unsigned; the link's \
                                        secret part and its passphrase are the credential."))
)]
pub struct Api;
