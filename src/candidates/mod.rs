//! A candidate as recruiters see them: identity, wishes, applications with their history,
//! documents and the e-mails sent to them.

pub mod page;
pub mod timeline;

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use serde::Serialize;

use crate::db::enums::{Civility, EmailStatus, HeardFrom, Situation, Stage, WorkingTime};
use crate::db::schema::{
    applications, candidate_centres, candidate_notes, candidates, centres, channel_links,
    documents, outbound_emails, positions, specialties, staff_users, stage_history, submissions,
};
use crate::domain::describe_half_days;
use crate::domain::ids::CandidateId;
use crate::pipeline;

#[derive(Debug, Serialize)]
pub struct HistoryEntry {
    pub at: DateTime<Utc>,
    pub from: Option<&'static str>,
    pub to: &'static str,
    pub actor: Option<String>,
    pub reason: Option<&'static str>,
    pub note: Option<String>,
    pub follow_up_on: Option<NaiveDate>,
}

#[derive(Debug, Serialize)]
pub struct Target {
    pub code: &'static str,
    pub label: &'static str,
}

#[derive(Debug, Serialize)]
pub struct ApplicationView {
    pub id: i64,
    pub position: Option<String>,
    pub stage: &'static str,
    pub stage_code: &'static str,
    pub stage_entered_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub message: String,
    pub heard_from: Option<&'static str>,
    /// Support asked for the spouse's job search: None when the question was not answered.
    pub spouse_support: Option<bool>,
    pub spouse_field: Option<String>,
    /// The answer in French (« Oui : enseignement », « Non »), None when not answered.
    pub spouse_label: Option<String>,
    pub campaign: Option<String>,
    /// The label of the channel link (issue 19) the application came by.
    pub channel: Option<String>,
    pub history: Vec<HistoryEntry>,
    pub targets: Vec<Target>,
    pub is_open: bool,
}

#[derive(Debug, Serialize)]
pub struct DocumentView {
    pub id: i64,
    pub original_name: String,
    pub size_kb: i64,
    pub created_at: DateTime<Utc>,
    /// The received mail it was attached to (shown with that mail on the timeline).
    pub message_id: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct EmailView {
    pub subject: String,
    pub status: &'static str,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize)]
pub struct NoteView {
    pub author: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
pub struct CandidateView {
    pub id: i64,
    pub civility: &'static str,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub phone: String,
    pub rpps: Option<String>,
    pub specialty: String,
    pub situation: &'static str,
    pub available_from: Option<NaiveDate>,
    pub working_time: String,
    pub on_call: bool,
    pub intern_training: bool,
    pub pool_consent_at: Option<DateTime<Utc>>,
    pub centres: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub applications: Vec<ApplicationView>,
    pub documents: Vec<DocumentView>,
    pub emails: Vec<EmailView>,
    pub notes: Vec<NoteView>,
}

/// Id, civility, first and last names, e-mail, phone, RPPS, specialty label, situation,
/// availability, working time, half-days, on call, intern training, pool consent, created, and
/// the specialty code.
type CandidateRow = (
    i64,
    Civility,
    String,
    String,
    String,
    String,
    Option<String>,
    String,
    Situation,
    Option<NaiveDate>,
    WorkingTime,
    Option<i16>,
    bool,
    bool,
    Option<DateTime<Utc>>,
    DateTime<Utc>,
    String,
);

fn candidate_row(conn: &mut PgConnection, id: i64) -> QueryResult<Option<CandidateRow>> {
    candidates::table
        .inner_join(specialties::table)
        .filter(candidates::id.eq(id))
        .select((
            candidates::id,
            candidates::civility,
            candidates::first_name,
            candidates::last_name,
            candidates::email,
            candidates::phone,
            candidates::rpps,
            specialties::label,
            candidates::situation,
            candidates::available_from,
            candidates::working_time,
            candidates::part_time_half_days,
            candidates::on_call,
            candidates::intern_training,
            candidates::pool_consent_at,
            candidates::created_at,
            candidates::specialty_code,
        ))
        .first(conn)
        .optional()
}

type ApplicationRow = (
    i64,
    Option<String>,
    Stage,
    DateTime<Utc>,
    DateTime<Utc>,
    String,
    Option<HeardFrom>,
    Option<String>,
    Option<String>,
    Option<bool>,
    Option<String>,
);

type HistoryRow = (
    i64,
    DateTime<Utc>,
    Option<Stage>,
    Stage,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<NaiveDate>,
);

pub fn load(conn: &mut PgConnection, id: i64) -> QueryResult<Option<CandidateView>> {
    let row = candidate_row(conn, id)?;
    let Some(r) = row else {
        return Ok(None);
    };
    let centres: Vec<String> = candidate_centres::table
        .inner_join(centres::table)
        .filter(candidate_centres::candidate_id.eq(id))
        .order(centres::commune)
        .select(centres::commune)
        .load(conn)?;
    let apps: Vec<ApplicationRow> = applications::table
        .left_join(positions::table)
        .left_join(channel_links::table)
        .filter(applications::candidate_id.eq(id))
        .order(applications::created_at.desc())
        .select((
            applications::id,
            positions::title.nullable(),
            applications::stage,
            applications::stage_entered_at,
            applications::created_at,
            applications::message,
            applications::heard_from,
            applications::utm_campaign,
            channel_links::label.nullable(),
            applications::spouse_support,
            applications::spouse_field,
        ))
        .load(conn)?;
    let app_ids: Vec<i64> = apps.iter().map(|a| a.0).collect();
    let history: Vec<HistoryRow> = stage_history::table
        .left_join(staff_users::table)
        .filter(stage_history::application_id.eq_any(&app_ids))
        .order((stage_history::created_at.asc(), stage_history::id.asc()))
        .select((
            stage_history::application_id,
            stage_history::created_at,
            stage_history::from_stage.nullable(),
            stage_history::to_stage,
            staff_users::display_name.nullable(),
            stage_history::reason,
            stage_history::note,
            stage_history::follow_up_on,
        ))
        .load(conn)?;
    let applications = apps
        .into_iter()
        .map(
            |(
                app_id,
                position,
                stage,
                entered,
                created,
                message,
                heard,
                campaign,
                channel,
                spouse_support,
                spouse_field,
            )| {
                let spouse = crate::domain::SpouseSupport::from_columns(
                    spouse_support,
                    spouse_field.clone(),
                );
                ApplicationView {
                    id: app_id,
                    position,
                    stage: stage.label(),
                    stage_code: stage.code(),
                    stage_entered_at: entered,
                    created_at: created,
                    message,
                    heard_from: heard.map(HeardFrom::label),
                    spouse_support,
                    spouse_field,
                    spouse_label: spouse_support.map(|_| spouse.label()),
                    campaign,
                    channel,
                    history: history
                        .iter()
                        .filter(|h| h.0 == app_id)
                        .map(|h| HistoryEntry {
                            at: h.1,
                            from: h.2.map(Stage::label),
                            to: h.3.label(),
                            actor: h.4.clone(),
                            reason: h
                                .5
                                .as_deref()
                                .and_then(|code| pipeline::reason_label(h.3, code)),
                            note: h.6.clone(),
                            follow_up_on: h.7,
                        })
                        .collect(),
                    targets: pipeline::allowed_manual_targets(stage)
                        .into_iter()
                        .map(|t| Target {
                            code: t.code(),
                            label: t.label(),
                        })
                        .collect(),
                    is_open: stage.is_open() || stage == Stage::Pool,
                }
            },
        )
        .collect();
    let documents = documents::table
        .filter(documents::candidate_id.eq(id))
        .order(documents::created_at.desc())
        .select((
            documents::id,
            documents::original_name,
            documents::size_bytes,
            documents::created_at,
            documents::candidate_message_id,
        ))
        .load::<(i64, String, i64, DateTime<Utc>, Option<i64>)>(conn)?
        .into_iter()
        .map(
            |(id, original_name, size, created_at, message_id)| DocumentView {
                id,
                original_name,
                size_kb: (size + 1023) / 1024,
                created_at,
                message_id,
            },
        )
        .collect();
    let emails = outbound_emails::table
        .filter(outbound_emails::candidate_id.eq(id))
        // Mail to staff about the candidate is not mail to the candidate; a recruiter's
        // answers are shown with the conversation.
        .filter(outbound_emails::kind.ne_all([
            "recruiter_notification",
            crate::conversations::NOTICE_KIND,
            crate::conversations::REPLY_KIND,
        ]))
        .order(outbound_emails::created_at.desc())
        .select((
            outbound_emails::subject,
            outbound_emails::status,
            outbound_emails::created_at,
            outbound_emails::sent_at,
        ))
        .load::<(String, EmailStatus, DateTime<Utc>, Option<DateTime<Utc>>)>(conn)?
        .into_iter()
        .map(|(subject, status, created_at, sent_at)| EmailView {
            subject,
            status: status.label(),
            created_at,
            sent_at,
        })
        .collect();
    let notes = candidate_notes::table
        .inner_join(staff_users::table)
        .filter(candidate_notes::candidate_id.eq(id))
        .order(candidate_notes::created_at.desc())
        .select((
            staff_users::display_name,
            candidate_notes::body,
            candidate_notes::created_at,
        ))
        .load::<(String, String, DateTime<Utc>)>(conn)?
        .into_iter()
        .map(|(author, body, created_at)| NoteView {
            author,
            body,
            created_at,
        })
        .collect();
    Ok(Some(CandidateView {
        id: r.0,
        civility: r.1.label(),
        first_name: r.2,
        last_name: r.3,
        email: r.4,
        phone: r.5,
        rpps: r.6,
        specialty: r.7,
        situation: r.8.label(),
        available_from: r.9,
        working_time: match r.11 {
            Some(n) if r.10 == WorkingTime::PartTime => {
                format!("Temps partiel, {}", describe_half_days(n))
            }
            _ => r.10.label().to_owned(),
        },
        on_call: r.12,
        intern_training: r.13,
        pool_consent_at: r.14,
        centres,
        created_at: r.15,
        applications,
        documents,
        emails,
        notes,
    }))
}

/// A stored document's storage key, display name, owner and kind, for download.
pub fn document(
    conn: &mut PgConnection,
    id: i64,
) -> QueryResult<Option<(String, String, i64, String)>> {
    documents::table
        .find(id)
        .select((
            documents::storage_key,
            documents::original_name,
            documents::candidate_id,
            documents::kind,
        ))
        .first(conn)
        .optional()
}

/// Adds a recruiter's note, dated `now` (the service's clock, as every other event of the
/// timeline); false when the candidate does not exist.
pub fn add_note(
    conn: &mut PgConnection,
    candidate_id: i64,
    author_id: i64,
    body: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> QueryResult<bool> {
    conn.transaction(|conn| {
        let exists: bool =
            diesel::select(diesel::dsl::exists(candidates::table.find(candidate_id)))
                .get_result(conn)?;
        if !exists {
            return Ok(false);
        }
        diesel::insert_into(candidate_notes::table)
            .values((
                candidate_notes::candidate_id.eq(candidate_id),
                candidate_notes::author_id.eq(author_id),
                candidate_notes::body.eq(body),
                candidate_notes::created_at.eq(now),
            ))
            .execute(conn)?;
        crate::staff::audit::audit(
            conn,
            Some(author_id),
            "note",
            "candidate",
            Some(candidate_id),
            "",
        )?;
        Ok(true)
    })
}

/// Another candidate who may be the same person: same e-mail, phone, or first and last name.
#[derive(Debug, Clone, Queryable, Serialize)]
pub struct PossibleDuplicate {
    pub id: i64,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub phone: String,
    pub rpps: Option<String>,
}

pub fn possible_duplicates(
    conn: &mut PgConnection,
    id: i64,
) -> QueryResult<Vec<PossibleDuplicate>> {
    // Anonymised candidates (blank e-mail, phone and names) are nobody's duplicate.
    type Me = (
        String,
        String,
        String,
        String,
        Option<String>,
        Option<String>,
    );
    let me: Option<Me> = candidates::table
        .find(id)
        .filter(candidates::anonymised_at.is_null())
        .select((
            candidates::email_normalized,
            candidates::phone_normalized,
            candidates::first_name,
            candidates::last_name,
            candidates::rpps,
            candidates::submitted_rpps,
        ))
        .first(conn)
        .optional()?;
    let Some((email, phone, first, last, rpps, submitted_rpps)) = me else {
        return Ok(Vec::new());
    };
    // An RPPS number typed in a submission but held by another record, and the other way round.
    let same_rpps = diesel::dsl::sql::<diesel::sql_types::Bool>("COALESCE(rpps = ")
        .bind::<diesel::sql_types::Nullable<diesel::sql_types::Text>, _>(submitted_rpps.clone())
        .sql(", false) OR COALESCE(submitted_rpps = ")
        .bind::<diesel::sql_types::Nullable<diesel::sql_types::Text>, _>(rpps.clone())
        .sql(", false)");
    let same_name = diesel::dsl::sql::<diesel::sql_types::Bool>("lower(first_name) = lower(")
        .bind::<diesel::sql_types::Text, _>(first)
        .sql(") AND lower(last_name) = lower(")
        .bind::<diesel::sql_types::Text, _>(last)
        .sql(")");
    let mut q = candidates::table
        .filter(candidates::id.ne(id))
        .filter(candidates::anonymised_at.is_null())
        .filter(
            candidates::email_normalized
                .eq(email)
                .or(candidates::phone_normalized.eq(phone))
                .or(same_name)
                .or(same_rpps),
        )
        .into_boxed();
    // Two different RPPS numbers are two different doctors.
    if let Some(r) = rpps.or(submitted_rpps) {
        q = q.filter(candidates::rpps.is_null().or(candidates::rpps.eq(r)));
    }
    q.order(candidates::id.asc())
        .limit(20)
        .select((
            candidates::id,
            candidates::first_name,
            candidates::last_name,
            candidates::email,
            candidates::phone,
            candidates::rpps,
        ))
        .load(conn)
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    #[error("Une des deux fiches n'existe plus.")]
    NotFound,
    #[error("Une fiche ne peut pas être fusionnée avec elle-même.")]
    Same,
    #[error("Les deux fiches ont des numéros RPPS différents : ce sont deux médecins différents.")]
    DifferentRpps,
}

/// Merges `other` into `keep`: every application, note, document, e-mail, meeting (through the
/// applications) and wished centre moves to `keep`, which takes the RPPS of `other` if it had
/// none; `other` is then deleted. Recorded in the audit log.
pub fn merge(
    conn: &mut PgConnection,
    actor: i64,
    keep: CandidateId,
    other: CandidateId,
) -> anyhow::Result<Result<(), MergeError>> {
    let (keep, other) = (keep.0, other.0);
    if keep == other {
        return Ok(Err(MergeError::Same));
    }
    conn.transaction(|conn| {
        let rows: Vec<(i64, Option<String>, bool)> = candidates::table
            .filter(candidates::id.eq_any([keep, other]))
            .select((candidates::id, candidates::rpps, candidates::pool_consent_at.is_not_null()))
            .for_update()
            .load(conn)?;
        if rows.len() != 2 {
            return Ok(Err(MergeError::NotFound));
        }
        let rpps_of = |id: i64| rows.iter().find(|r| r.0 == id).and_then(|r| r.1.clone());
        let (keep_rpps, other_rpps) = (rpps_of(keep), rpps_of(other));
        if let (Some(a), Some(b)) = (&keep_rpps, &other_rpps) {
            if a != b {
                return Ok(Err(MergeError::DifferentRpps));
            }
        }
        diesel::update(applications::table.filter(applications::candidate_id.eq(other)))
            .set(applications::candidate_id.eq(keep))
            .execute(conn)?;
        diesel::update(candidate_notes::table.filter(candidate_notes::candidate_id.eq(other)))
            .set(candidate_notes::candidate_id.eq(keep))
            .execute(conn)?;
        diesel::update(documents::table.filter(documents::candidate_id.eq(other)))
            .set(documents::candidate_id.eq(keep))
            .execute(conn)?;
        diesel::update(outbound_emails::table.filter(outbound_emails::candidate_id.eq(other)))
            .set(outbound_emails::candidate_id.eq(keep))
            .execute(conn)?;
        diesel::update(
            crate::db::schema::candidate_messages::table
                .filter(crate::db::schema::candidate_messages::candidate_id.eq(other)),
        )
        .set(crate::db::schema::candidate_messages::candidate_id.eq(keep))
        .execute(conn)?;
        diesel::update(submissions::table.filter(submissions::candidate_id.eq(other)))
            .set(submissions::candidate_id.eq(keep))
            .execute(conn)?;
        diesel::sql_query(
            "INSERT INTO candidate_centres (candidate_id, centre_id) \
             SELECT $1, centre_id FROM candidate_centres WHERE candidate_id = $2 \
             ON CONFLICT DO NOTHING",
        )
        .bind::<diesel::sql_types::BigInt, _>(keep)
        .bind::<diesel::sql_types::BigInt, _>(other)
        .execute(conn)?;
        // The pool consent given on either record stands (the most recent date).
        diesel::sql_query(
            "UPDATE candidates k SET pool_consent_at = GREATEST(k.pool_consent_at, o.pool_consent_at), \
             last_activity_at = GREATEST(k.last_activity_at, o.last_activity_at), \
             created_at = LEAST(k.created_at, o.created_at), updated_at = now() \
             FROM candidates o WHERE k.id = $1 AND o.id = $2",
        )
        .bind::<diesel::sql_types::BigInt, _>(keep)
        .bind::<diesel::sql_types::BigInt, _>(other)
        .execute(conn)?;
        diesel::delete(candidates::table.find(other)).execute(conn)?;
        if keep_rpps.is_none() && other_rpps.is_some() {
            diesel::update(candidates::table.find(keep))
                .set(candidates::rpps.eq(other_rpps))
                .execute(conn)?;
        }
        // A typed RPPS number that the merged record now holds is settled.
        diesel::sql_query(
            "UPDATE candidates SET submitted_rpps = NULL \
             WHERE id = $1 AND rpps IS NOT NULL AND submitted_rpps = rpps",
        )
        .bind::<diesel::sql_types::BigInt, _>(keep)
        .execute(conn)?;
        crate::staff::audit::audit(conn, Some(actor), "fusion", "candidate", Some(keep), &format!("fiche n° {other} fusionnée"))?;
        Ok(Ok(()))
    })
}

/// Updates a candidate's identity and wishes from a validated form. Err when the RPPS number
/// already belongs to another candidate.
pub fn update_details(
    conn: &mut PgConnection,
    actor: i64,
    id: i64,
    app: &crate::applications::NewApplication,
) -> anyhow::Result<Result<bool, &'static str>> {
    conn.transaction(|conn| {
        let rpps = app.rpps.as_ref().map(|r| r.as_str().to_owned());
        if let Some(r) = &rpps {
            let taken: bool = diesel::select(diesel::dsl::exists(
                candidates::table.filter(candidates::rpps.eq(r)).filter(candidates::id.ne(id)),
            ))
            .get_result(conn)?;
            if taken {
                return Ok(Err(
                    "Ce numéro RPPS est celui d'une autre fiche : c'est sans doute un doublon, fusionnez les deux fiches.",
                ));
            }
        }
        let n = diesel::update(candidates::table.find(id))
            .set((
                candidates::civility.eq(app.civility),
                candidates::first_name.eq(app.first_name.as_str()),
                candidates::last_name.eq(app.last_name.as_str()),
                candidates::email.eq(app.email.as_str()),
                candidates::email_normalized.eq(app.email.normalized()),
                candidates::phone.eq(app.phone.as_str()),
                candidates::phone_normalized.eq(app.phone.e164()),
                candidates::rpps.eq(rpps),
                candidates::specialty_code.eq(&app.specialty_code),
                candidates::situation.eq(app.situation),
                candidates::available_from.eq(app.available_from),
                candidates::working_time.eq(app.working_time),
                candidates::part_time_half_days.eq(app.part_time_half_days),
                candidates::on_call.eq(app.on_call),
                candidates::intern_training.eq(app.intern_training),
                candidates::updated_at.eq(chrono::Utc::now()),
            ))
            .execute(conn)?;
        if n == 0 {
            return Ok(Ok(false));
        }
        diesel::delete(candidate_centres::table.filter(candidate_centres::candidate_id.eq(id)))
            .execute(conn)?;
        let rows: Vec<_> = app
            .centre_ids
            .iter()
            .map(|c| (candidate_centres::candidate_id.eq(id), candidate_centres::centre_id.eq(*c)))
            .collect();
        diesel::insert_into(candidate_centres::table).values(&rows).execute(conn)?;
        diesel::sql_query(
            "UPDATE candidates SET submitted_rpps = NULL \
             WHERE id = $1 AND rpps IS NOT NULL AND submitted_rpps = rpps",
        )
        .bind::<diesel::sql_types::BigInt, _>(id)
        .execute(conn)?;
        crate::staff::audit::audit(conn, Some(actor), "modification", "candidate", Some(id), "")?;
        Ok(Ok(true))
    })
}

/// The candidate's current values in the form's terms, to prefill the edit page.
pub fn edit_values(
    conn: &mut PgConnection,
    id: i64,
) -> QueryResult<Option<crate::applications::RawApplicationForm>> {
    let row = candidate_row(conn, id)?;
    let Some(r) = row else {
        return Ok(None);
    };
    let centres: Vec<i64> = candidate_centres::table
        .filter(candidate_centres::candidate_id.eq(id))
        .select(candidate_centres::centre_id)
        .load(conn)?;
    Ok(Some(crate::applications::RawApplicationForm {
        civilite: r.1.code().to_owned(),
        prenom: r.2,
        nom: r.3,
        courriel: r.4,
        telephone: r.5,
        rpps: r.6.unwrap_or_default(),
        specialite: r.16,
        situation: r.8.code().to_owned(),
        disponibilite: r.9.map(|d| d.to_string()).unwrap_or_default(),
        temps_travail: r.10.code().to_owned(),
        demi_journees: r.11.map(|n| n.to_string()).unwrap_or_default(),
        centres: centres.iter().map(i64::to_string).collect(),
        garde: r.12,
        maitre_stage: r.13,
        ..Default::default()
    }))
}

/// A candidate in a list (the JSON API's candidate list).
#[derive(Debug, Clone, Queryable)]
pub struct CandidateSummary {
    pub id: i64,
    pub civility: Civility,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub phone: String,
    pub rpps: Option<String>,
    pub specialty_code: String,
    pub specialty: String,
    pub situation: Situation,
    pub available_from: Option<NaiveDate>,
    pub working_time: WorkingTime,
    pub part_time_half_days: Option<i16>,
    pub created_at: DateTime<Utc>,
}

/// The candidates with these ids, in id order.
pub fn summaries(conn: &mut PgConnection, ids: &[i64]) -> QueryResult<Vec<CandidateSummary>> {
    candidates::table
        .inner_join(specialties::table)
        .filter(candidates::id.eq_any(ids))
        .order(candidates::id.asc())
        .select((
            candidates::id,
            candidates::civility,
            candidates::first_name,
            candidates::last_name,
            candidates::email,
            candidates::phone,
            candidates::rpps,
            candidates::specialty_code,
            specialties::label,
            candidates::situation,
            candidates::available_from,
            candidates::working_time,
            candidates::part_time_half_days,
            candidates::created_at,
        ))
        .load(conn)
}

/// A page of the candidates the board's filters keep, in id order, with how many they keep in
/// all (the API's list of candidates).
pub fn summaries_page(
    conn: &mut PgConnection,
    filter: &pipeline::BoardFilter,
    limit: i64,
    offset: i64,
) -> QueryResult<(Vec<CandidateSummary>, i64)> {
    let (ids, total) = pipeline::candidate_ids_page(conn, filter, limit, offset)?;
    Ok((summaries(conn, &ids)?, total))
}

/// The record an application belongs to, with its id; `None` when there is no such application.
pub fn load_by_application(
    conn: &mut PgConnection,
    application_id: i64,
) -> QueryResult<Option<(i64, CandidateView)>> {
    let Some(candidate_id) = of_application(conn, application_id)? else {
        return Ok(None);
    };
    Ok(load(conn, candidate_id)?.map(|view| (candidate_id, view)))
}

/// The candidate an application belongs to.
pub fn of_application(conn: &mut PgConnection, application_id: i64) -> QueryResult<Option<i64>> {
    applications::table
        .find(application_id)
        .select(applications::candidate_id)
        .first(conn)
        .optional()
}
