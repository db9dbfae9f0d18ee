-- 0021: workload identity by OIDC (issue 14 §1). Trusted issuers, the rules under them (tried
-- in `position` order, first match decides), and the digests of platform tokens already used,
-- kept until the token could no longer be accepted. The token itself is never stored.
CREATE TABLE oidc_issuers (
    id           TEXT    PRIMARY KEY,
    name         TEXT    NOT NULL UNIQUE,
    issuer       TEXT    NOT NULL UNIQUE,
    pinned_jwks  TEXT,
    audience     TEXT    NOT NULL,
    algorithms   TEXT    NOT NULL,
    leeway_secs  INTEGER NOT NULL CHECK (leeway_secs >= 0),
    created_by   TEXT    NOT NULL,
    created_ms   INTEGER NOT NULL,
    updated_ms   INTEGER NOT NULL
) STRICT;

CREATE TABLE oidc_rules (
    id               TEXT    PRIMARY KEY,
    issuer_id        TEXT    NOT NULL REFERENCES oidc_issuers (id) ON DELETE CASCADE,
    position         INTEGER NOT NULL CHECK (position >= 1),
    name             TEXT    NOT NULL,
    claims           TEXT    NOT NULL,
    project_ids      TEXT    NOT NULL,
    secret_ids       TEXT    NOT NULL,
    machine_ttl_secs INTEGER NOT NULL CHECK (machine_ttl_secs > 0),
    created_ms       INTEGER NOT NULL,
    UNIQUE (issuer_id, position)
) STRICT;

CREATE TABLE oidc_tokens_used (
    digest          BLOB    PRIMARY KEY CHECK (length(digest) = 32),
    forget_after_ms INTEGER NOT NULL
) STRICT;

CREATE INDEX oidc_tokens_used_forget ON oidc_tokens_used (forget_after_ms);
