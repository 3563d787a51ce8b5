//! A doctor's application, from the public form to the database. `fields` holds the form's
//! rules, `submit` the use case that both the form and the JSON API call (check, then record
//! with the e-mails in one transaction), `record` the merge with the records already held,
//! `emails` the confirmation and the recruiters' notification, `submissions` what each
//! submission typed.

mod emails;
pub mod fields;
mod record;
mod submissions;
mod submit;

use chrono::NaiveDate;
use uuid::Uuid;

use crate::db::enums::{Civility, HeardFrom, Situation, WorkingTime};
use crate::domain::{EmailAddress, FreeText, PersonName, PhoneNumber, Rpps};

pub use fields::{validate, Choices, CvProblem, RawApplicationForm, Upload, FIELD_ORDER};
pub use record::{record_with_email, MatchKind};
pub use submissions::{
    find_by_submission_key, submission_of, submissions_for_export, submissions_of, ReceivedSummary,
    SubmissionOf, Submitted,
};
pub use submit::{check, check_and_submit, load_lists, submit, FormLists};

/// Campaign attribution carried by the form's link.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Utm {
    pub source: Option<String>,
    pub medium: Option<String>,
    pub campaign: Option<String>,
}

/// A parsed, valid application, ready to be recorded.
#[derive(Debug, Clone)]
pub struct NewApplication {
    pub civility: Civility,
    pub first_name: PersonName,
    pub last_name: PersonName,
    pub email: EmailAddress,
    pub phone: PhoneNumber,
    pub rpps: Option<Rpps>,
    pub specialty_code: String,
    pub situation: Situation,
    pub available_from: Option<NaiveDate>,
    pub working_time: WorkingTime,
    /// Half-days per week when part time (1..=9).
    pub part_time_half_days: Option<i16>,
    pub centre_ids: Vec<i64>,
    pub on_call: bool,
    pub intern_training: bool,
    pub message: FreeText,
    pub heard_from: Option<HeardFrom>,
    pub position_id: Option<i64>,
    pub pool_consent: bool,
    pub privacy_notice_version: String,
    pub utm: Utm,
    /// The campaign delivery whose tracked link led here (checked signature), if any.
    pub delivery_id: Option<i64>,
    pub submission_key: Uuid,
}

/// What recording an application did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// A new application; `merged` when it joined the record with the same e-mail on file,
    /// `suspected_duplicate` when it made a new record that shares an RPPS number or a phone
    /// with another one (kept for a recruiter to compare and merge).
    New {
        application_id: i64,
        candidate_id: i64,
        merged: bool,
        suspected_duplicate: bool,
    },
    /// The candidate already had an open application for the same position: it was completed
    /// (new message appended, new CV attached) rather than duplicated.
    Completed {
        application_id: i64,
        candidate_id: i64,
    },
    /// This very submission (same form key) was already recorded: nothing was written.
    AlreadyReceived { application_id: i64 },
}

impl Recorded {
    pub fn application_id(self) -> i64 {
        match self {
            Recorded::New { application_id, .. }
            | Recorded::Completed { application_id, .. }
            | Recorded::AlreadyReceived { application_id } => application_id,
        }
    }

    /// A new application (counted in the metrics).
    pub fn is_new(self) -> bool {
        matches!(self, Recorded::New { .. })
    }

    /// Something was recorded and e-mails were queued: the mail worker is to be woken.
    pub fn queued_mail(self) -> bool {
        !matches!(self, Recorded::AlreadyReceived { .. })
    }
}
