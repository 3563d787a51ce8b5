-- A delivery's lease lives in locked_until only, a column outside every index: claiming no
-- longer moves the indexed next_attempt_at. With room left in each page, the claim's update is
-- then a HOT update (no index entry written), and the pages keep room for the outcome's.
ALTER TABLE deliveries SET (fillfactor = 50);
