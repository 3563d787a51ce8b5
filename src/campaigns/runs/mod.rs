//! Campaigns and their runs: the lifecycle (brouillon → programmée → en cours ⇄ en pause →
//! terminée, or annulée), the creation of runs (one per campaign and scheduled time, by a
//! unique constraint), their activation (deliveries materialised in one transaction), late runs
//! waiting for confirmation, and the figures shown on a campaign's page.
//!
//! - [`campaign`]: the campaign form's input, the rows, a draft's creation and changes;
//! - [`cron`]: recurring schedules (Europe/Paris);
//! - [`lifecycle`]: every status transition of campaigns and runs, whoever drives it (a staff
//!   action, the coordinator, the scheduler's tick, a sender's claim);
//! - `materialise`: a run's deliveries, inserted once when it starts;
//! - [`progress`]: the figures of a campaign's page;
//! - [`recipients`]: clicks on tracked links and unsubscriptions.
//!
//! Nothing here talks SMTP: sending is [`super::sending`]'s job.

pub mod campaign;
pub mod cron;
pub mod lifecycle;
mod materialise;
pub mod progress;
pub mod recipients;

pub use campaign::{
    create, find, list_all, list_ids, update, Campaign, CampaignInput, LifecycleError, Run,
    Schedule,
};
pub use cron::{next_occurrences, parse_cron};
pub use lifecycle::{
    activate_due_runs, cancel, confirm_run, create_cron_runs, create_run, finish_completed_runs,
    materialise, pause, resume, retry_failed, schedule, skip_run, unschedule,
};
pub use materialise::{count_recipients, count_without_email};
pub use progress::{outcome, progress, statistics, Outcome, RunProgress};
pub use recipients::{campaign_of_delivery, record_click, unsubscribe};
