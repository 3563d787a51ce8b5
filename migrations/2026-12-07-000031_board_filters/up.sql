-- The board filtered on the candidate (issue 18): working time, situation, specialty and wished
-- centres are copied onto each application, so that a filtered board reads the applications
-- alone (no join with the 50,000 candidates), and the counts per stage of a board filtered on
-- one of them come from a ledger kept by triggers, as the unfiltered counts (migration 000025).
--
-- The copies are kept by triggers, so that every path that writes (the form, a recruiter's
-- edit, a merge, imports, the demo generator, SQL by hand) keeps them exact:
-- - a new application, or one moved to another candidate (a merge), copies its candidate's
--   values (BEFORE INSERT OR UPDATE OF candidate_id, per row);
-- - a candidate whose working time, situation or specialty changes passes it on to their
--   applications (AFTER UPDATE, per row, only when one of them changed);
-- - wished centres added or removed recompute the array of the candidates' applications
--   (AFTER INSERT / DELETE / UPDATE on candidate_centres, per statement).
-- Nothing else writes these columns.

-- No candidate or wished centre changes while the copies are filled and the triggers created.
LOCK TABLE candidates, candidate_centres IN SHARE ROW EXCLUSIVE MODE;

ALTER TABLE applications
    ADD COLUMN candidate_working_time TEXT NOT NULL DEFAULT '',
    ADD COLUMN candidate_situation TEXT NOT NULL DEFAULT '',
    ADD COLUMN candidate_specialty TEXT NOT NULL DEFAULT '',
    ADD COLUMN candidate_centres BIGINT[] NOT NULL DEFAULT '{}';

UPDATE applications a
SET candidate_working_time = c.working_time,
    candidate_situation = c.situation,
    candidate_specialty = c.specialty_code,
    candidate_centres = ARRAY(SELECT cc.centre_id FROM candidate_centres cc
                              WHERE cc.candidate_id = c.id ORDER BY cc.centre_id)
FROM candidates c
WHERE c.id = a.candidate_id;

CREATE FUNCTION applications_copy_candidate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT c.working_time, c.situation, c.specialty_code,
           ARRAY(SELECT cc.centre_id FROM candidate_centres cc
                 WHERE cc.candidate_id = c.id ORDER BY cc.centre_id)
    INTO NEW.candidate_working_time, NEW.candidate_situation, NEW.candidate_specialty,
         NEW.candidate_centres
    FROM candidates c WHERE c.id = NEW.candidate_id;
    RETURN NEW;
END;
$$;
CREATE TRIGGER applications_copy_candidate
    BEFORE INSERT OR UPDATE OF candidate_id ON applications
    FOR EACH ROW EXECUTE FUNCTION applications_copy_candidate();

CREATE FUNCTION candidates_copy_to_applications() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE applications
    SET candidate_working_time = NEW.working_time,
        candidate_situation = NEW.situation,
        candidate_specialty = NEW.specialty_code
    WHERE candidate_id = NEW.id;
    RETURN NULL;
END;
$$;
CREATE TRIGGER candidates_copy_to_applications
    AFTER UPDATE OF working_time, situation, specialty_code ON candidates
    FOR EACH ROW
    WHEN (OLD.working_time IS DISTINCT FROM NEW.working_time
          OR OLD.situation IS DISTINCT FROM NEW.situation
          OR OLD.specialty_code IS DISTINCT FROM NEW.specialty_code)
    EXECUTE FUNCTION candidates_copy_to_applications();

-- The candidates concerned by a statement on candidate_centres are in `changed_rows` (the new
-- rows of an insert, the old rows of a delete, both for an update).
CREATE FUNCTION candidate_centres_copy_to_applications() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE applications a
    SET candidate_centres = ARRAY(SELECT cc.centre_id FROM candidate_centres cc
                                  WHERE cc.candidate_id = a.candidate_id ORDER BY cc.centre_id)
    WHERE a.candidate_id IN (SELECT candidate_id FROM changed_rows);
    RETURN NULL;
END;
$$;
CREATE FUNCTION candidate_centres_update_to_applications() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE applications a
    SET candidate_centres = ARRAY(SELECT cc.centre_id FROM candidate_centres cc
                                  WHERE cc.candidate_id = a.candidate_id ORDER BY cc.centre_id)
    WHERE a.candidate_id IN (SELECT candidate_id FROM old_rows
                             UNION SELECT candidate_id FROM new_rows);
    RETURN NULL;
END;
$$;
CREATE TRIGGER candidate_centres_insert_copy AFTER INSERT ON candidate_centres
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION candidate_centres_copy_to_applications();
CREATE TRIGGER candidate_centres_delete_copy AFTER DELETE ON candidate_centres
    REFERENCING OLD TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION candidate_centres_copy_to_applications();
CREATE TRIGGER candidate_centres_update_copy AFTER UPDATE ON candidate_centres
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION candidate_centres_update_to_applications();
CREATE FUNCTION candidate_centres_truncate_copy() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE applications SET candidate_centres = '{}' WHERE candidate_centres <> '{}';
    RETURN NULL;
END;
$$;
CREATE TRIGGER candidate_centres_truncate_copy AFTER TRUNCATE ON candidate_centres
    FOR EACH STATEMENT EXECUTE FUNCTION candidate_centres_truncate_copy();

-- The number of applications per stage for each value of each filter: a ledger like
-- stage_counts (one row per statement and (dimension, value, stage) it changes, +n or -n;
-- folded by stage_filter_counts_fold()). Dimensions: 'temps' (working time code),
-- 'situation' (code), 'specialite' (specialty code), 'centre' (centre id).
CREATE TABLE stage_filter_counts (
    id BIGSERIAL PRIMARY KEY,
    dimension TEXT NOT NULL,
    value TEXT NOT NULL,
    stage TEXT NOT NULL,
    delta BIGINT NOT NULL
);
CREATE INDEX stage_filter_counts_value_idx ON stage_filter_counts (dimension, value);

-- The (dimension, value) pairs an application counts under.
CREATE FUNCTION board_dimensions(working_time TEXT, situation TEXT, specialty TEXT,
                                 centres BIGINT[])
RETURNS TABLE (dimension TEXT, value TEXT) LANGUAGE sql IMMUTABLE AS $$
    SELECT 'temps', working_time
    UNION ALL SELECT 'situation', situation
    UNION ALL SELECT 'specialite', specialty
    UNION ALL SELECT 'centre', c::text FROM unnest(centres) AS c
$$;

CREATE FUNCTION stage_filter_counts_track() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO stage_filter_counts (dimension, value, stage, delta)
        SELECT d.dimension, d.value, r.stage, count(*)
        FROM new_rows r,
             board_dimensions(r.candidate_working_time, r.candidate_situation,
                              r.candidate_specialty, r.candidate_centres) d
        GROUP BY 1, 2, 3;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO stage_filter_counts (dimension, value, stage, delta)
        SELECT d.dimension, d.value, r.stage, -count(*)
        FROM old_rows r,
             board_dimensions(r.candidate_working_time, r.candidate_situation,
                              r.candidate_specialty, r.candidate_centres) d
        GROUP BY 1, 2, 3;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO stage_filter_counts (dimension, value, stage, delta)
        SELECT d.dimension, d.value, r.stage, sum(r.delta)::bigint
        FROM (SELECT candidate_working_time, candidate_situation, candidate_specialty,
                     candidate_centres, stage, 1 AS delta FROM new_rows
              UNION ALL
              SELECT candidate_working_time, candidate_situation, candidate_specialty,
                     candidate_centres, stage, -1 AS delta FROM old_rows) AS r,
             board_dimensions(r.candidate_working_time, r.candidate_situation,
                              r.candidate_specialty, r.candidate_centres) d
        GROUP BY 1, 2, 3
        HAVING sum(r.delta) <> 0;
    ELSE
        DELETE FROM stage_filter_counts;
    END IF;
    RETURN NULL;
END;
$$;

CREATE FUNCTION stage_filter_counts_fold() RETURNS void LANGUAGE sql AS $$
    WITH gone AS (DELETE FROM stage_filter_counts RETURNING dimension, value, stage, delta)
    INSERT INTO stage_filter_counts (dimension, value, stage, delta)
    SELECT dimension, value, stage, sum(delta)::bigint FROM gone
    GROUP BY dimension, value, stage
    HAVING sum(delta) <> 0;
$$;

CREATE TRIGGER stage_filter_counts_insert AFTER INSERT ON applications
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION stage_filter_counts_track();
CREATE TRIGGER stage_filter_counts_update AFTER UPDATE ON applications
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION stage_filter_counts_track();
CREATE TRIGGER stage_filter_counts_delete AFTER DELETE ON applications
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION stage_filter_counts_track();
CREATE TRIGGER stage_filter_counts_truncate AFTER TRUNCATE ON applications
    FOR EACH STATEMENT EXECUTE FUNCTION stage_filter_counts_track();

INSERT INTO stage_filter_counts (dimension, value, stage, delta)
SELECT d.dimension, d.value, a.stage, count(*)
FROM applications a,
     board_dimensions(a.candidate_working_time, a.candidate_situation, a.candidate_specialty,
                      a.candidate_centres) d
GROUP BY 1, 2, 3;
