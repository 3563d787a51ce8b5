DROP INDEX candidates_submitted_rpps;
ALTER TABLE candidates DROP COLUMN submitted_rpps;
DROP TABLE submissions;
