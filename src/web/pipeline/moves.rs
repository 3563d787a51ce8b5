//! Moving an application to another stage, with or without an e-mail to the candidate (shown
//! first for the recruiter to edit and confirm).

use actix_web::{web, HttpResponse};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::db::enums::Stage;
use crate::domain::{parse_date, FreeText};
use crate::error::AppError;
use crate::pipeline::{self, MoveError, MoveRequest};
use crate::staff::RECRUITING;
use crate::web::body::Form;
use crate::web::pages::see_other;
use crate::web::staff::{page as render, Staff};
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
    /// "oui" to send the previewed e-mail, "sans" to move without it.
    #[serde(default)]
    confirmer: String,
    #[serde(default)]
    objet: String,
    #[serde(default)]
    texte: String,
}

/// A refused move, as the page answers it.
fn refused(e: MoveError) -> AppError {
    match e {
        MoveError::NotFound => AppError::NotFound,
        e @ MoveError::Stale(_) => AppError::Conflict(e.to_string()),
        e => AppError::Unprocessable(e.to_string()),
    }
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
    let note = FreeText::parse(&form.note, 5000).map_err(|_| {
        AppError::BadRequest("La note est trop longue (5 000 caractères au plus).".to_owned())
    })?;
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
        return preview_email(&state, &staff, &form, request).await;
    }
    let email = if wants_email {
        let subject = form.objet.split_whitespace().collect::<Vec<_>>().join(" ");
        let body = form.texte.replace("\r\n", "\n");
        if subject.is_empty()
            || body.trim().is_empty()
            || subject.chars().count() > 300
            || body.chars().count() > 20_000
        {
            return Err(AppError::Unprocessable(
                "Le courriel doit avoir un objet (300 caractères au plus) et un texte : revenez en arrière pour le compléter.".to_owned(),
            ));
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
    let candidate_id = moved.map_err(refused)?;
    if with_email {
        state.mail_wake.notify_one();
    }
    tracing::info!(application_id, to = to.code(), "stage moved");
    Ok(see_other(format!(
        "/recrutement/candidats/{candidate_id}#candidature-{application_id}"
    )))
}

/// The move the preview carries on to its confirmation.
#[derive(Serialize)]
struct PendingMove<'a> {
    depuis: &'a str,
    vers: &'a str,
    motif_refus: &'a str,
    motif_desistement: &'a str,
    relance: &'a str,
    note: &'a str,
}

/// Checks the move, then shows the stage's e-mail rendered for the candidate, to edit and
/// confirm. Nothing is written yet.
async fn preview_email(
    state: &AppState,
    staff: &Staff,
    form: &MoveForm,
    request: MoveRequest,
) -> Result<HttpResponse, AppError> {
    let settings = state.settings.clone();
    let to = request.to;
    let application_id = request.application_id;
    let prepared = db(state, move |conn| {
        Ok(pipeline::emails::preview(conn, &settings, &request)?)
    })
    .await?;
    let (template, context) = prepared.map_err(refused)?;
    let (recipient, data) = context.ok_or(AppError::NotFound)?;
    let (subject, body, problem) = match template {
        Some(t) => match pipeline::emails::render(&t.subject, &t.body, &data) {
            Ok((s, b)) => (s, b, None),
            Err(e) => (String::new(), String::new(), Some(format!("Le modèle de cette étape est invalide ({e}) : écrivez le courriel vous-même ou demandez à un administrateur de le corriger."))),
        },
        None => (String::new(), String::new(), None),
    };
    render(
        state,
        staff,
        "pipeline/email_preview",
        "Courriel au candidat",
        json!({
            "application_id": application_id,
            "recipient": recipient,
            "to_label": to.label(),
            "subject": subject,
            "body": body,
            "problem": problem,
            "move": PendingMove {
                depuis: &form.depuis,
                vers: &form.vers,
                motif_refus: &form.motif_refus,
                motif_desistement: &form.motif_desistement,
                relance: &form.relance,
                note: &form.note,
            },
        }),
    )
}
