-- 0004: how long a key registered by `signet login` authenticates, per vault (12 hours unless
-- changed; between 5 minutes and 30 days).
ALTER TABLE vault ADD COLUMN cli_key_ttl_ms INTEGER NOT NULL DEFAULT 43200000
    CHECK (cli_key_ttl_ms BETWEEN 300000 AND 2592000000);
