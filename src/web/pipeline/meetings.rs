//! Meetings (interviews, visits) with their invitations and calendar files, the agenda, and the
//! pool candidates to contact again.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
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
        Err(ScheduleError::NotFound | ScheduleError::Cancelled) => return Err(AppError::NotFound),
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
    let (m, installation) = db(&state, move |conn| {
        Ok((
            meetings::find(conn, id)?,
            crate::mail::installation_id(conn)?,
        ))
    })
    .await?;
    let m = m.ok_or(AppError::NotFound)?;
    let settings = &state.settings;
    let domain = settings.mail_domain();
    let organiser = meetings::Organiser {
        domain: &domain,
        installation: &installation,
        service: &settings.organisation.service,
        address: &settings.organisation.contact_email,
    };
    let body = meetings::ics(
        &m,
        &organiser,
        meetings::CalendarMethod::Publish,
        chrono::Utc::now(),
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

// ---- Meeting requests moved or cancelled (issue 20, sending tightened) ----

/// The form that moves a meeting, as typed.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct MoveForm {
    #[serde(default, skip_serializing)]
    csrf: String,
    #[serde(default)]
    date: String,
    #[serde(default)]
    heure: String,
    #[serde(default)]
    duree: String,
    #[serde(default)]
    lieu: String,
    #[serde(default, deserialize_with = "checkbox")]
    prevenir: bool,
}

fn checkbox<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(String::deserialize(d)? == "oui")
}

const MOVE_FIELDS: &[(&str, &str)] = &[("date", "Date"), ("heure", "Heure"), ("duree", "Durée")];

async fn edit_page(
    state: &AppState,
    staff: &Staff,
    m: &meetings::MeetingView,
    form: &MoveForm,
    errors: &crate::domain::FieldErrors,
) -> Result<HttpResponse, AppError> {
    let (status, title) =
        crate::web::pages::status_and_title(errors, "Déplacer ou annuler un rendez-vous");
    crate::web::staff::staff_page(
        state,
        staff,
        "pipeline/meeting_edit",
        &title,
        status,
        json!({
            "meeting": m,
            "form": form,
            "errors": errors,
            "summary": crate::web::pages::error_summary(MOVE_FIELDS, errors),
        }),
    )
}

async fn load_meeting(state: &AppState, id: i64) -> Result<meetings::MeetingView, AppError> {
    db(state, move |conn| Ok(meetings::find(conn, id)?))
        .await?
        .ok_or(AppError::NotFound)
}

/// GET: the meeting's move and cancel forms, filled with what it is now.
pub async fn meeting_edit(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    staff.require(RECRUITING)?;
    let m = load_meeting(&state, path.into_inner()).await?;
    let paris = m.starts_at.with_timezone(&chrono_tz::Europe::Paris);
    let form = MoveForm {
        date: paris.format("%Y-%m-%d").to_string(),
        heure: paris.format("%H:%M").to_string(),
        duree: m.duration.clone(),
        lieu: m.location.clone(),
        prevenir: true,
        ..MoveForm::default()
    };
    edit_page(&state, &staff, &m, &form, &Default::default()).await
}

/// POST: moves the meeting (SEQUENCE + 1) and, when asked, sends the candidate the update.
/// Bad input re-renders the page (422) with the messages at the fields and what was typed.
pub async fn move_meeting(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<i64>,
    form: Form<MoveForm>,
) -> Result<HttpResponse, AppError> {
    staff.require(RECRUITING)?;
    staff.check_csrf(&form.csrf)?;
    let id = path.into_inner();
    let form = form.into_inner();
    let m = load_meeting(&state, id).await?;
    let mut errors = crate::domain::FieldErrors::default();
    let starts_at = if parse_date(&form.date).is_none() {
        errors.add(
            "date",
            "Date illisible : choisissez-la dans le calendrier ou saisissez-la au format JJ/MM/AAAA.",
        );
        None
    } else {
        meetings::parse_start(&form.date, &form.heure)
            .map_err(|m| errors.add("heure", m))
            .ok()
    };
    let duration = meetings::parse_duration(&form.duree).filter(|d| (5..=720).contains(d));
    if duration.is_none() {
        errors.add(
            "duree",
            "Durée illisible : écrivez-la comme « 45 min », « 1 h » ou « 1 h 30 » (de 5 min à 12 h).",
        );
    }
    let (Some(starts_at), Some(duration_minutes)) = (starts_at, duration) else {
        return edit_page(&state, &staff, &m, &form, &errors).await;
    };
    let to = meetings::MeetingMove {
        starts_at,
        duration_minutes,
        location: form.lieu.trim().chars().take(300).collect(),
    };
    let notify = form.prevenir;
    let actor = staff.0.user_id;
    let settings = state.settings.clone();
    let moved = db(&state, move |conn| {
        Ok(meetings::reschedule(
            conn, &settings, actor, id, &to, notify,
        )?)
    })
    .await?;
    after_change(&state, moved, notify, "rendez-vous-deplace")
}

#[derive(Debug, Default, Deserialize)]
pub struct CancelForm {
    #[serde(default)]
    csrf: String,
    #[serde(default, deserialize_with = "checkbox")]
    prevenir: bool,
}

/// POST: cancels the meeting (SEQUENCE + 1) and, when asked, sends the candidate the CANCEL.
pub async fn cancel_meeting(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<i64>,
    form: Form<CancelForm>,
) -> Result<HttpResponse, AppError> {
    staff.require(RECRUITING)?;
    staff.check_csrf(&form.csrf)?;
    let id = path.into_inner();
    let notify = form.prevenir;
    let actor = staff.0.user_id;
    let settings = state.settings.clone();
    let cancelled = db(&state, move |conn| {
        Ok(meetings::cancel(
            conn,
            &settings,
            actor,
            id,
            notify,
            chrono::Utc::now(),
        )?)
    })
    .await?;
    after_change(&state, cancelled, notify, "rendez-vous-annule")
}

fn after_change(
    state: &AppState,
    outcome: Result<i64, meetings::ScheduleError>,
    notify: bool,
    done: &str,
) -> Result<HttpResponse, AppError> {
    use meetings::ScheduleError;
    let candidate_id = match outcome {
        Ok(id) => id,
        Err(ScheduleError::NotFound | ScheduleError::UnknownCentre) => {
            return Err(AppError::NotFound)
        }
        Err(ScheduleError::Cancelled) => {
            return Err(AppError::Conflict(
                "Ce rendez-vous est déjà annulé : il ne peut plus être déplacé ni annulé."
                    .to_owned(),
            ))
        }
    };
    if notify {
        state.mail_wake.notify_one();
    }
    let suffix = if notify { "-courriel" } else { "" };
    Ok(see_other(format!(
        "/recrutement/candidats/{candidate_id}?fait={done}{suffix}#rendez-vous"
    )))
}
