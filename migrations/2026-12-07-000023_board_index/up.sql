-- The board lists each column's cards by (stage, stage_entered_at, id), oldest or newest
-- first. With `id` in the index the order is the index's own in both directions (no sort of
-- the ties) and the unfiltered columns are read from the index alone; it replaces the index
-- on (stage, stage_entered_at), of which it is an extension (same uses, same plans).
CREATE INDEX applications_board_idx ON applications (stage, stage_entered_at, id);
DROP INDEX applications_stage_idx;
