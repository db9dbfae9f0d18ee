-- 0009: whether enrollment must carry the new key's proof of possession (issue 9). Off, so the
-- SikkerKey SDKs, which cannot send a proof, keep enrolling unless an operator turns it on.
ALTER TABLE vault ADD COLUMN enrollment_proof_required INTEGER NOT NULL DEFAULT 0
    CHECK (enrollment_proof_required IN (0, 1));
