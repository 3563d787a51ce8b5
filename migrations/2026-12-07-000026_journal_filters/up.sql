-- The journal (/admin/journal) is read newest first (by id), filtered by person or by action:
-- an index per filter, in the order the page reads, so that a filter on a rare action does not
-- walk the whole log backwards.
CREATE INDEX audit_log_action_idx ON audit_log (action, id DESC);
CREATE INDEX audit_log_actor_idx ON audit_log (actor_id, id DESC);
