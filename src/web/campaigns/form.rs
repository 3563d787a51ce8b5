//! The campaign form: new campaign, changing a draft, the form again with a message per field
//! when it is refused.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::Utc;
use serde_json::{json, Value};

use super::campaign::render_campaign;
use crate::campaigns::form::{
    self as campaign_form, not_a_draft, CampaignForm, CAMPAIGN_FIELDS, MAX_RATE,
};
use crate::campaigns::runs::LifecycleError;
use crate::db::enums::{CampaignStatus, ScheduleKind};
use crate::domain::french;
use crate::domain::FieldErrors;
use crate::error::AppError;
use crate::staff::COMMUNICATION;
use crate::web::body::Form;
use crate::web::pages::{error_summary, path_id, see_other};
use crate::web::staff::{staff_page, Staff};
use crate::web::{db, AppState};

async fn render_campaign_form(
    state: &AppState,
    staff: &Staff,
    id: Option<i64>,
    values: &CampaignForm,
    errors: &FieldErrors,
    status: StatusCode,
    problem: Option<String>,
) -> Result<HttpResponse, AppError> {
    let (templates, lists) = db(state, |conn| Ok(campaign_form::choices(conn)?)).await?;
    let template_choices: Vec<Value> = templates
        .iter()
        .map(|t| json!({ "id": t.id, "name": t.name, "selected": values.modele.trim() == t.id.to_string() }))
        .collect();
    let list_choices = list_choices(&lists, &values.listes);
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
    let values = CampaignForm::defaults(&state.settings);
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
        campaign_form::for_editing(conn, id)?.ok_or(AppError::NotFound)
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
async fn save_campaign(
    state: &AppState,
    staff: &Staff,
    id: Option<i64>,
    values: CampaignForm,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    staff.check_csrf(&values.csrf)?;
    let (templates, lists) = db(state, move |conn| {
        campaign_form::known_ids(conn, id)?.ok_or(AppError::NotFound)
    })
    .await?;
    let mut checked = values.validate(&templates, &lists, Utc::now());
    // Sending, tightened (issue 20): a sender that would fail DMARC is refused at the field.
    let dkim = &state.settings.mail.dkim;
    if let Some(message) = (!dkim.selector.is_empty())
        .then(|| values.misaligned_sender(&dkim.domain))
        .flatten()
    {
        let mut errors = checked.err().unwrap_or_default();
        errors.add("expediteur_adresse", message);
        checked = Err(errors);
    }
    let input = match checked {
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
        Ok(campaign_form::save(conn, id, &input, actor))
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
    form: Form<CampaignForm>,
) -> Result<HttpResponse, AppError> {
    save_campaign(&state, &staff, None, form.into_inner()).await
}

pub async fn update_campaign(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
    form: Form<CampaignForm>,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    let id = path_id(&path)?;
    save_campaign(&state, &staff, Some(id), form.into_inner()).await
}

/// The lists a campaign (of e-mail or of letters) may target, as the form's checkboxes show
/// them: the first one carries the id the error summary links to.
pub(super) fn list_choices(
    lists: &[crate::campaigns::library::AudienceList],
    chosen: &[String],
) -> Vec<Value> {
    lists
        .iter()
        .enumerate()
        .map(|(i, l)| {
            json!({
                "id": l.id,
                "input_id": if i == 0 { "listes".to_owned() } else { format!("liste-{}", l.id) },
                "name": l.name,
                "active": l.active,
                "active_text": french::count_label(l.active, "contact actif", "contacts actifs"),
                "checked": chosen.iter().any(|v| v.trim() == l.id.to_string()),
            })
        })
        .collect()
}
