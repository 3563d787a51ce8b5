//! Staff sign-in and the extractor every staff page uses: it loads the session from PostgreSQL,
//! sends people without one to the sign-in page, and checks roles and CSRF tokens.

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use chrono::Utc;
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::json;

use crate::db::enums::StaffRole;
use crate::error::AppError;
use crate::staff::auth::{self, CodeOutcome, SignInStart, StaffIdentity};
use crate::staff::totp;
use crate::templates;
use crate::web::body::Form;
use crate::web::csrf::{self, CsrfToken};
use crate::web::nav;
use crate::web::{db, AppState};
use crate::workspace;

pub const SESSION_COOKIE: &str = "vocation_session";

/// A signed-in staff member, and the path of the page asked (for the menu's current page).
/// Extracting it from a request without a valid session answers with a redirect to the sign-in
/// page.
pub struct Staff(pub StaffIdentity, String);

impl Staff {
    /// 403 unless the member has one of `roles` (admins may do everything).
    pub fn require(&self, roles: &[StaffRole]) -> Result<(), AppError> {
        if self.0.role == StaffRole::Admin || roles.contains(&self.0.role) {
            Ok(())
        } else {
            Err(AppError::Forbidden(
                "Votre rôle ne permet pas d'accéder à cette page.".to_owned(),
            ))
        }
    }

    /// 403 unless `token` is this session's CSRF token.
    pub fn check_csrf(&self, token: &str) -> Result<(), AppError> {
        use subtle_eq::constant_time_eq;
        if constant_time_eq(token.as_bytes(), self.0.csrf_token.as_bytes()) {
            Ok(())
        } else {
            Err(AppError::Forbidden(
                "Le formulaire a expiré ou ne vient pas de Vocation. Rien n'a été modifié : \
                 rechargez la page et recommencez."
                    .to_owned(),
            ))
        }
    }

    /// May approve offers: admins, and the roles of `offers.approver_roles`.
    pub fn may_approve(&self, settings: &crate::config::Settings) -> bool {
        self.0.role == StaffRole::Admin
            || settings
                .offers
                .approver_roles
                .iter()
                .any(|r| r == self.0.role.code())
    }

    /// What the staff layout shows of the member: name, role, token, and the menu of their
    /// role with the page asked marked current.
    pub fn view(&self) -> serde_json::Value {
        let is_admin = self.0.role == StaffRole::Admin;
        let is_recruiter = matches!(self.0.role, StaffRole::Admin | StaffRole::Recruiter);
        let is_communication = matches!(self.0.role, StaffRole::Admin | StaffRole::Communication);
        let path = self.1.as_str();
        json!({
            "name": self.0.display_name,
            "role": self.0.role.label(),
            "csrf": self.0.csrf_token,
            "is_admin": is_admin,
            "is_recruiter": is_recruiter,
            "is_communication": is_communication,
            "nav": nav::menu(
                nav::NavRoles {
                    recruiting: is_recruiter,
                    communication: is_communication,
                    admin: is_admin,
                },
                path,
            ),
            "at_home": path == "/espace",
            "at_totp": path == ENROLL_PATH,
            "at_tokens": path == crate::web::nav::TOKENS_PATH,
        })
    }
}

mod subtle_eq {
    /// Compares two byte strings in time independent of where they differ.
    pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
        if a.len() != b.len() {
            return false;
        }
        a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

pub const ENROLL_PATH: &str = "/compte/double-authentification";
pub const CODE_PATH: &str = "/connexion/code";

/// The session behind the request, whatever its state.
fn load_identity(
    req: &HttpRequest,
) -> Pin<Box<dyn Future<Output = Result<StaffIdentity, AppError>>>> {
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let cookie = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned());
    let next = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/espace".to_owned());
    Box::pin(async move {
        let state = state.ok_or_else(|| AppError::Unexpected(anyhow::anyhow!("no state")))?;
        let Some(cookie) = cookie else {
            return Err(AppError::LoginRequired(next));
        };
        let settings = state.settings.staff.clone();
        let found = db(&state, move |conn| {
            Ok(auth::identify(conn, &settings, &cookie, Utc::now())?)
        })
        .await?;
        found.ok_or(AppError::LoginRequired(next))
    })
}

impl FromRequest for Staff {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Staff, AppError>>>>;

    /// A fully signed-in member: the second factor given when the account has one, and set up
    /// when the policy requires it.
    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let identity = load_identity(req);
        let path = req.path().to_owned();
        Box::pin(async move {
            let identity = identity.await?;
            if identity.second_factor_pending {
                return Err(AppError::Redirect(CODE_PATH.to_owned()));
            }
            if identity.must_enroll && path != ENROLL_PATH {
                return Err(AppError::Redirect(ENROLL_PATH.to_owned()));
            }
            Ok(Staff(identity, path))
        })
    }
}

/// Any open session, even one still waiting for its second factor (the code page, logout).
pub struct SignedIn(pub Staff);

impl FromRequest for SignedIn {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<SignedIn, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let identity = load_identity(req);
        let path = req.path().to_owned();
        Box::pin(async move { Ok(SignedIn(Staff(identity.await?, path))) })
    }
}

fn session_cookie(value: String, secure: bool) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, value)
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .finish()
}

/// Where a sign-in sends the member when `suite` is missing or refused.
const DEFAULT_NEXT: &str = "/espace";

/// Only a path of this site may follow the sign-in (no open redirect), judged as a browser would
/// read it: browsers drop tabs and line breaks anywhere in a URL and leading spaces or control
/// characters, and read `\` as `/`, so `/\t/evil.example` or ` //evil.example` lead elsewhere.
/// Any such character, a second leading `/` or `\`, a scheme (`https:`, `javascript:`) or
/// anything outside printable ASCII (it could not go in a `Location` header) gives `/espace`.
fn safe_next(next: &str) -> &str {
    let printable = next.bytes().all(|b| b.is_ascii_graphic());
    let local = next.starts_with('/') && !next.starts_with("//") && !next.contains('\\');
    if printable && local {
        next
    } else {
        DEFAULT_NEXT
    }
}

/// The staff home: the « À faire » of the member's role, then the shortcuts of the role.
pub async fn home(state: web::Data<AppState>, staff: Staff) -> Result<HttpResponse, AppError> {
    let role = staff.0.role;
    let roles = workspace::Roles {
        recruiting: matches!(role, StaffRole::Admin | StaffRole::Recruiter),
        approving: staff.may_approve(&state.settings),
        communication: matches!(role, StaffRole::Admin | StaffRole::Communication),
        reads_mail: !state.settings.mailboxes.is_empty(),
    };
    let todo = db(&state, move |conn| {
        Ok(workspace::todo(
            conn,
            roles,
            crate::domain::paris_today(),
            Utc::now(),
        )?)
    })
    .await?;
    page(
        &state,
        &staff,
        "staff/home",
        "À faire – Espace du personnel",
        json!({ "todo": todo }),
    )
}

#[derive(Debug, Default, Deserialize)]
pub struct LoginQuery {
    #[serde(default)]
    suite: String,
}

fn render_login(
    state: &AppState,
    req: &HttpRequest,
    status: actix_web::http::StatusCode,
    email: &str,
    next: &str,
    error: Option<&str>,
) -> Result<HttpResponse, AppError> {
    let token = CsrfToken::for_request(req);
    let secret = state
        .settings
        .security
        .secret_key
        .expose_secret()
        .as_bytes();
    let body = templates::global()
        .render_page(
            "staff/login",
            &json!({
                "title": if error.is_some() { "Erreur – Connexion" } else { "Connexion" },
                "org": state.settings.organisation,
                "privacy": state.settings.privacy,
                "csrf": token.form_value(secret),
                "email": email,
                "next": next,
                "error": error,
            }),
        )
        .map_err(|e| AppError::Unexpected(anyhow::anyhow!("rendering login: {e}")))?;
    Ok(token
        .html_response(status, state.settings.secure_cookies())
        .body(body))
}

pub async fn login_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<LoginQuery>,
) -> Result<HttpResponse, AppError> {
    render_login(
        &state,
        &req,
        actix_web::http::StatusCode::OK,
        "",
        safe_next(&query.suite),
        None,
    )
}

#[derive(Debug, Default, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    courriel: String,
    #[serde(default)]
    mot_de_passe: String,
    #[serde(default)]
    suite: String,
    #[serde(default)]
    csrf: String,
}

pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: Form<LoginForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let secret = state
        .settings
        .security
        .secret_key
        .expose_secret()
        .as_bytes();
    let next = safe_next(&form.suite).to_owned();
    if !csrf::verify(&req, secret, &form.csrf) {
        return render_login(
            &state,
            &req,
            actix_web::http::StatusCode::FORBIDDEN,
            &form.courriel,
            &next,
            Some("La page de connexion a expiré : saisissez à nouveau votre mot de passe."),
        );
    }
    let client_ip = req
        .peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default();
    let client_ip = if state.settings.http.trust_forwarded_for {
        req.connection_info()
            .realip_remote_addr()
            .map(str::to_owned)
            .unwrap_or(client_ip)
    } else {
        client_ip
    };
    let previous = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned());
    let settings = state.settings.staff.clone();
    let email = form.courriel.clone();
    let start = db(&state, move |conn| {
        Ok(auth::start_sign_in(
            conn,
            &settings,
            &email,
            &client_ip,
            Utc::now(),
        )?)
    })
    .await?;
    let check = match start {
        SignInStart::Check(check) => check,
        SignInStart::Throttled {
            retry_after_seconds,
        } => {
            return Err(AppError::TooManyRequests {
                retry_after_seconds,
                message: format!(
                    "Trop de tentatives de connexion. Réessayez dans {} minute(s), ou demandez à \
                     un administrateur de vérifier votre compte.",
                    (retry_after_seconds + 59) / 60
                ),
            })
        }
    };
    // Argon2 on the blocking pool, without a database connection.
    let password = form.mot_de_passe;
    let verified = web::block(move || check.verify(&password))
        .await
        .map_err(|e| AppError::Unexpected(anyhow::anyhow!("password check failed: {e}")))?;
    let Some(verified) = verified else {
        return render_login(
            &state,
            &req,
            actix_web::http::StatusCode::UNAUTHORIZED,
            &form.courriel,
            &next,
            Some("Adresse électronique ou mot de passe incorrect."),
        );
    };
    let session = db(&state, move |conn| {
        Ok(auth::open_session(
            conn,
            verified,
            previous.as_deref(),
            Utc::now(),
        )?)
    })
    .await?;
    tracing::info!(
        user_id = session.user_id,
        second_factor = session.second_factor,
        "staff signed in"
    );
    let location = if session.second_factor {
        format!(
            "{CODE_PATH}?suite={}",
            url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
        )
    } else {
        next
    };
    Ok(HttpResponse::SeeOther()
        .cookie(session_cookie(
            session.cookie_value,
            state.settings.secure_cookies(),
        ))
        .insert_header((header::LOCATION, location))
        .finish())
}

#[derive(Debug, Default, Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    pub csrf: String,
}

pub async fn logout(
    state: web::Data<AppState>,
    SignedIn(staff): SignedIn,
    form: Form<CsrfOnly>,
) -> Result<HttpResponse, AppError> {
    staff.check_csrf(&form.csrf)?;
    let (session_id, user_id) = (staff.0.session_id, staff.0.user_id);
    db(&state, move |conn| {
        Ok(auth::sign_out(conn, session_id, user_id)?)
    })
    .await?;
    let mut gone = session_cookie(String::new(), state.settings.secure_cookies());
    gone.set_max_age(CookieDuration::ZERO);
    Ok(HttpResponse::SeeOther()
        .cookie(gone)
        .insert_header((header::LOCATION, "/connexion"))
        .finish())
}

/// Renders a staff page with the layout's data (organisation, the member, their CSRF token).
pub fn staff_page(
    state: &AppState,
    staff: &Staff,
    name: &str,
    title: &str,
    status: actix_web::http::StatusCode,
    extra: serde_json::Value,
) -> Result<HttpResponse, AppError> {
    let mut data =
        json!({ "title": title, "org": state.settings.organisation, "staff": staff.view() });
    if let (Some(obj), serde_json::Value::Object(extra)) = (data.as_object_mut(), extra) {
        obj.extend(extra);
    }
    let body = templates::global()
        .render_page(name, &data)
        .map_err(|e| AppError::Unexpected(anyhow::anyhow!("rendering {name}: {e}")))?;
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body))
}

/// A staff page answered with 200.
pub fn page(
    state: &AppState,
    staff: &Staff,
    name: &str,
    title: &str,
    extra: serde_json::Value,
) -> Result<HttpResponse, AppError> {
    staff_page(
        state,
        staff,
        name,
        title,
        actix_web::http::StatusCode::OK,
        extra,
    )
}

/// The second step of signing in: the code from the authenticator app.
pub async fn code_form(
    state: web::Data<AppState>,
    SignedIn(staff): SignedIn,
    query: web::Query<LoginQuery>,
) -> Result<HttpResponse, AppError> {
    if !staff.0.second_factor_pending {
        return Err(AppError::Redirect(safe_next(&query.suite).to_owned()));
    }
    staff_page(
        &state,
        &staff,
        "staff/code",
        "Code de connexion",
        actix_web::http::StatusCode::OK,
        json!({ "next": safe_next(&query.suite), "error": null }),
    )
}

#[derive(Debug, Default, Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    suite: String,
}

pub async fn code(
    state: web::Data<AppState>,
    req: HttpRequest,
    SignedIn(staff): SignedIn,
    form: Form<CodeForm>,
) -> Result<HttpResponse, AppError> {
    staff.check_csrf(&form.csrf)?;
    let next = safe_next(&form.suite).to_owned();
    if !staff.0.second_factor_pending {
        return Err(AppError::Redirect(next));
    }
    let (user_id, session_id, code) = (staff.0.user_id, staff.0.session_id, form.code.clone());
    let client_ip = req
        .peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default();
    let settings = state.settings.staff.clone();
    let outcome = db(&state, move |conn| {
        Ok(auth::check_code(
            conn,
            &settings,
            session_id,
            user_id,
            &code,
            &client_ip,
            Utc::now(),
        )?)
    })
    .await?;
    match outcome {
        CodeOutcome::SignedIn => Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, next))
            .finish()),
        CodeOutcome::Throttled {
            retry_after_seconds,
        } => Err(AppError::TooManyRequests {
            retry_after_seconds,
            message: "Trop de codes erronés. Réessayez plus tard.".to_owned(),
        }),
        CodeOutcome::Wrong => staff_page(
            &state,
            &staff,
            "staff/code",
            "Erreur – Code de connexion",
            actix_web::http::StatusCode::UNAUTHORIZED,
            json!({ "next": next, "error": totp::WRONG_CODE }),
        ),
    }
}

async fn enrollment_page(
    state: &AppState,
    staff: &Staff,
    status: actix_web::http::StatusCode,
    error: Option<&str>,
) -> Result<HttpResponse, AppError> {
    let user_id = staff.0.user_id;
    let totp::Enrollment {
        secret,
        enabled,
        required,
    } = db(state, move |conn| Ok(totp::enrollment(conn, user_id)?)).await?;
    let account = staff.0.display_name.clone();
    let uri = secret
        .as_deref()
        .and_then(|s| totp::provisioning_uri(s, &account));
    let qr = uri.as_deref().and_then(totp::qr_svg);
    staff_page(
        state,
        staff,
        "staff/totp",
        "Double authentification",
        status,
        json!({
            "enabled": enabled,
            "required": required,
            "secret": secret,
            "uri": uri,
            "qr": qr,
            "error": error,
        }),
    )
}

pub async fn totp_page(
    state: web::Data<AppState>,
    SignedIn(staff): SignedIn,
) -> Result<HttpResponse, AppError> {
    if staff.0.second_factor_pending {
        return Err(AppError::Redirect(CODE_PATH.to_owned()));
    }
    enrollment_page(&state, &staff, actix_web::http::StatusCode::OK, None).await
}

#[derive(Debug, Default, Deserialize)]
pub struct TotpForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    code: String,
}

pub async fn totp_change(
    state: web::Data<AppState>,
    SignedIn(staff): SignedIn,
    form: Form<TotpForm>,
) -> Result<HttpResponse, AppError> {
    if staff.0.second_factor_pending {
        return Err(AppError::Redirect(CODE_PATH.to_owned()));
    }
    staff.check_csrf(&form.csrf)?;
    let enable = match form.action.as_str() {
        "activer" => true,
        "desactiver" => false,
        _ => return Err(AppError::BadRequest("Action inconnue.".to_owned())),
    };
    let (user_id, code) = (staff.0.user_id, form.code.clone());
    let result = db(&state, move |conn| {
        Ok(totp::change(conn, user_id, &code, enable)?)
    })
    .await?;
    match result {
        Ok(()) => Ok(HttpResponse::SeeOther()
            .insert_header((
                header::LOCATION,
                if enable { "/espace" } else { ENROLL_PATH },
            ))
            .finish()),
        Err(refused) => {
            enrollment_page(
                &state,
                &staff,
                actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
                Some(&refused.to_string()),
            )
            .await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_follow_the_sign_in() {
        assert_eq!(safe_next("/recrutement?page=2"), "/recrutement?page=2");
        assert_eq!(
            safe_next("/%2F%2Fevil"),
            "/%2F%2Fevil",
            "an encoded slash stays a path"
        );
        for refused in [
            "",
            "//evil.example",
            "https://evil.example",
            "/\\evil.example",
            "\\/evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r\n/evil.example",
            "\t//evil.example",
            " //evil.example",
            "/espace\r\nSet-Cookie: x=1",
            "/\u{0}/evil.example",
            "javascript:alert(1)",
            "evil.example",
            "/recrutement?q=m\u{e9}decin",
        ] {
            assert_eq!(safe_next(refused), "/espace", "{refused:?}");
        }
    }

    #[test]
    fn equal_tokens_compare_equal_only() {
        assert!(subtle_eq::constant_time_eq(b"abc", b"abc"));
        assert!(!subtle_eq::constant_time_eq(b"abc", b"abd"));
        assert!(!subtle_eq::constant_time_eq(b"abc", b"ab"));
    }
}
