-- 0016: workload identity by OIDC (issue 14 §1). Trusted issuers, the rules under them (tried
-- in `position` order, first match decides), and the digests of platform tokens already used,
-- kept until the token could no longer be accepted. The token itself is never stored; the
-- digest's primary key makes every replica agree that a token was used once.
CREATE TABLE oidc_issuers (
    id           TEXT    PRIMARY KEY,
    name         TEXT    NOT NULL CONSTRAINT oidc_issuers_name_key UNIQUE,
    issuer       TEXT    NOT NULL CONSTRAINT oidc_issuers_issuer_key UNIQUE,
    pinned_jwks  TEXT,
    audience     TEXT    NOT NULL,
    algorithms   TEXT    NOT NULL,
    leeway_secs  BIGINT  NOT NULL CHECK (leeway_secs >= 0),
    created_by   TEXT    NOT NULL,
    created_ms   BIGINT  NOT NULL,
    updated_ms   BIGINT  NOT NULL
);

CREATE TABLE oidc_rules (
    id               TEXT    PRIMARY KEY,
    issuer_id        TEXT    NOT NULL REFERENCES oidc_issuers (id) ON DELETE CASCADE,
    position         BIGINT  NOT NULL CHECK (position >= 1),
    name             TEXT    NOT NULL,
    claims           TEXT    NOT NULL,
    project_ids      TEXT    NOT NULL,
    secret_ids       TEXT    NOT NULL,
    machine_ttl_secs BIGINT  NOT NULL CHECK (machine_ttl_secs > 0),
    created_ms       BIGINT  NOT NULL,
    UNIQUE (issuer_id, position)
);

CREATE TABLE oidc_tokens_used (
    digest          BYTEA   PRIMARY KEY CHECK (length(digest) = 32),
    forget_after_ms BIGINT  NOT NULL
);

CREATE INDEX oidc_tokens_used_forget ON oidc_tokens_used (forget_after_ms);
