//! The library of campaign templates: its list, the editor (new, change, delete).

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{CsrfBody, DoneQuery};
use crate::campaigns::form::paris;
use crate::campaigns::library::{self, CampaignRef, MailTemplate, SaveError, TemplateForm};
use crate::campaigns::preview::public_url;
use crate::campaigns::template::VARIABLES;
use crate::db::enums::CampaignStatus;
use crate::domain::FieldErrors;
use crate::error::AppError;
use crate::staff::COMMUNICATION;
use crate::web::body::Form;
use crate::web::pages::{error_summary, path_id, see_other};
use crate::web::staff::{staff_page, Staff};
use crate::web::{db, AppState};

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
        library::find_with_campaigns(conn, id)?.ok_or(AppError::NotFound)
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

/// The template form as sent.
#[derive(Debug, Default, Deserialize)]
pub struct TemplateBody {
    #[serde(default)]
    csrf: String,
    #[serde(flatten)]
    values: TemplateForm,
}

/// Creates (`id` None) or changes a template; the form again when it is refused.
async fn save_template(
    state: &AppState,
    staff: &Staff,
    id: Option<i64>,
    body: TemplateBody,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    staff.check_csrf(&body.csrf)?;
    let values = body.values;
    let actor = staff.0.user_id;
    let url = public_url(&state.settings);
    let form = values.clone();
    let saved = db(state, move |conn| {
        Ok(library::save(conn, Some(actor), id, &form, &url)?)
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
    form: Form<TemplateBody>,
) -> Result<HttpResponse, AppError> {
    save_template(&state, &staff, None, form.into_inner()).await
}

pub async fn update_template(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
    form: Form<TemplateBody>,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    let id = path_id(&path)?;
    save_template(&state, &staff, Some(id), form.into_inner()).await
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
