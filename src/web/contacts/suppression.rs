//! The suppression list as staff see it: the addresses never to be mailed again, and adding one
//! by hand.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{page_number, pagination, PER_PAGE};
use crate::campaigns::contacts;
use crate::campaigns::suppression::{SuppressionForm, SUPPRESSION_FIELDS};
use crate::domain::FieldErrors;
use crate::error::AppError;
use crate::staff::COMMUNICATION;
use crate::web::body::Form;
use crate::web::pages::{error_summary, see_other, status_and_title};
use crate::web::staff::{staff_page, Staff};
use crate::web::{db, AppState};

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SuppressionsQuery {
    q: String,
    page: String,
    ajout: String,
}

async fn render_suppressions(
    state: &AppState,
    staff: &Staff,
    q: &str,
    page_no: i64,
    values: &SuppressionForm,
    errors: &FieldErrors,
    notice: Option<&str>,
) -> Result<HttpResponse, AppError> {
    let text = q.trim().to_owned();
    let t = text.clone();
    let (total, rows) = db(state, move |conn| {
        Ok(contacts::suppressions_page(conn, &t, page_no, PER_PAGE)?)
    })
    .await?;
    let rows: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "email": r.email,
                "reason": r.reason.label(),
                "detail": r.detail,
                "at": r.created_at.to_rfc3339(),
            })
        })
        .collect();
    let (status, title) = status_and_title(errors, "Désinscriptions");
    staff_page(
        state,
        staff,
        "contacts/suppressions",
        &title,
        status,
        json!({
            "q": text,
            "total": total,
            "rows": rows,
            "pagination": pagination("/contacts/desinscriptions", &[("q", text.clone())], page_no, total),
            "values": values,
            "errors": errors,
            "summary": error_summary(SUPPRESSION_FIELDS, errors),
            "notice": notice,
        }),
    )
}

pub async fn suppressions_page(
    state: web::Data<AppState>,
    staff: Staff,
    query: web::Query<SuppressionsQuery>,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    let notice = match query.ajout.as_str() {
        "1" => Some("L'adresse est ajoutée à la liste des désinscriptions : elle ne recevra plus aucun envoi."),
        "0" => Some("Cette adresse figurait déjà dans la liste des désinscriptions."),
        _ => None,
    };
    render_suppressions(
        &state,
        &staff,
        &query.q,
        page_number(&query.page),
        &SuppressionForm::default(),
        &FieldErrors::default(),
        notice,
    )
    .await
}

pub async fn add_suppression(
    state: web::Data<AppState>,
    staff: Staff,
    form: Form<SuppressionForm>,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    staff.check_csrf(&form.csrf)?;
    let (email, note) = match form.validate() {
        Ok(valid) => valid,
        Err(errors) => {
            return render_suppressions(&state, &staff, "", 1, &form, &errors, None).await
        }
    };
    let actor = staff.0.user_id;
    let added = db(&state, move |conn| {
        Ok(contacts::suppress_by_hand(conn, actor, &email, &note)?)
    })
    .await?;
    Ok(see_other(format!(
        "/contacts/desinscriptions?ajout={}",
        if added { 1 } else { 0 }
    )))
}
