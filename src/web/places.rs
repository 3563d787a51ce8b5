//! Administrators' pages for centres and positions.

use actix_web::{web, HttpResponse};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::pages::{error_summary, path_id, see_other, status_and_title};
use crate::centres::{self, Centre, CentreForm};
use crate::db::enums::{CentreKind, CentreStatus};
use crate::domain::format_hundredths;
use crate::domain::FieldErrors;
use crate::error::AppError;
use crate::positions::{self, PositionForm};
use crate::web::body::Form;
use crate::web::staff::{page, staff_page, Staff};
use crate::web::{db, AppState};

/// Today in the département (which centres are closed depends on it).
fn today() -> NaiveDate {
    chrono::Utc::now()
        .with_timezone(&chrono_tz::Europe::Paris)
        .date_naive()
}

/// "2,5 ETP".
fn fte_label(hundredths: i32) -> String {
    format!("{} ETP", format_hundredths(i64::from(hundredths)))
}

#[derive(Debug, Default, Deserialize)]
pub struct SavedQuery {
    enregistre: Option<String>,
}

impl SavedQuery {
    /// The notice for the row just saved, if the address names one of `rows`.
    fn notice<T>(
        &self,
        rows: &[T],
        id: impl Fn(&T) -> i64,
        notice: impl Fn(&T) -> String,
    ) -> Option<String> {
        let saved = self.enregistre.as_deref()?.parse::<i64>().ok()?;
        rows.iter().find(|row| id(row) == saved).map(notice)
    }
}

// ---------------------------------------------------------------------------------------------
// Centres

pub async fn centres_list(
    state: web::Data<AppState>,
    staff: Staff,
    query: web::Query<SavedQuery>,
) -> Result<HttpResponse, AppError> {
    staff.require(&[])?;
    let all = db(&state, |conn| Ok(centres::list_by_name(conn)?)).await?;
    let notice = query.notice(
        &all,
        |c| c.id,
        |c| format!("Le centre « {} » est enregistré.", c.name),
    );
    let rows: Vec<Value> = all
        .iter()
        .map(|c| {
            json!({
                "id": c.id,
                "name": c.name,
                "kind": c.kind.label(),
                "commune": c.commune,
                "status": c.status.label(),
                "opened_on": c.opened_on.map(|d| d.to_string()).unwrap_or_default(),
                "closed_on": c.closed_on.map(|d| d.to_string()).unwrap_or_default(),
                "capacity": fte_label(c.planned_fte_hundredths),
            })
        })
        .collect();
    let day = today();
    let total: i32 = all
        .iter()
        .filter(|c| !c.closed_on_day(day))
        .map(|c| c.planned_fte_hundredths)
        .sum();
    page(
        &state,
        &staff,
        "admin/centres",
        "Centres",
        json!({ "centres": rows, "total": fte_label(total), "notice": notice }),
    )
}

/// The centre form (new when `id` is None), with its values and per-field errors.
/// The doctors working in a centre from today on: those to redeploy when it closes. Only
/// allocations still running on its closing date, if it has one, are listed.
async fn centre_doctors(
    state: &AppState,
    id: Option<i64>,
) -> Result<
    (
        Vec<crate::placements::DoctorAtCentre>,
        Option<chrono::NaiveDate>,
    ),
    AppError,
> {
    let Some(id) = id else {
        return Ok((Vec::new(), None));
    };
    let today = crate::domain::paris_today();
    db(state, move |conn| {
        Ok(crate::placements::doctors_to_redeploy(conn, id, today)?)
    })
    .await
}

/// One radio button of a group; the first carries the group's field id (where the error
/// summary links), the others `{field}-{value}`.
#[derive(Serialize)]
struct Radio {
    value: &'static str,
    label: &'static str,
    input_id: String,
    checked: bool,
}

fn radios(
    field: &str,
    choices: impl Iterator<Item = (&'static str, &'static str)>,
    chosen: &str,
) -> Vec<Radio> {
    choices
        .enumerate()
        .map(|(i, (value, label))| Radio {
            value,
            label,
            input_id: if i == 0 {
                field.to_owned()
            } else {
                format!("{field}-{value}")
            },
            checked: chosen == value,
        })
        .collect()
}

fn render_centre(
    state: &AppState,
    staff: &Staff,
    id: Option<i64>,
    values: &CentreForm,
    errors: &FieldErrors,
    doctors: (
        Vec<crate::placements::DoctorAtCentre>,
        Option<chrono::NaiveDate>,
    ),
) -> Result<HttpResponse, AppError> {
    let kinds = radios(
        "type",
        CentreKind::ALL.iter().map(|k| (k.code(), k.label())),
        &values.kind,
    );
    let statuses = radios(
        "statut",
        CentreStatus::ALL.iter().map(|s| (s.code(), s.label())),
        &values.statut,
    );
    let (status, title) = status_and_title(
        errors,
        if id.is_some() {
            "Modifier un centre"
        } else {
            "Ajouter un centre"
        },
    );
    let action = match id {
        Some(id) => format!("/admin/centres/{id}"),
        None => "/admin/centres/nouveau".to_owned(),
    };
    staff_page(
        state,
        staff,
        "admin/centre",
        &title,
        status,
        json!({
            "heading": if id.is_some() { "Modifier un centre" } else { "Ajouter un centre" },
            "action": action,
            "values": values,
            "errors": errors,
            "summary": error_summary(centres::FORM_FIELDS, errors),
            "kinds": kinds,
            "statuses": statuses,
            "doctors": doctors.0,
            "closing": doctors.1,
        }),
    )
}

async fn load_centre(state: &AppState, id: i64) -> Result<Centre, AppError> {
    db(state, move |conn| Ok(centres::find(conn, id)?))
        .await?
        .ok_or(AppError::NotFound)
}

pub async fn new_centre(
    state: web::Data<AppState>,
    staff: Staff,
) -> Result<HttpResponse, AppError> {
    staff.require(&[])?;
    let values = CentreForm {
        kind: CentreKind::Centre.code().to_owned(),
        statut: CentreStatus::Planned.code().to_owned(),
        capacite: "0".to_owned(),
        ..Default::default()
    };
    render_centre(
        &state,
        &staff,
        None,
        &values,
        &FieldErrors::default(),
        (Vec::new(), None),
    )
}

pub async fn edit_centre(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    staff.require(&[])?;
    let id = path_id(&path)?;
    let centre = load_centre(&state, id).await?;
    let doctors = centre_doctors(&state, Some(id)).await?;
    let mut values = CentreForm::from_centre(&centre);
    if let Some((street, postcode)) =
        db(&state, move |conn| Ok(centres::postal_address(conn, id)?)).await?
    {
        values.adresse = street;
        values.code_postal = postcode;
    }
    render_centre(
        &state,
        &staff,
        Some(id),
        &values,
        &FieldErrors::default(),
        doctors,
    )
}

#[derive(Debug, Default, Deserialize)]
pub struct CentreBody {
    #[serde(default)]
    csrf: String,
    #[serde(flatten)]
    values: CentreForm,
}

/// Creates (`id` None) or changes a centre; the form again with 422 when something is wrong.
async fn save_centre(
    state: &AppState,
    staff: &Staff,
    id: Option<i64>,
    body: CentreBody,
) -> Result<HttpResponse, AppError> {
    staff.require(&[])?;
    staff.check_csrf(&body.csrf)?;
    if let Some(id) = id {
        load_centre(state, id).await?;
    }
    let values = body.values;
    let changes = match values.validate() {
        Ok(changes) => changes,
        Err(errors) => {
            let doctors = centre_doctors(state, id).await?;
            return render_centre(state, staff, id, &values, &errors, doctors);
        }
    };
    let actor = staff.0.user_id;
    let saved = db(state, move |conn| {
        Ok(match id {
            None => centres::create(conn, actor, &changes)?,
            Some(id) => centres::update(conn, actor, id, &changes)?.map(|()| id),
        })
    })
    .await?;
    match saved {
        Ok(id) => Ok(see_other(format!("/admin/centres?enregistre={id}"))),
        Err(centres::SaveError::NotFound) => Err(AppError::NotFound),
        Err(centres::SaveError::Taken(errors)) => {
            let doctors = centre_doctors(state, id).await?;
            render_centre(state, staff, id, &values, &errors, doctors)
        }
    }
}

pub async fn create_centre(
    state: web::Data<AppState>,
    staff: Staff,
    form: Form<CentreBody>,
) -> Result<HttpResponse, AppError> {
    save_centre(&state, &staff, None, form.into_inner()).await
}

pub async fn update_centre(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
    form: Form<CentreBody>,
) -> Result<HttpResponse, AppError> {
    staff.require(&[])?;
    let id = path_id(&path)?;
    save_centre(&state, &staff, Some(id), form.into_inner()).await
}

// ---------------------------------------------------------------------------------------------
// Positions

pub async fn positions_list(
    state: web::Data<AppState>,
    staff: Staff,
    query: web::Query<SavedQuery>,
) -> Result<HttpResponse, AppError> {
    staff.require(&[])?;
    let all = db(&state, |conn| Ok(positions::list_all(conn)?)).await?;
    let notice = query.notice(
        &all,
        |p| p.id,
        |p| format!("Le poste « {} » est enregistré.", p.title),
    );
    let rows: Vec<Value> = all
        .iter()
        .map(|p| {
            let fte = if p.fte_min_hundredths == p.fte_max_hundredths {
                fte_label(p.fte_min_hundredths)
            } else {
                format!(
                    "{} à {}",
                    format_hundredths(i64::from(p.fte_min_hundredths)),
                    fte_label(p.fte_max_hundredths)
                )
            };
            json!({
                "id": p.id,
                "title": p.title,
                "specialty": p.specialty.clone().unwrap_or_default(),
                "communes": p.communes.join(", "),
                "fte": fte,
                "published": p.published,
            })
        })
        .collect();
    page(
        &state,
        &staff,
        "admin/positions",
        "Postes",
        json!({ "positions": rows, "notice": notice }),
    )
}

/// The position form (new when `id` is None), with its values and per-field errors.
async fn render_position(
    state: &AppState,
    staff: &Staff,
    id: Option<i64>,
    values: &PositionForm,
    errors: &FieldErrors,
) -> Result<HttpResponse, AppError> {
    let all = db(state, |conn| Ok(centres::list_all(conn)?)).await?;
    let day = today();
    let centre_choices: Vec<Value> = all
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let state = if c.closed_on_day(day) {
                Some("fermé")
            } else if c.status == CentreStatus::Planned {
                Some("en projet")
            } else {
                None
            };
            json!({
                "id": c.id,
                "input_id": if i == 0 { "centres".to_owned() } else { format!("centre-{}", c.id) },
                "name": c.name,
                "state": state,
                "checked": values.centres.iter().any(|v| v.trim() == c.id.to_string()),
            })
        })
        .collect();
    let specialties: Vec<Value> = state
        .specialties
        .iter()
        .map(|s| json!({ "value": s.code, "label": s.label, "selected": values.specialite == s.code }))
        .collect();
    let heading = if id.is_some() {
        "Modifier un poste"
    } else {
        "Ajouter un poste"
    };
    let (status, title) = status_and_title(errors, heading);
    let action = match id {
        Some(id) => format!("/admin/postes/{id}"),
        None => "/admin/postes/nouveau".to_owned(),
    };
    staff_page(
        state,
        staff,
        "admin/position",
        &title,
        status,
        json!({
            "heading": heading,
            "action": action,
            "values": values,
            "errors": errors,
            "summary": error_summary(positions::FORM_FIELDS, errors),
            "specialties": specialties,
            "no_specialty": values.specialite.is_empty(),
            "centres": centre_choices,
        }),
    )
}

pub async fn new_position(
    state: web::Data<AppState>,
    staff: Staff,
) -> Result<HttpResponse, AppError> {
    staff.require(&[])?;
    let values = PositionForm {
        etp_min: "1".to_owned(),
        etp_max: "1".to_owned(),
        ..Default::default()
    };
    render_position(&state, &staff, None, &values, &FieldErrors::default()).await
}

pub async fn edit_position(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    staff.require(&[])?;
    let id = path_id(&path)?;
    let (position, centre_ids) = db(&state, move |conn| Ok(positions::find(conn, id)?))
        .await?
        .ok_or(AppError::NotFound)?;
    let values = PositionForm::from_position(&position, &centre_ids);
    render_position(&state, &staff, Some(id), &values, &FieldErrors::default()).await
}

/// The position form as posted: `centres` repeats, `publie` is a checkbox.
#[derive(Debug, Default, Deserialize)]
pub struct PositionBody {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    titre: String,
    #[serde(default)]
    specialite: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    centres: Vec<String>,
    #[serde(default)]
    etp_min: String,
    #[serde(default)]
    etp_max: String,
    #[serde(default)]
    publie: String,
    #[serde(default)]
    date_limite: String,
}

impl PositionBody {
    /// The values as typed, and the CSRF token.
    fn read(self) -> (PositionForm, String) {
        let values = PositionForm {
            titre: self.titre,
            specialite: self.specialite,
            description: self.description,
            centres: self.centres,
            etp_min: self.etp_min,
            etp_max: self.etp_max,
            publie: !self.publie.is_empty(),
            date_limite: self.date_limite,
        };
        (values, self.csrf)
    }
}

/// Creates (`id` None) or changes a position; the form again with 422 when something is wrong.
async fn save_position(
    state: &AppState,
    staff: &Staff,
    id: Option<i64>,
    body: PositionBody,
) -> Result<HttpResponse, AppError> {
    staff.require(&[])?;
    let (values, csrf) = body.read();
    staff.check_csrf(&csrf)?;
    let all = db(state, move |conn| {
        if let Some(id) = id {
            positions::find(conn, id)?.ok_or(AppError::NotFound)?;
        }
        Ok(centres::list_all(conn)?)
    })
    .await?;
    let codes: Vec<String> = state.specialties.iter().map(|s| s.code.clone()).collect();
    let day = today();
    let changes = match values.validate(&codes, &all, day) {
        Ok(changes) => changes,
        Err(errors) => return render_position(state, staff, id, &values, &errors).await,
    };
    let actor = staff.0.user_id;
    let saved = db(state, move |conn| {
        Ok(match id {
            None => positions::create(conn, actor, &changes, day)?,
            Some(id) => positions::update(conn, actor, id, &changes, day)?.map(|()| id),
        })
    })
    .await?;
    match saved {
        Ok(id) => Ok(see_other(format!("/admin/postes?enregistre={id}"))),
        Err(positions::SaveError::NotFound) => Err(AppError::NotFound),
        Err(positions::SaveError::Invalid(errors)) => {
            render_position(state, staff, id, &values, &errors).await
        }
    }
}

pub async fn create_position(
    state: web::Data<AppState>,
    staff: Staff,
    body: Form<PositionBody>,
) -> Result<HttpResponse, AppError> {
    save_position(&state, &staff, None, body.into_inner()).await
}

pub async fn update_position(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
    body: Form<PositionBody>,
) -> Result<HttpResponse, AppError> {
    staff.require(&[])?;
    let id = path_id(&path)?;
    save_position(&state, &staff, Some(id), body.into_inner()).await
}
