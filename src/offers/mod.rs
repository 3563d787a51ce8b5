//! Offers: what the département proposes to a doctor — full or part time, a start date, an
//! answer date, and allocations to centres by half-days of the week. An offer is drafted,
//! approved, sent (the doctor gets it by e-mail), then accepted, declined or left to expire; a
//! new offer supersedes the live one, which stays in history. Recording the start of an
//! accepted offer creates the placement.

mod validate;

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::json;

pub use validate::{validate, AllocationDraft, OfferDraft, OfferErrors, RawAllocation, RawOffer};

use crate::config::Settings;
use crate::db::enums::{Civility, OfferStatus, Stage, WorkingTime};
use crate::db::schema::{
    applications, candidates, centres, offer_allocations, offers, placement_allocations,
    placements, staff_users,
};
use crate::domain::{format_hundredths, HalfDay, WeekPattern, WEEKDAYS};
use crate::mail::new_message_id;
use crate::mail::outbox::{self, NewOutboundEmail};
use crate::pipeline::{self, RecordedMove, WITHDRAWAL_REASONS};
use crate::staff::audit::audit;
use crate::templates;

/// Stages from which a recruiter may draft an offer.
pub const OFFER_STAGES: [Stage; 4] = [
    Stage::Interview,
    Stage::SiteVisit,
    Stage::Offer,
    Stage::Accepted,
];

/// Coded reasons a doctor declines an offer (the withdrawal reasons of the pipeline).
pub fn decline_reasons() -> &'static [(&'static str, &'static str)] {
    WITHDRAWAL_REASONS
}

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
}

/// One centre of an offer or a placement, as pages and e-mails show it.
#[derive(Debug, Clone, Serialize)]
pub struct AllocationView {
    pub centre_id: i64,
    pub centre: String,
    pub commune: String,
    pub fte: String,
    pub fte_hundredths: i32,
    pub pattern: String,
    pub half_days: i16,
    pub half_day_count: u32,
}

impl AllocationView {
    pub fn new(centre_id: i64, centre: String, commune: String, half_days: i16, fte: i32) -> Self {
        let pattern = WeekPattern::from_bits(half_days).unwrap_or_default();
        AllocationView {
            centre_id,
            centre,
            commune,
            fte: format_hundredths(i64::from(fte)),
            fte_hundredths: fte,
            pattern: pattern.to_string(),
            half_days,
            half_day_count: pattern.count(),
        }
    }
}

/// One weekday of the weekly table: where the doctor works in the morning and the afternoon.
#[derive(Debug, Clone, Serialize)]
pub struct WeekRow {
    pub day: String,
    pub morning: Option<String>,
    pub afternoon: Option<String>,
    /// "Vic-Fezensac (journée)", "Fleurance (matin), Vic-Fezensac (après-midi)", "–".
    pub summary: String,
}

/// The weekly table of a set of allocations: Monday to Friday, morning and afternoon.
pub fn week_table(allocations: &[AllocationView]) -> Vec<WeekRow> {
    let at = |h: HalfDay| {
        allocations
            .iter()
            .find(|a| {
                WeekPattern::from_bits(a.half_days)
                    .unwrap_or_default()
                    .contains(h)
            })
            .map(|a| a.commune.clone())
    };
    let mut halves = HalfDay::all();
    WEEKDAYS
        .iter()
        .map(|day| {
            let morning = halves.next().and_then(at);
            let afternoon = halves.next().and_then(at);
            let summary = match (&morning, &afternoon) {
                (Some(m), Some(a)) if m == a => format!("{m} (journée)"),
                (Some(m), Some(a)) => format!("{m} (matin), {a} (après-midi)"),
                (Some(m), None) => format!("{m} (matin)"),
                (None, Some(a)) => format!("{a} (après-midi)"),
                (None, None) => "–".to_owned(),
            };
            let mut label = day.to_string();
            label[..1].make_ascii_uppercase();
            WeekRow {
                day: label,
                morning,
                afternoon,
                summary,
            }
        })
        .collect()
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
    let placement_id: Option<i64> = placements::table
        .filter(placements::offer_id.eq(offer.id))
        .select(placements::id)
        .first(conn)
        .optional()?;
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

/// Why an action on an offer was refused, in French for the recruiter.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum OfferError {
    #[error("Cette candidature n'existe pas.")]
    ApplicationNotFound,
    #[error("Cette proposition n'existe pas.")]
    NotFound,
    #[error("Une proposition se prépare à partir de l'étape « Entretien » ; la candidature est à l'étape « {0} ».")]
    StageTooEarly(&'static str),
    #[error("Le médecin a déjà pris son poste : la proposition ne peut plus être remplacée.")]
    AlreadyPlaced,
    #[error("Cette proposition est « {0} » : cette action n'est possible que pour une proposition « {1} ».")]
    WrongStatus(&'static str, &'static str),
    #[error("La proposition doit être approuvée avant d'être envoyée.")]
    NotApproved,
    #[error("La proposition est déjà approuvée.")]
    AlreadyApproved,
    #[error(
        "La date limite de réponse ({0}) est passée : modifiez-la avant d'envoyer la proposition."
    )]
    ExpiredBeforeSending(String),
    #[error("Choisissez le motif dans la liste.")]
    ReasonRequired,
    #[error("La date de prise de poste est obligatoire (jj/mm/aaaa).")]
    StartRequired,
}

type OfferResult<T> = anyhow::Result<Result<T, OfferError>>;

fn lock_application(
    conn: &mut PgConnection,
    application_id: i64,
) -> QueryResult<Option<(Stage, i64)>> {
    applications::table
        .find(application_id)
        .select((applications::stage, applications::candidate_id))
        .for_update()
        .first(conn)
        .optional()
}

fn lock_offer(conn: &mut PgConnection, id: i64) -> QueryResult<Option<Offer>> {
    offers::table
        .find(id)
        .select(Offer::as_select())
        .for_update()
        .first(conn)
        .optional()
}

/// Locks an offer in `expected` status and its application: the offer, the application's
/// stage and its candidate.
fn lock_in_status(
    conn: &mut PgConnection,
    offer_id: i64,
    expected: OfferStatus,
) -> QueryResult<Result<(Offer, Stage, i64), OfferError>> {
    let Some(offer) = lock_offer(conn, offer_id)? else {
        return Ok(Err(OfferError::NotFound));
    };
    let Some((stage, candidate_id)) = lock_application(conn, offer.application_id)? else {
        return Ok(Err(OfferError::ApplicationNotFound));
    };
    if offer.status != expected {
        return Ok(Err(OfferError::WrongStatus(
            offer.status.label(),
            expected.label(),
        )));
    }
    Ok(Ok((offer, stage, candidate_id)))
}

fn insert_allocations(
    conn: &mut PgConnection,
    offer_id: i64,
    allocations: &[AllocationDraft],
) -> QueryResult<()> {
    let rows: Vec<_> = allocations
        .iter()
        .map(|a| {
            (
                offer_allocations::offer_id.eq(offer_id),
                offer_allocations::centre_id.eq(a.centre_id),
                offer_allocations::half_days.eq(a.pattern.bits()),
                offer_allocations::fte_hundredths.eq(a.fte.hundredths()),
            )
        })
        .collect();
    diesel::insert_into(offer_allocations::table)
        .values(&rows)
        .execute(conn)?;
    Ok(())
}

/// Drafts an offer for an application. The live offer, if any, is withdrawn and points to the
/// new one (it stays in history). Returns the new offer's id.
pub fn create(
    conn: &mut PgConnection,
    application_id: i64,
    actor: i64,
    draft: &OfferDraft,
    now: DateTime<Utc>,
) -> OfferResult<i64> {
    conn.transaction(|conn| {
        let Some((stage, _)) = lock_application(conn, application_id)? else {
            return Ok(Err(OfferError::ApplicationNotFound));
        };
        if !OFFER_STAGES.contains(&stage) {
            return Ok(Err(OfferError::StageTooEarly(stage.label())));
        }
        let placed: bool = diesel::select(diesel::dsl::exists(
            placements::table.filter(placements::application_id.eq(application_id)),
        ))
        .get_result(conn)?;
        if placed {
            return Ok(Err(OfferError::AlreadyPlaced));
        }
        let live: Option<i64> = offers::table
            .filter(offers::application_id.eq(application_id))
            .filter(offers::status.eq_any([
                OfferStatus::Draft,
                OfferStatus::Sent,
                OfferStatus::Accepted,
            ]))
            .select(offers::id)
            .for_update()
            .first(conn)
            .optional()?;
        if let Some(old) = live {
            diesel::update(offers::table.find(old))
                .set((
                    offers::status.eq(OfferStatus::Withdrawn),
                    offers::updated_at.eq(now),
                ))
                .execute(conn)?;
        }
        let id: i64 = diesel::insert_into(offers::table)
            .values((
                offers::application_id.eq(application_id),
                offers::working_time.eq(draft.working_time),
                offers::fte_hundredths.eq(draft.fte.hundredths()),
                offers::starts_on.eq(draft.starts_on),
                offers::expires_on.eq(draft.expires_on),
                offers::on_call_terms.eq(&draft.on_call_terms),
                offers::salary_note.eq(&draft.salary_note),
                offers::created_by.eq(Some(actor)),
                offers::created_at.eq(now),
                offers::updated_at.eq(now),
            ))
            .returning(offers::id)
            .get_result(conn)?;
        insert_allocations(conn, id, &draft.allocations)?;
        if let Some(old) = live {
            diesel::update(offers::table.find(old))
                .set(offers::superseded_by.eq(Some(id)))
                .execute(conn)?;
            audit(
                conn,
                Some(actor),
                "proposition_remplacee",
                "offer",
                Some(old),
                &format!("remplacée par {id}"),
            )?;
        }
        audit(
            conn,
            Some(actor),
            "proposition_creee",
            "offer",
            Some(id),
            &format!("candidature {application_id}"),
        )?;
        Ok(Ok(id))
    })
}

/// Rewrites a draft. Its approval, if any, is cleared: what was approved has changed.
pub fn update(
    conn: &mut PgConnection,
    offer_id: i64,
    actor: i64,
    draft: &OfferDraft,
    now: DateTime<Utc>,
) -> OfferResult<()> {
    conn.transaction(|conn| {
        let Some(offer) = lock_offer(conn, offer_id)? else {
            return Ok(Err(OfferError::NotFound));
        };
        if offer.status != OfferStatus::Draft {
            return Ok(Err(OfferError::WrongStatus(
                offer.status.label(),
                OfferStatus::Draft.label(),
            )));
        }
        diesel::update(offers::table.find(offer_id))
            .set((
                offers::working_time.eq(draft.working_time),
                offers::fte_hundredths.eq(draft.fte.hundredths()),
                offers::starts_on.eq(draft.starts_on),
                offers::expires_on.eq(draft.expires_on),
                offers::on_call_terms.eq(&draft.on_call_terms),
                offers::salary_note.eq(&draft.salary_note),
                offers::approved_by.eq(None::<i64>),
                offers::approved_at.eq(None::<DateTime<Utc>>),
                offers::updated_at.eq(now),
            ))
            .execute(conn)?;
        diesel::delete(offer_allocations::table.filter(offer_allocations::offer_id.eq(offer_id)))
            .execute(conn)?;
        insert_allocations(conn, offer_id, &draft.allocations)?;
        audit(
            conn,
            Some(actor),
            "proposition_modifiee",
            "offer",
            Some(offer_id),
            "",
        )?;
        Ok(Ok(()))
    })
}

/// Approves a draft (the caller checked the approver's role).
pub fn approve(
    conn: &mut PgConnection,
    offer_id: i64,
    actor: i64,
    now: DateTime<Utc>,
) -> OfferResult<()> {
    conn.transaction(|conn| {
        let Some(offer) = lock_offer(conn, offer_id)? else {
            return Ok(Err(OfferError::NotFound));
        };
        if offer.status != OfferStatus::Draft {
            return Ok(Err(OfferError::WrongStatus(
                offer.status.label(),
                OfferStatus::Draft.label(),
            )));
        }
        if offer.approved_at.is_some() {
            return Ok(Err(OfferError::AlreadyApproved));
        }
        diesel::update(offers::table.find(offer_id))
            .set((
                offers::approved_by.eq(Some(actor)),
                offers::approved_at.eq(Some(now)),
                offers::updated_at.eq(now),
            ))
            .execute(conn)?;
        audit(
            conn,
            Some(actor),
            "proposition_approuvee",
            "offer",
            Some(offer_id),
            "",
        )?;
        Ok(Ok(()))
    })
}

/// The offer e-mail: a summary with the weekly pattern as a table.
pub fn offer_email(
    conn: &mut PgConnection,
    settings: &Settings,
    offer_id: i64,
) -> anyhow::Result<Option<NewOutboundEmail>> {
    let Some(view) = load(conn, offer_id)? else {
        return Ok(None);
    };
    let (first, last, civility, email): (String, String, Civility, String) = candidates::table
        .find(view.candidate_id)
        .select((
            candidates::first_name,
            candidates::last_name,
            candidates::civility,
            candidates::email,
        ))
        .first(conn)?;
    let greeting = match civility {
        Civility::NotSaid => format!("{first} {last}"),
        c => format!("{} {last}", c.label()),
    };
    let half_days: u32 = view.allocations.iter().map(|a| a.half_day_count).sum();
    let data = json!({
        "org": settings.organisation,
        "greeting": greeting,
        "working_time": view.working_time,
        "fte": view.fte,
        "half_days": half_days,
        "starts_on": view.starts_on.format("%d/%m/%Y").to_string(),
        "expires_on": view.expires_on.format("%d/%m/%Y").to_string(),
        "allocations": view.allocations,
        "week": view.week,
        "on_call_terms": view.on_call_terms,
        "salary_note": view.salary_note,
    });
    let rendered = templates::global()
        .render_email("offer", &data)
        .map_err(|e| anyhow::anyhow!("rendering the offer e-mail: {e}"))?;
    let mut message = NewOutboundEmail::new(
        "offer",
        &email,
        rendered,
        new_message_id(&settings.mail_domain()),
    );
    message.candidate_id = Some(view.candidate_id);
    message.application_id = Some(view.application_id);
    Ok(Some(message))
}

/// Sends an approved draft: the doctor gets the offer by e-mail (queued in this transaction)
/// and the application moves to « Proposition ».
pub fn send(
    conn: &mut PgConnection,
    settings: &Settings,
    offer_id: i64,
    actor: i64,
    now: DateTime<Utc>,
    today: NaiveDate,
) -> OfferResult<()> {
    conn.transaction(|conn| {
        let (offer, stage, candidate_id) = match lock_in_status(conn, offer_id, OfferStatus::Draft)?
        {
            Ok(locked) => locked,
            Err(e) => return Ok(Err(e)),
        };
        if offer.approved_at.is_none() {
            return Ok(Err(OfferError::NotApproved));
        }
        if offer.expires_on < today {
            return Ok(Err(OfferError::ExpiredBeforeSending(
                offer.expires_on.format("%d/%m/%Y").to_string(),
            )));
        }
        if !OFFER_STAGES.contains(&stage) {
            return Ok(Err(OfferError::StageTooEarly(stage.label())));
        }
        diesel::update(offers::table.find(offer_id))
            .set((
                offers::status.eq(OfferStatus::Sent),
                offers::sent_at.eq(Some(now)),
                offers::updated_at.eq(now),
            ))
            .execute(conn)?;
        let note = format!("Proposition n° {offer_id} envoyée");
        if stage != Stage::Offer {
            pipeline::record_move(
                conn,
                &RecordedMove {
                    application_id: offer.application_id,
                    candidate_id,
                    from: stage,
                    to: Stage::Offer,
                    actor_id: Some(actor),
                    reason: None,
                    note: Some(&note),
                    follow_up_on: None,
                },
                now,
            )?;
        }
        if let Some(email) = offer_email(conn, settings, offer_id)? {
            outbox::enqueue(conn, &[email])?;
        }
        audit(
            conn,
            Some(actor),
            "proposition_envoyee",
            "offer",
            Some(offer_id),
            "",
        )?;
        Ok(Ok(()))
    })
}

/// Withdraws a live offer that has not led to a placement.
pub fn withdraw(
    conn: &mut PgConnection,
    offer_id: i64,
    actor: i64,
    now: DateTime<Utc>,
) -> OfferResult<()> {
    conn.transaction(|conn| {
        let Some(offer) = lock_offer(conn, offer_id)? else {
            return Ok(Err(OfferError::NotFound));
        };
        if !matches!(
            offer.status,
            OfferStatus::Draft | OfferStatus::Sent | OfferStatus::Accepted
        ) {
            return Ok(Err(OfferError::WrongStatus(
                offer.status.label(),
                "en cours",
            )));
        }
        let placed: bool = diesel::select(diesel::dsl::exists(
            placements::table.filter(placements::offer_id.eq(offer_id)),
        ))
        .get_result(conn)?;
        if placed {
            return Ok(Err(OfferError::AlreadyPlaced));
        }
        diesel::update(offers::table.find(offer_id))
            .set((
                offers::status.eq(OfferStatus::Withdrawn),
                offers::updated_at.eq(now),
            ))
            .execute(conn)?;
        audit(
            conn,
            Some(actor),
            "proposition_retiree",
            "offer",
            Some(offer_id),
            "",
        )?;
        Ok(Ok(()))
    })
}

/// The doctor's answer to a sent offer.
#[derive(Debug, Clone)]
pub enum Answer {
    Accepted,
    /// Declined with a coded reason; `close` moves the application to « Désistement ».
    Declined {
        reason: String,
        close: bool,
    },
}

/// Records the doctor's answer. Accepting moves the application to « Acceptée ».
pub fn answer(
    conn: &mut PgConnection,
    offer_id: i64,
    actor: i64,
    answer: &Answer,
    now: DateTime<Utc>,
) -> OfferResult<()> {
    conn.transaction(|conn| {
        let (offer, stage, candidate_id) = match lock_in_status(conn, offer_id, OfferStatus::Sent)?
        {
            Ok(locked) => locked,
            Err(e) => return Ok(Err(e)),
        };
        let (status, reason, to) = match answer {
            Answer::Accepted => (OfferStatus::Accepted, None, Some(Stage::Accepted)),
            Answer::Declined { reason, close } => {
                if pipeline::reason_label(Stage::Withdrawn, reason).is_none() {
                    return Ok(Err(OfferError::ReasonRequired));
                }
                (
                    OfferStatus::Declined,
                    Some(reason.as_str()),
                    close.then_some(Stage::Withdrawn),
                )
            }
        };
        diesel::update(offers::table.find(offer_id))
            .set((
                offers::status.eq(status),
                offers::answered_at.eq(Some(now)),
                offers::decline_reason.eq(reason),
                offers::updated_at.eq(now),
            ))
            .execute(conn)?;
        let note = format!(
            "Proposition n° {offer_id} {}",
            status.label().to_lowercase()
        );
        match to {
            Some(to) if stage.is_open() && stage != to => pipeline::record_move(
                conn,
                &RecordedMove {
                    application_id: offer.application_id,
                    candidate_id,
                    from: stage,
                    to,
                    actor_id: Some(actor),
                    reason: if to == Stage::Withdrawn { reason } else { None },
                    note: Some(&note),
                    follow_up_on: None,
                },
                now,
            )?,
            _ => {}
        }
        audit(
            conn,
            Some(actor),
            if status == OfferStatus::Accepted {
                "proposition_acceptee"
            } else {
                "proposition_declinee"
            },
            "offer",
            Some(offer_id),
            reason.unwrap_or(""),
        )?;
        Ok(Ok(()))
    })
}

/// Records that the doctor started: creates the placement with the offer's allocations from
/// `started_on`, and moves the application to « Recrutée ». Returns the placement's id.
pub fn record_start(
    conn: &mut PgConnection,
    offer_id: i64,
    actor: i64,
    started_on: NaiveDate,
    now: DateTime<Utc>,
) -> OfferResult<i64> {
    conn.transaction(|conn| {
        let (offer, stage, candidate_id) =
            match lock_in_status(conn, offer_id, OfferStatus::Accepted)? {
                Ok(locked) => locked,
                Err(e) => return Ok(Err(e)),
            };
        let placed: bool = diesel::select(diesel::dsl::exists(
            placements::table.filter(placements::offer_id.eq(offer_id)),
        ))
        .get_result(conn)?;
        if placed {
            return Ok(Err(OfferError::AlreadyPlaced));
        }
        let placement_id: i64 = diesel::insert_into(placements::table)
            .values((
                placements::application_id.eq(offer.application_id),
                placements::offer_id.eq(offer_id),
                placements::started_on.eq(started_on),
                placements::created_by.eq(Some(actor)),
                placements::created_at.eq(now),
            ))
            .returning(placements::id)
            .get_result(conn)?;
        let allocations: Vec<(i64, i16, i32)> = offer_allocations::table
            .filter(offer_allocations::offer_id.eq(offer_id))
            .order(offer_allocations::id)
            .select((
                offer_allocations::centre_id,
                offer_allocations::half_days,
                offer_allocations::fte_hundredths,
            ))
            .load(conn)?;
        let rows: Vec<_> = allocations
            .into_iter()
            .map(|(centre, bits, fte)| {
                (
                    placement_allocations::placement_id.eq(placement_id),
                    placement_allocations::centre_id.eq(centre),
                    placement_allocations::half_days.eq(bits),
                    placement_allocations::fte_hundredths.eq(fte),
                    placement_allocations::starts_on.eq(started_on),
                    placement_allocations::created_by.eq(Some(actor)),
                    placement_allocations::created_at.eq(now),
                )
            })
            .collect();
        diesel::insert_into(placement_allocations::table)
            .values(&rows)
            .execute(conn)?;
        if stage != Stage::Recruited {
            let note = format!("Prise de poste le {}", started_on.format("%d/%m/%Y"));
            pipeline::record_move(
                conn,
                &RecordedMove {
                    application_id: offer.application_id,
                    candidate_id,
                    from: stage,
                    to: Stage::Recruited,
                    actor_id: Some(actor),
                    reason: None,
                    note: Some(&note),
                    follow_up_on: None,
                },
                now,
            )?;
        }
        audit(
            conn,
            Some(actor),
            "prise_de_poste",
            "placement",
            Some(placement_id),
            &format!("proposition {offer_id}"),
        )?;
        Ok(Ok(placement_id))
    })
}

/// Marks sent offers whose answer date is before `today` as expired. Idempotent: several
/// instances or ticks on the same day change nothing more. Returns how many expired.
pub fn expire_due(conn: &mut PgConnection, today: NaiveDate) -> QueryResult<usize> {
    conn.transaction(|conn| {
        let ids: Vec<i64> = diesel::update(
            offers::table
                .filter(offers::status.eq(OfferStatus::Sent))
                .filter(offers::expires_on.lt(today)),
        )
        .set((
            offers::status.eq(OfferStatus::Expired),
            offers::updated_at.eq(Utc::now()),
        ))
        .returning(offers::id)
        .get_results(conn)?;
        for id in &ids {
            audit(conn, None, "proposition_expiree", "offer", Some(*id), "")?;
        }
        Ok(ids.len())
    })
}
