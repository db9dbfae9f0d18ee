-- 0005: project scope for developers and viewers, removed users, and invitations.

-- `scoped` = 1 limits the user to the projects in `user_projects` (possibly none); 0 means every
-- project. A separate flag rather than "no rows means all", so that losing rows can only ever
-- narrow what someone sees.
ALTER TABLE users ADD COLUMN scoped INTEGER NOT NULL DEFAULT 0 CHECK (scoped IN (0, 1));
-- Set once when a user is removed. The `status` CHECK of 0002 cannot grow a value without
-- rebuilding a table three others reference, so a removed user keeps `status = 'suspended'` and
-- this column is what makes them removed.
ALTER TABLE users ADD COLUMN removed_ms INTEGER;

CREATE TABLE user_projects (
    user_id    TEXT NOT NULL REFERENCES users (id),
    project_id TEXT NOT NULL REFERENCES projects (id),
    PRIMARY KEY (user_id, project_id)
) STRICT, WITHOUT ROWID;

-- Only the SHA-256 digest of an invitation's code is kept. `projects` is NULL for every project
-- or a JSON array of project ids.
CREATE TABLE invites (
    id          TEXT    PRIMARY KEY,
    code_hash   BLOB    NOT NULL UNIQUE CHECK (length(code_hash) = 32),
    email       TEXT    NOT NULL,
    role        TEXT    NOT NULL CHECK (role IN ('owner', 'admin', 'developer', 'viewer')),
    projects    TEXT,
    created_by  TEXT    NOT NULL,
    created_ms  INTEGER NOT NULL,
    expires_ms  INTEGER NOT NULL,
    used_ms     INTEGER,
    used_by     TEXT    REFERENCES users (id),
    revoked_ms  INTEGER
) STRICT;
CREATE INDEX invites_created ON invites (created_ms);
