DROP INDEX applications_pool_follow_up_idx;
DROP TRIGGER stage_history_pool_follow_up ON stage_history;
DROP FUNCTION applications_pool_follow_up();
ALTER TABLE applications DROP COLUMN pool_follow_up_on;
