DROP INDEX applications_candidate_stage_idx;
CREATE INDEX applications_candidate_stage_idx ON applications (candidate_id, stage);
DROP INDEX applications_copies_idx;
