//! Contacts known only by post (issue 19, follow-up): no e-mail address, a postal address.
//! Entered by the form and by CSV import (and recognised on re-import by last name, first
//! name and postcode), left out of e-mail runs and counted « sans adresse électronique », sent
//! letters, shown without error.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::Utc;
use vocation::campaigns::runs::{self, CampaignInput, Schedule};
use vocation::db::enums::StaffRole;

use crate::campaigns::{sender_settings, start_sender};
use crate::helpers::{field_error, hidden_value, StaffClient, TestApp};
use crate::smtp_server::SmtpServer;

struct Comms {
    staff: StaffClient,
    csrf: String,
}

async fn comms(app: &TestApp) -> Comms {
    let staff = app.staff(StaffRole::Communication).await;
    let csrf = staff.csrf_from("/espace").await;
    Comms { staff, csrf }
}

fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

fn exec(app: &TestApp, sql: &str) {
    use diesel::RunQueryDsl;
    diesel::sql_query(sql).execute(&mut app.conn()).expect(sql);
}

const FORM_BASE: [(&str, &str); 5] = [
    ("prenom", "Hélène"),
    ("nom", "Castéra"),
    ("type", "medecin_retraite"),
    ("base_legale", "interet_legitime"),
    ("ville", "Condom"),
];

#[tokio::test]
async fn the_form_creates_a_contact_known_only_by_post_and_refuses_one_with_neither_address() {
    let app = TestApp::spawn().await;
    let c = comms(&app).await;

    // Neither an e-mail address nor a postal one: 422 at the e-mail field, values kept.
    let mut fields: Vec<(&str, &str)> = vec![("csrf", &c.csrf), ("courriel", "  ")];
    fields.extend(FORM_BASE);
    let r = c.staff.post_form("/contacts/nouveau", &fields).await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    let message = field_error(&html, "courriel").expect("message at the e-mail field");
    assert!(message.contains("adresse postale"), "{message}");
    assert_eq!(hidden_value(&html, "nom"), "Castéra");
    assert_eq!(hidden_value(&html, "ville"), "Condom");
    assert_eq!(app.count("SELECT count(*) FROM contacts"), 0);

    // A half-typed address is reported at its own field, not as « neither ».
    let mut fields: Vec<(&str, &str)> = vec![
        ("csrf", &c.csrf),
        ("courriel", ""),
        ("adresse_voie", "3 rue Gambetta"),
    ];
    fields.extend(FORM_BASE);
    let r = c.staff.post_form("/contacts/nouveau", &fields).await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(field_error(&html, "commune_postale").is_some());
    assert_eq!(field_error(&html, "courriel"), None);
    assert_eq!(hidden_value(&html, "adresse_voie"), "3 rue Gambetta");

    // A postal address and no e-mail address: created.
    let mut fields: Vec<(&str, &str)> = vec![
        ("csrf", &c.csrf),
        ("courriel", ""),
        ("adresse_voie", "3 rue Gambetta"),
        ("code_postal", "32100"),
        ("commune_postale", "Condom"),
    ];
    fields.extend(FORM_BASE);
    let r = c.staff.post_form("/contacts/nouveau", &fields).await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let id = app.count("SELECT id FROM contacts WHERE last_name = 'Castéra'");
    assert_eq!(
        app.text(&format!(
            "SELECT coalesce(email, 'NULL') || '|' || postcode || ' ' || postal_town \
             FROM contacts WHERE id = {id}"
        ))
        .as_deref(),
        Some("NULL|32100 CONDOM")
    );
    // A second contact without e-mail address: the unique index only holds where present.
    let fields: Vec<(&str, &str)> = vec![
        ("csrf", &c.csrf),
        ("courriel", ""),
        ("adresse_voie", "1 place de la Mairie"),
        ("code_postal", "32000"),
        ("commune_postale", "Auch"),
        ("prenom", "Paul"),
        ("nom", "Arrieu"),
        ("type", "medecin_retraite"),
        ("base_legale", "interet_legitime"),
    ];
    let r = c.staff.post_form("/contacts/nouveau", &fields).await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    assert_eq!(
        app.count("SELECT count(*) FROM contacts WHERE email IS NULL"),
        2
    );

    // Editing it: removing the address too is refused at the field, nothing changes.
    let mut fields: Vec<(&str, &str)> = vec![("csrf", &c.csrf), ("courriel", "")];
    fields.extend(FORM_BASE);
    let r = c.staff.post_form(&format!("/contacts/{id}"), &fields).await;
    assert_eq!(r.status(), 422);
    assert!(field_error(&r.text().await.unwrap(), "courriel").is_some());
    assert_eq!(
        app.text(&format!("SELECT postal_town FROM contacts WHERE id = {id}"))
            .as_deref(),
        Some("CONDOM")
    );
    // Giving it an e-mail address later, and taking it away again, works.
    for email in ["helene.castera@exemple.fr", ""] {
        let mut fields: Vec<(&str, &str)> = vec![
            ("csrf", &c.csrf),
            ("courriel", email),
            ("adresse_voie", "3 rue Gambetta"),
            ("code_postal", "32100"),
            ("commune_postale", "Condom"),
        ];
        fields.extend(FORM_BASE);
        let r = c.staff.post_form(&format!("/contacts/{id}"), &fields).await;
        assert!(r.status().is_redirection(), "{}", r.status());
        assert_eq!(
            app.text(&format!(
                "SELECT coalesce(email, '') FROM contacts WHERE id = {id}"
            ))
            .as_deref(),
            Some(email)
        );
    }

    // The database itself refuses a contact with neither.
    use diesel::RunQueryDsl;
    let refused = diesel::sql_query(
        "INSERT INTO contacts (first_name, last_name, kind, legal_basis) \
         VALUES ('Sans', 'Rien', 'medecin', 'interet_legitime')",
    )
    .execute(&mut app.conn());
    assert!(refused.is_err());

    // The contact list and the contact's page show it without error, with « — ».
    let (status, html) = c.staff.get_html("/contacts").await;
    assert_eq!(status, 200);
    assert!(html.contains("Castéra"), "{html}");
    assert!(html.contains("pas d'adresse électronique"));
    assert!(!html.contains("mailto:"));
    let (status, html) = c.staff.get_html(&format!("/contacts/{id}")).await;
    assert_eq!(status, 200);
    assert!(html.contains("CONDOM") || html.contains("Condom"));
    assert_eq!(hidden_value(&html, "courriel"), "");
    // Searching by text still works when some contacts have no e-mail address.
    let (status, html) = c.staff.get_html("/contacts?q=cast").await;
    assert_eq!(status, 200);
    assert!(html.contains("Castéra"));
    // The CSV export writes an empty e-mail cell.
    let r = c.staff.get("/contacts/export.csv").await;
    assert_eq!(r.status(), 200);
    let csv = r.text().await.unwrap();
    assert!(
        csv.lines().any(|l| l.starts_with(";Hélène;Castéra;")),
        "{csv}"
    );
    // The deletion page names it without an address.
    let (status, html) = c.staff.get_html(&format!("/contacts/{id}/supprimer")).await;
    assert_eq!(status, 200);
    assert!(html.contains("pas d'adresse électronique"), "{html}");
}

/// Uploads `csv` into `list` and confirms it; the report page's HTML.
async fn import(c: &Comms, list: i64, csv: &str) -> String {
    let form = reqwest::multipart::Form::new()
        .text("csrf", c.csrf.clone())
        .text("liste", list.to_string())
        .text("type", "medecin_retraite")
        .text("base_legale", "interet_legitime")
        .text("contenu", "")
        .part(
            "fichier",
            reqwest::multipart::Part::bytes(csv.as_bytes().to_vec())
                .file_name("retraites.csv")
                .mime_str("text/csv")
                .unwrap(),
        );
    let r = c.staff.post_multipart("/contacts/import", form).await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let preview = location(&r);
    let r = c.staff.post_form(&preview, &[("csrf", &c.csrf)]).await;
    assert_eq!(r.status(), 303);
    let (status, report) = c.staff.get_html(&location(&r)).await;
    assert_eq!(status, 200);
    report
}

fn report_line(report: &str, needle: &str) -> String {
    let doc = scraper::Html::parse_document(report);
    let tr = scraper::Selector::parse("tr").unwrap();
    doc.select(&tr)
        .map(|r| r.text().collect::<String>())
        .find(|t| t.contains(needle))
        .unwrap_or_else(|| panic!("{needle} not in the report: {report}"))
}

async fn new_list(c: &Comms, name: &str) -> i64 {
    let r = c
        .staff
        .post_form("/listes", &[("csrf", &c.csrf), ("nom", name)])
        .await;
    location(&r).trim_start_matches("/listes/").parse().unwrap()
}

const HEADER: &str = "email;prenom;nom;adresse_voie;code_postal;commune_postale\n";

#[tokio::test]
async fn an_import_takes_rows_known_only_by_post_and_a_reimport_does_not_duplicate_them() {
    let app = TestApp::spawn().await;
    let c = comms(&app).await;
    let list = new_list(&c, "Retraités du Gers").await;
    let csv = format!(
        "{HEADER}\
         ;Jeanne;Abadie;4 rue Dessoles;32000;Auch\n\
         ;Pierre;Lacoste;Lieu-dit Marsan;32270;Aubiet\n\
         ;Sans;Adresse;;;\n\
         ;Prénomseul;;2 rue Thiers;32000;Auch\n\
         ;Jeanne;ABADIE;4 rue Dessoles;32000;Auch\n\
         marie@exemple.fr;Marie;Duffau;;;\n"
    );
    let report = import(&c, list, &csv).await;
    assert_eq!(
        app.count("SELECT count(*) FROM contacts WHERE email IS NULL"),
        2,
        "{report}"
    );
    assert_eq!(app.count("SELECT count(*) FROM contacts"), 3);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM list_members WHERE list_id = {list}"
        )),
        3
    );
    // A row with neither address, a nameless one and a duplicate within the file: reported.
    let line = report_line(&report, "Sans Adresse");
    assert!(
        line.contains("Ni adresse électronique ni adresse postale"),
        "{line}"
    );
    let line = report_line(&report, "Prénomseul");
    assert!(line.contains("le nom est nécessaire"), "{line}");
    let line = report_line(&report, "ABADIE");
    assert!(line.contains("Doublon de la ligne 2"), "{line}");
    assert_eq!(
        app.text(
            "SELECT address_street || '|' || postcode || ' ' || postal_town FROM contacts \
             WHERE last_name = 'Abadie'"
        )
        .as_deref(),
        Some("4 rue Dessoles|32000 AUCH")
    );

    // The same rows again (case and spaces changed), into another list: recognised, not
    // duplicated, added to the list; a new first name is a new contact.
    let other = new_list(&c, "Relance").await;
    let csv = format!(
        "{HEADER}\
         ; jeanne ;ABADIE;4 rue Dessoles;32000;Auch\n\
         ;Pierre;Lacoste;Lieu-dit Marsan;32270;Aubiet\n\
         ;Pierrette;Lacoste;Lieu-dit Marsan;32270;Aubiet\n"
    );
    let report = import(&c, other, &csv).await;
    assert_eq!(
        app.count("SELECT count(*) FROM contacts WHERE email IS NULL"),
        3,
        "{report}"
    );
    let line = report_line(&report, "déjà connues, ajoutées à la liste");
    assert!(line.trim_end().ends_with('2'), "{line}");
    let line = report_line(&report, "Nouveaux contacts ajoutés");
    assert!(line.trim_end().ends_with('1'), "{line}");
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM list_members WHERE list_id = {other}"
        )),
        3
    );
    // The second file again changes nothing.
    let before = app.count("SELECT count(*) FROM contacts");
    import(&c, list, &csv).await;
    assert_eq!(app.count("SELECT count(*) FROM contacts"), before);
}

/// A list of two contacts with e-mail addresses and two known only by post (one of them
/// « ne plus écrire »), and a deceased one known only by post.
fn mixed_list(app: &TestApp) -> i64 {
    exec(
        app,
        "INSERT INTO contacts (email, first_name, last_name, kind, legal_basis, address_street, \
             postcode, postal_town) VALUES \
         ('anne@example.org', 'Anne', 'Roux', 'medecin_retraite', 'interet_legitime', \
          '3 rue Gambetta', '32000', 'AUCH'), \
         ('bruno@example.org', 'Bruno', 'Sarrat', 'medecin_retraite', 'interet_legitime', '', \
          '', ''), \
         (NULL, 'Jeanne', 'Abadie', 'medecin_retraite', 'interet_legitime', \
          '4 rue Dessoles', '32500', 'FLEURANCE'), \
         (NULL, 'Pierre', 'Lacoste', 'medecin_retraite', 'interet_legitime', \
          'Lieu-dit Marsan', '32270', 'AUBIET')",
    );
    exec(
        app,
        "INSERT INTO contacts (email, first_name, last_name, kind, legal_basis, address_street, \
             postcode, postal_town, deceased) VALUES \
         (NULL, 'Louis', 'Défunt', 'medecin_retraite', 'interet_legitime', '1 rue B', '32000', \
          'AUCH', true)",
    );
    exec(
        app,
        "UPDATE contacts SET no_letters_at = now() WHERE last_name = 'Lacoste'",
    );
    exec(app, "INSERT INTO contact_lists (name) VALUES ('Mixte')");
    exec(
        app,
        "INSERT INTO list_members (list_id, contact_id) \
         SELECT (SELECT id FROM contact_lists WHERE name = 'Mixte'), id FROM contacts",
    );
    app.count("SELECT id FROM contact_lists WHERE name = 'Mixte'")
}

async fn wait_count(app: &TestApp, sql: &str, n: i64, secs: u64) {
    let start = Instant::now();
    loop {
        let got = app.count(sql);
        if got == n {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "waited {secs} s for {sql} = {n}, got {got}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn an_email_campaign_skips_and_counts_them_a_letter_campaign_writes_to_them() {
    let app = TestApp::spawn().await;
    let smtp = SmtpServer::start();
    let list = mixed_list(&app);
    exec(
        &app,
        "INSERT INTO mail_templates (name, subject, body_text, body_html) VALUES \
         ('Retraités', 'Bonjour {{prenom}}', 'Bonjour {{prenom}} {{nom}}, \
          {{lien_candidature}}', '')",
    );
    let template = app.count("SELECT id FROM mail_templates WHERE name = 'Retraités'");
    let id = runs::create(
        &mut app.conn(),
        &CampaignInput {
            name: "Retraités – courriel".into(),
            template_id: template,
            list_ids: vec![list],
            sender_name: "Recrutement CDS32".into(),
            sender_email: "recrutement@vocation.test".into(),
            rate_per_minute: 6000,
            schedule: Schedule::Now,
        },
        None,
    )
    .unwrap();
    let c = comms(&app).await;
    // The draft's page says who the message will not reach.
    let (status, html) = c.staff.get_html(&format!("/campagnes/{id}")).await;
    assert_eq!(status, 200);
    let doc = scraper::Html::parse_document(&html);
    let hint = scraper::Selector::parse("[data-field=draft_without_email]").unwrap();
    let hint: String = doc
        .select(&hint)
        .next()
        .expect("the draft counts contacts without e-mail")
        .text()
        .collect();
    // Jeanne and Pierre: active, not deceased (Pierre's « ne plus écrire » is about letters).
    assert!(hint.contains("Sans adresse électronique : 2"), "{hint}");

    // The template's preview with the values of a contact known only by post.
    let jeanne = app.count("SELECT id FROM contacts WHERE last_name = 'Abadie'");
    let (status, html) = c
        .staff
        .get_html(&format!(
            "/campagnes/modeles/{template}/apercu?contact={jeanne}"
        ))
        .await;
    assert_eq!(status, 200);
    assert!(html.contains("(pas d'adresse électronique)"), "{html}");
    assert!(!html.contains("()"));

    runs::schedule(&mut app.conn(), id, Utc::now(), None).unwrap();
    assert_eq!(
        app.count(&format!(
            "SELECT recipients FROM campaign_runs WHERE campaign_id = {id}"
        )),
        2
    );
    assert_eq!(
        app.count(&format!(
            "SELECT without_email FROM campaign_runs WHERE campaign_id = {id}"
        )),
        2
    );
    let _sender = start_sender(sender_settings(&app, &smtp));
    wait_count(
        &app,
        &format!("SELECT count(*) FROM campaigns WHERE id = {id} AND status = 'terminee'"),
        1,
        20,
    )
    .await;
    let per = smtp.per_recipient();
    assert_eq!(per.len(), 2, "{per:?}");
    assert_eq!(per.get("anne@example.org"), Some(&1));
    assert_eq!(per.get("bruno@example.org"), Some(&1));
    // The run's figures on the page.
    let (status, html) = c.staff.get_html(&format!("/campagnes/{id}")).await;
    assert_eq!(status, 200);
    let doc = scraper::Html::parse_document(&html);
    let dd = scraper::Selector::parse("dd[data-field=without_email]").unwrap();
    let n: String = doc.select(&dd).next().unwrap().text().collect();
    assert_eq!(n.trim(), "2");

    // A letter campaign over the same list: Anne and Jeanne get a letter (Bruno has no postal
    // address, Pierre asked « ne plus écrire », Louis is deceased).
    let r = c
        .staff
        .post_form(
            "/courriers/nouveau",
            &[
                ("csrf", c.csrf.as_str()),
                ("nom", "Retraités – courrier"),
                ("objet", "Exercer dans le Gers, {{prenom}} ?"),
                ("texte", "Bonjour {{nom_complet}},\n\nLe Gers recrute."),
                ("listes", &list.to_string()),
            ],
        )
        .await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let letters: i64 = location(&r)
        .trim_start_matches("/courriers/")
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    // Opened at /campagnes/{id}, a letter campaign redirects to its own page.
    let r = c.staff.get(&format!("/campagnes/{letters}")).await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), format!("/courriers/{letters}"));
    let r = c
        .staff
        .post_form(
            &format!("/courriers/{letters}/produire"),
            &[("csrf", &c.csrf)],
        )
        .await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM deliveries d JOIN campaign_runs r ON r.id = d.run_id \
             WHERE r.campaign_id = {letters} AND d.email IS NULL \
               AND d.contact_id = (SELECT id FROM contacts WHERE last_name = 'Abadie')"
        )),
        1,
        "Jeanne's letter delivery, without an e-mail address"
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM deliveries d JOIN campaign_runs r ON r.id = d.run_id \
             WHERE r.campaign_id = {letters}"
        )),
        2
    );
    // Jeanne's personal link leads to the form with the delivery's token, and her « ne plus
    // m'écrire » page answers: nothing there needs an e-mail address.
    let code = app
        .text(&format!(
            "SELECT d.letter_code FROM deliveries d JOIN campaign_runs r ON r.id = d.run_id \
             WHERE r.campaign_id = {letters} AND d.email IS NULL"
        ))
        .unwrap();
    let bare = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = bare
        .get(app.url(&format!("/c/{code}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert!(location(&r).contains("suivi="), "{}", location(&r));
    let r = bare
        .get(app.url(&format!("/c/{code}/ne-plus-ecrire")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = c
        .staff
        .get(&format!("/courriers/{letters}/courriers.pdf"))
        .await;
    assert_eq!(r.status(), 200);
    let pdf = r.bytes().await.unwrap();
    let dir = std::env::temp_dir().join(format!("postal-only-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("courriers.pdf");
    std::fs::write(&path, &pdf).unwrap();
    let text = pdf_text(&path);
    assert!(text.contains("Jeanne Abadie"), "{text}");
    assert!(text.contains("4 rue Dessoles"), "{text}");
    assert!(text.contains("32500 FLEURANCE"), "{text}");
    assert!(text.contains("Anne Roux"), "{text}");
    assert!(
        !text.contains("Lacoste") && !text.contains("Défunt"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);

    // The e-mail worker never claimed the letters: nothing more reached the SMTP server.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(smtp.per_recipient().len(), 2);
}

fn pdf_text(pdf: &Path) -> String {
    let out = Command::new("pdftotext")
        .arg("-layout")
        .arg(pdf)
        .arg("-")
        .output()
        .expect("pdftotext installed");
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}
