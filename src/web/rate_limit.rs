//! Per-client rate limiting of form submissions (actix-governor), answered in French with
//! `Retry-After`.

use std::net::IpAddr;

use actix_governor::governor::clock::{Clock, DefaultClock, QuantaInstant};
use actix_governor::governor::NotUntil;
use actix_governor::{KeyExtractor, SimpleKeyExtractionError};
use actix_web::dev::ServiceRequest;
use actix_web::{HttpResponse, HttpResponseBuilder};

use crate::error::error_page;

/// Keys requests on the client address: the peer's, or the forwarded one when the service is
/// configured to trust its reverse proxy.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp {
    pub trust_forwarded_for: bool,
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
