-- Foundation: reference data, centres, positions, candidates, applications and their history,
-- documents, staff accounts, and the transactional outbox of single e-mails.
-- Enumerations are text columns with CHECK constraints, mapped to Rust enums in src/db/enums.rs.

CREATE TABLE specialties (
    code text PRIMARY KEY CHECK (code ~ '^SM[0-9]{2}$'),
    label text NOT NULL,
    general_practice boolean NOT NULL DEFAULT false
);

CREATE TABLE centres (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL UNIQUE,
    kind text NOT NULL CHECK (kind IN ('centre', 'antenne')),
    commune text NOT NULL,
    insee_code text NOT NULL UNIQUE CHECK (insee_code ~ '^[0-9][0-9AB][0-9]{3}$'),
    latitude double precision NOT NULL CHECK (latitude BETWEEN -90 AND 90),
    longitude double precision NOT NULL CHECK (longitude BETWEEN -180 AND 180),
    status text NOT NULL DEFAULT 'planned' CHECK (status IN ('planned', 'open', 'closed')),
    opened_on date,
    closed_on date,
    -- Full-time equivalents in hundredths (1.0 FTE = 100): exact arithmetic, no floats.
    planned_fte_hundredths integer NOT NULL DEFAULT 0 CHECK (planned_fte_hundredths >= 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK (closed_on IS NULL OR opened_on IS NULL OR closed_on >= opened_on)
);

CREATE TABLE positions (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    title text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    specialty_code text REFERENCES specialties (code),
    description text NOT NULL DEFAULT '',
    fte_min_hundredths integer NOT NULL DEFAULT 100,
    fte_max_hundredths integer NOT NULL DEFAULT 100,
    published boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK (fte_min_hundredths > 0 AND fte_min_hundredths <= fte_max_hundredths AND fte_max_hundredths <= 100)
);

CREATE TABLE position_centres (
    position_id bigint NOT NULL REFERENCES positions (id) ON DELETE CASCADE,
    centre_id bigint NOT NULL REFERENCES centres (id),
    PRIMARY KEY (position_id, centre_id)
);

CREATE TABLE staff_users (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email text NOT NULL,
    display_name text NOT NULL,
    role text NOT NULL CHECK (role IN ('admin', 'recruteur', 'communication')),
    password_hash text NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX staff_users_email_key ON staff_users (lower(email));

CREATE TABLE candidates (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    civility text NOT NULL CHECK (civility IN ('madame', 'monsieur', 'non_precise')),
    first_name text NOT NULL,
    last_name text NOT NULL,
    email text NOT NULL,
    -- Lower-cased, trimmed: the key duplicates are merged on (after the RPPS number).
    email_normalized text NOT NULL,
    phone text NOT NULL,
    -- E.164 (+33612345678): the last merge key.
    phone_normalized text NOT NULL,
    rpps text CHECK (rpps ~ '^[0-9]{11}$'),
    specialty_code text NOT NULL REFERENCES specialties (code),
    situation text NOT NULL CHECK (situation IN ('interne', 'jeune_diplome', 'remplacant', 'liberal',
        'salarie', 'retraite', 'diplome_etranger', 'autre')),
    available_from date,
    working_time text NOT NULL CHECK (working_time IN ('temps_plein', 'temps_partiel')),
    -- Part time: half-days per week (1..9); a full week is ten half-days.
    part_time_half_days smallint,
    on_call boolean NOT NULL DEFAULT false,
    intern_training boolean NOT NULL DEFAULT false,
    -- Separate, optional consent to be kept in the pool for two years.
    pool_consent_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    last_activity_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((working_time = 'temps_plein' AND part_time_half_days IS NULL)
        OR (working_time = 'temps_partiel' AND part_time_half_days BETWEEN 1 AND 9))
);
CREATE UNIQUE INDEX candidates_rpps_key ON candidates (rpps) WHERE rpps IS NOT NULL;
CREATE INDEX candidates_email_normalized_idx ON candidates (email_normalized);
CREATE INDEX candidates_phone_normalized_idx ON candidates (phone_normalized);

CREATE TABLE candidate_centres (
    candidate_id bigint NOT NULL REFERENCES candidates (id) ON DELETE CASCADE,
    centre_id bigint NOT NULL REFERENCES centres (id),
    PRIMARY KEY (candidate_id, centre_id)
);

CREATE TABLE applications (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    candidate_id bigint NOT NULL REFERENCES candidates (id) ON DELETE CASCADE,
    position_id bigint REFERENCES positions (id) ON DELETE SET NULL,
    stage text NOT NULL DEFAULT 'nouvelle' CHECK (stage IN ('nouvelle', 'premier_contact', 'entretien',
        'visite', 'proposition', 'acceptee', 'recrutee', 'refusee', 'desistement', 'vivier')),
    stage_entered_at timestamptz NOT NULL DEFAULT now(),
    message text NOT NULL DEFAULT '',
    heard_from text CHECK (heard_from IN ('presse', 'reseaux_sociaux', 'bouche_a_oreille', 'faculte',
        'courriel', 'site_internet', 'salon', 'ordre_medecins', 'autre')),
    utm_source text,
    utm_medium text,
    utm_campaign text,
    -- A random key carried by the form: the same submission sent twice is one application.
    submission_key uuid NOT NULL UNIQUE,
    privacy_notice_version text NOT NULL,
    privacy_accepted_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX applications_candidate_idx ON applications (candidate_id);
CREATE INDEX applications_stage_idx ON applications (stage, stage_entered_at);

-- Append-only: every move of an application, reports are computed from it.
CREATE TABLE stage_history (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    application_id bigint NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    from_stage text,
    to_stage text NOT NULL,
    actor_id bigint REFERENCES staff_users (id),
    reason text,
    note text,
    follow_up_on date,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stage_history_application_idx ON stage_history (application_id, created_at);

CREATE FUNCTION stage_history_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'stage_history is append-only';
END;
$$;
CREATE TRIGGER stage_history_no_update BEFORE UPDATE ON stage_history
    FOR EACH ROW EXECUTE FUNCTION stage_history_is_append_only();

CREATE TABLE documents (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    candidate_id bigint NOT NULL REFERENCES candidates (id) ON DELETE CASCADE,
    application_id bigint REFERENCES applications (id) ON DELETE SET NULL,
    kind text NOT NULL CHECK (kind IN ('cv', 'autre')),
    -- The name the doctor's computer gave the file, shown to staff only; never used on disk.
    original_name text NOT NULL,
    storage_key text NOT NULL UNIQUE,
    content_type text NOT NULL,
    size_bytes bigint NOT NULL CHECK (size_bytes > 0),
    sha256 text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX documents_candidate_idx ON documents (candidate_id);

-- Transactional outbox for single e-mails (confirmations, notifications): written in the
-- transaction that causes them, sent by the mail worker after commit, retried with backoff.
CREATE TABLE outbound_emails (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind text NOT NULL,
    candidate_id bigint REFERENCES candidates (id) ON DELETE CASCADE,
    application_id bigint REFERENCES applications (id) ON DELETE CASCADE,
    recipient text NOT NULL,
    subject text NOT NULL,
    body_text text NOT NULL,
    body_html text NOT NULL,
    message_id text NOT NULL UNIQUE,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    locked_until timestamptz,
    last_error text,
    sent_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbound_emails_due_idx ON outbound_emails (next_attempt_at) WHERE status = 'pending';
CREATE INDEX outbound_emails_candidate_idx ON outbound_emails (candidate_id);
