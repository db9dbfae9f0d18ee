-- 0019: what a machine signed, kept with the records of its request (issue 13 §6). One BLOB in
-- `SignedEvidence::to_bytes` form (version byte, method, path, timestamp, nonce, body SHA-256,
-- signature), covered by the chain link. NULL for every other record and for every record
-- written before this migration, whose links are computed exactly as before.
ALTER TABLE audit ADD COLUMN evidence BLOB;

-- Archived segments (issue 13 §6): one signed checkpoint per segment of the log that was
-- exported to a file and pruned. The live chain continues after the newest one's `last_hash`.
-- The signature is the vault's archive key over the checkpoint (`docs/protocol.md` §21).
CREATE TABLE audit_checkpoints (
    last_seq        INTEGER PRIMARY KEY CHECK (last_seq >= 1),
    first_seq       INTEGER NOT NULL UNIQUE CHECK (first_seq >= 1 AND first_seq <= last_seq),
    last_hash       BLOB NOT NULL CHECK (length(last_hash) = 32),
    prev_checkpoint BLOB NOT NULL CHECK (length(prev_checkpoint) = 32),
    segment_sha256  BLOB NOT NULL CHECK (length(segment_sha256) = 32),
    signature       BLOB NOT NULL CHECK (length(signature) = 64)
) STRICT;

CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'audit checkpoints are append-only');
END;

CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'audit checkpoints are append-only');
END;

-- Records may now leave, but only those a checkpoint covers: pruning an archived segment is
-- the one delete Signet ever makes.
DROP TRIGGER audit_no_delete;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
WHEN OLD.seq > (SELECT coalesce(max(last_seq), 0) FROM audit_checkpoints)
BEGIN
    SELECT RAISE(ABORT, 'audit records are append-only');
END;
