-- The structured interview grid: criteria defined by an administrator, and for a meeting
-- (interview or visit) one evaluation by a recruiter: a score 1–4 or « non évalué » (NULL) and a
-- comment per criterion, and an overall opinion. The candidate may read it on « Mes données »
-- (right of access, see the README).
CREATE TABLE evaluation_criteria (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 120),
    description text NOT NULL DEFAULT '',
    position integer NOT NULL DEFAULT 0,
    active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE evaluations (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    meeting_id bigint NOT NULL UNIQUE REFERENCES meetings (id) ON DELETE CASCADE,
    author_id bigint REFERENCES staff_users (id),
    opinion text NOT NULL CHECK (opinion IN ('favorable', 'reserve', 'defavorable')),
    comment text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE TABLE evaluation_scores (
    evaluation_id bigint NOT NULL REFERENCES evaluations (id) ON DELETE CASCADE,
    criterion_id bigint NOT NULL REFERENCES evaluation_criteria (id),
    score smallint CHECK (score BETWEEN 1 AND 4),
    comment text NOT NULL DEFAULT '',
    PRIMARY KEY (evaluation_id, criterion_id)
);
CREATE INDEX evaluation_scores_criterion_idx ON evaluation_scores (criterion_id);
