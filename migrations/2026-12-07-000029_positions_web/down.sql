ALTER TABLE positions DROP COLUMN closes_on, DROP COLUMN published_at;
ALTER TABLE centres DROP COLUMN postcode, DROP COLUMN street_address;
