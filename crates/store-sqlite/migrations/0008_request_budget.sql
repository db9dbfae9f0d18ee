-- Request budgets (signed requests per minute). NULL: not set. 0: unlimited.
-- The vault's is the default; a machine's overrides it.
ALTER TABLE vault ADD COLUMN request_budget_per_minute INTEGER
    CHECK (request_budget_per_minute IS NULL OR request_budget_per_minute BETWEEN 0 AND 4294967295);
ALTER TABLE machines ADD COLUMN request_budget_per_minute INTEGER
    CHECK (request_budget_per_minute IS NULL OR request_budget_per_minute BETWEEN 0 AND 4294967295);
