DROP TABLE stage_email_templates;
