//! Every address of the service and the handler that answers it, in one table, in the order
//! actix-web matches them (a fixed segment before a `{parameter}` at the same place). The JSON
//! API keeps its own table in `api/mod.rs`, because the same lines also write its OpenAPI
//! document.

use actix_governor::Governor;
use actix_web::web;

use super::{
    admin, api, assets, campaigns, contacts, evaluation, health, look, mailing, metrics, offers,
    personal_data, pipeline, places, positions_web, public, reports, staff, tokens, RateLimits,
};

/// Registers every route.
pub fn routes(cfg: &mut web::ServiceConfig, limits: &RateLimits) {
    // The public site and the application form.
    cfg.route("/", web::get().to(public::home))
        .service(
            web::resource("/candidature")
                .wrap(Governor::new(&limits.application_form))
                .route(web::get().to(public::application_form))
                .route(web::post().to(public::submit_application))
                .default_service(web::to(public::method_not_allowed)),
        )
        .route(
            "/candidature/merci/{key}",
            web::get().to(public::application_received),
        )
        // Staff sign-in, second factor, administration.
        .service(
            web::resource("/connexion")
                .route(web::get().to(staff::login_form))
                .route(web::post().to(staff::login)),
        )
        .service(
            web::resource(staff::CODE_PATH)
                .route(web::get().to(staff::code_form))
                .route(web::post().to(staff::code)),
        )
        .service(
            web::resource(staff::ENROLL_PATH)
                .route(web::get().to(staff::totp_page))
                .route(web::post().to(staff::totp_change)),
        )
        .route("/admin/securite", web::post().to(admin::security_policy))
        .route("/deconnexion", web::post().to(staff::logout))
        .route("/espace", web::get().to(staff::home))
        .service(
            web::resource("/admin/utilisateurs")
                .route(web::get().to(admin::users))
                .route(web::post().to(admin::create_user)),
        )
        .route(
            "/admin/utilisateurs/{id}",
            web::post().to(admin::change_user),
        )
        .route("/admin/journal", web::get().to(admin::journal))
        .route("/admin/modeles", web::get().to(admin::stage_templates))
        .route(
            "/admin/modeles/{stage}",
            web::post().to(admin::save_stage_template),
        )
        // Recruiting: the pipeline, candidates, meetings.
        .route("/recrutement", web::get().to(pipeline::board))
        .route("/recrutement/relances", web::get().to(pipeline::follow_ups))
        .route("/recrutement/agenda", web::get().to(pipeline::agenda))
        .route(
            "/recrutement/rendez-vous/{id}.ics",
            web::get().to(pipeline::meeting_ics),
        )
        .route(
            "/recrutement/candidatures/{id}/rendez-vous",
            web::post().to(pipeline::add_meeting),
        )
        // Meeting requests moved or cancelled (issue 20, sending tightened).
        .route(
            "/recrutement/rendez-vous/{id}/modifier",
            web::get().to(pipeline::meeting_edit),
        )
        .route(
            "/recrutement/rendez-vous/{id}/deplacer",
            web::post().to(pipeline::move_meeting),
        )
        .route(
            "/recrutement/rendez-vous/{id}/annuler",
            web::post().to(pipeline::cancel_meeting),
        )
        .route(
            "/recrutement/export.csv",
            web::get().to(pipeline::export_csv),
        )
        // The board as a kanban (issue 18, helper H5): a card's move and the selection's actions.
        .route(
            "/recrutement/tableau/selection",
            web::post().to(pipeline::selection),
        )
        .route(
            "/recrutement/tableau/{id}/deplacer",
            web::post().to(pipeline::move_card),
        )
        .route(
            "/recrutement/tableau/{id}/deplacer",
            web::get().to(pipeline::move_card_page),
        )
        .route(
            "/recrutement/candidats/{id}",
            web::get().to(pipeline::candidate),
        )
        .service(
            web::resource("/recrutement/candidats/{id}/modifier")
                .route(web::get().to(pipeline::edit_candidate))
                .route(web::post().to(pipeline::update_candidate)),
        )
        .route(
            "/recrutement/candidats/{id}/fusionner",
            web::post().to(pipeline::merge),
        )
        .route(
            "/recrutement/candidats/{id}/notes",
            web::post().to(pipeline::add_note),
        )
        // Mail exchanged with candidates (issue 20): a recruiter's answer, and mail that
        // matched no candidate.
        .route(
            "/recrutement/candidats/{id}/repondre",
            web::post().to(pipeline::answer),
        )
        .route(
            "/recrutement/courriels-non-reconnus",
            web::get().to(pipeline::unrecognised::page),
        )
        .route(
            "/recrutement/courriels-non-reconnus/{id}/rattacher",
            web::post().to(pipeline::unrecognised::attach),
        )
        .route(
            "/recrutement/courriels-non-reconnus/{id}/ecarter",
            web::post().to(pipeline::unrecognised::dismiss),
        )
        .route(
            "/recrutement/candidatures/{id}/etape",
            web::post().to(pipeline::move_stage),
        )
        .route(
            "/recrutement/documents/{id}",
            web::get().to(pipeline::download_document),
        )
        // The candidate page's interview grid (issue 18, H2): criteria (admin) and the grid of
        // a meeting (recruiters).
        .service(
            web::resource("/admin/grille")
                .route(web::get().to(evaluation::criteria_page))
                .route(web::post().to(evaluation::add_criterion)),
        )
        .route(
            "/admin/grille/{id}",
            web::post().to(evaluation::change_criterion),
        )
        .service(
            web::resource("/recrutement/rendez-vous/{id}/grille")
                .route(web::get().to(evaluation::grid_form))
                .route(web::post().to(evaluation::save_grid)),
        )
        // Centres and positions (administration).
        .route("/admin/centres", web::get().to(places::centres_list))
        .service(
            web::resource("/admin/centres/nouveau")
                .route(web::get().to(places::new_centre))
                .route(web::post().to(places::create_centre)),
        )
        .service(
            web::resource("/admin/centres/{id}")
                .route(web::get().to(places::edit_centre))
                .route(web::post().to(places::update_centre)),
        )
        .route("/admin/postes", web::get().to(places::positions_list))
        .service(
            web::resource("/admin/postes/nouveau")
                .route(web::get().to(places::new_position))
                .route(web::post().to(places::create_position)),
        )
        .service(
            web::resource("/admin/postes/{id}")
                .route(web::get().to(places::edit_position))
                .route(web::post().to(places::update_position)),
        )
        // Offers, placements and capacity (recruiting).
        .service(
            web::resource("/recrutement/candidatures/{id}/proposition")
                .route(web::get().to(offers::new_offer))
                .route(web::post().to(offers::create_offer)),
        )
        .route(
            "/recrutement/propositions/{id}",
            web::get().to(offers::offer),
        )
        .service(
            web::resource("/recrutement/propositions/{id}/modifier")
                .route(web::get().to(offers::edit_offer))
                .route(web::post().to(offers::update_offer)),
        )
        .route(
            "/recrutement/propositions/{id}/{action}",
            web::post().to(offers::offer_action),
        )
        .route(
            "/recrutement/affectations/{id}",
            web::get().to(offers::placement::placement),
        )
        .route(
            "/recrutement/affectations/{id}/redeploiement",
            web::post().to(offers::placement::redeploy),
        )
        .route("/capacite", web::get().to(offers::placement::capacity_page))
        // Links in campaign e-mails: unsubscribe and tracked clicks.
        .service(
            web::resource("/desinscription/{token}")
                .route(web::get().to(mailing::unsubscribe_page))
                .route(web::post().to(mailing::unsubscribe)),
        )
        .route("/c/{token}", web::get().to(mailing::follow_link))
        // Channel links (issue 19): the public short URL, then the staff pages, before
        // `/campagnes/{id}` so that `liens` is not read as a campaign id.
        .route("/l/{code}", web::get().to(campaigns::channels::follow))
        .route("/campagnes/liens", web::get().to(campaigns::channels::list))
        .service(
            web::resource("/campagnes/liens/nouveau")
                .route(web::get().to(campaigns::channels::new_form))
                .route(web::post().to(campaigns::channels::create)),
        )
        .service(
            web::resource("/campagnes/liens/{id}")
                .route(web::get().to(campaigns::channels::edit_form))
                .route(web::post().to(campaigns::channels::update)),
        )
        .route(
            "/campagnes/liens/{id}/archiver",
            web::post().to(campaigns::channels::archive),
        )
        .route(
            "/campagnes/liens/{id}/reactiver",
            web::post().to(campaigns::channels::restore),
        )
        .route(
            "/campagnes/liens/{id}/qr.svg",
            web::get().to(campaigns::channels::qr_svg),
        )
        .route(
            "/campagnes/liens/{id}/qr.png",
            web::get().to(campaigns::channels::qr_png),
        )
        // Letters (issue 19): a letter's code page, letter campaigns, the print shop's files.
        .service(
            web::resource("/c/{code}/ne-plus-ecrire")
                .route(web::get().to(mailing::no_letters_page))
                .route(web::post().to(mailing::no_letters)),
        )
        .service(
            web::resource("/courriers/nouveau")
                .route(web::get().to(campaigns::letters::new_letter_campaign))
                .route(web::post().to(campaigns::letters::create_letter_campaign)),
        )
        .route(
            "/courriers/{id}",
            web::get().to(campaigns::letters::letter_campaign_page),
        )
        .service(
            web::resource("/courriers/{id}/modifier")
                .route(web::get().to(campaigns::letters::edit_letter_campaign))
                .route(web::post().to(campaigns::letters::update_letter_campaign)),
        )
        .route(
            "/courriers/{id}/produire",
            web::post().to(campaigns::letters::produce_letters),
        )
        .route(
            "/courriers/{id}/courriers.pdf",
            web::get().to(campaigns::letters::letters_pdf),
        )
        .route(
            "/courriers/{id}/adresses.csv",
            web::get().to(campaigns::letters::letters_csv),
        )
        .route(
            "/courriers/{id}/exemple.pdf",
            web::get().to(campaigns::letters::sample_pdf),
        )
        .route(
            "/courriers/{id}/lettres/{letter}",
            web::get().to(campaigns::letters::letter_pdf),
        )
        // Templates and campaigns (communication).
        .route(
            "/campagnes/modeles",
            web::get().to(campaigns::templates::templates_list),
        )
        .service(
            web::resource("/campagnes/modeles/nouveau")
                .route(web::get().to(campaigns::templates::new_template))
                .route(web::post().to(campaigns::templates::create_template)),
        )
        .service(
            web::resource("/campagnes/modeles/{id}")
                .route(web::get().to(campaigns::templates::edit_template))
                .route(web::post().to(campaigns::templates::update_template)),
        )
        .route(
            "/campagnes/modeles/{id}/supprimer",
            web::post().to(campaigns::templates::delete_template),
        )
        .service(
            web::resource("/campagnes/modeles/{id}/apercu")
                .route(web::get().to(campaigns::preview::preview))
                .route(web::post().to(campaigns::preview::find_preview_contact)),
        )
        .route(
            "/campagnes/modeles/{id}/apercu-html",
            web::get().to(campaigns::preview::preview_html),
        )
        .route(
            "/campagnes/modeles/{id}/essai",
            web::post().to(campaigns::preview::test_send),
        )
        .route(
            "/campagnes",
            web::get().to(campaigns::campaign::campaigns_list),
        )
        .service(
            web::resource("/campagnes/nouvelle")
                .route(web::get().to(campaigns::form::new_campaign))
                .route(web::post().to(campaigns::form::create_campaign)),
        )
        .route(
            "/campagnes/{id}",
            web::get().to(campaigns::campaign::campaign_page),
        )
        .service(
            web::resource("/campagnes/{id}/modifier")
                .route(web::get().to(campaigns::form::edit_campaign))
                .route(web::post().to(campaigns::form::update_campaign)),
        )
        .route(
            "/campagnes/{id}/progression",
            web::get().to(campaigns::campaign::progress_json),
        )
        .route(
            "/campagnes/{id}/annuler",
            web::get().to(campaigns::actions::cancel_page),
        )
        .route(
            "/campagnes/{id}/{action}",
            web::post().to(campaigns::actions::campaign_action),
        )
        .route(
            "/campagnes/{id}/envois/{run}/{decision}",
            web::post().to(campaigns::actions::run_decision),
        )
        // Contacts, lists, imports, organisations, suppression list (communication).
        .route("/contacts", web::get().to(contacts::contact::contacts_page))
        .service(
            web::resource("/contacts/nouveau")
                .route(web::get().to(contacts::contact::new_contact))
                .route(web::post().to(contacts::contact::create_contact)),
        )
        .route(
            "/contacts/export.csv",
            web::get().to(contacts::import::export_csv),
        )
        .service(
            web::resource("/contacts/import")
                .route(web::get().to(contacts::import::import_form))
                .route(web::post().to(contacts::import::upload)),
        )
        .service(
            web::resource("/contacts/import/{id}")
                .route(web::get().to(contacts::import::import_page))
                .route(web::post().to(contacts::import::confirm_import)),
        )
        // Campaigns and contacts (issue 18): the rejected rows of an import, to correct.
        .route(
            "/contacts/import/{id}/lignes-refusees.csv",
            web::get().to(contacts::import::rejected_csv),
        )
        .service(
            web::resource("/contacts/desinscriptions")
                .route(web::get().to(contacts::suppression::suppressions_page))
                .route(web::post().to(contacts::suppression::add_suppression)),
        )
        .service(
            web::resource("/contacts/organisations")
                .route(web::get().to(contacts::organisations::organisations_page))
                .route(web::post().to(contacts::organisations::create_organisation)),
        )
        .service(
            web::resource("/contacts/organisations/facultes")
                .route(web::post().to(contacts::organisations::load_faculties)),
        )
        .service(
            web::resource("/contacts/{id}")
                .route(web::get().to(contacts::contact::edit_contact))
                .route(web::post().to(contacts::contact::update_contact)),
        )
        .service(
            web::resource("/contacts/{id}/supprimer")
                .route(web::get().to(contacts::contact::confirm_delete))
                .route(web::post().to(contacts::contact::delete_contact)),
        )
        .service(
            web::resource("/contacts/{id}/listes")
                .route(web::post().to(contacts::contact::add_to_list)),
        )
        .service(
            web::resource("/listes")
                .route(web::get().to(contacts::lists::lists_page))
                .route(web::post().to(contacts::lists::create_list)),
        )
        .route("/listes/{id}", web::get().to(contacts::lists::list_page))
        .service(
            web::resource("/listes/{id}/membres/{contact}/retirer")
                .route(web::post().to(contacts::lists::remove_member)),
        )
        // The JSON API: its own table in web/api/mod.rs, which also writes its OpenAPI document.
        .configure(|cfg| api::configure(cfg, &limits.api))
        // API tokens of the signed-in member.
        .service(
            web::resource(tokens::PATH)
                .route(web::get().to(tokens::tokens_page))
                .route(web::post().to(tokens::create_token)),
        )
        .route(
            "/espace/jetons/{id}/revoquer",
            web::post().to(tokens::revoke_token),
        )
        // « Mes données »: a person's own record, by a signed link.
        .service(
            web::resource("/mes-donnees")
                .wrap(Governor::new(&limits.personal_data))
                .route(web::get().to(personal_data::request_form))
                .route(web::post().to(personal_data::request_link)),
        )
        .route("/mes-donnees/{token}", web::get().to(personal_data::show))
        .route(
            "/mes-donnees/{token}/export.json",
            web::get().to(personal_data::export),
        )
        .route(
            "/mes-donnees/{token}/desistement",
            web::post().to(personal_data::withdraw),
        )
        .route(
            "/mes-donnees/{token}/vivier",
            web::post().to(personal_data::consent),
        )
        .service(
            web::resource("/mes-donnees/{token}/effacement")
                .route(web::get().to(personal_data::erase_page))
                .route(web::post().to(personal_data::erase)),
        )
        // Prometheus metrics.
        .route("/metrics", web::get().to(metrics::scrape))
        // Reports (communication).
        .route("/rapports", web::get().to(reports::index))
        .route("/rapports/{figure}.csv", web::get().to(reports::csv))
        // Look (issue 18, our own identity): the département's accent and logo, the favicon.
        .route("/apparence/theme.css", web::get().to(look::theme_css))
        .route("/apparence/logo", web::get().to(look::logo))
        .route("/favicon.ico", web::get().to(look::favicon))
        // Positions on the open web and partner sites (issue 19, H3): pages, JobPosting, feed,
        // sitemap, robots, the partners' JSON (CORS) and embed (framed by that partner only).
        .route("/postes", web::get().to(positions_web::positions_page))
        .route("/postes.atom", web::get().to(positions_web::atom_feed))
        .route("/postes/{key}", web::get().to(positions_web::position_page))
        .route("/sitemap.xml", web::get().to(positions_web::sitemap))
        .route("/robots.txt", web::get().to(positions_web::robots))
        .service(
            web::resource("/partenaires/postes.json")
                .route(web::get().to(positions_web::partner_json))
                .route(
                    web::method(actix_web::http::Method::OPTIONS)
                        .to(positions_web::partner_json_preflight),
                ),
        )
        .route(
            "/partenaires/{partner}/postes",
            web::get().to(positions_web::partner_embed),
        )
        // Public information pages, probes and static files.
        .route("/donnees-personnelles", web::get().to(public::privacy))
        .route("/accessibilite", web::get().to(public::accessibility))
        .route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .route("/static/{file:.*}", web::get().to(assets::serve));
}
