//! Organisations (establishments, faculties, …) that contacts belong to: their list, adding
//! one, loading the faculties of medicine.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{radios, CsrfOnly};
use crate::campaigns::organisations::{self, OrganisationForm};
use crate::db::enums::OrganisationKind;
use crate::domain::FieldErrors;
use crate::error::AppError;
use crate::staff::COMMUNICATION;
use crate::web::body::Form;
use crate::web::pages::{error_summary, see_other, status_and_title};
use crate::web::staff::{staff_page, Staff};
use crate::web::{db, AppState};

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct OrganisationsQuery {
    facultes: String,
    enregistre: String,
}

async fn render_organisations(
    state: &AppState,
    staff: &Staff,
    values: &OrganisationForm,
    errors: &FieldErrors,
    notice: Option<String>,
) -> Result<HttpResponse, AppError> {
    let all = db(state, |conn| Ok(organisations::with_contact_counts(conn)?)).await?;
    let rows: Vec<Value> = all
        .iter()
        .map(|(o, n)| json!({ "name": o.name, "kind": o.kind.label(), "city": o.city, "contacts": n }))
        .collect();
    let (status, title) = status_and_title(errors, "Organisations");
    staff_page(
        state,
        staff,
        "contacts/organisations",
        &title,
        status,
        json!({
            "organisations": rows,
            "values": values,
            "errors": errors,
            "summary": error_summary(organisations::FORM_FIELDS, errors),
            "kinds": radios(OrganisationKind::ALL, "type", &values.kind, |k| k.code(), |k| k.label()),
            "notice": notice,
        }),
    )
}

pub async fn organisations_page(
    state: web::Data<AppState>,
    staff: Staff,
    query: web::Query<OrganisationsQuery>,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    let notice = if !query.enregistre.is_empty() {
        Some("L'organisation est enregistrée.".to_owned())
    } else {
        match query.facultes.trim().parse::<usize>() {
            Ok(0) => {
                Some("Les facultés de médecine étaient déjà chargées : rien d'ajouté.".to_owned())
            }
            Ok(n) => Some(format!("{n} facultés de médecine ajoutées.")),
            Err(_) => None,
        }
    };
    let values = OrganisationForm {
        kind: OrganisationKind::Establishment.code().to_owned(),
        ..OrganisationForm::default()
    };
    render_organisations(&state, &staff, &values, &FieldErrors::default(), notice).await
}

#[derive(Debug, Default, Deserialize)]
pub struct OrganisationBody {
    #[serde(default)]
    csrf: String,
    #[serde(flatten)]
    values: OrganisationForm,
}

pub async fn create_organisation(
    state: web::Data<AppState>,
    staff: Staff,
    form: Form<OrganisationBody>,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    staff.check_csrf(&form.csrf)?;
    let values = form.into_inner().values;
    let v = values.clone();
    let actor = staff.0.user_id;
    match db(&state, move |conn| {
        Ok(organisations::create(conn, actor, &v)?)
    })
    .await?
    {
        Ok(_) => Ok(see_other("/contacts/organisations?enregistre=1")),
        Err(errors) => render_organisations(&state, &staff, &values, &errors, None).await,
    }
}

pub async fn load_faculties(
    state: web::Data<AppState>,
    staff: Staff,
    form: Form<CsrfOnly>,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    staff.check_csrf(&form.csrf)?;
    let actor = staff.0.user_id;
    let added = db(&state, move |conn| {
        Ok(organisations::load_faculties_by(conn, actor)?)
    })
    .await?;
    Ok(see_other(format!(
        "/contacts/organisations?facultes={added}"
    )))
}
