//! Campaigns and their runs: the lifecycle (brouillon → programmée → en cours ⇄ en pause →
//! terminée, or annulée), the creation of runs (one per campaign and scheduled time, by a
//! unique constraint), their activation (deliveries materialised in one transaction), late runs
//! waiting for confirmation, and the figures shown on a campaign's page.
//!
//! Nothing here talks SMTP: sending is [`super::sender`]'s job.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Timestamptz};

use crate::db::enums::{CampaignStatus, RunStatus, ScheduleKind};
use crate::db::schema::{campaign_lists, campaign_runs, campaigns, deliveries};
use crate::staff::auth::audit;

/// When a campaign goes out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    Now,
    At(DateTime<Utc>),
    /// A cron expression as people write it (5 fields) or with seconds first, Europe/Paris.
    Cron(String),
}

/// What the campaign form gives.
#[derive(Debug, Clone)]
pub struct CampaignInput {
    pub name: String,
    pub template_id: i64,
    pub list_ids: Vec<i64>,
    pub sender_name: String,
    pub sender_email: String,
    pub rate_per_minute: i32,
    pub schedule: Schedule,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = campaigns, check_for_backend(diesel::pg::Pg))]
pub struct Campaign {
    pub id: i64,
    pub name: String,
    pub template_id: i64,
    pub sender_name: String,
    pub sender_email: String,
    pub rate_per_minute: i32,
    pub schedule_kind: ScheduleKind,
    pub scheduled_at: Option<DateTime<Utc>>,
    pub cron: Option<String>,
    pub status: CampaignStatus,
    pub created_by: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Campaign {
    pub fn schedule(&self) -> Schedule {
        match self.schedule_kind {
            ScheduleKind::Now => Schedule::Now,
            ScheduleKind::At => Schedule::At(self.scheduled_at.unwrap_or(self.created_at)),
            ScheduleKind::Cron => Schedule::Cron(self.cron.clone().unwrap_or_default()),
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = campaign_runs, check_for_backend(diesel::pg::Pg))]
pub struct Run {
    pub id: i64,
    pub campaign_id: i64,
    pub scheduled_for: DateTime<Utc>,
    pub status: RunStatus,
    pub recipients: i32,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// Why an action on a campaign was refused (the message is shown to the user).
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error("cette action n'est pas possible pour une campagne « {} »", .0.label())]
    WrongStatus(CampaignStatus),
    #[error("cet envoi n'attend pas de confirmation")]
    RunNotWaiting,
    #[error("campagne introuvable")]
    NotFound,
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

// ---------------------------------------------------------------------------------------------
// Cron

/// Parses a recurring schedule: 5 fields (minute hour day month weekday) or 6 (seconds first).
/// Occurrences less than an hour apart are refused: a mailing to thousands of people every
/// minute is a typing mistake, not a campaign.
pub fn parse_cron(expr: &str) -> Result<croner::Cron, String> {
    let fields = expr.split_whitespace().count();
    if fields != 5 && fields != 6 {
        return Err(format!(
            "« {expr} » a {fields} champ(s) ; écrivez 5 champs : minute heure jour mois jour-de-semaine (par exemple « 0 9 * * 1 » pour chaque lundi à 9 h)"
        ));
    }
    let cron: croner::Cron = expr
        .trim()
        .parse()
        .map_err(|e| format!("« {expr} » n'est pas une expression cron valide ({e})"))?;
    let start = Utc::now().with_timezone(&chrono_tz::Europe::Paris);
    let mut it = cron.iter_after(start);
    let (Some(a), Some(b)) = (it.next(), it.next()) else {
        return Err(format!("« {expr} » ne se produit jamais"));
    };
    if b - a < Duration::hours(1) {
        return Err(format!(
            "« {expr} » enverrait un message toutes les {} minute(s) : il faut au moins une heure entre deux envois",
            (b - a).num_minutes().max(1)
        ));
    }
    Ok(cron)
}

/// The next `n` occurrences after `after` (Paris time), for the campaign's page.
pub fn next_occurrences(expr: &str, after: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
    match parse_cron(expr) {
        Ok(cron) => cron
            .iter_after(after.with_timezone(&chrono_tz::Europe::Paris))
            .take(n)
            .map(|t| t.with_timezone(&Utc))
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// The latest occurrence at or before `now`, if any after `since`.
fn latest_occurrence(
    cron: &croner::Cron,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let paris = now.with_timezone(&chrono_tz::Europe::Paris);
    let t = cron.find_previous_occurrence(&paris, true).ok()?;
    let t = t.with_timezone(&Utc);
    (t > since).then_some(t)
}

// ---------------------------------------------------------------------------------------------
// Campaigns

pub fn find(conn: &mut PgConnection, id: i64) -> QueryResult<Option<Campaign>> {
    campaigns::table
        .find(id)
        .select(Campaign::as_select())
        .first(conn)
        .optional()
}

pub fn list_all(conn: &mut PgConnection) -> QueryResult<Vec<Campaign>> {
    campaigns::table
        .select(Campaign::as_select())
        .order(campaigns::created_at.desc())
        .load(conn)
}

pub fn list_ids(conn: &mut PgConnection, campaign_id: i64) -> QueryResult<Vec<i64>> {
    campaign_lists::table
        .filter(campaign_lists::campaign_id.eq(campaign_id))
        .select(campaign_lists::list_id)
        .order(campaign_lists::list_id)
        .load(conn)
}

fn schedule_columns(schedule: &Schedule) -> (ScheduleKind, Option<DateTime<Utc>>, Option<String>) {
    match schedule {
        Schedule::Now => (ScheduleKind::Now, None, None),
        Schedule::At(t) => (ScheduleKind::At, Some(*t), None),
        Schedule::Cron(c) => (ScheduleKind::Cron, None, Some(c.trim().to_owned())),
    }
}

fn set_lists(conn: &mut PgConnection, campaign_id: i64, list_ids: &[i64]) -> QueryResult<()> {
    diesel::delete(campaign_lists::table.filter(campaign_lists::campaign_id.eq(campaign_id)))
        .execute(conn)?;
    let rows: Vec<_> = list_ids
        .iter()
        .map(|l| {
            (
                campaign_lists::campaign_id.eq(campaign_id),
                campaign_lists::list_id.eq(*l),
            )
        })
        .collect();
    diesel::insert_into(campaign_lists::table)
        .values(&rows)
        .on_conflict_do_nothing()
        .execute(conn)?;
    Ok(())
}

/// A new campaign, as a draft.
pub fn create(
    conn: &mut PgConnection,
    input: &CampaignInput,
    actor: Option<i64>,
) -> QueryResult<i64> {
    let (kind, at, cron) = schedule_columns(&input.schedule);
    conn.transaction(|conn| {
        let id: i64 = diesel::insert_into(campaigns::table)
            .values((
                campaigns::name.eq(input.name.trim()),
                campaigns::template_id.eq(input.template_id),
                campaigns::sender_name.eq(input.sender_name.trim()),
                campaigns::sender_email.eq(input.sender_email.trim()),
                campaigns::rate_per_minute.eq(input.rate_per_minute),
                campaigns::schedule_kind.eq(kind),
                campaigns::scheduled_at.eq(at),
                campaigns::cron.eq(cron),
                campaigns::created_by.eq(actor),
            ))
            .returning(campaigns::id)
            .get_result(conn)?;
        set_lists(conn, id, &input.list_ids)?;
        audit(
            conn,
            actor,
            "campaign.create",
            "campaign",
            Some(id),
            &input.name,
        )?;
        Ok(id)
    })
}

/// Changes a draft. A programmed campaign must be set back to draft first.
pub fn update(
    conn: &mut PgConnection,
    id: i64,
    input: &CampaignInput,
    actor: Option<i64>,
) -> Result<(), LifecycleError> {
    let (kind, at, cron) = schedule_columns(&input.schedule);
    conn.transaction(|conn| {
        let status = lock_status(conn, id)?;
        if status != CampaignStatus::Draft {
            return Err(LifecycleError::WrongStatus(status));
        }
        diesel::update(campaigns::table.find(id))
            .set((
                campaigns::name.eq(input.name.trim()),
                campaigns::template_id.eq(input.template_id),
                campaigns::sender_name.eq(input.sender_name.trim()),
                campaigns::sender_email.eq(input.sender_email.trim()),
                campaigns::rate_per_minute.eq(input.rate_per_minute),
                campaigns::schedule_kind.eq(kind),
                campaigns::scheduled_at.eq(at),
                campaigns::cron.eq(cron),
                campaigns::updated_at.eq(Utc::now()),
            ))
            .execute(conn)?;
        set_lists(conn, id, &input.list_ids)?;
        audit(
            conn,
            actor,
            "campaign.update",
            "campaign",
            Some(id),
            &input.name,
        )?;
        Ok(())
    })
}

fn lock_status(conn: &mut PgConnection, id: i64) -> Result<CampaignStatus, LifecycleError> {
    campaigns::table
        .find(id)
        .select(campaigns::status)
        .for_update()
        .first(conn)
        .optional()?
        .ok_or(LifecycleError::NotFound)
}

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
    conn.transaction(|conn| {
        let status = lock_status(conn, id)?;
        if status != CampaignStatus::Running {
            return Err(LifecycleError::WrongStatus(status));
        }
        set_runs(conn, id, &[RunStatus::Sending], RunStatus::Paused)?;
        set_status(conn, id, CampaignStatus::Paused, Utc::now())?;
        audit(conn, actor, "campaign.pause", "campaign", Some(id), "")?;
        Ok(())
    })
}

pub fn resume(conn: &mut PgConnection, id: i64, actor: Option<i64>) -> Result<(), LifecycleError> {
    conn.transaction(|conn| {
        let status = lock_status(conn, id)?;
        if status != CampaignStatus::Paused {
            return Err(LifecycleError::WrongStatus(status));
        }
        set_runs(conn, id, &[RunStatus::Paused], RunStatus::Sending)?;
        set_status(conn, id, CampaignStatus::Running, Utc::now())?;
        audit(conn, actor, "campaign.resume", "campaign", Some(id), "")?;
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
                .filter(deliveries::status.eq(crate::db::enums::DeliveryStatus::Pending)),
        )
        .set((
            deliveries::status.eq(crate::db::enums::DeliveryStatus::Cancelled),
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
            "UPDATE deliveries d SET status = 'en_attente', attempts = 0, next_attempt_at = $2, \
                 locked_until = NULL, last_error = NULL, smtp_code = NULL, updated_at = $2 \
             FROM campaign_runs r \
             WHERE r.id = d.run_id AND r.campaign_id = $1 AND r.status IN ('termine', 'envoi', 'pause') \
               AND d.status = 'echec' \
               AND NOT EXISTS (SELECT 1 FROM suppressions s WHERE s.email = lower(d.email)) \
             RETURNING d.run_id",
        )
        .bind::<BigInt, _>(id)
        .bind::<Timestamptz, _>(now)
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
        let run = lock_run(conn, run_id)?;
        if run.status != RunStatus::AwaitingConfirmation {
            return Err(LifecycleError::RunNotWaiting);
        }
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
        let run = lock_run(conn, run_id)?;
        if run.status != RunStatus::AwaitingConfirmation {
            return Err(LifecycleError::RunNotWaiting);
        }
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

fn lock_run(conn: &mut PgConnection, run_id: i64) -> Result<Run, LifecycleError> {
    campaign_runs::table
        .find(run_id)
        .select(Run::as_select())
        .for_update()
        .first(conn)
        .optional()?
        .ok_or(LifecycleError::NotFound)
}

// ---------------------------------------------------------------------------------------------
// Runs

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
        // The recipients are sorted by address (DISTINCT ON): 100,000 of them take about
        // 15 MB, which spilled to disk under the default 4 MB (0.3-0.5 s more).
        diesel::sql_query("SET LOCAL work_mem = '64MB'").execute(conn)?;
        // Once per run: a second call finds the run's deliveries and adds nobody. No ON
        // CONFLICT: DISTINCT ON already gives one row per address (so per contact), and a
        // speculative insertion per row made materialising 40 % slower (3.4 s against 2.4 s
        // for 100,000 recipients in the mailing benchmark); the unique indexes
        // still refuse a duplicate.
        diesel::sql_query(
            "INSERT INTO deliveries (run_id, contact_id, email, next_attempt_at, updated_at) \
             SELECT DISTINCT ON (lower(c.email)) $1, c.id, c.email, $3, $3 \
             FROM contacts c \
             JOIN list_members m ON m.contact_id = c.id \
             JOIN campaign_lists cl ON cl.list_id = m.list_id AND cl.campaign_id = $2 \
             WHERE c.status = 'active' \
               AND NOT EXISTS (SELECT 1 FROM suppressions s WHERE s.email = lower(c.email)) \
               AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.run_id = $1) \
             ORDER BY lower(c.email), c.id",
        )
        .bind::<BigInt, _>(run_id)
        .bind::<BigInt, _>(campaign_id)
        .bind::<Timestamptz, _>(now)
        .execute(conn)?;
        // The run's range of ids: claims walk it with their cursor (migration 000016).
        let (recipients, first, last): (i64, Option<i64>, Option<i64>) = deliveries::table
            .filter(deliveries::run_id.eq(run_id))
            .select((
                diesel::dsl::count_star(),
                diesel::dsl::min(deliveries::id),
                diesel::dsl::max(deliveries::id),
            ))
            .get_result(conn)?;
        let (first, last) = (first.unwrap_or(0), last.unwrap_or(0));
        diesel::update(campaign_runs::table.find(run_id))
            .set((
                campaign_runs::status.eq(RunStatus::Sending),
                campaign_runs::recipients.eq(recipients as i32),
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
        if recipients == 0 {
            finish_completed_runs(conn, now)?;
        }
        Ok(recipients)
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
        "UPDATE campaign_runs r SET status = 'termine', finished_at = $1 \
         WHERE r.status = 'envoi' AND r.claim_cursor >= r.last_delivery_id \
           AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.run_id = r.id \
                               AND d.id BETWEEN r.first_delivery_id AND r.last_delivery_id \
                               AND d.status = 'en_attente') \
         RETURNING r.campaign_id",
    )
    .bind::<Timestamptz, _>(now)
    .load(conn)?;
    for f in &finished {
        diesel::sql_query(
            "UPDATE campaigns c SET status = CASE WHEN c.schedule_kind = 'cron' \
                 THEN 'programmee' ELSE 'terminee' END, updated_at = $2 \
             WHERE c.id = $1 AND c.status = 'en_cours' \
               AND NOT EXISTS (SELECT 1 FROM campaign_runs r WHERE r.campaign_id = c.id \
                   AND r.status IN ('planifie', 'a_confirmer', 'envoi', 'pause'))",
        )
        .bind::<BigInt, _>(f.campaign_id)
        .bind::<Timestamptz, _>(now)
        .execute(conn)?;
    }
    Ok(finished.len())
}

// ---------------------------------------------------------------------------------------------
// Figures

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
    pub cancelled: i64,
    pub pending: i64,
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
    sent_last_minute: i64,
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
            count(*) FILTER (WHERE d.status = 'envoye') AS sent, \
            count(*) FILTER (WHERE d.status = 'echec') AS failed, \
            count(*) FILTER (WHERE d.status = 'ecarte') AS skipped, \
            count(*) FILTER (WHERE d.status = 'annule') AS cancelled, \
            count(*) FILTER (WHERE d.status = 'en_attente') AS pending, \
            count(*) FILTER (WHERE d.status = 'envoye' AND d.sent_at > $2) AS sent_last_minute \
         FROM deliveries d JOIN campaign_runs r ON r.id = d.run_id \
         WHERE r.campaign_id = $1 GROUP BY d.run_id",
    )
    .bind::<BigInt, _>(campaign_id)
    .bind::<Timestamptz, _>(now - Duration::minutes(1))
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
                cancelled: get(|c| c.cancelled),
                pending,
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

pub fn outcome(conn: &mut PgConnection, campaign_id: i64) -> QueryResult<Outcome> {
    diesel::sql_query(
        "SELECT \
           (SELECT count(*) FROM deliveries d JOIN campaign_runs r ON r.id = d.run_id \
              WHERE r.campaign_id = $1 AND d.status = 'envoye') AS sent, \
           (SELECT count(*) FROM deliveries d JOIN campaign_runs r ON r.id = d.run_id \
              WHERE r.campaign_id = $1 AND d.status = 'echec') AS failed, \
           (SELECT count(*) FROM deliveries d JOIN campaign_runs r ON r.id = d.run_id \
              WHERE r.campaign_id = $1 AND d.unsubscribed_at IS NOT NULL) AS unsubscribed, \
           (SELECT coalesce(sum(k.clicks), 0) FROM link_clicks k \
              JOIN deliveries d ON d.id = k.delivery_id \
              JOIN campaign_runs r ON r.id = d.run_id WHERE r.campaign_id = $1) AS clicks, \
           (SELECT count(*) FROM link_clicks k JOIN deliveries d ON d.id = k.delivery_id \
              JOIN campaign_runs r ON r.id = d.run_id WHERE r.campaign_id = $1) AS clickers, \
           (SELECT count(*) FROM applications a WHERE a.campaign_id = $1) AS applications, \
           (SELECT count(*) FROM applications a WHERE a.campaign_id = $1 \
              AND (a.stage = 'recrutee' OR EXISTS (SELECT 1 FROM placements p WHERE p.application_id = a.id))) \
              AS recruitments, \
           (SELECT max(d.sent_at) FROM deliveries d JOIN campaign_runs r ON r.id = d.run_id \
              WHERE r.campaign_id = $1) AS last_sent_at",
    )
    .bind::<BigInt, _>(campaign_id)
    .get_result(conn)
}

// ---------------------------------------------------------------------------------------------
// Recipients' actions

/// Records a click on a tracked link; returns the campaign it belongs to.
pub fn record_click(conn: &mut PgConnection, delivery_id: i64) -> QueryResult<Option<i64>> {
    use crate::db::schema::link_clicks;
    let campaign = campaign_of_delivery(conn, delivery_id)?;
    if campaign.is_some() {
        // One row per delivery: the first click is kept, later visits only counted; both
        // stamped with the process's clock, which the reports' periods are computed with.
        let now = Utc::now();
        diesel::insert_into(link_clicks::table)
            .values((
                link_clicks::delivery_id.eq(delivery_id),
                link_clicks::clicked_at.eq(now),
                link_clicks::last_clicked_at.eq(now),
            ))
            .on_conflict(link_clicks::delivery_id)
            .do_update()
            .set((
                link_clicks::clicks.eq(link_clicks::clicks + 1),
                link_clicks::last_clicked_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(campaign)
}

/// Unsubscribes the address a delivery went to: suppressed for good, the contact marked, the
/// delivery noted (for the campaign's figures). Idempotent. False when the delivery is unknown.
pub fn unsubscribe(conn: &mut PgConnection, delivery_id: i64) -> QueryResult<bool> {
    conn.transaction(|conn| {
        let found: Option<(String, i64)> = deliveries::table
            .inner_join(campaign_runs::table)
            .filter(deliveries::id.eq(delivery_id))
            .select((deliveries::email, campaign_runs::campaign_id))
            .first(conn)
            .optional()?;
        let Some((email, campaign_id)) = found else {
            return Ok(false);
        };
        super::suppression::suppress(
            conn,
            &email,
            crate::db::enums::SuppressionReason::Unsubscribed,
            &format!("lien de la campagne n° {campaign_id}"),
        )?;
        diesel::update(
            deliveries::table
                .find(delivery_id)
                .filter(deliveries::unsubscribed_at.is_null()),
        )
        .set(deliveries::unsubscribed_at.eq(Utc::now()))
        .execute(conn)?;
        Ok(true)
    })
}

/// The campaign a delivery belongs to (attribution of an application).
pub fn campaign_of_delivery(conn: &mut PgConnection, delivery_id: i64) -> QueryResult<Option<i64>> {
    deliveries::table
        .inner_join(campaign_runs::table)
        .filter(deliveries::id.eq(delivery_id))
        .select(campaign_runs::campaign_id)
        .first(conn)
        .optional()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_field_crons_are_accepted_and_too_frequent_ones_refused() {
        assert!(parse_cron("0 9 * * 1").is_ok());
        assert!(parse_cron("0 0 9 1 * *").is_ok());
        let err = parse_cron("*/5 * * * *").unwrap_err();
        assert!(err.contains("au moins une heure"), "{err}");
        assert!(parse_cron("0 9 * *").unwrap_err().contains("4 champ"));
        assert!(parse_cron("0 25 * * *").is_err());
    }

    #[test]
    fn occurrences_are_in_paris_time() {
        // Every Monday at 9:00 in Paris: 8:00 UTC in winter.
        let after = DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let next = next_occurrences("0 9 * * 1", after, 2);
        assert_eq!(next[0].to_rfc3339(), "2026-11-30T08:00:00+00:00");
        assert_eq!(next[1].to_rfc3339(), "2026-12-07T08:00:00+00:00");
    }

    #[test]
    fn the_latest_occurrence_is_after_the_reference_only() {
        let cron = parse_cron("0 9 * * *").unwrap();
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let now = at("2026-11-23T10:30:00Z");
        assert_eq!(
            latest_occurrence(&cron, at("2026-11-22T12:00:00Z"), now),
            Some(at("2026-11-23T08:00:00Z"))
        );
        assert_eq!(
            latest_occurrence(&cron, at("2026-11-23T08:00:00Z"), now),
            None
        );
    }
}
