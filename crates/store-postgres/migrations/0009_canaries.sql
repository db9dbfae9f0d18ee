-- 0005: canary secrets and project freeze (issue 11 §5), as SQLite's 0010. The freeze lives on
-- the project row, which every machine read query joins already.
ALTER TABLE secrets ADD COLUMN canary BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE projects ADD COLUMN frozen_ms BIGINT;
