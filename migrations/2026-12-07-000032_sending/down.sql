ALTER TABLE mail_templates DROP COLUMN preheader;
ALTER TABLE outbound_emails DROP COLUMN extra_headers;
ALTER TABLE meetings DROP COLUMN cancelled_at, DROP COLUMN sequence;
DROP FUNCTION installation_part();
DROP TABLE installation;
