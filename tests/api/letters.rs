//! Letters (issue 19): postal addresses (form and CSV import with its report), letter
//! campaigns produced into the ledger with personal codes, the print shop's PDF checked with
//! real tools (qpdf, pdftotext, pdftoppm + zbarimg), the CSV in the same postal order, the
//! personal link `/c/{code}` attributing an application to the letter, « ne plus écrire », and
//! what outsiders cannot do.

use std::path::Path;
use std::process::Command;

use vocation::db::enums::{StaffRole, SuppressionReason};

use crate::helpers::{field_error, hidden_value, Fields, StaffClient, TestApp};

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

fn bare() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn scratch() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("letters-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("tool installed");
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn qpdf_check(pdf: &Path) {
    run(Command::new("qpdf").arg("--check").arg(pdf));
}

fn pdf_text(pdf: &Path) -> String {
    run(Command::new("pdftotext").arg("-layout").arg(pdf).arg("-"))
}

/// Every QR code of every page, decoded.
fn qr_links(pdf: &Path, dir: &Path) -> Vec<String> {
    let prefix = dir.join("page");
    run(Command::new("pdftoppm")
        .args(["-r", "150", "-png"])
        .arg(pdf)
        .arg(&prefix));
    let mut pages: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "png"))
        .collect();
    pages.sort();
    let mut links = Vec::new();
    for page in pages {
        // zbarimg exits 4 when a page has no code (a continuation page).
        let out = Command::new("zbarimg")
            .args(["--raw", "-q"])
            .arg(&page)
            .output()
            .expect("zbarimg installed");
        links.extend(
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter(|l| !l.is_empty())
                .map(str::to_owned),
        );
    }
    links
}

/// Runs a statement (setup of a test).
fn exec(app: &TestApp, sql: &str) {
    use diesel::RunQueryDsl;
    diesel::sql_query(sql).execute(&mut app.conn()).expect(sql);
}

#[derive(diesel::QueryableByName)]
struct Id {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
}

/// Inserts a contact with an address; its id.
fn contact(app: &TestApp, email: &str, first: &str, last: &str, address: [&str; 4]) -> i64 {
    use diesel::sql_types::Text;
    use diesel::RunQueryDsl;
    let [street, postcode, town, country] = address;
    diesel::sql_query(
        "INSERT INTO contacts (email, first_name, last_name, kind, legal_basis, \
             address_street, postcode, postal_town, country) \
         VALUES ($1, $2, $3, 'medecin_retraite', 'interet_legitime', $4, $5, upper($6), $7) \
         RETURNING id",
    )
    .bind::<Text, _>(email)
    .bind::<Text, _>(first)
    .bind::<Text, _>(last)
    .bind::<Text, _>(street)
    .bind::<Text, _>(postcode)
    .bind::<Text, _>(town)
    .bind::<Text, _>(country)
    .get_result::<Id>(&mut app.conn())
    .unwrap()
    .id
}

fn list_of(app: &TestApp, name: &str, contacts: &[i64]) -> i64 {
    use diesel::RunQueryDsl;
    let list = diesel::sql_query("INSERT INTO contact_lists (name) VALUES ($1) RETURNING id")
        .bind::<diesel::sql_types::Text, _>(name)
        .get_result::<Id>(&mut app.conn())
        .unwrap()
        .id;
    for c in contacts {
        exec(
            app,
            &format!("INSERT INTO list_members (list_id, contact_id) VALUES ({list}, {c})"),
        );
    }
    list
}

const BODY: &str = "Bonjour {{nom_complet}},\n\nLe Gers recrute des médecins salariés : \
                    écrivez-nous, ou candidatez en ligne.\n\nÀ bientôt, peut-être, à Auch.";

impl Comms {
    /// Creates a letter campaign through its form; its id.
    async fn letter_campaign(&self, name: &str, lists: &[i64]) -> i64 {
        let lists: Vec<String> = lists.iter().map(i64::to_string).collect();
        let mut fields = vec![
            ("csrf", self.csrf.as_str()),
            ("nom", name),
            (
                "objet",
                "Exercer à l'hôpital ? Non : en centre de santé, {{prenom}}",
            ),
            ("texte", BODY),
        ];
        for l in &lists {
            fields.push(("listes", l));
        }
        let r = self.staff.post_form("/courriers/nouveau", &fields).await;
        assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
        let path = location(&r);
        path.trim_start_matches("/courriers/")
            .split('?')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    }

    async fn produce(&self, id: i64) {
        let r = self
            .staff
            .post_form(
                &format!("/courriers/{id}/produire"),
                &[("csrf", &self.csrf)],
            )
            .await;
        assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
        assert_eq!(location(&r), format!("/courriers/{id}?fait=produite"));
    }

    async fn download(&self, path: &str) -> (String, Vec<u8>) {
        let r = self.staff.get(path).await;
        assert_eq!(r.status(), 200, "{path}");
        let kind = r.headers()["content-type"].to_str().unwrap().to_owned();
        (kind, r.bytes().await.unwrap().to_vec())
    }
}

#[tokio::test]
async fn an_address_import_keeps_the_good_rows_and_reports_each_bad_one() {
    let app = TestApp::spawn().await;
    let c = comms(&app).await;
    let r = c
        .staff
        .post_form("/listes", &[("csrf", &c.csrf), ("nom", "Retraités")])
        .await;
    let list: i64 = location(&r).trim_start_matches("/listes/").parse().unwrap();
    let long = "12 avenue du Maréchal de Lattre de Tassigny prolongée";
    let csv = format!(
        "email;prenom;nom;adresse_complement;adresse_batiment;adresse_voie;adresse_lieu_dit;\
         code_postal;commune_postale;pays\n\
         anne@exemple.fr;Anne;Roux;Appartement 4;;3 rue Gambetta;;32000;Auch;\n\
         bob@exemple.fr;Bob;Lenoir;;;Rue Haute 5;;B-1000;Bruxelles;Belgique\n\
         carl@exemple.fr;Carl;Petit;;;{long};;32100;Condom;\n\
         dora@exemple.fr;Dora;Blanc;;;8 place de la Mairie;;;Mirande;\n\
         eve@exemple.fr;Eve;Noir;Chez M. Dupont;Bâtiment C;1 calle Mayor;Apartado 12;28001;Madrid;Espagne\n\
         fred@exemple.fr;Fred;Gris;;;;;;;\n"
    );
    let form = reqwest::multipart::Form::new()
        .text("csrf", c.csrf.clone())
        .text("liste", list.to_string())
        .text("type", "medecin_retraite")
        .text("base_legale", "interet_legitime")
        .text("contenu", "")
        .part(
            "fichier",
            reqwest::multipart::Part::bytes(csv.into_bytes())
                .file_name("adresses.csv")
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

    // The good rows: a French address, one abroad, a contact without any address.
    assert_eq!(
        app.text("SELECT postcode || ' ' || postal_town || '|' || address_complement || '|' || address_street FROM contacts WHERE email = 'anne@exemple.fr'").as_deref(),
        Some("32000 AUCH|Appartement 4|3 rue Gambetta")
    );
    assert_eq!(
        app.text("SELECT country FROM contacts WHERE email = 'bob@exemple.fr'")
            .as_deref(),
        Some("BELGIQUE")
    );
    assert_eq!(
        app.text("SELECT postal_town FROM contacts WHERE email = 'fred@exemple.fr'")
            .as_deref(),
        Some("")
    );
    // The bad ones are reported with their reason, and nothing was cut or stored.
    for (email, why) in [
        ("carl@exemple.fr", "38 caractères au plus"),
        ("dora@exemple.fr", "code postal"),
        ("eve@exemple.fr", "6 lignes au plus"),
    ] {
        assert_eq!(
            app.count(&format!(
                "SELECT count(*) FROM contacts WHERE email = '{email}'"
            )),
            0,
            "{email}"
        );
        let doc = scraper::Html::parse_document(&report);
        let tr = scraper::Selector::parse("tr").unwrap();
        let line = doc
            .select(&tr)
            .map(|r| r.text().collect::<String>())
            .find(|t| t.contains(email))
            .unwrap_or_else(|| panic!("{email} not in the report: {report}"));
        assert!(line.contains("Adresse postale refusée"), "{line}");
        assert!(line.contains(why), "{email}: {line}");
    }
    assert_eq!(app.count("SELECT count(*) FROM contacts"), 3);
}

#[tokio::test]
async fn the_contact_form_checks_the_address_and_keeps_what_was_typed() {
    let app = TestApp::spawn().await;
    let c = comms(&app).await;
    let id = contact(
        &app,
        "gilles@exemple.fr",
        "Gilles",
        "Martin",
        ["", "", "", ""],
    );
    let long = "x".repeat(39);
    let fields = [
        ("csrf", c.csrf.as_str()),
        ("courriel", "gilles@exemple.fr"),
        ("prenom", "Gilles"),
        ("nom", "Martin"),
        ("type", "medecin_retraite"),
        ("base_legale", "interet_legitime"),
        ("adresse_voie", long.as_str()),
        ("code_postal", "3200"),
        ("commune_postale", "Auch"),
    ];
    let r = c.staff.post_form(&format!("/contacts/{id}"), &fields).await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(field_error(&html, "adresse_voie").unwrap().contains("38"));
    assert!(field_error(&html, "code_postal").unwrap().contains("32000"));
    assert_eq!(hidden_or_value(&html, "adresse_voie"), long);
    assert_eq!(hidden_or_value(&html, "commune_postale"), "Auch");
    assert_eq!(
        app.text(&format!(
            "SELECT address_street FROM contacts WHERE id = {id}"
        ))
        .as_deref(),
        Some("")
    );
    let fields = [
        ("csrf", c.csrf.as_str()),
        ("courriel", "gilles@exemple.fr"),
        ("prenom", "Gilles"),
        ("nom", "Martin"),
        ("type", "medecin_retraite"),
        ("base_legale", "interet_legitime"),
        ("adresse_voie", "5 rue Victor Hugo"),
        ("code_postal", "32000"),
        ("commune_postale", "Auch"),
        ("ne_plus_ecrire", "on"),
    ];
    let r = c.staff.post_form(&format!("/contacts/{id}"), &fields).await;
    assert!(
        r.status().is_redirection() || r.status() == 200,
        "{}",
        r.status()
    );
    assert_eq!(
        app.text(&format!(
            "SELECT address_street || '|' || postcode || ' ' || postal_town || '|' || (no_letters_at IS NOT NULL) FROM contacts WHERE id = {id}"
        ))
        .as_deref(),
        Some("5 rue Victor Hugo|32000 AUCH|true")
    );
}

fn hidden_or_value(html: &str, name: &str) -> String {
    hidden_value(html, name)
}

/// The letters' contacts: three who get one (postcodes out of order), and one of each
/// reason to get none.
struct Audience {
    list: i64,
    /// (contact id, postcode) of those who get a letter, in postal order.
    letters: Vec<(i64, &'static str, &'static str)>,
}

fn audience(app: &TestApp) -> Audience {
    let zoe = contact(
        app,
        "zoe@exemple.fr",
        "Zoé",
        "Lefèvre",
        ["2 chemin d'En Naudet", "32700", "Lectoure", ""],
    );
    let abel = contact(
        app,
        "abel@exemple.fr",
        "Abel",
        "Œuvray",
        ["14 rue de l'Église", "31000", "Toulouse", ""],
    );
    let marc = contact(
        app,
        "marc@exemple.fr",
        "Marc",
        "Dubois",
        ["7 allée des Tilleuls", "32000", "Auch", ""],
    );
    let gone = contact(
        app,
        "gone@exemple.fr",
        "Gaston",
        "Parti",
        ["1 rue A", "32000", "Auch", ""],
    );
    exec(
        app,
        &format!("UPDATE contacts SET status = 'unsubscribed' WHERE id = {gone}"),
    );
    let late = contact(
        app,
        "late@exemple.fr",
        "Léon",
        "Défunt",
        ["1 rue B", "32000", "Auch", ""],
    );
    exec(
        app,
        &format!("UPDATE contacts SET deceased = true WHERE id = {late}"),
    );
    let stop = contact(
        app,
        "stop@exemple.fr",
        "Sophie",
        "Stop",
        ["1 rue C", "32000", "Auch", ""],
    );
    exec(
        app,
        &format!("UPDATE contacts SET no_letters_at = now() WHERE id = {stop}"),
    );
    let nowhere = contact(
        app,
        "nowhere@exemple.fr",
        "Nina",
        "Sansadresse",
        ["", "", "", ""],
    );
    let blocked = contact(
        app,
        "blocked@exemple.fr",
        "Bruno",
        "Bloqué",
        ["1 rue D", "32000", "Auch", ""],
    );
    vocation::campaigns::suppression::suppress(
        &mut app.conn(),
        "blocked@exemple.fr",
        SuppressionReason::Manual,
        "",
    )
    .unwrap();
    let list = list_of(
        app,
        "Médecins retraités",
        &[zoe, abel, marc, gone, late, stop, nowhere, blocked],
    );
    Audience {
        list,
        letters: vec![
            (abel, "31000", "Abel Œuvray"),
            (marc, "32000", "Marc Dubois"),
            (zoe, "32700", "Zoé Lefèvre"),
        ],
    }
}

#[tokio::test]
async fn a_letter_campaign_prints_in_postal_order_and_its_codes_lead_to_attributed_applications() {
    let app = TestApp::spawn().await;
    let c = comms(&app).await;
    let who = audience(&app);
    let id = c.letter_campaign("Lettre aux retraités", &[who.list]).await;
    let (status, page) = c.staff.get_html(&format!("/courriers/{id}")).await;
    assert_eq!(status, 200);
    assert!(page.contains("3 courriers"), "{page}");
    c.produce(id).await;

    // The ledger: one finished run, a delivery per letter, each with its own code.
    assert_eq!(
        app.text(&format!(
            "SELECT status FROM campaign_runs WHERE campaign_id = {id}"
        ))
        .as_deref(),
        Some("termine")
    );
    let mut codes = Vec::new();
    for (contact, _, _) in &who.letters {
        let code = app
            .text(&format!(
                "SELECT d.letter_code FROM deliveries d JOIN campaign_runs r ON r.id = d.run_id \
                 WHERE r.campaign_id = {id} AND d.contact_id = {contact}"
            ))
            .expect("a letter");
        assert_eq!(code.len(), 8);
        codes.push(code);
    }
    assert_eq!(
        app.count("SELECT count(*) FROM deliveries WHERE letter_code IS NOT NULL"),
        3
    );
    let (_, page) = c.staff.get_html(&format!("/courriers/{id}")).await;
    for why in [
        "désinscrit",
        "décédé",
        "ne plus recevoir",
        "sans adresse postale",
    ] {
        assert!(page.contains(why), "{why}: {page}");
    }
    // The e-mail senders never see a letter.
    let claim =
        vocation::campaigns::sending::claim(&mut app.conn(), chrono::Utc::now(), 100, 60, None)
            .unwrap();
    assert!(matches!(claim, vocation::campaigns::sending::Claim::Idle));

    // The print shop's PDF: valid, addresses in postal order, each code, each QR code.
    let (kind, pdf) = c.download(&format!("/courriers/{id}/courriers.pdf")).await;
    assert_eq!(kind, "application/pdf");
    assert!(pdf.starts_with(b"%PDF-"));
    let dir = scratch();
    let file = dir.join("courriers.pdf");
    std::fs::write(&file, &pdf).unwrap();
    qpdf_check(&file);
    let text = pdf_text(&file);
    let mut last = 0;
    for ((_, postcode, name), code) in who.letters.iter().zip(&codes) {
        let at = text
            .find(name)
            .unwrap_or_else(|| panic!("{name} not in {text}"));
        assert!(at >= last, "{name} out of postal order");
        last = at;
        assert!(text[at..].contains(postcode));
        let shown = format!("{}-{}", &code[..4], &code[4..]);
        assert!(
            text.contains(&shown) || text.contains(code.as_str()),
            "{code} in {text}"
        );
    }
    for absent in ["Gaston", "Léon", "Sophie", "Nina", "Bruno"] {
        assert!(!text.contains(absent), "{absent} got a letter");
    }
    let links = qr_links(&file, &dir);
    let expected: Vec<String> = codes
        .iter()
        .map(|c| format!("http://vocation.test/c/{c}"))
        .collect();
    assert_eq!(links, expected);

    // The CSV: same order, the addresses, the codes.
    let (kind, csv) = c.download(&format!("/courriers/{id}/adresses.csv")).await;
    assert!(kind.starts_with("text/csv"), "{kind}");
    assert!(csv.starts_with("\u{feff}".as_bytes()));
    let csv = String::from_utf8(csv).unwrap();
    let lines: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(lines.len(), 3, "{csv}");
    for (i, ((_, postcode, name), code)) in who.letters.iter().zip(&codes).enumerate() {
        assert!(
            lines[i].contains(name) && lines[i].contains(postcode),
            "{}",
            lines[i]
        );
        assert!(lines[i].contains(&format!("{}-{}", &code[..4], &code[4..])));
    }

    // One letter on its own.
    let delivery = app.count(&format!(
        "SELECT id FROM deliveries WHERE letter_code = '{}'",
        codes[1]
    ));
    let (kind, one) = c
        .download(&format!("/courriers/{id}/lettres/{delivery}.pdf"))
        .await;
    assert_eq!(kind, "application/pdf");
    let single = dir.join("un.pdf");
    std::fs::write(&single, &one).unwrap();
    qpdf_check(&single);
    let text = pdf_text(&single);
    assert!(
        text.contains("Marc Dubois") && !text.contains("Zoé"),
        "{text}"
    );

    // Following a decoded link: a visit on the delivery, the form, an attributed application.
    let path = links[2].trim_start_matches("http://vocation.test");
    let r = bare().get(app.url(path)).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let to = location(&r);
    // The browser remembers the letter: coming back days later to the bare form, the doctor
    // is still attributed to it (the same signed cookie as a campaign e-mail's link).
    let remembered = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("vocation_suivi="))
        .expect("the letter's visit is remembered")
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let later = bare()
        .get(app.url("/candidature"))
        .header("cookie", remembered)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!hidden_value(&later, "suivi").is_empty());
    assert!(
        to.starts_with(&format!(
            "/candidature?utm_source=courrier&utm_medium=courrier&utm_campaign=campagne-{id}&suivi="
        )),
        "{to}"
    );
    let zoe_delivery = app.count(&format!(
        "SELECT id FROM deliveries WHERE letter_code = '{}'",
        codes[2]
    ));
    assert_eq!(
        app.count(&format!(
            "SELECT clicks FROM link_clicks WHERE delivery_id = {zoe_delivery}"
        )),
        1
    );
    let tokens = app.form_tokens(&to).await;
    let (_, html) = app.get_html(&to).await;
    let suivi = hidden_value(&html, "suivi");
    assert!(!suivi.is_empty());
    let fields = Fields::valid()
        .set("suivi", &suivi)
        .set("utm_source", "courrier")
        .set("utm_medium", "courrier")
        .set("utm_campaign", &format!("campagne-{id}"));
    let posted = app.post_application(&tokens, &fields, None).await;
    assert!(posted.status().is_redirection() || posted.status().is_success());
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM applications WHERE campaign_id = {id} \
             AND delivery_id = {zoe_delivery}"
        )),
        1
    );
    // /rapports shows the letter campaign as such.
    let (status, html) = c.staff.get_html("/rapports").await;
    assert_eq!(status, 200);
    assert!(
        html.contains("Lettre aux retraités") && html.contains("Courrier"),
        "{html}"
    );

    // Produced once: a second production is refused and adds nothing.
    let r = c
        .staff
        .post_form(&format!("/courriers/{id}/produire"), &[("csrf", &c.csrf)])
        .await;
    assert_eq!(r.status(), 409);
    assert_eq!(app.count("SELECT count(*) FROM deliveries"), 3);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn codes_that_stand_for_nothing_and_head_requests_do_nothing() {
    let app = TestApp::spawn().await;
    let c = comms(&app).await;
    let who = audience(&app);
    let id = c.letter_campaign("Lettre", &[who.list]).await;
    c.produce(id).await;
    let code = app
        .text("SELECT letter_code FROM deliveries ORDER BY id LIMIT 1")
        .unwrap();
    let client = bare();
    // Unknown, malformed, forged, over-long: the plain form, nothing recorded.
    let unknown = if code == "ZZZZZZZZ" {
        "YYYYYYYY"
    } else {
        "ZZZZZZZZ"
    };
    let long = "A".repeat(5000);
    for path in [
        format!("/c/{unknown}"),
        "/c/ABC".to_owned(),
        format!("/c/{}U", &code[..7]),
        format!("/c/{long}"),
        format!("/c/{code}.AAAAAAAAAAAAAAAAAAAAAA"),
    ] {
        let r = client.get(app.url(&path)).send().await.unwrap();
        assert_eq!(r.status(), 303, "{path}");
        assert_eq!(location(&r), "/candidature", "{path}");
    }
    // Control characters are refused before any handler, as everywhere.
    let r = client
        .get(app.url("/c/%00%01%02%03%04%05%06%07"))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());
    assert_eq!(app.count("SELECT count(*) FROM link_clicks"), 0);
    // HEAD (link checkers): the redirect, but no visit.
    let r = client
        .head(app.url(&format!("/c/{code}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert!(r.headers().get("set-cookie").is_none());
    assert_eq!(app.count("SELECT count(*) FROM link_clicks"), 0);
    // Lower case and a hyphen, as a person types the printed code, still work.
    let typed = format!("{}-{}", &code[..4], &code[4..]).to_lowercase();
    let r = client
        .get(app.url(&format!("/c/{typed}")))
        .send()
        .await
        .unwrap();
    assert!(location(&r).contains("utm_source=courrier"));
    assert_eq!(app.count("SELECT count(*) FROM link_clicks"), 1);
}

#[tokio::test]
async fn ne_plus_ecrire_is_recorded_from_the_code_page_and_later_letters_skip_the_contact() {
    let app = TestApp::spawn().await;
    let c = comms(&app).await;
    let who = audience(&app);
    let id = c.letter_campaign("Première lettre", &[who.list]).await;
    c.produce(id).await;
    let (contact, _, _) = who.letters[0];
    let code = app
        .text(&format!(
            "SELECT letter_code FROM deliveries WHERE contact_id = {contact}"
        ))
        .unwrap();
    let visitor = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap();
    // Unknown code: 404, the same page for every wrong code.
    let r = visitor
        .get(app.url("/c/ZZZZZZZZ/ne-plus-ecrire"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = visitor
        .get(app.url(&format!("/c/{}/ne-plus-ecrire", "9".repeat(300))))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // GET asks, changes nothing.
    let r = visitor
        .get(app.url(&format!("/c/{code}/ne-plus-ecrire")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("Ne plus m'écrire"), "{html}");
    let token = hidden_value(&html, "csrf");
    let stopped = |app: &TestApp| {
        app.count(&format!(
            "SELECT count(*) FROM contacts WHERE id = {contact} AND no_letters_at IS NOT NULL"
        ))
    };
    assert_eq!(stopped(&app), 0);
    // A POST without the page's token (a forged form elsewhere): 403, nothing written.
    let r = bare()
        .post(app.url(&format!("/c/{code}/ne-plus-ecrire")))
        .form(&[("csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = visitor
        .post(app.url(&format!("/c/{code}/ne-plus-ecrire")))
        .form(&[("csrf", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(stopped(&app), 0);
    // With it: recorded on the contact and in the journal.
    let r = visitor
        .post(app.url(&format!("/c/{code}/ne-plus-ecrire")))
        .form(&[("csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(stopped(&app), 1);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM audit_log WHERE action = 'contact.no_letters' AND entity_id = {contact}"
        )),
        1
    );
    // The next letter campaign leaves the contact out.
    let next = c.letter_campaign("Deuxième lettre", &[who.list]).await;
    c.produce(next).await;
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM deliveries d JOIN campaign_runs r ON r.id = d.run_id \
             WHERE r.campaign_id = {next}"
        )),
        2
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM deliveries d JOIN campaign_runs r ON r.id = d.run_id \
             WHERE r.campaign_id = {next} AND d.contact_id = {contact}"
        )),
        0
    );
}

#[tokio::test]
async fn the_letter_form_refuses_bad_input_at_its_field_and_keeps_it() {
    let app = TestApp::spawn().await;
    let c = comms(&app).await;
    let list = list_of(&app, "L", &[]);
    let list = list.to_string();
    let r = c
        .staff
        .post_form(
            "/courriers/nouveau",
            &[
                ("csrf", c.csrf.as_str()),
                ("nom", ""),
                ("objet", "Bonjour {{inconnue}}"),
                ("texte", "{{#each x}}{{/each}} <script>alert(1)</script>"),
                ("listes", list.as_str()),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(field_error(&html, "nom").is_some());
    assert!(field_error(&html, "objet").unwrap().contains("inconnue"));
    assert!(field_error(&html, "texte").is_some());
    assert!(html.contains("Bonjour {{inconnue}}"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!html.contains("<script>alert(1)"));
    // No list, a list that does not exist.
    let r = c
        .staff
        .post_form(
            "/courriers/nouveau",
            &[
                ("csrf", c.csrf.as_str()),
                ("nom", "x"),
                ("objet", "o"),
                ("texte", "t"),
                ("listes", "999999"),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    let r = c
        .staff
        .post_form(
            "/courriers/nouveau",
            &[
                ("csrf", c.csrf.as_str()),
                ("nom", "x"),
                ("objet", "o"),
                ("texte", "t"),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    // Without the token: refused, nothing written.
    let r = c
        .staff
        .post_form(
            "/courriers/nouveau",
            &[
                ("nom", "x"),
                ("objet", "o"),
                ("texte", "t"),
                ("listes", list.as_str()),
            ],
        )
        .await;
    assert_eq!(r.status(), 403);
    assert_eq!(app.count("SELECT count(*) FROM campaigns"), 0);
    // A body the template rules accept but that would not print (over 20 pages once written
    // out): refused at its field now, not when the print shop's file is made; nothing saved.
    let long = "Un paragraphe.\n\n".repeat(2_000);
    let r = c
        .staff
        .post_form(
            "/courriers/nouveau",
            &[
                ("csrf", c.csrf.as_str()),
                ("nom", "Trop longue"),
                ("objet", "Objet"),
                ("texte", long.as_str()),
                ("listes", list.as_str()),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(
        field_error(&html, "texte")
            .unwrap()
            .contains("ne pourrait pas être imprimé"),
        "{html}"
    );
    assert!(html.contains("Trop longue"));
    assert_eq!(
        app.count("SELECT count(*) FROM campaigns WHERE name = 'Trop longue'"),
        0
    );
}

#[tokio::test]
async fn letter_downloads_and_pages_are_for_communications_staff_only() {
    let app = TestApp::spawn().await;
    let c = comms(&app).await;
    let who = audience(&app);
    let id = c.letter_campaign("Lettre", &[who.list]).await;
    let delivery_paths = |d: i64| {
        vec![
            format!("/courriers/{id}"),
            format!("/courriers/{id}/courriers.pdf"),
            format!("/courriers/{id}/adresses.csv"),
            format!("/courriers/{id}/exemple.pdf"),
            format!("/courriers/{id}/lettres/{d}.pdf"),
        ]
    };
    // Not produced yet: the sample works, the print files wait.
    let (kind, sample) = c.download(&format!("/courriers/{id}/exemple.pdf")).await;
    assert_eq!(kind, "application/pdf");
    assert!(sample.starts_with(b"%PDF-"));
    let r = c.staff.get(&format!("/courriers/{id}/courriers.pdf")).await;
    assert_eq!(r.status(), 409);
    c.produce(id).await;
    let d = app.count("SELECT min(id) FROM deliveries");
    for path in delivery_paths(d) {
        let r = bare().get(app.url(&path)).send().await.unwrap();
        assert!(r.status().is_redirection(), "{path}: {}", r.status());
        assert!(location(&r).starts_with("/connexion"), "{path}");
        let body = r.bytes().await.unwrap();
        assert!(!body.starts_with(b"%PDF"));
    }
    let recruiter = app.staff(StaffRole::Recruiter).await;
    for path in delivery_paths(d) {
        assert_eq!(recruiter.get(&path).await.status(), 403, "{path}");
    }
    let csrf = recruiter.csrf_from("/espace").await;
    let r = recruiter
        .post_form(&format!("/courriers/{id}/produire"), &[("csrf", &csrf)])
        .await;
    assert_eq!(r.status(), 403);
    // A letter of another campaign, an id that is no letter: 404.
    let other = c.letter_campaign("Autre", &[who.list]).await;
    let r = c
        .staff
        .get(&format!("/courriers/{other}/lettres/{d}.pdf"))
        .await;
    assert_eq!(r.status(), 409); // the other campaign has no letters yet
    c.produce(other).await;
    let r = c
        .staff
        .get(&format!("/courriers/{other}/lettres/{d}.pdf"))
        .await;
    assert_eq!(r.status(), 404);
    let r = c
        .staff
        .get(&format!("/courriers/{id}/lettres/abc.pdf"))
        .await;
    assert_eq!(r.status(), 404);
    // A letter campaign is no e-mail campaign: the e-mail actions do not find it.
    let r = c
        .staff
        .post_form(
            &format!("/campagnes/{id}/programmer"),
            &[("csrf", &c.csrf), ("confirmer", "oui")],
        )
        .await;
    assert!(r.status() == 404 || r.status() == 409, "{}", r.status());
    let (status, list) = c.staff.get_html("/campagnes").await;
    assert_eq!(status, 200);
    assert!(list.contains(&format!("/courriers/{id}")));
}

#[tokio::test]
async fn a_deceased_contact_gets_no_e_mail_either() {
    use vocation::campaigns::runs::{self, CampaignInput, Schedule};
    let app = TestApp::spawn().await;
    let alive = contact(&app, "vivant@exemple.fr", "Vivant", "A", ["", "", "", ""]);
    let late = contact(&app, "defunt@exemple.fr", "Défunt", "B", ["", "", "", ""]);
    exec(
        &app,
        &format!("UPDATE contacts SET deceased = true WHERE id = {late}"),
    );
    let list = list_of(&app, "Courriel", &[alive, late]);
    exec(
        &app,
        "INSERT INTO mail_templates (name, subject, body_text, body_html) \
         VALUES ('T', 'Objet', 'Texte', '')",
    );
    let template = app.count("SELECT id FROM mail_templates");
    let mut conn = app.conn();
    let id = runs::create(
        &mut conn,
        &CampaignInput {
            name: "Courriel".into(),
            template_id: template,
            list_ids: vec![list],
            sender_name: "CDS32".into(),
            sender_email: "recrutement@gers.test".into(),
            rate_per_minute: 60,
            schedule: Schedule::Now,
        },
        None,
    )
    .unwrap();
    assert_eq!(runs::count_recipients(&mut conn, id).unwrap(), 1);
    let now = chrono::Utc::now();
    let run = runs::create_run(&mut conn, id, now, vocation::db::enums::RunStatus::Planned)
        .unwrap()
        .expect("a run");
    assert_eq!(runs::materialise(&mut conn, run, now).unwrap(), 1);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM deliveries WHERE contact_id = {late}"
        )),
        0
    );
}
