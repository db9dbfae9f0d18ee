-- 0004: whether enrollment must carry the new key's proof of possession (issue 9), as SQLite's
-- 0009. Off, so the SikkerKey SDKs, which cannot send a proof, keep enrolling unless an operator
-- turns it on.
ALTER TABLE vault ADD COLUMN enrollment_proof_required BOOLEAN NOT NULL DEFAULT FALSE;
