CREATE INDEX candidates_specialty_idx ON candidates (specialty_code);
DROP INDEX candidates_specialty_id_idx;
CREATE INDEX candidates_situation_idx ON candidates (situation);
DROP INDEX candidates_situation_id_idx;
DROP INDEX candidates_working_time_idx;
CREATE INDEX applications_stage_idx ON applications (stage, stage_entered_at);
DROP INDEX applications_board_idx;
