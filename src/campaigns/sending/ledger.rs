//! The delivery ledger's SQL: what the senders' tasks ([`super::worker`]) read and write.
//!
//! A connection task claims a batch of deliveries of a sending run in one short transaction:
//! the pending ones among the next ids past the run's claim cursor, or, when the run's recheck
//! time has come, those due again below it (retries, ended leases: at-least-once). The claim
//! sets each row's lease, `locked_until`, a column outside every index, so that the claim's
//! update and the outcome's are HOT. The recorder writes every outcome that arrived meanwhile
//! in one UPDATE ([`record`]); claimed but unsent deliveries go back to the queue with
//! [`release`] (lease cleared, the claim's attempt taken back).
//!
//! Pacing holds across instances: each run (and the relay, when capped) has a `next_slot_at`
//! in PostgreSQL that every claim moves forward by the time its messages take at the rate.
//!
//! The claims and the outcomes' UPDATE are hot and rely on partial indexes
//! (`deliveries_pending_idx`, `campaign_runs_sending_idx`): their status codes stay written in
//! the SQL, checked against `db::enums` by the test in `campaigns::sql_codes`.

use std::time::Duration as StdDuration;

use anyhow::Context;
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Double, Int4, Nullable, Text, Timestamptz};

use crate::campaigns::runs::lifecycle;
use crate::campaigns::suppression;
use crate::db::enums::{DeliveryStatus, RunStatus, SuppressionReason};
use crate::db::schema::campaign_runs;
use crate::mail::retry::RetryPolicy;

// ---------------------------------------------------------------------------------------------
// Claims

/// One recipient to send to, with the contact's values for the template.
#[derive(Debug, Clone, QueryableByName)]
pub struct ClaimedDelivery {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Text)]
    pub email: String,
    #[diesel(sql_type = Int4)]
    pub attempts: i32,
    #[diesel(sql_type = Text)]
    pub first_name: String,
    #[diesel(sql_type = Text)]
    pub last_name: String,
    #[diesel(sql_type = Text)]
    pub city: String,
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = Text)]
    pub organisation: String,
}

/// A claimed batch: deliveries of one run, and what is needed to write to them.
#[derive(Debug, Clone, QueryableByName)]
pub struct RunContext {
    #[diesel(sql_type = BigInt)]
    pub run_id: i64,
    #[diesel(sql_type = BigInt)]
    pub campaign_id: i64,
    #[diesel(sql_type = Timestamptz)]
    next_slot_at: DateTime<Utc>,
    #[diesel(sql_type = BigInt)]
    first_delivery_id: i64,
    #[diesel(sql_type = BigInt)]
    last_delivery_id: i64,
    #[diesel(sql_type = BigInt)]
    claim_cursor: i64,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    recheck_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Int4)]
    pub rate_per_minute: i32,
    #[diesel(sql_type = Text)]
    pub campaign_name: String,
    #[diesel(sql_type = Text)]
    pub sender_name: String,
    #[diesel(sql_type = Text)]
    pub sender_email: String,
    #[diesel(sql_type = BigInt)]
    pub template_id: i64,
    #[diesel(sql_type = Timestamptz)]
    pub template_updated_at: DateTime<Utc>,
    #[diesel(sql_type = Text)]
    pub subject: String,
    #[diesel(sql_type = Text)]
    pub body_text: String,
    #[diesel(sql_type = Text)]
    pub body_html: String,
    #[diesel(sql_type = Text)]
    pub preheader: String,
    /// This installation's random part, for Message-IDs.
    #[diesel(sql_type = Text)]
    pub installation: String,
}

#[derive(Debug)]
pub enum Claim {
    Work(Box<RunContext>, Vec<ClaimedDelivery>),
    /// Runs are sending but none may be claimed now (pacing, backoff, another worker).
    Wait(StdDuration),
    /// Nothing is sending.
    Idle,
}

/// The relay's shared per-minute cap, when there is one.
#[derive(Debug, Clone)]
pub struct RelayCap {
    pub key: String,
    pub per_minute: u32,
}

fn per_second(per_minute: i64) -> i64 {
    (per_minute / 60).max(1)
}

fn slot_seconds(messages: usize, per_minute: i64) -> f64 {
    messages as f64 * 60.0 / per_minute.max(1) as f64
}

/// Claims up to `batch` due deliveries of one sending run for `lease_seconds`, respecting the
/// run's rate and the relay's cap. Deliveries whose address was suppressed (or whose contact
/// left) since the run started are set aside here, at claim time.
pub fn claim(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    batch: i64,
    lease_seconds: i64,
    relay: Option<&RelayCap>,
) -> QueryResult<Claim> {
    conn.transaction(|conn| {
        diesel::sql_query("SET LOCAL synchronous_commit = off").execute(conn)?;
        let picked: Option<RunContext> = diesel::sql_query(
            "SELECT r.id AS run_id, r.campaign_id, r.next_slot_at, r.first_delivery_id, \
                    r.last_delivery_id, r.claim_cursor, r.recheck_at, c.rate_per_minute, \
                    c.name AS campaign_name, c.sender_name, c.sender_email, \
                    t.id AS template_id, t.updated_at AS template_updated_at, \
                    t.subject, t.body_text, t.body_html, t.preheader, \
                    installation_part() AS installation \
             FROM campaign_runs r \
             JOIN campaigns c ON c.id = r.campaign_id \
             JOIN mail_templates t ON t.id = c.template_id \
             WHERE r.status = 'envoi' \
             ORDER BY r.next_slot_at, r.id \
             LIMIT 1 FOR UPDATE OF r SKIP LOCKED",
        )
        .get_result(conn)
        .optional()?;
        let Some(run) = picked else {
            let sending: bool = diesel::select(diesel::dsl::exists(
                campaign_runs::table.filter(campaign_runs::status.eq(RunStatus::Sending)),
            ))
            .get_result(conn)?;
            return Ok(if sending {
                Claim::Wait(StdDuration::from_millis(20))
            } else {
                Claim::Idle
            });
        };
        if run.next_slot_at > now {
            return Ok(Claim::Wait(
                (run.next_slot_at - now)
                    .to_std()
                    .unwrap_or(StdDuration::from_millis(10)),
            ));
        }
        let mut limit = batch.min(per_second(i64::from(run.rate_per_minute)));
        if let Some(cap) = relay.filter(|c| c.per_minute > 0) {
            #[derive(QueryableByName)]
            struct Slot {
                #[diesel(sql_type = Timestamptz)]
                next_slot_at: DateTime<Utc>,
            }
            diesel::sql_query(
                "INSERT INTO relay_pacing (relay, next_slot_at) VALUES ($1, $2) \
                 ON CONFLICT DO NOTHING",
            )
            .bind::<Text, _>(&cap.key)
            .bind::<Timestamptz, _>(now)
            .execute(conn)?;
            let slot: Slot = diesel::sql_query(
                "SELECT next_slot_at FROM relay_pacing WHERE relay = $1 FOR UPDATE",
            )
            .bind::<Text, _>(&cap.key)
            .get_result(conn)?;
            if slot.next_slot_at > now {
                return Ok(Claim::Wait(
                    (slot.next_slot_at - now)
                        .to_std()
                        .unwrap_or(StdDuration::from_millis(10)),
                ));
            }
            limit = limit.min(per_second(i64::from(cap.per_minute)));
        }

        // Which deliveries: those due again at or below the cursor when the run's recheck time
        // has come (retries, ended leases, deliveries given back), else the next fresh ones
        // above it. See migration 000016.
        let lease_until = now + Duration::seconds(lease_seconds);
        // The run's recheck time as this claim leaves it.
        let mut recheck = run.recheck_at;
        let mut leased = Vec::new();
        if recheck.is_some_and(|t| t <= now) {
            leased = lease(conn, &run, Pick::DueAgain, now, limit, lease_until)?;
            // The sweep saw every delivery pending below the cursor: the next one is due at
            // the earliest of their times (its own leases included), unless it stopped at the
            // limit, when more may be due now.
            recheck = if leased.len() as i64 >= limit {
                Some(now)
            } else {
                next_due(conn, &run)?
            };
            diesel::sql_query("UPDATE campaign_runs SET recheck_at = $2 WHERE id = $1")
                .bind::<BigInt, _>(run.run_id)
                .bind::<Nullable<Timestamptz>, _>(recheck)
                .execute(conn)?;
        }
        if leased.is_empty() && run.claim_cursor < run.last_delivery_id {
            // The next `limit` ids: every delivery of the run pending among them is leased.
            let upto = run
                .claim_cursor
                .saturating_add(limit)
                .min(run.last_delivery_id);
            leased = lease(conn, &run, Pick::Fresh(upto), now, limit, lease_until)?;
            // Past the cursor now, under a lease that may end without an outcome.
            diesel::sql_query(
                "UPDATE campaign_runs SET claim_cursor = greatest(claim_cursor, $2), \
                     recheck_at = least(coalesce(recheck_at, $3), $3) WHERE id = $1",
            )
            .bind::<BigInt, _>(run.run_id)
            .bind::<BigInt, _>(upto)
            .bind::<Timestamptz, _>(lease_until)
            .execute(conn)?;
            recheck = Some(recheck.map_or(lease_until, |t| t.min(lease_until)));
        }

        if leased.is_empty() {
            // Nothing due: finished, or waiting for leases and retries. Let other runs go first.
            match recheck {
                None => {
                    lifecycle::finish_completed_runs(conn, now)?;
                }
                Some(due) => {
                    let next = due.min(now + Duration::seconds(1));
                    diesel::sql_query("UPDATE campaign_runs SET next_slot_at = $2 WHERE id = $1")
                        .bind::<BigInt, _>(run.run_id)
                        .bind::<Timestamptz, _>(next)
                        .execute(conn)?;
                }
            }
            return Ok(Claim::Wait(StdDuration::from_millis(10)));
        }
        let n = leased.len();

        // Suppression is checked again now: an address unsubscribed mid-run is not mailed.
        let (suppressed, items): (Vec<Leased>, Vec<Leased>) =
            leased.into_iter().partition(|l| l.suppressed);
        if !suppressed.is_empty() {
            let ids: Vec<i64> = suppressed.iter().map(|l| l.item.id).collect();
            diesel::sql_query(
                "UPDATE deliveries d SET status = $3, locked_until = NULL, updated_at = $2, \
                     last_error = 'adresse désinscrite ou supprimée pendant l''envoi' \
                 WHERE d.id = ANY($1)",
            )
            .bind::<Array<BigInt>, _>(&ids)
            .bind::<Timestamptz, _>(now)
            .bind::<Text, _>(DeliveryStatus::Skipped)
            .execute(conn)?;
        }
        let items: Vec<ClaimedDelivery> = items.into_iter().map(|l| l.item).collect();

        // Move the run's slot (and the relay's) by the time these messages take at the rate.
        diesel::sql_query(
            "UPDATE campaign_runs SET next_slot_at = \
                 greatest(next_slot_at, $2) + make_interval(secs => $3) WHERE id = $1",
        )
        .bind::<BigInt, _>(run.run_id)
        .bind::<Timestamptz, _>(now)
        .bind::<Double, _>(slot_seconds(n, i64::from(run.rate_per_minute)))
        .execute(conn)?;
        if let Some(cap) = relay.filter(|c| c.per_minute > 0) {
            diesel::sql_query(
                "UPDATE relay_pacing SET next_slot_at = \
                     greatest(next_slot_at, $2) + make_interval(secs => $3) WHERE relay = $1",
            )
            .bind::<Text, _>(&cap.key)
            .bind::<Timestamptz, _>(now)
            .bind::<Double, _>(slot_seconds(n, i64::from(cap.per_minute)))
            .execute(conn)?;
        }
        Ok(Claim::Work(Box::new(run), items))
    })
}

/// A leased delivery, with the suppression verdict of its address.
#[derive(QueryableByName)]
struct Leased {
    #[diesel(embed)]
    item: ClaimedDelivery,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    suppressed: bool,
}

#[derive(QueryableByName)]
struct NextDue {
    #[diesel(sql_type = Nullable<Timestamptz>)]
    due: Option<DateTime<Utc>>,
}

/// Where a claim takes its deliveries from.
#[derive(Clone, Copy)]
enum Pick {
    /// Above the run's cursor up to this id: never claimed yet.
    Fresh(i64),
    /// At or below the cursor: pending again and due, the longest-waiting first.
    DueAgain,
}

/// Leases up to `limit` deliveries of the run, in one statement that also returns what
/// rendering needs and whether each address is suppressed. The deliveries are reached through
/// the run's range of ids on the primary key, so the plan does not depend on the statistics
/// of a table a run has just filled.
fn lease(
    conn: &mut PgConnection,
    run: &RunContext,
    pick: Pick,
    now: DateTime<Utc>,
    limit: i64,
    lease_until: DateTime<Utc>,
) -> QueryResult<Vec<Leased>> {
    let (picked, low, high) = match pick {
        // Every pending delivery of the range (at most `limit` ids), whatever it waits for:
        // the cursor then moves past the range, and none may stay behind it unseen. Fresh rows
        // are locked by claims only, which take the run first, so a lock is rarely waited for.
        // `run_id + 0` keeps the planner on the primary key: right after a run is
        // materialised, the statistics do not know its rows yet, and the (run_id, contact_id)
        // index would be read for the whole run at each claim.
        Pick::Fresh(upto) => (
            "SELECT id FROM deliveries \
             WHERE id > $5 AND id <= $6 AND run_id + 0 = $1 AND status = 'en_attente' \
             ORDER BY id LIMIT $3 FOR UPDATE",
            run.claim_cursor,
            upto,
        ),
        Pick::DueAgain => (
            "SELECT id FROM deliveries \
             WHERE id >= $5 AND id <= $6 AND run_id = $1 AND status = 'en_attente' \
               AND next_attempt_at <= $2 AND (locked_until IS NULL OR locked_until <= $2) \
             ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED",
            run.first_delivery_id,
            run.claim_cursor,
        ),
    };
    diesel::sql_query(format!(
        "WITH picked AS ({picked}), \
         leased AS ( \
             UPDATE deliveries d SET locked_until = $4, \
                 attempts = d.attempts + 1, updated_at = $2 \
             FROM picked WHERE d.id = picked.id \
             RETURNING d.id, d.email, d.attempts, d.contact_id) \
         SELECT l.id, l.email, l.attempts, coalesce(c.first_name, '') AS first_name, \
                coalesce(c.last_name, '') AS last_name, coalesce(c.city, '') AS city, \
                coalesce(c.kind, '') AS kind, coalesce(o.name, '') AS organisation, \
                (c.id IS NULL OR c.status <> 'active' \
                 OR EXISTS (SELECT 1 FROM suppressions s WHERE s.email = lower(l.email))) \
                    AS suppressed \
         FROM leased l \
         LEFT JOIN contacts c ON c.id = l.contact_id \
         LEFT JOIN organisations o ON o.id = c.organisation_id \
         ORDER BY l.id"
    ))
    .bind::<BigInt, _>(run.run_id)
    .bind::<Timestamptz, _>(now)
    .bind::<BigInt, _>(limit)
    .bind::<Timestamptz, _>(lease_until)
    .bind::<BigInt, _>(low)
    .bind::<BigInt, _>(high)
    .load(conn)
}

/// When the next delivery pending at or below the run's cursor is due (its retry time or the
/// end of its lease); `None` when none is pending there.
fn next_due(conn: &mut PgConnection, run: &RunContext) -> QueryResult<Option<DateTime<Utc>>> {
    Ok(diesel::sql_query(
        "SELECT min(greatest(next_attempt_at, coalesce(locked_until, next_attempt_at))) AS due \
         FROM deliveries \
         WHERE id >= $2 AND id <= $3 AND run_id = $1 AND status = 'en_attente'",
    )
    .bind::<BigInt, _>(run.run_id)
    .bind::<BigInt, _>(run.first_delivery_id)
    .bind::<BigInt, _>(run.claim_cursor)
    .get_result::<NextDue>(conn)?
    .due)
}

// ---------------------------------------------------------------------------------------------
// Outcomes

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutcomeKind {
    Sent,
    /// 4xx, timeout, lost connection: try again later.
    Retry,
    /// 5xx or a message that cannot be built.
    Failed,
}

#[derive(Debug, Clone)]
pub struct Outcome {
    pub delivery_id: i64,
    pub attempts: i32,
    pub kind: OutcomeKind,
    pub smtp_code: Option<i32>,
    pub message_id: Option<String>,
    pub detail: Option<String>,
    /// The address to suppress (unknown mailbox).
    pub suppress: Option<String>,
}

/// The outcome of a delivery claimed `attempts` times, each claim ending without an outcome.
pub(super) fn abandoned_outcome(delivery_id: i64, attempts: i32) -> Outcome {
    Outcome {
        delivery_id,
        attempts,
        kind: OutcomeKind::Failed,
        smtp_code: None,
        message_id: None,
        detail: Some(format!(
            "abandonné : {} tentatives interrompues sans résultat",
            attempts - 1
        )),
        suppress: None,
    }
}

/// The outcomes' UPDATE, written as a query of its own rather than with `sql_query` so that
/// diesel prepares it once per connection and reuses it: it runs for every few messages, and
/// parsing and planning it each time cost PostgreSQL twice what executing it does.
struct RecordOutcomes {
    ids: Vec<i64>,
    statuses: Vec<&'static str>,
    codes: Vec<Option<i32>>,
    message_ids: Vec<Option<String>>,
    errors: Vec<Option<String>>,
    next: Vec<DateTime<Utc>>,
    now: DateTime<Utc>,
}

impl diesel::query_builder::QueryId for RecordOutcomes {
    type QueryId = Self;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for RecordOutcomes {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        out.push_sql(
            "UPDATE deliveries d SET status = v.status, smtp_code = v.code, \
                 message_id = coalesce(v.mid, d.message_id), last_error = v.err, \
                 sent_at = CASE WHEN v.status = 'envoye' THEN ",
        );
        out.push_bind_param::<Timestamptz, _>(&self.now)?;
        out.push_sql(
            " ELSE d.sent_at END, \
                 next_attempt_at = CASE WHEN v.status = 'en_attente' THEN v.next \
                                        ELSE d.next_attempt_at END, \
                 locked_until = NULL, updated_at = ",
        );
        out.push_bind_param::<Timestamptz, _>(&self.now)?;
        out.push_sql(" FROM unnest(");
        out.push_bind_param::<Array<BigInt>, _>(&self.ids)?;
        out.push_sql("::bigint[], ");
        out.push_bind_param::<Array<Text>, _>(&self.statuses)?;
        out.push_sql("::text[], ");
        out.push_bind_param::<Array<Nullable<Int4>>, _>(&self.codes)?;
        out.push_sql("::int4[], ");
        out.push_bind_param::<Array<Nullable<Text>>, _>(&self.message_ids)?;
        out.push_sql("::text[], ");
        out.push_bind_param::<Array<Nullable<Text>>, _>(&self.errors)?;
        out.push_sql("::text[], ");
        out.push_bind_param::<Array<Timestamptz>, _>(&self.next)?;
        out.push_sql(
            "::timestamptz[]) AS v(id, status, code, mid, err, next) \
             WHERE d.id = v.id AND (d.status = 'en_attente' OR v.status = 'envoye')",
        );
        Ok(())
    }
}

impl RunQueryDsl<PgConnection> for RecordOutcomes {}

/// Writes outcomes in one statement (plus the suppressions of unknown mailboxes).
pub fn record(
    conn: &mut PgConnection,
    outcomes: &[Outcome],
    now: DateTime<Utc>,
    retry: &RetryPolicy,
) -> QueryResult<()> {
    let mut q = RecordOutcomes {
        ids: Vec::with_capacity(outcomes.len()),
        statuses: Vec::with_capacity(outcomes.len()),
        codes: Vec::with_capacity(outcomes.len()),
        message_ids: Vec::with_capacity(outcomes.len()),
        errors: Vec::with_capacity(outcomes.len()),
        next: Vec::with_capacity(outcomes.len()),
        now,
    };
    for o in outcomes {
        q.ids.push(o.delivery_id);
        let status = match o.kind {
            OutcomeKind::Sent => DeliveryStatus::Sent,
            OutcomeKind::Retry if !retry.gives_up(o.attempts) => DeliveryStatus::Pending,
            OutcomeKind::Retry | OutcomeKind::Failed => DeliveryStatus::Failed,
        };
        q.statuses.push(status.code());
        q.codes.push(o.smtp_code);
        q.message_ids.push(o.message_id.clone());
        q.errors.push(o.detail.clone());
        q.next.push(now + retry.delay(o.attempts));
    }
    let retries: Vec<i64> = outcomes
        .iter()
        .zip(q.statuses.iter())
        .filter(|(_, status)| **status == DeliveryStatus::Pending.code())
        .map(|(o, _)| o.delivery_id)
        .collect();
    let update = |conn: &mut PgConnection| q.execute(conn);
    if retries.is_empty() && outcomes.iter().all(|o| o.suppress.is_none()) {
        // One statement: atomic without a transaction of its own (one round trip, not four).
        return update(conn).map(|_| ());
    }
    conn.transaction(|conn| {
        update(conn)?;
        if !retries.is_empty() {
            // A retry is below its run's claim cursor: the run's recheck time must not be
            // later than the retry's (the same transaction, so a sweep never misses it).
            diesel::sql_query(
                "UPDATE campaign_runs r SET recheck_at = least(coalesce(r.recheck_at, m.due), m.due) \
                 FROM (SELECT run_id, min(next_attempt_at) AS due FROM deliveries \
                       WHERE id = ANY($1) AND status = 'en_attente' GROUP BY run_id) m \
                 WHERE r.id = m.run_id",
            )
            .bind::<Array<BigInt>, _>(&retries)
            .execute(conn)?;
        }
        for email in outcomes.iter().filter_map(|o| o.suppress.as_deref()) {
            suppression::suppress(
                conn,
                email,
                SuppressionReason::UnknownMailbox,
                "refus définitif du serveur (5.1.1)",
            )?;
        }
        Ok(())
    })
}

/// The recorder's connection. Its commits do not wait for the WAL to reach the disk: an
/// outcome lost by a crash of PostgreSQL means the message is sent again (at-least-once). Its
/// prepared outcome statement keeps one generic plan (the same at any batch size: one lookup
/// by primary key per outcome) instead of being planned again at each execution.
pub(super) fn recorder_connection(url: &str) -> anyhow::Result<PgConnection> {
    let mut conn = PgConnection::establish(url).context("campaign recorder: connection")?;
    diesel::connection::SimpleConnection::batch_execute(
        &mut conn,
        "SET synchronous_commit = off; SET plan_cache_mode = force_generic_plan",
    )?;
    Ok(conn)
}

/// Gives claimed deliveries back to the queue at once: their lease is cleared and the attempt
/// their claim counted is taken back. Only rows still held under this lease are touched (a
/// lease that ended may have been claimed by another connection since).
pub fn release(
    conn: &mut PgConnection,
    ids: &[i64],
    lease_until: DateTime<Utc>,
) -> QueryResult<usize> {
    conn.transaction(|conn| {
        #[derive(QueryableByName)]
        struct Released {
            #[diesel(sql_type = BigInt)]
            run_id: i64,
        }
        let released: Vec<Released> = diesel::sql_query(
            "UPDATE deliveries SET locked_until = NULL, attempts = greatest(attempts - 1, 0) \
             WHERE id = ANY($1) AND status = 'en_attente' AND locked_until = $2 \
             RETURNING run_id",
        )
        .bind::<Array<BigInt>, _>(ids)
        .bind::<Timestamptz, _>(lease_until)
        .load(conn)?;
        // Below the claim cursor and due now: the next claim sweeps them.
        let mut runs: Vec<i64> = released.iter().map(|r| r.run_id).collect();
        runs.sort_unstable();
        runs.dedup();
        // The process's clock, which the claims compare `recheck_at` with (not PostgreSQL's).
        diesel::sql_query("UPDATE campaign_runs SET recheck_at = $2 WHERE id = ANY($1)")
            .bind::<Array<BigInt>, _>(&runs)
            .bind::<Timestamptz, _>(Utc::now())
            .execute(conn)?;
        Ok(released.len())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pacing_spreads_a_minute_over_the_rate() {
        assert_eq!(per_second(600), 10);
        assert_eq!(per_second(30), 1);
        assert!((slot_seconds(10, 600) - 1.0).abs() < 1e-9);
        assert!((slot_seconds(1, 30) - 2.0).abs() < 1e-9);
    }
}
