-- 0005: rotation settings and schedule state, as SQLite's 0010. The scheduler claims a due
-- rotation by moving next_due_ms conditionally, in the rotation's own transaction.
CREATE TABLE secret_rotations (
    secret_id       TEXT    PRIMARY KEY REFERENCES secrets (id),
    charset         TEXT    NOT NULL,
    length          BIGINT  NOT NULL CHECK (length BETWEEN 1 AND 1024),
    fields          TEXT,
    interval_ms     BIGINT  CHECK (interval_ms > 0),
    paused          BOOLEAN NOT NULL DEFAULT FALSE,
    next_due_ms     BIGINT,
    last_rotated_ms BIGINT,
    updated_ms      BIGINT  NOT NULL
);

-- The scheduler's scan: running schedules, most overdue first.
CREATE INDEX secret_rotations_due ON secret_rotations (next_due_ms) WHERE NOT paused;
