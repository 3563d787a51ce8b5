//! The campaigns' list, a campaign's page (what it is, its runs, the outcome) and the live
//! figures its script polls.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpResponse};
use chrono::Utc;
use serde::Serialize;
use serde_json::{json, Value};

use super::DoneQuery;
use crate::campaigns::form::paris;
use crate::campaigns::library;
use crate::campaigns::preview::public_url;
use crate::campaigns::progress::{self, run_figures, schedule_label, CampaignDetails};
use crate::campaigns::runs::{self, RunProgress, Schedule};
use crate::db::enums::{CampaignStatus, RunStatus, ScheduleKind};
use crate::domain::french;
use crate::error::AppError;
use crate::staff::COMMUNICATION;
use crate::web::pages::path_id;
use crate::web::staff::{staff_page, Staff};
use crate::web::{db, AppState};

pub async fn campaigns_list(
    state: web::Data<AppState>,
    staff: Staff,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    let (rows, letter_rows) = db(&state, |conn| {
        Ok((
            library::overview(conn)?,
            crate::campaigns::letters::list(conn)?,
        ))
    })
    .await?;
    // Letter campaigns (issue 19): their own page, under /courriers.
    let letter_rows: Vec<Value> = letter_rows
        .iter()
        .map(|c| json!({ "id": c.id, "name": c.name, "status_label": c.status.label() }))
        .collect();
    let rows: Vec<Value> = rows
        .iter()
        .map(|r| {
            let c = &r.campaign;
            json!({
                "id": c.id,
                "name": c.name,
                "status": c.status.code(),
                "status_label": c.status.label(),
                "template": r.template,
                "template_id": c.template_id,
                "lists": r.lists.join(", "),
                "schedule": schedule_label(c),
                "last_run": r.last_run.as_ref().map(|l| json!({
                    "when": paris(l.scheduled_for),
                    "started": !matches!(l.status, RunStatus::Planned | RunStatus::AwaitingConfirmation),
                    "status_label": l.status.label(),
                    "recipients": l.recipients,
                    "sent": l.sent,
                    "failed": l.failed,
                    "pending": l.pending,
                    "figures": format!(
                        "{} sur {}, {}, {}",
                        french::count_label(l.sent, "envoyé", "envoyés"),
                        french::thousands(i64::from(l.recipients)),
                        french::count_label(l.failed, "échec", "échecs"),
                        french::count_label(l.pending, "restant", "restants"),
                    ),
                })),
            })
        })
        .collect();
    staff_page(
        &state,
        &staff,
        "campaigns/list",
        "Campagnes",
        StatusCode::OK,
        json!({ "campaigns": rows, "letter_campaigns": letter_rows }),
    )
}

pub(super) async fn load_campaign(state: &AppState, id: i64) -> Result<CampaignDetails, AppError> {
    let now = Utc::now();
    db(state, move |conn| {
        progress::load(conn, id, now)?.ok_or(AppError::NotFound)
    })
    .await
}

/// One run's figures, as the page and the progression JSON give them.
#[derive(Serialize)]
struct RunView {
    run_id: i64,
    scheduled_for: String,
    status: &'static str,
    status_label: &'static str,
    recipients: i64,
    sent: i64,
    failed: i64,
    skipped: i64,
    without_email: i64,
    cancelled: i64,
    pending: i64,
    bounced: i64,
    processed: i64,
    max: i64,
    percent: i64,
    sent_last_minute: i64,
    estimated_end: String,
    started_at: Option<String>,
    finished_at: Option<String>,
    started: bool,
    sending: bool,
    awaiting: bool,
}

fn run_view(p: &RunProgress) -> RunView {
    let (processed, total, percent) = run_figures(p);
    RunView {
        run_id: p.run_id,
        scheduled_for: paris(p.scheduled_for),
        status: p.status.code(),
        status_label: p.status.label(),
        recipients: total,
        sent: p.sent,
        failed: p.failed,
        skipped: p.skipped,
        without_email: p.without_email,
        cancelled: p.cancelled,
        pending: p.pending,
        bounced: p.bounced,
        processed,
        max: total.max(1),
        percent,
        sent_last_minute: p.sent_last_minute,
        estimated_end: p.estimated_end.map(paris).unwrap_or_else(|| "–".to_owned()),
        started_at: p.started_at.map(paris),
        finished_at: p.finished_at.map(paris),
        started: p.started_at.is_some(),
        sending: p.status == RunStatus::Sending,
        awaiting: p.status == RunStatus::AwaitingConfirmation,
    }
}

fn done_notice(query: &DoneQuery, status: CampaignStatus) -> Option<String> {
    let n: i64 = query.n.parse().unwrap_or(0);
    Some(match query.fait.as_str() {
        "enregistree" => {
            "La campagne est enregistrée comme brouillon. Relisez-la, puis programmez-la."
                .to_owned()
        }
        "programmee" if status == CampaignStatus::Running => {
            "La campagne est programmée : l'envoi a commencé.".to_owned()
        }
        "programmee" => "La campagne est programmée.".to_owned(),
        "deprogrammee" => {
            "La campagne est revenue en brouillon : vous pouvez la modifier.".to_owned()
        }
        "pause" => "La campagne est en pause : les messages en cours d'envoi partent, les \
                    autres attendent la reprise."
            .to_owned(),
        "reprise" => "L'envoi a repris.".to_owned(),
        "annulee" => format!(
            "La campagne est annulée : {} en attente {} pas.",
            french::count_label(n, "message", "messages"),
            if n <= 1 { "ne partira" } else { "ne partiront" }
        ),
        "relance" => format!(
            "{} en échec {} en file d'envoi.",
            french::count_label(n, "message", "messages"),
            if n <= 1 { "est remis" } else { "sont remis" }
        ),
        "envoyee" => "L'envoi en attente de confirmation est lancé.".to_owned(),
        "ignoree" => "L'envoi en attente de confirmation ne sera pas fait.".to_owned(),
        _ => return None,
    })
}

/// The send button's words and its confirmation's, for a draft with `recipients` recipients
/// at this moment: « Envoyer maintenant à 1 234 destinataires », « Programmer pour le lundi
/// 14 décembre 2026 à 9 h »…
fn send_wording(schedule: &Schedule, recipients: i64) -> (String, String) {
    let whom = french::count_label(recipients, "destinataire", "destinataires");
    match schedule {
        Schedule::Now => (
            format!("Envoyer maintenant à {whom}"),
            format!("Je confirme l'envoi immédiat à {whom}"),
        ),
        Schedule::At(t) => (
            format!("Programmer pour le {}", french::long_datetime(*t)),
            format!(
                "Je confirme l'envoi du {} à {whom} (nombre à ce jour)",
                french::long_datetime(*t)
            ),
        ),
        Schedule::Cron(_) => (
            "Programmer les envois récurrents".to_owned(),
            format!("Je confirme les envois récurrents, à {whom} à ce jour"),
        ),
    }
}

/// What the campaign's page shows besides its figures: an action's notice, a refusal, the
/// confirmation's error at its field.
#[derive(Default)]
pub(super) struct PageMessages<'a> {
    pub done: Option<&'a DoneQuery>,
    pub problem: Option<String>,
    pub confirm_error: Option<String>,
}

pub(super) async fn render_campaign(
    state: &AppState,
    staff: &Staff,
    id: i64,
    done: Option<&DoneQuery>,
    problem: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let messages = PageMessages {
        done,
        problem,
        confirm_error: None,
    };
    render_campaign_page(state, staff, id, messages, status).await
}

pub(super) async fn render_campaign_page(
    state: &AppState,
    staff: &Staff,
    id: i64,
    messages: PageMessages<'_>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let now = Utc::now();
    let public_url = public_url(&state.settings);
    let (view, blanks) = db(state, move |conn| {
        progress::load_page(conn, id, now, &public_url)?.ok_or(AppError::NotFound)
    })
    .await?;
    let c = &view.campaign;
    let s = c.status;
    let notice = messages.done.and_then(|q| done_notice(q, s));
    let next = match (&c.schedule(), s) {
        (
            Schedule::Cron(expr),
            CampaignStatus::Draft
            | CampaignStatus::Scheduled
            | CampaignStatus::Running
            | CampaignStatus::Paused,
        ) => runs::next_occurrences(expr, Utc::now(), 3)
            .into_iter()
            .map(paris)
            .collect(),
        _ => Vec::new(),
    };
    let runs: Vec<RunView> = view.runs.iter().map(run_view).collect();
    let sending = view.runs.iter().any(|r| r.status == RunStatus::Sending);
    let awaiting: Vec<RunView> = view
        .runs
        .iter()
        .filter(|r| r.status == RunStatus::AwaitingConfirmation)
        .map(run_view)
        .collect();
    let past_date = matches!(c.schedule(), Schedule::At(t) if t <= Utc::now());
    let title = if status.is_success() {
        format!("Campagne « {} »", c.name)
    } else {
        format!("Erreur – Campagne « {} »", c.name)
    };
    let (send_label, confirm_label) = send_wording(&c.schedule(), view.recipients);
    let o = &view.outcome;
    let summary: Vec<Value> = messages
        .confirm_error
        .iter()
        .map(|m| json!({ "field": "confirmer-envoi", "label": "Confirmation", "message": m }))
        .collect();
    staff_page(
        state,
        staff,
        "campaigns/campaign",
        &title,
        status,
        json!({
            "heading": format!("Campagne « {} »", c.name),
            "campaign": {
                "id": c.id,
                "name": c.name,
                "status": s.code(),
                "status_label": s.label(),
                "status_text": s.label().to_lowercase(),
                "template": view.template,
                "template_id": c.template_id,
                "lists": view.lists,
                "sender": format!("{} <{}>", c.sender_name, c.sender_email),
                "rate": french::count_label(i64::from(c.rate_per_minute), "message", "messages"),
                "schedule": schedule_label(c),
                "is_cron": c.schedule_kind == ScheduleKind::Cron,
                "is_now": c.schedule_kind == ScheduleKind::Now,
                "created_at": paris(c.created_at),
            },
            "next": next,
            "runs": runs,
            "awaiting": awaiting,
            "sending": sending,
            "live": view.is_live(),
            "state_key": view.state_key(),
            "has_runs": !view.runs.is_empty(),
            "outcome": o,
            "outcome_text": {
                "sent": french::thousands(o.sent),
                "failed": french::thousands(o.failed),
                "unsubscribed": french::thousands(o.unsubscribed),
                "bounced": french::thousands(o.bounced),
                "clickers": french::thousands(o.clickers),
                "clicks": french::count_label(o.clicks, "clic", "clics"),
                "applications": french::thousands(o.applications),
                "recruitments": french::thousands(o.recruitments),
                "retry": french::count_label(o.failed, "message en échec repart", "messages en échec repartent"),
            },
            "recipients": view.recipients,
            "no_recipients": view.recipients == 0,
            "without_email": view.without_email,
            "send_label": send_label,
            "confirm_label": confirm_label,
            "blanks": blanks,
            "if_example": "{{#if prenom}}{{prenom}}, le Gers recrute…{{else}}Le Gers recrute…{{/if}}",
            "can_edit": s == CampaignStatus::Draft,
            "can_schedule": s == CampaignStatus::Draft,
            "past_date": past_date,
            "can_unschedule": s == CampaignStatus::Scheduled,
            "can_pause": s == CampaignStatus::Running,
            "can_resume": s == CampaignStatus::Paused,
            "can_cancel": !matches!(s, CampaignStatus::Finished | CampaignStatus::Cancelled),
            "can_retry": view.outcome.failed > 0 && matches!(
                s,
                CampaignStatus::Running | CampaignStatus::Paused | CampaignStatus::Finished | CampaignStatus::Scheduled
            ),
            "notice": notice,
            "problem": messages.problem,
            "confirm_error": messages.confirm_error,
            "summary": summary,
        }),
    )
}

pub async fn campaign_page(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
    query: web::Query<DoneQuery>,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    let id = path_id(&path)?;
    // A letter campaign has its own page (the campaigns list may link here).
    let letter = db(&state, move |conn| {
        Ok::<_, AppError>(crate::campaigns::letters::find(conn, id)?.is_some())
    })
    .await?;
    if letter {
        return Ok(crate::web::pages::see_other(format!("/courriers/{id}")));
    }
    render_campaign(&state, &staff, id, Some(&query), None, StatusCode::OK).await
}

/// The runs' figures for the page's script (polled every 2 s while the campaign is live), with
/// the key of its lifecycle state: when the key changes, the script fetches the page again.
pub async fn progress_json(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    let id = path_id(&path)?;
    let view = load_campaign(&state, id).await?;
    let body = json!({
        "campaign_id": id,
        "state_key": view.state_key(),
        "live": view.is_live(),
        "status": view.campaign.status.code(),
        "status_label": view.campaign.status.label(),
        "sending": view.runs.iter().any(|r| r.status == RunStatus::Sending),
        "runs": view.runs.iter().map(run_view).collect::<Vec<_>>(),
        "outcome": view.outcome,
    });
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body))
}
