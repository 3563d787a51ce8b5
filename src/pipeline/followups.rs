//! Pool candidates to contact again, and the recruiters' daily digest.

use chrono::{NaiveDate, Utc};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::json;

use crate::config::Settings;
use crate::db::enums::Stage;
use crate::db::schema::{applications, candidates, scheduled_runs, specialties};
use crate::mail::new_message_id;
use crate::mail::outbox::{self, NewOutboundEmail};
use crate::templates;

#[derive(Debug, Clone, Queryable, Serialize)]
pub struct FollowUp {
    pub application_id: i64,
    pub candidate_id: i64,
    pub first_name: String,
    pub last_name: String,
    pub specialty: String,
    pub follow_up_on: NaiveDate,
}

/// The follow-up date of a pool application: the one given when it last entered the pool.
const FOLLOW_UP_ON: &str = "(SELECT h.follow_up_on FROM stage_history h \
     WHERE h.application_id = applications.id AND h.to_stage = 'vivier' \
     ORDER BY h.created_at DESC, h.id DESC LIMIT 1)";

/// Pool applications whose follow-up date is `today` or past, oldest first.
pub fn due(conn: &mut PgConnection, today: NaiveDate) -> QueryResult<Vec<FollowUp>> {
    use diesel::dsl::sql;
    use diesel::sql_types::{Bool, Date};
    applications::table
        .inner_join(candidates::table.inner_join(specialties::table))
        .filter(applications::stage.eq(Stage::Pool))
        .filter(sql::<Bool>(&format!("{FOLLOW_UP_ON} <= ")).bind::<Date, _>(today))
        .select((
            applications::id,
            candidates::id,
            candidates::first_name,
            candidates::last_name,
            specialties::label,
            sql::<Date>(FOLLOW_UP_ON),
        ))
        .order(sql::<Date>(FOLLOW_UP_ON).asc())
        .load(conn)
}

/// Claims a job occurrence: true for the one caller (instance, tick) that gets to run it.
pub fn claim_run(conn: &mut PgConnection, job: &str, run_key: &str) -> QueryResult<bool> {
    diesel::insert_into(scheduled_runs::table)
        .values((
            scheduled_runs::job.eq(job),
            scheduled_runs::run_key.eq(run_key),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .map(|n| n == 1)
}

/// Queues the daily digest for `today` to every address in `recruiters.notify`, once per day
/// whatever the number of instances. Returns how many e-mails were queued (0 when another
/// instance or tick already did it, or when there is nothing to tell).
pub fn queue_daily_digest(
    conn: &mut PgConnection,
    settings: &Settings,
    today: NaiveDate,
) -> anyhow::Result<usize> {
    conn.transaction(|conn| {
        if !claim_run(conn, "daily_digest", &today.to_string())? {
            return Ok(0);
        }
        let follow_ups = due(conn, today)?;
        let since = Utc::now() - chrono::Duration::days(1);
        let new_applications: i64 = applications::table
            .filter(applications::created_at.gt(since))
            .count()
            .get_result(conn)?;
        if settings.recruiters.notify.is_empty() || (follow_ups.is_empty() && new_applications == 0)
        {
            return Ok(0);
        }
        let data = json!({
            "org": settings.organisation,
            "public_url": settings.public_base(),
            "day": today.format("%d/%m/%Y").to_string(),
            "follow_ups": follow_ups.iter().map(|f| json!({
                "name": format!("{} {}", f.first_name, f.last_name),
                "specialty": f.specialty,
                "since": f.follow_up_on.format("%d/%m/%Y").to_string(),
                "candidate_id": f.candidate_id,
            })).collect::<Vec<_>>(),
            "follow_up_count": follow_ups.len(),
            "new_applications": new_applications,
        });
        let rendered = templates::global()
            .render_email("daily_digest", &data)
            .map_err(|e| anyhow::anyhow!("rendering the daily digest: {e}"))?;
        let emails: Vec<NewOutboundEmail> = settings
            .recruiters
            .notify
            .iter()
            .map(|to| {
                NewOutboundEmail::new(
                    "daily_digest",
                    to.trim(),
                    rendered.clone(),
                    new_message_id(&settings.mail_domain()),
                )
            })
            .collect();
        outbox::enqueue(conn, &emails)?;
        Ok(emails.len())
    })
}
