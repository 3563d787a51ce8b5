//! Who calls the API: the client address the submission's rate limit is keyed on, and the
//! staff member an API token acts for, with their roles.

use std::future::Future;
use std::pin::Pin;

use actix_governor::governor::clock::{Clock, DefaultClock, QuantaInstant};
use actix_governor::governor::NotUntil;
use actix_governor::{KeyExtractor, SimpleKeyExtractionError};
use actix_web::dev::ServiceRequest;
use actix_web::http::{header, StatusCode};
use actix_web::{web, FromRequest, HttpRequest, HttpResponse, HttpResponseBuilder, ResponseError};
use chrono::Utc;

use super::problem::Problem;
use crate::api_tokens::{self, TokenIdentity};
use crate::db::enums::StaffRole;
use crate::web::rate_limit::ClientIp;
use crate::web::{db, AppState};

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

/// The staff member an API token acts for. Extracting it from a request without a valid token
/// answers 401 with `WWW-Authenticate: Bearer`.
pub struct ApiStaff(pub TokenIdentity);

impl ApiStaff {
    /// 403 unless the member has one of `roles` (admins may do everything).
    pub(super) fn require(&self, roles: &[StaffRole]) -> Result<(), Problem> {
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
