//! Channel links (issue 19): the staff form and its errors, the short URL `/l/{code}` (visit,
//! cookie, redirect), the QR codes (decoded by zbarimg), attribution that lasts (a browser
//! that comes back without the query string), down to the hire in /rapports, and the attacks
//! on all of it.

use std::sync::Arc;

use chrono::{Duration, NaiveDate, Utc};
use serde_json::json;
use vocation::campaigns::links::{self, Purpose};
use vocation::db::enums::StaffRole;

use crate::campaigns::secret;
use crate::helpers::{field_error, hidden_value, Fields, FormTokens, StaffClient, TestApp};

fn today() -> NaiveDate {
    Utc::now()
        .with_timezone(&chrono_tz::Europe::Paris)
        .date_naive()
}

/// A client that does not follow redirects and keeps no cookies.
fn bare() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A browser: keeps its cookies, does not follow redirects; optionally starts with `cookie`.
fn browser(app: &TestApp, cookie: Option<(&str, &str)>) -> reqwest::Client {
    let jar = Arc::new(reqwest::cookie::Jar::default());
    if let Some((name, value)) = cookie {
        jar.add_cookie_str(
            &format!("{name}={value}; Path=/"),
            &app.url("/").parse().unwrap(),
        );
    }
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_provider(jar)
        .build()
        .unwrap()
}

async fn create_link(staff: &StaffClient, fields: &[(&str, &str)]) -> (u16, String) {
    let csrf = staff.csrf_from("/campagnes/liens/nouveau").await;
    let mut all = vec![("csrf", csrf.as_str())];
    all.extend_from_slice(fields);
    let r = staff.post_form("/campagnes/liens/nouveau", &all).await;
    (r.status().as_u16(), r.text().await.unwrap())
}

/// A link « Relais dites32.fr » with code `dites32`; its id.
async fn dites32(app: &TestApp, staff: &StaffClient) -> i64 {
    let (status, html) = create_link(
        staff,
        &[
            ("libelle", "Relais dites32.fr"),
            ("code", "dites32"),
            ("utm_source", "dites32"),
            ("utm_medium", "partenaire"),
            ("utm_campaign", ""),
        ],
    )
    .await;
    assert_eq!(status, 303, "{html}");
    app.count("SELECT id FROM channel_links WHERE code = 'dites32'")
}

fn visits(app: &TestApp, link: i64) -> i64 {
    app.count(&format!(
        "SELECT coalesce(sum(visits), 0) FROM channel_link_visits WHERE link_id = {link}"
    ))
}

fn location(r: &reqwest::Response) -> String {
    r.headers()["location"].to_str().unwrap().to_owned()
}

fn set_cookie(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.starts_with(&format!("{name}=")))
}

/// The value of a cookie from its `Set-Cookie` line.
fn cookie_value(line: &str) -> String {
    line.split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_owned()
}

/// A channel cookie as the service would have set it `days_ago` days ago.
fn channel_cookie_from(link: i64, days_ago: i64) -> String {
    let expires = (Utc::now() - Duration::days(days_ago) + Duration::days(90)).timestamp();
    links::expiring_token(&secret(), Purpose::Channel, link, expires)
}

#[tokio::test]
async fn a_link_is_created_by_the_staff_form_and_each_error_keeps_the_page() {
    let app = TestApp::spawn().await;
    let staff = app.staff(StaffRole::Communication).await;
    let (status, html) = staff.get_html("/campagnes/liens/nouveau").await;
    assert_eq!(status, 200);
    assert!(html.contains("Nouveau lien suivi"));

    // An empty label: same page, 422, the message at the field, what was typed kept.
    let (status, html) = create_link(
        &staff,
        &[
            ("libelle", "   "),
            ("code", "affiche-auch"),
            ("utm_medium", "affiche"),
        ],
    )
    .await;
    assert_eq!(status, 422);
    assert!(field_error(&html, "libelle").unwrap().contains("libellé"));
    assert_eq!(hidden_or_input(&html, "code"), "affiche-auch");
    assert_eq!(hidden_or_input(&html, "utm_medium"), "affiche");

    // Bad characters, too long, unicode, a path: each refused at the code, with a suggestion.
    let long = "a".repeat(33);
    for (code, expected) in [
        ("Dites 32", "« dites-32 »"),
        ("été/../admin", "lettres minuscules"),
        ("dites32?x=1", "lettres minuscules"),
        (long.as_str(), "32 au plus"),
    ] {
        let (status, html) =
            create_link(&staff, &[("libelle", "Relais dites32.fr"), ("code", code)]).await;
        assert_eq!(status, 422, "{code}");
        let message = field_error(&html, "code").unwrap();
        assert!(message.contains(expected), "{code}: {message}");
        assert_eq!(hidden_or_input(&html, "libelle"), "Relais dites32.fr");
        assert_eq!(hidden_or_input(&html, "code"), code);
    }
    assert_eq!(app.count("SELECT count(*) FROM channel_links"), 0);

    let id = dites32(&app, &staff).await;
    let (source, medium, campaign): (String, String, String) = (
        app.text(&format!(
            "SELECT utm_source FROM channel_links WHERE id = {id}"
        ))
        .unwrap(),
        app.text(&format!(
            "SELECT utm_medium FROM channel_links WHERE id = {id}"
        ))
        .unwrap(),
        app.text(&format!(
            "SELECT utm_campaign FROM channel_links WHERE id = {id}"
        ))
        .unwrap(),
    );
    // Typed values kept; the empty one proposed from the label.
    assert_eq!(
        (source.as_str(), medium.as_str(), campaign.as_str()),
        ("dites32", "partenaire", "relais-dites32-fr")
    );

    // A code left empty is proposed from the label.
    let (status, _) = create_link(&staff, &[("libelle", "Annonce revue Le Généraliste")]).await;
    assert_eq!(status, 303);
    assert_eq!(
        app.count("SELECT count(*) FROM channel_links WHERE code = 'annonce-revue-le-generaliste' AND utm_medium = 'lien-suivi'"),
        1
    );

    // The same code twice: refused at the field, naming the link that has it.
    let (status, html) =
        create_link(&staff, &[("libelle", "Affiche Auch"), ("code", "dites32")]).await;
    assert_eq!(status, 422);
    assert!(field_error(&html, "code")
        .unwrap()
        .contains("Relais dites32.fr"));
    assert_eq!(hidden_or_input(&html, "libelle"), "Affiche Auch");

    // The list shows the short URL; the edit page changes it, and refuses a taken code.
    let (status, html) = staff.get_html("/campagnes/liens").await;
    assert_eq!(status, 200);
    assert!(html.contains("http://vocation.test/l/dites32"), "{html}");
    assert!(html.contains("Liens suivis"));
    let csrf = staff.csrf_from(&format!("/campagnes/liens/{id}")).await;
    let r = staff
        .post_form(
            &format!("/campagnes/liens/{id}"),
            &[
                ("csrf", csrf.as_str()),
                ("libelle", "Relais dites32.fr"),
                ("code", "annonce-revue-le-generaliste"),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(field_error(&html, "code").is_some());
    let r = staff
        .post_form(
            &format!("/campagnes/liens/{id}"),
            &[
                ("csrf", csrf.as_str()),
                ("libelle", "Relais du site dites32.fr"),
                ("code", "dites32"),
                ("utm_source", "dites32"),
                ("utm_medium", "partenaire"),
                ("utm_campaign", "hiver"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        app.text(&format!(
            "SELECT label || '|' || utm_campaign FROM channel_links WHERE id = {id}"
        ))
        .unwrap(),
        "Relais du site dites32.fr|hiver"
    );
    // The menu has the page next to the campaigns.
    let (_, html) = staff.get_html("/campagnes").await;
    assert!(html.contains("href=\"/campagnes/liens\""));
}

/// The value of the input (or textarea) named `name` in a page.
fn hidden_or_input(html: &str, name: &str) -> String {
    hidden_value(html, name)
}

#[tokio::test]
async fn the_short_url_counts_a_visit_remembers_the_channel_and_leads_to_the_form() {
    let app = TestApp::spawn().await;
    let staff = app.staff(StaffRole::Communication).await;
    let link = dites32(&app, &staff).await;

    let r = bare().get(app.url("/l/dites32")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(
        location(&r),
        "/candidature?utm_source=dites32&utm_medium=partenaire&utm_campaign=relais-dites32-fr&canal=dites32"
    );
    let cookie = set_cookie(&r, "vocation_canal").expect("a channel cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(cookie.contains("Max-Age=7776000"), "90 days: {cookie}");
    assert!(!cookie.contains("Secure"), "plain HTTP in tests: {cookie}");
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert_eq!(visits(&app, link), 1);

    // HEAD (a link checker) is answered the same but is not a visit and sets nothing.
    let r = bare().head(app.url("/l/dites32")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert!(set_cookie(&r, "vocation_canal").is_none());
    assert_eq!(visits(&app, link), 1);

    // A partner's link to a position keeps a numeric position, and only that.
    let r = bare()
        .get(app.url("/l/dites32?poste=12"))
        .send()
        .await
        .unwrap();
    assert!(
        location(&r).ends_with("&canal=dites32&poste=12"),
        "{}",
        location(&r)
    );
    for bad in ["abc", "-1", "1%27%20OR%201=1", "99999999999999999999999"] {
        let r = bare()
            .get(app.url(&format!("/l/dites32?poste={bad}")))
            .send()
            .await
            .unwrap();
        assert!(
            location(&r).ends_with("&canal=dites32"),
            "{bad}: {}",
            location(&r)
        );
    }
    assert_eq!(visits(&app, link), 6);

    // The form shows the code in its hidden field.
    let (status, html) = app.get_html(&location(&r)).await;
    assert_eq!(status, 200);
    assert_eq!(hidden_value(&html, "canal"), "dites32");
    assert_eq!(hidden_value(&html, "utm_medium"), "partenaire");

    // Unknown codes, unicode, path characters, over-long: the plain form, nothing counted, no
    // cookie, nothing that tells the code does not exist.
    for path in [
        "/l/inconnu".to_owned(),
        "/l/DITES32".to_owned(),
        "/l/%C3%A9t%C3%A9".to_owned(),
        "/l/dites32%2F..%2F..%2Fadmin".to_owned(),
        "/l/..%2Fcampagnes".to_owned(),
        "/l/%3Cscript%3E".to_owned(),
        format!("/l/{}", "a".repeat(33)),
        format!("/l/{}", "a".repeat(5000)),
    ] {
        let r = bare().get(app.url(&path)).send().await.unwrap();
        assert_eq!(r.status(), 303, "{path}");
        assert_eq!(location(&r), "/candidature", "{path}");
        assert!(set_cookie(&r, "vocation_canal").is_none(), "{path}");
    }
    // A NUL is refused before any handler (4xx), never a cookie.
    let r = bare().get(app.url("/l/dites32%00")).send().await.unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());
    assert!(set_cookie(&r, "vocation_canal").is_none());
    let r = bare()
        .get(app.url("/l/inconnu?poste=3"))
        .send()
        .await
        .unwrap();
    assert_eq!(location(&r), "/candidature?poste=3");
    assert_eq!(visits(&app, link), 6);

    // Archived: the plain form, not counted.
    let csrf = staff.csrf_from("/campagnes/liens").await;
    let r = staff
        .post_form(
            &format!("/campagnes/liens/{link}/archiver"),
            &[("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(r.status(), 303);
    let r = bare().get(app.url("/l/dites32")).send().await.unwrap();
    assert_eq!(location(&r), "/candidature");
    assert!(set_cookie(&r, "vocation_canal").is_none());
    assert_eq!(visits(&app, link), 6);
    // Back in service.
    let r = staff
        .post_form(
            &format!("/campagnes/liens/{link}/reactiver"),
            &[("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(r.status(), 303);
    let r = bare().get(app.url("/l/dites32")).send().await.unwrap();
    assert!(location(&r).contains("canal=dites32"));
    assert_eq!(visits(&app, link), 7);
}

#[tokio::test]
async fn the_qr_codes_download_as_svg_and_png_and_decode_to_the_short_url() {
    let app = TestApp::spawn().await;
    let staff = app.staff(StaffRole::Communication).await;
    let link = dites32(&app, &staff).await;
    let dir = crate::helpers::TempDir::new();

    let r = staff.get(&format!("/campagnes/liens/{link}/qr.png")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/png");
    assert!(r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("qr-dites32.png"));
    let bytes = r.bytes().await.unwrap();
    let reader = png::Decoder::new(std::io::Cursor::new(bytes.to_vec()))
        .read_info()
        .unwrap();
    let info = reader.info();
    assert!(
        info.width >= 1200 && info.width == info.height,
        "{}",
        info.width
    );
    let file = dir.0.join("qr.png");
    std::fs::write(&file, &bytes).unwrap();
    let out = std::process::Command::new("zbarimg")
        .args(["--raw", "-q"])
        .arg(&file)
        .output()
        .expect("zbarimg (apt-get install zbar-tools)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        "http://vocation.test/l/dites32"
    );

    let r = staff.get(&format!("/campagnes/liens/{link}/qr.svg")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/svg+xml");
    let svg = r.text().await.unwrap();
    // An SVG document: one <svg> root in the SVG namespace, square, at least 1,200 units.
    assert!(
        svg.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""),
        "{svg}"
    );
    let doc = scraper::Html::parse_fragment(&svg);
    let root = doc
        .select(&scraper::Selector::parse("svg").unwrap())
        .next()
        .expect("an <svg> element");
    let (w, h) = (
        root.value().attr("width").unwrap().parse::<u32>().unwrap(),
        root.value().attr("height").unwrap().parse::<u32>().unwrap(),
    );
    assert!(w >= 1200 && w == h);
    assert_eq!(svg.matches("<svg").count(), 1);
    assert!(svg.trim_end().ends_with("</svg>"));
    // The SVG draws the same code as the PNG: zbarimg reads it through ImageMagick where the
    // machine can rasterise SVG.
    let svg_file = dir.0.join("qr.svg");
    std::fs::write(&svg_file, &svg).unwrap();
    let out = std::process::Command::new("zbarimg")
        .args(["--raw", "-q"])
        .arg(&svg_file)
        .output()
        .unwrap();
    if out.status.success() {
        assert_eq!(
            String::from_utf8(out.stdout).unwrap().trim(),
            "http://vocation.test/l/dites32"
        );
    }

    // Unknown link: 404.
    assert_eq!(
        staff.get("/campagnes/liens/999999/qr.png").await.status(),
        404
    );
    assert_eq!(staff.get("/campagnes/liens/abc/qr.svg").await.status(), 404);
}

/// One action on an offer (the offers flow's own route).
async fn act(staff: &StaffClient, offer: i64, action: &str, extra: &[(&str, &str)]) -> u16 {
    let csrf = staff.csrf().await;
    let mut form = vec![("csrf", csrf.as_str())];
    form.extend_from_slice(extra);
    staff
        .post_form(
            &format!("/recrutement/propositions/{offer}/{action}"),
            &form,
        )
        .await
        .status()
        .as_u16()
}

/// Moves the application to « entretien », then an offer drafted, approved, sent, accepted,
/// and the doctor's start today: a hire (issue 18's definition).
async fn hire(app: &TestApp, application: i64) {
    let recruiter = app.staff(StaffRole::Recruiter).await;
    let csrf = recruiter.csrf().await;
    let r = recruiter
        .post_form(
            &format!("/recrutement/candidatures/{application}/etape"),
            &[
                ("csrf", csrf.as_str()),
                ("depuis", "nouvelle"),
                ("vers", "entretien"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let centre = app
        .text("SELECT id FROM centres WHERE commune = 'Fleurance'")
        .unwrap();
    let mut fields: Vec<(String, String)> = [
        ("csrf", csrf.as_str()),
        ("temps", "temps_plein"),
        ("etp", "1"),
        ("debut", &(today() + Duration::days(30)).to_string()),
        ("expiration", &(today() + Duration::days(15)).to_string()),
        ("gardes", "Aucune"),
        ("remuneration", "Grille des praticiens contractuels"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for day in ["lun", "mar", "mer", "jeu", "ven"] {
        for half in ["matin", "apres-midi"] {
            fields.push((format!("jours-{centre}"), format!("{day}-{half}")));
        }
    }
    fields.push((format!("etp-{centre}"), "1".into()));
    let r = recruiter
        .client
        .post(format!(
            "{}/recrutement/candidatures/{application}/proposition",
            recruiter.base
        ))
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let offer = app.count("SELECT max(id) FROM offers");
    let admin = app.staff(StaffRole::Admin).await;
    assert_eq!(act(&admin, offer, "approuver", &[]).await, 303);
    assert_eq!(act(&recruiter, offer, "envoyer", &[]).await, 303);
    assert_eq!(act(&recruiter, offer, "accepter", &[]).await, 303);
    let start = today().to_string();
    assert_eq!(
        act(
            &recruiter,
            offer,
            "prise-de-poste",
            &[("date", start.as_str())]
        )
        .await,
        303
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM placements WHERE application_id = {application} AND started_on <= '{}'",
            today()
        )),
        1
    );
}

/// The row of `head` in the /rapports table captioned by `title`, as cells.
fn report_row(html: &str, figure_title: &str, head: &str) -> Option<Vec<String>> {
    let doc = scraper::Html::parse_document(html);
    let table_sel = scraper::Selector::parse("table").unwrap();
    let caption_sel = scraper::Selector::parse("caption").unwrap();
    let row_sel = scraper::Selector::parse("tbody tr").unwrap();
    let cell_sel = scraper::Selector::parse("th, td").unwrap();
    let text = |e: scraper::ElementRef| e.text().collect::<String>().trim().to_owned();
    doc.select(&table_sel)
        .filter(|t| {
            t.select(&caption_sel)
                .next()
                .is_some_and(|c| text(c).contains(figure_title))
        })
        .flat_map(|t| t.select(&row_sel).collect::<Vec<_>>())
        .map(|r| r.select(&cell_sel).map(text).collect::<Vec<String>>())
        .find(|cells| cells.first().is_some_and(|c| c == head))
}

#[tokio::test]
async fn a_doctor_who_comes_back_days_later_is_attributed_down_to_the_hire_in_the_reports() {
    let app = TestApp::spawn().await;
    let staff = app.staff(StaffRole::Communication).await;
    let link = dites32(&app, &staff).await;

    // The doctor follows the link from the partner's site: one visit, a cookie.
    let first = browser(&app, None);
    let r = first.get(app.url("/l/dites32")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let cookie = cookie_value(&set_cookie(&r, "vocation_canal").unwrap());
    assert_eq!(visits(&app, link), 1);

    // Days later, the same browser (its cookie only; a fresh client) opens the plain form.
    let later = browser(&app, Some(("vocation_canal", cookie.as_str())));
    let html = later
        .get(app.url("/candidature"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(hidden_value(&html, "canal"), "dites32");
    // A cookie the service set 80 days ago still holds (its signed expiry is what counts).
    let old = browser(
        &app,
        Some(("vocation_canal", channel_cookie_from(link, 80).as_str())),
    );
    let old_html = old
        .get(app.url("/candidature"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(hidden_value(&old_html, "canal"), "dites32");

    // The doctor applies from that page.
    let tokens = FormTokens::from_html(&html);
    let mut form = reqwest::multipart::Form::new()
        .text("csrf", tokens.csrf)
        .text("soumission", tokens.soumission)
        .text("canal", hidden_value(&html, "canal"));
    for (k, v) in Fields::valid().iter() {
        form = form.text(k.clone(), v.clone());
    }
    let r = later
        .post(app.url("/candidature"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let application = app.count("SELECT max(id) FROM applications");
    assert_eq!(
        app.count(&format!(
            "SELECT channel_link_id FROM applications WHERE id = {application}"
        )),
        link
    );

    // The recruiters see where the application came from.
    let candidate = app.count(&format!(
        "SELECT candidate_id FROM applications WHERE id = {application}"
    ));
    let recruiter = app.staff(StaffRole::Recruiter).await;
    let (status, page) = recruiter
        .get_html(&format!("/recrutement/candidats/{candidate}"))
        .await;
    assert_eq!(status, 200);
    assert!(page.contains("venue par le lien suivi « Relais dites32.fr »"));

    // An offer, accepted, and the doctor starts today: a hire.
    hire(&app, application).await;

    // /rapports: the link, side by side with the campaigns: 1 visit, 1 application, 1 offer,
    // 1 hire.
    let (status, html) = staff.get_html("/rapports").await;
    assert_eq!(status, 200);
    let row = report_row(&html, "Liens suivis et campagnes", "Relais dites32.fr")
        .unwrap_or_else(|| panic!("no row for the link: {html}"));
    assert_eq!(row, ["Relais dites32.fr", "Lien suivi", "1", "1", "1", "1"]);
    // The same in the CSV export.
    let csv = staff
        .get(&format!(
            "/rapports/canaux.csv?du={}&au={}",
            today() - Duration::days(30),
            today()
        ))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        csv.lines()
            .any(|l| l == "Relais dites32.fr;Lien suivi;1;1;1;1"),
        "{csv}"
    );
    // And on the links' page.
    let (_, html) = staff.get_html("/campagnes/liens").await;
    let row = report_row(&html, "Liens suivis", "Relais dites32.fr").unwrap();
    assert_eq!(row[2..6], ["1", "1", "1", "1"]);
}

/// The id an `INSERT … RETURNING id` gives.
fn returning_id(app: &TestApp, sql: &str) -> i64 {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        id: i64,
    }
    diesel::sql_query(sql)
        .get_result::<Id>(&mut app.conn())
        .unwrap()
        .id
}

/// A sent campaign delivery, made in SQL (the campaigns tests cover sending): its id and the
/// campaign's.
fn sent_delivery(app: &TestApp) -> (i64, i64) {
    let campaign = returning_id(
        app,
        "WITH t AS (INSERT INTO mail_templates (name, subject, body_text, body_html) \
                    VALUES ('Lettre', 'Objet', 'Texte {{lien_candidature}}', '') RETURNING id) \
         INSERT INTO campaigns (name, template_id, sender_name, sender_email, rate_per_minute, \
                                schedule_kind, status) \
         SELECT 'Retraités – automne', id, 'CDS32', 'recrutement@vocation.test', 60, \
                'maintenant', 'terminee' FROM t RETURNING id",
    );
    let delivery = returning_id(
        app,
        &format!(
            "WITH r AS (INSERT INTO campaign_runs (campaign_id, scheduled_for, status) \
                    VALUES ({campaign}, {now}, 'termine') RETURNING id) \
         INSERT INTO deliveries (run_id, email, status, sent_at) \
         SELECT id, 'r-1@example.org', 'envoye', {now} FROM r RETURNING id",
            now = crate::helpers::sql_now()
        ),
    );
    (delivery, campaign)
}

#[tokio::test]
async fn a_campaign_mail_recipient_who_comes_back_later_is_still_attributed() {
    let app = TestApp::spawn().await;
    let (delivery, campaign) = sent_delivery(&app);
    let token = links::token(&secret(), Purpose::Click, delivery);

    let r = bare()
        .get(app.url(&format!("/c/{token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let line = set_cookie(&r, "vocation_suivi").expect("a cookie remembering the click");
    assert!(line.contains("HttpOnly") && line.contains("SameSite=Lax"));
    assert!(line.contains("Max-Age=7776000"));
    // HEAD is not a click and sets nothing.
    let r = bare()
        .head(app.url(&format!("/c/{token}")))
        .send()
        .await
        .unwrap();
    assert!(set_cookie(&r, "vocation_suivi").is_none());

    let later = browser(&app, Some(("vocation_suivi", cookie_value(&line).as_str())));
    let html = later
        .get(app.url("/candidature"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(hidden_value(&html, "suivi"), token);
    let tokens = FormTokens::from_html(&html);
    let mut form = reqwest::multipart::Form::new()
        .text("csrf", tokens.csrf)
        .text("soumission", tokens.soumission)
        .text("suivi", hidden_value(&html, "suivi"));
    for (k, v) in Fields::valid().iter() {
        form = form.text(k.clone(), v.clone());
    }
    let r = later
        .post(app.url("/candidature"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM applications WHERE campaign_id = {campaign} AND delivery_id = {delivery}"
        )),
        1
    );
    // The campaign shows in the same side-by-side figure as the links.
    let staff = app.staff(StaffRole::Communication).await;
    let (_, html) = staff.get_html("/rapports").await;
    let row = report_row(&html, "Liens suivis et campagnes", "Retraités – automne").unwrap();
    assert_eq!(row, ["Retraités – automne", "Campagne", "1", "1", "0", "0"]);

    // The query string wins over the cookie: a newer link followed is the one that counts.
    let r = later
        .get(app.url("/candidature?suivi=autre"))
        .send()
        .await
        .unwrap();
    assert_eq!(hidden_value(&r.text().await.unwrap(), "suivi"), "autre");
}

#[tokio::test]
async fn forged_expired_or_archived_cookies_and_garbage_codes_attribute_nothing_and_the_application_is_accepted(
) {
    let app = TestApp::spawn().await;
    let staff = app.staff(StaffRole::Communication).await;
    let link = dites32(&app, &staff).await;
    let genuine = channel_cookie_from(link, 0);
    let (id, rest) = genuine.split_once('.').unwrap();
    let (expires, _) = rest.split_once('.').unwrap();
    let forged = [
        // Another id under the genuine signature.
        format!("{}.{}", link + 1, rest),
        // A later expiry under the genuine signature.
        format!(
            "{id}.{}.{}",
            expires.parse::<i64>().unwrap() + 1,
            rest.split_once('.').unwrap().1
        ),
        // Signed with another key.
        links::expiring_token(
            b"another key",
            Purpose::Channel,
            link,
            expires.parse().unwrap(),
        ),
        // A click token is not a channel cookie.
        links::token(&secret(), Purpose::Click, link),
        // Expired: set 91 days ago.
        channel_cookie_from(link, 91),
        "garbage".to_owned(),
        "x".repeat(4000),
    ];
    for cookie in &forged {
        let client = browser(&app, Some(("vocation_canal", cookie.as_str())));
        let r = client.get(app.url("/candidature")).send().await.unwrap();
        assert_eq!(r.status(), 200, "{cookie}");
        assert_eq!(
            hidden_value(&r.text().await.unwrap(), "canal"),
            "",
            "{cookie}"
        );
    }
    // The genuine one works, until the link is archived.
    let client = browser(&app, Some(("vocation_canal", genuine.as_str())));
    let html = client
        .get(app.url("/candidature"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(hidden_value(&html, "canal"), "dites32");
    let csrf = staff.csrf_from("/campagnes/liens").await;
    staff
        .post_form(
            &format!("/campagnes/liens/{link}/archiver"),
            &[("csrf", csrf.as_str())],
        )
        .await;
    let html = client
        .get(app.url("/candidature"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(hidden_value(&html, "canal"), "");

    // Codes sent in the form: garbage, over-long, markup, an archived link's. Each application
    // is accepted, none attributed, and nothing is echoed raw.
    let over_long = "a".repeat(500);
    for (n, canal) in [
        "inconnu",
        over_long.as_str(),
        "<script>alert(1)</script>",
        "dites32' OR '1'='1",
        "dites32",
    ]
    .iter()
    .enumerate()
    {
        let fields = Fields::valid()
            .set("courriel", &format!("docteur{n}@exemple.fr"))
            .set("canal", canal);
        let r = app.apply(&fields).await;
        assert_eq!(r.status(), 303, "{canal}");
    }
    assert_eq!(app.count("SELECT count(*) FROM applications"), 5);
    assert_eq!(
        app.count("SELECT count(*) FROM applications WHERE channel_link_id IS NOT NULL"),
        0
    );
    let (_, html) = app
        .get_html("/candidature?canal=%3Cscript%3Ealert(1)%3C/script%3E")
        .await;
    assert!(!html.contains("<script>alert(1)"));
    let (status, html) = app
        .get_html(&format!("/candidature?canal={}", "a".repeat(5000)))
        .await;
    assert_eq!(status, 200);
    assert_eq!(hidden_value(&html, "canal").len(), 100, "clipped");

    // The JSON API carries `canal` too: a live link's code attributes, garbage does not.
    let r = staff
        .post_form(
            &format!("/campagnes/liens/{link}/reactiver"),
            &[("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(r.status(), 303);
    for (email, canal) in [
        ("api1@exemple.fr", "dites32"),
        ("api2@exemple.fr", "../dites32"),
    ] {
        let r = app
            .client
            .post(app.url("/api/v1/candidatures"))
            .json(&json!({
                "civilite": "madame", "prenom": "Claire", "nom": "Martin",
                "courriel": email, "telephone": "06 12 34 56 78",
                "specialite": "SM54", "situation": "remplacant",
                "disponibilite": crate::helpers::available_from().to_string(),
                "temps_travail": "temps_plein", "consentement": true, "vivier": false,
                "canal": canal,
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    }
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM applications a JOIN candidates c ON c.id = a.candidate_id \
             WHERE a.channel_link_id = {link}"
        )),
        1
    );
}

#[tokio::test]
async fn staff_pages_and_qr_codes_need_a_communications_session_and_only_l_is_public() {
    let app = TestApp::spawn().await;
    let staff = app.staff(StaffRole::Communication).await;
    let link = dites32(&app, &staff).await;
    let anonymous = bare();
    for path in [
        "/campagnes/liens".to_owned(),
        "/campagnes/liens/nouveau".to_owned(),
        format!("/campagnes/liens/{link}"),
        format!("/campagnes/liens/{link}/qr.svg"),
        format!("/campagnes/liens/{link}/qr.png"),
    ] {
        let r = anonymous.get(app.url(&path)).send().await.unwrap();
        assert_eq!(r.status(), 303, "{path}");
        assert!(location(&r).starts_with("/connexion"), "{path}");
    }
    for path in [
        "/campagnes/liens/nouveau".to_owned(),
        format!("/campagnes/liens/{link}"),
        format!("/campagnes/liens/{link}/archiver"),
    ] {
        let r = anonymous
            .post(app.url(&path))
            .form(&[("libelle", "Pirate"), ("code", "pirate")])
            .send()
            .await
            .unwrap();
        assert!(
            r.status() == 303 || r.status() == 403,
            "{path}: {}",
            r.status()
        );
    }
    // A recruiter may not either.
    let recruiter = app.staff(StaffRole::Recruiter).await;
    assert_eq!(recruiter.get("/campagnes/liens").await.status(), 403);
    assert_eq!(
        recruiter
            .get(&format!("/campagnes/liens/{link}/qr.png"))
            .await
            .status(),
        403
    );
    let csrf = recruiter.csrf().await;
    let r = recruiter
        .post_form(
            "/campagnes/liens/nouveau",
            &[
                ("csrf", csrf.as_str()),
                ("libelle", "Pirate"),
                ("code", "pirate"),
            ],
        )
        .await;
    assert_eq!(r.status(), 403);
    // Without the CSRF token: 403, nothing written.
    let r = staff
        .post_form(
            "/campagnes/liens/nouveau",
            &[("libelle", "Pirate"), ("code", "pirate")],
        )
        .await;
    assert_eq!(r.status(), 403);
    let r = staff
        .post_form(
            &format!("/campagnes/liens/{link}/archiver"),
            &[("csrf", "faux")],
        )
        .await;
    assert_eq!(r.status(), 403);
    assert_eq!(app.count("SELECT count(*) FROM channel_links"), 1);
    assert_eq!(
        app.count("SELECT count(*) FROM channel_links WHERE archived_at IS NOT NULL"),
        0
    );
    // GET on the archive action changes nothing.
    let r = staff
        .get(&format!("/campagnes/liens/{link}/archiver"))
        .await;
    assert!(r.status() == 404 || r.status() == 405, "{}", r.status());
    assert_eq!(
        app.count("SELECT count(*) FROM channel_links WHERE archived_at IS NOT NULL"),
        0
    );
}

#[tokio::test]
async fn the_reports_count_the_visits_of_the_period_only() {
    let app = TestApp::spawn().await;
    let staff = app.staff(StaffRole::Communication).await;
    let link = dites32(&app, &staff).await;
    for _ in 0..2 {
        bare().get(app.url("/l/dites32")).send().await.unwrap();
    }
    // Five visits forty days ago (the counter of that day).
    {
        use diesel::RunQueryDsl;
        diesel::sql_query(format!(
            "INSERT INTO channel_link_visits (link_id, day, visits) VALUES ({link}, DATE '{}', 5)",
            today() - Duration::days(40)
        ))
        .execute(&mut app.conn())
        .unwrap();
    }
    let row = |html: &str| report_row(html, "Liens suivis et campagnes", "Relais dites32.fr");
    let (_, html) = staff
        .get_html(&format!(
            "/rapports?du={}&au={}",
            today() - Duration::days(10),
            today()
        ))
        .await;
    assert_eq!(row(&html).unwrap()[2], "2");
    let (_, html) = staff
        .get_html(&format!(
            "/rapports?du={}&au={}",
            today() - Duration::days(60),
            today()
        ))
        .await;
    assert_eq!(row(&html).unwrap()[2], "7");
    // A period with nothing for the link: no row (a link shows when it has something).
    let (_, html) = staff
        .get_html(&format!(
            "/rapports?du={}&au={}",
            today() - Duration::days(30),
            today() - Duration::days(20)
        ))
        .await;
    assert!(row(&html).is_none());
    // The links' page counts everything since the link exists.
    let (_, html) = staff.get_html("/campagnes/liens").await;
    assert_eq!(
        report_row(&html, "Liens suivis", "Relais dites32.fr").unwrap()[2],
        "7"
    );
}
