-- Sending, tightened (issue 20).
--
-- One row per installation, created here once: a random part that Message-IDs and calendar
-- UIDs carry, so that `campagne.RUN.DELIVERY` or `rendez-vous-N` never repeat after a database
-- rebuild or on a staging copy with the same public address (providers drop repeated IDs).
CREATE TABLE installation (
    singleton BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
INSERT INTO installation DEFAULT VALUES;

-- The part IDs carry: the random id mixed with the database's OID, so that a copy of the
-- database (a staging copy restored from a dump, or CREATE DATABASE … TEMPLATE) has a part of
-- its own although it holds the same row. 32 hexadecimal digits.
CREATE FUNCTION installation_part() RETURNS TEXT
LANGUAGE sql STABLE AS $$
    SELECT md5(i.id::text || ':' || d.oid::text)
    FROM installation i
    JOIN pg_database d ON d.datname = current_database()
$$;

-- Meetings become meeting requests that can be updated and cancelled (iTIP, RFC 5546): the
-- SEQUENCE of the last version sent, and when the meeting was cancelled.
ALTER TABLE meetings
    ADD COLUMN sequence INTEGER NOT NULL DEFAULT 0 CHECK (sequence >= 0),
    ADD COLUMN cancelled_at TIMESTAMPTZ;

-- Outbox messages that go out with headers of their own (the test send of a campaign template
-- carries the campaign's List-* headers): [[name, value], ...].
ALTER TABLE outbound_emails ADD COLUMN extra_headers TEXT;

-- The preview text (preheader) of a campaign template: shown by mail clients after the subject,
-- hidden in the HTML body.
ALTER TABLE mail_templates ADD COLUMN preheader TEXT NOT NULL DEFAULT ''
    CHECK (char_length(preheader) <= 200);
