//! Offers: what the département proposes to a doctor — full or part time, a start date, an
//! answer date, and allocations to centres by half-days of the week. An offer is drafted,
//! approved, sent (the doctor gets it by e-mail), then accepted, declined or left to expire; a
//! new offer supersedes the live one, which stays in history. Recording the start of an
//! accepted offer creates the placement.

pub mod allocation;
pub mod form;
mod validate;
pub mod view;

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use serde_json::json;

pub use allocation::{week_table, AllocationView, WeekRow};
pub use validate::{validate, AllocationDraft, OfferDraft, OfferErrors, RawAllocation, RawOffer};
pub use view::{find, for_candidate, load, Offer, OfferView};

use crate::config::Settings;
use crate::db::enums::{OfferStatus, Stage};
use crate::db::schema::{
    applications, candidates, offer_allocations, offers, placement_allocations, placements,
};
use crate::domain::ids::{ApplicationId, CandidateId};
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
    #[error("La candidature est à l'étape « {0} » : la prise de poste ne s'enregistre que pour une candidature « Acceptée ».")]
    NotAccepted(&'static str),
    #[error("La validation de cette proposition est déjà demandée.")]
    ApprovalAlreadyRequested,
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

/// Locks an offer that must still be a draft.
fn lock_draft(conn: &mut PgConnection, id: i64) -> QueryResult<Result<Offer, OfferError>> {
    let Some(offer) = lock_offer(conn, id)? else {
        return Ok(Err(OfferError::NotFound));
    };
    if offer.status != OfferStatus::Draft {
        return Ok(Err(OfferError::WrongStatus(
            offer.status.label(),
            OfferStatus::Draft.label(),
        )));
    }
    Ok(Ok(offer))
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
        if let Err(e) = lock_draft(conn, offer_id)? {
            return Ok(Err(e));
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
        let offer = match lock_draft(conn, offer_id)? {
            Ok(offer) => offer,
            Err(e) => return Ok(Err(e)),
        };
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

/// A recruiter asks for a draft's approval: the request is recorded (who, when, an audit line)
/// and every active staff account allowed to approve (administrators and the roles of
/// `offers.approver_roles`), the requester apart, gets an e-mail with a link to the offer.
/// Returns how many approvers were told.
pub fn request_approval(
    conn: &mut PgConnection,
    settings: &Settings,
    offer_id: i64,
    actor: i64,
    now: DateTime<Utc>,
) -> OfferResult<usize> {
    conn.transaction(|conn| {
        let offer = match lock_draft(conn, offer_id)? {
            Ok(offer) => offer,
            Err(e) => return Ok(Err(e)),
        };
        if offer.approved_at.is_some() {
            return Ok(Err(OfferError::AlreadyApproved));
        }
        let already: Option<DateTime<Utc>> = offers::table
            .find(offer_id)
            .select(offers::approval_requested_at)
            .first(conn)?;
        if already.is_some() {
            return Ok(Err(OfferError::ApprovalAlreadyRequested));
        }
        diesel::update(offers::table.find(offer_id))
            .set((
                offers::approval_requested_at.eq(Some(now)),
                offers::approval_requested_by.eq(Some(actor)),
                offers::updated_at.eq(now),
            ))
            .execute(conn)?;
        audit(
            conn,
            Some(actor),
            "validation_demandee",
            "offer",
            Some(offer_id),
            "",
        )?;
        let Some(view) = load(conn, offer_id)? else {
            return Ok(Err(OfferError::NotFound));
        };
        let mut roles: Vec<String> = settings.offers.approver_roles.clone();
        roles.push(crate::db::enums::StaffRole::Admin.code().to_owned());
        let approvers: Vec<String> = crate::db::schema::staff_users::table
            .filter(crate::db::schema::staff_users::active.eq(true))
            .filter(crate::db::schema::staff_users::role.eq_any(&roles))
            .filter(crate::db::schema::staff_users::id.ne(actor))
            .order(crate::db::schema::staff_users::id)
            .select(crate::db::schema::staff_users::email)
            .load(conn)?;
        let asked_by: String = crate::db::schema::staff_users::table
            .find(actor)
            .select(crate::db::schema::staff_users::display_name)
            .first(conn)?;
        let data = json!({
            "org": settings.organisation,
            "public_url": settings.public_base(),
            "offer_id": offer_id,
            "candidate": view.candidate,
            "asked_by": asked_by,
            "working_time": view.working_time,
            "fte": view.fte,
            "starts_on": view.starts_on.format("%d/%m/%Y").to_string(),
        });
        let rendered = templates::global()
            .render_email("approval_request", &data)
            .map_err(|e| anyhow::anyhow!("rendering the approval request e-mail: {e}"))?;
        let domain = settings.mail_domain();
        let emails: Vec<NewOutboundEmail> = approvers
            .iter()
            // A staff e-mail: not tied to the candidate (it is not on their timeline or in
            // their data).
            .map(|address| {
                NewOutboundEmail::new(
                    "approval_request",
                    address,
                    rendered.clone(),
                    new_message_id(&domain),
                )
            })
            .collect();
        outbox::enqueue(conn, &emails)?;
        Ok(Ok(emails.len()))
    })
}

/// A draft waiting for an approver: its recruiter asked for the approval, nobody gave it yet.
#[derive(Debug, Clone, serde::Serialize)]
pub struct WaitingForApproval {
    pub offer_id: i64,
    pub application_id: i64,
    pub candidate_id: i64,
    /// The doctor's first and last names.
    pub candidate: String,
    /// The display name of the staff member who asked.
    pub requested_by: Option<String>,
    pub requested_at: DateTime<Utc>,
}

/// Drafts whose approval was asked for and not yet given, the oldest request first (the
/// approvers' « À faire »).
pub fn waiting_for_approval(conn: &mut PgConnection) -> QueryResult<Vec<WaitingForApproval>> {
    use crate::db::schema::staff_users;
    type Row = (
        i64,
        i64,
        i64,
        String,
        String,
        Option<String>,
        Option<DateTime<Utc>>,
    );
    let rows: Vec<Row> = offers::table
        .inner_join(applications::table.inner_join(candidates::table))
        .left_join(
            staff_users::table.on(offers::approval_requested_by.eq(staff_users::id.nullable())),
        )
        .filter(offers::status.eq(OfferStatus::Draft))
        .filter(offers::approved_at.is_null())
        .filter(offers::approval_requested_at.is_not_null())
        .order((offers::approval_requested_at, offers::id))
        .select((
            offers::id,
            offers::application_id,
            candidates::id,
            candidates::first_name,
            candidates::last_name,
            staff_users::display_name.nullable(),
            offers::approval_requested_at,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(
            |(offer_id, application_id, candidate_id, first, last, by, at)| {
                Some(WaitingForApproval {
                    offer_id,
                    application_id,
                    candidate_id,
                    candidate: format!("{first} {last}"),
                    requested_by: by,
                    requested_at: at?,
                })
            },
        )
        .collect())
}

/// An approved draft that nobody has sent yet.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ApprovedDraft {
    pub offer_id: i64,
    pub candidate_id: i64,
    /// The doctor's first and last names.
    pub candidate: String,
    /// The display name of the approver.
    pub approved_by: Option<String>,
    pub approved_at: DateTime<Utc>,
}

/// Drafts approved and not yet sent, the oldest approval first (the recruiters' « À faire »:
/// the approval is given, the offer can go to the doctor).
pub fn approved_to_send(conn: &mut PgConnection) -> QueryResult<Vec<ApprovedDraft>> {
    use crate::db::schema::staff_users;
    type Row = (
        i64,
        i64,
        String,
        String,
        Option<String>,
        Option<DateTime<Utc>>,
    );
    let rows: Vec<Row> = offers::table
        .inner_join(applications::table.inner_join(candidates::table))
        .left_join(staff_users::table.on(offers::approved_by.eq(staff_users::id.nullable())))
        .filter(offers::status.eq(OfferStatus::Draft))
        .filter(offers::approved_at.is_not_null())
        .order((offers::approved_at, offers::id))
        .select((
            offers::id,
            candidates::id,
            candidates::first_name,
            candidates::last_name,
            staff_users::display_name.nullable(),
            offers::approved_at,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(offer_id, candidate_id, first, last, by, at)| {
            Some(ApprovedDraft {
                offer_id,
                candidate_id,
                candidate: format!("{first} {last}"),
                approved_by: by,
                approved_at: at?,
            })
        })
        .collect())
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
    let (first, last, situation, rpps, email): (String, String, String, Option<String>, String) =
        candidates::table
            .find(view.candidate_id)
            .select((
                candidates::first_name,
                candidates::last_name,
                candidates::situation,
                candidates::rpps,
                candidates::email,
            ))
            .first(conn)?;
    let greeting = crate::domain::salutation(&first, &last, &situation, rpps.as_deref());
    let half_days: u32 = view.allocations.iter().map(|a| a.half_day_count).sum();
    let data = json!({
        "org": settings.organisation,
        "salutation": greeting,
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
                    application_id: ApplicationId(offer.application_id),
                    candidate_id: CandidateId(candidate_id),
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
                    application_id: ApplicationId(offer.application_id),
                    candidate_id: CandidateId(candidate_id),
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

/// Records the doctor's start: creates the placement with the offer's allocations from
/// `started_on`. A start on or before `today` moves the application to « Recrutée » at once;
/// a start to come leaves it « Acceptée » (its FTE counts as committed, not filled) until the
/// daily job [`crate::placements::start_due`] records the move on the start day. Returns the
/// placement's id.
pub fn record_start(
    conn: &mut PgConnection,
    offer_id: i64,
    actor: i64,
    started_on: NaiveDate,
    now: DateTime<Utc>,
    today: NaiveDate,
) -> OfferResult<i64> {
    conn.transaction(|conn| {
        let (offer, stage, candidate_id) =
            match lock_in_status(conn, offer_id, OfferStatus::Accepted)? {
                Ok(locked) => locked,
                Err(e) => return Ok(Err(e)),
            };
        // A doctor withdrawn or refused by hand after accepting does not start.
        if !matches!(stage, Stage::Accepted | Stage::Recruited) {
            return Ok(Err(OfferError::NotAccepted(stage.label())));
        }
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
        if stage != Stage::Recruited && started_on <= today {
            let note = format!("Prise de poste le {}", started_on.format("%d/%m/%Y"));
            pipeline::record_move(
                conn,
                &RecordedMove {
                    application_id: ApplicationId(offer.application_id),
                    candidate_id: CandidateId(candidate_id),
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
            if started_on <= today {
                "prise_de_poste"
            } else {
                "prise_de_poste_prevue"
            },
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
