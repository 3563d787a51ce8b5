//! What the offer form starts from: the candidate the application belongs to, the centres of
//! the grid, and the values it is prefilled with (the live offer's, else the doctor's wishes).

use chrono::NaiveDate;
use diesel::prelude::*;

use super::{Offer, RawAllocation, RawOffer};
use crate::centres::Centre;
use crate::db::enums::WorkingTime;
use crate::db::schema::{applications, candidates};
use crate::domain::{format_hundredths, WeekPattern};

/// The candidate the form is for, and the centres it may offer.
pub struct FormContext {
    pub candidate_id: i64,
    /// First and last name.
    pub candidate: String,
    pub centres: Vec<Centre>,
}

/// The context of the offer form for an application; None when there is no such application.
pub fn context(conn: &mut PgConnection, application_id: i64) -> QueryResult<Option<FormContext>> {
    let owner = application_owner(conn, application_id)?;
    let centres = crate::centres::list_all(conn)?;
    Ok(owner.map(|(candidate_id, candidate)| FormContext {
        candidate_id,
        candidate,
        centres,
    }))
}

/// The candidate an application belongs to, with their name.
fn application_owner(
    conn: &mut PgConnection,
    application_id: i64,
) -> QueryResult<Option<(i64, String)>> {
    let row: Option<(i64, String, String)> = applications::table
        .inner_join(candidates::table)
        .filter(applications::id.eq(application_id))
        .select((
            candidates::id,
            candidates::first_name,
            candidates::last_name,
        ))
        .first(conn)
        .optional()?;
    Ok(row.map(|(id, first, last)| (id, format!("{first} {last}"))))
}

/// The form's starting values: the live offer's, else the doctor's wishes.
pub fn initial_values(
    conn: &mut PgConnection,
    application_id: i64,
    today: NaiveDate,
) -> QueryResult<Option<RawOffer>> {
    let candidate: Option<(i64, WorkingTime, Option<i16>, Option<NaiveDate>)> = applications::table
        .inner_join(candidates::table)
        .filter(applications::id.eq(application_id))
        .select((
            candidates::id,
            candidates::working_time,
            candidates::part_time_half_days,
            candidates::available_from,
        ))
        .first(conn)
        .optional()?;
    let Some((candidate_id, working_time, half_days, available_from)) = candidate else {
        return Ok(None);
    };
    let live = super::for_candidate(conn, candidate_id)?
        .into_iter()
        .find(|o| o.application_id == application_id && o.is_live);
    if let Some(o) = live {
        let mut raw = RawOffer {
            temps: o.working_time_code.to_owned(),
            etp: o.fte.clone(),
            debut: o.starts_on.to_string(),
            expiration: o.expires_on.to_string(),
            gardes: o.on_call_terms.clone(),
            remuneration: o.salary_note.clone(),
            ..Default::default()
        };
        for a in o.allocations {
            let pattern = WeekPattern::from_bits(a.half_days).unwrap_or_default();
            raw.allocations.insert(
                a.centre_id,
                RawAllocation {
                    half_days: pattern.half_days().map(|h| h.code()).collect(),
                    etp: a.fte,
                },
            );
        }
        return Ok(Some(raw));
    }
    Ok(Some(RawOffer {
        temps: working_time.code().to_owned(),
        etp: match (working_time, half_days) {
            (WorkingTime::FullTime, _) => "1".to_owned(),
            (WorkingTime::PartTime, Some(n)) => format_hundredths(i64::from(n) * 10),
            (WorkingTime::PartTime, None) => String::new(),
        },
        debut: available_from
            .filter(|d| *d > today)
            .map(|d| d.to_string())
            .unwrap_or_default(),
        ..Default::default()
    }))
}

/// A draft offer and the values its edit form starts from; None when the offer does not exist.
pub fn draft_values(
    conn: &mut PgConnection,
    offer_id: i64,
    today: NaiveDate,
) -> QueryResult<Option<(Offer, RawOffer)>> {
    let Some(offer) = super::find(conn, offer_id)? else {
        return Ok(None);
    };
    Ok(initial_values(conn, offer.application_id, today)?.map(|raw| (offer, raw)))
}
