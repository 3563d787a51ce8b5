//! A template's preview, with sample values or a contact's (found by address through a POST,
//! never in the URL), its HTML part in a sandboxed frame, and the test send.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use crate::campaigns::blanks::EmptyVariable;
use crate::campaigns::library::{self, MailTemplate, PreviewContact};
use crate::campaigns::preview::{self as template_preview, parse_recipient, render_message};
use crate::campaigns::sending;
use crate::domain::FieldErrors;
use crate::error::AppError;
use crate::mail::new_message_id;
use crate::mail::outbox::{encode_headers, NewOutboundEmail};
use crate::staff::COMMUNICATION;
use crate::web::body::Form;
use crate::web::pages::{error_summary, path_id, see_other};
use crate::web::staff::{staff_page, Staff};
use crate::web::{db, AppState};

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
        template_preview::load(conn, id, contact)?.ok_or(AppError::NotFound)
    })
    .await
}

/// The variables template `id` uses that some contacts lack.
async fn blanks_of(state: &AppState, id: i64) -> Result<Vec<EmptyVariable>, AppError> {
    let url = template_preview::public_url(&state.settings);
    db(state, move |conn| {
        Ok(template_preview::blanks_of(conn, id, &url)?)
    })
    .await
}

/// The preview page's own state: the search and test-send forms as typed, their errors.
#[derive(Default)]
struct PreviewForms {
    /// The variables some contacts would get empty.
    blanks: Vec<EmptyVariable>,
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
    let rendered = render_message(&state.settings, template, contact);
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
            "blanks": forms.blanks,
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
    let url = template_preview::public_url(&state.settings);
    let (template, contact, blanks) = db(&state, move |conn| {
        template_preview::load_with_blanks(conn, id, wanted, &url)?.ok_or(AppError::NotFound)
    })
    .await?;
    let forms = PreviewForms {
        blanks,
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
/// The contact search as sent.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SearchBody {
    csrf: String,
    recherche: String,
}

/// The search by e-mail: answers with the contact's id in the URL, never its address.
pub async fn find_preview_contact(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
    form: Form<SearchBody>,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    staff.check_csrf(&form.csrf)?;
    let id = path_id(&path)?;
    let search = form.recherche.trim().to_owned();
    let wanted = search.clone();
    let (template, found) = db(&state, move |conn| {
        template_preview::load_by_email(conn, id, &wanted)?.ok_or(AppError::NotFound)
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
    let blanks = blanks_of(&state, id).await?;
    render_preview(
        &state,
        &staff,
        &template,
        None,
        PreviewForms {
            blanks,
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
    let message = render_message(&state.settings, &template, contact.as_ref()).map_err(|e| {
        AppError::Unprocessable(format!("Ce modèle ne peut pas être mis en forme : {e}"))
    })?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Content-Security-Policy", PREVIEW_CSP))
        .insert_header(("X-Frame-Options", "SAMEORIGIN"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(message.html))
}

/// The test send as sent: the address, and the contact whose values the preview showed.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TestSendBody {
    csrf: String,
    destinataire: String,
    contact: String,
}

pub async fn test_send(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
    form: Form<TestSendBody>,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    staff.check_csrf(&form.csrf)?;
    let id = path_id(&path)?;
    let form = form.into_inner();
    let recipient_typed = form.destinataire;
    let (template, contact) = load_preview(&state, id, contact_param(&form.contact)).await?;
    let recipient = match parse_recipient(&recipient_typed) {
        Ok(r) => r,
        Err(message) => {
            let mut errors = FieldErrors::default();
            errors.add("destinataire", message);
            let blanks = blanks_of(&state, id).await?;
            return render_preview(
                &state,
                &staff,
                &template,
                contact.as_ref(),
                PreviewForms {
                    blanks,
                    recipient: recipient_typed,
                    errors,
                    ..PreviewForms::default()
                },
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
    };
    let mut message =
        render_message(&state.settings, &template, contact.as_ref()).map_err(|e| {
            AppError::Unprocessable(format!("Ce modèle ne peut pas être mis en forme : {e}"))
        })?;
    message.subject = format!("[Essai] {}", message.subject);
    let mut email = NewOutboundEmail::new(
        "essai_campagne",
        &recipient,
        message,
        new_message_id(&state.settings.mail_domain()),
    );
    // Built as the campaign's messages are (their list headers, the same signature step), with
    // the test links that stand for no delivery.
    let settings = &state.settings;
    let headers: Vec<(String, String)> = sending::list_headers(
        settings,
        &sending::unsubscribe_mailto(settings),
        &format!("{}/desinscription/essai", settings.public_base()),
        "essai",
    )
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect();
    email.extra_headers = Some(encode_headers(&headers));
    let actor = staff.0.user_id;
    let name = template.name.clone();
    db(&state, move |conn| {
        Ok(library::queue_test(conn, Some(actor), id, &name, email)?)
    })
    .await?;
    state.mail_wake.notify_one();
    let blanks = blanks_of(&state, id).await?;
    render_preview(
        &state,
        &staff,
        &template,
        contact.as_ref(),
        PreviewForms {
            blanks,
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
