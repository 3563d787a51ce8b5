CREATE INDEX applications_candidate_idx ON applications (candidate_id);
DROP INDEX applications_candidate_stage_idx;
DROP TRIGGER stage_counts_truncate ON applications;
DROP TRIGGER stage_counts_delete ON applications;
DROP TRIGGER stage_counts_update ON applications;
DROP TRIGGER stage_counts_insert ON applications;
DROP FUNCTION stage_counts_fold();
DROP FUNCTION stage_counts_track();
DROP TABLE stage_counts;
