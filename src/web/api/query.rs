//! What the staff routes read from the address: the board's filters and the page of a list,
//! checked against the document's lists, and ids in the path.

use actix_web::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::openapi::{specialty_codes, DEFAULT_PER_PAGE, MAX_PAGE, MAX_PER_PAGE};
use super::problem::{FieldError, Problem};
use crate::db::enums::Stage;
use crate::domain::parse_date;
use crate::pipeline::BoardFilter;

/// The board's filters, and the page.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Name, e-mail, phone or RPPS.
    pub q: Option<String>,
    /// A specialty code, or `MG` for every general practice code.
    pub specialite: Option<String>,
    /// A centre's id.
    pub centre: Option<String>,
    /// `temps_plein` or `temps_partiel`.
    pub temps: Option<String>,
    /// A situation code.
    pub situation: Option<String>,
    /// Available on or before this date (AAAA-MM-JJ).
    pub dispo_avant: Option<String>,
    /// UTM source or campaign, or how they heard of the campaign.
    pub source: Option<String>,
    /// A position's id, or `spontanee`.
    pub poste: Option<String>,
    /// Applications only: a stage code (`nouvelle`, `entretien`…).
    pub etape: Option<String>,
    /// Page number, from 1 (read as text so that a wrong one is named in the problem).
    pub page: Option<String>,
    /// Items per page, 1 to 100 (20 by default).
    pub par_page: Option<String>,
}

impl ListQuery {
    pub(super) fn filter(&self) -> BoardFilter {
        let s = |v: &Option<String>| v.clone().unwrap_or_default();
        BoardFilter {
            q: s(&self.q),
            specialite: s(&self.specialite),
            centre: s(&self.centre),
            temps: s(&self.temps),
            situation: s(&self.situation),
            dispo_avant: s(&self.dispo_avant),
            source: s(&self.source),
            poste: s(&self.poste),
            page: None,
            ..BoardFilter::default()
        }
    }

    /// The filters checked against the document's lists: a wrong one is a field error rather
    /// than a filter silently ignored.
    fn check_filters(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        fn given(v: &Option<String>) -> Option<&str> {
            v.as_deref().map(str::trim)
        }
        if let Some(code) = given(&self.specialite) {
            if code != "MG" && !specialty_codes().iter().any(|c| c == code) {
                errors.push(field(
                    "specialite",
                    "Spécialité inconnue : un code de la nomenclature (SM54…), ou MG pour toute \
                     la médecine générale.",
                ));
            }
        }
        if let Some(centre) = given(&self.centre) {
            if !centre.parse::<i64>().is_ok_and(|id| id > 0) {
                errors.push(field(
                    "centre",
                    "L'identifiant du centre est un nombre entier positif.",
                ));
            }
        }
        if let Some(code) = given(&self.temps) {
            if crate::db::enums::WorkingTime::from_code(code).is_none() {
                errors.push(field(
                    "temps",
                    "Temps de travail : temps_plein ou temps_partiel.",
                ));
            }
        }
        if let Some(code) = given(&self.situation) {
            if crate::db::enums::Situation::from_code(code).is_none() {
                let codes: Vec<&str> = crate::db::enums::Situation::ALL
                    .iter()
                    .map(|s| s.code())
                    .collect();
                errors.push(field(
                    "situation",
                    format!("Situation inconnue. Situations : {}.", codes.join(", ")),
                ));
            }
        }
        if let Some(code) = given(&self.etape) {
            if Stage::from_code(code).is_none() {
                errors.push(field(
                    "etape",
                    format!("Étape inconnue. Étapes : {}.", stage_codes()),
                ));
            }
        }
        if let Some(date) = given(&self.dispo_avant) {
            if parse_date(date).is_none() {
                errors.push(field("dispo_avant", "Date illisible : format AAAA-MM-JJ."));
            }
        }
        if let Some(position) = given(&self.poste) {
            if position != "spontanee" && !position.parse::<i64>().is_ok_and(|id| id > 0) {
                errors.push(field(
                    "poste",
                    "Le poste est l'identifiant d'un poste (nombre entier positif) ou « spontanee ».",
                ));
            }
        }
        errors
    }

    /// Page, items per page, offset; or the problem (400 for a page that is not a number, 422
    /// for one out of bounds or a wrong filter).
    pub(super) fn paging(&self) -> Result<(i64, i64, i64), Problem> {
        let number = |name: &str, value: &Option<String>, default: i64| match value
            .as_deref()
            .map(str::trim)
        {
            None => Ok(default),
            Some(v) => v.parse::<i64>().map_err(|_| {
                let mut p = Problem::new(
                    StatusCode::BAD_REQUEST,
                    "parametres-invalides",
                    "Paramètres invalides",
                    format!("Le paramètre « {name} » doit être un nombre entier."),
                );
                p.errors = vec![field(name, "Un nombre entier est attendu.")];
                p
            }),
        };
        let page = number("page", &self.page, 1)?;
        let per_page = number("par_page", &self.par_page, DEFAULT_PER_PAGE)?;
        let mut errors = Vec::new();
        if !(1..=MAX_PAGE).contains(&page) {
            errors.push(FieldError {
                field: "page".to_owned(),
                message: "Le numéro de page va de 1 à 1 000 000.".to_owned(),
            });
        }
        if !(1..=MAX_PER_PAGE).contains(&per_page) {
            errors.push(FieldError {
                field: "par_page".to_owned(),
                message: format!("Entre 1 et {MAX_PER_PAGE} éléments par page."),
            });
        }
        errors.extend(self.check_filters());
        if errors.is_empty() {
            Ok((page, per_page, (page - 1) * per_page))
        } else {
            Err(Problem::validation(errors))
        }
    }
}

/// A page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T: ToSchema> {
    pub page: i64,
    pub par_page: i64,
    /// Items in all, over every page.
    pub total: i64,
    pub elements: Vec<T>,
}

pub(super) fn id_from(raw: &str) -> Result<i64, Problem> {
    raw.parse()
        .ok()
        .filter(|id: &i64| *id > 0)
        .ok_or_else(|| Problem::not_found("Identifiant inconnu : c'est un nombre entier positif."))
}

pub(super) fn stage_codes() -> String {
    Stage::ALL
        .iter()
        .map(|s| s.code())
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn field(field: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.to_owned(),
        message: message.into(),
    }
}
