-- Interviews and site visits of an application.
CREATE TABLE meetings (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    application_id bigint NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    kind text NOT NULL CHECK (kind IN ('entretien', 'visite')),
    starts_at timestamptz NOT NULL,
    duration_minutes integer NOT NULL CHECK (duration_minutes BETWEEN 5 AND 720),
    centre_id bigint REFERENCES centres (id),
    location text NOT NULL DEFAULT '',
    participants text NOT NULL DEFAULT '',
    note text NOT NULL DEFAULT '',
    created_by bigint REFERENCES staff_users (id),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX meetings_starts_idx ON meetings (starts_at);
CREATE INDEX meetings_application_idx ON meetings (application_id);

-- An e-mail may carry a calendar invitation (text/calendar attachment).
ALTER TABLE outbound_emails ADD COLUMN ics text;
