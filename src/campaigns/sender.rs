//! The campaign senders: the delivery ledger's workers.
//!
//! Each instance runs `campaigns.connections` connection tasks, one recorder and one
//! coordinator. A connection task claims a batch of deliveries of a sending run in one short
//! transaction: the pending ones among the next ids past the run's claim cursor, or, when the
//! run's recheck time has come, those due again below it (retries, ended leases: at-least-once).
//! The claim sets each row's lease, `locked_until`, a column outside every index, so that the
//! claim's update and the outcome's are HOT. The task renders and sends them over its own SMTP
//! connection and hands each outcome to the recorder (a thread of its own), which writes every
//! outcome that arrived meanwhile in one UPDATE and acknowledges them. While an outcome is
//! being committed, the connection renders the next message and opens its transaction (MAIL,
//! RCPT, DATA); over a relay that pipelines, that envelope goes in the same write as the
//! content before it. A content goes only once the previous outcome is committed, so a crash
//! can repeat at most the message each connection had in flight. A connection
//! starts no message of its batch after half the lease: past the lease, another connection may
//! claim and send it too, so the rest goes back to the queue at once. No database connection
//! is held while talking SMTP.
//!
//! [`SenderHandle::shutdown`] stops the tasks cleanly: messages being transmitted finish and
//! are recorded, claimed but unsent deliveries go back to the queue (lease cleared, the claim's
//! attempt taken back).
//!
//! Pacing holds across instances: each run (and the relay, when capped) has a `next_slot_at`
//! in PostgreSQL that every claim moves forward by the time its messages take at the rate.
//!
//! The SMTP socket is opened here with `TCP_NODELAY` (lettre does not set it; without it every
//! message waits for a delayed ACK).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration as StdDuration, Instant};

use anyhow::Context;
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Double, Int4, Nullable, Text, Timestamptz};
use lettre::address::Envelope;
use lettre::message::header::{ContentTransferEncoding, ContentType, HeaderName, HeaderValue};
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::commands::{Data, Ehlo, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use lettre::{AsyncFileTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;
use tokio::sync::{mpsc, oneshot, watch, Notify};
use tokio::task::JoinHandle;

use super::links;
use super::runs;
use super::template::{Compiled, Footer, Personalisation, TemplateSource};
use crate::config::{MailTransportKind, Settings, SmtpTls};
use crate::db::enums::SuppressionReason;
use crate::db::PgPool;
use crate::mail::dkim::{DkimSigner, CAMPAIGN_HEADERS};

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
                    t.subject, t.body_text, t.body_html \
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
                crate::db::schema::campaign_runs::table.filter(
                    crate::db::schema::campaign_runs::status
                        .eq(crate::db::enums::RunStatus::Sending),
                ),
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
                    runs::finish_completed_runs(conn, now)?;
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
                "UPDATE deliveries d SET status = 'ecarte', locked_until = NULL, updated_at = $2, \
                     last_error = 'adresse désinscrite ou supprimée pendant l''envoi' \
                 WHERE d.id = ANY($1)",
            )
            .bind::<Array<BigInt>, _>(&ids)
            .bind::<Timestamptz, _>(now)
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
fn abandoned_outcome(delivery_id: i64, attempts: i32) -> Outcome {
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

/// Delay before the next attempt after `attempts` failed ones: base, 2×base, 4×base… ≤ 1 h.
pub fn backoff(base_seconds: i64, attempts: i32) -> Duration {
    let exp = (attempts.clamp(1, 16) - 1) as u32;
    Duration::seconds(base_seconds.saturating_mul(1_i64 << exp).min(3600))
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
    max_attempts: i32,
    retry_base_seconds: i64,
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
            OutcomeKind::Sent => "envoye",
            OutcomeKind::Retry if o.attempts < max_attempts => "en_attente",
            OutcomeKind::Retry | OutcomeKind::Failed => "echec",
        };
        q.statuses.push(status);
        q.codes.push(o.smtp_code);
        q.message_ids.push(o.message_id.clone());
        q.errors.push(o.detail.clone());
        q.next.push(now + backoff(retry_base_seconds, o.attempts));
    }
    let retries: Vec<i64> = outcomes
        .iter()
        .zip(q.statuses.iter())
        .filter(|(_, status)| **status == "en_attente")
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
            super::suppression::suppress(
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
fn recorder_connection(url: &str) -> anyhow::Result<PgConnection> {
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

/// The running tasks of a [`CampaignSender`]. Dropping it aborts them (their leased
/// deliveries then wait for the lease); [`SenderHandle::shutdown`] stops them cleanly.
pub struct SenderHandle {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    grace: StdDuration,
}

impl SenderHandle {
    /// Stops claiming, lets each message being transmitted finish and records its outcome,
    /// gives the claimed but unsent deliveries back to the queue, and waits for the tasks.
    /// Tasks still running after the relay's timeout (plus a margin) are aborted.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        let tasks = std::mem::take(&mut self.tasks);
        let aborts: Vec<_> = tasks.iter().map(JoinHandle::abort_handle).collect();
        let joined = tokio::time::timeout(self.grace, futures_util::future::join_all(tasks)).await;
        if joined.is_err() {
            tracing::warn!("campaign sender: tasks still running at shutdown were aborted");
            for a in aborts {
                a.abort();
            }
        }
    }
}

impl Drop for SenderHandle {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Transport

/// Where campaign mail goes: an SMTP relay reached with our own sockets, or `.eml` files.
#[derive(Clone)]
enum Transport {
    Smtp(Arc<Relay>),
    File(AsyncFileTransport<Tokio1Executor>),
}

struct Relay {
    host: String,
    port: u16,
    tls: SmtpTls,
    credentials: Option<Credentials>,
    timeout: StdDuration,
    hello: ClientId,
}

impl Relay {
    async fn connect(&self) -> Result<Session, String> {
        let connect = async {
            if self.tls == SmtpTls::Tls {
                // Implicit TLS: lettre opens the socket (without TCP_NODELAY; TLS relays are
                // remote, where a delayed ACK matters less than on loopback).
                let params = TlsParameters::new(self.host.clone()).map_err(|e| e.to_string())?;
                return AsyncSmtpConnection::connect_tokio1(
                    (self.host.as_str(), self.port),
                    Some(self.timeout),
                    &self.hello,
                    Some(params),
                    None,
                )
                .await
                .map_err(|e| e.to_string());
            }
            let stream = tokio::net::TcpStream::connect((self.host.as_str(), self.port))
                .await
                .map_err(|e| format!("connexion au relais impossible : {e}"))?;
            stream.set_nodelay(true).map_err(|e| e.to_string())?;
            let mut conn =
                AsyncSmtpConnection::connect_with_transport(Box::new(stream), &self.hello)
                    .await
                    .map_err(|e| e.to_string())?;
            if self.tls == SmtpTls::Starttls {
                let params = TlsParameters::new(self.host.clone()).map_err(|e| e.to_string())?;
                conn.starttls(params, &self.hello)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            Ok(conn)
        };
        let mut conn = tokio::time::timeout(self.timeout, connect)
            .await
            .map_err(|_| "le relais SMTP ne répond pas".to_owned())??;
        // lettre keeps only the extensions it uses from the EHLO reply; PIPELINING is not
        // among them, so ask once more (EHLO may be repeated; it only resets the transaction).
        let ehlo = tokio::time::timeout(self.timeout, conn.command(Ehlo::new(self.hello.clone())))
            .await
            .map_err(|_| "le relais SMTP ne répond pas".to_owned())?
            .map_err(|e| e.to_string())?;
        let pipelining = ehlo.message().any(|line| {
            line.split_ascii_whitespace()
                .next()
                .is_some_and(|k| k.eq_ignore_ascii_case("PIPELINING"))
        });
        let eight_bit = conn.server_info().supports_feature(Extension::EightBitMime);
        if let Some(credentials) = &self.credentials {
            conn.auth(&[Mechanism::Plain, Mechanism::Login], credentials)
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(Session {
            conn,
            pipelining,
            eight_bit,
        })
    }
}

/// The SMTP session of one connection task.
struct Session {
    conn: AsyncSmtpConnection,
    /// The relay announced PIPELINING (RFC 2920): MAIL, RCPT and DATA go out in one write.
    pipelining: bool,
    /// The relay announced 8BITMIME (RFC 6152): unsigned messages keep their text as is.
    eight_bit: bool,
}

/// A message ready to go: its envelope and its bytes as sent.
struct Ready {
    envelope: Envelope,
    bytes: Vec<u8>,
}

/// MAIL FROM, RCPT TO and DATA written together, for a relay that supports pipelining.
struct EnvelopeGroup<'a>(&'a Mail, &'a [Rcpt]);

impl std::fmt::Display for EnvelopeGroup<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Each command's Display ends with CRLF.
        write!(f, "{}", self.0)?;
        for rcpt in self.1 {
            write!(f, "{rcpt}")?;
        }
        write!(f, "{Data}")
    }
}

/// A message's content as the DATA phase carries it (RFC 5321 §4.5.2): a period that starts a
/// line is doubled, and a line holding a single period ends the content. It goes out in one
/// write, where lettre's `message` writes the content and the terminator separately and
/// encodes byte by byte.
struct DataBlock<'a>(&'a str);

impl std::fmt::Display for DataBlock<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = self.0;
        let mut from = 0;
        if text.starts_with('.') {
            f.write_str(".")?;
        }
        // Each "\r\n." found ends a piece; the next piece starts at its period, which is so
        // written twice. The pattern is ASCII: the pieces end on character boundaries.
        for at in memchr::memmem::find_iter(text.as_bytes(), b"\r\n.") {
            f.write_str(&text[from..at + 3])?;
            from = at + 2;
        }
        f.write_str(&text[from..])?;
        if !text.is_empty() && !text.ends_with("\r\n") {
            f.write_str("\r\n")?;
        }
        f.write_str(".\r\n")
    }
}

/// A message's content, and possibly the next message's envelope behind it (see [`finish`]).
struct Content<'a> {
    data: DataBlock<'a>,
    then: Option<EnvelopeGroup<'a>>,
}

impl std::fmt::Display for Content<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.data)?;
        match &self.then {
            Some(group) => write!(f, "{group}"),
            None => Ok(()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The sender

/// Compiled templates by id, with the version (updated_at) they were compiled from.
type TemplateCache = HashMap<i64, (DateTime<Utc>, Arc<Compiled>)>;

struct Inner {
    pool: PgPool,
    settings: Arc<Settings>,
    transport: Transport,
    relay_cap: Option<RelayCap>,
    dkim: Option<DkimSigner>,
    /// Host part of Message-IDs and List-Id.
    domain: String,
    secret: Vec<u8>,
    mailto: String,
    templates: Mutex<TemplateCache>,
    /// Notified when a run starts or resumes (by a page of this instance).
    wake: Arc<Notify>,
}

/// The campaign sender of one instance.
#[derive(Clone)]
pub struct CampaignSender {
    inner: Arc<Inner>,
}

struct Record {
    outcome: Outcome,
    ack: oneshot::Sender<bool>,
}

fn load_dkim(settings: &Settings) -> anyhow::Result<Option<DkimSigner>> {
    let d = &settings.mail.dkim;
    if d.selector.is_empty() {
        return Ok(None);
    }
    let pem = std::fs::read(&d.private_key_file).with_context(|| {
        format!(
            "mail.dkim.private_key_file {}",
            d.private_key_file.display()
        )
    })?;
    let signer = DkimSigner::from_pem(&pem, &d.selector, &d.domain, CAMPAIGN_HEADERS)
        .map_err(|e| anyhow::anyhow!("mail.dkim : {e}"))?;
    Ok(Some(signer))
}

/// The host of the public address (for Message-IDs), « localhost » if it has none.
pub fn public_host(public_url: &str) -> String {
    url::Url::parse(public_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| "localhost".to_owned())
}

/// One part of a campaign message: with `eight_bit`, the text as written (`8bit`) when it can
/// go so; otherwise in the encoding lettre finds best (7bit, or quoted-printable for French
/// text). lettre's own 8bit check refuses lines over 76 characters, so nearly every paragraph;
/// [`eight_bit_text`] applies the limits of RFC 2045 §2.8 instead.
fn part(content_type: ContentType, text: String, eight_bit: bool) -> SinglePart {
    let body = match eight_bit.then(|| eight_bit_text(&text)).flatten() {
        // The bytes were checked by eight_bit_text: what lettre leaves to the caller here.
        Some(bytes) => Body::dangerous_pre_encoded(bytes, ContentTransferEncoding::EightBit),
        None => Body::new(text),
    };
    SinglePart::builder().header(content_type).body(body)
}

/// The text with CRLF line ends, if it is valid `8bit` data (RFC 2045 §2.8): no NUL, CR only
/// before LF, and no line over 998 octets. None otherwise.
fn eight_bit_text(text: &str) -> Option<Vec<u8>> {
    if text.contains('\0') {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() + text.len() / 40);
    for (i, line) in text.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.len() > 998 || line.contains('\r') {
            return None;
        }
        if i > 0 {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(line.as_bytes());
    }
    Some(out)
}

/// Keeps a List-Id phrase to letters, digits, spaces and a few signs.
fn list_id_phrase(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '\'' | '.'))
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

impl CampaignSender {
    pub fn new(
        settings: Arc<Settings>,
        pool: PgPool,
        wake: Arc<Notify>,
    ) -> anyhow::Result<CampaignSender> {
        let smtp = &settings.mail.smtp;
        let domain = public_host(&settings.http.public_url);
        let transport = match settings.mail.transport {
            MailTransportKind::File => {
                std::fs::create_dir_all(&settings.mail.outbox_dir)?;
                Transport::File(AsyncFileTransport::<Tokio1Executor>::new(
                    &settings.mail.outbox_dir,
                ))
            }
            MailTransportKind::Smtp => Transport::Smtp(Arc::new(Relay {
                host: smtp.host.clone(),
                port: smtp.port,
                tls: smtp.tls,
                credentials: (!smtp.username.is_empty()).then(|| {
                    Credentials::new(
                        smtp.username.clone(),
                        smtp.password.expose_secret().to_owned(),
                    )
                }),
                timeout: StdDuration::from_secs(smtp.timeout_seconds.max(1)),
                hello: ClientId::Domain(domain.clone()),
            })),
        };
        let relay_cap = (settings.campaigns.relay_max_per_minute > 0).then(|| RelayCap {
            key: format!("{}:{}", smtp.host, smtp.port),
            per_minute: settings.campaigns.relay_max_per_minute,
        });
        let mailto = if settings.campaigns.unsubscribe_mailto.is_empty() {
            settings.organisation.contact_email.clone()
        } else {
            settings.campaigns.unsubscribe_mailto.clone()
        };
        Ok(CampaignSender {
            inner: Arc::new(Inner {
                pool,
                dkim: load_dkim(&settings)?,
                secret: settings
                    .security
                    .secret_key
                    .expose_secret()
                    .as_bytes()
                    .to_vec(),
                settings,
                transport,
                relay_cap,
                domain,
                mailto,
                templates: Mutex::new(HashMap::new()),
                wake,
            }),
        })
    }

    /// Tells idle connections that work may be waiting (a campaign was started or resumed).
    pub fn wake(&self) {
        self.inner.wake.notify_waiters();
    }

    /// Starts the coordinator, the recorder and the connection tasks.
    pub fn start(&self) -> SenderHandle {
        let c = &self.inner.settings.campaigns;
        let (tx, rx) = mpsc::channel::<Record>(c.connections * 2);
        let (stop, stopped) = watch::channel(false);
        // A panic ends neither the process nor the sending: the task is started again (see
        // crate::supervise); the recorder catches it around each batch instead.
        let mut tasks = vec![
            tokio::spawn(crate::supervise::supervised(
                "campaign_coordinator",
                stopped.clone(),
                {
                    let (this, stopped) = (self.clone(), stopped.clone());
                    move || this.clone().coordinate(stopped.clone())
                },
            )),
            tokio::task::spawn_blocking({
                let this = self.clone();
                move || this.record_loop(rx)
            }),
        ];
        for _ in 0..c.connections {
            let (this, tx, stopped) = (self.clone(), tx.clone(), stopped.clone());
            tasks.push(tokio::spawn(crate::supervise::supervised(
                "campaign_connection",
                stopped.clone(),
                move || this.clone().connection_loop(tx.clone(), stopped.clone()),
            )));
        }
        // A message in flight ends within the relay's timeout; its outcome is then recorded.
        let grace = StdDuration::from_secs(self.inner.settings.mail.smtp.timeout_seconds.max(1))
            + StdDuration::from_secs(5);
        SenderHandle { stop, tasks, grace }
    }

    fn poll(&self) -> StdDuration {
        StdDuration::from_millis(self.inner.settings.campaigns.poll_interval_ms)
    }

    /// Starts due runs and closes finished ones, every poll interval.
    async fn coordinate(self, mut stopped: watch::Receiver<bool>) {
        let late = Duration::minutes(self.inner.settings.campaigns.late_after_minutes);
        while !*stopped.borrow() {
            let pool = self.inner.pool.clone();
            let result = tokio::task::spawn_blocking(move || -> anyhow::Result<usize> {
                let mut conn = pool.get()?;
                let now = Utc::now();
                let started = runs::activate_due_runs(&mut conn, now, late)?;
                runs::finish_completed_runs(&mut conn, now)?;
                Ok(started)
            })
            .await;
            match result {
                Ok(Ok(0)) => {}
                Ok(Ok(started)) => {
                    tracing::info!(started, "campaign runs started");
                    self.wake();
                }
                Ok(Err(e)) => tracing::warn!(error = %e, "campaign coordinator: database error"),
                Err(e) => tracing::warn!(error = %e, "campaign coordinator task failed"),
            }
            tokio::select! {
                _ = stopped.wait_for(|s| *s) => {}
                _ = tokio::time::sleep(self.poll()) => {}
            }
        }
    }

    /// Writes outcomes as they come, everything that arrived meanwhile in one statement. It
    /// runs on a thread of its own (a blocking task), since every connection waits for its
    /// commits: as an async task handing each batch to the blocking pool, it spent as long
    /// between batches as in PostgreSQL (mailing benchmark: 6.6 s busy of 7.4, 3.8 in
    /// PostgreSQL). It ends when every connection task has dropped its sender.
    fn record_loop(self, mut rx: mpsc::Receiver<Record>) {
        let max_attempts = self.inner.settings.campaigns.max_attempts;
        let base = self.inner.settings.campaigns.retry_base_seconds;
        let url = self.inner.settings.database_url().to_owned();
        // The recorder's own connection: outcomes come in many small batches, and this saves
        // a pool checkout and a `SET LOCAL` transaction for each.
        let mut own: Option<PgConnection> = None;
        let mut outcomes: Vec<Outcome> = Vec::new();
        while let Some(first) = rx.blocking_recv() {
            let mut batch = vec![first];
            while batch.len() < 1024 {
                match rx.try_recv() {
                    Ok(r) => batch.push(r),
                    Err(_) => break,
                }
            }
            outcomes.clear();
            outcomes.extend(batch.iter().map(|r| r.outcome.clone()));
            let written = match own.take() {
                Some(conn) => Ok(conn),
                None => recorder_connection(&url),
            }
            .and_then(|mut conn| {
                let recorded = crate::supervise::catch("campaign_recorder", || {
                    record(&mut conn, &outcomes, Utc::now(), max_attempts, base)
                });
                match recorded {
                    Some(r) => r?,
                    None => anyhow::bail!("campaign recorder: panic while recording"),
                }
                Ok(conn)
            });
            // After an error the connection is dropped and the next batch opens a new one.
            let ok = written.map(|conn| own = Some(conn));
            if let Err(e) = &ok {
                tracing::warn!(error = %e, "campaign outcomes not recorded; leases will expire");
            }
            for r in batch {
                let _ = r.ack.send(ok.is_ok());
            }
        }
    }

    async fn connection_loop(
        self,
        recorder: mpsc::Sender<Record>,
        mut stopped: watch::Receiver<bool>,
    ) {
        let c = &self.inner.settings.campaigns;
        let (batch, lease) = (c.batch_size, c.lease_seconds);
        let mut smtp: Option<Session> = None;
        // The receipt of the last outcome handed to the recorder, until it is committed.
        let mut unacked: Option<oneshot::Receiver<bool>> = None;
        while !*stopped.borrow() {
            let pool = self.inner.pool.clone();
            let relay = self.inner.relay_cap.clone();
            // No later than the lease's start in the database.
            let claimed_at = Instant::now();
            let now = Utc::now();
            let lease_until = now + Duration::seconds(lease);
            let claimed = tokio::task::spawn_blocking(move || -> anyhow::Result<Claim> {
                let mut conn = pool.get()?;
                Ok(claim(&mut conn, now, batch, lease, relay.as_ref())?)
            })
            .await
            .map_err(anyhow::Error::from)
            .and_then(|r| r);
            match claimed {
                Err(e) => {
                    tracing::warn!(error = %e, "campaign sender: cannot claim");
                    self.pause(&mut stopped, self.poll()).await;
                }
                Ok(Claim::Idle) => {
                    if let Some(mut session) = smtp.take() {
                        let _ = session.conn.quit().await;
                    }
                    tokio::select! {
                        _ = self.inner.wake.notified() => {}
                        _ = stopped.wait_for(|s| *s) => {}
                        _ = tokio::time::sleep(self.poll()) => {}
                    }
                }
                Ok(Claim::Wait(d)) => self.pause(&mut stopped, d.min(self.poll())).await,
                Ok(Claim::Work(run, items)) => {
                    // Claimed more times than it may be tried without any outcome recorded:
                    // each claim ended with the sender (a crash, a panic). A poison delivery
                    // fails here, with the reason, instead of being claimed again forever.
                    let max = self.inner.settings.campaigns.max_attempts;
                    let (abandoned, items): (Vec<_>, Vec<_>) =
                        items.into_iter().partition(|i| i.attempts > max);
                    for item in abandoned {
                        let (ack, _) = oneshot::channel();
                        let outcome = abandoned_outcome(item.id, item.attempts);
                        if recorder.send(Record { outcome, ack }).await.is_err() {
                            return;
                        }
                    }
                    let compiled = self.compiled(&run);
                    // The batch is ours only until its lease ends: then any connection may
                    // claim what is left of it and send it too. So no message is started after
                    // half the lease, which leaves the other half for the one in flight; the
                    // rest goes back to the queue, as it does when the sender stops.
                    let stop_at =
                        claimed_at + StdDuration::from_secs(u64::try_from(lease).unwrap_or(0)) / 2;
                    let out_of_time = |stopped: &watch::Receiver<bool>| {
                        *stopped.borrow() || Instant::now() >= stop_at
                    };
                    let mut items = items.into_iter();
                    // The next message, built (and its transaction opened) while the one
                    // before it was on its way.
                    let mut next: Option<(ClaimedDelivery, Attempt)> = None;
                    let mut first = true;
                    loop {
                        let (item, attempt) = match next.take() {
                            Some(next) => next,
                            None => {
                                let Some(item) = items.next() else { break };
                                if *stopped.borrow() || (!first && out_of_time(&stopped)) {
                                    let mut unsent = vec![item.id];
                                    unsent.extend(items.map(|i| i.id));
                                    self.give_back(unsent, lease_until).await;
                                    break;
                                }
                                let attempt = self.prepare(&mut smtp, &run, &compiled, &item).await;
                                (item, attempt)
                            }
                        };
                        first = false;
                        // Over a pipelining relay the next message is built now: its envelope
                        // goes with this content.
                        let eight_bit = smtp
                            .as_ref()
                            .filter(|s| s.pipelining && matches!(attempt, Attempt::Open(..)))
                            .map(|s| self.eight_bit(s));
                        let ahead = match eight_bit {
                            Some(eight_bit) if !out_of_time(&stopped) => items.next().map(|n| {
                                let built = self.ready(&run, &compiled, &n, eight_bit);
                                (n, built)
                            }),
                            _ => None,
                        };
                        // The content goes only once the previous outcome is committed: a
                        // crash then repeats at most one message per connection.
                        if let Some(acked) = unacked.take() {
                            if acked.await != Ok(true) {
                                // The database is unreachable: drop the open transaction
                                // (nothing of it is delivered) and stop; the rest of the batch
                                // is sent by whoever claims it when its lease ends.
                                smtp = None;
                                self.pause(&mut stopped, self.poll()).await;
                                break;
                            }
                        }
                        let ahead_ready = match &ahead {
                            Some((_, Ok((_, ready)))) => Some(ready),
                            _ => None,
                        };
                        let (outcome, chained) = self
                            .complete(&mut smtp, attempt, &item.email, ahead_ready)
                            .await;
                        let (ack, acked) = oneshot::channel();
                        if recorder.send(Record { outcome, ack }).await.is_err() {
                            return;
                        }
                        unacked = Some(acked);
                        next = match ahead {
                            None => None,
                            Some((n, Err(outcome))) => Some((n, Attempt::Done(outcome))),
                            Some((n, Ok((outcome, ready)))) => {
                                let attempt = self
                                    .open(&mut smtp, outcome, ready, &n.email, chained)
                                    .await;
                                Some((n, attempt))
                            }
                        };
                    }
                }
            }
        }
        if let Some(acked) = unacked.take() {
            let _ = acked.await;
        }
        if let Some(mut session) = smtp.take() {
            let _ = session.conn.quit().await;
        }
    }

    /// Sleeps for `d`, or less if the sender is stopped meanwhile.
    async fn pause(&self, stopped: &mut watch::Receiver<bool>, d: StdDuration) {
        tokio::select! {
            _ = stopped.wait_for(|s| *s) => {}
            _ = tokio::time::sleep(d) => {}
        }
    }

    /// Puts claimed deliveries that were not sent back in the queue (see [`release`]).
    async fn give_back(&self, ids: Vec<i64>, lease_until: DateTime<Utc>) {
        let pool = self.inner.pool.clone();
        let released = tokio::task::spawn_blocking(move || -> anyhow::Result<usize> {
            let mut conn = pool.get()?;
            Ok(release(&mut conn, &ids, lease_until)?)
        })
        .await
        .map_err(anyhow::Error::from)
        .and_then(|r| r);
        if let Err(e) = released {
            tracing::warn!(error = %e, "campaign sender: unsent deliveries wait for their lease");
        }
    }

    /// The run's template, compiled once per version.
    fn compiled(&self, run: &RunContext) -> Result<Arc<Compiled>, String> {
        // A cache poisoned by a panic elsewhere is still a valid cache.
        let mut cache = self
            .inner
            .templates
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((version, compiled)) = cache.get(&run.template_id) {
            if *version == run.template_updated_at {
                return Ok(compiled.clone());
            }
        }
        let source = TemplateSource {
            subject: run.subject.clone(),
            body_text: run.body_text.clone(),
            body_html: run.body_html.clone(),
        };
        let compiled = crate::supervise::catch("campaign_template", || Compiled::compile(&source))
            .ok_or_else(|| "erreur interne pendant la lecture du modèle".to_owned())?
            .map_err(|e| {
                e.0.iter()
                    .map(|(f, m)| format!("{f} : {m}"))
                    .collect::<Vec<_>>()
                    .join(" ; ")
            })?;
        let compiled = Arc::new(compiled);
        cache.insert(run.template_id, (run.template_updated_at, compiled.clone()));
        Ok(compiled)
    }

    /// The stable Message-ID of a delivery: the same at every attempt.
    pub fn message_id(&self, run_id: i64, delivery_id: i64) -> String {
        format!("<campagne.{run_id}.{delivery_id}@{}>", self.inner.domain)
    }

    /// Builds one recipient's message: its envelope and the bytes to send, DKIM-signed when a
    /// key is set (the signature covers exactly these bytes). With `eight_bit` (the relay
    /// announced 8BITMIME) and no DKIM key, the text and HTML parts go as `8bit`, as written;
    /// otherwise they are quoted-printable, as RFC 6376 §5.3 advises for signed mail (a relay
    /// that converts 8bit to 7bit on the way would break the signature).
    pub fn build(
        &self,
        run: &RunContext,
        compiled: &Compiled,
        item: &ClaimedDelivery,
        eight_bit: bool,
    ) -> Result<(Envelope, Vec<u8>), String> {
        let i = &self.inner;
        let public_url = i.settings.http.public_url.trim_end_matches('/');
        let unsubscribe = links::unsubscribe_url(public_url, &i.secret, item.id);
        let values = Personalisation::new(
            &item.first_name,
            &item.last_name,
            &item.organisation,
            &item.city,
            links::click_url(public_url, &i.secret, item.id),
            unsubscribe.clone(),
        );
        let kind = super::template::as_recipient(&item.kind);
        let footer = Footer {
            org: &i.settings.organisation,
            sender: &run.sender_name,
            kind: &kind,
            unsubscribe_url: &unsubscribe,
        };
        let email = compiled.render(&values, &footer)?;
        let from = Mailbox::new(
            Some(run.sender_name.clone()),
            run.sender_email
                .parse()
                .map_err(|e| format!("adresse d'expédition invalide : {e}"))?,
        );
        let to_name = values.nom_complet.clone();
        let to = Mailbox::new(
            (!to_name.is_empty()).then_some(to_name),
            item.email
                .parse()
                .map_err(|e| format!("adresse du destinataire invalide : {e}"))?,
        );
        let token = links::token(&i.secret, links::Purpose::Unsubscribe, item.id);
        let message = Message::builder()
            .from(from)
            .to(to)
            .subject(email.subject)
            .message_id(Some(self.message_id(run.run_id, item.id)))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe"),
                format!(
                    "<{unsubscribe}>, <mailto:{}?subject=desinscription-{token}>",
                    i.mailto
                ),
            ))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                "List-Unsubscribe=One-Click".to_owned(),
            ))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Id"),
                format!(
                    "{} <campagne-{}.{}>",
                    list_id_phrase(&run.campaign_name),
                    run.campaign_id,
                    i.domain
                ),
            ))
            .multipart(
                MultiPart::alternative()
                    .singlepart(part(ContentType::TEXT_PLAIN, email.text, eight_bit))
                    .singlepart(part(ContentType::TEXT_HTML, email.html, eight_bit)),
            )
            .map_err(|e| format!("message impossible à construire : {e}"))?;
        let bytes = message.formatted();
        let bytes = match &i.dkim {
            Some(dkim) => dkim
                .sign(&bytes, Utc::now().timestamp().max(0).unsigned_abs())
                .map_err(|e| e.to_string())?,
            None => bytes,
        };
        Ok((message.envelope().clone(), bytes))
    }

    /// Whether this connection's messages may go as 8bit (see [`CampaignSender::build`]).
    fn eight_bit(&self, session: &Session) -> bool {
        session.eight_bit && self.inner.dkim.is_none()
    }

    /// Builds a delivery's message: its outcome so far (with its Message-ID) and the message
    /// ready to go, or the outcome that ends it (the template or an address is refused).
    fn ready(
        &self,
        run: &RunContext,
        compiled: &Result<Arc<Compiled>, String>,
        item: &ClaimedDelivery,
        eight_bit: bool,
    ) -> Result<(Outcome, Ready), Outcome> {
        let mut outcome = Outcome {
            delivery_id: item.id,
            attempts: item.attempts,
            kind: OutcomeKind::Failed,
            smtp_code: None,
            message_id: None,
            detail: None,
            suppress: None,
        };
        // A message that cannot be built fails with its reason, and so does one whose building
        // panics: a poison delivery ends, it is not claimed again and again.
        let built = compiled
            .as_ref()
            .map_err(Clone::clone)
            .and_then(|compiled| {
                crate::supervise::catch("campaign_message", || {
                    self.build(run, compiled, item, eight_bit)
                })
                .unwrap_or_else(|| {
                    Err("erreur interne pendant la préparation du message".to_owned())
                })
            });
        match built {
            Ok((envelope, bytes)) => {
                outcome.message_id = Some(self.message_id(run.run_id, item.id));
                Ok((outcome, Ready { envelope, bytes }))
            }
            Err(e) => {
                outcome.detail = Some(e);
                Err(outcome)
            }
        }
    }

    /// Builds the message and, over SMTP, opens its mail transaction (MAIL, RCPT, DATA):
    /// everything short of sending the content, which [`CampaignSender::complete`] does once
    /// the previous outcome is committed. This overlaps the commit's wait with the rendering
    /// and the relay's round trips, while at most one accepted message per connection is ever
    /// unrecorded.
    async fn prepare(
        &self,
        smtp: &mut Option<Session>,
        run: &RunContext,
        compiled: &Result<Arc<Compiled>, String>,
        item: &ClaimedDelivery,
    ) -> Attempt {
        // Over SMTP, the connection comes first: what it announced decides the encoding.
        let eight_bit = match &self.inner.transport {
            Transport::Smtp(relay) => match connected(relay, smtp).await {
                Ok(session) => self.eight_bit(session),
                Err(r) => {
                    let mut outcome = match self.ready(run, compiled, item, false) {
                        Ok((outcome, _)) | Err(outcome) => outcome,
                    };
                    outcome.message_id = None;
                    refused(&mut outcome, r, &item.email);
                    return Attempt::Done(outcome);
                }
            },
            Transport::File(_) => false,
        };
        match self.ready(run, compiled, item, eight_bit) {
            Ok((outcome, ready)) => self.open(smtp, outcome, ready, &item.email, false).await,
            Err(outcome) => Attempt::Done(outcome),
        }
    }

    /// Opens the mail transaction of a built message (over SMTP; a file needs none). When its
    /// envelope already went with the previous message's content (`sent_ahead`, see
    /// [`finish`]), only the replies to MAIL, each RCPT and DATA remain to be read.
    async fn open(
        &self,
        smtp: &mut Option<Session>,
        outcome: Outcome,
        ready: Ready,
        email: &str,
        sent_ahead: bool,
    ) -> Attempt {
        if let Transport::Smtp(relay) = &self.inner.transport {
            let opened = if sent_ahead {
                envelope_replies(relay, smtp, ready.envelope.to().len() + 2).await
            } else {
                begin(relay, smtp, &ready).await
            };
            if let Err(r) = opened {
                return Attempt::Done(refused_before_content(outcome, r, email));
            }
        }
        Attempt::Open(outcome, ready)
    }

    /// Sends the content of a prepared message and returns its outcome. Over a pipelining
    /// relay, the envelope of the next message (`ahead`) goes in the same write; the flag
    /// says whether it went (its replies are then read by [`CampaignSender::open`]).
    async fn complete(
        &self,
        smtp: &mut Option<Session>,
        attempt: Attempt,
        email: &str,
        ahead: Option<&Ready>,
    ) -> (Outcome, bool) {
        let (mut outcome, ready) = match attempt {
            Attempt::Done(outcome) => return (outcome, false),
            Attempt::Open(outcome, ready) => (outcome, ready),
        };
        let (result, chained) = match &self.inner.transport {
            Transport::File(t) => {
                let written = t.send_raw(&ready.envelope, &ready.bytes).await;
                let result = written.map(|_| 250).map_err(|e| Refusal {
                    kind: OutcomeKind::Retry,
                    code: None,
                    detail: e.to_string(),
                });
                (result, false)
            }
            Transport::Smtp(relay) => finish(relay, smtp, &ready.bytes, ahead).await,
        };
        match result {
            Ok(code) => {
                outcome.kind = OutcomeKind::Sent;
                outcome.smtp_code = Some(code);
                (outcome, chained)
            }
            Err(r) => (refused_before_content(outcome, r, email), chained),
        }
    }
}

/// A message on its way: its transaction is open (or, for files, it is built), or it already
/// ended without being sent.
enum Attempt {
    Open(Outcome, Ready),
    Done(Outcome),
}

struct Refusal {
    kind: OutcomeKind,
    code: Option<i32>,
    detail: String,
}

impl Refusal {
    fn retry(detail: String) -> Refusal {
        Refusal {
            kind: OutcomeKind::Retry,
            code: None,
            detail,
        }
    }

    fn from_smtp(e: &lettre::transport::smtp::Error) -> Refusal {
        let kind = if e.is_permanent() || e.is_client() {
            OutcomeKind::Failed
        } else {
            OutcomeKind::Retry
        };
        Refusal {
            kind,
            code: e.status().map(|c| i32::from(u16::from(c))),
            detail: e.to_string(),
        }
    }
}

/// Writes a refusal into an outcome; an unknown mailbox (5.1.1) suppresses the address.
fn refused(outcome: &mut Outcome, r: Refusal, email: &str) {
    if r.kind == OutcomeKind::Failed && r.detail.contains("5.1.1") {
        outcome.suppress = Some(email.to_owned());
    }
    outcome.kind = r.kind;
    outcome.smtp_code = r.code;
    outcome.detail = Some(r.detail.chars().take(500).collect());
}

/// The outcome of a message the relay did not accept: no Message-ID, the refusal recorded.
fn refused_before_content(mut outcome: Outcome, r: Refusal, email: &str) -> Outcome {
    outcome.message_id = None;
    refused(&mut outcome, r, email);
    outcome
}

fn no_reply(relay: &Relay) -> Refusal {
    Refusal::retry(format!(
        "pas de réponse du relais en {} s",
        relay.timeout.as_secs()
    ))
}

/// The task's connection to the relay, opened (again) if it has none or it broke.
async fn connected<'s>(
    relay: &Relay,
    smtp: &'s mut Option<Session>,
) -> Result<&'s mut Session, Refusal> {
    if smtp.as_ref().is_some_and(|s| s.conn.has_broken()) {
        *smtp = None;
    }
    match smtp {
        Some(session) => Ok(session),
        None => Ok(smtp.insert(relay.connect().await.map_err(Refusal::retry)?)),
    }
}

/// Opens a mail transaction on the task's connection (opening the connection if needed):
/// MAIL FROM, RCPT TO, then DATA, whose 354 means the relay waits for the content. With
/// PIPELINING the three commands go in one write and their replies are read in order. Any
/// error drops the connection (a refused transaction leaves it in no known state, and lettre
/// treats it the same way); the next message opens a new one.
async fn begin(relay: &Relay, smtp: &mut Option<Session>, ready: &Ready) -> Result<(), Refusal> {
    let session = connected(relay, smtp).await?;
    let (mail, rcpts) = match envelope_commands(session, ready) {
        Ok(commands) => commands,
        Err(r) => {
            *smtp = None;
            return Err(r);
        }
    };
    let pipelining = session.pipelining;
    let conn = &mut session.conn;
    let exchange = async {
        if pipelining {
            conn.command(EnvelopeGroup(&mail, &rcpts)).await?;
            for _ in 0..=rcpts.len() {
                conn.read_response().await?;
            }
        } else {
            conn.command(&mail).await?;
            for rcpt in &rcpts {
                conn.command(rcpt).await?;
            }
            conn.command(Data).await?;
        }
        Ok::<_, lettre::transport::smtp::Error>(())
    };
    let result = tokio::time::timeout(relay.timeout, exchange).await;
    settle(relay, smtp, result)
}

/// The end of an exchange with the relay under its timeout: any failure drops the connection
/// (a refused envelope leaves it in no known state, and lettre treats it the same way).
fn settle(
    relay: &Relay,
    smtp: &mut Option<Session>,
    result: Result<Result<(), lettre::transport::smtp::Error>, tokio::time::error::Elapsed>,
) -> Result<(), Refusal> {
    let refusal = match result {
        Ok(Ok(())) => return Ok(()),
        Ok(Err(e)) => Refusal::from_smtp(&e),
        Err(_) => no_reply(relay),
    };
    *smtp = None;
    Err(refusal)
}

/// MAIL FROM (with the parameters the message needs) and RCPT TO for a message, if the
/// relay can take it: non-ASCII addresses need SMTPUTF8, and 8bit content 8BITMIME.
fn envelope_commands(session: &Session, ready: &Ready) -> Result<(Mail, Vec<Rcpt>), Refusal> {
    let info = session.conn.server_info();
    let mut parameters = Vec::new();
    let envelope = &ready.envelope;
    if envelope
        .from()
        .into_iter()
        .chain(envelope.to())
        .any(|a| !AsRef::<str>::as_ref(a).is_ascii())
    {
        if !info.supports_feature(Extension::SmtpUtfEight) {
            return Err(Refusal {
                kind: OutcomeKind::Failed,
                code: None,
                detail: "adresse non ASCII et le relais ne prend pas SMTPUTF8".to_owned(),
            });
        }
        parameters.push(MailParameter::SmtpUtfEight);
    }
    if !ready.bytes.is_ascii() {
        if !info.supports_feature(Extension::EightBitMime) {
            // Built for a connection that announced 8BITMIME; the next attempt is built for
            // the connection it goes over.
            return Err(Refusal::retry(
                "message 8 bits et le relais ne prend plus 8BITMIME".to_owned(),
            ));
        }
        parameters.push(MailParameter::Body(MailBodyParameter::EightBitMime));
    }
    let mail = Mail::new(envelope.from().cloned(), parameters);
    let rcpts = envelope
        .to()
        .iter()
        .map(|a| Rcpt::new(a.clone(), Vec::new()))
        .collect();
    Ok((mail, rcpts))
}

/// Sends the content of an open transaction and reads the relay's verdict. With `ahead`, on a
/// pipelining relay, the next message's MAIL, RCPT and DATA follow the content in the same
/// write (RFC 2920 lets the content lead a group): one write and one read per message
/// instead of two each, for both sides. The flag returned says whether they went and the
/// connection still stands, so that their replies, which follow the verdict, are to be read
/// by [`envelope_replies`]. A refusal of the content (a reply other than 421) ends the
/// transaction but not the session (RFC 5321 §4.1.1.4), which goes on.
async fn finish(
    relay: &Relay,
    smtp: &mut Option<Session>,
    bytes: &[u8],
    ahead: Option<&Ready>,
) -> (Result<i32, Refusal>, bool) {
    let Some(session) = smtp.as_mut() else {
        let lost = Refusal::retry("connexion au relais perdue".to_owned());
        return (Err(lost), false);
    };
    // Built from text (and signed as is): always UTF-8.
    let Ok(text) = std::str::from_utf8(bytes) else {
        *smtp = None;
        let malformed = Refusal {
            kind: OutcomeKind::Failed,
            code: None,
            detail: "message mal formé (UTF-8 invalide)".to_owned(),
        };
        return (Err(malformed), false);
    };
    // A next message the relay cannot take opens its own transaction, which refuses it.
    let then = ahead
        .filter(|_| session.pipelining)
        .and_then(|ready| envelope_commands(session, ready).ok());
    let content = Content {
        data: DataBlock(text),
        then: then
            .as_ref()
            .map(|(mail, rcpts)| EnvelopeGroup(mail, rcpts)),
    };
    let result = tokio::time::timeout(relay.timeout, session.conn.command(content)).await;
    let chained = then.is_some();
    match result {
        Ok(Ok(response)) => (Ok(i32::from(u16::from(response.code()))), chained),
        Ok(Err(e)) => {
            let answered = e.status().is_some_and(|c| u16::from(c) != 421);
            if !answered {
                *smtp = None;
            }
            (Err(Refusal::from_smtp(&e)), chained && answered)
        }
        Err(_) => {
            *smtp = None;
            (Err(no_reply(relay)), false)
        }
    }
}

/// Reads the `n` replies to an envelope sent after a message's content (see [`finish`]).
async fn envelope_replies(
    relay: &Relay,
    smtp: &mut Option<Session>,
    n: usize,
) -> Result<(), Refusal> {
    let Some(session) = smtp.as_mut() else {
        return Err(Refusal::retry("connexion au relais perdue".to_owned()));
    };
    let conn = &mut session.conn;
    let replies = async {
        for _ in 0..n {
            conn.read_response().await?;
        }
        Ok::<_, lettre::transport::smtp::Error>(())
    };
    let result = tokio::time::timeout(relay.timeout, replies).await;
    settle(relay, smtp, result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_doubles_leading_periods_and_ends_with_a_lone_period() {
        let block = |s: &str| DataBlock(s).to_string();
        assert_eq!(block("a\r\nb\r\n"), "a\r\nb\r\n.\r\n");
        assert_eq!(block("a\r\nb"), "a\r\nb\r\n.\r\n");
        assert_eq!(
            block(".a\r\n.\r\n..b\r\nc.d"),
            "..a\r\n..\r\n...b\r\nc.d\r\n.\r\n"
        );
        assert_eq!(block("é\r\n.é"), "é\r\n..é\r\n.\r\n");
        assert_eq!(block(""), ".\r\n");
    }

    #[test]
    fn text_goes_as_8bit_only_within_the_mime_limits() {
        assert_eq!(
            eight_bit_text("Médecin\nsalarié\r\n\nfin").as_deref(),
            Some("Médecin\r\nsalarié\r\n\r\nfin".as_bytes())
        );
        assert_eq!(eight_bit_text("a\n").as_deref(), Some(&b"a\r\n"[..]));
        let long = "é".repeat(499); // 998 octets
        assert!(eight_bit_text(&long).is_some());
        assert!(eight_bit_text(&format!("{long}x")).is_none());
        assert!(eight_bit_text("a\0b").is_none());
        assert!(eight_bit_text("a\rb").is_none());
        // Refused texts still go, quoted-printable.
        let raw = |p: SinglePart| String::from_utf8(p.formatted()).unwrap();
        let long_ascii = format!("{} é", "a".repeat(1000));
        assert!(raw(part(ContentType::TEXT_PLAIN, long_ascii, true))
            .contains("Content-Transfer-Encoding: quoted-printable"));
        assert!(raw(part(
            ContentType::TEXT_PLAIN,
            "Le médecin salarié".into(),
            true
        ))
        .contains("Content-Transfer-Encoding: 8bit"));
        assert!(raw(part(
            ContentType::TEXT_PLAIN,
            "Le médecin salarié".into(),
            false
        ))
        .contains("Content-Transfer-Encoding: quoted-printable"));
    }

    #[test]
    fn backoff_doubles_from_the_base_and_is_capped() {
        assert_eq!(backoff(60, 1).num_seconds(), 60);
        assert_eq!(backoff(60, 2).num_seconds(), 120);
        assert_eq!(backoff(60, 10).num_seconds(), 3600);
        assert_eq!(backoff(0, 5).num_seconds(), 0);
    }

    #[test]
    fn pacing_spreads_a_minute_over_the_rate() {
        assert_eq!(per_second(600), 10);
        assert_eq!(per_second(30), 1);
        assert!((slot_seconds(10, 600) - 1.0).abs() < 1e-9);
        assert!((slot_seconds(1, 30) - 2.0).abs() < 1e-9);
    }

    #[test]
    fn phrases_for_footers_and_list_ids() {
        assert_eq!(
            list_id_phrase("Internes <2027>, promo « été »"),
            "Internes 2027 promo été"
        );
        assert_eq!(
            public_host("https://vocation.gers.fr/x"),
            "vocation.gers.fr"
        );
    }
}
