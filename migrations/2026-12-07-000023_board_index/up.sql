-- The board lists each column's cards by (stage, stage_entered_at, id), oldest or newest
-- first. With `id` in the index the order is the index's own in both directions (no sort of
-- the ties) and the unfiltered columns are read from the index alone; it replaces the index
-- on (stage, stage_entered_at), of which it is an extension (same uses, same plans).
CREATE INDEX applications_board_idx ON applications (stage, stage_entered_at, id);
DROP INDEX applications_stage_idx;

-- The board's counts per stage with a filter on the candidate (working time, situation,
-- specialty) join the matching candidates' ids to the applications: with the id in the index,
-- those ids are read from the index alone instead of the whole candidates table. The two
-- indexes on (situation) and (specialty_code) are replaced by their extension.
CREATE INDEX candidates_working_time_idx ON candidates (working_time, id);
CREATE INDEX candidates_situation_id_idx ON candidates (situation, id);
DROP INDEX candidates_situation_idx;
CREATE INDEX candidates_specialty_id_idx ON candidates (specialty_code, id);
DROP INDEX candidates_specialty_idx;
