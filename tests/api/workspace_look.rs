//! Our own look (issue 18): the département's accent colour and logo from the configuration,
//! the favicon, no colour or font of the French State's design system anywhere we serve or
//! send, and one greeting in every e-mail to a candidate.

use std::process::Command;

use vocation::db::enums::StaffRole;

use crate::helpers::{hidden_value, Fields, TempDir, TestApp, TestDatabase, TestSmtp};

/// What the State's design system owns and we must not use (compared in lower case).
const STATE_MARKS: [&str; 4] = ["#000091", "#ce0500", "#18753c", "marianne"];

fn assert_no_state_mark(what: &str, body: &str) {
    let lower = body.to_lowercase();
    for mark in STATE_MARKS {
        assert!(!lower.contains(mark), "{what} contains {mark}");
    }
}

/// The service started with changed `[organisation]` settings; returns its address and what
/// must live as long as it does.
async fn spawn_with(
    change: impl FnOnce(&mut vocation::config::Settings),
) -> (String, TestDatabase, TestSmtp, TempDir) {
    let db = TestDatabase::create();
    let smtp = TestSmtp::start();
    let scratch = TempDir::new();
    let mut settings = TestApp::builder().settings(&db, &smtp, &scratch);
    change(&mut settings);
    settings.check().expect("the changed settings are valid");
    let app = vocation::startup::Application::build(settings)
        .await
        .expect("application builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    (address, db, smtp, scratch)
}

#[tokio::test]
async fn the_favicon_and_the_generated_stylesheet_are_served_and_linked_from_every_layout() {
    let app = TestApp::spawn().await;
    for (path, kind) in [
        ("/static/favicon.svg", "image/svg+xml"),
        ("/static/favicon.png", "image/png"),
        ("/favicon.ico", "image/png"),
        ("/apparence/theme.css", "text/css; charset=utf-8"),
    ] {
        let r = app.get(path).await;
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(r.headers()["content-type"], kind, "{path}");
        assert_eq!(r.headers()["x-content-type-options"], "nosniff", "{path}");
    }
    let css = app.get("/apparence/theme.css").await.text().await.unwrap();
    assert!(css.contains("--accent: #1a5e73;"), "{css}");
    assert!(
        !css.contains("/apparence/logo"),
        "no logo configured: {css}"
    );
    // Without a logo configured, there is none to serve.
    assert_eq!(app.get("/apparence/logo").await.status(), 404);
    // A query string changes nothing.
    let r = app.get("/apparence/theme.css?accent=%23ff0000").await;
    assert_eq!(r.status(), 200);
    assert!(!r.text().await.unwrap().contains("ff0000"));
    // HEAD answers like GET, without the body.
    let r = app
        .client
        .head(app.url("/apparence/theme.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/css; charset=utf-8");
    assert!(r.bytes().await.unwrap().is_empty());
    // A control character in the query is refused before any handler, never a 500.
    let r = app.get("/apparence/theme.css?x=%00").await;
    assert_eq!(r.status(), 400);

    // The public layout, the error page and the staff layout all link them.
    for path in [
        "/",
        "/candidature",
        "/accessibilite",
        "/page-qui-n-existe-pas",
    ] {
        let (_, html) = app.get_html(path).await;
        assert!(
            html.contains(r#"<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">"#),
            "{path}"
        );
        assert!(
            html.contains(r#"<link rel="stylesheet" href="/apparence/theme.css">"#),
            "{path}"
        );
    }
    let staff = app.staff(StaffRole::Admin).await;
    let (status, html) = staff.get_html("/espace").await;
    assert_eq!(status, 200);
    assert!(html.contains(r#"href="/apparence/theme.css""#));
    assert!(html.contains(r#"href="/static/favicon.png""#));
}

#[tokio::test]
async fn the_accent_colour_and_the_logo_of_the_departement_are_applied() {
    let scratch = TempDir::new();
    let logo = scratch.0.join("logo.svg");
    std::fs::write(
        &logo,
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><circle cx="5" cy="5" r="5" fill="#0b6e4f"/></svg>"##,
    )
    .unwrap();
    let logo_path = logo.display().to_string();
    let (address, _db, _smtp, _scratch) = spawn_with(|s| {
        s.organisation.accent_colour = "#0B6E4F".into();
        s.organisation.logo_path = logo_path;
    })
    .await;
    let client = reqwest::Client::new();
    let css = client
        .get(format!("{address}/apparence/theme.css"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(css.contains("--accent: #0b6e4f;"), "{css}");
    assert!(css.contains(r#"url("/apparence/logo")"#), "{css}");
    let r = client
        .get(format!("{address}/apparence/logo"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/svg+xml");
    let csp = r.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("sandbox"),
        "an SVG opened alone runs nothing: {csp}"
    );
    assert!(r.text().await.unwrap().contains("<circle"));
    // The server's path of the logo is never shown.
    let html = client
        .get(format!("{address}/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!html.contains(&scratch.0.display().to_string()));
}

#[test]
fn an_accent_without_enough_contrast_or_a_missing_logo_stops_the_start_naming_the_key() {
    let vocation = |key: &str, value: &str| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_vocation"));
        c.current_dir(env!("CARGO_MANIFEST_DIR"));
        for (k, _) in std::env::vars() {
            if k.starts_with("VOCATION") {
                c.env_remove(k);
            }
        }
        let out = c.arg("migrate").env(key, value).output().unwrap();
        assert!(!out.status.success(), "{key}={value} accepted");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let key = "VOCATION__ORGANISATION__ACCENT_COLOUR";
    // A yellow: 1.6:1 on white, 1.5:1 on the light blocks: unreadable as a link or button.
    let e = vocation(key, "#f5c400");
    assert_eq!(e.trim().lines().count(), 1, "{e}");
    assert!(
        e.contains("organisation.accent_colour") && e.contains("4,5"),
        "{e}"
    );
    for bad in [
        "vert",
        "#12345",
        "#0b6e4f;}body{display:none",
        "#0b6e4f\u{7}",
    ] {
        let e = vocation(key, bad);
        assert!(e.contains("organisation.accent_colour"), "{bad}: {e}");
    }
    let e = vocation("VOCATION__ORGANISATION__LOGO_PATH", "/nonexistent/logo.png");
    assert!(e.contains("organisation.logo_path"), "{e}");
    let e = vocation("VOCATION__ORGANISATION__LOGO_PATH", "/etc/passwd");
    assert!(e.contains("organisation.logo_path"), "{e}");
}

#[tokio::test]
async fn no_colour_or_font_of_the_state_in_any_stylesheet_page_or_email() {
    let app = TestApp::spawn().await;
    vocation::demo::load(&mut app.conn()).unwrap();
    for path in [
        "/static/app.css",
        "/static/staff.css",
        "/apparence/theme.css",
        "/",
        "/candidature",
        "/accessibilite",
        "/donnees-personnelles",
        "/connexion",
    ] {
        let r = app.get(path).await;
        assert_eq!(r.status(), 200, "{path}");
        assert_no_state_mark(path, &r.text().await.unwrap());
    }
    let staff = app.staff(StaffRole::Admin).await;
    for path in ["/espace", "/capacite", "/rapports", "/recrutement"] {
        let (status, html) = staff.get_html(path).await;
        assert_eq!(status, 200, "{path}");
        assert_no_state_mark(path, &html);
    }
    // The confirmation e-mail (HTML and text).
    assert_eq!(app.apply(&Fields::valid()).await.status(), 303);
    app.dispatch_all_pending_emails().await;
    let mails = app.smtp.received_by("claire.martin@exemple.fr");
    assert_eq!(mails.len(), 1);
    assert_no_state_mark("the confirmation", &mails[0].html());
    assert!(mails[0].html().contains("color:#1a5e73"));
}

/// The candidate id of the (only) application of `email`, and the application's id.
fn ids_of(app: &TestApp, email: &str) -> (String, String) {
    let candidate = app
        .text(&format!(
            "SELECT id FROM candidates WHERE email_normalized = '{email}'"
        ))
        .unwrap();
    let application = app
        .text(&format!(
            "SELECT max(id) FROM applications WHERE candidate_id = {candidate}"
        ))
        .unwrap();
    (candidate, application)
}

#[tokio::test]
async fn every_email_to_a_candidate_greets_a_doctor_as_docteur_and_others_by_name() {
    let app = TestApp::spawn().await;
    // Claire is a locum: a doctor. Paul is an intern, not yet a doctor.
    assert_eq!(app.apply(&Fields::valid()).await.status(), 303);
    let paul = Fields::valid()
        .set("courriel", "paul.durand@exemple.fr")
        .set("prenom", "Paul")
        .set("nom", "Durand")
        .set("telephone", "06 98 76 54 32")
        .set("situation", "interne")
        .without("rpps");
    assert_eq!(app.apply(&paul).await.status(), 303);
    app.dispatch_all_pending_emails().await;
    let claire = app.smtp.received_by("claire.martin@exemple.fr");
    assert!(
        claire[0].text().starts_with("Bonjour Docteur Martin,"),
        "{}",
        claire[0].text()
    );
    assert!(claire[0].html().contains("<p>Bonjour Docteur Martin,</p>"));
    let paul_mails = app.smtp.received_by("paul.durand@exemple.fr");
    assert!(
        paul_mails[0].text().starts_with("Bonjour Paul Durand,"),
        "{}",
        paul_mails[0].text()
    );

    // The meeting invitation, with its duration as people write it.
    let (_, application) = ids_of(&app, "claire.martin@exemple.fr");
    let staff = app.staff(StaffRole::Recruiter).await;
    let csrf = staff.csrf().await;
    let day = (chrono::Utc::now().date_naive() + chrono::Duration::days(30))
        .format("%Y-%m-%d")
        .to_string();
    let r = staff
        .post_form(
            &format!("/recrutement/candidatures/{application}/rendez-vous"),
            &[
                ("csrf", &csrf),
                ("type", "entretien"),
                ("date", &day),
                ("heure", "14:30"),
                ("duree", "90"),
                ("lieu", "Auch"),
                ("inviter", "oui"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    app.dispatch_all_pending_emails().await;
    let claire = app.smtp.received_by("claire.martin@exemple.fr");
    let invitation = claire.last().unwrap();
    assert!(
        invitation.text().starts_with("Bonjour Docteur Martin,"),
        "{}",
        invitation.text()
    );
    assert!(
        invitation.text().contains("(1\u{a0}h\u{a0}30)"),
        "{}",
        invitation.text()
    );
    assert!(!invitation.text().contains("minutes"));

    // The personal data link, asked for on /mes-donnees.
    let (_, html) = app.get_html("/mes-donnees").await;
    let csrf = hidden_value(&html, "csrf");
    for (email, greeting) in [
        ("paul.durand@exemple.fr", "Bonjour Paul Durand,"),
        ("claire.martin@exemple.fr", "Bonjour Docteur Martin,"),
    ] {
        let r = app
            .client
            .post(app.url("/mes-donnees"))
            .form(&[("csrf", csrf.as_str()), ("courriel", email)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        app.dispatch_all_pending_emails().await;
        let last = app.smtp.received_by(email).pop().unwrap();
        assert!(last.subject().contains("données") || last.text().contains("Mes données"));
        assert!(last.text().starts_with(greeting), "{}", last.text());
    }
}
