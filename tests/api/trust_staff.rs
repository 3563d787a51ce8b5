//! Issue 16 §3, staff side, each test written as the attack that was tried: where the sign-in
//! may send a member afterwards (`suite`), a burst of parallel password guesses, API tokens of
//! disabled accounts and of accounts that must set up the second factor, `/metrics` in
//! production, and the form rate limit across actix workers.

use std::process::Command;

use reqwest::header::{LOCATION, RETRY_AFTER};
use secrecy::SecretString;
use serde_json::Value;
use vocation::config::{MailTransportKind, Settings};
use vocation::db::enums::StaffRole;

use crate::helpers::{hidden_value, FormTokens, StaffClient, TestApp, STAFF_PASSWORD};

/// What `suite` was given as, decoded (as a form sends it), each leading off the site once a
/// browser has read it, or not valid in a `Location` header.
const HOSTILE_NEXT: &[&str] = &[
    "/\t/evil.example",
    "//evil.example",
    "/\\evil.example",
    "\\/evil.example",
    "https://evil.example",
    "javascript:alert(document.cookie)",
    "/\n/evil.example",
    "/\r\n/evil.example",
    "\t//evil.example",
    " //evil.example",
    "/espace\r\nSet-Cookie: piege=1",
    "evil.example",
];

/// The same attacks as written in the address bar (percent-encoded once).
const HOSTILE_QUERIES: &[&str] = &[
    "/%09/evil.example",
    "//evil.example",
    "/%5Cevil.example",
    "/\\evil.example",
    "/%2F%2Fevil",
    "https://evil.example",
    "https:evil.example",
    "javascript:alert(1)",
    "/%0a/evil.example",
    "%0d%0a//evil.example",
    "/%0d%0a/evil.example",
    "%20//evil.example",
    "%2F%5Cevil.example",
];

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap()
}

fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get(LOCATION)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// A form body with `fields` encoded and `suite` appended as it is (already encoded, as an
/// attacker writes it).
fn body_with_raw_suite(fields: &[(&str, &str)], raw_suite: &str) -> String {
    let mut body = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in fields {
        body.append_pair(k, v);
    }
    format!("{}&suite={raw_suite}", body.finish())
}

/// Signs in with the password and `suite` as the form sends it; returns the client and the
/// answer to the POST.
async fn sign_in_to(app: &TestApp, email: &str, suite: &str) -> (StaffClient, reqwest::Response) {
    let encoded: String = url::form_urlencoded::byte_serialize(suite.as_bytes()).collect();
    sign_in_raw(app, email, &encoded).await
}

/// The same, with `suite` written into the body as it is.
async fn sign_in_raw(
    app: &TestApp,
    email: &str,
    raw_suite: &str,
) -> (StaffClient, reqwest::Response) {
    let client = client();
    let html = client
        .get(app.url("/connexion"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = hidden_value(&html, "csrf");
    let r = client
        .post(app.url("/connexion"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body_with_raw_suite(
            &[
                ("csrf", csrf.as_str()),
                ("courriel", email),
                ("mot_de_passe", STAFF_PASSWORD),
            ],
            raw_suite,
        ))
        .send()
        .await
        .unwrap();
    (
        StaffClient {
            client,
            base: app.address.clone(),
        },
        r,
    )
}

#[tokio::test]
async fn the_sign_in_page_keeps_only_a_path_of_this_site_in_its_form() {
    let app = TestApp::spawn().await;
    for query in HOSTILE_QUERIES {
        let (status, html) = app.get_html(&format!("/connexion?suite={query}")).await;
        assert_eq!(status, 200, "{query}: {html}");
        assert_eq!(hidden_value(&html, "suite"), "/espace", "{query}");
        assert!(!html.contains("evil"), "{query}: {html}");
    }
    let (_, html) = app
        .get_html("/connexion?suite=/recrutement%3Fpage%3D2")
        .await;
    assert_eq!(hidden_value(&html, "suite"), "/recrutement?page=2");
}

#[tokio::test]
async fn signing_in_never_redirects_off_the_site_nor_fails() {
    let app = TestApp::spawn().await;
    app.create_staff("rh@cds32.test", StaffRole::Recruiter);
    for suite in HOSTILE_NEXT {
        let (staff, r) = sign_in_to(&app, "rh@cds32.test", suite).await;
        assert_eq!(r.status(), 303, "{suite:?}: {}", r.text().await.unwrap());
        assert_eq!(location(&r), "/espace", "{suite:?}");
        assert_eq!(staff.get("/espace").await.status(), 200, "{suite:?}");
    }
    for raw in HOSTILE_QUERIES {
        let (_, r) = sign_in_raw(&app, "rh@cds32.test", raw).await;
        assert_eq!(r.status(), 303, "{raw}: {}", r.text().await.unwrap());
        assert_eq!(location(&r), "/espace", "{raw}");
    }
    let (_, r) = sign_in_to(&app, "rh@cds32.test", "/recrutement?page=2").await;
    assert_eq!(location(&r), "/recrutement?page=2");
}

#[tokio::test]
async fn a_nul_in_suite_is_refused_before_anything_happens() {
    // Control characters are refused where every input is read (web::inputs): a French 400,
    // no session, no redirect.
    let app = TestApp::spawn().await;
    app.create_staff("rh@cds32.test", StaffRole::Recruiter);
    let (status, html) = app.get_html("/connexion?suite=/%00/evil.example").await;
    assert_eq!(status, 400);
    assert!(
        html.contains("lang=\"fr\"") && !html.contains("evil"),
        "{html}"
    );
    let (staff, r) = sign_in_to(&app, "rh@cds32.test", "/\0/evil.example").await;
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("location").is_none());
    assert_eq!(staff.get("/espace").await.status(), 303, "not signed in");
}

#[tokio::test]
async fn the_code_step_never_redirects_off_the_site_nor_fails() {
    let app = TestApp::spawn().await;
    app.create_staff("rh@cds32.test", StaffRole::Recruiter);
    // A member already through: the code step sends them on at once, to `suite`.
    let (staff, _) = sign_in_to(&app, "rh@cds32.test", "/espace").await;
    let csrf = staff.csrf_from("/espace").await;
    for query in HOSTILE_QUERIES {
        let r = staff.get(&format!("/connexion/code?suite={query}")).await;
        assert_eq!(r.status(), 303, "{query}");
        assert_eq!(location(&r), "/espace", "{query}");
    }
    for suite in HOSTILE_NEXT {
        let r = staff
            .post_form("/connexion/code", &[("csrf", &csrf), ("suite", suite)])
            .await;
        assert_eq!(r.status(), 303, "{suite:?}");
        assert_eq!(location(&r), "/espace", "{suite:?}");
    }
    for raw in HOSTILE_QUERIES {
        let r = staff
            .client
            .post(app.url("/connexion/code"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body_with_raw_suite(&[("csrf", &csrf)], raw))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303, "{raw}");
        assert_eq!(location(&r), "/espace", "{raw}");
    }
}

fn totp_code(secret: &str) -> String {
    use totp_rs::{Algorithm, Secret, TOTP};
    let totp = TOTP::new(
        Algorithm::SHA1,
        6,
        1,
        30,
        Secret::Encoded(secret.to_owned()).to_bytes().unwrap(),
        Some("Vocation".to_owned()),
        "test".to_owned(),
    )
    .unwrap();
    totp.generate(vocation::staff::totp::now_seconds())
}

#[tokio::test]
async fn a_member_with_a_second_factor_is_sent_only_to_a_path_of_this_site() {
    let app = TestApp::spawn().await;
    let id = app.create_staff("rh@cds32.test", StaffRole::Recruiter);
    let secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
    diesel::RunQueryDsl::execute(
        diesel::sql_query(format!(
            "UPDATE staff_users SET totp_secret = '{secret}', totp_enabled_at = now() \
             WHERE id = {id}"
        )),
        &mut app.conn(),
    )
    .unwrap();
    let (staff, r) = sign_in_to(&app, "rh@cds32.test", "/\t/evil.example").await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/connexion/code?suite=%2Fespace");

    // The code page, asked for with a hostile `suite`, keeps only a local path in its form.
    for query in HOSTILE_QUERIES {
        let (status, html) = staff
            .get_html(&format!("/connexion/code?suite={query}"))
            .await;
        assert_eq!(status, 200, "{query}: {html}");
        assert_eq!(hidden_value(&html, "suite"), "/espace", "{query}");
    }
    let csrf = staff.csrf_from("/connexion/code").await;
    // A wrong code shows the form again, without the hostile path.
    let r = staff
        .post_form(
            "/connexion/code",
            &[("csrf", &csrf), ("code", "000000"), ("suite", "/\n/evil")],
        )
        .await;
    assert_eq!(r.status(), 401);
    assert_eq!(hidden_value(&r.text().await.unwrap(), "suite"), "/espace");
    // The right code: on to this site only, and signed in.
    let r = staff
        .post_form(
            "/connexion/code",
            &[
                ("csrf", &csrf),
                ("code", &totp_code(secret)),
                ("suite", "/\t/evil.example"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/espace");
    assert_eq!(staff.get("/espace").await.status(), 200);
}

#[tokio::test]
async fn sixty_parallel_wrong_passwords_get_no_more_password_checks_than_the_limit() {
    let app = TestApp::spawn().await;
    app.create_staff("rh@cds32.test", StaffRole::Recruiter);
    let limit = Settings::load_for("test").unwrap().staff.max_failed_logins;
    let client = client();
    let html = client
        .get(app.url("/connexion"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = hidden_value(&html, "csrf");
    let guesses = (0..60).map(|i| {
        let (client, url, csrf) = (client.clone(), app.url("/connexion"), csrf.clone());
        tokio::spawn(async move {
            client
                .post(url)
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("courriel", "rh@cds32.test"),
                    ("mot_de_passe", &format!("essai numéro {i}")),
                ])
                .send()
                .await
                .unwrap()
        })
    });
    let mut refused = 0;
    for guess in futures_util::future::join_all(guesses).await {
        let r = guess.unwrap();
        match r.status().as_u16() {
            401 => refused += 1,
            429 => {
                let wait: i64 = r.headers()[RETRY_AFTER].to_str().unwrap().parse().unwrap();
                assert!(wait >= 1, "{wait}");
            }
            // On a loaded machine a request may wait too long for a database connection: it
            // checked no password (the test database pool is small).
            503 => {}
            other => panic!("unexpected {other}: {}", r.text().await.unwrap()),
        }
    }
    // Each 401 is one password checked; each check left one failure in the database.
    assert!(refused <= limit, "{refused} password checks, limit {limit}");
    assert_eq!(
        app.count("SELECT count(*) FROM login_attempts WHERE NOT succeeded"),
        refused
    );
    // Guesses one by one: exactly up to the limit in all, then 429.
    loop {
        let r = client
            .post(app.url("/connexion"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("courriel", "rh@cds32.test"),
                ("mot_de_passe", "encore un essai"),
            ])
            .send()
            .await
            .unwrap();
        match r.status().as_u16() {
            401 => refused += 1,
            429 => break,
            other => panic!("unexpected {other}"),
        }
        assert!(refused <= limit, "{refused} password checks, limit {limit}");
    }
    assert_eq!(refused, limit);
    // The right password waits too, now.
    let (_, r) = sign_in_to(&app, "rh@cds32.test", "/espace").await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key(RETRY_AFTER));
}

/// An API token made by the member on their page; returns it.
async fn token_of(staff: &StaffClient) -> String {
    let csrf = staff.csrf_from("/espace/jetons").await;
    let r = staff
        .post_form("/espace/jetons", &[("csrf", &csrf), ("nom", "Tableur")])
        .await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    let doc = scraper::Html::parse_document(&html);
    let sel = scraper::Selector::parse("#jeton-cree").unwrap();
    doc.select(&sel)
        .next()
        .and_then(|e| e.value().attr("value"))
        .unwrap()
        .to_owned()
}

async fn api_get(app: &TestApp, token: &str) -> reqwest::Response {
    client()
        .get(app.url("/api/v1/candidats"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn change_account(admin: &StaffClient, id: i64, action: &str) {
    let csrf = admin.csrf_from("/admin/utilisateurs").await;
    let r = admin
        .post_form(
            &format!("/admin/utilisateurs/{id}"),
            &[("csrf", &csrf), ("action", action)],
        )
        .await;
    assert_eq!(r.status(), 303, "{action}");
}

#[tokio::test]
async fn the_tokens_of_a_disabled_account_stay_revoked_when_it_is_enabled_again() {
    let app = TestApp::spawn().await;
    let admin = app.staff(StaffRole::Admin).await;
    let id = app.create_staff("rh@cds32.test", StaffRole::Recruiter);
    let (staff, _) = sign_in_to(&app, "rh@cds32.test", "/espace").await;
    let token = token_of(&staff).await;
    assert_eq!(api_get(&app, &token).await.status(), 200);

    change_account(&admin, id, "desactiver").await;
    assert_eq!(api_get(&app, &token).await.status(), 401);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM api_tokens WHERE staff_user_id = {id} AND revoked_at IS NULL"
        )),
        0,
        "revoked with the disabling"
    );
    change_account(&admin, id, "activer").await;
    let r = api_get(&app, &token).await;
    assert_eq!(r.status(), 401);
    assert!(r.headers().contains_key("www-authenticate"));
    // The member, back, makes a new one if they need it.
    let (staff, _) = sign_in_to(&app, "rh@cds32.test", "/espace").await;
    assert_eq!(api_get(&app, &token_of(&staff).await).await.status(), 200);
}

#[tokio::test]
async fn a_token_left_live_by_an_earlier_disabling_dies_when_the_account_is_enabled() {
    let app = TestApp::spawn().await;
    let admin = app.staff(StaffRole::Admin).await;
    let id = app.create_staff("rh@cds32.test", StaffRole::Recruiter);
    let (staff, _) = sign_in_to(&app, "rh@cds32.test", "/espace").await;
    let token = token_of(&staff).await;
    // Disabled the way it was before tokens were revoked with the account.
    diesel::RunQueryDsl::execute(
        diesel::sql_query(format!(
            "UPDATE staff_users SET active = false WHERE id = {id}"
        )),
        &mut app.conn(),
    )
    .unwrap();
    change_account(&admin, id, "activer").await;
    assert_eq!(api_get(&app, &token).await.status(), 401);
}

#[tokio::test]
async fn a_token_is_refused_while_its_account_must_set_up_the_second_factor() {
    let app = TestApp::spawn().await;
    let admin = app.staff(StaffRole::Admin).await;
    let id = app.create_staff("rh@cds32.test", StaffRole::Recruiter);
    let (staff, _) = sign_in_to(&app, "rh@cds32.test", "/espace").await;
    let token = token_of(&staff).await;
    assert_eq!(api_get(&app, &token).await.status(), 200);

    let csrf = admin.csrf_from("/admin/utilisateurs").await;
    let r = admin
        .post_form("/admin/securite", &[("csrf", &csrf), ("exiger_2fa", "oui")])
        .await;
    assert_eq!(r.status(), 303);
    let r = api_get(&app, &token).await;
    assert_eq!(r.status(), 403);
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "application/problem+json"
    );
    let problem: Value = r.json().await.unwrap();
    assert!(
        problem["type"]
            .as_str()
            .unwrap()
            .contains("double-authentification-requise"),
        "{problem}"
    );
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains("double authentification est exigée"),
        "{detail}"
    );
    assert!(
        detail.contains("/compte/double-authentification"),
        "{detail}"
    );

    // Once the member has set it up, the same token works again.
    diesel::RunQueryDsl::execute(
        diesel::sql_query(format!(
            "UPDATE staff_users SET totp_secret = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP', \
             totp_enabled_at = now() WHERE id = {id}"
        )),
        &mut app.conn(),
    )
    .unwrap();
    assert_eq!(api_get(&app, &token).await.status(), 200);
}

const STRONG_KEY: &str = "Zq7u1v0LrQmX4c9T2yJk8sWbH3nFgPd6eA5oVtRiC0lMxN1pS7zUaYqE2wB4hKjG";
const METRICS_TOKEN: &str = "mT4q9ZfK2xV7bN1cR8wY3hJ6pL0sD5gA";

fn production_like() -> Settings {
    let mut s = Settings::load_for("test").expect("test settings");
    s.mail.transport = MailTransportKind::Smtp;
    s.mail.smtp.host = "smtp.gers.fr".into();
    s.mail.from = "Recrutement CDS32 <recrutement@gers.fr>".into();
    s.organisation.contact_email = "recrutement@gers.fr".into();
    s.http.public_url = "https://recrutement.gers.fr".into();
    s.security.secret_key = SecretString::from(STRONG_KEY.to_owned());
    s.metrics.token = SecretString::from(METRICS_TOKEN.to_owned());
    s
}

#[test]
fn production_refuses_open_metrics_naming_the_key() {
    let s = production_like();
    s.check_production().unwrap();

    for token in ["", "   ", "court"] {
        let mut s = production_like();
        s.metrics.token = SecretString::from(token.to_owned());
        let e = s
            .check_production()
            .expect_err("open metrics refused")
            .to_string();
        assert!(e.contains("clé `metrics.token`"), "{e}");
        assert!(e.contains("VOCATION__METRICS__TOKEN"), "{e}");
        assert!(e.contains("metrics.enabled = false"), "{e}");
    }
    // Metrics off: nothing to protect.
    let mut s = production_like();
    s.metrics.token = SecretString::from(String::new());
    s.metrics.enabled = false;
    s.check_production().unwrap();
    // Elsewhere than production, an open /metrics stays allowed (development, tests).
    let mut s = production_like();
    s.metrics.token = SecretString::from(String::new());
    s.check().unwrap();
}

fn vocation() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vocation"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("VOCATION") || k == "RUST_LOG" {
            c.env_remove(k);
        }
    }
    c.arg("serve")
        .env("VOCATION_ENV", "production")
        .env("VOCATION__SECURITY__SECRET_KEY", STRONG_KEY)
        .env("VOCATION__HTTP__PUBLIC_URL", "https://recrutement.gers.fr")
        .env("VOCATION__MAIL__FROM", "Recrutement <recrutement@gers.fr>")
        .env(
            "VOCATION__ORGANISATION__CONTACT_EMAIL",
            "recrutement@gers.fr",
        )
        .env(
            "VOCATION__DATABASE__URL",
            "postgres://postgres@127.0.0.1:1/jamais",
        );
    c
}

#[test]
fn vocation_serve_in_production_refuses_to_start_without_a_metrics_token() {
    let out = vocation().output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("metrics.token"), "{stderr}");
    assert!(stderr.contains("production"), "{stderr}");

    // With a token, the configuration passes and start-up goes on to the database (absent
    // here): the refusal is about the database, not the metrics.
    let out = vocation()
        .env("VOCATION__METRICS__TOKEN", METRICS_TOKEN)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("metrics.token"), "{stderr}");
}

/// `n` POSTs at once, each on its own connection (so that they spread over the workers);
/// returns their statuses.
async fn posts_at_once<F>(n: usize, make: F) -> Vec<u16>
where
    F: Fn(reqwest::Client) -> reqwest::RequestBuilder,
{
    let requests = (0..n).map(|_| {
        let request = make(client());
        tokio::spawn(async move { request.send().await.unwrap().status().as_u16() })
    });
    futures_util::future::join_all(requests)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect()
}

#[tokio::test]
async fn one_address_gets_the_burst_once_per_instance_whatever_the_workers() {
    const BURST: u32 = 5;
    let app = TestApp::builder()
        .form_burst(BURST)
        .http_workers(4)
        .spawn()
        .await;
    let tokens: FormTokens = app.form_tokens("/candidature").await;
    let form_url = app.url("/candidature");
    let statuses = posts_at_once(40, |c| {
        c.post(form_url.as_str()).form(&[
            ("csrf", tokens.csrf.as_str()),
            ("soumission", tokens.soumission.as_str()),
        ])
    })
    .await;
    let accepted = statuses.iter().filter(|s| **s != 429).count();
    assert_eq!(accepted, BURST as usize, "application form: {statuses:?}");

    // The API's submission and the « Mes données » link requests: one bucket each, per instance.
    let api_url = app.url("/api/v1/candidatures");
    let statuses = posts_at_once(40, |c| {
        c.post(api_url.as_str())
            .header("content-type", "application/json")
            .body("{}")
    })
    .await;
    let accepted = statuses.iter().filter(|s| **s != 429).count();
    assert_eq!(accepted, BURST as usize, "API: {statuses:?}");

    let link_url = app.url("/mes-donnees");
    let statuses = posts_at_once(40, |c| {
        c.post(link_url.as_str())
            .form(&[("courriel", "personne@exemple.fr")])
    })
    .await;
    let accepted = statuses.iter().filter(|s| **s != 429).count();
    assert_eq!(accepted, BURST as usize, "Mes données: {statuses:?}");
}
