-- One greeting everywhere: the stage messages no administrator has changed greet with
-- {{salutation}} (« Docteur Martin » for a doctor, « Claire Martin » otherwise) as every other
-- e-mail to a candidate does. Templates edited by an administrator are left as they wrote them.
UPDATE stage_email_templates
   SET body = replace(body, 'Bonjour {{prenom}} {{nom}},', 'Bonjour {{salutation}},')
 WHERE updated_by IS NULL;
