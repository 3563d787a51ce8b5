//! Meetings (interviews, visits) with their invitations and calendar files, the agenda, and the
//! pool candidates to contact again.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use crate::domain::paris_today;
use crate::error::AppError;
use crate::pipeline::{self, meetings};
use crate::staff::RECRUITING;
use crate::web::body::Form;
use crate::web::pages::see_other;
use crate::web::staff::{page as render, Staff};
use crate::web::{db, AppState};

pub async fn follow_ups(
    state: web::Data<AppState>,
    staff: Staff,
) -> Result<HttpResponse, AppError> {
    staff.require(RECRUITING)?;
    let today = paris_today();
    let due = db(&state, move |conn| {
        Ok(pipeline::followups::due(conn, today)?)
    })
    .await?;
    render(
        &state,
        &staff,
        "pipeline/follow_ups",
        "Relances du vivier",
        json!({ "follow_ups": due }),
    )
}

#[derive(Debug, Default, Deserialize)]
pub struct MeetingForm {
    #[serde(default)]
    csrf: String,
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    date: String,
    #[serde(default)]
    heure: String,
    #[serde(default)]
    duree: String,
    #[serde(default)]
    centre: String,
    #[serde(default)]
    lieu: String,
    #[serde(default)]
    participants: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    inviter: String,
}

pub async fn add_meeting(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<i64>,
    form: Form<MeetingForm>,
) -> Result<HttpResponse, AppError> {
    use meetings::{MeetingKind, NewMeeting, ScheduleError};
    staff.require(RECRUITING)?;
    staff.check_csrf(&form.csrf)?;
    let application_id = path.into_inner();
    let bad = |m: &str| {
        AppError::Unprocessable(format!(
            "{m} Revenez en arrière pour corriger : rien n'a été enregistré."
        ))
    };
    let kind =
        MeetingKind::from_code(&form.kind).ok_or_else(|| bad("Choisissez entretien ou visite."))?;
    let starts_at = meetings::parse_start(&form.date, &form.heure).map_err(|m| bad(&m))?;
    let duration_minutes: i32 = form
        .duree
        .trim()
        .parse()
        .ok()
        .filter(|d| (5..=720).contains(d))
        .ok_or_else(|| bad("La durée se compte en minutes, de 5 à 720."))?;
    let centre_id = match form.centre.trim() {
        "" => None,
        c => Some(
            c.parse::<i64>()
                .map_err(|_| bad("Choisissez le centre dans la liste."))?,
        ),
    };
    let clip = |s: &str, n: usize| s.trim().chars().take(n).collect::<String>();
    let meeting = NewMeeting {
        application_id,
        kind,
        starts_at,
        duration_minutes,
        centre_id,
        location: clip(&form.lieu, 300),
        participants: clip(&form.participants, 500),
        note: clip(&form.note, 2000),
    };
    let invite = form.inviter == "oui";
    let actor = staff.0.user_id;
    let settings = state.settings.clone();
    let scheduled = db(&state, move |conn| {
        Ok(meetings::schedule(
            conn, &settings, actor, &meeting, invite,
        )?)
    })
    .await?;
    let candidate_id = match scheduled {
        Ok(id) => id,
        Err(ScheduleError::NotFound) => return Err(AppError::NotFound),
        Err(ScheduleError::UnknownCentre) => {
            return Err(bad(
                "Ce centre n'existe pas ou est fermé : choisissez-en un dans la liste.",
            ))
        }
    };
    if invite {
        state.mail_wake.notify_one();
    }
    Ok(see_other(format!(
        "/recrutement/candidats/{candidate_id}#rendez-vous"
    )))
}

pub async fn meeting_ics(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    staff.require(RECRUITING)?;
    let id = path.into_inner();
    let m = db(&state, move |conn| Ok(meetings::find(conn, id)?))
        .await?
        .ok_or(AppError::NotFound)?;
    let body = meetings::ics(
        &m,
        &state.settings.mail_domain(),
        &state.settings.organisation.service,
        &state.settings.organisation.contact_email,
        false,
    );
    Ok(HttpResponse::Ok()
        .content_type("text/calendar; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"rendez-vous-{id}.ics\""),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body))
}

pub async fn agenda(state: web::Data<AppState>, staff: Staff) -> Result<HttpResponse, AppError> {
    staff.require(RECRUITING)?;
    let today = paris_today();
    let list = db(&state, move |conn| {
        Ok(meetings::upcoming(conn, today, 200)?)
    })
    .await?;
    render(
        &state,
        &staff,
        "pipeline/agenda",
        "Agenda des rendez-vous",
        json!({ "meetings": list }),
    )
}
