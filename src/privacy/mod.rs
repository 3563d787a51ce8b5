//! Personal data (RGPD): the candidate's private link to their data, what it shows and exports,
//! withdrawing an application, erasure on request, and the daily retention job that anonymises
//! candidates kept too long and offers pool candidates to renew their consent.
//!
//! Anonymising keeps the statistics: the candidate row (specialty, situation, working time,
//! wished centres), their applications with stages and dates, and the stage history. It blanks
//! names, e-mail, phone, RPPS and availability, empties free text (the doctor's message, notes of
//! stage moves and meetings), and deletes what cannot be made anonymous: documents (rows and
//! files), recruiters' notes about the person (free text that names them) and the e-mails sent
//! to them (their bodies carry names and addresses).

use chrono::{DateTime, Months, NaiveDate, Utc};
use diesel::dsl::{exists, not};
use diesel::prelude::*;
use serde_json::{json, Value};

use crate::campaigns::links::{self, Purpose};
use crate::config::Settings;
use crate::db::enums::{OfferStatus, Stage};
use crate::db::schema::{
    applications, candidate_notes, candidates, documents, meetings, offers, outbound_emails,
    placements, privacy_runs, stage_history,
};
use crate::mail::new_message_id;
use crate::mail::outbox::{self, NewOutboundEmail};
use crate::pipeline::SELF_WITHDRAWAL;
use crate::staff::auth::audit;
use crate::templates;

// ---------------------------------------------------------------------------------------------
// Private links

/// What a token from a private link is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// Signed and still valid: the candidate's id.
    Valid(i64),
    /// Signed by us but past its time: a new one must be asked for.
    Expired,
    /// Not a token of ours (forged, altered, cut): nothing to show.
    Invalid,
}

pub fn check_link(secret: &[u8], token: &str, now: DateTime<Utc>) -> Link {
    match links::verify_expiring(secret, Purpose::PersonalData, token) {
        Some((id, expires)) if now.timestamp() <= expires => Link::Valid(id),
        Some(_) => Link::Expired,
        None => Link::Invalid,
    }
}

/// The private link of a candidate, valid for `privacy.link_days` from `now`.
pub fn link_url(settings: &Settings, candidate_id: i64, now: DateTime<Utc>) -> String {
    let expires = now + chrono::Duration::days(i64::from(settings.privacy.link_days));
    link_url_until(settings, candidate_id, expires)
}

pub fn link_url_until(settings: &Settings, candidate_id: i64, expires: DateTime<Utc>) -> String {
    use secrecy::ExposeSecret;
    let token = links::expiring_token(
        settings.security.secret_key.expose_secret().as_bytes(),
        Purpose::PersonalData,
        candidate_id,
        expires.timestamp(),
    );
    format!("{}/mes-donnees/{token}", settings.public_base())
}

/// Whether a candidate exists and was not anonymised (a link to an erased candidate shows
/// nothing).
pub fn is_live(conn: &mut PgConnection, candidate_id: i64) -> QueryResult<bool> {
    diesel::select(exists(
        candidates::table
            .filter(candidates::id.eq(candidate_id))
            .filter(candidates::anonymised_at.is_null()),
    ))
    .get_result(conn)
}

fn render_email(name: &str, data: &Value) -> anyhow::Result<crate::templates::RenderedEmail> {
    templates::global()
        .render_email(name, data)
        .map_err(|e| anyhow::anyhow!("rendering e-mail {name}: {e}"))
}

/// Queues a new private link to every (not anonymised) candidate with this e-mail address.
/// Returns how many were queued; the caller answers the same whatever the number.
pub fn send_new_links(
    conn: &mut PgConnection,
    settings: &Settings,
    email_normalized: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<usize> {
    let found: Vec<(i64, String, String, String)> = candidates::table
        .filter(candidates::email_normalized.eq(email_normalized))
        .filter(candidates::anonymised_at.is_null())
        .select((
            candidates::id,
            candidates::first_name,
            candidates::last_name,
            candidates::email,
        ))
        .load(conn)?;
    let mut queued = Vec::new();
    for (id, first_name, last_name, email) in found {
        let data = json!({
            "org": settings.organisation,
            "privacy": settings.privacy,
            "public_url": settings.public_base(),
            "first_name": first_name,
            "last_name": last_name,
            "data_url": link_url(settings, id, now),
            "link_days": settings.privacy.link_days,
        });
        let mut message = NewOutboundEmail::new(
            "personal_data_link",
            &email,
            render_email("personal_data_link", &data)?,
            new_message_id(&settings.mail_domain()),
        );
        message.candidate_id = Some(id);
        queued.push(message);
    }
    outbox::enqueue(conn, &queued)?;
    Ok(queued.len())
}

// ---------------------------------------------------------------------------------------------
// What we hold

/// Everything held about a candidate, as the private page shows it and the JSON export gives
/// it; None when the candidate does not exist or was anonymised.
pub fn personal_data(
    conn: &mut PgConnection,
    candidate_id: i64,
    today: NaiveDate,
) -> QueryResult<Option<Value>> {
    if !is_live(conn, candidate_id)? {
        return Ok(None);
    }
    let Some(c) = crate::candidates::load(conn, candidate_id)? else {
        return Ok(None);
    };
    let notices: Vec<(i64, String, DateTime<Utc>)> = applications::table
        .filter(applications::candidate_id.eq(candidate_id))
        .select((
            applications::id,
            applications::privacy_notice_version,
            applications::privacy_accepted_at,
        ))
        .load(conn)?;
    let offers = crate::offers::for_candidate(conn, candidate_id)?;
    let placements = crate::placements::for_candidate(conn, candidate_id, today)?;
    let submissions = crate::applications::submissions_for_export(conn, candidate_id)?;
    let applications: Vec<Value> = c
        .applications
        .iter()
        .map(|a| {
            let notice = notices.iter().find(|(id, _, _)| *id == a.id);
            json!({
                "id": a.id,
                "position": a.position,
                "stage": a.stage,
                "stage_code": a.stage_code,
                "stage_entered_at": a.stage_entered_at,
                "created_at": a.created_at,
                "message": a.message,
                "heard_from": a.heard_from,
                "open": a.is_open || a.stage_code == Stage::Pool.code(),
                "privacy_notice_version": notice.map(|n| n.1.clone()),
                "privacy_accepted_at": notice.map(|n| n.2),
                "history": a.history.iter().map(|h| json!({
                    "at": h.at,
                    "from": h.from,
                    "to": h.to,
                    "reason": h.reason,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(Some(json!({
        "candidate_id": c.id,
        "identity": {
            "civility": c.civility,
            "first_name": c.first_name,
            "last_name": c.last_name,
            "rpps": c.rpps,
        },
        "contact": { "email": c.email, "phone": c.phone },
        "professional": {
            "specialty": c.specialty,
            "situation": c.situation,
            "available_from": c.available_from,
            "working_time": c.working_time,
            "on_call": c.on_call,
            "intern_training": c.intern_training,
            "centres": c.centres,
        },
        "consent": {
            "pool": c.pool_consent_at.is_some(),
            "pool_consent_at": c.pool_consent_at,
        },
        "created_at": c.created_at,
        "applications": applications,
        "submissions": submissions,
        "documents": c.documents.iter().map(|d| json!({
            "name": d.original_name,
            "size_kb": d.size_kb,
            "created_at": d.created_at,
        })).collect::<Vec<_>>(),
        "notes": c.notes.iter().map(|n| json!({
            "body": n.body,
            "created_at": n.created_at,
        })).collect::<Vec<_>>(),
        "emails": c.emails.iter().map(|e| json!({
            "subject": e.subject,
            "status": e.status,
            "created_at": e.created_at,
            "sent_at": e.sent_at,
        })).collect::<Vec<_>>(),
        "offers": offers.iter().map(|o| json!({
            "id": o.id,
            "application_id": o.application_id,
            "status": o.status,
            "working_time": o.working_time,
            "fte": o.fte,
            "starts_on": o.starts_on,
            "expires_on": o.expires_on,
            "on_call_terms": o.on_call_terms,
            "salary_note": o.salary_note,
            "sent_at": o.sent_at,
            "answered_at": o.answered_at,
            "centres": o.allocations.iter().map(|a| json!({
                "centre": a.centre, "commune": a.commune, "fte": a.fte, "days": a.pattern,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "placements": placements.iter().map(|p| json!({
            "id": p.id,
            "application_id": p.application_id,
            "started_on": p.started_on,
            "ended_on": p.ended_on,
            "fte": p.fte,
            "centres": p.current.iter().map(|a| json!({
                "centre": a.allocation.centre,
                "commune": a.allocation.commune,
                "fte": a.allocation.fte,
                "days": a.allocation.pattern,
                "starts_on": a.starts_on,
                "ends_on": a.ends_on,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })))
}

// ---------------------------------------------------------------------------------------------
// Withdrawing, consent

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Withdrawal {
    Done,
    /// The application is already closed (or was never this candidate's).
    NotOpen,
}

/// Moves one of the candidate's applications to `desistement`, as the doctor asked, with no
/// staff actor. Recruiters see it on the board and in the history.
pub fn withdraw(
    conn: &mut PgConnection,
    candidate_id: i64,
    application_id: i64,
    now: DateTime<Utc>,
) -> QueryResult<Withdrawal> {
    conn.transaction(|conn| {
        let current: Option<Stage> = applications::table
            .filter(applications::id.eq(application_id))
            .filter(applications::candidate_id.eq(candidate_id))
            .select(applications::stage)
            .for_update()
            .first(conn)
            .optional()?;
        let Some(current) = current else {
            return Ok(Withdrawal::NotOpen);
        };
        if !crate::pipeline::allowed_targets(current).contains(&Stage::Withdrawn) {
            return Ok(Withdrawal::NotOpen);
        }
        crate::pipeline::record_move(
            conn,
            &crate::pipeline::RecordedMove {
                application_id,
                candidate_id,
                from: current,
                to: Stage::Withdrawn,
                actor_id: None,
                reason: Some(SELF_WITHDRAWAL),
                note: Some("Retrait demandé par le candidat depuis sa page « Mes données »."),
                follow_up_on: None,
            },
            now,
        )?;
        audit(
            conn,
            None,
            "desistement_candidat",
            "application",
            Some(application_id),
            &format!("{} -> {}", current.code(), Stage::Withdrawn.code()),
        )?;
        Ok(Withdrawal::Done)
    })
}

/// Gives (or renews) the pool consent, which counts as an action of the candidate, or withdraws
/// it.
pub fn set_pool_consent(
    conn: &mut PgConnection,
    candidate_id: i64,
    consent: bool,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    conn.transaction(|conn| {
        if consent {
            diesel::update(candidates::table.find(candidate_id))
                .set((
                    candidates::pool_consent_at.eq(now),
                    candidates::last_activity_at.eq(now),
                    candidates::updated_at.eq(now),
                ))
                .execute(conn)?;
        } else {
            diesel::update(candidates::table.find(candidate_id))
                .set((
                    candidates::pool_consent_at.eq(None::<DateTime<Utc>>),
                    candidates::updated_at.eq(now),
                ))
                .execute(conn)?;
        }
        audit(
            conn,
            None,
            if consent {
                "consentement_vivier_renouvele"
            } else {
                "consentement_vivier_retire"
            },
            "candidate",
            Some(candidate_id),
            "par le candidat (page « Mes données »)",
        )
    })
}

// ---------------------------------------------------------------------------------------------
// Erasure

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
fn anonymise(
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
    diesel::update(applications::table)
        .filter(applications::candidate_id.eq(candidate_id))
        .set(applications::message.eq(""))
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

// ---------------------------------------------------------------------------------------------
// The daily retention job

/// What one run of the retention job did (counts only).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunReport {
    pub anonymised_retention: usize,
    pub anonymised_without_consent: usize,
    pub documents_deleted: usize,
    pub consent_reminders: usize,
    /// Files to remove once the transaction committed.
    pub files: Vec<String>,
}

fn years_before(now: DateTime<Utc>, years: u32) -> DateTime<Utc> {
    now.checked_sub_months(Months::new(years.saturating_mul(12)))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

fn months_before(now: DateTime<Utc>, months: u32) -> DateTime<Utc> {
    now.checked_sub_months(Months::new(months))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// Runs the job for `today` once, whatever the number of instances: the first caller claims the
/// day and does the work in one transaction; the others get None. Removes the deleted documents'
/// files after the commit.
pub fn run_daily(
    conn: &mut PgConnection,
    settings: &Settings,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<RunReport>> {
    let report = conn.transaction(|conn| -> anyhow::Result<Option<RunReport>> {
        if !crate::pipeline::followups::claim_run(conn, "privacy_retention", &today.to_string())? {
            return Ok(None);
        }
        let report = apply_retention(conn, settings, now)?;
        diesel::insert_into(privacy_runs::table)
            .values((
                privacy_runs::run_on.eq(today),
                privacy_runs::anonymised_retention.eq(report.anonymised_retention as i32),
                privacy_runs::anonymised_without_consent
                    .eq(report.anonymised_without_consent as i32),
                privacy_runs::documents_deleted.eq(report.documents_deleted as i32),
                privacy_runs::consent_reminders.eq(report.consent_reminders as i32),
                privacy_runs::created_at.eq(now),
            ))
            .on_conflict_do_nothing()
            .execute(conn)?;
        audit(
            conn,
            None,
            "conservation_donnees",
            "candidats",
            None,
            &format!(
                "{} anonymisé(s) après {} an(s) sans activité, {} sans accord vivier après {} mois, \
                 {} document(s) supprimé(s), {} proposition(s) de renouveler l'accord envoyée(s)",
                report.anonymised_retention,
                settings.privacy.retention_years,
                report.anonymised_without_consent,
                settings.privacy.no_consent_months,
                report.documents_deleted,
                report.consent_reminders
            ),
        )?;
        Ok(Some(report))
    })?;
    if let Some(r) = &report {
        remove_files(&settings.storage.documents_dir, &r.files);
    }
    Ok(report)
}

/// The retention rules, idempotent on their own (anonymised candidates are skipped, reminders
/// are recorded): anonymises candidates never recruited whose last action is older than
/// `retention_years`, and those without pool consent whose process ended more than
/// `no_consent_months` ago; then offers pool candidates near the end of their consent to renew
/// it. Candidates with a placement or a live offer are left alone.
pub fn apply_retention(
    conn: &mut PgConnection,
    settings: &Settings,
    now: DateTime<Utc>,
) -> anyhow::Result<RunReport> {
    let p = &settings.privacy;
    let retention_limit = years_before(now, p.retention_years);
    let no_consent_limit = months_before(now, p.no_consent_months);
    let kept_stages = [Stage::Recruited];
    let open_stages: Vec<Stage> = Stage::ALL.iter().copied().filter(|s| s.is_open()).collect();

    // Never recruited, no placement, no live offer.
    let eligible = || {
        candidates::table
            .filter(candidates::anonymised_at.is_null())
            .filter(not(exists(
                applications::table
                    .filter(applications::candidate_id.eq(candidates::id))
                    .filter(applications::stage.eq_any(kept_stages)),
            )))
            .filter(not(exists(
                placements::table
                    .inner_join(applications::table)
                    .filter(applications::candidate_id.eq(candidates::id)),
            )))
            .filter(not(exists(
                offers::table
                    .inner_join(applications::table)
                    .filter(applications::candidate_id.eq(candidates::id))
                    .filter(offers::status.eq_any([OfferStatus::Sent, OfferStatus::Accepted])),
            )))
    };
    let by_retention: Vec<i64> = eligible()
        .filter(candidates::last_activity_at.lt(retention_limit))
        .select(candidates::id)
        .for_update()
        .skip_locked()
        .load(conn)?;
    let without_consent: Vec<i64> = eligible()
        .filter(candidates::pool_consent_at.is_null())
        .filter(candidates::last_activity_at.lt(no_consent_limit))
        .filter(candidates::last_activity_at.ge(retention_limit))
        .filter(not(exists(
            applications::table
                .filter(applications::candidate_id.eq(candidates::id))
                .filter(applications::stage.eq_any(open_stages)),
        )))
        .select(candidates::id)
        .for_update()
        .skip_locked()
        .load(conn)?;

    let mut report = RunReport::default();
    for id in &by_retention {
        let keys = anonymise(conn, *id, now)?;
        report.documents_deleted += keys.len();
        report.files.extend(keys);
    }
    report.anonymised_retention = by_retention.len();
    for id in &without_consent {
        let keys = anonymise(conn, *id, now)?;
        report.documents_deleted += keys.len();
        report.files.extend(keys);
    }
    report.anonymised_without_consent = without_consent.len();
    report.consent_reminders = queue_consent_reminders(conn, settings, now)?;
    Ok(report)
}

/// Offers pool candidates whose consent runs out within `consent_reminder_days` to renew it,
/// once per consent (a renewed consent may be reminded again when it nears its own end).
fn queue_consent_reminders(
    conn: &mut PgConnection,
    settings: &Settings,
    now: DateTime<Utc>,
) -> anyhow::Result<usize> {
    let p = &settings.privacy;
    let retention_limit = years_before(now, p.retention_years);
    let remind_from = retention_limit + chrono::Duration::days(i64::from(p.consent_reminder_days));
    let due: Vec<(i64, String, String, String, DateTime<Utc>)> = candidates::table
        .filter(candidates::anonymised_at.is_null())
        .filter(candidates::pool_consent_at.is_not_null())
        .filter(
            candidates::consent_reminder_sent_at
                .is_null()
                .or(candidates::consent_reminder_sent_at
                    .nullable()
                    .lt(candidates::pool_consent_at.nullable())),
        )
        .filter(candidates::last_activity_at.ge(retention_limit))
        .filter(candidates::last_activity_at.lt(remind_from))
        .select((
            candidates::id,
            candidates::first_name,
            candidates::last_name,
            candidates::email,
            candidates::last_activity_at,
        ))
        .for_update()
        .skip_locked()
        .load(conn)?;
    let mut queued = Vec::new();
    for (id, first_name, last_name, email, last_activity) in &due {
        let ends = last_activity
            .checked_add_months(Months::new(p.retention_years.saturating_mul(12)))
            .unwrap_or(now);
        // The link lasts at least until the consent ends, so the button still works then.
        let link_until = (now + chrono::Duration::days(i64::from(p.link_days))).max(ends);
        let data = json!({
            "org": settings.organisation,
            "privacy": settings.privacy,
            "public_url": settings.public_base(),
            "first_name": first_name,
            "last_name": last_name,
            "ends_on": ends.with_timezone(&chrono_tz::Europe::Paris).format("%d/%m/%Y").to_string(),
            "data_url": link_url_until(settings, *id, link_until),
        });
        let mut message = NewOutboundEmail::new(
            "consent_renewal",
            email,
            render_email("consent_renewal", &data)?,
            new_message_id(&settings.mail_domain()),
        );
        message.candidate_id = Some(*id);
        queued.push(message);
    }
    outbox::enqueue(conn, &queued)?;
    let ids: Vec<i64> = due.iter().map(|d| d.0).collect();
    diesel::update(candidates::table.filter(candidates::id.eq_any(&ids)))
        .set(candidates::consent_reminder_sent_at.eq(now))
        .execute(conn)?;
    Ok(queued.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_expire_and_forged_ones_are_invalid() {
        let key = b"k";
        let now = Utc::now();
        let t = links::expiring_token(key, Purpose::PersonalData, 5, now.timestamp() + 60);
        assert_eq!(check_link(key, &t, now), Link::Valid(5));
        assert_eq!(
            check_link(key, &t, now + chrono::Duration::seconds(61)),
            Link::Expired
        );
        assert_eq!(check_link(b"other", &t, now), Link::Invalid);
        assert_eq!(check_link(key, "5.1.abc", now), Link::Invalid);
    }
}
