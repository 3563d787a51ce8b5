//! The daily retention job: anonymises candidates kept too long, and offers pool candidates to
//! renew their consent before it ends.

use chrono::{DateTime, Months, NaiveDate, Utc};
use diesel::dsl::{exists, not};
use diesel::prelude::*;
use serde_json::json;

use super::erasure::{anonymise, remove_files};
use super::links::{candidate_email, link_url_until};
use crate::config::Settings;
use crate::db::enums::{OfferStatus, Stage};
use crate::db::schema::{applications, candidates, offers, placements, privacy_runs};
use crate::mail::outbox;
use crate::staff::audit::audit;

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
        let forgotten = crate::mailbox::unrecognised::purge(
            conn,
            now,
            settings.inbound.unrecognised_retention_days,
        )?;
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
                 {} document(s) supprimé(s), {} proposition(s) de renouveler l'accord envoyée(s), \
                 {} courriel(s) non reconnu(s) oublié(s) après {} jours",
                report.anonymised_retention,
                settings.privacy.retention_years,
                report.anonymised_without_consent,
                settings.privacy.no_consent_months,
                report.documents_deleted,
                report.consent_reminders,
                forgotten,
                settings.inbound.unrecognised_retention_days
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
    type Due = (
        i64,
        String,
        String,
        String,
        DateTime<Utc>,
        String,
        Option<String>,
    );
    let due: Vec<Due> = candidates::table
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
            candidates::situation,
            candidates::rpps,
        ))
        .for_update()
        .skip_locked()
        .load(conn)?;
    let mut queued = Vec::new();
    for (id, first_name, last_name, email, last_activity, situation, rpps) in &due {
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
            "salutation": crate::domain::salutation(first_name, last_name, situation, rpps.as_deref()),
            "ends_on": ends.with_timezone(&chrono_tz::Europe::Paris).format("%d/%m/%Y").to_string(),
            "data_url": link_url_until(settings, *id, link_until),
        });
        queued.push(candidate_email(
            settings,
            "consent_renewal",
            email,
            *id,
            &data,
        )?);
    }
    outbox::enqueue(conn, &queued)?;
    let ids: Vec<i64> = due.iter().map(|d| d.0).collect();
    diesel::update(candidates::table.filter(candidates::id.eq_any(&ids)))
        .set(candidates::consent_reminder_sent_at.eq(now))
        .execute(conn)?;
    Ok(queued.len())
}
