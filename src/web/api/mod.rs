//! The JSON API under `/api/v1`, described by the OpenAPI document at `/api/openapi.json`
//! (derived from the handlers and types below, so the two cannot drift apart).
//!
//! Public: the published positions and the application submission, with the form's rules,
//! rate limit, idempotency and e-mails. Staff, with an API token (`Authorization: Bearer …`):
//! candidates, applications and stage moves (recruiters), campaigns and their statistics
//! (communication); administrators may do both. Every error is a problem details document.

pub mod json;
pub mod openapi;
pub mod problem;

use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;

use actix_governor::governor::clock::{Clock, DefaultClock, QuantaInstant};
use actix_governor::governor::NotUntil;
use actix_governor::{Governor, KeyExtractor, SimpleKeyExtractionError};
use actix_web::dev::ServiceRequest;
use actix_web::http::{header, StatusCode};
use actix_web::middleware::Condition;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse, HttpResponseBuilder, ResponseError};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};
use uuid::Uuid;

pub use json::ApiJson;
pub use problem::{FieldError, Problem};

use crate::api_tokens::{self, TokenIdentity};
use crate::applications::{self, Choices, NewApplication, RawApplicationForm, Recorded};
use crate::db::enums::{StaffRole, Stage};
use crate::domain::parse_date;
use crate::pipeline::{self, BoardFilter, MoveError, MoveRequest};
use crate::staff::{COMMUNICATION, RECRUITING};
use crate::web::rate_limit::{ClientIp, Limit};
use crate::web::{db, AppState};

const MAX_PER_PAGE: i64 = 100;
const DEFAULT_PER_PAGE: i64 = 20;

// ---------------------------------------------------------------------------------------------
// Routes

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
    "/api/v1/postes", limited: false => { get => list_positions },
    "/api/v1/candidatures", limited: true => { get => list_applications, post => submit_application },
    "/api/v1/candidatures/{id}", limited: false => { get => get_application },
    "/api/v1/candidatures/{id}/etape", limited: false => { post => move_stage },
    "/api/v1/candidats", limited: false => { get => list_candidates },
    "/api/v1/candidats/{id}", limited: false => { get => get_candidate },
    "/api/v1/campagnes", limited: false => { get => list_campaigns },
    "/api/v1/campagnes/{id}/statistiques", limited: false => { get => campaign_statistics },
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

/// The form's rate limit, keyed the same way, answered with a problem document.
#[derive(Debug, Clone, Copy)]
pub struct ApiClientIp(ClientIp);

impl ApiClientIp {
    pub fn new(ip: ClientIp) -> ApiClientIp {
        ApiClientIp(ip)
    }
}

impl KeyExtractor for ApiClientIp {
    type Key = std::net::IpAddr;
    type KeyExtractionError = SimpleKeyExtractionError<&'static str>;

    fn extract(&self, req: &ServiceRequest) -> Result<Self::Key, Self::KeyExtractionError> {
        self.0.extract(req)
    }

    fn exceed_rate_limit_response(
        &self,
        negative: &NotUntil<QuantaInstant>,
        _response: HttpResponseBuilder,
    ) -> HttpResponse {
        let wait = negative
            .wait_time_from(DefaultClock::default().now())
            .as_secs()
            .max(1);
        Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            "trop-de-demandes",
            "Trop de demandes",
            format!(
                "Trop d'envois depuis cette adresse en peu de temps ; rien n'a été enregistré. \
                 Réessayez dans {wait} secondes."
            ),
        )
        .with_header(header::RETRY_AFTER, wait.to_string())
        .error_response()
    }
}

// ---------------------------------------------------------------------------------------------
// The OpenAPI document

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
        list_positions,
        submit_application,
        list_applications,
        get_application,
        move_stage,
        list_candidates,
        get_candidate,
        list_campaigns,
        campaign_statistics
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

// ---------------------------------------------------------------------------------------------
// Authentication

/// The staff member an API token acts for. Extracting it from a request without a valid token
/// answers 401 with `WWW-Authenticate: Bearer`.
pub struct ApiStaff(pub TokenIdentity);

impl ApiStaff {
    /// 403 unless the member has one of `roles` (admins may do everything).
    fn require(&self, roles: &[StaffRole]) -> Result<(), Problem> {
        if self.0.role == StaffRole::Admin || roles.contains(&self.0.role) {
            Ok(())
        } else {
            Err(Problem::forbidden())
        }
    }
}

impl FromRequest for ApiStaff {
    type Error = Problem;
    type Future = Pin<Box<dyn Future<Output = Result<ApiStaff, Problem>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let header = req
            .headers()
            .get(header::AUTHORIZATION)
            .map(|v| v.to_str().map(str::to_owned));
        Box::pin(async move {
            let token =
                match header {
                    None => return Err(Problem::unauthorized(
                        "Cette ressource exige un jeton d'API : en-tête « Authorization: Bearer \
                         <jeton> ». Créez un jeton sur la page /espace/jetons.",
                        false,
                    )),
                    Some(Ok(value)) => match value.split_once(' ') {
                        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
                            token.trim().to_owned()
                        }
                        _ => String::new(),
                    },
                    Some(Err(_)) => String::new(),
                };
            let refused = || {
                Problem::unauthorized(
                    "Jeton d'API invalide, révoqué, ou dont le compte est désactivé.",
                    true,
                )
            };
            if token.is_empty() {
                return Err(refused());
            }
            let state = state.ok_or_else(|| {
                Problem::from(crate::error::AppError::Unexpected(anyhow::anyhow!(
                    "no state"
                )))
            })?;
            let found = db(&state, move |conn| {
                Ok(api_tokens::authenticate(conn, &token, Utc::now())?)
            })
            .await?;
            match found {
                api_tokens::TokenCheck::Valid(identity) => Ok(ApiStaff(identity)),
                api_tokens::TokenCheck::Invalid => Err(refused()),
                api_tokens::TokenCheck::MustEnroll => Err(Problem::new(
                    StatusCode::FORBIDDEN,
                    "double-authentification-requise",
                    "Double authentification requise",
                    "La double authentification est exigée pour tous les comptes et le compte de \
                     ce jeton ne l'a pas encore activée : son titulaire doit l'activer sur la \
                     page /compte/double-authentification, le jeton fonctionnera ensuite.",
                )),
            }
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Public: positions

/// A published position.
#[derive(Debug, Serialize, ToSchema)]
pub struct PosteApi {
    pub id: i64,
    pub intitule: String,
    pub description: String,
    /// The specialty's label, if the position asks for one.
    pub specialite: Option<String>,
    /// Working time in words ("Temps plein", "Temps partiel (60 % à 80 %)"…).
    pub temps_travail: String,
    /// The communes of the centres concerned.
    pub communes: Vec<String>,
}

/// The published positions, as on the campaign page.
#[utoipa::path(
    get,
    path = "/api/v1/postes",
    operation_id = "listerPostes",
    tag = "public",
    responses(
        (status = 200, description = "Les postes publiés", body = [PosteApi]),
        (status = 503, description = "Base de données indisponible", body = Problem, content_type = "application/problem+json")
    )
)]
pub async fn list_positions(state: web::Data<AppState>) -> Result<HttpResponse, Problem> {
    let positions = db(&state, |conn| Ok(crate::positions::list_published(conn)?)).await?;
    let body: Vec<PosteApi> = positions
        .into_iter()
        .map(|p| PosteApi {
            id: p.id,
            intitule: p.title,
            description: p.description,
            specialite: p.specialty,
            temps_travail: p.working_time,
            communes: p.communes,
        })
        .collect();
    Ok(HttpResponse::Ok().json(body))
}

// ---------------------------------------------------------------------------------------------
// Public: application submission

/// An application, with the names and rules of the form at /candidature. No CV through the
/// API: the candidate may send it later by e-mail.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct CandidatureEntree {
    /// `madame`, `monsieur` or `non_precise`.
    #[schema(required = true)]
    pub civilite: String,
    #[schema(required = true)]
    pub prenom: String,
    #[schema(required = true)]
    pub nom: String,
    #[schema(required = true)]
    pub courriel: String,
    #[schema(required = true)]
    pub telephone: String,
    /// 11 digits with a Luhn key, optional.
    pub rpps: Option<String>,
    /// A specialty code of the list (SM54 for general practice…).
    #[schema(required = true)]
    pub specialite: String,
    /// `interne`, `jeune_diplome`, `remplacant`, `liberal`, `salarie`, `retraite`,
    /// `diplome_etranger`…
    #[schema(required = true)]
    pub situation: String,
    /// AAAA-MM-JJ or JJ/MM/AAAA.
    pub disponibilite: Option<String>,
    /// `temps_plein` or `temps_partiel`.
    #[schema(required = true)]
    pub temps_travail: String,
    /// Half-days per week for part time, 1 to 9.
    #[serde(deserialize_with = "json::integer::option_i16")]
    pub demi_journees: Option<i16>,
    /// Ids of the wished centres.
    #[serde(deserialize_with = "json::integer::vec_i64")]
    pub centres: Vec<i64>,
    /// Willing to take part in on-call duty.
    pub garde: bool,
    /// Willing to train interns.
    pub maitre_stage: bool,
    pub message: Option<String>,
    /// How the candidate heard of the campaign (code), optional.
    pub connaissance: Option<String>,
    /// A published position's id; absent for a spontaneous application.
    #[serde(deserialize_with = "json::integer::option_i64")]
    pub poste: Option<i64>,
    /// Consent to the processing of the data (required).
    #[schema(required = true)]
    pub consentement: bool,
    /// Consent to be kept in the pool after the process.
    pub vivier: bool,
    pub utm_source: Option<String>,
    pub utm_medium: Option<String>,
    pub utm_campaign: Option<String>,
    /// The signed token of a campaign's tracked link, for attribution.
    pub suivi: Option<String>,
    /// Idempotency key (a UUID), also accepted as the `Idempotency-Key` header: the same key
    /// sent again records nothing more and answers with the same reference.
    pub cle: Option<String>,
}

/// What the API answers once an application is recorded.
#[derive(Debug, Serialize, ToSchema)]
pub struct CandidatureRecue {
    /// The application's public reference (the idempotency key).
    #[schema(value_type = String, example = "3f2b8c9e-1d4a-4e6b-9c1f-2a7d5e8b0c43")]
    pub reference: Uuid,
    /// `enregistree` (recorded: the same answer whether the person was known or not) or
    /// `deja_recue` (this key was already used: nothing more was recorded).
    pub statut: String,
    pub message: String,
    /// The confirmation page, valid for a day.
    pub confirmation: String,
}

fn key_error(message: &str) -> FieldError {
    FieldError {
        field: "cle".to_owned(),
        message: message.to_owned(),
    }
}

/// Turns the JSON application into what the form would have sent, with its idempotency key
/// (from the header or the `cle` field); the form's validator then applies the same rules.
pub fn to_raw_form(
    input: CandidatureEntree,
    header_key: Option<&str>,
) -> Result<RawApplicationForm, Vec<FieldError>> {
    let parse = |k: &str| Uuid::parse_str(k.trim()).ok();
    let key = match (header_key, input.cle.as_deref()) {
        (None, None) => Uuid::new_v4(),
        (Some(h), None) => parse(h).ok_or_else(|| {
            vec![key_error(
                "L'en-tête Idempotency-Key doit être un UUID (par exemple \
                 3f2b8c9e-1d4a-4e6b-9c1f-2a7d5e8b0c43).",
            )]
        })?,
        (h, Some(c)) => {
            let key = parse(c).ok_or_else(|| {
                vec![key_error(
                    "La clé doit être un UUID (par exemple 3f2b8c9e-1d4a-4e6b-9c1f-2a7d5e8b0c43).",
                )]
            })?;
            if h.is_some_and(|h| parse(h) != Some(key)) {
                return Err(vec![key_error(
                    "La clé diffère de l'en-tête Idempotency-Key : n'en envoyez qu'une, ou la \
                     même.",
                )]);
            }
            key
        }
    };
    if input.demi_journees.is_some_and(|n| !(1..=9).contains(&n)) {
        return Err(vec![FieldError {
            field: "demi_journees".to_owned(),
            message: "De 1 à 9 demi-journées par semaine.".to_owned(),
        }]);
    }
    Ok(RawApplicationForm {
        civilite: input.civilite,
        prenom: input.prenom,
        nom: input.nom,
        courriel: input.courriel,
        telephone: input.telephone,
        rpps: input.rpps.unwrap_or_default(),
        specialite: input.specialite,
        situation: input.situation,
        disponibilite: input.disponibilite.unwrap_or_default(),
        temps_travail: input.temps_travail,
        demi_journees: input
            .demi_journees
            .map(|n| n.to_string())
            .unwrap_or_default(),
        centres: input.centres.iter().map(i64::to_string).collect(),
        garde: input.garde,
        maitre_stage: input.maitre_stage,
        message: input.message.unwrap_or_default(),
        connaissance: input.connaissance.unwrap_or_default(),
        poste: input.poste.map(|p| p.to_string()).unwrap_or_default(),
        consentement: input.consentement,
        vivier: input.vivier,
        utm_source: input.utm_source.unwrap_or_default(),
        utm_medium: input.utm_medium.unwrap_or_default(),
        utm_campaign: input.utm_campaign.unwrap_or_default(),
        suivi: input.suivi.unwrap_or_default().chars().take(100).collect(),
        soumission: key.to_string(),
        ..RawApplicationForm::default()
    })
}

/// The whole parsing of a JSON application body, from bytes to a valid application or a
/// problem (400 for unreadable JSON, 422 with field errors): what the handler does, without the
/// database.
pub fn parse_application(
    body: &[u8],
    header_key: Option<&str>,
    choices: &Choices<'_>,
) -> Result<NewApplication, Problem> {
    let input: CandidatureEntree = json::parse_json(body)?;
    let raw = to_raw_form(input, header_key).map_err(Problem::validation)?;
    applications::validate(&raw, choices)
        .map_err(|errors| Problem::validation(Problem::from_field_errors(&errors)))
}

/// Submits an application, with the rules and protections of the form (validation, per-address
/// rate limit, one application per idempotency key, merging of known candidates, e-mails to the
/// candidate and the recruiters). No CV through the API.
#[utoipa::path(
    post,
    path = "/api/v1/candidatures",
    operation_id = "deposerCandidature",
    tag = "public",
    request_body(content = CandidatureEntree, description = "La candidature (sans CV : le CV n'est pas accepté par l'API)", content_type = "application/json"),
    params(("Idempotency-Key" = Option<String>, Header, description = "UUID : la même clé renvoyée n'enregistre rien de plus")),
    responses(
        (status = 201, description = "Candidature enregistrée", body = CandidatureRecue),
        (status = 200, description = "Cette clé a déjà été reçue : rien de plus n'a été enregistré", body = CandidatureRecue),
        (status = 400, description = "JSON illisible, champ inconnu ou en double, type inattendu", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Corps trop volumineux (64 Ko au plus)", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Content-Type autre que application/json", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Champs à corriger", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Trop d'envois depuis cette adresse", body = Problem, content_type = "application/problem+json")
    )
)]
pub async fn submit_application(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: ApiJson<CandidatureEntree>,
) -> Result<HttpResponse, Problem> {
    let header_key = match req.headers().get("Idempotency-Key") {
        None => None,
        Some(v) => Some(v.to_str().map(str::to_owned).map_err(|_| {
            Problem::validation(vec![key_error(
                "L'en-tête Idempotency-Key doit être un UUID.",
            )])
        })?),
    };
    let raw = to_raw_form(body.0, header_key.as_deref()).map_err(Problem::validation)?;
    let lists = db(&state, |conn| Ok(applications::load_lists(conn)?)).await?;
    let application = applications::check(
        &raw,
        &state.settings,
        &state.specialties,
        &lists,
        Utc::now().date_naive(),
    )
    .map_err(|errors| Problem::validation(Problem::from_field_errors(&errors)))?;
    let key = application.submission_key;
    let shared = state.clone();
    let recorded = db(&state, move |conn| {
        Ok(applications::submit(
            conn,
            &shared.settings,
            &shared.specialties,
            &lists,
            &application,
            None,
            Utc::now(),
        )?)
    })
    .await?;
    if recorded.is_new() {
        state.metrics.application_received();
    }
    if recorded.queued_mail() {
        state.mail_wake.notify_one();
    }
    let (status, statut, message) = match recorded {
        // The same answer whether the person was known or not (nothing tells an outsider that
        // an e-mail, a phone or an RPPS number is on file).
        Recorded::New { .. } | Recorded::Completed { .. } => (
            StatusCode::CREATED,
            "enregistree",
            "Candidature enregistrée ; un courriel de confirmation est envoyé au candidat.",
        ),
        Recorded::AlreadyReceived { .. } => (
            StatusCode::OK,
            "deja_recue",
            "Cette candidature (même clé) avait déjà été reçue : rien de plus n'a été enregistré.",
        ),
    };
    let confirmation = format!("/candidature/merci/{key}");
    Ok(HttpResponse::build(status)
        .insert_header((header::LOCATION, confirmation.clone()))
        .json(CandidatureRecue {
            reference: key,
            statut: statut.to_owned(),
            message: message.to_owned(),
            confirmation,
        }))
}

// ---------------------------------------------------------------------------------------------
// Staff: lists

/// The board's filters, and the page.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Name, e-mail, phone or RPPS.
    pub q: Option<String>,
    /// A specialty code, or `MG` for every general practice code.
    pub specialite: Option<String>,
    /// A centre's id.
    pub centre: Option<String>,
    /// `temps_plein` or `temps_partiel`.
    pub temps: Option<String>,
    /// A situation code.
    pub situation: Option<String>,
    /// Available on or before this date (AAAA-MM-JJ).
    pub dispo_avant: Option<String>,
    /// UTM source or campaign, or how they heard of the campaign.
    pub source: Option<String>,
    /// A position's id, or `spontanee`.
    pub poste: Option<String>,
    /// Applications only: a stage code (`nouvelle`, `entretien`…).
    pub etape: Option<String>,
    /// Page number, from 1 (read as text so that a wrong one is named in the problem).
    pub page: Option<String>,
    /// Items per page, 1 to 100 (20 by default).
    pub par_page: Option<String>,
}

impl ListQuery {
    fn filter(&self) -> BoardFilter {
        let s = |v: &Option<String>| v.clone().unwrap_or_default();
        BoardFilter {
            q: s(&self.q),
            specialite: s(&self.specialite),
            centre: s(&self.centre),
            temps: s(&self.temps),
            situation: s(&self.situation),
            dispo_avant: s(&self.dispo_avant),
            source: s(&self.source),
            poste: s(&self.poste),
            page: None,
        }
    }

    /// The filters checked against the document's lists: a wrong one is a field error rather
    /// than a filter silently ignored.
    fn check_filters(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        fn given(v: &Option<String>) -> Option<&str> {
            v.as_deref().map(str::trim)
        }
        if let Some(code) = given(&self.specialite) {
            if code != "MG" && !openapi::specialty_codes().iter().any(|c| c == code) {
                errors.push(field(
                    "specialite",
                    "Spécialité inconnue : un code de la nomenclature (SM54…), ou MG pour toute \
                     la médecine générale.",
                ));
            }
        }
        if let Some(centre) = given(&self.centre) {
            if !centre.parse::<i64>().is_ok_and(|id| id > 0) {
                errors.push(field(
                    "centre",
                    "L'identifiant du centre est un nombre entier positif.",
                ));
            }
        }
        if let Some(code) = given(&self.temps) {
            if crate::db::enums::WorkingTime::from_code(code).is_none() {
                errors.push(field(
                    "temps",
                    "Temps de travail : temps_plein ou temps_partiel.",
                ));
            }
        }
        if let Some(code) = given(&self.situation) {
            if crate::db::enums::Situation::from_code(code).is_none() {
                let codes: Vec<&str> = crate::db::enums::Situation::ALL
                    .iter()
                    .map(|s| s.code())
                    .collect();
                errors.push(field(
                    "situation",
                    format!("Situation inconnue. Situations : {}.", codes.join(", ")),
                ));
            }
        }
        if let Some(code) = given(&self.etape) {
            if Stage::from_code(code).is_none() {
                errors.push(field(
                    "etape",
                    format!("Étape inconnue. Étapes : {}.", stage_codes()),
                ));
            }
        }
        if let Some(date) = given(&self.dispo_avant) {
            if parse_date(date).is_none() {
                errors.push(field("dispo_avant", "Date illisible : format AAAA-MM-JJ."));
            }
        }
        if let Some(position) = given(&self.poste) {
            if position != "spontanee" && !position.parse::<i64>().is_ok_and(|id| id > 0) {
                errors.push(field(
                    "poste",
                    "Le poste est l'identifiant d'un poste (nombre entier positif) ou « spontanee ».",
                ));
            }
        }
        errors
    }

    /// Page, items per page, offset; or the problem (400 for a page that is not a number, 422
    /// for one out of bounds or a wrong filter).
    fn paging(&self) -> Result<(i64, i64, i64), Problem> {
        let number = |name: &str, value: &Option<String>, default: i64| match value
            .as_deref()
            .map(str::trim)
        {
            None => Ok(default),
            Some(v) => v.parse::<i64>().map_err(|_| {
                let mut p = Problem::new(
                    StatusCode::BAD_REQUEST,
                    "parametres-invalides",
                    "Paramètres invalides",
                    format!("Le paramètre « {name} » doit être un nombre entier."),
                );
                p.errors = vec![field(name, "Un nombre entier est attendu.")];
                p
            }),
        };
        let page = number("page", &self.page, 1)?;
        let per_page = number("par_page", &self.par_page, DEFAULT_PER_PAGE)?;
        let mut errors = Vec::new();
        if !(1..=openapi::MAX_PAGE).contains(&page) {
            errors.push(FieldError {
                field: "page".to_owned(),
                message: "Le numéro de page va de 1 à 1 000 000.".to_owned(),
            });
        }
        if !(1..=MAX_PER_PAGE).contains(&per_page) {
            errors.push(FieldError {
                field: "par_page".to_owned(),
                message: format!("Entre 1 et {MAX_PER_PAGE} éléments par page."),
            });
        }
        errors.extend(self.check_filters());
        if errors.is_empty() {
            Ok((page, per_page, (page - 1) * per_page))
        } else {
            Err(Problem::validation(errors))
        }
    }
}

/// A page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T: ToSchema> {
    pub page: i64,
    pub par_page: i64,
    /// Items in all, over every page.
    pub total: i64,
    pub elements: Vec<T>,
}

/// A candidate in a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct CandidatApi {
    pub id: i64,
    pub civilite: String,
    pub prenom: String,
    pub nom: String,
    pub courriel: String,
    pub telephone: String,
    pub rpps: Option<String>,
    pub specialite_code: String,
    pub specialite: String,
    pub situation: String,
    pub disponibilite: Option<NaiveDate>,
    pub temps_travail: String,
    pub demi_journees: Option<i16>,
    pub cree_le: DateTime<Utc>,
}

/// The candidates having an application that matches the board's filters.
#[utoipa::path(
    get,
    path = "/api/v1/candidats",
    operation_id = "listerCandidats",
    tag = "recrutement",
    params(ListQuery),
    security(("jeton" = [])),
    responses(
        (status = 200, description = "Une page de candidats", body = Page<CandidatApi>),
        (status = 401, description = "Jeton absent, invalide ou révoqué", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Rôle insuffisant", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Pagination invalide", body = Problem, content_type = "application/problem+json")
    )
)]
pub async fn list_candidates(
    state: web::Data<AppState>,
    staff: ApiStaff,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, Problem> {
    staff.require(RECRUITING)?;
    let (page, per_page, offset) = query.paging()?;
    let filter = query.filter();
    let (rows, total) = db(&state, move |conn| {
        let (ids, total) = pipeline::candidate_ids_page(conn, &filter, per_page, offset)?;
        Ok((crate::candidates::summaries(conn, &ids)?, total))
    })
    .await?;
    let elements = rows
        .into_iter()
        .map(|c| CandidatApi {
            id: c.id,
            civilite: c.civility.code().to_owned(),
            prenom: c.first_name,
            nom: c.last_name,
            courriel: c.email,
            telephone: c.phone,
            rpps: c.rpps,
            specialite_code: c.specialty_code,
            specialite: c.specialty,
            situation: c.situation.code().to_owned(),
            disponibilite: c.available_from,
            temps_travail: c.working_time.code().to_owned(),
            demi_journees: c.part_time_half_days,
            cree_le: c.created_at,
        })
        .collect();
    Ok(HttpResponse::Ok().json(Page {
        page,
        par_page: per_page,
        total,
        elements,
    }))
}

/// A candidate with everything recruiters see on their page.
#[derive(Debug, Serialize, ToSchema)]
pub struct CandidatDetail {
    /// Identity, wishes, applications with their history, documents, e-mails and notes.
    #[schema(value_type = Object)]
    pub candidat: serde_json::Value,
}

fn id_from(raw: &str) -> Result<i64, Problem> {
    raw.parse()
        .ok()
        .filter(|id: &i64| *id > 0)
        .ok_or_else(|| Problem::not_found("Identifiant inconnu : c'est un nombre entier positif."))
}

/// One candidate.
#[utoipa::path(
    get,
    path = "/api/v1/candidats/{id}",
    operation_id = "lireCandidat",
    tag = "recrutement",
    params(("id" = i64, Path, description = "Identifiant du candidat")),
    security(("jeton" = [])),
    responses(
        (status = 200, description = "Le candidat", body = CandidatDetail),
        (status = 401, description = "Jeton absent, invalide ou révoqué", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Rôle insuffisant", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Candidat inconnu", body = Problem, content_type = "application/problem+json")
    )
)]
pub async fn get_candidate(
    state: web::Data<AppState>,
    staff: ApiStaff,
    path: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    staff.require(RECRUITING)?;
    let id = id_from(&path)?;
    let view = db(&state, move |conn| Ok(crate::candidates::load(conn, id)?))
        .await?
        .ok_or_else(|| Problem::not_found("Ce candidat n'existe pas."))?;
    let candidat = serde_json::to_value(view)
        .map_err(|e| Problem::from(crate::error::AppError::Unexpected(e.into())))?;
    Ok(HttpResponse::Ok().json(CandidatDetail { candidat }))
}

/// An application in a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct CandidatureApi {
    pub id: i64,
    pub recue_le: DateTime<Utc>,
    /// Stage code.
    pub etape: String,
    pub etape_libelle: String,
    pub etape_depuis: DateTime<Utc>,
    pub prenom: String,
    pub nom: String,
    pub courriel: String,
    pub telephone: String,
    pub rpps: Option<String>,
    pub specialite: String,
    pub situation: String,
    pub disponibilite: Option<NaiveDate>,
    pub temps_travail: String,
    pub demi_journees: Option<i16>,
    /// Wished centres' communes.
    pub centres: Option<String>,
    /// The position's title; none for a spontaneous application.
    pub poste: Option<String>,
    pub connaissance: Option<String>,
    pub utm_source: Option<String>,
    pub utm_campaign: Option<String>,
}

/// The applications matching the board's filters, and a stage if given.
#[utoipa::path(
    get,
    path = "/api/v1/candidatures",
    operation_id = "listerCandidatures",
    tag = "recrutement",
    params(ListQuery),
    security(("jeton" = [])),
    responses(
        (status = 200, description = "Une page de candidatures", body = Page<CandidatureApi>),
        (status = 401, description = "Jeton absent, invalide ou révoqué", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Rôle insuffisant", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Étape ou pagination invalide", body = Problem, content_type = "application/problem+json")
    )
)]
pub async fn list_applications(
    state: web::Data<AppState>,
    staff: ApiStaff,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, Problem> {
    staff.require(RECRUITING)?;
    let (page, per_page, offset) = query.paging()?;
    let stage = match query.etape.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(code) => Some(Stage::from_code(code).ok_or_else(|| {
            Problem::validation(vec![FieldError {
                field: "etape".to_owned(),
                message: format!("Étape inconnue. Étapes : {}.", stage_codes()),
            }])
        })?),
    };
    let filter = query.filter();
    let (rows, total) = db(&state, move |conn| {
        Ok(pipeline::applications_page(
            conn, &filter, stage, per_page, offset,
        )?)
    })
    .await?;
    let elements = rows
        .into_iter()
        .map(|r| CandidatureApi {
            id: r.application_id,
            recue_le: r.created_at,
            etape: r.stage.code().to_owned(),
            etape_libelle: r.stage.label().to_owned(),
            etape_depuis: r.stage_entered_at,
            prenom: r.first_name,
            nom: r.last_name,
            courriel: r.email,
            telephone: r.phone,
            rpps: r.rpps,
            specialite: r.specialty,
            situation: r.situation.code().to_owned(),
            disponibilite: r.available_from,
            temps_travail: r.working_time.code().to_owned(),
            demi_journees: r.part_time_half_days,
            centres: r.centres,
            poste: r.position,
            connaissance: r.heard_from.map(|h| h.code().to_owned()),
            utm_source: r.utm_source,
            utm_campaign: r.utm_campaign,
        })
        .collect();
    Ok(HttpResponse::Ok().json(Page {
        page,
        par_page: per_page,
        total,
        elements,
    }))
}

fn stage_codes() -> String {
    Stage::ALL
        .iter()
        .map(|s| s.code())
        .collect::<Vec<_>>()
        .join(", ")
}

/// One application, with its history and the stages it may move to.
#[derive(Debug, Serialize, ToSchema)]
pub struct CandidatureDetail {
    pub candidat_id: i64,
    /// Stage, position, message, history (who, when, from, to, reason, note) and the allowed
    /// next stages.
    #[schema(value_type = Object)]
    pub candidature: serde_json::Value,
}

async fn application_detail(state: &AppState, id: i64) -> Result<CandidatureDetail, Problem> {
    let found = db(state, move |conn| {
        let Some(candidate_id) = crate::candidates::of_application(conn, id)? else {
            return Ok(None);
        };
        Ok(crate::candidates::load(conn, candidate_id)?.map(|c| (candidate_id, c)))
    })
    .await?;
    let (candidat_id, view) =
        found.ok_or_else(|| Problem::not_found("Cette candidature n'existe pas."))?;
    let application = view
        .applications
        .into_iter()
        .find(|a| a.id == id)
        .ok_or_else(|| Problem::not_found("Cette candidature n'existe pas."))?;
    let candidature = serde_json::to_value(application)
        .map_err(|e| Problem::from(crate::error::AppError::Unexpected(e.into())))?;
    Ok(CandidatureDetail {
        candidat_id,
        candidature,
    })
}

/// One application.
#[utoipa::path(
    get,
    path = "/api/v1/candidatures/{id}",
    operation_id = "lireCandidature",
    tag = "recrutement",
    params(("id" = i64, Path, description = "Identifiant de la candidature")),
    security(("jeton" = [])),
    responses(
        (status = 200, description = "La candidature", body = CandidatureDetail),
        (status = 401, description = "Jeton absent, invalide ou révoqué", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Rôle insuffisant", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Candidature inconnue", body = Problem, content_type = "application/problem+json")
    )
)]
pub async fn get_application(
    state: web::Data<AppState>,
    staff: ApiStaff,
    path: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    staff.require(RECRUITING)?;
    let id = id_from(&path)?;
    Ok(HttpResponse::Ok().json(application_detail(&state, id).await?))
}

// ---------------------------------------------------------------------------------------------
// Staff: stage moves

/// A stage move, with the rules of the staff page (no e-mail is sent through the API).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangementEtape {
    /// The stage the application is believed to be in: if it changed meanwhile, 409.
    pub depuis: String,
    /// The stage to move to.
    pub vers: String,
    /// Required for `refusee` and `desistement`: a reason code of the staff page's list.
    #[serde(default)]
    pub motif: Option<String>,
    /// A note kept in the history (5,000 characters at most).
    #[serde(default)]
    pub note: Option<String>,
    /// Required for `vivier`: when to contact the candidate again (AAAA-MM-JJ).
    #[serde(default)]
    pub relance: Option<String>,
}

fn field(field: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.to_owned(),
        message: message.into(),
    }
}

/// Moves an application to another stage; the move is recorded in its history as by the staff
/// page (who, when, from, to, reason, note).
#[utoipa::path(
    post,
    path = "/api/v1/candidatures/{id}/etape",
    operation_id = "changerEtape",
    tag = "recrutement",
    params(("id" = i64, Path, description = "Identifiant de la candidature")),
    request_body(content = ChangementEtape, content_type = "application/json"),
    security(("jeton" = [])),
    responses(
        (status = 200, description = "Déplacée ; la candidature telle qu'elle est maintenant", body = CandidatureDetail),
        (status = 400, description = "JSON illisible", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Jeton absent, invalide ou révoqué", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Rôle insuffisant", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Candidature inconnue", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "L'étape a changé entre-temps", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Déplacement interdit ou incomplet", body = Problem, content_type = "application/problem+json")
    )
)]
pub async fn move_stage(
    state: web::Data<AppState>,
    staff: ApiStaff,
    path: web::Path<String>,
    body: ApiJson<ChangementEtape>,
) -> Result<HttpResponse, Problem> {
    staff.require(RECRUITING)?;
    let application_id = id_from(&path)?;
    let body = body.0;
    let mut errors = Vec::new();
    let from = Stage::from_code(body.depuis.trim());
    if from.is_none() {
        errors.push(field(
            "depuis",
            format!("Étape inconnue. Étapes : {}.", stage_codes()),
        ));
    }
    let to = Stage::from_code(body.vers.trim());
    if to.is_none() {
        errors.push(field(
            "vers",
            format!("Étape inconnue. Étapes : {}.", stage_codes()),
        ));
    }
    if let Some(motif) = body.motif.as_deref().map(str::trim) {
        let codes = openapi::reason_codes();
        if !motif.is_empty() && !codes.contains(&motif) {
            errors.push(field(
                "motif",
                format!("Motif inconnu. Motifs : {}.", codes.join(", ")),
            ));
        }
    }
    let note = body.note.unwrap_or_default();
    if note.chars().count() > 5000 {
        errors.push(field(
            "note",
            "La note est trop longue (5 000 caractères au plus).",
        ));
    }
    let follow_up_on = match body.relance.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(d) => {
            let parsed = parse_date(d);
            if parsed.is_none() {
                errors.push(field("relance", "Date illisible : format AAAA-MM-JJ."));
            }
            parsed
        }
    };
    let (Some(from), Some(to), true) = (from, to, errors.is_empty()) else {
        return Err(Problem::validation(errors));
    };
    let request = MoveRequest {
        application_id,
        expected_from: from,
        to,
        reason: body.motif.map(|m| m.trim().to_owned()),
        note: Some(note.trim().to_owned()),
        follow_up_on,
    };
    let actor = staff.0.user_id;
    let outcome = db(&state, move |conn| {
        Ok(pipeline::move_application(
            conn,
            actor,
            &request,
            None,
            Utc::now(),
        )?)
    })
    .await?;
    match outcome {
        Ok(()) => {
            tracing::info!(
                application_id,
                to = to.code(),
                "stage moved through the API"
            );
            Ok(HttpResponse::Ok().json(application_detail(&state, application_id).await?))
        }
        Err(MoveError::NotFound) => Err(Problem::not_found("Cette candidature n'existe pas.")),
        Err(e @ MoveError::Stale(_)) => Err(Problem::new(
            StatusCode::CONFLICT,
            "conflit",
            "Conflit",
            e.to_string(),
        )),
        Err(e @ MoveError::NotAllowed(..)) => {
            Err(Problem::validation(vec![field("vers", e.to_string())]))
        }
        Err(MoveError::ReasonRequired) => {
            let codes = match to {
                Stage::Refused => pipeline::REFUSAL_REASONS,
                _ => pipeline::WITHDRAWAL_REASONS,
            };
            Err(Problem::validation(vec![field(
                "motif",
                format!(
                    "Indiquez le motif parmi : {}.",
                    codes.iter().map(|(c, _)| *c).collect::<Vec<_>>().join(", ")
                ),
            )]))
        }
        Err(e @ MoveError::FollowUpRequired) => {
            Err(Problem::validation(vec![field("relance", e.to_string())]))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Staff: campaigns

/// A campaign.
#[derive(Debug, Serialize, ToSchema)]
pub struct CampagneApi {
    pub id: i64,
    pub nom: String,
    /// `brouillon`, `programmee`, `en_cours`, `en_pause`, `terminee`, `annulee`.
    pub statut: String,
    pub statut_libelle: String,
    /// `maintenant`, `date` or `cron`.
    pub programmation: String,
    pub date_prevue: Option<DateTime<Utc>>,
    pub cron: Option<String>,
    pub envois_par_minute: i32,
    pub cree_le: DateTime<Utc>,
}

/// Every campaign.
#[utoipa::path(
    get,
    path = "/api/v1/campagnes",
    operation_id = "listerCampagnes",
    tag = "campagnes",
    security(("jeton" = [])),
    responses(
        (status = 200, description = "Les campagnes", body = [CampagneApi]),
        (status = 401, description = "Jeton absent, invalide ou révoqué", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Rôle insuffisant", body = Problem, content_type = "application/problem+json")
    )
)]
pub async fn list_campaigns(
    state: web::Data<AppState>,
    staff: ApiStaff,
) -> Result<HttpResponse, Problem> {
    staff.require(COMMUNICATION)?;
    let campaigns = db(&state, |conn| Ok(crate::campaigns::runs::list_all(conn)?)).await?;
    let body: Vec<CampagneApi> = campaigns
        .into_iter()
        .map(|c| CampagneApi {
            id: c.id,
            nom: c.name,
            statut: c.status.code().to_owned(),
            statut_libelle: c.status.label().to_owned(),
            programmation: c.schedule_kind.code().to_owned(),
            date_prevue: c.scheduled_at,
            cron: c.cron,
            envois_par_minute: c.rate_per_minute,
            cree_le: c.created_at,
        })
        .collect();
    Ok(HttpResponse::Ok().json(body))
}

/// A campaign's figures, as on its page.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatistiquesCampagne {
    pub campagne_id: i64,
    pub statut: String,
    /// Each run: scheduled time, status, recipients, sent, failed, skipped, cancelled, pending.
    #[schema(value_type = Vec<Object>)]
    pub envois: serde_json::Value,
    /// Sent, failed, unsubscribed, clicks, clickers, applications and recruitments attributed.
    #[schema(value_type = Object)]
    pub resultats: serde_json::Value,
}

/// A campaign's statistics: its runs' progress and what it brought.
#[utoipa::path(
    get,
    path = "/api/v1/campagnes/{id}/statistiques",
    operation_id = "statistiquesCampagne",
    tag = "campagnes",
    params(("id" = i64, Path, description = "Identifiant de la campagne")),
    security(("jeton" = [])),
    responses(
        (status = 200, description = "Les chiffres de la campagne", body = StatistiquesCampagne),
        (status = 401, description = "Jeton absent, invalide ou révoqué", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Rôle insuffisant", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Campagne inconnue", body = Problem, content_type = "application/problem+json")
    )
)]
pub async fn campaign_statistics(
    state: web::Data<AppState>,
    staff: ApiStaff,
    path: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    staff.require(COMMUNICATION)?;
    let id = id_from(&path)?;
    let found = db(&state, move |conn| {
        let Some(campaign) = crate::campaigns::runs::find(conn, id)? else {
            return Ok(None);
        };
        let now = Utc::now();
        let runs = crate::campaigns::runs::progress(conn, id, campaign.rate_per_minute, now)?;
        let outcome = crate::campaigns::runs::outcome(conn, id)?;
        Ok(Some((campaign, runs, outcome)))
    })
    .await?;
    let (campaign, runs, outcome) =
        found.ok_or_else(|| Problem::not_found("Cette campagne n'existe pas."))?;
    let unexpected =
        |e: serde_json::Error| Problem::from(crate::error::AppError::Unexpected(e.into()));
    Ok(HttpResponse::Ok().json(StatistiquesCampagne {
        campagne_id: id,
        statut: campaign.status.code().to_owned(),
        envois: serde_json::to_value(runs).map_err(unexpected)?,
        resultats: serde_json::to_value(outcome).map_err(unexpected)?,
    }))
}
