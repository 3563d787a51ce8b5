//! Audiences: contacts, lists, the CSV import (preview, confirmation, per-row report), the
//! export, the suppression list and the faculties of medicine.

use std::process::Command;

use vocation::db::enums::{StaffRole, SuppressionReason};

use crate::helpers::{field_error, StaffClient, TestApp, TestDatabase};

/// A file mixing every outcome: `;`-separated, with a byte-order mark, headers with accents and
/// capitals. Lines: 2 and 3 are good, 4 a bad address, 5 a duplicate of 2 (case differs), 6 a
/// suppressed address, 7 an unknown type, 8 no address at all.
const MIXED: &str = "\u{feff}Courriel;Prénom;Nom;Organisation;Type;Étiquettes;Ville;Base légale\n\
claire.martin@exemple.fr;Claire;Martin;CHU d'Auch;Médecin;salon 2026|gers;Auch;\n\
paul.durand@exemple.fr;Paul;Durand;;interne;;Toulouse;consentement\n\
pas-une-adresse;;;;;;;\n\
CLAIRE.Martin@Exemple.FR;Claire;;;;;;\n\
Parti@Exemple.fr;;;;;;;\n\
luc@exemple.fr;Luc;;;dentiste;;;\n\
;Sans;Adresse;;;;;\n";

/// The service, with the address of line 6 of [`MIXED`] unsubscribed.
async fn spawn() -> TestApp {
    let app = TestApp::spawn().await;
    vocation::campaigns::suppression::suppress(
        &mut app.conn(),
        "parti@exemple.fr",
        SuppressionReason::Unsubscribed,
        "",
    )
    .unwrap();
    app
}

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

impl Comms {
    async fn create_list(&self, name: &str) -> i64 {
        let r = self
            .staff
            .post_form("/listes", &[("csrf", &self.csrf), ("nom", name)])
            .await;
        assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
        location(&r).trim_start_matches("/listes/").parse().unwrap()
    }

    async fn upload(&self, list_id: i64, csv: &[u8], kind: &str, basis: &str) -> reqwest::Response {
        let form = reqwest::multipart::Form::new()
            .text("csrf", self.csrf.clone())
            .text("liste", list_id.to_string())
            .text("type", kind.to_owned())
            .text("base_legale", basis.to_owned())
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

    /// Uploads a file; the import's id and its preview page.
    async fn preview(&self, list_id: i64, csv: &[u8]) -> (i64, String) {
        let r = self
            .upload(list_id, csv, "medecin", "interet_legitime")
            .await;
        assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
        let path = location(&r);
        let id = path
            .trim_start_matches("/contacts/import/")
            .parse()
            .unwrap();
        let (status, html) = self.staff.get_html(&path).await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains("Confirmer l'import"), "{html}");
        (id, html)
    }

    /// Confirms a previewed import; its report page.
    async fn confirm(&self, id: i64) -> String {
        let r = self
            .staff
            .post_form(&format!("/contacts/import/{id}"), &[("csrf", &self.csrf)])
            .await;
        assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
        let (status, html) = self.staff.get_html(&location(&r)).await;
        assert_eq!(status, 200, "{html}");
        html
    }

    async fn import(&self, list_id: i64, csv: &[u8]) -> String {
        let (id, _) = self.preview(list_id, csv).await;
        self.confirm(id).await
    }
}

/// A count shown on a report page, by the id of its cell.
fn shown_count(html: &str, id: &str) -> usize {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse(&format!("#{id}")).unwrap();
    doc.select(&sel)
        .next()
        .unwrap_or_else(|| panic!("no #{id} in {html}"))
        .text()
        .collect::<String>()
        .trim()
        .parse()
        .unwrap()
}

#[derive(Debug)]
struct Row {
    line: u64,
    email: String,
    name: String,
    outcome: String,
    reason: String,
}

/// The per-row tables of a report page (rejected rows, then rows kept).
fn report_rows(html: &str) -> Vec<Row> {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse(".table-scroll tbody tr").unwrap();
    let cell = scraper::Selector::parse("th, td").unwrap();
    doc.select(&sel)
        .map(|tr| {
            let cells: Vec<String> = tr
                .select(&cell)
                .map(|c| c.text().collect::<String>().trim().to_owned())
                .collect();
            Row {
                line: cells[0].parse().unwrap(),
                email: cells[1].clone(),
                name: cells[2].clone(),
                outcome: cells[3].clone(),
                reason: cells[4].clone(),
            }
        })
        .collect()
}

fn row(rows: &[Row], line: u64) -> &Row {
    rows.iter()
        .find(|r| r.line == line)
        .unwrap_or_else(|| panic!("no line {line} in {rows:?}"))
}

/// What a repeated import must not change.
fn snapshot(app: &TestApp) -> (i64, i64, i64, Option<String>, Option<String>) {
    (
        app.count("SELECT count(*) FROM contacts"),
        app.count("SELECT count(*) FROM list_members"),
        app.count("SELECT count(*) FROM organisations"),
        app.text("SELECT max(updated_at) FROM contacts"),
        app.text(
            "SELECT string_agg(email || first_name || last_name || city || kind || legal_basis || status \
             || array_to_string(tags, '|') || coalesce(organisation_id::text, ''), ',' ORDER BY id) \
             FROM contacts",
        ),
    )
}

#[tokio::test]
async fn an_import_is_previewed_without_writing_anything_then_confirmed() {
    let app = spawn().await;
    let c = comms(&app).await;
    let list = c.create_list("Médecins du Gers").await;

    let (id, preview) = c.preview(list, MIXED.as_bytes()).await;
    assert!(preview.contains("Rien n'est encore importé"), "{preview}");
    assert_eq!(shown_count(&preview, "compte-ajoutes"), 2);
    assert_eq!(shown_count(&preview, "compte-refuses"), 5);
    assert_eq!(app.count("SELECT count(*) FROM contacts"), 0);
    assert_eq!(app.count("SELECT count(*) FROM list_members"), 0);
    assert_eq!(app.count("SELECT count(*) FROM organisations"), 0);
    // The upload is kept server side until it is confirmed.
    assert_eq!(
        app.count(
            "SELECT count(*) FROM contact_imports WHERE applied_at IS NULL AND length(content) > 0"
        ),
        1
    );

    let report = c.confirm(id).await;
    assert!(report.contains("L'import est terminé"), "{report}");
    assert_eq!(shown_count(&report, "compte-ajoutes"), 2);
    assert_eq!(shown_count(&report, "compte-refuses"), 5);
    assert_eq!(app.count("SELECT count(*) FROM contacts"), 2);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM list_members WHERE list_id = {list}"
        )),
        2
    );
    assert_eq!(
        app.text("SELECT o.name || '/' || o.kind FROM contacts c JOIN organisations o ON o.id = c.organisation_id"),
        Some("CHU d'Auch/autre".to_owned())
    );
    assert_eq!(
        app.text("SELECT array_to_string(tags, '|') || '/' || kind || '/' || legal_basis FROM contacts WHERE email = 'claire.martin@exemple.fr'"),
        Some("salon 2026|gers/medecin/interet_legitime".to_owned())
    );
    // Once applied, the file is dropped; the report stays, and confirming again changes nothing.
    assert_eq!(
        app.count("SELECT count(*) FROM contact_imports WHERE length(content) > 0"),
        0
    );
    let again = c
        .staff
        .post_form(&format!("/contacts/import/{id}"), &[("csrf", &c.csrf)])
        .await;
    assert_eq!(again.status(), 303);
    assert_eq!(app.count("SELECT count(*) FROM contacts"), 2);
    // The list page shows the import in its history, with the audit entry naming counts only.
    let (_, list_page) = c.staff.get_html(&format!("/listes/{list}")).await;
    assert!(
        list_page.contains(&format!("/contacts/import/{id}")),
        "{list_page}"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'import_contacts' AND detail NOT LIKE '%@%'"),
        1
    );
}

#[tokio::test]
async fn the_report_gives_each_rejected_row_its_line_and_reason() {
    let app = spawn().await;
    let c = comms(&app).await;
    let list = c.create_list("Essai").await;
    let (_, preview) = c.preview(list, MIXED.as_bytes()).await;
    let rows = report_rows(&preview);

    let bad = row(&rows, 4);
    assert_eq!(bad.email, "pas-une-adresse");
    assert_eq!(bad.outcome, "Refusé");
    assert!(
        bad.reason.contains("Adresse invalide") && bad.reason.contains("@"),
        "{bad:?}"
    );
    let dup = row(&rows, 5);
    assert_eq!(dup.email, "CLAIRE.Martin@Exemple.FR");
    assert!(dup.reason.contains("Doublon de la ligne 2"), "{dup:?}");
    let gone = row(&rows, 6);
    assert_eq!(gone.email, "Parti@Exemple.fr");
    assert!(
        gone.reason.contains("désinscrite") && gone.reason.contains("jamais réimportée"),
        "{gone:?}"
    );
    let kind = row(&rows, 7);
    assert!(
        kind.reason.contains("Type « dentiste » inconnu"),
        "{kind:?}"
    );
    let missing = row(&rows, 8);
    assert!(
        missing
            .reason
            .contains("Ni adresse électronique ni adresse postale"),
        "{missing:?}"
    );
    // The first rows to add are shown too, with their names, as what the import would do.
    assert_eq!(row(&rows, 2).outcome, "À ajouter");
    assert_eq!(row(&rows, 3).outcome, "À ajouter");
    assert!(!row(&rows, 2).name.is_empty(), "{rows:?}");
    assert!(
        row(&rows, 2)
            .reason
            .contains("organisation « CHU d'Auch » créée"),
        "{rows:?}"
    );

    // The suppressed contact is never created, even once the import is applied.
    let (id, _) = c.preview(list, MIXED.as_bytes()).await;
    c.confirm(id).await;
    assert_eq!(
        app.count("SELECT count(*) FROM contacts WHERE lower(email) = 'parti@exemple.fr'"),
        0
    );
}

#[tokio::test]
async fn importing_the_same_file_twice_changes_nothing() {
    let app = spawn().await;
    let c = comms(&app).await;
    let list = c.create_list("Deux fois").await;
    let first = c.import(list, MIXED.as_bytes()).await;
    assert_eq!(shown_count(&first, "compte-ajoutes"), 2);
    let before = snapshot(&app);

    let (id, preview) = c.preview(list, MIXED.as_bytes()).await;
    assert_eq!(shown_count(&preview, "compte-ajoutes"), 0);
    assert_eq!(shown_count(&preview, "compte-ajoutes-liste"), 0);
    assert_eq!(shown_count(&preview, "compte-deja"), 2);
    assert_eq!(shown_count(&preview, "compte-refuses"), 5);
    let rows = report_rows(&preview);
    assert_eq!(row(&rows, 2).outcome, "Déjà connu et déjà dans la liste");
    let second = c.confirm(id).await;
    assert_eq!(shown_count(&second, "compte-deja"), 2);
    assert_eq!(snapshot(&app), before);
}

#[tokio::test]
async fn a_known_address_is_completed_but_never_overwritten() {
    let app = TestApp::spawn().await;
    let c = comms(&app).await;
    let a = c.create_list("A").await;
    let b = c.create_list("B").await;
    c.import(
        a,
        b"email,nom,type,etiquettes\njeanne@exemple.fr,Dupont,interne,gers\n",
    )
    .await;
    let html = c
        .import(
            b,
            b"email,prenom,nom,ville,type,etiquettes\nJEANNE@exemple.fr,Jeanne,Martin,Auch,partenaire,gers;salon\n",
        )
        .await;
    assert_eq!(shown_count(&html, "compte-ajoutes-liste"), 1);
    assert_eq!(
        app.text("SELECT email || '/' || first_name || '/' || last_name || '/' || city || '/' || kind || '/' || array_to_string(tags, '|') FROM contacts"),
        Some("jeanne@exemple.fr/Jeanne/Dupont/Auch/interne/gers|salon".to_owned())
    );
    assert_eq!(app.count("SELECT count(*) FROM list_members"), 2);
}

#[tokio::test]
async fn an_export_imports_back_unchanged() {
    let app = TestApp::spawn().await;
    let c = comms(&app).await;
    let a = c.create_list("Source").await;
    c.import(
        a,
        "email;prenom;nom;organisation;type;etiquettes;ville;base_legale\n\
         -tiret@exemple.fr;=Formule;O'Brien;Faculté, Toulouse;faculte;a|b c;L'Isle-Jourdain;consentement\n\
         paul@exemple.fr;Paul;;;medecin_retraite;;;mission_publique\n"
            .as_bytes(),
    )
    .await;

    let r = c
        .staff
        .get(&format!("/contacts/export.csv?liste={a}"))
        .await;
    assert_eq!(r.status(), 200);
    let disposition = r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(disposition.starts_with("attachment;"), "{disposition}");
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let exported = r.bytes().await.unwrap().to_vec();
    assert!(exported.starts_with(
        "\u{feff}email;prenom;nom;organisation;type;etiquettes;ville;base_legale".as_bytes()
    ));
    // Formula-looking cells are neutralised for spreadsheets.
    assert!(String::from_utf8_lossy(&exported).contains("'=Formule"));

    let before = snapshot(&app);
    let b = c.create_list("Copie").await;
    let html = c.import(b, &exported).await;
    assert_eq!(shown_count(&html, "compte-refuses"), 0);
    assert_eq!(shown_count(&html, "compte-ajoutes"), 0);
    assert_eq!(shown_count(&html, "compte-ajoutes-liste"), 2);
    let after = snapshot(&app);
    assert_eq!(after.0, before.0, "no new contact");
    assert_eq!(after.4, before.4, "no contact changed");
    let copy = c
        .staff
        .get(&format!("/contacts/export.csv?liste={b}"))
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(copy.to_vec(), exported);
}

#[tokio::test]
async fn a_deleted_contact_stays_suppressed_and_a_reimport_refuses_it() {
    let app = TestApp::spawn().await;
    let c = comms(&app).await;
    let list = c.create_list("Retraités").await;
    let file = b"email,prenom,type\nrene@exemple.fr,Ren\xc3\xa9,medecin_retraite\nodette@exemple.fr,Odette,medecin_retraite\n";
    c.import(list, file).await;

    let r = c
        .staff
        .post_form(
            "/contacts/desinscriptions",
            &[
                ("csrf", &c.csrf),
                ("courriel", "Rene@Exemple.fr"),
                ("note", "appel du 3 mars"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let (_, page) = c.staff.get_html("/contacts/desinscriptions?q=rene").await;
    assert!(
        page.contains("rene@exemple.fr") && page.contains("Ajout manuel"),
        "{page}"
    );
    assert_eq!(
        app.text("SELECT status FROM contacts WHERE email = 'rene@exemple.fr'"),
        Some("unsubscribed".to_owned())
    );

    let id = app.count("SELECT id FROM contacts WHERE email = 'rene@exemple.fr'");
    let (status, confirm) = c.staff.get_html(&format!("/contacts/{id}/supprimer")).await;
    assert_eq!(status, 200);
    assert!(confirm.contains("Supprimer définitivement"), "{confirm}");
    assert_eq!(
        app.count("SELECT count(*) FROM contacts"),
        2,
        "a GET deletes nothing"
    );
    let r = c
        .staff
        .post_form(&format!("/contacts/{id}/supprimer"), &[("csrf", &c.csrf)])
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        app.count("SELECT count(*) FROM contacts WHERE email = 'rene@exemple.fr'"),
        0
    );
    assert_eq!(
        app.text("SELECT reason FROM suppressions WHERE email = 'rene@exemple.fr'"),
        Some("manuelle".to_owned())
    );

    let (_, preview) = c.preview(list, file).await;
    let rows = report_rows(&preview);
    assert_eq!(row(&rows, 2).outcome, "Refusé");
    assert!(
        row(&rows, 2).reason.contains("jamais réimportée"),
        "{rows:?}"
    );
    assert_eq!(row(&rows, 3).outcome, "Déjà connu et déjà dans la liste");
    let (id, _) = c.preview(list, file).await;
    c.confirm(id).await;
    assert_eq!(
        app.count("SELECT count(*) FROM contacts WHERE email = 'rene@exemple.fr'"),
        0
    );
    // No address in the audit log.
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE detail LIKE '%@%'"),
        0
    );
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action IN ('suppression_contact', 'desinscription_manuelle')"),
        2
    );
}

fn contact_fields(csrf: &str, email: &str) -> Vec<(&'static str, String)> {
    [
        ("csrf", csrf),
        ("courriel", email),
        ("prenom", "Anne"),
        ("nom", "<script>alert(1)</script>"),
        ("organisation", ""),
        ("type", "interne"),
        ("etiquettes", "promo 2027, Toulouse"),
        ("ville", "Toulouse"),
        ("base_legale", "consentement"),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_owned()))
    .collect()
}

async fn post(
    staff: &StaffClient,
    path: &str,
    fields: &[(&'static str, String)],
) -> reqwest::Response {
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    staff.post_form(path, &pairs).await
}

#[tokio::test]
async fn a_contact_is_added_and_edited_through_its_form() {
    let app = TestApp::spawn().await;
    let c = comms(&app).await;
    let (status, _) = c.staff.get_html("/contacts/nouveau").await;
    assert_eq!(status, 200);

    let r = post(
        &c.staff,
        "/contacts/nouveau",
        &contact_fields(&c.csrf, "anne.exemple.fr"),
    )
    .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(
        field_error(&html, "courriel").unwrap().contains("@"),
        "{html}"
    );
    assert!(html.contains("value=\"Anne\""), "values are kept");
    assert!(
        html.contains("href=\"#courriel\""),
        "the summary links to the field"
    );
    assert!(!html.contains("<script>alert"), "shown escaped");
    assert_eq!(app.count("SELECT count(*) FROM contacts"), 0);

    let r = post(
        &c.staff,
        "/contacts/nouveau",
        &contact_fields(&c.csrf, "Anne@Exemple.fr"),
    )
    .await;
    assert_eq!(r.status(), 303);
    let page = location(&r);
    let (status, html) = c.staff.get_html(&page).await;
    assert_eq!(status, 200);
    assert!(html.contains("Le contact est enregistré"));
    assert_eq!(
        app.text("SELECT last_name || '/' || array_to_string(tags, '|') FROM contacts"),
        Some("<script>alert(1)</script>/promo 2027|Toulouse".to_owned())
    );
    // Edited: a new city.
    let mut changed = contact_fields(&c.csrf, "Anne@Exemple.fr");
    changed.retain(|(k, _)| *k != "ville");
    changed.push(("ville", "Auch".to_owned()));
    let r = post(&c.staff, &page.replace("?enregistre=1", ""), &changed).await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        app.text("SELECT city FROM contacts"),
        Some("Auch".to_owned())
    );

    // The same address in other letters is refused.
    let r = post(
        &c.staff,
        "/contacts/nouveau",
        &contact_fields(&c.csrf, "ANNE@exemple.fr"),
    )
    .await;
    assert_eq!(r.status(), 422);
    // A suppressed address cannot be added by hand either.
    vocation::campaigns::suppression::suppress(
        &mut app.conn(),
        "bounce@exemple.fr",
        SuppressionReason::UnknownMailbox,
        "550",
    )
    .unwrap();
    let r = post(
        &c.staff,
        "/contacts/nouveau",
        &contact_fields(&c.csrf, "bounce@exemple.fr"),
    )
    .await;
    assert_eq!(r.status(), 422);
    assert!(field_error(&r.text().await.unwrap(), "courriel")
        .unwrap()
        .contains("désinscriptions"));

    // Search finds the contact by part of a name, filters by kind.
    let (_, list) = c.staff.get_html("/contacts?q=anne&type=interne").await;
    assert!(list.contains("Anne@Exemple.fr"), "{list}");
    let (_, list) = c.staff.get_html("/contacts?q=anne&type=faculte").await;
    assert!(!list.contains("Anne@Exemple.fr"));
}

#[tokio::test]
async fn recruiters_get_403_on_every_audience_page() {
    let app = TestApp::spawn().await;
    let recruiter = app.staff(StaffRole::Recruiter).await;
    for path in [
        "/contacts",
        "/contacts/nouveau",
        "/contacts/import",
        "/contacts/export.csv",
        "/contacts/desinscriptions",
        "/contacts/organisations",
        "/listes",
    ] {
        let (status, _) = recruiter.get_html(path).await;
        assert_eq!(status, 403, "GET {path}");
    }
    let csrf = recruiter.csrf().await;
    let r = recruiter
        .post_form("/listes", &[("csrf", &csrf), ("nom", "Pirate")])
        .await;
    assert_eq!(r.status(), 403);
    let r = recruiter
        .post_form(
            "/contacts/desinscriptions",
            &[("csrf", &csrf), ("courriel", "x@exemple.fr")],
        )
        .await;
    assert_eq!(r.status(), 403);
    assert_eq!(app.count("SELECT count(*) FROM contact_lists"), 0);
    assert_eq!(app.count("SELECT count(*) FROM suppressions"), 0);
    // Without a session: to the sign-in page.
    let r = app.get("/contacts").await;
    assert_eq!(r.status(), 303);
}

#[tokio::test]
async fn posts_without_the_csrf_token_write_nothing() {
    let app = TestApp::spawn().await;
    let c = comms(&app).await;
    let r = c.staff.post_form("/listes", &[("nom", "Sans jeton")]).await;
    assert_eq!(r.status(), 403);
    let list = c.create_list("Avec jeton").await;
    let bad = Comms {
        staff: StaffClient {
            client: c.staff.client.clone(),
            base: c.staff.base.clone(),
        },
        csrf: "faux".to_owned(),
    };
    let r = bad.upload(list, MIXED.as_bytes(), "medecin", "").await;
    assert_eq!(r.status(), 403);
    assert_eq!(app.count("SELECT count(*) FROM contact_imports"), 0);
    let r = c.staff.get("/contacts/organisations/facultes").await;
    assert_eq!(r.status(), 405, "a GET changes nothing");
    assert_eq!(app.count("SELECT count(*) FROM organisations"), 0);
}

#[tokio::test]
async fn an_unreadable_upload_is_refused_with_the_reason_at_its_field() {
    let app = TestApp::spawn().await;
    let c = comms(&app).await;
    let list = c.create_list("Erreurs").await;
    let r = c
        // Neither UTF-8 nor Windows-1252 (Excel's): 0x81 and 0x8D are undefined in both.
        .upload(
            list,
            b"email\nok@exemple.fr\nmal\x81\x8d@exemple.fr\n",
            "",
            "",
        )
        .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    let message = field_error(&html, "fichier").unwrap();
    assert!(
        message.contains("UTF-8") && message.contains("ligne 3"),
        "{message}"
    );
    let r = c.upload(list, b"nom;prenom\nDupont;Jean\n", "", "").await;
    assert_eq!(r.status(), 422);
    assert!(field_error(&r.text().await.unwrap(), "fichier")
        .unwrap()
        .contains("email"));
    assert_eq!(app.count("SELECT count(*) FROM contact_imports"), 0);

    // Pasted content works as well as a file.
    let form = reqwest::multipart::Form::new()
        .text("csrf", c.csrf.clone())
        .text("liste", list.to_string())
        .text("type", "interne")
        .text("base_legale", "interet_legitime")
        .text("contenu", "email\ncolle@exemple.fr\n");
    let r = c.staff.post_multipart("/contacts/import", form).await;
    assert_eq!(r.status(), 303);
    let (_, preview) = c.staff.get_html(&location(&r)).await;
    assert_eq!(shown_count(&preview, "compte-ajoutes"), 1);
}

#[tokio::test]
async fn the_faculties_load_once_as_37_organisations() {
    let app = TestApp::spawn().await;
    let c = comms(&app).await;
    for expected in ["facultes=37", "facultes=0"] {
        let r = c
            .staff
            .post_form("/contacts/organisations/facultes", &[("csrf", &c.csrf)])
            .await;
        assert_eq!(r.status(), 303);
        assert!(location(&r).ends_with(expected), "{}", location(&r));
    }
    assert_eq!(app.count("SELECT count(*) FROM organisations"), 37);
    assert_eq!(
        app.count("SELECT count(*) FROM organisations WHERE kind = 'faculte'"),
        37
    );
    assert_eq!(
        vocation::campaigns::organisations::load_faculties(&mut app.conn()).unwrap(),
        0
    );
    let (_, html) = c.staff.get_html("/contacts/organisations").await;
    assert!(html
        .contains("Faculté de médecine Jacques Lisfranc – Université Jean Monnet Saint-Étienne"));
    // A contact can be attached to one of them.
    let (_, form) = c.staff.get_html("/contacts/nouveau").await;
    assert!(
        form.contains("Faculté de médecine – Sorbonne Université (Paris)"),
        "{form}"
    );
}

fn vocation_cli(db: &TestDatabase) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vocation"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    for (k, _) in std::env::vars() {
        if k.starts_with("VOCATION") {
            c.env_remove(k);
        }
    }
    c.env("VOCATION__DATABASE__URL", &db.url);
    c
}

#[test]
fn the_cli_imports_a_file_into_a_new_list_and_prints_the_report() {
    let db = TestDatabase::create();
    let dir = crate::helpers::TempDir::new();
    let file = dir.0.join("internes.csv");
    std::fs::write(
        &file,
        "email;prenom;nom\nines@exemple.fr;Inès;Roux\npas-une-adresse;X;Y\nhugo@exemple.fr;Hugo;Petit\nINES@exemple.fr;;\n",
    )
    .unwrap();
    let out = vocation_cli(&db)
        .args(["contacts", "import", "--list", "Internes 2027"])
        .arg(&file)
        .args(["--type", "interne", "--base-legale", "interet_legitime"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("Liste « Internes 2027 » (créée)."),
        "{stdout}"
    );
    assert!(stdout.contains("4 lignes lues : 2 ajoutés, 0 déjà connus ajoutés à la liste, 0 déjà dans la liste, 2 refusés."), "{stdout}");
    assert!(
        stdout.contains("ligne 3 – pas-une-adresse : Adresse invalide."),
        "{stdout}"
    );
    assert!(
        stdout.contains("ligne 5 – INES@exemple.fr : Doublon de la ligne 2"),
        "{stdout}"
    );

    // Again: nothing changes, and the report says so.
    let out = vocation_cli(&db)
        .args([
            "contacts",
            "import",
            "--list",
            "internes 2027",
            "--type",
            "interne",
            "--base-legale",
            "interet_legitime",
        ])
        .arg(&file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(stdout.contains("Liste « Internes 2027 »."), "{stdout}");
    assert!(
        stdout.contains(
            "0 ajoutés, 0 déjà connus ajoutés à la liste, 2 déjà dans la liste, 2 refusés"
        ),
        "{stdout}"
    );

    // Export, then import the export into another list: the same contacts, nothing rejected.
    let out = vocation_cli(&db)
        .args(["contacts", "export", "--list", "Internes 2027"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let exported = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        exported,
        "email;prenom;nom;organisation;type;etiquettes;ville;base_legale;adresse_complement;\
         adresse_batiment;adresse_voie;adresse_lieu_dit;code_postal;commune_postale;pays\n\
         ines@exemple.fr;Inès;Roux;;interne;;;interet_legitime;;;;;;;\n\
         hugo@exemple.fr;Hugo;Petit;;interne;;;interet_legitime;;;;;;;\n"
    );
    let copy = dir.0.join("copie.csv");
    std::fs::write(&copy, &exported).unwrap();
    let out = vocation_cli(&db)
        .args(["contacts", "import", "--list", "Copie"])
        .arg(&copy)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("2 lignes lues : 0 ajoutés, 2 déjà connus ajoutés à la liste, 0 déjà dans la liste, 0 refusés."), "{stdout}");

    // A file that cannot be read: a message and a failure code.
    let out = vocation_cli(&db)
        .args(["contacts", "import", "--list", "X"])
        .arg(dir.0.join("absent.csv"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("impossible"));
    let latin1 = dir.0.join("latin1.csv");
    // Windows-1252 is read (issue 18); bytes it leaves undefined are not.
    std::fs::write(&latin1, b"email;nom\nh@exemple.fr;Ren\x81\n").unwrap();
    let out = vocation_cli(&db)
        .args(["contacts", "import", "--list", "X"])
        .arg(&latin1)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("UTF-8") && stderr.contains("ligne 2"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_contact_joins_and_leaves_lists_from_its_page_and_the_list_page() {
    let app = TestApp::spawn().await;
    let c = comms(&app).await;
    let a = c.create_list("Salon MG 2026").await;
    let b = c.create_list("Relance").await;
    c.import(a, b"email,type\nmarc@exemple.fr,medecin\n").await;
    let id = app.count("SELECT id FROM contacts");

    let (_, page) = c.staff.get_html(&format!("/contacts/{id}")).await;
    assert!(
        page.contains("Salon MG 2026") && page.contains("Ajouter à la liste"),
        "{page}"
    );
    let r = c
        .staff
        .post_form(
            &format!("/contacts/{id}/listes"),
            &[("csrf", &c.csrf), ("liste", &b.to_string())],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM list_members WHERE contact_id = {id}"
        )),
        2
    );

    let (_, lists) = c.staff.get_html("/listes").await;
    assert!(lists.contains("Relance"), "{lists}");
    let r = c
        .staff
        .post_form(
            &format!("/listes/{b}/membres/{id}/retirer"),
            &[("csrf", &c.csrf)],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), format!("/listes/{b}?retire=1"));
    let r = c
        .staff
        .post_form(
            &format!("/listes/{a}/membres/{id}/retirer"),
            &[("csrf", &c.csrf), ("retour", "contact")],
        )
        .await;
    assert_eq!(location(&r), format!("/contacts/{id}"));
    assert_eq!(app.count("SELECT count(*) FROM list_members"), 0);
    assert_eq!(
        app.count("SELECT count(*) FROM contacts"),
        1,
        "the contact itself stays"
    );

    // The import page only takes multipart bodies.
    let r = c
        .staff
        .post_form(
            "/contacts/import",
            &[("csrf", &c.csrf), ("liste", &a.to_string())],
        )
        .await;
    assert_eq!(r.status(), 415);
}

#[test]
fn a_large_file_goes_through_in_chunks_with_duplicates_and_organisations_across_them() {
    use vocation::campaigns::{contacts, import};
    let db = TestDatabase::create();
    let mut conn = db.connect();
    let mut csv = String::from("email,organisation,type,base_legale\n");
    for i in 0..12_000 {
        let org = if i % 5_500 == 0 {
            "Centre hospitalier d'Auch"
        } else {
            ""
        };
        csv.push_str(&format!("m{i}@exemple.fr,{org},medecin,interet_legitime\n"));
    }
    // Line 2's address again, two chunks later, in other letters.
    csv.push_str("M0@EXEMPLE.FR,,medecin,interet_legitime\n");
    let (list, _) = contacts::ensure_list(&mut conn, "Grande").unwrap().unwrap();
    let (_, report) = import::import_file(
        &mut conn,
        list,
        None,
        "grande.csv",
        csv.as_bytes(),
        import::Defaults::default(),
    )
    .unwrap()
    .unwrap();
    assert_eq!(report.counts.rows, 12_001);
    assert_eq!(report.counts.added, 12_000);
    assert_eq!(report.counts.rejected, 1);
    assert_eq!(report.rejected[0].line, 12_002);
    assert!(report.rejected[0].reason.contains("Doublon de la ligne 2"));
    assert_eq!(report.new_organisations, ["Centre hospitalier d'Auch"]);
    use diesel::prelude::*;
    use vocation::db::schema::{contacts as c, list_members, organisations};
    assert_eq!(
        organisations::table
            .count()
            .get_result::<i64>(&mut conn)
            .unwrap(),
        1
    );
    let with_org: Vec<Option<i64>> = c::table
        .filter(c::organisation_id.is_not_null())
        .select(c::organisation_id)
        .load(&mut conn)
        .unwrap();
    assert_eq!(with_org.len(), 3, "rows 0, 5500 and 11000");
    assert!(with_org.iter().all(|o| *o == with_org[0]));
    assert_eq!(
        list_members::table
            .count()
            .get_result::<i64>(&mut conn)
            .unwrap(),
        12_000
    );

    let (_, again) = import::import_file(
        &mut conn,
        list,
        None,
        "grande.csv",
        csv.as_bytes(),
        import::Defaults::default(),
    )
    .unwrap()
    .unwrap();
    assert_eq!(again.counts.already_in_list, 12_000);
    assert_eq!(again.counts.rejected, 1);
    assert_eq!(again.counts.organisations_created, 0);
}
