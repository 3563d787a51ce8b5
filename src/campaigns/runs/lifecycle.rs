//! Every status transition of campaigns and their runs, in one place: brouillon → programmée →
//! en cours ⇄ en pause → terminée, or annulée, for campaigns; planifié (or à confirmer when
//! late) → envoi ⇄ pause → terminé, or annulé, for runs. The staff's actions (with their
//! audit entry), the coordinator's activation of due runs and closing of finished ones, the
//! scheduler's creation of recurring runs and the senders' claims all change statuses here.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamptz};

use super::campaign::{find, lock_status, LifecycleError, Run, Schedule};
use super::cron::{latest_occurrence, parse_cron};
use super::materialise::{self, Recipients};
use crate::db::enums::{CampaignStatus, DeliveryStatus, RunStatus, ScheduleKind};
use crate::db::schema::{campaign_runs, campaigns, deliveries};
use crate::staff::audit::audit;

/// `now` is the process's clock, as for every time compared later with it: the recurring
/// campaign's programming time read by `create_cron_runs`, for one.
fn set_status(
    conn: &mut PgConnection,
    id: i64,
    status: CampaignStatus,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(campaigns::table.find(id))
        .set((campaigns::status.eq(status), campaigns::updated_at.eq(now)))
        .execute(conn)
        .map(|_| ())
}

/// Inserts the run for (campaign, time) unless it exists; returns its id when created.
pub fn create_run(
    conn: &mut PgConnection,
    campaign_id: i64,
    scheduled_for: DateTime<Utc>,
    status: RunStatus,
) -> QueryResult<Option<i64>> {
    diesel::insert_into(campaign_runs::table)
        .values((
            campaign_runs::campaign_id.eq(campaign_id),
            campaign_runs::scheduled_for.eq(scheduled_for),
            campaign_runs::status.eq(status),
        ))
        .on_conflict((campaign_runs::campaign_id, campaign_runs::scheduled_for))
        .do_nothing()
        .returning(campaign_runs::id)
        .get_result(conn)
        .optional()
}

/// Programs a draft: « now » starts a run at once (its deliveries materialised in the same
/// transaction), « at a date » creates its run, « recurring » lets the scheduler create runs.
pub fn schedule(
    conn: &mut PgConnection,
    id: i64,
    now: DateTime<Utc>,
    actor: Option<i64>,
) -> Result<(), LifecycleError> {
    conn.transaction(|conn| {
        let status = lock_status(conn, id)?;
        if status != CampaignStatus::Draft {
            return Err(LifecycleError::WrongStatus(status));
        }
        let campaign = find(conn, id)?.ok_or(LifecycleError::NotFound)?;
        set_status(conn, id, CampaignStatus::Scheduled, now)?;
        match campaign.schedule() {
            Schedule::Now => {
                // Whole seconds: a double click within the same second makes one run.
                let at = DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now);
                if let Some(run) = create_run(conn, id, at, RunStatus::Planned)? {
                    materialise(conn, run, now)?;
                }
            }
            Schedule::At(at) => {
                create_run(conn, id, at, RunStatus::Planned)?;
            }
            Schedule::Cron(_) => {}
        }
        audit(conn, actor, "campaign.schedule", "campaign", Some(id), "")?;
        Ok(())
    })
}

/// Back to draft, before anything was sent: planned runs are removed.
pub fn unschedule(
    conn: &mut PgConnection,
    id: i64,
    actor: Option<i64>,
) -> Result<(), LifecycleError> {
    conn.transaction(|conn| {
        let status = lock_status(conn, id)?;
        if status != CampaignStatus::Scheduled {
            return Err(LifecycleError::WrongStatus(status));
        }
        diesel::delete(
            campaign_runs::table
                .filter(campaign_runs::campaign_id.eq(id))
                .filter(
                    campaign_runs::status
                        .eq_any([RunStatus::Planned, RunStatus::AwaitingConfirmation]),
                ),
        )
        .execute(conn)?;
        set_status(conn, id, CampaignStatus::Draft, Utc::now())?;
        audit(conn, actor, "campaign.unschedule", "campaign", Some(id), "")?;
        Ok(())
    })
}

fn set_runs(
    conn: &mut PgConnection,
    campaign_id: i64,
    from: &[RunStatus],
    to: RunStatus,
) -> QueryResult<usize> {
    diesel::update(
        campaign_runs::table
            .filter(campaign_runs::campaign_id.eq(campaign_id))
            .filter(campaign_runs::status.eq_any(from.to_vec())),
    )
    .set(campaign_runs::status.eq(to))
    .execute(conn)
}

/// Stops claiming new deliveries; those being sent finish.
pub fn pause(conn: &mut PgConnection, id: i64, actor: Option<i64>) -> Result<(), LifecycleError> {
    switch(
        conn,
        id,
        actor,
        (CampaignStatus::Running, RunStatus::Sending),
        (CampaignStatus::Paused, RunStatus::Paused),
        "campaign.pause",
    )
}

pub fn resume(conn: &mut PgConnection, id: i64, actor: Option<i64>) -> Result<(), LifecycleError> {
    switch(
        conn,
        id,
        actor,
        (CampaignStatus::Paused, RunStatus::Paused),
        (CampaignStatus::Running, RunStatus::Sending),
        "campaign.resume",
    )
}

/// Pause and resume: a campaign in the status `from` and its runs in `from`'s run status go
/// over to `to`, with the audit entry `action`.
fn switch(
    conn: &mut PgConnection,
    id: i64,
    actor: Option<i64>,
    from: (CampaignStatus, RunStatus),
    to: (CampaignStatus, RunStatus),
    action: &str,
) -> Result<(), LifecycleError> {
    conn.transaction(|conn| {
        let status = lock_status(conn, id)?;
        if status != from.0 {
            return Err(LifecycleError::WrongStatus(status));
        }
        set_runs(conn, id, &[from.1], to.1)?;
        set_status(conn, id, to.0, Utc::now())?;
        audit(conn, actor, action, "campaign", Some(id), "")?;
        Ok(())
    })
}

/// Cancels the campaign: its open runs and their pending deliveries are cancelled (those being
/// sent at this moment still go out). Returns the number of deliveries cancelled.
pub fn cancel(
    conn: &mut PgConnection,
    id: i64,
    actor: Option<i64>,
) -> Result<usize, LifecycleError> {
    conn.transaction(|conn| {
        let status = lock_status(conn, id)?;
        if matches!(status, CampaignStatus::Finished | CampaignStatus::Cancelled) {
            return Err(LifecycleError::WrongStatus(status));
        }
        let runs: Vec<i64> = campaign_runs::table
            .filter(campaign_runs::campaign_id.eq(id))
            .filter(campaign_runs::status.eq_any([
                RunStatus::Planned,
                RunStatus::AwaitingConfirmation,
                RunStatus::Sending,
                RunStatus::Paused,
            ]))
            .select(campaign_runs::id)
            .load(conn)?;
        let cancelled = diesel::update(
            deliveries::table
                .filter(deliveries::run_id.eq_any(&runs))
                .filter(deliveries::status.eq(DeliveryStatus::Pending)),
        )
        .set((
            deliveries::status.eq(DeliveryStatus::Cancelled),
            deliveries::locked_until.eq(None::<DateTime<Utc>>),
            deliveries::updated_at.eq(Utc::now()),
        ))
        .execute(conn)?;
        diesel::update(campaign_runs::table.filter(campaign_runs::id.eq_any(&runs)))
            .set((
                campaign_runs::status.eq(RunStatus::Cancelled),
                campaign_runs::finished_at.eq(Utc::now()),
            ))
            .execute(conn)?;
        set_status(conn, id, CampaignStatus::Cancelled, Utc::now())?;
        audit(
            conn,
            actor,
            "campaign.cancel",
            "campaign",
            Some(id),
            &format!("{cancelled} envoi(s) annulé(s)"),
        )?;
        Ok(cancelled)
    })
}

/// Puts the failed deliveries of the campaign's runs back in the queue (except addresses
/// suppressed since). Returns how many.
pub fn retry_failed(
    conn: &mut PgConnection,
    id: i64,
    now: DateTime<Utc>,
    actor: Option<i64>,
) -> Result<usize, LifecycleError> {
    conn.transaction(|conn| {
        let status = lock_status(conn, id)?;
        if !matches!(
            status,
            CampaignStatus::Running
                | CampaignStatus::Paused
                | CampaignStatus::Finished
                | CampaignStatus::Scheduled
        ) {
            return Err(LifecycleError::WrongStatus(status));
        }
        #[derive(QueryableByName)]
        struct RunId {
            #[diesel(sql_type = BigInt)]
            run_id: i64,
        }
        let touched: Vec<RunId> = diesel::sql_query(
            "UPDATE deliveries d SET status = $3, attempts = 0, next_attempt_at = $2, \
                 locked_until = NULL, last_error = NULL, smtp_code = NULL, updated_at = $2 \
             FROM campaign_runs r \
             WHERE r.id = d.run_id AND r.campaign_id = $1 AND r.status IN ($4, $5, $6) \
               AND d.status = $7 \
               AND NOT EXISTS (SELECT 1 FROM suppressions s WHERE s.email = lower(d.email)) \
             RETURNING d.run_id",
        )
        .bind::<BigInt, _>(id)
        .bind::<Timestamptz, _>(now)
        .bind::<Text, _>(DeliveryStatus::Pending)
        .bind::<Text, _>(RunStatus::Done)
        .bind::<Text, _>(RunStatus::Sending)
        .bind::<Text, _>(RunStatus::Paused)
        .bind::<Text, _>(DeliveryStatus::Failed)
        .load(conn)?;
        let mut runs: Vec<i64> = touched.iter().map(|r| r.run_id).collect();
        runs.sort_unstable();
        runs.dedup();
        if !runs.is_empty() {
            let run_status = if status == CampaignStatus::Paused {
                RunStatus::Paused
            } else {
                RunStatus::Sending
            };
            // The deliveries put back are below the runs' claim cursors: they are swept.
            diesel::update(campaign_runs::table.filter(campaign_runs::id.eq_any(&runs)))
                .set((
                    campaign_runs::status.eq(run_status),
                    campaign_runs::finished_at.eq(None::<DateTime<Utc>>),
                    campaign_runs::recheck_at.eq(now),
                ))
                .execute(conn)?;
            if status != CampaignStatus::Paused {
                set_status(conn, id, CampaignStatus::Running, now)?;
            }
        }
        audit(
            conn,
            actor,
            "campaign.retry_failed",
            "campaign",
            Some(id),
            &format!("{} envoi(s) relancé(s)", touched.len()),
        )?;
        Ok(touched.len())
    })
}

/// Sends a run that was due while the service was stopped, now.
pub fn confirm_run(
    conn: &mut PgConnection,
    run_id: i64,
    now: DateTime<Utc>,
    actor: Option<i64>,
) -> Result<(), LifecycleError> {
    conn.transaction(|conn| {
        let run = lock_waiting_run(conn, run_id)?;
        let status = lock_status(conn, run.campaign_id)?;
        if !matches!(status, CampaignStatus::Scheduled | CampaignStatus::Running) {
            return Err(LifecycleError::WrongStatus(status));
        }
        materialise(conn, run_id, now)?;
        audit(
            conn,
            actor,
            "campaign.run_confirm",
            "campaign",
            Some(run.campaign_id),
            "",
        )?;
        Ok(())
    })
}

/// Drops a late run: it will not be sent.
pub fn skip_run(
    conn: &mut PgConnection,
    run_id: i64,
    actor: Option<i64>,
) -> Result<(), LifecycleError> {
    conn.transaction(|conn| {
        let run = lock_waiting_run(conn, run_id)?;
        let status = lock_status(conn, run.campaign_id)?;
        diesel::update(campaign_runs::table.find(run_id))
            .set((
                campaign_runs::status.eq(RunStatus::Cancelled),
                campaign_runs::finished_at.eq(Utc::now()),
            ))
            .execute(conn)?;
        let campaign = find(conn, run.campaign_id)?.ok_or(LifecycleError::NotFound)?;
        if campaign.schedule_kind != ScheduleKind::Cron && status == CampaignStatus::Scheduled {
            set_status(conn, run.campaign_id, CampaignStatus::Cancelled, Utc::now())?;
        }
        audit(
            conn,
            actor,
            "campaign.run_skip",
            "campaign",
            Some(run.campaign_id),
            "",
        )?;
        Ok(())
    })
}

/// Locks a run that waits for confirmation (it was due while the service was stopped).
fn lock_waiting_run(conn: &mut PgConnection, run_id: i64) -> Result<Run, LifecycleError> {
    let run: Run = campaign_runs::table
        .find(run_id)
        .select(Run::as_select())
        .for_update()
        .first(conn)
        .optional()?
        .ok_or(LifecycleError::NotFound)?;
    if run.status != RunStatus::AwaitingConfirmation {
        return Err(LifecycleError::RunNotWaiting);
    }
    Ok(run)
}

/// Creates the deliveries of a run in one statement: one per active contact of the campaign's
/// lists, deduplicated by address, without suppressed addresses. The run starts sending (or
/// is finished at once when nobody is left). Idempotent: a second call adds nobody.
pub fn materialise(conn: &mut PgConnection, run_id: i64, now: DateTime<Utc>) -> QueryResult<i64> {
    conn.transaction(|conn| {
        let campaign_id: i64 = campaign_runs::table
            .find(run_id)
            .select(campaign_runs::campaign_id)
            .for_update()
            .first(conn)?;
        let Recipients {
            count,
            without_email,
            first,
            last,
        } = materialise::insert_deliveries(conn, run_id, campaign_id, now)?;
        diesel::update(campaign_runs::table.find(run_id))
            .set((
                campaign_runs::status.eq(RunStatus::Sending),
                campaign_runs::recipients.eq(count as i32),
                campaign_runs::without_email.eq(i32::try_from(without_email).unwrap_or(i32::MAX)),
                campaign_runs::started_at.eq(now),
                // Pacing starts from the process's clock, which the senders compare it with.
                campaign_runs::next_slot_at.eq(now),
                campaign_runs::first_delivery_id.eq(first),
                campaign_runs::last_delivery_id.eq(last),
                campaign_runs::claim_cursor.eq((first - 1).max(0)),
                campaign_runs::recheck_at.eq(None::<DateTime<Utc>>),
            ))
            .execute(conn)?;
        diesel::update(
            campaigns::table
                .find(campaign_id)
                .filter(campaigns::status.eq(CampaignStatus::Scheduled)),
        )
        .set((
            campaigns::status.eq(CampaignStatus::Running),
            campaigns::updated_at.eq(now),
        ))
        .execute(conn)?;
        if count == 0 {
            finish_completed_runs(conn, now)?;
        }
        Ok(count)
    })
}

/// Starts the planned runs whose time has come; a run due more than `late_after` ago (the
/// service was stopped) waits for confirmation instead. Returns the runs started.
pub fn activate_due_runs(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    late_after: Duration,
) -> QueryResult<usize> {
    conn.transaction(|conn| {
        let live = campaigns::table
            .filter(campaigns::status.eq_any([CampaignStatus::Scheduled, CampaignStatus::Running]))
            .select(campaigns::id);
        let due: Vec<(i64, DateTime<Utc>)> = campaign_runs::table
            .filter(campaign_runs::status.eq(RunStatus::Planned))
            .filter(campaign_runs::scheduled_for.le(now))
            .filter(campaign_runs::campaign_id.eq_any(live))
            .select((campaign_runs::id, campaign_runs::scheduled_for))
            .order(campaign_runs::scheduled_for)
            .for_update()
            .skip_locked()
            .load(conn)?;
        let mut started = 0;
        for (run, at) in due {
            if now - at > late_after {
                diesel::update(campaign_runs::table.find(run))
                    .set(campaign_runs::status.eq(RunStatus::AwaitingConfirmation))
                    .execute(conn)?;
                tracing::warn!(run, "campaign run is late: waiting for confirmation");
            } else {
                materialise(conn, run, now)?;
                started += 1;
            }
        }
        Ok(started)
    })
}

/// Creates the due run of each programmed recurring campaign: the latest occurrence at or
/// before `now` since the campaign was programmed. Runs are unique per (campaign, time), so a
/// double tick or a second instance creates nothing more. An occurrence missed by more than
/// `late_after` is created waiting for confirmation. Returns the runs created.
pub fn create_cron_runs(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    late_after: Duration,
) -> QueryResult<usize> {
    let recurring: Vec<(i64, Option<String>, DateTime<Utc>)> = campaigns::table
        .filter(campaigns::schedule_kind.eq(ScheduleKind::Cron))
        .filter(campaigns::status.eq_any([CampaignStatus::Scheduled, CampaignStatus::Running]))
        .select((campaigns::id, campaigns::cron, campaigns::updated_at))
        .load(conn)?;
    let mut created = 0;
    for (id, cron, programmed_at) in recurring {
        let Some(cron) = cron.as_deref().and_then(|c| parse_cron(c).ok()) else {
            continue;
        };
        let last: Option<DateTime<Utc>> = campaign_runs::table
            .filter(campaign_runs::campaign_id.eq(id))
            .select(diesel::dsl::max(campaign_runs::scheduled_for))
            .first(conn)?;
        let since = last.map_or(programmed_at, |l| l.max(programmed_at));
        let Some(at) = latest_occurrence(&cron, since, now) else {
            continue;
        };
        let status = if now - at > late_after {
            RunStatus::AwaitingConfirmation
        } else {
            RunStatus::Planned
        };
        if create_run(conn, id, at, status)?.is_some() {
            created += 1;
        }
    }
    Ok(created)
}

/// Marks finished the sending runs with nothing pending, and their campaigns: a one-off one is
/// then « terminée », a recurring one « programmée » again. Returns the runs finished.
pub fn finish_completed_runs(conn: &mut PgConnection, now: DateTime<Utc>) -> QueryResult<usize> {
    #[derive(QueryableByName)]
    struct Finished {
        #[diesel(sql_type = BigInt)]
        campaign_id: i64,
    }
    let finished: Vec<Finished> = diesel::sql_query(
        "UPDATE campaign_runs r SET status = $2, finished_at = $1 \
         WHERE r.status = $3 AND r.claim_cursor >= r.last_delivery_id \
           AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.run_id = r.id \
                               AND d.id BETWEEN r.first_delivery_id AND r.last_delivery_id \
                               AND d.status = $4) \
         RETURNING r.campaign_id",
    )
    .bind::<Timestamptz, _>(now)
    .bind::<Text, _>(RunStatus::Done)
    .bind::<Text, _>(RunStatus::Sending)
    .bind::<Text, _>(DeliveryStatus::Pending)
    .load(conn)?;
    for f in &finished {
        diesel::sql_query(
            "UPDATE campaigns c SET status = CASE WHEN c.schedule_kind = $3 \
                 THEN $4 ELSE $5 END, updated_at = $2 \
             WHERE c.id = $1 AND c.status = $6 \
               AND NOT EXISTS (SELECT 1 FROM campaign_runs r WHERE r.campaign_id = c.id \
                   AND r.status IN ($7, $8, $9, $10))",
        )
        .bind::<BigInt, _>(f.campaign_id)
        .bind::<Timestamptz, _>(now)
        .bind::<Text, _>(ScheduleKind::Cron)
        .bind::<Text, _>(CampaignStatus::Scheduled)
        .bind::<Text, _>(CampaignStatus::Finished)
        .bind::<Text, _>(CampaignStatus::Running)
        .bind::<Text, _>(RunStatus::Planned)
        .bind::<Text, _>(RunStatus::AwaitingConfirmation)
        .bind::<Text, _>(RunStatus::Sending)
        .bind::<Text, _>(RunStatus::Paused)
        .execute(conn)?;
    }
    Ok(finished.len())
}
