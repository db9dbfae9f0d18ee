-- 0021: project key rotation (issue 15 §2), the same as SQLite's 0026. A project's key has a
-- generation (0 for every key made before this migration), and every value sealed under a
-- project key names the generation that sealed it: a secret version's data key, a pending
-- managed rotation's, a database connection's admin password and a lease's role password. A
-- rotation replaces the project key and re-wraps every such value in one transaction, so a read
-- sees the old key with the old values or the new key with the new ones.
--
-- The triggers refuse a value sealed under a key that is no longer the project's (a write that
-- read the key just before a rotation committed): the writer seals again under the new key.
-- The check locks the project's row (FOR SHARE): a rotation's update of that row waits for the
-- writer's transaction, then finds the writer's value and re-lists; a writer that comes second
-- waits for the rotation and then sees the new generation.
ALTER TABLE projects ADD COLUMN key_generation BIGINT NOT NULL DEFAULT 0
    CHECK (key_generation >= 0);
ALTER TABLE secret_versions ADD COLUMN key_generation BIGINT NOT NULL DEFAULT 0;
ALTER TABLE managed_secrets ADD COLUMN pending_key_generation BIGINT NOT NULL DEFAULT 0;
ALTER TABLE db_connections ADD COLUMN key_generation BIGINT NOT NULL DEFAULT 0;
ALTER TABLE leases ADD COLUMN key_generation BIGINT NOT NULL DEFAULT 0;

CREATE FUNCTION signet_project_key_current(project TEXT, generation BIGINT) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM projects WHERE id = project AND key_generation = generation FOR SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'project key stale' USING ERRCODE = 'SK001';
    END IF;
END;
$$;

CREATE FUNCTION signet_secret_versions_project_key() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.wrapped_dek IS NOT NULL THEN
        PERFORM signet_project_key_current(
            (SELECT project_id FROM secrets WHERE id = NEW.secret_id), NEW.key_generation);
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER secret_versions_project_key BEFORE INSERT ON secret_versions
    FOR EACH ROW EXECUTE FUNCTION signet_secret_versions_project_key();

CREATE FUNCTION signet_managed_secrets_project_key() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.pending_wrapped_dek IS NOT NULL THEN
        PERFORM signet_project_key_current(
            (SELECT project_id FROM secrets WHERE id = NEW.secret_id), NEW.pending_key_generation);
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER managed_secrets_project_key BEFORE UPDATE OF pending_wrapped_dek ON managed_secrets
    FOR EACH ROW EXECUTE FUNCTION signet_managed_secrets_project_key();

CREATE FUNCTION signet_project_row_key() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM signet_project_key_current(NEW.project_id, NEW.key_generation);
    RETURN NEW;
END;
$$;
CREATE TRIGGER db_connections_project_key BEFORE INSERT OR UPDATE OF password_wrapped_dek
    ON db_connections FOR EACH ROW EXECUTE FUNCTION signet_project_row_key();
CREATE TRIGGER leases_project_key BEFORE INSERT ON leases
    FOR EACH ROW EXECUTE FUNCTION signet_project_row_key();
