-- Optional TOTP second factor per staff account, which admins can require for everyone.
ALTER TABLE staff_users
    ADD COLUMN totp_secret text,
    ADD COLUMN totp_enabled_at timestamptz,
    -- The last time step accepted: a code is accepted once (no replay).
    ADD COLUMN totp_last_step bigint;

-- A session opened with the password alone, waiting for the code.
ALTER TABLE staff_sessions ADD COLUMN second_factor_pending boolean NOT NULL DEFAULT false;

CREATE TABLE security_policy (
    id integer PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    require_totp boolean NOT NULL DEFAULT false,
    updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO security_policy DEFAULT VALUES;
