//! The admin API's typed calls, one module per noun: each method sends one route of
//! `signet_api::route::admin` and decodes its answer into `signet_api::admin`'s type. The calls
//! hang off one small handle per area (`client.secrets()`, `client.vault()`, ...), so no type
//! grows a method per route.

pub mod account;
pub mod ai_agent;
pub mod alert;
mod allowlist;
pub mod audit;
mod budget;
pub mod connection;
pub mod issuer;
pub mod keys;
pub mod lease;
pub mod machine;
pub mod managed;
mod operator;
mod passkey;
pub mod policy;
pub mod project;
pub mod rotation;
pub mod secret;
pub mod share;
pub mod sso;
pub mod token;
pub mod trash;
pub mod user;
pub mod vault;

use crate::error::ClientError;

/// A route's path with its `{name}` parameters filled in. The signer refuses a path that is not
/// canonical, so an id that would change the route's shape is never sent.
pub(crate) fn path(template: &str, params: &[(&str, &str)]) -> String {
    let mut out = template.to_owned();
    for (name, value) in params {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

/// Encodes a request body.
pub(crate) fn body<T: serde::Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, ClientError> {
    serde_json::to_vec(value).map_err(|e| ClientError::decode("request body", e))
}
