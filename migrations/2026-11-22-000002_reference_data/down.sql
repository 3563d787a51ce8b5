DELETE FROM centres WHERE insee_code IN ('32132', '32462', '32149', '32319', '32233');
DELETE FROM specialties;
