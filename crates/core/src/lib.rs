//! Signet's business rules.
//!
//! [`Signet`] is the one service the HTTP layer talks to. It authenticates signed requests,
//! authorises machine reads in the order the threat model fixes (cheapest first), manages
//! secrets, machines, tokens and the allowlist for operators, and writes every decision to the
//! hash-chained audit log before answering. It sees storage only through `signet_store::Store`:
//! no SQL, no HTTP types.
#![forbid(unsafe_code)]

pub mod account;
pub mod audit;
pub mod auth;
pub mod budget;
mod clock;
pub mod enrollment;
mod error;
pub mod failures;
pub mod fault;
pub mod invite;
pub mod machine;
pub mod network;
pub mod operator;
pub mod passkey;
pub mod read;
pub mod readiness;
pub mod role;
pub mod secret;
mod service;
pub mod session;
pub mod user;
pub mod vault;

pub use clock::{Clock, SystemClock};
pub use error::{CoreError, CoreResult};
pub use service::{Signet, SignetConfig};
/// The rule a conflicting write breaks, as [`CoreError::Conflict`] carries it.
pub use signet_store::Conflict;
