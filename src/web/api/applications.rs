//! The applications, for recruiters: a page of those matching the board's filters and a stage,
//! one with its history, and moving one to another stage with the staff page's rules.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::ApiStaff;
use super::json::ApiJson;
use super::openapi::reason_codes;
use super::problem::{FieldError, Problem};
use super::query::{field, id_from, stage_codes, ListQuery, Page};
use crate::db::enums::Stage;
use crate::domain::{parse_date, FreeText};
use crate::pipeline::{self, MoveError, MoveRequest};
use crate::staff::RECRUITING;
use crate::web::{db, AppState};

/// An application in a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct CandidatureApi {
    pub id: i64,
    pub recue_le: DateTime<Utc>,
    /// Stage code.
    pub etape: String,
    pub etape_libelle: String,
    pub etape_depuis: DateTime<Utc>,
    pub prenom: String,
    pub nom: String,
    pub courriel: String,
    pub telephone: String,
    pub rpps: Option<String>,
    pub specialite: String,
    pub situation: String,
    pub disponibilite: Option<NaiveDate>,
    pub temps_travail: String,
    pub demi_journees: Option<i16>,
    /// Wished centres' communes.
    pub centres: Option<String>,
    /// The position's title; none for a spontaneous application.
    pub poste: Option<String>,
    pub connaissance: Option<String>,
    pub utm_source: Option<String>,
    pub utm_campaign: Option<String>,
}

/// The applications matching the board's filters, and a stage if given.
#[utoipa::path(
    get,
    path = "/api/v1/candidatures",
    operation_id = "listerCandidatures",
    tag = "recrutement",
    params(ListQuery),
    security(("jeton" = [])),
    responses(
        (status = 200, description = "Une page de candidatures", body = Page<CandidatureApi>),
        (status = 401, description = "Jeton absent, invalide ou révoqué", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Rôle insuffisant", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Étape ou pagination invalide", body = Problem, content_type = "application/problem+json")
    )
)]
pub async fn list_applications(
    state: web::Data<AppState>,
    staff: ApiStaff,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, Problem> {
    staff.require(RECRUITING)?;
    let (page, per_page, offset) = query.paging()?;
    let stage = match query.etape.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(code) => Some(Stage::from_code(code).ok_or_else(|| {
            Problem::validation(vec![FieldError {
                field: "etape".to_owned(),
                message: format!("Étape inconnue. Étapes : {}.", stage_codes()),
            }])
        })?),
    };
    let filter = query.filter();
    let (rows, total) = db(&state, move |conn| {
        Ok(pipeline::applications_page(
            conn, &filter, stage, per_page, offset,
        )?)
    })
    .await?;
    let elements = rows
        .into_iter()
        .map(|r| CandidatureApi {
            id: r.application_id,
            recue_le: r.created_at,
            etape: r.stage.code().to_owned(),
            etape_libelle: r.stage.label().to_owned(),
            etape_depuis: r.stage_entered_at,
            prenom: r.first_name,
            nom: r.last_name,
            courriel: r.email,
            telephone: r.phone,
            rpps: r.rpps,
            specialite: r.specialty,
            situation: r.situation.code().to_owned(),
            disponibilite: r.available_from,
            temps_travail: r.working_time.code().to_owned(),
            demi_journees: r.part_time_half_days,
            centres: r.centres,
            poste: r.position,
            connaissance: r.heard_from.map(|h| h.code().to_owned()),
            utm_source: r.utm_source,
            utm_campaign: r.utm_campaign,
        })
        .collect();
    Ok(HttpResponse::Ok().json(Page {
        page,
        par_page: per_page,
        total,
        elements,
    }))
}

/// One application, with its history and the stages it may move to.
#[derive(Debug, Serialize, ToSchema)]
pub struct CandidatureDetail {
    pub candidat_id: i64,
    /// Stage, position, message, history (who, when, from, to, reason, note) and the allowed
    /// next stages.
    #[schema(value_type = Object)]
    pub candidature: serde_json::Value,
}

async fn application_detail(state: &AppState, id: i64) -> Result<CandidatureDetail, Problem> {
    let found = db(state, move |conn| {
        Ok(crate::candidates::load_by_application(conn, id)?)
    })
    .await?;
    let (candidat_id, view) =
        found.ok_or_else(|| Problem::not_found("Cette candidature n'existe pas."))?;
    let application = view
        .applications
        .into_iter()
        .find(|a| a.id == id)
        .ok_or_else(|| Problem::not_found("Cette candidature n'existe pas."))?;
    let candidature = serde_json::to_value(application)
        .map_err(|e| Problem::from(crate::error::AppError::Unexpected(e.into())))?;
    Ok(CandidatureDetail {
        candidat_id,
        candidature,
    })
}

/// One application.
#[utoipa::path(
    get,
    path = "/api/v1/candidatures/{id}",
    operation_id = "lireCandidature",
    tag = "recrutement",
    params(("id" = i64, Path, description = "Identifiant de la candidature")),
    security(("jeton" = [])),
    responses(
        (status = 200, description = "La candidature", body = CandidatureDetail),
        (status = 401, description = "Jeton absent, invalide ou révoqué", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Rôle insuffisant", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Candidature inconnue", body = Problem, content_type = "application/problem+json")
    )
)]
pub async fn get_application(
    state: web::Data<AppState>,
    staff: ApiStaff,
    path: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    staff.require(RECRUITING)?;
    let id = id_from(&path)?;
    Ok(HttpResponse::Ok().json(application_detail(&state, id).await?))
}

/// A stage move, with the rules of the staff page (no e-mail is sent through the API).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangementEtape {
    /// The stage the application is believed to be in: if it changed meanwhile, 409.
    pub depuis: String,
    /// The stage to move to.
    pub vers: String,
    /// Required for `refusee` and `desistement`: a reason code of the staff page's list.
    #[serde(default)]
    pub motif: Option<String>,
    /// A note kept in the history (5,000 characters at most).
    #[serde(default)]
    pub note: Option<String>,
    /// Required for `vivier`: when to contact the candidate again (AAAA-MM-JJ).
    #[serde(default)]
    pub relance: Option<String>,
}

/// Moves an application to another stage; the move is recorded in its history as by the staff
/// page (who, when, from, to, reason, note).
#[utoipa::path(
    post,
    path = "/api/v1/candidatures/{id}/etape",
    operation_id = "changerEtape",
    tag = "recrutement",
    params(("id" = i64, Path, description = "Identifiant de la candidature")),
    request_body(content = ChangementEtape, content_type = "application/json"),
    security(("jeton" = [])),
    responses(
        (status = 200, description = "Déplacée ; la candidature telle qu'elle est maintenant", body = CandidatureDetail),
        (status = 400, description = "JSON illisible", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Jeton absent, invalide ou révoqué", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Rôle insuffisant", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Candidature inconnue", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "L'étape a changé entre-temps", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Déplacement interdit ou incomplet", body = Problem, content_type = "application/problem+json")
    )
)]
pub async fn move_stage(
    state: web::Data<AppState>,
    staff: ApiStaff,
    path: web::Path<String>,
    body: ApiJson<ChangementEtape>,
) -> Result<HttpResponse, Problem> {
    staff.require(RECRUITING)?;
    let application_id = id_from(&path)?;
    let body = body.0;
    let mut errors = Vec::new();
    let from = Stage::from_code(body.depuis.trim());
    if from.is_none() {
        errors.push(field(
            "depuis",
            format!("Étape inconnue. Étapes : {}.", stage_codes()),
        ));
    }
    let to = Stage::from_code(body.vers.trim());
    if to.is_none() {
        errors.push(field(
            "vers",
            format!("Étape inconnue. Étapes : {}.", stage_codes()),
        ));
    }
    if let Some(motif) = body.motif.as_deref().map(str::trim) {
        let codes = reason_codes();
        if !motif.is_empty() && !codes.contains(&motif) {
            errors.push(field(
                "motif",
                format!("Motif inconnu. Motifs : {}.", codes.join(", ")),
            ));
        }
    }
    // The same rule as the page's note (FreeText), with the API's message.
    let note = FreeText::parse(body.note.as_deref().unwrap_or_default(), 5000)
        .map_err(|_| {
            errors.push(field(
                "note",
                "La note est trop longue (5 000 caractères au plus).",
            ))
        })
        .ok();
    let follow_up_on = match body.relance.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(d) => {
            let parsed = parse_date(d);
            if parsed.is_none() {
                errors.push(field("relance", "Date illisible : format AAAA-MM-JJ."));
            }
            parsed
        }
    };
    let (Some(from), Some(to), Some(note), true) = (from, to, note, errors.is_empty()) else {
        return Err(Problem::validation(errors));
    };
    let request = MoveRequest {
        application_id,
        expected_from: from,
        to,
        reason: body.motif.map(|m| m.trim().to_owned()),
        note: Some(note.as_str().to_owned()),
        follow_up_on,
    };
    let actor = staff.0.user_id;
    let outcome = db(&state, move |conn| {
        Ok(pipeline::move_application(
            conn,
            actor,
            &request,
            None,
            Utc::now(),
        )?)
    })
    .await?;
    match outcome {
        Ok(()) => {
            tracing::info!(
                application_id,
                to = to.code(),
                "stage moved through the API"
            );
            Ok(HttpResponse::Ok().json(application_detail(&state, application_id).await?))
        }
        Err(MoveError::NotFound) => Err(Problem::not_found("Cette candidature n'existe pas.")),
        Err(e @ MoveError::Stale(_)) => Err(Problem::new(
            StatusCode::CONFLICT,
            "conflit",
            "Conflit",
            e.to_string(),
        )),
        Err(e @ (MoveError::NotAllowed(..) | MoveError::OfferFlowOnly(_))) => {
            Err(Problem::validation(vec![field("vers", e.to_string())]))
        }
        Err(MoveError::ReasonRequired) => {
            let codes = match to {
                Stage::Refused => pipeline::REFUSAL_REASONS,
                _ => pipeline::WITHDRAWAL_REASONS,
            };
            Err(Problem::validation(vec![field(
                "motif",
                format!(
                    "Indiquez le motif parmi : {}.",
                    codes.iter().map(|(c, _)| *c).collect::<Vec<_>>().join(", ")
                ),
            )]))
        }
        Err(e @ MoveError::FollowUpRequired) => {
            Err(Problem::validation(vec![field("relance", e.to_string())]))
        }
    }
}
