DROP TABLE candidate_notes;
