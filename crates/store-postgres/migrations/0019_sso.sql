-- 0019: single sign-on for people (issue 14 §3), the same as SQLite's 0024. Trusted OpenID
-- providers (the client secret sealed under the root key), the mappings from claims to a role
-- (tried in `position` order, first match decides), the identities (provider, sub) linked to
-- users, and the sign-in attempts in flight: consumed once by their state digest, and, for
-- `signet login --sso`, finished once by the CLI, each by one conditional UPDATE so that every
-- replica agrees.
CREATE TABLE sso_providers (
    id             TEXT    PRIMARY KEY,
    name           TEXT    NOT NULL CONSTRAINT sso_providers_name_key UNIQUE,
    issuer         TEXT    NOT NULL,
    client_id      TEXT    NOT NULL,
    sealed_secret  BYTEA,
    scopes         TEXT    NOT NULL,
    username_claim TEXT    NOT NULL,
    groups_claim   TEXT    NOT NULL,
    jit_users      BOOLEAN NOT NULL,
    enabled        BOOLEAN NOT NULL,
    created_ms     BIGINT  NOT NULL,
    updated_ms     BIGINT  NOT NULL
);

CREATE TABLE sso_mappings (
    id          TEXT    PRIMARY KEY,
    provider_id TEXT    NOT NULL REFERENCES sso_providers (id) ON DELETE CASCADE,
    position    BIGINT  NOT NULL CHECK (position >= 1),
    claim       TEXT    NOT NULL,
    value       TEXT    NOT NULL,
    role        TEXT    NOT NULL CHECK (role IN ('owner', 'admin', 'developer', 'viewer')),
    project_ids TEXT    NOT NULL,
    created_ms  BIGINT  NOT NULL,
    UNIQUE (provider_id, position)
);

-- Linked by `sub` only: never by email or username, which many providers let people choose.
CREATE TABLE sso_identities (
    provider_id   TEXT    NOT NULL REFERENCES sso_providers (id) ON DELETE CASCADE,
    subject       TEXT    NOT NULL,
    user_id       TEXT    NOT NULL REFERENCES users (id),
    linked_ms     BIGINT  NOT NULL,
    last_login_ms BIGINT,
    CONSTRAINT sso_identities_pkey PRIMARY KEY (provider_id, subject),
    CONSTRAINT sso_identities_user_key UNIQUE (provider_id, user_id)
);
CREATE INDEX sso_identities_user ON sso_identities (user_id);

CREATE TABLE sso_attempts (
    id              TEXT    PRIMARY KEY,
    state_hash      BYTEA   NOT NULL UNIQUE CHECK (length(state_hash) = 32),
    provider_id     TEXT    NOT NULL REFERENCES sso_providers (id) ON DELETE CASCADE,
    purpose         TEXT    NOT NULL CHECK (purpose IN ('login', 'link', 'step_up', 'cli')),
    binding_hash    BYTEA   CHECK (binding_hash IS NULL OR length(binding_hash) = 32),
    nonce           TEXT    NOT NULL,
    pkce_verifier   TEXT    NOT NULL,
    user_id         TEXT,
    session_id      TEXT,
    public_key      TEXT,
    key_name        TEXT,
    loopback_port   BIGINT  CHECK (loopback_port IS NULL OR loopback_port BETWEEN 1 AND 65535),
    completion_hash BYTEA   CHECK (completion_hash IS NULL OR length(completion_hash) = 32),
    created_ms      BIGINT  NOT NULL,
    expires_ms      BIGINT  NOT NULL,
    used_ms         BIGINT,
    finished_ms     BIGINT
);
CREATE INDEX sso_attempts_expiry ON sso_attempts (expires_ms);

ALTER TABLE vault ADD COLUMN sso_required BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE vault ADD COLUMN break_glass_user TEXT;
ALTER TABLE vault ADD COLUMN sso_trust_provider_mfa BOOLEAN NOT NULL DEFAULT FALSE;
