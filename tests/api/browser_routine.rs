//! Issue 18, « Proof »: a recruiter's morning routine in a real browser, from « À faire » to a
//! start planned 60 days ahead, everything by the visible labels and buttons. At each key page
//! (home, candidate page, grid, offer form and page, the approver's home, capacity) the page
//! does not scroll sideways at 1366 or 390 px, axe-core (WCAG 2.1 A/AA, 2.2 AA) finds nothing,
//! and screenshots are saved under `target/screenshots/routine-*.png` for a reviewer.

use std::path::PathBuf;

use chrono::{Days, NaiveDate};
use fantoccini::{Client, Locator};
use serde_json::json;
use vocation::db::enums::StaffRole;

use crate::browser::{
    act_on_offer, audit, by_id, capacity_row, check, control_id, fill, fill_date, goto,
    heading_badge, in_browser, labelled, main_text, paris_today, press_button, sideways,
    sign_in_with, stage_badge, status, tick, wait_for, wait_for_stage, wait_until, whole_days,
};
use crate::helpers::{Fields, STAFF_PASSWORD};

const RECRUITER: &str = "julie.lafon@cds32.test";
const APPROVER: &str = "admin@cds32.test";

/// Saves a screenshot as `target/screenshots/routine-{name}.png`, always.
async fn shot(c: &Client, name: &str) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let png = c.screenshot().await.expect("a screenshot");
    std::fs::write(dir.join(format!("routine-{name}.png")), png).unwrap();
}

/// At 1366 and 390 px: no sideways scroll, a screenshot, axe-core; back to 1366 px after.
async fn key_step(c: &Client, name: &str, report: &mut String) {
    for (width, height) in [(1366, 900), (390, 844)] {
        c.set_window_size(width, height).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let out = sideways(c).await;
        assert!(
            out.is_empty(),
            "{name}: sideways scroll at {width} px: {out:?}"
        );
        shot(c, &format!("{name}-{width}")).await;
        audit(c, &format!("{name} at {width} px"), report).await;
    }
    c.set_window_size(1366, 900).await.unwrap();
}

/// The text of `main`, spaces collapsed.
async fn page_text(c: &Client) -> String {
    main_text(c)
        .await
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Clicks the link whose visible text starts with `text` (within `css`, if given).
async fn follow(c: &Client, within: &str, text: &str) {
    let path = format!("{within}//a[starts-with(normalize-space(.), \"{text}\")]");
    c.find(Locator::XPath(&path))
        .await
        .unwrap_or_else(|e| panic!("no link “{text}” ({within}): {e}"))
        .click()
        .await
        .unwrap();
}

/// Unfolds the `<details>` whose summary reads `text`.
async fn unfold(c: &Client, text: &str) {
    c.find(Locator::XPath(&format!(
        "//summary[normalize-space(.)=\"{text}\"]"
    )))
    .await
    .unwrap_or_else(|e| panic!("no fold “{text}”: {e}"))
    .click()
    .await
    .unwrap();
}

/// Chooses `option` in the select labelled `label` within the group titled `group`.
async fn select_in(c: &Client, group: &str, label: &str, option: &str) {
    let id = control_id(c, Some(group), label).await;
    by_id(c, &id)
        .await
        .select_by_label(option)
        .await
        .unwrap_or_else(|e| panic!("no option “{option}” in “{label}” ({group}): {e}"));
}

/// Types `text` into the field labelled `label` within the group titled `group`.
async fn fill_in(c: &Client, group: &str, label: &str, text: &str) {
    let id = control_id(c, Some(group), label).await;
    let field = by_id(c, &id).await;
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

/// Ticks or unticks the « Écrire au candidat » box of the forward form.
async fn write_to_candidate(c: &Client, on: bool) {
    let id = control_id(
        c,
        Some("Faire avancer la candidature"),
        "Écrire au candidat",
    )
    .await;
    let box_ = by_id(c, &id).await;
    if box_.is_selected().await.unwrap() != on {
        c.find(Locator::XPath(&format!("//label[@for=\"{id}\"]")))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }
    assert_eq!(box_.is_selected().await.unwrap(), on);
}

async fn sign_out(c: &Client) {
    press_button(c, "Se déconnecter").await;
    wait_until(c, "location.pathname === '/connexion'", "signed out").await;
}

async fn sign_in_home(c: &Client, email: &str) {
    sign_in_with(c, email, STAFF_PASSWORD).await;
    wait_until(c, "location.pathname === '/espace'", "the home « À faire »").await;
    assert_eq!(status(c).await, 200);
}

/// Scrolls to the first element of `main` whose own text holds `text` (case aside), for a
/// screenshot of that part of the page.
async fn show_text(c: &Client, text: &str) {
    let found = c
        .execute(
            r#"
            const wanted = arguments[0].toLowerCase();
            const e = Array.from(document.querySelectorAll('main *'))
                .filter(e => e.children.length === 0 || e.matches('li, p, dd, h2'))
                .find(e => (e.innerText || '').toLowerCase().includes(wanted));
            if (!e) return false;
            e.scrollIntoView({ block: 'center' });
            return true;
            "#,
            vec![json!(text)],
        )
        .await
        .unwrap();
    assert_eq!(found, json!(true), "“{text}” on the page");
}

fn fr(day: NaiveDate) -> String {
    day.format("%d/%m/%Y").to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_recruiter_works_a_new_application_from_the_morning_list_to_a_planned_start() {
    in_browser(|app, c| async move {
        // The grid's criteria as the demo defines them; a doctor applies through the form.
        vocation::pipeline::evaluation::load_defaults(&mut app.conn()).unwrap();
        assert_eq!(app.apply(&Fields::valid()).await.status(), 303);
        let application = app.text("SELECT max(id) FROM applications").unwrap();
        app.create_staff(RECRUITER, StaffRole::Recruiter);
        app.create_staff(APPROVER, StaffRole::Admin);
        let today = paris_today();
        let start = today + Days::new(60);
        let mut report = String::new();
        c.set_window_size(1366, 900).await.unwrap();

        // Morning: the recruiter lands on « À faire » and finds the new application.
        goto(&c, &app, "/connexion").await;
        sign_in_home(&c, RECRUITER).await;
        let todo = page_text(&c).await;
        assert!(todo.contains("Nouvelles candidatures à lire"), "{todo}");
        key_step(&c, "accueil-recruteur", &mut report).await;
        follow(&c, "//section[@id='a-faire-candidatures']", "Claire Martin").await;
        wait_until(
            &c,
            "location.pathname.startsWith('/recrutement/candidats/') \
             && document.querySelector('.application .stage-badge') !== null",
            "the candidate page from « À faire »",
        )
        .await;
        assert_eq!(status(&c).await, 200);
        assert_eq!(stage_badge(&c).await, "Nouvelle");
        let candidate_page = c.current_url().await.unwrap().path().to_owned();
        key_step(&c, "candidat-nouvelle", &mut report).await;

        // « Premier contact », through the e-mail review: the greeting, then sent.
        write_to_candidate(&c, true).await;
        press_button(&c, "Avancer à « Premier contact »").await;
        wait_for(&c, "#texte").await;
        assert_eq!(status(&c).await, 200);
        let body = labelled(&c, "Texte")
            .await
            .prop("value")
            .await
            .unwrap()
            .unwrap_or_default();
        assert!(body.starts_with("Bonjour Docteur Martin,"), "{body}");
        key_step(&c, "courriel-premier-contact", &mut report).await;
        // What was queued before (the doctor's acknowledgement, the team's notices) leaves first.
        app.dispatch_all_pending_emails().await;
        press_button(&c, "Envoyer le courriel et changer d'étape").await;
        wait_for_stage(&c, "Premier contact").await;
        assert_eq!(app.dispatch_all_pending_emails().await, 1);

        // An interview (yesterday morning, at Fleurance), planned with the form.
        unfold(&c, "Planifier un entretien ou une visite").await;
        select_in(&c, "Planifier un rendez-vous", "Type", "Entretien").await;
        fill_date(&c, "Date", today - Days::new(1)).await;
        let time = control_id(&c, Some("Planifier un rendez-vous"), "Heure (HH:MM)").await;
        c.execute(
            "document.getElementById(arguments[0]).value = '10:00';",
            vec![json!(time)],
        )
        .await
        .unwrap();
        fill(&c, "Durée", "1 h").await;
        fill(&c, "Lieu ou précision", "Mairie de Fleurance").await;
        press_button(&c, "Planifier").await;
        wait_until(
            &c,
            "location.search.includes('fait=')",
            "the interview planned",
        )
        .await;
        assert!(page_text(&c).await.contains("Entretien le"));

        // « Entretien », without e-mail, then the grid.
        write_to_candidate(&c, false).await;
        press_button(&c, "Avancer à « Entretien »").await;
        wait_for_stage(&c, "Entretien").await;
        key_step(&c, "candidat-entretien", &mut report).await;
        follow(&c, "", "Remplir la grille d'entretien").await;
        wait_until(&c, "location.pathname.endsWith('/grille')", "the grid").await;
        assert_eq!(status(&c).await, 200);
        key_step(&c, "grille", &mut report).await;
        select_in(&c, "Projet professionnel", "Note", "4 – très satisfaisant").await;
        fill_in(
            &c,
            "Projet professionnel",
            "Commentaire",
            "Veut exercer en équipe",
        )
        .await;
        select_in(
            &c,
            "Motivation pour le territoire",
            "Note",
            "3 – satisfaisant",
        )
        .await;
        check(&c, Some("Avis d'ensemble"), "Favorable").await;
        fill(&c, "Commentaire d'ensemble", "À inviter pour une visite").await;
        press_button(&c, "Enregistrer la grille").await;
        wait_until(
            &c,
            "location.pathname.startsWith('/recrutement/candidats/')",
            "back on the candidate page",
        )
        .await;
        let text = page_text(&c).await;
        assert!(text.contains("Grille d'entretien enregistrée."), "{text}");
        assert!(text.contains("avis favorable"), "{text}");
        assert!(text.contains("Avis d'ensemble : Favorable."), "{text}");

        // « Visite du territoire », then the offer: full time, split over two centres.
        write_to_candidate(&c, false).await;
        press_button(&c, "Avancer à « Visite du territoire »").await;
        wait_for_stage(&c, "Visite du territoire").await;
        follow(&c, "", "Préparer une proposition").await;
        wait_until(
            &c,
            "document.querySelector('.offer-form') !== null",
            "the offer form",
        )
        .await;
        assert_eq!(status(&c).await, 200);
        check(&c, Some("Temps de travail"), "Temps plein (1 ETP)").await;
        fill(&c, "Équivalent temps plein (ETP)", "1").await;
        fill_date(&c, "Date de prise de poste", start).await;
        fill_date(&c, "Réponse attendue avant le", today + Days::new(20)).await;
        let mut week = whole_days("Vic-Fezensac", &["lundi", "mardi", "mercredi"]);
        week.extend(whole_days("Fleurance", &["jeudi", "vendredi"]));
        for half_day in &week {
            tick(&c, half_day, true).await;
        }
        fill(&c, "ETP à Vic-Fezensac", "0,6").await;
        fill(
            &c,
            "Rémunération (note communiquée au médecin)",
            "Grille des praticiens contractuels, échelon 4",
        )
        .await;
        key_step(&c, "proposition-formulaire", &mut report).await;
        press_button(&c, "Enregistrer le brouillon").await;
        wait_until(
            &c,
            "location.pathname.startsWith('/recrutement/propositions/') \
             && document.querySelector('h1 .stage-badge') !== null",
            "the offer page",
        )
        .await;
        assert_eq!(status(&c).await, 200);
        let offer_page = c.current_url().await.unwrap().path().to_owned();
        let offer = offer_page.rsplit('/').next().unwrap().to_owned();
        assert_eq!(heading_badge(&c).await, "Brouillon");

        // A recruiter cannot approve: she asks for the validation.
        press_button(&c, "Demander la validation").await;
        wait_until(
            &c,
            "document.querySelector('main').innerText.includes('validation demandée')",
            "the approval asked",
        )
        .await;
        assert_eq!(status(&c).await, 200);
        assert_eq!(heading_badge(&c).await, "Brouillon");
        key_step(&c, "proposition-validation-demandee", &mut report).await;

        // The approver finds it in « À faire » and approves it.
        sign_out(&c).await;
        sign_in_home(&c, APPROVER).await;
        let todo = page_text(&c).await;
        assert!(todo.contains("Propositions à approuver"), "{todo}");
        assert!(
            todo.contains(&format!("proposition n° {offer} à approuver")),
            "{todo}"
        );
        key_step(&c, "accueil-approbateur", &mut report).await;
        follow(&c, "//section[@id='a-faire-approbations']", "Claire Martin").await;
        wait_until(
            &c,
            &format!("location.pathname === '{offer_page}'"),
            "the offer from « À faire »",
        )
        .await;
        act_on_offer(&c, &offer, "Approuver la proposition", "Brouillon").await;
        assert!(page_text(&c).await.contains("Approuvée le"));

        // The recruiter finds the approved offer in her « À faire », sends it, records the
        // acceptance and the start 60 days ahead.
        sign_out(&c).await;
        sign_in_home(&c, RECRUITER).await;
        let todo = page_text(&c).await;
        assert!(
            todo.contains(&format!("proposition n° {offer} validée")),
            "{todo}"
        );
        follow(&c, "//section[@id='a-faire-a-envoyer']", "Claire Martin").await;
        wait_until(
            &c,
            &format!("location.pathname === '{offer_page}'"),
            "the approved offer from « À faire »",
        )
        .await;
        act_on_offer(&c, &offer, "Envoyer la proposition au médecin", "Envoyée").await;
        act_on_offer(&c, &offer, "Le médecin accepte", "Acceptée").await;
        key_step(&c, "proposition-acceptee", &mut report).await;
        fill_date(&c, "Date de prise de poste", start).await;
        press_button(&c, "Enregistrer la prise de poste").await;
        wait_until(
            &c,
            "/prise de poste prévue le/i.test(document.querySelector('main').innerText)",
            "the start recorded",
        )
        .await;
        assert_eq!(status(&c).await, 200);
        shot(&c, "prise-de-poste-enregistree-1366").await;

        // Planned, not filled: the candidate page and the capacity page say so.
        let planned = format!("prise de poste prévue le {}", fr(start));
        goto(&c, &app, &candidate_page).await;
        assert_eq!(stage_badge(&c).await, "Acceptée");
        let text = page_text(&c).await;
        assert!(text.to_lowercase().contains(&planned), "{text}");
        key_step(&c, "candidat-prise-de-poste-prevue", &mut report).await;
        show_text(&c, &planned).await;
        shot(&c, "candidat-prise-de-poste-prevue-detail-1366").await;
        assert_eq!(
            app.text(&format!(
                "SELECT stage FROM applications WHERE id = {application}"
            ))
            .as_deref(),
            Some("acceptee")
        );
        goto(&c, &app, "/capacite").await;
        wait_for(&c, "table.capacity-table").await;
        assert_eq!(status(&c).await, 200);
        let text = page_text(&c).await;
        assert!(
            text.contains(&format!(
                "Claire Martin : du lundi au mercredi (0,6 ETP), {planned}"
            )),
            "{text}"
        );
        let row = capacity_row(&c, "Vic-Fezensac").await;
        assert_eq!(row[2..4], ["0", "0,6"], "Pourvus, Engagés: {row:?}");
        key_step(&c, "capacite", &mut report).await;
        show_text(&c, "Prises de poste prévues").await;
        shot(&c, "capacite-prises-de-poste-prevues-1366").await;

        assert!(report.is_empty(), "axe-core found violations:\n{report}");
    })
    .await;
}
