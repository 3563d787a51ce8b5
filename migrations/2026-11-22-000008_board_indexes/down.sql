DROP INDEX IF EXISTS candidates_situation_idx;
DROP INDEX IF EXISTS candidates_specialty_idx;
DROP INDEX IF EXISTS candidate_centres_centre_idx;
DROP INDEX IF EXISTS candidates_lower_name_idx;
DROP INDEX IF EXISTS candidates_search_trgm_idx;
DROP EXTENSION IF EXISTS pg_trgm;
