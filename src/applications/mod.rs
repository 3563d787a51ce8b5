//! A doctor's application, from the public form to the database. `fields` holds the form's
//! rules, `lists` what a submission chooses from, `submit` the use case that both the form and
//! the JSON API call (check, then record with the e-mails in one transaction), `record` the
//! merge with the records already held, `emails` the confirmation and the recruiters'
//! notification, `submissions` what each submission typed.

mod emails;
pub mod fields;
mod lists;
mod record;
mod submissions;
mod submit;

pub use fields::{
    validate, Choices, CvProblem, NewApplication, RawApplicationForm, Upload, Utm, FIELD_ORDER,
};
pub use lists::{load_lists, FormLists};
pub use record::{record_with_email, MatchKind, Recorded};
pub use submissions::{
    find_by_submission_key, submission_of, submissions_for_export, submissions_of, ReceivedSummary,
    SubmissionOf, Submitted,
};
pub use submit::{check, check_and_submit, submit};
