//! Positions on the open web (issue 19): a page per open position with its JobPosting JSON-LD,
//! the list, sitemap.xml and robots.txt, meta descriptions, the Atom feed (read by feed-rs),
//! the partners' JSON (CORS) and embed (frame-ancestors), and how all of them follow
//! publication and the centres' closing.

use diesel::prelude::*;
use serde_json::Value;
use vocation::config::PartnerSettings;
use vocation::db::enums::StaffRole;

use crate::helpers::{hidden_value, sql_now, sql_today, test_day, Fields, StaffClient, TestApp};

const PARTNER_ORIGIN: &str = "https://www.dites32.fr";

fn dites32() -> PartnerSettings {
    PartnerSettings {
        id: "dites32".into(),
        name: "#Dites32".into(),
        origin: PARTNER_ORIGIN.into(),
        link_code: "dites32-web".into(),
    }
}

async fn spawn() -> TestApp {
    TestApp::builder()
        .partners(vec![
            dites32(),
            PartnerSettings {
                id: "ordre32".into(),
                name: "Ordre des médecins du Gers".into(),
                origin: "https://ordre32.example".into(),
                link_code: "ordre".into(),
            },
        ])
        .spawn()
        .await
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
}

/// A position at the centres of these communes, published or not; its id.
fn position(
    app: &TestApp,
    title: &str,
    communes: &[&str],
    fte: (i32, i32),
    published: bool,
) -> i64 {
    let mut conn = app.conn();
    let id = diesel::sql_query(format!(
        "INSERT INTO positions (title, specialty_code, description, fte_min_hundredths, \
         fte_max_hundredths, published, published_at, created_at, updated_at) \
         VALUES ($1, 'SM54', $2, $3, $4, $5, CASE WHEN $5 THEN {now} END, {now}, {now}) \
         RETURNING id",
        now = sql_now()
    ))
    .bind::<diesel::sql_types::Text, _>(title)
    .bind::<diesel::sql_types::Text, _>(
        "Consultations de médecine générale.\n\nTravail en équipe avec un secrétariat.",
    )
    .bind::<diesel::sql_types::Integer, _>(fte.0)
    .bind::<diesel::sql_types::Integer, _>(fte.1)
    .bind::<diesel::sql_types::Bool, _>(published)
    .get_result::<Id>(&mut conn)
    .unwrap()
    .id;
    for commune in communes {
        diesel::sql_query(
            "INSERT INTO position_centres (position_id, centre_id) \
             SELECT $1, id FROM centres WHERE commune = $2",
        )
        .bind::<diesel::sql_types::BigInt, _>(id)
        .bind::<diesel::sql_types::Text, _>(*commune)
        .execute(&mut conn)
        .unwrap();
    }
    id
}

async fn post_fields(
    staff: &StaffClient,
    path: &str,
    fields: &[(&'static str, String)],
) -> reqwest::Response {
    let refs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    staff.post_form(path, &refs).await
}

fn exec(app: &TestApp, sql: &str) {
    diesel::sql_query(sql).execute(&mut app.conn()).unwrap();
}

fn select_all(html: &str, selector: &str) -> Vec<String> {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse(selector).unwrap();
    doc.select(&sel).map(|e| e.inner_html()).collect()
}

/// The JobPosting JSON-LD documents of a page, parsed.
fn json_ld(html: &str) -> Vec<Value> {
    select_all(html, r#"script[type="application/ld+json"]"#)
        .iter()
        .map(|s| serde_json::from_str(s).unwrap_or_else(|e| panic!("{e}: {s}")))
        .collect()
}

/// Every link target of a page, as the browser reads it (entities decoded).
fn hrefs(html: &str) -> Vec<String> {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse("[href]").unwrap();
    doc.select(&sel)
        .filter_map(|e| e.value().attr("href").map(str::to_owned))
        .collect()
}

fn links_to(html: &str, target: &str) -> bool {
    hrefs(html).iter().any(|h| h == target)
}

fn meta_description(html: &str) -> Option<String> {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse(r#"meta[name="description"]"#).unwrap();
    doc.select(&sel)
        .next()
        .and_then(|e| e.value().attr("content").map(str::to_owned))
}

fn header(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

/// What the public places say of the open positions, by id: page status, in sitemap, in the
/// feed, in the partners' JSON, in the embed, on the home page, in the form's list.
async fn presence(app: &TestApp, id: i64, path: &str) -> [bool; 7] {
    let page = app.get(path).await.status() == 200;
    let sitemap = app.get("/sitemap.xml").await.text().await.unwrap();
    let feed = app.get("/postes.atom").await.bytes().await.unwrap();
    let feed = feed_rs::parser::parse(&feed[..]).expect("the feed parses");
    let json: Vec<Value> = app
        .get("/partenaires/postes.json")
        .await
        .json()
        .await
        .unwrap();
    let (_, embed) = app.get_html("/partenaires/dites32/postes").await;
    let (_, home) = app.get_html("/").await;
    let (_, form) = app.get_html("/candidature").await;
    let options = select_all(&form, "#poste option");
    let doc = scraper::Html::parse_document(&form);
    let sel = scraper::Selector::parse("#poste option").unwrap();
    let in_form = doc
        .select(&sel)
        .any(|o| o.value().attr("value") == Some(id.to_string().as_str()));
    assert!(!options.is_empty());
    [
        page,
        sitemap.contains(&format!("http://vocation.test{path}</loc>")),
        feed.entries
            .iter()
            .any(|e| e.id == format!("http://vocation.test/postes/{id}")),
        json.iter().any(|p| p["id"] == id),
        links_to(
            &embed,
            &format!("http://vocation.test/l/dites32-web?poste={id}"),
        ),
        links_to(&home, path),
        in_form,
    ]
}

#[tokio::test]
async fn a_position_has_its_page_and_other_spellings_of_its_address_redirect_there() {
    let app = spawn().await;
    let id = position(
        &app,
        "Médecin généraliste – Vic-Fezensac et Fleurance",
        &["Vic-Fezensac", "Fleurance"],
        (60, 80),
        true,
    );
    let path = format!("/postes/{id}-medecin-generaliste-vic-fezensac-et-fleurance");
    let (status, html) = app.get_html(&path).await;
    assert_eq!(status, 200, "{html}");
    for expected in [
        "<h1>Médecin généraliste – Vic-Fezensac et Fleurance</h1>",
        "Médecine générale",
        "Temps partiel : 60 à 80 % (3 à 4 jours par semaine)",
        "Vic-Fezensac",
        "Fleurance",
        "32500 Fleurance",
        "32190 Vic-Fezensac",
        "Travail en équipe avec un secrétariat.",
        "Un poste salarié",
        "Un secrétariat qui gère l'administratif",
    ] {
        assert!(html.contains(expected), "missing {expected}");
    }
    assert!(links_to(&html, &format!("/candidature?poste={id}")));
    assert!(links_to(&html, &format!("http://vocation.test{path}")));
    // The apply link preselects the position in the form.
    let (_, form) = app.get_html(&format!("/candidature?poste={id}")).await;
    let doc = scraper::Html::parse_document(&form);
    let sel = scraper::Selector::parse("#poste option[selected]").unwrap();
    assert_eq!(
        doc.select(&sel).next().unwrap().value().attr("value"),
        Some(id.to_string().as_str())
    );
    // Without a slug, a wrong one, an old one, one in another script: 301 to the canonical.
    for other in [
        format!("/postes/{id}"),
        format!("/postes/{id}-"),
        format!("/postes/{id}-ancien-titre"),
        format!("/postes/{id}-M%C3%A9decin-g%C3%A9n%C3%A9raliste"),
        format!("/postes/{id}-%E5%8C%BB%E7%94%9F"),
        format!("/postes/{id}-medecin-generaliste-vic-fezensac-et-fleurance-"),
    ] {
        let r = app.get(&other).await;
        assert_eq!(r.status(), 301, "{other}");
        assert_eq!(
            header(&r, "location").as_deref(),
            Some(path.as_str()),
            "{other}"
        );
    }
    // The list and the home page link to it; the home page links to the list.
    let (status, list) = app.get_html("/postes").await;
    assert_eq!(status, 200);
    assert!(links_to(&list, &path));
    assert!(links_to(&list, "/postes.atom"));
    let (_, home) = app.get_html("/").await;
    assert!(links_to(&home, &path));
    assert!(links_to(&home, "/postes"));
}

#[tokio::test]
async fn hostile_position_addresses_get_the_french_not_found_page() {
    let app = spawn().await;
    let unpublished = position(&app, "Pédiatre", &["Fleurance"], (50, 50), false);
    for path in [
        "/postes/0".to_owned(),
        "/postes/-1".to_owned(),
        "/postes/-1-x".to_owned(),
        "/postes/+1".to_owned(),
        "/postes/99999999999999999999".to_owned(),
        "/postes/9223372036854775807".to_owned(),
        "/postes/9223372036854775808-x".to_owned(),
        "/postes/abc".to_owned(),
        "/postes/%E2%9C%93".to_owned(),
        "/postes/1e3".to_owned(),
        "/postes/%20".to_owned(),
        format!("/postes/{}", "9".repeat(5000)),
        format!("/postes/{unpublished}-pediatre"),
        format!("/postes/{unpublished}"),
        "/postes/424242-medecin".to_owned(),
        "/partenaires/inconnu/postes".to_owned(),
        "/partenaires/DITES32/postes".to_owned(),
        "/partenaires/postes.json?partenaire=inconnu".to_owned(),
    ] {
        let r = app.get(&path).await;
        let status = r.status().as_u16();
        let body = r.text().await.unwrap();
        assert_eq!(status, 404, "{path}");
        assert!(body.contains("Page introuvable"), "{path}: {body}");
    }
}

#[tokio::test]
async fn the_job_posting_has_googles_required_properties_and_cannot_break_out_of_its_script() {
    let app = spawn().await;
    let attack = "</script><script>alert(1)</script><!-- \"quoted\" & \u{2028}";
    let id = position(&app, attack, &["Fleurance", "Marciac"], (50, 100), true);
    exec(
        &app,
        &format!(
            "UPDATE positions SET closes_on = {} + 30 WHERE id = {id}",
            sql_today()
        ),
    );
    exec(
        &app,
        "UPDATE centres SET street_address = '2 place de la Halle' WHERE commune = 'Fleurance'",
    );
    let r = app.get(&format!("/postes/{id}")).await;
    let location = header(&r, "location").unwrap();
    assert_eq!(
        location,
        format!("/postes/{id}-script-script-alert-1-script-quoted")
    );
    let (status, html) = app.get_html(&location).await;
    assert_eq!(status, 200);
    // One script element only: the title did not close it nor open another.
    assert_eq!(select_all(&html, "script").len(), 1, "{html}");
    assert!(!html.contains("<script>alert"));
    let postings = json_ld(&html);
    assert_eq!(postings.len(), 1);
    let p = &postings[0];
    assert_eq!(p["@context"], "https://schema.org/");
    assert_eq!(p["@type"], "JobPosting");
    assert_eq!(p["title"], attack);
    let description = p["description"].as_str().unwrap();
    assert!(description.contains("<p>Consultations de médecine générale.</p>"));
    assert_eq!(p["datePosted"], test_day().to_string());
    let through = p["validThrough"].as_str().unwrap();
    assert!(
        through.starts_with(&format!(
            "{}T23:59:59+0",
            test_day() + chrono::Duration::days(30)
        )),
        "{through}"
    );
    assert_eq!(
        p["employmentType"],
        serde_json::json!(["FULL_TIME", "PART_TIME"])
    );
    assert_eq!(p["hiringOrganization"]["@type"], "Organization");
    assert!(!p["hiringOrganization"]["name"].as_str().unwrap().is_empty());
    assert_eq!(p["identifier"]["value"], id.to_string());
    assert_eq!(p["directApply"], true);
    let places = p["jobLocation"].as_array().unwrap();
    assert_eq!(places.len(), 2);
    for place in places {
        assert_eq!(place["@type"], "Place");
        let a = &place["address"];
        assert_eq!(a["@type"], "PostalAddress");
        assert_eq!(a["addressCountry"], "FR");
        assert_eq!(a["addressRegion"], "Occitanie");
        assert_eq!(a["postalCode"].as_str().unwrap().len(), 5);
        assert!(!a["addressLocality"].as_str().unwrap().is_empty());
    }
    let fleurance = places
        .iter()
        .find(|p| p["address"]["addressLocality"] == "Fleurance")
        .unwrap();
    assert_eq!(fleurance["address"]["streetAddress"], "2 place de la Halle");
    assert_eq!(fleurance["address"]["postalCode"], "32500");
    // No street typed for Marciac: none is made up.
    let marciac = places
        .iter()
        .find(|p| p["address"]["addressLocality"] == "Marciac")
        .unwrap();
    assert!(marciac["address"].get("streetAddress").is_none());

    // Full time only, no closing date: one type, no validThrough.
    let full = position(&app, "Médecin généraliste", &["Gondrin"], (100, 100), true);
    let (_, html) = app
        .get_html(&format!("/postes/{full}-medecin-generaliste"))
        .await;
    let p = &json_ld(&html)[0];
    assert_eq!(p["employmentType"], "FULL_TIME");
    assert!(p.get("validThrough").is_none());
    let part = position(&app, "Pédiatre", &["Gondrin"], (40, 60), true);
    let (_, html) = app.get_html(&format!("/postes/{part}-pediatre")).await;
    assert_eq!(json_ld(&html)[0]["employmentType"], "PART_TIME");
}

#[tokio::test]
async fn publishing_from_the_position_form_dates_the_posting_and_keeps_the_closing_date() {
    let app = spawn().await;
    let admin = app.staff(StaffRole::Admin).await;
    let csrf = hidden_value(&admin.get_html("/admin/postes/nouveau").await.1, "csrf");
    let fleurance = app
        .text("SELECT id FROM centres WHERE commune = 'Fleurance'")
        .unwrap();
    let closing = test_day() + chrono::Duration::days(60);
    let mut fields = vec![
        ("csrf", csrf.clone()),
        ("titre", "Médecin généraliste – Fleurance".to_owned()),
        ("specialite", "SM54".to_owned()),
        ("description", "Consultations.".to_owned()),
        ("centres", fleurance.clone()),
        ("etp_min", "1".to_owned()),
        ("etp_max", "1".to_owned()),
        ("date_limite", "pas de date".to_owned()),
    ];
    // A wrong date: the form again (422), the date as typed, the message at its field.
    let r = post_fields(&admin, "/admin/postes/nouveau", &fields).await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("value=\"pas de date\""));
    assert!(html.contains("id=\"date_limite-error\""));
    fields.retain(|(k, _)| *k != "date_limite");
    fields.push(("date_limite", closing.format("%d/%m/%Y").to_string()));
    fields.push(("publie", "oui".to_owned()));
    let r = post_fields(&admin, "/admin/postes/nouveau", &fields).await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let id = app.count("SELECT max(id) FROM positions");
    assert_eq!(
        app.text(&format!("SELECT closes_on FROM positions WHERE id = {id}")),
        Some(closing.to_string())
    );
    let (status, html) = app
        .get_html(&format!("/postes/{id}-medecin-generaliste-fleurance"))
        .await;
    assert_eq!(status, 200);
    let p = &json_ld(&html)[0];
    assert_eq!(p["datePosted"], test_day().to_string());
    assert!(p["validThrough"]
        .as_str()
        .unwrap()
        .starts_with(&closing.to_string()));
    // The edit form shows the closing date; withdrawing clears the publication date.
    let (_, edit) = admin.get_html(&format!("/admin/postes/{id}")).await;
    assert!(edit.contains(&format!("value=\"{closing}\"")));
    let csrf = hidden_value(&edit, "csrf");
    let unpublish: Vec<(&'static str, String)> = fields
        .iter()
        .filter(|(k, _)| *k != "publie" && *k != "csrf")
        .cloned()
        .chain([("csrf", csrf)])
        .collect();
    let r = post_fields(&admin, &format!("/admin/postes/{id}"), &unpublish).await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM positions WHERE id = {id} AND published_at IS NULL"
        )),
        1
    );
    // A position past its closing date is no longer shown.
    exec(
        &app,
        &format!(
            "UPDATE positions SET published = true, published_at = {}, closes_on = {} - 1 \
             WHERE id = {id}",
            sql_now(),
            sql_today()
        ),
    );
    assert_eq!(
        app.get(&format!("/postes/{id}-medecin-generaliste-fleurance"))
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn the_sitemap_lists_the_public_pages_and_robots_keep_out_of_staff_areas() {
    let app = spawn().await;
    let open = position(
        &app,
        "Médecin généraliste",
        &["Plaisance"],
        (100, 100),
        true,
    );
    let hidden = position(&app, "Pédiatre", &["Plaisance"], (100, 100), false);
    let r = app.get("/sitemap.xml").await;
    assert_eq!(r.status(), 200);
    assert!(header(&r, "content-type")
        .unwrap()
        .starts_with("application/xml"));
    let xml = r.text().await.unwrap();
    for loc in [
        "<loc>http://vocation.test/</loc>",
        "<loc>http://vocation.test/candidature</loc>",
        "<loc>http://vocation.test/postes</loc>",
        &format!(
            "<loc>http://vocation.test/postes/{open}-medecin-generaliste</loc><lastmod>{}",
            test_day()
        ),
    ] {
        assert!(xml.contains(loc), "missing {loc} in {xml}");
    }
    assert!(!xml.contains(&format!("/postes/{hidden}-")));
    assert_eq!(xml.matches("<url>").count(), 4);

    let r = app.get("/robots.txt").await;
    assert_eq!(r.status(), 200);
    let robots = r.text().await.unwrap();
    assert!(robots.starts_with("User-agent: *\nAllow: /\n"));
    for line in [
        "Disallow: /recrutement",
        "Disallow: /admin/",
        "Disallow: /contacts",
        "Disallow: /campagnes",
        "Disallow: /rapports",
        "Disallow: /mes-donnees/",
        "Disallow: /espace",
        "Disallow: /api/",
        "Sitemap: http://vocation.test/sitemap.xml",
    ] {
        assert!(robots.lines().any(|l| l == line), "missing {line}");
    }
    assert!(!robots.contains("Disallow: /postes"));
    assert!(!robots.contains("Disallow: /candidature\n"));
}

#[tokio::test]
async fn every_public_page_has_its_own_meta_description() {
    let app = spawn().await;
    let id = position(
        &app,
        "Médecin généraliste",
        &["Fleurance"],
        (100, 100),
        true,
    );
    let other = position(&app, "Pédiatre", &["Gondrin"], (50, 50), true);
    let r = app.apply(&Fields::valid()).await;
    assert_eq!(r.status(), 303);
    let received = header(&r, "location").unwrap();
    app.dispatch_all_pending_emails().await;
    let mail = app
        .smtp
        .received_by("claire.martin@exemple.fr")
        .into_iter()
        .map(|m| m.text())
        .find(|t| t.contains("/mes-donnees/"))
        .expect("the confirmation carries the private link");
    let start = mail.find("http://vocation.test/mes-donnees/").unwrap();
    let private = mail[start + "http://vocation.test".len()..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let mut seen: Vec<(String, String)> = Vec::new();
    for path in [
        "/".to_owned(),
        "/candidature".to_owned(),
        received,
        "/postes".to_owned(),
        format!("/postes/{id}-medecin-generaliste"),
        format!("/postes/{other}-pediatre"),
        "/donnees-personnelles".to_owned(),
        "/accessibilite".to_owned(),
        "/mes-donnees".to_owned(),
        private.clone(),
        format!("{private}/effacement"),
        "/partenaires/dites32/postes".to_owned(),
    ] {
        let (status, html) = app.get_html(&path).await;
        assert_eq!(status, 200, "{path}");
        let description = meta_description(&html).unwrap_or_else(|| panic!("none on {path}"));
        assert!(description.chars().count() >= 40, "{path}: {description}");
        assert!(description.chars().count() <= 320, "{path}: {description}");
        if let Some((first, _)) = seen.iter().find(|(_, d)| *d == description) {
            panic!("{path} has the description of {first}");
        }
        seen.push((path, description));
    }
}

#[tokio::test]
async fn the_atom_feed_has_one_entry_per_open_position() {
    let app = spawn().await;
    let a = position(
        &app,
        "Médecin généraliste – Fleurance",
        &["Fleurance"],
        (100, 100),
        true,
    );
    let b = position(
        &app,
        "Pédiatre & généticien <b>",
        &["Vic-Fezensac"],
        (50, 50),
        true,
    );
    position(&app, "Brouillon", &["Fleurance"], (100, 100), false);
    let r = app.get("/postes.atom").await;
    assert_eq!(r.status(), 200);
    assert!(header(&r, "content-type")
        .unwrap()
        .starts_with("application/atom+xml"));
    let bytes = r.bytes().await.unwrap();
    let feed = feed_rs::parser::parse(&bytes[..]).expect("a valid feed");
    assert_eq!(feed.feed_type, feed_rs::model::FeedType::Atom);
    assert_eq!(feed.id, "http://vocation.test/postes");
    assert!(feed.title.unwrap().content.contains("Postes ouverts"));
    assert!(feed.updated.is_some());
    assert!(!feed.authors.is_empty());
    let rels: Vec<(Option<String>, String)> = feed
        .links
        .iter()
        .map(|l| (l.rel.clone(), l.href.clone()))
        .collect();
    assert!(rels.contains(&(
        Some("self".into()),
        "http://vocation.test/postes.atom".into()
    )));
    assert!(rels.contains(&(
        Some("alternate".into()),
        "http://vocation.test/postes".into()
    )));
    assert_eq!(feed.entries.len(), 2);
    let entry = |id: i64| {
        feed.entries
            .iter()
            .find(|e| e.id == format!("http://vocation.test/postes/{id}"))
            .unwrap()
    };
    let e = entry(b);
    assert_eq!(
        e.title.as_ref().unwrap().content,
        "Pédiatre & généticien <b>"
    );
    assert_eq!(
        e.links[0].href,
        format!("http://vocation.test/postes/{b}-pediatre-geneticien-b")
    );
    assert!(e.updated.is_some() && e.published.is_some());
    assert!(e.summary.as_ref().unwrap().content.contains("Vic-Fezensac"));
    assert!(entry(a)
        .summary
        .as_ref()
        .unwrap()
        .content
        .contains("Temps plein"));
    // Withdrawing a position changes the feed: its entry goes, `updated` moves on.
    let before = feed.updated.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    exec(
        &app,
        &format!(
            "UPDATE positions SET published = false, updated_at = {} WHERE id = {b}",
            sql_now()
        ),
    );
    let bytes = app.get("/postes.atom").await.bytes().await.unwrap();
    let feed = feed_rs::parser::parse(&bytes[..]).unwrap();
    assert_eq!(feed.entries.len(), 1);
    assert!(feed.updated.unwrap() > before);
}

#[tokio::test]
async fn the_partners_json_answers_cors_only_to_configured_origins() {
    let app = spawn().await;
    let id = position(
        &app,
        "Médecin généraliste",
        &["Fleurance"],
        (100, 100),
        true,
    );
    let url = app.url("/partenaires/postes.json");
    // The partner's page, in a browser: its origin echoed, links through its channel link.
    let r = app
        .client
        .get(&url)
        .header("Origin", PARTNER_ORIGIN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        header(&r, "access-control-allow-origin").as_deref(),
        Some(PARTNER_ORIGIN)
    );
    assert!(header(&r, "vary").unwrap().contains("Origin"));
    let list: Vec<Value> = r.json().await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["id"], id);
    assert_eq!(list[0]["intitule"], "Médecin généraliste");
    assert_eq!(
        list[0]["lien"],
        format!("http://vocation.test/l/dites32-web?poste={id}")
    );
    // Another partner gets its own link.
    let r = app
        .client
        .get(&url)
        .header("Origin", "https://ordre32.example")
        .send()
        .await
        .unwrap();
    let list: Vec<Value> = r.json().await.unwrap();
    assert_eq!(
        list[0]["lien"],
        format!("http://vocation.test/l/ordre?poste={id}")
    );
    // Origins that only look like a partner's: no CORS header.
    for origin in [
        "https://evil.example",
        "https://www.dites32.fr.evil.example",
        "http://www.dites32.fr",
        "https://www.dites32.fr/",
        "https://WWW.DITES32.FR",
        "https://www.dites32.fr:8443",
        "null",
    ] {
        let r = app
            .client
            .get(&url)
            .header("Origin", origin)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{origin}");
        assert_eq!(header(&r, "access-control-allow-origin"), None, "{origin}");
        assert!(header(&r, "vary").unwrap().contains("Origin"));
        let list: Vec<Value> = r.json().await.unwrap();
        assert_eq!(
            list[0]["lien"],
            format!("http://vocation.test/postes/{id}-medecin-generaliste"),
            "{origin}"
        );
    }
    // A server reading it names the partner.
    let r = app.get("/partenaires/postes.json?partenaire=dites32").await;
    assert_eq!(header(&r, "access-control-allow-origin"), None);
    let list: Vec<Value> = r.json().await.unwrap();
    assert_eq!(
        list[0]["lien"],
        format!("http://vocation.test/l/dites32-web?poste={id}")
    );
    // Preflight: GET from a partner only.
    let preflight = |origin: &'static str, method: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, &url)
            .header("Origin", origin)
            .header("Access-Control-Request-Method", method)
            .send()
    };
    let r = preflight(PARTNER_ORIGIN, "GET").await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        header(&r, "access-control-allow-origin").as_deref(),
        Some(PARTNER_ORIGIN)
    );
    assert_eq!(
        header(&r, "access-control-allow-methods").as_deref(),
        Some("GET, HEAD")
    );
    for (origin, method) in [
        (PARTNER_ORIGIN, "POST"),
        (PARTNER_ORIGIN, "DELETE"),
        ("https://evil.example", "GET"),
    ] {
        let r = preflight(origin, method).await.unwrap();
        assert_eq!(r.status(), 403, "{origin} {method}");
        assert_eq!(header(&r, "access-control-allow-origin"), None);
        assert_eq!(header(&r, "access-control-allow-methods"), None);
    }
    // Nothing but reading: a POST is refused.
    let r = app
        .client
        .post(&url)
        .header("Origin", PARTNER_ORIGIN)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error());
    assert_eq!(header(&r, "access-control-allow-origin"), None);
}

#[tokio::test]
async fn only_the_partner_may_frame_its_embed_and_other_pages_still_refuse_framing() {
    let app = spawn().await;
    let id = position(
        &app,
        "Médecin généraliste",
        &["Fleurance"],
        (100, 100),
        true,
    );
    let r = app.get("/partenaires/dites32/postes").await;
    assert_eq!(r.status(), 200);
    let csp = header(&r, "content-security-policy").unwrap();
    let ancestors: Vec<&str> = csp
        .split(';')
        .map(str::trim)
        .find(|d| d.starts_with("frame-ancestors"))
        .unwrap()
        .split_whitespace()
        .skip(1)
        .collect();
    assert_eq!(ancestors, [PARTNER_ORIGIN]);
    assert!(csp.contains("object-src 'none'") && csp.contains("base-uri 'none'"));
    assert_ne!(header(&r, "x-frame-options").as_deref(), Some("DENY"));
    let html = r.text().await.unwrap();
    assert!(links_to(
        &html,
        &format!("http://vocation.test/l/dites32-web?poste={id}")
    ));
    assert!(html.contains("target=\"_blank\""));
    // The other partner's embed names only the other partner.
    let r = app.get("/partenaires/ordre32/postes").await;
    let csp = header(&r, "content-security-policy").unwrap();
    assert!(
        csp.contains("frame-ancestors https://ordre32.example;")
            || csp.ends_with("frame-ancestors https://ordre32.example")
    );
    assert!(!csp.contains(PARTNER_ORIGIN));
    // Every other page keeps refusing to be framed.
    for path in [
        "/".to_owned(),
        "/postes".to_owned(),
        format!("/postes/{id}-medecin-generaliste"),
        "/candidature".to_owned(),
        "/partenaires/postes.json".to_owned(),
        "/partenaires/inconnu/postes".to_owned(),
        "/postes.atom".to_owned(),
    ] {
        let r = app.get(&path).await;
        let csp = header(&r, "content-security-policy").unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert_eq!(
            header(&r, "x-frame-options").as_deref(),
            Some("DENY"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn an_unpublished_position_is_gone_from_every_public_place() {
    let app = spawn().await;
    let id = position(
        &app,
        "Médecin généraliste",
        &["Fleurance"],
        (100, 100),
        true,
    );
    let stays = position(&app, "Pédiatre", &["Fleurance"], (50, 50), true);
    let path = format!("/postes/{id}-medecin-generaliste");
    assert_eq!(presence(&app, id, &path).await, [true; 7]);
    exec(
        &app,
        &format!(
            "UPDATE positions SET published = false, updated_at = {} WHERE id = {id}",
            sql_now()
        ),
    );
    assert_eq!(presence(&app, id, &path).await, [false; 7]);
    assert_eq!(
        presence(&app, stays, &format!("/postes/{stays}-pediatre")).await,
        [true; 7]
    );
    // Applying to it is refused like any unknown position.
    let r = app
        .apply(&Fields::valid().set("poste", &id.to_string()))
        .await;
    assert_eq!(r.status(), 422);
}

#[tokio::test]
async fn a_closed_centre_takes_its_positions_off_and_leaves_the_others_centres() {
    let app = spawn().await;
    let only_marciac = position(&app, "Médecin à Marciac", &["Marciac"], (100, 100), true);
    let shared = position(
        &app,
        "Médecin à Fleurance et Marciac",
        &["Fleurance", "Marciac"],
        (100, 100),
        true,
    );
    let only_path = format!("/postes/{only_marciac}-medecin-a-marciac");
    let shared_path = format!("/postes/{shared}-medecin-a-fleurance-et-marciac");
    // Closing later: still shown today.
    exec(
        &app,
        &format!(
            "UPDATE centres SET closed_on = {} + 10 WHERE commune = 'Marciac'",
            sql_today()
        ),
    );
    assert_eq!(presence(&app, only_marciac, &only_path).await, [true; 7]);
    // Closed from today.
    exec(
        &app,
        &format!(
            "UPDATE centres SET status = 'closed', closed_on = {}, updated_at = {} \
             WHERE commune = 'Marciac'",
            sql_today(),
            sql_now()
        ),
    );
    assert_eq!(presence(&app, only_marciac, &only_path).await, [false; 7]);
    assert_eq!(presence(&app, shared, &shared_path).await, [true; 7]);
    let (_, html) = app.get_html(&shared_path).await;
    assert!(html.contains("<strong>Fleurance</strong>"));
    assert!(!html.contains("<strong>Marciac</strong>"), "{html}");
    let places = json_ld(&html)[0]["jobLocation"].as_array().unwrap().clone();
    assert_eq!(places.len(), 1);
    assert_eq!(places[0]["address"]["addressLocality"], "Fleurance");
    let json: Vec<Value> = app
        .get("/partenaires/postes.json")
        .await
        .json()
        .await
        .unwrap();
    let entry = json.iter().find(|p| p["id"] == shared).unwrap();
    assert_eq!(entry["communes"], serde_json::json!(["Fleurance"]));
    let (_, home) = app.get_html("/").await;
    assert!(home.contains(&shared_path));
    // Both centres closed: gone.
    exec(
        &app,
        &format!(
            "UPDATE centres SET status = 'closed', closed_on = {} WHERE commune = 'Fleurance'",
            sql_today()
        ),
    );
    assert_eq!(presence(&app, shared, &shared_path).await, [false; 7]);
}

#[tokio::test]
async fn an_administrator_types_a_centres_address_and_a_wrong_postcode_is_shown_again() {
    let app = spawn().await;
    let id = position(&app, "Médecin généraliste", &["Gondrin"], (100, 100), true);
    let gondrin = app
        .text("SELECT id FROM centres WHERE commune = 'Gondrin'")
        .unwrap();
    let admin = app.staff(StaffRole::Admin).await;
    let path = format!("/admin/centres/{gondrin}");
    let (status, edit) = admin.get_html(&path).await;
    assert_eq!(status, 200);
    // The postcode filled by the migration is in the form.
    assert!(edit.contains("value=\"32330\""), "{edit}");
    let csrf = hidden_value(&edit, "csrf");
    let mut fields: Vec<(&'static str, String)> = [
        ("nom", "Antenne territoriale de santé de Gondrin"),
        ("type", "antenne"),
        ("commune", "Gondrin"),
        ("code_insee", "32149"),
        ("latitude", "43,8836"),
        ("longitude", "0,2378"),
        ("statut", "open"),
        ("ouverture", "2022-01-01"),
        ("fermeture", ""),
        ("capacite", "1"),
        ("adresse", "<b>1 rue de la Mairie</b>"),
        ("code_postal", "3233O"),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_owned()))
    .chain([("csrf", csrf)])
    .collect();
    let r = post_fields(&admin, &path, &fields).await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"code_postal-error\""));
    assert!(html.contains("value=\"3233O\""));
    assert!(html.contains("value=\"&lt;b&gt;1 rue de la Mairie&lt;/b&gt;\""));
    assert_eq!(
        app.text(&format!(
            "SELECT postcode FROM centres WHERE id = {gondrin}"
        )),
        Some("32330".into())
    );
    fields.retain(|(k, _)| *k != "code_postal");
    fields.push(("code_postal", "32330".into()));
    let r = post_fields(&admin, &path, &fields).await;
    assert_eq!(r.status(), 303);
    // The JobPosting carries the address as typed, as JSON text.
    let (_, html) = app
        .get_html(&format!("/postes/{id}-medecin-generaliste"))
        .await;
    let address = &json_ld(&html)[0]["jobLocation"][0]["address"];
    assert_eq!(address["streetAddress"], "<b>1 rue de la Mairie</b>");
    assert_eq!(address["postalCode"], "32330");
    assert!(!html.contains("<b>1 rue"));
}
