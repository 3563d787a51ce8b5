-- Staff sign-in: server-side sessions (so that logout and disabling an account end them),
-- login attempts for rate limiting across instances, and the audit log.

CREATE TABLE staff_sessions (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- SHA-256 of the cookie value: a leaked table does not give usable cookies.
    token_hash text NOT NULL UNIQUE,
    user_id bigint NOT NULL REFERENCES staff_users (id) ON DELETE CASCADE,
    csrf_token text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX staff_sessions_user_idx ON staff_sessions (user_id);

CREATE TABLE login_attempts (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- SHA-256 of the lower-cased e-mail typed, known account or not.
    account_key text NOT NULL,
    client_ip text NOT NULL,
    succeeded boolean NOT NULL,
    attempted_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_attempts_account_idx ON login_attempts (account_key, attempted_at);
CREATE INDEX login_attempts_ip_idx ON login_attempts (client_ip, attempted_at);

-- Who did what to which record. The detail never holds names, e-mails or phones.
CREATE TABLE audit_log (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    actor_id bigint REFERENCES staff_users (id),
    action text NOT NULL,
    entity text NOT NULL,
    entity_id bigint,
    detail text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_created_idx ON audit_log (created_at);

-- The board lists applications by stage, oldest in stage first.
CREATE INDEX applications_position_idx ON applications (position_id);
