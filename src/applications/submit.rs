//! Submitting an application, the one use case behind the public form and the JSON API: check
//! what was typed against the lists a submission chooses from ([`check`]), then record it with
//! its e-mails queued in the same transaction ([`submit`]).

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use secrecy::ExposeSecret;
use uuid::Uuid;

use super::emails;
use super::fields::{self, NewApplication, RawApplicationForm};
use super::lists::{load_lists, FormLists};
use super::record::{record, Outcome, Recorded};
use crate::campaigns::links::{self, Purpose};
use crate::config::Settings;
use crate::documents::StoredFile;
use crate::domain::FieldErrors;
use crate::mail::outbox;
use crate::specialties::Specialty;

/// Checks what was typed against the current lists (the rules of the form, for the form and the
/// JSON API alike), and attributes the application to the campaign whose signed link it carries.
pub fn check(
    raw: &RawApplicationForm,
    settings: &Settings,
    specialties: &[Specialty],
    lists: &FormLists,
    today: NaiveDate,
) -> Result<NewApplication, FieldErrors> {
    let specialty_codes: Vec<String> = specialties.iter().map(|s| s.code.clone()).collect();
    let centre_ids: Vec<i64> = lists.centres.iter().map(|c| c.id).collect();
    let position_ids: Vec<i64> = lists.positions.iter().map(|p| p.id).collect();
    let mut application = fields::validate(
        raw,
        &fields::Choices {
            specialty_codes: &specialty_codes,
            centre_ids: &centre_ids,
            published_position_ids: &position_ids,
            privacy_notice_version: &settings.privacy.notice_version,
            today,
        },
    )?;
    let secret = settings.security.secret_key.expose_secret().as_bytes();
    application.delivery_id = links::verify(secret, Purpose::Click, &raw.suivi);
    application.channel_code = crate::campaigns::channels::well_formed_code(&raw.canal);
    Ok(application)
}

/// Records a checked application (merging the candidate, completing an open application, once
/// per submission key) with the confirmation and the recruiters' notification queued in the
/// same transaction. The caller wakes the mail worker when [`Recorded::queued_mail`].
pub fn submit(
    conn: &mut PgConnection,
    settings: &Settings,
    specialties: &[Specialty],
    lists: &FormLists,
    application: &NewApplication,
    cv: Option<&StoredFile>,
    now: DateTime<Utc>,
) -> anyhow::Result<Recorded> {
    let data = emails::context(settings, specialties, application, lists);
    let recorded = conn.transaction(|conn| {
        let Outcome {
            recorded,
            recipient,
        } = record(conn, application, cv, now)?;
        if let Some(recipient) = recipient {
            let queued = emails::application_emails(recorded, data, &recipient, settings, now)?;
            outbox::enqueue(conn, &queued)?;
        }
        anyhow::Ok(recorded)
    })?;
    if recorded.queued_mail() {
        tracing::info!(application_id = recorded.application_id(), outcome = ?recorded, "application recorded");
    }
    Ok(recorded)
}

/// The whole submission of an application without a CV (the JSON API): the lists read, what
/// was typed checked against them, then recorded as by [`submit`]: the submission's key and
/// what was recorded, or the fields to correct.
pub fn check_and_submit(
    conn: &mut PgConnection,
    settings: &Settings,
    specialties: &[Specialty],
    raw: &RawApplicationForm,
    now: DateTime<Utc>,
) -> anyhow::Result<Result<(Uuid, Recorded), FieldErrors>> {
    let lists = load_lists(conn)?;
    let application = match check(raw, settings, specialties, &lists, now.date_naive()) {
        Ok(application) => application,
        Err(errors) => return Ok(Err(errors)),
    };
    let recorded = submit(conn, settings, specialties, &lists, &application, None, now)?;
    Ok(Ok((application.submission_key, recorded)))
}
