-- 0003: browser sessions. Only the SHA-256 of the cookie's secret is stored.

CREATE TABLE sessions (
    id           TEXT    PRIMARY KEY,
    token_hash   BLOB    NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    user_id      TEXT    NOT NULL REFERENCES users (id),
    operator_id  TEXT    NOT NULL UNIQUE,
    created_ms   INTEGER NOT NULL,
    last_seen_ms INTEGER NOT NULL,
    expires_ms   INTEGER NOT NULL,
    step_up_ms   INTEGER,
    ip           TEXT    NOT NULL,
    user_agent   TEXT    NOT NULL,
    revoked_ms   INTEGER
) STRICT;
CREATE INDEX sessions_user ON sessions (user_id, created_ms);
