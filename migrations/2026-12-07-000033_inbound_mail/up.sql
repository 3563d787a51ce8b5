-- Reading the mailbox (issue 20): bounces, complaints and unsubscribe requests that come back by
-- mail. Each message read is claimed here once, whatever the number of instances.

-- Two more reasons an address is never mailed again: a permanent bounce and a spam complaint.
ALTER TABLE suppressions DROP CONSTRAINT suppressions_reason_check;
ALTER TABLE suppressions ADD CONSTRAINT suppressions_reason_check
    CHECK (reason IN ('desinscription', 'adresse_inconnue', 'manuelle', 'rebond', 'plainte'));

-- One row per message seen in a mailbox, keyed by the server's identity of the message. No
-- sender, subject or body is kept: only what was done with it.
CREATE TABLE inbound_messages (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    mailbox text NOT NULL,
    uid_validity bigint NOT NULL,
    uid bigint NOT NULL,
    size_bytes bigint NOT NULL DEFAULT 0,
    -- Until when the instance that claimed the message has it to itself.
    claimed_until timestamptz NOT NULL,
    attempts integer NOT NULL DEFAULT 1,
    -- What the message was, once processed: rebond, rebond_temporaire, plainte, desinscription,
    -- non_reconnu, illisible, trop_grand.
    kind text CHECK (kind IN ('rebond', 'rebond_temporaire', 'plainte', 'desinscription',
                              'non_reconnu', 'illisible', 'trop_grand')),
    -- The folder it was moved to (Traité or Non reconnu).
    folder text,
    delivery_id bigint,
    detail text NOT NULL DEFAULT '',
    error text,
    processed_at timestamptz,
    moved_at timestamptz,
    created_at timestamptz NOT NULL,
    UNIQUE (mailbox, uid_validity, uid)
);
CREATE INDEX inbound_messages_unmoved_idx ON inbound_messages (mailbox)
    WHERE processed_at IS NOT NULL AND moved_at IS NULL;

-- A delivery a permanent bounce came back for.
ALTER TABLE deliveries ADD COLUMN bounced_at timestamptz;
ALTER TABLE deliveries ADD COLUMN bounce_status text;

-- Temporary failures (4.x.x) by address: several within the window suppress the address.
-- One row per message read, so a message processed again cannot count twice.
CREATE TABLE soft_bounces (
    inbound_id bigint PRIMARY KEY REFERENCES inbound_messages (id) ON DELETE CASCADE,
    email text NOT NULL CHECK (email = lower(email)),
    delivery_id bigint,
    status text NOT NULL,
    occurred_at timestamptz NOT NULL
);
CREATE INDEX soft_bounces_email_idx ON soft_bounces (email, occurred_at);
CREATE INDEX soft_bounces_occurred_idx ON soft_bounces (occurred_at);

-- A bounce or complaint without our token is matched by the original Message-ID it quotes.
CREATE INDEX deliveries_message_id_idx ON deliveries (message_id) WHERE message_id IS NOT NULL;
