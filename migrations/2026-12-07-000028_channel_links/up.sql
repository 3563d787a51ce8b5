-- Channel links (issue 19): a tracked short link per outside channel (a journal advert, a
-- Facebook post, a poster, a partner site), its visits counted per day, and the applications
-- that followed it.
CREATE TABLE channel_links (
    id bigserial PRIMARY KEY,
    label text NOT NULL CHECK (length(label) BETWEEN 1 AND 200),
    -- The short URL's last segment: /l/{code}.
    code text NOT NULL UNIQUE CHECK (code ~ '^[a-z0-9-]{1,32}$'),
    utm_source text NOT NULL DEFAULT '' CHECK (length(utm_source) <= 100),
    utm_medium text NOT NULL DEFAULT '' CHECK (length(utm_medium) <= 100),
    utm_campaign text NOT NULL DEFAULT '' CHECK (length(utm_campaign) <= 100),
    -- An archived link leads to the plain form and attributes nothing.
    archived_at timestamptz,
    created_by bigint REFERENCES staff_users (id),
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

-- One counter per link and day (Paris time): a visit is a GET of /l/{code}.
CREATE TABLE channel_link_visits (
    link_id bigint NOT NULL REFERENCES channel_links (id) ON DELETE CASCADE,
    day date NOT NULL,
    visits bigint NOT NULL DEFAULT 0 CHECK (visits >= 0),
    PRIMARY KEY (link_id, day)
);

ALTER TABLE applications
    ADD COLUMN channel_link_id bigint REFERENCES channel_links (id);
CREATE INDEX applications_channel_link_idx ON applications (channel_link_id)
    WHERE channel_link_id IS NOT NULL;
