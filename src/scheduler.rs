//! Scheduled jobs (tokio-cron-scheduler, Europe/Paris time). A job only claims its occurrence
//! in PostgreSQL and queues work; e-mails are sent by the mail worker. Several instances may run
//! the same schedule: the claim makes each occurrence happen once.

use std::sync::Arc;

use anyhow::Context;
use tokio::sync::Notify;
use tokio_cron_scheduler::{Job, JobScheduler};

use crate::config::{normalize_cron, Settings};
use crate::db::PgPool;
use crate::metrics::Metrics;
use crate::pipeline::followups;

/// Runs the daily digest for today (Paris date) if no instance did yet.
pub async fn daily_digest(
    settings: Arc<Settings>,
    pool: PgPool,
    wake: Arc<Notify>,
    metrics: Arc<Metrics>,
) {
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Europe::Paris)
        .date_naive();
    let result = tokio::task::spawn_blocking(move || -> anyhow::Result<usize> {
        let mut conn = pool.get()?;
        followups::queue_daily_digest(&mut conn, &settings, today)
    })
    .await;
    metrics.scheduler_run("daily_digest", matches!(result, Ok(Ok(_))));
    match result {
        Ok(Ok(0)) => {}
        Ok(Ok(queued)) => {
            tracing::info!(queued, "daily digest queued");
            wake.notify_one();
        }
        Ok(Err(e)) => tracing::warn!(error = %e, "daily digest failed"),
        Err(e) => tracing::warn!(error = %e, "daily digest task failed"),
    }
}

/// Marks offers past their answer date as expired (Paris date), then records the placements
/// that start today ([`start_placements`]). Idempotent: every instance may run it; the second
/// finds nothing to do.
pub async fn expire_offers(pool: PgPool, metrics: Arc<Metrics>) {
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Europe::Paris)
        .date_naive();
    let starts = pool.clone();
    let result = tokio::task::spawn_blocking(move || -> anyhow::Result<usize> {
        let mut conn = pool.get()?;
        Ok(crate::offers::expire_due(&mut conn, today)?)
    })
    .await;
    metrics.scheduler_run("offer_expiry", matches!(result, Ok(Ok(_))));
    match result {
        Ok(Ok(0)) => {}
        Ok(Ok(expired)) => tracing::info!(expired, "offers expired"),
        Ok(Err(e)) => tracing::warn!(error = %e, "offer expiry failed"),
        Err(e) => tracing::warn!(error = %e, "offer expiry task failed"),
    }
    start_placements(starts, metrics, today).await;
}

/// Moves to « Recrutée » the applications whose placement starts on or before `today` (Paris
/// date), the move dated at the start day. Run with the offers' daily job (same schedule,
/// `scheduler.offer_expiry_cron`) and at start-up. Idempotent and safe with several instances.
pub async fn start_placements(pool: PgPool, metrics: Arc<Metrics>, today: chrono::NaiveDate) {
    let result = tokio::task::spawn_blocking(move || -> anyhow::Result<usize> {
        let mut conn = pool.get()?;
        Ok(crate::placements::start_due(&mut conn, today)?)
    })
    .await;
    metrics.scheduler_run("placement_start", matches!(result, Ok(Ok(_))));
    match result {
        Ok(Ok(0)) => {}
        Ok(Ok(started)) => tracing::info!(started, "placements started"),
        Ok(Err(e)) => tracing::warn!(error = %e, "placement start failed"),
        Err(e) => tracing::warn!(error = %e, "placement start task failed"),
    }
}

/// Creates the due runs of recurring campaigns (the scheduler only creates runs: the campaign
/// senders start and send them). Runs are unique per campaign and time, so every instance may
/// tick.
pub async fn campaign_tick(
    settings: Arc<Settings>,
    pool: PgPool,
    wake: Arc<Notify>,
    metrics: Arc<Metrics>,
) {
    let late = chrono::Duration::minutes(settings.campaigns.late_after_minutes);
    let result = tokio::task::spawn_blocking(move || -> anyhow::Result<usize> {
        let mut conn = pool.get()?;
        Ok(crate::campaigns::runs::lifecycle::create_cron_runs(
            &mut conn,
            chrono::Utc::now(),
            late,
        )?)
    })
    .await;
    metrics.scheduler_run("campaign_tick", matches!(result, Ok(Ok(_))));
    match result {
        Ok(Ok(0)) => {}
        Ok(Ok(created)) => {
            tracing::info!(created, "campaign runs created");
            wake.notify_waiters();
        }
        Ok(Err(e)) => tracing::warn!(error = %e, "campaign tick failed"),
        Err(e) => tracing::warn!(error = %e, "campaign tick task failed"),
    }
}

/// Runs the personal-data retention job for today (Paris date) if no instance did yet:
/// anonymisation of candidates kept too long, and offers to renew pool consent.
pub async fn privacy_retention(
    settings: Arc<Settings>,
    pool: PgPool,
    wake: Arc<Notify>,
    metrics: Arc<Metrics>,
) {
    let now = chrono::Utc::now();
    let today = now.with_timezone(&chrono_tz::Europe::Paris).date_naive();
    let result = tokio::task::spawn_blocking(move || {
        let mut conn = pool.get()?;
        crate::privacy::run_daily(&mut conn, &settings, today, now)
    })
    .await;
    metrics.scheduler_run("privacy_retention", matches!(result, Ok(Ok(_))));
    match result {
        Ok(Ok(None)) => {}
        Ok(Ok(Some(report))) => {
            tracing::info!(
                anonymised_retention = report.anonymised_retention,
                anonymised_without_consent = report.anonymised_without_consent,
                documents_deleted = report.documents_deleted,
                consent_reminders = report.consent_reminders,
                "personal data retention applied"
            );
            if report.consent_reminders > 0 {
                wake.notify_one();
            }
        }
        Ok(Err(e)) => tracing::warn!(error = %e, "personal data retention failed"),
        Err(e) => tracing::warn!(error = %e, "personal data retention task failed"),
    }
}

/// Starts the scheduler with the configured jobs; None when every job is disabled. Offers
/// whose answer date passed, and placements whose start day came, while the service was
/// stopped are dealt with at once.
pub async fn start(
    settings: Arc<Settings>,
    pool: PgPool,
    wake: Arc<Notify>,
    campaign_wake: Arc<Notify>,
) -> anyhow::Result<Option<JobScheduler>> {
    start_with_metrics(
        settings,
        pool,
        wake,
        campaign_wake,
        Arc::new(Metrics::new()),
    )
    .await
}

/// `start`, counting each job's runs in `metrics` (what the service does).
pub async fn start_with_metrics(
    settings: Arc<Settings>,
    pool: PgPool,
    wake: Arc<Notify>,
    campaign_wake: Arc<Notify>,
    metrics: Arc<Metrics>,
) -> anyhow::Result<Option<JobScheduler>> {
    let digest = normalize_cron(&settings.scheduler.daily_digest_cron)
        .map_err(|e| anyhow::anyhow!("scheduler.daily_digest_cron : {e}"))?;
    let expiry = normalize_cron(&settings.scheduler.offer_expiry_cron)
        .map_err(|e| anyhow::anyhow!("scheduler.offer_expiry_cron : {e}"))?;
    if expiry.is_some() {
        tokio::spawn(expire_offers(pool.clone(), metrics.clone()));
    }
    let tick = normalize_cron(&settings.campaigns.tick_cron)
        .map_err(|e| anyhow::anyhow!("campaigns.tick_cron : {e}"))?;
    let retention = normalize_cron(&settings.privacy.retention_cron)
        .map_err(|e| anyhow::anyhow!("privacy.retention_cron : {e}"))?;
    if digest.is_none() && expiry.is_none() && tick.is_none() && retention.is_none() {
        return Ok(None);
    }
    let scheduler = JobScheduler::new()
        .await
        .context("starting the scheduler")?;
    if let Some(cron) = tick {
        let (settings, pool, metrics) = (settings.clone(), pool.clone(), metrics.clone());
        add_job(&scheduler, &cron, "campaigns.tick_cron", move || {
            campaign_tick(
                settings.clone(),
                pool.clone(),
                campaign_wake.clone(),
                metrics.clone(),
            )
        })
        .await?;
    }
    if let Some(cron) = retention {
        let (settings, pool, wake, metrics) = (
            settings.clone(),
            pool.clone(),
            wake.clone(),
            metrics.clone(),
        );
        add_job(&scheduler, &cron, "privacy.retention_cron", move || {
            privacy_retention(
                settings.clone(),
                pool.clone(),
                wake.clone(),
                metrics.clone(),
            )
        })
        .await?;
    }
    if let Some(cron) = digest {
        let (settings, pool, metrics) = (settings.clone(), pool.clone(), metrics.clone());
        add_job(
            &scheduler,
            &cron,
            "scheduler.daily_digest_cron",
            move || {
                daily_digest(
                    settings.clone(),
                    pool.clone(),
                    wake.clone(),
                    metrics.clone(),
                )
            },
        )
        .await?;
    }
    if let Some(cron) = expiry {
        add_job(
            &scheduler,
            &cron,
            "scheduler.offer_expiry_cron",
            move || expire_offers(pool.clone(), metrics.clone()),
        )
        .await?;
    }
    scheduler.start().await.context("starting the scheduler")?;
    Ok(Some(scheduler))
}

/// Adds a job run at each occurrence of `cron` (Europe/Paris); `setting` names the configuration
/// key in the error.
async fn add_job<F, Fut>(
    scheduler: &JobScheduler,
    cron: &str,
    setting: &str,
    run: F,
) -> anyhow::Result<()>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let job = Job::new_async_tz(cron, chrono_tz::Europe::Paris, move |_id, _lock| {
        // A panicking job is contained (and counted) in a task of its own: the scheduler and
        // the process go on, and the next occurrence runs.
        let run = run();
        let job: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> =
            Box::pin(async move {
                crate::supervise::contained("scheduler_job", run).await;
            });
        job
    })
    .map_err(|e| anyhow::anyhow!("{setting} « {cron} » : {e}"))?;
    scheduler
        .add(job)
        .await
        .with_context(|| format!("adding the job of {setting}"))?;
    Ok(())
}
