-- Recruiters' notes on a candidate (author, date). Append-only from the interface.
CREATE TABLE candidate_notes (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    candidate_id bigint NOT NULL REFERENCES candidates (id) ON DELETE CASCADE,
    author_id bigint NOT NULL REFERENCES staff_users (id),
    body text NOT NULL CHECK (length(body) BETWEEN 1 AND 5000),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX candidate_notes_candidate_idx ON candidate_notes (candidate_id, created_at);
