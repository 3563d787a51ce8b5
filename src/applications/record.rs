//! Recording a valid application: inside the caller's transaction, find or create the candidate
//! (merging on the e-mail on file, flagging a shared RPPS number or phone), record or complete
//! the application with its first stage entry, the CV and what the submission typed.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use sha2::{Digest, Sha256};

use super::fields::NewApplication;
use super::submissions::Submitted;
use crate::db::enums::{Civility, DocumentKind, Situation, Stage, WorkingTime};
use crate::db::schema::{
    applications, candidate_centres, candidates, documents, stage_history, submissions,
};
use crate::documents::StoredFile;
use crate::domain::Rpps;

/// What recording an application did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// A new application; `merged` when it joined the record with the same e-mail on file,
    /// `suspected_duplicate` when it made a new record that shares an RPPS number or a phone
    /// with another one (kept for a recruiter to compare and merge).
    New {
        application_id: i64,
        candidate_id: i64,
        merged: bool,
        suspected_duplicate: bool,
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

    /// A new application (counted in the metrics).
    pub fn is_new(self) -> bool {
        matches!(self, Recorded::New { .. })
    }

    /// Something was recorded and e-mails were queued: the mail worker is to be woken.
    pub fn queued_mail(self) -> bool {
        !matches!(self, Recorded::AlreadyReceived { .. })
    }
}

#[derive(Insertable)]
#[diesel(table_name = candidates)]
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

/// How a submission met the records already held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchKind {
    /// Nobody known: a new record.
    NewRecord,
    /// The e-mail typed is the one on file: the application joins that record, which the
    /// submission does not change.
    SameEmail,
    /// A new record that shares an RPPS number or a phone with another record, with another
    /// e-mail: a recruiter compares them and decides (staff merge).
    PossibleDuplicate,
}

impl MatchKind {
    pub fn code(self) -> &'static str {
        match self {
            MatchKind::NewRecord => "nouvelle_fiche",
            MatchKind::SameEmail => "meme_courriel",
            MatchKind::PossibleDuplicate => "doublon_possible",
        }
    }
}

/// The record with this e-mail on file (case-insensitive), if any, that this submission may
/// join: not anonymised, and without an RPPS number other than the one typed (two RPPS numbers
/// are two doctors). Returns its id and the address as it is on file.
pub fn record_with_email(
    conn: &mut PgConnection,
    email_normalized: &str,
    rpps: Option<&str>,
) -> QueryResult<Option<(i64, String)>> {
    let mut query = candidates::table
        .filter(candidates::email_normalized.eq(email_normalized.to_owned()))
        .filter(candidates::anonymised_at.is_null())
        .into_boxed();
    if let Some(r) = rpps {
        query = query.filter(
            candidates::rpps
                .is_null()
                .or(candidates::rpps.eq(r.to_owned())),
        );
    }
    query
        .order((candidates::last_activity_at.desc(), candidates::id.desc()))
        .select((candidates::id, candidates::email))
        .first(conn)
        .optional()
}

/// Whether another record holds this RPPS number or this phone: the new record is then a
/// possible duplicate for a recruiter to look at.
fn shares_rpps_or_phone(
    conn: &mut PgConnection,
    rpps: Option<&str>,
    phone_e164: &str,
) -> QueryResult<(bool, bool)> {
    let rpps_taken = match rpps {
        Some(r) => diesel::select(diesel::dsl::exists(
            candidates::table.filter(candidates::rpps.eq(r.to_owned())),
        ))
        .get_result(conn)?,
        None => false,
    };
    let phone_known: bool = diesel::select(diesel::dsl::exists(
        candidates::table
            .filter(candidates::phone_normalized.eq(phone_e164.to_owned()))
            .filter(candidates::anonymised_at.is_null()),
    ))
    .get_result(conn)?;
    Ok((rpps_taken, phone_known))
}

/// What [`record`] did, with the address the confirmation goes to: the one on file when the
/// application joined a known record, none when this submission was already recorded.
pub(super) struct Outcome {
    pub recorded: Recorded,
    pub recipient: Option<String>,
}

/// Records the application. Runs inside the caller's transaction (the merge keys' advisory
/// locks are held until it ends): [`super::submit`] opens it and queues the e-mails in it.
///
/// An anonymous submission never changes an existing record: it joins the record whose e-mail on
/// file is the one typed (the record itself untouched: what the submission proposes is kept in
/// `submissions`), and otherwise makes a new record, marked as a possible duplicate when it shares
/// an RPPS number or a phone with another one.
pub(super) fn record(
    conn: &mut PgConnection,
    app: &NewApplication,
    cv: Option<&StoredFile>,
    now: DateTime<Utc>,
) -> anyhow::Result<Outcome> {
    lock_merge_keys(conn, app)?;

    if let Some(application_id) = submissions::table
        .filter(submissions::submission_key.eq(app.submission_key))
        .select(submissions::application_id)
        .first::<i64>(conn)
        .optional()?
        .or(applications::table
            .filter(applications::submission_key.eq(app.submission_key))
            .select(applications::id)
            .first::<i64>(conn)
            .optional()?)
    {
        return Ok(Outcome {
            recorded: Recorded::AlreadyReceived { application_id },
            recipient: None,
        });
    }

    let rpps = app.rpps.as_ref().map(Rpps::as_str);
    let on_file = record_with_email(conn, app.email.normalized(), rpps)?;
    let (candidate_id, kind, recipient) = match on_file {
        Some((id, address)) => {
            // Only the activity date moves (it starts the retention period again).
            diesel::update(candidates::table.find(id))
                .set(candidates::last_activity_at.eq(now))
                .execute(conn)?;
            (id, MatchKind::SameEmail, address)
        }
        None => {
            let (rpps_taken, phone_known) = shares_rpps_or_phone(conn, rpps, app.phone.e164())?;
            let email_known: bool = diesel::select(diesel::dsl::exists(
                candidates::table
                    .filter(candidates::email_normalized.eq(app.email.normalized()))
                    .filter(candidates::anonymised_at.is_null()),
            ))
            .get_result(conn)?;
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
            // One RPPS number, one record: a number already held stays with its record and
            // is kept on the new one as typed, for the recruiter who compares them.
            let (own_rpps, typed_rpps) = if rpps_taken {
                (None, rpps)
            } else {
                (rpps, None)
            };
            let id: i64 = diesel::insert_into(candidates::table)
                .values((
                    &values,
                    candidates::rpps.eq(own_rpps),
                    candidates::submitted_rpps.eq(typed_rpps),
                    candidates::created_at.eq(now),
                ))
                .returning(candidates::id)
                .get_result(conn)?;
            let kind = if rpps_taken || phone_known || email_known {
                MatchKind::PossibleDuplicate
            } else {
                MatchKind::NewRecord
            };
            (id, kind, app.email.as_str().to_owned())
        }
    };
    if kind != MatchKind::SameEmail {
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
    }

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
            // The spouse question is filled in if it was left unanswered, never changed: the
            // submission is anonymous.
            let (spouse_support, spouse_field) = app.spouse.columns();
            if spouse_support.is_some() {
                diesel::update(
                    applications::table
                        .find(application_id)
                        .filter(applications::spouse_support.is_null()),
                )
                .set((
                    applications::spouse_support.eq(spouse_support),
                    applications::spouse_field.eq(spouse_field),
                ))
                .execute(conn)?;
            }
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
            // And the channel link it came by, if that link is still live.
            let channel_link_id = match app.channel_code.as_deref() {
                Some(code) => crate::campaigns::channels::live_by_code(conn, code)?.map(|l| l.id),
                None => None,
            };
            let application_id: i64 = diesel::insert_into(applications::table)
                .values((
                    applications::candidate_id.eq(candidate_id),
                    applications::position_id.eq(app.position_id),
                    applications::stage.eq(Stage::New),
                    applications::stage_entered_at.eq(now),
                    applications::message.eq(app.message.as_str()),
                    applications::spouse_support.eq(app.spouse.columns().0),
                    applications::spouse_field.eq(app.spouse.columns().1),
                    applications::heard_from.eq(app.heard_from),
                    applications::utm_source.eq(&app.utm.source),
                    applications::utm_medium.eq(&app.utm.medium),
                    applications::utm_campaign.eq(&app.utm.campaign),
                    applications::delivery_id.eq(delivery_id),
                    applications::campaign_id.eq(campaign_id),
                    applications::channel_link_id.eq(channel_link_id),
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
                merged: kind == MatchKind::SameEmail,
                suspected_duplicate: kind == MatchKind::PossibleDuplicate,
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

    let details = serde_json::to_string(&Submitted::of(app))?;
    diesel::sql_query(
        "INSERT INTO submissions \
         (submission_key, application_id, candidate_id, match_kind, details, \
          created_candidate_id, created_at) \
         VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7)",
    )
    .bind::<diesel::sql_types::Uuid, _>(app.submission_key)
    .bind::<BigInt, _>(recorded.application_id())
    .bind::<BigInt, _>(candidate_id)
    .bind::<diesel::sql_types::Text, _>(kind.code())
    .bind::<diesel::sql_types::Text, _>(details)
    .bind::<diesel::sql_types::Nullable<BigInt>, _>(
        (kind != MatchKind::SameEmail).then_some(candidate_id),
    )
    .bind::<diesel::sql_types::Timestamptz, _>(now)
    .execute(conn)?;

    Ok(Outcome {
        recorded,
        recipient: Some(recipient),
    })
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
