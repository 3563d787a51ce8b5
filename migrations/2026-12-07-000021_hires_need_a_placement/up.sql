-- « Recrutée » is reached only by recording the start of an accepted offer (a placement). Before
-- issue 18 a recruiter could also choose it by hand, with no offer and no placement: such an
-- application counted as a hire on the board while the capacity page (computed from placements)
-- did not. Each one goes back, by an appended move (the history is never rewritten), to the stage
-- it was in before that manual move, with a note saying why; the recruiter then records the
-- recruitment through an offer. The reports count hires from placements, so these old moves
-- are not counted there either (they are shown as a note).
WITH legacy AS (
    SELECT a.id,
           coalesce(nullif((SELECT h.from_stage FROM stage_history h
                            WHERE h.application_id = a.id AND h.to_stage = 'recrutee'
                            ORDER BY h.created_at DESC, h.id DESC LIMIT 1), 'recrutee'),
                    'nouvelle') AS back_to
    FROM applications a
    WHERE a.stage = 'recrutee'
      AND NOT EXISTS (SELECT 1 FROM placements p WHERE p.application_id = a.id)
), moved AS (
    UPDATE applications a
    SET stage = l.back_to, stage_entered_at = now(), updated_at = now()
    FROM legacy l
    WHERE a.id = l.id
    RETURNING a.id, l.back_to
)
INSERT INTO stage_history (application_id, from_stage, to_stage, actor_id, note, created_at)
SELECT id, 'recrutee', back_to, NULL,
       'Étape « Recrutée » retirée : elle avait été choisie à la main, sans proposition acceptée ni prise de poste. Enregistrez le recrutement par une proposition.',
       now()
FROM moved;
