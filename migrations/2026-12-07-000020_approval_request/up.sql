-- A recruiter asks for an offer's approval: who asked and when, so that the approvers are told
-- and the draft shows in their « À faire » until it is approved.
ALTER TABLE offers
    ADD COLUMN approval_requested_at timestamptz,
    ADD COLUMN approval_requested_by bigint REFERENCES staff_users (id);
