//! Per-client rate limiting of form submissions (actix-governor), answered in French with
//! `Retry-After`.
//!
//! A bucket must be created once per instance and shared by every actix worker: the server
//! builds its app once per worker (one per core), and a bucket made inside that factory would
//! give each worker its own allowance, `form_burst` × workers in all. `web::RateLimits` holds
//! them, built by `startup` before the server.

use std::net::IpAddr;

use actix_governor::governor::clock::{Clock, DefaultClock, QuantaInstant};
use actix_governor::governor::middleware::NoOpMiddleware;
use actix_governor::governor::NotUntil;
use actix_governor::{
    GovernorConfig, GovernorConfigBuilder, KeyExtractor, SimpleKeyExtractionError,
};
use actix_web::dev::ServiceRequest;
use actix_web::http::Method;
use actix_web::{HttpResponse, HttpResponseBuilder};

use crate::config::Settings;
use crate::error::error_page;

/// One bucket per client address, for POST requests: `http.form_burst` at once, then one every
/// `http.form_replenish_seconds`. Clones share the bucket.
pub type Limit<K> = GovernorConfig<K, NoOpMiddleware<QuantaInstant>>;

/// A new bucket keyed by `key`; create it once per instance (see the module's note).
pub fn post_limit<K: KeyExtractor>(settings: &Settings, key: K) -> anyhow::Result<Limit<K>> {
    GovernorConfigBuilder::default()
        .seconds_per_request(settings.http.form_replenish_seconds)
        .burst_size(settings.http.form_burst)
        .methods(vec![Method::POST])
        .key_extractor(key)
        .finish()
        .ok_or_else(|| {
            anyhow::anyhow!(
                "configuration invalide : clé `http.form_burst` : form_burst et \
                 form_replenish_seconds doivent être au moins 1"
            )
        })
}

/// Keys requests on the client address: the peer's, or the forwarded one when the service is
/// configured to trust its reverse proxy.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp {
    pub trust_forwarded_for: bool,
}

impl ClientIp {
    pub fn new(settings: &Settings) -> ClientIp {
        ClientIp {
            trust_forwarded_for: settings.http.trust_forwarded_for,
        }
    }
}

impl KeyExtractor for ClientIp {
    type Key = IpAddr;
    type KeyExtractionError = SimpleKeyExtractionError<&'static str>;

    fn extract(&self, req: &ServiceRequest) -> Result<Self::Key, Self::KeyExtractionError> {
        let forwarded = if self.trust_forwarded_for {
            req.connection_info()
                .realip_remote_addr()
                .and_then(|a| a.parse::<IpAddr>().ok())
        } else {
            None
        };
        forwarded
            .or_else(|| req.peer_addr().map(|a| a.ip()))
            .ok_or_else(|| SimpleKeyExtractionError::new("adresse du client inconnue"))
    }

    fn exceed_rate_limit_response(
        &self,
        negative: &NotUntil<QuantaInstant>,
        mut response: HttpResponseBuilder,
    ) -> HttpResponse {
        let wait = negative
            .wait_time_from(DefaultClock::default().now())
            .as_secs()
            .max(1);
        let minutes = wait.div_ceil(60);
        let message = format!(
            "Trop d'envois depuis votre connexion en peu de temps. Rien n'a été enregistré \
             pour cet envoi : revenez en arrière et renvoyez le formulaire dans {} {}.",
            if wait < 60 { wait } else { minutes },
            if wait < 60 { "secondes" } else { "minutes" }
        );
        error_page(&mut response, "Trop de demandes", &message)
    }
}
