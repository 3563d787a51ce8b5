//! The candidates, for recruiters: a page of those matching the board's filters, and one with
//! everything their page shows.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::ApiStaff;
use super::problem::Problem;
use super::query::{id_from, ListQuery, Page};
use crate::staff::RECRUITING;
use crate::web::{db, AppState};

/// A candidate in a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct CandidatApi {
    pub id: i64,
    pub civilite: String,
    pub prenom: String,
    pub nom: String,
    pub courriel: String,
    pub telephone: String,
    pub rpps: Option<String>,
    pub specialite_code: String,
    pub specialite: String,
    pub situation: String,
    pub disponibilite: Option<NaiveDate>,
    pub temps_travail: String,
    pub demi_journees: Option<i16>,
    pub cree_le: DateTime<Utc>,
}

/// The candidates having an application that matches the board's filters.
#[utoipa::path(
    get,
    path = "/api/v1/candidats",
    operation_id = "listerCandidats",
    tag = "recrutement",
    params(ListQuery),
    security(("jeton" = [])),
    responses(
        (status = 200, description = "Une page de candidats", body = Page<CandidatApi>),
        (status = 401, description = "Jeton absent, invalide ou révoqué", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Rôle insuffisant", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Pagination invalide", body = Problem, content_type = "application/problem+json")
    )
)]
pub async fn list_candidates(
    state: web::Data<AppState>,
    staff: ApiStaff,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, Problem> {
    staff.require(RECRUITING)?;
    let (page, per_page, offset) = query.paging()?;
    let filter = query.filter();
    let (rows, total) = db(&state, move |conn| {
        Ok(crate::candidates::summaries_page(
            conn, &filter, per_page, offset,
        )?)
    })
    .await?;
    let elements = rows
        .into_iter()
        .map(|c| CandidatApi {
            id: c.id,
            civilite: c.civility.code().to_owned(),
            prenom: c.first_name,
            nom: c.last_name,
            courriel: c.email,
            telephone: c.phone,
            rpps: c.rpps,
            specialite_code: c.specialty_code,
            specialite: c.specialty,
            situation: c.situation.code().to_owned(),
            disponibilite: c.available_from,
            temps_travail: c.working_time.code().to_owned(),
            demi_journees: c.part_time_half_days,
            cree_le: c.created_at,
        })
        .collect();
    Ok(HttpResponse::Ok().json(Page {
        page,
        par_page: per_page,
        total,
        elements,
    }))
}

/// A candidate with everything recruiters see on their page.
#[derive(Debug, Serialize, ToSchema)]
pub struct CandidatDetail {
    /// Identity, wishes, applications with their history, documents, e-mails and notes.
    #[schema(value_type = Object)]
    pub candidat: serde_json::Value,
}

/// One candidate.
#[utoipa::path(
    get,
    path = "/api/v1/candidats/{id}",
    operation_id = "lireCandidat",
    tag = "recrutement",
    params(("id" = i64, Path, description = "Identifiant du candidat")),
    security(("jeton" = [])),
    responses(
        (status = 200, description = "Le candidat", body = CandidatDetail),
        (status = 401, description = "Jeton absent, invalide ou révoqué", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Rôle insuffisant", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Candidat inconnu", body = Problem, content_type = "application/problem+json")
    )
)]
pub async fn get_candidate(
    state: web::Data<AppState>,
    staff: ApiStaff,
    path: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    staff.require(RECRUITING)?;
    let id = id_from(&path)?;
    let view = db(&state, move |conn| Ok(crate::candidates::load(conn, id)?))
        .await?
        .ok_or_else(|| Problem::not_found("Ce candidat n'existe pas."))?;
    let candidat = serde_json::to_value(view)
        .map_err(|e| Problem::from(crate::error::AppError::Unexpected(e.into())))?;
    Ok(HttpResponse::Ok().json(CandidatDetail { candidat }))
}
