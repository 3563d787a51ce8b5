CREATE OR REPLACE FUNCTION stage_history_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'stage_history is append-only';
END;
$$;
DROP TABLE privacy_runs;
DROP INDEX candidates_retention_idx;
ALTER TABLE candidates DROP COLUMN consent_reminder_sent_at;
ALTER TABLE candidates DROP COLUMN anonymised_at;
