CREATE INDEX applications_stage_idx ON applications (stage, stage_entered_at);
DROP INDEX applications_board_idx;
