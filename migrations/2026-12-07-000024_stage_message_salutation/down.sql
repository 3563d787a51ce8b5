UPDATE stage_email_templates
   SET body = replace(body, 'Bonjour {{salutation}},', 'Bonjour {{prenom}} {{nom}},')
 WHERE updated_by IS NULL;
