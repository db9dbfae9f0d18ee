//! HTTP routes, one module per audience.

pub(crate) mod account;
pub(crate) mod admin;
pub(crate) mod agent;
pub(crate) mod ai_agent;
pub(crate) mod alert;
pub(crate) mod auth;
pub(crate) mod enroll;
pub(crate) mod events;
pub(crate) mod health;
pub(crate) mod issuer;
pub(crate) mod keys;
pub(crate) mod machine;
pub(crate) mod openapi;
pub(crate) mod passkey;
pub(crate) mod share;
pub(crate) mod sso;
pub(crate) mod user;
