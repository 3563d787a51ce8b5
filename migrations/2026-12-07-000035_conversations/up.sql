-- Conversations with candidates by mail (issue 20): a doctor's answers read from the mailbox,
-- and a recruiter's answers sent from the candidate's page, on the candidate's timeline.

CREATE TABLE candidate_messages (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    candidate_id bigint NOT NULL REFERENCES candidates (id) ON DELETE CASCADE,
    -- recu: read from the mailbox; envoye: written by a recruiter and sent through the outbox.
    direction text NOT NULL CHECK (direction IN ('recu', 'envoye')),
    -- An automatic answer (RFC 3834 Auto-Submitted, out of office): recorded quietly.
    automatic boolean NOT NULL DEFAULT false,
    from_address text NOT NULL DEFAULT '',
    subject text NOT NULL DEFAULT '',
    -- The text as received (HTML turned into text), bounded; shown escaped, never as HTML.
    body_text text NOT NULL DEFAULT '',
    -- The message's own Message-ID and the ones it answers, for threading our answers.
    message_id text,
    refs text NOT NULL DEFAULT '',
    inbound_id bigint REFERENCES inbound_messages (id) ON DELETE SET NULL,
    outbound_email_id bigint REFERENCES outbound_emails (id) ON DELETE SET NULL,
    -- Who wrote it (envoye), or who attached it to the candidate by hand (recu, « Non reconnu »).
    staff_id bigint REFERENCES staff_users (id),
    read_at timestamptz,
    created_at timestamptz NOT NULL
);
CREATE INDEX candidate_messages_candidate_idx ON candidate_messages (candidate_id, created_at);
CREATE INDEX candidate_messages_unread_idx ON candidate_messages (created_at)
    WHERE direction = 'recu' AND read_at IS NULL AND NOT automatic;

-- Attachments of a received message are documents of the candidate (same retention, same
-- erasure), tied to their message.
ALTER TABLE documents ADD COLUMN candidate_message_id bigint
    REFERENCES candidate_messages (id) ON DELETE CASCADE;

-- What a message read can be now: also an answer from a doctor, an automatic answer, an
-- answer to an invitation, or mail set aside by staff.
ALTER TABLE inbound_messages DROP CONSTRAINT inbound_messages_kind_check;
ALTER TABLE inbound_messages ADD CONSTRAINT inbound_messages_kind_check
    CHECK (kind IN ('rebond', 'rebond_temporaire', 'plainte', 'desinscription', 'non_reconnu',
                    'illisible', 'trop_grand', 'reponse', 'reponse_auto', 'agenda'));

-- Mail that matched nothing but was written by a person is kept for the « Non reconnu » page
-- (where staff attach it to a candidate or dismiss it), for a limited time: the raw message,
-- who sent it, its subject and the start of its text. All go when it is attached, dismissed,
-- or past `inbound.unrecognised_retention_days`.
ALTER TABLE inbound_messages ADD COLUMN raw bytea;
ALTER TABLE inbound_messages ADD COLUMN from_address text;
ALTER TABLE inbound_messages ADD COLUMN subject text;
ALTER TABLE inbound_messages ADD COLUMN excerpt text;
ALTER TABLE inbound_messages ADD COLUMN candidate_id bigint REFERENCES candidates (id) ON DELETE SET NULL;
ALTER TABLE inbound_messages ADD COLUMN resolved_at timestamptz;
ALTER TABLE inbound_messages ADD COLUMN resolved_by bigint REFERENCES staff_users (id);
CREATE INDEX inbound_messages_waiting_idx ON inbound_messages (processed_at)
    WHERE raw IS NOT NULL AND resolved_at IS NULL;

-- The candidate's answer to a meeting invitation (iMIP REPLY).
ALTER TABLE meetings ADD COLUMN answer text CHECK (answer IN ('accepte', 'refuse', 'provisoire'));
ALTER TABLE meetings ADD COLUMN answered_at timestamptz;

-- An attachment of a mail received is a document of its own kind.
ALTER TABLE documents DROP CONSTRAINT documents_kind_check;
ALTER TABLE documents ADD CONSTRAINT documents_kind_check
    CHECK (kind IN ('cv', 'autre', 'piece_jointe'));
