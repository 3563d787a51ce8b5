//! Issue « trust », part 1: an anonymous submission (form or JSON API) never changes an existing
//! record, never sends anything about it to an address that is not on it, and never tells whether
//! it exists. Each test is the attack that was tried.

use serde_json::{json, Value};
use vocation::db::enums::StaffRole;

use crate::helpers::{hidden_value, Fields, TestApp, RECRUITERS};

const CLAIRE: &str = "claire.martin@exemple.fr";
const EVE: &str = "eve@pirate.test";

/// Everything about the record that an outsider must not be able to change.
fn identity(app: &TestApp, id: i64) -> String {
    app.text(&format!(
        "SELECT concat_ws('|', civility, first_name, last_name, email, email_normalized, phone, \
         phone_normalized, rpps, specialty_code, situation, available_from, working_time, \
         part_time_half_days, on_call, intern_training, pool_consent_at, anonymised_at, \
         (SELECT string_agg(centre_id::text, ',' ORDER BY centre_id) FROM candidate_centres \
          WHERE candidate_id = {id})) FROM candidates WHERE id = {id}"
    ))
    .unwrap()
}

/// The path of the private « Mes données » link in a message's text, if any.
fn private_path(text: &str) -> Option<String> {
    let start = text.find("http://vocation.test/mes-donnees/")?;
    Some(
        text[start + "http://vocation.test".len()..]
            .split_whitespace()
            .next()?
            .to_owned(),
    )
}

/// Eve's submission: her own name, e-mail and phone unless the attack says otherwise.
fn eve() -> Fields {
    Fields::valid()
        .set("civilite", "madame")
        .set("prenom", "Eve")
        .set("nom", "Pirate")
        .set("courriel", EVE)
        .set("telephone", "07 99 99 99 99")
        .set("specialite", "SM26")
        .set("message", "Je reprends ce dossier.")
        .without("vivier")
}

/// Claire applies; her record's id and its application's id.
async fn claire_applies(app: &TestApp) -> (i64, i64) {
    let r = app.apply(&Fields::valid()).await;
    assert_eq!(r.status(), 303);
    let id = app.count(&format!(
        "SELECT id FROM candidates WHERE email = '{CLAIRE}'"
    ));
    let application = app.count(&format!(
        "SELECT id FROM applications WHERE candidate_id = {id}"
    ));
    (id, application)
}

/// Every message sent to `address`, as text.
async fn mails_to(app: &TestApp, address: &str) -> Vec<(String, String)> {
    app.dispatch_all_pending_emails().await;
    app.smtp
        .received_by(address)
        .iter()
        .map(|m| (m.subject(), m.text()))
        .collect()
}

/// Checks, after an attack by Eve, that nothing of Claire's record changed or reached Eve, and
/// that the new record is shown to recruiters beside Claire's as a possible duplicate.
async fn nothing_of_claire_reached_eve(app: &TestApp, claire: i64, application: i64, before: &str) {
    assert_eq!(
        identity(app, claire),
        before,
        "Claire's record is unchanged"
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM applications WHERE candidate_id = {claire}"
        )),
        1,
        "nothing joined Claire's record"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM candidates"),
        2,
        "Eve's submission is kept"
    );
    let eve_id = app.count(&format!("SELECT id FROM candidates WHERE email = '{EVE}'"));
    assert_ne!(eve_id, claire);

    // Eve's mailbox: one confirmation, about her own submission, with her own link.
    let mails = mails_to(app, EVE).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    let (subject, text) = &mails[0];
    assert!(
        subject.starts_with("Votre candidature est bien reçue"),
        "{subject}"
    );
    for secret in [
        "Claire",
        "Martin",
        CLAIRE,
        "06 12 34 56 78",
        &format!("n° {application}"),
    ] {
        assert!(!text.contains(secret), "{secret:?} reached Eve:\n{text}");
    }
    let path = private_path(text).expect("a private link");
    assert!(
        path.starts_with(&format!("/mes-donnees/{eve_id}.")),
        "{path}"
    );
    // Her link opens her record only.
    let (status, html) = app.get_html(&path).await;
    assert_eq!(status, 200);
    assert!(html.contains("Pirate") && !html.contains("Martin") && !html.contains(CLAIRE));
    let export = app.get(&format!("{path}/export.json")).await;
    assert_eq!(export.status(), 200);
    let body = export.text().await.unwrap();
    assert!(
        body.contains("Pirate") && !body.contains("Martin") && !body.contains(CLAIRE),
        "{body}"
    );
    // No message anywhere carries Claire's private link, except to Claire.
    for mail in app.smtp.received() {
        if let Some(p) = private_path(&mail.text()) {
            if p.starts_with(&format!("/mes-donnees/{claire}.")) {
                assert_eq!(mail.to, vec![CLAIRE.to_owned()]);
            }
        }
    }

    // Recruiters see the two records side by side and decide.
    let staff = app.staff(StaffRole::Recruiter).await;
    let (status, page) = staff
        .get_html(&format!("/recrutement/candidats/{claire}"))
        .await;
    assert_eq!(status, 200);
    assert!(page.contains("Doublons possibles"), "{page}");
    assert!(page.contains(&format!("/recrutement/candidats/{eve_id}")));
    let notes = mails_to(app, RECRUITERS).await;
    assert!(
        notes.iter().any(|(s, t)| s.contains("doublon possible")
            && t.contains(&format!("/recrutement/candidats/{eve_id}"))),
        "{notes:?}"
    );
}

#[tokio::test]
async fn a_submission_with_a_known_rpps_and_another_email_changes_and_reveals_nothing() {
    let app = TestApp::spawn().await;
    let (claire, application) = claire_applies(&app).await;
    let before = identity(&app, claire);
    app.dispatch_all_pending_emails().await;

    // The RPPS number is public (national directory): Eve types Claire's.
    let r = app.apply(&eve().set("rpps", "10132437004")).await;
    assert_eq!(r.status(), 303);
    nothing_of_claire_reached_eve(&app, claire, application, &before).await;
    // The number stays with Claire's record; Eve's keeps it as typed, for the recruiter.
    assert_eq!(
        app.text(&format!(
            "SELECT submitted_rpps FROM candidates WHERE email = '{EVE}'"
        ))
        .as_deref(),
        Some("10132437004")
    );
    assert_eq!(
        app.count("SELECT count(*) FROM candidates WHERE rpps = '10132437004'"),
        1
    );
}

#[tokio::test]
async fn a_submission_with_a_known_phone_and_another_email_changes_and_reveals_nothing() {
    let app = TestApp::spawn().await;
    let (claire, application) = claire_applies(&app).await;
    let before = identity(&app, claire);
    app.dispatch_all_pending_emails().await;

    // Two people sharing a phone (or an attacker who knows it), no RPPS typed.
    let r = app
        .apply(&eve().set("rpps", "").set("telephone", "+33 6 12 34 56 78"))
        .await;
    assert_eq!(r.status(), 303);
    nothing_of_claire_reached_eve(&app, claire, application, &before).await;
}

#[tokio::test]
async fn a_known_rpps_through_the_json_api_changes_and_reveals_nothing() {
    let app = TestApp::spawn().await;
    let (claire, application) = claire_applies(&app).await;
    let before = identity(&app, claire);
    app.dispatch_all_pending_emails().await;

    let body = json!({
        "civilite": "madame", "prenom": "Eve", "nom": "Pirate", "courriel": EVE,
        "telephone": "07 99 99 99 99", "rpps": "10132437004", "specialite": "SM26",
        "situation": "remplacant", "temps_travail": "temps_plein", "consentement": true,
    });
    let r = app
        .client
        .post(app.url("/api/v1/candidatures"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let answer: Value = r.json().await.unwrap();
    assert_eq!(answer["statut"], "enregistree", "{answer}");
    nothing_of_claire_reached_eve(&app, claire, application, &before).await;
}

#[tokio::test]
async fn the_email_on_file_joins_the_record_without_changing_it_and_mail_goes_only_to_that_address()
{
    let app = TestApp::spawn().await;
    let (claire, application) = claire_applies(&app).await;
    let before = identity(&app, claire);
    app.dispatch_all_pending_emails().await;
    let claire_mails = app.smtp.received_by(CLAIRE).len();

    // Someone who knows Claire's address submits with it, and new details: no pool consent,
    // another phone, name and RPPS, and a position this time.
    let mut conn = app.conn();
    vocation::demo::load(&mut conn).unwrap();
    let position = app
        .text("SELECT min(id) FROM positions WHERE published")
        .unwrap();
    let r = app
        .apply(
            &eve()
                .set("courriel", "CLAIRE.Martin@exemple.fr")
                .set("rpps", "")
                .set("poste", &position),
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(identity(&app, claire), before, "the record is unchanged");
    assert_eq!(
        app.count("SELECT count(*) FROM candidates WHERE email_normalized = 'claire.martin@exemple.fr' OR phone = '07 99 99 99 99'"),
        1
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM applications WHERE candidate_id = {claire}"
        )),
        2,
        "the applications stay together on one record"
    );
    // The confirmation goes to the address on file, never to another one.
    app.dispatch_all_pending_emails().await;
    let to_claire = app.smtp.received_by(CLAIRE);
    assert_eq!(to_claire.len(), claire_mails + 1);
    let last = to_claire.last().unwrap().text();
    assert!(private_path(&last)
        .unwrap()
        .starts_with(&format!("/mes-donnees/{claire}.")));
    assert_eq!(
        to_claire.last().unwrap().to,
        vec![CLAIRE.to_owned()],
        "as on file"
    );
    assert!(
        !last.contains(&format!("n° {application}")),
        "a new application"
    );

    // A recruiter sees what the submission proposed, and applies it after review.
    let staff = app.staff(StaffRole::Recruiter).await;
    let (_, page) = staff
        .get_html(&format!("/recrutement/candidats/{claire}"))
        .await;
    assert!(
        page.contains("Informations envoyées qui diffèrent de la fiche"),
        "{page}"
    );
    assert!(page.contains("07 99 99 99 99") && page.contains("Pirate"));
    let key = app
        .text(&format!(
            "SELECT submission_key::text FROM submissions WHERE candidate_id = {claire} \
             ORDER BY created_at DESC LIMIT 1"
        ))
        .unwrap();
    assert!(page.contains(&format!("modifier?proposition={key}")));
    let (status, form) = staff
        .get_html(&format!(
            "/recrutement/candidats/{claire}/modifier?proposition={key}"
        ))
        .await;
    assert_eq!(status, 200);
    assert!(!hidden_value(&form, "csrf").is_empty());
    assert!(form.contains("value=\"07 99 99 99 99\"") && form.contains("value=\"Pirate\""));
    assert_eq!(
        identity(&app, claire),
        before,
        "showing the proposal changes nothing"
    );
    // Another candidate's submission key shows nothing.
    let (status, _) = staff
        .get_html(&format!(
            "/recrutement/candidats/{}/modifier?proposition={key}",
            claire + 1000
        ))
        .await;
    assert_eq!(status, 404);
    // Nor does a key that is not one.
    for junk in [
        "abc",
        "%27%20OR%201%3D1",
        "00000000-0000-0000-0000-000000000000",
    ] {
        let (status, _) = staff
            .get_html(&format!(
                "/recrutement/candidats/{claire}/modifier?proposition={junk}"
            ))
            .await;
        assert_eq!(status, 404, "{junk}");
    }
}

#[tokio::test]
async fn what_a_submission_typed_is_shown_escaped_wherever_it_is_shown() {
    let app = TestApp::spawn().await;
    let (claire, _) = claire_applies(&app).await;
    let hostile = "<script>alert(1)</script>";
    let r = app
        .apply(
            &Fields::valid()
                .set("prenom", hostile)
                .set("nom", "{{> texte}}"),
        )
        .await;
    assert_eq!(r.status(), 303);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let (_, page) = app.get_html(&location).await;
    assert!(
        !page.contains(hostile) && page.contains("&lt;script&gt;"),
        "{page}"
    );
    assert!(page.contains("{{&gt; texte}}") || page.contains("{{> texte}}"));
    let staff = app.staff(StaffRole::Recruiter).await;
    let (_, page) = staff
        .get_html(&format!("/recrutement/candidats/{claire}"))
        .await;
    assert!(page.contains("Informations envoyées qui diffèrent"));
    assert!(!page.contains(hostile) && page.contains("&lt;script&gt;"));
    let path = private_path(&mails_to(&app, CLAIRE).await.last().unwrap().1).unwrap();
    let (_, mine) = app.get_html(&path).await;
    assert!(
        !mine.contains(hostile) && mine.contains("&lt;script&gt;"),
        "{mine}"
    );
}

#[tokio::test]
async fn an_anonymous_submission_never_changes_the_pool_consent_on_file() {
    let app = TestApp::spawn().await;
    // Without consent on file, a submission with consent does not give it.
    let r = app.apply(&Fields::valid().without("vivier")).await;
    assert_eq!(r.status(), 303);
    let r = app
        .apply(&Fields::valid().set("vivier", "oui").set("message", "bis"))
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        app.count("SELECT count(*) FROM candidates WHERE pool_consent_at IS NOT NULL"),
        0
    );
}

/// The confirmation page and e-mail of one submission, with the volatile parts (application
/// number, private link) blanked.
async fn what_the_submitter_sees(app: &TestApp, fields: &Fields) -> (String, String, String) {
    let r = app.apply(fields).await;
    assert_eq!(r.status(), 303);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let (status, page) = app.get_html(&location).await;
    assert_eq!(status, 200);
    let mails = mails_to(app, EVE).await;
    let (subject, text) = mails.last().cloned().expect("a confirmation");
    let link = private_path(&text).unwrap();
    let number = regex_free_number(&text);
    let text = text
        .replace(&link, "LIEN")
        .replace(&format!("(n° {number})"), "(n° N)");
    (page, subject, text)
}

/// The application number in « candidature (n° 12) ».
fn regex_free_number(text: &str) -> String {
    let start = text.find("(n° ").expect("an application number") + "(n° ".len();
    text[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect()
}

#[tokio::test]
async fn the_confirmation_page_and_email_read_the_same_whether_the_person_was_known_or_not() {
    // The same submission, to a service that knows the phone and RPPS, and to one that does not.
    let submission = eve()
        .set("rpps", "10132437004")
        .set("telephone", "06 12 34 56 78");
    let unknown = TestApp::spawn().await;
    let fresh = what_the_submitter_sees(&unknown, &submission).await;

    let known = TestApp::spawn().await;
    claire_applies(&known).await;
    known.dispatch_all_pending_emails().await;
    let matched = what_the_submitter_sees(&known, &submission).await;

    assert_eq!(fresh.0, matched.0, "the confirmation page");
    assert_eq!(fresh.1, matched.1, "the e-mail's subject");
    assert_eq!(fresh.2, matched.2, "the e-mail's text");
    // The page names what was typed, and no application number.
    assert!(fresh.0.contains("Eve Pirate") && fresh.0.contains(EVE));
    assert!(!fresh.0.contains("n°"));

    // Known by e-mail: the page reads the same too (the e-mail goes to the address on file).
    let by_email = TestApp::spawn().await;
    let r = by_email.apply(&eve().set("prenom", "Eva")).await;
    assert_eq!(r.status(), 303);
    let r = by_email.apply(&eve().set("message", "encore")).await;
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let (_, page) = by_email.get_html(&location).await;
    assert_eq!(page, fresh.0);
}
