ALTER TABLE applications
    DROP CONSTRAINT applications_spouse_field_check,
    DROP COLUMN spouse_field,
    DROP COLUMN spouse_support;
