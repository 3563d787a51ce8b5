-- The spouse's job (#Dites32 à 2): whether the doctor, when applying, asked for the
-- département's support in their spouse's job search, and in which field of work.
--
-- Kept on the application rather than on the candidate: it is a wish stated by one
-- submission (like its message), an anonymous submission never changes an existing record
-- (a later application of a known person carries its own answer), and the reports count
-- applications that asked for it against their outcome.
--
-- spouse_support: NULL when the question was not answered, false for « non », true for « oui ».
-- spouse_field: the field of work as typed (single line, 200 characters at most), only with a
-- « oui »; erased with the rest of the application's free text.
ALTER TABLE applications
    ADD COLUMN spouse_support BOOLEAN,
    ADD COLUMN spouse_field TEXT,
    ADD CONSTRAINT applications_spouse_field_check
        CHECK (spouse_field IS NULL
               OR (spouse_support AND char_length(spouse_field) BETWEEN 1 AND 200));
