-- 0018: at most one reusable active lease per machine and secret (issue 12 §1 follow-up). Two
-- first reads of a secret that is not mint-fresh, racing, could each mint a role; now the
-- second insert finds the first's row, and its reader drops its own role and answers the first.
-- `reusable` is set from the secret's settings at insert (not mint-fresh); existing rows keep 0,
-- so this migration cannot fail on duplicates written before it.
ALTER TABLE leases ADD COLUMN reusable INTEGER NOT NULL DEFAULT 0 CHECK (reusable IN (0, 1));
CREATE UNIQUE INDEX leases_one_reusable ON leases (machine_id, secret_id)
    WHERE state = 'active' AND reusable = 1;
