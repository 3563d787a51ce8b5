//! Issue 18, « Campaigns and contacts »: guarded sending (the button says what it does and to
//! how many; nothing is sent without the confirmation), the live page's JSON, the CSV import of
//! what a département officer has (Windows-1252, UTF-16, `;` or `,`, hostile cells, bounds, a new
//! list, the rejected rows to download), the template's empty variables, and every campaign,
//! contact, list and template form shown again at its field on error.

use chrono::TimeZone;
use diesel::connection::SimpleConnection;
use vocation::db::enums::StaffRole;
use vocation::domain::french;

use crate::campaign_pages::{page_text, post};
use crate::helpers::{field_error, hidden_value, test_day, StaffClient, TestApp};

fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// The page is the staff layout (header, menu), not a bare error page.
fn assert_staff_layout(html: &str) {
    assert!(
        html.contains("class=\"who\"") && html.contains("<nav"),
        "the full staff layout: {html}"
    );
}

/// The field `id` carries its message: error summary linking to it, message tied to it.
fn assert_error_at(html: &str, id: &str) -> String {
    let message = field_error(html, id).unwrap_or_else(|| panic!("no message at #{id}: {html}"));
    assert!(
        html.contains(&format!("href=\"#{id}\"")),
        "the summary links to #{id}"
    );
    let doc = scraper::Html::parse_document(html);
    let tied = scraper::Selector::parse(&format!("[aria-describedby~=\"{id}-error\"]")).unwrap();
    assert!(
        doc.select(&tied).next().is_some(),
        "the message is tied to #{id} (aria-describedby)"
    );
    message
}

/// Three reachable people in « Internes » (Dora has no first name), plus an unsubscribed one and
/// a suppressed address; « Retraités » shares Alice (counted once). The lists' ids.
fn audiences(app: &TestApp) -> (String, String) {
    app.conn()
        .batch_execute(
            "INSERT INTO contacts (email, first_name, last_name, kind, legal_basis, status) VALUES
               ('alice@exemple.fr', 'Alice', 'Arnaud', 'interne', 'interet_legitime', 'active'),
               ('bruno@exemple.fr', 'Bruno', 'Baron', 'interne', 'interet_legitime', 'active'),
               ('dora@exemple.fr', '', 'Duclos', 'interne', 'interet_legitime', 'active'),
               ('parti@exemple.fr', 'Paul', 'Parti', 'interne', 'interet_legitime', 'unsubscribed'),
               ('Bloque@exemple.fr', 'Bastien', 'Bloqué', 'interne', 'interet_legitime', 'active');
             INSERT INTO suppressions (email, reason) VALUES ('bloque@exemple.fr', 'manuelle');
             INSERT INTO contact_lists (name) VALUES ('Internes'), ('Retraités');
             INSERT INTO list_members (list_id, contact_id)
               SELECT l.id, c.id FROM contact_lists l, contacts c WHERE l.name = 'Internes';
             INSERT INTO list_members (list_id, contact_id)
               SELECT l.id, c.id FROM contact_lists l, contacts c
               WHERE l.name = 'Retraités' AND c.email = 'alice@exemple.fr';",
        )
        .unwrap();
    (
        app.text("SELECT id FROM contact_lists WHERE name = 'Internes'")
            .unwrap(),
        app.text("SELECT id FROM contact_lists WHERE name = 'Retraités'")
            .unwrap(),
    )
}

/// The demo's subject: « , le Gers recrute » for someone without a first name.
async fn template(app: &TestApp, staff: &StaffClient) -> String {
    let r = post(
        staff,
        "/campagnes/modeles/nouveau",
        &[
            ("nom", "Internes"),
            ("objet", "{{prenom}}, le Gers recrute"),
            ("texte", "Bonjour,\n\nCandidatez : {{lien_candidature}}"),
            ("html", ""),
        ],
    )
    .await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    app.text("SELECT id FROM mail_templates WHERE name = 'Internes'")
        .unwrap()
}

async fn draft(
    app: &TestApp,
    staff: &StaffClient,
    template: &str,
    lists: &[&str],
    when: (&str, &str, &str),
) -> String {
    let mut fields = vec![
        ("nom", "Internes – décembre"),
        ("modele", template),
        ("expediteur_nom", "Recrutement CDS32"),
        ("expediteur_adresse", "recrutement@gers.test"),
        ("debit", "600"),
        ("envoi", when.0),
        ("date", when.1),
        ("heure", when.2),
        ("cron", ""),
    ];
    for l in lists {
        fields.push(("listes", l));
    }
    let r = post(staff, "/campagnes/nouvelle", &fields).await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    app.text("SELECT max(id) FROM campaigns").unwrap()
}

fn runs_and_deliveries(app: &TestApp, id: &str) -> (i64, i64) {
    (
        app.count(&format!(
            "SELECT count(*) FROM campaign_runs WHERE campaign_id = {id}"
        )),
        app.count(&format!(
            "SELECT count(*) FROM deliveries d JOIN campaign_runs r ON r.id = d.run_id \
             WHERE r.campaign_id = {id}"
        )),
    )
}

#[tokio::test]
async fn nothing_is_sent_without_the_confirmation_and_the_button_says_to_how_many() {
    let app = TestApp::spawn().await;
    let staff = app.staff(StaffRole::Communication).await;
    let t = template(&app, &staff).await;
    let (internes, retraites) = audiences(&app);
    let id = draft(
        &app,
        &staff,
        &t,
        &[&internes, &retraites],
        ("maintenant", "", ""),
    )
    .await;

    // The page says what the button does, to how many (deduplicated, without the unsubscribed
    // and suppressed addresses), and what the subject becomes without a first name.
    let (status, html) = staff.get_html(&format!("/campagnes/{id}")).await;
    assert_eq!(status, 200);
    let text = page_text(&html);
    assert!(
        text.contains("Envoyer maintenant à 3 destinataires"),
        "{text}"
    );
    assert!(
        text.contains("Je confirme l'envoi immédiat à 3 destinataires"),
        "{text}"
    );
    assert!(
        text.contains("1 contact n'a pas de prénom : l'objet commencera par « , le Gers recrute »"),
        "{text}"
    );
    assert!(!text.contains("(s)"), "{text}");

    // Without the box, with another value, twice: the same page (422), nothing sent.
    for confirm in [None, Some("non"), Some("")] {
        let fields: Vec<(&str, &str)> = confirm.map(|v| ("confirmer", v)).into_iter().collect();
        let r = post(&staff, &format!("/campagnes/{id}/programmer"), &fields).await;
        assert_eq!(r.status(), 422, "{confirm:?}");
        let html = r.text().await.unwrap();
        assert_staff_layout(&html);
        let message = assert_error_at(&html, "confirmer-envoi");
        assert!(message.contains("Cochez la case"), "{message}");
        assert!(page_text(&html).contains("Envoyer maintenant à 3 destinataires"));
    }
    // A control character: refused by the form reader (400, in French), nothing sent.
    let r = post(
        &staff,
        &format!("/campagnes/{id}/programmer"),
        &[("confirmer", "oui\u{0}")],
    )
    .await;
    assert_eq!(r.status(), 400);
    assert!(!r.text().await.unwrap().contains('\u{0}'));
    // Without the anti-forgery token, with the box: refused too.
    let r = staff
        .post_form(
            &format!("/campagnes/{id}/programmer"),
            &[("csrf", "faux"), ("confirmer", "oui")],
        )
        .await;
    assert_eq!(r.status(), 403);
    // A recruiter, with a good token and the box: refused.
    let recruiter = app.staff(StaffRole::Recruiter).await;
    let token = recruiter.csrf_from("/recrutement").await;
    let r = recruiter
        .post_form(
            &format!("/campagnes/{id}/programmer"),
            &[("csrf", token.as_str()), ("confirmer", "oui")],
        )
        .await;
    assert_eq!(r.status(), 403);
    assert_eq!(runs_and_deliveries(&app, &id), (0, 0));
    assert_eq!(
        app.text(&format!("SELECT status FROM campaigns WHERE id = {id}")),
        Some("brouillon".to_owned())
    );

    // Confirmed: as many deliveries as the button said.
    let r = post(
        &staff,
        &format!("/campagnes/{id}/programmer"),
        &[("confirmer", "oui")],
    )
    .await;
    assert_eq!(r.status(), 303);
    assert_eq!(runs_and_deliveries(&app, &id), (1, 3));
    // The page no longer offers to send.
    let (_, html) = staff.get_html(&format!("/campagnes/{id}")).await;
    assert!(!html.contains("confirmer-envoi"));
}

#[tokio::test]
async fn a_campaign_at_a_date_says_the_day_and_hour_as_people_write_them() {
    let app = TestApp::spawn().await;
    let staff = app.staff(StaffRole::Communication).await;
    let t = template(&app, &staff).await;
    let (internes, _) = audiences(&app);
    let day = test_day() + chrono::Duration::days(40);
    let date = day.format("%Y-%m-%d").to_string();
    let id = draft(&app, &staff, &t, &[&internes], ("date", &date, "09:30")).await;
    let at = chrono_tz::Europe::Paris
        .from_local_datetime(&day.and_hms_opt(9, 30, 0).unwrap())
        .single()
        .unwrap()
        .with_timezone(&chrono::Utc);
    let (_, html) = staff.get_html(&format!("/campagnes/{id}")).await;
    let text = page_text(&html);
    let label = format!("Programmer pour le {}", french::long_datetime(at));
    assert!(label.ends_with("à 9 h 30"), "{label}");
    assert!(text.contains(&label), "{label} in {text}");
    assert!(
        text.contains("à 3 destinataires (nombre à ce jour)"),
        "{text}"
    );
}

#[tokio::test]
async fn the_polled_figures_say_when_the_page_must_be_fetched_again() {
    let app = TestApp::spawn().await;
    let staff = app.staff(StaffRole::Communication).await;
    let t = template(&app, &staff).await;
    let (internes, _) = audiences(&app);
    let id = draft(&app, &staff, &t, &[&internes], ("maintenant", "", "")).await;
    let json = |staff: &StaffClient| {
        let path = format!("/campagnes/{id}/progression");
        let client = staff.client.clone();
        let url = format!("{}{path}", staff.base);
        async move {
            let r = client.get(url).send().await.unwrap();
            assert_eq!(r.status(), 200);
            r.json::<serde_json::Value>().await.unwrap()
        }
    };
    let before = json(&staff).await;
    assert_eq!(before["live"], serde_json::json!(false), "{before}");
    let (_, html) = staff.get_html(&format!("/campagnes/{id}")).await;
    assert!(html.contains(&format!(
        "data-state=\"{}\"",
        before["state_key"].as_str().unwrap()
    )));
    // Without JavaScript, nothing claims the page updates by itself.
    assert!(!page_text(&html).contains("se met aussi à jour seule"));
    let r = post(
        &staff,
        &format!("/campagnes/{id}/programmer"),
        &[("confirmer", "oui")],
    )
    .await;
    assert_eq!(r.status(), 303);
    let after = json(&staff).await;
    assert_eq!(after["live"], serde_json::json!(true), "{after}");
    assert_ne!(after["state_key"], before["state_key"]);
    let (_, html) = staff.get_html(&format!("/campagnes/{id}")).await;
    assert!(html.contains("data-live=\"oui\""));
    assert!(page_text(&html).contains("Actualisez la page pour voir où en est l'envoi"));
}

// ---------------------------------------------------------------------------------------------
// Import

struct Comms {
    staff: StaffClient,
    csrf: String,
}

async fn comms(app: &TestApp) -> Comms {
    let staff = app.staff(StaffRole::Communication).await;
    let csrf = staff.csrf_from("/espace").await;
    Comms { staff, csrf }
}

impl Comms {
    async fn list(&self, name: &str) -> i64 {
        let r = self
            .staff
            .post_form("/listes", &[("csrf", &self.csrf), ("nom", name)])
            .await;
        assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
        location(&r).trim_start_matches("/listes/").parse().unwrap()
    }

    async fn upload_to(&self, list: &str, new_list: &str, csv: &[u8]) -> reqwest::Response {
        let form = reqwest::multipart::Form::new()
            .text("csrf", self.csrf.clone())
            .text("liste", list.to_owned())
            .text("nouvelle_liste", new_list.to_owned())
            .text("type", "medecin")
            .text("base_legale", "interet_legitime")
            .text("contenu", "")
            .part(
                "fichier",
                reqwest::multipart::Part::bytes(csv.to_vec())
                    .file_name("contacts.csv")
                    .mime_str("text/csv")
                    .unwrap(),
            );
        self.staff.post_multipart("/contacts/import", form).await
    }

    /// Uploads into `list`; the import's id and its preview's text.
    async fn preview(&self, list: i64, csv: &[u8]) -> (i64, String) {
        let r = self.upload_to(&list.to_string(), "", csv).await;
        assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
        let path = location(&r);
        let id = path
            .trim_start_matches("/contacts/import/")
            .parse()
            .unwrap();
        let (status, html) = self.staff.get_html(&path).await;
        assert_eq!(status, 200, "{html}");
        (id, page_text(&html))
    }

    async fn confirm(&self, id: i64) {
        let r = self
            .staff
            .post_form(&format!("/contacts/import/{id}"), &[("csrf", &self.csrf)])
            .await;
        assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    }
}

/// `text` in Windows-1252 (what Excel writes for « CSV (séparateur : point-virgule) »).
fn windows_1252(text: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = encoding_rs::WINDOWS_1252.encode(text);
    assert!(!unmappable);
    bytes.into_owned()
}

fn utf16le_with_bom(text: &str) -> Vec<u8> {
    let mut out = vec![0xFF, 0xFE];
    for unit in text.encode_utf16() {
        out.extend(unit.to_le_bytes());
    }
    out
}

#[tokio::test]
async fn excel_files_in_windows_1252_and_utf_16_import_with_their_accents() {
    let app = TestApp::spawn().await;
    let c = comms(&app).await;
    let list = c.list("Excel").await;

    // Windows-1252, `;`: the bytes of « é » are 0xE9, not UTF-8.
    let bytes = windows_1252(
        "email;prénom;nom;ville\r\nhelene@exemple.fr;Hélène;Dupré;Lectoure\r\n\
         francois@exemple.fr;François;Lœuvre;Condom\r\n",
    );
    assert!(bytes.contains(&0xE9));
    let (id, text) = c.preview(list, &bytes).await;
    assert!(
        text.contains("Encodage : Windows-1252 (Excel) · Séparateur : point-virgule"),
        "{text}"
    );
    assert!(text.contains("Hélène Dupré"), "{text}");
    assert!(text.contains("François Lœuvre"), "{text}");
    assert!(text.contains("À ajouter"), "{text}");
    assert!(!text.contains("Ajouté"), "{text}");
    c.confirm(id).await;
    assert_eq!(
        app.text(
            "SELECT first_name || ' ' || last_name FROM contacts WHERE email = 'helene@exemple.fr'"
        ),
        Some("Hélène Dupré".to_owned())
    );

    // UTF-16 LE with its mark, tab-separated (Excel's « Texte Unicode »).
    let bytes = utf16le_with_bom("email\tprénom\tnom\r\nzoe@exemple.fr\tZoé\tÉtienne\r\n");
    let (id, text) = c.preview(list, &bytes).await;
    assert!(text.contains("UTF-16"), "{text}");
    assert!(text.contains("Séparateur : tabulation"), "{text}");
    assert!(text.contains("Zoé Étienne"), "{text}");
    c.confirm(id).await;
    assert_eq!(
        app.text("SELECT last_name FROM contacts WHERE email = 'zoe@exemple.fr'"),
        Some("Étienne".to_owned())
    );

    // UTF-8 without a mark, `,`.
    let (_, text) = c
        .preview(list, "email,prenom\nines@exemple.fr,Inès\n".as_bytes())
        .await;
    assert!(
        text.contains("Encodage : UTF-8 · Séparateur : virgule"),
        "{text}"
    );
    assert!(text.contains("Inès"), "{text}");
}

#[tokio::test]
async fn a_file_in_no_known_encoding_or_too_long_is_refused_at_its_field() {
    let app = TestApp::spawn().await;
    let c = comms(&app).await;
    let list = c.list("Refus").await.to_string();
    for (what, bytes, expected) in [
        (
            "undefined Windows-1252 bytes",
            b"email;nom\nok@exemple.fr;A\nx@exemple.fr;\x81\x8d\x8f\n".to_vec(),
            "ligne 3",
        ),
        (
            "a spreadsheet sent as it is",
            b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00".to_vec(),
            "classeur",
        ),
        (
            "a UTF-16 file cut in a character",
            b"\xFF\xFEe\x00m\x00a\x00i\x00l\x00\n\x00\x00\xD8".to_vec(),
            "UTF-16",
        ),
        (
            "UTF-8 marked but not",
            b"\xEF\xBB\xBFemail\nb\xE9@exemple.fr\n".to_vec(),
            "UTF-8",
        ),
    ] {
        let r = c.upload_to(&list, "", &bytes).await;
        assert_eq!(r.status(), 422, "{what}");
        let html = r.text().await.unwrap();
        assert_staff_layout(&html);
        let message = field_error(&html, "fichier").unwrap_or_else(|| panic!("{what}: {html}"));
        assert!(message.contains(expected), "{what}: {message}");
    }

    // 100,000 rows at most: one more is refused, with the bound written the French way.
    let mut big = String::with_capacity(2_300_000);
    big.push_str("email\n");
    for i in 0..=100_000 {
        big.push_str(&format!("c{i}@exemple.fr\n"));
    }
    let r = c.upload_to(&list, "", big.as_bytes()).await;
    assert_eq!(r.status(), 422);
    let message = field_error(&r.text().await.unwrap(), "fichier").unwrap();
    assert!(
        message.contains("plus de 100\u{202f}000 lignes"),
        "{message}"
    );
    assert_eq!(app.count("SELECT count(*) FROM contact_imports"), 0);
}

#[tokio::test]
async fn hostile_cells_are_refused_row_by_row_and_come_back_neutralised_in_the_rejected_rows() {
    let app = TestApp::spawn().await;
    let c = comms(&app).await;
    let list = c.list("Hostile").await;
    let long = "x".repeat(10_000);
    let csv = format!(
        "email;prenom;nom\n\
         =cmd|' /C calc'!A0;Élise;Formule\n\
         nul@exemple.fr;Ni\u{0}na;Nul\n\
         long@exemple.fr;{long};Long\n\
         bon@exemple.fr;Bon;Contact\n"
    );
    let (id, text) = c.preview(list, csv.as_bytes()).await;
    assert!(!text.contains('\u{0}'));
    assert!(text.contains("Adresse invalide"), "{text}");
    assert!(text.contains("Prénom trop long"), "{text}");
    assert!(!text.contains(&long), "the long cell is not shown whole");

    let r = c
        .staff
        .get(&format!("/contacts/import/{id}/lignes-refusees.csv"))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "text/csv; charset=utf-8"
    );
    assert!(r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment"));
    let body = r.bytes().await.unwrap();
    let text = std::str::from_utf8(&body).unwrap();
    assert!(
        text.starts_with(
            "\u{feff}email;prenom;nom;organisation;type;etiquettes;ville;base_legale;\
             adresse_complement;adresse_batiment;adresse_voie;adresse_lieu_dit;code_postal;\
             commune_postale;pays;motif"
        ),
        "{text}"
    );
    assert!(text.contains("'=cmd|' /C calc'!A0;Élise;Formule"), "{text}");
    assert!(!text.contains('\u{0}'));
    assert!(!text.contains("bon@exemple.fr"), "only the rejected rows");
    assert!(text.lines().count() == 3, "{text}");

    // Corrected in the spreadsheet and sent again, the file imports (its « motif » ignored).
    let corrected = text.replace("'=cmd|' /C calc'!A0", "elise@exemple.fr");
    let (id2, preview) = c.preview(list, corrected.as_bytes()).await;
    assert!(
        preview.contains("Colonnes ignorées (non reconnues) : motif"),
        "{preview}"
    );
    assert!(preview.contains("Élise Formule"), "{preview}");
    c.confirm(id2).await;
    assert_eq!(
        app.count("SELECT count(*) FROM contacts WHERE email = 'elise@exemple.fr'"),
        1
    );

    // Once applied, the report still gives them; nobody else gets them.
    c.confirm(id).await;
    let r = c
        .staff
        .get(&format!("/contacts/import/{id}/lignes-refusees.csv"))
        .await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("Prénom trop long"));
    for path in [
        "/contacts/import/999999/lignes-refusees.csv",
        "/contacts/import/-1/lignes-refusees.csv",
        "/contacts/import/abc/lignes-refusees.csv",
    ] {
        let status = c.staff.get(path).await.status();
        assert!(status == 404 || status == 400, "{path}: {status}");
    }
    let recruiter = app.staff(StaffRole::Recruiter).await;
    let r = recruiter
        .get(&format!("/contacts/import/{id}/lignes-refusees.csv"))
        .await;
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn a_new_list_is_created_from_the_import_page_and_careless_names_are_shown_at_the_field() {
    let app = TestApp::spawn().await;
    let c = comms(&app).await;
    let existing = c.list("Internes 2026").await;
    let lists = || app.count("SELECT count(*) FROM contact_lists");
    let csv = b"email;prenom\nanna@exemple.fr;Anna\n";

    let cases: Vec<(&str, String, String, &str, &str)> = vec![
        (
            "no list",
            String::new(),
            String::new(),
            "liste",
            "nommez une nouvelle liste",
        ),
        (
            "both",
            existing.to_string(),
            "Internes 2027".to_owned(),
            "nouvelle_liste",
            "pas les deux",
        ),
        (
            "a name taken",
            String::new(),
            "internes 2026".to_owned(),
            "nouvelle_liste",
            "déjà ce nom",
        ),
        (
            "a NUL",
            String::new(),
            "Internes\u{0}2027".to_owned(),
            "nouvelle_liste",
            "caractère de contrôle",
        ),
        (
            "too long",
            String::new(),
            "L".repeat(201),
            "nouvelle_liste",
            "200 caractères",
        ),
    ];
    for (what, list, name, field, expected) in cases {
        let r = c.upload_to(&list, &name, csv).await;
        assert_eq!(r.status(), 422, "{what}");
        let html = r.text().await.unwrap();
        assert_staff_layout(&html);
        let message = assert_error_at(&html, field);
        assert!(message.contains(expected), "{what}: {message}");
        if !name.contains('\u{0}') {
            assert!(
                html.contains(&format!("value=\"{}\"", name)),
                "{what}: the name typed is kept"
            );
        }
        assert_eq!(lists(), 1, "{what}: no list created");
    }
    // A file refused with a new name: nothing created either.
    let r = c.upload_to("", "Internes 2027", b"nom\nX\n").await;
    assert_eq!(r.status(), 422);
    assert_eq!(lists(), 1);

    // Named: the list exists, the preview goes to it.
    let r = c.upload_to("", "  Internes   2027 ", csv).await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let (_, html) = c.staff.get_html(&location(&r)).await;
    assert!(
        page_text(&html).contains("Aperçu de l'import dans la liste « Internes 2027 »"),
        "{html}"
    );
    assert_eq!(lists(), 2);
}

#[tokio::test]
async fn the_template_preview_counts_the_contacts_without_a_first_name() {
    let app = TestApp::spawn().await;
    let staff = app.staff(StaffRole::Communication).await;
    let t = template(&app, &staff).await;
    audiences(&app);
    app.conn()
        .batch_execute(
            "INSERT INTO contacts (email, first_name, last_name, kind, legal_basis, status) VALUES
               ('eve@exemple.fr', ' ', 'Estrade', 'interne', 'interet_legitime', 'active');",
        )
        .unwrap();
    let (status, html) = staff
        .get_html(&format!("/campagnes/modeles/{t}/apercu"))
        .await;
    assert_eq!(status, 200);
    let text = page_text(&html);
    // Dora and Eve; not the unsubscribed or suppressed ones (who have a first name anyway).
    assert!(
        text.contains(
            "2 contacts n'ont pas de prénom : l'objet commencera par « , le Gers recrute »"
        ),
        "{text}"
    );

    // Handled with {{#if}}: the count stays, the subject reads well.
    let r = post(
        &staff,
        &format!("/campagnes/modeles/{t}"),
        &[
            ("nom", "Internes"),
            (
                "objet",
                "{{#if prenom}}{{prenom}}, le Gers recrute{{else}}Le Gers recrute{{/if}}",
            ),
            ("texte", "Bonjour,\n\nCandidatez : {{lien_candidature}}"),
            ("html", ""),
        ],
    )
    .await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let (_, html) = staff
        .get_html(&format!("/campagnes/modeles/{t}/apercu"))
        .await;
    assert!(
        page_text(&html).contains("l'objet commencera par « Le Gers recrute »"),
        "{html}"
    );
}

// ---------------------------------------------------------------------------------------------
// Forms shown again on error

#[tokio::test]
async fn every_campaign_contact_list_and_template_form_is_shown_again_at_its_field_with_what_was_typed(
) {
    let app = TestApp::spawn().await;
    let staff = app.staff(StaffRole::Communication).await;
    let token = staff.csrf_from("/espace").await;
    let t = template(&app, &staff).await;
    let (internes, _) = audiences(&app);
    let id = draft(&app, &staff, &t, &[&internes], ("maintenant", "", "")).await;
    let contact = app
        .text("SELECT id FROM contacts WHERE email = 'alice@exemple.fr'")
        .unwrap();

    // (what, path, fields, the field in error, a value that must be kept)
    type Case<'a> = (&'a str, String, Vec<(&'a str, String)>, &'a str, &'a str);
    let cases: Vec<Case> = vec![
        (
            "new template",
            "/campagnes/modeles/nouveau".into(),
            vec![
                ("nom", "Gardé <b>"),
                ("objet", "{{inconnue}}"),
                ("texte", "Texte gardé"),
                ("html", ""),
            ]
            .into_iter()
            .map(|(k, v)| (k, v.to_owned()))
            .collect(),
            "objet",
            "Texte gardé",
        ),
        (
            "template",
            format!("/campagnes/modeles/{t}"),
            vec![
                ("nom", ""),
                ("objet", "Objet gardé"),
                ("texte", "x"),
                ("html", ""),
            ]
            .into_iter()
            .map(|(k, v)| (k, v.to_owned()))
            .collect(),
            "nom",
            "Objet gardé",
        ),
        (
            "new campaign",
            "/campagnes/nouvelle".into(),
            vec![
                ("nom", "Campagne gardée"),
                ("modele", t.as_str()),
                ("expediteur_nom", "Recrutement"),
                ("expediteur_adresse", "pas-une-adresse"),
                ("debit", "600"),
                ("envoi", "maintenant"),
            ]
            .into_iter()
            .map(|(k, v)| (k, v.to_owned()))
            .collect(),
            "expediteur_adresse",
            "Campagne gardée",
        ),
        (
            "campaign",
            format!("/campagnes/{id}/modifier"),
            vec![
                ("nom", "Nom modifié gardé"),
                ("modele", t.as_str()),
                ("listes", internes.as_str()),
                ("expediteur_nom", "Recrutement"),
                ("expediteur_adresse", "recrutement@gers.test"),
                ("debit", "-5"),
                ("envoi", "maintenant"),
            ]
            .into_iter()
            .map(|(k, v)| (k, v.to_owned()))
            .collect(),
            "debit",
            "Nom modifié gardé",
        ),
        (
            "new contact",
            "/contacts/nouveau".into(),
            vec![
                ("courriel", "pas-une-adresse"),
                ("prenom", "Prénom gardé"),
                ("nom", ""),
                ("type", "interne"),
                ("base_legale", "consentement"),
            ]
            .into_iter()
            .map(|(k, v)| (k, v.to_owned()))
            .collect(),
            "courriel",
            "Prénom gardé",
        ),
        (
            "contact",
            format!("/contacts/{contact}"),
            vec![
                ("courriel", "alice@exemple.fr"),
                ("prenom", "Alice gardée"),
                ("nom", "Arnaud"),
                ("type", "pharmacien"),
                ("base_legale", "consentement"),
            ]
            .into_iter()
            .map(|(k, v)| (k, v.to_owned()))
            .collect(),
            "type",
            "Alice gardée",
        ),
        (
            "new list",
            "/listes".into(),
            vec![("nom", ""), ("description", "Description gardée")]
                .into_iter()
                .map(|(k, v)| (k, v.to_owned()))
                .collect(),
            "nom",
            "Description gardée",
        ),
        (
            "suppression",
            "/contacts/desinscriptions".into(),
            vec![("courriel", "pas-une-adresse"), ("note", "Note gardée")]
                .into_iter()
                .map(|(k, v)| (k, v.to_owned()))
                .collect(),
            "courriel",
            "Note gardée",
        ),
        (
            "organisation",
            "/contacts/organisations".into(),
            vec![("nom", ""), ("type", "autre"), ("ville", "Ville gardée")]
                .into_iter()
                .map(|(k, v)| (k, v.to_owned()))
                .collect(),
            "nom",
            "Ville gardée",
        ),
    ];
    for (what, path, fields, field, kept) in cases {
        let mut all: Vec<(&str, &str)> = vec![("csrf", token.as_str())];
        all.extend(fields.iter().map(|(k, v)| (*k, v.as_str())));
        let r = staff.post_form(&path, &all).await;
        assert_eq!(r.status(), 422, "{what}: {path}");
        let html = r.text().await.unwrap();
        assert_staff_layout(&html);
        assert_error_at(&html, field);
        assert!(html.contains(kept), "{what}: « {kept} » kept");
        assert!(
            hidden_value(&html, "csrf").len() > 10,
            "{what}: the form again"
        );
    }
    assert_eq!(
        app.text("SELECT name FROM mail_templates"),
        Some("Internes".to_owned())
    );
    assert_eq!(app.count("SELECT count(*) FROM campaigns"), 1);
}
