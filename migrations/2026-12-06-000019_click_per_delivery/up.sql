-- A tracked link followed six times is one recipient who clicked, not six clicks: one row per
-- delivery, holding its first click (clicked_at, what the reports count), its last one and how
-- many visits in all. The table no longer grows with each visit either.
ALTER TABLE link_clicks
    ADD COLUMN clicks integer NOT NULL DEFAULT 1 CHECK (clicks >= 1),
    ADD COLUMN last_clicked_at timestamptz;

UPDATE link_clicks k
   SET clicks = agg.n, clicked_at = agg.first_at, last_clicked_at = agg.last_at
  FROM (SELECT delivery_id, min(id) AS keep, count(*)::integer AS n,
               min(clicked_at) AS first_at, max(clicked_at) AS last_at
          FROM link_clicks GROUP BY delivery_id) agg
 WHERE k.id = agg.keep;

DELETE FROM link_clicks k
 WHERE EXISTS (SELECT 1 FROM link_clicks o WHERE o.delivery_id = k.delivery_id AND o.id < k.id);

UPDATE link_clicks SET last_clicked_at = clicked_at WHERE last_clicked_at IS NULL;

ALTER TABLE link_clicks
    ALTER COLUMN last_clicked_at SET NOT NULL,
    ALTER COLUMN last_clicked_at SET DEFAULT now();

DROP INDEX link_clicks_delivery_idx;
CREATE UNIQUE INDEX link_clicks_delivery_key ON link_clicks (delivery_id);
