//! Recruiters' pages for offers: the form (new or draft), the offer's page and its actions
//! (approve, send, withdraw, answers, start); the placements' and capacity pages are in
//! [`placement`].

pub mod placement;

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::{NaiveDate, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::centres::{self, Centre};
use crate::db::enums::WorkingTime;
use crate::domain::{paris_today, parse_date, HalfDay};
use crate::error::AppError;
use crate::offers::{self, Answer, OfferError, OfferErrors, RawOffer};
use crate::staff::RECRUITING;
use crate::web::body::Form;
use crate::web::pages::see_other;
use crate::web::staff::{staff_page, Staff};
use crate::web::{db, AppState};

fn may_approve(state: &AppState, staff: &Staff) -> bool {
    staff.may_approve(&state.settings)
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
    let offers::form::FormContext {
        candidate_id,
        candidate,
        centres: all,
    } = db(state, move |conn| {
        Ok(offers::form::context(conn, application_id)?)
    })
    .await?
    .ok_or(AppError::NotFound)?;
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

pub async fn new_offer(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    staff.require(RECRUITING)?;
    let application_id = path.into_inner();
    let today = paris_today();
    let raw = db(&state, move |conn| {
        Ok(offers::form::initial_values(conn, application_id, today)?)
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

/// The offer form as posted: its fields by name, each with every value it was sent with (the
/// `jours-{centre}` fields repeat, one per ticked half-day).
#[derive(Debug, Default, Deserialize)]
#[serde(transparent)]
pub struct OfferForm(BTreeMap<String, Vec<String>>);

impl OfferForm {
    /// The offer as typed, and the CSRF token.
    fn read(self) -> (RawOffer, String) {
        RawOffer::from_pairs(
            self.0
                .into_iter()
                .flat_map(|(k, values)| values.into_iter().map(move |v| (k.clone(), v))),
        )
    }
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
    body: Form<OfferForm>,
) -> Result<HttpResponse, AppError> {
    staff.require(RECRUITING)?;
    let application_id = path.into_inner();
    let (raw, csrf) = body.into_inner().read();
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
    render_offer(
        &state,
        &staff,
        path.into_inner(),
        &ActionForm::default(),
        None,
    )
    .await
}

/// An action refused on the offer's page: the field it concerns (the anchor of the error
/// summary) and the message.
struct ActionError {
    field: &'static str,
    message: String,
}

/// The offer's page; after a refused action, the same page again (422) with the message at
/// its field and what was typed (reason, start date) kept.
async fn render_offer(
    state: &AppState,
    staff: &Staff,
    id: i64,
    typed: &ActionForm,
    error: Option<ActionError>,
) -> Result<HttpResponse, AppError> {
    let view = db(state, move |conn| Ok(offers::load(conn, id)?))
        .await?
        .ok_or(AppError::NotFound)?;
    let title = format!("Proposition n° {} – {}", view.id, view.candidate);
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let start_date = if typed.date.is_empty() {
        view.starts_on.to_string()
    } else {
        typed.date.clone()
    };
    let field_error = |field: &str| {
        error
            .as_ref()
            .filter(|e| e.field == field)
            .map(|e| e.message.clone())
    };
    staff_page(
        state,
        staff,
        "offers/offer",
        &title,
        status,
        json!({
            "heading": title,
            "offer": view,
            "may_approve": may_approve(state, staff),
            "decline_reasons": offers::decline_reasons().iter().map(|(c, l)| json!({
                "value": c,
                "label": l,
                "selected": *c == typed.motif,
            })).collect::<Vec<_>>(),
            "typed": {
                "date": start_date,
                // Ticked at first; after a refused attempt, as the recruiter left it.
                "close": error.is_none() || typed.clore == "oui",
            },
            "error": error.as_ref().map(|e| json!({"field": e.field, "message": e.message})),
            "error_motif": field_error("motif"),
            "error_date": field_error("date-prise"),
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
    let today = paris_today();
    let found = db(&state, move |conn| {
        Ok(offers::form::draft_values(conn, offer_id, today)?)
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
    body: Form<OfferForm>,
) -> Result<HttpResponse, AppError> {
    staff.require(RECRUITING)?;
    let offer_id = path.into_inner();
    let (raw, csrf) = body.into_inner().read();
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

#[derive(Debug, Clone, Default, Deserialize)]
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
    // Keep what was typed for the page shown again if the action is refused.
    let typed = form.clone();
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
        "demander-validation" => {
            let told = db(&state, move |conn| {
                Ok(offers::request_approval(
                    conn, &settings, offer_id, actor, now,
                )?)
            })
            .await?;
            if told.as_ref().is_ok_and(|n| *n > 0) {
                state.mail_wake.notify_one();
            }
            told.map(|_| None)
        }
        "prise-de-poste" => match parse_date(&form.date) {
            None => Err(OfferError::StartRequired),
            Some(day) => db(&state, move |conn| {
                Ok(offers::record_start(
                    conn,
                    offer_id,
                    actor,
                    day,
                    now,
                    paris_today(),
                )?)
            })
            .await?
            .map(|placement| Some(format!("/recrutement/affectations/{placement}"))),
        },
        _ => return Err(AppError::NotFound),
    };
    match outcome {
        Ok(next) => Ok(see_other(next.unwrap_or(destination))),
        Err(OfferError::NotFound | OfferError::ApplicationNotFound) => Err(AppError::NotFound),
        Err(e) => {
            let field = match (&e, action.as_str()) {
                (OfferError::ReasonRequired, _) => "motif",
                (_, "prise-de-poste") => "date-prise",
                _ => "actions",
            };
            let error = ActionError {
                field,
                message: e.to_string(),
            };
            render_offer(&state, &staff, offer_id, &typed, Some(error)).await
        }
    }
}
