-- The number of applications in each stage, for the unfiltered board, without reading the
-- 50,000 applications on each page. Kept exact by triggers on applications, so every way an
-- application is added, moved or deleted (forms, moves, imports, the demo generator) counts.
--
-- A ledger rather than one counter row per stage: each statement that inserts, moves or
-- deletes applications appends one row per stage whose number it changes (+n or -n). Moves at
-- once never wait for each other on a counter row nor deadlock (a move from A to B beside one
-- from B to A), and a long transaction (the demo generator inserts 50,000 applications in one)
-- does not pile up versions of one row. A stage's count is the sum of its rows;
-- stage_counts_fold() replaces the rows by one per stage, exactly even while moves commit
-- (it deletes and sums only the committed rows it sees; another fold at the same time finds
-- them gone and sums nothing).
CREATE TABLE stage_counts (
    id BIGSERIAL PRIMARY KEY,
    stage TEXT NOT NULL,
    delta BIGINT NOT NULL
);

CREATE FUNCTION stage_counts_track() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO stage_counts (stage, delta)
        SELECT stage, count(*) FROM new_rows GROUP BY stage;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO stage_counts (stage, delta)
        SELECT stage, -count(*) FROM old_rows GROUP BY stage;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO stage_counts (stage, delta)
        SELECT stage, sum(delta)::bigint
        FROM (SELECT stage, 1 AS delta FROM new_rows
              UNION ALL
              SELECT stage, -1 AS delta FROM old_rows) AS moved
        GROUP BY stage
        HAVING sum(delta) <> 0;
    ELSE
        DELETE FROM stage_counts;
    END IF;
    RETURN NULL;
END;
$$;

CREATE FUNCTION stage_counts_fold() RETURNS void LANGUAGE sql AS $$
    WITH gone AS (DELETE FROM stage_counts RETURNING stage, delta)
    INSERT INTO stage_counts (stage, delta)
    SELECT stage, sum(delta)::bigint FROM gone GROUP BY stage;
$$;

-- The triggers first: they lock applications against writes until this migration commits, so
-- no application added meanwhile is missed or counted twice by the filling below.
CREATE TRIGGER stage_counts_insert AFTER INSERT ON applications
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION stage_counts_track();
CREATE TRIGGER stage_counts_update AFTER UPDATE ON applications
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION stage_counts_track();
CREATE TRIGGER stage_counts_delete AFTER DELETE ON applications
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION stage_counts_track();
CREATE TRIGGER stage_counts_truncate AFTER TRUNCATE ON applications
    FOR EACH STATEMENT EXECUTE FUNCTION stage_counts_track();

INSERT INTO stage_counts (stage, delta)
SELECT stage, count(*) FROM applications GROUP BY stage;

-- The counts of a filtered board (working time, situation, specialty, centre) join the
-- matching candidates to the applications: with the stage in the index on the candidate, the
-- applications' side is read from the index alone, in candidate order, so that it merge-joins
-- the candidates' narrow indexes of migration 000023 (EXPLAIN on 50,051 applications, part
-- time: 22 → 8 ms; centre: 32 → 17 ms). It replaces the index on (candidate_id), of which it
-- is an extension.
CREATE INDEX applications_candidate_stage_idx ON applications (candidate_id, stage);
DROP INDEX applications_candidate_idx;
