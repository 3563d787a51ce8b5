//! Issue 20 in a real browser: a recruiter reads a doctor's answer on her page, answers it by
//! the form's labels (refused empty, at the field, with the subject kept; then sent), and
//! attaches a stranger's mail from « Courriels non reconnus » (a wrong record refused at its
//! field, then the right one); each page at 390 and 1366 px without sideways scroll, checked
//! by axe-core, with screenshots.

use fantoccini::Locator;
use vocation::db::enums::StaffRole;

use crate::browser::{
    audit, fill, goto, in_browser, labelled, main_text, press_button, screenshot, sideways,
    sign_in_with, status, wait_until,
};
use crate::helpers::{TempDir, TestApp, STAFF_PASSWORD};

const EMAIL: &str = "lea.garnier@cds32.test";

async fn look_at(c: &fantoccini::Client, name: &str, width: u32, report: &mut String) {
    screenshot(c, &format!("echanges-{name}-{width}")).await;
    let out = sideways(c).await;
    assert!(
        out.is_empty(),
        "{name}: sideways scroll at {width} px: {out:?}"
    );
    audit(c, &format!("{name} at {width} px"), report).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_recruiter_reads_an_answer_writes_back_and_attaches_a_strangers_mail() {
    in_browser(|app: std::sync::Arc<TestApp>, c| async move {
        vocation::demo::load(&mut app.conn()).unwrap();
        app.create_staff(EMAIL, StaffRole::Recruiter);
        let candidate = app
            .text("SELECT min(candidate_id) FROM candidate_messages WHERE read_at IS NULL")
            .expect("a demo candidate with an unread answer");
        goto(&c, &app, "/connexion").await;
        sign_in_with(&c, EMAIL, STAFF_PASSWORD).await;
        wait_until(&c, "location.pathname !== '/connexion'", "signed in").await;
        let mut report = String::new();

        // The home's « À faire » says an answer waits, and the stranger's mail.
        goto(&c, &app, "/espace").await;
        let home = main_text(&c).await;
        assert!(home.contains("Réponses de candidats"), "{home}");
        assert!(home.contains("Courriels non reconnus"), "{home}");

        for (width, height) in [(390, 844), (1366, 900)] {
            c.set_window_size(width, height).await.unwrap();
            goto(
                &c,
                &app,
                &format!("/recrutement/candidats/{candidate}#echanges"),
            )
            .await;
            assert_eq!(status(&c).await, 200);
            let text = main_text(&c).await;
            assert!(text.contains("pourrions-nous visiter le centre"), "{text}");
            assert!(text.contains("Accepté par le médecin"), "{text}");
            look_at(&c, "fiche", width, &mut report).await;
        }

        // Writing back: the form opens from its summary; an empty message is refused.
        c.find(Locator::XPath(
            "//summary[normalize-space(.)='Écrire au candidat']",
        ))
        .await
        .expect("the answer form's summary")
        .click()
        .await
        .unwrap();
        let subject = labelled(&c, "Objet")
            .await
            .prop("value")
            .await
            .unwrap()
            .unwrap_or_default();
        assert_eq!(subject, "Re: Votre candidature");
        fill(&c, "Message", "").await;
        press_button(&c, "Envoyer").await;
        wait_until(
            &c,
            "document.querySelector('#reponse-message-erreur') !== null",
            "the message at the field",
        )
        .await;
        assert_eq!(status(&c).await, 422);
        assert_eq!(
            labelled(&c, "Objet")
                .await
                .prop("value")
                .await
                .unwrap()
                .as_deref(),
            Some("Re: Votre candidature"),
            "the subject kept"
        );
        look_at(&c, "fiche-erreur", 1366, &mut report).await;
        fill(&c, "Message", "Bonjour,\nMardi 10 h nous convient.").await;
        press_button(&c, "Envoyer").await;
        wait_until(
            &c,
            "document.querySelector('.flash') !== null",
            "the confirmation",
        )
        .await;
        let text = main_text(&c).await;
        assert!(text.contains("Réponse enregistrée"), "{text}");
        assert!(text.contains("Mardi 10 h nous convient."), "{text}");
        assert_eq!(
            app.count("SELECT count(*) FROM outbound_emails WHERE kind = 'recruiter_reply'"),
            1
        );

        // « Courriels non reconnus »: a wrong record is refused at its field, then attached.
        for (width, height) in [(390, 844), (1366, 900)] {
            c.set_window_size(width, height).await.unwrap();
            goto(&c, &app, "/recrutement/courriels-non-reconnus").await;
            assert_eq!(status(&c).await, 200);
            assert!(main_text(&c).await.contains("Un poste à temps partiel ?"));
            look_at(&c, "non-reconnus", width, &mut report).await;
        }
        let label = "Rattacher à la fiche (numéro ou adresse électronique)";
        fill(&c, label, "quelqu'un").await;
        press_button(&c, "Rattacher").await;
        wait_until(
            &c,
            "document.querySelector('.error-summary') !== null",
            "the message at the field",
        )
        .await;
        assert_eq!(status(&c).await, 422);
        assert_eq!(
            labelled(&c, label)
                .await
                .prop("value")
                .await
                .unwrap()
                .as_deref(),
            Some("quelqu'un")
        );
        look_at(&c, "non-reconnus-erreur", 1366, &mut report).await;
        fill(&c, label, &candidate).await;
        press_button(&c, "Rattacher").await;
        wait_until(
            &c,
            "document.querySelector('.flash') !== null",
            "the confirmation",
        )
        .await;
        assert!(main_text(&c).await.contains("Courriel rattaché"));
        goto(
            &c,
            &app,
            &format!("/recrutement/candidats/{candidate}?voir=courriels"),
        )
        .await;
        assert!(main_text(&c).await.contains("proposez-vous des postes"));

        // Her own page « Mes données » shows the mail exchanged (right of access).
        let settings = TestApp::builder().settings(&app.db, &app.smtp, &TempDir::new());
        let link =
            vocation::privacy::link_url(&settings, candidate.parse().unwrap(), chrono::Utc::now())
                .trim_start_matches("http://vocation.test")
                .to_owned();
        for (width, height) in [(390, 844), (1366, 900)] {
            c.set_window_size(width, height).await.unwrap();
            goto(&c, &app, &link).await;
            assert_eq!(status(&c).await, 200);
            let text = main_text(&c).await;
            assert!(text.contains("Courriels échangés"), "{text}");
            assert!(text.contains("Mardi 10 h nous convient."), "{text}");
            look_at(&c, "mes-donnees", width, &mut report).await;
        }

        assert!(report.is_empty(), "axe-core:\n{report}");
    })
    .await;
}
