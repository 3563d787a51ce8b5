//! The candidate page in a real browser (issue 18): a recruiter moves an application forward
//! with its button, fails a refusal without a reason and finds the message at the field with
//! the note kept, plans an interview and fills its grid; at 1366 and 390 px wide, no sideways
//! scroll, axe-core finds nothing, screenshots saved (`SCREENSHOTS_DIR`).

use chrono::Duration;
use fantoccini::{Client, Locator};
use serde_json::json;
use vocation::db::enums::StaffRole;

use crate::browser::{
    audit, by_id, check, control_id, fill, fill_date, goto, in_browser, paris_today, press_button,
    screenshot, sideways, sign_in_with, status, wait_for_stage, wait_until,
};
use crate::helpers::{Fields, STAFF_PASSWORD};

/// Types `text` into the field labelled `label` within the group titled `group`.
async fn fill_in(c: &Client, group: &str, label: &str, text: &str) {
    let id = control_id(c, Some(group), label).await;
    let field = by_id(c, &id).await;
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
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

/// The text of the page's main part, spaces collapsed.
async fn main_text(c: &Client) -> String {
    let t = c
        .find(Locator::Css("main"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    t.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// At both widths: no sideways scroll, a screenshot, and axe-core.
async fn check_widths(c: &Client, name: &str, report: &mut String) {
    for (width, height) in [(1366, 900), (390, 844)] {
        c.set_window_size(width, height).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let out = sideways(c).await;
        assert!(
            out.is_empty(),
            "{name}: sideways scroll at {width} px: {out:?}"
        );
        screenshot(c, &format!("{name}-{width}")).await;
        audit(c, &format!("{name} at {width} px"), report).await;
    }
    c.set_window_size(1366, 900).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_recruiter_moves_refuses_without_reason_and_fills_the_grid_by_the_labels() {
    in_browser(|app, c| async move {
        vocation::pipeline::evaluation::load_defaults(&mut app.conn()).unwrap();
        assert_eq!(app.apply(&Fields::valid()).await.status(), 303);
        let candidate = app.text("SELECT id FROM candidates").unwrap();
        app.create_staff("julie.lafon@cds32.test", StaffRole::Recruiter);
        let mut report = String::new();
        c.set_window_size(1366, 900).await.unwrap();
        goto(&c, &app, "/connexion").await;
        sign_in_with(&c, "julie.lafon@cds32.test", STAFF_PASSWORD).await;
        wait_until(&c, "location.pathname !== '/connexion'", "signed in").await;

        let page = format!("/recrutement/candidats/{candidate}");
        goto(&c, &app, &page).await;
        assert_eq!(status(&c).await, 200);
        check_widths(&c, "candidat", &mut report).await;

        // Forward, with its button: the confirmation is announced.
        press_button(&c, "Avancer à « Premier contact »").await;
        wait_for_stage(&c, "Premier contact").await;
        let flash = c
            .find(Locator::Css("[role=status]"))
            .await
            .expect("a confirmation")
            .text()
            .await
            .unwrap();
        assert_eq!(
            flash.trim(),
            "Candidature passée à l'étape « Premier contact »."
        );

        // A refusal without its reason: the page again, the message at the field, the note kept.
        unfold(&c, "Refuser la candidature").await;
        fill_in(
            &c,
            "Refuser la candidature",
            "Note (facultative)",
            "Vu au téléphone : projet flou",
        )
        .await;
        press_button(&c, "Refuser la candidature").await;
        wait_until(
            &c,
            "document.querySelector('.error-summary') !== null",
            "the page again with its message",
        )
        .await;
        assert_eq!(status(&c).await, 422);
        let text = main_text(&c).await;
        assert!(
            text.contains("Choisissez le motif dans la liste."),
            "{text}"
        );
        let id = control_id(&c, Some("Refuser la candidature"), "Note (facultative)").await;
        assert_eq!(
            by_id(&c, &id).await.prop("value").await.unwrap().as_deref(),
            Some("Vu au téléphone : projet flou")
        );
        let reason = control_id(&c, Some("Refuser la candidature"), "Motif du refus").await;
        let described = by_id(&c, &reason)
            .await
            .attr("aria-describedby")
            .await
            .unwrap()
            .unwrap_or_default();
        let message = by_id(&c, &described).await.text().await.unwrap();
        assert_eq!(message.trim(), "Choisissez le motif dans la liste.");
        assert!(
            c.find(Locator::Css("nav")).await.is_ok(),
            "the menu is there"
        );
        check_widths(&c, "candidat-refus-sans-motif", &mut report).await;
        assert_eq!(
            app.text("SELECT stage FROM applications").as_deref(),
            Some("premier_contact")
        );

        // An interview yesterday, planned with the form.
        goto(&c, &app, &page).await;
        unfold(&c, "Planifier un entretien ou une visite").await;
        select_in(&c, "Planifier un rendez-vous", "Type", "Entretien").await;
        fill_date(&c, "Date", paris_today() - Duration::days(1)).await;
        let time = control_id(&c, Some("Planifier un rendez-vous"), "Heure (HH:MM)").await;
        c.execute(
            "document.getElementById(arguments[0]).value = '10:00';",
            vec![json!(time)],
        )
        .await
        .unwrap();
        fill(&c, "Durée", "1 h 30").await;
        fill(&c, "Lieu ou précision", "Mairie de Fleurance").await;
        press_button(&c, "Planifier").await;
        wait_until(
            &c,
            "location.search.includes('fait=')",
            "the page after planning",
        )
        .await;
        let text = main_text(&c).await;
        assert!(text.contains("Entretien le"), "{text}");
        assert!(
            text.contains("(1\u{a0}h\u{a0}30)") || text.contains("(1 h 30)"),
            "{text}"
        );

        // The grid, by its labels.
        c.find(Locator::XPath(
            "//a[starts-with(normalize-space(.), \"Remplir la grille d'entretien\")]",
        ))
        .await
        .expect("the grid link")
        .click()
        .await
        .unwrap();
        wait_until(&c, "location.pathname.endsWith('/grille')", "the grid page").await;
        check_widths(&c, "grille-entretien", &mut report).await;
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
        assert_eq!(status(&c).await, 200);
        let text = main_text(&c).await;
        assert!(text.contains("Grille d'entretien enregistrée."), "{text}");
        assert!(
            text.contains("Projet professionnel : 4 – très satisfaisant"),
            "{text}"
        );
        assert!(text.contains("Veut exercer en équipe"), "{text}");
        assert!(text.contains("avis favorable"), "{text}");
        c.execute(
            "document.getElementById('historique').scrollIntoView()",
            vec![],
        )
        .await
        .unwrap();
        check_widths(&c, "candidat-grille", &mut report).await;
        assert!(report.is_empty(), "{report}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_admin_defines_the_grid_by_the_labels() {
    in_browser(|app, c| async move {
        app.create_staff("admin@cds32.test", StaffRole::Admin);
        let mut report = String::new();
        c.set_window_size(1366, 900).await.unwrap();
        goto(&c, &app, "/connexion").await;
        sign_in_with(&c, "admin@cds32.test", STAFF_PASSWORD).await;
        wait_until(&c, "location.pathname !== '/connexion'", "signed in").await;
        goto(&c, &app, "/admin/grille").await;
        assert_eq!(status(&c).await, 200);

        // A criterion without a name: the page again, the description kept.
        fill(&c, "Description", "Ce que le médecin veut faire").await;
        press_button(&c, "Ajouter le critère").await;
        wait_until(
            &c,
            "document.querySelector('.error-summary') !== null",
            "the message",
        )
        .await;
        assert_eq!(status(&c).await, 422);
        assert!(main_text(&c).await.contains("Donnez un nom au critère"));
        check_widths(&c, "grille-criteres-erreur", &mut report).await;

        fill(&c, "Nom", "Projet professionnel").await;
        press_button(&c, "Ajouter le critère").await;
        wait_until(
            &c,
            "location.search.includes('fait=oui')",
            "the criterion added",
        )
        .await;
        let text = main_text(&c).await;
        assert!(text.contains("Grille enregistrée."), "{text}");
        assert_eq!(
            app.text("SELECT description FROM evaluation_criteria")
                .as_deref(),
            Some("Ce que le médecin veut faire")
        );
        check_widths(&c, "grille-criteres", &mut report).await;
        assert!(report.is_empty(), "{report}");
    })
    .await;
}
