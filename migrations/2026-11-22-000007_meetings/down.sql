ALTER TABLE outbound_emails DROP COLUMN ics;
DROP TABLE meetings;
