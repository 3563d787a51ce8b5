//! The lifecycle actions on a campaign's page (with the confirmation step before cancelling)
//! and the decision on a run that waits for confirmation.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;

use super::campaign::{load_campaign, render_campaign, render_campaign_page, PageMessages};
use super::CsrfBody;
use crate::campaigns::actions::{self, Action, Decision, Done, Refused};
use crate::campaigns::form::paris;
use crate::campaigns::runs::LifecycleError;
use crate::db::enums::{CampaignStatus, ScheduleKind};
use crate::domain::french;
use crate::error::AppError;
use crate::staff::COMMUNICATION;
use crate::web::body::Form;
use crate::web::pages::{path_id, see_other};
use crate::web::staff::{staff_page, Staff};
use crate::web::{db, AppState};

/// The confirmation step before cancelling.
pub async fn cancel_page(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    let id = path_id(&path)?;
    render_cancel(&state, &staff, id).await
}

async fn render_cancel(state: &AppState, staff: &Staff, id: i64) -> Result<HttpResponse, AppError> {
    let view = load_campaign(state, id).await?;
    let c = &view.campaign;
    if matches!(
        c.status,
        CampaignStatus::Finished | CampaignStatus::Cancelled
    ) {
        return render_campaign(
            state,
            staff,
            id,
            None,
            Some(LifecycleError::WrongStatus(c.status).to_string()),
            StatusCode::CONFLICT,
        )
        .await;
    }
    let (pending, planned) = view.pending_and_planned();
    staff_page(
        state,
        staff,
        "campaigns/cancel",
        &format!("Annuler la campagne « {} »", c.name),
        StatusCode::OK,
        json!({
            "id": c.id,
            "name": c.name,
            "status_label": c.status.label().to_lowercase(),
            "pending": pending,
            "planned": planned,
            "pending_text": format!(
                "{} en attente {} pas",
                french::count_label(pending, "message", "messages"),
                if pending <= 1 { "ne partira" } else { "ne partiront" }
            ),
            "planned_text": if planned <= 1 {
                format!("{planned} envoi prévu n'aura pas lieu")
            } else {
                format!("{planned} envois prévus n'auront pas lieu")
            },
            "is_cron": c.schedule_kind == ScheduleKind::Cron,
        }),
    )
}

/// An action's form: its token, and for scheduling and cancelling, the confirmation.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ActionBody {
    csrf: String,
    confirmer: String,
}

/// Programmer, déprogrammer, mettre en pause, reprendre, annuler, relancer les échecs.
pub async fn campaign_action(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<(String, String)>,
    form: Form<ActionBody>,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    staff.check_csrf(&form.csrf)?;
    let (raw_id, slug) = path.into_inner();
    let id = path_id(&raw_id)?;
    let Some(action) = Action::from_slug(&slug) else {
        return Err(AppError::NotFound);
    };
    if action == Action::Cancel && form.confirmer != "oui" {
        return render_cancel(&state, &staff, id).await;
    }
    // Sending is guarded: the box that confirms the number of recipients must be ticked
    // (the browser asks for it; this is for whatever sends the form without it).
    if action == Action::Schedule && form.confirmer != "oui" {
        let messages = PageMessages {
            confirm_error: Some(
                "Cochez la case pour confirmer l'envoi à ce nombre de destinataires : rien \
                 n'est envoyé sans cette confirmation."
                    .to_owned(),
            ),
            ..PageMessages::default()
        };
        return render_campaign_page(
            &state,
            &staff,
            id,
            messages,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let actor = Some(staff.0.user_id);
    let now = Utc::now();
    let done = match db(&state, move |conn| {
        Ok(actions::perform(conn, id, action, now, actor))
    })
    .await?
    {
        Ok(done) => Ok(done),
        Err(Refused::Lifecycle(e)) => Err(e),
        Err(Refused::PastDate(at)) => {
            return render_campaign(
                &state,
                &staff,
                id,
                None,
                Some(format!(
                    "La date d'envoi prévue, le {}, est passée : modifiez la campagne \
                     pour choisir une date à venir.",
                    paris(at)
                )),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    lifecycle_outcome(&state, &staff, id, done).await
}

/// The notice the campaign's page shows after an action (`?fait=…`).
fn done_query(done: Done) -> String {
    match done {
        Done::Scheduled => "programmee".to_owned(),
        Done::Unscheduled => "deprogrammee".to_owned(),
        Done::Paused => "pause".to_owned(),
        Done::Resumed => "reprise".to_owned(),
        Done::Cancelled(n) => format!("annulee&n={n}"),
        Done::Retried(n) => format!("relance&n={n}"),
        Done::RunConfirmed => "envoyee".to_owned(),
        Done::RunSkipped => "ignoree".to_owned(),
    }
}

/// After an action: back to the page with its notice, or the page with the refusal.
async fn lifecycle_outcome(
    state: &AppState,
    staff: &Staff,
    id: i64,
    done: Result<Done, LifecycleError>,
) -> Result<HttpResponse, AppError> {
    match done {
        Ok(done) => {
            // A run may have started or resumed: this instance's idle senders look now.
            state.campaign_wake.notify_waiters();
            Ok(see_other(format!(
                "/campagnes/{id}?fait={}",
                done_query(done)
            )))
        }
        Err(LifecycleError::NotFound) => Err(AppError::NotFound),
        Err(LifecycleError::Db(e)) => Err(e.into()),
        Err(e) => {
            render_campaign(
                state,
                staff,
                id,
                None,
                Some(format!("Action refusée : {e}.")),
                StatusCode::CONFLICT,
            )
            .await
        }
    }
}

/// « Envoyer maintenant » / « Ne pas envoyer » for a run that waits for confirmation.
pub async fn run_decision(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<(String, String, String)>,
    form: Form<CsrfBody>,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    staff.check_csrf(&form.csrf)?;
    let (raw_id, raw_run, slug) = path.into_inner();
    let (id, run) = (path_id(&raw_id)?, path_id(&raw_run)?);
    let Some(decision) = Decision::from_slug(&slug) else {
        return Err(AppError::NotFound);
    };
    let actor = Some(staff.0.user_id);
    let now = Utc::now();
    let done = db(&state, move |conn| {
        Ok(actions::decide(conn, id, run, decision, now, actor))
    })
    .await?;
    lifecycle_outcome(&state, &staff, id, done).await
}
