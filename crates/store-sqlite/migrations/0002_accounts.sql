-- 0002: human accounts, their recovery codes and sign-in history; operator keys owned by a user
-- and keys that expire (CLI sign-in).

-- `username` and `email` are canonical (NFKC, lowercase): case and Unicode variants of one name
-- collide here. `totp_last_step` only ever grows, so a code is accepted once.
CREATE TABLE users (
    id              TEXT    PRIMARY KEY,
    username        TEXT    NOT NULL UNIQUE,
    email           TEXT    NOT NULL UNIQUE,
    display_name    TEXT    NOT NULL,
    password_hash   TEXT    NOT NULL,
    totp_sealed     BLOB,
    totp_last_step  INTEGER NOT NULL,
    role            TEXT    NOT NULL CHECK (role IN ('owner', 'admin', 'developer', 'viewer')),
    status          TEXT    NOT NULL CHECK (status IN ('active', 'suspended')),
    failed_attempts INTEGER NOT NULL CHECK (failed_attempts >= 0),
    locked_until_ms INTEGER,
    created_ms      INTEGER NOT NULL
) STRICT;

-- SHA-256 digests of single-use recovery codes. `used_ms` is set once.
CREATE TABLE recovery_codes (
    user_id   TEXT    NOT NULL REFERENCES users (id),
    code_hash BLOB    NOT NULL CHECK (length(code_hash) = 32),
    used_ms   INTEGER,
    PRIMARY KEY (user_id, code_hash)
) STRICT, WITHOUT ROWID;

-- Every sign-in attempt. `user_id` is NULL when the login named no account.
CREATE TABLE logins (
    user_id    TEXT    REFERENCES users (id),
    at_ms      INTEGER NOT NULL,
    ip         TEXT    NOT NULL,
    user_agent TEXT    NOT NULL,
    result     TEXT    NOT NULL CHECK (result IN ('ok', 'failed', 'throttled'))
) STRICT;
CREATE INDEX logins_user ON logins (user_id, at_ms);

-- Existing keys (`signet operator init`) belong to no user and never expire.
ALTER TABLE operators ADD COLUMN user_id TEXT REFERENCES users (id);
ALTER TABLE operators ADD COLUMN expires_ms INTEGER;
