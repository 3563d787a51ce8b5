//! The campaigns, for communication: the list, and a campaign's figures as on its page.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::ApiStaff;
use super::problem::Problem;
use super::query::id_from;
use crate::staff::COMMUNICATION;
use crate::web::{db, AppState};

/// A campaign.
#[derive(Debug, Serialize, ToSchema)]
pub struct CampagneApi {
    pub id: i64,
    pub nom: String,
    /// `brouillon`, `programmee`, `en_cours`, `en_pause`, `terminee`, `annulee`.
    pub statut: String,
    pub statut_libelle: String,
    /// `maintenant`, `date` or `cron`.
    pub programmation: String,
    pub date_prevue: Option<DateTime<Utc>>,
    pub cron: Option<String>,
    pub envois_par_minute: i32,
    pub cree_le: DateTime<Utc>,
}

/// Every campaign.
#[utoipa::path(
    get,
    path = "/api/v1/campagnes",
    operation_id = "listerCampagnes",
    tag = "campagnes",
    security(("jeton" = [])),
    responses(
        (status = 200, description = "Les campagnes", body = [CampagneApi]),
        (status = 401, description = "Jeton absent, invalide ou révoqué", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Rôle insuffisant", body = Problem, content_type = "application/problem+json")
    )
)]
pub async fn list_campaigns(
    state: web::Data<AppState>,
    staff: ApiStaff,
) -> Result<HttpResponse, Problem> {
    staff.require(COMMUNICATION)?;
    let campaigns = db(&state, |conn| Ok(crate::campaigns::runs::list_all(conn)?)).await?;
    let body: Vec<CampagneApi> = campaigns
        .into_iter()
        .map(|c| CampagneApi {
            id: c.id,
            nom: c.name,
            statut: c.status.code().to_owned(),
            statut_libelle: c.status.label().to_owned(),
            programmation: c.schedule_kind.code().to_owned(),
            date_prevue: c.scheduled_at,
            cron: c.cron,
            envois_par_minute: c.rate_per_minute,
            cree_le: c.created_at,
        })
        .collect();
    Ok(HttpResponse::Ok().json(body))
}

/// A campaign's figures, as on its page.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatistiquesCampagne {
    pub campagne_id: i64,
    pub statut: String,
    /// Each run: scheduled time, status, recipients, sent, failed, skipped, cancelled, pending.
    #[schema(value_type = Vec<Object>)]
    pub envois: serde_json::Value,
    /// Sent, failed, unsubscribed, clicks, clickers, applications and recruitments attributed.
    #[schema(value_type = Object)]
    pub resultats: serde_json::Value,
}

/// A campaign's statistics: its runs' progress and what it brought.
#[utoipa::path(
    get,
    path = "/api/v1/campagnes/{id}/statistiques",
    operation_id = "statistiquesCampagne",
    tag = "campagnes",
    params(("id" = i64, Path, description = "Identifiant de la campagne")),
    security(("jeton" = [])),
    responses(
        (status = 200, description = "Les chiffres de la campagne", body = StatistiquesCampagne),
        (status = 401, description = "Jeton absent, invalide ou révoqué", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Rôle insuffisant", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Campagne inconnue", body = Problem, content_type = "application/problem+json")
    )
)]
pub async fn campaign_statistics(
    state: web::Data<AppState>,
    staff: ApiStaff,
    path: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    staff.require(COMMUNICATION)?;
    let id = id_from(&path)?;
    let found = db(&state, move |conn| {
        Ok(crate::campaigns::runs::statistics(conn, id, Utc::now())?)
    })
    .await?;
    let (campaign, runs, outcome) =
        found.ok_or_else(|| Problem::not_found("Cette campagne n'existe pas."))?;
    let unexpected =
        |e: serde_json::Error| Problem::from(crate::error::AppError::Unexpected(e.into()));
    Ok(HttpResponse::Ok().json(StatistiquesCampagne {
        campagne_id: id,
        statut: campaign.status.code().to_owned(),
        envois: serde_json::to_value(runs).map_err(unexpected)?,
        resultats: serde_json::to_value(outcome).map_err(unexpected)?,
    }))
}
