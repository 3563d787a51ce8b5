//! Public pages: the campaign page, the application form and its confirmation, the privacy and
//! accessibility statements.

use actix_multipart::Multipart;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use super::pages::{html, page, render, see_other};
use crate::applications::{self, NewApplication, Recorded};
use crate::centres::{self, Centre};
use crate::db::enums::{Civility, HeardFrom, Situation, WorkingTime};
use crate::documents;
use crate::domain::{describe_half_days, FieldErrors};
use crate::error::{error_page, AppError};
use crate::mail::new_message_id;
use crate::mail::outbox::NewOutboundEmail;
use crate::positions::{self, PublishedPosition};
use crate::templates::{self, RenderedEmail};
use crate::web::csrf::{self, CsrfToken};
use crate::web::form::{self, RawApplicationForm, ReadError};
use crate::web::{db, AppState};

pub async fn home(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let (centres, positions) = db(&state, |conn| {
        Ok((
            centres::list_choosable(conn)?,
            positions::list_published(conn)?,
        ))
    })
    .await?;
    let body = render(
        "public/home",
        &page(
            &state,
            "Devenez médecin salarié dans le Gers",
            json!({ "centres": centres, "positions": positions }),
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

/// The centres and published positions an application may choose from.
pub(crate) struct FormLists {
    centres: Vec<Centre>,
    positions: Vec<PublishedPosition>,
}

pub(crate) async fn load_lists(state: &AppState) -> Result<FormLists, AppError> {
    db(state, |conn| {
        Ok(FormLists {
            centres: centres::list_choosable(conn)?,
            positions: positions::list_published(conn)?,
        })
    })
    .await
}

/// Renders the form with its values, errors and fresh tokens.
fn render_form(
    state: &AppState,
    req: &HttpRequest,
    status: StatusCode,
    raw: &RawApplicationForm,
    errors: &FieldErrors,
    lists: &FormLists,
) -> Result<HttpResponse, AppError> {
    let token = CsrfToken::for_request(req);
    let secret = state
        .settings
        .security
        .secret_key
        .expose_secret()
        .as_bytes();
    let specialties: Vec<Value> = state
        .specialties
        .iter()
        .map(|s| json!({ "value": s.code, "label": s.label, "selected": s.code == raw.specialite, "general_practice": s.general_practice }))
        .collect();
    let (general, others): (Vec<Value>, Vec<Value>) = specialties
        .into_iter()
        .partition(|s| s["general_practice"] == json!(true));
    let centres: Vec<Value> = lists
        .centres
        .iter()
        .map(|c| json!({ "id": c.id, "name": c.name, "commune": c.commune, "kind": c.kind.label(), "checked": raw.centres.contains(&c.id.to_string()) }))
        .collect();
    let positions: Vec<Value> = lists
        .positions
        .iter()
        .map(|p| json!({ "id": p.id, "title": p.title, "working_time": p.working_time, "communes": p.communes.join(", "), "selected": p.id.to_string() == raw.poste }))
        .collect();
    let half_days: Vec<Value> = (1..=9)
        .map(|n: i16| json!({ "value": n, "label": describe_half_days(n), "selected": raw.demi_journees == n.to_string() }))
        .collect();
    let summary = errors.summary(form::FIELD_ORDER);
    let title = if summary.is_empty() {
        "Déposer ma candidature".to_owned()
    } else {
        format!(
            "Erreur{} dans le formulaire – Déposer ma candidature",
            if summary.len() > 1 { "s" } else { "" }
        )
    };
    let body = render(
        "public/application_form",
        &page(
            state,
            &title,
            json!({
                "values": raw,
                "errors": errors,
                "summary": summary,
                "error_count": summary.len(),
                "csrf": token.form_value(secret),
                "civilities": choices(Civility::ALL, Civility::code, Civility::label, &raw.civilite),
                "situations": choices(Situation::ALL, Situation::code, Situation::label, &raw.situation),
                "heard_from": choices(HeardFrom::ALL, HeardFrom::code, HeardFrom::label, &raw.connaissance),
                "full_time": raw.temps_travail == WorkingTime::FullTime.code(),
                "part_time": raw.temps_travail == WorkingTime::PartTime.code(),
                "half_days": half_days,
                "general_specialties": general,
                "other_specialties": others,
                "centres": centres,
                "positions": positions,
                "spontaneous": raw.poste.is_empty(),
                "max_cv_mb": state.settings.storage.max_cv_bytes / (1024 * 1024),
            }),
        ),
    )?;
    let mut response = HttpResponse::build(status);
    response
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"));
    if token.is_new {
        response.cookie(token.cookie(state.settings.secure_cookies()));
    }
    Ok(response.body(body))
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
    let raw = RawApplicationForm {
        poste,
        utm_source: clip(q.utm_source),
        utm_medium: clip(q.utm_medium),
        utm_campaign: clip(q.utm_campaign),
        suivi: q.suivi.unwrap_or_default().chars().take(100).collect(),
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

fn megabytes(bytes: usize) -> String {
    format!("{:.1}", bytes as f64 / (1024.0 * 1024.0)).replace('.', ",")
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
                megabytes(max_cv)
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

    let validated = validate_application(&state, &raw, &lists);
    let mut status = StatusCode::UNPROCESSABLE_ENTITY;
    let mut cv_problem = None;
    if let Some(cv) = &raw.cv {
        if cv.size > max_cv {
            status = StatusCode::PAYLOAD_TOO_LARGE;
            cv_problem = Some(format!(
                "Votre fichier pèse {} Mo ; la limite est de {} Mo. Enregistrez votre CV en PDF \
                 plus léger (export « taille réduite ») et joignez-le à nouveau.",
                megabytes(cv.size),
                megabytes(max_cv)
            ));
        } else if cv.size == 0 {
            cv_problem =
                Some("Le fichier choisi est vide : joignez votre CV au format PDF.".to_owned());
        } else if !documents::looks_like_pdf(&cv.bytes) {
            cv_problem = Some(
                "Ce fichier n'est pas un PDF. Enregistrez votre CV au format PDF \
                 (menu Fichier › Exporter en PDF) et joignez-le à nouveau."
                    .to_owned(),
            );
        }
    }
    let application = match (validated, cv_problem) {
        (Ok(mut app), None) => {
            app.delivery_id = crate::campaigns::links::verify(
                secret,
                crate::campaigns::links::Purpose::Click,
                &raw.suivi,
            );
            app
        }
        (result, cv_problem) => {
            let mut errors = result.err().unwrap_or_default();
            if let Some(message) = cv_problem {
                errors.add("cv", message);
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

    let cv_file = match raw.cv.take() {
        Some(upload) => {
            let dir = state.settings.storage.documents_dir.clone();
            Some(
                web::block(move || documents::store(&dir, &upload.bytes, &upload.client_name))
                    .await
                    .map_err(|e| AppError::Unexpected(anyhow::anyhow!("{e}")))??,
            )
        }
        None => None,
    };

    let key = application.submission_key;
    let outcome = record_application(&state, application, cv_file.clone(), &lists).await;

    match outcome {
        Ok(Recorded::AlreadyReceived { application_id }) => {
            tracing::info!(
                application_id,
                "application submitted again; kept the first"
            );
            if let Some(file) = &cv_file {
                documents::discard(&state.settings.storage.documents_dir, file);
            }
        }
        Ok(_) => {}
        Err(e) => {
            if let Some(file) = &cv_file {
                documents::discard(&state.settings.storage.documents_dir, file);
            }
            return Err(e);
        }
    }
    Ok(see_other(format!("/candidature/merci/{key}")))
}

/// Checks what was typed against the current lists: the rules of the form, for the form and
/// the JSON API alike.
pub(crate) fn validate_application(
    state: &AppState,
    raw: &RawApplicationForm,
    lists: &FormLists,
) -> Result<NewApplication, FieldErrors> {
    let specialty_codes: Vec<String> = state.specialties.iter().map(|s| s.code.clone()).collect();
    let centre_ids: Vec<i64> = lists.centres.iter().map(|c| c.id).collect();
    let position_ids: Vec<i64> = lists.positions.iter().map(|p| p.id).collect();
    form::validate(
        raw,
        &form::Choices {
            specialty_codes: &specialty_codes,
            centre_ids: &centre_ids,
            published_position_ids: &position_ids,
            privacy_notice_version: &state.settings.privacy.notice_version,
            today: Utc::now().date_naive(),
        },
    )
}

/// Records a valid application (merging the candidate, completing an open application, once per
/// submission key) with the confirmation and the recruiters' notification queued in the same
/// transaction; wakes the mail worker. Shared by the form and the JSON API.
pub(crate) async fn record_application(
    state: &AppState,
    application: NewApplication,
    cv_file: Option<documents::StoredFile>,
    lists: &FormLists,
) -> Result<Recorded, AppError> {
    let email_data = email_context(state, &application, lists);
    let recruiters = state.settings.recruiters.notify.clone();
    let domain = state.settings.mail_domain();
    let settings = state.settings.clone();
    let recorded = db(state, move |conn| {
        let now = Utc::now();
        let data_link = |candidate_id| crate::privacy::link_url(&settings, candidate_id, now);
        Ok(applications::record(
            conn,
            &application,
            cv_file.as_ref(),
            now,
            |recorded, recipient| {
                application_emails(
                    recorded,
                    email_data,
                    recipient,
                    &recruiters,
                    &domain,
                    data_link,
                )
            },
        )?)
    })
    .await?;
    if matches!(recorded, Recorded::New { .. }) {
        state.metrics.application_received();
    }
    if !matches!(recorded, Recorded::AlreadyReceived { .. }) {
        tracing::info!(application_id = recorded.application_id(), outcome = ?recorded, "application recorded");
        state.mail_wake.notify_one();
    }
    Ok(recorded)
}

/// The data both e-mails are rendered from.
fn email_context(state: &AppState, app: &NewApplication, lists: &FormLists) -> Value {
    let specialty = state
        .specialties
        .iter()
        .find(|s| s.code == app.specialty_code)
        .map(|s| s.label.clone())
        .unwrap_or_default();
    let centres: Vec<String> = lists
        .centres
        .iter()
        .filter(|c| app.centre_ids.contains(&c.id))
        .map(|c| c.commune.clone())
        .collect();
    let position = app
        .position_id
        .and_then(|id| lists.positions.iter().find(|p| p.id == id))
        .map(|p| p.title.clone());
    let working_time = match app.part_time_half_days {
        Some(n) => format!("Temps partiel, {}", describe_half_days(n)),
        None => "Temps plein".to_owned(),
    };
    json!({
        "org": state.settings.organisation,
        "privacy": state.settings.privacy,
        "public_url": state.settings.public_base(),
        "civility": app.civility.label(),
        "first_name": app.first_name.as_str(),
        "last_name": app.last_name.as_str(),
        "email": app.email.as_str(),
        "phone": app.phone.as_str(),
        "rpps": app.rpps.as_ref().map(|r| r.as_str()),
        "specialty": specialty,
        "situation": app.situation.label(),
        "availability": app.available_from.map(|d| d.format("%d/%m/%Y").to_string()),
        "working_time": working_time,
        "centres": centres,
        "on_call": app.on_call,
        "intern_training": app.intern_training,
        "message": app.message.as_str(),
        "position": position,
        "pool_consent": app.pool_consent,
        "heard_from": app.heard_from.map(|h| h.label()),
        "utm_campaign": app.utm.campaign,
        "utm_source": app.utm.source,
    })
}

fn render_email(name: &str, data: &Value) -> anyhow::Result<RenderedEmail> {
    templates::global()
        .render_email(name, data)
        .map_err(|e| anyhow::anyhow!("rendering e-mail {name}: {e}"))
}

/// The confirmation to the doctor and, for a new application, the notification to recruiters.
fn application_emails(
    recorded: Recorded,
    mut data: Value,
    recipient: &str,
    recruiters: &[String],
    domain: &str,
    data_link: impl Fn(i64) -> String,
) -> anyhow::Result<Vec<NewOutboundEmail>> {
    // The confirmation reads the same whether the person was known or not; it goes to the
    // address on file when the application joined a known record.
    let (new, suspected_duplicate, candidate_id) = match recorded {
        Recorded::New {
            suspected_duplicate,
            candidate_id,
            ..
        } => (true, suspected_duplicate, candidate_id),
        Recorded::Completed { candidate_id, .. } => (false, false, candidate_id),
        Recorded::AlreadyReceived { .. } => return Ok(Vec::new()),
    };
    data["application_id"] = json!(recorded.application_id());
    data["data_url"] = json!(data_link(candidate_id));
    let mut emails = vec![NewOutboundEmail::new(
        "application_confirmation",
        recipient,
        render_email("application_confirmation", &data)?,
        new_message_id(domain),
    )];
    // The private link is the doctor's alone.
    data["data_url"] = Value::Null;
    data["candidate_id"] = json!(candidate_id);
    data["merged"] = json!(matches!(recorded, Recorded::New { merged: true, .. }));
    data["suspected_duplicate"] = json!(suspected_duplicate);
    if new {
        let notification = render_email("recruiter_notification", &data)?;
        for address in recruiters {
            emails.push(NewOutboundEmail::new(
                "recruiter_notification",
                address.trim(),
                notification.clone(),
                new_message_id(domain),
            ));
        }
    }
    Ok(emails)
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
