-- Outcomes become HOT updates: no index of deliveries names status any more, so writing a
-- delivery's outcome writes no index entry (the partial index on pending deliveries made
-- every outcome a new entry in each of the table's indexes).
--
-- Claims find their work through the run instead:
--   - fresh deliveries: the run's ids above claim_cursor (up to last_delivery_id), in id order,
--     through the primary key; a claim moves the cursor past what it leased;
--   - deliveries due again at or below the cursor (a retry after a 4xx, a lease that ended,
--     deliveries given back at a stop, « retry the failed recipients »): swept from the run's
--     range when recheck_at has come. recheck_at is never later than the earliest moment such
--     a delivery is due (NULL: none is pending at or below the cursor); whatever makes one due
--     earlier moves it back.
ALTER TABLE campaign_runs
    ADD COLUMN first_delivery_id bigint NOT NULL DEFAULT 0,
    ADD COLUMN last_delivery_id bigint NOT NULL DEFAULT 0,
    ADD COLUMN claim_cursor bigint NOT NULL DEFAULT 0,
    ADD COLUMN recheck_at timestamptz;

-- Runs materialised before: their range, and a cursor past every delivery already touched
-- (sent, failed, set aside or leased); what is pending below it is swept at once.
UPDATE campaign_runs r SET
    first_delivery_id = s.first_id,
    last_delivery_id = s.last_id,
    claim_cursor = coalesce(s.touched, s.first_id - 1),
    recheck_at = now()
FROM (
    SELECT run_id, min(id) AS first_id, max(id) AS last_id,
           max(id) FILTER (WHERE status <> 'en_attente' OR locked_until IS NOT NULL
                                 OR attempts > 0) AS touched
    FROM deliveries GROUP BY run_id
) s
WHERE s.run_id = r.id;

DROP INDEX deliveries_pending_idx;
