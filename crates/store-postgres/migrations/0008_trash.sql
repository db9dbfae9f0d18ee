-- 0005: the trash (issue 11), as SQLite's 0010. Who trashed a secret or a project and when; a
-- trashed project hides every secret in it without touching their rows. Project names stay
-- reserved while a project is in the trash. The vault keeps trashed items for
-- `trash_retention_days`, after which the server purges them.
ALTER TABLE secrets ADD COLUMN deleted_by TEXT;
ALTER TABLE secrets ADD COLUMN deleted_by_name TEXT;
ALTER TABLE projects ADD COLUMN deleted_ms BIGINT;
ALTER TABLE projects ADD COLUMN deleted_by TEXT;
ALTER TABLE projects ADD COLUMN deleted_by_name TEXT;
ALTER TABLE vault ADD COLUMN trash_retention_days BIGINT NOT NULL DEFAULT 30
    CHECK (trash_retention_days BETWEEN 1 AND 3650);
CREATE INDEX secrets_deleted ON secrets (deleted_ms) WHERE deleted_ms IS NOT NULL;
CREATE INDEX projects_deleted ON projects (deleted_ms) WHERE deleted_ms IS NOT NULL;
