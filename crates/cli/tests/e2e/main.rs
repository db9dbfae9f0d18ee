//! End-to-end tests: real `signet` processes talking HTTP.
//!
//! One test binary; each module is one acceptance area.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod harness;

// The newcomer path, then every way a signed read must fail (issue 2, acceptance 1).
mod machine_read;
// Replay protection across a restart (acceptance 3).
mod restart;
// Acknowledged writes survive `kill -9` (acceptance 4).
mod crash;
// Wrong or missing root key; no plaintext in files or logs (acceptance 5).
mod root_key;
// Tokenless enrollment approved only by fingerprint (acceptance 6).
mod tokenless;
// Bootstrap script, enrollment tokens, machine lifecycle and the remaining machine routes.
mod enrollment;
// CLI sign-in with password and TOTP, logout, uniform 401s (issue 3, acceptance 5).
mod login;
// Operator roles: a viewer changes nothing, a developer only secrets (issue 3, acceptance 4).
mod roles;
// Invitations, project scope, role change, suspension and removal (issue 3).
mod members;
// Two replicas on one PostgreSQL: shared writes, nonces, revocations and one audit chain
// (issue 4, acceptance 1 and 2).
mod replicas;
// PostgreSQL stopped mid-load: 503, no secret, recovery without a restart (acceptance 3).
mod pg_outage;
// `signet storage migrate` from a running server's file into a new one, served there (issue 4).
mod storage;
// The HTTP edge: forwarded client addresses, encoded bodies, key file modes, readiness, slow
// clients (issue 9).
mod edge;
// A structured secret's update keeps the fields not retyped (issue 9, finding 11).
mod fields;
// Named fault points: a crash or audit failure mid-write loses nothing acknowledged and serves
// nothing half-written; a change commits with its audit record (issue 9, finding 4).
mod faults;
// Concurrent updates are each told the version they created (issue 9, finding 5).
mod versions;
// 500 concurrent sign-ins: bounded memory, no 5xx, a signed reader still served (issue 9,
// finding 6).
mod login_flood;
// Junk-request floods and per-machine request budgets, each while a signed reader reads
// (issue 9, "cheap to abuse").
mod floods;
// Check-and-set writes, partial field updates and project rename (issue 11, "Safe updates").
mod safe_updates;
// Access policies: CLI, a window refusing now, the in-use rule, an exact cap under racing
// readers (issue 11, section 4).
mod policy;
// One-time share links: opened once, destroyed by a wrong passphrase, never by a machine
// (issue 11 §6).
mod share;
// Rotation settings, manual rotation and `signet run --watch` (issue 11, "Rotation").
mod rotation;
// Trash: delete, restore, purge and retention (issue 11, "Trash").
mod trash;
// Canary secrets: a read answers, then freezes the project (423) until an admin unfreezes it
// (issue 11, "Canary secrets").
mod canary;
// Leased PostgreSQL credentials: mint by a signed read, use, renew, revoke, revoke on
// machine disable, a refused mint (issue 12 §1).
mod lease;
// Change notifications: a stream across replicas, `signet watch`, `signet run --watch`, and
// the stream's signing (issue 12 §3).
mod events;
// Alert rules and signed webhooks: a real receiver, an independent RFC 9421 verifier, retries,
// SSRF refusals (issue 12 §4).
mod alerts;
// Managed database passwords: the official CLI agent and `signet agent` rotating a real role's
// password, rejections, stale ids, non-agents, rendered files (issue 12 §2).
mod managed;
// Machine-signed evidence on audit records, offline signature checks, and the audit archive
// (issue 13, goal 6).
mod audit_archive;
// Workload identity by OIDC: trusted issuers, rules, enrollment with a platform token from a
// test issuer, every refusal audited, key rotation, GitHub Actions and Kubernetes (issue 14 §1).
mod oidc;
// AI agents: a tokenless request approved as an agent, `signet mcp` over stdio, scopes,
// confirmation, and the agent's key refused on machine routes (issue 14 §2).
mod ai_agent;

// Single sign-on for people through a real OpenID provider (issue 14 §3).
mod sso;

// Encrypted backups taken under load and restored into an empty store, on both backends;
// damaged files and wrong keys refused with the target left empty (issue 15 §2).
mod backup;

// Audit devices: a JSON-lines file equal to the log and verifiable alone, SIGHUP rotation, a
// required device on a full disk, a failing best-effort device, stdout and syslog (issue 15 §1).
mod audit_devices;

// Unsealing the root key: passphrase (descriptor, systemd credential, terminal) and PKCS#11
// (SoftHSM2), and sealing a running installation's plain key (issue 15 §2).
mod unseal;

// Root key rotation online, under load, across two replicas and on SQLite (issue 15 §2).
mod keys;

// Project key rotation online, under load, across two replicas and on SQLite (issue 15 §2).
mod project_keys;

// Secret names and empty values refused by the server itself, and the fields each version
// changed, by name (issue 16, bug 15 and version history).
mod secret_rules;

// URLs read by one parser everywhere: a bad `--server`, public URL, webhook or issuer URL is
// refused naming the setting and what to write, and nothing is stored (issue 15 §3).
mod urls;
