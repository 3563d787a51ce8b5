-- The journal, newest first: each line with its author and what its sentence names (the
-- record's name, the candidate of an application). $1 author, $2 action, $3 from, $4 until
-- (excluded), each NULL when not filtered; $5 limit, $6 offset.
SELECT l.created_at,
       l.actor_id,
       u.display_name AS actor,
       l.action,
       l.entity,
       l.entity_id,
       l.detail,
       CASE l.entity
           WHEN 'campaign' THEN (SELECT name FROM campaigns WHERE id = l.entity_id)
           WHEN 'staff_user' THEN (SELECT display_name FROM staff_users WHERE id = l.entity_id)
           WHEN 'centre' THEN (SELECT name FROM centres WHERE id = l.entity_id)
           WHEN 'position' THEN (SELECT title FROM positions WHERE id = l.entity_id)
           WHEN 'contact_list' THEN (SELECT name FROM contact_lists WHERE id = l.entity_id)
           WHEN 'mail_template' THEN (SELECT name FROM mail_templates WHERE id = l.entity_id)
           WHEN 'organisation' THEN (SELECT name FROM organisations WHERE id = l.entity_id)
       END AS target,
       CASE WHEN l.entity = 'application'
            THEN (SELECT candidate_id FROM applications WHERE id = l.entity_id)
       END AS candidate_id
FROM audit_log l
LEFT JOIN staff_users u ON u.id = l.actor_id
WHERE ($1::bigint IS NULL OR l.actor_id = $1)
  AND ($2::text IS NULL OR l.action = $2)
  AND ($3::timestamptz IS NULL OR l.created_at >= $3)
  AND ($4::timestamptz IS NULL OR l.created_at < $4)
ORDER BY l.id DESC
LIMIT $5 OFFSET $6
