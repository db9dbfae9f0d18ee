-- 0014: what a machine signed, kept with the records of its request (issue 13 §6). One BYTEA in
-- `SignedEvidence::to_bytes` form (version byte, method, path, timestamp, nonce, body SHA-256,
-- signature), covered by the chain link. NULL for every other record and for every record
-- written before this migration, whose links are computed exactly as before.
ALTER TABLE audit ADD COLUMN evidence BYTEA;

-- Archived segments (issue 13 §6): one signed checkpoint per segment of the log that was
-- exported to a file and pruned. The live chain continues after the newest one's `last_hash`.
-- The signature is the vault's archive key over the checkpoint (`docs/protocol.md` §21).
CREATE TABLE audit_checkpoints (
    last_seq        BIGINT PRIMARY KEY CHECK (last_seq >= 1),
    first_seq       BIGINT NOT NULL UNIQUE CHECK (first_seq >= 1 AND first_seq <= last_seq),
    last_hash       BYTEA NOT NULL CHECK (length(last_hash) = 32),
    prev_checkpoint BYTEA NOT NULL CHECK (length(prev_checkpoint) = 32),
    segment_sha256  BYTEA NOT NULL CHECK (length(segment_sha256) = 32),
    signature       BYTEA NOT NULL CHECK (length(signature) = 64)
);
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();

-- Records may now leave, but only those a checkpoint covers: pruning an archived segment is
-- the one delete Signet ever makes.
CREATE FUNCTION audit_prune_only_archived() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.seq > (SELECT coalesce(max(last_seq), 0) FROM audit_checkpoints) THEN
        RAISE EXCEPTION 'audit records are append-only';
    END IF;
    RETURN OLD;
END;
$$;
DROP TRIGGER audit_no_delete ON audit;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
    FOR EACH ROW EXECUTE FUNCTION audit_prune_only_archived();
