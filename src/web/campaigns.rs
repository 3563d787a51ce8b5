//! Communications staff's pages for mailings: the library of campaign templates (editor,
//! preview with sample or real contact values, test send) and the campaigns (form, page with
//! the lifecycle actions, live progress and outcome).
//!
//! E-mail addresses never appear in a URL (the preview's contact search is a POST that answers
//! with the contact's id): URLs end up in the request logs, addresses must not.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpResponse};
use chrono::{DateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Europe::Paris;
use lettre::message::Mailbox;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::pages::{error_summary, path_id, see_other};
use crate::campaigns::library::{
    self, CampaignRef, MailTemplate, PreviewContact, SaveError, TemplateForm,
};
use crate::campaigns::runs::{
    self, Campaign, CampaignInput, LifecycleError, Outcome, RunProgress, Schedule,
};
use crate::campaigns::template::{as_recipient, Compiled, Footer, Personalisation, VARIABLES};
use crate::db::enums::{CampaignStatus, ContactKind, RunStatus, ScheduleKind};
use crate::domain::EmailAddress;
use crate::domain::{parse_date, FieldErrors};
use crate::error::AppError;
use crate::mail::new_message_id;
use crate::mail::outbox::NewOutboundEmail;
use crate::staff::COMMUNICATION;
use crate::templates::RenderedEmail;
use crate::web::body::Form;
use crate::web::staff::{staff_page, Staff};
use crate::web::{db, AppState};

/// Registers the campaigns' and campaign templates' pages.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/campagnes/modeles", web::get().to(templates_list))
        .service(
            web::resource("/campagnes/modeles/nouveau")
                .route(web::get().to(new_template))
                .route(web::post().to(create_template)),
        )
        .service(
            web::resource("/campagnes/modeles/{id}")
                .route(web::get().to(edit_template))
                .route(web::post().to(update_template)),
        )
        .route(
            "/campagnes/modeles/{id}/supprimer",
            web::post().to(delete_template),
        )
        .service(
            web::resource("/campagnes/modeles/{id}/apercu")
                .route(web::get().to(preview))
                .route(web::post().to(find_preview_contact)),
        )
        .route(
            "/campagnes/modeles/{id}/apercu-html",
            web::get().to(preview_html),
        )
        .route("/campagnes/modeles/{id}/essai", web::post().to(test_send))
        .route("/campagnes", web::get().to(campaigns_list))
        .service(
            web::resource("/campagnes/nouvelle")
                .route(web::get().to(new_campaign))
                .route(web::post().to(create_campaign)),
        )
        .route("/campagnes/{id}", web::get().to(campaign_page))
        .service(
            web::resource("/campagnes/{id}/modifier")
                .route(web::get().to(edit_campaign))
                .route(web::post().to(update_campaign)),
        )
        .route("/campagnes/{id}/progression", web::get().to(progress_json))
        .route("/campagnes/{id}/annuler", web::get().to(cancel_page))
        .route("/campagnes/{id}/{action}", web::post().to(campaign_action))
        .route(
            "/campagnes/{id}/envois/{run}/{decision}",
            web::post().to(run_decision),
        );
}

// ---------------------------------------------------------------------------------------------
// Shared helpers

/// « 01/12/2026 à 09:00 », Paris time.
fn paris(t: DateTime<Utc>) -> String {
    t.with_timezone(&Paris)
        .format("%d/%m/%Y à %H:%M")
        .to_string()
}

/// The urlencoded body as pairs (lists repeat a key); invalid UTF-8 is replaced, not refused.
fn pairs(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn field(pairs: &[(String, String)], name: &str) -> String {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

/// The public address without a trailing slash.
fn public_url(state: &AppState) -> String {
    state
        .settings
        .http
        .public_url
        .trim_end_matches('/')
        .to_owned()
}

/// The sender proposed for a new campaign and used for test sends: `mail.from`, with the
/// organisation's service as the name when the address has none.
fn default_sender(state: &AppState) -> (String, String) {
    match state.settings.mail.from.parse::<Mailbox>() {
        Ok(m) => (
            m.name
                .filter(|n| !n.trim().is_empty())
                .unwrap_or_else(|| state.settings.organisation.service.clone()),
            m.email.to_string(),
        ),
        Err(_) => (
            state.settings.organisation.service.clone(),
            state.settings.organisation.contact_email.clone(),
        ),
    }
}

/// The notice shown after an action (`?fait=…`): fixed texts, nothing personal in the URL.
#[derive(Debug, Default, Deserialize)]
pub struct DoneQuery {
    #[serde(default)]
    fait: String,
    #[serde(default)]
    n: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct CsrfBody {
    #[serde(default)]
    csrf: String,
}

// ---------------------------------------------------------------------------------------------
// Templates: list and editor

pub async fn templates_list(
    state: web::Data<AppState>,
    staff: Staff,
    query: web::Query<DoneQuery>,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    let entries = db(&state, |conn| Ok(library::list_with_campaigns(conn)?)).await?;
    let rows: Vec<Value> = entries
        .iter()
        .map(|e| {
            json!({
                "id": e.template.id,
                "name": e.template.name,
                "subject": e.template.subject,
                "updated_at": paris(e.template.updated_at),
                "campaigns": e.campaigns,
            })
        })
        .collect();
    let notice = (query.fait == "supprime").then_some("Le modèle est supprimé.");
    staff_page(
        &state,
        &staff,
        "campaigns/templates",
        "Modèles de campagne",
        StatusCode::OK,
        json!({ "templates": rows, "notice": notice }),
    )
}

/// What the editor shows besides the form.
#[derive(Default)]
struct EditorContext {
    campaigns: Vec<CampaignRef>,
    problem: Option<String>,
    notice: Option<&'static str>,
}

fn variables() -> Vec<Value> {
    VARIABLES
        .iter()
        .map(|(name, what)| json!({ "code": format!("{{{{{name}}}}}"), "what": what }))
        .collect()
}

fn render_editor(
    state: &AppState,
    staff: &Staff,
    id: Option<i64>,
    values: &TemplateForm,
    errors: &FieldErrors,
    status: StatusCode,
    context: EditorContext,
) -> Result<HttpResponse, AppError> {
    let heading = if id.is_some() {
        "Modifier un modèle de campagne"
    } else {
        "Nouveau modèle de campagne"
    };
    let title = if status == StatusCode::OK {
        heading.to_owned()
    } else {
        format!("Erreur – {heading}")
    };
    let action = match id {
        Some(id) => format!("/campagnes/modeles/{id}"),
        None => "/campagnes/modeles/nouveau".to_owned(),
    };
    let sending: Vec<&CampaignRef> = context
        .campaigns
        .iter()
        .filter(|c| matches!(c.status, CampaignStatus::Running | CampaignStatus::Paused))
        .collect();
    staff_page(
        state,
        staff,
        "campaigns/template_form",
        &title,
        status,
        json!({
            "heading": heading,
            "id": id,
            "action": action,
            "values": values,
            "errors": errors,
            "summary": error_summary(library::FORM_FIELDS, errors),
            "problem": context.problem,
            "notice": context.notice,
            "variables": variables(),
            "example_variable": "{{prenom}}",
            "if_example": "{{#if organisation}}Bonjour à l'équipe de {{organisation}}.{{/if}}",
            "campaigns": context.campaigns,
            "sending": sending,
            "deletable": id.is_some() && context.campaigns.is_empty(),
        }),
    )
}

pub async fn new_template(
    state: web::Data<AppState>,
    staff: Staff,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    let values = TemplateForm {
        texte: "Bonjour,\n\n\n\nPour candidater : {{lien_candidature}}\n".to_owned(),
        ..TemplateForm::default()
    };
    render_editor(
        &state,
        &staff,
        None,
        &values,
        &FieldErrors::default(),
        StatusCode::OK,
        EditorContext::default(),
    )
}

async fn load_template(
    state: &AppState,
    id: i64,
) -> Result<(MailTemplate, Vec<CampaignRef>), AppError> {
    db(state, move |conn| {
        let template = library::find(conn, id)?.ok_or(AppError::NotFound)?;
        Ok((template, library::campaigns_using(conn, id)?))
    })
    .await
}

pub async fn edit_template(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
    query: web::Query<DoneQuery>,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    let id = path_id(&path)?;
    let (template, campaigns) = load_template(&state, id).await?;
    let notice = (query.fait == "enregistre").then_some("Le modèle est enregistré.");
    render_editor(
        &state,
        &staff,
        Some(id),
        &TemplateForm::from_template(&template),
        &FieldErrors::default(),
        StatusCode::OK,
        EditorContext {
            campaigns,
            notice,
            ..EditorContext::default()
        },
    )
}

fn read_template_form(body: &[u8]) -> (TemplateForm, String) {
    let p = pairs(body);
    (
        TemplateForm {
            nom: field(&p, "nom"),
            objet: field(&p, "objet"),
            texte: field(&p, "texte"),
            html: field(&p, "html"),
        },
        field(&p, "csrf"),
    )
}

/// Creates (`id` None) or changes a template; the form again when it is refused.
async fn save_template(
    state: &AppState,
    staff: &Staff,
    id: Option<i64>,
    body: &[u8],
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    let (values, csrf) = read_template_form(body);
    staff.check_csrf(&csrf)?;
    let actor = staff.0.user_id;
    let url = public_url(state);
    let form = values.clone();
    let saved = db(state, move |conn| {
        Ok(match id {
            None => library::create(conn, Some(actor), &form, &url)?,
            Some(id) => library::update(conn, Some(actor), id, &form, &url)?.map(|()| id),
        })
    })
    .await?;
    let refused = |errors: FieldErrors, status: StatusCode, problem: Option<String>| async move {
        let campaigns = match id {
            Some(id) => db(state, move |conn| Ok(library::campaigns_using(conn, id)?)).await?,
            None => Vec::new(),
        };
        render_editor(
            state,
            staff,
            id,
            &values,
            &errors,
            status,
            EditorContext {
                campaigns,
                problem,
                notice: None,
            },
        )
    };
    match saved {
        Ok(id) => Ok(see_other(format!(
            "/campagnes/modeles/{id}?fait=enregistre"
        ))),
        Err(SaveError::NotFound) => Err(AppError::NotFound),
        Err(SaveError::Invalid(errors)) => {
            refused(errors, StatusCode::UNPROCESSABLE_ENTITY, None).await
        }
        Err(SaveError::InUse(message)) => {
            refused(FieldErrors::default(), StatusCode::CONFLICT, Some(message)).await
        }
    }
}

pub async fn create_template(
    state: web::Data<AppState>,
    staff: Staff,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    save_template(&state, &staff, None, &body).await
}

pub async fn update_template(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    let id = path_id(&path)?;
    save_template(&state, &staff, Some(id), &body).await
}

pub async fn delete_template(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
    form: Form<CsrfBody>,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    staff.check_csrf(&form.csrf)?;
    let id = path_id(&path)?;
    let actor = staff.0.user_id;
    let deleted = db(&state, move |conn| {
        Ok(library::delete(conn, Some(actor), id)?)
    })
    .await?;
    match deleted {
        Ok(_) => Ok(see_other("/campagnes/modeles?fait=supprime".to_owned())),
        Err(SaveError::NotFound) => Err(AppError::NotFound),
        Err(SaveError::Invalid(_)) => Err(AppError::Unexpected(anyhow::anyhow!(
            "deleting a template gave a field error"
        ))),
        Err(SaveError::InUse(message)) => {
            let (template, campaigns) = load_template(&state, id).await?;
            render_editor(
                &state,
                &staff,
                Some(id),
                &TemplateForm::from_template(&template),
                &FieldErrors::default(),
                StatusCode::CONFLICT,
                EditorContext {
                    campaigns,
                    problem: Some(message),
                    notice: None,
                },
            )
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Templates: preview and test send

#[derive(Debug, Default, Deserialize)]
pub struct PreviewQuery {
    #[serde(default)]
    contact: String,
}

/// The contact asked for in the query, if it names one.
fn contact_param(raw: &str) -> Option<i64> {
    raw.trim().parse().ok()
}

async fn load_preview(
    state: &AppState,
    id: i64,
    contact: Option<i64>,
) -> Result<(MailTemplate, Option<PreviewContact>), AppError> {
    db(state, move |conn| {
        let template = library::find(conn, id)?.ok_or(AppError::NotFound)?;
        let contact = match contact {
            Some(c) => library::preview_contact(conn, c)?,
            None => None,
        };
        Ok((template, contact))
    })
    .await
}

/// The whole message as a recipient would get it, with the contact's values or the sample
/// ones. The links are those of a preview: the real ones are signed for each delivery.
fn render_message(
    state: &AppState,
    template: &MailTemplate,
    contact: Option<&PreviewContact>,
) -> Result<RenderedEmail, String> {
    let url = public_url(state);
    let (values, kind) = match contact {
        None => (
            Personalisation::sample(&url),
            as_recipient(ContactKind::Faculty.code()),
        ),
        Some(c) => (
            Personalisation::new(
                &c.first_name,
                &c.last_name,
                c.organisation.as_deref().unwrap_or_default(),
                &c.city,
                format!("{url}/candidature"),
                format!("{url}/desinscription/essai"),
            ),
            as_recipient(&c.kind),
        ),
    };
    let compiled = Compiled::check(&template.source(), &url).map_err(|e| {
        e.0.into_iter()
            .map(|(field, message)| format!("{field} : {message}"))
            .collect::<Vec<_>>()
            .join(" ; ")
    })?;
    let (sender, _) = default_sender(state);
    let footer = Footer {
        org: &state.settings.organisation,
        sender: &sender,
        kind: &kind,
        unsubscribe_url: &values.lien_desinscription,
    };
    compiled.render(&values, &footer)
}

/// The preview page's own state: the search and test-send forms as typed, their errors.
#[derive(Default)]
struct PreviewForms {
    search: String,
    recipient: String,
    errors: FieldErrors,
    notice: Option<String>,
    unknown_contact: bool,
}

const PREVIEW_FIELDS: &[(&str, &str)] = &[
    ("recherche", "Adresse du contact"),
    ("destinataire", "Adresse de l'essai"),
];

fn render_preview(
    state: &AppState,
    staff: &Staff,
    template: &MailTemplate,
    contact: Option<&PreviewContact>,
    forms: PreviewForms,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let rendered = render_message(state, template, contact);
    let (message, problem) = match rendered {
        Ok(m) => (Some(m), None),
        Err(e) => (
            None,
            Some(format!(
                "Ce modèle ne peut pas être mis en forme : {e}. Corrigez-le dans l'éditeur."
            )),
        ),
    };
    let heading = format!("Aperçu du modèle « {} »", template.name);
    let title = if status == StatusCode::OK {
        heading.clone()
    } else {
        format!("Erreur – {heading}")
    };
    let html_src = match contact {
        Some(c) => format!(
            "/campagnes/modeles/{}/apercu-html?contact={}",
            template.id, c.id
        ),
        None => format!("/campagnes/modeles/{}/apercu-html", template.id),
    };
    staff_page(
        state,
        staff,
        "campaigns/preview",
        &title,
        status,
        json!({
            "heading": heading,
            "template_id": template.id,
            "template_name": template.name,
            "contact": contact.map(|c| json!({
                "id": c.id,
                "email": c.email,
                "name": format!("{} {}", c.first_name, c.last_name).trim().to_owned(),
            })),
            "unknown_contact": forms.unknown_contact,
            "subject": message.as_ref().map(|m| m.subject.clone()),
            "text": message.as_ref().map(|m| m.text.clone()),
            "html_src": html_src,
            "problem": problem,
            "search": forms.search,
            "recipient": forms.recipient,
            "errors": forms.errors,
            "summary": error_summary(PREVIEW_FIELDS, &forms.errors),
            "notice": forms.notice,
        }),
    )
}

pub async fn preview(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
    query: web::Query<PreviewQuery>,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    let id = path_id(&path)?;
    let wanted = contact_param(&query.contact);
    let (template, contact) = load_preview(&state, id, wanted).await?;
    let forms = PreviewForms {
        unknown_contact: wanted.is_some() && contact.is_none(),
        ..PreviewForms::default()
    };
    render_preview(
        &state,
        &staff,
        &template,
        contact.as_ref(),
        forms,
        StatusCode::OK,
    )
}

/// The search by e-mail: answers with the contact's id in the URL, never its address.
pub async fn find_preview_contact(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    let p = pairs(&body);
    staff.check_csrf(&field(&p, "csrf"))?;
    let id = path_id(&path)?;
    let search = field(&p, "recherche").trim().to_owned();
    let wanted = search.clone();
    let (template, found) = db(&state, move |conn| {
        let template = library::find(conn, id)?.ok_or(AppError::NotFound)?;
        let found = if wanted.is_empty() {
            None
        } else {
            library::preview_contact_by_email(conn, &wanted)?
        };
        Ok((template, found))
    })
    .await?;
    if let Some(contact) = found {
        return Ok(see_other(format!(
            "/campagnes/modeles/{id}/apercu?contact={}",
            contact.id
        )));
    }
    let mut errors = FieldErrors::default();
    if search.is_empty() {
        errors.add(
            "recherche",
            "Indiquez l'adresse électronique d'un contact, par exemple prenom.nom@exemple.fr.",
        );
    } else {
        errors.add(
            "recherche",
            format!(
                "Aucun contact n'a l'adresse « {search} » : vérifiez-la. Sans contact choisi, \
                 l'aperçu utilise des valeurs d'exemple."
            ),
        );
    }
    render_preview(
        &state,
        &staff,
        &template,
        None,
        PreviewForms {
            search,
            errors,
            ..PreviewForms::default()
        },
        StatusCode::UNPROCESSABLE_ENTITY,
    )
}

/// What the iframe may load: the HTML message only, inline styles and images, no script, no
/// form, no plugin; framed by our own pages only.
pub const PREVIEW_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; \
    img-src data: https:; object-src 'none'; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'self'";

/// The HTML message as its own document, shown in a sandboxed iframe on the preview page.
pub async fn preview_html(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
    query: web::Query<PreviewQuery>,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    let id = path_id(&path)?;
    let (template, contact) = load_preview(&state, id, contact_param(&query.contact)).await?;
    let message = render_message(&state, &template, contact.as_ref()).map_err(|e| {
        AppError::Unprocessable(format!("Ce modèle ne peut pas être mis en forme : {e}"))
    })?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Content-Security-Policy", PREVIEW_CSP))
        .insert_header(("X-Frame-Options", "SAMEORIGIN"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(message.html))
}

/// An address a test message may go to, or what to correct.
fn parse_recipient(raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(
            "Indiquez l'adresse qui recevra l'essai, par exemple prenom.nom@exemple.fr.".to_owned(),
        );
    }
    let valid = EmailAddress::parse(raw).is_ok() && raw.parse::<lettre::Address>().is_ok();
    if valid {
        Ok(raw.to_owned())
    } else {
        Err(format!(
            "« {raw} » n'est pas une adresse électronique valide : écrivez-la au format \
             prenom.nom@exemple.fr."
        ))
    }
}

pub async fn test_send(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    let p = pairs(&body);
    staff.check_csrf(&field(&p, "csrf"))?;
    let id = path_id(&path)?;
    let recipient_typed = field(&p, "destinataire");
    let (template, contact) =
        load_preview(&state, id, contact_param(&field(&p, "contact"))).await?;
    let recipient = match parse_recipient(&recipient_typed) {
        Ok(r) => r,
        Err(message) => {
            let mut errors = FieldErrors::default();
            errors.add("destinataire", message);
            return render_preview(
                &state,
                &staff,
                &template,
                contact.as_ref(),
                PreviewForms {
                    recipient: recipient_typed,
                    errors,
                    ..PreviewForms::default()
                },
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
    };
    let mut message = render_message(&state, &template, contact.as_ref()).map_err(|e| {
        AppError::Unprocessable(format!("Ce modèle ne peut pas être mis en forme : {e}"))
    })?;
    message.subject = format!("[Essai] {}", message.subject);
    let email = NewOutboundEmail::new(
        "essai_campagne",
        &recipient,
        message,
        new_message_id(&state.settings.mail_domain()),
    );
    let actor = staff.0.user_id;
    let name = template.name.clone();
    db(&state, move |conn| {
        Ok(library::queue_test(conn, Some(actor), id, &name, email)?)
    })
    .await?;
    state.mail_wake.notify_one();
    render_preview(
        &state,
        &staff,
        &template,
        contact.as_ref(),
        PreviewForms {
            recipient: recipient.clone(),
            notice: Some(format!(
                "Le message d'essai part vers {recipient}, avec « [Essai] » devant l'objet. \
                 Il arrive d'ordinaire en moins d'une minute."
            )),
            ..PreviewForms::default()
        },
        StatusCode::OK,
    )
}

// ---------------------------------------------------------------------------------------------
// Campaigns: list

fn schedule_label(c: &Campaign) -> String {
    match c.schedule() {
        Schedule::Now => "Dès la programmation".to_owned(),
        Schedule::At(t) => format!("Le {}", paris(t)),
        Schedule::Cron(expr) => format!("Récurrente : « {expr} » (heure de Paris)"),
    }
}

pub async fn campaigns_list(
    state: web::Data<AppState>,
    staff: Staff,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    let rows = db(&state, |conn| Ok(library::overview(conn)?)).await?;
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
        json!({ "campaigns": rows }),
    )
}

// ---------------------------------------------------------------------------------------------
// Campaigns: the form

/// The campaign form as typed.
#[derive(Debug, Clone, Default, Serialize)]
struct CampaignForm {
    nom: String,
    modele: String,
    listes: Vec<String>,
    expediteur_nom: String,
    expediteur_adresse: String,
    debit: String,
    envoi: String,
    date: String,
    heure: String,
    cron: String,
}

const CAMPAIGN_FIELDS: &[(&str, &str)] = &[
    ("nom", "Nom de la campagne"),
    ("modele", "Modèle du message"),
    ("listes", "Listes de destinataires"),
    ("expediteur_nom", "Nom de l'expéditeur"),
    ("expediteur_adresse", "Adresse de l'expéditeur"),
    ("debit", "Rythme d'envoi"),
    ("envoi", "Quand envoyer"),
    ("date", "Date d'envoi"),
    ("heure", "Heure d'envoi"),
    ("cron", "Récurrence"),
];

const MAX_RATE: i32 = 100_000;

impl CampaignForm {
    fn read(body: &[u8]) -> (CampaignForm, String) {
        let mut form = CampaignForm::default();
        let mut csrf = String::new();
        for (k, v) in pairs(body) {
            match k.as_str() {
                "csrf" => csrf = v,
                "nom" => form.nom = v,
                "modele" => form.modele = v,
                "listes" => form.listes.push(v),
                "expediteur_nom" => form.expediteur_nom = v,
                "expediteur_adresse" => form.expediteur_adresse = v,
                "debit" => form.debit = v,
                "envoi" => form.envoi = v,
                "date" => form.date = v,
                "heure" => form.heure = v,
                "cron" => form.cron = v,
                _ => {}
            }
        }
        (form, csrf)
    }

    fn defaults(state: &AppState) -> CampaignForm {
        let (name, address) = default_sender(state);
        CampaignForm {
            expediteur_nom: name,
            expediteur_adresse: address,
            debit: state.settings.campaigns.default_rate_per_minute.to_string(),
            envoi: ScheduleKind::Now.code().to_owned(),
            ..CampaignForm::default()
        }
    }

    fn from_campaign(c: &Campaign, lists: &[i64]) -> CampaignForm {
        let (date, heure) = match c.scheduled_at {
            Some(t) if c.schedule_kind == ScheduleKind::At => {
                let local = t.with_timezone(&Paris);
                (
                    local.format("%Y-%m-%d").to_string(),
                    local.format("%H:%M").to_string(),
                )
            }
            _ => (String::new(), String::new()),
        };
        CampaignForm {
            nom: c.name.clone(),
            modele: c.template_id.to_string(),
            listes: lists.iter().map(i64::to_string).collect(),
            expediteur_nom: c.sender_name.clone(),
            expediteur_adresse: c.sender_email.clone(),
            debit: c.rate_per_minute.to_string(),
            envoi: c.schedule_kind.code().to_owned(),
            date,
            heure,
            cron: c.cron.clone().unwrap_or_default(),
        }
    }

    /// The campaign to save, or a message per wrong field. `now` decides what « future » is.
    fn validate(
        &self,
        templates: &[i64],
        lists: &[i64],
        now: DateTime<Utc>,
    ) -> Result<CampaignInput, FieldErrors> {
        let mut errors = FieldErrors::default();
        let name = self.nom.trim();
        if name.is_empty() {
            errors.add(
                "nom",
                "Donnez un nom à la campagne, par exemple « Internes – novembre 2026 ».",
            );
        } else if name.chars().count() > 200 {
            errors.add("nom", "200 caractères au plus pour le nom.");
        }
        let template_id = self.modele.trim().parse::<i64>().ok();
        let template_id = match template_id {
            Some(id) if templates.contains(&id) => id,
            _ => {
                errors.add("modele", "Choisissez le modèle du message dans la liste.");
                0
            }
        };
        let mut list_ids: Vec<i64> = Vec::new();
        for raw in &self.listes {
            match raw.trim().parse::<i64>() {
                Ok(id) if lists.contains(&id) => list_ids.push(id),
                _ => errors.add(
                    "listes",
                    "Une des listes cochées n'existe plus : vérifiez les listes cochées.",
                ),
            }
        }
        list_ids.sort_unstable();
        list_ids.dedup();
        if list_ids.is_empty() {
            errors.add("listes", "Cochez au moins une liste de destinataires.");
        }
        let sender_name = self.expediteur_nom.trim();
        if sender_name.is_empty() {
            errors.add(
                "expediteur_nom",
                "Indiquez le nom de l'expéditeur, par exemple « Centre départemental de santé du Gers ».",
            );
        } else if sender_name.chars().count() > 100 {
            errors.add(
                "expediteur_nom",
                "100 caractères au plus pour le nom de l'expéditeur.",
            );
        } else if sender_name.chars().any(|c| c.is_control()) {
            errors.add(
                "expediteur_nom",
                "Le nom de l'expéditeur tient sur une ligne.",
            );
        }
        let sender_email = self.expediteur_adresse.trim();
        let address = if sender_email.is_empty() {
            errors.add(
                "expediteur_adresse",
                "Indiquez l'adresse de l'expéditeur, par exemple recrutement@gers.fr.",
            );
            None
        } else {
            match (
                EmailAddress::parse(sender_email),
                sender_email.parse::<lettre::Address>(),
            ) {
                (Ok(_), Ok(a)) => Some(a),
                _ => {
                    errors.add(
                        "expediteur_adresse",
                        format!(
                            "« {sender_email} » n'est pas une adresse électronique valide : \
                             écrivez-la au format recrutement@gers.fr."
                        ),
                    );
                    None
                }
            }
        };
        if let Some(address) = address {
            // Name and address together must make a From header.
            if !sender_name.is_empty()
                && Mailbox::new(Some(sender_name.to_owned()), address)
                    .to_string()
                    .parse::<Mailbox>()
                    .is_err()
            {
                errors.add(
                    "expediteur_nom",
                    "Ce nom ne peut pas figurer dans l'en-tête du message : retirez les signes < > \" et les retours à la ligne.",
                );
            }
        }
        let rate_text: String = self.debit.chars().filter(|c| !c.is_whitespace()).collect();
        let rate = match rate_text.parse::<i32>() {
            Ok(r) if (1..=MAX_RATE).contains(&r) => r,
            _ => {
                errors.add(
                    "debit",
                    "Indiquez un nombre entier de messages par minute, entre 1 et 100 000 (par exemple 600).",
                );
                1
            }
        };
        let schedule = match ScheduleKind::from_code(self.envoi.trim()) {
            None => {
                errors.add(
                    "envoi",
                    "Choisissez quand envoyer : dès maintenant, à une date, ou de façon récurrente.",
                );
                None
            }
            Some(ScheduleKind::Now) => Some(Schedule::Now),
            Some(ScheduleKind::At) => self.parse_at(now, &mut errors).map(Schedule::At),
            Some(ScheduleKind::Cron) => {
                let expr = self.cron.split_whitespace().collect::<Vec<_>>().join(" ");
                if expr.is_empty() {
                    errors.add(
                        "cron",
                        "Indiquez la récurrence, par exemple « 0 9 * * 1 » pour chaque lundi à 9 h.",
                    );
                    None
                } else {
                    match runs::parse_cron(&expr) {
                        Ok(_) => Some(Schedule::Cron(expr)),
                        Err(message) => {
                            errors.add("cron", message);
                            None
                        }
                    }
                }
            }
        };
        match schedule {
            Some(schedule) if errors.is_empty() => Ok(CampaignInput {
                name: name.to_owned(),
                template_id,
                list_ids,
                sender_name: sender_name.to_owned(),
                sender_email: sender_email.to_owned(),
                rate_per_minute: rate,
                schedule,
            }),
            _ => Err(errors),
        }
    }

    /// The date and time typed (Paris time), in the future.
    fn parse_at(&self, now: DateTime<Utc>, errors: &mut FieldErrors) -> Option<DateTime<Utc>> {
        let date = if self.date.trim().is_empty() {
            errors.add("date", "Indiquez la date d'envoi, par exemple 01/12/2026.");
            None
        } else {
            let parsed = parse_date(&self.date);
            if parsed.is_none() {
                errors.add(
                    "date",
                    format!(
                        "« {} » n'est pas une date : écrivez-la JJ/MM/AAAA, par exemple 01/12/2026.",
                        self.date.trim()
                    ),
                );
            }
            parsed
        };
        let time_text = self.heure.trim().replace(['h', 'H'], ":");
        let time_text = if time_text.ends_with(':') {
            format!("{time_text}00")
        } else {
            time_text
        };
        let time = if self.heure.trim().is_empty() {
            errors.add("heure", "Indiquez l'heure d'envoi, par exemple 09:30.");
            None
        } else {
            let parsed = NaiveTime::parse_from_str(&time_text, "%H:%M").ok();
            if parsed.is_none() {
                errors.add(
                    "heure",
                    format!(
                        "« {} » n'est pas une heure : écrivez-la HH:MM, par exemple 09:30.",
                        self.heure.trim()
                    ),
                );
            }
            parsed
        };
        let (date, time) = (date?, time?);
        let Some(at) = Paris
            .from_local_datetime(&date.and_time(time))
            .earliest()
            .map(|t| t.with_timezone(&Utc))
        else {
            errors.add(
                "heure",
                "Cette heure n'existe pas ce jour-là (changement d'heure) : choisissez-en une autre.",
            );
            return None;
        };
        if at <= now {
            errors.add(
                "date",
                format!(
                    "Le {} est passé : choisissez une date et une heure à venir (heure de Paris).",
                    paris(at)
                ),
            );
            return None;
        }
        Some(at)
    }
}

async fn render_campaign_form(
    state: &AppState,
    staff: &Staff,
    id: Option<i64>,
    values: &CampaignForm,
    errors: &FieldErrors,
    status: StatusCode,
    problem: Option<String>,
) -> Result<HttpResponse, AppError> {
    let (templates, lists) = db(state, |conn| {
        Ok((library::list(conn)?, library::audience_lists(conn)?))
    })
    .await?;
    let template_choices: Vec<Value> = templates
        .iter()
        .map(|t| json!({ "id": t.id, "name": t.name, "selected": values.modele.trim() == t.id.to_string() }))
        .collect();
    let list_choices: Vec<Value> = lists
        .iter()
        .enumerate()
        .map(|(i, l)| {
            json!({
                "id": l.id,
                "input_id": if i == 0 { "listes".to_owned() } else { format!("liste-{}", l.id) },
                "name": l.name,
                "active": l.active,
                "checked": values.listes.iter().any(|v| v.trim() == l.id.to_string()),
            })
        })
        .collect();
    let heading = if id.is_some() {
        "Modifier la campagne"
    } else {
        "Nouvelle campagne"
    };
    let title = if status == StatusCode::OK {
        heading.to_owned()
    } else {
        format!("Erreur – {heading}")
    };
    let action = match id {
        Some(id) => format!("/campagnes/{id}/modifier"),
        None => "/campagnes/nouvelle".to_owned(),
    };
    let kind = values.envoi.trim();
    staff_page(
        state,
        staff,
        "campaigns/form",
        &title,
        status,
        json!({
            "heading": heading,
            "id": id,
            "action": action,
            "values": values,
            "errors": errors,
            "summary": error_summary(CAMPAIGN_FIELDS, errors),
            "problem": problem,
            "templates": template_choices,
            "no_template": values.modele.trim().is_empty(),
            "lists": list_choices,
            "at_now": kind == ScheduleKind::Now.code(),
            "at_date": kind == ScheduleKind::At.code(),
            "at_cron": kind == ScheduleKind::Cron.code(),
            "max_rate": MAX_RATE,
        }),
    )
}

pub async fn new_campaign(
    state: web::Data<AppState>,
    staff: Staff,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    let values = CampaignForm::defaults(&state);
    render_campaign_form(
        &state,
        &staff,
        None,
        &values,
        &FieldErrors::default(),
        StatusCode::OK,
        None,
    )
    .await
}

pub async fn edit_campaign(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    let id = path_id(&path)?;
    let (campaign, lists) = db(&state, move |conn| {
        let campaign = runs::find(conn, id)?.ok_or(AppError::NotFound)?;
        Ok((campaign, runs::list_ids(conn, id)?))
    })
    .await?;
    if campaign.status != CampaignStatus::Draft {
        return render_campaign(
            &state,
            &staff,
            id,
            None,
            Some(not_a_draft(campaign.status)),
            StatusCode::CONFLICT,
        )
        .await;
    }
    render_campaign_form(
        &state,
        &staff,
        Some(id),
        &CampaignForm::from_campaign(&campaign, &lists),
        &FieldErrors::default(),
        StatusCode::OK,
        None,
    )
    .await
}

fn not_a_draft(status: CampaignStatus) -> String {
    match status {
        CampaignStatus::Scheduled => "Cette campagne est programmée : déprogrammez-la d'abord \
                                      pour la modifier."
            .to_owned(),
        s => format!(
            "Seule une campagne en brouillon peut être modifiée ; celle-ci est « {} ».",
            s.label().to_lowercase()
        ),
    }
}

async fn save_campaign(
    state: &AppState,
    staff: &Staff,
    id: Option<i64>,
    body: &[u8],
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    let (values, csrf) = CampaignForm::read(body);
    staff.check_csrf(&csrf)?;
    let (templates, lists) = db(state, move |conn| {
        if let Some(id) = id {
            runs::find(conn, id)?.ok_or(AppError::NotFound)?;
        }
        let templates: Vec<i64> = library::list(conn)?.iter().map(|t| t.id).collect();
        let lists: Vec<i64> = library::audience_lists(conn)?
            .iter()
            .map(|l| l.id)
            .collect();
        Ok((templates, lists))
    })
    .await?;
    let input = match values.validate(&templates, &lists, Utc::now()) {
        Ok(input) => input,
        Err(errors) => {
            return render_campaign_form(
                state,
                staff,
                id,
                &values,
                &errors,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
            )
            .await
        }
    };
    let actor = staff.0.user_id;
    let saved = db(state, move |conn| {
        Ok(match id {
            None => Ok(runs::create(conn, &input, Some(actor))?),
            Some(id) => runs::update(conn, id, &input, Some(actor)).map(|()| id),
        })
    })
    .await?;
    match saved {
        Ok(id) => Ok(see_other(format!("/campagnes/{id}?fait=enregistree"))),
        Err(LifecycleError::NotFound) => Err(AppError::NotFound),
        Err(LifecycleError::WrongStatus(status)) => {
            render_campaign_form(
                state,
                staff,
                id,
                &values,
                &FieldErrors::default(),
                StatusCode::CONFLICT,
                Some(not_a_draft(status)),
            )
            .await
        }
        Err(e @ LifecycleError::RunNotWaiting) => Err(AppError::Conflict(e.to_string())),
        Err(LifecycleError::Db(e)) => Err(e.into()),
    }
}

pub async fn create_campaign(
    state: web::Data<AppState>,
    staff: Staff,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    save_campaign(&state, &staff, None, &body).await
}

pub async fn update_campaign(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    let id = path_id(&path)?;
    save_campaign(&state, &staff, Some(id), &body).await
}

// ---------------------------------------------------------------------------------------------
// Campaigns: the page, live progress, actions

/// Everything the campaign's page shows.
struct CampaignView {
    campaign: Campaign,
    template: String,
    lists: Vec<String>,
    runs: Vec<RunProgress>,
    outcome: Outcome,
}

async fn load_campaign(state: &AppState, id: i64) -> Result<CampaignView, AppError> {
    let now = Utc::now();
    db(state, move |conn| {
        let campaign = runs::find(conn, id)?.ok_or(AppError::NotFound)?;
        let template = library::find(conn, campaign.template_id)?
            .map(|t| t.name)
            .unwrap_or_default();
        let lists = library::list_names(conn, id)?;
        let runs = runs::progress(conn, id, campaign.rate_per_minute, now)?;
        let outcome = runs::outcome(conn, id)?;
        Ok(CampaignView {
            campaign,
            template,
            lists,
            runs,
            outcome,
        })
    })
    .await
}

/// One run's figures, as the page and the progression JSON give them.
fn run_view(p: &RunProgress) -> Value {
    let processed = p.sent + p.failed + p.skipped + p.cancelled;
    let total = p.recipients.max(processed + p.pending);
    let started = p.started_at.is_some();
    let percent = match (started, total) {
        (false, _) => 0,
        (true, 0) => 100,
        (true, total) => processed * 100 / total,
    };
    json!({
        "run_id": p.run_id,
        "scheduled_for": paris(p.scheduled_for),
        "status": p.status.code(),
        "status_label": p.status.label(),
        "recipients": total,
        "sent": p.sent,
        "failed": p.failed,
        "skipped": p.skipped,
        "cancelled": p.cancelled,
        "pending": p.pending,
        "processed": processed,
        "max": total.max(1),
        "percent": percent,
        "sent_last_minute": p.sent_last_minute,
        "estimated_end": p.estimated_end.map(paris).unwrap_or_else(|| "–".to_owned()),
        "started_at": p.started_at.map(paris),
        "finished_at": p.finished_at.map(paris),
        "started": started,
        "sending": p.status == RunStatus::Sending,
        "awaiting": p.status == RunStatus::AwaitingConfirmation,
    })
}

fn done_notice(query: &DoneQuery, status: CampaignStatus) -> Option<String> {
    let n: u64 = query.n.parse().unwrap_or(0);
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
        "annulee" => {
            format!("La campagne est annulée : {n} message(s) en attente ne partiront pas.")
        }
        "relance" => format!("{n} message(s) en échec remis en file d'envoi."),
        "envoyee" => "L'envoi en attente de confirmation est lancé.".to_owned(),
        "ignoree" => "L'envoi en attente de confirmation ne sera pas fait.".to_owned(),
        _ => return None,
    })
}

async fn render_campaign(
    state: &AppState,
    staff: &Staff,
    id: i64,
    done: Option<&DoneQuery>,
    problem: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let view = load_campaign(state, id).await?;
    let c = &view.campaign;
    let s = c.status;
    let notice = done.and_then(|q| done_notice(q, s));
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
    let runs: Vec<Value> = view.runs.iter().map(run_view).collect();
    let sending = view.runs.iter().any(|r| r.status == RunStatus::Sending);
    let awaiting: Vec<Value> = view
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
                "template": view.template,
                "template_id": c.template_id,
                "lists": view.lists,
                "sender": format!("{} <{}>", c.sender_name, c.sender_email),
                "rate": c.rate_per_minute,
                "schedule": schedule_label(c),
                "is_cron": c.schedule_kind == ScheduleKind::Cron,
                "is_now": c.schedule_kind == ScheduleKind::Now,
                "created_at": paris(c.created_at),
            },
            "next": next,
            "runs": runs,
            "awaiting": awaiting,
            "sending": sending,
            "has_runs": !view.runs.is_empty(),
            "outcome": view.outcome,
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
            "problem": problem,
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
    render_campaign(&state, &staff, id, Some(&query), None, StatusCode::OK).await
}

/// The runs' figures for the page's script (polled every 2 s while a run is sending).
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
    let pending: i64 = view.runs.iter().map(|r| r.pending).sum();
    let planned = view
        .runs
        .iter()
        .filter(|r| {
            matches!(
                r.status,
                RunStatus::Planned | RunStatus::AwaitingConfirmation
            )
        })
        .count();
    staff_page(
        state,
        staff,
        "campaigns/cancel",
        &format!("Annuler la campagne « {} »", c.name),
        StatusCode::OK,
        json!({
            "id": c.id,
            "name": c.name,
            "status_label": c.status.label(),
            "pending": pending,
            "planned": planned,
            "is_cron": c.schedule_kind == ScheduleKind::Cron,
        }),
    )
}

/// Programmer, déprogrammer, mettre en pause, reprendre, annuler, relancer les échecs.
pub async fn campaign_action(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    let p = pairs(&body);
    staff.check_csrf(&field(&p, "csrf"))?;
    let (raw_id, action) = path.into_inner();
    let id = path_id(&raw_id)?;
    let actor = Some(staff.0.user_id);
    let now = Utc::now();
    let done: Result<String, LifecycleError> = match action.as_str() {
        "programmer" => {
            let campaign = db(&state, move |conn| Ok(runs::find(conn, id)?))
                .await?
                .ok_or(AppError::NotFound)?;
            if let (Schedule::At(at), CampaignStatus::Draft) =
                (campaign.schedule(), campaign.status)
            {
                if at <= now {
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
            }
            db(&state, move |conn| Ok(runs::schedule(conn, id, now, actor)))
                .await?
                .map(|()| "programmee".to_owned())
        }
        "deprogrammer" => db(&state, move |conn| Ok(runs::unschedule(conn, id, actor)))
            .await?
            .map(|()| "deprogrammee".to_owned()),
        "pause" => db(&state, move |conn| Ok(runs::pause(conn, id, actor)))
            .await?
            .map(|()| "pause".to_owned()),
        "reprendre" => db(&state, move |conn| Ok(runs::resume(conn, id, actor)))
            .await?
            .map(|()| "reprise".to_owned()),
        "annuler" => {
            if field(&p, "confirmer") != "oui" {
                return render_cancel(&state, &staff, id).await;
            }
            db(&state, move |conn| Ok(runs::cancel(conn, id, actor)))
                .await?
                .map(|n| format!("annulee&n={n}"))
        }
        "relancer" => db(&state, move |conn| {
            Ok(runs::retry_failed(conn, id, now, actor))
        })
        .await?
        .map(|n| format!("relance&n={n}")),
        _ => return Err(AppError::NotFound),
    };
    lifecycle_outcome(&state, &staff, id, done).await
}

/// After an action: back to the page with its notice, or the page with the refusal.
async fn lifecycle_outcome(
    state: &AppState,
    staff: &Staff,
    id: i64,
    done: Result<String, LifecycleError>,
) -> Result<HttpResponse, AppError> {
    match done {
        Ok(fait) => {
            // A run may have started or resumed: this instance's idle senders look now.
            state.campaign_wake.notify_waiters();
            Ok(see_other(format!("/campagnes/{id}?fait={fait}")))
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
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    let p = pairs(&body);
    staff.check_csrf(&field(&p, "csrf"))?;
    let (raw_id, raw_run, decision) = path.into_inner();
    let (id, run) = (path_id(&raw_id)?, path_id(&raw_run)?);
    let owner = db(&state, move |conn| Ok(library::run_campaign(conn, run)?)).await?;
    if owner != Some(id) {
        return Err(AppError::NotFound);
    }
    let actor = Some(staff.0.user_id);
    let now = Utc::now();
    let done = match decision.as_str() {
        "envoyer" => db(&state, move |conn| {
            Ok(runs::confirm_run(conn, run, now, actor))
        })
        .await?
        .map(|()| "envoyee".to_owned()),
        "ne-pas-envoyer" => db(&state, move |conn| Ok(runs::skip_run(conn, run, actor)))
            .await?
            .map(|()| "ignoree".to_owned()),
        _ => return Err(AppError::NotFound),
    };
    lifecycle_outcome(&state, &staff, id, done).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> CampaignForm {
        CampaignForm {
            nom: "Internes".into(),
            modele: "1".into(),
            listes: vec!["2".into()],
            expediteur_nom: "CDS32".into(),
            expediteur_adresse: "recrutement@gers.fr".into(),
            debit: "1 000".into(),
            envoi: "maintenant".into(),
            ..CampaignForm::default()
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn a_valid_form_gives_the_campaign() {
        let input = form().validate(&[1], &[2, 3], now()).unwrap();
        assert_eq!(input.rate_per_minute, 1000);
        assert_eq!(input.list_ids, vec![2]);
        assert_eq!(input.schedule, Schedule::Now);
    }

    #[test]
    fn dates_are_paris_time_and_must_be_ahead() {
        let mut f = form();
        f.envoi = "date".into();
        f.date = "2026-11-23".into();
        f.heure = "12h".into();
        // 12:00 in Paris is 11:00 UTC, an hour ahead.
        let input = f.validate(&[1], &[2], now()).unwrap();
        assert_eq!(
            input.schedule,
            Schedule::At(
                DateTime::parse_from_rfc3339("2026-11-23T11:00:00Z")
                    .unwrap()
                    .with_timezone(&Utc)
            )
        );
        f.heure = "10:30".into();
        let errors = f.validate(&[1], &[2], now()).unwrap_err();
        assert!(errors.0["date"].contains("est passé"), "{:?}", errors.0);
    }

    #[test]
    fn each_wrong_field_has_its_message() {
        let f = CampaignForm {
            nom: String::new(),
            modele: "9".into(),
            listes: vec![],
            expediteur_nom: "Nom\nInjecté".into(),
            expediteur_adresse: "pas-une-adresse".into(),
            debit: "0".into(),
            envoi: "cron".into(),
            cron: "*/5 * * * *".into(),
            ..CampaignForm::default()
        };
        let errors = f.validate(&[1], &[2], now()).unwrap_err();
        for field in [
            "nom",
            "modele",
            "listes",
            "expediteur_nom",
            "expediteur_adresse",
            "debit",
            "cron",
        ] {
            assert!(errors.0.contains_key(field), "{field}: {:?}", errors.0);
        }
    }
}
