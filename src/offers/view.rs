//! Reading offers: the row, and the offer as its page, the candidate's page and the e-mail show
//! it (with its centres, its week and who drafted and approved it).

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use serde::Serialize;

use super::allocation::{week_table, AllocationView, WeekRow};
use crate::db::enums::{OfferStatus, Stage, WorkingTime};
use crate::db::schema::{
    applications, candidates, centres, offer_allocations, offers, placements, staff_users,
};
use crate::domain::format_hundredths;
use crate::pipeline;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = offers, check_for_backend(diesel::pg::Pg))]
pub struct Offer {
    pub id: i64,
    pub application_id: i64,
    pub status: OfferStatus,
    pub working_time: WorkingTime,
    pub fte_hundredths: i32,
    pub starts_on: NaiveDate,
    pub expires_on: NaiveDate,
    pub on_call_terms: String,
    pub salary_note: String,
    pub created_by: Option<i64>,
    pub approved_by: Option<i64>,
    pub approved_at: Option<DateTime<Utc>>,
    pub sent_at: Option<DateTime<Utc>>,
    pub answered_at: Option<DateTime<Utc>>,
    pub decline_reason: Option<String>,
    pub superseded_by: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub approval_requested_at: Option<DateTime<Utc>>,
    pub approval_requested_by: Option<i64>,
}

/// An offer as its page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct OfferView {
    pub id: i64,
    pub application_id: i64,
    pub candidate_id: i64,
    pub candidate: String,
    pub status: &'static str,
    pub status_code: &'static str,
    pub working_time: &'static str,
    pub working_time_code: &'static str,
    pub fte: String,
    pub starts_on: NaiveDate,
    pub expires_on: NaiveDate,
    pub on_call_terms: String,
    pub salary_note: String,
    pub created_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub approved_by: Option<String>,
    pub approved_at: Option<DateTime<Utc>>,
    pub sent_at: Option<DateTime<Utc>>,
    pub answered_at: Option<DateTime<Utc>>,
    pub decline_reason: Option<&'static str>,
    pub superseded_by: Option<i64>,
    pub placement_id: Option<i64>,
    /// The placement's start, as the pages say it: « En poste depuis le … » once started,
    /// « Prise de poste prévue le … » before.
    pub placement_summary: Option<String>,
    /// Who asked for the approval, and when (shown until it is given).
    pub approval_requested_by: Option<String>,
    pub approval_requested_at: Option<DateTime<Utc>>,
    /// A draft whose approval was asked for and not yet given.
    pub is_waiting_for_approval: bool,
    pub allocations: Vec<AllocationView>,
    pub week: Vec<WeekRow>,
    pub is_draft: bool,
    pub is_approved: bool,
    pub is_sent: bool,
    pub is_accepted: bool,
    pub is_live: bool,
}

fn staff_name(conn: &mut PgConnection, id: Option<i64>) -> QueryResult<Option<String>> {
    match id {
        Some(id) => staff_users::table
            .find(id)
            .select(staff_users::display_name)
            .first(conn)
            .optional(),
        None => Ok(None),
    }
}

/// The allocations of several offers, by offer id.
fn allocations_of(
    conn: &mut PgConnection,
    offer_ids: &[i64],
) -> QueryResult<Vec<(i64, AllocationView)>> {
    let rows: Vec<(i64, i64, String, String, i16, i32)> = offer_allocations::table
        .inner_join(centres::table)
        .filter(offer_allocations::offer_id.eq_any(offer_ids))
        .order((offer_allocations::offer_id, offer_allocations::id))
        .select((
            offer_allocations::offer_id,
            centres::id,
            centres::name,
            centres::commune,
            offer_allocations::half_days,
            offer_allocations::fte_hundredths,
        ))
        .load(conn)?;
    let mut views: Vec<(i64, AllocationView)> = rows
        .into_iter()
        .map(|(offer, centre_id, name, commune, bits, fte)| {
            (
                offer,
                AllocationView::new(centre_id, name, commune, bits, fte),
            )
        })
        .collect();
    // In the order of the week: the centre worked on Monday morning first.
    views.sort_by_key(|(offer, a)| (*offer, a.half_days.trailing_zeros()));
    Ok(views)
}

fn view_of(conn: &mut PgConnection, offer: Offer) -> QueryResult<OfferView> {
    let (candidate_id, first, last): (i64, String, String) = applications::table
        .inner_join(candidates::table)
        .filter(applications::id.eq(offer.application_id))
        .select((
            candidates::id,
            candidates::first_name,
            candidates::last_name,
        ))
        .first(conn)?;
    let allocations: Vec<AllocationView> = allocations_of(conn, &[offer.id])?
        .into_iter()
        .map(|(_, a)| a)
        .collect();
    let placement: Option<(i64, NaiveDate)> = placements::table
        .filter(placements::offer_id.eq(offer.id))
        .select((placements::id, placements::started_on))
        .first(conn)
        .optional()?;
    let today = crate::domain::paris_today();
    let placement_id = placement.map(|(id, _)| id);
    let placement_summary = placement.map(|(_, on)| {
        if on <= today {
            format!("En poste depuis le {}", on.format("%d/%m/%Y"))
        } else {
            format!("Prise de poste prévue le {}", on.format("%d/%m/%Y"))
        }
    });
    let is_waiting_for_approval = offer.status == OfferStatus::Draft
        && offer.approved_at.is_none()
        && offer.approval_requested_at.is_some();
    Ok(OfferView {
        id: offer.id,
        application_id: offer.application_id,
        candidate_id,
        candidate: format!("{first} {last}"),
        status: offer.status.label(),
        status_code: offer.status.code(),
        working_time: offer.working_time.label(),
        working_time_code: offer.working_time.code(),
        fte: format_hundredths(i64::from(offer.fte_hundredths)),
        starts_on: offer.starts_on,
        expires_on: offer.expires_on,
        on_call_terms: offer.on_call_terms,
        salary_note: offer.salary_note,
        created_by: staff_name(conn, offer.created_by)?,
        created_at: offer.created_at,
        approved_by: staff_name(conn, offer.approved_by)?,
        approved_at: offer.approved_at,
        sent_at: offer.sent_at,
        answered_at: offer.answered_at,
        decline_reason: offer
            .decline_reason
            .as_deref()
            .and_then(|r| pipeline::reason_label(Stage::Withdrawn, r)),
        superseded_by: offer.superseded_by,
        placement_id,
        placement_summary,
        approval_requested_by: staff_name(conn, offer.approval_requested_by)?,
        approval_requested_at: offer.approval_requested_at,
        is_waiting_for_approval,
        week: week_table(&allocations),
        allocations,
        is_draft: offer.status == OfferStatus::Draft,
        is_approved: offer.approved_at.is_some(),
        is_sent: offer.status == OfferStatus::Sent,
        is_accepted: offer.status == OfferStatus::Accepted,
        is_live: matches!(
            offer.status,
            OfferStatus::Draft | OfferStatus::Sent | OfferStatus::Accepted
        ),
    })
}

pub fn find(conn: &mut PgConnection, id: i64) -> QueryResult<Option<Offer>> {
    offers::table
        .find(id)
        .select(Offer::as_select())
        .first(conn)
        .optional()
}

pub fn load(conn: &mut PgConnection, id: i64) -> QueryResult<Option<OfferView>> {
    match find(conn, id)? {
        Some(offer) => view_of(conn, offer).map(Some),
        None => Ok(None),
    }
}

/// Every offer made to a candidate's applications, newest first.
pub fn for_candidate(conn: &mut PgConnection, candidate_id: i64) -> QueryResult<Vec<OfferView>> {
    let list: Vec<Offer> = offers::table
        .inner_join(applications::table)
        .filter(applications::candidate_id.eq(candidate_id))
        .order(offers::id.desc())
        .select(Offer::as_select())
        .load(conn)?;
    list.into_iter().map(|o| view_of(conn, o)).collect()
}
