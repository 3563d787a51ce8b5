//! Import and export of contacts: the upload form, the preview of what an upload would do, its
//! confirmation and report; the CSV export.

use actix_multipart::Multipart;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{options, Choice, CsrfOnly};
use crate::campaigns::contacts;
use crate::campaigns::import::{self, RowReport};
use crate::db::enums::{ContactKind, LegalBasis};
use crate::domain::FieldErrors;
use crate::error::AppError;
use crate::staff::COMMUNICATION;
use crate::web::body::Form;
use crate::web::pages::{error_summary, path_id, see_other, status_and_title};
use crate::web::staff::{page, staff_page, Staff};
use crate::web::{db, AppState};

/// Largest CSV accepted through the page (100,000 contacts take about 12 MB).
pub const MAX_UPLOAD_BYTES: usize = 32 * 1024 * 1024;
/// Rows shown in a preview, of each kind.
const PREVIEW_REJECTED: usize = 100;
const PREVIEW_ADDED: usize = 20;

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
        import::export(conn, actor, list_id)?.ok_or(AppError::NotFound)
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
    Ok(crate::web::pages::csv_download(&name, out))
}

// ---------------------------------------------------------------------------------------------
// Import

/// The upload form as sent.
#[derive(Debug, Default)]
struct UploadForm {
    csrf: String,
    liste: String,
    nouvelle_liste: String,
    /// Text fields sent with a control character (kept out, shown at their field).
    controls: Vec<&'static str>,
    kind: String,
    base_legale: String,
    contenu: String,
    filename: String,
    file: Vec<u8>,
}

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
            // A field the page shows again gets its message there; any other is refused.
            let shown = match name.as_str() {
                "nouvelle_liste" => Some("nouvelle_liste"),
                "contenu" => Some("fichier"),
                _ => None,
            };
            match shown {
                Some(field) => {
                    form.controls.push(field);
                    continue;
                }
                None => {
                    return Err(AppError::BadRequest(format!(
                        "Le champ « {} » contient un caractère de contrôle invisible (par \
                         exemple NUL), qui n'est pas accepté. Rien n'a été importé : \
                         retirez-le et recommencez.",
                        crate::web::inputs::shown_name(&name)
                    )))
                }
            }
        }
        match name.as_str() {
            "csrf" => form.csrf = text,
            "liste" => form.liste = text,
            "nouvelle_liste" => form.nouvelle_liste = text,
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
    new_list: &str,
    kind: &str,
    base: &str,
    contenu: &str,
    errors: &FieldErrors,
) -> Result<HttpResponse, AppError> {
    let lists = db(state, |conn| Ok(contacts::all_lists(conn)?)).await?;
    let list_options: Vec<Choice<i64, &str>> = lists
        .iter()
        .map(|l| Choice {
            value: l.id,
            label: l.name.as_str(),
            selected: list.trim() == l.id.to_string(),
        })
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
            "new_list": new_list,
            "kinds": options(ContactKind::ALL, kind, |k| k.code(), |k| k.label()),
            "bases": options(LegalBasis::ALL, base, |b| b.code(), |b| b.label()),
            "contenu": contenu,
            "errors": errors,
            "summary": error_summary(import::UPLOAD_FIELDS, errors),
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
    let mut form = read_upload(payload).await?;
    staff.check_csrf(&form.csrf)?;
    let file = std::mem::take(&mut form.file);
    let shown_again = |errors: FieldErrors| {
        let form = &form;
        let state = &state;
        let staff = &staff;
        async move {
            render_import_form(
                state,
                staff,
                &form.liste,
                &form.nouvelle_liste,
                &form.kind,
                &form.base_legale,
                &form.contenu,
                &errors,
            )
            .await
        }
    };
    if !form.controls.is_empty() {
        let mut errors = FieldErrors::default();
        for field in &form.controls {
            errors.add(
                field,
                "Ce champ contient un caractère de contrôle invisible (par exemple NUL), qui \
                 n'est pas accepté : retirez-le, puis recommencez. Rien n'a été importé.",
            );
        }
        return shown_again(errors).await;
    }
    let (content, filename) = if !file.is_empty() {
        (file, form.filename.clone())
    } else {
        (form.contenu.clone().into_bytes(), String::new())
    };
    let actor = staff.0.user_id;
    let (list, new_list) = (form.liste.clone(), form.nouvelle_liste.clone());
    let (kind, base) = (form.kind.clone(), form.base_legale.clone());
    let staged = db(&state, move |conn| {
        Ok(import::stage_upload(
            conn,
            Some(actor),
            import::Upload {
                list: &list,
                new_list: &new_list,
                kind: &kind,
                legal_basis: &base,
                filename: &filename,
                content: &content,
            },
        )?)
    })
    .await?;
    match staged {
        Ok(id) => Ok(see_other(format!("/contacts/import/{id}"))),
        Err(errors) => shown_again(errors).await,
    }
}

/// A row of a report; `preview` says what the import would do rather than what it did.
fn row_view(r: &RowReport, preview: bool) -> Value {
    json!({
        "line": r.line,
        "email": r.email,
        "name": r.name(),
        "outcome": if preview { r.outcome.preview_label() } else { r.outcome.label() },
        "reason": r.reason,
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
        import::find_with_preview(conn, id)?.ok_or(AppError::NotFound)
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
                    "format": report.format,
                    "counts": report.counts,
                    "rejected": report.rejected.iter().map(|r| row_view(r, false)).collect::<Vec<_>>(),
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
                .map(|r| row_view(r, true))
                .collect();
            let to_add: Vec<Value> = report
                .kept
                .iter()
                .take(PREVIEW_ADDED)
                .map(|r| row_view(r, true))
                .collect();
            (
                "Aperçu de l'import",
                json!({
                    "applied": false,
                    "just_applied": false,
                    "applied_at": null,
                    "format": report.format,
                    "counts": report.counts,
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
                "applied": false, "just_applied": false, "applied_at": null, "format": "",
                "counts": import::Counts::default(), "rejected": [], "to_add": [],
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

/// The rows an import refuses (its preview) or refused (its report), as a CSV to correct and
/// import again: the import's columns and the reason, `;`, UTF-8 with a byte-order mark.
pub async fn rejected_csv(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    let id = path_id(&path)?;
    let rows = db(&state, move |conn| {
        import::rejected_rows(conn, id)?.ok_or(AppError::NotFound)
    })
    .await?;
    let mut out = Vec::with_capacity(128 * (rows.len() + 1));
    import::write_rejected_csv(&rows, &mut out)
        .map_err(|e| AppError::Unexpected(anyhow::anyhow!("writing CSV: {e}")))?;
    Ok(crate::web::pages::csv_download(
        &format!("import-{id}-lignes-refusees.csv"),
        out,
    ))
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
