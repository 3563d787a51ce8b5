//! Issue 19 in a real browser: a communications officer creates a letter campaign by its
//! labels, produces the letters and downloads the print PDF (fetched by the page's own link,
//! with the session, and checked to be a PDF); the new pages at 1366 and 390 px wide without
//! sideways scroll, checked by axe-core, with screenshots (`SCREENSHOTS_DIR`).

use diesel::connection::SimpleConnection;
use serde_json::json;
use vocation::db::enums::StaffRole;

use crate::browser::{
    audit, check, fill, goto, in_browser, main_text, press_button, screenshot, sideways,
    sign_in_with, status, wait_until,
};
use crate::helpers::{TestApp, STAFF_PASSWORD};

const EMAIL: &str = "camille.roux@cds32.test";

async fn look_at(c: &fantoccini::Client, name: &str, width: u32, report: &mut String) {
    screenshot(c, &format!("courriers-{name}-{width}")).await;
    let out = sideways(c).await;
    assert!(
        out.is_empty(),
        "{name}: sideways scroll at {width} px: {out:?}"
    );
    audit(c, &format!("{name} at {width} px"), report).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_communications_officer_makes_a_letter_campaign_and_downloads_the_print_pdf() {
    in_browser(|app: std::sync::Arc<TestApp>, c| async move {
        app.conn()
            .batch_execute(
                "INSERT INTO contact_lists (name) VALUES ('Médecins retraités du Gers');
                 INSERT INTO contacts (email, first_name, last_name, kind, legal_basis,
                     address_street, postcode, postal_town)
                 VALUES ('a@exemple.fr', 'Anne', 'Roux', 'medecin_retraite', 'interet_legitime',
                         '3 rue Gambetta', '32000', 'AUCH'),
                        ('b@exemple.fr', 'Bernard', 'Lafitte', 'medecin_retraite',
                         'interet_legitime', '12 chemin du Moulin', '32100', 'CONDOM');
                 INSERT INTO list_members (list_id, contact_id)
                     SELECT l.id, c.id FROM contact_lists l, contacts c;",
            )
            .unwrap();
        app.create_staff(EMAIL, StaffRole::Communication);
        goto(&c, &app, "/connexion").await;
        sign_in_with(&c, EMAIL, STAFF_PASSWORD).await;
        wait_until(&c, "location.pathname !== '/connexion'", "signed in").await;
        let mut report = String::new();

        for (width, height) in [(390, 844), (1366, 900)] {
            c.set_window_size(width, height).await.unwrap();
            goto(&c, &app, "/courriers/nouveau").await;
            assert_eq!(status(&c).await, 200);
            look_at(&c, "formulaire", width, &mut report).await;
        }
        // An empty name: the same page, the message at the field.
        fill(&c, "Nom de la campagne", "").await;
        press_button(&c, "Enregistrer la campagne").await;
        wait_until(
            &c,
            "document.querySelector('.error-summary') !== null",
            "the errors",
        )
        .await;
        look_at(&c, "formulaire-erreurs", 1366, &mut report).await;

        fill(&c, "Nom de la campagne", "Lettre aux retraités – hiver").await;
        check(
            &c,
            Some("Listes de destinataires"),
            "Médecins retraités du Gers (2 contacts actifs)",
        )
        .await;
        fill(
            &c,
            "Objet du courrier",
            "Exercer dans le Gers, {{prenom}} ?",
        )
        .await;
        press_button(&c, "Enregistrer la campagne").await;
        wait_until(
            &c,
            "/^\\/courriers\\/[0-9]+$/.test(location.pathname)",
            "the campaign's page",
        )
        .await;
        let page = c.current_url().await.unwrap().path().to_owned();
        let text = main_text(&c).await;
        assert!(text.contains("2 courriers"), "{text}");
        for (width, height) in [(390, 844), (1366, 900)] {
            c.set_window_size(width, height).await.unwrap();
            goto(&c, &app, &page).await;
            look_at(&c, "brouillon", width, &mut report).await;
        }

        press_button(&c, "Produire les courriers").await;
        wait_until(
            &c,
            "location.search.includes('fait=produite')",
            "the letters produced",
        )
        .await;
        for (width, height) in [(390, 844), (1366, 900)] {
            c.set_window_size(width, height).await.unwrap();
            goto(&c, &app, &page).await;
            look_at(&c, "produite", width, &mut report).await;
        }
        // The print PDF, by the page's own link and the browser's session.
        let fetched = c
            .execute_async(
                r#"const done = arguments[arguments.length - 1];
                   const link = Array.from(document.querySelectorAll('a'))
                       .find(a => a.textContent.startsWith('Télécharger tous les courriers'));
                   fetch(link.href).then(async r => {
                       const bytes = new Uint8Array(await r.arrayBuffer());
                       done([r.status, r.headers.get('content-type'),
                             String.fromCharCode(...bytes.slice(0, 5)), bytes.length]);
                   });"#,
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(fetched[0], json!(200));
        assert_eq!(fetched[1], json!("application/pdf"));
        assert_eq!(fetched[2], json!("%PDF-"));
        assert!(fetched[3].as_u64().unwrap() > 1000, "{fetched}");
        screenshot(&c, "courriers-fin").await;
        assert!(report.is_empty(), "axe-core found violations:\n{report}");
    })
    .await;
}
