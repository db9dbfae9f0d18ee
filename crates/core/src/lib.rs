//! Signet's business rules.
//!
//! [`Signet`] is what the HTTP layer talks to: it opens the vault and hands out one service per
//! area (`signet.auth()`, `signet.reads()`, `signet.secrets()`, `signet.machines()`, ...), all
//! over one shared context. The services authenticate signed requests, authorise machine reads
//! in the order the threat model fixes (cheapest first), manage secrets, machines, tokens and
//! the allowlist for operators, and write every decision to the hash-chained audit log before
//! answering. They see storage only through `signet_store::Store`: no SQL, no HTTP types.
//!
//! Layering, lowest first (a module imports only from lower ones; `tests/layering.rs` fails on
//! an import circle): pure pieces (`clock`, `error`, `address`, `role`, `principal`, `chain`,
//! `failures`, `readiness`, `name`, `provision`, `duration`) → `context` → the audit writer `journal` and the checks
//! `permission` (both implemented on the context) → the services.
#![forbid(unsafe_code)]

pub mod account;
pub mod actor;
pub mod address;
pub mod ai_agent;
pub mod alert;
pub mod audit;
pub mod audit_device;
pub mod auth;
pub mod budget;
pub mod ceiling;
mod chain;
mod clock;
pub mod connection;
mod context;
pub mod duration;
pub mod enrollment;
mod error;
pub mod events;
pub mod failures;
pub mod fault;
pub mod invite;
pub mod issuer;
mod journal;
pub mod keyring;
pub mod lease;
pub mod machine;
pub mod managed;
pub mod metrics;
mod name;
pub mod network;
pub mod operator;
pub mod passkey;
mod permission;
pub mod platform_token;
pub mod policy;
pub mod principal;
pub mod project_key;
pub mod provision;
pub mod read;
pub mod readiness;
mod registration;
pub mod role;
pub mod root_rotation;
pub mod rotation;
pub mod secret;
mod service;
pub mod session;
pub mod share;
pub mod sso;
mod stamped;
pub mod trash;
pub mod user;
pub mod vault;
pub mod webhook;

pub use chain::ChainKey;
pub use clock::{Clock, SystemClock};
pub use context::SignetConfig;
pub use error::{CoreError, CoreResult};
pub use service::Signet;
/// The rule a conflicting write breaks, as [`CoreError::Conflict`] carries it.
pub use signet_store::Conflict;
