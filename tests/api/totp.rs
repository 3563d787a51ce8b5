use vocation::db::enums::StaffRole;

use crate::helpers::{hidden_value, TestApp, STAFF_PASSWORD};

/// The code of the step `offset_steps` away from now.
fn code_at(secret: &str, offset_steps: i64) -> String {
    let now = vocation::staff::totp::now_seconds() as i64;
    code_of_step(secret, now / 30 + offset_steps)
}

fn code_of_step(secret: &str, step: i64) -> String {
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
    totp.generate((step * 30) as u64)
}

#[tokio::test]
async fn a_staff_member_enrolls_and_then_signs_in_with_a_code_used_once() {
    let app = TestApp::spawn().await;
    app.create_staff("rh@cds32.test", StaffRole::Recruiter);
    let (staff, _) = app.sign_in("rh@cds32.test", STAFF_PASSWORD).await;
    let (status, html) = staff.get_html("/compte/double-authentification").await;
    assert_eq!(status, 200);
    assert!(html.contains("<svg"), "a QR code");
    assert!(!html.contains("<?xml"));
    let secret = app.text("SELECT totp_secret FROM staff_users").unwrap();
    assert!(html.contains(&secret));
    let csrf = hidden_value(&html, "csrf");

    let r = staff
        .post_form(
            "/compte/double-authentification",
            &[("csrf", &csrf), ("action", "activer"), ("code", "000000")],
        )
        .await;
    assert_eq!(r.status(), 422);
    let r = staff
        .post_form(
            "/compte/double-authentification",
            &[
                ("csrf", &csrf),
                ("action", "activer"),
                ("code", &code_at(&secret, 0)),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        app.count("SELECT count(*) FROM staff_users WHERE totp_enabled_at IS NOT NULL"),
        1
    );

    // Signing in now stops at the code.
    let (second, r) = app.sign_in("rh@cds32.test", STAFF_PASSWORD).await;
    assert_eq!(r.status(), 303);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("/connexion/code"), "{location}");
    let r = second.get("/recrutement").await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/connexion/code");
    let (status, html) = second.get_html(&location).await;
    assert_eq!(status, 200);
    let csrf = hidden_value(&html, "csrf");
    let r = second
        .post_form(
            "/connexion/code",
            &[
                ("csrf", &csrf),
                ("code", "123456"),
                ("suite", "/recrutement"),
            ],
        )
        .await;
    assert_eq!(r.status(), 401);
    // The code already used for enrolling is refused (no replay); the next one works.
    let r = second
        .post_form(
            "/connexion/code",
            &[
                ("csrf", &csrf),
                ("code", &code_at(&secret, 0)),
                ("suite", "/recrutement"),
            ],
        )
        .await;
    assert_eq!(r.status(), 401);
    let next = code_at(&secret, 1);
    let r = second
        .post_form(
            "/connexion/code",
            &[("csrf", &csrf), ("code", &next), ("suite", "/recrutement")],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/recrutement");
    assert_eq!(second.get("/recrutement").await.status(), 200);

    // A third sign-in cannot reuse that code either.
    let (third, r) = app.sign_in("rh@cds32.test", STAFF_PASSWORD).await;
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let csrf = hidden_value(&third.get_html(&location).await.1, "csrf");
    let r = third
        .post_form("/connexion/code", &[("csrf", &csrf), ("code", &next)])
        .await;
    assert_eq!(r.status(), 401);
    assert_eq!(third.get("/recrutement").await.status(), 303);
}

#[tokio::test]
async fn when_admins_require_it_every_account_must_enroll_first() {
    let app = TestApp::spawn().await;
    let admin = app.staff(StaffRole::Admin).await;
    let csrf = admin.csrf().await;
    let recruiter = app.staff(StaffRole::Recruiter).await;
    assert_eq!(recruiter.get("/recrutement").await.status(), 200);

    // Only admins set the rule.
    let rcsrf = recruiter.csrf().await;
    assert_eq!(
        recruiter
            .post_form(
                "/admin/securite",
                &[("csrf", &rcsrf), ("exiger_2fa", "oui")]
            )
            .await
            .status(),
        403
    );
    let r = admin
        .post_form("/admin/securite", &[("csrf", &csrf), ("exiger_2fa", "oui")])
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        app.count("SELECT count(*) FROM security_policy WHERE require_totp"),
        1
    );

    let r = recruiter.get("/recrutement").await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/compte/double-authentification");
    let (status, html) = recruiter.get_html("/compte/double-authentification").await;
    assert_eq!(status, 200);
    assert!(html.contains("exigent la double authentification"));
    // Logging out still works.
    let csrf = hidden_value(&html, "csrf");
    assert_eq!(
        recruiter
            .post_form("/deconnexion", &[("csrf", &csrf)])
            .await
            .status(),
        303
    );
}
