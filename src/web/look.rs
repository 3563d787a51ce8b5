//! Our look, per département: the generated stylesheet with the configured accent colour and
//! logo (a stylesheet because the Content-Security-Policy forbids inline styles), the logo
//! itself, and the favicon at the address browsers try first.

use actix_web::http::header;
use actix_web::{web, HttpResponse};

use crate::error::AppError;
use crate::theme;
use crate::web::AppState;

/// `/apparence/theme.css`: the accent's custom properties, and the logo beside the name.
pub async fn theme_css(state: web::Data<AppState>) -> HttpResponse {
    let org = &state.settings.organisation;
    let css = theme::stylesheet(&org.accent(), !org.logo_path.trim().is_empty());
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/css; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(css)
}

/// `/apparence/logo`: the file named by `organisation.logo_path` (checked at start), or 404.
pub async fn logo(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let path = state.settings.organisation.logo_path.trim().to_owned();
    let content_type = theme::logo_content_type(&path).ok_or(AppError::NotFound)?;
    let bytes = web::block(move || std::fs::read(path))
        .await
        .map_err(|_| AppError::NotFound)?
        .map_err(|_| AppError::NotFound)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        // An SVG opened on its own runs no script and loads nothing.
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; sandbox",
        ))
        .body(bytes))
}

/// `/favicon.ico`: browsers ask for it whatever the page says; the PNG version answers.
pub async fn favicon() -> Result<HttpResponse, AppError> {
    super::assets::serve(web::Path::from("favicon.png".to_owned())).await
}
