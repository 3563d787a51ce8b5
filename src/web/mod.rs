//! HTTP: routes, security headers, state shared by handlers.

pub mod admin;
pub mod api;
pub mod assets;
pub mod attribution;
pub mod body;
pub mod campaigns;
pub mod contacts;
pub mod csrf;
pub mod evaluation;
pub mod form;
pub mod health;
pub mod inputs;
pub mod look;
pub mod mailing;
pub mod meta;
pub mod metrics;
pub mod nav;
pub mod offers;
pub mod pages;
pub mod personal_data;
pub mod pipeline;
pub mod places;
pub mod positions_web;
pub mod public;
pub mod rate_limit;
pub mod reports;
pub mod routes;
pub mod staff;
pub mod tokens;

use std::sync::Arc;

use actix_web::middleware::DefaultHeaders;
use actix_web::{web, HttpResponse, ResponseError};

use diesel::PgConnection;
use tokio::sync::Notify;

use crate::config::Settings;
use crate::db::{self, PgPool};
use crate::error::{error_page, AppError};
use crate::specialties::Specialty;

/// What every handler may use.
pub struct AppState {
    pub settings: Arc<Settings>,
    pub pool: PgPool,
    /// Wakes the mail worker when a message was queued.
    pub mail_wake: Arc<Notify>,
    /// Wakes this instance's idle campaign senders when a run starts or resumes.
    pub campaign_wake: Arc<Notify>,
    pub specialties: Vec<Specialty>,
    /// This instance's Prometheus metrics.
    pub metrics: Arc<crate::metrics::Metrics>,
}

/// Runs diesel code for a handler on the blocking pool.
pub async fn db<T, F>(state: &AppState, f: F) -> Result<T, AppError>
where
    F: FnOnce(&mut PgConnection) -> Result<T, AppError> + Send + 'static,
    T: Send + 'static,
{
    db::run(&state.pool, f).await
}

pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; \
    style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; \
    form-action 'self'; frame-ancestors 'none'";

/// Headers sent with every response.
pub fn security_headers(settings: &Settings) -> DefaultHeaders {
    let headers = DefaultHeaders::new()
        .add(("Content-Security-Policy", CONTENT_SECURITY_POLICY))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("Referrer-Policy", "strict-origin-when-cross-origin"))
        .add(("X-Frame-Options", "DENY"))
        .add((
            "Permissions-Policy",
            "camera=(), microphone=(), geolocation=()",
        ));
    if settings.secure_cookies() {
        headers.add((
            "Strict-Transport-Security",
            "max-age=31536000; includeSubDomains",
        ))
    } else {
        headers
    }
}

/// The instance's rate-limit buckets, one per kind of form: built once before the server and
/// shared by all its workers, so that an address gets `http.form_burst` posts per instance
/// whatever the number of workers.
#[derive(Clone)]
pub struct RateLimits {
    /// The application form.
    pub application_form: rate_limit::Limit<rate_limit::ClientIp>,
    /// Asking for a « Mes données » link: its own bucket, so it does not use up the form's.
    pub personal_data: rate_limit::Limit<rate_limit::ClientIp>,
    /// The API's limited routes (submitting an application), answered with a problem document.
    pub api: rate_limit::Limit<api::ApiClientIp>,
}

impl RateLimits {
    pub fn new(settings: &Settings) -> anyhow::Result<RateLimits> {
        let ip = rate_limit::ClientIp::new(settings);
        Ok(RateLimits {
            application_form: rate_limit::post_limit(settings, ip)?,
            personal_data: rate_limit::post_limit(settings, ip)?,
            api: rate_limit::post_limit(settings, api::ApiClientIp::new(ip))?,
        })
    }
}

/// French pages for ids in the path that are not ids (`/recrutement/candidats/abc`): such a
/// page does not exist.
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|err, _req| {
        actix_web::error::InternalError::from_response(err, AppError::NotFound.error_response())
            .into()
    })
}

/// French pages for the errors actix itself raises (malformed query strings, wrong methods).
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _req| {
        let response = error_page(
            &mut HttpResponse::BadRequest(),
            "Adresse invalide",
            "Les paramètres de l'adresse sont illisibles. Revenez à l'accueil et suivez les liens.",
        );
        actix_web::error::InternalError::from_response(err, response).into()
    })
}
