-- Offers, their weekly allocations to centres, placements and their dated allocations.
-- FTE in hundredths (1.0 FTE = 100). A week's half-days are a 10-bit mask: bit 0 is Monday
-- morning, bit 1 Monday afternoon, ..., bit 9 Friday afternoon.
-- Nothing stores a centre's filled capacity: it is computed from allocations for any date.

CREATE TABLE offers (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    application_id bigint NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    status text NOT NULL DEFAULT 'draft'
        CHECK (status IN ('draft', 'sent', 'accepted', 'declined', 'expired', 'withdrawn')),
    working_time text NOT NULL CHECK (working_time IN ('temps_plein', 'temps_partiel')),
    fte_hundredths integer NOT NULL CHECK (fte_hundredths BETWEEN 1 AND 100),
    starts_on date NOT NULL,
    expires_on date NOT NULL,
    on_call_terms text NOT NULL DEFAULT '',
    salary_note text NOT NULL DEFAULT '',
    created_by bigint REFERENCES staff_users (id),
    approved_by bigint REFERENCES staff_users (id),
    approved_at timestamptz,
    sent_at timestamptz,
    answered_at timestamptz,
    decline_reason text,
    -- The offer that replaced this one (status withdrawn).
    superseded_by bigint REFERENCES offers (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK (working_time = 'temps_partiel' OR fte_hundredths = 100),
    CHECK ((approved_by IS NULL) = (approved_at IS NULL)),
    CHECK (status IN ('draft', 'withdrawn') OR approved_at IS NOT NULL),
    CHECK (status <> 'declined' OR decline_reason IS NOT NULL)
);
-- One live offer per application: a new one supersedes the old (which is withdrawn first).
CREATE UNIQUE INDEX offers_one_live_per_application ON offers (application_id)
    WHERE status IN ('draft', 'sent', 'accepted');
CREATE INDEX offers_expiry_idx ON offers (expires_on) WHERE status = 'sent';

CREATE TABLE offer_allocations (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    offer_id bigint NOT NULL REFERENCES offers (id) ON DELETE CASCADE,
    centre_id bigint NOT NULL REFERENCES centres (id),
    half_days smallint NOT NULL CHECK (half_days BETWEEN 1 AND 1023),
    fte_hundredths integer NOT NULL CHECK (fte_hundredths BETWEEN 1 AND 100),
    UNIQUE (offer_id, centre_id)
);
CREATE INDEX offer_allocations_centre_idx ON offer_allocations (centre_id);

-- A doctor at work, created from an accepted offer when the start is recorded. Kept when the
-- candidate asks for erasure (RESTRICT): an employment must stay on record.
CREATE TABLE placements (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    application_id bigint NOT NULL UNIQUE REFERENCES applications (id) ON DELETE RESTRICT,
    offer_id bigint NOT NULL UNIQUE REFERENCES offers (id) ON DELETE RESTRICT,
    started_on date NOT NULL,
    ended_on date,
    created_by bigint REFERENCES staff_users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK (ended_on IS NULL OR ended_on >= started_on)
);

-- Dated allocations: ends_on is the last day worked there (inclusive). A redeployment ends one
-- allocation and starts another (replaces_id points to the one it follows); rows are never
-- deleted, so a placement's history is its allocations in date order.
CREATE TABLE placement_allocations (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    placement_id bigint NOT NULL REFERENCES placements (id) ON DELETE CASCADE,
    centre_id bigint NOT NULL REFERENCES centres (id),
    half_days smallint NOT NULL CHECK (half_days BETWEEN 1 AND 1023),
    fte_hundredths integer NOT NULL CHECK (fte_hundredths BETWEEN 1 AND 100),
    starts_on date NOT NULL,
    ends_on date,
    replaces_id bigint REFERENCES placement_allocations (id),
    note text,
    created_by bigint REFERENCES staff_users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK (ends_on IS NULL OR ends_on >= starts_on)
);
CREATE INDEX placement_allocations_placement_idx ON placement_allocations (placement_id);
CREATE INDEX placement_allocations_centre_idx ON placement_allocations (centre_id, starts_on);
