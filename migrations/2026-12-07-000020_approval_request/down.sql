ALTER TABLE offers DROP COLUMN approval_requested_by, DROP COLUMN approval_requested_at;
