-- 0020: the access stamp (issue 13). A counter that moves forward in the same transaction as
-- every change to the data a machine's record or a secret's read view is built from: the
-- vault settings and allowlist, machines, memberships, grants, projects (freeze, trash),
-- secrets and their versions, policies and leased-secret settings. A replica caches machine
-- records and read views tagged with the stamp they were read at, and uses an entry only while
-- the stamp it reads for the request is the same. Triggers, not application code, so no write
-- path can forget it; a stamp row in the file, not a process counter, because two processes
-- may share one file. `managed_secrets` is left out: nothing cached is read from it and its
-- heartbeats would only invalidate the cache.
CREATE TABLE access_stamp (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    stamp     INTEGER NOT NULL
) STRICT;
INSERT INTO access_stamp (singleton, stamp) VALUES (1, 1);
CREATE TRIGGER vault_stamp_insert AFTER INSERT ON vault BEGIN UPDATE access_stamp SET stamp = stamp + 1; END;
CREATE TRIGGER vault_stamp_update AFTER UPDATE ON vault BEGIN UPDATE access_stamp SET stamp = stamp + 1; END;
CREATE TRIGGER vault_stamp_delete AFTER DELETE ON vault BEGIN UPDATE access_stamp SET stamp = stamp + 1; END;
CREATE TRIGGER ip_allowlist_stamp_insert AFTER INSERT ON ip_allowlist BEGIN UPDATE access_stamp SET stamp = stamp + 1; END;
CREATE TRIGGER ip_allowlist_stamp_update AFTER UPDATE ON ip_allowlist BEGIN UPDATE access_stamp SET stamp = stamp + 1; END;
CREATE TRIGGER ip_allowlist_stamp_delete AFTER DELETE ON ip_allowlist BEGIN UPDATE access_stamp SET stamp = stamp + 1; END;
CREATE TRIGGER machines_stamp_insert AFTER INSERT ON machines BEGIN UPDATE access_stamp SET stamp = stamp + 1; END;
CREATE TRIGGER machines_stamp_update AFTER UPDATE ON machines BEGIN UPDATE access_stamp SET stamp = stamp + 1; END;
CREATE TRIGGER machines_stamp_delete AFTER DELETE ON machines BEGIN UPDATE access_stamp SET stamp = stamp + 1; END;
CREATE TRIGGER memberships_stamp_insert AFTER INSERT ON memberships BEGIN UPDATE access_stamp SET stamp = stamp + 1; END;
CREATE TRIGGER memberships_stamp_update AFTER UPDATE ON memberships BEGIN UPDATE access_stamp SET stamp = stamp + 1; END;
CREATE TRIGGER memberships_stamp_delete AFTER DELETE ON memberships BEGIN UPDATE access_stamp SET stamp = stamp + 1; END;
CREATE TRIGGER grants_stamp_insert AFTER INSERT ON grants BEGIN UPDATE access_stamp SET stamp = stamp + 1; END;
CREATE TRIGGER grants_stamp_update AFTER UPDATE ON grants BEGIN UPDATE access_stamp SET stamp = stamp + 1; END;
CREATE TRIGGER grants_stamp_delete AFTER DELETE ON grants BEGIN UPDATE access_stamp SET stamp = stamp + 1; END;
CREATE TRIGGER projects_stamp_insert AFTER INSERT ON projects BEGIN UPDATE access_stamp SET stamp = stamp + 1; END;
CREATE TRIGGER projects_stamp_update AFTER UPDATE ON projects BEGIN UPDATE access_stamp SET stamp = stamp + 1; END;
CREATE TRIGGER projects_stamp_delete AFTER DELETE ON projects BEGIN UPDATE access_stamp SET stamp = stamp + 1; END;
CREATE TRIGGER secrets_stamp_insert AFTER INSERT ON secrets BEGIN UPDATE access_stamp SET stamp = stamp + 1; END;
CREATE TRIGGER secrets_stamp_update AFTER UPDATE ON secrets BEGIN UPDATE access_stamp SET stamp = stamp + 1; END;
CREATE TRIGGER secrets_stamp_delete AFTER DELETE ON secrets BEGIN UPDATE access_stamp SET stamp = stamp + 1; END;
CREATE TRIGGER secret_versions_stamp_insert AFTER INSERT ON secret_versions BEGIN UPDATE access_stamp SET stamp = stamp + 1; END;
CREATE TRIGGER secret_versions_stamp_update AFTER UPDATE ON secret_versions BEGIN UPDATE access_stamp SET stamp = stamp + 1; END;
CREATE TRIGGER secret_versions_stamp_delete AFTER DELETE ON secret_versions BEGIN UPDATE access_stamp SET stamp = stamp + 1; END;
CREATE TRIGGER policies_stamp_insert AFTER INSERT ON policies BEGIN UPDATE access_stamp SET stamp = stamp + 1; END;
CREATE TRIGGER policies_stamp_update AFTER UPDATE ON policies BEGIN UPDATE access_stamp SET stamp = stamp + 1; END;
CREATE TRIGGER policies_stamp_delete AFTER DELETE ON policies BEGIN UPDATE access_stamp SET stamp = stamp + 1; END;
CREATE TRIGGER leased_secrets_stamp_insert AFTER INSERT ON leased_secrets BEGIN UPDATE access_stamp SET stamp = stamp + 1; END;
CREATE TRIGGER leased_secrets_stamp_update AFTER UPDATE ON leased_secrets BEGIN UPDATE access_stamp SET stamp = stamp + 1; END;
CREATE TRIGGER leased_secrets_stamp_delete AFTER DELETE ON leased_secrets BEGIN UPDATE access_stamp SET stamp = stamp + 1; END;
