-- Personal data (RGPD): when a candidate was anonymised (erasure on request or the retention
-- job), and when they were offered to renew their pool consent (sent once per consent).
ALTER TABLE candidates ADD COLUMN anonymised_at timestamptz;
ALTER TABLE candidates ADD COLUMN consent_reminder_sent_at timestamptz;

-- The retention job's candidates: not yet anonymised, by last activity.
CREATE INDEX candidates_retention_idx ON candidates (last_activity_at) WHERE anonymised_at IS NULL;

-- What each daily run of the retention job did: counts only, never personal data.
CREATE TABLE privacy_runs (
    id bigserial PRIMARY KEY,
    run_on date NOT NULL UNIQUE,
    anonymised_retention integer NOT NULL CHECK (anonymised_retention >= 0),
    anonymised_without_consent integer NOT NULL CHECK (anonymised_without_consent >= 0),
    documents_deleted integer NOT NULL CHECK (documents_deleted >= 0),
    consent_reminders integer NOT NULL CHECK (consent_reminders >= 0),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- The stage history stays append-only, with one exception: anonymisation erases the free text
-- of a note (it may name the doctor). Stages, reasons, actors and dates never change.
CREATE OR REPLACE FUNCTION stage_history_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.note IS NULL AND to_jsonb(NEW) - 'note' = to_jsonb(OLD) - 'note' THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'stage_history is append-only';
END;
$$;
