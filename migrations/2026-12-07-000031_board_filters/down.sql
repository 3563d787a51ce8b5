DROP TRIGGER stage_filter_counts_truncate ON applications;
DROP TRIGGER stage_filter_counts_delete ON applications;
DROP TRIGGER stage_filter_counts_update ON applications;
DROP TRIGGER stage_filter_counts_insert ON applications;
DROP FUNCTION stage_filter_counts_fold();
DROP FUNCTION stage_filter_counts_track();
DROP FUNCTION board_dimensions(TEXT, TEXT, TEXT, BIGINT[]);
DROP TABLE stage_filter_counts;
DROP TRIGGER candidate_centres_truncate_copy ON candidate_centres;
DROP FUNCTION candidate_centres_truncate_copy();
DROP TRIGGER candidate_centres_update_copy ON candidate_centres;
DROP TRIGGER candidate_centres_delete_copy ON candidate_centres;
DROP TRIGGER candidate_centres_insert_copy ON candidate_centres;
DROP FUNCTION candidate_centres_update_to_applications();
DROP FUNCTION candidate_centres_copy_to_applications();
DROP TRIGGER candidates_copy_to_applications ON candidates;
DROP FUNCTION candidates_copy_to_applications();
DROP TRIGGER applications_copy_candidate ON applications;
DROP FUNCTION applications_copy_candidate();
ALTER TABLE applications
    DROP COLUMN candidate_centres,
    DROP COLUMN candidate_specialty,
    DROP COLUMN candidate_situation,
    DROP COLUMN candidate_working_time;
