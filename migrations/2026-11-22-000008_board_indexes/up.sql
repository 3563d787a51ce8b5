-- Indexes for the recruiters' board and candidate page with tens of thousands of candidates
-- (measured with `cargo bench --bench board`, see BENCHMARKS.md).

-- The board's search box: ILIKE '%…%' on names, e-mail and full name, LIKE '%…%' on the phone.
-- One multicolumn trigram index serves every branch of the OR (a bitmap OR over the same
-- index), instead of a sequential scan of every candidate for each of the board's queries.
-- pg_trgm is a trusted extension: the database owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX candidates_search_trgm_idx ON candidates USING gin (
    first_name gin_trgm_ops,
    last_name gin_trgm_ops,
    email_normalized gin_trgm_ops,
    (first_name || ' ' || last_name) gin_trgm_ops,
    phone_normalized gin_trgm_ops
);

-- Possible duplicates on the candidate page: same name, case-insensitively.
CREATE INDEX candidates_lower_name_idx ON candidates (lower(last_name), lower(first_name));

-- Board filters: wished centre (the primary key starts with the candidate), specialty (also
-- the foreign key), situation.
CREATE INDEX candidate_centres_centre_idx ON candidate_centres (centre_id, candidate_id);
CREATE INDEX candidates_specialty_idx ON candidates (specialty_code);
CREATE INDEX candidates_situation_idx ON candidates (situation);
