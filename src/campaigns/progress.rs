//! Following a campaign: what its page shows (template, lists, each run's progress, the
//! outcome) and how its schedule reads.

use chrono::{DateTime, Utc};
use diesel::{PgConnection, QueryResult};

use crate::campaigns::form::paris;
use crate::campaigns::library;
use crate::campaigns::runs::{self, Campaign, Outcome, RunProgress, Schedule};
use crate::db::enums::RunStatus;

/// Everything the campaign's page shows.
pub struct CampaignDetails {
    pub campaign: Campaign,
    pub template: String,
    pub lists: Vec<String>,
    pub runs: Vec<RunProgress>,
    pub outcome: Outcome,
}

impl CampaignDetails {
    /// Messages still waiting, over every run, and the runs not started yet: what cancelling
    /// would stop.
    pub fn pending_and_planned(&self) -> (i64, usize) {
        let pending: i64 = self.runs.iter().map(|r| r.pending).sum();
        let planned = self
            .runs
            .iter()
            .filter(|r| {
                matches!(
                    r.status,
                    RunStatus::Planned | RunStatus::AwaitingConfirmation
                )
            })
            .count();
        (pending, planned)
    }
}

/// A campaign and how its runs go at `now`; None when it does not exist.
pub fn load(
    conn: &mut PgConnection,
    id: i64,
    now: DateTime<Utc>,
) -> QueryResult<Option<CampaignDetails>> {
    let Some(campaign) = runs::find(conn, id)? else {
        return Ok(None);
    };
    let template = library::find(conn, campaign.template_id)?
        .map(|t| t.name)
        .unwrap_or_default();
    let lists = library::list_names(conn, id)?;
    let runs = runs::progress(conn, id, campaign.rate_per_minute, now)?;
    let outcome = runs::outcome(conn, id)?;
    Ok(Some(CampaignDetails {
        campaign,
        template,
        lists,
        runs,
        outcome,
    }))
}

/// A run's counts as its progress bar reads them: messages processed, the total (never less
/// than what is processed and pending), and the percentage done (0 before it starts).
pub fn run_figures(p: &RunProgress) -> (i64, i64, i64) {
    let processed = p.sent + p.failed + p.skipped + p.cancelled;
    let total = p.recipients.max(processed + p.pending);
    let percent = match (p.started_at.is_some(), total) {
        (false, _) => 0,
        (true, 0) => 100,
        (true, total) => processed * 100 / total,
    };
    (processed, total, percent)
}

/// When a campaign sends, in words.
pub fn schedule_label(c: &Campaign) -> String {
    match c.schedule() {
        Schedule::Now => "Dès la programmation".to_owned(),
        Schedule::At(t) => format!("Le {}", paris(t)),
        Schedule::Cron(expr) => format!("Récurrente : « {expr} » (heure de Paris)"),
    }
}
