//! Channel links (issue 19): the communications staff's pages (the list with what each link
//! brought, the form to create or change one, archiving, the QR code to download as SVG or
//! PNG) and the public short URL `/l/{code}`, which counts the visit, remembers the channel in
//! a cookie and leads to the form.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use chrono::{NaiveDate, Utc};
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{CsrfBody, DoneQuery};
use crate::campaigns::channels::{self, ChannelLink, ChannelLinkForm};
use crate::campaigns::qr;
use crate::domain::fields::paris_today;
use crate::domain::FieldErrors;
use crate::error::AppError;
use crate::reports::{self, Period};
use crate::staff::COMMUNICATION;
use crate::web::attribution;
use crate::web::body::Form;
use crate::web::inputs::HeadRequest;
use crate::web::pages::{error_summary, path_id, see_other, status_and_title};
use crate::web::staff::{staff_page, Staff};
use crate::web::{db, AppState};

const LIST_TITLE: &str = "Liens suivis (canaux)";

fn secret(state: &AppState) -> Vec<u8> {
    state
        .settings
        .security
        .secret_key
        .expose_secret()
        .as_bytes()
        .to_vec()
}

/// Since the links exist: their figures on their own page count everything, up to today.
fn all_time(today: NaiveDate) -> Period {
    Period {
        from: NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or(today),
        to: today,
    }
}

pub async fn list(
    state: web::Data<AppState>,
    staff: Staff,
    query: web::Query<DoneQuery>,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    let today = paris_today();
    let rows = db(&state, move |conn| {
        Ok(reports::channel_links(conn, all_time(today), today, true)?)
    })
    .await?;
    let base = state.settings.public_base().to_owned();
    let links: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "id": r.id,
                "label": r.label,
                "short_url": channels::short_url(&base, &r.code),
                "archived": r.archived,
                "visits": r.visits,
                "applications": r.figures.applications,
                "offers": r.figures.offers,
                "recruitments": r.figures.recruitments,
            })
        })
        .collect();
    let notice = match query.fait.as_str() {
        "cree" => Some("Le lien est créé : téléchargez son code QR ci-dessous."),
        "modifie" => Some("Le lien est enregistré."),
        "archive" => {
            Some("Le lien est archivé : il mène désormais au formulaire sans rien attribuer.")
        }
        "reactive" => Some("Le lien est de nouveau actif."),
        _ => None,
    };
    staff_page(
        &state,
        &staff,
        "campaigns/channel_links",
        LIST_TITLE,
        StatusCode::OK,
        json!({ "links": links, "notice": notice }),
    )
}

/// The form to create (`link` none) or change a link, with its values and errors.
fn render_form(
    state: &AppState,
    staff: &Staff,
    link: Option<&ChannelLink>,
    values: &ChannelLinkForm,
    errors: &FieldErrors,
) -> Result<HttpResponse, AppError> {
    let heading = match link {
        Some(l) => format!("Lien « {} »", l.label),
        None => "Nouveau lien suivi".to_owned(),
    };
    let (status, title) = status_and_title(errors, &heading);
    let base = state.settings.public_base().to_owned();
    staff_page(
        state,
        staff,
        "campaigns/channel_link_form",
        &title,
        status,
        json!({
            "heading": heading,
            "link": link.map(|l| json!({
                "id": l.id,
                "short_url": l.short_url(&base),
                "archived": l.archived_at.is_some(),
            })),
            "action": link.map_or("/campagnes/liens/nouveau".to_owned(), |l| format!("/campagnes/liens/{}", l.id)),
            "base": format!("{base}/l/"),
            "values": values,
            "errors": errors,
            "summary": error_summary(channels::FORM_FIELDS, errors),
            "default_medium": channels::DEFAULT_MEDIUM,
        }),
    )
}

pub async fn new_form(state: web::Data<AppState>, staff: Staff) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    render_form(
        &state,
        &staff,
        None,
        &ChannelLinkForm::default(),
        &FieldErrors::default(),
    )
}

#[derive(Debug, Default, Deserialize)]
pub struct LinkBody {
    #[serde(default)]
    csrf: String,
    #[serde(flatten)]
    values: ChannelLinkForm,
}

pub async fn create(
    state: web::Data<AppState>,
    staff: Staff,
    form: Form<LinkBody>,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    staff.check_csrf(&form.csrf)?;
    let values = form.into_inner().values;
    let typed = values.clone();
    let actor = staff.0.user_id;
    match db(&state, move |conn| {
        Ok(channels::create(conn, actor, &typed, Utc::now())?)
    })
    .await?
    {
        Ok(_) => Ok(see_other("/campagnes/liens?fait=cree")),
        Err(errors) => render_form(&state, &staff, None, &values, &errors),
    }
}

async fn load(state: &AppState, id: i64) -> Result<ChannelLink, AppError> {
    db(state, move |conn| Ok(channels::find(conn, id)?))
        .await?
        .ok_or(AppError::NotFound)
}

pub async fn edit_form(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    let link = load(&state, path_id(&path)?).await?;
    let values = ChannelLinkForm {
        libelle: link.label.clone(),
        code: link.code.clone(),
        utm_source: link.utm_source.clone(),
        utm_medium: link.utm_medium.clone(),
        utm_campaign: link.utm_campaign.clone(),
    };
    render_form(
        &state,
        &staff,
        Some(&link),
        &values,
        &FieldErrors::default(),
    )
}

pub async fn update(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
    form: Form<LinkBody>,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    staff.check_csrf(&form.csrf)?;
    let id = path_id(&path)?;
    let values = form.into_inner().values;
    let typed = values.clone();
    let actor = staff.0.user_id;
    match db(&state, move |conn| {
        Ok(channels::update(conn, actor, id, &typed, Utc::now())?)
    })
    .await?
    {
        None => Err(AppError::NotFound),
        Some(Ok(())) => Ok(see_other("/campagnes/liens?fait=modifie")),
        Some(Err(errors)) => {
            let link = load(&state, id).await?;
            render_form(&state, &staff, Some(&link), &values, &errors)
        }
    }
}

async fn archive_or_restore(
    state: &AppState,
    staff: &Staff,
    path: &str,
    csrf: &str,
    archived: bool,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    staff.check_csrf(csrf)?;
    let id = path_id(path)?;
    let actor = staff.0.user_id;
    let found = db(state, move |conn| {
        Ok(channels::set_archived(
            conn,
            actor,
            id,
            archived,
            Utc::now(),
        )?)
    })
    .await?;
    if !found {
        return Err(AppError::NotFound);
    }
    Ok(see_other(if archived {
        "/campagnes/liens?fait=archive"
    } else {
        "/campagnes/liens?fait=reactive"
    }))
}

pub async fn archive(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
    form: Form<CsrfBody>,
) -> Result<HttpResponse, AppError> {
    archive_or_restore(&state, &staff, &path, &form.csrf, true).await
}

pub async fn restore(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
    form: Form<CsrfBody>,
) -> Result<HttpResponse, AppError> {
    archive_or_restore(&state, &staff, &path, &form.csrf, false).await
}

fn download(content_type: &str, filename: &str, body: Vec<u8>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}\""),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}

/// The QR code of the link's short URL: `format` is `svg` or `png`.
async fn qr_code(
    state: &AppState,
    staff: &Staff,
    path: &str,
    format: &str,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    let link = load(state, path_id(path)?).await?;
    let url = link.short_url(state.settings.public_base());
    let unexpected = || AppError::Unexpected(anyhow::anyhow!("QR code of a short URL"));
    let filename = format!("qr-{}.{format}", link.code);
    Ok(if format == "png" {
        download(
            "image/png",
            &filename,
            qr::png(&url).ok_or_else(unexpected)?,
        )
    } else {
        download(
            "image/svg+xml",
            &filename,
            qr::svg(&url).ok_or_else(unexpected)?.into_bytes(),
        )
    })
}

pub async fn qr_svg(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    qr_code(&state, &staff, &path, "svg").await
}

pub async fn qr_png(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    qr_code(&state, &staff, &path, "png").await
}

/// A position asked for by a partner (`?poste=12`): kept when it is a number.
fn position_of(req: &HttpRequest) -> Option<i64> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(name, _)| name == "poste")
        .and_then(|(_, value)| {
            (!value.is_empty() && value.len() <= 18 && value.bytes().all(|b| b.is_ascii_digit()))
                .then(|| value.parse().ok())
                .flatten()
        })
}

/// `/l/{code}`: counts the visit (a GET; HEAD is a link checker), remembers the channel for 90
/// days and leads to the form with the link's UTM values and code. An unknown or archived
/// code leads to the plain form, as does a database that does not answer: nothing tells a
/// visitor which codes exist.
pub async fn follow(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let position = position_of(&req);
    let plain = || {
        let mut response = see_other(match position {
            Some(p) => format!("/candidature?poste={p}"),
            None => "/candidature".to_owned(),
        });
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("no-store"),
        );
        response
    };
    let Some(code) = channels::well_formed_code(&path) else {
        return Ok(plain());
    };
    let probe = req.extensions().get::<HeadRequest>().is_some();
    let today = paris_today();
    let found = db(&state, move |conn| {
        let link = channels::live_by_code(conn, &code)?;
        if let (Some(link), false) = (&link, probe) {
            channels::record_visit(conn, link.id, today)?;
        }
        Ok(link)
    })
    .await;
    let link = match found {
        Ok(Some(link)) => link,
        Ok(None) | Err(_) => return Ok(plain()),
    };
    let mut response = HttpResponse::SeeOther();
    response
        .insert_header((header::LOCATION, link.form_target(position)))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    if !probe {
        response.cookie(attribution::channel_cookie(
            &secret(&state),
            link.id,
            Utc::now(),
            state.settings.secure_cookies(),
        ));
    }
    Ok(response.finish())
}
