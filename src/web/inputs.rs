//! What every request sends is checked once, here, before any handler reads it:
//!
//! - control characters (NUL and the other C0 controls but tab, CR and LF) in the path, the query
//!   string, a url-encoded or JSON body are refused with a French 4xx (problem+json under `/api`):
//!   PostgreSQL cannot store NUL, and nothing invisible should reach a record or be echoed back.
//!   Multipart text values are checked where they are read ([`has_control`]), since a file part
//!   is binary;
//! - a body must arrive within `http.body_timeout_seconds`, plus one second per
//!   [`BODY_MIN_BYTES_PER_SECOND`] bytes received (408): actix's `client_request_timeout` covers
//!   only the headers, so a client sending one byte a second would hold a connection for as long
//!   as it likes;
//! - a non-multipart body is read up to [`MAX_BUFFERED_BODY_BYTES`] (413 in French past it);
//! - `HEAD` is answered as the `GET` of the same address, without the body (RFC 9110 §9.3.2).

use std::future::Future as _;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::{header, Method};
use actix_web::middleware::Next;
use actix_web::web::{Bytes, BytesMut};
use actix_web::{mime, web, HttpMessage, HttpResponse, ResponseError};
use futures_util::{Stream, StreamExt};
use tokio::time::{Instant, Sleep};

/// The rule itself is the domain's (every text field refuses these characters); re-exported for
/// the multipart readers.
pub use crate::domain::has_control;
use crate::domain::{is_forbidden_control, CONTROL_MESSAGE};
use crate::error::AppError;
use crate::web::api::problem::{FieldError, Problem};
use crate::web::AppState;

/// Largest url-encoded, JSON or other non-multipart body read (actix's own default for bodies
/// read as bytes or text; forms and JSON have smaller limits of their own).
pub const MAX_BUFFERED_BODY_BYTES: usize = 256 * 1024;

/// Marks a request that arrived as `HEAD` (it is routed as `GET`): handlers that count visits
/// (tracked links) leave such requests out.
#[derive(Debug, Clone, Copy)]
pub struct HeadRequest;

/// A field name fit to be shown in a message (names are chosen by the client).
pub fn shown_name(name: &str) -> String {
    let plain = !name.is_empty()
        && name.len() <= 60
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '[' | ']'));
    if plain {
        name.to_owned()
    } else {
        "(nom illisible)".to_owned()
    }
}

fn is_api(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

/// A refusal: an error page, or a problem document under `/api`.
enum Refusal {
    Page(AppError),
    Problem(Problem),
}

impl Refusal {
    fn into_response(self) -> HttpResponse {
        match self {
            Refusal::Page(e) => e.error_response(),
            Refusal::Problem(p) => p.error_response(),
        }
    }
}

fn refuse(api: bool, error: AppError) -> Refusal {
    if api {
        Refusal::Problem(Problem::from(error))
    } else {
        Refusal::Page(error)
    }
}

/// `%00`–`%1F` (but tab, CR, LF) in a percent-encoded string.
fn encoded_control(raw: &str) -> bool {
    let bytes = raw.as_bytes();
    bytes.windows(3).any(|w| {
        w[0] == b'%'
            && matches!(w[1], b'0' | b'1')
            && w[2].is_ascii_hexdigit()
            && u8::from_str_radix(std::str::from_utf8(&w[1..]).unwrap_or("ff"), 16)
                .is_ok_and(|b| is_forbidden_control(char::from(b)))
    }) || raw.chars().any(is_forbidden_control)
}

/// The first url-encoded field (name or value) holding a control character.
fn form_field_with_control(encoded: &[u8]) -> Option<String> {
    url::form_urlencoded::parse(encoded)
        .find(|(k, v)| has_control(k) || has_control(v))
        .map(|(k, _)| shown_name(&k))
}

/// The path (`a.b[2]`) of the first JSON string or key holding a control character.
fn json_field_with_control(value: &serde_json::Value, at: &str) -> Option<String> {
    use serde_json::Value;
    match value {
        Value::String(s) => has_control(s).then(|| at.to_owned()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| json_field_with_control(v, &format!("{at}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            let here = if at.is_empty() {
                shown_name(k)
            } else {
                format!("{at}.{}", shown_name(k))
            };
            if has_control(k) {
                Some(here)
            } else {
                json_field_with_control(v, &here)
            }
        }),
        _ => None,
    }
}

fn url_refusal(req: &ServiceRequest, api: bool) -> Option<Refusal> {
    if encoded_control(req.path()) {
        return Some(if api {
            Refusal::Problem(Problem::not_found(
                "Cette adresse ne correspond à aucune ressource de l'API.",
            ))
        } else {
            Refusal::Page(AppError::NotFound)
        });
    }
    let field = form_field_with_control(req.query_string().as_bytes())?;
    let detail = format!(
        "Le paramètre « {field} » de l'adresse contient un caractère de contrôle invisible \
         (par exemple NUL), qui n'est pas accepté : retirez-le de l'adresse."
    );
    Some(if api {
        let mut p = Problem::new(
            actix_web::http::StatusCode::BAD_REQUEST,
            "parametres-invalides",
            "Paramètres invalides",
            detail,
        );
        p.errors = vec![FieldError {
            field,
            message: CONTROL_MESSAGE.to_owned(),
        }];
        Refusal::Problem(p)
    } else {
        Refusal::Page(AppError::BadRequest(detail))
    })
}

fn body_refusal(req: &ServiceRequest, body: &[u8], api: bool) -> Option<Refusal> {
    let json = req
        .mime_type()
        .ok()
        .flatten()
        .is_some_and(|m| m.subtype() == mime::JSON || m.suffix() == Some(mime::JSON));
    if json {
        // A body that is not JSON is left to the JSON reader, which says what is wrong.
        let value: serde_json::Value = serde_json::from_slice(body).ok()?;
        let field = json_field_with_control(&value, "")?;
        return Some(if api {
            Refusal::Problem(Problem::validation(vec![FieldError {
                field,
                message: CONTROL_MESSAGE.to_owned(),
            }]))
        } else {
            Refusal::Page(AppError::Unprocessable(format!(
                "Le champ « {field} » contient un caractère de contrôle invisible (par exemple \
                 NUL), qui n'est pas accepté. Rien n'a été enregistré."
            )))
        });
    }
    // Forms, and bodies read as bytes by handlers that parse them as forms.
    let field = form_field_with_control(body)?;
    let message = format!(
        "Le champ « {field} » contient un caractère de contrôle invisible (par exemple NUL), qui \
         n'est pas accepté. Rien n'a été enregistré : revenez au formulaire, retapez la valeur \
         sans ce caractère et renvoyez-le."
    );
    Some(if api {
        let mut p = Problem::new(
            actix_web::http::StatusCode::BAD_REQUEST,
            "requete-invalide",
            "Requête invalide",
            message,
        );
        p.errors = vec![FieldError {
            field,
            message: CONTROL_MESSAGE.to_owned(),
        }];
        Refusal::Problem(p)
    } else {
        Refusal::Page(AppError::BadRequest(message))
    })
}

fn too_slow() -> AppError {
    AppError::RequestTimeout(
        "Le contenu de la requête est arrivé trop lentement et n'a pas été lu. Rien n'a été \
         enregistré : vérifiez votre connexion et renvoyez le formulaire."
            .to_owned(),
    )
}

fn too_large() -> AppError {
    AppError::PayloadTooLarge(format!(
        "Le contenu envoyé dépasse {} Ko. Rien n'a été enregistré : raccourcissez les textes \
         et renvoyez le formulaire.",
        MAX_BUFFERED_BODY_BYTES / 1024
    ))
}

/// The error a body stream yields once its deadline has passed.
fn timed_out() -> PayloadError {
    PayloadError::Io(io::Error::new(
        io::ErrorKind::TimedOut,
        "request body deadline passed",
    ))
}

/// True when a payload error is the body deadline passing.
pub fn is_timeout(e: &PayloadError) -> bool {
    matches!(e, PayloadError::Io(io) if io.kind() == io::ErrorKind::TimedOut)
}

/// What a multipart reader answers when the body could not be read: 408 past the deadline, a
/// French 400 otherwise (actix's English text is not shown).
pub fn multipart_failure(e: &actix_multipart::MultipartError) -> AppError {
    match e {
        actix_multipart::MultipartError::Payload(p) if is_timeout(p) => too_slow(),
        _ => AppError::BadRequest(
            "Le formulaire envoyé est illisible ou incomplet. Rien n'a été enregistré : \
             rechargez la page et recommencez."
                .to_owned(),
        ),
    }
}

/// Bytes a second a body must average, past its first `body_timeout_seconds`, to keep the
/// connection: each such slice of bytes received buys one more second (as Apache's
/// `mod_reqtimeout` MinRate does). A CV sent over a poor mobile link (a few tens of KB/s) goes
/// through; one byte a second is cut off once the base time is spent.
pub const BODY_MIN_BYTES_PER_SECOND: u64 = 4 * 1024;
/// However fast it trickles, a body is not read for longer than this.
pub const BODY_MAX_SECONDS: u64 = 600;

/// A body stream that fails once its deadline has passed: `base` after the headers, plus one
/// second per [`BODY_MIN_BYTES_PER_SECOND`] bytes received, at most [`BODY_MAX_SECONDS`].
struct Deadline {
    inner: Payload,
    started: Instant,
    base: Duration,
    received: u64,
    sleep: Pin<Box<Sleep>>,
    done: bool,
}

impl Deadline {
    fn new(inner: Payload, base: Duration) -> Deadline {
        let started = Instant::now();
        Deadline {
            inner,
            started,
            base,
            received: 0,
            sleep: Box::pin(tokio::time::sleep_until(started + base)),
            done: false,
        }
    }

    fn extend(&mut self, bytes: usize) {
        self.received = self.received.saturating_add(bytes as u64);
        let earned = Duration::from_secs(self.received / BODY_MIN_BYTES_PER_SECOND);
        let allowed =
            (self.base + earned).min(Duration::from_secs(BODY_MAX_SECONDS).max(self.base));
        self.sleep.as_mut().reset(self.started + allowed);
    }
}

impl Stream for Deadline {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        if let Poll::Ready(item) = self.inner.poll_next_unpin(cx) {
            match &item {
                None => self.done = true,
                Some(Ok(chunk)) => {
                    let n = chunk.len();
                    self.extend(n);
                }
                Some(Err(_)) => {}
            }
            return Poll::Ready(item);
        }
        if self.sleep.as_mut().poll(cx).is_ready() {
            self.done = true;
            return Poll::Ready(Some(Err(timed_out())));
        }
        Poll::Pending
    }
}

fn has_body(req: &ServiceRequest) -> bool {
    let headers = req.headers();
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() != "0")
}

fn is_multipart(req: &ServiceRequest) -> bool {
    req.mime_type()
        .ok()
        .flatten()
        .is_some_and(|m| m.type_() == mime::MULTIPART)
}

async fn read_body(payload: &mut Deadline) -> Result<Bytes, AppError> {
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            if is_timeout(&e) {
                too_slow()
            } else {
                AppError::BadRequest(
                    "Le contenu de la requête n'a pas pu être lu entièrement. Rien n'a été \
                     enregistré : renvoyez le formulaire."
                        .to_owned(),
                )
            }
        })?;
        if body.len() + chunk.len() > MAX_BUFFERED_BODY_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// The middleware: see the module documentation.
pub async fn check_inputs(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let api = is_api(req.path());
    if let Some(refusal) = url_refusal(&req, api) {
        return Ok(req.into_response(refusal.into_response()));
    }
    if has_body(&req) {
        let seconds = req
            .app_data::<web::Data<AppState>>()
            .map_or(30, |state| state.settings.http.body_timeout_seconds);
        let mut payload = Deadline::new(req.take_payload(), Duration::from_secs(seconds));
        if is_multipart(&req) {
            // Read as it comes by the handler (CVs, imports): only the deadline is added here.
            req.set_payload(Payload::Stream {
                payload: Box::pin(payload),
            });
        } else {
            let declared = req
                .headers()
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok());
            if declared.is_some_and(|n| n > MAX_BUFFERED_BODY_BYTES as u64) {
                let refusal = refuse(api, too_large());
                return Ok(req.into_response(refusal.into_response()));
            }
            let body = match read_body(&mut payload).await {
                Ok(body) => body,
                Err(e) => {
                    let refusal = refuse(api, e);
                    return Ok(req.into_response(refusal.into_response()));
                }
            };
            if let Some(refusal) = body_refusal(&req, &body, api) {
                return Ok(req.into_response(refusal.into_response()));
            }
            req.set_payload(Payload::Stream {
                payload: Box::pin(futures_util::stream::iter([Ok::<_, PayloadError>(body)])),
            });
        }
    }
    next.call(req).await.map(|res| res.map_into_boxed_body())
}

/// `HEAD` is routed as `GET`; actix's HTTP/1 encoder then sends the status and headers (with the
/// `GET`'s `Content-Length`) and drops the body, since the connection knows the request was
/// `HEAD`.
pub async fn head_as_get(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if req.method() == Method::HEAD {
        req.head_mut().method = Method::GET;
        req.extensions_mut().insert(HeadRequest);
    }
    next.call(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_found_however_they_are_written() {
        assert!(encoded_control("/a%00b"));
        assert!(encoded_control("/a%1fb"));
        assert!(!encoded_control("/a%09b%0A%0d%20"));
        assert_eq!(form_field_with_control(b"q=a%00b").as_deref(), Some("q"));
        assert_eq!(form_field_with_control(b"q=a%09b&r=%0D%0A"), None);
        assert_eq!(
            form_field_with_control(b"%3Cb%3E=%01").as_deref(),
            Some("(nom illisible)")
        );
        let v: serde_json::Value =
            serde_json::from_str(r#"{"a":{"b":["x","y\u0000"]},"c":"\\u0000"}"#).unwrap();
        assert_eq!(json_field_with_control(&v, "").as_deref(), Some("a.b[1]"));
        let v: serde_json::Value = serde_json::from_str(r#"{"c":"\\u0000 \t"}"#).unwrap();
        assert_eq!(json_field_with_control(&v, ""), None);
    }
}
