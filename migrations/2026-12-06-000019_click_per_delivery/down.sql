-- Visits after the first are not brought back as rows: only their count was kept.
DROP INDEX link_clicks_delivery_key;
CREATE INDEX link_clicks_delivery_idx ON link_clicks (delivery_id);
ALTER TABLE link_clicks DROP COLUMN last_clicked_at, DROP COLUMN clicks;
