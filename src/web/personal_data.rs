//! « Mes données »: a candidate's private pages, reached by the signed, expiring link of their
//! e-mails. The token is the permission: a forged one, or one altered to name someone else, is
//! a page that does not exist. A new link is asked for by e-mail address, with the same answer
//! whether the address is known or not.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::{json, Value};

use super::pages::{page, render, see_other};
use super::{db, AppState};
use crate::domain::ids::{ApplicationId, CandidateId};
use crate::domain::EmailAddress;
use crate::error::AppError;
use crate::privacy::{self, Erasure, KeepReason, Link, Withdrawal};
use crate::web::body::Form;
use crate::web::csrf::{self, CsrfToken};

fn secret(state: &AppState) -> &[u8] {
    state
        .settings
        .security
        .secret_key
        .expose_secret()
        .as_bytes()
}

/// A private page: never cached, never indexed.
fn private_html(
    status: StatusCode,
    state: &AppState,
    token: &CsrfToken,
    body: String,
) -> HttpResponse {
    token
        .html_response(status, state.settings.secure_cookies())
        .insert_header(("X-Robots-Tag", "noindex"))
        .body(body)
}

// ---------------------------------------------------------------------------------------------
// Asking for a new link

#[derive(Debug, Default, Deserialize)]
pub struct LinkRequest {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    courriel: String,
}

/// The form asking for a link: on its own page, or under « your link expired ».
fn request_page(
    state: &AppState,
    req: &HttpRequest,
    status: StatusCode,
    expired: bool,
    sent: bool,
    email: &str,
    error: Option<&str>,
) -> Result<HttpResponse, AppError> {
    let token = CsrfToken::for_request(req);
    let title = match (expired, sent, error.is_some()) {
        (_, true, _) => "Demande enregistrée – Mes données",
        (true, _, _) => "Lien expiré – Mes données",
        (_, _, true) => "Erreur dans le formulaire – Mes données",
        _ => "Recevoir le lien vers mes données",
    };
    let body = render(
        "public/personal_data_request",
        &page(
            state,
            title,
            json!({
                "expired": expired,
                "sent": sent,
                "email": email,
                "error": error,
                "csrf": token.form_value(secret(state)),
                "link_days": state.settings.privacy.link_days,
            }),
        ),
    )?;
    Ok(private_html(status, state, &token, body))
}

pub async fn request_form(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, AppError> {
    request_page(&state, &req, StatusCode::OK, false, false, "", None)
}

pub async fn request_link(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: Form<LinkRequest>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let typed: String = form.courriel.trim().chars().take(320).collect();
    if !csrf::verify(&req, secret(&state), &form.csrf) {
        return request_page(
            &state,
            &req,
            StatusCode::FORBIDDEN,
            false,
            false,
            &typed,
            Some(
                "Votre demande n'a pas pu être vérifiée (page ouverte depuis longtemps, ou \
                 cookies désactivés). Renvoyez le formulaire.",
            ),
        );
    }
    let email =
        match EmailAddress::parse(&typed) {
            Ok(e) => e,
            Err(_) => return request_page(
                &state,
                &req,
                StatusCode::UNPROCESSABLE_ENTITY,
                false,
                false,
                &typed,
                Some(
                    "Saisissez l'adresse électronique donnée dans votre candidature, au format \
                     nom@exemple.fr.",
                ),
            ),
        };
    let settings = state.settings.clone();
    let normalized = email.normalized().to_owned();
    let queued = db(&state, move |conn| {
        Ok(privacy::send_new_links(
            conn,
            &settings,
            &normalized,
            Utc::now(),
        )?)
    })
    .await?;
    if queued > 0 {
        state.mail_wake.notify_one();
    }
    // The same answer whether the address is known or not.
    request_page(&state, &req, StatusCode::OK, false, true, "", None)
}

// ---------------------------------------------------------------------------------------------
// The private pages

/// Whose page a token opens; an expired link answers with the renewal form.
enum Access {
    Candidate(i64),
    Expired(HttpResponse),
}

async fn access(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    token: &str,
) -> Result<Access, AppError> {
    match privacy::check_link(secret(state), token, Utc::now()) {
        Link::Invalid => Err(AppError::NotFound),
        Link::Expired => Ok(Access::Expired(request_page(
            state,
            req,
            StatusCode::GONE,
            true,
            false,
            "",
            None,
        )?)),
        Link::Valid(id) => {
            let live = db(state, move |conn| Ok(privacy::is_live(conn, id)?)).await?;
            if live {
                Ok(Access::Candidate(id))
            } else {
                Err(AppError::NotFound)
            }
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct ShowQuery {
    fait: Option<String>,
}

fn done_message(code: &str) -> Option<&'static str> {
    Some(match code {
        "desistement" => {
            "Votre candidature est retirée. L'équipe de recrutement en est informée ; \
             vos autres candidatures ne changent pas."
        }
        "desistement-impossible" => "Cette candidature est déjà close : il n'y a rien à retirer.",
        "vivier-oui" => "Merci : votre accord pour rester dans notre vivier est enregistré.",
        "vivier-non" => {
            "Votre accord est retiré : sans recrutement, vos données seront anonymisées \
             dans le délai indiqué à la rubrique « Vivier »."
        }
        _ => return None,
    })
}

/// Everything held about the link's candidate, or the page saying the link expired.
async fn candidate_data(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    token: &str,
) -> Result<Result<Value, HttpResponse>, AppError> {
    let id = match access(state, req, token).await? {
        Access::Candidate(id) => id,
        Access::Expired(page) => return Ok(Err(page)),
    };
    let today = Utc::now()
        .with_timezone(&chrono_tz::Europe::Paris)
        .date_naive();
    db(state, move |conn| {
        Ok(privacy::personal_data(conn, id, today)?)
    })
    .await?
    .map(Ok)
    .ok_or(AppError::NotFound)
}

pub async fn show(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<ShowQuery>,
) -> Result<HttpResponse, AppError> {
    let token = path.into_inner();
    let data = match candidate_data(&state, &req, &token).await? {
        Ok(data) => data,
        Err(expired) => return Ok(expired),
    };
    let csrf_token = CsrfToken::for_request(&req);
    let body = render(
        "public/personal_data",
        &page(
            &state,
            "Mes données personnelles",
            json!({
                "data": data,
                "token": token,
                "csrf": csrf_token.form_value(secret(&state)),
                "done": query.fait.as_deref().and_then(done_message),
            }),
        ),
    )?;
    Ok(private_html(StatusCode::OK, &state, &csrf_token, body))
}

pub async fn export(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let token = path.into_inner();
    let data = match candidate_data(&state, &req, &token).await? {
        Ok(data) => data,
        Err(expired) => return Ok(expired),
    };
    let export = json!({
        "exported_at": Utc::now(),
        "controller": state.settings.privacy.controller,
        "service": state.settings.organisation.service,
        "data": data,
    });
    let body = serde_json::to_string_pretty(&export)
        .map_err(|e| AppError::Unexpected(anyhow::anyhow!("serialising the export: {e}")))?;
    Ok(HttpResponse::Ok()
        .content_type("application/json; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"mes-donnees.json\"",
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("X-Robots-Tag", "noindex"))
        .body(body))
}

fn refused_csrf() -> AppError {
    AppError::Forbidden(
        "Votre demande n'a pas pu être vérifiée (page ouverte depuis longtemps, ou cookies \
         désactivés). Rien n'a été modifié : rouvrez le lien reçu par courriel et recommencez."
            .to_owned(),
    )
}

/// The candidate a POST from their page acts for, once its link and CSRF token are checked; or
/// the page saying the link expired.
async fn posted_by_candidate(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    token: &str,
    csrf_token: &str,
) -> Result<Result<i64, HttpResponse>, AppError> {
    let id = match access(state, req, token).await? {
        Access::Candidate(id) => id,
        Access::Expired(page) => return Ok(Err(page)),
    };
    if !csrf::verify(req, secret(state), csrf_token) {
        return Err(refused_csrf());
    }
    Ok(Ok(id))
}

#[derive(Debug, Default, Deserialize)]
pub struct WithdrawForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    candidature: String,
}

pub async fn withdraw(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    form: Form<WithdrawForm>,
) -> Result<HttpResponse, AppError> {
    let token = path.into_inner();
    let id = match posted_by_candidate(&state, &req, &token, &form.csrf).await? {
        Ok(id) => id,
        Err(expired) => return Ok(expired),
    };
    let Ok(application_id) = form.candidature.trim().parse::<i64>() else {
        return Err(AppError::BadRequest(
            "La candidature à retirer n'est pas indiquée. Revenez à la page « Mes données » et \
             utilisez le bouton de la candidature concernée."
                .to_owned(),
        ));
    };
    let outcome = db(&state, move |conn| {
        Ok(privacy::withdraw(
            conn,
            CandidateId(id),
            ApplicationId(application_id),
            Utc::now(),
        )?)
    })
    .await?;
    let code = match outcome {
        Withdrawal::Done => {
            tracing::info!(application_id, "application withdrawn by the candidate");
            "desistement"
        }
        Withdrawal::NotOpen => "desistement-impossible",
    };
    Ok(see_other(format!(
        "/mes-donnees/{token}?fait={code}#message"
    )))
}

#[derive(Debug, Default, Deserialize)]
pub struct ConsentForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    accord: String,
}

pub async fn consent(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    form: Form<ConsentForm>,
) -> Result<HttpResponse, AppError> {
    let token = path.into_inner();
    let id = match posted_by_candidate(&state, &req, &token, &form.csrf).await? {
        Ok(id) => id,
        Err(expired) => return Ok(expired),
    };
    let consent = match form.accord.as_str() {
        "oui" => true,
        "non" => false,
        _ => {
            return Err(AppError::BadRequest(
                "Choix inconnu : utilisez les boutons de la page « Mes données ».".to_owned(),
            ))
        }
    };
    db(&state, move |conn| {
        Ok(privacy::set_pool_consent(conn, id, consent, Utc::now())?)
    })
    .await?;
    let code = if consent { "vivier-oui" } else { "vivier-non" };
    Ok(see_other(format!(
        "/mes-donnees/{token}?fait={code}#message"
    )))
}

fn keep_reasons_json(reasons: &[KeepReason]) -> Vec<Value> {
    reasons.iter().map(|r| json!(r.code())).collect()
}

/// The erasure page: the confirmation step, the reasons it cannot be done now, or done.
fn erase_view(
    state: &AppState,
    req: &HttpRequest,
    status: StatusCode,
    token: &str,
    view: Value,
) -> Result<HttpResponse, AppError> {
    let csrf_token = CsrfToken::for_request(req);
    let title = if view["erased"] == json!(true) {
        "Données effacées"
    } else if view["error"].is_string() {
        "Erreur – Effacer mes données"
    } else {
        "Effacer mes données"
    };
    let mut data = json!({
        "token": token,
        "csrf": csrf_token.form_value(secret(state)),
        "erased": false,
        "kept": Value::Null,
        "error": Value::Null,
    });
    if let (Some(obj), Value::Object(extra)) = (data.as_object_mut(), view) {
        obj.extend(extra);
    }
    let body = render("public/personal_data_erase", &page(state, title, data))?;
    Ok(private_html(status, state, &csrf_token, body))
}

pub async fn erase_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let token = path.into_inner();
    let id = match access(&state, &req, &token).await? {
        Access::Candidate(id) => id,
        Access::Expired(page) => return Ok(page),
    };
    let reasons = db(&state, move |conn| Ok(privacy::keep_reasons(conn, id)?)).await?;
    let kept = (!reasons.is_empty()).then(|| keep_reasons_json(&reasons));
    erase_view(
        &state,
        &req,
        StatusCode::OK,
        &token,
        json!({ "kept": kept }),
    )
}

#[derive(Debug, Default, Deserialize)]
pub struct EraseForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    confirmation: String,
}

pub async fn erase(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    form: Form<EraseForm>,
) -> Result<HttpResponse, AppError> {
    let token = path.into_inner();
    let id = match posted_by_candidate(&state, &req, &token, &form.csrf).await? {
        Ok(id) => id,
        Err(expired) => return Ok(expired),
    };
    if form.confirmation != "oui" {
        return erase_view(
            &state,
            &req,
            StatusCode::UNPROCESSABLE_ENTITY,
            &token,
            json!({ "error": "Cochez la case pour confirmer que vous voulez effacer vos données : \
                              rien n'a été effacé." }),
        );
    }
    let outcome = db(&state, move |conn| {
        Ok(privacy::erase(conn, id, Utc::now())?)
    })
    .await?;
    match outcome {
        Erasure::Erased(keys) => {
            let dir = state.settings.storage.documents_dir.clone();
            let count = keys.len();
            web::block(move || privacy::remove_files(&dir, &keys))
                .await
                .map_err(|e| AppError::Unexpected(anyhow::anyhow!("{e}")))?;
            tracing::info!(
                candidate_id = id,
                documents = count,
                "candidate erased on request"
            );
            erase_view(
                &state,
                &req,
                StatusCode::OK,
                &token,
                json!({ "erased": true }),
            )
        }
        Erasure::Kept(reasons) => erase_view(
            &state,
            &req,
            StatusCode::CONFLICT,
            &token,
            json!({ "kept": keep_reasons_json(&reasons) }),
        ),
    }
}
