//! What campaign recipients reach without an account: the unsubscribe page (RFC 8058 one-click
//! POST, and a confirmation page on GET that changes nothing) and tracked links to the form.

use actix_web::http::StatusCode;
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use secrecy::ExposeSecret;
use serde_json::json;

use super::csrf::{self, CsrfToken};
use super::inputs::HeadRequest;
use super::pages::{page, render, see_other};
use super::{db, AppState};
use crate::campaigns::{letters, links, runs, suppression};
use crate::error::AppError;

fn secret(state: &AppState) -> Vec<u8> {
    state
        .settings
        .security
        .secret_key
        .expose_secret()
        .as_bytes()
        .to_vec()
}

/// « c•••••@example.org »: enough to recognise one's address, not to read it over a shoulder.
fn masked(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}•••••@{domain}")
        }
        None => "•••••".to_owned(),
    }
}

enum Target {
    /// A test send's inert link.
    Test,
    Invalid,
    Delivery {
        id: i64,
        email: String,
        done: bool,
    },
}

async fn target(state: &web::Data<AppState>, token: &str) -> Result<Target, AppError> {
    if token == "essai" {
        return Ok(Target::Test);
    }
    let Some(id) = links::verify(&secret(state), links::Purpose::Unsubscribe, token) else {
        return Ok(Target::Invalid);
    };
    let found = db(state, move |conn| {
        Ok(suppression::delivery_address(conn, id)?)
    })
    .await?;
    Ok(match found {
        None => Target::Invalid,
        Some((email, done)) => Target::Delivery { id, email, done },
    })
}

/// Unsubscribe pages are personal: no cache may keep them.
fn respond(
    state: &AppState,
    status: StatusCode,
    data: serde_json::Value,
) -> Result<HttpResponse, AppError> {
    let body = render("public/unsubscribe", &page(state, "Désinscription", data))?;
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .body(body))
}

/// GET: says what the link does and asks for confirmation; changes nothing (mail scanners
/// follow links).
pub async fn unsubscribe_page(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let token = path.into_inner();
    match target(&state, &token).await? {
        Target::Test => respond(&state, StatusCode::OK, json!({ "test": true })),
        Target::Invalid => respond(&state, StatusCode::NOT_FOUND, json!({ "invalid": true })),
        Target::Delivery { email, done, .. } => respond(
            &state,
            StatusCode::OK,
            json!({ "confirm": !done, "already": done, "address": masked(&email), "token": token }),
        ),
    }
}

/// POST: unsubscribes at once, without cookie or login: the signed token is the permission.
/// Mail clients send `List-Unsubscribe=One-Click` (RFC 8058); the page's button sends the
/// same. Answers 200 with a page, never a redirect.
pub async fn unsubscribe(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let token = path.into_inner();
    match target(&state, &token).await? {
        // A test message's link stands for no delivery: there is nobody to unsubscribe, so the
        // one-click POST is refused like any other token that stands for nothing.
        Target::Test => respond(&state, StatusCode::NOT_FOUND, json!({ "test": true })),
        Target::Invalid => respond(&state, StatusCode::NOT_FOUND, json!({ "invalid": true })),
        Target::Delivery { id, email, .. } => {
            db(&state, move |conn| Ok(runs::unsubscribe(conn, id)?)).await?;
            tracing::info!(delivery = id, "recipient unsubscribed");
            respond(
                &state,
                StatusCode::OK,
                json!({ "done": true, "address": masked(&email) }),
            )
        }
    }
}

/// A tracked link: records the click and leads to the form, which carries the token so that
/// the application is attributed to the campaign. A broken token still leads to the form.
pub async fn follow_link(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let token = path.into_inner();
    let Some(id) = links::verify(&secret(&state), links::Purpose::Click, &token) else {
        // A letter's personal code (issue 19), else nothing: the plain form.
        return letter_link(&state, &req, &token).await;
    };
    // Link checkers and uptime probes send HEAD: not a click.
    let probe = req.extensions().get::<HeadRequest>().is_some();
    let campaign = db(&state, move |conn| {
        Ok(if probe {
            runs::campaign_of_delivery(conn, id)?
        } else {
            runs::record_click(conn, id)?
        })
    })
    .await;
    match campaign {
        Ok(Some(campaign)) => {
            let mut response = see_other(format!(
                "/candidature?utm_source=campagne&utm_medium=courriel&utm_campaign=campagne-{campaign}&suivi={token}"
            ));
            // Remembered for 90 days: a recipient who comes back later is still attributed.
            if !probe {
                let cookie = super::attribution::click_cookie(
                    &secret(&state),
                    id,
                    chrono::Utc::now(),
                    state.settings.secure_cookies(),
                );
                response
                    .add_cookie(&cookie)
                    .map_err(|e| AppError::Unexpected(e.into()))?;
            }
            Ok(response)
        }
        // Unknown delivery, or the database is down: the doctor still gets the form.
        Ok(None) | Err(_) => Ok(see_other("/candidature")),
    }
}

// ---- Letters (issue 19): the personal code of a letter --------------------------------------

/// `/c/{code}`: the visit is counted on the letter's delivery (not for HEAD), and the doctor
/// goes to the form with the same attribution as a campaign e-mail's link (the signed `suivi`
/// token of the delivery). An unknown or malformed code gives the plain form, nothing more.
async fn letter_link(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    raw: &str,
) -> Result<HttpResponse, AppError> {
    let Some(code) = letters::code::parse(raw) else {
        return Ok(see_other("/candidature"));
    };
    let probe = req.extensions().get::<HeadRequest>().is_some();
    let found = db(state, move |conn| {
        let Some(target) = letters::by_code(conn, &code)? else {
            return Ok(None);
        };
        if !probe {
            runs::record_click(conn, target.delivery_id)?;
        }
        Ok(Some(target))
    })
    .await;
    match found {
        Ok(Some(target)) => {
            let token = links::token(&secret(state), links::Purpose::Click, target.delivery_id);
            let mut response = see_other(format!(
                "/candidature?utm_source=courrier&utm_medium=courrier&utm_campaign=campagne-{}&suivi={token}",
                target.campaign_id
            ));
            // Remembered like a campaign e-mail's link: a doctor who scans the letter and
            // comes back days later is still attributed to it.
            if !probe {
                let cookie = super::attribution::click_cookie(
                    &secret(state),
                    target.delivery_id,
                    chrono::Utc::now(),
                    state.settings.secure_cookies(),
                );
                response
                    .add_cookie(&cookie)
                    .map_err(|e| AppError::Unexpected(e.into()))?;
            }
            Ok(response)
        }
        Ok(None) | Err(_) => Ok(see_other("/candidature")),
    }
}

/// The letter a code in a path stands for; 404 (the same page) for anything else.
async fn code_target(
    state: &web::Data<AppState>,
    raw: &str,
) -> Result<Option<(String, letters::CodeTarget, bool)>, AppError> {
    let Some(code) = letters::code::parse(raw) else {
        return Ok(None);
    };
    db(state, move |conn| {
        let Some(target) = letters::by_code(conn, &code)? else {
            return Ok(None);
        };
        let Some(contact) = target.contact_id else {
            return Ok(None);
        };
        let stopped = letters::stopped(conn, contact)?;
        Ok(Some((code, target, stopped)))
    })
    .await
}

fn stop_page(
    state: &AppState,
    csrf: &CsrfToken,
    status: StatusCode,
    data: serde_json::Value,
) -> Result<HttpResponse, AppError> {
    let body = render(
        "public/no_letters",
        &page(state, "Ne plus recevoir de courrier", data),
    )?;
    Ok(csrf
        .html_response(status, state.settings.secure_cookies())
        .body(body))
}

/// GET `/c/{code}/ne-plus-ecrire`: asks for confirmation, changes nothing.
pub async fn no_letters_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let csrf = CsrfToken::for_request(&req);
    match code_target(&state, &path.into_inner()).await? {
        None => stop_page(
            &state,
            &csrf,
            StatusCode::NOT_FOUND,
            json!({ "invalid": true }),
        ),
        Some((_, _, true)) => stop_page(&state, &csrf, StatusCode::OK, json!({ "already": true })),
        Some((code, _, false)) => stop_page(
            &state,
            &csrf,
            StatusCode::OK,
            json!({
                "confirm": true,
                "code": code,
                "code_display": letters::code::display(&code),
                "csrf": csrf.form_value(&secret(&state)),
            }),
        ),
    }
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct StopForm {
    #[serde(default)]
    csrf: String,
}

/// POST `/c/{code}/ne-plus-ecrire` (with the page's anti-forgery token): records the wish on
/// the contact and in the journal; later letter campaigns leave the contact out.
pub async fn no_letters(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    form: crate::web::body::Form<StopForm>,
) -> Result<HttpResponse, AppError> {
    if !csrf::verify(&req, &secret(&state), &form.csrf) {
        return Err(AppError::Forbidden(
            "Le formulaire a expiré ou ne vient pas de ce site. Rien n'a été modifié : \
             revenez à la page et recommencez."
                .to_owned(),
        ));
    }
    let csrf = CsrfToken::for_request(&req);
    let Some((_, target, _)) = code_target(&state, &path.into_inner()).await? else {
        return stop_page(
            &state,
            &csrf,
            StatusCode::NOT_FOUND,
            json!({ "invalid": true }),
        );
    };
    let now = chrono::Utc::now();
    db(&state, move |conn| {
        Ok(letters::stop_letters(conn, target, now)?)
    })
    .await?;
    tracing::info!(delivery = target.delivery_id, "no more letters asked");
    stop_page(&state, &csrf, StatusCode::OK, json!({ "done": true }))
}

#[cfg(test)]
mod tests {
    use super::masked;

    #[test]
    fn addresses_are_masked() {
        assert_eq!(masked("claire.martin@example.org"), "c•••••@example.org");
        assert_eq!(masked("nope"), "•••••");
    }
}
