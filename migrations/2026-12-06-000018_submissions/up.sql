-- Every accepted submission of the public form or the API, with what was typed. An anonymous
-- submission never changes an existing record: what it proposes (other contact details, an RPPS
-- number held by another record) is kept here for a recruiter, or the person through the link
-- sent to the address on file, to apply.
CREATE TABLE submissions (
    submission_key uuid PRIMARY KEY,
    application_id bigint NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    candidate_id bigint NOT NULL REFERENCES candidates (id) ON DELETE CASCADE,
    -- nouvelle_fiche: a new record; meme_courriel: joined the record with this e-mail on file;
    -- doublon_possible: a new record that shares an RPPS number or a phone with another one.
    match_kind text NOT NULL
        CHECK (match_kind IN ('nouvelle_fiche', 'meme_courriel', 'doublon_possible')),
    details jsonb NOT NULL,
    -- The record this submission created, if it created one: what it typed is that record's
    -- first state, not a proposal to it (once merged into another record, it is one).
    created_candidate_id bigint,
    created_at timestamptz NOT NULL
);
CREATE INDEX submissions_candidate ON submissions (candidate_id, created_at);

-- The RPPS number a submission gave when another record already holds it: the new record cannot
-- take it (one RPPS, one record), and a recruiter decides whether the two are one person.
ALTER TABLE candidates
    ADD COLUMN submitted_rpps text CHECK (submitted_rpps ~ '^[0-9]{11}$');
CREATE INDEX candidates_submitted_rpps ON candidates (submitted_rpps)
    WHERE submitted_rpps IS NOT NULL;
