//! A placement's page (where the doctor works, week by week) with redeployment to another
//! centre, and everyone's capacity page.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::centres;
use crate::db::enums::StaffRole;
use crate::domain::{paris_today, parse_date, Fte, HalfDay, WeekPattern};
use crate::error::AppError;
use crate::placements::{self, capacity, RedeployError, Redeployment};
use crate::staff::RECRUITING;
use crate::web::body::Form;
use crate::web::pages::see_other;
use crate::web::staff::{page, staff_page, Staff};
use crate::web::{db, AppState};

pub async fn placement(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    staff.require(RECRUITING)?;
    let id = path.into_inner();
    render_placement(&state, &staff, id, None, StatusCode::OK).await
}

async fn render_placement(
    state: &AppState,
    staff: &Staff,
    id: i64,
    error: Option<(i64, String)>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let today = paris_today();
    let (view, all) = db(state, move |conn| {
        Ok((placements::load(conn, id, today)?, centres::list_all(conn)?))
    })
    .await?;
    let view = view.ok_or(AppError::NotFound)?;
    let title = format!("Affectation de {}", view.candidate);
    let choices: Vec<Value> = all
        .iter()
        .filter(|c| !c.closed_on_day(today))
        .map(|c| json!({"id": c.id, "commune": c.commune}))
        .collect();
    let current: Vec<Value> = view
        .current
        .iter()
        .map(|a| {
            let mut v = serde_json::to_value(a).unwrap_or_default();
            if let (Some(obj), Some((failed, message))) = (v.as_object_mut(), error.as_ref()) {
                if *failed == a.id {
                    obj.insert("error".to_owned(), json!(message));
                }
            }
            v
        })
        .collect();
    staff_page(
        state,
        staff,
        "offers/placement",
        &title,
        status,
        json!({
            "heading": title,
            "placement": view,
            "current": current,
            "centres": choices,
            "half_days": HalfDay::all().map(|h| json!({"code": h.code(), "label": h.label()})).collect::<Vec<_>>(),
            "today": today.to_string(),
        }),
    )
}

/// The redeployment form: which allocation, to which centre, from when; `jours` repeats, one
/// per ticked half-day.
#[derive(Debug, Default, Deserialize)]
pub struct RedeployForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    affectation: String,
    #[serde(default)]
    centre: String,
    #[serde(default)]
    date: String,
    #[serde(default)]
    jours: Vec<String>,
    #[serde(default)]
    etp: String,
    #[serde(default)]
    note: String,
}

pub async fn redeploy(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<i64>,
    form: Form<RedeployForm>,
) -> Result<HttpResponse, AppError> {
    staff.require(RECRUITING)?;
    let placement_id = path.into_inner();
    let RedeployForm {
        csrf,
        affectation: allocation,
        centre,
        date,
        jours: days,
        etp,
        note,
    } = form.into_inner();
    staff.check_csrf(&csrf)?;
    let allocation_id: i64 = allocation
        .parse()
        .map_err(|_| AppError::BadRequest("Affectation inconnue.".to_owned()))?;
    let fail = |message: String| (allocation_id, message);
    let parsed = (|| {
        let to_centre: i64 = centre
            .parse()
            .map_err(|_| fail(RedeployError::UnknownCentre.to_string()))?;
        let from = parse_date(&date)
            .ok_or_else(|| fail("Indiquez la date du redéploiement (jj/mm/aaaa).".to_owned()))?;
        let pattern = if days.is_empty() {
            None
        } else {
            Some(WeekPattern::from_codes(&days).map_err(|e| fail(e.0))?)
        };
        let fte = if etp.trim().is_empty() {
            None
        } else {
            Some(Fte::parse(&etp).map_err(|e| fail(e.0))?)
        };
        Ok::<_, (i64, String)>(Redeployment {
            allocation_id,
            to_centre,
            from,
            pattern,
            fte,
            note: note.clone(),
        })
    })();
    let request = match parsed {
        Ok(r) => r,
        Err(e) => {
            return render_placement(
                &state,
                &staff,
                placement_id,
                Some(e),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    };
    let actor = staff.0.user_id;
    let result = db(&state, move |conn| {
        Ok(placements::redeploy(conn, actor, &request, Utc::now())?)
    })
    .await?;
    match result {
        Ok(_) => Ok(see_other(format!(
            "/recrutement/affectations/{placement_id}"
        ))),
        Err(RedeployError::NotFound) => Err(AppError::NotFound),
        Err(e) => {
            render_placement(
                &state,
                &staff,
                placement_id,
                Some((allocation_id, e.to_string())),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct CapacityQuery {
    #[serde(default)]
    date: String,
}

pub async fn capacity_page(
    state: web::Data<AppState>,
    staff: Staff,
    query: web::Query<CapacityQuery>,
) -> Result<HttpResponse, AppError> {
    let day = if query.date.trim().is_empty() {
        paris_today()
    } else {
        parse_date(&query.date).ok_or_else(|| {
            AppError::BadRequest(format!(
                "« {} » n'est pas une date : écrivez-la jj/mm/aaaa.",
                query.date.trim()
            ))
        })?
    };
    let goal = state.settings.goal.clone();
    let report = db(&state, move |conn| Ok(capacity::compute(conn, day, &goal)?)).await?;
    // Doctors' names are for those who recruit; the others see the figures.
    let sees_names = matches!(staff.0.role, StaffRole::Admin | StaffRole::Recruiter);
    let title = format!("Capacité des centres au {}", day.format("%d/%m/%Y"));
    page(
        &state,
        &staff,
        "offers/capacity",
        &title,
        json!({
            "heading": title,
            "report": report,
            "sees_names": sees_names,
            "day": day.to_string(),
        }),
    )
}
