//! Pages and e-mails as a person gets them, written to a folder so that two versions of the
//! code can be compared byte for byte (a change of structure must not change one byte).
//!
//! Not run by default. With the demo data, it signs in as an administrator (who may see every
//! staff page), follows every link it finds from the staff home and the public home, posts a
//! few forms with mistakes (the pages with messages at the fields), asks the JSON API, applies
//! and moves an application (the e-mails that go), and writes each answer to
//! `$GOLDEN_DIR/<n>-<path>.txt` with its status and content type. What changes from one run to
//! the next whatever the code (the port, CSRF tokens, submission keys, signed links, message
//! ids, dates of sending) is masked. Run it before and after a change and compare the folders:
//!
//! ```sh
//! GOLDEN_DIR=/tmp/before cargo test --test api golden -- --ignored
//! # … the change …
//! GOLDEN_DIR=/tmp/after cargo test --test api golden -- --ignored
//! diff -r /tmp/before /tmp/after
//! ```

use std::collections::{BTreeSet, VecDeque};
use std::path::PathBuf;

use regex::Regex;
use vocation::db::enums::StaffRole;

use crate::helpers::{Fields, StaffClient, TestApp, STAFF_PASSWORD};

/// Pages visited at most (the demo has about fifty candidates).
const MAX_PAGES: usize = 600;

struct Golden {
    dir: PathBuf,
    n: usize,
    masks: Vec<(Regex, &'static str)>,
}

impl Golden {
    fn new(dir: PathBuf) -> Golden {
        std::fs::create_dir_all(&dir).unwrap();
        let masks = vec![
            // The QR code of a new TOTP secret.
            (Regex::new(r#"(?s)<div class="qr".*?</div>"#).unwrap(), "QR"),
            (
                Regex::new(
                    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}(:?\d{2})?)?",
                )
                .unwrap(),
                "TIMESTAMP",
            ),
            (Regex::new(r"127\.0\.0\.1:\d+").unwrap(), "127.0.0.1:PORT"),
            // Signed « Mes données » links (their expiry is in seconds), also across a
            // quoted-printable soft line break.
            (
                Regex::new(r"mes-donnees/\d+\.\d{10}\.[A-Za-z0-9_\-]*(=\r?\n[A-Za-z0-9_\-]*)?")
                    .unwrap(),
                "mes-donnees/LINK",
            ),
            (
                Regex::new(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
                    .unwrap(),
                "UUID",
            ),
            // Tokens, signatures, session and CSRF values: long runs of base64url or hex.
            (Regex::new(r"[A-Za-z0-9_\-]{32,}").unwrap(), "TOKEN"),
            (
                Regex::new(r"(?m)^(Date|Message-ID|Message-Id|DKIM-Signature): .*$").unwrap(),
                "$1: MASKED",
            ),
            (
                Regex::new(r#"boundary="?[^";\s]+"?"#).unwrap(),
                "boundary=MASKED",
            ),
            (
                Regex::new(r"--[A-Za-z0-9'()+_,./:=?-]{16,}").unwrap(),
                "--BOUNDARY",
            ),
            // Times of the day written by the process while the test runs.
            (
                Regex::new(r"\b\d{1,2}[:h]\d{2}(:\d{2})?\b").unwrap(),
                "HH:MM",
            ),
        ];
        Golden { dir, n: 0, masks }
    }

    fn mask(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for (re, with) in &self.masks {
            out = re.replace_all(&out, *with).into_owned();
        }
        out
    }

    fn write(&mut self, label: &str, status: u16, content_type: &str, body: &str) {
        self.n += 1;
        let name: String = label
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .take(80)
            .collect();
        let text = format!(
            "{label}\nstatus: {status}\ncontent-type: {content_type}\n\n{}",
            self.mask(body)
        );
        std::fs::write(self.dir.join(format!("{:04}-{name}.txt", self.n)), text).unwrap();
    }
}

async fn answer(r: reqwest::Response) -> (u16, String, String) {
    let status = r.status().as_u16();
    let content_type = r
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let location = r
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(|l| format!("location: {l}\n"))
        .unwrap_or_default();
    let bytes = r.bytes().await.unwrap();
    (
        status,
        content_type,
        format!("{location}{}", String::from_utf8_lossy(&bytes)),
    )
}

/// The same-site links of a page (`href` of `a` and `link`, without fragments).
fn links(html: &str) -> Vec<String> {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse("a[href]").unwrap();
    doc.select(&sel)
        .filter_map(|e| e.value().attr("href"))
        .filter(|h| h.starts_with('/') && !h.starts_with("//"))
        .map(|h| h.split('#').next().unwrap_or("").to_owned())
        .filter(|h| !h.is_empty())
        .collect()
}

/// Visits every page reachable from `start` by links, in a stable order.
async fn crawl(golden: &mut Golden, client: &reqwest::Client, base: &str, start: &[&str]) {
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut queue: VecDeque<String> = start.iter().map(|s| (*s).to_owned()).collect();
    while let Some(path) = queue.pop_front() {
        if seen.len() >= MAX_PAGES || !seen.insert(path.clone()) {
            continue;
        }
        if path.starts_with("/deconnexion") || path.starts_with("/static/") {
            continue;
        }
        let r = client.get(format!("{base}{path}")).send().await.unwrap();
        let (status, content_type, body) = answer(r).await;
        golden.write(&format!("GET {path}"), status, &content_type, &body);
        if content_type.starts_with("text/html") {
            let mut found = links(&body);
            found.sort();
            found.dedup();
            queue.extend(found.into_iter().filter(|l| !seen.contains(l)));
        }
    }
}

async fn post(
    golden: &mut Golden,
    staff: &StaffClient,
    path: &str,
    fields: &[(&str, &str)],
) -> (u16, String) {
    let r = staff.post_form(path, fields).await;
    let (status, content_type, body) = answer(r).await;
    golden.write(&format!("POST {path}"), status, &content_type, &body);
    (status, body)
}

#[tokio::test]
#[ignore = "writes pages and e-mails to $GOLDEN_DIR for comparing two versions"]
async fn pages_and_emails_for_comparison() {
    let Some(dir) = std::env::var_os("GOLDEN_DIR") else {
        panic!("set GOLDEN_DIR to the folder to write into");
    };
    let mut golden = Golden::new(PathBuf::from(dir));
    let app = TestApp::builder().spawn().await;
    vocation::demo::load(&mut app.conn()).unwrap();

    // Public pages, and the application form with every mistake at once.
    crawl(
        &mut golden,
        &app.client,
        &app.address,
        &["/", "/candidature"],
    )
    .await;
    let tokens = app.form_tokens("/candidature").await;
    let r = app
        .post_application(
            &tokens,
            &Fields::valid()
                .set("courriel", "pas une adresse")
                .set("rpps", "123"),
            None,
        )
        .await;
    let (status, content_type, body) = answer(r).await;
    golden.write("POST /candidature (mistakes)", status, &content_type, &body);

    // An application that goes through: its confirmation page and both e-mails.
    let tokens = app.form_tokens("/candidature").await;
    let r = app
        .post_application(
            &tokens,
            &Fields::valid()
                .set("prenom", "Hélène")
                .set("nom", "Golden")
                .set("courriel", "helene.golden@exemple.fr"),
            None,
        )
        .await;
    let (status, content_type, body) = answer(r).await;
    golden.write("POST /candidature", status, &content_type, &body);
    app.dispatch_all_pending_emails().await;

    // Staff pages, as an administrator (every page), then a recruiter's and a communication
    // officer's home.
    app.create_staff("admin.golden@cds32.test", StaffRole::Admin);
    let (admin, r) = app.sign_in("admin.golden@cds32.test", STAFF_PASSWORD).await;
    assert_eq!(r.status(), 303);
    crawl(
        &mut golden,
        &admin.client,
        &admin.base,
        &["/espace", "/recrutement"],
    )
    .await;
    for (email, role) in [
        ("recrutement.golden@cds32.test", StaffRole::Recruiter),
        ("communication.golden@cds32.test", StaffRole::Communication),
    ] {
        app.create_staff(email, role);
        let (member, _) = app.sign_in(email, STAFF_PASSWORD).await;
        let (status, html) = member.get_html("/espace").await;
        golden.write(
            &format!("GET /espace as {}", role.code()),
            status,
            "",
            &html,
        );
    }

    // Staff forms with mistakes: the same page, messages at the fields.
    let csrf = admin.csrf().await;
    let id: i64 = app
        .text("SELECT min(id)::text FROM candidates WHERE email_normalized LIKE '%golden%'")
        .unwrap()
        .parse()
        .unwrap();
    let application: i64 = app
        .text(&format!(
            "SELECT min(id)::text FROM applications WHERE candidate_id = {id}"
        ))
        .unwrap()
        .parse()
        .unwrap();
    let mistakes: Vec<(String, Vec<(&str, &str)>)> = vec![
        (
            format!("/recrutement/candidats/{id}/modifier"),
            vec![("csrf", &csrf), ("courriel", "non"), ("prenom", "")],
        ),
        (
            format!("/recrutement/candidats/{id}/notes"),
            vec![("csrf", &csrf), ("texte", "")],
        ),
        (
            format!("/recrutement/candidatures/{application}/rendez-vous"),
            vec![("csrf", &csrf), ("date", "demain"), ("heure", "25:00")],
        ),
        (
            "/admin/postes/nouveau".to_owned(),
            vec![("csrf", &csrf), ("titre", "")],
        ),
        (
            "/admin/centres/nouveau".to_owned(),
            vec![("csrf", &csrf), ("nom", "")],
        ),
        (
            "/campagnes/modeles/nouveau".to_owned(),
            vec![("csrf", &csrf), ("nom", ""), ("objet", "{{#if}}")],
        ),
        (
            "/campagnes/nouvelle".to_owned(),
            vec![("csrf", &csrf), ("nom", "")],
        ),
        (
            "/contacts/nouveau".to_owned(),
            vec![("csrf", &csrf), ("courriel", "x"), ("type", "inconnu")],
        ),
        (
            "/admin/utilisateurs".to_owned(),
            vec![("csrf", &csrf), ("courriel", "x")],
        ),
        (
            "/espace/jetons".to_owned(),
            vec![("csrf", &csrf), ("nom", "")],
        ),
    ];
    for (path, fields) in &mistakes {
        post(&mut golden, &admin, path, fields).await;
    }

    // A stage move with its e-mail to the candidate: the preview, then the move and the mail.
    let move_path = format!("/recrutement/candidatures/{application}/etape");
    let move_fields = [
        ("csrf", csrf.as_str()),
        ("depuis", "nouvelle"),
        ("vers", "premier_contact"),
        ("envoyer_courriel", "oui"),
    ];
    post(&mut golden, &admin, &move_path, &move_fields).await;
    let mut confirmed = move_fields.to_vec();
    confirmed.extend([
        ("confirmer", "oui"),
        ("objet", "Votre candidature"),
        (
            "texte",
            "Bonjour {{prenom}},\n\nNous vous appelons cette semaine.",
        ),
    ]);
    post(&mut golden, &admin, &move_path, &confirmed).await;
    app.dispatch_all_pending_emails().await;
    let (status, html) = admin
        .get_html(&format!("/recrutement/candidats/{id}"))
        .await;
    golden.write("GET candidate after the move", status, "", &html);

    // The JSON API, with a recruiter's token.
    let user = app.create_staff("api.golden@cds32.test", StaffRole::Admin);
    let (_, token) =
        vocation::api_tokens::create(&mut app.conn(), user, "golden", chrono::Utc::now()).unwrap();
    for path in [
        "/api/v1/postes".to_owned(),
        "/api/v1/candidatures".to_owned(),
        format!("/api/v1/candidatures/{application}"),
        "/api/v1/candidats".to_owned(),
        format!("/api/v1/candidats/{id}"),
        "/api/v1/campagnes".to_owned(),
        "/api/v1/campagnes/1/statistiques".to_owned(),
        "/api/v1/candidatures/999999".to_owned(),
        "/api/openapi.json".to_owned(),
    ] {
        let r = app
            .client
            .get(app.url(&path))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        let (status, content_type, body) = answer(r).await;
        golden.write(&format!("API GET {path}"), status, &content_type, &body);
    }
    let r = app
        .client
        .post(app.url("/api/v1/candidatures"))
        .bearer_auth(&token)
        .json(&serde_json::json!({ "courriel": "non", "prenom": "" }))
        .send()
        .await
        .unwrap();
    let (status, content_type, body) = answer(r).await;
    golden.write(
        "API POST /api/v1/candidatures (mistakes)",
        status,
        &content_type,
        &body,
    );

    // The « Mes données » link, asked for from the public page.
    let tokens = app.form_tokens("/mes-donnees").await;
    let r = app
        .client
        .post(app.url("/mes-donnees"))
        .form(&[
            ("csrf", tokens.csrf.as_str()),
            ("courriel", "helene.golden@exemple.fr"),
        ])
        .send()
        .await
        .unwrap();
    let (status, content_type, body) = answer(r).await;
    golden.write("POST /mes-donnees", status, &content_type, &body);
    app.dispatch_all_pending_emails().await;

    // Every e-mail that went, in the order received.
    for (i, mail) in app.smtp.received().iter().enumerate() {
        golden.write(
            &format!("MAIL {i} to {}", mail.to.join(",")),
            0,
            "message/rfc822",
            &String::from_utf8_lossy(&mail.data),
        );
    }
}
