//! A doctor's application, from the public form to the database: one transaction that finds or
//! creates the candidate (merging on RPPS, then e-mail, then phone), records the application,
//! its first stage entry, the CV, and the e-mails to send once it commits.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::db::enums::{Civility, DocumentKind, HeardFrom, Situation, Stage, WorkingTime};
use crate::db::schema::{applications, candidate_centres, candidates, documents, stage_history};
use crate::documents::StoredFile;
use crate::domain::{EmailAddress, FreeText, PersonName, PhoneNumber, Rpps};
use crate::mail::outbox::{self, NewOutboundEmail};

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
    /// A new application; `merged` when the candidate was already known.
    New {
        application_id: i64,
        candidate_id: i64,
        merged: bool,
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
}

#[derive(Insertable, AsChangeset)]
#[diesel(table_name = candidates)]
#[diesel(treat_none_as_null = true)]
struct CandidateValues<'a> {
    civility: Civility,
    first_name: &'a str,
    last_name: &'a str,
    email: &'a str,
    email_normalized: &'a str,
    phone: &'a str,
    phone_normalized: &'a str,
    specialty_code: &'a str,
    situation: Situation,
    available_from: Option<NaiveDate>,
    working_time: WorkingTime,
    part_time_half_days: Option<i16>,
    on_call: bool,
    intern_training: bool,
    pool_consent_at: Option<DateTime<Utc>>,
    updated_at: DateTime<Utc>,
    last_activity_at: DateTime<Utc>,
}

/// A 64-bit advisory lock key for a merge key, so that two submissions for the same person
/// (same RPPS, e-mail or phone) are recorded one after the other and cannot both create them.
fn lock_key(namespace: &str, value: &str) -> i64 {
    let digest = Sha256::digest(format!("vocation:{namespace}:{value}").as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}

fn lock_merge_keys(conn: &mut PgConnection, app: &NewApplication) -> QueryResult<()> {
    let mut keys = vec![
        lock_key("submission", &app.submission_key.to_string()),
        lock_key("email", app.email.normalized()),
        lock_key("phone", app.phone.e164()),
    ];
    if let Some(rpps) = &app.rpps {
        keys.push(lock_key("rpps", rpps.as_str()));
    }
    // Always in the same order, so two transactions never wait on each other in a cycle.
    keys.sort_unstable();
    keys.dedup();
    for key in keys {
        diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
            .bind::<BigInt, _>(key)
            .execute(conn)?;
    }
    Ok(())
}

/// The candidate this application belongs to, if known: same RPPS; else same normalised e-mail,
/// else same phone, among candidates without a different RPPS number.
pub fn find_existing_candidate(
    conn: &mut PgConnection,
    rpps: Option<&str>,
    email_normalized: &str,
    phone_e164: &str,
) -> QueryResult<Option<i64>> {
    if let Some(rpps) = rpps {
        let by_rpps = candidates::table
            .filter(candidates::rpps.eq(rpps))
            .select(candidates::id)
            .first::<i64>(conn)
            .optional()?;
        if by_rpps.is_some() {
            return Ok(by_rpps);
        }
    }
    let compatible = |rpps: Option<&str>| {
        let rpps = rpps.map(str::to_owned);
        move |q: candidates::BoxedQuery<'static, diesel::pg::Pg>| match rpps {
            Some(r) => q.filter(candidates::rpps.is_null().or(candidates::rpps.eq(r))),
            None => q,
        }
    };
    let by_email = compatible(rpps)(
        candidates::table
            .filter(candidates::email_normalized.eq(email_normalized.to_owned()))
            .into_boxed(),
    )
    .order(candidates::last_activity_at.desc())
    .select(candidates::id)
    .first::<i64>(conn)
    .optional()?;
    if by_email.is_some() {
        return Ok(by_email);
    }
    compatible(rpps)(
        candidates::table
            .filter(candidates::phone_normalized.eq(phone_e164.to_owned()))
            .into_boxed(),
    )
    .order(candidates::last_activity_at.desc())
    .select(candidates::id)
    .first::<i64>(conn)
    .optional()
}

/// Records the application in one transaction. `emails` is called once a new or completed
/// application has its id, and what it returns is queued in the same transaction.
pub fn record(
    conn: &mut PgConnection,
    app: &NewApplication,
    cv: Option<&StoredFile>,
    now: DateTime<Utc>,
    emails: impl FnOnce(Recorded) -> anyhow::Result<Vec<NewOutboundEmail>>,
) -> anyhow::Result<Recorded> {
    conn.transaction(|conn| {
        lock_merge_keys(conn, app)?;

        if let Some(application_id) = applications::table
            .filter(applications::submission_key.eq(app.submission_key))
            .select(applications::id)
            .first::<i64>(conn)
            .optional()?
        {
            return Ok(Recorded::AlreadyReceived { application_id });
        }

        let values = CandidateValues {
            civility: app.civility,
            first_name: app.first_name.as_str(),
            last_name: app.last_name.as_str(),
            email: app.email.as_str(),
            email_normalized: app.email.normalized(),
            phone: app.phone.as_str(),
            phone_normalized: app.phone.e164(),
            specialty_code: &app.specialty_code,
            situation: app.situation,
            available_from: app.available_from,
            working_time: app.working_time,
            part_time_half_days: app.part_time_half_days,
            on_call: app.on_call,
            intern_training: app.intern_training,
            pool_consent_at: app.pool_consent.then_some(now),
            updated_at: now,
            last_activity_at: now,
        };
        let rpps = app.rpps.as_ref().map(Rpps::as_str);
        let existing =
            find_existing_candidate(conn, rpps, app.email.normalized(), app.phone.e164())?;
        let candidate_id = match existing {
            Some(id) => {
                // The latest application says best who the doctor is and what they want now.
                diesel::update(candidates::table.find(id))
                    .set(&values)
                    .execute(conn)?;
                if let Some(rpps) = rpps {
                    diesel::update(
                        candidates::table
                            .find(id)
                            .filter(candidates::rpps.is_null()),
                    )
                    .set(candidates::rpps.eq(rpps))
                    .execute(conn)?;
                }
                diesel::delete(
                    candidate_centres::table.filter(candidate_centres::candidate_id.eq(id)),
                )
                .execute(conn)?;
                id
            }
            None => diesel::insert_into(candidates::table)
                .values((
                    &values,
                    candidates::rpps.eq(rpps),
                    candidates::created_at.eq(now),
                ))
                .returning(candidates::id)
                .get_result(conn)?,
        };
        let wished: Vec<_> = app
            .centre_ids
            .iter()
            .map(|c| {
                (
                    candidate_centres::candidate_id.eq(candidate_id),
                    candidate_centres::centre_id.eq(*c),
                )
            })
            .collect();
        diesel::insert_into(candidate_centres::table)
            .values(&wished)
            .on_conflict_do_nothing()
            .execute(conn)?;

        // An open application for the same position is completed rather than duplicated.
        let open_codes: Vec<Stage> = Stage::ALL.iter().copied().filter(|s| s.is_open()).collect();
        let mut open_query = applications::table
            .filter(applications::candidate_id.eq(candidate_id))
            .filter(applications::stage.eq_any(open_codes))
            .into_boxed();
        open_query = match app.position_id {
            Some(p) => open_query.filter(applications::position_id.eq(p)),
            None => open_query.filter(applications::position_id.is_null()),
        };
        let open: Option<(i64, String)> = open_query
            .order(applications::id.desc())
            .select((applications::id, applications::message))
            .first(conn)
            .optional()?;

        let recorded = match open {
            Some((application_id, old_message)) => {
                let new_message = app.message.as_str();
                let message = if new_message.is_empty() || old_message.contains(new_message) {
                    old_message
                } else if old_message.is_empty() {
                    new_message.to_owned()
                } else {
                    format!(
                        "{old_message}\n\n— Complément du {} —\n{new_message}",
                        now.format("%d/%m/%Y")
                    )
                };
                diesel::update(applications::table.find(application_id))
                    .set((
                        applications::message.eq(message),
                        applications::updated_at.eq(now),
                    ))
                    .execute(conn)?;
                Recorded::Completed {
                    application_id,
                    candidate_id,
                }
            }
            None => {
                // Attribution: the campaign whose tracked link the doctor followed.
                let (delivery_id, campaign_id) = match app.delivery_id {
                    Some(d) => match crate::campaigns::runs::campaign_of_delivery(conn, d)? {
                        Some(c) => (Some(d), Some(c)),
                        None => (None, None),
                    },
                    None => (None, None),
                };
                let application_id: i64 = diesel::insert_into(applications::table)
                    .values((
                        applications::candidate_id.eq(candidate_id),
                        applications::position_id.eq(app.position_id),
                        applications::stage.eq(Stage::New),
                        applications::stage_entered_at.eq(now),
                        applications::message.eq(app.message.as_str()),
                        applications::heard_from.eq(app.heard_from),
                        applications::utm_source.eq(&app.utm.source),
                        applications::utm_medium.eq(&app.utm.medium),
                        applications::utm_campaign.eq(&app.utm.campaign),
                        applications::delivery_id.eq(delivery_id),
                        applications::campaign_id.eq(campaign_id),
                        applications::submission_key.eq(app.submission_key),
                        applications::privacy_notice_version.eq(&app.privacy_notice_version),
                        applications::privacy_accepted_at.eq(now),
                        applications::created_at.eq(now),
                        applications::updated_at.eq(now),
                    ))
                    .returning(applications::id)
                    .get_result(conn)?;
                diesel::insert_into(stage_history::table)
                    .values((
                        stage_history::application_id.eq(application_id),
                        stage_history::from_stage.eq(None::<Stage>),
                        stage_history::to_stage.eq(Stage::New),
                        stage_history::note.eq("Candidature reçue par le formulaire en ligne"),
                        stage_history::created_at.eq(now),
                    ))
                    .execute(conn)?;
                Recorded::New {
                    application_id,
                    candidate_id,
                    merged: existing.is_some(),
                }
            }
        };

        if let Some(cv) = cv {
            diesel::insert_into(documents::table)
                .values((
                    documents::candidate_id.eq(candidate_id),
                    documents::application_id.eq(recorded.application_id()),
                    documents::kind.eq(DocumentKind::Cv),
                    documents::original_name.eq(&cv.original_name),
                    documents::storage_key.eq(&cv.storage_key),
                    documents::content_type.eq("application/pdf"),
                    documents::size_bytes.eq(cv.size_bytes),
                    documents::sha256.eq(&cv.sha256),
                    documents::created_at.eq(now),
                ))
                .execute(conn)?;
        }

        let mut queued = emails(recorded)?;
        for email in &mut queued {
            email.candidate_id = Some(candidate_id);
            email.application_id = Some(recorded.application_id());
        }
        outbox::enqueue(conn, &queued)?;
        Ok(recorded)
    })
}

/// What the confirmation page shows of an application.
#[derive(Debug, Clone, Queryable)]
pub struct ReceivedSummary {
    pub application_id: i64,
    pub created_at: DateTime<Utc>,
    pub civility: Civility,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub specialty_label: String,
}

/// The application recorded under a submission key, if any.
pub fn find_by_submission_key(
    conn: &mut PgConnection,
    key: Uuid,
) -> QueryResult<Option<ReceivedSummary>> {
    use crate::db::schema::specialties;
    applications::table
        .inner_join(candidates::table.inner_join(specialties::table))
        .filter(applications::submission_key.eq(key))
        .select((
            applications::id,
            applications::created_at,
            candidates::civility,
            candidates::first_name,
            candidates::last_name,
            candidates::email,
            specialties::label,
        ))
        .first(conn)
        .optional()
}

#[cfg(test)]
mod tests {
    use super::lock_key;

    #[test]
    fn lock_keys_depend_on_namespace_and_value() {
        assert_eq!(lock_key("email", "a@b.fr"), lock_key("email", "a@b.fr"));
        assert_ne!(lock_key("email", "a@b.fr"), lock_key("phone", "a@b.fr"));
    }
}
