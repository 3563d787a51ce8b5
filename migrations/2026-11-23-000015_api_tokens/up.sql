-- Tokens for the JSON API (/api/v1). Only the SHA-256 of a token is kept: the token itself is
-- shown once, when it is created. A token acts for its staff member, with their role, and stops
-- working when it is revoked or the member is disabled.
CREATE TABLE api_tokens (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    staff_user_id bigint NOT NULL REFERENCES staff_users (id) ON DELETE CASCADE,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    token_hash text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at timestamptz
);
CREATE INDEX api_tokens_staff_user_idx ON api_tokens (staff_user_id, created_at DESC);
