//! CSRF protection for forms used without an account: a random value in an HttpOnly,
//! SameSite=Strict cookie, and in the form its HMAC under the service's secret key. A forged
//! form cannot read the cookie nor compute the HMAC without the key.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

pub const COOKIE: &str = "vocation_csrf";

fn sign(secret: &[u8], cookie_value: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts any key length");
    mac.update(b"csrf:");
    mac.update(cookie_value.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// The cookie value for this browser: the one it has, or a new one to set.
pub struct CsrfToken {
    pub cookie_value: String,
    pub is_new: bool,
}

impl CsrfToken {
    pub fn for_request(req: &HttpRequest) -> CsrfToken {
        match req.cookie(COOKIE) {
            Some(c) if c.value().len() >= 32 && c.value().len() <= 64 => CsrfToken {
                cookie_value: c.value().to_owned(),
                is_new: false,
            },
            _ => {
                let mut bytes = [0u8; 32];
                rand::thread_rng().fill_bytes(&mut bytes);
                CsrfToken {
                    cookie_value: URL_SAFE_NO_PAD.encode(bytes),
                    is_new: true,
                }
            }
        }
    }

    /// The value to put in the form's hidden field.
    pub fn form_value(&self, secret: &[u8]) -> String {
        sign(secret, &self.cookie_value)
    }

    pub fn cookie(&self, secure: bool) -> Cookie<'static> {
        Cookie::build(COOKIE, self.cookie_value.clone())
            .path("/")
            .http_only(true)
            .secure(secure)
            .same_site(SameSite::Strict)
            .finish()
    }

    /// The start of an HTML page holding this token's form: never cached, and the cookie set
    /// when the browser did not have one yet.
    pub fn html_response(&self, status: StatusCode, secure: bool) -> HttpResponseBuilder {
        let mut response = HttpResponse::build(status);
        response
            .content_type("text/html; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "no-store"));
        if self.is_new {
            response.cookie(self.cookie(secure));
        }
        response
    }
}

/// Checks the form's token against the request's cookie, in constant time.
pub fn verify(req: &HttpRequest, secret: &[u8], form_value: &str) -> bool {
    let Some(cookie) = req.cookie(COOKIE) else {
        return false;
    };
    let Ok(given) = URL_SAFE_NO_PAD.decode(form_value.trim()) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts any key length");
    mac.update(b"csrf:");
    mac.update(cookie.value().as_bytes());
    mac.verify_slice(&given).is_ok()
}
