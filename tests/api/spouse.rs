//! Issue 19, the spouse's job (#Dites32 à 2): the optional question of the form (yes with a field
//! of work, no, not answered), careless and hostile answers shown again safely with a French
//! message, the JSON API and its document, the recruiter's candidate page and board card,
//! « Mes données » and its export, erasure, and the count in /rapports.

use serde_json::{json, Value};
use vocation::db::enums::StaffRole;

use crate::helpers::{field_error, hidden_value, Fields, TestApp};

/// A doctor of their own (e-mail, phone, no RPPS), so that several apply in one test.
fn doctor(n: u32) -> Fields {
    Fields::valid()
        .set("prenom", "Paul")
        .set("nom", &format!("Durand{}", "e".repeat(n as usize)))
        .set("courriel", &format!("paul.durand{n}@exemple.fr"))
        .set("telephone", &format!("06 22 33 44 {:02}", 10 + n))
        .without("rpps")
}

/// Applies and returns the new application's id.
async fn apply(app: &TestApp, fields: &Fields) -> i64 {
    let r = app.apply(fields).await;
    assert_eq!(r.status().as_u16(), 303, "{}", r.text().await.unwrap());
    app.count("SELECT max(id) FROM applications")
}

fn spouse_columns(app: &TestApp, application_id: i64) -> String {
    app.text(&format!(
        "SELECT concat_ws('|', coalesce(spouse_support::text, '-'), coalesce(spouse_field, '-')) \
         FROM applications WHERE id = {application_id}"
    ))
    .unwrap()
}

/// The value of the text input `id` in a page.
fn input_value(html: &str, id: &str) -> Option<String> {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse(&format!("input#{id}")).unwrap();
    doc.select(&sel)
        .next()
        .and_then(|e| e.value().attr("value").map(str::to_owned))
}

/// Whether the radio button `id` is checked in a page.
fn checked(html: &str, id: &str) -> bool {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse(&format!("input#{id}")).unwrap();
    doc.select(&sel)
        .next()
        .is_some_and(|e| e.value().attr("checked").is_some())
}

#[tokio::test]
async fn the_form_asks_the_question_in_a_fieldset_with_labels_and_no_answer_chosen() {
    let app = TestApp::spawn().await;
    let (status, html) = app.get_html("/candidature").await;
    assert_eq!(status, 200);
    let doc = scraper::Html::parse_document(&html);
    let legend = scraper::Selector::parse("fieldset.spouse > legend").unwrap();
    let legend: String = doc
        .select(&legend)
        .next()
        .expect("a legend")
        .text()
        .collect();
    assert!(legend.contains("Emploi de votre conjoint"), "{legend}");
    for (id, label) in [
        ("conjoint", "Oui"),
        ("conjoint-non", "Non"),
        ("conjoint_domaine", "dans quel domaine"),
    ] {
        let sel = scraper::Selector::parse(&format!("label[for=\"{id}\"]")).unwrap();
        let text: String = doc.select(&sel).next().expect(id).text().collect();
        assert!(text.contains(label), "{id}: {text}");
    }
    assert!(!checked(&html, "conjoint") && !checked(&html, "conjoint-non"));
    // The field of work is in the page (it works without JavaScript), limited in length.
    let sel = scraper::Selector::parse("input#conjoint_domaine[maxlength=\"200\"]").unwrap();
    assert!(doc.select(&sel).next().is_some());
}

#[tokio::test]
async fn yes_with_a_field_no_and_no_answer_are_each_recorded_as_given() {
    let app = TestApp::spawn().await;
    let yes = apply(
        &app,
        &doctor(1).set("conjoint", "oui").set(
            "conjoint_domaine",
            "  Enseignement   (professeure des écoles) ",
        ),
    )
    .await;
    assert_eq!(
        spouse_columns(&app, yes),
        "true|Enseignement (professeure des écoles)"
    );
    let yes_bare = apply(&app, &doctor(2).set("conjoint", "oui")).await;
    assert_eq!(spouse_columns(&app, yes_bare), "true|-");
    // A field typed with « Non » (or without an answer) is not kept: nothing was asked for.
    let no = apply(
        &app,
        &doctor(3)
            .set("conjoint", "non")
            .set("conjoint_domaine", "agriculture"),
    )
    .await;
    assert_eq!(spouse_columns(&app, no), "false|-");
    let unanswered = apply(&app, &doctor(4).set("conjoint_domaine", "agriculture")).await;
    assert_eq!(spouse_columns(&app, unanswered), "-|-");

    // The recruiters' notification says it.
    app.dispatch_all_pending_emails().await;
    let notes: Vec<String> = app
        .smtp
        .received_by(crate::helpers::RECRUITERS)
        .iter()
        .map(|m| m.text())
        .collect();
    assert!(notes.iter().any(|t| t.contains(
        "Accompagnement pour l'emploi du conjoint : Oui : Enseignement (professeure des écoles)"
    )));
    assert!(notes
        .iter()
        .any(|t| t.contains("Accompagnement pour l'emploi du conjoint : Sans réponse")));
}

#[tokio::test]
async fn careless_and_hostile_answers_are_shown_again_safely_with_a_french_message() {
    let app = TestApp::spawn().await;

    // Too long: 422, the message at the field, everything typed kept, nothing recorded.
    let long = "é".repeat(201);
    let r = app
        .apply(
            &doctor(1)
                .set("conjoint", "oui")
                .set("conjoint_domaine", &long),
        )
        .await;
    assert_eq!(r.status().as_u16(), 422);
    let html = r.text().await.unwrap();
    let message = field_error(&html, "conjoint_domaine").expect("a message at the field");
    assert!(message.contains("201 caractères"), "{message}");
    assert!(message.contains("200 caractères au plus"), "{message}");
    assert_eq!(
        input_value(&html, "conjoint_domaine").as_deref(),
        Some(long.as_str())
    );
    assert!(checked(&html, "conjoint"), "« Oui » stays chosen");
    assert_eq!(input_value(&html, "prenom").as_deref(), Some("Paul"));
    assert!(
        html.contains("href=\"#conjoint_domaine\""),
        "in the error summary"
    );
    assert_eq!(app.count("SELECT count(*) FROM applications"), 0);

    // A line break or an escape character: refused at the field, never echoed raw.
    for bad in ["enseignement\nlycée", "ens\u{1b}[31meignement"] {
        let r = app
            .apply(
                &doctor(2)
                    .set("conjoint", "oui")
                    .set("conjoint_domaine", bad),
            )
            .await;
        assert_eq!(r.status().as_u16(), 422, "{bad:?}");
        let html = r.text().await.unwrap();
        let message = field_error(&html, "conjoint_domaine").expect("a message");
        if bad.contains('\n') {
            assert!(message.contains("une seule ligne"), "{message}");
        } else {
            assert!(message.contains("caractère de contrôle"), "{message}");
        }
        assert!(!html.contains('\u{1b}'));
    }
    // NUL: the form's rule for every field (value dropped, message at the field).
    let r = app
        .apply(
            &doctor(2)
                .set("conjoint", "oui")
                .set("conjoint_domaine", "a\u{0}b"),
        )
        .await;
    assert_eq!(r.status().as_u16(), 422);
    let html = r.text().await.unwrap();
    assert!(field_error(&html, "conjoint_domaine").is_some());
    assert!(!html.contains('\u{0}'));

    // An answer that is neither « oui » nor « non ».
    let r = app.apply(&doctor(3).set("conjoint", "peut-être")).await;
    assert_eq!(r.status().as_u16(), 422);
    let html = r.text().await.unwrap();
    assert!(field_error(&html, "conjoint")
        .unwrap()
        .contains("« Oui » ou « Non »"));
    assert_eq!(app.count("SELECT count(*) FROM applications"), 0);

    // HTML and template syntax: shown escaped on the form re-rendered for another error, then
    // stored as typed and shown escaped to recruiters.
    let hostile = "<script>alert(1)</script> {{org}} '; DROP TABLE applications; --";
    let r = app
        .apply(
            &doctor(4)
                .set("conjoint", "oui")
                .set("conjoint_domaine", hostile)
                .set("telephone", "12"),
        )
        .await;
    assert_eq!(r.status().as_u16(), 422);
    let html = r.text().await.unwrap();
    assert!(!html.contains("<script>alert(1)"));
    assert_eq!(
        input_value(&html, "conjoint_domaine").as_deref(),
        Some(hostile)
    );
    let id = apply(
        &app,
        &doctor(4)
            .set("conjoint", "oui")
            .set("conjoint_domaine", hostile),
    )
    .await;
    assert_eq!(spouse_columns(&app, id), format!("true|{hostile}"));
    let candidate = app.count(&format!(
        "SELECT candidate_id FROM applications WHERE id = {id}"
    ));
    let staff = app.staff(StaffRole::Recruiter).await;
    let (status, page) = staff
        .get_html(&format!("/recrutement/candidats/{candidate}"))
        .await;
    assert_eq!(status, 200);
    assert!(!page.contains("<script>alert(1)"));
    assert!(page.contains("&lt;script&gt;alert(1)"));
    assert!(
        page.contains("{{org}} &#x27;; DROP TABLE applications"),
        "template syntax shown as typed"
    );
}

#[tokio::test]
async fn recruiters_see_the_answer_on_the_candidate_page_and_a_mark_on_the_board_card() {
    let app = TestApp::spawn().await;
    let yes = apply(
        &app,
        &doctor(1)
            .set("conjoint", "oui")
            .set("conjoint_domaine", "soins infirmiers"),
    )
    .await;
    let no = apply(&app, &doctor(2).set("conjoint", "non")).await;
    let staff = app.staff(StaffRole::Recruiter).await;
    let page = |id: i64| {
        let candidate = app.count(&format!(
            "SELECT candidate_id FROM applications WHERE id = {id}"
        ));
        format!("/recrutement/candidats/{candidate}")
    };
    let (status, html) = staff.get_html(&page(yes)).await;
    assert_eq!(status, 200);
    let doc = scraper::Html::parse_document(&html);
    let summary = scraper::Selector::parse(".candidate-summary").unwrap();
    let summary: String = doc.select(&summary).next().unwrap().text().collect();
    assert!(summary.contains("Emploi du conjoint"), "{summary}");
    assert!(
        summary.contains("Accompagnement souhaité : soins infirmiers"),
        "{summary}"
    );
    assert!(html.contains("Accompagnement pour l'emploi du conjoint : Oui : soins infirmiers"));

    let (_, html) = staff.get_html(&page(no)).await;
    assert!(html.contains("Accompagnement pour l'emploi du conjoint : Non"));
    let doc = scraper::Html::parse_document(&html);
    let summary = scraper::Selector::parse(".candidate-summary").unwrap();
    let summary: String = doc.select(&summary).next().unwrap().text().collect();
    assert!(
        !summary.contains("Emploi du conjoint"),
        "only a « oui » is in the summary"
    );

    let (status, board) = staff.get_html("/recrutement").await;
    assert_eq!(status, 200);
    let doc = scraper::Html::parse_document(&board);
    let mark = |id: i64| {
        let sel = scraper::Selector::parse(&format!("#carte-{id} .spouse-mark")).unwrap();
        doc.select(&sel).next().is_some()
    };
    assert!(mark(yes), "the card of a « oui » carries the mark");
    assert!(!mark(no));
}

async fn post_api(app: &TestApp, body: &Value) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/candidatures"))
        .json(body)
        .send()
        .await
        .unwrap()
}

fn api_application(n: u32) -> Value {
    json!({
        "civilite": "madame",
        "prenom": "Claire",
        "nom": "Martin",
        "courriel": format!("claire{n}@exemple.fr"),
        "telephone": format!("06 12 34 56 {:02}", 10 + n),
        "specialite": "SM54",
        "situation": "remplacant",
        "temps_travail": "temps_plein",
        "consentement": true
    })
}

async fn problem_fields(r: reqwest::Response) -> Vec<(String, String)> {
    assert_eq!(r.status().as_u16(), 422);
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "application/problem+json"
    );
    let p: Value = r.json().await.unwrap();
    p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap().to_owned(),
                e["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_api_carries_and_validates_the_answer_as_its_document_says() {
    let app = TestApp::spawn().await;
    let doc: Value = app.get("/api/openapi.json").await.json().await.unwrap();
    let schema = &doc["components"]["schemas"]["CandidatureEntree"];
    assert_eq!(
        schema["properties"]["conjoint"]["type"],
        json!(["boolean", "null"])
    );
    assert_eq!(schema["properties"]["conjoint_domaine"]["maxLength"], 200);
    assert!(schema["properties"]["conjoint_domaine"]["pattern"].is_string());
    assert!(!schema["required"]
        .as_array()
        .unwrap()
        .contains(&json!("conjoint")));
    assert_eq!(schema["example"]["conjoint"], true);

    let mut body = api_application(1);
    body["conjoint"] = json!(true);
    body["conjoint_domaine"] = json!("agriculture");
    let r = post_api(&app, &body).await;
    assert_eq!(r.status().as_u16(), 201, "{}", r.text().await.unwrap());
    let id = app.count("SELECT max(id) FROM applications");
    assert_eq!(spouse_columns(&app, id), "true|agriculture");

    let mut body = api_application(2);
    body["conjoint"] = json!(false);
    assert_eq!(post_api(&app, &body).await.status().as_u16(), 201);
    let id = app.count("SELECT max(id) FROM applications");
    assert_eq!(spouse_columns(&app, id), "false|-");

    let r = post_api(&app, &api_application(3)).await;
    assert_eq!(r.status().as_u16(), 201);
    let id = app.count("SELECT max(id) FROM applications");
    assert_eq!(spouse_columns(&app, id), "-|-");

    let before = app.count("SELECT count(*) FROM applications");
    // Too long, a line break, a field without « true », a wrong type: problem+json in French.
    let mut body = api_application(4);
    body["conjoint"] = json!(true);
    body["conjoint_domaine"] = json!("x".repeat(201));
    let errors = problem_fields(post_api(&app, &body).await).await;
    assert_eq!(errors[0].0, "conjoint_domaine");
    assert!(errors[0].1.contains("201 caractères"), "{errors:?}");
    body["conjoint_domaine"] = json!("a\u{0}b\nc");
    let errors = problem_fields(post_api(&app, &body).await).await;
    assert_eq!(errors[0].0, "conjoint_domaine");
    let mut body = api_application(5);
    body["conjoint"] = json!(false);
    body["conjoint_domaine"] = json!("agriculture");
    let errors = problem_fields(post_api(&app, &body).await).await;
    assert_eq!(errors[0].0, "conjoint_domaine");
    assert!(errors[0].1.contains("« conjoint » : true"), "{errors:?}");
    let mut body = api_application(6);
    body["conjoint"] = json!("oui");
    let r = post_api(&app, &body).await;
    assert_eq!(r.status().as_u16(), 400);
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["errors"][0]["field"], "conjoint", "{p}");
    assert_eq!(app.count("SELECT count(*) FROM applications"), before);
}

#[tokio::test]
async fn mes_donnees_shows_and_exports_the_answer_and_erasure_removes_the_field() {
    let app = TestApp::spawn().await;
    let id = apply(
        &app,
        &doctor(1)
            .set("conjoint", "oui")
            .set("conjoint_domaine", "commerce"),
    )
    .await;
    let candidate = app.count(&format!(
        "SELECT candidate_id FROM applications WHERE id = {id}"
    ));
    app.dispatch_all_pending_emails().await;
    let mail = app
        .smtp
        .received_by("paul.durand1@exemple.fr")
        .into_iter()
        .find(|m| m.subject().contains("candidature"))
        .expect("confirmation");
    let text = mail.text();
    let start = text.find("http://vocation.test/mes-donnees/").unwrap();
    let path = text[start + "http://vocation.test".len()..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();

    let (status, html) = app.get_html(&path).await;
    assert_eq!(status, 200);
    assert!(html.contains("Accompagnement pour l'emploi de votre conjoint ou conjointe"));
    assert!(html.contains("Oui : commerce"));
    let export: Value = app
        .get(&format!("{path}/export.json"))
        .await
        .json()
        .await
        .unwrap();
    let held = &export["data"]["applications"][0];
    assert_eq!(held["spouse_support"], true);
    assert_eq!(held["spouse_field"], "commerce");

    let (_, html) = app.get_html(&format!("{path}/effacement")).await;
    let csrf = hidden_value(&html, "csrf");
    let r = app
        .client
        .post(app.url(&format!("{path}/effacement")))
        .form(&[("csrf", csrf.as_str()), ("confirmation", "oui")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    // The field typed is gone; whether support was asked stays for the reports, on a record
    // that no longer names anyone.
    assert_eq!(spouse_columns(&app, id), "true|-");
    assert_eq!(
        app.text(&format!(
            "SELECT last_name FROM candidates WHERE id = {candidate}"
        ))
        .as_deref(),
        Some("Anonyme")
    );
    assert_eq!(
        app.count("SELECT count(*) FROM applications WHERE spouse_field IS NOT NULL"),
        0
    );
}

#[tokio::test]
async fn the_reports_count_who_asked_and_what_became_of_them() {
    let app = TestApp::spawn().await;
    let yes_1 = apply(&app, &doctor(1).set("conjoint", "oui")).await;
    let _yes_2 = apply(
        &app,
        &doctor(2)
            .set("conjoint", "oui")
            .set("conjoint_domaine", "bâtiment"),
    )
    .await;
    let no = apply(&app, &doctor(3).set("conjoint", "non")).await;
    let _unanswered = apply(&app, &doctor(4)).await;
    // One who asked withdrew for the spouse's job, one who said no withdrew for another reason.
    let recruiter = app.staff(StaffRole::Recruiter).await;
    for (id, reason) in [(yes_1, "emploi_conjoint"), (no, "distance")] {
        let candidate = app.count(&format!(
            "SELECT candidate_id FROM applications WHERE id = {id}"
        ));
        let page = format!("/recrutement/candidats/{candidate}");
        let csrf = recruiter.csrf_from(&page).await;
        let r = recruiter
            .post_form(
                &format!("/recrutement/candidatures/{id}/etape"),
                &[
                    ("csrf", csrf.as_str()),
                    ("depuis", "nouvelle"),
                    ("vers", "desistement"),
                    ("motif_desistement", reason),
                ],
            )
            .await;
        assert_eq!(r.status().as_u16(), 303, "{}", r.text().await.unwrap());
    }
    assert_eq!(
        app.count("SELECT count(*) FROM applications WHERE stage = 'desistement'"),
        2
    );

    let staff = app.staff(StaffRole::Communication).await;
    let (status, html) = staff.get_html("/rapports").await;
    assert_eq!(status, 200);
    assert!(html.contains("id=\"emploi-conjoint\""));
    let r = staff.get("/rapports/emploi-conjoint.csv").await;
    assert_eq!(r.status().as_u16(), 200);
    let csv = r.text().await.unwrap();
    let rows: Vec<&str> = csv.trim_start_matches('\u{feff}').lines().collect();
    // Answer; applications; offers; hires; withdrawals; withdrawals for the spouse's job.
    assert_eq!(
        rows,
        [
            "Réponse;Candidatures;Propositions;Recrutements;Désistements;Désistements « Emploi du conjoint »",
            "Accompagnement souhaité;2;0;0;1;1",
            "Accompagnement non souhaité;1;0;0;1;0",
            "Sans réponse;1;0;0;0;0",
        ],
        "{csv}"
    );
}
