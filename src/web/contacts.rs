//! The communications staff's audiences: contacts, lists, CSV import (preview, then
//! confirmation) and export, the suppression list and organisations.

use actix_multipart::Multipart;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{json, Value};

use super::pages::{error_summary, path_id, see_other, status_and_title};
use crate::campaigns::contacts::{self, ContactFilter, ContactForm, ListForm};
use crate::campaigns::import::{self, Defaults, RowReport};
use crate::campaigns::organisations::{self, OrganisationForm};
use crate::db::enums::{ContactKind, ContactStatus, LegalBasis, OrganisationKind};
use crate::domain::EmailAddress;
use crate::domain::FieldErrors;
use crate::error::AppError;
use crate::staff::COMMUNICATION;
use crate::web::body::Form;
use crate::web::staff::{page, staff_page, Staff};
use crate::web::{db, AppState};

/// Communications staff (and administrators).
const PER_PAGE: i64 = 50;
/// Largest CSV accepted through the page (100,000 contacts take about 12 MB).
pub const MAX_UPLOAD_BYTES: usize = 32 * 1024 * 1024;
/// Rows shown in a preview, of each kind.
const PREVIEW_REJECTED: usize = 100;
const PREVIEW_ADDED: usize = 20;

/// Registers the audiences' pages.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/contacts", web::get().to(contacts_page))
        .service(
            web::resource("/contacts/nouveau")
                .route(web::get().to(new_contact))
                .route(web::post().to(create_contact)),
        )
        .route("/contacts/export.csv", web::get().to(export_csv))
        .service(
            web::resource("/contacts/import")
                .route(web::get().to(import_form))
                .route(web::post().to(upload)),
        )
        .service(
            web::resource("/contacts/import/{id}")
                .route(web::get().to(import_page))
                .route(web::post().to(confirm_import)),
        )
        .service(
            web::resource("/contacts/desinscriptions")
                .route(web::get().to(suppressions_page))
                .route(web::post().to(add_suppression)),
        )
        .service(
            web::resource("/contacts/organisations")
                .route(web::get().to(organisations_page))
                .route(web::post().to(create_organisation)),
        )
        .service(
            web::resource("/contacts/organisations/facultes").route(web::post().to(load_faculties)),
        )
        .service(
            web::resource("/contacts/{id}")
                .route(web::get().to(edit_contact))
                .route(web::post().to(update_contact)),
        )
        .service(
            web::resource("/contacts/{id}/supprimer")
                .route(web::get().to(confirm_delete))
                .route(web::post().to(delete_contact)),
        )
        .service(web::resource("/contacts/{id}/listes").route(web::post().to(add_to_list)))
        .service(
            web::resource("/listes")
                .route(web::get().to(lists_page))
                .route(web::post().to(create_list)),
        )
        .route("/listes/{id}", web::get().to(list_page))
        .service(
            web::resource("/listes/{id}/membres/{contact}/retirer")
                .route(web::post().to(remove_member)),
        );
}

// ---------------------------------------------------------------------------------------------
// Helpers

/// Radio buttons for an enumeration: the first carries the field's id (the summary links to
/// it), the others `field-code`.
fn radios<T: Copy>(
    all: &[T],
    field: &str,
    chosen: &str,
    code: impl Fn(T) -> &'static str,
    label: impl Fn(T) -> &'static str,
) -> Vec<Value> {
    all.iter()
        .enumerate()
        .map(|(i, k)| {
            json!({
                "value": code(*k),
                "label": label(*k),
                "input_id": if i == 0 { field.to_owned() } else { format!("{field}-{}", code(*k)) },
                "checked": chosen == code(*k),
            })
        })
        .collect()
}

/// `<option>`s for an enumeration.
fn options<T: Copy>(
    all: &[T],
    chosen: &str,
    code: impl Fn(T) -> &'static str,
    label: impl Fn(T) -> &'static str,
) -> Vec<Value> {
    all.iter()
        .map(|k| json!({ "value": code(*k), "label": label(*k), "selected": chosen == code(*k) }))
        .collect()
}

/// Previous / next links of a paged table.
fn pagination(base: &str, params: &[(&str, String)], page: i64, total: i64) -> Value {
    let pages = ((total + PER_PAGE - 1) / PER_PAGE).max(1);
    let link = |p: i64| {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in params {
            if !v.is_empty() {
                s.append_pair(k, v);
            }
        }
        if p > 1 {
            s.append_pair("page", &p.to_string());
        }
        let q = s.finish();
        if q.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{q}")
        }
    };
    json!({
        "page": page,
        "pages": pages,
        "several": pages > 1,
        "previous": (page > 1).then(|| link(page - 1)),
        "next": (page < pages).then(|| link(page + 1)),
    })
}

fn page_number(raw: &str) -> i64 {
    raw.trim()
        .parse::<i64>()
        .ok()
        .filter(|p| *p >= 1)
        .unwrap_or(1)
}

fn optional_id(raw: &str) -> Option<i64> {
    raw.trim().parse().ok()
}

fn full_name(first: &str, last: &str) -> String {
    format!("{first} {last}").trim().to_owned()
}

fn contact_row(c: &contacts::ContactRow) -> Value {
    json!({
        "id": c.id,
        "email": c.email,
        "name": full_name(&c.first_name, &c.last_name),
        "organisation": c.organisation.clone().unwrap_or_default(),
        "kind": c.kind.label(),
        "tags": c.tags.join(", "),
        "city": c.city,
        "status": c.status.label(),
        "inactive": c.status != ContactStatus::Active,
    })
}

// ---------------------------------------------------------------------------------------------
// Contacts

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
        Ok((
            contacts::all_lists(conn)?,
            contacts::search(conn, &f, page_no, PER_PAGE)?,
        ))
    })
    .await?;
    let list_id = filter.list_id.map(|id| id.to_string()).unwrap_or_default();
    let list_options: Vec<Value> = lists
        .iter()
        .map(
            |l| json!({ "value": l.id, "label": l.name, "selected": Some(l.id) == filter.list_id }),
        )
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
        let orgs = organisations::all_by_name(conn)?;
        let details = match id {
            None => None,
            Some(id) => {
                let contact = contacts::find(conn, id)?.ok_or(AppError::NotFound)?;
                let member_of = contacts::lists_of(conn, id)?;
                let all = contacts::all_lists(conn)?;
                let suppressed = contacts::suppression_of(conn, &contact.email)?;
                Some((contact, member_of, all, suppressed))
            }
        };
        Ok((orgs, details))
    })
    .await?;
    let org_options: Vec<Value> = orgs
        .iter()
        .map(|o| {
            let label = if o.city.is_empty() {
                o.name.clone()
            } else {
                format!("{} ({})", o.name, o.city)
            };
            json!({ "value": o.id, "label": label, "selected": values.organisation.trim() == o.id.to_string() })
        })
        .collect();
    let heading = if id.is_some() {
        "Modifier un contact"
    } else {
        "Ajouter un contact"
    };
    let (status, title) = status_and_title(errors, heading);
    let contact = details.map(|(c, member_of, all, suppressed)| {
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
        let c = contacts::find(conn, id)?.ok_or(AppError::NotFound)?;
        let s = contacts::suppression_of(conn, &c.email)?;
        Ok((c, s))
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

#[derive(Debug, Default, Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
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

// ---------------------------------------------------------------------------------------------
// Export

#[derive(Debug, Default, Deserialize)]
pub struct ExportQuery {
    #[serde(default)]
    liste: String,
}

/// Contacts in the import's columns: UTF-8 with a byte-order mark, `;`-separated (what French
/// spreadsheets expect), formula-looking cells neutralised.
pub async fn export_csv(
    state: web::Data<AppState>,
    staff: Staff,
    query: web::Query<ExportQuery>,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    let list_id = match query.liste.trim() {
        "" => None,
        raw => Some(path_id(raw)?),
    };
    let actor = staff.0.user_id;
    let (rows, list_name) = db(&state, move |conn| {
        let name = match list_id {
            None => None,
            Some(id) => Some(
                contacts::find_list(conn, id)?
                    .ok_or(AppError::NotFound)?
                    .name,
            ),
        };
        let rows = import::export_rows(conn, list_id)?;
        crate::staff::audit::audit(
            conn,
            Some(actor),
            "export_contacts",
            "contact_list",
            list_id,
            &format!(
                "{} : {} contacts",
                name.as_deref()
                    .map(|n| format!("liste « {n} »"))
                    .unwrap_or_else(|| "tous les contacts".to_owned()),
                rows.len()
            ),
        )?;
        Ok((rows, name))
    })
    .await?;
    let mut out = Vec::with_capacity(96 * (rows.len() + 1));
    import::write_csv(&rows, &mut out, true)
        .map_err(|e| AppError::Unexpected(anyhow::anyhow!("writing CSV: {e}")))?;
    let stem = match (list_id, list_name) {
        (Some(id), Some(_)) => format!("contacts-liste-{id}"),
        _ => "contacts".to_owned(),
    };
    let name = format!("{stem}-{}.csv", chrono::Utc::now().format("%Y-%m-%d"));
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(out))
}

// ---------------------------------------------------------------------------------------------
// Import

/// The upload form as sent.
#[derive(Debug, Default)]
struct UploadForm {
    csrf: String,
    liste: String,
    kind: String,
    base_legale: String,
    contenu: String,
    filename: String,
    file: Vec<u8>,
}

const UPLOAD_FIELDS: &[(&str, &str)] = &[
    ("liste", "Liste"),
    ("fichier", "Fichier CSV"),
    ("type", "Type par défaut"),
    ("base_legale", "Base légale par défaut"),
];

/// Reads the multipart upload within [`MAX_UPLOAD_BYTES`].
async fn read_upload(mut payload: Multipart) -> Result<UploadForm, AppError> {
    let mut form = UploadForm::default();
    let mut total = 0usize;
    let too_large = || {
        AppError::PayloadTooLarge(format!(
            "Le fichier dépasse {} Mo : découpez-le en plusieurs fichiers, ou importez-le avec \
             la commande « vocation contacts import ».",
            MAX_UPLOAD_BYTES / (1024 * 1024)
        ))
    };
    while let Some(item) = payload.next().await {
        let mut field = item.map_err(|e| crate::web::inputs::multipart_failure(&e))?;
        let name = field.name().unwrap_or_default().to_owned();
        if name == "fichier" {
            form.filename = field
                .content_disposition()
                .and_then(|cd| cd.get_filename())
                .unwrap_or_default()
                .to_owned();
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|e| crate::web::inputs::multipart_failure(&e))?;
            total += chunk.len();
            if total > MAX_UPLOAD_BYTES + 64 * 1024 {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        if name == "fichier" {
            if bytes.len() > MAX_UPLOAD_BYTES {
                return Err(too_large());
            }
            form.file = bytes;
            continue;
        }
        let text = String::from_utf8(bytes).map_err(|_| {
            AppError::BadRequest(
                "Le formulaire contient des caractères illisibles (encodage UTF-8 attendu)."
                    .to_owned(),
            )
        })?;
        if crate::web::inputs::has_control(&text) {
            return Err(AppError::BadRequest(format!(
                "Le champ « {} » contient un caractère de contrôle invisible (par exemple NUL), \
                 qui n'est pas accepté. Rien n'a été importé : retirez-le et recommencez.",
                crate::web::inputs::shown_name(&name)
            )));
        }
        match name.as_str() {
            "csrf" => form.csrf = text,
            "liste" => form.liste = text,
            "type" => form.kind = text,
            "base_legale" => form.base_legale = text,
            "contenu" => form.contenu = text,
            _ => {}
        }
    }
    Ok(form)
}

#[allow(clippy::too_many_arguments)]
async fn render_import_form(
    state: &AppState,
    staff: &Staff,
    list: &str,
    kind: &str,
    base: &str,
    contenu: &str,
    errors: &FieldErrors,
) -> Result<HttpResponse, AppError> {
    let lists = db(state, |conn| Ok(contacts::all_lists(conn)?)).await?;
    let list_options: Vec<Value> = lists
        .iter()
        .map(|l| json!({ "value": l.id, "label": l.name, "selected": list.trim() == l.id.to_string() }))
        .collect();
    let (status, title) = status_and_title(errors, "Importer des contacts");
    staff_page(
        state,
        staff,
        "contacts/import",
        &title,
        status,
        json!({
            "lists": list_options,
            "has_lists": !lists.is_empty(),
            "kinds": options(ContactKind::ALL, kind, |k| k.code(), |k| k.label()),
            "bases": options(LegalBasis::ALL, base, |b| b.code(), |b| b.label()),
            "contenu": contenu,
            "errors": errors,
            "summary": error_summary(UPLOAD_FIELDS, errors),
            "max_mb": MAX_UPLOAD_BYTES / (1024 * 1024),
        }),
    )
}

pub async fn import_form(
    state: web::Data<AppState>,
    staff: Staff,
    query: web::Query<ExportQuery>,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    render_import_form(
        &state,
        &staff,
        &query.liste,
        "",
        LegalBasis::LegitimateInterest.code(),
        "",
        &FieldErrors::default(),
    )
    .await
}

/// Keeps the upload and shows what it would do (nothing is imported yet).
pub async fn upload(
    state: web::Data<AppState>,
    staff: Staff,
    req: HttpRequest,
    payload: Multipart,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    let is_multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));
    if !is_multipart {
        return Err(AppError::UnsupportedMediaType(
            "L'import s'envoie depuis la page /contacts/import (format multipart/form-data)."
                .to_owned(),
        ));
    }
    let form = read_upload(payload).await?;
    staff.check_csrf(&form.csrf)?;
    let mut errors = FieldErrors::default();
    let list_id = optional_id(&form.liste);
    let list_exists = match list_id {
        None => false,
        Some(id) => db(&state, move |conn| Ok(contacts::find_list(conn, id)?))
            .await?
            .is_some(),
    };
    if !list_exists {
        errors.add(
            "liste",
            "Choisissez la liste dans laquelle importer les contacts.",
        );
    }
    let kind = match form.kind.trim() {
        "" => Some(None),
        code => ContactKind::from_code(code).map(Some),
    };
    if kind.is_none() {
        errors.add("type", "Choisissez un type dans la liste, ou « Aucun ».");
    }
    let legal_basis = match form.base_legale.trim() {
        "" => Some(None),
        code => LegalBasis::from_code(code).map(Some),
    };
    if legal_basis.is_none() {
        errors.add(
            "base_legale",
            "Choisissez une base légale dans la liste, ou « Aucune ».",
        );
    }
    let (content, filename) = if !form.file.is_empty() {
        (form.file, form.filename.clone())
    } else {
        (form.contenu.clone().into_bytes(), String::new())
    };
    if content.iter().all(|b| b.is_ascii_whitespace()) {
        errors.add(
            "fichier",
            "Choisissez un fichier CSV, ou collez son contenu dans la zone de texte.",
        );
    } else if let Err(e) = import::check_file(&content) {
        errors.add("fichier", e.to_string());
    }
    let (Some(list_id), Some(kind), Some(legal_basis), true) =
        (list_id, kind, legal_basis, errors.is_empty())
    else {
        return render_import_form(
            &state,
            &staff,
            &form.liste,
            &form.kind,
            &form.base_legale,
            &form.contenu,
            &errors,
        )
        .await;
    };
    let defaults = Defaults { kind, legal_basis };
    let actor = staff.0.user_id;
    let id = db(&state, move |conn| {
        Ok(import::stage(
            conn,
            list_id,
            Some(actor),
            &filename,
            &content,
            defaults,
        )?)
    })
    .await?;
    Ok(see_other(format!("/contacts/import/{id}")))
}

fn row_view(r: &RowReport) -> Value {
    json!({
        "line": r.line,
        "email": r.email,
        "outcome": r.outcome.label(),
        "reason": r.reason,
    })
}

fn counts_view(c: &import::Counts) -> Value {
    json!({
        "rows": c.rows,
        "added": c.added,
        "added_to_list": c.added_to_list,
        "already_in_list": c.already_in_list,
        "rejected": c.rejected,
        "completed": c.completed,
        "organisations_created": c.organisations_created,
    })
}

#[derive(Debug, Default, Deserialize)]
pub struct AppliedQuery {
    #[serde(default)]
    applique: String,
}

/// A staged upload's preview, or an applied import's report.
pub async fn import_page(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
    query: web::Query<AppliedQuery>,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    let id = path_id(&path)?;
    let (record, preview) = db(&state, move |conn| {
        let record = import::find(conn, id)?.ok_or(AppError::NotFound)?;
        let preview = if record.applied_at.is_none() {
            import::preview(conn, id)?
        } else {
            None
        };
        Ok((record, preview))
    })
    .await?;
    let defaults = json!({
        "kind": record.defaults.kind.map(|k| k.label()).unwrap_or("aucun (colonne obligatoire)"),
        "legal_basis": record.defaults.legal_basis.map(|b| b.label()).unwrap_or("aucune (colonne obligatoire)"),
    });
    let common = json!({
        "id": record.id,
        "list": { "id": record.list_id, "name": record.list_name },
        "filename": record.filename,
        "uploaded_by": record.uploaded_by.clone().unwrap_or_else(|| "ligne de commande".to_owned()),
        "created_at": record.created_at.to_rfc3339(),
        "defaults": defaults,
    });
    let (title, extra) = match (record.applied_at, record.report, preview) {
        (Some(at), report, _) => {
            let report = report.unwrap_or_default();
            (
                "Bilan de l'import",
                json!({
                    "applied": true,
                    "just_applied": !query.applique.is_empty(),
                    "applied_at": at.to_rfc3339(),
                    "counts": counts_view(&report.counts),
                    "rejected": report.rejected.iter().map(row_view).collect::<Vec<_>>(),
                    "rejected_not_kept": report.rejected_not_kept,
                    "ignored_columns": report.ignored_columns.join(", "),
                    "new_organisations": report.new_organisations.join(", "),
                    "to_add": [],
                    "more_rejected": 0,
                    "error": null,
                }),
            )
        }
        (None, _, Some(Ok(report))) => {
            let rejected: Vec<Value> = report
                .rejected
                .iter()
                .take(PREVIEW_REJECTED)
                .map(row_view)
                .collect();
            let to_add: Vec<Value> = report
                .kept
                .iter()
                .take(PREVIEW_ADDED)
                .map(row_view)
                .collect();
            (
                "Aperçu de l'import",
                json!({
                    "applied": false,
                    "just_applied": false,
                    "applied_at": null,
                    "counts": counts_view(&report.counts),
                    "more_rejected": report.counts.rejected.saturating_sub(rejected.len()),
                    "rejected": rejected,
                    "rejected_not_kept": 0,
                    "ignored_columns": report.ignored_columns.join(", "),
                    "new_organisations": report.new_organisations.join(", "),
                    "to_add": to_add,
                    "error": null,
                }),
            )
        }
        (None, _, Some(Err(e))) => (
            "Aperçu de l'import",
            json!({
                "applied": false, "just_applied": false, "applied_at": null,
                "counts": counts_view(&import::Counts::default()), "rejected": [], "to_add": [],
                "more_rejected": 0, "rejected_not_kept": 0, "ignored_columns": "",
                "new_organisations": "", "error": e.to_string(),
            }),
        ),
        (None, _, None) => return Err(AppError::NotFound),
    };
    let mut data = common;
    if let (Some(obj), Value::Object(extra)) = (data.as_object_mut(), extra) {
        obj.extend(extra);
    }
    page(
        &state,
        &staff,
        "contacts/import_report",
        title,
        json!({ "import": data }),
    )
}

/// Applies a previewed upload, once: a second click shows the same report.
pub async fn confirm_import(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
    form: Form<CsrfOnly>,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    staff.check_csrf(&form.csrf)?;
    let id = path_id(&path)?;
    let actor = staff.0.user_id;
    let started = std::time::Instant::now();
    let result = db(&state, move |conn| {
        Ok(import::apply(conn, id, Some(actor))?)
    })
    .await?;
    match result {
        Ok(report) => {
            tracing::info!(
                import_id = id,
                rows = report.counts.rows,
                added = report.counts.added,
                rejected = report.counts.rejected,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "contacts imported"
            );
            Ok(see_other(format!("/contacts/import/{id}?applique=1")))
        }
        Err(import::ApplyError::AlreadyApplied(_)) => {
            Ok(see_other(format!("/contacts/import/{id}")))
        }
        Err(import::ApplyError::NotFound) => Err(AppError::NotFound),
        Err(import::ApplyError::File(e)) => Err(AppError::Unprocessable(e.to_string())),
    }
}

// ---------------------------------------------------------------------------------------------
// Suppression list

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SuppressionsQuery {
    q: String,
    page: String,
    ajout: String,
}

#[derive(Debug, Default, Deserialize, serde::Serialize)]
#[serde(default)]
pub struct SuppressionForm {
    #[serde(skip_serializing)]
    csrf: String,
    courriel: String,
    note: String,
}

const SUPPRESSION_FIELDS: &[(&str, &str)] =
    &[("courriel", "Adresse électronique"), ("note", "Note")];

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
    let mut errors = FieldErrors::default();
    let email = EmailAddress::parse(&form.courriel)
        .map_err(|e| {
            errors.add(
                "courriel",
                e.0.replace("Indiquez votre adresse", "Indiquez l'adresse"),
            )
        })
        .ok();
    let note = form.note.split_whitespace().collect::<Vec<_>>().join(" ");
    if note.chars().count() > 500 {
        errors.add("note", "500 caractères au plus.");
    }
    let Some(email) = email.filter(|_| errors.is_empty()) else {
        return render_suppressions(&state, &staff, "", 1, &form, &errors, None).await;
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

// ---------------------------------------------------------------------------------------------
// Organisations

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct OrganisationsQuery {
    facultes: String,
    enregistre: String,
}

async fn render_organisations(
    state: &AppState,
    staff: &Staff,
    values: &OrganisationForm,
    errors: &FieldErrors,
    notice: Option<String>,
) -> Result<HttpResponse, AppError> {
    let all = db(state, |conn| Ok(organisations::with_contact_counts(conn)?)).await?;
    let rows: Vec<Value> = all
        .iter()
        .map(|(o, n)| json!({ "name": o.name, "kind": o.kind.label(), "city": o.city, "contacts": n }))
        .collect();
    let (status, title) = status_and_title(errors, "Organisations");
    staff_page(
        state,
        staff,
        "contacts/organisations",
        &title,
        status,
        json!({
            "organisations": rows,
            "values": values,
            "errors": errors,
            "summary": error_summary(organisations::FORM_FIELDS, errors),
            "kinds": radios(OrganisationKind::ALL, "type", &values.kind, |k| k.code(), |k| k.label()),
            "notice": notice,
        }),
    )
}

pub async fn organisations_page(
    state: web::Data<AppState>,
    staff: Staff,
    query: web::Query<OrganisationsQuery>,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    let notice = if !query.enregistre.is_empty() {
        Some("L'organisation est enregistrée.".to_owned())
    } else {
        match query.facultes.trim().parse::<usize>() {
            Ok(0) => {
                Some("Les facultés de médecine étaient déjà chargées : rien d'ajouté.".to_owned())
            }
            Ok(n) => Some(format!("{n} facultés de médecine ajoutées.")),
            Err(_) => None,
        }
    };
    let values = OrganisationForm {
        kind: OrganisationKind::Establishment.code().to_owned(),
        ..OrganisationForm::default()
    };
    render_organisations(&state, &staff, &values, &FieldErrors::default(), notice).await
}

#[derive(Debug, Default, Deserialize)]
pub struct OrganisationBody {
    #[serde(default)]
    csrf: String,
    #[serde(flatten)]
    values: OrganisationForm,
}

pub async fn create_organisation(
    state: web::Data<AppState>,
    staff: Staff,
    form: Form<OrganisationBody>,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    staff.check_csrf(&form.csrf)?;
    let values = form.into_inner().values;
    let v = values.clone();
    let actor = staff.0.user_id;
    match db(&state, move |conn| {
        Ok(organisations::create(conn, actor, &v)?)
    })
    .await?
    {
        Ok(_) => Ok(see_other("/contacts/organisations?enregistre=1")),
        Err(errors) => render_organisations(&state, &staff, &values, &errors, None).await,
    }
}

pub async fn load_faculties(
    state: web::Data<AppState>,
    staff: Staff,
    form: Form<CsrfOnly>,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    staff.check_csrf(&form.csrf)?;
    let actor = staff.0.user_id;
    let added = db(&state, move |conn| {
        let added = organisations::load_faculties(conn)?;
        crate::staff::audit::audit(
            conn,
            Some(actor),
            "chargement_facultes",
            "organisation",
            None,
            &format!("{added} facultés ajoutées"),
        )?;
        Ok(added)
    })
    .await?;
    Ok(see_other(format!(
        "/contacts/organisations?facultes={added}"
    )))
}

// ---------------------------------------------------------------------------------------------
// Lists

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
    let (summary, (total, members), history) = db(&state, move |conn| {
        let summary = contacts::lists_with_counts(conn)?
            .into_iter()
            .find(|l| l.id == id)
            .ok_or(AppError::NotFound)?;
        let members = contacts::search(conn, &f, page_no, PER_PAGE)?;
        let history = import::history(conn, id)?;
        Ok((summary, members, history))
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
                "counts": counts_view(&counts),
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
