//! Lists of contacts: their list, creating one, a list's page (members, imports) and removing
//! a member.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{contact_row, page_number, pagination, PER_PAGE};
use crate::campaigns::contacts::{self, ContactFilter, ListForm};
use crate::campaigns::directory;
use crate::domain::FieldErrors;
use crate::error::AppError;
use crate::staff::COMMUNICATION;
use crate::web::body::Form;
use crate::web::pages::{error_summary, path_id, see_other, status_and_title};
use crate::web::staff::{page, staff_page, Staff};
use crate::web::{db, AppState};

async fn render_lists(
    state: &AppState,
    staff: &Staff,
    values: &ListForm,
    errors: &FieldErrors,
) -> Result<HttpResponse, AppError> {
    let lists = db(state, |conn| Ok(contacts::lists_with_counts(conn)?)).await?;
    let (status, title) = status_and_title(errors, "Listes de contacts");
    staff_page(
        state,
        staff,
        "contacts/lists",
        &title,
        status,
        json!({
            "lists": lists,
            "values": values,
            "errors": errors,
            "summary": error_summary(contacts::LIST_FIELDS, errors),
        }),
    )
}

pub async fn lists_page(
    state: web::Data<AppState>,
    staff: Staff,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    render_lists(
        &state,
        &staff,
        &ListForm::default(),
        &FieldErrors::default(),
    )
    .await
}

#[derive(Debug, Default, Deserialize)]
pub struct ListBody {
    #[serde(default)]
    csrf: String,
    #[serde(flatten)]
    values: ListForm,
}

pub async fn create_list(
    state: web::Data<AppState>,
    staff: Staff,
    form: Form<ListBody>,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    staff.check_csrf(&form.csrf)?;
    let values = form.into_inner().values;
    let v = values.clone();
    let actor = staff.0.user_id;
    match db(&state, move |conn| {
        Ok(contacts::create_list(conn, Some(actor), &v)?)
    })
    .await?
    {
        Ok(id) => Ok(see_other(format!("/listes/{id}"))),
        Err(errors) => render_lists(&state, &staff, &values, &errors).await,
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ListQuery {
    q: String,
    page: String,
    retire: String,
}

pub async fn list_page(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    let id = path_id(&path)?;
    let page_no = page_number(&query.page);
    let filter = ContactFilter {
        text: query.q.trim().to_owned(),
        list_id: Some(id),
        ..ContactFilter::default()
    };
    let f = filter.clone();
    let directory::ListMembers {
        summary,
        members: (total, members),
        history,
    } = db(&state, move |conn| {
        directory::list_with_members(conn, id, &f, page_no, PER_PAGE)?.ok_or(AppError::NotFound)
    })
    .await?;
    let history: Vec<Value> = history
        .iter()
        .map(|r| {
            let counts = r.report.as_ref().map(|s| s.counts).unwrap_or_default();
            json!({
                "id": r.id,
                "filename": if r.filename.is_empty() { "contenu collé".to_owned() } else { r.filename.clone() },
                "by": r.uploaded_by.clone().unwrap_or_else(|| "ligne de commande".to_owned()),
                "applied_at": r.applied_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
                "counts": counts,
            })
        })
        .collect();
    page(
        &state,
        &staff,
        "contacts/list",
        &format!("Liste « {} »", summary.name),
        json!({
            "list": summary,
            "q": filter.text,
            "total": total,
            "members": members.iter().map(contact_row).collect::<Vec<_>>(),
            "pagination": pagination(&format!("/listes/{id}"), &[("q", filter.text.clone())], page_no, total),
            "history": history,
            "removed": !query.retire.is_empty(),
        }),
    )
}

#[derive(Debug, Default, Deserialize)]
pub struct RemoveForm {
    #[serde(default)]
    csrf: String,
    /// Where to go back: "contact" for the contact's page, otherwise the list.
    #[serde(default)]
    retour: String,
}

pub async fn remove_member(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<(String, String)>,
    form: Form<RemoveForm>,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    staff.check_csrf(&form.csrf)?;
    let (list, contact) = path.into_inner();
    let (list_id, contact_id) = (path_id(&list)?, path_id(&contact)?);
    if !db(&state, move |conn| {
        Ok(contacts::remove_member(conn, list_id, contact_id)?)
    })
    .await?
    {
        return Err(AppError::NotFound);
    }
    Ok(see_other(if form.retour == "contact" {
        format!("/contacts/{contact_id}")
    } else {
        format!("/listes/{list_id}?retire=1")
    }))
}
