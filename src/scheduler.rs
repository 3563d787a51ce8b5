//! Scheduled jobs (tokio-cron-scheduler, Europe/Paris time). A job only claims its occurrence
//! in PostgreSQL and queues work; e-mails are sent by the mail worker. Several instances may run
//! the same schedule: the claim makes each occurrence happen once.

use std::sync::Arc;

use anyhow::Context;
use tokio::sync::Notify;
use tokio_cron_scheduler::{Job, JobScheduler};

use crate::config::{normalize_cron, Settings};
use crate::db::PgPool;
use crate::pipeline::followups;

/// Runs the daily digest for today (Paris date) if no instance did yet.
pub async fn daily_digest(settings: Arc<Settings>, pool: PgPool, wake: Arc<Notify>) {
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Europe::Paris)
        .date_naive();
    let result = tokio::task::spawn_blocking(move || -> anyhow::Result<usize> {
        let mut conn = pool.get()?;
        followups::queue_daily_digest(&mut conn, &settings, today)
    })
    .await;
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

/// Starts the scheduler with the configured jobs; None when every job is disabled.
pub async fn start(
    settings: Arc<Settings>,
    pool: PgPool,
    wake: Arc<Notify>,
) -> anyhow::Result<Option<JobScheduler>> {
    let Some(cron) = normalize_cron(&settings.scheduler.daily_digest_cron)
        .map_err(|e| anyhow::anyhow!("scheduler.daily_digest_cron : {e}"))?
    else {
        return Ok(None);
    };
    let scheduler = JobScheduler::new()
        .await
        .context("starting the scheduler")?;
    let job = Job::new_async_tz(
        cron.as_str(),
        chrono_tz::Europe::Paris,
        move |_id, _lock| {
            let (settings, pool, wake) = (settings.clone(), pool.clone(), wake.clone());
            Box::pin(async move { daily_digest(settings, pool, wake).await })
        },
    )
    .map_err(|e| anyhow::anyhow!("scheduler.daily_digest_cron « {cron} » : {e}"))?;
    scheduler
        .add(job)
        .await
        .context("adding the daily digest")?;
    scheduler.start().await.context("starting the scheduler")?;
    Ok(Some(scheduler))
}
