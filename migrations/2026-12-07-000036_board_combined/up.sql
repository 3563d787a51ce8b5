-- The board filtered on several of the candidate's values at once, and the name search
-- (issue 18). EXPLAIN (ANALYZE, BUFFERS) on a base of `vocation demo --candidats 50000`
-- (50,051 applications), one client, no parallel plans.

-- A board filtered on several copied values (migration 000031) listed its matches with a scan
-- of the 50,051 applications, testing four conditions on each row (the copies sit at the end
-- of a wide row): specialty MG + part time + a centre + « remplaçant », 433 matches, 13.7 ms.
-- With this index, the situation, working time and specialty are found in the index and only
-- the ~1,000 rows they match are read for the centre: 1.2 ms. The situation (one of eight,
-- ~6,200 applications) leads: it is the most selective of the three; a board filtered on a
-- situation and a working time lists and counts its ~2,000 matches from the index too
-- (instead of two scans: 8.0 + 7.0 → 2.2 + 1.7 ms), at the price of a little more for its ten
-- columns (4.3 → 7.2 ms: the planner intersects this index with the board's instead of
-- walking the board's).
CREATE INDEX applications_copies_idx
    ON applications (candidate_situation, candidate_working_time, candidate_specialty);

-- A name search finds its few hundred candidates in the trigram index (migration 000008), then
-- their applications. Their id and date of entry in the stage in the index on the candidate
-- let the planner read them from the index alone, which it then prefers to hashing all the
-- applications: « Aubert », 324 matches, hash join over a scan of the applications 7.4 ms →
-- nested loop of index-only probes 2.1 ms. Same keys as before (migration 000025), so the
-- filtered counts' merge joins are unchanged.
DROP INDEX applications_candidate_stage_idx;
CREATE INDEX applications_candidate_stage_idx
    ON applications (candidate_id, stage) INCLUDE (stage_entered_at, id);
