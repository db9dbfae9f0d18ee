-- Each stored nonce carries its pair's key: the first 16 bytes of SHA-256 over principal NUL nonce,
-- the key the in-memory set uses (nonce.rs). Loading the set at start-up then reads keys instead
-- of hashing every row. `principal` and `nonce` stay, so that the table travels to PostgreSQL
-- (`signet storage migrate`), whose table has no key. The key is not indexed: an index on it (or on
-- `(expires_ms, key)`) would put each insert at a random place, and every group commit would
-- dirty one index page per nonce; the expiry index stays append-ordered, as before.
--
-- `signet_pair_key` is a function of the writer connection, registered before migrations run.
CREATE TABLE nonces_keyed (
    principal  TEXT    NOT NULL,
    nonce      TEXT    NOT NULL,
    expires_ms INTEGER NOT NULL,
    key        BLOB    NOT NULL CHECK (length(key) = 16)
) STRICT;

INSERT INTO nonces_keyed (principal, nonce, expires_ms, key)
SELECT principal, nonce, expires_ms, signet_pair_key(principal, nonce) FROM nonces ORDER BY rowid;

DROP TABLE nonces;

ALTER TABLE nonces_keyed RENAME TO nonces;

CREATE INDEX nonces_expiry ON nonces (expires_ms);
