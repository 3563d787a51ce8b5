-- Contacts without an e-mail address (issue 19): a retired doctor the département knows only
-- by post. The e-mail address becomes optional (still unique, case ignored, where present);
-- a contact needs at least an e-mail address or a postal address (a valid address always has
-- its commune). Letter deliveries of such contacts carry no address either; an e-mail
-- delivery always has one.

ALTER TABLE contacts ALTER COLUMN email DROP NOT NULL;
DROP INDEX contacts_email_key;
CREATE UNIQUE INDEX contacts_email_key ON contacts (lower(email)) WHERE email IS NOT NULL;
ALTER TABLE contacts ADD CONSTRAINT contacts_email_or_address_check
    CHECK (email IS NOT NULL OR postal_town <> '');
-- How a re-import finds a contact known only by post: same names and postcode.
CREATE INDEX contacts_postal_only_idx ON contacts (lower(last_name), lower(first_name), postcode)
    WHERE email IS NULL;

ALTER TABLE deliveries ALTER COLUMN email DROP NOT NULL;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_email_or_letter_check
    CHECK (email IS NOT NULL OR letter_code IS NOT NULL);

-- An e-mail run counts the contacts of its lists it left out for want of an e-mail address
-- (« sans adresse électronique »), as a letter run counts those without a postal address.
ALTER TABLE campaign_runs ADD COLUMN without_email integer NOT NULL DEFAULT 0
    CHECK (without_email >= 0);
