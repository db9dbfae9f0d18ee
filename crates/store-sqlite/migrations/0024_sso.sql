-- 0024: single sign-on for people (issue 14 §3). Trusted OpenID providers (the client secret
-- sealed under the root key), the mappings from claims to a role (tried in `position` order,
-- first match decides), the identities (provider, sub) linked to users, and the sign-in
-- attempts in flight: consumed once by their state digest, and, for `signet login --sso`,
-- finished once by the CLI. Secrets an attempt carries are SHA-256 digests, except the PKCE
-- verifier and nonce the server itself must send.
CREATE TABLE sso_providers (
    id             TEXT    PRIMARY KEY,
    name           TEXT    NOT NULL UNIQUE,
    issuer         TEXT    NOT NULL,
    client_id      TEXT    NOT NULL,
    sealed_secret  BLOB,
    scopes         TEXT    NOT NULL,
    username_claim TEXT    NOT NULL,
    groups_claim   TEXT    NOT NULL,
    jit_users      INTEGER NOT NULL CHECK (jit_users IN (0, 1)),
    enabled        INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    created_ms     INTEGER NOT NULL,
    updated_ms     INTEGER NOT NULL
) STRICT;

CREATE TABLE sso_mappings (
    id          TEXT    PRIMARY KEY,
    provider_id TEXT    NOT NULL REFERENCES sso_providers (id) ON DELETE CASCADE,
    position    INTEGER NOT NULL CHECK (position >= 1),
    claim       TEXT    NOT NULL,
    value       TEXT    NOT NULL,
    role        TEXT    NOT NULL CHECK (role IN ('owner', 'admin', 'developer', 'viewer')),
    project_ids TEXT    NOT NULL,
    created_ms  INTEGER NOT NULL,
    UNIQUE (provider_id, position)
) STRICT;

-- Linked by `sub` only: never by email or username, which many providers let people choose.
CREATE TABLE sso_identities (
    provider_id   TEXT    NOT NULL REFERENCES sso_providers (id) ON DELETE CASCADE,
    subject       TEXT    NOT NULL,
    user_id       TEXT    NOT NULL REFERENCES users (id),
    linked_ms     INTEGER NOT NULL,
    last_login_ms INTEGER,
    PRIMARY KEY (provider_id, subject),
    UNIQUE (provider_id, user_id)
) STRICT;
CREATE INDEX sso_identities_user ON sso_identities (user_id);

CREATE TABLE sso_attempts (
    id              TEXT    PRIMARY KEY,
    state_hash      BLOB    NOT NULL UNIQUE CHECK (length(state_hash) = 32),
    provider_id     TEXT    NOT NULL REFERENCES sso_providers (id) ON DELETE CASCADE,
    purpose         TEXT    NOT NULL CHECK (purpose IN ('login', 'link', 'step_up', 'cli')),
    binding_hash    BLOB    CHECK (binding_hash IS NULL OR length(binding_hash) = 32),
    nonce           TEXT    NOT NULL,
    pkce_verifier   TEXT    NOT NULL,
    user_id         TEXT,
    session_id      TEXT,
    public_key      TEXT,
    key_name        TEXT,
    loopback_port   INTEGER CHECK (loopback_port IS NULL OR loopback_port BETWEEN 1 AND 65535),
    completion_hash BLOB    CHECK (completion_hash IS NULL OR length(completion_hash) = 32),
    created_ms      INTEGER NOT NULL,
    expires_ms      INTEGER NOT NULL,
    used_ms         INTEGER,
    finished_ms     INTEGER
) STRICT;
CREATE INDEX sso_attempts_expiry ON sso_attempts (expires_ms);

ALTER TABLE vault ADD COLUMN sso_required INTEGER NOT NULL DEFAULT 0
    CHECK (sso_required IN (0, 1));
ALTER TABLE vault ADD COLUMN break_glass_user TEXT;
ALTER TABLE vault ADD COLUMN sso_trust_provider_mfa INTEGER NOT NULL DEFAULT 0
    CHECK (sso_trust_provider_mfa IN (0, 1));
