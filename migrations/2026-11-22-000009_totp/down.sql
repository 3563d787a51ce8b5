DROP TABLE security_policy;
ALTER TABLE staff_sessions DROP COLUMN second_factor_pending;
ALTER TABLE staff_users DROP COLUMN totp_last_step, DROP COLUMN totp_enabled_at, DROP COLUMN totp_secret;
