-- 0016: managed database passwords (issue 12 §2). One row per managed secret: the database
-- connection and role it is bound to, the one machine named as its sync agent, the rotation
-- waiting for that agent (sealed like a version, for the version number in sealed_for), how the
-- newest rotation ended, and the agent's newest heartbeat.
CREATE TABLE managed_secrets (
    secret_id          TEXT    PRIMARY KEY REFERENCES secrets (id),
    connection_id      TEXT    NOT NULL,
    username           TEXT    NOT NULL,
    agent_machine_id   TEXT,
    poll_interval_secs INTEGER NOT NULL CHECK (poll_interval_secs BETWEEN 5 AND 3600),
    pending_id         TEXT,
    pending_sealed_for INTEGER,
    pending_field_names TEXT,
    pending_wrapped_dek BLOB,
    pending_ciphertext BLOB,
    pending_trigger    TEXT,
    pending_by         TEXT,
    pending_ms         INTEGER,
    last_id            TEXT,
    last_outcome       TEXT CHECK (last_outcome IN ('confirmed', 'rejected')),
    last_error         TEXT,
    last_ms            INTEGER,
    heartbeat_status   TEXT,
    heartbeat_error    TEXT,
    heartbeat_ms       INTEGER,
    created_ms         INTEGER NOT NULL,
    updated_ms         INTEGER NOT NULL
) STRICT;
