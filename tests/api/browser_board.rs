//! The board as a kanban in a real browser (issue 18): a card dragged to another column (the
//! JavaScript path: board.js posts the card's own form and re-renders the board), a card moved
//! by its small form to a stage that needs a reason (the path without JavaScript: the form
//! posts, the page asks for the reason, the board comes back), the board at 1366 and 390 px
//! without sideways scrolling of the page, and axe-core on each page.

use fantoccini::{Client, Locator};
use serde_json::json;
use vocation::db::enums::StaffRole;

use crate::browser::{
    audit, by_id, goto, in_browser, press_button, screenshot, select, sideways, sign_in_with,
    status, wait_until,
};
use crate::helpers::{Fields, TestApp, STAFF_PASSWORD};

/// Applies through the public form; returns the application's id.
async fn applied(app: &TestApp, n: usize, last_name: &str) -> i64 {
    let fields = Fields::valid()
        .set("courriel", &format!("tableau{n}@exemple.fr"))
        .set("telephone", &format!("06{:08}", 20_000 + n))
        .set("rpps", "")
        .set("nom", last_name);
    assert_eq!(app.apply(&fields).await.status(), 303);
    app.count(&format!(
        "SELECT a.id FROM applications a JOIN candidates c ON c.id = a.candidate_id \
         WHERE c.email_normalized = 'tableau{n}@exemple.fr'"
    ))
}

fn stage_of(app: &TestApp, application: i64) -> String {
    app.text(&format!(
        "SELECT stage FROM applications WHERE id = {application}"
    ))
    .unwrap()
}

/// Drags a card onto a column the way the browser's HTML drag and drop does (WebDriver's
/// pointer actions do not start a native HTML5 drag in Chromium, so the events are sent).
async fn drag(c: &Client, application: i64, stage: &str) {
    c.execute(
        r#"
        const [id, stage] = arguments;
        const card = document.getElementById('carte-' + id);
        const column = document.getElementById('colonne-' + stage);
        const data = new DataTransfer();
        const fire = (el, type) => el.dispatchEvent(
            new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: data }));
        fire(card, 'dragstart');
        fire(column, 'dragenter');
        fire(column, 'dragover');
        fire(column, 'drop');
        fire(card, 'dragend');
        "#,
        vec![json!(application), json!(stage)],
    )
    .await
    .expect("drag and drop");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_card_is_dragged_to_another_column_and_another_moved_by_its_form() {
    in_browser(|app, c| async move {
        let dragged = applied(&app, 1, "Glisser").await;
        let refused = applied(&app, 2, "Formulaire").await;
        for n in 3..8 {
            applied(&app, n, &format!("Autre{n}")).await;
        }
        // Without an e-mail template for « Premier contact », the move is recorded at once.
        diesel::RunQueryDsl::execute(
            diesel::sql_query("DELETE FROM stage_email_templates WHERE stage = 'premier_contact'"),
            &mut app.conn(),
        )
        .unwrap();
        app.create_staff("tableau@cds32.test", StaffRole::Recruiter);
        let mut report = String::new();
        goto(&c, &app, "/connexion").await;
        sign_in_with(&c, "tableau@cds32.test", STAFF_PASSWORD).await;
        wait_until(&c, "location.pathname !== '/connexion'", "signed in").await;

        for (width, height) in [(1366, 900), (390, 844)] {
            c.set_window_size(width, height).await.unwrap();
            goto(&c, &app, "/recrutement").await;
            assert_eq!(status(&c).await, 200);
            wait_until(&c, "document.getElementById('tableau') !== null", "the board").await;
            let out = sideways(&c).await;
            assert!(out.is_empty(), "sideways scroll at {width} px: {out:?}");
            c.execute(
                "document.getElementById('tableau').scrollIntoView()",
                vec![],
            )
            .await
            .unwrap();
            screenshot(&c, &format!("tableau-{width}")).await;
            audit(&c, &format!("/recrutement at {width} px"), &mut report).await;
        }
        // At 390 px, one column fills the screen's width (scrolled sideways inside the board).
        let widths = c
            .execute(
                "const col = document.querySelector('.kanban-column').getBoundingClientRect();\
                 const board = document.getElementById('tableau');\
                 return [col.width, window.innerWidth, board.scrollWidth > board.clientWidth];",
                vec![],
            )
            .await
            .unwrap();
        let column = widths[0].as_f64().unwrap();
        assert!(column > 250.0 && column <= 390.0, "{widths}");
        assert_eq!(widths[2], json!(true), "the board scrolls inside itself");
        c.set_window_size(1366, 900).await.unwrap();
        goto(&c, &app, "/recrutement").await;

        // Drag and drop: the card lands in its new column, the page stays.
        drag(&c, dragged, "premier_contact").await;
        wait_until(
            &c,
            &format!(
                "document.querySelector('#colonne-premier_contact #carte-{dragged}') !== null"
            ),
            "the dragged card in « Premier contact »",
        )
        .await;
        assert_eq!(stage_of(&app, dragged), "premier_contact");
        wait_until(
            &c,
            "document.querySelector('[aria-live]').textContent.includes('Premier contact')",
            "the move announced",
        )
        .await;
        screenshot(&c, "tableau-apres-glisser").await;

        // The card's form, to a stage that needs a reason: the page asks for it.
        c.find(Locator::Css(&format!("#carte-{refused} .card-move-link")))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        by_id(&c, &format!("vers-{refused}"))
            .await
            .select_by_label("Refusée")
            .await
            .unwrap();
        // The column's form, copied into the card by board.js.
        screenshot(&c, "tableau-carte-deplacer").await;
        c.find(Locator::Css(&format!("#carte-{refused} .card-move__form button")))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_until(
            &c,
            "location.pathname.endsWith('/deplacer')",
            "the page asking for the reason",
        )
        .await;
        // Sent without the reason: the message at the field.
        press_button(&c, "Passer à « Refusée »").await;
        wait_until(&c, "document.getElementById('motif-error') !== null", "the message").await;
        assert_eq!(status(&c).await, 422);
        audit(&c, "the move's reason, with its message", &mut report).await;
        c.set_window_size(390, 844).await.unwrap();
        let out = sideways(&c).await;
        assert!(out.is_empty(), "sideways scroll at 390 px: {out:?}");
        screenshot(&c, "tableau-motif-390").await;
        c.set_window_size(1366, 900).await.unwrap();
        select(&c, "Motif", "Spécialité non recherchée").await;
        // « Refusée » has an e-mail template: the box to review it is ticked; untick it to move
        // without writing (ticked, the candidate page's review comes next).
        assert!(by_id(&c, "envoyer_courriel").await.is_selected().await.unwrap());
        c.find(Locator::Css("label[for=envoyer_courriel]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        assert!(!by_id(&c, "envoyer_courriel").await.is_selected().await.unwrap());
        press_button(&c, "Passer à « Refusée »").await;
        wait_until(
            &c,
            &format!(
                "location.pathname === '/recrutement' && \
                 document.querySelector('#colonne-refusee #carte-{refused}') !== null"
            ),
            "the refused card in « Refusée »",
        )
        .await;
        assert_eq!(stage_of(&app, refused), "refusee");
        assert_eq!(
            app.text(&format!(
                "SELECT reason FROM stage_history WHERE application_id = {refused} AND to_stage = 'refusee'"
            ))
            .as_deref(),
            Some("specialite")
        );

        // Without JavaScript, a card's « Déplacer » link leads to a small page with its form.
        goto(&c, &app, &format!("/recrutement/tableau/{dragged}/deplacer")).await;
        select(&c, "Nouvelle étape", "Refusée").await;
        audit(&c, "a card's move page", &mut report).await;
        c.set_window_size(390, 844).await.unwrap();
        let out = sideways(&c).await;
        assert!(out.is_empty(), "sideways scroll at 390 px: {out:?}");
        screenshot(&c, "tableau-page-deplacer-390").await;
        c.set_window_size(1366, 900).await.unwrap();

        assert!(
            report.is_empty(),
            "axe-core found WCAG 2.1 A/AA violations:\n{report}"
        );
    })
    .await;
}
