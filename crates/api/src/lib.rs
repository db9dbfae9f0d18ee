//! Signet's wire contract.
//!
//! Everything a client and the server must agree on lives here, once: the path of every route,
//! the typed body of every request and answer, and the table of stable error codes. The server
//! maps the business layer's domain types to these types; the SDK decodes them; the OpenAPI
//! document is generated from them. Pure: no I/O, no async, no dependency on the server's
//! framework or any storage driver.
#![forbid(unsafe_code)]

pub mod admin;
pub mod agent;
pub mod ai_agent;
pub mod audit;
pub mod auth;
pub mod enroll;
pub mod error;
pub mod events;
pub mod health;
pub mod issuer;
pub mod machine;
pub mod openapi;
pub mod route;
pub mod share;
pub mod sso;
pub mod wire_id;
