//! One application error for the web boundary. It renders itself as a French HTML page and maps
//! database trouble to 503 without revealing internals.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::templates;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("page introuvable")]
    NotFound,
    /// A staff page asked for without a valid session: back to the sign-in page, then here.
    #[error("connexion requise")]
    LoginRequired(String),
    /// Somewhere else first (the second factor, its enrollment).
    #[error("redirection")]
    Redirect(String),
    #[error("trop de tentatives")]
    TooManyRequests {
        retry_after_seconds: i64,
        message: String,
    },
    #[error("requête invalide : {0}")]
    BadRequest(String),
    #[error("accès refusé : {0}")]
    Forbidden(String),
    #[error("conflit : {0}")]
    Conflict(String),
    #[error("demande impossible : {0}")]
    Unprocessable(String),
    #[error("envoi trop volumineux : {0}")]
    PayloadTooLarge(String),
    #[error("type de contenu non pris en charge : {0}")]
    UnsupportedMediaType(String),
    /// The body did not arrive within the allowed time.
    #[error("envoi trop lent : {0}")]
    RequestTimeout(String),
    #[error("service momentanément indisponible")]
    Unavailable(#[source] anyhow::Error),
    #[error(transparent)]
    Unexpected(anyhow::Error),
}

impl AppError {
    fn title_and_message(&self) -> (&'static str, String) {
        match self {
            AppError::NotFound => (
                "Page introuvable",
                "L'adresse demandée n'existe pas ou n'est plus valable.".to_owned(),
            ),
            AppError::Redirect(_) => ("Redirection", String::new()),
            AppError::LoginRequired(_) => (
                "Connexion requise",
                "Connectez-vous pour accéder à cette page.".to_owned(),
            ),
            AppError::TooManyRequests { message, .. } => ("Trop de tentatives", message.clone()),
            AppError::BadRequest(m) => ("Requête invalide", m.clone()),
            AppError::Forbidden(m) => ("Accès refusé", m.clone()),
            AppError::Conflict(m) => ("Modification concurrente", m.clone()),
            AppError::Unprocessable(m) => ("Demande impossible", m.clone()),
            AppError::PayloadTooLarge(m) => ("Envoi trop volumineux", m.clone()),
            AppError::UnsupportedMediaType(m) => ("Format non pris en charge", m.clone()),
            AppError::RequestTimeout(m) => ("Envoi trop lent", m.clone()),
            AppError::Unavailable(_) => (
                "Service momentanément indisponible",
                "Le service ne peut pas enregistrer ni afficher de données pour le moment. \
                 Rien n'a été enregistré : merci de réessayer dans quelques minutes."
                    .to_owned(),
            ),
            AppError::Unexpected(_) => (
                "Erreur inattendue",
                "Une erreur inattendue s'est produite. Rien n'a été perdu de ce qui était \
                 déjà enregistré ; merci de réessayer plus tard."
                    .to_owned(),
            ),
        }
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::LoginRequired(_) | AppError::Redirect(_) => StatusCode::SEE_OTHER,
            AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            AppError::Unavailable(e) => tracing::warn!(error = %e, "service unavailable"),
            AppError::Unexpected(e) => tracing::error!(error = ?e, "unexpected error"),
            _ => {}
        }
        if let AppError::LoginRequired(next) = self {
            let target = format!(
                "/connexion?suite={}",
                url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
            );
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, target))
                .finish();
        }
        if let AppError::Redirect(target) = self {
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, target.as_str()))
                .finish();
        }
        let status = self.status_code();
        let (title, message) = self.title_and_message();
        let mut builder = HttpResponse::build(status);
        if status == StatusCode::SERVICE_UNAVAILABLE {
            builder.insert_header((header::RETRY_AFTER, "30"));
        }
        if let AppError::TooManyRequests {
            retry_after_seconds,
            ..
        } = self
        {
            builder.insert_header((header::RETRY_AFTER, retry_after_seconds.to_string()));
        }
        error_page(&mut builder, title, &message)
    }
}

/// Renders the error page; falls back to plain text if the template itself fails.
pub fn error_page(
    builder: &mut actix_web::HttpResponseBuilder,
    title: &str,
    message: &str,
) -> HttpResponse {
    match templates::global().render_page(
        "public/error",
        &json!({ "title": title, "message": message }),
    ) {
        Ok(html) => builder.content_type("text/html; charset=utf-8").body(html),
        Err(_) => builder
            .content_type("text/plain; charset=utf-8")
            .body(format!("{title}\n\n{message}")),
    }
}

/// True when a diesel error means the database went away (restart, network, shutdown) rather
/// than a fault in the query: such requests get a 503 and the pool reconnects by itself.
pub fn is_connection_error(e: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    match e {
        Error::DatabaseError(DatabaseErrorKind::ClosedConnection, _)
        | Error::DatabaseError(DatabaseErrorKind::UnableToSendCommand, _)
        | Error::BrokenTransactionManager => true,
        Error::DatabaseError(_, info) => {
            let m = info.message();
            m.contains("terminating connection")
                || m.contains("server closed the connection")
                || m.contains("the database system is")
                || m.contains("connection to server")
                || m.contains("no connection to the server")
        }
        _ => false,
    }
}

/// Classifies a diesel error: lost or refused connections mean the database is unavailable.
pub fn from_diesel(e: diesel::result::Error) -> AppError {
    if matches!(e, diesel::result::Error::NotFound) {
        AppError::NotFound
    } else if is_connection_error(&e) {
        AppError::Unavailable(anyhow::Error::new(e))
    } else {
        AppError::Unexpected(anyhow::Error::new(e))
    }
}

impl From<anyhow::Error> for AppError {
    fn from(e: anyhow::Error) -> Self {
        let unavailable = e.chain().any(|cause| {
            cause.downcast_ref::<diesel::r2d2::PoolError>().is_some()
                || cause
                    .downcast_ref::<diesel::result::Error>()
                    .is_some_and(is_connection_error)
                || cause.downcast_ref::<diesel::ConnectionError>().is_some()
        });
        if unavailable {
            AppError::Unavailable(e)
        } else {
            AppError::Unexpected(e)
        }
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        from_diesel(e)
    }
}
