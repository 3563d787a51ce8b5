-- Mailing campaigns: audiences (organisations, contacts, lists, suppressions), templates,
-- campaigns, their runs and the per-recipient ledger (deliveries), tracked clicks and the
-- attribution of applications to a campaign.

CREATE TABLE organisations (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL CHECK (name <> ''),
    kind text NOT NULL CHECK (kind IN ('faculte', 'etablissement', 'institution', 'autre')),
    city text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX organisations_name_city_key ON organisations (lower(name), lower(city));

CREATE TABLE contacts (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- As written; uniqueness and suppression use lower(email).
    email text NOT NULL CHECK (email <> ''),
    first_name text NOT NULL DEFAULT '',
    last_name text NOT NULL DEFAULT '',
    organisation_id bigint REFERENCES organisations (id) ON DELETE SET NULL,
    kind text NOT NULL
        CHECK (kind IN ('faculte', 'medecin_retraite', 'medecin', 'interne', 'partenaire')),
    tags text[] NOT NULL DEFAULT '{}',
    city text NOT NULL DEFAULT '',
    legal_basis text NOT NULL
        CHECK (legal_basis IN ('interet_legitime', 'consentement', 'mission_publique')),
    status text NOT NULL DEFAULT 'active'
        CHECK (status IN ('active', 'unsubscribed', 'bounced')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX contacts_email_key ON contacts (lower(email));
CREATE INDEX contacts_organisation_idx ON contacts (organisation_id);

CREATE TABLE contact_lists (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL CHECK (name <> ''),
    description text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX contact_lists_name_key ON contact_lists (lower(name));

CREATE TABLE list_members (
    list_id bigint NOT NULL REFERENCES contact_lists (id) ON DELETE CASCADE,
    contact_id bigint NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    added_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (list_id, contact_id)
);
CREATE INDEX list_members_contact_idx ON list_members (contact_id);

-- Addresses never to be mailed again. No foreign key: kept when the contact is deleted.
CREATE TABLE suppressions (
    email text PRIMARY KEY CHECK (email = lower(email)),
    reason text NOT NULL CHECK (reason IN ('desinscription', 'adresse_inconnue', 'manuelle')),
    detail text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE mail_templates (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL CHECK (name <> ''),
    subject text NOT NULL,
    body_text text NOT NULL,
    body_html text NOT NULL,
    updated_by bigint REFERENCES staff_users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX mail_templates_name_key ON mail_templates (lower(name));

CREATE TABLE campaigns (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL CHECK (name <> ''),
    template_id bigint NOT NULL REFERENCES mail_templates (id) ON DELETE RESTRICT,
    sender_name text NOT NULL,
    sender_email text NOT NULL,
    rate_per_minute integer NOT NULL CHECK (rate_per_minute > 0),
    schedule_kind text NOT NULL CHECK (schedule_kind IN ('maintenant', 'date', 'cron')),
    scheduled_at timestamptz,
    cron text,
    status text NOT NULL DEFAULT 'brouillon'
        CHECK (status IN ('brouillon', 'programmee', 'en_cours', 'en_pause', 'terminee', 'annulee')),
    created_by bigint REFERENCES staff_users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK (schedule_kind <> 'date' OR scheduled_at IS NOT NULL),
    CHECK (schedule_kind <> 'cron' OR cron IS NOT NULL)
);

CREATE TABLE campaign_lists (
    campaign_id bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    list_id bigint NOT NULL REFERENCES contact_lists (id) ON DELETE RESTRICT,
    PRIMARY KEY (campaign_id, list_id)
);

-- One occurrence of a campaign. The unique key makes a double tick, or two instances, create
-- one run. Deliveries are materialised when the run starts.
CREATE TABLE campaign_runs (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    campaign_id bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    scheduled_for timestamptz NOT NULL,
    status text NOT NULL DEFAULT 'planifie'
        CHECK (status IN ('planifie', 'a_confirmer', 'envoi', 'pause', 'termine', 'annule')),
    recipients integer NOT NULL DEFAULT 0,
    -- Pacing shared by every instance: the earliest time the next batch may be claimed.
    next_slot_at timestamptz NOT NULL DEFAULT now(),
    created_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    finished_at timestamptz,
    UNIQUE (campaign_id, scheduled_for)
);
CREATE INDEX campaign_runs_sending_idx ON campaign_runs (id) WHERE status = 'envoi';

CREATE TABLE deliveries (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id bigint NOT NULL REFERENCES campaign_runs (id) ON DELETE CASCADE,
    contact_id bigint REFERENCES contacts (id) ON DELETE SET NULL,
    email text NOT NULL,
    status text NOT NULL DEFAULT 'en_attente'
        CHECK (status IN ('en_attente', 'envoye', 'echec', 'ecarte', 'annule')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    locked_until timestamptz,
    smtp_code integer,
    message_id text,
    last_error text,
    sent_at timestamptz,
    -- Set when the recipient unsubscribed through this delivery's link.
    unsubscribed_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX deliveries_run_contact_key ON deliveries (run_id, contact_id);
CREATE UNIQUE INDEX deliveries_run_email_key ON deliveries (run_id, lower(email));
-- What the workers scan: pending deliveries of a run, in order.
CREATE INDEX deliveries_pending_idx ON deliveries (run_id, next_attempt_at, id)
    WHERE status = 'en_attente';
CREATE INDEX deliveries_contact_idx ON deliveries (contact_id);

-- The global cap per SMTP relay, shared by every instance: the earliest time the next batch
-- may go to that relay.
CREATE TABLE relay_pacing (
    relay text PRIMARY KEY,
    next_slot_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE link_clicks (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id bigint NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    clicked_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX link_clicks_delivery_idx ON link_clicks (delivery_id);

-- Attribution: the campaign (and delivery) whose tracked link led to the application.
ALTER TABLE applications
    ADD COLUMN campaign_id bigint REFERENCES campaigns (id) ON DELETE SET NULL,
    ADD COLUMN delivery_id bigint REFERENCES deliveries (id) ON DELETE SET NULL;
CREATE INDEX applications_campaign_idx ON applications (campaign_id) WHERE campaign_id IS NOT NULL;
