-- 0022: AI agents (issue 14 §2). An agent is a machine row whose `agent_scopes` is set: a JSON
-- array of scope names. `agent_projects` is its project allowlist, a JSON array of project ids,
-- or NULL for every project. Both NULL for an ordinary machine. Updates fire the machines
-- access-stamp trigger of 0020, so a scope change reaches the next request on every replica.
ALTER TABLE machines ADD COLUMN agent_scopes TEXT;
ALTER TABLE machines ADD COLUMN agent_projects TEXT CHECK (agent_projects IS NULL OR agent_scopes IS NOT NULL);
