//! The structured interview grid: its criteria, defined by an administrator (/admin/grille),
//! and the grid a recruiter fills for a meeting (/recrutement/rendez-vous/{id}/grille).

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::Utc;
use serde::{Deserialize, Serialize};

use crate::domain::FieldErrors;
use crate::error::AppError;
use crate::pipeline::evaluation::{
    self, check_grid, Criterion, GridErrors, GridInput, GridMeeting, ScoreInput, CRITERION_FIELDS,
    OPINIONS, SCORES,
};
use crate::staff::RECRUITING;
use crate::web::body::Form;
use crate::web::pages::{error_summary, see_other};
use crate::web::staff::{staff_page, Staff};
use crate::web::{db, AppState};

/// A criterion's form: its values as typed and its messages.
#[derive(Debug, Default, Serialize)]
struct CriterionForm {
    /// None for the form that adds one.
    id: Option<i64>,
    name: String,
    description: String,
    position: String,
    active: bool,
    errors: FieldErrors,
    summary: Vec<crate::domain::fields::SummaryItem>,
}

impl CriterionForm {
    fn of(c: &Criterion) -> Self {
        CriterionForm {
            id: Some(c.id),
            name: c.name.clone(),
            description: c.description.clone(),
            position: c.position.to_string(),
            active: c.active,
            ..Default::default()
        }
    }
}

#[derive(Serialize)]
struct CriteriaPage {
    criteria: Vec<CriterionForm>,
    new: CriterionForm,
    has_errors: bool,
}

/// The criteria page, with the form `reshown` (typed values and messages) in place of its
/// saved values.
async fn render_criteria(
    state: &AppState,
    staff: &Staff,
    reshown: Option<CriterionForm>,
    done: bool,
) -> Result<HttpResponse, AppError> {
    let list = db(state, |conn| Ok(evaluation::criteria(conn, false)?)).await?;
    let has_errors = reshown.is_some();
    let mut new = CriterionForm {
        active: true,
        position: ((list.len() + 1) * 10).to_string(),
        ..Default::default()
    };
    let mut criteria: Vec<CriterionForm> = list.iter().map(CriterionForm::of).collect();
    if let Some(form) = reshown {
        match form.id {
            None => new = form,
            Some(id) => {
                if let Some(slot) = criteria.iter_mut().find(|c| c.id == Some(id)) {
                    *slot = form;
                }
            }
        }
    }
    let (status, title) = if has_errors {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "Erreur – Grille d'entretien",
        )
    } else {
        (StatusCode::OK, "Grille d'entretien")
    };
    let mut data = serde_json::to_value(CriteriaPage {
        criteria,
        new,
        has_errors,
    })
    .map_err(|e| AppError::Unexpected(anyhow::anyhow!("criteria view: {e}")))?;
    if let Some(obj) = data.as_object_mut() {
        obj.insert(
            "flash".to_owned(),
            serde_json::Value::Bool(done && !has_errors),
        );
    }
    staff_page(
        state,
        staff,
        "admin/evaluation_criteria",
        title,
        status,
        data,
    )
}

#[derive(Debug, Default, Deserialize)]
pub struct CriteriaQuery {
    #[serde(default)]
    fait: String,
}

pub async fn criteria_page(
    state: web::Data<AppState>,
    staff: Staff,
    query: web::Query<CriteriaQuery>,
) -> Result<HttpResponse, AppError> {
    staff.require(&[])?;
    render_criteria(&state, &staff, None, query.fait == "oui").await
}

#[derive(Debug, Default, Deserialize)]
pub struct CriterionPost {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    nom: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    ordre: String,
    #[serde(default)]
    actif: String,
}

async fn save_criterion(
    state: &AppState,
    staff: &Staff,
    id: Option<i64>,
    form: CriterionPost,
) -> Result<HttpResponse, AppError> {
    let active = form.actif == "oui";
    match evaluation::parse_criterion(&form.nom, &form.description, &form.ordre, active) {
        Ok(input) => {
            let actor = staff.0.user_id;
            let saved = db(state, move |conn| {
                Ok(match id {
                    None => evaluation::create_criterion(conn, actor, &input).map(|_| true)?,
                    Some(id) => evaluation::update_criterion(conn, actor, id, &input)?,
                })
            })
            .await?;
            if !saved {
                return Err(AppError::NotFound);
            }
            Ok(see_other("/admin/grille?fait=oui"))
        }
        Err(errors) => {
            let summary = error_summary(CRITERION_FIELDS, &errors);
            let shown = CriterionForm {
                id,
                name: form.nom,
                description: form.description,
                position: form.ordre,
                active,
                errors,
                summary,
            };
            render_criteria(state, staff, Some(shown), false).await
        }
    }
}

pub async fn add_criterion(
    state: web::Data<AppState>,
    staff: Staff,
    form: Form<CriterionPost>,
) -> Result<HttpResponse, AppError> {
    staff.require(&[])?;
    staff.check_csrf(&form.csrf)?;
    save_criterion(&state, &staff, None, form.into_inner()).await
}

pub async fn change_criterion(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<i64>,
    form: Form<CriterionPost>,
) -> Result<HttpResponse, AppError> {
    staff.require(&[])?;
    staff.check_csrf(&form.csrf)?;
    let id = path.into_inner();
    let exists = db(&state, move |conn| {
        Ok(evaluation::criteria(conn, false)?
            .iter()
            .any(|c| c.id == id))
    })
    .await?;
    if !exists {
        return Err(AppError::NotFound);
    }
    save_criterion(&state, &staff, Some(id), form.into_inner()).await
}

/// A score to choose, selected when it is the one typed.
#[derive(Serialize)]
struct ScoreChoice {
    value: String,
    label: &'static str,
    selected: bool,
}

/// One criterion's line of the grid form.
#[derive(Serialize)]
struct GridLine {
    id: i64,
    name: String,
    description: String,
    scores: Vec<ScoreChoice>,
    comment: String,
    score_error: Option<String>,
    comment_error: Option<String>,
}

#[derive(Serialize)]
struct Opinion {
    value: &'static str,
    label: &'static str,
    checked: bool,
}

/// A line of the error summary.
#[derive(Serialize)]
struct GridSummary {
    href: String,
    message: String,
}

#[derive(Serialize)]
struct GridPage {
    meeting: GridMeeting,
    lines: Vec<GridLine>,
    opinions: Vec<Opinion>,
    comment: String,
    opinion_error: Option<String>,
    comment_error: Option<String>,
    summary: Vec<GridSummary>,
    no_criteria: bool,
}

async fn render_grid(
    state: &AppState,
    staff: &Staff,
    meeting: GridMeeting,
    criteria: &[Criterion],
    input: &GridInput,
    errors: Option<GridErrors>,
) -> Result<HttpResponse, AppError> {
    let errors = errors.unwrap_or_default();
    let mut summary = Vec::new();
    if let Some(m) = &errors.opinion {
        summary.push(GridSummary {
            href: "#avis-favorable".to_owned(),
            message: format!("Avis d'ensemble : {m}"),
        });
    }
    let lines = criteria
        .iter()
        .map(|c| {
            let typed = input.scores.iter().find(|s| s.criterion_id == c.id);
            let score = typed.map_or("", |s| s.score.as_str());
            let problem = errors.criteria.iter().find(|e| e.0 == c.id);
            if let Some((_, s, cm)) = problem {
                if let Some(m) = s {
                    summary.push(GridSummary {
                        href: format!("#note-{}", c.id),
                        message: format!("{} : {m}", c.name),
                    });
                }
                if let Some(m) = cm {
                    summary.push(GridSummary {
                        href: format!("#commentaire-{}", c.id),
                        message: format!("{} : {m}", c.name),
                    });
                }
            }
            let mut scores = vec![ScoreChoice {
                value: String::new(),
                label: "Non évalué",
                selected: score.is_empty(),
            }];
            scores.extend(SCORES.iter().map(|(n, l)| ScoreChoice {
                value: n.to_string(),
                label: l,
                selected: score == n.to_string(),
            }));
            GridLine {
                id: c.id,
                name: c.name.clone(),
                description: c.description.clone(),
                scores,
                comment: typed.map(|s| s.comment.clone()).unwrap_or_default(),
                score_error: problem.and_then(|p| p.1.clone()),
                comment_error: problem.and_then(|p| p.2.clone()),
            }
        })
        .collect();
    if let Some(m) = &errors.comment {
        summary.push(GridSummary {
            href: "#commentaire-ensemble".to_owned(),
            message: format!("Commentaire d'ensemble : {m}"),
        });
    }
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let title = format!(
        "{}Grille d'entretien – {} du {}",
        if errors.is_empty() { "" } else { "Erreur – " },
        meeting.kind.to_lowercase(),
        meeting
            .starts_at
            .with_timezone(&chrono_tz::Europe::Paris)
            .format("%d/%m/%Y")
    );
    let page = GridPage {
        lines,
        opinions: OPINIONS
            .iter()
            .map(|(value, label)| Opinion {
                value,
                label,
                checked: input.opinion == *value,
            })
            .collect(),
        comment: input.comment.clone(),
        opinion_error: errors.opinion.clone(),
        comment_error: errors.comment.clone(),
        summary,
        no_criteria: criteria.is_empty(),
        meeting,
    };
    let data = serde_json::to_value(page)
        .map_err(|e| AppError::Unexpected(anyhow::anyhow!("grid view: {e}")))?;
    staff_page(state, staff, "pipeline/evaluation", &title, status, data)
}

pub async fn grid_form(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    staff.require(RECRUITING)?;
    let id = path.into_inner();
    let (meeting, criteria, input) = db(&state, move |conn| {
        Ok((
            evaluation::meeting(conn, id)?,
            evaluation::criteria(conn, true)?,
            evaluation::input_for(conn, id)?,
        ))
    })
    .await?;
    let meeting = meeting.ok_or(AppError::NotFound)?;
    render_grid(
        &state,
        &staff,
        meeting,
        &criteria,
        &input.unwrap_or_default(),
        None,
    )
    .await
}

/// The grid as posted: per criterion, in the page's order, its id, score and comment.
#[derive(Debug, Default, Deserialize)]
pub struct GridPost {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    critere: Vec<String>,
    #[serde(default)]
    note: Vec<String>,
    #[serde(default)]
    commentaire: Vec<String>,
    #[serde(default)]
    avis: String,
    #[serde(default)]
    commentaire_ensemble: String,
}

pub async fn save_grid(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<i64>,
    form: Form<GridPost>,
) -> Result<HttpResponse, AppError> {
    staff.require(RECRUITING)?;
    staff.check_csrf(&form.csrf)?;
    let id = path.into_inner();
    let form = form.into_inner();
    let (meeting, criteria) = db(&state, move |conn| {
        Ok((
            evaluation::meeting(conn, id)?,
            evaluation::criteria(conn, true)?,
        ))
    })
    .await?;
    let meeting = meeting.ok_or(AppError::NotFound)?;
    let input = GridInput {
        opinion: form.avis.clone(),
        comment: form.commentaire_ensemble.clone(),
        scores: form
            .critere
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                Some(ScoreInput {
                    criterion_id: c.trim().parse().ok()?,
                    score: form.note.get(i).cloned().unwrap_or_default(),
                    comment: form.commentaire.get(i).cloned().unwrap_or_default(),
                })
            })
            .collect(),
    };
    let grid = match check_grid(&input, &criteria) {
        Ok(grid) => grid,
        Err(errors) => {
            return render_grid(&state, &staff, meeting, &criteria, &input, Some(errors)).await
        }
    };
    let actor = staff.0.user_id;
    let saved = db(&state, move |conn| {
        Ok(evaluation::save(conn, actor, id, &grid, Utc::now())?)
    })
    .await?
    .ok_or(AppError::NotFound)?;
    Ok(see_other(format!(
        "/recrutement/candidats/{saved}?fait=grille#rendez-vous"
    )))
}
