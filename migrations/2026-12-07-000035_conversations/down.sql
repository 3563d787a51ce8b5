ALTER TABLE meetings DROP COLUMN answered_at;
ALTER TABLE meetings DROP COLUMN answer;
DROP INDEX inbound_messages_waiting_idx;
ALTER TABLE inbound_messages DROP COLUMN resolved_by;
ALTER TABLE inbound_messages DROP COLUMN resolved_at;
ALTER TABLE inbound_messages DROP COLUMN candidate_id;
ALTER TABLE inbound_messages DROP COLUMN excerpt;
ALTER TABLE inbound_messages DROP COLUMN subject;
ALTER TABLE inbound_messages DROP COLUMN from_address;
ALTER TABLE inbound_messages DROP COLUMN raw;
DELETE FROM inbound_messages WHERE kind IN ('reponse', 'reponse_auto', 'agenda');
ALTER TABLE inbound_messages DROP CONSTRAINT inbound_messages_kind_check;
ALTER TABLE inbound_messages ADD CONSTRAINT inbound_messages_kind_check
    CHECK (kind IN ('rebond', 'rebond_temporaire', 'plainte', 'desinscription', 'non_reconnu',
                    'illisible', 'trop_grand'));
DELETE FROM documents WHERE kind = 'piece_jointe';
ALTER TABLE documents DROP CONSTRAINT documents_kind_check;
ALTER TABLE documents ADD CONSTRAINT documents_kind_check CHECK (kind IN ('cv', 'autre'));
ALTER TABLE documents DROP COLUMN candidate_message_id;
DROP TABLE candidate_messages;
