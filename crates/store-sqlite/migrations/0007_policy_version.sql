-- 0007: the policy stamp (issue 9, finding 3). Every write to the vault settings or the IP
-- allowlist adds one to it in the same transaction; a signed request reads it together with its
-- machine, so a process whose cached policy is older reloads before it decides.
ALTER TABLE vault ADD COLUMN policy_version INTEGER NOT NULL DEFAULT 0 CHECK (policy_version >= 0);
