//! Input the service must not trust, and HTTP behaviour it owes every client (issue 16 §3):
//! control characters in every kind of value, HEAD on GET routes, ids that are not numbers,
//! oversized staff forms, bodies sent one byte a second, the name a CV is served under, the
//! test message's unsubscribe link, and clicks counted once per delivery. Each test is the
//! request that was tried against the service.

use std::time::{Duration, Instant};

use chrono::Utc;
use chrono_tz::Europe::Paris;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vocation::campaigns::links::{self, Purpose};
use vocation::db::enums::StaffRole;

use crate::helpers::{hidden_value, tiny_pdf, Fields, StaffClient, TestApp};

const NUL: &str = "a\u{0}b";

/// A French refusal page: a 4xx (never a 500), HTML, saying what is wrong, never echoing the
/// control character.
async fn assert_refused_page(what: &str, r: reqwest::Response) {
    let status = r.status().as_u16();
    let content_type = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = r.text().await.unwrap();
    assert!(
        status == 400 || status == 422,
        "{what}: {status} {content_type}\n{body}"
    );
    assert!(
        content_type.starts_with("text/html"),
        "{what}: {content_type}"
    );
    assert!(
        body.contains("caractère de contrôle"),
        "{what}: no French message\n{body}"
    );
    assert!(!body.contains('\u{0}'), "{what}: the NUL is echoed");
}

/// A problem document under /api naming the field.
async fn assert_refused_problem(what: &str, r: reqwest::Response, field: &str) {
    let status = r.status().as_u16();
    let content_type = r.headers()["content-type"].to_str().unwrap().to_owned();
    let body = r.text().await.unwrap();
    assert!(status == 400 || status == 422, "{what}: {status}\n{body}");
    assert_eq!(content_type, "application/problem+json", "{what}");
    assert!(!body.contains('\u{0}'), "{what}: the NUL is echoed");
    let p: Value = serde_json::from_str(&body).unwrap();
    assert!(
        p["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["field"] == field),
        "{what}: {p}"
    );
    assert!(
        p["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("caractère de contrôle"),
        "{what}: {p}"
    );
}

fn api_token(app: &TestApp, role: StaffRole) -> String {
    let email = format!(
        "{}-{}@cds32.test",
        role.code(),
        uuid::Uuid::new_v4().simple()
    );
    let user = app.create_staff(&email, role);
    vocation::api_tokens::create(&mut app.conn(), user, "outil", Utc::now())
        .unwrap()
        .1
}

async fn post_with_csrf(
    staff: &StaffClient,
    page: &str,
    path: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let csrf = staff.csrf_from(page).await;
    let mut all = vec![("csrf", csrf.as_str())];
    all.extend_from_slice(fields);
    staff.post_form(path, &all).await
}

#[tokio::test]
async fn a_nul_character_in_a_public_form_or_the_api_is_refused_in_french_not_a_500() {
    let app = TestApp::spawn().await;

    // The sign-in form.
    let (_, html) = app.get_html("/connexion").await;
    let csrf = hidden_value(&html, "csrf");
    let r = app
        .client
        .post(app.url("/connexion"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("courriel", "admin\u{0}@cds32.test"),
            ("mot_de_passe", NUL),
            ("suite", "/recrutement"),
        ])
        .send()
        .await
        .unwrap();
    assert_refused_page("POST /connexion", r).await;

    // The JSON API's submission, NUL in utm_source.
    let mut body = json!({
        "civilite": "madame", "prenom": "Claire", "nom": "Martin",
        "courriel": "claire.martin@exemple.fr", "telephone": "06 12 34 56 78",
        "specialite": "SM54", "situation": "remplacant",
        "disponibilite": crate::helpers::available_from().to_string(),
        "temps_travail": "temps_partiel", "demi_journees": 6, "connaissance": "faculte",
        "consentement": true, "vivier": true
    });
    body["utm_source"] = json!("news\u{0}letter");
    let r = app
        .client
        .post(app.url("/api/v1/candidatures"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_refused_problem("POST /api/v1/candidatures", r, "utm_source").await;

    // The application form (multipart): a message at the field, the value not written back.
    let tokens = app.form_tokens("/candidature").await;
    let r = app
        .post_application(&tokens, &Fields::valid().set("nom", NUL), None)
        .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(!html.contains('\u{0}'), "the NUL is echoed");
    assert!(
        crate::helpers::field_error(&html, "nom")
            .unwrap_or_default()
            .contains("caractère de contrôle"),
        "{html}"
    );
    let r = app
        .post_application(&tokens, &Fields::valid().set("utm_source", NUL), None)
        .await;
    assert_eq!(r.status(), 422);
    assert!(!r.text().await.unwrap().contains('\u{0}'));
    assert_eq!(app.count("SELECT count(*) FROM candidates"), 0);
}

#[tokio::test]
async fn a_nul_character_in_a_staff_query_string_is_refused_in_french_not_a_500() {
    let app = TestApp::spawn().await;
    let recruiter = app.staff(StaffRole::Recruiter).await;
    for path in [
        "/recrutement?q=a%00b",
        "/recrutement?specialite=%00",
        "/recrutement?source=x%00",
        "/recrutement/export.csv?q=%00",
    ] {
        assert_refused_page(path, recruiter.get(path).await).await;
    }

    let token = api_token(&app, StaffRole::Recruiter);
    for (path, field) in [
        ("/api/v1/candidats?q=a%00b", "q"),
        ("/api/v1/candidatures?source=%00", "source"),
        ("/api/v1/candidatures?q=%00", "q"),
    ] {
        let r = app
            .client
            .get(app.url(path))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_refused_problem(path, r, field).await;
    }

    let comms = app.staff(StaffRole::Communication).await;
    let r = post_with_csrf(&comms, "/contacts", "/listes", &[("nom", "Internes")]).await;
    assert_eq!(r.status(), 303);
    let list = r.headers()["location"].to_str().unwrap().to_owned();
    for path in [
        "/contacts?q=%00".to_owned(),
        format!("{list}?q=%00"),
        "/contacts/desinscriptions?q=a%00".to_owned(),
    ] {
        assert_refused_page(&path, comms.get(&path).await).await;
    }
}

#[tokio::test]
async fn a_nul_character_in_a_staff_form_is_refused_in_french_and_nothing_is_saved() {
    let app = TestApp::spawn().await;
    let comms = app.staff(StaffRole::Communication).await;
    let r = post_with_csrf(
        &comms,
        "/contacts",
        "/contacts/nouveau",
        &[
            ("courriel", "anne@exemple.fr"),
            ("prenom", "Anne"),
            ("nom", NUL),
            ("organisation", ""),
            ("type", "interne"),
            ("etiquettes", ""),
            ("ville", ""),
            ("base_legale", "consentement"),
        ],
    )
    .await;
    assert_refused_page("POST /contacts/nouveau", r).await;
    assert_eq!(app.count("SELECT count(*) FROM contacts"), 0);

    let r = post_with_csrf(
        &comms,
        "/contacts",
        "/campagnes/modeles/nouveau",
        &[
            ("nom", NUL),
            ("objet", "Bonjour {{prenom}}"),
            ("texte", "Bonjour\u{0} {{prenom}} : {{lien_candidature}}"),
            ("html", ""),
        ],
    )
    .await;
    assert_refused_page("POST /campagnes/modeles/nouveau", r).await;
    assert_eq!(app.count("SELECT count(*) FROM mail_templates"), 0);

    let r = post_with_csrf(&comms, "/contacts", "/listes", &[("nom", NUL)]).await;
    assert_refused_page("POST /listes", r).await;
    assert_eq!(app.count("SELECT count(*) FROM contact_lists"), 0);

    let admin = app.staff(StaffRole::Admin).await;
    let before = app.count("SELECT count(*) FROM staff_users");
    let r = post_with_csrf(
        &admin,
        "/admin/journal",
        "/admin/utilisateurs",
        &[("courriel", "x\u{0}@cds32.test"), ("role", "recruteur")],
    )
    .await;
    assert_refused_page("POST /admin/utilisateurs", r).await;
    assert_eq!(app.count("SELECT count(*) FROM staff_users"), before);
}

/// HEAD answers what GET answers: same status and headers, no body.
async fn assert_head_like_get(
    app: &TestApp,
    client: &reqwest::Client,
    path: &str,
    same_length: bool,
) {
    let get = client.get(app.url(path)).send().await.unwrap();
    let head = client.head(app.url(path)).send().await.unwrap();
    assert_eq!(head.status(), get.status(), "HEAD {path}");
    for name in ["content-type", "location", "x-content-type-options"] {
        assert_eq!(
            head.headers().get(name),
            get.headers().get(name),
            "HEAD {path}: {name}"
        );
    }
    if same_length {
        assert_eq!(
            head.headers().get("content-length"),
            get.headers().get("content-length"),
            "HEAD {path}: content-length"
        );
        assert!(head.headers().get("content-length").is_some(), "{path}");
    }
    assert!(
        head.bytes().await.unwrap().is_empty(),
        "HEAD {path}: a body"
    );
    if get.status() == 200 {
        assert!(!get.bytes().await.unwrap().is_empty(), "GET {path}");
    }
}

#[tokio::test]
async fn head_answers_every_get_route_with_its_status_and_headers_and_no_body() {
    let app = TestApp::spawn().await;
    let anonymous = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    assert_head_like_get(&app, &anonymous, "/", false).await;
    assert_head_like_get(&app, &anonymous, "/candidature", false).await;
    assert_head_like_get(&app, &anonymous, "/static/app.css", true).await;
    assert_head_like_get(&app, &anonymous, "/api/openapi.json", true).await;
    assert_head_like_get(&app, &anonymous, "/metrics", false).await;
    assert_head_like_get(&app, &anonymous, "/healthz", false).await;
    // A staff page without a session: the same redirect to the sign-in page.
    assert_head_like_get(&app, &anonymous, "/recrutement", false).await;
    // On the wire: the headers, then nothing (the body is not sent).
    let address = app.address.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    stream
        .write_all(
            format!(
                "HEAD /static/app.css HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut raw))
        .await
        .unwrap()
        .unwrap();
    let raw = String::from_utf8_lossy(&raw);
    assert!(raw.starts_with("HTTP/1.1 200"), "{raw}");
    assert!(raw.ends_with("\r\n\r\n"), "a body after the headers: {raw}");
    // A page that does not exist: the same 404.
    let head = anonymous.head(app.url("/nulle-part")).send().await.unwrap();
    assert_eq!(head.status(), 404);

    let recruiter = app.staff(StaffRole::Recruiter).await;
    let head = recruiter
        .client
        .head(app.url("/recrutement"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    assert!(head.bytes().await.unwrap().is_empty());
    assert_head_like_get(&app, &recruiter.client, "/recrutement/export.csv", false).await;

    let token = api_token(&app, StaffRole::Recruiter);
    let get = anonymous
        .get(app.url("/api/v1/candidats"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let head = anonymous
        .head(app.url("/api/v1/candidats"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 200);
    assert_eq!(head.status(), 200);
    assert_eq!(
        head.headers()["content-type"],
        get.headers()["content-type"]
    );
    assert!(head.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn an_id_that_is_not_a_number_and_an_oversized_staff_form_answer_french_pages() {
    let app = TestApp::spawn().await;
    let recruiter = app.staff(StaffRole::Recruiter).await;
    for path in [
        "/recrutement/candidats/abc",
        "/recrutement/candidats/1e3/modifier",
        "/recrutement/documents/..%2F",
    ] {
        let r = recruiter.get(path).await;
        assert_eq!(r.status(), 404, "{path}");
        assert!(r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        assert!(
            r.text().await.unwrap().contains("Page introuvable"),
            "{path}"
        );
    }
    let r = recruiter
        .client
        .get(app.url("/api/v1/candidats/abc"))
        .send()
        .await
        .unwrap();
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/problem+json"));

    // A template form of 300 KB (read as bytes by its handler), then a 70 KB url-encoded form.
    let comms = app.staff(StaffRole::Communication).await;
    let long = "x".repeat(300 * 1024);
    let r = post_with_csrf(
        &comms,
        "/contacts",
        "/campagnes/modeles/nouveau",
        &[
            ("nom", "Long"),
            ("objet", "Objet"),
            ("texte", &long),
            ("html", ""),
        ],
    )
    .await;
    assert_eq!(r.status(), 413);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let body = r.text().await.unwrap();
    assert!(body.contains("Envoi trop volumineux"), "{body}");
    assert_eq!(app.count("SELECT count(*) FROM mail_templates"), 0);

    let long = "x".repeat(70 * 1024);
    let r = post_with_csrf(&comms, "/contacts", "/listes", &[("nom", &long)]).await;
    assert_eq!(r.status(), 413);
    let body = r.text().await.unwrap();
    assert!(body.contains("Formulaire trop long"), "{body}");
    assert_eq!(app.count("SELECT count(*) FROM contact_lists"), 0);

    // Under /api: problem documents.
    let mut big = json!({ "nom": "x".repeat(300 * 1024) });
    big["prenom"] = json!("Claire");
    let r = app
        .client
        .post(app.url("/api/v1/candidatures"))
        .json(&big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
}

/// Sends the headers of a POST at once, then its body one byte a second; returns the first line
/// of the answer and how long it took (gives up after `patience`).
async fn slow_post(
    app: &TestApp,
    path: &str,
    content_type: &str,
    patience: Duration,
) -> (String, Duration) {
    let address = app.address.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: {content_type}\r\n\
         Content-Length: 1000\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let drip = tokio::spawn(async move {
        for _ in 0..60 {
            if writer.write_all(b"a").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    let started = Instant::now();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(patience, async {
        let mut buf = [0u8; 1024];
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    answer.extend_from_slice(&buf[..n]);
                    if answer.windows(2).any(|w| w == b"\r\n") {
                        break;
                    }
                }
            }
        }
    })
    .await;
    drip.abort();
    let first_line = String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    assert!(
        read.is_ok(),
        "no answer to the slow body on {path} within {patience:?}"
    );
    (first_line, started.elapsed())
}

#[tokio::test]
async fn a_body_sent_one_byte_a_second_is_cut_off_with_a_408() {
    let app = TestApp::builder().body_timeout_seconds(2).spawn().await;
    let (line, took) = slow_post(
        &app,
        "/connexion",
        "application/x-www-form-urlencoded",
        Duration::from_secs(10),
    )
    .await;
    assert!(line.starts_with("HTTP/1.1 408"), "{line}");
    assert!(took < Duration::from_secs(8), "{took:?}");

    let (line, _) = slow_post(
        &app,
        "/api/v1/candidatures",
        "application/json",
        Duration::from_secs(10),
    )
    .await;
    assert!(line.starts_with("HTTP/1.1 408"), "{line}");

    // The application form streams its multipart body (CVs): the deadline holds there too.
    let (line, _) = slow_post(
        &app,
        "/candidature",
        "multipart/form-data; boundary=XYZ",
        Duration::from_secs(10),
    )
    .await;
    assert!(line.starts_with("HTTP/1.1 408"), "{line}");
    assert_eq!(app.count("SELECT count(*) FROM candidates"), 0);

    // A slow but steady body (10 KB a second, past the 2 s base) earns its time and is read.
    let address = app.address.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let chunk = vec![b'a'; 10 * 1024];
    let body_len = 5 + 4 * chunk.len();
    let head = format!(
        "POST /connexion HTTP/1.1\r\nHost: {address}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {body_len}\r\n\
         Connection: close\r\n\r\npad=a"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        stream.write_all(&chunk).await.unwrap();
    }
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .expect("an answer")
        .unwrap();
    assert!(started.elapsed() > Duration::from_secs(3));
    let line = String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    assert!(line.starts_with("HTTP/1.1 "), "{line}");
    assert!(!line.starts_with("HTTP/1.1 408"), "{line}");
}

#[tokio::test]
async fn a_cv_is_served_under_a_generated_pdf_name_whatever_the_uploader_called_it() {
    let app = TestApp::spawn().await;
    let tokens = app.form_tokens("/candidature").await;
    let r = app
        .post_application(&tokens, &Fields::valid(), Some(("cv.html", tiny_pdf())))
        .await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let id = app.text("SELECT id FROM documents").unwrap();
    let recruiter = app.staff(StaffRole::Recruiter).await;
    let r = recruiter.get(&format!("/recrutement/documents/{id}")).await;
    assert_eq!(r.status(), 200);
    let disposition = r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(disposition, format!("attachment; filename=\"cv-{id}.pdf\""));
    assert!(!disposition.contains("html"));
    assert_eq!(r.headers()["content-type"], "application/pdf");
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert_eq!(r.bytes().await.unwrap().to_vec(), tiny_pdf());
    // HEAD: the same headers, no body, and no download in the journal.
    let audited = "SELECT count(*) FROM audit_log WHERE action = 'telechargement'";
    assert_eq!(app.count(audited), 1);
    let r = recruiter
        .client
        .head(app.url(&format!("/recrutement/documents/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    assert!(r.bytes().await.unwrap().is_empty());
    assert_eq!(app.count(audited), 1);
}

#[tokio::test]
async fn a_forged_one_click_unsubscribe_answers_404_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let bare = reqwest::Client::new();
    for token in ["essai", "1.AAAAAAAAAAAAAAAAAAAAAA", "abc"] {
        let r = bare
            .post(app.url(&format!("/desinscription/{token}")))
            .form(&[("List-Unsubscribe", "One-Click")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "POST /desinscription/{token}");
    }
    assert_eq!(app.count("SELECT count(*) FROM suppressions"), 0);
    // GET still explains the test message's link, and changes nothing either.
    let r = bare
        .get(app.url("/desinscription/essai"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("message d'essai"));
}

fn secret() -> Vec<u8> {
    use secrecy::ExposeSecret;
    vocation::config::Settings::load_for("test")
        .unwrap()
        .security
        .secret_key
        .expose_secret()
        .as_bytes()
        .to_vec()
}

#[tokio::test]
async fn six_visits_of_one_tracked_link_are_one_click_in_the_reports() {
    let app = TestApp::spawn().await;
    {
        use diesel::connection::SimpleConnection;
        app.conn()
            .batch_execute(&format!(
                "INSERT INTO mail_templates (name, subject, body_text, body_html) \
                   VALUES ('Modèle', 'Objet', 'Texte', '<p>Texte</p>'); \
                 INSERT INTO campaigns (name, template_id, sender_name, sender_email, \
                   rate_per_minute, schedule_kind, status) \
                   SELECT 'Internes', id, 'CDS', 'cds@exemple.fr', 60, 'maintenant', 'terminee' \
                   FROM mail_templates; \
                 INSERT INTO campaign_runs (campaign_id, scheduled_for) \
                   SELECT id, {now} FROM campaigns; \
                 INSERT INTO deliveries (run_id, email, status, sent_at) \
                   SELECT r.id, v.email, 'envoye', {now} FROM campaign_runs r, \
                   (VALUES ('a@x.fr'), ('b@x.fr')) AS v(email);",
                now = crate::helpers::sql_now()
            ))
            .unwrap();
    }
    let campaign = app.text("SELECT id FROM campaigns").unwrap();
    let a: i64 = app
        .text("SELECT id FROM deliveries WHERE email = 'a@x.fr'")
        .unwrap()
        .parse()
        .unwrap();
    let b: i64 = app
        .text("SELECT id FROM deliveries WHERE email = 'b@x.fr'")
        .unwrap()
        .parse()
        .unwrap();
    let bare = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let link_a = format!("/c/{}", links::token(&secret(), Purpose::Click, a));
    let link_b = format!("/c/{}", links::token(&secret(), Purpose::Click, b));
    for _ in 0..6 {
        let r = bare.get(app.url(&link_a)).send().await.unwrap();
        assert_eq!(r.status(), 303);
    }
    // A link checker's HEAD is not a click.
    let r = bare.head(app.url(&link_b)).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM link_clicks WHERE delivery_id = {b}"
        )),
        0
    );

    let comms = app.staff(StaffRole::Communication).await;
    let today = Utc::now().with_timezone(&Paris).date_naive();
    let (status, html) = comms
        .get_html(&format!(
            "/rapports?du={}&au={today}",
            today - chrono::Duration::days(7)
        ))
        .await;
    assert_eq!(status, 200);
    let doc = scraper::Html::parse_document(&html);
    let rows = scraper::Selector::parse("table tbody tr").unwrap();
    let cells = scraper::Selector::parse("th, td").unwrap();
    let row: Vec<String> = doc
        .select(&rows)
        .map(|r| {
            r.select(&cells)
                .map(|c| c.text().collect::<String>().trim().to_owned())
                .collect::<Vec<_>>()
        })
        .find(|r| r.first().map(String::as_str) == Some("Internes"))
        .expect("the campaign's row in the reports");
    // Campaign, kind, sent, bounces, clicks: two messages sent, none bounced, one recipient who
    // clicked.
    assert_eq!(row[..5], ["Internes", "Courriel", "2", "0", "1"], "{row:?}");

    let (status, html) = comms.get_html(&format!("/campagnes/{campaign}")).await;
    assert_eq!(status, 200);
    let text: String = scraper::Html::parse_document(&html)
        .root_element()
        .text()
        .collect();
    assert!(
        text.contains(
            "Destinataires ayant cliqué sur le lien de candidature1 (6 clics sur le lien en tout)"
        ),
        "{text}"
    );
}
