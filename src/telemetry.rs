//! Logging with `tracing`. Personal data (names, e-mails, phones, RPPS numbers) is never passed
//! to a log macro: log record ids and codes instead.

use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, LogSettings};

/// Installs the global subscriber. `RUST_LOG` overrides the configured level. Safe to call more
/// than once (tests do): later calls are ignored.
pub fn init(settings: &LogSettings) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&settings.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match settings.format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// The route pattern a request matched (`/desinscription/{token}`), or `unmatched`: what logs
/// and metrics name a request by. Never the path itself, which may carry a private token, nor
/// the query string, which may carry personal data.
pub fn route_label(request: &actix_web::HttpRequest) -> String {
    request
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned())
}

/// The method, with anything unusual folded into `OTHER` (a label must not grow without bound).
pub fn method_label(method: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// The root span of every request: its id (also sent back in `X-Request-Id`), the method and
/// the route pattern. Unlike tracing-actix-web's default span it records neither the target
/// (path and query), nor the client address, nor the user agent.
pub struct RequestSpan;

impl tracing_actix_web::RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &actix_web::dev::ServiceRequest) -> tracing::Span {
        use actix_web::HttpMessage;
        let request_id = request
            .extensions()
            .get::<tracing_actix_web::RequestId>()
            .map(ToString::to_string)
            .unwrap_or_default();
        // At error level so that the span (and its request id) stays enabled whatever
        // `log.level` is: a `warn` setting must still tie its lines to their request.
        tracing::error_span!(
            "request",
            request_id = %request_id,
            method = method_label(request.method()),
            route = %route_label(request.request()),
        )
    }

    fn on_request_end<B: actix_web::body::MessageBody>(
        _span: tracing::Span,
        _outcome: &Result<actix_web::dev::ServiceResponse<B>, actix_web::Error>,
    ) {
        // The outcome is logged by web::metrics::observe, which also knows the duration.
    }
}
