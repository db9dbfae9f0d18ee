-- 0015: database connections, leased secrets and their leases (issue 12 §1). A connection's
-- admin password and a lease's role password are kept only sealed under the project key.
-- No foreign key to secrets or projects: the trash purges those with its own statements, and a
-- lease row outlives its secret as history.
CREATE TABLE db_connections (
    id                   TEXT    PRIMARY KEY,
    project_id           TEXT    NOT NULL,
    name                 TEXT    NOT NULL,
    host                 TEXT    NOT NULL,
    port                 INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
    database             TEXT    NOT NULL,
    admin_user           TEXT    NOT NULL,
    tls_mode             TEXT    NOT NULL
        CHECK (tls_mode IN ('disable', 'prefer', 'require', 'verify-full')),
    password_wrapped_dek BLOB    NOT NULL,
    password_ciphertext  BLOB    NOT NULL,
    created_ms           INTEGER NOT NULL,
    updated_ms           INTEGER NOT NULL,
    UNIQUE (project_id, name)
) STRICT;

-- One row per leased secret: how its reads mint roles. `grant_sql` is a JSON list of statements.
CREATE TABLE leased_secrets (
    secret_id         TEXT    PRIMARY KEY,
    connection_id     TEXT    NOT NULL REFERENCES db_connections (id),
    ttl_ms            INTEGER NOT NULL CHECK (ttl_ms > 0),
    max_ttl_ms        INTEGER NOT NULL CHECK (max_ttl_ms >= ttl_ms),
    renew_on_read     INTEGER NOT NULL CHECK (renew_on_read IN (0, 1)),
    mint_fresh        INTEGER NOT NULL CHECK (mint_fresh IN (0, 1)),
    revoke_on_disable INTEGER NOT NULL CHECK (revoke_on_disable IN (0, 1)),
    password_length   INTEGER NOT NULL CHECK (password_length BETWEEN 1 AND 1024),
    password_charset  TEXT    NOT NULL,
    grant_sql         TEXT    NOT NULL,
    updated_ms        INTEGER NOT NULL
) STRICT;
CREATE INDEX leased_secrets_connection ON leased_secrets (connection_id);

CREATE TABLE leases (
    id                   TEXT    PRIMARY KEY,
    secret_id            TEXT    NOT NULL,
    project_id           TEXT    NOT NULL,
    machine_id           TEXT    NOT NULL,
    connection_id        TEXT    NOT NULL,
    role_name            TEXT    NOT NULL UNIQUE,
    password_wrapped_dek BLOB    NOT NULL,
    password_ciphertext  BLOB    NOT NULL,
    created_ms           INTEGER NOT NULL,
    expires_ms           INTEGER NOT NULL,
    max_expires_ms       INTEGER NOT NULL CHECK (max_expires_ms >= expires_ms),
    state                TEXT    NOT NULL CHECK (state IN ('active', 'revoking', 'revoked')),
    claim_until_ms       INTEGER,
    revoked_ms           INTEGER,
    revoke_reason        TEXT,
    CHECK ((state = 'revoking') = (claim_until_ms IS NOT NULL)),
    CHECK ((state = 'revoked') = (revoked_ms IS NOT NULL))
) STRICT;
-- The reaper's scan and a machine's active lease of a secret.
CREATE INDEX leases_active_expiry ON leases (expires_ms) WHERE state = 'active';
CREATE INDEX leases_revoking_claim ON leases (claim_until_ms) WHERE state = 'revoking';
CREATE INDEX leases_machine_secret ON leases (machine_id, secret_id);
CREATE INDEX leases_created ON leases (created_ms);
