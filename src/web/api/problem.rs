//! RFC 9457 problem details: every error under `/api` is answered as `application/problem+json`
//! with a French title and detail, and one entry per wrong field for validation errors.

use std::fmt;

use actix_web::error::{JsonPayloadError, QueryPayloadError};
use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::AppError;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// One wrong field and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// The field's name, as in the request body (or query string).
    pub field: String,
    /// What is wrong and how to correct it, in French.
    pub message: String,
}

/// An error, as described by RFC 9457.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// What kind of problem this is (`urn:vocation:probleme:…`).
    #[serde(rename = "type", serialize_with = "as_urn")]
    #[schema(value_type = String, example = "urn:vocation:probleme:validation")]
    pub kind: &'static str,
    /// A short French summary of the kind of problem.
    pub title: &'static str,
    /// The HTTP status code.
    pub status: u16,
    /// What happened this time, in French.
    pub detail: String,
    /// The wrong fields (empty unless the problem is about fields).
    pub errors: Vec<FieldError>,
    /// Headers to add (WWW-Authenticate, Retry-After, Allow).
    #[serde(skip)]
    #[schema(ignore)]
    pub headers: Vec<(header::HeaderName, String)>,
}

fn as_urn<S: serde::Serializer>(kind: &&'static str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("urn:vocation:probleme:{kind}"))
}

impl Problem {
    pub fn new(
        status: StatusCode,
        kind: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Problem {
        Problem {
            kind,
            title,
            status: status.as_u16(),
            detail: detail.into(),
            errors: Vec::new(),
            headers: Vec::new(),
        }
    }

    pub fn with_header(mut self, name: header::HeaderName, value: impl Into<String>) -> Problem {
        self.headers.push((name, value.into()));
        self
    }

    /// 422: the request was read but some fields are wrong.
    pub fn validation(errors: Vec<FieldError>) -> Problem {
        let n = errors.len();
        let mut p = Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            "Données invalides",
            if n > 1 {
                format!("{n} champs sont à corriger ; rien n'a été enregistré.")
            } else {
                "Un champ est à corriger ; rien n'a été enregistré.".to_owned()
            },
        );
        p.errors = errors;
        p
    }

    /// 400: the body could not be read as the expected JSON.
    pub fn malformed(detail: impl Into<String>, errors: Vec<FieldError>) -> Problem {
        let mut p = Problem::new(
            StatusCode::BAD_REQUEST,
            "json-invalide",
            "Corps de requête invalide",
            detail,
        );
        p.errors = errors;
        p
    }

    /// 401 with `WWW-Authenticate: Bearer`.
    pub fn unauthorized(detail: &str, token_given: bool) -> Problem {
        let challenge = if token_given {
            "Bearer realm=\"vocation\", error=\"invalid_token\""
        } else {
            "Bearer realm=\"vocation\""
        };
        Problem::new(
            StatusCode::UNAUTHORIZED,
            "jeton",
            "Authentification requise",
            detail,
        )
        .with_header(header::WWW_AUTHENTICATE, challenge)
    }

    pub fn forbidden() -> Problem {
        Problem::new(
            StatusCode::FORBIDDEN,
            "acces-refuse",
            "Accès refusé",
            "Le rôle du compte de ce jeton ne permet pas cette action.",
        )
    }

    pub fn not_found(detail: &str) -> Problem {
        Problem::new(
            StatusCode::NOT_FOUND,
            "introuvable",
            "Ressource introuvable",
            detail,
        )
    }

    pub fn method_not_allowed(allow: &str) -> Problem {
        Problem::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "methode-non-autorisee",
            "Méthode non autorisée",
            format!("Cette adresse accepte seulement : {allow}."),
        )
        .with_header(header::ALLOW, allow)
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.title, self.status, self.detail)
    }
}

impl ResponseError for Problem {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let mut builder = HttpResponse::build(self.status_code());
        builder
            .content_type(PROBLEM_JSON)
            .insert_header((header::CACHE_CONTROL, "no-store"));
        for (name, value) in &self.headers {
            builder.insert_header((name.clone(), value.as_str()));
        }
        builder.body(serde_json::to_string(self).unwrap_or_else(|_| {
            format!(
                "{{\"type\":\"about:blank\",\"status\":{},\"title\":\"Erreur\"}}",
                self.status
            )
        }))
    }
}

impl From<AppError> for Problem {
    fn from(e: AppError) -> Problem {
        match e {
            AppError::NotFound => Problem::not_found("Cette ressource n'existe pas."),
            AppError::LoginRequired(_) | AppError::Redirect(_) => Problem::unauthorized(
                "Présentez un jeton d'API dans l'en-tête Authorization: Bearer.",
                false,
            ),
            AppError::TooManyRequests {
                retry_after_seconds,
                message,
            } => Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "trop-de-demandes",
                "Trop de demandes",
                message,
            )
            .with_header(header::RETRY_AFTER, retry_after_seconds.to_string()),
            AppError::BadRequest(m) => Problem::new(
                StatusCode::BAD_REQUEST,
                "requete-invalide",
                "Requête invalide",
                m,
            ),
            AppError::Forbidden(m) => {
                Problem::new(StatusCode::FORBIDDEN, "acces-refuse", "Accès refusé", m)
            }
            AppError::Conflict(m) => Problem::new(StatusCode::CONFLICT, "conflit", "Conflit", m),
            AppError::Unprocessable(m) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "demande-impossible",
                "Demande impossible",
                m,
            ),
            AppError::PayloadTooLarge(m) => Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "trop-volumineux",
                "Envoi trop volumineux",
                m,
            ),
            AppError::UnsupportedMediaType(m) => Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "format-non-pris-en-charge",
                "Format non pris en charge",
                m,
            ),
            AppError::RequestTimeout(m) => Problem::new(
                StatusCode::REQUEST_TIMEOUT,
                "envoi-trop-lent",
                "Envoi trop lent",
                m,
            ),
            AppError::Unavailable(e) => {
                tracing::warn!(error = %e, "API: service unavailable");
                Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "indisponible",
                    "Service momentanément indisponible",
                    "Le service ne peut pas lire ni enregistrer de données pour le moment. Rien \
                     n'a été enregistré : réessayez dans quelques minutes.",
                )
                .with_header(header::RETRY_AFTER, "30")
            }
            AppError::Unexpected(e) => {
                tracing::error!(error = ?e, "API: unexpected error");
                Problem::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "erreur-interne",
                    "Erreur inattendue",
                    "Une erreur inattendue s'est produite ; réessayez plus tard.",
                )
            }
        }
    }
}

fn between_backticks(message: &str) -> Option<&str> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(&message[start..start + len])
}

/// What serde expected, in French (serde's own text is English: "expected a string"…).
fn expected_in_french(message: &str) -> &'static str {
    let expected = message
        .rsplit_once(", expected ")
        .map(|(_, e)| e)
        .unwrap_or_default();
    if expected.contains("string") || expected.contains("char") {
        "un texte entre guillemets"
    } else if expected.contains("bool") {
        "true ou false"
    } else if expected.contains("sequence") {
        "une liste entre crochets, par exemple [1, 2]"
    } else if expected.contains("struct") || expected.contains("map") {
        "un objet JSON entre accolades"
    } else if [
        "i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "integer",
    ]
    .iter()
    .any(|t| expected.contains(t))
    {
        if message.starts_with("invalid value") {
            "un nombre entier dans les bornes indiquées par la documentation"
        } else {
            "un nombre entier"
        }
    } else {
        "la valeur décrite dans la documentation (/api/openapi.json)"
    }
}

/// A French problem for a JSON body serde could not read: syntax, types, unknown, missing or
/// repeated fields. `field` is the field whose value has the wrong type, when it is known
/// (see [`super::json::parse_json`]); serde's English text is never shown.
pub fn from_json_error(e: &serde_json::Error, field: Option<String>) -> Problem {
    use serde_json::error::Category;
    let full = e.to_string();
    // serde_json appends " at line L column C"; the position is given in French instead.
    let message = full.split(" at line ").next().unwrap_or(&full);
    let place = format!("ligne {}, colonne {}", e.line(), e.column());
    let named = |detail: String, field: String, message: &str| {
        Problem::malformed(
            detail,
            vec![FieldError {
                field,
                message: message.to_owned(),
            }],
        )
    };
    match e.classify() {
        Category::Eof => Problem::malformed(
            format!("Le JSON s'arrête avant la fin ({place}) : envoyez un objet JSON complet."),
            Vec::new(),
        ),
        Category::Syntax | Category::Io => Problem::malformed(
            format!(
                "Le corps n'est pas du JSON valide en UTF-8 ({place}) : vérifiez la syntaxe \
                 (guillemets, virgules, accolades) et l'encodage."
            ),
            Vec::new(),
        ),
        Category::Data => {
            let backticked = between_backticks(message).unwrap_or_default().to_owned();
            if message.starts_with("duplicate field") {
                named(
                    format!("Le champ « {backticked} » figure plusieurs fois ({place})."),
                    backticked,
                    "Ce champ figure plusieurs fois dans l'objet : ne l'envoyez qu'une fois.",
                )
            } else if message.starts_with("unknown field") {
                named(
                    format!("Le champ « {backticked} » n'existe pas ({place})."),
                    backticked,
                    "Ce champ n'existe pas : vérifiez son nom dans la documentation \
                     (/api/openapi.json).",
                )
            } else if message.starts_with("missing field") {
                named(
                    format!("Le champ obligatoire « {backticked} » manque ({place})."),
                    backticked,
                    "Ce champ est obligatoire.",
                )
            } else if message.starts_with("invalid type")
                || message.starts_with("invalid value")
                || message.starts_with("invalid length")
            {
                let expected = expected_in_french(message);
                match field {
                    Some(field) => named(
                        format!(
                            "Le champ « {field} » n'a pas le type attendu ({place}) : \
                             {expected}."
                        ),
                        field,
                        &format!("Valeur du mauvais type : {expected} est attendu."),
                    ),
                    None if message.contains("expected struct") => Problem::malformed(
                        format!(
                            "Le corps n'a pas le type attendu ({place}) : un objet JSON entre \
                             accolades, dont les champs sont décrits par la documentation \
                             (/api/openapi.json)."
                        ),
                        Vec::new(),
                    ),
                    None => Problem::malformed(
                        format!("Une valeur n'a pas le type attendu ({place}) : {expected}."),
                        Vec::new(),
                    ),
                }
            } else {
                Problem::malformed(
                    format!(
                        "Le JSON ne correspond pas au format attendu ({place}) : voyez la \
                         documentation (/api/openapi.json)."
                    ),
                    Vec::new(),
                )
            }
        }
    }
}

/// What actix's JSON extractor reports, as a problem.
pub fn from_json_payload_error(e: &JsonPayloadError) -> Problem {
    match e {
        JsonPayloadError::OverflowKnownLength { limit, .. }
        | JsonPayloadError::Overflow { limit } => Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "trop-volumineux",
            "Envoi trop volumineux",
            format!(
                "Le corps dépasse {} Ko : rien n'a été lu ni enregistré.",
                limit / 1024
            ),
        ),
        JsonPayloadError::ContentType => Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "format-non-pris-en-charge",
            "Format non pris en charge",
            "Envoyez le corps en JSON avec l'en-tête « Content-Type: application/json ».",
        ),
        JsonPayloadError::Deserialize(e) => from_json_error(e, None),
        _ => Problem::malformed(
            "Le corps de la requête n'a pas pu être lu entièrement : renvoyez-le.",
            Vec::new(),
        ),
    }
}

/// Malformed query strings (a repeated parameter…), in French: serde's English text is never
/// shown.
pub fn from_query_error(e: &QueryPayloadError) -> Problem {
    let (detail, errors) = match e {
        QueryPayloadError::Deserialize(e) => {
            let message = e.to_string();
            match between_backticks(&message) {
                Some(name) if message.starts_with("duplicate field") => (
                    format!("Le paramètre « {name} » figure plusieurs fois dans l'adresse."),
                    vec![FieldError {
                        field: name.to_owned(),
                        message: "Ce paramètre figure plusieurs fois : ne le donnez qu'une fois."
                            .to_owned(),
                    }],
                ),
                _ => (
                    "Les paramètres de l'adresse sont invalides : voyez la documentation \
                     (/api/openapi.json)."
                        .to_owned(),
                    Vec::new(),
                ),
            }
        }
        _ => (
            "Les paramètres de l'adresse sont illisibles.".to_owned(),
            Vec::new(),
        ),
    };
    let mut p = Problem::new(
        StatusCode::BAD_REQUEST,
        "parametres-invalides",
        "Paramètres invalides",
        detail,
    );
    p.errors = errors;
    p
}

/// The JSON extractor's settings under /api: a small body limit and problem details.
pub fn json_config() -> actix_web::web::JsonConfig {
    actix_web::web::JsonConfig::default()
        .limit(64 * 1024)
        .error_handler(|err, _req: &HttpRequest| {
            let problem = from_json_payload_error(&err);
            actix_web::error::InternalError::from_response(err, problem.error_response()).into()
        })
}

pub fn query_config() -> actix_web::web::QueryConfig {
    actix_web::web::QueryConfig::default().error_handler(|err, _req: &HttpRequest| {
        let problem = from_query_error(&err);
        actix_web::error::InternalError::from_response(err, problem.error_response()).into()
    })
}

pub fn path_config() -> actix_web::web::PathConfig {
    actix_web::web::PathConfig::default().error_handler(|err, _req: &HttpRequest| {
        let problem = Problem::not_found("Cette adresse ne correspond à aucune ressource.");
        actix_web::error::InternalError::from_response(err, problem.error_response()).into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Sample {
        #[serde(default)]
        nom: String,
    }

    #[test]
    fn duplicated_and_unknown_fields_name_the_field() {
        let e = serde_json::from_str::<Sample>(r#"{"nom":"a","nom":"b"}"#).unwrap_err();
        let p = from_json_error(&e, None);
        assert_eq!(p.status, 400);
        assert_eq!(p.errors[0].field, "nom");
        let e = serde_json::from_str::<Sample>(r#"{"prenom":"a"}"#).unwrap_err();
        assert_eq!(from_json_error(&e, None).errors[0].field, "prenom");
    }
}
