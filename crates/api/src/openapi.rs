//! The OpenAPI 3.1 document, generated from this crate's types.
//!
//! Each area module declares its routes with `#[utoipa::path]` on a body-less declaration
//! function (the handler lives in the server; the contract lives here) and gathers them in its
//! own `#[derive(OpenApi)] struct Api`. [`document`] merges the areas into one document, which
//! the server serves at `GET /v1/openapi.json` and `docs/openapi.json` keeps under review.

use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

/// Every error answer: `{"error": "<message>", "code": "<code>"}`. The SikkerKey SDKs read
/// `error`; Signet's clients switch on `code`, which never changes once published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// A message safe to show to the caller.
    pub error: String,
    /// The stable error code.
    pub code: String,
}

/// What every area shares: the document's metadata and the error body.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Signet",
        description = "Self-hosted secrets manager. Machine routes are signed with Ed25519 \
                       (docs/protocol.md); operator routes with an operator key or a browser \
                       session.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    components(schemas(ErrorBody))
)]
struct Base;

/// The whole document: the shared base, then every area's routes and schemas.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = Base::openapi();
    // One line per area module; an area missing here is missing from the document, which the
    // server's route test reports.
    let areas: [utoipa::openapi::OpenApi; 1] = [crate::admin::api()];
    for area in areas {
        doc.merge(area);
    }
    doc
}
