//! A candidate's page (record, applications with their offers, meetings, duplicates, the
//! changes their later submissions propose), recruiters' notes, merging two records and
//! downloading a document.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::candidates;
use crate::db::enums::{Civility, Situation, Stage, WorkingTime};
use crate::domain::describe_half_days;
use crate::domain::ids::CandidateId;
use crate::error::AppError;
use crate::pipeline::{REFUSAL_REASONS, WITHDRAWAL_REASONS};
use crate::staff::RECRUITING;
use crate::web::body::Form;
use crate::web::pages::see_other;
use crate::web::staff::{page as render, Staff};
use crate::web::{db, AppState};

/// A coded reason in a select list.
#[derive(Serialize)]
struct ReasonChoice {
    value: &'static str,
    label: &'static str,
}

fn reason_choices(reasons: &'static [(&'static str, &'static str)]) -> Vec<ReasonChoice> {
    reasons
        .iter()
        .map(|(value, label)| ReasonChoice { value, label })
        .collect()
}

/// A centre in the page's lists.
#[derive(Serialize)]
struct CentreChoice<'a> {
    id: i64,
    commune: &'a str,
}

/// What a submission proposes to change in the record.
#[derive(Serialize)]
struct ProposalView {
    key: uuid::Uuid,
    created_at: chrono::DateTime<chrono::Utc>,
    duplicate: bool,
    changes: Vec<ChangeView>,
}

/// One field a submission proposes to change, in words.
#[derive(Serialize)]
struct ChangeView {
    label: &'static str,
    current: String,
    proposed: String,
}

pub async fn candidate(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    staff.require(RECRUITING)?;
    let id = path.into_inner();
    let today = crate::domain::paris_today();
    let page = db(&state, move |conn| {
        Ok(candidates::page::page(conn, id, today)?)
    })
    .await?
    .ok_or(AppError::NotFound)?;
    let candidate_id = page.candidate.id;
    let on_file = db(&state, move |conn| {
        Ok(candidates::edit_values(conn, candidate_id)?)
    })
    .await?;
    let proposals = match on_file {
        Some(current) => proposals_view(&state, &page.centres, &current, &page.submitted),
        None => Vec::new(),
    };
    let view = &page.candidate;
    let title = format!("{} {}", view.first_name, view.last_name);
    // Each application carries its offers, and whether one may be drafted from its stage.
    let mut candidate_json = serde_json::to_value(view)
        .map_err(|e| AppError::Unexpected(anyhow::anyhow!("candidate view: {e}")))?;
    if let Some(apps) = candidate_json
        .get_mut("applications")
        .and_then(Value::as_array_mut)
    {
        for app in apps {
            let id = app.get("id").and_then(Value::as_i64).unwrap_or_default();
            let stage = app
                .get("stage_code")
                .and_then(Value::as_str)
                .and_then(Stage::from_code);
            let mine: Vec<&crate::offers::OfferView> = page
                .offers
                .iter()
                .filter(|o| o.application_id == id)
                .collect();
            let placed = page.placements.iter().any(|p| p.application_id == id);
            if let Some(obj) = app.as_object_mut() {
                obj.insert("offers".to_owned(), json!(mine));
                obj.insert(
                    "can_offer".to_owned(),
                    json!(
                        !placed && stage.is_some_and(|s| crate::offers::OFFER_STAGES.contains(&s))
                    ),
                );
            }
        }
    }
    let centres: Vec<CentreChoice> = page
        .centres
        .iter()
        .map(|c| CentreChoice {
            id: c.id,
            commune: &c.commune,
        })
        .collect();
    render(
        &state,
        &staff,
        "pipeline/candidate",
        &title,
        json!({
            "candidate": candidate_json,
            "placements": page.placements,
            "meetings": page.meetings,
            "duplicates": page.duplicates,
            "proposals": proposals,
            "centres": centres,
            "refusal_reasons": reason_choices(REFUSAL_REASONS),
            "withdrawal_reasons": reason_choices(WITHDRAWAL_REASONS),
        }),
    )
}

/// Which values of the submissions differ from the record: what each proposed, field by
/// field, in words, for the recruiter to apply (or not) through the edit page.
fn proposals_view(
    state: &AppState,
    centres: &[crate::centres::Centre],
    current: &crate::applications::RawApplicationForm,
    submitted: &[crate::applications::SubmissionOf],
) -> Vec<ProposalView> {
    let specialty = |code: &str| {
        state
            .specialties
            .iter()
            .find(|s| s.code == code)
            .map_or_else(|| code.to_owned(), |s| s.label.clone())
    };
    let civility = |code: &str| {
        Civility::from_code(code)
            .map_or("", Civility::label)
            .to_owned()
    };
    let situation = |code: &str| {
        Situation::from_code(code)
            .map_or("", Situation::label)
            .to_owned()
    };
    let working = |time: &str, half_days: &str| match (
        WorkingTime::from_code(time),
        half_days.parse::<i16>(),
    ) {
        (Some(WorkingTime::PartTime), Ok(n)) => format!("Temps partiel, {}", describe_half_days(n)),
        (Some(w), _) => w.label().to_owned(),
        (None, _) => String::new(),
    };
    let date = |d: &str| {
        chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").map_or_else(
            |_| "Dès maintenant".to_owned(),
            |d| d.format("%d/%m/%Y").to_string(),
        )
    };
    let places = |ids: &[String]| {
        let mut ids: Vec<&String> = ids.iter().collect();
        ids.sort();
        let names: Vec<String> = ids
            .iter()
            .filter_map(|id| centres.iter().find(|c| &c.id.to_string() == *id))
            .map(|c| c.commune.clone())
            .collect();
        if names.is_empty() {
            "Pas de préférence".to_owned()
        } else {
            names.join(", ")
        }
    };
    let yes_no = |b: bool| if b { "Oui" } else { "Non" }.to_owned();
    let mut out = Vec::new();
    for s in submitted.iter().filter(|s| !s.created_this_record) {
        let p = &s.submitted;
        let pairs = [
            (
                "Civilité",
                civility(&current.civilite),
                civility(&p.civilite),
            ),
            ("Prénom", current.prenom.clone(), p.prenom.clone()),
            ("Nom", current.nom.clone(), p.nom.clone()),
            ("Courriel", current.courriel.clone(), p.courriel.clone()),
            ("Téléphone", current.telephone.clone(), p.telephone.clone()),
            ("RPPS", current.rpps.clone(), p.rpps.clone()),
            (
                "Spécialité",
                specialty(&current.specialite),
                specialty(&p.specialite),
            ),
            (
                "Situation",
                situation(&current.situation),
                situation(&p.situation),
            ),
            (
                "Disponibilité",
                date(&current.disponibilite),
                date(&p.disponibilite),
            ),
            (
                "Temps de travail",
                working(&current.temps_travail, &current.demi_journees),
                working(&p.temps_travail, &p.demi_journees),
            ),
            (
                "Centres souhaités",
                places(&current.centres),
                places(&p.centres),
            ),
            ("Gardes", yes_no(current.garde), yes_no(p.garde)),
            (
                "Maître de stage",
                yes_no(current.maitre_stage),
                yes_no(p.maitre_stage),
            ),
        ];
        let changes: Vec<ChangeView> = pairs
            .into_iter()
            .filter(|(_, now, proposed)| now != proposed)
            .map(|(label, current, proposed)| ChangeView {
                label,
                current,
                proposed,
            })
            .collect();
        if changes.is_empty() {
            continue;
        }
        out.push(ProposalView {
            key: s.key,
            created_at: s.created_at,
            duplicate: s.match_kind == "doublon_possible",
            changes,
        });
    }
    out
}

#[derive(Debug, Default, Deserialize)]
pub struct NoteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    note: String,
}

pub async fn add_note(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<i64>,
    form: Form<NoteForm>,
) -> Result<HttpResponse, AppError> {
    staff.require(RECRUITING)?;
    staff.check_csrf(&form.csrf)?;
    let candidate_id = path.into_inner();
    let body = crate::domain::FreeText::parse(&form.note, 5000)
        .map_err(|e| AppError::Unprocessable(e.0))?;
    if body.as_str().is_empty() {
        return Err(AppError::Unprocessable(
            "La note est vide : écrivez-la avant de l'enregistrer.".to_owned(),
        ));
    }
    let author = staff.0.user_id;
    let added = db(&state, move |conn| {
        Ok(candidates::add_note(
            conn,
            candidate_id,
            author,
            body.as_str(),
        )?)
    })
    .await?;
    if !added {
        return Err(AppError::NotFound);
    }
    Ok(see_other(format!(
        "/recrutement/candidats/{candidate_id}#notes"
    )))
}

#[derive(Debug, Default, Deserialize)]
pub struct MergeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    avec: String,
}

pub async fn merge(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<i64>,
    form: Form<MergeForm>,
) -> Result<HttpResponse, AppError> {
    staff.require(RECRUITING)?;
    staff.check_csrf(&form.csrf)?;
    let keep = path.into_inner();
    let other: i64 = form
        .avec
        .trim()
        .parse()
        .map_err(|_| AppError::BadRequest("Fiche à fusionner illisible.".to_owned()))?;
    let actor = staff.0.user_id;
    let result = db(&state, move |conn| {
        Ok(candidates::merge(
            conn,
            actor,
            CandidateId(keep),
            CandidateId(other),
        )?)
    })
    .await?;
    match result {
        Ok(()) => Ok(see_other(format!("/recrutement/candidats/{keep}"))),
        Err(candidates::MergeError::NotFound) => Err(AppError::NotFound),
        Err(e) => Err(AppError::Unprocessable(e.to_string())),
    }
}

pub async fn download_document(
    state: web::Data<AppState>,
    staff: Staff,
    req: actix_web::HttpRequest,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    staff.require(RECRUITING)?;
    let id = path.into_inner();
    let (key, _name, _candidate) = db(&state, move |conn| Ok(candidates::document(conn, id)?))
        .await?
        .ok_or(AppError::NotFound)?;
    let file = state.settings.storage.documents_dir.join(&key);
    let bytes = web::block(move || std::fs::read(file))
        .await
        .map_err(|e| AppError::Unexpected(anyhow::anyhow!("{e}")))?
        .map_err(|_| AppError::NotFound)?;
    // A HEAD (link checker) sends no document: nothing to record.
    let head = {
        use actix_web::HttpMessage;
        req.extensions()
            .get::<crate::web::inputs::HeadRequest>()
            .is_some()
    };
    if !head {
        let actor = staff.0.user_id;
        db(&state, move |conn| {
            Ok(crate::staff::audit::audit(
                conn,
                Some(actor),
                "telechargement",
                "document",
                Some(id),
                "",
            )?)
        })
        .await?;
    }
    // The uploader chose the name (`cv.html`, `cv.exe`): the file is served under one of ours.
    // Only PDFs are stored (checked by their bytes at upload).
    Ok(HttpResponse::Ok()
        .content_type("application/pdf")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!(
                "attachment; filename=\"{}\"",
                crate::documents::download_name(id)
            ),
        ))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(bytes))
}
