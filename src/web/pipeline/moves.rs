//! Moving an application to another stage, with or without an e-mail to the candidate (shown
//! first for the recruiter to edit and confirm).

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::candidate::{moved_code, render_candidate, ActionForm, MoveKind, Reshow, SummaryLink};
use crate::db::enums::Stage;
use crate::domain::{parse_date, FreeText};
use crate::error::AppError;
use crate::pipeline::{self, MoveError, MoveRequest};
use crate::staff::RECRUITING;
use crate::web::body::Form;
use crate::web::pages::see_other;
use crate::web::staff::{staff_page, Staff};
use crate::web::{db, AppState};

#[derive(Debug, Default, Deserialize)]
pub struct MoveForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    depuis: String,
    #[serde(default)]
    vers: String,
    #[serde(default)]
    motif_refus: String,
    #[serde(default)]
    motif_desistement: String,
    #[serde(default)]
    relance: String,
    #[serde(default)]
    note: String,
    /// "oui" when the recruiter wants to write to the candidate (a preview comes first).
    #[serde(default)]
    envoyer_courriel: String,
    /// The board's query string when the move started on the board (its e-mail review): the
    /// recruiter goes back to that board, rebuilt from known filters only.
    #[serde(default)]
    retour: Option<String>,
    /// "oui" to send the previewed e-mail, "sans" to move without it.
    #[serde(default)]
    confirmer: String,
    #[serde(default)]
    objet: String,
    #[serde(default)]
    texte: String,
}

/// A refused move, as the page answers it when it cannot be shown at its form.
fn refused(e: MoveError) -> AppError {
    match e {
        MoveError::NotFound => AppError::NotFound,
        e @ MoveError::Stale(_) => AppError::Conflict(e.to_string()),
        e => AppError::Unprocessable(e.to_string()),
    }
}

/// The candidate page again, with the form used, what was typed and the message at its field
/// (422; 409 when the page was stale).
async fn reshow(
    state: &AppState,
    staff: &Staff,
    application_id: i64,
    form: &MoveForm,
    to: Stage,
    error: MoveError,
) -> Result<HttpResponse, AppError> {
    let candidate_id = db(state, move |conn| {
        Ok(crate::candidates::of_application(conn, application_id)?)
    })
    .await?
    .ok_or(AppError::NotFound)?;
    let kind = MoveKind::of(to);
    let code = kind.code();
    let mut action = ActionForm {
        open: true,
        note: form.note.clone(),
        reason: match kind {
            MoveKind::Refuse => form.motif_refus.clone(),
            MoveKind::Withdraw => form.motif_desistement.clone(),
            _ => String::new(),
        },
        follow_up: form.relance.clone(),
        email: form.envoyer_courriel == "oui",
        ..Default::default()
    };
    let (status, href, message) = match &error {
        MoveError::NotFound => return Err(AppError::NotFound),
        MoveError::ReasonRequired => {
            action.reason_error = Some(error.to_string());
            let label = if kind == MoveKind::Refuse {
                "Motif du refus"
            } else {
                "Motif du désistement"
            };
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("#motif-{code}-{application_id}"),
                format!("{label} : {error}"),
            )
        }
        MoveError::FollowUpRequired => {
            let message = if form.relance.trim().is_empty() {
                error.to_string()
            } else {
                "Date de relance illisible : choisissez-la dans le calendrier ou saisissez-la au format JJ/MM/AAAA.".to_owned()
            };
            action.date_error = Some(message.clone());
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("#relance-{application_id}"),
                format!("Date de relance : {message}"),
            )
        }
        MoveError::OfferFlowOnly(_) => {
            action.form_error = Some(error.to_string());
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("#{code}-{application_id}"),
                error.to_string(),
            )
        }
        MoveError::Stale(_) => {
            action.form_error = Some(error.to_string());
            (
                StatusCode::CONFLICT,
                format!("#{code}-{application_id}"),
                error.to_string(),
            )
        }
        MoveError::NotAllowed(..) => {
            action.form_error = Some(error.to_string());
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("#{code}-{application_id}"),
                error.to_string(),
            )
        }
    };
    let reshow = Reshow {
        status: Some(status),
        action: Some((application_id, kind, action)),
        errors: vec![SummaryLink { href, message }],
        ..Default::default()
    };
    render_candidate(state, staff, candidate_id, None, reshow).await
}

/// The note too long: the page again with the message at the note.
async fn note_too_long(
    state: &AppState,
    staff: &Staff,
    application_id: i64,
    form: &MoveForm,
    to: Stage,
) -> Result<HttpResponse, AppError> {
    let candidate_id = db(state, move |conn| {
        Ok(crate::candidates::of_application(conn, application_id)?)
    })
    .await?
    .ok_or(AppError::NotFound)?;
    let kind = MoveKind::of(to);
    let message = format!(
        "La note compte {} caractères : raccourcissez-la à 5 000 au plus.",
        form.note.chars().count()
    );
    let action = ActionForm {
        open: true,
        note: form.note.clone(),
        reason: match kind {
            MoveKind::Refuse => form.motif_refus.clone(),
            MoveKind::Withdraw => form.motif_desistement.clone(),
            _ => String::new(),
        },
        follow_up: form.relance.clone(),
        email: form.envoyer_courriel == "oui",
        note_error: Some(message.clone()),
        ..Default::default()
    };
    let reshow = Reshow {
        status: Some(StatusCode::UNPROCESSABLE_ENTITY),
        action: Some((application_id, kind, action)),
        errors: vec![SummaryLink {
            href: format!("#note-{}-{application_id}", kind.code()),
            message: format!("Note : {message}"),
        }],
        ..Default::default()
    };
    render_candidate(state, staff, candidate_id, None, reshow).await
}

pub async fn move_stage(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<i64>,
    form: Form<MoveForm>,
) -> Result<HttpResponse, AppError> {
    staff.require(RECRUITING)?;
    staff.check_csrf(&form.csrf)?;
    let application_id = path.into_inner();
    let form = form.into_inner();
    let (Some(from), Some(to)) = (Stage::from_code(&form.depuis), Stage::from_code(&form.vers))
    else {
        return Err(AppError::BadRequest(
            "Choisissez l'étape de destination dans la liste.".to_owned(),
        ));
    };
    let reason = match to {
        Stage::Refused => Some(form.motif_refus.clone()),
        Stage::Withdrawn => Some(form.motif_desistement.clone()),
        _ => None,
    };
    let Ok(note) = FreeText::parse(&form.note, 5000) else {
        return note_too_long(&state, &staff, application_id, &form, to).await;
    };
    let request = MoveRequest {
        application_id,
        expected_from: from,
        to,
        reason,
        note: Some(note.as_str().to_owned()),
        follow_up_on: parse_date(&form.relance),
    };
    let actor = staff.0.user_id;
    let wants_email = form.envoyer_courriel == "oui" && form.confirmer != "sans";
    if wants_email && form.confirmer != "oui" {
        return preview_email(&state, &staff, &form, request, None).await;
    }
    let email = if wants_email {
        let subject = form.objet.split_whitespace().collect::<Vec<_>>().join(" ");
        let body = form.texte.replace("\r\n", "\n");
        let mut typed = EmailErrors::default();
        if subject.is_empty() {
            typed.subject = Some("Écrivez l'objet du courriel.".to_owned());
        } else if subject.chars().count() > 300 {
            typed.subject = Some("L'objet est trop long : 300 caractères au plus.".to_owned());
        }
        if body.trim().is_empty() {
            typed.body = Some("Écrivez le texte du courriel.".to_owned());
        } else if body.chars().count() > 20_000 {
            typed.body = Some("Le texte est trop long : 20 000 caractères au plus.".to_owned());
        }
        if typed.subject.is_some() || typed.body.is_some() {
            return preview_email(&state, &staff, &form, request, Some(typed)).await;
        }
        let settings = state.settings.clone();
        let recipient = db(&state, move |conn| {
            Ok(
                pipeline::emails::context(conn, &settings, application_id, to)?
                    .map(|(email, _)| email),
            )
        })
        .await?
        .ok_or(AppError::NotFound)?;
        Some(pipeline::emails::confirmed_email(
            &state.settings,
            &recipient,
            &subject,
            &body,
        )?)
    } else {
        None
    };
    let with_email = email.is_some();
    let moved = db(&state, move |conn| {
        Ok(pipeline::moves::move_for_candidate(
            conn,
            actor,
            &request,
            email,
            Utc::now(),
        )?)
    })
    .await?;
    let candidate_id = match moved {
        Ok(id) => id,
        Err(e) => return reshow(&state, &staff, application_id, &form, to, e).await,
    };
    if with_email {
        state.mail_wake.notify_one();
    }
    tracing::info!(application_id, to = to.code(), "stage moved");
    if let Some(retour) = &form.retour {
        return Ok(see_other(super::board::board_return(retour)));
    }
    Ok(see_other(format!(
        "/recrutement/candidats/{candidate_id}?fait={}#candidature-{application_id}",
        moved_code(to, with_email)
    )))
}

/// What is wrong with the e-mail typed on the preview page.
#[derive(Debug, Default, Serialize)]
struct EmailErrors {
    subject: Option<String>,
    body: Option<String>,
}

/// Checks the move, then shows the stage's e-mail rendered for the candidate, to edit and
/// confirm. Nothing is written yet.
async fn preview_email(
    state: &AppState,
    staff: &Staff,
    form: &MoveForm,
    request: MoveRequest,
    typed: Option<EmailErrors>,
) -> Result<HttpResponse, AppError> {
    let settings = state.settings.clone();
    let to = request.to;
    let application_id = request.application_id;
    let prepared = db(state, move |conn| {
        Ok(pipeline::emails::preview(conn, &settings, &request)?)
    })
    .await?;
    let (template, context) = match prepared {
        Ok(p) => p,
        Err(e @ MoveError::NotFound) => return Err(refused(e)),
        Err(e) => return reshow(state, staff, application_id, form, to, e).await,
    };
    let (recipient, data) = context.ok_or(AppError::NotFound)?;
    let (subject, body, problem) = pipeline::emails::proposed(template.as_ref(), &data);
    // Shown again after a mistake: what was typed, the messages at the fields (422).
    let (subject, body, problem, status, errors) = match typed {
        Some(errors) => (
            form.objet.clone(),
            form.texte.clone(),
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(errors),
        ),
        None => (subject, body, problem, StatusCode::OK, None),
    };
    let title = if errors.is_some() {
        "Erreur – Courriel au candidat"
    } else {
        "Courriel au candidat"
    };
    staff_page(
        state,
        staff,
        "pipeline/email_preview",
        title,
        status,
        json!({
            "errors": errors,
            "application_id": application_id,
            "recipient": recipient,
            "to_label": to.label(),
            "subject": subject,
            "body": body,
            "problem": problem,
            "move": super::board::PendingMove {
                depuis: &form.depuis,
                vers: &form.vers,
                motif_refus: &form.motif_refus,
                motif_desistement: &form.motif_desistement,
                relance: &form.relance,
                note: &form.note,
                retour: form.retour.as_deref(),
            },
        }),
    )
}
