use vocation::db::enums::StaffRole;

use crate::helpers::{hidden_value, Fields, TestApp};

#[tokio::test]
async fn only_admins_reach_the_admin_pages() {
    let app = TestApp::spawn().await;
    for (role, status) in [
        (StaffRole::Admin, 200),
        (StaffRole::Recruiter, 403),
        (StaffRole::Communication, 403),
    ] {
        let staff = app.staff(role).await;
        for page in ["/admin/utilisateurs", "/admin/journal"] {
            assert_eq!(
                staff.get(page).await.status().as_u16(),
                status,
                "{} {page}",
                role.code()
            );
        }
        let csrf = hidden_value(&staff.get_html("/admin/journal").await.1, "csrf");
        let r = staff
            .post_form(
                "/admin/utilisateurs",
                &[
                    ("csrf", &csrf),
                    ("courriel", "x@cds32.test"),
                    ("role", "admin"),
                ],
            )
            .await;
        assert_eq!(r.status().as_u16(), status, "create as {}", role.code());
    }
    assert_eq!(
        app.count("SELECT count(*) FROM staff_users WHERE email = 'x@cds32.test'"),
        1
    );
}

#[tokio::test]
async fn an_admin_creates_re_roles_and_disables_accounts_and_disabling_ends_sessions() {
    let app = TestApp::spawn().await;
    let admin = app.staff(StaffRole::Admin).await;
    let csrf = admin.csrf().await;
    let r = admin
        .post_form(
            "/admin/utilisateurs",
            &[
                ("csrf", &csrf),
                ("courriel", "new@cds32.test"),
                ("nom", "Nouvelle"),
                ("role", "recruteur"),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("affiché une seule fois"));
    let hash = app
        .text("SELECT password_hash FROM staff_users WHERE email = 'new@cds32.test'")
        .unwrap();
    assert!(hash.starts_with("$argon2id$"));

    // The same address twice is refused with a message, not a 500.
    let r = admin
        .post_form(
            "/admin/utilisateurs",
            &[
                ("csrf", &csrf),
                ("courriel", "NEW@cds32.test"),
                ("role", "recruteur"),
            ],
        )
        .await;
    assert_eq!(
        r.status(),
        422,
        "the form again, with the message at the field"
    );
    assert!(r.text().await.unwrap().contains("existe déjà"));

    let other = app.staff(StaffRole::Recruiter).await;
    let id = app.text("SELECT max(id) FROM staff_users").unwrap();
    assert_eq!(other.get("/recrutement").await.status(), 200);
    let r = admin
        .post_form(
            &format!("/admin/utilisateurs/{id}"),
            &[
                ("csrf", &csrf),
                ("action", "role"),
                ("role", "communication"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        other.get("/recrutement").await.status(),
        403,
        "the new role applies at once"
    );
    let r = admin
        .post_form(
            &format!("/admin/utilisateurs/{id}"),
            &[("csrf", &csrf), ("action", "desactiver")],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM staff_sessions WHERE user_id = {id}"
        )),
        0
    );
    assert_eq!(other.get("/recrutement").await.status(), 303);

    // The journal shows what happened, without personal data in the details.
    let (_, html) = admin.get_html("/admin/journal").await;
    assert!(
        html.contains("desactivation")
            && html.contains("changement_role")
            && html.contains("creation_compte")
    );
}

#[tokio::test]
async fn the_last_admin_cannot_be_removed_nor_can_admins_disable_themselves() {
    let app = TestApp::spawn().await;
    let admin = app.staff(StaffRole::Admin).await;
    let csrf = admin.csrf().await;
    let me = app.text("SELECT id FROM staff_users").unwrap();
    let r = admin
        .post_form(
            &format!("/admin/utilisateurs/{me}"),
            &[("csrf", &csrf), ("action", "desactiver")],
        )
        .await;
    assert_eq!(r.status(), 422);
    assert_eq!(
        app.count("SELECT count(*) FROM staff_users WHERE active"),
        1
    );
    let r = admin
        .post_form(
            &format!("/admin/utilisateurs/{me}"),
            &[("csrf", "faux"), ("action", "activer")],
        )
        .await;
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn recruiters_add_notes_that_show_author_and_text_escaped() {
    let app = TestApp::spawn().await;
    assert_eq!(app.apply(&Fields::valid()).await.status(), 303);
    let candidate = app.text("SELECT id FROM candidates").unwrap();
    let staff = app.staff(StaffRole::Recruiter).await;
    let csrf = staff.csrf().await;
    let path = format!("/recrutement/candidats/{candidate}/notes");
    assert_eq!(
        staff
            .post_form(&path, &[("csrf", &csrf), ("note", "  ")])
            .await
            .status(),
        422
    );
    assert_eq!(
        staff
            .post_form(&path, &[("csrf", "faux"), ("note", "x")])
            .await
            .status(),
        403
    );
    let r = staff
        .post_form(&path, &[("csrf", &csrf), ("note", "Rappeler <b>lundi</b>")])
        .await;
    assert_eq!(r.status(), 303);
    let (_, html) = staff
        .get_html(&format!("/recrutement/candidats/{candidate}"))
        .await;
    assert!(html.contains("Rappeler &lt;b&gt;lundi&lt;"));
    assert_eq!(
        staff
            .post_form(
                "/recrutement/candidats/999999/notes",
                &[("csrf", &csrf), ("note", "x")]
            )
            .await
            .status(),
        404
    );
    let comms = app.staff(StaffRole::Communication).await;
    let csrf = comms.csrf().await;
    assert_eq!(
        comms
            .post_form(&path, &[("csrf", &csrf), ("note", "x")])
            .await
            .status(),
        403
    );
    assert_eq!(app.count("SELECT count(*) FROM candidate_notes"), 1);
}
