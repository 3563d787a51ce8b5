ALTER TABLE campaign_runs DROP COLUMN without_email;

-- Contacts and letter deliveries without an e-mail address cannot exist before this
-- migration: they are removed (their letters' deliveries first).
ALTER TABLE deliveries DROP CONSTRAINT deliveries_email_or_letter_check;
DELETE FROM deliveries WHERE email IS NULL;
ALTER TABLE deliveries ALTER COLUMN email SET NOT NULL;

DROP INDEX contacts_postal_only_idx;
ALTER TABLE contacts DROP CONSTRAINT contacts_email_or_address_check;
DELETE FROM contacts WHERE email IS NULL;
DROP INDEX contacts_email_key;
CREATE UNIQUE INDEX contacts_email_key ON contacts (lower(email));
ALTER TABLE contacts ALTER COLUMN email SET NOT NULL;
