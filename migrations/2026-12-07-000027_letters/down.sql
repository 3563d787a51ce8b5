DROP INDEX deliveries_letter_code_key;
ALTER TABLE deliveries DROP COLUMN letter_code;
ALTER TABLE campaign_runs DROP COLUMN letter_report;

DELETE FROM campaigns WHERE kind = 'courrier';
ALTER TABLE campaigns
    DROP CONSTRAINT campaigns_kind_template_check,
    ALTER COLUMN template_id SET NOT NULL,
    DROP COLUMN letter_body,
    DROP COLUMN letter_subject,
    DROP COLUMN kind;

ALTER TABLE contacts
    DROP COLUMN no_letters_at,
    DROP COLUMN deceased,
    DROP COLUMN country,
    DROP COLUMN postal_town,
    DROP COLUMN postcode,
    DROP COLUMN address_locality,
    DROP COLUMN address_street,
    DROP COLUMN address_building,
    DROP COLUMN address_complement;
