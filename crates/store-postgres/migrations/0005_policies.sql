-- 0005: access policies (issue 11, section 4), as SQLite's 0010. A policy belongs to one
-- project; a secret has at most one (`secrets.policy_id`), read by the machine read path's own
-- query through a join. `rules` is core's JSON document; the store never looks inside it.
CREATE TABLE policies (
    id         TEXT   PRIMARY KEY,
    project_id TEXT   NOT NULL REFERENCES projects (id),
    name       TEXT   NOT NULL,
    rules      TEXT   NOT NULL,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    CONSTRAINT policies_project_name_key UNIQUE (project_id, name)
);

ALTER TABLE secrets ADD COLUMN policy_id TEXT REFERENCES policies (id);
-- Deleting a policy asks whether any secret is still bound to it.
CREATE INDEX secrets_policy ON secrets (policy_id) WHERE policy_id IS NOT NULL;

-- The counts a policy's caps spend, keyed by (secret, machine or '' for all machines, axis,
-- bucket). Buckets are fixed windows: a minute's and a day's start (Unix ms, UTC), 0 for the
-- total, the version number for rotate-after-N. Only the current bucket of a key is kept.
CREATE TABLE policy_counters (
    secret_id  TEXT   NOT NULL REFERENCES secrets (id),
    machine_id TEXT   NOT NULL,
    axis       TEXT   NOT NULL CHECK (axis IN ('minute', 'day', 'total', 'version')),
    bucket     BIGINT NOT NULL,
    n          BIGINT NOT NULL CHECK (n >= 1),
    PRIMARY KEY (secret_id, machine_id, axis, bucket)
);

-- The last time each machine read each policy-bound secret, for co-sign.
CREATE TABLE policy_reads (
    secret_id  TEXT   NOT NULL REFERENCES secrets (id),
    machine_id TEXT   NOT NULL,
    read_ms    BIGINT NOT NULL,
    PRIMARY KEY (secret_id, machine_id)
);
