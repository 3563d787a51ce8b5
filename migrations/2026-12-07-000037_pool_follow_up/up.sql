-- The « À faire » home's follow-ups (issue 18's speed bar): the date to contact a pooled
-- candidate again is the one given when the application last entered the pool, in
-- stage_history. Looking it up for each of the ~4,000 pooled applications of a 50,000-candidate
-- base cost 15–20 ms per home page. A copy on the application, written by a trigger on each
-- history row entering the pool (the history is append-only: the last row inserted is the last
-- entry), is read with a partial index instead.
ALTER TABLE applications ADD COLUMN pool_follow_up_on date;

UPDATE applications a SET pool_follow_up_on = f.follow_up_on
FROM (
    SELECT DISTINCT ON (h.application_id) h.application_id, h.follow_up_on
    FROM stage_history h
    WHERE h.to_stage = 'vivier'
    ORDER BY h.application_id, h.created_at DESC, h.id DESC
) f
WHERE f.application_id = a.id;

CREATE FUNCTION applications_pool_follow_up() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.to_stage = 'vivier' THEN
        UPDATE applications SET pool_follow_up_on = NEW.follow_up_on
        WHERE id = NEW.application_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER stage_history_pool_follow_up AFTER INSERT ON stage_history
    FOR EACH ROW EXECUTE FUNCTION applications_pool_follow_up();

CREATE INDEX applications_pool_follow_up_idx ON applications (pool_follow_up_on, id)
    WHERE stage = 'vivier';
