//! The path of every route, as the router matches it (`{name}` is a path parameter).
//!
//! The router, the SDK and the OpenAPI document all take paths from here, so a renamed route is a
//! compile error rather than a 404 found in an end-to-end test. Routes are grouped by who may call
//! them; the comment on each group says how a request proves who it comes from.

/// Probes; no authentication.
pub mod health {
    /// Liveness: the process answers.
    pub const LIVE: &str = "/healthz";
    /// Readiness: the store answers reads and takes audit writes.
    pub const READY: &str = "/readyz";
    /// This API's OpenAPI 3.1 document.
    pub const OPENAPI: &str = "/v1/openapi.json";
    /// The server's version, commit and build date.
    pub const VERSION: &str = "/v1/version";
}

/// Machine routes: every request is signed by the machine's Ed25519 key (`docs/protocol.md`).
/// Wire-compatible with SikkerKey's SDKs and CLI.
pub mod machine {
    /// One secret's value.
    pub const SECRET: &str = "/v1/secret/{id}";
    /// The secrets this machine may read, across projects.
    pub const SECRETS: &str = "/v1/secrets";
    /// The secrets this machine may read in one project.
    pub const SECRETS_LIST: &str = "/v1/secrets/list";
    /// Several secrets' values at once.
    pub const SECRETS_EXPORT: &str = "/v1/secrets/export";
    /// Which of the given secrets changed since the given versions.
    pub const SECRETS_POLL: &str = "/v1/secrets/poll";
    /// The projects this machine can read from (SikkerKey CLI).
    pub const CLI_PROJECTS: &str = "/v1/cli/projects";
    /// The secrets this machine can read (SikkerKey CLI).
    pub const CLI_SECRETS: &str = "/v1/cli/secrets";
    /// The machine's own identity.
    pub const WHOAMI: &str = "/v1/whoami";
    /// Change notifications as server-sent events, from now (or from `Last-Event-ID`).
    pub const EVENTS: &str = "/v1/events";
    /// Change notifications after the event id `after` (the signed way to resume).
    pub const EVENTS_AFTER: &str = "/v1/events/{after}";
}

/// Enrollment: a new machine registers its public key, with a token or as a request an operator
/// approves.
pub mod enroll {
    /// Redeems a bootstrap token (the `curl | sh` script's call).
    pub const BOOTSTRAP: &str = "/v1/enroll/bootstrap";
    /// Registers a key with an enrollment token.
    pub const REGISTER: &str = "/v1/{vault}/enroll/register";
    /// Registers a key without a token, pending an operator's approval.
    pub const REQUEST: &str = "/v1/{vault}/enroll/request";
    /// The shell script that enrolls a machine with a bootstrap token.
    pub const BOOTSTRAP_SCRIPT: &str = "/v1/bootstrap/{token}";
}

/// Human sign-in: the dashboard's session cookie, and the CLI's key registration.
pub mod auth {
    /// Registers a CLI operator key with a password and second factor.
    pub const CLI_LOGIN: &str = "/v1/auth/cli-login";
    /// First-run setup: whether it is open (GET), and creating the first owner (POST).
    pub const SETUP: &str = "/v1/auth/setup";
    /// The browser session: who is signed in (GET), and signing in (POST).
    pub const SESSION: &str = "/v1/auth/session";
    /// Ends the browser session.
    pub const SESSION_LOGOUT: &str = "/v1/auth/session/logout";
    /// Confirms a second factor (TOTP) for the sensitive actions that need a recent one.
    pub const STEP_UP: &str = "/v1/auth/step-up";
    /// Starts a passkey sign-in.
    pub const PASSKEY_LOGIN_START: &str = "/v1/auth/passkey/login/start";
    /// Finishes a passkey sign-in.
    pub const PASSKEY_LOGIN_FINISH: &str = "/v1/auth/passkey/login/finish";
    /// Starts a passkey step-up.
    pub const STEP_UP_PASSKEY_START: &str = "/v1/auth/step-up/passkey/start";
    /// Finishes a passkey step-up.
    pub const STEP_UP_PASSKEY_FINISH: &str = "/v1/auth/step-up/passkey/finish";
    /// Accepts an invitation: creates the invited user.
    pub const INVITE_ACCEPT: &str = "/v1/auth/invite/accept";
    /// Whether a setup code would still work, without spending it (the setup page asks first).
    pub const SETUP_CHECK: &str = "/v1/auth/setup/check";
    /// Confirms a new account's pending TOTP seed with a code, by its enrollment ticket.
    pub const TOTP_CONFIRM: &str = "/v1/auth/totp/confirm";
    /// Whether an invitation code would still be accepted (spends nothing).
    pub const INVITE_CHECK: &str = "/v1/auth/invite/check";
}

/// One-time share links, opened without signing in: the link's secret part and the passphrase
/// are the credential. Never a machine route: a signed request gets nothing more here.
pub mod share {
    /// Opens a share link once, right passphrase or wrong.
    pub const OPEN: &str = "/v1/share/open";
}

/// Operator routes: a signed CLI request (operator key) or a browser session with its CSRF
/// token.
pub mod admin {
    /// The caller's identity and role.
    pub const WHOAMI: &str = "/v1/admin/whoami";
    /// Revokes the calling CLI key.
    pub const LOGOUT: &str = "/v1/admin/logout";
    /// The vault's settings.
    pub const VAULT: &str = "/v1/admin/vault";
    /// Changes the vault's settings.
    pub const VAULT_SETTINGS: &str = "/v1/admin/vault/settings";
    /// Projects: list (GET), create (POST).
    pub const PROJECTS: &str = "/v1/admin/projects";
    /// Renames a project.
    pub const PROJECT_RENAME: &str = "/v1/admin/projects/{id}/rename";
    /// A project's access policies: list (GET), create (POST).
    pub const PROJECT_POLICIES: &str = "/v1/admin/projects/{id}/policies";
    /// One access policy.
    pub const PROJECT_POLICY: &str = "/v1/admin/projects/{id}/policies/{policy}";
    /// Renames an access policy and replaces its rules.
    pub const PROJECT_POLICY_UPDATE: &str = "/v1/admin/projects/{id}/policies/{policy}/update";
    /// Deletes an access policy no secret is bound to.
    pub const PROJECT_POLICY_DELETE: &str = "/v1/admin/projects/{id}/policies/{policy}/delete";
    /// Moves a project, with its secrets, to the trash.
    pub const PROJECT_DELETE: &str = "/v1/admin/projects/{id}/delete";
    /// The trash: deleted secrets and projects.
    pub const TRASH: &str = "/v1/admin/trash";
    /// Brings a secret or project back from the trash.
    pub const TRASH_RESTORE: &str = "/v1/admin/trash/{id}/restore";
    /// Destroys a trashed secret or project for good.
    pub const TRASH_PURGE: &str = "/v1/admin/trash/{id}/purge";
    /// How long the trash keeps items.
    pub const TRASH_RETENTION: &str = "/v1/admin/trash/retention";
    /// Creates a canary secret in a project (its value generated on the server).
    pub const PROJECT_CANARIES: &str = "/v1/admin/projects/{id}/canaries";
    /// Lifts a canary's freeze from a project (admins, with a fresh second factor).
    pub const PROJECT_UNFREEZE: &str = "/v1/admin/projects/{id}/unfreeze";
    /// Creates a secret.
    pub const SECRETS: &str = "/v1/admin/secrets";
    /// Lists secrets matching a query.
    pub const SECRETS_QUERY: &str = "/v1/admin/secrets/query";
    /// One secret's metadata.
    pub const SECRET: &str = "/v1/admin/secrets/{id}";
    /// Writes a new version of a secret.
    pub const SECRET_UPDATE: &str = "/v1/admin/secrets/{id}/update";
    /// A secret's versions.
    pub const SECRET_VERSIONS: &str = "/v1/admin/secrets/{id}/versions";
    /// Makes an earlier version current again.
    pub const SECRET_ROLLBACK: &str = "/v1/admin/secrets/{id}/rollback";
    /// Deletes a secret.
    pub const SECRET_DELETE: &str = "/v1/admin/secrets/{id}/delete";
    /// Binds an access policy to a secret, or unbinds it.
    pub const SECRET_POLICY: &str = "/v1/admin/secrets/{id}/policy";
    /// A project's database connections: list (GET), register (POST).
    pub const PROJECT_CONNECTIONS: &str = "/v1/admin/projects/{id}/connections";
    /// One database connection.
    pub const PROJECT_CONNECTION: &str = "/v1/admin/projects/{id}/connections/{connection}";
    /// Changes a database connection.
    pub const CONNECTION_UPDATE: &str = "/v1/admin/projects/{id}/connections/{connection}/update";
    /// Deletes a database connection nothing uses.
    pub const CONNECTION_DELETE: &str = "/v1/admin/projects/{id}/connections/{connection}/delete";
    /// Logs in as a connection's admin and says whether it worked.
    pub const CONNECTION_TEST: &str = "/v1/admin/projects/{id}/connections/{connection}/test";
    /// Creates a leased secret in a project.
    pub const PROJECT_LEASED_SECRETS: &str = "/v1/admin/projects/{id}/leased-secrets";
    /// A leased secret's settings: show (GET), replace (POST).
    pub const SECRET_LEASE: &str = "/v1/admin/secrets/{id}/lease";
    /// Every lease the caller may see.
    pub const LEASES: &str = "/v1/admin/leases";
    /// Leases of one secret and/or machine.
    pub const LEASES_QUERY: &str = "/v1/admin/leases/query";
    /// Extends a lease.
    pub const LEASE_RENEW: &str = "/v1/admin/leases/{id}/renew";
    /// Revokes a lease now.
    pub const LEASE_REVOKE: &str = "/v1/admin/leases/{id}/revoke";
    /// Rotates a secret now.
    pub const SECRET_ROTATE: &str = "/v1/admin/secrets/{id}/rotate";
    /// A secret's rotation settings: show (GET), set (POST).
    pub const SECRET_ROTATION: &str = "/v1/admin/secrets/{id}/rotation";
    /// Removes a secret's rotation settings.
    pub const SECRET_ROTATION_CLEAR: &str = "/v1/admin/secrets/{id}/rotation/clear";
    /// Pauses a secret's rotation schedule.
    pub const SECRET_ROTATION_PAUSE: &str = "/v1/admin/secrets/{id}/rotation/pause";
    /// Resumes a secret's rotation schedule.
    pub const SECRET_ROTATION_RESUME: &str = "/v1/admin/secrets/{id}/rotation/resume";
    /// Issues a bootstrap token.
    pub const BOOTSTRAP_TOKENS: &str = "/v1/admin/tokens/bootstrap";
    /// Enrollment tokens: list (GET), issue (POST).
    pub const ENROLLMENT_TOKENS: &str = "/v1/admin/tokens/enrollment";
    /// Revokes an enrollment token.
    pub const ENROLLMENT_TOKEN_REVOKE: &str = "/v1/admin/tokens/enrollment/{id}/revoke";
    /// Machines.
    pub const MACHINES: &str = "/v1/admin/machines";
    /// One machine.
    pub const MACHINE: &str = "/v1/admin/machines/{id}";
    /// An action on one machine (approve, reject, revoke, grant, ...).
    pub const MACHINE_ACTION: &str = "/v1/admin/machines/{id}/{action}";
    /// The IP allowlist: entries (GET), add one (POST).
    pub const ALLOWLIST: &str = "/v1/admin/ip-allowlist";
    /// Turns the allowlist on.
    pub const ALLOWLIST_ENABLE: &str = "/v1/admin/ip-allowlist/enable";
    /// Turns the allowlist off.
    pub const ALLOWLIST_DISABLE: &str = "/v1/admin/ip-allowlist/disable";
    /// Removes an allowlist entry.
    pub const ALLOWLIST_DELETE: &str = "/v1/admin/ip-allowlist/{id}/delete";
    /// Per-machine request budgets: list (GET), set one (POST).
    pub const REQUEST_BUDGETS: &str = "/v1/admin/request-budgets";
    /// Reads the audit log.
    pub const AUDIT_QUERY: &str = "/v1/admin/audit/query";
    /// Verifies the audit log's hash chain.
    pub const AUDIT_VERIFY: &str = "/v1/admin/audit/verify";
    /// Archives every full segment of the audit log now.
    pub const AUDIT_ARCHIVE: &str = "/v1/admin/audit/archive";
    /// The archive checkpoints and the key that signs them.
    pub const AUDIT_CHECKPOINTS: &str = "/v1/admin/audit/checkpoints";
    /// Users: list (GET), create (POST).
    pub const USERS: &str = "/v1/admin/users";
    /// Invites a user.
    pub const USERS_INVITE: &str = "/v1/admin/users/invite";
    /// Open invitations.
    pub const USERS_INVITES: &str = "/v1/admin/users/invites";
    /// Revokes an invitation.
    pub const USERS_INVITE_REVOKE: &str = "/v1/admin/users/invites/{id}/revoke";
    /// An action on one user (role, disable, enable, ...).
    pub const USER_ACTION: &str = "/v1/admin/users/{id}/{action}";
    /// The caller's own account.
    pub const ACCOUNT: &str = "/v1/admin/account";
    /// Changes the caller's password.
    pub const ACCOUNT_PASSWORD: &str = "/v1/admin/account/password";
    /// Ends one of the caller's browser sessions.
    pub const ACCOUNT_SESSION_REVOKE: &str = "/v1/admin/account/sessions/{id}/revoke";
    /// Revokes one of the caller's CLI keys.
    pub const ACCOUNT_CLI_KEY_REVOKE: &str = "/v1/admin/account/cli-keys/{id}/revoke";
    /// Starts registering a passkey.
    pub const PASSKEY_REGISTER_START: &str = "/v1/admin/account/passkeys/register/start";
    /// Finishes registering a passkey.
    pub const PASSKEY_REGISTER_FINISH: &str = "/v1/admin/account/passkeys/register/finish";
    /// Renames a passkey.
    pub const PASSKEY_RENAME: &str = "/v1/admin/account/passkeys/{id}/rename";
    /// Deletes a passkey.
    pub const PASSKEY_DELETE: &str = "/v1/admin/account/passkeys/{id}/delete";
    /// One-time share links: the caller's (an admin's: all) (GET), create one (POST).
    pub const SHARES: &str = "/v1/admin/shares";
    /// Revokes a pending share link.
    pub const SHARE_REVOKE: &str = "/v1/admin/shares/{id}/revoke";
    /// Webhooks: list (GET), create (POST; the HMAC secret is answered once).
    pub const WEBHOOKS: &str = "/v1/admin/webhooks";
    /// Changes a webhook's name, URL or enabled flag.
    pub const WEBHOOK_UPDATE: &str = "/v1/admin/webhooks/{id}/update";
    /// Deletes a webhook with its deliveries.
    pub const WEBHOOK_DELETE: &str = "/v1/admin/webhooks/{id}/delete";
    /// Queues a test delivery to a webhook.
    pub const WEBHOOK_TEST: &str = "/v1/admin/webhooks/{id}/test";
    /// The delivery log, newest first.
    pub const WEBHOOK_DELIVERIES: &str = "/v1/admin/webhooks/deliveries";
    /// Alert rules: list (GET), create (POST).
    pub const ALERT_RULES: &str = "/v1/admin/alerts";
    /// Deletes an alert rule.
    pub const ALERT_RULE_DELETE: &str = "/v1/admin/alerts/{id}/delete";
    /// A managed secret's binding and rotation state: show (GET), set (POST).
    pub const SECRET_MANAGED: &str = "/v1/admin/secrets/{id}/managed";
}

/// Published keys; no authentication (anyone verifying a webhook delivery fetches them).
pub mod well_known {
    /// The vault's webhook signing key as a JWKS.
    pub const WEBHOOK_KEYS: &str = "/.well-known/signet/webhook-keys";
}

/// A managed secret's sync agent: signed by the machine's key like every machine route, and
/// answered only to the machine an operator named as the secret's agent. SikkerKey's CLI paths.
pub mod agent {
    /// The database's admin credentials and any pending rotation.
    pub const SYNC_CONFIG: &str = "/v1/secret/{id}/sync-config";
    /// The agent's health.
    pub const HEARTBEAT: &str = "/v1/secret/{id}/agent/heartbeat";
    /// The pending rotation was applied and verified: make it live.
    pub const CONFIRM_ROTATION: &str = "/v1/secret/{id}/agent/confirm-rotation";
    /// The pending rotation failed: keep the live version.
    pub const REJECT_ROTATION: &str = "/v1/secret/{id}/agent/reject-rotation";
}

/// Workload identity by OIDC: operators trust issuers and add rules (operator routes, signed or
/// session like every `/v1/admin` route); a workload enrolls with its platform token (unsigned,
/// like every enrollment route).
pub mod issuer {
    /// Trusted issuers: list (GET), trust one (POST).
    pub const ISSUERS: &str = "/v1/admin/issuers";
    /// One trusted issuer with its rules.
    pub const ISSUER: &str = "/v1/admin/issuers/{id}";
    /// Changes a trusted issuer's settings.
    pub const ISSUER_UPDATE: &str = "/v1/admin/issuers/{id}/update";
    /// Removes a trusted issuer and its rules.
    pub const ISSUER_DELETE: &str = "/v1/admin/issuers/{id}/delete";
    /// Adds a rule under a trusted issuer.
    pub const ISSUER_RULES: &str = "/v1/admin/issuers/{id}/rules";
    /// Removes one rule.
    pub const ISSUER_RULE_DELETE: &str = "/v1/admin/issuers/{id}/rules/{rule}/delete";
    /// Registers an ephemeral machine with a platform token (a JWT from a trusted issuer).
    pub const ENROLL_OIDC: &str = "/v1/{vault}/enroll/oidc";
}

/// Single sign-on for people (issue 14 §3). The provider management routes are operator routes
/// (owners only); the sign-in routes need no authentication: the provider's answer, checked
/// against the attempt's `state`, `nonce` and PKCE verifier, is the proof.
pub mod sso {
    /// Owners: trusted providers (GET), trust one (POST).
    pub const PROVIDERS: &str = "/v1/admin/sso/providers";
    /// Owners: one provider with its mappings.
    pub const PROVIDER: &str = "/v1/admin/sso/providers/{id}";
    /// Owners: change a provider's settings.
    pub const PROVIDER_UPDATE: &str = "/v1/admin/sso/providers/{id}/update";
    /// Owners: remove a provider.
    pub const PROVIDER_DELETE: &str = "/v1/admin/sso/providers/{id}/delete";
    /// Owners: add a claim-to-role mapping.
    pub const MAPPINGS: &str = "/v1/admin/sso/providers/{id}/mappings";
    /// Owners: remove a mapping.
    pub const MAPPING_DELETE: &str = "/v1/admin/sso/providers/{id}/mappings/{mapping}/delete";
    /// The signed-in user's linked identities.
    pub const IDENTITIES: &str = "/v1/admin/account/sso";
    /// Unlinks one of the signed-in user's identities.
    pub const IDENTITY_DELETE: &str = "/v1/admin/account/sso/{provider}/delete";
    /// What the sign-in page offers (no authentication).
    pub const LOGIN_OPTIONS: &str = "/v1/auth/sso/providers";
    /// Starts a browser sign-in, link or step-up: redirects to the provider.
    pub const START: &str = "/v1/auth/sso/{provider}/start";
    /// The one redirect URI registered at every provider.
    pub const CALLBACK: &str = "/v1/auth/sso/callback";
    /// Starts `signet login --sso`.
    pub const CLI_START: &str = "/v1/auth/sso/cli/start";
    /// Finishes `signet login --sso`.
    pub const CLI_FINISH: &str = "/v1/auth/sso/cli/finish";
}

/// AI agents (issue 14 §2): signed by the agent's key exactly like a machine route (its id in
/// `X-Machine-Id`), and answered only to a machine row an operator approved as an agent. No
/// route here answers a secret's value.
pub mod ai_agent {
    /// The agent itself: id, name, scopes, allowlist.
    pub const WHOAMI: &str = "/v1/ai/whoami";
    /// Projects: list (GET, `projects.read`), create (POST, `projects.write`).
    pub const PROJECTS: &str = "/v1/ai/projects";
    /// A project's secrets' metadata (`secrets.read`).
    pub const SECRETS_QUERY: &str = "/v1/ai/secrets/query";
    /// Creates a secret: the value given, or generated (`secrets.write`).
    pub const SECRETS: &str = "/v1/ai/secrets";
    /// Rotates a secret to a server-generated value (`secrets.write`).
    pub const SECRET_ROTATE: &str = "/v1/ai/secrets/{id}/rotate";
    /// Machines (`machines.read`).
    pub const MACHINES: &str = "/v1/ai/machines";
    /// Approves a pending machine by its fingerprint (`machines.write`).
    pub const MACHINE_APPROVE: &str = "/v1/ai/machines/{id}/approve";
    /// Enables a machine (`machines.write`).
    pub const MACHINE_ENABLE: &str = "/v1/ai/machines/{id}/enable";
    /// Disables a machine (`machines.write`).
    pub const MACHINE_DISABLE: &str = "/v1/ai/machines/{id}/disable";
    /// Grants a secret to a machine (`machines.write`).
    pub const MACHINE_GRANT: &str = "/v1/ai/machines/{id}/grant";
    /// Removes a machine's grant (`machines.write`).
    pub const MACHINE_REVOKE: &str = "/v1/ai/machines/{id}/revoke";
    /// The audit log (`audit.read`).
    pub const AUDIT_QUERY: &str = "/v1/ai/audit/query";
    /// Operators: every agent (a signed operator request or a browser session).
    pub const ADMIN_AGENTS: &str = "/v1/admin/ai-agents";
    /// Operators: approve a pending machine as an agent, with its scopes.
    pub const ADMIN_APPROVE: &str = "/v1/admin/ai-agents/{id}/approve";
    /// Operators: replace an agent's scopes and allowlist.
    pub const ADMIN_SCOPES: &str = "/v1/admin/ai-agents/{id}/scopes";
}

/// Root key rotation (issue 15 §2; `docs/operations.md`, "Key rotation"): operator routes,
/// owners only, with a fresh second factor in a browser.
pub mod keys {
    /// The root keyring's live generations and what each still wraps.
    pub const ROOT: &str = "/v1/admin/keys/root";
    /// Makes a new root key generation current (`start`) and re-wraps in batches.
    pub const ROOT_ROTATE: &str = "/v1/admin/keys/root/rotate";
    /// Retires a root key generation nothing refers to.
    pub const ROOT_RETIRE: &str = "/v1/admin/keys/root/retire";
    /// Replaces one project's key and re-wraps every value sealed under it (owners and
    /// admins).
    pub const PROJECT_ROTATE: &str = "/v1/admin/projects/{id}/key/rotate";
}
