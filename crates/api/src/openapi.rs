//! The OpenAPI 3.1 document, generated from this crate's types.
//!
//! Each area module declares its routes with `#[utoipa::path]` on a body-less declaration
//! function (the handler lives in the server; the contract lives here) and gathers them in its
//! own `#[derive(OpenApi)] struct Api`. [`document`] merges the areas into one document, which
//! the server serves at `GET /v1/openapi.json` and `docs/openapi.json` keeps under review.

use serde::{Deserialize, Serialize};
use signet_proto::{
    HEADER_MACHINE_ID, HEADER_NONCE, HEADER_OPERATOR_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP,
};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

/// Every error answer: `{"error": "<message>", "code": "<code>"}`. The SikkerKey SDKs read
/// `error`; Signet's clients switch on `code`, which never changes once published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// A message safe to show to the caller.
    pub error: String,
    /// The stable error code.
    pub code: String,
    /// Only with `version_conflict`: the secret's current version, to read again and retry
    /// from. Absent from every other error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_version: Option<u32>,
}

/// The security schemes. A signed request (machine or operator) needs all four of its headers
/// at once, so each header is its own scheme and a route's requirement names the four together.
/// The browser session is its cookie, plus the CSRF header on state-changing requests.
struct SecuritySchemes;

/// `(scheme name, header, description)` for every header-borne scheme.
const HEADER_SCHEMES: [(&str, &str, &str); 6] = [
    (
        "machine_id",
        HEADER_MACHINE_ID,
        "The calling machine's id; the request is signed with its Ed25519 key.",
    ),
    (
        "operator_id",
        HEADER_OPERATOR_ID,
        "The calling operator key's id (the CLI); the request is signed with that key.",
    ),
    (
        "timestamp",
        HEADER_TIMESTAMP,
        "Unix seconds when the request was signed; accepted within 300 s of the server's clock.",
    ),
    (
        "nonce",
        HEADER_NONCE,
        "16 random bytes, base64; each is accepted once per principal.",
    ),
    (
        "signature",
        HEADER_SIGNATURE,
        "Base64 Ed25519 signature over `METHOD:path:timestamp:nonce:sha256(body)` \
         (docs/protocol.md).",
    ),
    (
        "csrf",
        "x-csrf-token",
        "A browser session's CSRF token; required with the session cookie on every \
         state-changing request.",
    ),
];

impl Modify for SecuritySchemes {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        for (name, header, description) in HEADER_SCHEMES {
            components.add_security_scheme(
                name,
                SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                    header,
                    description,
                ))),
            );
        }
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "__Host-signet_session",
                "The dashboard's session cookie (`signet_session` when the server is served \
                 over plain http to localhost).",
            ))),
        );
    }
}

/// What every area shares: the document's metadata, the security schemes and the error body.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Signet",
        description = "Self-hosted secrets manager. Machine routes are signed with Ed25519 \
                       (docs/protocol.md); operator routes with an operator key or a browser \
                       session.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    modifiers(&SecuritySchemes),
    components(schemas(ErrorBody))
)]
struct Base;

/// The whole document: the shared base, then every area's routes and schemas.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = Base::openapi();
    // One line per area module; an area missing here is missing from the document, which the
    // server's route test reports.
    let areas = [
        crate::health::Api::openapi(),
        crate::machine::Api::openapi(),
        crate::enroll::Api::openapi(),
        crate::auth::Api::openapi(),
        crate::admin::api(),
        crate::share::Api::openapi(),
        crate::events::Api::openapi(),
        crate::admin::alert::WellKnownApi::openapi(),
        crate::agent::Api::openapi(),
        crate::issuer::Api::openapi(),
        crate::sso::Api::openapi(),
        crate::ai_agent::Api::openapi(),
        crate::admin::keys::Api::openapi(),
    ];
    for area in areas {
        doc.merge(area);
    }
    doc
}

/// The document as the server serves it and `docs/openapi.json` keeps it: pretty JSON with a
/// trailing newline.
pub fn document_json() -> String {
    // Serialising a document built from literals and derived schemas cannot fail: every map
    // key is a string and every value plain JSON.
    #[allow(clippy::expect_used)]
    let mut text = document()
        .to_pretty_json()
        .expect("the OpenAPI document serialises");
    text.push('\n');
    text
}
