//! Meetings (interviews, visits) with their invitations and calendar files, the agenda, and the
//! pool candidates to contact again.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::candidate::{
    render_candidate, MeetingForm as CandidateMeetingForm, Reshow, SummaryLink,
};
use crate::domain::{paris_today, parse_date};
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
    let form = form.into_inner();
    let mut shown = CandidateMeetingForm {
        open: true,
        kind: form.kind.clone(),
        date: form.date.clone(),
        time: form.heure.clone(),
        duration: form.duree.clone(),
        centre: form.centre.clone(),
        place: form.lieu.clone(),
        participants: form.participants.clone(),
        note: form.note.clone(),
        invite: form.inviter == "oui",
        ..Default::default()
    };
    let mut errors = Vec::new();
    let kind = MeetingKind::from_code(&form.kind);
    if kind.is_none() {
        let m = "Choisissez entretien ou visite du territoire.".to_owned();
        errors.push(("type", m.clone()));
        shown.kind_error = Some(m);
    }
    let starts_at = if parse_date(&form.date).is_none() {
        let m = "Date illisible : choisissez-la dans le calendrier ou saisissez-la au format JJ/MM/AAAA.".to_owned();
        errors.push(("date", m.clone()));
        shown.date_error = Some(m);
        None
    } else {
        match meetings::parse_start(&form.date, &form.heure) {
            Ok(t) => Some(t),
            Err(m) => {
                errors.push(("heure", m.clone()));
                shown.time_error = Some(m);
                None
            }
        }
    };
    let duration_minutes = meetings::parse_duration(&form.duree).filter(|d| (5..=720).contains(d));
    if duration_minutes.is_none() {
        let m = "Durée illisible : écrivez-la comme « 45 min », « 1 h » ou « 1 h 30 » (de 5 min à 12 h).".to_owned();
        errors.push(("duree", m.clone()));
        shown.duration_error = Some(m);
    }
    let centre_id = match form.centre.trim() {
        "" => Ok(None),
        c => c.parse::<i64>().map(Some).map_err(|_| ()),
    };
    if centre_id.is_err() {
        let m = "Choisissez le centre dans la liste.".to_owned();
        errors.push(("centre", m.clone()));
        shown.centre_error = Some(m);
    }
    let clip = |s: &str, n: usize| s.trim().chars().take(n).collect::<String>();
    let (Some(kind), Some(starts_at), Some(duration_minutes), Ok(centre_id), true) = (
        kind,
        starts_at,
        duration_minutes,
        centre_id,
        errors.is_empty(),
    ) else {
        return reshow_meeting(&state, &staff, application_id, shown, errors).await;
    };
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
            let m =
                "Ce centre n'existe pas ou est fermé : choisissez-en un dans la liste.".to_owned();
            shown.centre_error = Some(m.clone());
            return reshow_meeting(&state, &staff, application_id, shown, vec![("centre", m)])
                .await;
        }
    };
    if invite {
        state.mail_wake.notify_one();
    }
    let done = if invite { "invitation" } else { "rendez-vous" };
    Ok(see_other(format!(
        "/recrutement/candidats/{candidate_id}?fait={done}#rendez-vous"
    )))
}

/// The candidate page again with the meeting form as typed and the messages at its fields.
async fn reshow_meeting(
    state: &AppState,
    staff: &Staff,
    application_id: i64,
    shown: CandidateMeetingForm,
    errors: Vec<(&str, String)>,
) -> Result<HttpResponse, AppError> {
    let candidate_id = db(state, move |conn| {
        Ok(crate::candidates::of_application(conn, application_id)?)
    })
    .await?
    .ok_or(AppError::NotFound)?;
    let reshow = Reshow {
        status: Some(StatusCode::UNPROCESSABLE_ENTITY),
        meeting: Some((application_id, shown)),
        errors: errors
            .into_iter()
            .map(|(field, message)| SummaryLink {
                href: format!("#rdv-{field}-{application_id}"),
                message: format!(
                    "{} : {message}",
                    match field {
                        "type" => "Type",
                        "date" => "Date",
                        "heure" => "Heure",
                        "duree" => "Durée",
                        _ => "Centre",
                    }
                ),
            })
            .collect(),
        ..Default::default()
    };
    render_candidate(state, staff, candidate_id, None, reshow).await
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
