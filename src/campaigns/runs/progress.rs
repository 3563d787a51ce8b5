//! The figures shown on a campaign's page: each run's progress and what the campaign yielded.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text, Timestamptz};

use super::campaign::{Campaign, Run};
use crate::db::enums::{DeliveryStatus, RunStatus};
use crate::db::schema::campaign_runs;

/// Where a run stands, for the live progress bar.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunProgress {
    pub run_id: i64,
    pub scheduled_for: DateTime<Utc>,
    pub status: RunStatus,
    pub recipients: i64,
    pub sent: i64,
    pub failed: i64,
    pub skipped: i64,
    /// Contacts of the lists known only by post, left out (« sans adresse électronique »).
    pub without_email: i64,
    pub cancelled: i64,
    pub pending: i64,
    /// Sent messages that came back as undeliverable (bounces read from the mailbox).
    pub bounced: i64,
    /// Messages sent during the last minute.
    pub sent_last_minute: i64,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// When the pending messages should be out at the current pace.
    pub estimated_end: Option<DateTime<Utc>>,
}

#[derive(QueryableByName)]
struct RunCounts {
    #[diesel(sql_type = BigInt)]
    run_id: i64,
    #[diesel(sql_type = BigInt)]
    sent: i64,
    #[diesel(sql_type = BigInt)]
    failed: i64,
    #[diesel(sql_type = BigInt)]
    skipped: i64,
    #[diesel(sql_type = BigInt)]
    cancelled: i64,
    #[diesel(sql_type = BigInt)]
    pending: i64,
    #[diesel(sql_type = BigInt)]
    bounced: i64,
    #[diesel(sql_type = BigInt)]
    sent_last_minute: i64,
}

/// A campaign, the figures of its runs and its outcome (the API's statistics); `None` when there
/// is no such campaign.
pub fn statistics(
    conn: &mut PgConnection,
    campaign_id: i64,
    now: DateTime<Utc>,
) -> QueryResult<Option<(Campaign, Vec<RunProgress>, Outcome)>> {
    let Some(campaign) = super::campaign::find(conn, campaign_id)? else {
        return Ok(None);
    };
    let runs = progress(conn, campaign_id, campaign.rate_per_minute, now)?;
    let outcome = outcome(conn, campaign_id)?;
    Ok(Some((campaign, runs, outcome)))
}

/// Every run of a campaign, newest first, with its counts.
pub fn progress(
    conn: &mut PgConnection,
    campaign_id: i64,
    rate_per_minute: i32,
    now: DateTime<Utc>,
) -> QueryResult<Vec<RunProgress>> {
    let runs: Vec<Run> = campaign_runs::table
        .filter(campaign_runs::campaign_id.eq(campaign_id))
        .select(Run::as_select())
        .order(campaign_runs::scheduled_for.desc())
        .load(conn)?;
    let counts: Vec<RunCounts> = diesel::sql_query(
        "SELECT d.run_id, \
            count(*) FILTER (WHERE d.status = $3) AS sent, \
            count(*) FILTER (WHERE d.status = $4) AS failed, \
            count(*) FILTER (WHERE d.status = $5) AS skipped, \
            count(*) FILTER (WHERE d.status = $6) AS cancelled, \
            count(*) FILTER (WHERE d.status = $7) AS pending, \
            count(*) FILTER (WHERE d.bounced_at IS NOT NULL) AS bounced, \
            count(*) FILTER (WHERE d.status = $3 AND d.sent_at > $2) AS sent_last_minute \
         FROM deliveries d JOIN campaign_runs r ON r.id = d.run_id \
         WHERE r.campaign_id = $1 GROUP BY d.run_id",
    )
    .bind::<BigInt, _>(campaign_id)
    .bind::<Timestamptz, _>(now - Duration::minutes(1))
    .bind::<Text, _>(DeliveryStatus::Sent)
    .bind::<Text, _>(DeliveryStatus::Failed)
    .bind::<Text, _>(DeliveryStatus::Skipped)
    .bind::<Text, _>(DeliveryStatus::Cancelled)
    .bind::<Text, _>(DeliveryStatus::Pending)
    .load(conn)?;
    Ok(runs
        .into_iter()
        .map(|run| {
            let c = counts.iter().find(|c| c.run_id == run.id);
            let get = |f: fn(&RunCounts) -> i64| c.map_or(0, f);
            let pending = get(|c| c.pending);
            let last_minute = get(|c| c.sent_last_minute);
            let pace = if last_minute > 0 {
                last_minute.min(i64::from(rate_per_minute))
            } else {
                i64::from(rate_per_minute)
            };
            let estimated_end = (run.status == RunStatus::Sending && pending > 0 && pace > 0)
                .then(|| now + Duration::seconds(pending * 60 / pace));
            RunProgress {
                run_id: run.id,
                scheduled_for: run.scheduled_for,
                status: run.status,
                recipients: i64::from(run.recipients),
                sent: get(|c| c.sent),
                failed: get(|c| c.failed),
                skipped: get(|c| c.skipped),
                without_email: i64::from(run.without_email),
                cancelled: get(|c| c.cancelled),
                pending,
                bounced: get(|c| c.bounced),
                sent_last_minute: last_minute,
                started_at: run.started_at,
                finished_at: run.finished_at,
                estimated_end,
            }
        })
        .collect())
}

/// What a campaign yielded, all runs together.
#[derive(Debug, Clone, Default, serde::Serialize, QueryableByName)]
pub struct Outcome {
    #[diesel(sql_type = BigInt)]
    pub sent: i64,
    #[diesel(sql_type = BigInt)]
    pub failed: i64,
    #[diesel(sql_type = BigInt)]
    pub unsubscribed: i64,
    /// Messages that came back undeliverable (bounces read from the mailbox).
    #[diesel(sql_type = BigInt)]
    pub bounced: i64,
    /// Visits of the tracked links in all (a recipient's return visits included).
    #[diesel(sql_type = BigInt)]
    pub clicks: i64,
    /// Recipients who clicked at least once (what the reports count: first clicks).
    #[diesel(sql_type = BigInt)]
    pub clickers: i64,
    #[diesel(sql_type = BigInt)]
    pub applications: i64,
    #[diesel(sql_type = BigInt)]
    pub recruitments: i64,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub last_sent_at: Option<DateTime<Utc>>,
}

/// What a campaign brought. A recruitment is a placement that has started by today (Paris), as
/// on /rapports and /capacite: a start to come is not counted yet.
pub fn outcome(conn: &mut PgConnection, campaign_id: i64) -> QueryResult<Outcome> {
    diesel::sql_query(
        "SELECT \
           (SELECT count(*) FROM deliveries d JOIN campaign_runs r ON r.id = d.run_id \
              WHERE r.campaign_id = $1 AND d.status = $2) AS sent, \
           (SELECT count(*) FROM deliveries d JOIN campaign_runs r ON r.id = d.run_id \
              WHERE r.campaign_id = $1 AND d.status = $3) AS failed, \
           (SELECT count(*) FROM deliveries d JOIN campaign_runs r ON r.id = d.run_id \
              WHERE r.campaign_id = $1 AND d.unsubscribed_at IS NOT NULL) AS unsubscribed, \
           (SELECT count(*) FROM deliveries d JOIN campaign_runs r ON r.id = d.run_id \
              WHERE r.campaign_id = $1 AND d.bounced_at IS NOT NULL) AS bounced, \
           (SELECT coalesce(sum(k.clicks), 0) FROM link_clicks k \
              JOIN deliveries d ON d.id = k.delivery_id \
              JOIN campaign_runs r ON r.id = d.run_id WHERE r.campaign_id = $1) AS clicks, \
           (SELECT count(*) FROM link_clicks k JOIN deliveries d ON d.id = k.delivery_id \
              JOIN campaign_runs r ON r.id = d.run_id WHERE r.campaign_id = $1) AS clickers, \
           (SELECT count(*) FROM applications a WHERE a.campaign_id = $1) AS applications, \
           (SELECT count(*) FROM applications a WHERE a.campaign_id = $1 \
              AND EXISTS (SELECT 1 FROM placements p \
                WHERE p.application_id = a.id AND p.started_on <= $4)) \
              AS recruitments, \
           (SELECT max(d.sent_at) FROM deliveries d JOIN campaign_runs r ON r.id = d.run_id \
              WHERE r.campaign_id = $1) AS last_sent_at",
    )
    .bind::<BigInt, _>(campaign_id)
    .bind::<Text, _>(DeliveryStatus::Sent)
    .bind::<Text, _>(DeliveryStatus::Failed)
    .bind::<diesel::sql_types::Date, _>(crate::domain::paris_today())
    .get_result(conn)
}
