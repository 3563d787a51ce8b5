//! The « Courriels non reconnus » page: mail a person wrote that matched no candidate, oldest
//! first, each with the candidates whose address is the sender's; staff attach a message to a
//! candidate (by those buttons, or by typing a record's number or address) or dismiss it. A
//! refused attachment shows the page again (422) with the message at the field and what was
//! typed.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::mailbox::unrecognised::{self, AttachError, Waiting};
use crate::staff::RECRUITING;
use crate::web::body::Form;
use crate::web::pages::see_other;
use crate::web::staff::{staff_page, Staff};
use crate::web::{db, AppState};

/// Messages shown on the page.
const SHOWN: i64 = 50;
pub const PATH: &str = "/recrutement/courriels-non-reconnus";

#[derive(Serialize)]
struct Row {
    #[serde(flatten)]
    message: Waiting,
    /// What was typed in its « Rattacher » field, and the message at it.
    typed: String,
    error: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    #[serde(default)]
    fait: String,
}

async fn render(
    state: &AppState,
    staff: &Staff,
    flash: Option<&str>,
    refused: Option<(i64, String, String)>,
) -> Result<HttpResponse, AppError> {
    let (count, waiting) = db(state, move |conn| {
        Ok((
            unrecognised::count(conn)?,
            unrecognised::list(conn, SHOWN, 0)?,
        ))
    })
    .await?;
    let status = if refused.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let rows: Vec<Row> = waiting
        .into_iter()
        .map(|message| {
            let (typed, error) = match &refused {
                Some((id, typed, error)) if *id == message.id => {
                    (typed.clone(), Some(error.clone()))
                }
                _ => (String::new(), None),
            };
            Row {
                message,
                typed,
                error,
            }
        })
        .collect();
    let errors: Vec<serde_json::Value> = refused
        .iter()
        .map(|(id, _, error)| serde_json::json!({ "href": format!("#rattacher-{id}"), "message": error }))
        .collect();
    let title = if refused.is_some() {
        "Erreur – Courriels non reconnus"
    } else {
        "Courriels non reconnus"
    };
    staff_page(
        state,
        staff,
        "pipeline/unrecognised",
        title,
        status,
        serde_json::json!({
            "count": count,
            "more": count > SHOWN,
            "shown": SHOWN,
            "messages": rows,
            "errors": errors,
            "flash": flash,
            "retention_days": state.settings.inbound.unrecognised_retention_days,
        }),
    )
}

pub async fn page(
    state: web::Data<AppState>,
    staff: Staff,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, AppError> {
    staff.require(RECRUITING)?;
    let flash = match query.fait.as_str() {
        "rattache" => Some("Courriel rattaché à la fiche : il figure dans son historique."),
        "ecarte" => Some("Courriel écarté : ce que Vocation en gardait est effacé."),
        "deja" => Some("Ce courriel a déjà été traité par quelqu'un d'autre."),
        _ => None,
    };
    render(&state, &staff, flash, None).await
}

#[derive(Debug, Default, Deserialize)]
pub struct AttachForm {
    #[serde(default)]
    csrf: String,
    /// A record's number (« 12 », « n° 12 ») or the candidate's address, typed.
    #[serde(default)]
    candidat: String,
    /// The number of a suggested record (its button).
    #[serde(default)]
    fiche: String,
}

/// The record a typed value names: a number, or an address that is exactly one record's.
fn which_candidate(
    conn: &mut diesel::PgConnection,
    typed: &str,
) -> anyhow::Result<Result<i64, String>> {
    use crate::db::schema::candidates;
    use diesel::prelude::*;
    let t = typed.trim();
    if t.is_empty() {
        return Ok(Err(
            "Indiquez le numéro de la fiche ou l'adresse électronique du candidat.".to_owned(),
        ));
    }
    let digits = t
        .trim_start_matches("n°")
        .trim_start_matches("N°")
        .trim_start_matches('#')
        .trim();
    if !digits.is_empty() && digits.len() <= 18 && digits.bytes().all(|b| b.is_ascii_digit()) {
        let id: i64 = digits.parse()?;
        let found: bool = diesel::select(diesel::dsl::exists(
            candidates::table
                .find(id)
                .filter(candidates::anonymised_at.is_null()),
        ))
        .get_result(conn)?;
        return Ok(if found {
            Ok(id)
        } else {
            Err(format!("Aucune fiche n° {id}."))
        });
    }
    if t.contains('@') && t.len() <= 320 {
        let ids: Vec<i64> = candidates::table
            .filter(candidates::email_normalized.eq(t.to_lowercase()))
            .filter(candidates::anonymised_at.is_null())
            .select(candidates::id)
            .limit(2)
            .load(conn)?;
        return Ok(match ids.as_slice() {
            [id] => Ok(*id),
            [] => Err(format!("Aucune fiche n'a l'adresse « {t} ».")),
            _ => Err(format!(
                "Plusieurs fiches ont l'adresse « {t} » : indiquez le numéro de la fiche."
            )),
        });
    }
    Ok(Err(
        "Indiquez un numéro de fiche (par exemple 12) ou une adresse électronique.".to_owned(),
    ))
}

pub async fn attach(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<i64>,
    form: Form<AttachForm>,
) -> Result<HttpResponse, AppError> {
    staff.require(RECRUITING)?;
    staff.check_csrf(&form.csrf)?;
    let id = path.into_inner();
    let form = form.into_inner();
    let typed = if form.fiche.trim().is_empty() {
        form.candidat.clone()
    } else {
        form.fiche.clone()
    };
    let settings = state.settings.clone();
    let actor = staff.0.user_id;
    let lookup = typed.clone();
    let outcome = db(&state, move |conn| {
        let candidate = match which_candidate(conn, &lookup)? {
            Ok(c) => c,
            Err(message) => return Ok(Err(Some(message))),
        };
        Ok(
            match unrecognised::attach(conn, &settings, id, candidate, actor, chrono::Utc::now())? {
                Ok(_) => Ok(candidate),
                Err(AttachError::Gone) => Err(None),
                Err(AttachError::NoCandidate) => Err(Some(format!("Aucune fiche n° {candidate}."))),
            },
        )
    })
    .await?;
    match outcome {
        Ok(_) => Ok(see_other(format!("{PATH}?fait=rattache"))),
        Err(None) => Ok(see_other(format!("{PATH}?fait=deja"))),
        Err(Some(message)) => {
            render(&state, &staff, None, Some((id, form.candidat, message))).await
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct DismissForm {
    #[serde(default)]
    csrf: String,
}

pub async fn dismiss(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<i64>,
    form: Form<DismissForm>,
) -> Result<HttpResponse, AppError> {
    staff.require(RECRUITING)?;
    staff.check_csrf(&form.csrf)?;
    let id = path.into_inner();
    let actor = staff.0.user_id;
    let dismissed = db(&state, move |conn| {
        Ok(unrecognised::dismiss(conn, id, actor, chrono::Utc::now())?)
    })
    .await?;
    Ok(see_other(format!(
        "{PATH}?fait={}",
        if dismissed { "ecarte" } else { "deja" }
    )))
}
