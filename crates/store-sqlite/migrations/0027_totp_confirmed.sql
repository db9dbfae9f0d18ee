-- 0027: a TOTP seed is pending until the person proves their authenticator has it (issue 16:
-- enrollment confirms a code before the seed counts). Seeds stored before this migration were
-- used to sign in already, so they count as confirmed.
ALTER TABLE users ADD COLUMN totp_confirmed INTEGER NOT NULL DEFAULT 1
    CHECK (totp_confirmed IN (0, 1));
