//! Issue 18 in a real browser: a campaign sent with its confirmation (the real sender and a real
//! SMTP server) and its page turning « Terminée » by itself, without a reload; the campaigns
//! and contacts pages at 1366 and 390 px wide without sideways scroll, checked by axe-core, with
//! screenshots (`SCREENSHOTS_DIR`).

use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use serde_json::json;
use vocation::campaigns::runs::{self, CampaignInput, Schedule};
use vocation::db::enums::StaffRole;

use crate::browser::{
    audit, check, fill, goto, heading_badge, in_browser, labelled, main_text, press_button,
    screenshot, select, sideways, sign_in_with, status, wait_until,
};
use crate::campaigns::{seed_list_on, sender_settings, start_sender};
use crate::helpers::{TempDir, TestApp, STAFF_PASSWORD};
use crate::smtp_server::SmtpServer;

const EMAIL: &str = "lea.garcia@cds32.test";

/// A template whose subject starts with the first name, and a draft sending it now, at
/// `rate` a minute, to `n` retired doctors (one without a first name); the campaign's id.
fn draft(app: &TestApp, n: usize, rate: i32) -> i64 {
    let mut conn = app.conn();
    let list = seed_list_on(&mut conn, "Médecins retraités", "retraite", n);
    conn.batch_execute(
        "UPDATE contacts SET first_name = '' WHERE email = 'retraite-1@example.org';
         INSERT INTO mail_templates (name, subject, body_text, body_html) VALUES
           ('Retraités', '{{prenom}}, le Gers recrute',
            'Bonjour Docteur {{nom}},\n\nCandidatez : {{lien_candidature}}', '');",
    )
    .unwrap();
    let template: i64 = app
        .text("SELECT id FROM mail_templates")
        .unwrap()
        .parse()
        .unwrap();
    runs::create(
        &mut conn,
        &CampaignInput {
            name: "Retraités – hiver".into(),
            template_id: template,
            list_ids: vec![list],
            sender_name: "Recrutement CDS32".into(),
            sender_email: "recrutement@gers.test".into(),
            rate_per_minute: rate,
            schedule: Schedule::Now,
        },
        None,
    )
    .unwrap()
}

async fn signed_in(app: &TestApp, c: &fantoccini::Client) {
    app.create_staff(EMAIL, StaffRole::Communication);
    goto(c, app, "/connexion").await;
    sign_in_with(c, EMAIL, STAFF_PASSWORD).await;
    wait_until(c, "location.pathname !== '/connexion'", "signed in").await;
}

/// Scrolls to `css` and saves the window as `name` (the part a reviewer wants to see).
async fn shoot_at(c: &fantoccini::Client, css: &str, name: &str) {
    c.execute(
        "const e = document.querySelector(arguments[0]); if (e) e.scrollIntoView();",
        vec![json!(css)],
    )
    .await
    .unwrap();
    screenshot(c, &format!("campagnes-{name}")).await;
}

/// The page shown fits `width` (no sideways scroll), passes axe-core, and is saved as `name`.
async fn look_at(c: &fantoccini::Client, name: &str, width: u32, report: &mut String) {
    screenshot(c, &format!("campagnes-{name}-{width}")).await;
    let out = sideways(c).await;
    if !out.is_empty() {
        // What sticks out of the page itself (not inside a table's own scrolling region).
        let culprits = c
            .execute(
                r#"return Array.from(document.querySelectorAll('body *'))
                    .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1
                        && !e.closest('.table-scroll'))
                    .slice(0, 12)
                    .map(e => e.tagName.toLowerCase() + '.' + e.className + '#' + e.id
                        + ' ' + Math.round(e.getBoundingClientRect().right));"#,
                vec![],
            )
            .await
            .unwrap();
        panic!("{name}: sideways scroll at {width} px: {out:?}; outside tables: {culprits}");
    }
    audit(c, &format!("{name} at {width} px"), report).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_campaign_sent_with_its_confirmation_turns_finished_by_itself() {
    in_browser(|app, c| async move {
        let smtp = SmtpServer::start();
        let _sender = start_sender(sender_settings(&app, &smtp));
        // 24 messages at 120 a minute: about 12 seconds of sending, seen by the page.
        let id = draft(&app, 24, 120);
        let page = format!("/campagnes/{id}");
        let mut report = String::new();
        signed_in(&app, &c).await;

        for (width, height) in [(390, 844), (1366, 900)] {
            c.set_window_size(width, height).await.unwrap();
            goto(&c, &app, &page).await;
            assert_eq!(status(&c).await, 200);
            assert_eq!(heading_badge(&c).await, "Brouillon");
            let text = main_text(&c).await;
            assert!(
                text.contains(
                    "1 contact n'a pas de prénom : l'objet commencera par « , le Gers recrute »"
                ),
                "{text}"
            );
            look_at(&c, "brouillon", width, &mut report).await;
            shoot_at(&c, ".campaign-actions", &format!("envoi-garde-{width}")).await;
        }

        // The button says what it does; the browser asks for the box before sending.
        press_button(&c, "Envoyer maintenant à 24 destinataires").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(c.current_url().await.unwrap().path(), page);
        let unchecked = c
            .execute(
                "return document.getElementById('confirmer-envoi').validity.valueMissing;",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(unchecked, json!(true));
        assert_eq!(
            app.count(&format!(
                "SELECT count(*) FROM campaign_runs WHERE campaign_id = {id}"
            )),
            0,
            "nothing sent without the confirmation"
        );
        check(&c, None, "Je confirme l'envoi immédiat à 24 destinataires").await;
        press_button(&c, "Envoyer maintenant à 24 destinataires").await;
        wait_until(
            &c,
            "new URLSearchParams(location.search).get('fait') === 'programmee'",
            "the campaign's page once sent",
        )
        .await;
        assert_eq!(status(&c).await, 200);
        let badge = heading_badge(&c).await;
        assert!(
            badge == "En cours" || badge == "Programmée",
            "the page loads while the run goes: {badge}"
        );
        // A mark that a reload would wipe.
        c.execute("window.notReloaded = true;", vec![])
            .await
            .unwrap();
        look_at(&c, "en-cours", 1366, &mut report).await;
        shoot_at(&c, "#progression", "en-cours-progression-1366").await;

        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let state = c
                .execute(
                    "return [window.notReloaded === true, \
                     document.querySelector('h1 .stage-badge').textContent.trim()];",
                    vec![],
                )
                .await
                .unwrap();
            assert_eq!(state[0], json!(true), "the page was not reloaded");
            if state[1] == json!("Terminée") {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the page did not turn « Terminée » by itself: {state}; sent {}",
                smtp.count()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        // Status, buttons and outcome changed together, and the change was announced.
        let text = main_text(&c).await;
        assert!(text.contains("Messages envoyés\n24"), "{text}");
        assert!(!text.contains("Mettre en pause"), "{text}");
        assert!(
            text.contains("La campagne est terminée : plus aucune action n'est possible."),
            "{text}"
        );
        assert!(!text.contains("(s)"), "{text}");
        wait_until(
            &c,
            "document.getElementById('campagne-annonce').textContent \
             === 'La campagne est terminée.'",
            "the end announced in the status region",
        )
        .await;
        assert_eq!(smtp.count(), 24);
        for (width, height) in [(1366, 900), (390, 844)] {
            c.set_window_size(width, height).await.unwrap();
            look_at(&c, "terminee", width, &mut report).await;
            shoot_at(&c, "#actions-titre", &format!("terminee-bilan-{width}")).await;
        }
        assert!(report.is_empty(), "axe-core found violations:\n{report}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_campaigns_and_contacts_pages_fit_a_phone_and_an_excel_file_imports_into_a_new_list() {
    in_browser(|app, c| async move {
        let id = draft(&app, 5, 600);
        app.conn()
            .batch_execute(
                "UPDATE contacts SET organisation_id = NULL, tags = ARRAY['une-étiquette-très-longue-sans-espace-aucune'], \
                 city = 'Saint-Martin-d''Armagnac' WHERE email = 'retraite-2@example.org';",
            )
            .unwrap();
        let template = app.text("SELECT id FROM mail_templates").unwrap();
        let list = app.text("SELECT id FROM contact_lists").unwrap();
        let mut report = String::new();
        signed_in(&app, &c).await;

        // An Excel file (Windows-1252, `;`) into a new list named on the import page.
        c.set_window_size(390, 844).await.unwrap();
        goto(&c, &app, "/contacts/import").await;
        let (bytes, _, _) = encoding_rs::WINDOWS_1252.encode(
            "email;prénom;nom;ville\r\nhelene@exemple.fr;Hélène;Dupré;Lectoure\r\n\
             pas-une-adresse;Gérard;Faux;Auch\r\n",
        );
        let scratch = TempDir::new();
        let file = scratch.0.join("contacts-excel.csv");
        std::fs::write(&file, &bytes).unwrap();
        labelled(&c, "Fichier CSV")
            .await
            .send_keys(file.to_str().unwrap())
            .await
            .expect("choose the file");
        fill(&c, "Ou ajouter à une nouvelle liste, de ce nom", "Internes 2027").await;
        select(&c, "Type de contact", "Médecin").await;
        look_at(&c, "import", 390, &mut report).await;
        press_button(&c, "Voir l'aperçu de l'import").await;
        wait_until(
            &c,
            "document.getElementById('format-fichier') !== null",
            "the import preview",
        )
        .await;
        let text = main_text(&c).await;
        assert!(
            text.contains("Encodage : Windows-1252 (Excel) · Séparateur : point-virgule"),
            "{text}"
        );
        assert!(text.contains("Hélène Dupré"), "{text}");
        assert!(text.contains("À ajouter"), "{text}");
        assert!(text.contains("« Internes 2027 »"), "{text}");
        look_at(&c, "import-apercu", 390, &mut report).await;
        shoot_at(&c, ".details", "import-apercu-format-390").await;
        shoot_at(&c, "#lignes-refusees", "import-apercu-lignes-390").await;

        let pages = [
            "/contacts".to_owned(),
            "/listes".to_owned(),
            format!("/listes/{list}"),
            "/contacts/import".to_owned(),
            "/contacts/desinscriptions".to_owned(),
            "/contacts/organisations".to_owned(),
            "/campagnes".to_owned(),
            "/campagnes/nouvelle".to_owned(),
            format!("/campagnes/{id}"),
            format!("/campagnes/{id}/annuler"),
            "/campagnes/modeles".to_owned(),
            format!("/campagnes/modeles/{template}"),
            format!("/campagnes/modeles/{template}/apercu"),
        ];
        for (width, height) in [(1366, 900), (390, 844)] {
            c.set_window_size(width, height).await.unwrap();
            for path in &pages {
                goto(&c, &app, path).await;
                assert_eq!(status(&c).await, 200, "{path}");
                let name = path.trim_start_matches('/').replace('/', "-");
                look_at(&c, &name, width, &mut report).await;
            }
        }
        assert!(report.is_empty(), "axe-core found violations:\n{report}");
    })
    .await;
}
