-- 0001: the schema, equal to SQLite's after its migrations 0001..0006.
--
-- Table and column names match the SQLite backend exactly, so `signet storage migrate` can copy
-- a whole installation either way. Times are Unix milliseconds (BIGINT), ids their wire forms
-- (TEXT), blobs BYTEA. Flags are BOOLEAN here and travel as 0/1 integers. Constraint names are
-- given wherever a violation must map to a documented conflict rule (see `src/error.rs`).

-- The installation's single vault.
CREATE TABLE vault (
    singleton            BIGINT  NOT NULL CHECK (singleton = 1),
    id                   TEXT    NOT NULL,
    key_check            BYTEA   NOT NULL,
    tokenless_enrollment BOOLEAN NOT NULL,
    ip_allowlist_enabled BOOLEAN NOT NULL,
    created_ms           BIGINT  NOT NULL,
    cli_key_ttl_ms       BIGINT  NOT NULL DEFAULT 43200000
        CHECK (cli_key_ttl_ms BETWEEN 300000 AND 2592000000),
    CONSTRAINT vault_pkey PRIMARY KEY (singleton)
);

-- Every public key ever registered, to a machine or an operator. Rows are never deleted, so a key
-- can never return under another identity (a revoked machine keeps its key).
CREATE TABLE principal_keys (
    public_key   BYTEA NOT NULL CHECK (length(public_key) = 32),
    kind         TEXT  NOT NULL CHECK (kind IN ('machine', 'operator')),
    principal_id TEXT  NOT NULL,
    CONSTRAINT principal_keys_pkey PRIMARY KEY (public_key)
);

-- `username` and `email` are canonical (NFKC, lowercase). A removed user keeps
-- `status = 'suspended'` and has `removed_ms` set, as in SQLite.
CREATE TABLE users (
    id              TEXT    PRIMARY KEY,
    username        TEXT    NOT NULL,
    email           TEXT    NOT NULL,
    display_name    TEXT    NOT NULL,
    password_hash   TEXT    NOT NULL,
    totp_sealed     BYTEA,
    totp_last_step  BIGINT  NOT NULL,
    role            TEXT    NOT NULL CHECK (role IN ('owner', 'admin', 'developer', 'viewer')),
    status          TEXT    NOT NULL CHECK (status IN ('active', 'suspended')),
    failed_attempts BIGINT  NOT NULL CHECK (failed_attempts >= 0),
    locked_until_ms BIGINT,
    created_ms      BIGINT  NOT NULL,
    scoped          BOOLEAN NOT NULL DEFAULT FALSE,
    removed_ms      BIGINT,
    CONSTRAINT users_username_key UNIQUE (username),
    CONSTRAINT users_email_key UNIQUE (email)
);

CREATE TABLE operators (
    id         TEXT    PRIMARY KEY,
    name       TEXT    NOT NULL,
    public_key BYTEA   NOT NULL REFERENCES principal_keys (public_key),
    owner      BOOLEAN NOT NULL,
    disabled   BOOLEAN NOT NULL,
    created_ms BIGINT  NOT NULL,
    user_id    TEXT    REFERENCES users (id),
    expires_ms BIGINT
);
CREATE INDEX operators_user ON operators (user_id, created_ms);

CREATE TABLE projects (
    id          TEXT   PRIMARY KEY,
    name        TEXT   NOT NULL,
    wrapped_key BYTEA  NOT NULL,
    created_ms  BIGINT NOT NULL,
    CONSTRAINT projects_name_key UNIQUE (name)
);

-- `field_names` is a JSON array of strings, or NULL for standard secrets.
CREATE TABLE secrets (
    id              TEXT   PRIMARY KEY,
    project_id      TEXT   NOT NULL REFERENCES projects (id),
    name            TEXT   NOT NULL,
    kind            TEXT   NOT NULL CHECK (kind IN ('standard', 'structured')),
    field_names     TEXT,
    current_version BIGINT NOT NULL CHECK (current_version >= 1),
    created_ms      BIGINT NOT NULL,
    updated_ms      BIGINT NOT NULL,
    deleted_ms      BIGINT
);

-- Names are unique among live secrets only, so a deleted secret's name can be reused.
CREATE UNIQUE INDEX secrets_live_name ON secrets (project_id, name) WHERE deleted_ms IS NULL;
-- Detach must find every secret of a project, deleted ones included.
CREATE INDEX secrets_project ON secrets (project_id);

-- A sealed version holds its own ciphertext (`value_version = version`); a rollback is a pointer
-- with no ciphertext whose `value_version` names the earlier sealed version holding the value.
CREATE TABLE secret_versions (
    secret_id     TEXT   NOT NULL REFERENCES secrets (id),
    version       BIGINT NOT NULL CHECK (version >= 1),
    value_version BIGINT NOT NULL CHECK (value_version BETWEEN 1 AND version),
    kind          TEXT   NOT NULL CHECK (kind IN ('standard', 'structured')),
    field_names   TEXT,
    wrapped_dek   BYTEA,
    ciphertext    BYTEA,
    created_by    TEXT   NOT NULL,
    created_ms    BIGINT NOT NULL,
    CONSTRAINT secret_versions_pkey PRIMARY KEY (secret_id, version),
    CHECK ((wrapped_dek IS NULL) = (ciphertext IS NULL)),
    CHECK ((ciphertext IS NOT NULL) = (value_version = version))
);

-- `allowed_cidrs` is a JSON array of strings, kept on the row so the per-request lookup is one
-- primary-key read.
CREATE TABLE machines (
    id                  TEXT    PRIMARY KEY,
    name                TEXT    NOT NULL,
    hostname            TEXT    NOT NULL,
    public_key          BYTEA   NOT NULL REFERENCES principal_keys (public_key),
    status              TEXT    NOT NULL CHECK (status IN ('approved', 'denied', 'pending', 'revoked')),
    enabled             BOOLEAN NOT NULL,
    kind                TEXT    NOT NULL CHECK (kind IN ('ephemeral', 'standard')),
    expires_ms          BIGINT,
    enrolled_via        TEXT    NOT NULL CHECK (enrolled_via IN ('bootstrap', 'enrollment', 'request')),
    enrollment_token_id TEXT,
    registered_ip       TEXT    NOT NULL,
    allowed_cidrs       TEXT    NOT NULL,
    created_ms          BIGINT  NOT NULL
);
CREATE INDEX machines_created ON machines (created_ms);

CREATE TABLE memberships (
    machine_id TEXT NOT NULL REFERENCES machines (id),
    project_id TEXT NOT NULL REFERENCES projects (id),
    PRIMARY KEY (machine_id, project_id)
);

CREATE TABLE grants (
    machine_id TEXT NOT NULL REFERENCES machines (id),
    secret_id  TEXT NOT NULL REFERENCES secrets (id),
    PRIMARY KEY (machine_id, secret_id)
);

CREATE TABLE bootstrap_tokens (
    id         TEXT   PRIMARY KEY,
    token_hash BYTEA  NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    created_by TEXT   NOT NULL,
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL,
    used_ms    BIGINT
);

-- `project_ids` and `secret_ids` are JSON arrays of ids.
CREATE TABLE enrollment_tokens (
    id               TEXT   PRIMARY KEY,
    token_hash       BYTEA  NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    name             TEXT   NOT NULL,
    project_ids      TEXT   NOT NULL,
    secret_ids       TEXT   NOT NULL,
    max_uses         BIGINT NOT NULL CHECK (max_uses >= 0),
    uses             BIGINT NOT NULL CHECK (uses BETWEEN 0 AND max_uses),
    expires_ms       BIGINT NOT NULL,
    machine_ttl_secs BIGINT NOT NULL,
    source_cidr      TEXT,
    hostname_pattern TEXT,
    created_by       TEXT   NOT NULL,
    created_ms       BIGINT NOT NULL,
    revoked_ms       BIGINT
);

CREATE TABLE ip_allowlist (
    id         TEXT   PRIMARY KEY,
    cidr       TEXT   NOT NULL,
    label      TEXT   NOT NULL,
    created_ms BIGINT NOT NULL,
    CONSTRAINT ip_allowlist_cidr_key UNIQUE (cidr)
);

-- The replay cache itself, shared by every replica: a pair is new exactly when its INSERT is.
CREATE TABLE nonces (
    principal  TEXT   NOT NULL,
    nonce      TEXT   NOT NULL,
    expires_ms BIGINT NOT NULL,
    PRIMARY KEY (principal, nonce)
);
CREATE INDEX nonces_expiry ON nonces (expires_ms);

CREATE TABLE audit (
    seq        BIGINT PRIMARY KEY CHECK (seq >= 1),
    ts_ms      BIGINT NOT NULL,
    actor_kind TEXT   NOT NULL,
    actor_id   TEXT   NOT NULL,
    action     TEXT   NOT NULL,
    target     TEXT   NOT NULL,
    source_ip  TEXT   NOT NULL,
    result     TEXT   NOT NULL,
    detail     TEXT   NOT NULL,
    prev_hash  BYTEA  NOT NULL CHECK (length(prev_hash) = 32),
    hash       BYTEA  NOT NULL CHECK (length(hash) = 32)
);

-- The listing filters by actor or action, newest first.
CREATE INDEX audit_actor ON audit (actor_id, seq);
CREATE INDEX audit_action ON audit (action, seq);
CREATE INDEX audit_ts ON audit (ts_ms);

-- The chain's integrity comes from the hashes; this only stops Signet itself from ever rewriting
-- a record by mistake.
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit records are append-only';
END;
$$;
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();

-- Kept apart from the records so that deleting the tail of the log is detectable.
CREATE TABLE audit_head (
    singleton BIGINT PRIMARY KEY CHECK (singleton = 1),
    seq       BIGINT NOT NULL CHECK (seq >= 1),
    hash      BYTEA  NOT NULL CHECK (length(hash) = 32)
);

-- No foreign keys on purpose: a mark for a machine or secret that does not exist must never make
-- the audit batch it travels with fail.
CREATE TABLE read_marks (
    machine_id TEXT   NOT NULL,
    secret_id  TEXT   NOT NULL,
    version    BIGINT NOT NULL,
    PRIMARY KEY (machine_id, secret_id)
);

-- SHA-256 digests of single-use recovery codes. `used_ms` is set once.
CREATE TABLE recovery_codes (
    user_id   TEXT   NOT NULL REFERENCES users (id),
    code_hash BYTEA  NOT NULL CHECK (length(code_hash) = 32),
    used_ms   BIGINT,
    PRIMARY KEY (user_id, code_hash)
);

-- Every sign-in attempt. `user_id` is NULL when the login named no account.
CREATE TABLE logins (
    user_id    TEXT   REFERENCES users (id),
    at_ms      BIGINT NOT NULL,
    ip         TEXT   NOT NULL,
    user_agent TEXT   NOT NULL,
    result     TEXT   NOT NULL CHECK (result IN ('ok', 'failed', 'throttled'))
);
CREATE INDEX logins_user ON logins (user_id, at_ms);

-- Browser sessions. Only the SHA-256 of the cookie's secret is stored.
CREATE TABLE sessions (
    id           TEXT   PRIMARY KEY,
    token_hash   BYTEA  NOT NULL CHECK (length(token_hash) = 32),
    user_id      TEXT   NOT NULL REFERENCES users (id),
    operator_id  TEXT   NOT NULL UNIQUE,
    created_ms   BIGINT NOT NULL,
    last_seen_ms BIGINT NOT NULL,
    expires_ms   BIGINT NOT NULL,
    step_up_ms   BIGINT,
    ip           TEXT   NOT NULL,
    user_agent   TEXT   NOT NULL,
    revoked_ms   BIGINT,
    CONSTRAINT sessions_token_hash_key UNIQUE (token_hash)
);
CREATE INDEX sessions_user ON sessions (user_id, created_ms);

CREATE TABLE user_projects (
    user_id    TEXT NOT NULL REFERENCES users (id),
    project_id TEXT NOT NULL REFERENCES projects (id),
    PRIMARY KEY (user_id, project_id)
);

-- Only the SHA-256 digest of an invitation's code is kept. `projects` is NULL for every project
-- or a JSON array of project ids.
CREATE TABLE invites (
    id          TEXT   PRIMARY KEY,
    code_hash   BYTEA  NOT NULL CHECK (length(code_hash) = 32),
    email       TEXT   NOT NULL,
    role        TEXT   NOT NULL CHECK (role IN ('owner', 'admin', 'developer', 'viewer')),
    projects    TEXT,
    created_by  TEXT   NOT NULL,
    created_ms  BIGINT NOT NULL,
    expires_ms  BIGINT NOT NULL,
    used_ms     BIGINT,
    used_by     TEXT   REFERENCES users (id),
    revoked_ms  BIGINT,
    CONSTRAINT invites_code_hash_key UNIQUE (code_hash)
);
CREATE INDEX invites_created ON invites (created_ms);

-- `credential` is the WebAuthn library's JSON; `sign_count` repeats the counter so that "only
-- forward" is one conditional UPDATE. A user's passkeys go with them.
CREATE TABLE passkeys (
    id            TEXT   PRIMARY KEY,
    user_id       TEXT   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id BYTEA  NOT NULL CHECK (length(credential_id) BETWEEN 1 AND 1023),
    name          TEXT   NOT NULL,
    credential    TEXT   NOT NULL,
    sign_count    BIGINT NOT NULL CHECK (sign_count >= 0),
    created_ms    BIGINT NOT NULL,
    last_used_ms  BIGINT,
    CONSTRAINT passkeys_credential_id_key UNIQUE (credential_id)
);
CREATE INDEX passkeys_user ON passkeys (user_id, created_ms);

-- A ceremony is deleted when it is finished (or found expired), so a challenge answers once.
CREATE TABLE webauthn_ceremonies (
    id         TEXT   PRIMARY KEY,
    kind       TEXT   NOT NULL CHECK (kind IN ('authentication', 'registration', 'step_up')),
    user_id    TEXT   REFERENCES users (id) ON DELETE CASCADE,
    state      TEXT   NOT NULL,
    expires_ms BIGINT NOT NULL
);
CREATE INDEX webauthn_ceremonies_expiry ON webauthn_ceremonies (expires_ms);
