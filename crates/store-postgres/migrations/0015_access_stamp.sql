-- 0015: the access stamp (issue 13), as SQLite's 0020. A counter that moves forward in the same
-- transaction as every change to the data a machine's record or a secret's read view is built
-- from: the vault settings and allowlist, machines, memberships, grants, projects (freeze,
-- trash), secrets and their versions, policies and leased-secret settings. Replicas cache
-- machine records and read views tagged with the stamp they were read at, and use an entry only
-- while the stamp read for the request is the same. `managed_secrets` is left out: nothing
-- cached is read from it and its heartbeats would only invalidate the caches.
--
-- The bump runs at commit (a deferred constraint trigger), once per transaction (`last_xact`):
-- every writer of these tables serialises on the one row, so the lock is taken last, when the
-- transaction holds every other lock it will take, and holding it never waits on another lock
-- (no deadlock with, say, the audit head). Readers never wait: they read the committed row.
-- A sequence would not do: `nextval` is visible before the data commits, so a reader could tag
-- old data with the new stamp.
CREATE TABLE access_stamp (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    stamp     BIGINT  NOT NULL,
    last_xact BIGINT  NOT NULL DEFAULT 0
);
INSERT INTO access_stamp (singleton, stamp) VALUES (1, 1);

CREATE FUNCTION signet_bump_access_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE access_stamp SET stamp = stamp + 1, last_xact = txid_current()
     WHERE singleton = 1 AND last_xact <> txid_current();
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER vault_access_stamp AFTER INSERT OR UPDATE OR DELETE ON vault
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION signet_bump_access_stamp();
CREATE CONSTRAINT TRIGGER ip_allowlist_access_stamp AFTER INSERT OR UPDATE OR DELETE ON ip_allowlist
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION signet_bump_access_stamp();
CREATE CONSTRAINT TRIGGER machines_access_stamp AFTER INSERT OR UPDATE OR DELETE ON machines
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION signet_bump_access_stamp();
CREATE CONSTRAINT TRIGGER memberships_access_stamp AFTER INSERT OR UPDATE OR DELETE ON memberships
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION signet_bump_access_stamp();
CREATE CONSTRAINT TRIGGER grants_access_stamp AFTER INSERT OR UPDATE OR DELETE ON grants
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION signet_bump_access_stamp();
CREATE CONSTRAINT TRIGGER projects_access_stamp AFTER INSERT OR UPDATE OR DELETE ON projects
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION signet_bump_access_stamp();
CREATE CONSTRAINT TRIGGER secrets_access_stamp AFTER INSERT OR UPDATE OR DELETE ON secrets
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION signet_bump_access_stamp();
CREATE CONSTRAINT TRIGGER secret_versions_access_stamp AFTER INSERT OR UPDATE OR DELETE ON secret_versions
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION signet_bump_access_stamp();
CREATE CONSTRAINT TRIGGER policies_access_stamp AFTER INSERT OR UPDATE OR DELETE ON policies
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION signet_bump_access_stamp();
CREATE CONSTRAINT TRIGGER leased_secrets_access_stamp AFTER INSERT OR UPDATE OR DELETE ON leased_secrets
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION signet_bump_access_stamp();
