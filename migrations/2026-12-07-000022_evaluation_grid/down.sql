DROP TABLE evaluation_scores;
DROP TABLE evaluations;
DROP TABLE evaluation_criteria;
