-- Letters (issue 19): contacts gain a postal address (NF Z10-011 lines), a « décédé » flag
-- and a « ne plus écrire » date; campaigns gain a kind, and a letter campaign carries its own
-- letter template (subject and body, Handlebars) instead of an e-mail template; each letter
-- delivery has a personal short code printed on the letter and encoded in its QR code.

ALTER TABLE contacts
    ADD COLUMN address_complement text NOT NULL DEFAULT '',
    ADD COLUMN address_building text NOT NULL DEFAULT '',
    ADD COLUMN address_street text NOT NULL DEFAULT '',
    ADD COLUMN address_locality text NOT NULL DEFAULT '',
    ADD COLUMN postcode text NOT NULL DEFAULT '',
    ADD COLUMN postal_town text NOT NULL DEFAULT '',
    -- Empty for France.
    ADD COLUMN country text NOT NULL DEFAULT '',
    ADD COLUMN deceased boolean NOT NULL DEFAULT false,
    -- Set when the contact asked (from a letter's code page) or staff recorded « ne plus écrire ».
    ADD COLUMN no_letters_at timestamptz;

ALTER TABLE campaigns
    ADD COLUMN kind text NOT NULL DEFAULT 'courriel' CHECK (kind IN ('courriel', 'courrier')),
    ADD COLUMN letter_subject text,
    ADD COLUMN letter_body text,
    ALTER COLUMN template_id DROP NOT NULL,
    ADD CONSTRAINT campaigns_kind_template_check CHECK (
        (kind = 'courriel' AND template_id IS NOT NULL)
        OR (kind = 'courrier' AND template_id IS NULL AND letter_subject IS NOT NULL
            AND letter_body IS NOT NULL));

-- A letter run's report: who was left out, and why (JSON counts, shown on the campaign page).
ALTER TABLE campaign_runs ADD COLUMN letter_report text;

ALTER TABLE deliveries
    ADD COLUMN letter_code text
        CHECK (letter_code IS NULL OR letter_code ~ '^[0-9A-HJKMNP-TV-Z]{8}$');
CREATE UNIQUE INDEX deliveries_letter_code_key ON deliveries (letter_code)
    WHERE letter_code IS NOT NULL;
