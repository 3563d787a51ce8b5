//! Placements: recruited doctors at work, with dated allocations per centre. A redeployment
//! ends one allocation and starts another from a date; rows are never deleted, so the history
//! stays. Centre capacity (filled, committed, missing FTE) is computed here, for any date.

pub mod capacity;

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use serde::Serialize;

use crate::centres::Centre;
use crate::db::schema::{applications, candidates, centres, placement_allocations, placements};
use crate::domain::{format_hundredths, Fte, WeekPattern};
use crate::offers::allocation::{week_table, AllocationView, WeekRow};
use crate::staff::audit::audit;

/// One dated allocation of a placement.
#[derive(Debug, Clone, Serialize)]
pub struct AllocationPeriod {
    pub id: i64,
    pub starts_on: NaiveDate,
    pub ends_on: Option<NaiveDate>,
    pub replaces_id: Option<i64>,
    pub note: Option<String>,
    pub active: bool,
    #[serde(flatten)]
    pub allocation: AllocationView,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlacementView {
    pub id: i64,
    pub candidate_id: i64,
    pub candidate: String,
    pub application_id: i64,
    pub offer_id: i64,
    pub started_on: NaiveDate,
    pub ended_on: Option<NaiveDate>,
    /// Whether the doctor has started on the day the page is shown (a start to come is
    /// « prise de poste prévue »: the FTE is committed, not filled).
    pub started: bool,
    /// « En poste depuis le 07/12/2026 » or « Prise de poste prévue le 01/03/2027 ».
    pub summary: String,
    /// Every allocation, oldest first.
    pub periods: Vec<AllocationPeriod>,
    /// The allocations in force on the day the page is shown (for a start to come: on the
    /// start day), and their weekly table.
    pub current: Vec<AllocationPeriod>,
    pub week: Vec<WeekRow>,
    pub fte: String,
}

/// Whether a period [starts_on, ends_on] (inclusive) covers `day`.
pub fn covers(starts_on: NaiveDate, ends_on: Option<NaiveDate>, day: NaiveDate) -> bool {
    starts_on <= day && ends_on.is_none_or(|end| day <= end)
}

type PeriodRow = (
    i64,
    i64,
    i64,
    String,
    String,
    i16,
    i32,
    NaiveDate,
    Option<NaiveDate>,
    Option<i64>,
    Option<String>,
);

fn periods_of(
    conn: &mut PgConnection,
    placement_ids: &[i64],
    day: NaiveDate,
) -> QueryResult<Vec<(i64, AllocationPeriod)>> {
    let rows: Vec<PeriodRow> = placement_allocations::table
        .inner_join(centres::table)
        .filter(placement_allocations::placement_id.eq_any(placement_ids))
        .order((placement_allocations::starts_on, placement_allocations::id))
        .select((
            placement_allocations::placement_id,
            placement_allocations::id,
            centres::id,
            centres::name,
            centres::commune,
            placement_allocations::half_days,
            placement_allocations::fte_hundredths,
            placement_allocations::starts_on,
            placement_allocations::ends_on,
            placement_allocations::replaces_id,
            placement_allocations::note,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(
                placement,
                id,
                centre_id,
                name,
                commune,
                bits,
                fte,
                starts_on,
                ends_on,
                replaces_id,
                note,
            )| {
                (
                    placement,
                    AllocationPeriod {
                        id,
                        starts_on,
                        ends_on,
                        replaces_id,
                        note,
                        active: covers(starts_on, ends_on, day),
                        allocation: AllocationView::new(centre_id, name, commune, bits, fte),
                    },
                )
            },
        )
        .collect())
}

type PlacementRow = (
    i64,
    i64,
    String,
    String,
    i64,
    i64,
    NaiveDate,
    Option<NaiveDate>,
);

fn views(
    conn: &mut PgConnection,
    rows: Vec<PlacementRow>,
    day: NaiveDate,
) -> QueryResult<Vec<PlacementView>> {
    let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let periods = periods_of(conn, &ids, day)?;
    Ok(rows
        .into_iter()
        .map(
            |(id, candidate_id, first, last, application_id, offer_id, started_on, ended_on)| {
                let mine: Vec<AllocationPeriod> = periods
                    .iter()
                    .filter(|(p, _)| *p == id)
                    .map(|(_, a)| a.clone())
                    .collect();
                let started = started_on <= day;
                let reference = if started { day } else { started_on };
                let current: Vec<AllocationPeriod> = mine
                    .iter()
                    .filter(|a| covers(a.starts_on, a.ends_on, reference))
                    .cloned()
                    .collect();
                let summary = if started {
                    format!("En poste depuis le {}", started_on.format("%d/%m/%Y"))
                } else {
                    format!("Prise de poste prévue le {}", started_on.format("%d/%m/%Y"))
                };
                let in_force: Vec<AllocationView> =
                    current.iter().map(|a| a.allocation.clone()).collect();
                let fte: i32 = in_force.iter().map(|a| a.fte_hundredths).sum();
                PlacementView {
                    id,
                    candidate_id,
                    candidate: format!("{first} {last}"),
                    application_id,
                    offer_id,
                    started_on,
                    ended_on,
                    started,
                    summary,
                    periods: mine,
                    week: week_table(&in_force),
                    current,
                    fte: format_hundredths(i64::from(fte)),
                }
            },
        )
        .collect())
}

fn placement_rows(
    conn: &mut PgConnection,
    filter_candidate: Option<i64>,
    filter_id: Option<i64>,
) -> QueryResult<Vec<PlacementRow>> {
    let mut query = placements::table
        .inner_join(applications::table.inner_join(candidates::table))
        .select((
            placements::id,
            candidates::id,
            candidates::first_name,
            candidates::last_name,
            placements::application_id,
            placements::offer_id,
            placements::started_on,
            placements::ended_on,
        ))
        .order(placements::id)
        .into_boxed();
    if let Some(c) = filter_candidate {
        query = query.filter(candidates::id.eq(c));
    }
    if let Some(id) = filter_id {
        query = query.filter(placements::id.eq(id));
    }
    query.load(conn)
}

pub fn load(
    conn: &mut PgConnection,
    id: i64,
    day: NaiveDate,
) -> QueryResult<Option<PlacementView>> {
    let rows = placement_rows(conn, None, Some(id))?;
    Ok(views(conn, rows, day)?.into_iter().next())
}

pub fn for_candidate(
    conn: &mut PgConnection,
    candidate_id: i64,
    day: NaiveDate,
) -> QueryResult<Vec<PlacementView>> {
    let rows = placement_rows(conn, Some(candidate_id), None)?;
    views(conn, rows, day)
}

/// The first instant of `day` in Paris: when a placement starting that day starts.
pub fn start_instant(day: NaiveDate) -> DateTime<Utc> {
    use chrono::TimeZone as _;
    let midnight = day.and_time(chrono::NaiveTime::MIN);
    chrono_tz::Europe::Paris
        .from_local_datetime(&midnight)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| midnight.and_utc())
}

/// The daily job: applications still « Acceptée » whose placement has started by `today` move
/// to « Recrutée », the move dated at the start day (not when the job ran). Idempotent and safe
/// with several instances: each application is locked and must still be « Acceptée »; a second
/// run, or a second instance, finds nothing to do. Returns how many moved.
pub fn start_due(conn: &mut PgConnection, today: NaiveDate) -> QueryResult<usize> {
    use crate::db::enums::Stage;
    use crate::domain::ids::{ApplicationId, CandidateId};
    conn.transaction(|conn| {
        let due: Vec<(i64, i64, i64, NaiveDate)> = applications::table
            .inner_join(placements::table)
            .filter(applications::stage.eq(Stage::Accepted))
            .filter(placements::started_on.le(today))
            .order(placements::id)
            .select((
                placements::id,
                applications::id,
                applications::candidate_id,
                placements::started_on,
            ))
            .for_update()
            .skip_locked()
            .load(conn)?;
        let mut moved = 0;
        for (placement_id, application_id, candidate_id, started_on) in due {
            // Re-read under the lock: another instance may have moved it meanwhile.
            let stage: Stage = applications::table
                .find(application_id)
                .select(applications::stage)
                .first(conn)?;
            if stage != Stage::Accepted {
                continue;
            }
            let note = format!("Prise de poste le {}", started_on.format("%d/%m/%Y"));
            crate::pipeline::record_move(
                conn,
                &crate::pipeline::RecordedMove {
                    application_id: ApplicationId(application_id),
                    candidate_id: CandidateId(candidate_id),
                    from: Stage::Accepted,
                    to: Stage::Recruited,
                    actor_id: None,
                    reason: None,
                    note: Some(&note),
                    follow_up_on: None,
                },
                start_instant(started_on),
            )?;
            audit(
                conn,
                None,
                "prise_de_poste",
                "placement",
                Some(placement_id),
                "date prévue atteinte",
            )?;
            moved += 1;
        }
        Ok(moved)
    })
}

/// A doctor working in a centre on a given day (the centre page, the capacity page).
#[derive(Debug, Clone, Serialize)]
pub struct DoctorAtCentre {
    pub placement_id: i64,
    pub allocation_id: i64,
    pub candidate_id: i64,
    pub name: String,
    pub pattern: String,
    pub fte: String,
    pub fte_hundredths: i32,
    pub since: NaiveDate,
    pub until: Option<NaiveDate>,
}

/// Centre, placement, allocation, candidate, first and last names, half-days, FTE, dates.
type DoctorRow = (
    i64,
    i64,
    i64,
    i64,
    String,
    String,
    i16,
    i32,
    NaiveDate,
    Option<NaiveDate>,
);

/// The doctors working in centre `centre_id` from `today` on, and its closing date if it has
/// one: those to redeploy when it closes. Only allocations still running on its closing date
/// are listed.
pub fn doctors_to_redeploy(
    conn: &mut PgConnection,
    centre_id: i64,
    today: NaiveDate,
) -> QueryResult<(Vec<DoctorAtCentre>, Option<NaiveDate>)> {
    let closing = crate::centres::find(conn, centre_id)?.and_then(|c| c.closed_on);
    let doctors = doctors_on(conn, today)?
        .into_iter()
        .filter(|(centre, d)| {
            *centre == centre_id && closing.is_none_or(|c| d.until.is_none_or(|u| u >= c))
        })
        .map(|(_, d)| d)
        .collect();
    Ok((doctors, closing))
}

/// Allocations in force on `day`, with the doctor's name, for every centre (by centre id).
pub fn doctors_on(
    conn: &mut PgConnection,
    day: NaiveDate,
) -> QueryResult<Vec<(i64, DoctorAtCentre)>> {
    doctors_where(conn, day, false)
}

/// The first allocations of placements starting after `day` (« prise de poste prévue »), by
/// centre id.
pub fn starting_after(
    conn: &mut PgConnection,
    day: NaiveDate,
) -> QueryResult<Vec<(i64, DoctorAtCentre)>> {
    doctors_where(conn, day, true)
}

fn doctors_where(
    conn: &mut PgConnection,
    day: NaiveDate,
    to_come: bool,
) -> QueryResult<Vec<(i64, DoctorAtCentre)>> {
    let query = placement_allocations::table
        .inner_join(placements::table.inner_join(applications::table.inner_join(candidates::table)))
        .into_boxed();
    let query = if to_come {
        query
            .filter(placements::started_on.gt(day))
            .filter(placement_allocations::starts_on.eq(placements::started_on))
    } else {
        query
            .filter(placement_allocations::starts_on.le(day))
            .filter(
                placement_allocations::ends_on
                    .is_null()
                    .or(placement_allocations::ends_on.ge(day)),
            )
            .filter(
                placements::ended_on
                    .is_null()
                    .or(placements::ended_on.ge(day)),
            )
    };
    let rows: Vec<DoctorRow> = query
        .order((candidates::last_name, candidates::first_name))
        .select((
            placement_allocations::centre_id,
            placements::id,
            placement_allocations::id,
            candidates::id,
            candidates::first_name,
            candidates::last_name,
            placement_allocations::half_days,
            placement_allocations::fte_hundredths,
            placement_allocations::starts_on,
            placement_allocations::ends_on,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(
                centre,
                placement_id,
                allocation_id,
                candidate_id,
                first,
                last,
                bits,
                fte,
                since,
                until,
            )| {
                (
                    centre,
                    DoctorAtCentre {
                        placement_id,
                        allocation_id,
                        candidate_id,
                        name: format!("{first} {last}"),
                        pattern: WeekPattern::from_bits(bits).unwrap_or_default().to_string(),
                        fte: format_hundredths(i64::from(fte)),
                        fte_hundredths: fte,
                        since,
                        until,
                    },
                )
            },
        )
        .collect())
}

/// What a recruiter asks for when moving a doctor.
#[derive(Debug, Clone)]
pub struct Redeployment {
    /// The placement whose page asked: an allocation of another placement is not found.
    pub placement_id: i64,
    pub allocation_id: i64,
    pub to_centre: i64,
    pub from: NaiveDate,
    /// None keeps the half-days worked until now.
    pub pattern: Option<WeekPattern>,
    /// None keeps the FTE share: the doctor's total FTE is unchanged unless edited.
    pub fte: Option<Fte>,
    pub note: String,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum RedeployError {
    #[error("Cette affectation n'existe pas.")]
    NotFound,
    #[error("Choisissez le centre d'arrivée dans la liste.")]
    UnknownCentre,
    #[error("Le centre de {0} est fermé à cette date : choisissez un autre centre.")]
    CentreClosed(String),
    #[error("Le redéploiement doit commencer après le début de l'affectation actuelle (le {0}).")]
    TooEarly(String),
    #[error("L'affectation actuelle se termine le {0} : le redéploiement doit commencer avant.")]
    AfterEnd(String),
    #[error("{0}")]
    Overlap(String),
}

/// Ends an allocation the day before `from` and starts the new one on `from` (which points to
/// the one it replaces). Returns the new allocation's id.
pub fn redeploy(
    conn: &mut PgConnection,
    actor: i64,
    r: &Redeployment,
    now: DateTime<Utc>,
) -> anyhow::Result<Result<i64, RedeployError>> {
    conn.transaction(|conn| {
        type Current = (i64, i64, i16, i32, NaiveDate, Option<NaiveDate>);
        let current: Option<Current> = placement_allocations::table
            .find(r.allocation_id)
            .select((
                placement_allocations::placement_id,
                placement_allocations::centre_id,
                placement_allocations::half_days,
                placement_allocations::fte_hundredths,
                placement_allocations::starts_on,
                placement_allocations::ends_on,
            ))
            .for_update()
            .first(conn)
            .optional()?;
        let Some((placement_id, _, bits, fte, starts_on, ends_on)) = current else {
            return Ok(Err(RedeployError::NotFound));
        };
        if placement_id != r.placement_id {
            return Ok(Err(RedeployError::NotFound));
        }
        let target: Option<Centre> = centres::table
            .find(r.to_centre)
            .select(Centre::as_select())
            .first(conn)
            .optional()?;
        let Some(target) = target else {
            return Ok(Err(RedeployError::UnknownCentre));
        };
        if target.closed_on_day(r.from) {
            return Ok(Err(RedeployError::CentreClosed(target.commune)));
        }
        if r.from <= starts_on {
            return Ok(Err(RedeployError::TooEarly(
                starts_on.format("%d/%m/%Y").to_string(),
            )));
        }
        if let Some(end) = ends_on.filter(|end| r.from > *end) {
            return Ok(Err(RedeployError::AfterEnd(
                end.format("%d/%m/%Y").to_string(),
            )));
        }
        let pattern = r
            .pattern
            .unwrap_or_else(|| WeekPattern::from_bits(bits).unwrap_or_default());
        // The doctor's other allocations in force from that day keep their half-days.
        let others: Vec<(i16, String)> = placement_allocations::table
            .inner_join(centres::table)
            .filter(placement_allocations::placement_id.eq(placement_id))
            .filter(placement_allocations::id.ne(r.allocation_id))
            .filter(
                placement_allocations::ends_on
                    .is_null()
                    .or(placement_allocations::ends_on.ge(r.from)),
            )
            .select((placement_allocations::half_days, centres::commune))
            .load(conn)?;
        for (other_bits, commune) in others {
            let taken = pattern.overlap(WeekPattern::from_bits(other_bits).unwrap_or_default());
            if let Some(first) = taken.half_days().next() {
                return Ok(Err(RedeployError::Overlap(format!(
                    "Le {} est déjà travaillé à {commune} : choisissez d'autres demi-journées.",
                    first.label()
                ))));
            }
        }
        diesel::update(placement_allocations::table.find(r.allocation_id))
            .set(placement_allocations::ends_on.eq(Some(r.from - chrono::Duration::days(1))))
            .execute(conn)?;
        let id: i64 = diesel::insert_into(placement_allocations::table)
            .values((
                placement_allocations::placement_id.eq(placement_id),
                placement_allocations::centre_id.eq(r.to_centre),
                placement_allocations::half_days.eq(pattern.bits()),
                placement_allocations::fte_hundredths.eq(r.fte.map_or(fte, Fte::hundredths)),
                placement_allocations::starts_on.eq(r.from),
                placement_allocations::ends_on.eq(ends_on),
                placement_allocations::replaces_id.eq(Some(r.allocation_id)),
                placement_allocations::note.eq(Some(r.note.trim()).filter(|n| !n.is_empty())),
                placement_allocations::created_by.eq(Some(actor)),
                placement_allocations::created_at.eq(now),
            ))
            .returning(placement_allocations::id)
            .get_result(conn)?;
        audit(
            conn,
            Some(actor),
            "redeploiement",
            "placement",
            Some(placement_id),
            &format!("affectation {} -> {id}", r.allocation_id),
        )?;
        Ok(Ok(id))
    })
}
