//! Editing a candidate's record, blank or prefilled with what a submission proposed, validated
//! like the public form.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{option, Choice};
use crate::applications::fields::{self as form, RawApplicationForm};
use crate::candidates;
use crate::db::enums::{Civility, Situation, WorkingTime};
use crate::domain::{describe_half_days, FieldErrors};
use crate::error::AppError;
use crate::staff::RECRUITING;
use crate::web::body::Form;
use crate::web::pages::{error_summary, see_other};
use crate::web::staff::{staff_page, Staff};
use crate::web::{db, AppState};

/// The values a submission proposed, in the edit form's terms.
fn proposal_form(p: crate::applications::Submitted) -> RawApplicationForm {
    RawApplicationForm {
        civilite: p.civilite,
        prenom: p.prenom,
        nom: p.nom,
        courriel: p.courriel,
        telephone: p.telephone,
        rpps: p.rpps,
        specialite: p.specialite,
        situation: p.situation,
        disponibilite: p.disponibilite,
        temps_travail: p.temps_travail,
        demi_journees: p.demi_journees,
        centres: p.centres,
        garde: p.garde,
        maitre_stage: p.maitre_stage,
        ..Default::default()
    }
}

/// A centre of the edit form, checked when the record wishes it.
#[derive(Serialize)]
struct CentreBox<'a> {
    id: i64,
    commune: &'a str,
    checked: bool,
}

/// The edit page of a candidate, with values and per-field errors.
async fn render_edit(
    state: &AppState,
    staff: &Staff,
    id: i64,
    raw: &RawApplicationForm,
    errors: &FieldErrors,
    proposal: Option<chrono::DateTime<Utc>>,
) -> Result<HttpResponse, AppError> {
    let lists = db(state, |conn| Ok(crate::centres::list_choosable(conn)?)).await?;
    let civilities: Vec<Choice> = Civility::ALL
        .iter()
        .map(|c| option(c.code(), c.label(), &raw.civilite))
        .collect();
    let situations: Vec<Choice> = Situation::ALL
        .iter()
        .map(|c| option(c.code(), c.label(), &raw.situation))
        .collect();
    let specialties: Vec<Choice> = state
        .specialties
        .iter()
        .map(|s| option(&s.code, &s.label, &raw.specialite))
        .collect();
    let half_days: Vec<Choice> = (1..=9)
        .map(|n: i16| option(&n.to_string(), &describe_half_days(n), &raw.demi_journees))
        .collect();
    let centres: Vec<CentreBox> = lists
        .iter()
        .map(|c| CentreBox {
            id: c.id,
            commune: &c.commune,
            checked: raw.centres.contains(&c.id.to_string()),
        })
        .collect();
    let summary = error_summary(form::FIELD_ORDER, errors);
    let (status, title) = if summary.is_empty() {
        (StatusCode::OK, "Modifier la fiche")
    } else {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "Erreur – Modifier la fiche",
        )
    };
    staff_page(
        state,
        staff,
        "pipeline/candidate_edit",
        title,
        status,
        json!({
            "id": id, "values": raw, "errors": errors, "summary": summary, "proposal": proposal,
            "civilities": civilities, "situations": situations, "specialties": specialties,
            "half_days": half_days, "centres": centres,
            "part_time": raw.temps_travail == WorkingTime::PartTime.code(),
            "full_time": raw.temps_travail == WorkingTime::FullTime.code(),
        }),
    )
}

#[derive(Debug, Default, Deserialize)]
pub struct EditQuery {
    /// A submission of this candidate whose values prefill the form, for the recruiter to review.
    #[serde(default)]
    proposition: String,
}

pub async fn edit_candidate(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<i64>,
    query: web::Query<EditQuery>,
) -> Result<HttpResponse, AppError> {
    staff.require(RECRUITING)?;
    let id = path.into_inner();
    let raw = db(&state, move |conn| Ok(candidates::edit_values(conn, id)?))
        .await?
        .ok_or(AppError::NotFound)?;
    if query.proposition.is_empty() {
        return render_edit(&state, &staff, id, &raw, &Default::default(), None).await;
    }
    let key = uuid::Uuid::parse_str(&query.proposition).map_err(|_| AppError::NotFound)?;
    let proposal = db(&state, move |conn| {
        Ok(crate::applications::submission_of(conn, id, key)?)
    })
    .await?
    .ok_or(AppError::NotFound)?;
    render_edit(
        &state,
        &staff,
        id,
        &proposal_form(proposal.submitted),
        &Default::default(),
        Some(proposal.created_at),
    )
    .await
}

/// The edit form as posted: the record's fields, `centres` repeated, checkboxes present or
/// absent.
#[derive(Debug, Default, Deserialize)]
pub struct EditForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    civilite: String,
    #[serde(default)]
    prenom: String,
    #[serde(default)]
    nom: String,
    #[serde(default)]
    courriel: String,
    #[serde(default)]
    telephone: String,
    #[serde(default)]
    rpps: String,
    #[serde(default)]
    specialite: String,
    #[serde(default)]
    situation: String,
    #[serde(default)]
    disponibilite: String,
    #[serde(default)]
    temps_travail: String,
    #[serde(default)]
    demi_journees: String,
    #[serde(default)]
    centres: Vec<String>,
    #[serde(default)]
    garde: String,
    #[serde(default)]
    maitre_stage: String,
}

impl EditForm {
    /// The values in the application form's terms.
    fn into_raw(self) -> RawApplicationForm {
        RawApplicationForm {
            civilite: self.civilite,
            prenom: self.prenom,
            nom: self.nom,
            courriel: self.courriel,
            telephone: self.telephone,
            rpps: self.rpps,
            specialite: self.specialite,
            situation: self.situation,
            disponibilite: self.disponibilite,
            temps_travail: self.temps_travail,
            demi_journees: self.demi_journees,
            centres: self.centres,
            garde: !self.garde.is_empty(),
            maitre_stage: !self.maitre_stage.is_empty(),
            ..Default::default()
        }
    }
}

pub async fn update_candidate(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<i64>,
    body: Form<EditForm>,
) -> Result<HttpResponse, AppError> {
    staff.require(RECRUITING)?;
    let id = path.into_inner();
    staff.check_csrf(&body.csrf)?;
    let mut raw = body.into_inner().into_raw();
    // Validated exactly like the public form; consent and form key do not apply here.
    raw.consentement = true;
    raw.soumission = uuid::Uuid::new_v4().to_string();
    let centres = db(&state, |conn| Ok(crate::centres::list_choosable(conn)?)).await?;
    let codes: Vec<String> = state.specialties.iter().map(|s| s.code.clone()).collect();
    let centre_ids: Vec<i64> = centres.iter().map(|c| c.id).collect();
    let validated = form::validate(
        &raw,
        &form::Choices {
            specialty_codes: &codes,
            centre_ids: &centre_ids,
            published_position_ids: &[],
            privacy_notice_version: "",
            today: Utc::now().date_naive(),
        },
    );
    let app = match validated {
        Ok(app) => app,
        Err(errors) => return render_edit(&state, &staff, id, &raw, &errors, None).await,
    };
    let actor = staff.0.user_id;
    let result = db(&state, move |conn| {
        Ok(candidates::update_details(conn, actor, id, &app)?)
    })
    .await?;
    match result {
        Ok(true) => Ok(see_other(format!("/recrutement/candidats/{id}?fait=fiche"))),
        Ok(false) => Err(AppError::NotFound),
        Err(message) => {
            let mut errors = FieldErrors::default();
            errors.add("rpps", message);
            render_edit(&state, &staff, id, &raw, &errors, None).await
        }
    }
}
