//! The Rust SDK for Signet.
//!
//! - [`identity`]: the identity files under `SIGNET_HOME` (default `~/.signet`), laid out like
//!   SikkerKey's so its SDKs can read them.
//! - [`MachineClient`]: a machine's signed reads (`docs/openapi.json`, tag `machine`; the
//!   answers are `signet_api`'s wire types), with the
//!   SikkerKey SDKs' retries (429, 503 and network failures; 1, 2, 4 s) and 15 s timeout.
//! - [`OperatorClient`]: the admin API, signed with an operator's key.
//! - [`enroll`]: the unsigned enrollment calls that create a machine identity.
//! - [`login`]: `signet login`, which trades a password and a second factor for an operator key.
//! - [`SignedRequest`]: the low-level builder both clients use. With the non-default `tamper`
//!   feature (tests only) it is also the API for sending replays, stale timestamps and tampered
//!   requests; without it, the SDK has no way to send a request an honest client would not.
//!
//! No request is sent unless the server URL is `https://`, or `http://` to a loopback host.
//! Secret values come back as [`SecretValue`], which zeroizes on drop and never prints; buffers
//! inside the HTTP stack are outside this crate's reach, so the wiping is best effort.
//!
//! This crate depends only on `signet-proto` among Signet's crates: never on the server side.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod admin;
pub mod enroll;
mod error;
pub mod identity;
pub mod login;
mod machine;
mod operator;
mod request;
mod secret;

pub use error::{ClientError, ErrorCode, HttpErrorKind, IdentityFileError};
pub use identity::{Credentials, OperatorIdentity, SignetHome};
pub use machine::{
    CliProject, CliSecret, ExportedSecret, MachineClient, MachineWhoami, SecretChange,
    SecretSummary,
};
pub use operator::{OperatorClient, SecretContent};
#[cfg(feature = "tamper")]
pub use request::SignOverrides;
pub use request::{
    ClientOptions, PreparedRequest, Principal, RawResponse, SignedRequest, Signer, unix_now,
};
pub use secret::SecretValue;
/// The wire contract's types, which the typed calls take and return.
pub use signet_api as api;
pub use signet_proto::{
    Fingerprint, Identity, InviteId, MachineId, OperatorId, PasskeyId, ProjectId, SecretId,
    SecretSeed, SessionId, UserId, VaultId,
};
