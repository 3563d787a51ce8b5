//! Reading a form's urlencoded body, the one way every page does it: [`Form`] deserialises into
//! a struct, a field that repeats (`centres=1&centres=2`, checkboxes, multiple selects) into a
//! `Vec`, and answers a French page when the body is too long, is not a form or does not read.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::{FromRequest, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use crate::error::error_page;

/// Longest form body read: past it the page says the form is too long.
pub const FORM_LIMIT: usize = 64 * 1024;

/// An `application/x-www-form-urlencoded` body read into `T`.
pub struct Form<T>(pub T);

impl<T> Form<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Form<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// Why a body was not read, and the page that says so.
#[derive(Debug)]
enum Unread {
    TooLong,
    Illegible,
}

impl Unread {
    fn page(&self) -> HttpResponse {
        match self {
            Unread::TooLong => error_page(
                &mut HttpResponse::PayloadTooLarge(),
                "Formulaire trop long",
                "Le formulaire envoyé dépasse 64 Ko. Rien n'a été modifié : raccourcissez \
                 les textes et recommencez.",
            ),
            Unread::Illegible => error_page(
                &mut HttpResponse::BadRequest(),
                "Formulaire illisible",
                "Le formulaire envoyé est illisible ou trop long. Rien n'a été modifié : \
                 rechargez la page et recommencez.",
            ),
        }
    }
}

impl std::fmt::Display for Unread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Unread::TooLong => "form body over the limit",
            Unread::Illegible => "form body not urlencoded or not matching its fields",
        })
    }
}

fn is_urlencoded(req: &HttpRequest) -> bool {
    req.headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| {
            m.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

async fn read<T: DeserializeOwned>(
    urlencoded: bool,
    declared: Option<usize>,
    mut payload: Payload,
) -> Result<T, Unread> {
    if !urlencoded {
        return Err(Unread::Illegible);
    }
    if declared.is_some_and(|n| n > FORM_LIMIT) {
        return Err(Unread::TooLong);
    }
    let mut body = Vec::with_capacity(declared.unwrap_or(0));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| Unread::Illegible)?;
        if body.len() + chunk.len() > FORM_LIMIT {
            return Err(Unread::TooLong);
        }
        body.extend_from_slice(&chunk);
    }
    serde_html_form::from_bytes(&body).map_err(|_| Unread::Illegible)
}

impl<T: DeserializeOwned + 'static> FromRequest for Form<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let urlencoded = is_urlencoded(req);
        let declared = req
            .headers()
            .get(actix_web::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let payload = payload.take();
        Box::pin(async move {
            match read(urlencoded, declared, payload).await {
                Ok(value) => Ok(Form(value)),
                Err(why) => {
                    let page = why.page();
                    Err(actix_web::error::InternalError::from_response(why, page).into())
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[derive(Debug, serde::Deserialize)]
    struct Position {
        titre: String,
        #[serde(default)]
        centres: Vec<i64>,
        #[serde(default)]
        publie: Option<String>,
    }

    async fn read_body(content_type: &str, body: &'static [u8]) -> Result<Position, String> {
        let (req, mut payload) = TestRequest::post()
            .insert_header((CONTENT_TYPE, content_type))
            .set_payload(body)
            .to_http_parts();
        Form::<Position>::from_request(&req, &mut payload)
            .await
            .map(Form::into_inner)
            .map_err(|e| e.as_response_error().status_code().to_string())
    }

    #[actix_web::test]
    async fn repeated_fields_are_read_into_a_list() {
        let p = read_body(
            "application/x-www-form-urlencoded",
            b"titre=M%C3%A9decin&centres=3&centres=7",
        )
        .await
        .unwrap();
        assert_eq!(p.titre, "Médecin");
        assert_eq!(p.centres, [3, 7]);
        assert_eq!(p.publie, None);
    }

    #[actix_web::test]
    async fn another_content_type_or_too_long_a_body_is_refused() {
        assert_eq!(
            read_body("text/plain", b"titre=x").await.unwrap_err(),
            "400 Bad Request"
        );
        let long: &'static [u8] = Box::leak(
            format!("titre={}", "a".repeat(FORM_LIMIT))
                .into_bytes()
                .into_boxed_slice(),
        );
        assert_eq!(
            read_body("application/x-www-form-urlencoded", long)
                .await
                .unwrap_err(),
            "413 Payload Too Large"
        );
        assert_eq!(
            read_body("application/x-www-form-urlencoded", b"centres=abc")
                .await
                .unwrap_err(),
            "400 Bad Request"
        );
        // A single-value field sent twice is refused rather than silently taking one value.
        assert_eq!(
            read_body("application/x-www-form-urlencoded", b"titre=a&titre=b")
                .await
                .unwrap_err(),
            "400 Bad Request"
        );
        // No body at all (a required field missing) reads as illegible, not as a panic.
        assert_eq!(
            read_body("application/x-www-form-urlencoded", b"")
                .await
                .unwrap_err(),
            "400 Bad Request"
        );
    }
}
