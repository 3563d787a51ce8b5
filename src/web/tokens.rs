//! The staff page where each member creates API tokens (shown once) and revokes them.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::Utc;
use serde::{Deserialize, Serialize};

use crate::api_tokens::{self, TokenSummary};
use crate::domain::fields::SummaryItem;
use crate::domain::FieldErrors;
use crate::error::AppError;
use crate::web::body::Form;
use crate::web::pages::{error_summary, path_id, see_other};
use crate::web::staff::{staff_page, Staff};
use crate::web::{db, AppState};

pub const PATH: &str = super::nav::TOKENS_PATH;
const FIELDS: &[(&str, &str)] = &[("nom", "Nom du jeton")];

#[derive(Debug, Default, Deserialize)]
pub struct Query {
    #[serde(default)]
    revoque: Option<String>,
}

/// The tokens page: the member's tokens, the one just created (shown once), a notice, and the
/// creation form with its errors. Every key the template reads is present (strict mode).
#[derive(Default, Serialize)]
struct TokensView<'a> {
    tokens: Vec<TokenSummary>,
    created: Option<CreatedToken>,
    notice: Option<&'static str>,
    summary: Vec<SummaryItem>,
    errors: FieldErrors,
    values: TokenFormValues<'a>,
}

/// A token just created, with its name.
#[derive(Serialize)]
struct CreatedToken {
    name: String,
    token: String,
}

/// The creation form as typed.
#[derive(Default, Serialize)]
struct TokenFormValues<'a> {
    nom: &'a str,
}

async fn render(
    state: &AppState,
    staff: &Staff,
    status: StatusCode,
    view: TokensView<'_>,
) -> Result<HttpResponse, AppError> {
    let user_id = staff.0.user_id;
    let tokens = db(state, move |conn| Ok(api_tokens::list(conn, user_id)?)).await?;
    let view = TokensView { tokens, ..view };
    let title = if status == StatusCode::OK {
        "Jetons d'API"
    } else {
        "Erreur – Jetons d'API"
    };
    let data = serde_json::to_value(view).map_err(|e| AppError::Unexpected(e.into()))?;
    staff_page(state, staff, "staff/tokens", title, status, data)
}

pub async fn tokens_page(
    state: web::Data<AppState>,
    staff: Staff,
    query: web::Query<Query>,
) -> Result<HttpResponse, AppError> {
    let notice = query
        .revoque
        .is_some()
        .then_some("Le jeton a été révoqué : il ne donne plus accès à l'API.");
    let view = TokensView {
        notice,
        ..TokensView::default()
    };
    render(&state, &staff, StatusCode::OK, view).await
}

#[derive(Debug, Default, Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    nom: String,
}

pub async fn create_token(
    state: web::Data<AppState>,
    staff: Staff,
    form: Form<CreateForm>,
) -> Result<HttpResponse, AppError> {
    staff.check_csrf(&form.csrf)?;
    let name = match api_tokens::parse_name(&form.nom) {
        Ok(name) => name,
        Err(message) => {
            let mut errors = FieldErrors::default();
            errors.add("nom", message);
            return render(
                &state,
                &staff,
                StatusCode::UNPROCESSABLE_ENTITY,
                TokensView {
                    summary: error_summary(FIELDS, &errors),
                    errors,
                    values: TokenFormValues { nom: &form.nom },
                    ..TokensView::default()
                },
            )
            .await;
        }
    };
    let user_id = staff.0.user_id;
    let stored_name = name.clone();
    let (token_id, token) = db(&state, move |conn| {
        Ok(api_tokens::issue(conn, user_id, &stored_name, Utc::now())?)
    })
    .await?;
    tracing::info!(token_id, "API token created");
    // Shown once, on this very response (not after a redirect: it must never be stored).
    render(
        &state,
        &staff,
        StatusCode::OK,
        TokensView {
            created: Some(CreatedToken { name, token }),
            ..TokensView::default()
        },
    )
    .await
}

pub async fn revoke_token(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
    form: Form<crate::web::staff::CsrfOnly>,
) -> Result<HttpResponse, AppError> {
    staff.check_csrf(&form.csrf)?;
    let token_id = path_id(&path)?;
    let user_id = staff.0.user_id;
    let revoked = db(&state, move |conn| {
        Ok(api_tokens::revoke(conn, user_id, token_id, Utc::now())?)
    })
    .await?;
    if !revoked {
        return Err(AppError::NotFound);
    }
    tracing::info!(token_id, "API token revoked");
    Ok(see_other(format!("{PATH}?revoque=1")))
}
