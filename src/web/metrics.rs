//! `/metrics` for Prometheus, and the middleware that counts, times and logs every request and
//! returns its id in `X-Request-Id`.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::telemetry::{method_label, route_label};
use crate::web::AppState;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Routes whose requests are logged at debug level: probes and scrapes come every few seconds.
const QUIET_ROUTES: &[&str] = &["/healthz", "/readyz", "/metrics", "/static/{file:.*}"];

/// The metrics, when enabled; with a configured token only for `Authorization: Bearer <token>`.
pub async fn scrape(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let settings = &state.settings.metrics;
    if !settings.enabled {
        return HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("Les métriques sont désactivées (metrics.enabled).\n");
    }
    let token = settings.token.expose_secret();
    if !token.is_empty() && !bearer_matches(&req, token) {
        return HttpResponse::Unauthorized()
            .insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"metrics\""))
            .content_type("text/plain; charset=utf-8")
            .body("Jeton d'accès aux métriques absent ou invalide.\n");
    }
    let (metrics, pool) = (state.metrics.clone(), state.pool.clone());
    match web::block(move || metrics.scrape(&pool)).await {
        Ok(text) => HttpResponse::Ok().content_type(OPENMETRICS).body(text),
        Err(e) => {
            tracing::warn!(error = %e, "metrics scrape task failed");
            HttpResponse::ServiceUnavailable()
                .content_type("text/plain; charset=utf-8")
                .body("Métriques momentanément indisponibles.\n")
        }
    }
}

/// Compares digests in constant time, so the answer's timing tells nothing about the token.
fn bearer_matches(req: &HttpRequest, token: &str) -> bool {
    let Some(given) = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    let given = Sha256::digest(given.trim().as_bytes());
    let wanted = Sha256::digest(token.as_bytes());
    given.ct_eq(&wanted).into()
}

/// Counts and times the request by route pattern, logs its outcome inside the request's span
/// (which carries the request id), and returns the id in `X-Request-Id`. Wrapped inside
/// tracing-actix-web's `TracingLogger`, which creates the id and the span.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
    let started = Instant::now();
    let route = route_label(req.request());
    let method = method_label(req.method());
    let request_id = req
        .extensions()
        .get::<tracing_actix_web::RequestId>()
        .copied();
    let metrics = req
        .app_data::<web::Data<AppState>>()
        .map(|state| state.metrics.clone());
    let result = next.call(req).await;
    let status = match &result {
        Ok(response) => response.status(),
        Err(e) => e.as_response_error().status_code(),
    };
    let elapsed = started.elapsed();
    if let Some(metrics) = metrics {
        metrics.observe_request(method, &route, status.as_u16(), elapsed);
    }
    let duration_ms = elapsed.as_secs_f64() * 1000.0;
    if QUIET_ROUTES.contains(&route.as_str()) {
        tracing::debug!(status = status.as_u16(), duration_ms, "request answered");
    } else {
        tracing::info!(status = status.as_u16(), duration_ms, "request answered");
    }
    let mut response = result?;
    if let Some(id) = request_id {
        if let Ok(value) = HeaderValue::from_str(&id.to_string()) {
            response.headers_mut().insert(REQUEST_ID, value);
        }
    }
    Ok(response)
}
