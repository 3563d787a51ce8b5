use vocation::db::enums::StaffRole;

use crate::helpers::{hidden_value, tiny_pdf, Fields, StaffClient, TestApp};

/// Submits an application through the public form; returns (candidate id, application id).
async fn applied(app: &TestApp, fields: &Fields) -> (String, String) {
    assert_eq!(app.apply(fields).await.status(), 303);
    let email = fields
        .iter()
        .find(|(k, _)| k == "courriel")
        .map(|(_, v)| v.trim().to_lowercase())
        .unwrap();
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

async fn move_to(
    staff: &StaffClient,
    application: &str,
    from: &str,
    to: &str,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let csrf = staff.csrf().await;
    let mut fields = vec![("csrf", csrf.as_str()), ("depuis", from), ("vers", to)];
    fields.extend_from_slice(extra);
    staff
        .post_form(
            &format!("/recrutement/candidatures/{application}/etape"),
            &fields,
        )
        .await
}

#[tokio::test]
async fn a_recruiter_moves_an_application_forward_and_the_history_grows() {
    let app = TestApp::spawn().await;
    let (candidate, application) = applied(&app, &Fields::valid()).await;
    let staff = app.staff(StaffRole::Recruiter).await;

    let r = move_to(
        &staff,
        &application,
        "nouvelle",
        "premier_contact",
        &[("note", "Appelée ce matin")],
    )
    .await;
    assert_eq!(r.status(), 303);
    assert!(r.headers()["location"]
        .to_str()
        .unwrap()
        .starts_with(&format!("/recrutement/candidats/{candidate}")));
    for (from, to) in [("premier_contact", "entretien"), ("entretien", "visite")] {
        assert_eq!(
            move_to(&staff, &application, from, to, &[]).await.status(),
            303
        );
    }
    assert_eq!(
        app.text("SELECT stage FROM applications").unwrap(),
        "visite"
    );
    assert_eq!(app.count("SELECT count(*) FROM stage_history"), 4);
    assert_eq!(
        app.count("SELECT count(*) FROM stage_history WHERE actor_id IS NOT NULL"),
        3,
        "who moved it is recorded"
    );
    assert_eq!(
        app.text("SELECT note FROM stage_history WHERE to_stage = 'premier_contact'")
            .unwrap(),
        "Appelée ce matin"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'changement_etape'"),
        3
    );

    let (status, html) = staff
        .get_html(&format!("/recrutement/candidats/{candidate}"))
        .await;
    assert_eq!(status, 200);
    assert!(html.contains("Visite du territoire"));
    assert!(html.contains("Appelée ce matin"));
    assert!(
        html.contains("Formulaire en ligne"),
        "the first entry came from the form"
    );
}

#[tokio::test]
async fn backward_and_stale_moves_are_refused_and_change_nothing() {
    let app = TestApp::spawn().await;
    let (_, application) = applied(&app, &Fields::valid()).await;
    let staff = app.staff(StaffRole::Recruiter).await;
    assert_eq!(
        move_to(&staff, &application, "nouvelle", "entretien", &[])
            .await
            .status(),
        303
    );

    let r = move_to(&staff, &application, "entretien", "nouvelle", &[]).await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("Impossible de passer"));

    // A form loaded before someone else moved the application.
    let r = move_to(&staff, &application, "nouvelle", "premier_contact", &[]).await;
    assert_eq!(r.status(), 409);
    assert!(r.text().await.unwrap().contains("entre-temps"));

    let r = move_to(&staff, &application, "entretien", "n_importe_quoi", &[]).await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        app.text("SELECT stage FROM applications").unwrap(),
        "entretien"
    );
    assert_eq!(app.count("SELECT count(*) FROM stage_history"), 2);
}

#[tokio::test]
async fn exits_need_their_reason_and_the_pool_a_follow_up_date() {
    let app = TestApp::spawn().await;
    let (_, a1) = applied(&app, &Fields::valid()).await;
    let (_, a2) = applied(
        &app,
        &Fields::valid()
            .set("courriel", "b@exemple.fr")
            .set("telephone", "0611111111")
            .set("rpps", ""),
    )
    .await;
    let (_, a3) = applied(
        &app,
        &Fields::valid()
            .set("courriel", "c@exemple.fr")
            .set("telephone", "0622222222")
            .set("rpps", ""),
    )
    .await;
    let staff = app.staff(StaffRole::Recruiter).await;

    let r = move_to(&staff, &a1, "nouvelle", "desistement", &[]).await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("motif"));
    assert_eq!(
        move_to(
            &staff,
            &a1,
            "nouvelle",
            "desistement",
            &[("motif_desistement", "emploi_conjoint")]
        )
        .await
        .status(),
        303
    );
    assert_eq!(app.text(&format!("SELECT reason FROM stage_history WHERE application_id = {a1} AND to_stage = 'desistement'")).unwrap(), "emploi_conjoint");

    assert_eq!(
        move_to(
            &staff,
            &a2,
            "nouvelle",
            "refusee",
            &[("motif_refus", "pas_dans_la_liste")]
        )
        .await
        .status(),
        422
    );
    assert_eq!(
        move_to(
            &staff,
            &a2,
            "nouvelle",
            "refusee",
            &[("motif_refus", "poste_pourvu")]
        )
        .await
        .status(),
        303
    );

    assert_eq!(
        move_to(&staff, &a3, "nouvelle", "vivier", &[])
            .await
            .status(),
        422
    );
    assert_eq!(
        move_to(
            &staff,
            &a3,
            "nouvelle",
            "vivier",
            &[("relance", "2027-03-01")]
        )
        .await
        .status(),
        303
    );
    assert_eq!(app.text(&format!("SELECT follow_up_on FROM stage_history WHERE application_id = {a3} AND to_stage = 'vivier'")).unwrap(), "2027-03-01");
    // From the pool, the doctor can be contacted again; a refused application cannot move.
    assert_eq!(
        move_to(&staff, &a3, "vivier", "premier_contact", &[])
            .await
            .status(),
        303
    );
    assert_eq!(
        move_to(&staff, &a2, "refusee", "premier_contact", &[])
            .await
            .status(),
        422
    );
}

#[tokio::test]
async fn a_move_without_the_csrf_token_or_by_communication_staff_is_refused() {
    let app = TestApp::spawn().await;
    let (_, application) = applied(&app, &Fields::valid()).await;
    let staff = app.staff(StaffRole::Recruiter).await;
    let r = staff
        .post_form(
            &format!("/recrutement/candidatures/{application}/etape"),
            &[
                ("csrf", "faux"),
                ("depuis", "nouvelle"),
                ("vers", "premier_contact"),
            ],
        )
        .await;
    assert_eq!(r.status(), 403);
    let comms = app.staff(StaffRole::Communication).await;
    let csrf = hidden_value(&comms.get_html("/recrutement").await.1, "csrf");
    let r = comms
        .post_form(
            &format!("/recrutement/candidatures/{application}/etape"),
            &[
                ("csrf", csrf.as_str()),
                ("depuis", "nouvelle"),
                ("vers", "premier_contact"),
            ],
        )
        .await;
    assert_eq!(r.status(), 403);
    // No state change on GET either.
    assert_eq!(
        staff
            .get(&format!("/recrutement/candidatures/{application}/etape"))
            .await
            .status(),
        404
    );
    assert_eq!(
        app.text("SELECT stage FROM applications").unwrap(),
        "nouvelle"
    );
}

#[tokio::test]
async fn hostile_names_are_escaped_on_the_board_and_the_candidate_page() {
    let app = TestApp::spawn().await;
    let hostile = "<script>alert('x')</script>";
    let (candidate, _) = applied(
        &app,
        &Fields::valid().set("nom", hostile).set("message", hostile),
    )
    .await;
    let staff = app.staff(StaffRole::Recruiter).await;
    for page in [
        "/recrutement".to_owned(),
        format!("/recrutement/candidats/{candidate}"),
    ] {
        let (status, html) = staff.get_html(&page).await;
        assert_eq!(status, 200);
        assert!(!html.contains("<script>alert"), "{page}");
        assert!(html.contains("&lt;script&gt;alert("), "{page}");
    }
}

#[tokio::test]
async fn the_board_counts_by_stage_and_filters_and_searches() {
    let app = TestApp::spawn().await;
    vocation::demo::load(&mut app.conn()).unwrap();
    let staff = app.staff(StaffRole::Recruiter).await;
    let (status, html) = staff.get_html("/recrutement").await;
    assert_eq!(status, 200);
    let total = app.count("SELECT count(*) FROM applications");
    assert!(html.contains(&format!("({total})")), "total shown");
    // Cards show the wished centres.
    let doc = scraper::Html::parse_document(&html);
    let metas: Vec<String> = doc
        .select(&scraper::Selector::parse(".stage-card .meta").unwrap())
        .map(|e| e.text().collect())
        .collect();
    assert!(
        metas.iter().any(|m| [
            "Fleurance",
            "Gondrin",
            "Marciac",
            "Plaisance",
            "Vic-Fezensac"
        ]
        .iter()
        .any(|c| m.contains(c))),
        "{metas:?}"
    );
    let new = app.count("SELECT count(*) FROM applications WHERE stage = 'nouvelle'");
    assert!(html.contains(&format!("Nouvelle <span class=\"count\">{new}</span>")));

    // Search by a last name, by an e-mail fragment, by RPPS and by phone.
    let (last, email, rpps, phone) = {
        #[derive(diesel::QueryableByName)]
        struct R {
            #[diesel(sql_type = diesel::sql_types::Text)]
            last_name: String,
            #[diesel(sql_type = diesel::sql_types::Text)]
            email: String,
            #[diesel(sql_type = diesel::sql_types::Text)]
            rpps: String,
            #[diesel(sql_type = diesel::sql_types::Text)]
            phone: String,
        }
        let r: R = diesel::RunQueryDsl::get_result(
            diesel::sql_query("SELECT last_name, email, rpps, phone FROM candidates WHERE rpps IS NOT NULL ORDER BY id LIMIT 1"),
            &mut app.conn(),
        )
        .unwrap();
        (r.last_name, r.email, r.rpps, r.phone)
    };
    for term in [last.as_str(), &email[..8], rpps.as_str(), phone.as_str()] {
        let q: String = url::form_urlencoded::byte_serialize(term.as_bytes()).collect();
        let (_, html) = staff.get_html(&format!("/recrutement?q={q}")).await;
        assert!(html.contains(&last), "search {term}");
    }
    let (_, html) = staff.get_html("/recrutement?q=zzzzzz").await;
    assert!(html.contains("(0)"));

    // A filter narrows the counts.
    let part_time = app.count("SELECT count(*) FROM applications a JOIN candidates c ON c.id = a.candidate_id WHERE c.working_time = 'temps_partiel'");
    let (_, html) = staff.get_html("/recrutement?temps=temps_partiel").await;
    assert!(html.contains(&format!("({part_time})")), "{part_time}");
    let gp = app.count("SELECT count(*) FROM applications a JOIN candidates c ON c.id = a.candidate_id JOIN specialties s ON s.code = c.specialty_code WHERE s.general_practice");
    let (_, html) = staff.get_html("/recrutement?specialite=MG").await;
    assert!(html.contains(&format!("({gp})")));
    // Hostile filter values are harmless.
    let (status, _) = staff.get_html("/recrutement?q=%27%3B%20DROP%20TABLE%20candidates%3B--&centre=abc&dispo_avant=demain&page=-3").await;
    assert_eq!(status, 200);
    assert!(app.count("SELECT count(*) FROM candidates") > 0);
}

#[tokio::test]
async fn a_cv_is_downloaded_by_recruiters_only_as_an_attachment() {
    let app = TestApp::spawn().await;
    let tokens = app.form_tokens("/candidature").await;
    let r = app
        .post_application(&tokens, &Fields::valid(), Some(("Mon CV.pdf", tiny_pdf())))
        .await;
    assert_eq!(r.status(), 303);
    let id = app.text("SELECT id FROM documents").unwrap();
    let staff = app.staff(StaffRole::Recruiter).await;
    let r = staff.get(&format!("/recrutement/documents/{id}")).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment;"));
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert_eq!(r.bytes().await.unwrap().to_vec(), tiny_pdf());
    let comms = app.staff(StaffRole::Communication).await;
    assert_eq!(
        comms
            .get(&format!("/recrutement/documents/{id}"))
            .await
            .status(),
        403
    );
    assert_eq!(
        staff.get("/recrutement/documents/999999").await.status(),
        404
    );
}

#[tokio::test]
async fn the_csv_export_has_a_bom_keeps_the_filter_and_neutralizes_formulas() {
    let app = TestApp::spawn().await;
    applied(
        &app,
        &Fields::valid()
            .set("nom", "=HYPERLINK(\"http://evil\",\"x\")")
            .set("prenom", "@Claire"),
    )
    .await;
    applied(
        &app,
        &Fields::valid()
            .set("courriel", "plein@exemple.fr")
            .set("telephone", "0699999999")
            .set("rpps", "")
            .set("nom", "Plein")
            .set("temps_travail", "temps_plein")
            .without("demi_journees"),
    )
    .await;
    let staff = app.staff(StaffRole::Recruiter).await;
    let r = staff.get("/recrutement/export.csv").await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    assert!(r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment;"));
    let bytes = r.bytes().await.unwrap();
    assert!(
        bytes.starts_with(&[0xEF, 0xBB, 0xBF]),
        "UTF-8 byte-order mark"
    );
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_reader(text.as_bytes());
    let headers = reader.headers().unwrap().clone();
    assert_eq!(&headers[4], "Nom");
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 2);
    let hostile = rows.iter().find(|r| r[4].contains("HYPERLINK")).unwrap();
    assert_eq!(&hostile[4], "'=HYPERLINK(\"http://evil\",\"x\")");
    assert_eq!(&hostile[5], "'@Claire");
    assert_eq!(&hostile[12], "Temps partiel, 3 jours par semaine");
    for row in &rows {
        for cell in row.iter() {
            assert!(!cell.starts_with(['=', '+', '-', '@']), "{cell}");
        }
    }

    let r = staff.get("/recrutement/export.csv?temps=temps_plein").await;
    let text = r.text().await.unwrap();
    assert!(text.contains("Plein") && !text.contains("HYPERLINK"));
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'export_csv'"),
        2
    );

    let comms = app.staff(StaffRole::Communication).await;
    assert_eq!(comms.get("/recrutement/export.csv").await.status(), 403);
}

#[tokio::test]
async fn a_move_can_send_the_stage_email_after_a_preview_the_recruiter_may_edit() {
    let app = TestApp::spawn().await;
    let (_, application) = applied(&app, &Fields::valid().set("nom", "Martin<script>")).await;
    app.dispatch_all_pending_emails().await;
    let before = app.smtp.received().len();
    let staff = app.staff(StaffRole::Recruiter).await;
    let csrf = staff.csrf().await;
    let path = format!("/recrutement/candidatures/{application}/etape");

    // Asking to write first shows the preview: nothing changes yet.
    let r = staff
        .post_form(
            &path,
            &[
                ("csrf", &csrf),
                ("depuis", "nouvelle"),
                ("vers", "entretien"),
                ("envoyer_courriel", "oui"),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("Bonjour Docteur Martin&lt;script&gt;,"),
        "prefilled and escaped"
    );
    assert!(!html.contains("<script>"));
    assert_eq!(hidden_value(&html, "vers"), "entretien");
    assert_eq!(
        app.text("SELECT stage FROM applications").unwrap(),
        "nouvelle"
    );

    // The recruiter edits and confirms: the move and the edited e-mail are recorded together.
    let edited = "Bonjour Zoé,\n\nPouvez-vous venir mardi à 14 h à Fleurance ? {{nom}} reste tel quel.\n\nÀ bientôt";
    let r = staff
        .post_form(
            &path,
            &[
                ("csrf", &csrf),
                ("depuis", "nouvelle"),
                ("vers", "entretien"),
                ("envoyer_courriel", "oui"),
                ("confirmer", "oui"),
                ("objet", "Entretien mardi"),
                ("texte", edited),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        app.text("SELECT stage FROM applications").unwrap(),
        "entretien"
    );
    app.dispatch_all_pending_emails().await;
    let got = app.smtp.received_by("claire.martin@exemple.fr");
    assert_eq!(got.len(), 2, "confirmation, then the stage e-mail");
    assert_eq!(app.smtp.received().len(), before + 1);
    let mail = got
        .iter()
        .find(|m| m.subject() == "Entretien mardi")
        .expect("the stage e-mail");
    assert!(
        mail.text()
            .contains("mardi à 14 h à Fleurance ? {{nom}} reste tel quel."),
        "{}",
        mail.text()
    );
    assert!(mail.html().contains("mardi à 14 h"));
    // It is listed on the candidate page.
    let candidate = app.text("SELECT id FROM candidates").unwrap();
    let (_, html) = staff
        .get_html(&format!("/recrutement/candidats/{candidate}"))
        .await;
    assert!(html.contains("Entretien mardi"));

    // "Without e-mail" moves and sends nothing.
    let r = staff
        .post_form(
            &path,
            &[
                ("csrf", &csrf),
                ("depuis", "entretien"),
                ("vers", "visite"),
                ("envoyer_courriel", "oui"),
                ("confirmer", "sans"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(app.dispatch_all_pending_emails().await, 0);

    // A refused move shows no preview and sends nothing.
    let r = staff
        .post_form(
            &path,
            &[
                ("csrf", &csrf),
                ("depuis", "visite"),
                ("vers", "nouvelle"),
                ("envoyer_courriel", "oui"),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
}

#[tokio::test]
async fn admins_edit_stage_templates_and_unknown_variables_are_refused() {
    let app = TestApp::spawn().await;
    let admin = app.staff(StaffRole::Admin).await;
    let csrf = admin.csrf().await;
    let (status, html) = admin.get_html("/admin/modeles").await;
    assert_eq!(status, 200);
    assert!(html.contains("{{prenom}}"), "the variables are listed");
    let r = admin
        .post_form(
            "/admin/modeles/entretien",
            &[
                ("csrf", &csrf),
                ("objet", "Entretien"),
                ("texte", "Bonjour {{docteur}}"),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("variable"));
    let r = admin
        .post_form(
            "/admin/modeles/entretien",
            &[
                ("csrf", &csrf),
                ("objet", "Rendez-vous"),
                ("texte", "Cher {{prenom}}, à bientôt."),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        app.text("SELECT subject FROM stage_email_templates WHERE stage = 'entretien'")
            .unwrap(),
        "Rendez-vous"
    );
    assert_eq!(
        admin
            .post_form(
                "/admin/modeles/nouvelle",
                &[("csrf", &csrf), ("objet", "x"), ("texte", "y")]
            )
            .await
            .status(),
        404
    );

    let recruiter = app.staff(StaffRole::Recruiter).await;
    assert_eq!(recruiter.get("/admin/modeles").await.status(), 403);

    // The recruiter's preview uses the new template.
    applied(&app, &Fields::valid()).await;
    let application = app.text("SELECT id FROM applications").unwrap();
    let csrf = recruiter.csrf().await;
    let r = recruiter
        .post_form(
            &format!("/recrutement/candidatures/{application}/etape"),
            &[
                ("csrf", &csrf),
                ("depuis", "nouvelle"),
                ("vers", "entretien"),
                ("envoyer_courriel", "oui"),
            ],
        )
        .await;
    let html = r.text().await.unwrap();
    assert!(html.contains("Cher Claire, à bientôt."));
    assert_eq!(hidden_value(&html, "objet"), "Rendez-vous");
}

#[tokio::test]
async fn an_interview_is_planned_listed_in_the_agenda_exported_as_ics_and_sent_as_an_invitation() {
    let app = TestApp::spawn().await;
    let (candidate, application) = applied(&app, &Fields::valid()).await;
    app.dispatch_all_pending_emails().await;
    let staff = app.staff(StaffRole::Recruiter).await;
    let csrf = staff.csrf().await;
    let fleurance = app
        .text("SELECT id FROM centres WHERE commune = 'Fleurance'")
        .unwrap();
    let path = format!("/recrutement/candidatures/{application}/rendez-vous");
    let next_year = (chrono::Utc::now().date_naive() + chrono::Duration::days(365))
        .format("%Y")
        .to_string();
    let day = format!("{next_year}-01-15");

    // Bad input is refused with a message and nothing is written.
    let r = staff
        .post_form(
            &path,
            &[
                ("csrf", &csrf),
                ("type", "entretien"),
                ("date", &day),
                ("heure", "midi"),
                ("duree", "60"),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("HH:MM"));
    let r = staff
        .post_form(
            &path,
            &[
                ("csrf", &csrf),
                ("type", "entretien"),
                ("date", &day),
                ("heure", "14:30"),
                ("duree", "60"),
                ("centre", "999"),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    assert_eq!(app.count("SELECT count(*) FROM meetings"), 0);

    let r = staff
        .post_form(
            &path,
            &[
                ("csrf", &csrf),
                ("type", "entretien"),
                ("date", &day),
                ("heure", "14:30"),
                ("duree", "45"),
                ("centre", &fleurance),
                ("lieu", "Salle 2"),
                ("participants", "Dr Dupuy, Mme Soulé"),
                ("inviter", "oui"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        app.text("SELECT to_char(starts_at AT TIME ZONE 'Europe/Paris', 'HH24:MI') FROM meetings")
            .unwrap(),
        "14:30",
        "entered in Paris time"
    );

    let (_, html) = staff
        .get_html(&format!("/recrutement/candidats/{candidate}"))
        .await;
    assert!(html.contains("15/01/") && html.contains("14:30") && html.contains("Salle 2"));
    let (status, html) = staff.get_html("/recrutement/agenda").await;
    assert_eq!(status, 200);
    assert!(html.contains("Claire Martin") && html.contains("Dr Dupuy"));

    let id = app.text("SELECT id FROM meetings").unwrap();
    let r = staff
        .get(&format!("/recrutement/rendez-vous/{id}.ics"))
        .await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/calendar"));
    let ics = r.text().await.unwrap();
    assert!(ics.contains("BEGIN:VEVENT"), "{ics}");
    assert!(
        ics.contains(&format!("DTSTART:{next_year}0115T133000Z")),
        "{ics}"
    );
    assert!(ics.contains("DTEND:") && ics.contains("UID:rendez-vous-"));
    assert!(ics.contains("Fleurance"));

    app.dispatch_all_pending_emails().await;
    let mail = app
        .smtp
        .received_by("claire.martin@exemple.fr")
        .into_iter()
        .find(|m| m.subject().starts_with("Entretien le 15/01/"))
        .expect("the invitation");
    // The duration as people write it (issue 18): « 45 min », not « 45 minutes ».
    assert!(mail.text().contains("14:30") && mail.text().contains("(45\u{a0}min)"));
    let parsed = mail.parsed();
    let attachment = parsed.attachments().next().expect("the .ics attachment");
    let content = String::from_utf8_lossy(attachment.contents()).to_string();
    assert!(
        content.contains("METHOD:REQUEST") && content.contains("BEGIN:VEVENT"),
        "{content}"
    );

    // Communication staff cannot see the agenda.
    let comms = app.staff(StaffRole::Communication).await;
    assert_eq!(comms.get("/recrutement/agenda").await.status(), 403);
}

#[tokio::test]
async fn merging_a_duplicate_keeps_every_application_note_document_and_email() {
    let app = TestApp::spawn().await;
    // Same doctor, applying twice with different addresses and phones, once without RPPS.
    let (keep, _) = applied(&app, &Fields::valid()).await;
    let tokens = app.form_tokens("/candidature").await;
    let second = Fields::valid()
        .set("courriel", "claire.perso@exemple.fr")
        .set("telephone", "07 11 22 33 44")
        .set("rpps", "")
        .set("prenom", "claire")
        .set("nom", "MARTIN");
    assert_eq!(
        app.post_application(&tokens, &second, Some(("cv.pdf", tiny_pdf())))
            .await
            .status(),
        303
    );
    let other = app
        .text("SELECT id FROM candidates WHERE email_normalized = 'claire.perso@exemple.fr'")
        .unwrap();
    assert_ne!(keep, other);
    let staff = app.staff(StaffRole::Recruiter).await;
    let csrf = staff.csrf().await;
    staff
        .post_form(
            &format!("/recrutement/candidats/{other}/notes"),
            &[("csrf", &csrf), ("note", "Note sur la seconde fiche")],
        )
        .await;

    // The candidate page lists the possible duplicate.
    let (_, html) = staff
        .get_html(&format!("/recrutement/candidats/{keep}"))
        .await;
    assert!(html.contains("Doublons possibles") && html.contains("claire.perso@exemple.fr"));

    let r = staff
        .post_form(
            &format!("/recrutement/candidats/{keep}/fusionner"),
            &[("csrf", &csrf), ("avec", &other)],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(app.count("SELECT count(*) FROM candidates"), 1);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM applications WHERE candidate_id = {keep}"
        )),
        2
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM candidate_notes WHERE candidate_id = {keep}"
        )),
        1
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM documents WHERE candidate_id = {keep}"
        )),
        1
    );
    assert_eq!(app.count(&format!("SELECT count(*) FROM outbound_emails WHERE candidate_id = {keep} AND kind = 'application_confirmation'")), 2);
    assert_eq!(
        app.text("SELECT rpps FROM candidates").unwrap(),
        "10132437004"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'fusion'"),
        1
    );
    let (_, html) = staff
        .get_html(&format!("/recrutement/candidats/{keep}"))
        .await;
    assert!(html.contains("Note sur la seconde fiche") && html.contains("cv.pdf"));

    // Two different RPPS numbers are never merged; nor is a record with itself.
    let (third, _) = applied(
        &app,
        &Fields::valid()
            .set("courriel", "autre@exemple.fr")
            .set("telephone", "0655555555")
            .set("rpps", "10158508753"),
    )
    .await;
    let r = staff
        .post_form(
            &format!("/recrutement/candidats/{keep}/fusionner"),
            &[("csrf", &csrf), ("avec", &third)],
        )
        .await;
    assert_eq!(r.status(), 422);
    let r = staff
        .post_form(
            &format!("/recrutement/candidats/{keep}/fusionner"),
            &[("csrf", &csrf), ("avec", &keep)],
        )
        .await;
    assert_eq!(r.status(), 422);
    assert_eq!(app.count("SELECT count(*) FROM candidates"), 2);
}

#[tokio::test]
async fn a_recruiter_edits_a_candidate_validated_like_the_form() {
    let app = TestApp::spawn().await;
    let (keep, _) = applied(&app, &Fields::valid()).await;
    let (other, _) = applied(
        &app,
        &Fields::valid()
            .set("courriel", "b@exemple.fr")
            .set("telephone", "0611111111")
            .set("rpps", "10158508753")
            .set("nom", "Autre"),
    )
    .await;
    let staff = app.staff(StaffRole::Recruiter).await;
    let (status, html) = staff
        .get_html(&format!("/recrutement/candidats/{keep}/modifier"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(hidden_value(&html, "courriel"), "claire.martin@exemple.fr");
    let csrf = hidden_value(&html, "csrf");
    let fleurance = app
        .text("SELECT id FROM centres WHERE commune = 'Fleurance'")
        .unwrap();
    let mut fields = vec![
        ("csrf", csrf.clone()),
        ("civilite", "madame".to_owned()),
        ("prenom", "Claire".to_owned()),
        ("nom", "Martin-Dupuy".to_owned()),
        ("courriel", "claire.dupuy@exemple.fr".to_owned()),
        ("telephone", "06 12 34 56 78".to_owned()),
        ("rpps", "10132437004".to_owned()),
        ("specialite", "SM53".to_owned()),
        ("situation", "salarie".to_owned()),
        ("disponibilite", "".to_owned()),
        ("temps_travail", "temps_plein".to_owned()),
        ("centres", fleurance.clone()),
    ];
    let path = format!("/recrutement/candidats/{keep}/modifier");
    let post = |fields: Vec<(&'static str, String)>| {
        let staff = &staff;
        let path = path.clone();
        async move {
            let body: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            staff.post_form(&path, &body).await
        }
    };
    let r = post(fields.clone()).await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        app.text(&format!(
            "SELECT last_name FROM candidates WHERE id = {keep}"
        ))
        .unwrap(),
        "Martin-Dupuy"
    );
    assert_eq!(
        app.text(&format!(
            "SELECT email_normalized FROM candidates WHERE id = {keep}"
        ))
        .unwrap(),
        "claire.dupuy@exemple.fr"
    );
    assert_eq!(
        app.text(&format!(
            "SELECT working_time FROM candidates WHERE id = {keep}"
        ))
        .unwrap(),
        "temps_plein"
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM candidate_centres WHERE candidate_id = {keep}"
        )),
        1
    );

    // A wrong RPPS key is refused at the field, values kept.
    fields[6].1 = "10132437005".to_owned();
    let r = post(fields.clone()).await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(crate::helpers::field_error(&html, "rpps")
        .unwrap()
        .contains("clé de contrôle"));
    assert_eq!(hidden_value(&html, "nom"), "Martin-Dupuy");
    // Another candidate's RPPS points to the merge.
    fields[6].1 = "10158508753".to_owned();
    let r = post(fields.clone()).await;
    assert_eq!(r.status(), 422);
    assert!(
        crate::helpers::field_error(&r.text().await.unwrap(), "rpps")
            .unwrap()
            .contains("fusionnez")
    );
    assert_eq!(
        app.text(&format!("SELECT rpps FROM candidates WHERE id = {other}"))
            .unwrap(),
        "10158508753"
    );
    // Without the CSRF token nothing changes.
    fields[0].1 = "faux".to_owned();
    fields[6].1 = "10132437004".to_owned();
    fields[3].1 = "Changé".to_owned();
    assert_eq!(post(fields).await.status(), 403);
    assert_eq!(
        app.text(&format!(
            "SELECT last_name FROM candidates WHERE id = {keep}"
        ))
        .unwrap(),
        "Martin-Dupuy"
    );
}
