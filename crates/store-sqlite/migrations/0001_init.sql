-- 0001: the initial schema.
--
-- Times are Unix milliseconds (INTEGER). Ids are their wire forms (TEXT), so the file reads well
-- in the sqlite3 shell. Every foreign key is immediate: a violation fails its own statement, never
-- the commit of a whole group-committed batch.

-- The installation's single vault.
CREATE TABLE vault (
    singleton            INTEGER PRIMARY KEY CHECK (singleton = 1),
    id                   TEXT    NOT NULL,
    key_check            BLOB    NOT NULL,
    tokenless_enrollment INTEGER NOT NULL CHECK (tokenless_enrollment IN (0, 1)),
    ip_allowlist_enabled INTEGER NOT NULL CHECK (ip_allowlist_enabled IN (0, 1)),
    created_ms           INTEGER NOT NULL
) STRICT;

-- Every public key ever registered, to a machine or an operator. Rows are never deleted, so a key
-- can never return under another identity (a revoked machine keeps its key).
CREATE TABLE principal_keys (
    public_key   BLOB PRIMARY KEY CHECK (length(public_key) = 32),
    kind         TEXT NOT NULL CHECK (kind IN ('machine', 'operator')),
    principal_id TEXT NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE operators (
    id         TEXT    PRIMARY KEY,
    name       TEXT    NOT NULL,
    public_key BLOB    NOT NULL REFERENCES principal_keys (public_key),
    owner      INTEGER NOT NULL CHECK (owner IN (0, 1)),
    disabled   INTEGER NOT NULL CHECK (disabled IN (0, 1)),
    created_ms INTEGER NOT NULL
) STRICT;

CREATE TABLE projects (
    id          TEXT    PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    wrapped_key BLOB    NOT NULL,
    created_ms  INTEGER NOT NULL
) STRICT;

-- `field_names` is a JSON array of strings, or NULL for standard secrets.
CREATE TABLE secrets (
    id              TEXT    PRIMARY KEY,
    project_id      TEXT    NOT NULL REFERENCES projects (id),
    name            TEXT    NOT NULL,
    kind            TEXT    NOT NULL CHECK (kind IN ('standard', 'structured')),
    field_names     TEXT,
    current_version INTEGER NOT NULL CHECK (current_version >= 1),
    created_ms      INTEGER NOT NULL,
    updated_ms      INTEGER NOT NULL,
    deleted_ms      INTEGER
) STRICT;

-- Names are unique among live secrets only, so a deleted secret's name can be reused. This index
-- also serves the by-name listing of a project's live secrets.
CREATE UNIQUE INDEX secrets_live_name ON secrets (project_id, name) WHERE deleted_ms IS NULL;
-- Detach must find every secret of a project, deleted ones included.
CREATE INDEX secrets_project ON secrets (project_id);

-- A sealed version holds its own ciphertext (`value_version = version`); a rollback is a pointer
-- with no ciphertext whose `value_version` names the earlier sealed version holding the value.
CREATE TABLE secret_versions (
    secret_id     TEXT    NOT NULL REFERENCES secrets (id),
    version       INTEGER NOT NULL CHECK (version >= 1),
    value_version INTEGER NOT NULL CHECK (value_version BETWEEN 1 AND version),
    kind          TEXT    NOT NULL CHECK (kind IN ('standard', 'structured')),
    field_names   TEXT,
    wrapped_dek   BLOB,
    ciphertext    BLOB,
    created_by    TEXT    NOT NULL,
    created_ms    INTEGER NOT NULL,
    PRIMARY KEY (secret_id, version),
    CHECK ((wrapped_dek IS NULL) = (ciphertext IS NULL)),
    CHECK ((ciphertext IS NOT NULL) = (value_version = version))
) STRICT, WITHOUT ROWID;

-- `allowed_cidrs` is a JSON array of strings, kept on the row so the per-request lookup is one
-- primary-key read.
CREATE TABLE machines (
    id                  TEXT    PRIMARY KEY,
    name                TEXT    NOT NULL,
    hostname            TEXT    NOT NULL,
    public_key          BLOB    NOT NULL REFERENCES principal_keys (public_key),
    status              TEXT    NOT NULL CHECK (status IN ('approved', 'denied', 'pending', 'revoked')),
    enabled             INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    kind                TEXT    NOT NULL CHECK (kind IN ('ephemeral', 'standard')),
    expires_ms          INTEGER,
    enrolled_via        TEXT    NOT NULL CHECK (enrolled_via IN ('bootstrap', 'enrollment', 'request')),
    enrollment_token_id TEXT,
    registered_ip       TEXT    NOT NULL,
    allowed_cidrs       TEXT    NOT NULL,
    created_ms          INTEGER NOT NULL
) STRICT;

CREATE TABLE memberships (
    machine_id TEXT NOT NULL REFERENCES machines (id),
    project_id TEXT NOT NULL REFERENCES projects (id),
    PRIMARY KEY (machine_id, project_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE grants (
    machine_id TEXT NOT NULL REFERENCES machines (id),
    secret_id  TEXT NOT NULL REFERENCES secrets (id),
    PRIMARY KEY (machine_id, secret_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE bootstrap_tokens (
    id         TEXT    PRIMARY KEY,
    token_hash BLOB    NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    created_by TEXT    NOT NULL,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    used_ms    INTEGER
) STRICT;

-- `project_ids` and `secret_ids` are JSON arrays of ids.
CREATE TABLE enrollment_tokens (
    id               TEXT    PRIMARY KEY,
    token_hash       BLOB    NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    name             TEXT    NOT NULL,
    project_ids      TEXT    NOT NULL,
    secret_ids       TEXT    NOT NULL,
    max_uses         INTEGER NOT NULL CHECK (max_uses >= 0),
    uses             INTEGER NOT NULL CHECK (uses BETWEEN 0 AND max_uses),
    expires_ms       INTEGER NOT NULL,
    machine_ttl_secs INTEGER NOT NULL,
    source_cidr      TEXT,
    hostname_pattern TEXT,
    created_by       TEXT    NOT NULL,
    created_ms       INTEGER NOT NULL,
    revoked_ms       INTEGER
) STRICT;

CREATE TABLE ip_allowlist (
    id         TEXT    PRIMARY KEY,
    cidr       TEXT    NOT NULL UNIQUE,
    label      TEXT    NOT NULL,
    created_ms INTEGER NOT NULL
) STRICT;

-- The durable copy of the replay cache; the process keeps the authoritative set in memory and
-- enforces uniqueness there. Rows are kept in arrival (rowid) order so that a group commit
-- appends its nonces to the last page: keyed by (principal, nonce), every random nonce dirtied a
-- different page, and the WAL grew by one page per signed request. A duplicate row (a pair reused
-- after a sweep) is harmless when the set is reloaded.
CREATE TABLE nonces (
    principal  TEXT    NOT NULL,
    nonce      TEXT    NOT NULL,
    expires_ms INTEGER NOT NULL
) STRICT;

CREATE INDEX nonces_expiry ON nonces (expires_ms);

CREATE TABLE audit (
    seq        INTEGER PRIMARY KEY CHECK (seq >= 1),
    ts_ms      INTEGER NOT NULL,
    actor_kind TEXT    NOT NULL,
    actor_id   TEXT    NOT NULL,
    action     TEXT    NOT NULL,
    target     TEXT    NOT NULL,
    source_ip  TEXT    NOT NULL,
    result     TEXT    NOT NULL,
    detail     TEXT    NOT NULL,
    prev_hash  BLOB    NOT NULL CHECK (length(prev_hash) = 32),
    hash       BLOB    NOT NULL CHECK (length(hash) = 32)
) STRICT;

-- The audit listing filters by actor or action, newest first; each index ends in the rowid (seq),
-- so both serve `ORDER BY seq DESC` directly.
CREATE INDEX audit_actor ON audit (actor_id);
CREATE INDEX audit_action ON audit (action);

-- The chain's integrity comes from the hashes; these only stop Signet itself from ever rewriting
-- a record by mistake.
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'audit records are append-only');
END;

CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN
    SELECT RAISE(ABORT, 'audit records are append-only');
END;

-- Kept apart from the records so that deleting the tail of the log is detectable.
CREATE TABLE audit_head (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    seq       INTEGER NOT NULL CHECK (seq >= 1),
    hash      BLOB    NOT NULL CHECK (length(hash) = 32)
) STRICT;

-- No foreign keys on purpose: a mark for a machine or secret that does not exist must never make
-- the audit batch it travels with fail.
CREATE TABLE read_marks (
    machine_id TEXT    NOT NULL,
    secret_id  TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    PRIMARY KEY (machine_id, secret_id)
) STRICT, WITHOUT ROWID;
