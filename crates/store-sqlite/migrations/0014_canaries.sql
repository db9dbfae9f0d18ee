-- 0010: canary secrets and project freeze (issue 11 §5). A canary's read freezes its project;
-- the freeze lives on the project row, which every machine read query joins already, so a
-- frozen project costs no extra query and every replica sees it from the next request on.
ALTER TABLE secrets ADD COLUMN canary INTEGER NOT NULL DEFAULT 0 CHECK (canary IN (0, 1));
ALTER TABLE projects ADD COLUMN frozen_ms INTEGER;
