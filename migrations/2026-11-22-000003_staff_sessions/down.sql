DROP INDEX applications_position_idx;
DROP TABLE audit_log;
DROP TABLE login_attempts;
DROP TABLE staff_sessions;
