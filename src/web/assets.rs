//! Static files (CSS, images) embedded in the binary and served with a long cache lifetime.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use rust_embed::RustEmbed;

use crate::error::AppError;

#[derive(RustEmbed)]
#[folder = "static/"]
struct StaticFiles;

pub async fn serve(path: web::Path<String>) -> Result<HttpResponse, AppError> {
    let name = path.into_inner();
    let file = StaticFiles::get(&name).ok_or(AppError::NotFound)?;
    let content_type = match name.rsplit('.').next() {
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("js") => "text/javascript; charset=utf-8",
        _ => "application/octet-stream",
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(file.data.into_owned()))
}
