//! Positions on the open web (issue 19): the list /postes and a page per open position with its
//! schema.org JobPosting, the Atom feed, sitemap.xml and robots.txt, and what partner sites
//! read: a JSON list with CORS for their origins and a page each may frame.
//!
//! Every one of them reads [`positions::open::list_open`]: a withdrawn position, one past its
//! closing date or whose centres all closed is gone from all of them at once.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::pages::{html, page, render};
use crate::config::{PartnerSettings, Settings};
use crate::domain::paris_today;
use crate::error::AppError;
use crate::positions::open::{self, OpenPosition};
use crate::positions::web_formats::{self, Publisher};
use crate::web::{db, AppState, CONTENT_SECURITY_POLICY};

fn publisher(settings: &Settings) -> Publisher<'_> {
    Publisher {
        base: settings.public_base(),
        organisation: &settings.organisation.name,
        service: &settings.organisation.service,
        region: &settings.open_web.region,
    }
}

async fn open_positions(state: &AppState) -> Result<Vec<OpenPosition>, AppError> {
    db(state, |conn| Ok(open::list_open(conn, paris_today())?)).await
}

/// /postes: every open position, each linking to its page.
pub async fn positions_page(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let positions = open_positions(&state).await?;
    let canonical = format!("{}/postes", state.settings.public_base());
    let body = render(
        "public/positions",
        &page(
            &state,
            "Les postes ouverts",
            json!({ "positions": positions, "canonical": canonical, "feed": true }),
        ),
    )?;
    Ok(html(StatusCode::OK, body))
}

/// /postes/{id}-{slug}: an open position's page; its canonical address when the slug is
/// wrong or missing (301); 404 when the position is not open (or never was).
pub async fn position_page(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let key = open::parse_key(&path).ok_or(AppError::NotFound)?;
    let id = key.id;
    let position = db(&state, move |conn| {
        Ok(open::find_open(conn, id, paris_today())?)
    })
    .await?
    .ok_or(AppError::NotFound)?;
    if key.slug != Some(position.slug.as_str()) {
        return Ok(HttpResponse::MovedPermanently()
            .insert_header((header::LOCATION, position.path.clone()))
            .finish());
    }
    let by = publisher(&state.settings);
    let posting = web_formats::job_posting(&position, &by);
    let meta: String = web_formats::summary(&position).chars().take(300).collect();
    let canonical = format!("{}{}", by.base, position.path);
    let working_time =
        open::spoken_working_time(position.fte_min_hundredths, position.fte_max_hundredths);
    let paragraphs: Vec<&str> = position
        .description
        .split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    let body = render(
        "public/position",
        &page(
            &state,
            &position.title,
            json!({
                "position": position,
                "paragraphs": paragraphs,
                "several_places": position.workplaces.len() > 1,
                "working_time": working_time,
                "apply": format!("/candidature?poste={}", position.id),
                "job_posting": web_formats::json_for_script(&posting),
                "meta_description": format!("{} – {meta}", position.title),
                "canonical": canonical,
                "feed": true,
            }),
        ),
    )?;
    Ok(html(StatusCode::OK, body))
}

/// /postes.atom: the open positions as an Atom feed.
pub async fn atom_feed(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let (positions, changed) = db(&state, |conn| {
        let today = paris_today();
        Ok((
            open::list_open(conn, today)?,
            open::last_change(conn, today)?,
        ))
    })
    .await?;
    let updated = changed.unwrap_or_else(chrono::Utc::now);
    let body = web_formats::atom_feed(&positions, &publisher(&state.settings), updated);
    Ok(HttpResponse::Ok()
        .content_type("application/atom+xml; charset=utf-8")
        .body(body))
}

/// /sitemap.xml.
pub async fn sitemap(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let positions = open_positions(&state).await?;
    Ok(HttpResponse::Ok()
        .content_type("application/xml; charset=utf-8")
        .body(web_formats::sitemap(
            &positions,
            state.settings.public_base(),
        )))
}

/// /robots.txt.
pub async fn robots(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(web_formats::robots(state.settings.public_base()))
}

// ---------------------------------------------------------------------------------------------
// Partners

/// The configured partner whose origin is exactly `origin`.
fn partner_by_origin<'a>(settings: &'a Settings, origin: &str) -> Option<&'a PartnerSettings> {
    settings
        .open_web
        .partners
        .iter()
        .find(|p| p.origin == origin)
}

fn partner_by_id<'a>(settings: &'a Settings, id: &str) -> Option<&'a PartnerSettings> {
    settings.open_web.partners.iter().find(|p| p.id == id)
}

/// A position's link through the partner's channel link, which attributes what follows to it.
fn partner_link(settings: &Settings, partner: &PartnerSettings, position: i64) -> String {
    format!(
        "{}/l/{}?poste={position}",
        settings.public_base(),
        partner.link_code
    )
}

/// The request's Origin header, when it is readable.
fn origin(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
}

/// A position as the partners' JSON lists it.
#[derive(Serialize)]
struct PartnerPosition {
    id: i64,
    intitule: String,
    specialite: Option<String>,
    temps_travail: String,
    communes: Vec<String>,
    resume: String,
    /// Where a reader goes: the partner's channel link to this position (its page when the
    /// partner is not known).
    lien: String,
    publie_le: String,
    mis_a_jour_le: String,
}

#[derive(Debug, Deserialize)]
pub struct PartnerQuery {
    partenaire: Option<String>,
}

/// /partenaires/postes.json: the open positions for partner sites. A browser on a partner's
/// page gets `Access-Control-Allow-Origin` for that origin only; links carry the channel link
/// of the partner named by the Origin, or by `?partenaire=` for a server reading it.
pub async fn partner_json(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<PartnerQuery>,
) -> Result<HttpResponse, AppError> {
    let settings = &state.settings;
    let by_origin = origin(&req).and_then(|o| partner_by_origin(settings, o));
    let partner = match (by_origin, query.into_inner().partenaire) {
        (Some(p), _) => Some(p),
        (None, Some(id)) => Some(partner_by_id(settings, &id).ok_or(AppError::NotFound)?),
        (None, None) => None,
    };
    let positions = open_positions(&state).await?;
    let base = settings.public_base();
    let list: Vec<PartnerPosition> = positions
        .iter()
        .map(|p| PartnerPosition {
            id: p.id,
            intitule: p.title.clone(),
            specialite: p.specialty.clone(),
            temps_travail: p.working_time.clone(),
            communes: p.communes.clone(),
            resume: web_formats::summary(p),
            lien: match partner {
                Some(partner) => partner_link(settings, partner, p.id),
                None => format!("{base}{}", p.path),
            },
            publie_le: p.published_at.to_rfc3339(),
            mis_a_jour_le: p.updated_at.to_rfc3339(),
        })
        .collect();
    let mut response = HttpResponse::Ok();
    response.insert_header((header::VARY, "Origin"));
    if let Some(p) = by_origin {
        response.insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, p.origin.as_str()));
    }
    Ok(response.json(list))
}

/// The CORS preflight of /partenaires/postes.json: allowed for a partner's origin asking for
/// GET (or HEAD) only; anything else gets no CORS header, so the browser refuses.
pub async fn partner_json_preflight(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let partner = origin(&req).and_then(|o| partner_by_origin(&state.settings, o));
    let method = req
        .headers()
        .get(header::ACCESS_CONTROL_REQUEST_METHOD)
        .and_then(|v| v.to_str().ok());
    match (partner, method) {
        (Some(p), Some("GET" | "HEAD")) => HttpResponse::NoContent()
            .insert_header((header::VARY, "Origin"))
            .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, p.origin.as_str()))
            .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "GET, HEAD"))
            .insert_header((header::ACCESS_CONTROL_MAX_AGE, "86400"))
            .finish(),
        _ => HttpResponse::Forbidden()
            .insert_header((header::VARY, "Origin"))
            .finish(),
    }
}

/// The Content-Security-Policy of a partner's embed: the service's own, framed by that
/// partner's origin only.
pub fn embed_policy(partner_origin: &str) -> String {
    CONTENT_SECURITY_POLICY.replace(
        "frame-ancestors 'none'",
        &format!("frame-ancestors {partner_origin}"),
    )
}

#[derive(Serialize)]
struct EmbedPosition<'a> {
    title: &'a str,
    specialty: Option<&'a str>,
    working_time: &'a str,
    communes: String,
    link: String,
}

/// /partenaires/{partner}/postes: the open positions as a page the partner's site frames.
pub async fn partner_embed(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let settings = &state.settings;
    let partner = partner_by_id(settings, &path).ok_or(AppError::NotFound)?;
    let positions = open_positions(&state).await?;
    let items: Vec<EmbedPosition> = positions
        .iter()
        .map(|p| EmbedPosition {
            title: &p.title,
            specialty: p.specialty.as_deref(),
            working_time: &p.working_time,
            communes: p.communes.join(", "),
            link: partner_link(settings, partner, p.id),
        })
        .collect();
    let body = render(
        "public/partner_embed",
        &page(
            &state,
            "Postes de médecin salarié ouverts",
            json!({
                "positions": items,
                "partner": partner.name,
                "meta_description": format!(
                    "Les postes de médecin salarié ouverts, présentés sur {}.",
                    partner.name
                ),
            }),
        ),
    )?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            embed_policy(&partner.origin),
        ))
        // Browsers that read Content-Security-Policy ignore X-Frame-Options when it has
        // frame-ancestors; this keeps the site-wide `DENY` (added only when the header is
        // absent) off the one page meant to be framed.
        .insert_header((
            header::X_FRAME_OPTIONS,
            format!("ALLOW-FROM {}", partner.origin),
        ))
        .body(body))
}
