//! Erasure at the candidate's request: what keeps their data for now, anonymising a candidate
//! (also used by the retention job), and removing document files once the rows are gone.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::dsl::exists;
use diesel::prelude::*;

use crate::db::enums::OfferStatus;
use crate::db::schema::{
    applications, candidate_notes, candidates, documents, meetings, offers, outbound_emails,
    placements, stage_history,
};
use crate::staff::audit::audit;

/// Why a candidate's data must be kept for now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeepReason {
    /// A placement (the doctor works or worked for us): employer's obligations.
    Placement,
    /// An offer sent and awaiting an answer, or accepted: the contract is being formed.
    LiveOffer,
}

impl KeepReason {
    pub fn code(self) -> &'static str {
        match self {
            KeepReason::Placement => "placement",
            KeepReason::LiveOffer => "proposition",
        }
    }
}

/// What keeps a candidate's data from being erased now, if anything.
pub fn keep_reasons(conn: &mut PgConnection, candidate_id: i64) -> QueryResult<Vec<KeepReason>> {
    let mut reasons = Vec::new();
    let placed: bool = diesel::select(exists(
        placements::table
            .inner_join(applications::table)
            .filter(applications::candidate_id.eq(candidate_id)),
    ))
    .get_result(conn)?;
    if placed {
        reasons.push(KeepReason::Placement);
    }
    let live: bool = diesel::select(exists(
        offers::table
            .inner_join(applications::table)
            .filter(applications::candidate_id.eq(candidate_id))
            .filter(offers::status.eq_any([OfferStatus::Sent, OfferStatus::Accepted])),
    ))
    .get_result(conn)?;
    if live {
        reasons.push(KeepReason::LiveOffer);
    }
    Ok(reasons)
}

/// Anonymises one candidate inside the caller's transaction; returns the storage keys of the
/// documents whose rows were deleted (their files are removed once the transaction commits).
pub(super) fn anonymise(
    conn: &mut PgConnection,
    candidate_id: i64,
    now: DateTime<Utc>,
) -> QueryResult<Vec<String>> {
    let keys: Vec<String> =
        diesel::delete(documents::table.filter(documents::candidate_id.eq(candidate_id)))
            .returning(documents::storage_key)
            .get_results(conn)?;
    diesel::delete(candidate_notes::table.filter(candidate_notes::candidate_id.eq(candidate_id)))
        .execute(conn)?;
    // Mail exchanged with the candidate goes (its attachments went with the documents above).
    diesel::delete(
        crate::db::schema::candidate_messages::table
            .filter(crate::db::schema::candidate_messages::candidate_id.eq(candidate_id)),
    )
    .execute(conn)?;
    // What was kept of mail they sent that waits on « Non reconnu » attached to nothing is not
    // theirs by record; mail the reader tied to them keeps only its number.
    diesel::update(
        crate::db::schema::inbound_messages::table
            .filter(crate::db::schema::inbound_messages::candidate_id.eq(candidate_id)),
    )
    .set(crate::db::schema::inbound_messages::candidate_id.eq(None::<i64>))
    .execute(conn)?;
    diesel::delete(outbound_emails::table.filter(outbound_emails::candidate_id.eq(candidate_id)))
        .execute(conn)?;
    let their_applications = applications::table
        .filter(applications::candidate_id.eq(candidate_id))
        .select(applications::id);
    // The history is append-only; the database lets a note's text, and nothing else, go.
    diesel::update(stage_history::table)
        .filter(stage_history::application_id.eq_any(their_applications))
        .filter(stage_history::note.is_not_null())
        .set(stage_history::note.eq(None::<String>))
        .execute(conn)?;
    diesel::update(meetings::table)
        .filter(meetings::application_id.eq_any(their_applications))
        .set((meetings::note.eq(""), meetings::participants.eq("")))
        .execute(conn)?;
    // Interview grids are an evaluation of the person: they go (scores by cascade).
    crate::pipeline::evaluation::delete_for_candidate(conn, candidate_id)?;
    diesel::update(applications::table)
        .filter(applications::candidate_id.eq(candidate_id))
        .set((
            applications::message.eq(""),
            // The spouse's field of work is typed text about the family: it goes. Whether
            // support was asked stays, like the stage and the source, for the reports: once
            // the record is anonymised it tells nothing of anyone.
            applications::spouse_field.eq(None::<String>),
        ))
        .execute(conn)?;
    // What the submissions typed is personal data like the rest.
    diesel::delete(
        crate::db::schema::submissions::table
            .filter(crate::db::schema::submissions::candidate_id.eq(candidate_id)),
    )
    .execute(conn)?;
    diesel::update(candidates::table.find(candidate_id))
        .set((
            candidates::first_name.eq(""),
            candidates::last_name.eq("Anonyme"),
            candidates::email.eq(""),
            candidates::email_normalized.eq(""),
            candidates::phone.eq(""),
            candidates::phone_normalized.eq(""),
            candidates::rpps.eq(None::<String>),
            candidates::submitted_rpps.eq(None::<String>),
            candidates::available_from.eq(None::<NaiveDate>),
            candidates::pool_consent_at.eq(None::<DateTime<Utc>>),
            candidates::consent_reminder_sent_at.eq(None::<DateTime<Utc>>),
            candidates::anonymised_at.eq(now),
            candidates::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(keys)
}

/// Removes document files whose rows are gone. A file that cannot be removed is logged (by its
/// generated name only) and left for an operator.
pub fn remove_files(dir: &std::path::Path, keys: &[String]) -> usize {
    let mut removed = 0;
    for key in keys {
        match std::fs::remove_file(dir.join(key)) {
            Ok(()) => removed += 1,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => removed += 1,
            Err(e) => tracing::warn!(error = %e, file = %key, "could not remove a document file"),
        }
    }
    removed
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Erasure {
    /// Done: the storage keys of the deleted documents (files to remove).
    Erased(Vec<String>),
    /// Refused for now, and why.
    Kept(Vec<KeepReason>),
}

/// Erases a candidate's data at their request, unless a placement or a live offer requires
/// keeping it.
pub fn erase(
    conn: &mut PgConnection,
    candidate_id: i64,
    now: DateTime<Utc>,
) -> QueryResult<Erasure> {
    conn.transaction(|conn| {
        // One erasure at a time for a candidate, and none while an offer is being sent.
        let found: Option<i64> = candidates::table
            .filter(candidates::id.eq(candidate_id))
            .filter(candidates::anonymised_at.is_null())
            .select(candidates::id)
            .for_update()
            .first(conn)
            .optional()?;
        if found.is_none() {
            return Ok(Erasure::Erased(Vec::new()));
        }
        let reasons = keep_reasons(conn, candidate_id)?;
        if !reasons.is_empty() {
            return Ok(Erasure::Kept(reasons));
        }
        let keys = anonymise(conn, candidate_id, now)?;
        audit(
            conn,
            None,
            "effacement_demande",
            "candidate",
            Some(candidate_id),
            &format!(
                "anonymisé à la demande du candidat ; {} document(s) supprimé(s)",
                keys.len()
            ),
        )?;
        Ok(Erasure::Erased(keys))
    })
}
