//! Public pages: the campaign page, the application form and its confirmation, the privacy and
//! accessibility statements.

use actix_multipart::Multipart;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use super::pages::{html, page, render, see_other};
use crate::applications::{self, FormLists, RawApplicationForm, Recorded, FIELD_ORDER};
use crate::campaigns::channels;
use crate::db::enums::{Civility, HeardFrom, Situation, WorkingTime};
use crate::documents;
use crate::domain::fields::SummaryItem;
use crate::domain::{describe_half_days, FieldErrors};
use crate::error::{error_page, AppError};
use crate::specialties::Specialty;
use crate::web::attribution;
use crate::web::csrf::{self, CsrfToken};
use crate::web::form::{self, ReadError};
use crate::web::{db, AppState};

pub async fn home(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let lists = load_lists(&state).await?;
    let body = render(
        "public/home",
        &page(
            &state,
            "Devenez médecin salarié dans le Gers",
            json!({ "centres": lists.centres, "positions": lists.positions }),
        ),
    )?;
    Ok(html(StatusCode::OK, body))
}

#[derive(Debug, Deserialize)]
pub struct FormQuery {
    poste: Option<String>,
    utm_source: Option<String>,
    utm_medium: Option<String>,
    utm_campaign: Option<String>,
    suivi: Option<String>,
    canal: Option<String>,
}

/// Values shown in the form's lists, with the chosen ones marked.
#[derive(Serialize)]
struct Choice {
    value: String,
    label: String,
    selected: bool,
}

fn choices<T: Copy>(
    all: &[T],
    code: fn(T) -> &'static str,
    label: fn(T) -> &'static str,
    chosen: &str,
) -> Vec<Choice> {
    all.iter()
        .map(|v| Choice {
            value: code(*v).to_owned(),
            label: label(*v).to_owned(),
            selected: code(*v) == chosen,
        })
        .collect()
}

async fn load_lists(state: &AppState) -> Result<FormLists, AppError> {
    db(state, |conn| Ok(applications::load_lists(conn)?)).await
}

/// What the application form shows, besides the layout's: the values typed, the errors, the
/// lists with what was chosen, a fresh CSRF token.
#[derive(Serialize)]
struct ApplicationFormView<'a> {
    values: &'a RawApplicationForm,
    errors: &'a FieldErrors,
    summary: Vec<SummaryItem>,
    error_count: usize,
    csrf: String,
    civilities: Vec<Choice>,
    situations: Vec<Choice>,
    heard_from: Vec<Choice>,
    full_time: bool,
    part_time: bool,
    spouse_yes: bool,
    spouse_no: bool,
    half_days: Vec<HalfDayChoice>,
    general_specialties: Vec<SpecialtyChoice<'a>>,
    other_specialties: Vec<SpecialtyChoice<'a>>,
    centres: Vec<CentreChoice<'a>>,
    positions: Vec<PositionChoice<'a>>,
    spontaneous: bool,
    max_cv_mb: usize,
}

#[derive(Serialize)]
struct SpecialtyChoice<'a> {
    value: &'a str,
    label: &'a str,
    selected: bool,
    general_practice: bool,
}

#[derive(Serialize)]
struct HalfDayChoice {
    value: i16,
    label: String,
    selected: bool,
}

#[derive(Serialize)]
struct CentreChoice<'a> {
    id: i64,
    name: &'a str,
    commune: &'a str,
    kind: &'static str,
    checked: bool,
}

#[derive(Serialize)]
struct PositionChoice<'a> {
    id: i64,
    title: &'a str,
    working_time: &'a str,
    communes: String,
    selected: bool,
}

/// Renders the form with its values, errors and fresh tokens.
fn render_form<'a>(
    state: &'a AppState,
    req: &HttpRequest,
    status: StatusCode,
    raw: &'a RawApplicationForm,
    errors: &'a FieldErrors,
    lists: &'a FormLists,
) -> Result<HttpResponse, AppError> {
    let token = CsrfToken::for_request(req);
    let secret = state
        .settings
        .security
        .secret_key
        .expose_secret()
        .as_bytes();
    let specialty = |s: &'a Specialty| SpecialtyChoice {
        value: &s.code,
        label: &s.label,
        selected: s.code == raw.specialite,
        general_practice: s.general_practice,
    };
    let (general_specialties, other_specialties) = state
        .specialties
        .iter()
        .map(specialty)
        .partition(|s| s.general_practice);
    let summary = errors.summary(FIELD_ORDER);
    let title = if summary.is_empty() {
        "Déposer ma candidature".to_owned()
    } else {
        format!(
            "Erreur{} dans le formulaire – Déposer ma candidature",
            if summary.len() > 1 { "s" } else { "" }
        )
    };
    let view = ApplicationFormView {
        values: raw,
        errors,
        error_count: summary.len(),
        summary,
        csrf: token.form_value(secret),
        civilities: choices(
            Civility::ALL,
            Civility::code,
            Civility::label,
            &raw.civilite,
        ),
        situations: choices(
            Situation::ALL,
            Situation::code,
            Situation::label,
            &raw.situation,
        ),
        heard_from: choices(
            HeardFrom::ALL,
            HeardFrom::code,
            HeardFrom::label,
            &raw.connaissance,
        ),
        full_time: raw.temps_travail == WorkingTime::FullTime.code(),
        part_time: raw.temps_travail == WorkingTime::PartTime.code(),
        spouse_yes: raw.conjoint == "oui",
        spouse_no: raw.conjoint == "non",
        half_days: (1..=9)
            .map(|n: i16| HalfDayChoice {
                value: n,
                label: describe_half_days(n),
                selected: raw.demi_journees == n.to_string(),
            })
            .collect(),
        general_specialties,
        other_specialties,
        centres: lists
            .centres
            .iter()
            .map(|c| CentreChoice {
                id: c.id,
                name: &c.name,
                commune: &c.commune,
                kind: c.kind.label(),
                checked: raw.centres.contains(&c.id.to_string()),
            })
            .collect(),
        positions: lists
            .positions
            .iter()
            .map(|p| PositionChoice {
                id: p.id,
                title: &p.title,
                working_time: &p.working_time,
                communes: p.communes.join(", "),
                selected: p.id.to_string() == raw.poste,
            })
            .collect(),
        spontaneous: raw.poste.is_empty(),
        max_cv_mb: state.settings.storage.max_cv_bytes / (1024 * 1024),
    };
    let data = serde_json::to_value(view).map_err(|e| AppError::Unexpected(e.into()))?;
    let body = render("public/application_form", &page(state, &title, data))?;
    Ok(token
        .html_response(status, state.settings.secure_cookies())
        .body(body))
}

/// The form's hidden attribution fields: the link's values when the address carries them,
/// otherwise what the browser remembers from a channel link or a campaign mail's tracked link
/// followed earlier (signed cookies; a forged one, or one for a link archived since, gives
/// nothing).
async fn remembered_attribution(
    state: &AppState,
    req: &HttpRequest,
    suivi: Option<String>,
    canal: Option<String>,
) -> (String, String) {
    let clip = |s: Option<String>| s.unwrap_or_default().chars().take(100).collect::<String>();
    let (mut suivi, mut canal) = (clip(suivi), clip(canal));
    let secret = state
        .settings
        .security
        .secret_key
        .expose_secret()
        .as_bytes();
    let now = Utc::now();
    if suivi.is_empty() {
        if let Some(token) = attribution::remembered_click(req, secret, now) {
            suivi = token;
        }
    }
    if canal.is_empty() {
        if let Some(id) = attribution::remembered_channel(req, secret, now) {
            // The database not answering loses the attribution, not the form.
            if let Ok(Some(link)) = db(state, move |conn| Ok(channels::live_by_id(conn, id)?)).await
            {
                canal = link.code;
            }
        }
    }
    (suivi, canal)
}

pub async fn application_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<FormQuery>,
) -> Result<HttpResponse, AppError> {
    let lists = load_lists(&state).await?;
    let q = query.into_inner();
    let clip = |s: Option<String>| s.unwrap_or_default().chars().take(200).collect::<String>();
    let poste = q
        .poste
        .filter(|p| lists.positions.iter().any(|pos| pos.id.to_string() == *p))
        .unwrap_or_default();
    let (suivi, canal) = remembered_attribution(&state, &req, q.suivi, q.canal).await;
    let raw = RawApplicationForm {
        poste,
        utm_source: clip(q.utm_source),
        utm_medium: clip(q.utm_medium),
        utm_campaign: clip(q.utm_campaign),
        suivi,
        canal,
        soumission: Uuid::new_v4().to_string(),
        ..RawApplicationForm::default()
    };
    render_form(
        &state,
        &req,
        StatusCode::OK,
        &raw,
        &FieldErrors::default(),
        &lists,
    )
}

pub async fn submit_application(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: Multipart,
) -> Result<HttpResponse, AppError> {
    let is_multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));
    if !is_multipart {
        return Err(AppError::UnsupportedMediaType(
            "Le formulaire de candidature doit être envoyé depuis la page /candidature \
             (format multipart/form-data)."
                .to_owned(),
        ));
    }
    let max_cv = state.settings.storage.max_cv_bytes;
    let mut raw = match form::read(payload, max_cv).await {
        Ok(raw) => raw,
        Err(ReadError::TooLarge) => {
            return Err(AppError::PayloadTooLarge(format!(
                "L'envoi dépasse {} Mo. Le CV ne doit pas dépasser {} Mo : revenez en arrière, \
                 choisissez un fichier plus léger et renvoyez le formulaire.",
                form::MAX_BODY_BYTES / (1024 * 1024),
                applications::fields::megabytes(max_cv)
            )))
        }
        Err(ReadError::Bad(e)) => return Err(e),
    };
    let secret = state
        .settings
        .security
        .secret_key
        .expose_secret()
        .as_bytes();
    let lists = load_lists(&state).await?;

    if !csrf::verify(&req, secret, &raw.csrf) {
        tracing::info!("application form refused: missing or wrong CSRF token");
        let mut errors = FieldErrors::default();
        errors.add(
            "formulaire",
            "Votre formulaire n'a pas pu être vérifié (page ouverte depuis longtemps, ou cookies \
             désactivés). Rien n'a été enregistré : vérifiez vos réponses, joignez à nouveau \
             votre CV le cas échéant, puis renvoyez le formulaire.",
        );
        if raw.soumission.is_empty() {
            raw.soumission = Uuid::new_v4().to_string();
        }
        return render_form(&state, &req, StatusCode::FORBIDDEN, &raw, &errors, &lists);
    }

    if !raw.site_web.trim().is_empty() {
        // Only robots fill the hidden field: answer as if all went well, record nothing.
        tracing::info!("application form honeypot filled; nothing recorded");
        return Ok(see_other(format!("/candidature/merci/{}", Uuid::new_v4())));
    }

    let validated = applications::check(
        &raw,
        &state.settings,
        &state.specialties,
        &lists,
        Utc::now().date_naive(),
    );
    let cv_problem = raw.cv.as_ref().and_then(|cv| cv.problem(max_cv));
    let application = match (validated, cv_problem) {
        (Ok(app), None) => app,
        (result, cv_problem) => {
            let mut errors = result.err().unwrap_or_default();
            let mut status = StatusCode::UNPROCESSABLE_ENTITY;
            if let Some(problem) = cv_problem {
                if problem.too_large {
                    status = StatusCode::PAYLOAD_TOO_LARGE;
                }
                errors.add("cv", problem.message);
            }
            if raw.cv.is_some() && !errors.0.contains_key("cv") {
                errors.add(
                    "cv",
                    "Pour votre sécurité, le fichier n'est pas conservé quand le formulaire \
                     contient une erreur : joignez à nouveau votre CV.",
                );
            }
            return render_form(&state, &req, status, &raw, &errors, &lists);
        }
    };

    let documents_dir = state.settings.storage.documents_dir.clone();
    let cv_file = match raw.cv.take() {
        Some(upload) => {
            let dir = documents_dir.clone();
            Some(
                web::block(move || documents::store(&dir, &upload.bytes, &upload.client_name))
                    .await
                    .map_err(|e| AppError::Unexpected(anyhow::anyhow!("{e}")))??,
            )
        }
        None => None,
    };

    let key = application.submission_key;
    let shared = state.clone();
    let stored = cv_file.clone();
    let outcome = db(&state, move |conn| {
        Ok(applications::submit(
            conn,
            &shared.settings,
            &shared.specialties,
            &lists,
            &application,
            stored.as_ref(),
            Utc::now(),
        )?)
    })
    .await;
    let recorded = match outcome {
        Ok(recorded) => recorded,
        Err(e) => {
            if let Some(file) = &cv_file {
                documents::discard(&documents_dir, file);
            }
            return Err(e);
        }
    };
    if recorded.is_new() {
        state.metrics.application_received();
    }
    if recorded.queued_mail() {
        state.mail_wake.notify_one();
    }
    if let Recorded::AlreadyReceived { application_id } = recorded {
        tracing::info!(
            application_id,
            "application submitted again; kept the first"
        );
        if let Some(file) = &cv_file {
            documents::discard(&documents_dir, file);
        }
    }
    Ok(see_other(format!("/candidature/merci/{key}")))
}

pub async fn application_received(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let key = Uuid::parse_str(&path.into_inner()).map_err(|_| AppError::NotFound)?;
    let found = db(&state, move |conn| {
        Ok(applications::find_by_submission_key(conn, key)?)
    })
    .await?;
    // The summary is shown for a day after sending; after that the page is generic. It shows
    // only what was typed, the same whether the person was known or not.
    let recent = found.filter(|s| Utc::now() - s.created_at < chrono::Duration::hours(24));
    let summary = recent.map(|s| {
        let specialty = state
            .specialties
            .iter()
            .find(|sp| sp.code == s.submitted.specialite)
            .map(|sp| sp.label.clone())
            .unwrap_or_default();
        json!({
            "first_name": s.submitted.prenom,
            "last_name": s.submitted.nom,
            "email": s.submitted.courriel,
            "specialty": specialty,
        })
    });
    let body = render(
        "public/application_received",
        &page(&state, "Candidature envoyée", json!({ "summary": summary })),
    )?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("X-Robots-Tag", "noindex"))
        .body(body))
}

pub async fn privacy(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let body = render(
        "public/privacy",
        &page(&state, "Données personnelles", json!({})),
    )?;
    Ok(html(StatusCode::OK, body))
}

pub async fn accessibility(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let body = render(
        "public/accessibility",
        &page(
            &state,
            "Accessibilité",
            json!({
                "accessibility": state.settings.accessibility,
                "accessibility_contact": if state.settings.accessibility.contact_email.is_empty() {
                    &state.settings.organisation.contact_email
                } else {
                    &state.settings.accessibility.contact_email
                },
            }),
        ),
    )?;
    Ok(html(StatusCode::OK, body))
}

pub async fn not_found() -> HttpResponse {
    error_page(
        &mut HttpResponse::NotFound(),
        "Page introuvable",
        "L'adresse demandée n'existe pas. Retournez à l'accueil pour consulter les postes ou \
         déposer votre candidature.",
    )
}

pub async fn method_not_allowed() -> HttpResponse {
    let mut builder = HttpResponse::MethodNotAllowed();
    builder.insert_header((header::ALLOW, "GET, POST"));
    error_page(
        &mut builder,
        "Méthode non autorisée",
        "Cette adresse s'ouvre dans un navigateur (GET) ou reçoit le formulaire de candidature \
         (POST).",
    )
}
