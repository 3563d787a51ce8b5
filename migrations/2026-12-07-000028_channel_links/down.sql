DROP INDEX applications_channel_link_idx;
ALTER TABLE applications DROP COLUMN channel_link_id;
DROP TABLE channel_link_visits;
DROP TABLE channel_links;
