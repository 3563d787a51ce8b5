-- Puts back at « Recrutée » the applications the up migration moved, and removes the moves it
-- appended (the history's trigger forbids updates, not deletes).
WITH marked AS (
    DELETE FROM stage_history
    WHERE from_stage = 'recrutee' AND actor_id IS NULL
      AND note = 'Étape « Recrutée » retirée : elle avait été choisie à la main, sans proposition acceptée ni prise de poste. Enregistrez le recrutement par une proposition.'
    RETURNING application_id
)
UPDATE applications a
SET stage = 'recrutee',
    stage_entered_at = coalesce((SELECT max(h.created_at) FROM stage_history h
                                 WHERE h.application_id = a.id AND h.to_stage = 'recrutee'),
                                a.stage_entered_at),
    updated_at = now()
WHERE a.id IN (SELECT application_id FROM marked);
