-- 0026: project key rotation (issue 15 §2; `crates/store/src/keyring.rs`, "ProjectKeyRotation").
-- A project's key has a generation (0 for every key made before this migration), and every
-- value sealed under a project key names the generation that sealed it: a secret version's data
-- key, a pending managed rotation's, a database connection's admin password and a lease's role
-- password. A rotation replaces the project key and re-wraps every such value in one
-- transaction, so a read sees the old key with the old values or the new key with the new ones.
-- The triggers refuse a value sealed under a key that is no longer the project's (a write that
-- read the key just before a rotation committed): the writer seals again under the new key.
-- SQLite has one writer at a time, so each check and its write cannot interleave with a rotation.
ALTER TABLE projects ADD COLUMN key_generation INTEGER NOT NULL DEFAULT 0
    CHECK (key_generation >= 0);
ALTER TABLE secret_versions ADD COLUMN key_generation INTEGER NOT NULL DEFAULT 0;
ALTER TABLE managed_secrets ADD COLUMN pending_key_generation INTEGER NOT NULL DEFAULT 0;
ALTER TABLE db_connections ADD COLUMN key_generation INTEGER NOT NULL DEFAULT 0;
ALTER TABLE leases ADD COLUMN key_generation INTEGER NOT NULL DEFAULT 0;

CREATE TRIGGER secret_versions_project_key BEFORE INSERT ON secret_versions
WHEN NEW.wrapped_dek IS NOT NULL AND NEW.key_generation IS NOT (
    SELECT p.key_generation FROM secrets s JOIN projects p ON p.id = s.project_id
     WHERE s.id = NEW.secret_id)
BEGIN SELECT RAISE(ABORT, 'project key stale'); END;

CREATE TRIGGER managed_secrets_project_key BEFORE UPDATE OF pending_wrapped_dek ON managed_secrets
WHEN NEW.pending_wrapped_dek IS NOT NULL AND NEW.pending_key_generation IS NOT (
    SELECT p.key_generation FROM secrets s JOIN projects p ON p.id = s.project_id
     WHERE s.id = NEW.secret_id)
BEGIN SELECT RAISE(ABORT, 'project key stale'); END;

CREATE TRIGGER db_connections_project_key_insert BEFORE INSERT ON db_connections
WHEN NEW.key_generation IS NOT (SELECT key_generation FROM projects WHERE id = NEW.project_id)
BEGIN SELECT RAISE(ABORT, 'project key stale'); END;

CREATE TRIGGER db_connections_project_key_update
BEFORE UPDATE OF password_wrapped_dek ON db_connections
WHEN NEW.key_generation IS NOT (SELECT key_generation FROM projects WHERE id = NEW.project_id)
BEGIN SELECT RAISE(ABORT, 'project key stale'); END;

CREATE TRIGGER leases_project_key BEFORE INSERT ON leases
WHEN NEW.key_generation IS NOT (SELECT key_generation FROM projects WHERE id = NEW.project_id)
BEGIN SELECT RAISE(ABORT, 'project key stale'); END;
