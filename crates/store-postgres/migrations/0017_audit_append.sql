-- 0017: the audit group commit in one statement (issue 13). The journal chains a group after the
-- head it last wrote and calls this function once, in autocommit: one round trip where the
-- transaction took seven (BEGIN, lock, head, insert, read marks, head and notify, COMMIT).
--
-- The function takes the append lock every appender takes, then reads the head with a fresh
-- snapshot (PL/pgSQL takes one per statement in a VOLATILE function under READ COMMITTED, so
-- the read sees every append committed before the lock was granted). Only if the head is the one
-- the caller chained after does it write; otherwise it writes nothing and returns the head, and
-- the caller chains again. No head row (an empty log, or a removed head) writes nothing either:
-- the caller's transaction path tells those apart. Moving the head and the notification are the
-- same as `move_head` in audit.rs: the notification is delivered only if the records commit.
CREATE FUNCTION signet_append_audit(
    lock_key BIGINT, expect_seq BIGINT, expect_hash BYTEA,
    seqs BIGINT[], ts BIGINT[], kinds TEXT[], actors TEXT[], actions TEXT[], targets TEXT[],
    ips TEXT[], results TEXT[], details TEXT[], prevs BYTEA[], hashes BYTEA[], evidence BYTEA[],
    mark_machines TEXT[], mark_secrets TEXT[], mark_versions BIGINT[],
    OUT appended BOOLEAN, OUT head_seq BIGINT, OUT head_hash BYTEA)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    n INTEGER := cardinality(seqs);
BEGIN
    PERFORM pg_advisory_xact_lock(lock_key);
    SELECT h.seq, h.hash INTO head_seq, head_hash FROM audit_head h WHERE h.singleton = 1;
    IF NOT FOUND OR head_seq <> expect_seq OR head_hash <> expect_hash THEN
        appended := false;
        RETURN;
    END IF;
    IF n > 0 THEN
        INSERT INTO audit (seq, ts_ms, actor_kind, actor_id, action, target, source_ip, result,
                           detail, prev_hash, hash, evidence)
        SELECT * FROM unnest(seqs, ts, kinds, actors, actions, targets, ips, results, details,
                             prevs, hashes, evidence);
    END IF;
    IF cardinality(mark_versions) > 0 THEN
        -- Re-reading an unchanged secret is the common case; the WHERE leaves its row alone.
        INSERT INTO read_marks (machine_id, secret_id, version)
        SELECT * FROM unnest(mark_machines, mark_secrets, mark_versions)
        ON CONFLICT (machine_id, secret_id) DO UPDATE SET version = excluded.version
        WHERE read_marks.version <> excluded.version;
    END IF;
    IF n > 0 THEN
        head_seq := seqs[n];
        head_hash := hashes[n];
        UPDATE audit_head SET seq = head_seq, hash = head_hash WHERE singleton = 1;
        PERFORM pg_notify('signet_changes', 'audit');
    END IF;
    appended := true;
END
$$;
