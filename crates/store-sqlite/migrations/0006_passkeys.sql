-- 0006: passkeys (WebAuthn credentials) of users, and the single-use state of WebAuthn ceremonies.

-- `credential` is the WebAuthn library's JSON (public key, counter, flags); `sign_count` repeats
-- the counter so that "only forward" is one conditional UPDATE. A user's passkeys go with them.
CREATE TABLE passkeys (
    id            TEXT    PRIMARY KEY,
    user_id       TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id BLOB    NOT NULL UNIQUE CHECK (length(credential_id) BETWEEN 1 AND 1023),
    name          TEXT    NOT NULL,
    credential    TEXT    NOT NULL,
    sign_count    INTEGER NOT NULL CHECK (sign_count >= 0),
    created_ms    INTEGER NOT NULL,
    last_used_ms  INTEGER
) STRICT;
CREATE INDEX passkeys_user ON passkeys (user_id, created_ms);

-- A ceremony is deleted when it is finished (or found expired), so a challenge answers once.
-- `user_id` is NULL for a usernameless sign-in.
CREATE TABLE webauthn_ceremonies (
    id         TEXT    PRIMARY KEY,
    kind       TEXT    NOT NULL CHECK (kind IN ('authentication', 'registration', 'step_up')),
    user_id    TEXT    REFERENCES users (id) ON DELETE CASCADE,
    state      TEXT    NOT NULL,
    expires_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX webauthn_ceremonies_expiry ON webauthn_ceremonies (expires_ms);
