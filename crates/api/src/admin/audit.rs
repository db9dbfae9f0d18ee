//! The audit log: reading it, and verifying its hash chain.

use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

/// `POST /v1/admin/audit/query`: a filter; every field is optional (the body may be empty).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuditQueryRequest {
    /// Most records to return; default 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// Only records before this sequence number (the next page).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before_seq: Option<u64>,
    /// Only this actor's records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_id: Option<String>,
    /// Only this person's records (a user id): under any of their operator keys and browser
    /// sessions. Replaces `actorId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_user_id: Option<String>,
    /// Only this action, or, when the text names no action exactly, every action containing
    /// it (case ignored; `.`, `-` and spaces read as `_`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// Only this result: `ok`, `denied` or `failed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    /// Only records at or after this time, Unix ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since_ms: Option<i64>,
    /// Only records before this time, Unix ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until_ms: Option<i64>,
}

/// One audit record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditRecordAnswer {
    /// Position in the chain.
    pub seq: u64,
    /// Unix ms.
    pub ts: i64,
    /// `machine`, `operator`, `anonymous` or `system`.
    pub actor_kind: String,
    /// The actor's id.
    pub actor_id: String,
    /// Who the actor is, for people: the username behind an operator key or browser session,
    /// or a machine's name; absent when nobody is known (anonymous, system, a removed user).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_name: Option<String>,
    /// The user behind an operator key or browser session, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_user_id: Option<String>,
    /// What happened: one of [`AuditAction`](crate::audit::AuditAction)'s texts (text, so a
    /// newer server's actions still read).
    pub action: String,
    /// To what.
    pub target: String,
    /// From where.
    pub source_ip: String,
    /// `ok`, `denied` or `failed`.
    pub result: String,
    /// Context: `key=value` pairs; for a refusal, its
    /// [`DenialReason`](crate::audit::DenialReason), alone or as `reason=…`.
    pub detail: String,
    /// The record's link, hex.
    pub hash: String,
    /// What the machine signed, on a record written for an authenticated machine request
    /// (absent on other records and on records written before it was kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<AuditEvidenceAnswer>,
}

/// What a machine signed for the request a record was written for: the signing string is
/// `method:path:timestamp:nonce:bodySha256` (`docs/protocol.md` §2), and `signature` must
/// verify over it with the machine's public key (`signet audit verify --signatures`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEvidenceAnswer {
    /// The HTTP method as signed.
    pub method: String,
    /// The canonical path as signed.
    pub path: String,
    /// `X-Timestamp`, Unix seconds.
    pub timestamp: i64,
    /// `X-Nonce`.
    pub nonce: String,
    /// SHA-256 of the body, lower-case hex.
    pub body_sha256: String,
    /// The Ed25519 signature, standard base64.
    pub signature: String,
}

/// `POST /v1/admin/audit/query`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AuditRecordsAnswer {
    /// The matching records, newest first.
    pub records: Vec<AuditRecordAnswer>,
}

/// `POST /v1/admin/audit/verify`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerifyAnswer {
    /// Whether the whole chain checked out.
    pub ok: bool,
    /// How many records were checked.
    pub records: u64,
    /// The stored head's sequence number.
    pub head_seq: Option<u64>,
    /// The first record that failed, if any.
    pub first_bad_seq: Option<u64>,
    /// What was wrong, in words.
    pub problem: Option<String>,
}

/// The signed close of one archived segment, as the server lists it and as it is stored next
/// to the segment's file (`docs/protocol.md` §21).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CheckpointAnswer {
    /// The format version, 1.
    pub version: u32,
    /// The segment's first record.
    pub first_seq: u64,
    /// Its last record.
    pub last_seq: u64,
    /// How many records it holds.
    pub records: u64,
    /// The last record's hash, hex: the live chain continues after it.
    pub last_hash: String,
    /// The previous checkpoint's hash, hex (zeros for the first).
    pub prev_checkpoint: String,
    /// SHA-256 of the segment file, hex.
    pub segment_sha256: String,
    /// The vault's archive public key, standard base64.
    pub public_key: String,
    /// The archive key's Ed25519 signature, standard base64.
    pub signature: String,
}

/// `POST /v1/admin/audit/archive`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ArchiveAnswer {
    /// The segments archived by this call, oldest first (empty when no segment was full).
    pub segments: Vec<CheckpointAnswer>,
    /// Full segments remain that this call left for the next one: each call stops after a few
    /// seconds of work so that no client times out on a long backlog. Call again until `false`.
    #[serde(default)]
    pub more: bool,
}

/// `GET /v1/admin/audit/checkpoints`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CheckpointsAnswer {
    /// The vault's archive public key, standard base64: the only key a checkpoint may be
    /// signed with.
    pub public_key: String,
    /// Every archived segment's checkpoint, oldest first.
    pub checkpoints: Vec<CheckpointAnswer>,
}

/// Reads the audit log.
#[utoipa::path(post, path = "/v1/admin/audit/query", tag = "admin",
    request_body = AuditQueryRequest,
    responses((status = 200, description = "Success", body = AuditRecordsAnswer),
              (status = 400, description = "Malformed request", body = crate::openapi::ErrorBody),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (the caller's role, CSRF or step-up)", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn audit_query() {}

/// Verifies the audit log's hash chain.
#[utoipa::path(post, path = "/v1/admin/audit/verify", tag = "admin",
    responses((status = 200, description = "Success", body = VerifyAnswer),
              (status = 400, description = "Malformed request", body = crate::openapi::ErrorBody),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (the caller's role, CSRF or step-up)", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn audit_verify() {}

/// Archives every full segment of the audit log now.
#[utoipa::path(post, path = "/v1/admin/audit/archive", tag = "admin",
    responses((status = 200, description = "Success", body = ArchiveAnswer),
              (status = 400, description = "Malformed request, archiving not configured, or a broken chain", body = crate::openapi::ErrorBody),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (the caller's role, CSRF or step-up)", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn audit_archive() {}

/// Lists the archive checkpoints and the key that signs them.
#[utoipa::path(get, path = "/v1/admin/audit/checkpoints", tag = "admin",
    responses((status = 200, description = "Success", body = CheckpointsAnswer),
              (status = 401, description = "Authentication failed", body = crate::openapi::ErrorBody),
              (status = 403, description = "Not allowed (the caller's role, CSRF or step-up)", body = crate::openapi::ErrorBody)))]
#[allow(dead_code)] // A declaration for the OpenAPI document; the handler is in the server.
fn audit_checkpoints() {}

/// The audit routes.
#[derive(OpenApi)]
#[openapi(
    paths(audit_query, audit_verify, audit_archive, audit_checkpoints),
    components(schemas(
        ArchiveAnswer,
        AuditQueryRequest,
        AuditEvidenceAnswer,
        CheckpointAnswer,
        CheckpointsAnswer,
        AuditRecordAnswer,
        AuditRecordsAnswer,
        VerifyAnswer,
        crate::audit::AuditAction,
        crate::audit::DenialReason
    ))
)]
pub struct Api;
