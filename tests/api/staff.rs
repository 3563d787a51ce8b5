use vocation::db::enums::StaffRole;

use crate::helpers::{hidden_value, sql_now, TestApp, STAFF_PASSWORD};

#[tokio::test]
async fn staff_pages_redirect_to_the_sign_in_page_without_a_session() {
    let app = TestApp::spawn().await;
    for path in [
        "/recrutement",
        "/recrutement/candidats/1",
        "/recrutement/documents/1",
    ] {
        let r = app.get(path).await;
        assert_eq!(r.status(), 303, "{path}");
        let location = r.headers()["location"].to_str().unwrap();
        assert!(location.starts_with("/connexion?suite="), "{location}");
    }
    let r = app
        .client
        .post(app.url("/recrutement/candidatures/1/etape"))
        .form(&[("vers", "entretien")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
}

#[tokio::test]
async fn signing_in_opens_a_new_server_side_session_with_safe_cookie_flags() {
    let app = TestApp::spawn().await;
    app.create_staff("rh@cds32.test", StaffRole::Recruiter);
    let (staff, r) = app.sign_in("RH@cds32.test", STAFF_PASSWORD).await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/recrutement");
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("vocation_session="))
        .expect("a session cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let value = cookie
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("vocation_session=")
        .to_owned();
    // Only the hash of the cookie is stored.
    assert_eq!(app.count("SELECT count(*) FROM staff_sessions"), 1);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM staff_sessions WHERE token_hash = '{value}'"
        )),
        0
    );
    assert_eq!(staff.get("/recrutement").await.status(), 200);

    // Signing in again gives a new session id and closes the one presented.
    let html = staff.get("/connexion").await.text().await.unwrap();
    let r = staff
        .post_form(
            "/connexion",
            &[
                ("csrf", &hidden_value(&html, "csrf")),
                ("courriel", "rh@cds32.test"),
                ("mot_de_passe", STAFF_PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let second = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("vocation_session="))
        .unwrap();
    assert_ne!(second.split(';').next(), cookie.split(';').next());
    assert_eq!(app.count("SELECT count(*) FROM staff_sessions"), 1);
}

#[tokio::test]
async fn wrong_credentials_get_one_generic_message_and_unknown_accounts_the_same() {
    let app = TestApp::spawn().await;
    app.create_staff("rh@cds32.test", StaffRole::Recruiter);
    let (_, wrong) = app.sign_in("rh@cds32.test", "pas le bon").await;
    let (_, unknown) = app.sign_in("personne@cds32.test", "pas le bon").await;
    assert_eq!(wrong.status(), 401);
    assert_eq!(unknown.status(), 401);
    let a = wrong.text().await.unwrap();
    let b = unknown.text().await.unwrap();
    assert!(a.contains("Adresse électronique ou mot de passe incorrect."));
    assert!(b.contains("Adresse électronique ou mot de passe incorrect."));
    assert_eq!(app.count("SELECT count(*) FROM staff_sessions"), 0);
}

#[tokio::test]
async fn twenty_wrong_passwords_lock_the_account_with_429_and_retry_after() {
    let app = TestApp::spawn().await;
    app.create_staff("rh@cds32.test", StaffRole::Recruiter);
    for i in 0..20 {
        let (_, r) = app.sign_in("rh@cds32.test", "mauvais").await;
        assert_eq!(r.status(), 401, "attempt {i}");
    }
    let (_, r) = app.sign_in("rh@cds32.test", STAFF_PASSWORD).await;
    assert_eq!(r.status(), 429, "even the right password waits");
    let retry: i64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 0 && retry <= 15 * 60);
    assert!(r.text().await.unwrap().contains("Trop de tentatives"));
    // The same answer for an unknown account from the same address (per-IP limit).
    let (_, r) = app.sign_in("inconnu@cds32.test", "x").await;
    assert_eq!(r.status(), 429);
}

#[tokio::test]
async fn logout_and_disabling_an_account_end_the_session_on_the_server() {
    let app = TestApp::spawn().await;
    let staff = app.staff(StaffRole::Recruiter).await;
    let csrf = staff.csrf().await;
    // Logging out without the CSRF token changes nothing.
    let r = staff.post_form("/deconnexion", &[("csrf", "faux")]).await;
    assert_eq!(r.status(), 403);
    assert_eq!(staff.get("/recrutement").await.status(), 200);
    // With it, the session row is gone: even a copied cookie no longer works.
    let r = staff.post_form("/deconnexion", &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), 303);
    assert_eq!(app.count("SELECT count(*) FROM staff_sessions"), 0);
    assert_eq!(staff.get("/recrutement").await.status(), 303);

    let other = app.staff(StaffRole::Recruiter).await;
    assert_eq!(other.get("/recrutement").await.status(), 200);
    diesel::RunQueryDsl::execute(
        diesel::sql_query("UPDATE staff_users SET active = false"),
        &mut app.conn(),
    )
    .unwrap();
    assert_eq!(other.get("/recrutement").await.status(), 303);
}

#[tokio::test]
async fn an_idle_session_expires() {
    let app = TestApp::spawn().await;
    let staff = app.staff(StaffRole::Recruiter).await;
    diesel::RunQueryDsl::execute(
        diesel::sql_query(format!(
            "UPDATE staff_sessions SET last_seen_at = {} - interval '2 hours'",
            sql_now()
        )),
        &mut app.conn(),
    )
    .unwrap();
    assert_eq!(staff.get("/recrutement").await.status(), 303);
    assert_eq!(app.count("SELECT count(*) FROM staff_sessions"), 0);
}

#[tokio::test]
async fn each_role_reaches_only_its_pages() {
    let app = TestApp::spawn().await;
    vocation::demo::load(&mut app.conn()).unwrap();
    let candidate = app.text("SELECT min(id) FROM candidates").unwrap();
    let pages = [
        "/recrutement".to_owned(),
        format!("/recrutement/candidats/{candidate}"),
    ];
    for (role, allowed) in [
        (StaffRole::Admin, true),
        (StaffRole::Recruiter, true),
        (StaffRole::Communication, false),
    ] {
        let staff = app.staff(role).await;
        for page in &pages {
            let status = staff.get(page).await.status().as_u16();
            assert_eq!(
                status,
                if allowed { 200 } else { 403 },
                "{} on {page}",
                role.code()
            );
        }
    }
}

#[tokio::test]
async fn the_sign_in_form_needs_its_csrf_token() {
    let app = TestApp::spawn().await;
    app.create_staff("rh@cds32.test", StaffRole::Recruiter);
    let r = app
        .client
        .post(app.url("/connexion"))
        .form(&[
            ("courriel", "rh@cds32.test"),
            ("mot_de_passe", STAFF_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(app.count("SELECT count(*) FROM staff_sessions"), 0);
}

#[tokio::test]
async fn an_offsite_next_page_is_ignored() {
    let app = TestApp::spawn().await;
    app.create_staff("rh@cds32.test", StaffRole::Recruiter);
    let (status, html) = app.get_html("/connexion?suite=https://evil.example/").await;
    assert_eq!(status, 200);
    assert_eq!(hidden_value(&html, "suite"), "/espace");
}

/// Every staff route, for every role: allowed (2xx/3xx) or 403; and without a session, a
/// redirect to the sign-in page.
#[tokio::test]
async fn every_role_on_every_staff_route() {
    use crate::helpers::{tiny_pdf, Fields};
    let app = TestApp::spawn().await;
    let tokens = app.form_tokens("/candidature").await;
    assert_eq!(
        app.post_application(&tokens, &Fields::valid(), Some(("cv.pdf", tiny_pdf())))
            .await
            .status(),
        303
    );
    let candidate = app.text("SELECT id FROM candidates").unwrap();
    let application = app.text("SELECT id FROM applications").unwrap();
    let document = app.text("SELECT id FROM documents").unwrap();
    diesel::RunQueryDsl::execute(
        diesel::sql_query(format!(
            "INSERT INTO meetings (application_id, kind, starts_at, duration_minutes) VALUES ({application}, 'entretien', {} + interval '1 day', 60)",
            sql_now()
        )),
        &mut app.conn(),
    )
    .unwrap();
    let meeting = app.text("SELECT id FROM meetings").unwrap();
    let user = app.create_staff("cible@cds32.test", StaffRole::Recruiter);

    let recruiting = [true, true, false];
    let admin_only = [true, false, false];
    let everyone = [true, true, true];
    let gets: Vec<(String, [bool; 3])> = vec![
        ("/espace".into(), everyone),
        ("/compte/double-authentification".into(), everyone),
        ("/recrutement".into(), recruiting),
        (
            "/recrutement?q=Martin&temps=temps_partiel".into(),
            recruiting,
        ),
        ("/recrutement/export.csv".into(), recruiting),
        ("/recrutement/relances".into(), recruiting),
        ("/recrutement/agenda".into(), recruiting),
        (format!("/recrutement/candidats/{candidate}"), recruiting),
        (
            format!("/recrutement/candidats/{candidate}/modifier"),
            recruiting,
        ),
        (format!("/recrutement/documents/{document}"), recruiting),
        (
            format!("/recrutement/rendez-vous/{meeting}.ics"),
            recruiting,
        ),
        ("/admin/utilisateurs".into(), admin_only),
        ("/admin/journal".into(), admin_only),
        ("/admin/modeles".into(), admin_only),
    ];
    let posts: Vec<(String, [bool; 3])> = vec![
        (
            format!("/recrutement/candidatures/{application}/etape"),
            recruiting,
        ),
        (
            format!("/recrutement/candidatures/{application}/rendez-vous"),
            recruiting,
        ),
        (
            format!("/recrutement/candidats/{candidate}/notes"),
            recruiting,
        ),
        (
            format!("/recrutement/candidats/{candidate}/modifier"),
            recruiting,
        ),
        (
            format!("/recrutement/candidats/{candidate}/fusionner"),
            recruiting,
        ),
        ("/admin/utilisateurs".into(), admin_only),
        (format!("/admin/utilisateurs/{user}"), admin_only),
        ("/admin/modeles/entretien".into(), admin_only),
        ("/admin/securite".into(), admin_only),
    ];

    for (path, _) in gets.iter().chain(posts.iter()) {
        let r = if gets.iter().any(|(p, _)| p == path) {
            app.get(path).await
        } else {
            app.client
                .post(app.url(path))
                .form(&[("csrf", "x")])
                .send()
                .await
                .unwrap()
        };
        assert_eq!(r.status(), 303, "anonymous on {path}");
        assert!(r.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/connexion"));
    }

    for (i, role) in [
        StaffRole::Admin,
        StaffRole::Recruiter,
        StaffRole::Communication,
    ]
    .into_iter()
    .enumerate()
    {
        let staff = app.staff(role).await;
        let csrf = hidden_value(&staff.get_html("/espace").await.1, "csrf");
        assert!(!csrf.is_empty());
        for (path, allowed) in &gets {
            let status = staff.get(path).await.status().as_u16();
            if allowed[i] {
                assert!(
                    (200..400).contains(&status),
                    "{} GET {path}: {status}",
                    role.code()
                );
            } else {
                assert_eq!(status, 403, "{} GET {path}", role.code());
            }
        }
        for (path, allowed) in &posts {
            let status = staff
                .post_form(path, &[("csrf", &csrf)])
                .await
                .status()
                .as_u16();
            if allowed[i] {
                // Allowed, with an empty form: refused for its content, never for the role.
                assert!(
                    status != 403 && status < 500,
                    "{} POST {path}: {status}",
                    role.code()
                );
            } else {
                assert_eq!(status, 403, "{} POST {path}", role.code());
            }
        }
    }
}
