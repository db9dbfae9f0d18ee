-- 0010: one-time share links (issue 11 §6). The link's secret part is kept only as its SHA-256,
-- the passphrase only as an Argon2id hash, the value only sealed; all three are erased when the
-- share leaves `pending`, which the CHECK holds the rows to.
CREATE TABLE shares (
    id              TEXT    PRIMARY KEY,
    secret_hash     BLOB    NOT NULL UNIQUE CHECK (length(secret_hash) = 32),
    passphrase_hash TEXT,
    wrapped_dek     BLOB,
    ciphertext      BLOB,
    created_by      TEXT    NOT NULL,
    created_by_user TEXT,
    created_ms      INTEGER NOT NULL,
    expires_ms      INTEGER NOT NULL,
    status          TEXT    NOT NULL
        CHECK (status IN ('pending', 'viewed', 'destroyed', 'expired')),
    closed_ms       INTEGER,
    CHECK ((status = 'pending') = (passphrase_hash IS NOT NULL AND wrapped_dek IS NOT NULL
                                   AND ciphertext IS NOT NULL AND closed_ms IS NULL))
) STRICT;
CREATE INDEX shares_created ON shares (created_ms);
CREATE INDEX shares_pending_expiry ON shares (expires_ms) WHERE status = 'pending';
