//! What every handler answers with: a rendered page, a redirect after a form, the error summary
//! and status of a staff form, an id read from the path.

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use serde_json::{json, Value};

use crate::domain::fields::{FieldErrors, SummaryItem};
use crate::error::AppError;
use crate::templates;
use crate::web::AppState;

/// An HTML page with its status.
pub fn html(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(body)
}

/// Renders the page template `name` with `data`, and the page's meta description (see
/// `web::meta`) unless `data` brings its own `meta_description`.
pub fn render(name: &str, data: &Value) -> Result<String, AppError> {
    let mut data = data.clone();
    if let Some(obj) = data.as_object_mut() {
        if !obj.contains_key("meta_description") {
            let text = super::meta::description(name).unwrap_or_default();
            obj.insert("meta_description".into(), Value::from(text));
        }
        for key in ["canonical", "feed"] {
            obj.entry(key).or_insert(Value::Bool(false));
        }
    }
    templates::global()
        .render_page(name, &data)
        .map_err(|e| AppError::Unexpected(anyhow::anyhow!("rendering {name}: {e}")))
}

/// What every public page's layout needs.
pub fn page(state: &AppState, title: &str, extra: Value) -> Value {
    let mut v = json!({
        "title": title,
        "org": state.settings.organisation,
        "privacy": state.settings.privacy,
    });
    if let (Some(obj), Value::Object(extra)) = (v.as_object_mut(), extra) {
        obj.extend(extra);
    }
    v
}

/// 303 See Other: after a form is handled, the browser loads the next page with GET.
/// A CSV file to download as `filename` (never cached: it holds personal data).
pub fn csv_download(filename: &str, body: Vec<u8>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}\""),
        ))
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .body(body)
}

pub fn see_other(location: impl Into<String>) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((actix_web::http::header::LOCATION, location.into()))
        .finish()
}

/// An id from the path; anything else is a page that does not exist.
pub fn path_id(raw: &str) -> Result<i64, AppError> {
    raw.parse().map_err(|_| AppError::NotFound)
}

/// The error summary shown above a staff form: one entry per field in error, in the form's
/// order, each linking to its field.
pub fn error_summary(
    fields: &[(&'static str, &'static str)],
    errors: &FieldErrors,
) -> Vec<SummaryItem> {
    errors.summary(fields)
}

/// A staff form's status and page title: 200 without errors, 422 with, and the title says so.
pub fn status_and_title(errors: &FieldErrors, title: &str) -> (StatusCode, String) {
    if errors.is_empty() {
        (StatusCode::OK, title.to_owned())
    } else {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("Erreur – {title}"),
        )
    }
}
