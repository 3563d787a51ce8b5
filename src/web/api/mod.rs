//! The JSON API under `/api/v1`, described by the OpenAPI document at `/api/openapi.json`
//! (derived from the handlers and types of the files below, so the two cannot drift apart).
//!
//! Public (`public`): the published positions and the application submission, with the form's
//! rules, rate limit, idempotency and e-mails. Staff, with an API token (`auth`):
//! candidates, applications and stage moves (recruiters), campaigns and their statistics
//! (communication); administrators may do both. Every error is a problem details document.

mod applications;
mod auth;
mod campaigns;
mod candidates;
pub mod json;
pub mod openapi;
pub mod problem;
mod public;
mod query;

use std::sync::OnceLock;

use actix_governor::Governor;
use actix_web::middleware::Condition;
use actix_web::{web, HttpResponse, ResponseError};
use utoipa::OpenApi;

pub use auth::{ApiClientIp, ApiStaff};
pub use json::ApiJson;
pub use problem::{FieldError, Problem};
pub use public::{parse_application, to_raw_form, CandidatureEntree, CandidatureRecue};

use crate::web::rate_limit::Limit;

/// Declares the API's routes once: `configure` registers them and `ROUTES` lists them, so a
/// test can check that the OpenAPI document describes every registered route.
macro_rules! api_routes {
    ($( $path:literal, limited: $limited:literal => { $( $method:ident => $handler:path ),+ $(,)? } ),* $(,)?) => {
        /// Every (method, path) registered under /api/v1.
        pub const ROUTES: &[(&str, &str)] = &[ $( $( (stringify!($method), $path), )+ )* ];

        fn register(cfg: &mut web::ServiceConfig, governor: &Limit<ApiClientIp>) {
            $(
                let allow = [$(stringify!($method)),+]
                    .iter()
                    .map(|m| m.to_ascii_uppercase())
                    .collect::<Vec<_>>()
                    .join(", ");
                cfg.service(
                    web::resource(&$path["/api".len()..])
                        .wrap(Condition::new($limited, Governor::new(governor)))
                        $( .route(web::$method().to($handler)) )+
                        .default_service(web::to(move || {
                            let allow = allow.clone();
                            async move { Problem::method_not_allowed(&allow).error_response() }
                        })),
                );
            )*
        }
    };
}

api_routes! {
    "/api/v1/postes", limited: false => { get => public::list_positions },
    "/api/v1/candidatures", limited: true => { get => applications::list_applications, post => public::submit_application },
    "/api/v1/candidatures/{id}", limited: false => { get => applications::get_application },
    "/api/v1/candidatures/{id}/etape", limited: false => { post => applications::move_stage },
    "/api/v1/candidats", limited: false => { get => candidates::list_candidates },
    "/api/v1/candidats/{id}", limited: false => { get => candidates::get_candidate },
    "/api/v1/campagnes", limited: false => { get => campaigns::list_campaigns },
    "/api/v1/campagnes/{id}/statistiques", limited: false => { get => campaigns::campaign_statistics },
}

/// Registers `/api`: the routes, the OpenAPI document, and problem details for every error
/// actix itself raises there (bad JSON, query or path, unknown address, wrong method).
/// `limit` is the instance's bucket for the limited routes (see `web::RateLimits`).
pub fn configure(cfg: &mut web::ServiceConfig, limit: &Limit<ApiClientIp>) {
    cfg.service(
        web::scope("/api")
            .app_data(problem::json_config())
            .app_data(problem::query_config())
            .app_data(problem::path_config())
            .route("/openapi.json", web::get().to(openapi_json))
            .configure(|cfg| register(cfg, limit))
            .default_service(web::to(|| async {
                Problem::not_found("Cette adresse ne correspond à aucune ressource de l'API.")
                    .error_response()
            })),
    );
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Vocation — API",
        version = "1",
        description = "API JSON de Vocation. Les routes publiques (postes, dépôt de candidature) \
            n'exigent rien ; les autres exigent un jeton d'API (Authorization: Bearer …) créé \
            sur la page /espace/jetons. Toutes les erreurs sont des « problem details » \
            (RFC 9457, application/problem+json), messages en français."
    ),
    paths(
        public::list_positions,
        public::submit_application,
        applications::list_applications,
        applications::get_application,
        applications::move_stage,
        candidates::list_candidates,
        candidates::get_candidate,
        campaigns::list_campaigns,
        campaigns::campaign_statistics
    ),
    modifiers(&BearerToken),
    tags(
        (name = "public", description = "Sans authentification"),
        (name = "recrutement", description = "Rôles recruteur et administrateur"),
        (name = "campagnes", description = "Rôles communication et administrateur")
    )
)]
pub struct ApiDoc;

struct BearerToken;

impl utoipa::Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "jeton",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// The document, made exact (see [`openapi::tighten`]) and rendered once.
pub fn openapi_document() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| {
        let rendered = serde_json::to_value(ApiDoc::openapi()).and_then(|mut doc| {
            openapi::tighten(&mut doc);
            serde_json::to_string_pretty(&doc)
        });
        rendered.unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    })
}

async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(openapi_document())
}
