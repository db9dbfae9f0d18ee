//! Signet's machine-authentication protocol, the wire forms of ids, and the identity files.
//!
//! Everything here is pure: no files, no sockets, no clocks, no async. The server and every
//! client build the signed string with the same code, so it is defined exactly once
//! (`docs/protocol.md` is its normative description; `testdata/vectors/` its conformance tests).
#![forbid(unsafe_code)]

pub mod archive;
pub mod enrollment;
pub mod id;
pub mod identity;
pub mod key;
pub mod loopback;
pub mod request;
pub mod web_url;
pub mod webhook;

pub use enrollment::{EnrollmentProof, PROOF_DOMAIN, proof_message, token_digest};
pub use id::{
    AlertRuleId, CeremonyId, ConnectionId, DeliveryId, IdError, InviteId, LeaseId, MachineId,
    OperatorId, PasskeyId, PolicyId, ProjectId, SecretId, SessionId, ShareId, UserId, VaultId,
    WebhookId,
};
pub use id::{IssuerId, IssuerRuleId, SsoAttemptId, SsoMappingId, SsoProviderId};
pub use identity::{Identity, IdentityError};
pub use key::{Fingerprint, KeyError, PublicKey, SecretSeed};
pub use request::{
    BodyHash, CLOCK_WINDOW_SECS, CanonicalPath, HEADER_MACHINE_ID, HEADER_NONCE,
    HEADER_OPERATOR_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP, Method, Nonce, ProtocolError,
    SignatureB64, SignedHeaders, Timestamp,
};
