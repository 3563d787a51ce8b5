DROP INDEX deliveries_message_id_idx;
DROP TABLE soft_bounces;
ALTER TABLE deliveries DROP COLUMN bounce_status;
ALTER TABLE deliveries DROP COLUMN bounced_at;
DROP TABLE inbound_messages;
UPDATE suppressions SET reason = 'adresse_inconnue' WHERE reason = 'rebond';
UPDATE suppressions SET reason = 'desinscription' WHERE reason = 'plainte';
ALTER TABLE suppressions DROP CONSTRAINT suppressions_reason_check;
ALTER TABLE suppressions ADD CONSTRAINT suppressions_reason_check
    CHECK (reason IN ('desinscription', 'adresse_inconnue', 'manuelle'));
