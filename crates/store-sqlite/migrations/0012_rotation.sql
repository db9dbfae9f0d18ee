-- 0010: rotation settings and schedule state, one row per secret (issue 11 §3). The scheduler
-- claims a due rotation by moving next_due_ms conditionally, in the rotation's own transaction.
CREATE TABLE secret_rotations (
    secret_id       TEXT    PRIMARY KEY REFERENCES secrets (id),
    charset         TEXT    NOT NULL,
    length          INTEGER NOT NULL CHECK (length BETWEEN 1 AND 1024),
    fields          TEXT,
    interval_ms     INTEGER CHECK (interval_ms > 0),
    paused          INTEGER NOT NULL DEFAULT 0 CHECK (paused IN (0, 1)),
    next_due_ms     INTEGER,
    last_rotated_ms INTEGER,
    updated_ms      INTEGER NOT NULL
) STRICT;

-- The scheduler's scan: running schedules, most overdue first.
CREATE INDEX secret_rotations_due ON secret_rotations (next_due_ms) WHERE paused = 0;
