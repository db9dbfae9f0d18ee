-- 0022: a TOTP seed is pending until the person proves their authenticator has it (issue 16:
-- enrollment confirms a code before the seed counts). Seeds stored before this migration were
-- used to sign in already, so they count as confirmed.
ALTER TABLE users ADD COLUMN totp_confirmed BOOLEAN NOT NULL DEFAULT TRUE;
