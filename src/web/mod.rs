//! HTTP: routes, security headers, state shared by handlers.

pub mod admin;
pub mod api;
pub mod assets;
pub mod body;
pub mod campaigns;
pub mod contacts;
pub mod csrf;
pub mod form;
pub mod health;
pub mod inputs;
pub mod mailing;
pub mod metrics;
pub mod offers;
pub mod pages;
pub mod personal_data;
pub mod pipeline;
pub mod places;
pub mod public;
pub mod rate_limit;
pub mod reports;
pub mod staff;
pub mod tokens;

use std::sync::Arc;

use actix_governor::Governor;
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

/// Registers every route.
pub fn routes(cfg: &mut web::ServiceConfig, limits: &RateLimits) {
    cfg.route("/", web::get().to(public::home))
        .service(
            web::resource("/candidature")
                .wrap(Governor::new(&limits.application_form))
                .route(web::get().to(public::application_form))
                .route(web::post().to(public::submit_application))
                .default_service(web::to(public::method_not_allowed)),
        )
        .route(
            "/candidature/merci/{key}",
            web::get().to(public::application_received),
        )
        .service(
            web::resource("/connexion")
                .route(web::get().to(staff::login_form))
                .route(web::post().to(staff::login)),
        )
        .service(
            web::resource(staff::CODE_PATH)
                .route(web::get().to(staff::code_form))
                .route(web::post().to(staff::code)),
        )
        .service(
            web::resource(staff::ENROLL_PATH)
                .route(web::get().to(staff::totp_page))
                .route(web::post().to(staff::totp_change)),
        )
        .route("/admin/securite", web::post().to(admin::security_policy))
        .route("/deconnexion", web::post().to(staff::logout))
        .route("/espace", web::get().to(staff::home))
        .service(
            web::resource("/admin/utilisateurs")
                .route(web::get().to(admin::users))
                .route(web::post().to(admin::create_user)),
        )
        .route(
            "/admin/utilisateurs/{id}",
            web::post().to(admin::change_user),
        )
        .route("/admin/journal", web::get().to(admin::journal))
        .route("/admin/modeles", web::get().to(admin::stage_templates))
        .route(
            "/admin/modeles/{stage}",
            web::post().to(admin::save_stage_template),
        )
        .route("/recrutement", web::get().to(pipeline::board))
        .route("/recrutement/relances", web::get().to(pipeline::follow_ups))
        .route("/recrutement/agenda", web::get().to(pipeline::agenda))
        .route(
            "/recrutement/rendez-vous/{id}.ics",
            web::get().to(pipeline::meeting_ics),
        )
        .route(
            "/recrutement/candidatures/{id}/rendez-vous",
            web::post().to(pipeline::add_meeting),
        )
        .route(
            "/recrutement/export.csv",
            web::get().to(pipeline::export_csv),
        )
        .route(
            "/recrutement/candidats/{id}",
            web::get().to(pipeline::candidate),
        )
        .service(
            web::resource("/recrutement/candidats/{id}/modifier")
                .route(web::get().to(pipeline::edit_candidate))
                .route(web::post().to(pipeline::update_candidate)),
        )
        .route(
            "/recrutement/candidats/{id}/fusionner",
            web::post().to(pipeline::merge),
        )
        .route(
            "/recrutement/candidats/{id}/notes",
            web::post().to(pipeline::add_note),
        )
        .route(
            "/recrutement/candidatures/{id}/etape",
            web::post().to(pipeline::move_stage),
        )
        .route(
            "/recrutement/documents/{id}",
            web::get().to(pipeline::download_document),
        )
        .configure(places::configure)
        .configure(offers::configure)
        .configure(mailing::configure)
        .configure(campaigns::configure)
        .configure(contacts::configure)
        .configure(|cfg| api::configure(cfg, &limits.api))
        .configure(tokens::configure)
        .configure(|c| personal_data::configure(c, &limits.personal_data))
        .configure(metrics::configure)
        .configure(reports::configure)
        .route("/donnees-personnelles", web::get().to(public::privacy))
        .route("/accessibilite", web::get().to(public::accessibility))
        .route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .route("/static/{file:.*}", web::get().to(assets::serve));
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
