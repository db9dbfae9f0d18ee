-- 0013: at most one reusable active lease per machine and secret (issue 12 §1 follow-up), as
-- SQLite's 0018. Two first reads of a secret that is not mint-fresh, racing, could each mint a
-- role; now the second insert waits for the first's row and finds it, and its reader drops its
-- own role and answers the first. `reusable` is set from the secret's settings at insert (not
-- mint-fresh); existing rows keep FALSE, so this migration cannot fail on earlier duplicates.
ALTER TABLE leases ADD COLUMN reusable BOOLEAN NOT NULL DEFAULT FALSE;
CREATE UNIQUE INDEX leases_one_reusable ON leases (machine_id, secret_id)
    WHERE state = 'active' AND reusable;
