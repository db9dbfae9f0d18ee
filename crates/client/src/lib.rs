//! The Rust SDK for Signet.
//!
//! - [`identity`]: the identity files under `SIGNET_HOME` (default `~/.signet`), laid out like
//!   SikkerKey's so its SDKs can read them.
//! - [`MachineClient`]: a machine's signed reads (`docs/openapi.json`, tag `machine`; the
//!   answers are `signet_api`'s wire types), with the
//!   SikkerKey SDKs' retries (429, 503 and network failures; 1, 2, 4 s) and 15 s timeout.
//! - [`OperatorClient`]: the admin API, signed with an operator's key, one handle per area
//!   ([`Projects`], [`Secrets`], [`Machines`], [`Tokens`], [`Users`], [`Account`], [`Vault`],
//!   [`Audit`]): `client.secrets().list(project)`. Every answer is `signet_api`'s wire type.
//! - [`AgentClient`]: an AI agent's management calls (tag `ai-agent`), signed with its key like
//!   a machine's; none returns a value.
//! - [`enroll`]: the unsigned enrollment calls that create a machine identity.
//! - [`login`]: `signet login`, which trades a password and a second factor for an operator key.
//! - [`sso`]: `signet login --sso`, which signs in through the vault's OpenID provider in a
//!   browser and ends the same way, with a loopback listener receiving the redirect.
//! - [`SignedRequest`]: the low-level builder both clients use. With the non-default `tamper`
//!   feature (tests only) it is also the API for sending replays, stale timestamps and tampered
//!   requests; without it, the SDK has no way to send a request an honest client would not.
//!
//! No request is sent unless the server URL is `https://`, or `http://` to a loopback host.
//! Secret values come back as [`SecretValue`], which zeroizes on drop and never prints; buffers
//! inside the HTTP stack are outside this crate's reach, so the wiping is best effort.
//!
//! Among Signet's crates this one depends only on `signet-proto` and `signet-api` (the wire
//! contract): never on the server side.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod admin;
pub mod agent;
pub mod ai_agent;
pub mod enroll;
mod error;
pub mod events;
pub mod identity;
pub mod login;
mod machine;
mod operator;
mod request;
mod secret;
pub mod sso;

pub use admin::account::Account;
pub use admin::ai_agent::AiAgents;
pub use admin::alert::{Alerts, webhook_keys};
pub use admin::audit::Audit;
pub use admin::connection::Connections;
pub use admin::lease::Leases;
pub use admin::machine::Machines;
pub use admin::policy::Policies;
pub use admin::project::Projects;
pub use admin::secret::Secrets;
pub use admin::share::{Shares, open_share};
pub use admin::sso::Sso;
pub use admin::token::Tokens;
pub use admin::trash::Trash;
pub use admin::user::Users;
pub use admin::vault::Vault;
pub use ai_agent::AgentClient;
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
    ConnectionId, Fingerprint, Identity, InviteId, LeaseId, MachineId, OperatorId, PasskeyId,
    PolicyId, ProjectId, SecretId, SecretSeed, SessionId, ShareId, SsoMappingId, SsoProviderId,
    UserId, VaultId,
};
