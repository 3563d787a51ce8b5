//! Recruiters' pages for offers and placements, and everyone's capacity page.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::{NaiveDate, Utc};
use diesel::prelude::*;
use serde::Deserialize;
use serde_json::{json, Value};

use super::pages::see_other;
use crate::centres::{self, Centre};
use crate::db::enums::{StaffRole, WorkingTime};
use crate::db::schema::{applications, candidates};
use crate::domain::{format_hundredths, Fte, HalfDay, WeekPattern};
use crate::domain::{paris_today, parse_date};
use crate::error::AppError;
use crate::offers::{self, Answer, OfferError, OfferErrors, RawAllocation, RawOffer};
use crate::placements::{self, capacity, RedeployError, Redeployment};
use crate::staff::RECRUITING;
use crate::web::body::Form;
use crate::web::staff::{page, staff_page, Staff};
use crate::web::{db, AppState};

/// Registers the offers', placements' and capacity pages.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/recrutement/candidatures/{id}/proposition")
            .route(web::get().to(new_offer))
            .route(web::post().to(create_offer)),
    )
    .route("/recrutement/propositions/{id}", web::get().to(offer))
    .service(
        web::resource("/recrutement/propositions/{id}/modifier")
            .route(web::get().to(edit_offer))
            .route(web::post().to(update_offer)),
    )
    .route(
        "/recrutement/propositions/{id}/{action}",
        web::post().to(offer_action),
    )
    .route("/recrutement/affectations/{id}", web::get().to(placement))
    .route(
        "/recrutement/affectations/{id}/redeploiement",
        web::post().to(redeploy),
    )
    .route("/capacite", web::get().to(capacity_page));
}

fn may_approve(state: &AppState, staff: &Staff) -> bool {
    staff.0.role == StaffRole::Admin
        || state
            .settings
            .offers
            .approver_roles
            .iter()
            .any(|r| r == staff.0.role.code())
}

/// The candidate an application belongs to, with their name.
fn application_owner(
    conn: &mut PgConnection,
    application_id: i64,
) -> QueryResult<Option<(i64, String)>> {
    let row: Option<(i64, String, String)> = applications::table
        .inner_join(candidates::table)
        .filter(applications::id.eq(application_id))
        .select((
            candidates::id,
            candidates::first_name,
            candidates::last_name,
        ))
        .first(conn)
        .optional()?;
    Ok(row.map(|(id, first, last)| (id, format!("{first} {last}"))))
}

/// Where the offer form comes from: a new offer for an application, or a draft being edited.
enum FormTarget {
    New { application_id: i64 },
    Edit { offer_id: i64, application_id: i64 },
}

impl FormTarget {
    fn application_id(&self) -> i64 {
        match self {
            FormTarget::New { application_id } | FormTarget::Edit { application_id, .. } => {
                *application_id
            }
        }
    }
}

/// Centres offered in the grid: those not closed today, plus any already in the offer.
fn grid_centres(all: Vec<Centre>, raw: &RawOffer, today: NaiveDate) -> Vec<Centre> {
    all.into_iter()
        .filter(|c| !c.closed_on_day(today) || raw.allocations.contains_key(&c.id))
        .collect()
}

async fn render_form(
    state: &AppState,
    staff: &Staff,
    target: FormTarget,
    raw: &RawOffer,
    errors: &OfferErrors,
) -> Result<HttpResponse, AppError> {
    let application_id = target.application_id();
    let today = paris_today();
    let (owner, all) = db(state, move |conn| {
        Ok((
            application_owner(conn, application_id)?,
            centres::list_all(conn)?,
        ))
    })
    .await?;
    let (candidate_id, candidate) = owner.ok_or(AppError::NotFound)?;
    let lookup = |field: &str| errors.get(field).map(str::to_owned);
    let rows: Vec<Value> = grid_centres(all, raw, today)
        .iter()
        .map(|c| {
            let typed = raw.allocations.get(&c.id);
            let cells: Vec<Value> = HalfDay::all()
                .map(|h| {
                    json!({
                        "code": h.code(),
                        "label": h.label(),
                        "checked": typed.is_some_and(|t| t.half_days.iter().any(|d| *d == h.code())),
                    })
                })
                .collect();
            json!({
                "id": c.id,
                "commune": c.commune,
                "name": c.name,
                "kind": c.kind.label(),
                "status": c.status.label(),
                "cells": cells,
                "etp": typed.map(|t| t.etp.clone()).unwrap_or_default(),
                "error_days": lookup(&format!("jours-{}", c.id)),
                "error_etp": lookup(&format!("etp-{}", c.id)),
            })
        })
        .collect();
    let summary: Vec<Value> = errors
        .0
        .iter()
        .map(|(field, message)| {
            let anchor = match field.as_str() {
                "temps" => "temps-plein".to_owned(),
                f if f.starts_with("jours-") => format!("{f}-lun-matin"),
                f => f.to_owned(),
            };
            json!({ "field": anchor, "message": message })
        })
        .collect();
    let (title, action) = match target {
        FormTarget::New { application_id } => (
            "Préparer une proposition".to_owned(),
            format!("/recrutement/candidatures/{application_id}/proposition"),
        ),
        FormTarget::Edit { offer_id, .. } => (
            format!("Modifier la proposition n° {offer_id}"),
            format!("/recrutement/propositions/{offer_id}/modifier"),
        ),
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    staff_page(
        state,
        staff,
        "offers/form",
        &title,
        status,
        json!({
            "heading": title,
            "action": action,
            "candidate": candidate,
            "candidate_id": candidate_id,
            "application_id": application_id,
            "values": raw,
            "full_time": raw.temps == WorkingTime::FullTime.code(),
            "part_time": raw.temps == WorkingTime::PartTime.code(),
            "rows": rows,
            "half_days": HalfDay::all().map(|h| json!({"code": h.code(), "label": h.label()})).collect::<Vec<_>>(),
            "errors": errors.map(),
            "summary": summary,
        }),
    )
}

/// The form's starting values: the live offer's, else the doctor's wishes.
fn initial_values(conn: &mut PgConnection, application_id: i64) -> QueryResult<Option<RawOffer>> {
    let candidate: Option<(i64, WorkingTime, Option<i16>, Option<NaiveDate>)> = applications::table
        .inner_join(candidates::table)
        .filter(applications::id.eq(application_id))
        .select((
            candidates::id,
            candidates::working_time,
            candidates::part_time_half_days,
            candidates::available_from,
        ))
        .first(conn)
        .optional()?;
    let Some((candidate_id, working_time, half_days, available_from)) = candidate else {
        return Ok(None);
    };
    let live = offers::for_candidate(conn, candidate_id)?
        .into_iter()
        .find(|o| o.application_id == application_id && o.is_live);
    if let Some(o) = live {
        let mut raw = RawOffer {
            temps: o.working_time_code.to_owned(),
            etp: o.fte.clone(),
            debut: o.starts_on.to_string(),
            expiration: o.expires_on.to_string(),
            gardes: o.on_call_terms.clone(),
            remuneration: o.salary_note.clone(),
            ..Default::default()
        };
        for a in o.allocations {
            let pattern = WeekPattern::from_bits(a.half_days).unwrap_or_default();
            raw.allocations.insert(
                a.centre_id,
                RawAllocation {
                    half_days: pattern.half_days().map(|h| h.code()).collect(),
                    etp: a.fte,
                },
            );
        }
        return Ok(Some(raw));
    }
    let today = paris_today();
    Ok(Some(RawOffer {
        temps: working_time.code().to_owned(),
        etp: match (working_time, half_days) {
            (WorkingTime::FullTime, _) => "1".to_owned(),
            (WorkingTime::PartTime, Some(n)) => format_hundredths(i64::from(n) * 10),
            (WorkingTime::PartTime, None) => String::new(),
        },
        debut: available_from
            .filter(|d| *d > today)
            .map(|d| d.to_string())
            .unwrap_or_default(),
        ..Default::default()
    }))
}

pub async fn new_offer(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    staff.require(RECRUITING)?;
    let application_id = path.into_inner();
    let raw = db(&state, move |conn| {
        Ok(initial_values(conn, application_id)?)
    })
    .await?
    .ok_or(AppError::NotFound)?;
    render_form(
        &state,
        &staff,
        FormTarget::New { application_id },
        &raw,
        &OfferErrors::default(),
    )
    .await
}

fn read_form(body: &web::Bytes) -> (RawOffer, String) {
    RawOffer::from_pairs(
        url::form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())),
    )
}

/// An offer action refused: back to the page that asked, with the reason (422).
fn refused(error: OfferError) -> AppError {
    match error {
        OfferError::NotFound | OfferError::ApplicationNotFound => AppError::NotFound,
        e => AppError::Unprocessable(e.to_string()),
    }
}

pub async fn create_offer(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<i64>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    staff.require(RECRUITING)?;
    let application_id = path.into_inner();
    let (raw, csrf) = read_form(&body);
    staff.check_csrf(&csrf)?;
    let all = db(&state, |conn| Ok(centres::list_all(conn)?)).await?;
    let target = FormTarget::New { application_id };
    let draft = match offers::validate(&raw, &all, paris_today()) {
        Ok(d) => d,
        Err(errors) => return render_form(&state, &staff, target, &raw, &errors).await,
    };
    let actor = staff.0.user_id;
    let created = db(&state, move |conn| {
        Ok(offers::create(
            conn,
            application_id,
            actor,
            &draft,
            Utc::now(),
        )?)
    })
    .await?;
    match created {
        Ok(id) => Ok(see_other(format!("/recrutement/propositions/{id}"))),
        Err(e @ (OfferError::StageTooEarly(_) | OfferError::AlreadyPlaced)) => {
            let mut errors = OfferErrors::default();
            errors.0.push(("repartition".to_owned(), e.to_string()));
            render_form(&state, &staff, target, &raw, &errors).await
        }
        Err(e) => Err(refused(e)),
    }
}

pub async fn offer(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    staff.require(RECRUITING)?;
    let id = path.into_inner();
    let view = db(&state, move |conn| Ok(offers::load(conn, id)?))
        .await?
        .ok_or(AppError::NotFound)?;
    let title = format!("Proposition n° {} – {}", view.id, view.candidate);
    page(
        &state,
        &staff,
        "offers/offer",
        &title,
        json!({
            "heading": title,
            "offer": view,
            "may_approve": may_approve(&state, &staff),
            "decline_reasons": offers::decline_reasons().iter().map(|(c, l)| json!({"value": c, "label": l})).collect::<Vec<_>>(),
        }),
    )
}

pub async fn edit_offer(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    staff.require(RECRUITING)?;
    let offer_id = path.into_inner();
    let found = db(&state, move |conn| {
        let Some(offer) = offers::find(conn, offer_id)? else {
            return Ok(None);
        };
        Ok(initial_values(conn, offer.application_id)?.map(|raw| (offer, raw)))
    })
    .await?;
    let (offer, raw) = found.ok_or(AppError::NotFound)?;
    if offer.status != crate::db::enums::OfferStatus::Draft {
        return Err(refused(OfferError::WrongStatus(
            offer.status.label(),
            crate::db::enums::OfferStatus::Draft.label(),
        )));
    }
    let target = FormTarget::Edit {
        offer_id,
        application_id: offer.application_id,
    };
    render_form(&state, &staff, target, &raw, &OfferErrors::default()).await
}

pub async fn update_offer(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<i64>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    staff.require(RECRUITING)?;
    let offer_id = path.into_inner();
    let (raw, csrf) = read_form(&body);
    staff.check_csrf(&csrf)?;
    let (offer, all) = db(&state, move |conn| {
        Ok((offers::find(conn, offer_id)?, centres::list_all(conn)?))
    })
    .await?;
    let offer = offer.ok_or(AppError::NotFound)?;
    let target = FormTarget::Edit {
        offer_id,
        application_id: offer.application_id,
    };
    let draft = match offers::validate(&raw, &all, paris_today()) {
        Ok(d) => d,
        Err(errors) => return render_form(&state, &staff, target, &raw, &errors).await,
    };
    let actor = staff.0.user_id;
    db(&state, move |conn| {
        Ok(offers::update(conn, offer_id, actor, &draft, Utc::now())?)
    })
    .await?
    .map_err(refused)?;
    Ok(see_other(format!("/recrutement/propositions/{offer_id}")))
}

#[derive(Debug, Default, Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    motif: String,
    /// "oui" to close the application (désistement) when the doctor declines.
    #[serde(default)]
    clore: String,
    #[serde(default)]
    date: String,
}

pub async fn offer_action(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<(i64, String)>,
    form: Form<ActionForm>,
) -> Result<HttpResponse, AppError> {
    staff.require(RECRUITING)?;
    staff.check_csrf(&form.csrf)?;
    let (offer_id, action) = path.into_inner();
    let actor = staff.0.user_id;
    let now = Utc::now();
    let settings = state.settings.clone();
    let form = form.into_inner();
    let destination = format!("/recrutement/propositions/{offer_id}");
    let outcome: Result<Option<String>, OfferError> = match action.as_str() {
        "approuver" => {
            if !may_approve(&state, &staff) {
                return Err(AppError::Forbidden(
                    "Votre rôle ne permet pas d'approuver une proposition : demandez à un administrateur."
                        .to_owned(),
                ));
            }
            db(&state, move |conn| {
                Ok(offers::approve(conn, offer_id, actor, now)?)
            })
            .await?
            .map(|_| None)
        }
        "envoyer" => {
            let sent = db(&state, move |conn| {
                Ok(offers::send(
                    conn,
                    &settings,
                    offer_id,
                    actor,
                    now,
                    paris_today(),
                )?)
            })
            .await?;
            if sent.is_ok() {
                state.mail_wake.notify_one();
            }
            sent.map(|_| None)
        }
        "retirer" => db(&state, move |conn| {
            Ok(offers::withdraw(conn, offer_id, actor, now)?)
        })
        .await?
        .map(|_| None),
        "accepter" => db(&state, move |conn| {
            Ok(offers::answer(
                conn,
                offer_id,
                actor,
                &Answer::Accepted,
                now,
            )?)
        })
        .await?
        .map(|_| None),
        "decliner" => {
            let answer = Answer::Declined {
                reason: form.motif.clone(),
                close: form.clore == "oui",
            };
            db(&state, move |conn| {
                Ok(offers::answer(conn, offer_id, actor, &answer, now)?)
            })
            .await?
            .map(|_| None)
        }
        "prise-de-poste" => match parse_date(&form.date) {
            None => Err(OfferError::StartRequired),
            Some(day) => db(&state, move |conn| {
                Ok(offers::record_start(conn, offer_id, actor, day, now)?)
            })
            .await?
            .map(|placement| Some(format!("/recrutement/affectations/{placement}"))),
        },
        _ => return Err(AppError::NotFound),
    };
    match outcome {
        Ok(next) => Ok(see_other(next.unwrap_or(destination))),
        Err(e) => Err(refused(e)),
    }
}

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

pub async fn redeploy(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<i64>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    staff.require(RECRUITING)?;
    let placement_id = path.into_inner();
    let mut csrf = String::new();
    let (mut allocation, mut centre, mut date, mut etp, mut note) = (
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
    );
    let mut days: Vec<String> = Vec::new();
    for (k, v) in url::form_urlencoded::parse(&body) {
        let v = v.into_owned();
        match k.as_ref() {
            "csrf" => csrf = v,
            "affectation" => allocation = v,
            "centre" => centre = v,
            "date" => date = v,
            "jours" => days.push(v),
            "etp" => etp = v,
            "note" => note = v,
            _ => {}
        }
    }
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
