-- 0015: alerts and webhooks (issue 12 §4). A webhook's HMAC secret is kept only sealed. The
-- tailer's cursor is one row, moved conditionally together with the deliveries it enqueues;
-- `dedup` makes a second enqueue of the same alert a no-op whatever races.
CREATE TABLE webhooks (
    id            TEXT    PRIMARY KEY,
    name          TEXT    NOT NULL,
    url           TEXT    NOT NULL,
    sealed_secret BLOB,
    enabled       INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    created_by    TEXT    NOT NULL,
    created_ms    INTEGER NOT NULL,
    updated_ms    INTEGER NOT NULL
) STRICT;

CREATE TABLE alert_rules (
    id         TEXT    PRIMARY KEY,
    name       TEXT    NOT NULL,
    severity   TEXT    NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    spec       TEXT    NOT NULL,
    webhooks   TEXT    NOT NULL,
    created_by TEXT    NOT NULL,
    created_ms INTEGER NOT NULL
) STRICT;

CREATE TABLE alert_cursor (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    next_seq INTEGER NOT NULL CHECK (next_seq >= 1),
    state    TEXT    NOT NULL
) STRICT;

CREATE TABLE webhook_deliveries (
    id               TEXT    PRIMARY KEY,
    webhook_id       TEXT    NOT NULL,
    rule_id          TEXT,
    event            TEXT    NOT NULL,
    severity         TEXT    NOT NULL,
    payload          TEXT    NOT NULL,
    dedup            TEXT    UNIQUE,
    status           TEXT    NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         INTEGER NOT NULL CHECK (attempts >= 0),
    next_attempt_ms  INTEGER NOT NULL,
    claim_until_ms   INTEGER,
    last_status_code INTEGER,
    last_error       TEXT,
    last_duration_ms INTEGER,
    created_ms       INTEGER NOT NULL,
    updated_ms       INTEGER NOT NULL
) STRICT;
-- The dispatcher's scan: pending deliveries, soonest due first.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_ms) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_created ON webhook_deliveries (created_ms);
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id);
