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

/// A redeployment refused: the allocation it was for, the message, and what was typed (kept in
/// that allocation's form when the page is shown again).
struct Refused {
    allocation_id: i64,
    message: String,
    typed: RedeployForm,
}

async fn render_placement(
    state: &AppState,
    staff: &Staff,
    id: i64,
    error: Option<Refused>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let today = paris_today();
    let (view, all) = db(state, move |conn| {
        Ok((placements::load(conn, id, today)?, centres::list_all(conn)?))
    })
    .await?;
    let view = view.ok_or(AppError::NotFound)?;
    let title = format!("Affectation de {}", view.candidate);
    let open_centres: Vec<&centres::Centre> =
        all.iter().filter(|c| !c.closed_on_day(today)).collect();
    let current: Vec<Value> = view
        .current
        .iter()
        .map(|a| {
            let mut v = serde_json::to_value(a).unwrap_or_default();
            let refused = error.as_ref().filter(|e| e.allocation_id == a.id);
            let chosen = refused.map(|e| e.typed.centre.as_str()).unwrap_or_default();
            let ticked: &[String] = refused
                .map(|e| e.typed.jours.as_slice())
                .unwrap_or_default();
            if let Some(obj) = v.as_object_mut() {
                // Each form has its own choices, so that one refused keeps what was chosen.
                obj.insert(
                    "choices".to_owned(),
                    json!(open_centres
                        .iter()
                        .map(|c| json!({
                            "id": c.id,
                            "commune": c.commune,
                            "selected": c.id.to_string() == chosen,
                        }))
                        .collect::<Vec<_>>()),
                );
                obj.insert(
                    "days".to_owned(),
                    json!(HalfDay::all()
                        .map(|h| json!({
                            "code": h.code(),
                            "label": h.label(),
                            "checked": ticked.iter().any(|t| *t == h.code()),
                        }))
                        .collect::<Vec<_>>()),
                );
                match refused {
                    Some(e) => {
                        obj.insert("error".to_owned(), json!(e.message));
                        obj.insert("typed_date".to_owned(), json!(e.typed.date));
                        obj.insert("typed_etp".to_owned(), json!(e.typed.etp));
                        obj.insert("typed_note".to_owned(), json!(e.typed.note));
                    }
                    None => {
                        obj.insert("typed_date".to_owned(), json!(today.to_string()));
                        obj.insert("typed_etp".to_owned(), json!(""));
                        obj.insert("typed_note".to_owned(), json!(""));
                    }
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
        }),
    )
}

/// The redeployment form: which allocation, to which centre, from when; `jours` repeats, one
/// per ticked half-day.
#[derive(Debug, Clone, Default, Deserialize)]
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
    let typed = form.into_inner();
    staff.check_csrf(&typed.csrf)?;
    let allocation_id: i64 = typed
        .affectation
        .parse()
        .map_err(|_| AppError::BadRequest("Affectation inconnue.".to_owned()))?;
    let parsed = (|| {
        let to_centre: i64 = typed
            .centre
            .parse()
            .map_err(|_| RedeployError::UnknownCentre.to_string())?;
        let from = parse_date(&typed.date)
            .ok_or_else(|| "Indiquez la date du redéploiement (jj/mm/aaaa).".to_owned())?;
        let pattern = if typed.jours.is_empty() {
            None
        } else {
            Some(WeekPattern::from_codes(&typed.jours).map_err(|e| e.0)?)
        };
        let fte = if typed.etp.trim().is_empty() {
            None
        } else {
            Some(Fte::parse(&typed.etp).map_err(|e| e.0)?)
        };
        Ok::<_, String>(Redeployment {
            placement_id,
            allocation_id,
            to_centre,
            from,
            pattern,
            fte,
            note: typed.note.clone(),
        })
    })();
    let refused = |message: String, typed: RedeployForm| Refused {
        allocation_id,
        message,
        typed,
    };
    let request = match parsed {
        Ok(r) => r,
        Err(message) => {
            return render_placement(
                &state,
                &staff,
                placement_id,
                Some(refused(message, typed)),
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
                Some(refused(e.to_string(), typed)),
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
