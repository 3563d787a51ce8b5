//! What communications staff do to a campaign once saved (schedule, unschedule, pause, resume,
//! cancel, retry the failures) and to a run that waits for confirmation (send it or skip it).

use chrono::{DateTime, Utc};
use diesel::PgConnection;

use crate::campaigns::library;
use crate::campaigns::runs::{self, LifecycleError, Schedule};
use crate::db::enums::CampaignStatus;

/// An action on a campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Schedule,
    Unschedule,
    Pause,
    Resume,
    Cancel,
    RetryFailed,
}

impl Action {
    /// The action a page's button names (`/campagnes/{id}/{action}`).
    pub fn from_slug(slug: &str) -> Option<Action> {
        Some(match slug {
            "programmer" => Action::Schedule,
            "deprogrammer" => Action::Unschedule,
            "pause" => Action::Pause,
            "reprendre" => Action::Resume,
            "annuler" => Action::Cancel,
            "relancer" => Action::RetryFailed,
            _ => return None,
        })
    }
}

/// A decision on a run that waits for confirmation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Send,
    Skip,
}

impl Decision {
    pub fn from_slug(slug: &str) -> Option<Decision> {
        match slug {
            "envoyer" => Some(Decision::Send),
            "ne-pas-envoyer" => Some(Decision::Skip),
            _ => None,
        }
    }
}

/// What an action or a decision did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Done {
    Scheduled,
    Unscheduled,
    Paused,
    Resumed,
    /// Messages that were waiting and will not go.
    Cancelled(usize),
    /// Failed messages queued again.
    Retried(usize),
    RunConfirmed,
    RunSkipped,
}

/// Why an action was not done.
#[derive(Debug)]
pub enum Refused {
    /// A campaign set for a date that has passed cannot be scheduled as it is.
    PastDate(DateTime<Utc>),
    Lifecycle(LifecycleError),
}

impl From<LifecycleError> for Refused {
    fn from(e: LifecycleError) -> Refused {
        Refused::Lifecycle(e)
    }
}

/// Does `action` to campaign `id` at `now`.
pub fn perform(
    conn: &mut PgConnection,
    id: i64,
    action: Action,
    now: DateTime<Utc>,
    actor: Option<i64>,
) -> Result<Done, Refused> {
    Ok(match action {
        Action::Schedule => {
            let campaign = runs::find(conn, id)
                .map_err(LifecycleError::Db)?
                .ok_or(LifecycleError::NotFound)?;
            if let (Schedule::At(at), CampaignStatus::Draft) =
                (campaign.schedule(), campaign.status)
            {
                if at <= now {
                    return Err(Refused::PastDate(at));
                }
            }
            runs::schedule(conn, id, now, actor).map(|()| Done::Scheduled)?
        }
        Action::Unschedule => runs::unschedule(conn, id, actor).map(|()| Done::Unscheduled)?,
        Action::Pause => runs::pause(conn, id, actor).map(|()| Done::Paused)?,
        Action::Resume => runs::resume(conn, id, actor).map(|()| Done::Resumed)?,
        Action::Cancel => runs::cancel(conn, id, actor).map(Done::Cancelled)?,
        Action::RetryFailed => runs::retry_failed(conn, id, now, actor).map(Done::Retried)?,
    })
}

/// Sends or skips `run`, which must belong to campaign `id`.
pub fn decide(
    conn: &mut PgConnection,
    id: i64,
    run: i64,
    decision: Decision,
    now: DateTime<Utc>,
    actor: Option<i64>,
) -> Result<Done, LifecycleError> {
    if library::run_campaign(conn, run)? != Some(id) {
        return Err(LifecycleError::NotFound);
    }
    match decision {
        Decision::Send => runs::confirm_run(conn, run, now, actor).map(|()| Done::RunConfirmed),
        Decision::Skip => runs::skip_run(conn, run, actor).map(|()| Done::RunSkipped),
    }
}
