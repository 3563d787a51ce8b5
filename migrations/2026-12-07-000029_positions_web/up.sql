-- Positions on the open web (issue 19): what a schema.org JobPosting needs and the data files
-- did not hold.
--
-- A centre's postal address: the street line (empty until an administrator types it) and the
-- postcode. The postcodes of the Gers centres are La Poste's for their communes (by INSEE code);
-- /work/shared/data/centres_gers.csv holds no street, so none is invented here.
ALTER TABLE centres
    ADD COLUMN street_address text NOT NULL DEFAULT '',
    ADD COLUMN postcode text NOT NULL DEFAULT '';

UPDATE centres SET postcode = v.postcode
FROM (VALUES
    ('32132', '32500'),  -- Fleurance
    ('32462', '32190'),  -- Vic-Fezensac
    ('32149', '32330'),  -- Gondrin
    ('32319', '32160'),  -- Plaisance
    ('32233', '32230')   -- Marciac
) AS v (insee_code, postcode)
WHERE centres.insee_code = v.insee_code AND centres.postcode = '';

-- When a position was last published (its JobPosting's datePosted, the feed's « published »),
-- and the optional last day applications are taken (validThrough; past it the position is no
-- longer shown).
ALTER TABLE positions
    ADD COLUMN published_at timestamptz,
    ADD COLUMN closes_on date;

UPDATE positions SET published_at = updated_at WHERE published;
