//! Campaigns as the staff write them: the campaign form's input, the campaign and run rows,
//! and the campaign's creation and changes while it is a draft.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::db::enums::{CampaignKind, CampaignStatus, RunStatus, ScheduleKind};
use crate::db::schema::{campaign_lists, campaign_runs, campaigns};
use crate::staff::audit::audit;

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
    /// Set for every e-mail campaign (a constraint); this struct is only loaded for those
    /// (letter campaigns are `crate::letters::LetterCampaign`).
    #[diesel(
        select_expression = campaigns::template_id.assume_not_null(),
        select_expression_type = diesel::dsl::AssumeNotNull<campaigns::template_id>
    )]
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
    /// Contacts of the lists left out for want of an e-mail address.
    pub without_email: i32,
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

/// An e-mail campaign (letter campaigns are not found here).
pub fn find(conn: &mut PgConnection, id: i64) -> QueryResult<Option<Campaign>> {
    campaigns::table
        .find(id)
        .filter(campaigns::kind.eq(CampaignKind::Email))
        .select(Campaign::as_select())
        .first(conn)
        .optional()
}

/// Every e-mail campaign, newest first.
pub fn list_all(conn: &mut PgConnection) -> QueryResult<Vec<Campaign>> {
    campaigns::table
        .filter(campaigns::kind.eq(CampaignKind::Email))
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

/// Sets the lists a campaign (of e-mails or of letters) is sent to.
pub(crate) fn set_lists(
    conn: &mut PgConnection,
    campaign_id: i64,
    list_ids: &[i64],
) -> QueryResult<()> {
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

pub(super) fn lock_status(
    conn: &mut PgConnection,
    id: i64,
) -> Result<CampaignStatus, LifecycleError> {
    campaigns::table
        .find(id)
        .filter(campaigns::kind.eq(CampaignKind::Email))
        .select(campaigns::status)
        .for_update()
        .first(conn)
        .optional()?
        .ok_or(LifecycleError::NotFound)
}
