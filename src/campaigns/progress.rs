//! Following a campaign: what its page shows (template, lists, each run's progress, the
//! outcome) and how its schedule reads.

use chrono::{DateTime, Utc};
use diesel::{PgConnection, QueryResult};

use crate::campaigns::blanks::{self, EmptyVariable};
use crate::campaigns::form::paris;
use crate::campaigns::library;
use crate::campaigns::runs::{self, Campaign, Outcome, RunProgress, Schedule};
use crate::db::enums::{CampaignStatus, RunStatus};

/// Everything the campaign's page shows.
pub struct CampaignDetails {
    pub campaign: Campaign,
    pub template: String,
    pub lists: Vec<String>,
    pub runs: Vec<RunProgress>,
    pub outcome: Outcome,
    /// For a draft: how many recipients it would have if it started now (what its send
    /// button says); 0 otherwise (not counted).
    pub recipients: i64,
    /// For a draft: how many contacts of its lists it would leave out for want of an e-mail
    /// address; 0 otherwise (each run reports its own).
    pub without_email: i64,
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

    /// What the campaign's page shows that changes along the lifecycle (the campaign's status
    /// and each run's): when the polled figures give another key than the page's, its script
    /// fetches the page again (status, buttons and outcome change together).
    pub fn state_key(&self) -> String {
        let mut key = self.campaign.status.code().to_owned();
        for r in &self.runs {
            key.push_str(&format!(" {}:{}", r.run_id, r.status.code()));
        }
        key
    }

    /// Whether the page can change by itself: a run may start, send or end.
    pub fn is_live(&self) -> bool {
        matches!(
            self.campaign.status,
            CampaignStatus::Scheduled | CampaignStatus::Running
        ) || self.runs.iter().any(|r| r.status == RunStatus::Sending)
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
    let (recipients, without_email) = if campaign.status == CampaignStatus::Draft {
        (
            runs::count_recipients(conn, id)?,
            runs::count_without_email(conn, id)?,
        )
    } else {
        (0, 0)
    };
    Ok(Some(CampaignDetails {
        campaign,
        template,
        lists,
        runs,
        outcome,
        recipients,
        without_email,
    }))
}

/// A campaign's page: its details and, for a draft, the template's variables that some of its
/// recipients would get empty. None when it does not exist.
pub fn load_page(
    conn: &mut PgConnection,
    id: i64,
    now: DateTime<Utc>,
    public_url: &str,
) -> QueryResult<Option<(CampaignDetails, Vec<EmptyVariable>)>> {
    let Some(details) = load(conn, id, now)? else {
        return Ok(None);
    };
    let blanks = match (
        details.campaign.status,
        library::find(conn, details.campaign.template_id)?,
    ) {
        (CampaignStatus::Draft, Some(template)) => {
            blanks::empty_variables(conn, &template, Some(id), public_url)?
        }
        _ => Vec::new(),
    };
    Ok(Some((details, blanks)))
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
