-- 0020: the root keyring (issue 15 §2; `crates/store/src/keyring.rs`), the same as SQLite's
-- 0025. Generation 0 is the unseal key itself (the root key file), so its row holds no key and
-- every project key written before this migration is wrapped under it; later generations are
-- random keys sealed under the unseal key. A project names the generation its key is wrapped
-- under, through a foreign key: a project cannot be written under a retired (deleted)
-- generation, and a generation cannot be retired while a project names it, committed or not
-- (the key's row locks make a concurrent insert and retirement wait for each other).
CREATE TABLE root_keys (
    generation BIGINT PRIMARY KEY CHECK (generation >= 0),
    sealed     BYTEA,
    created_ms BIGINT NOT NULL,
    CHECK ((generation = 0) = (sealed IS NULL))
);

INSERT INTO root_keys (generation, sealed, created_ms) VALUES (0, NULL, 0);

ALTER TABLE projects ADD COLUMN root_generation BIGINT NOT NULL DEFAULT 0
    CONSTRAINT projects_root_generation_fkey REFERENCES root_keys (generation);

CREATE INDEX projects_root_generation ON projects (root_generation);
