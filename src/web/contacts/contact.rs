//! Contacts: the searchable directory, the contact form (add, change), deletion, adding a
//! contact to a list.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{
    contact_row, full_name, optional_id, options, page_number, pagination, radios, Choice,
};
use super::{CsrfOnly, PER_PAGE};
use crate::campaigns::contacts::{self, ContactFilter, ContactForm};
use crate::campaigns::directory;
use crate::db::enums::{ContactKind, ContactStatus, LegalBasis};
use crate::domain::FieldErrors;
use crate::error::AppError;
use crate::staff::COMMUNICATION;
use crate::web::body::Form;
use crate::web::pages::{error_summary, path_id, see_other, status_and_title};
use crate::web::staff::{page, staff_page, Staff};
use crate::web::{db, AppState};

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ContactsQuery {
    q: String,
    liste: String,
    #[serde(rename = "type")]
    kind: String,
    statut: String,
    page: String,
    supprime: String,
}

pub async fn contacts_page(
    state: web::Data<AppState>,
    staff: Staff,
    query: web::Query<ContactsQuery>,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    let q = query.into_inner();
    let filter = ContactFilter {
        text: q.q.trim().to_owned(),
        list_id: optional_id(&q.liste),
        kind: ContactKind::from_code(&q.kind),
        status: ContactStatus::from_code(&q.statut),
    };
    let page_no = page_number(&q.page);
    let f = filter.clone();
    let (lists, (total, rows)) = db(&state, move |conn| {
        Ok(directory::browse(conn, &f, page_no, PER_PAGE)?)
    })
    .await?;
    let list_id = filter.list_id.map(|id| id.to_string()).unwrap_or_default();
    let list_options: Vec<Choice<i64, &str>> = lists
        .iter()
        .map(|l| Choice {
            value: l.id,
            label: l.name.as_str(),
            selected: Some(l.id) == filter.list_id,
        })
        .collect();
    let export = match filter.list_id {
        Some(id) => format!("/contacts/export.csv?liste={id}"),
        None => "/contacts/export.csv".to_owned(),
    };
    let params = [
        ("q", filter.text.clone()),
        ("liste", list_id.clone()),
        (
            "type",
            filter.kind.map(|k| k.code().to_owned()).unwrap_or_default(),
        ),
        (
            "statut",
            filter
                .status
                .map(|s| s.code().to_owned())
                .unwrap_or_default(),
        ),
    ];
    page(
        &state,
        &staff,
        "contacts/index",
        "Contacts",
        json!({
            "filter": { "q": filter.text },
            "lists": list_options,
            "kinds": options(ContactKind::ALL, filter.kind.map(|k| k.code()).unwrap_or(""), |k| k.code(), |k| k.label()),
            "statuses": options(ContactStatus::ALL, filter.status.map(|s| s.code()).unwrap_or(""), |s| s.code(), |s| s.label()),
            "total": total,
            "contacts": rows.iter().map(contact_row).collect::<Vec<_>>(),
            "pagination": pagination("/contacts", &params, page_no, total),
            "export": export,
            "deleted": !q.supprime.is_empty(),
        }),
    )
}

/// The contact form (new when `id` is None), with its values and per-field errors.
async fn render_contact(
    state: &AppState,
    staff: &Staff,
    id: Option<i64>,
    values: &ContactForm,
    errors: &FieldErrors,
    notice: Option<&str>,
) -> Result<HttpResponse, AppError> {
    let (orgs, details) = db(state, move |conn| {
        directory::contact_form(conn, id)?.ok_or(AppError::NotFound)
    })
    .await?;
    let org_options: Vec<Choice<i64, String>> = orgs
        .iter()
        .map(|o| Choice {
            value: o.id,
            label: if o.city.is_empty() {
                o.name.clone()
            } else {
                format!("{} ({})", o.name, o.city)
            },
            selected: values.organisation.trim() == o.id.to_string(),
        })
        .collect();
    let heading = if id.is_some() {
        "Modifier un contact"
    } else {
        "Ajouter un contact"
    };
    let (status, title) = status_and_title(errors, heading);
    let contact = details.map(|record| {
        let directory::ContactRecord {
            contact: c,
            member_of,
            all_lists: all,
            suppressed,
        } = record;
        let lists: Vec<Value> = member_of
            .iter()
            .map(|l| json!({ "id": l.id, "name": l.name }))
            .collect();
        let others: Vec<Value> = all
            .iter()
            .filter(|l| !member_of.iter().any(|m| m.id == l.id))
            .map(|l| json!({ "id": l.id, "name": l.name }))
            .collect();
        json!({
            "id": c.id,
            "name": full_name(&c.first_name, &c.last_name),
            "email": c.email,
            "status": c.status.label(),
            "created_at": c.created_at.to_rfc3339(),
            "updated_at": c.updated_at.to_rfc3339(),
            "lists": lists,
            "other_lists": others,
            "suppressed": suppressed.map(|(reason, at)| json!({ "reason": reason.label(), "at": at.to_rfc3339() })),
        })
    });
    staff_page(
        state,
        staff,
        "contacts/contact",
        &title,
        status,
        json!({
            "heading": heading,
            "action": match id { Some(id) => format!("/contacts/{id}"), None => "/contacts/nouveau".to_owned() },
            "values": values,
            "errors": errors,
            "summary": error_summary(contacts::FORM_FIELDS, errors),
            "organisations": org_options,
            "no_organisation": values.organisation.trim().is_empty(),
            "kinds": radios(ContactKind::ALL, "type", &values.kind, |k| k.code(), |k| k.label()),
            "bases": radios(LegalBasis::ALL, "base_legale", &values.base_legale, |b| b.code(), |b| b.label()),
            "contact": contact,
            "notice": notice,
        }),
    )
}

pub async fn new_contact(
    state: web::Data<AppState>,
    staff: Staff,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    let values = ContactForm {
        kind: ContactKind::Doctor.code().to_owned(),
        base_legale: LegalBasis::LegitimateInterest.code().to_owned(),
        ..ContactForm::default()
    };
    render_contact(&state, &staff, None, &values, &FieldErrors::default(), None).await
}

#[derive(Debug, Default, Deserialize)]
pub struct NoticeQuery {
    #[serde(default)]
    enregistre: String,
}

pub async fn edit_contact(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
    query: web::Query<NoticeQuery>,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    let id = path_id(&path)?;
    let contact = db(&state, move |conn| Ok(contacts::find(conn, id)?))
        .await?
        .ok_or(AppError::NotFound)?;
    let notice = (!query.enregistre.is_empty()).then_some("Le contact est enregistré.");
    render_contact(
        &state,
        &staff,
        Some(id),
        &ContactForm::from_contact(&contact),
        &FieldErrors::default(),
        notice,
    )
    .await
}

#[derive(Debug, Default, Deserialize)]
pub struct ContactBody {
    #[serde(default)]
    csrf: String,
    #[serde(flatten)]
    values: ContactForm,
}

async fn save_contact(
    state: &AppState,
    staff: &Staff,
    id: Option<i64>,
    body: ContactBody,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    staff.check_csrf(&body.csrf)?;
    let values = body.values;
    let changes = match values.validate() {
        Ok(c) => c,
        Err(errors) => return render_contact(state, staff, id, &values, &errors, None).await,
    };
    let actor = staff.0.user_id;
    let saved = db(state, move |conn| {
        Ok(match id {
            None => contacts::create(conn, actor, &changes)?,
            Some(id) => contacts::update(conn, actor, id, &changes)?.map(|()| id),
        })
    })
    .await?;
    match saved {
        Ok(id) => Ok(see_other(format!("/contacts/{id}?enregistre=1"))),
        Err(contacts::SaveError::NotFound) => Err(AppError::NotFound),
        Err(contacts::SaveError::Invalid(errors)) => {
            render_contact(state, staff, id, &values, &errors, None).await
        }
    }
}

pub async fn create_contact(
    state: web::Data<AppState>,
    staff: Staff,
    form: Form<ContactBody>,
) -> Result<HttpResponse, AppError> {
    save_contact(&state, &staff, None, form.into_inner()).await
}

pub async fn update_contact(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
    form: Form<ContactBody>,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    let id = path_id(&path)?;
    save_contact(&state, &staff, Some(id), form.into_inner()).await
}

pub async fn confirm_delete(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    let id = path_id(&path)?;
    let (contact, suppressed) = db(&state, move |conn| {
        directory::before_deletion(conn, id)?.ok_or(AppError::NotFound)
    })
    .await?;
    page(
        &state,
        &staff,
        "contacts/delete",
        "Supprimer un contact",
        json!({
            "contact": {
                "id": contact.id,
                "email": contact.email,
                "name": full_name(&contact.first_name, &contact.last_name),
            },
            "suppressed": suppressed.map(|(r, _)| r.label()),
        }),
    )
}

pub async fn delete_contact(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
    form: Form<CsrfOnly>,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    staff.check_csrf(&form.csrf)?;
    let id = path_id(&path)?;
    let actor = staff.0.user_id;
    if !db(&state, move |conn| Ok(contacts::delete(conn, actor, id)?)).await? {
        return Err(AppError::NotFound);
    }
    Ok(see_other("/contacts?supprime=1"))
}

#[derive(Debug, Default, Deserialize)]
pub struct AddToListForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    liste: String,
}

pub async fn add_to_list(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
    form: Form<AddToListForm>,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    staff.check_csrf(&form.csrf)?;
    let id = path_id(&path)?;
    let Some(list_id) = optional_id(&form.liste) else {
        return Err(AppError::BadRequest(
            "Choisissez une liste dans la liste proposée.".to_owned(),
        ));
    };
    if !db(&state, move |conn| {
        Ok(contacts::add_member(conn, list_id, id)?)
    })
    .await?
    {
        return Err(AppError::NotFound);
    }
    Ok(see_other(format!("/contacts/{id}")))
}
