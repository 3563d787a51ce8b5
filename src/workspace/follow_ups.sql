-- Pool applications whose follow-up date (the one given when each last entered the pool, kept
-- on the application by a trigger: migration 000037) is $2 or past: how many, and the first $3
-- by date with the candidate's name. One row with a NULL application when there are none. $1
-- is the pool stage's code.
WITH due AS MATERIALIZED (
    SELECT a.id AS application_id, a.candidate_id, a.pool_follow_up_on AS follow_up_on
    FROM applications a
    WHERE a.stage = $1 AND a.pool_follow_up_on <= $2
), first AS (
    SELECT * FROM due ORDER BY follow_up_on, application_id LIMIT $3
)
SELECT (SELECT count(*) FROM due) AS total,
       first.application_id, c.id AS candidate_id, c.first_name, c.last_name, first.follow_up_on
FROM (SELECT 1) AS one
LEFT JOIN first ON true
LEFT JOIN candidates c ON c.id = first.candidate_id
ORDER BY first.follow_up_on, first.application_id
