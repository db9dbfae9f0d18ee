-- 0025: the root keyring (issue 15 §2; `crates/store/src/keyring.rs`). Generation 0 is the
-- unseal key itself (the root key file), so its row holds no key and every project key
-- written before this migration is wrapped under it; later generations are random keys
-- sealed under the unseal key. A project names the generation its key is wrapped under. The
-- triggers keep that name pointing at a live generation: a project cannot be written under a
-- retired (deleted) generation, and a generation cannot be retired while a project names it.
-- SQLite has one writer at a time, so each check and its write cannot interleave with another.
CREATE TABLE root_keys (
    generation INTEGER PRIMARY KEY CHECK (generation >= 0),
    sealed     BLOB,
    created_ms INTEGER NOT NULL,
    CHECK ((generation = 0) = (sealed IS NULL))
) STRICT;

INSERT INTO root_keys (generation, sealed, created_ms) VALUES (0, NULL, 0);

ALTER TABLE projects ADD COLUMN root_generation INTEGER NOT NULL DEFAULT 0
    CHECK (root_generation >= 0);

CREATE INDEX projects_root_generation ON projects (root_generation);

CREATE TRIGGER projects_root_generation_insert BEFORE INSERT ON projects
WHEN NOT EXISTS (SELECT 1 FROM root_keys WHERE generation = NEW.root_generation)
BEGIN SELECT RAISE(ABORT, 'root key generation retired'); END;

CREATE TRIGGER projects_root_generation_update BEFORE UPDATE OF root_generation ON projects
WHEN NOT EXISTS (SELECT 1 FROM root_keys WHERE generation = NEW.root_generation)
BEGIN SELECT RAISE(ABORT, 'root key generation retired'); END;

CREATE TRIGGER root_keys_in_use BEFORE DELETE ON root_keys
WHEN EXISTS (SELECT 1 FROM projects WHERE root_generation = OLD.generation)
BEGIN SELECT RAISE(ABORT, 'root key generation in use'); END;
