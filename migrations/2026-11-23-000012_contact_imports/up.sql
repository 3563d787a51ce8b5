-- CSV imports of contacts into a list. The uploaded file is kept between the preview and the
-- confirmation (then dropped: only the report, without the accepted addresses, stays).
CREATE TABLE contact_imports (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    list_id bigint NOT NULL REFERENCES contact_lists (id) ON DELETE CASCADE,
    -- NULL for the command line.
    uploaded_by bigint REFERENCES staff_users (id) ON DELETE SET NULL,
    filename text NOT NULL DEFAULT '',
    content bytea NOT NULL,
    -- The kind and legal basis for rows that omit them: {"type": "medecin", "base_legale": "…"}.
    defaults jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    applied_at timestamptz,
    report jsonb,
    CHECK ((applied_at IS NULL) = (report IS NULL))
);
CREATE INDEX contact_imports_list_idx ON contact_imports (list_id, created_at DESC);
