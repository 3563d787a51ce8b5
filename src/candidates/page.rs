//! Everything a recruiter's page of one candidate shows: the record, its meetings, offers and
//! placements, possible duplicates, recent submissions and interview grids.

use chrono::NaiveDate;
use diesel::prelude::*;

use super::{load, possible_duplicates, CandidateView, PossibleDuplicate};
use crate::applications::SubmissionOf;
use crate::centres::Centre;
use crate::offers::OfferView;
use crate::pipeline::evaluation::EvaluationView;
use crate::pipeline::meetings::MeetingView;
use crate::placements::PlacementView;

/// The candidate's page, read at once.
pub struct CandidatePage {
    pub candidate: CandidateView,
    pub meetings: Vec<MeetingView>,
    /// The centres one may choose (for meetings and proposals).
    pub centres: Vec<Centre>,
    pub duplicates: Vec<PossibleDuplicate>,
    pub offers: Vec<OfferView>,
    pub placements: Vec<PlacementView>,
    /// The last submissions of the candidate (for the proposals to review).
    pub submitted: Vec<SubmissionOf>,
    /// The interview grids filled for the candidate's meetings.
    pub evaluations: Vec<EvaluationView>,
    /// Mail exchanged with the candidate (answers read from the mailbox, recruiters' answers).
    pub messages: Vec<crate::conversations::MessageView>,
}

/// The page of candidate `id`, with placements as they stand on `today`; None when there is no
/// such candidate.
pub fn page(
    conn: &mut PgConnection,
    id: i64,
    today: NaiveDate,
) -> anyhow::Result<Option<CandidatePage>> {
    let Some(candidate) = load(conn, id)? else {
        return Ok(None);
    };
    let candidate_id = candidate.id;
    Ok(Some(CandidatePage {
        meetings: crate::pipeline::meetings::for_candidate(conn, candidate_id)?,
        centres: crate::centres::list_choosable(conn)?,
        duplicates: possible_duplicates(conn, candidate_id)?,
        offers: crate::offers::for_candidate(conn, candidate_id)?,
        placements: crate::placements::for_candidate(conn, candidate_id, today)?,
        submitted: crate::applications::submissions_of(conn, candidate_id, 10)?,
        evaluations: crate::pipeline::evaluation::for_candidate(conn, candidate_id)?,
        messages: crate::conversations::for_candidate(conn, candidate_id)?,
        candidate,
    }))
}
