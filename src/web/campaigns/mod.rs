//! Communications staff's pages for mailings: the library of campaign templates (editor,
//! preview with sample or real contact values, test send) and the campaigns (form, page with
//! the lifecycle actions, live progress and outcome).
//!
//! E-mail addresses never appear in a URL (the preview's contact search is a POST that answers
//! with the contact's id): URLs end up in the request logs, addresses must not.

mod actions;
mod campaign;
mod form;
mod preview;
mod templates;

use actix_web::web;
use serde::Deserialize;

/// Registers the campaigns' and campaign templates' pages.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/campagnes/modeles",
        web::get().to(templates::templates_list),
    )
    .service(
        web::resource("/campagnes/modeles/nouveau")
            .route(web::get().to(templates::new_template))
            .route(web::post().to(templates::create_template)),
    )
    .service(
        web::resource("/campagnes/modeles/{id}")
            .route(web::get().to(templates::edit_template))
            .route(web::post().to(templates::update_template)),
    )
    .route(
        "/campagnes/modeles/{id}/supprimer",
        web::post().to(templates::delete_template),
    )
    .service(
        web::resource("/campagnes/modeles/{id}/apercu")
            .route(web::get().to(preview::preview))
            .route(web::post().to(preview::find_preview_contact)),
    )
    .route(
        "/campagnes/modeles/{id}/apercu-html",
        web::get().to(preview::preview_html),
    )
    .route(
        "/campagnes/modeles/{id}/essai",
        web::post().to(preview::test_send),
    )
    .route("/campagnes", web::get().to(campaign::campaigns_list))
    .service(
        web::resource("/campagnes/nouvelle")
            .route(web::get().to(form::new_campaign))
            .route(web::post().to(form::create_campaign)),
    )
    .route("/campagnes/{id}", web::get().to(campaign::campaign_page))
    .service(
        web::resource("/campagnes/{id}/modifier")
            .route(web::get().to(form::edit_campaign))
            .route(web::post().to(form::update_campaign)),
    )
    .route(
        "/campagnes/{id}/progression",
        web::get().to(campaign::progress_json),
    )
    .route(
        "/campagnes/{id}/annuler",
        web::get().to(actions::cancel_page),
    )
    .route(
        "/campagnes/{id}/{action}",
        web::post().to(actions::campaign_action),
    )
    .route(
        "/campagnes/{id}/envois/{run}/{decision}",
        web::post().to(actions::run_decision),
    );
}

/// The notice shown after an action (`?fait=…`): fixed texts, nothing personal in the URL.
#[derive(Debug, Default, Deserialize)]
pub struct DoneQuery {
    #[serde(default)]
    fait: String,
    #[serde(default)]
    n: String,
}

/// A form that carries nothing but its anti-forgery token.
#[derive(Debug, Default, Deserialize)]
pub struct CsrfBody {
    #[serde(default)]
    csrf: String,
}
