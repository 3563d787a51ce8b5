CREATE INDEX deliveries_pending_idx ON deliveries (run_id, next_attempt_at, id)
    WHERE status = 'en_attente';
ALTER TABLE campaign_runs
    DROP COLUMN first_delivery_id,
    DROP COLUMN last_delivery_id,
    DROP COLUMN claim_cursor,
    DROP COLUMN recheck_at;
