//! The candidate page (issue 18): one small form per kind of move, the offer flow's stages
//! refused by hand, refused actions shown again at their field with what was typed, the
//! confirmation after each action (fixed codes, never text from the address), the timeline,
//! durations as people write them, and the interview grid (criteria by an admin, a grid per
//! meeting, shown on the page and on « Mes données »).

use chrono::Duration;
use vocation::db::enums::StaffRole;

use crate::helpers::{test_day, Fields, StaffClient, TestApp};

/// Applies through the public form; returns (candidate id, application id).
async fn applied(app: &TestApp) -> (String, String) {
    assert_eq!(app.apply(&Fields::valid()).await.status(), 303);
    (
        app.text("SELECT max(id) FROM candidates").unwrap(),
        app.text("SELECT max(id) FROM applications").unwrap(),
    )
}

async fn post_move(
    staff: &StaffClient,
    application: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let csrf = staff.csrf().await;
    let mut all = vec![("csrf", csrf.as_str())];
    all.extend_from_slice(fields);
    staff
        .post_form(
            &format!("/recrutement/candidatures/{application}/etape"),
            &all,
        )
        .await
}

/// The page is the whole staff page: header, menu and the candidate's name.
fn is_full_candidate_page(html: &str) {
    assert!(html.contains("Se déconnecter"), "the staff layout");
    assert!(html.contains("<nav"), "the menu");
    assert!(
        html.contains("<h1>Claire Martin</h1>"),
        "the candidate page"
    );
}

/// The HTML of the element with `id` (its outer HTML).
fn element(html: &str, id: &str) -> String {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse(&format!("#{id}")).unwrap();
    doc.select(&sel)
        .next()
        .map(|e| e.html())
        .unwrap_or_else(|| panic!("no #{id} in the page"))
}

/// The text of the textarea or value of the input with `id`.
fn field_value(html: &str, id: &str) -> String {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse(&format!("#{id}")).unwrap();
    let e = doc
        .select(&sel)
        .next()
        .unwrap_or_else(|| panic!("no #{id}"));
    match e.value().name() {
        "textarea" => e.text().collect(),
        _ => e.value().attr("value").unwrap_or_default().to_owned(),
    }
}

#[tokio::test]
async fn the_forward_form_has_no_reason_field_and_no_stage_of_the_offer_flow() {
    let app = TestApp::spawn().await;
    let (candidate, application) = applied(&app).await;
    let staff = app.staff(StaffRole::Recruiter).await;
    let (status, html) = staff
        .get_html(&format!("/recrutement/candidats/{candidate}"))
        .await;
    assert_eq!(status, 200);
    let forward = element(&html, &format!("avancer-{application}"));
    assert!(!forward.contains("motif"), "no reason on a forward move");
    assert!(!forward.contains("relance"), "no follow-up date either");
    for stage in ["premier_contact", "entretien", "visite"] {
        assert!(
            forward.contains(&format!("value=\"{stage}\"")),
            "a button to {stage}"
        );
    }
    for stage in ["proposition", "acceptee", "recrutee"] {
        assert!(
            !html.contains(&format!("name=\"vers\" value=\"{stage}\"")),
            "{stage} is reached through the offer flow only"
        );
    }
    assert!(html.contains("Avancer à « Premier contact »"));
    // Each exit has its own form with only its field.
    let refuse = element(&html, &format!("refus-{application}"));
    assert!(refuse.contains("motif_refus") && !refuse.contains("relance"));
    let pool = element(&html, &format!("vivier-{application}"));
    assert!(pool.contains("relance") && !pool.contains("motif_"));
    // The note form says the candidate can read it.
    assert!(html.contains("Le candidat peut lire cette note"));
    assert!(html.contains("aria-describedby=\"nouvelle-note-aide\""));
}

#[tokio::test]
async fn the_offer_flows_stages_are_refused_when_chosen_by_hand() {
    let app = TestApp::spawn().await;
    let (_, application) = applied(&app).await;
    let staff = app.staff(StaffRole::Recruiter).await;
    for (from, to) in [
        ("nouvelle", "recrutee"),
        ("nouvelle", "proposition"),
        ("nouvelle", "acceptee"),
    ] {
        let r = post_move(
            &staff,
            &application,
            &[("depuis", from), ("vers", to), ("note", "Pressé")],
        )
        .await;
        assert_eq!(r.status(), 422, "{from} -> {to}");
        let html = r.text().await.unwrap();
        is_full_candidate_page(&html);
        assert!(html.contains("ne se choisit pas à la main"), "{html}");
        // With the e-mail preview asked for, the same answer and nothing previewed.
        let r = post_move(
            &staff,
            &application,
            &[("depuis", from), ("vers", to), ("envoyer_courriel", "oui")],
        )
        .await;
        assert_eq!(r.status(), 422);
    }
    assert_eq!(
        app.text("SELECT stage FROM applications").unwrap(),
        "nouvelle"
    );
    assert_eq!(app.count("SELECT count(*) FROM stage_history"), 1);
}

#[tokio::test]
async fn a_refusal_without_reason_shows_the_page_again_with_the_note_kept_at_the_field() {
    let app = TestApp::spawn().await;
    let (_, application) = applied(&app).await;
    let staff = app.staff(StaffRole::Recruiter).await;
    let note = "Appel du 3 <b>décembre</b> {{nom}}\nDeuxième ligne";
    let r = post_move(
        &staff,
        &application,
        &[
            ("depuis", "nouvelle"),
            ("vers", "refusee"),
            ("motif_refus", ""),
            ("note", note),
            ("envoyer_courriel", "oui"),
        ],
    )
    .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    is_full_candidate_page(&html);
    assert!(html.contains("class=\"error-summary\""));
    assert!(html.contains(&format!("href=\"#motif-refus-{application}\"")));
    assert!(html.contains(&format!(
        "aria-describedby=\"motif-refus-{application}-erreur\""
    )));
    assert!(html.contains("Choisissez le motif dans la liste."));
    assert_eq!(
        field_value(&html, &format!("note-refus-{application}")),
        note,
        "the note as typed"
    );
    assert!(!html.contains("<b>décembre</b>"), "escaped");
    let refuse = element(&html, &format!("refus-{application}"));
    assert!(refuse.contains("checked"), "the e-mail choice kept");
    // The refusal's fold is open.
    assert!(html.contains("<details class=\"action-details\" open>"));
    assert_eq!(
        app.text("SELECT stage FROM applications").unwrap(),
        "nouvelle"
    );

    // A hostile reason code: the same answer, nothing written.
    let r = post_move(
        &staff,
        &application,
        &[
            ("depuis", "nouvelle"),
            ("vers", "refusee"),
            ("motif_refus", "<script>x</script>"),
        ],
    )
    .await;
    assert_eq!(r.status(), 422);
    assert!(!r.text().await.unwrap().contains("<script>x"));

    // With the reason, it goes through and the confirmation says so.
    let r = post_move(
        &staff,
        &application,
        &[
            ("depuis", "nouvelle"),
            ("vers", "refusee"),
            ("motif_refus", "specialite"),
            ("note", note),
        ],
    )
    .await;
    assert_eq!(r.status(), 303);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.contains("fait=etape-refusee"), "{location}");
    let (_, html) = staff.get_html(&location).await;
    assert!(html.contains("role=\"status\""));
    assert!(html.contains("Candidature passée à l&#x27;étape « Refusée »."));
}

#[tokio::test]
async fn the_pool_without_a_date_and_a_stale_page_are_shown_at_their_form() {
    let app = TestApp::spawn().await;
    let (_, application) = applied(&app).await;
    let staff = app.staff(StaffRole::Recruiter).await;
    let r = post_move(
        &staff,
        &application,
        &[
            ("depuis", "nouvelle"),
            ("vers", "vivier"),
            ("relance", "le 32 truc"),
            ("note", "À rappeler"),
        ],
    )
    .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    is_full_candidate_page(&html);
    assert!(html.contains(&format!(
        "aria-describedby=\"relance-{application}-erreur\""
    )));
    assert!(html.contains("Date de relance illisible"), "{html}");
    assert_eq!(
        field_value(&html, &format!("relance-{application}")),
        "le 32 truc"
    );
    assert_eq!(
        field_value(&html, &format!("note-vivier-{application}")),
        "À rappeler"
    );

    // Someone else moved it meanwhile: the page again (409), the note kept.
    assert_eq!(
        post_move(
            &staff,
            &application,
            &[("depuis", "nouvelle"), ("vers", "premier_contact")]
        )
        .await
        .status(),
        303
    );
    let r = post_move(
        &staff,
        &application,
        &[
            ("depuis", "nouvelle"),
            ("vers", "entretien"),
            ("note", "Note tapée avant"),
        ],
    )
    .await;
    assert_eq!(r.status(), 409);
    let html = r.text().await.unwrap();
    is_full_candidate_page(&html);
    assert!(html.contains("entre-temps"));
    assert_eq!(
        field_value(&html, &format!("note-avancer-{application}")),
        "Note tapée avant"
    );
}

#[tokio::test]
async fn an_empty_or_too_long_note_is_shown_again_at_its_field() {
    let app = TestApp::spawn().await;
    let (candidate, application) = applied(&app).await;
    let staff = app.staff(StaffRole::Recruiter).await;
    let csrf = staff.csrf().await;
    let path = format!("/recrutement/candidats/{candidate}/notes");
    let r = staff
        .post_form(&path, &[("csrf", &csrf), ("note", "   \n ")])
        .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    is_full_candidate_page(&html);
    assert!(html.contains("La note est vide"));
    assert!(html.contains("aria-describedby=\"nouvelle-note-aide nouvelle-note-erreur\""));

    let long = "é".repeat(5001);
    let r = staff
        .post_form(&path, &[("csrf", &csrf), ("note", &long)])
        .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("5001 caractères") || html.contains("5 001 caractères"));
    assert_eq!(field_value(&html, "nouvelle-note"), long, "kept as typed");

    // A stage note too long is shown at the forward form.
    let r = post_move(
        &staff,
        &application,
        &[
            ("depuis", "nouvelle"),
            ("vers", "premier_contact"),
            ("note", &long),
        ],
    )
    .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert_eq!(
        field_value(&html, &format!("note-avancer-{application}")),
        long
    );
    assert_eq!(app.count("SELECT count(*) FROM candidate_notes"), 0);

    // A note saved: the confirmation.
    let r = staff
        .post_form(&path, &[("csrf", &csrf), ("note", "Très motivée")])
        .await;
    assert_eq!(r.status(), 303);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let (_, html) = staff.get_html(&location).await;
    assert!(html.contains("Note ajoutée."));
}

#[tokio::test]
async fn a_meeting_with_mistakes_is_shown_again_with_its_values_and_durations_read_as_written() {
    let app = TestApp::spawn().await;
    let (candidate, application) = applied(&app).await;
    let staff = app.staff(StaffRole::Recruiter).await;
    let csrf = staff.csrf().await;
    let path = format!("/recrutement/candidatures/{application}/rendez-vous");
    let day = (test_day() + Duration::days(10)).to_string();
    let r = staff
        .post_form(
            &path,
            &[
                ("csrf", &csrf),
                ("type", "entretien"),
                ("date", &day),
                ("heure", "25:99"),
                ("duree", "beaucoup"),
                ("centre", "abc"),
                ("lieu", "Salle <2>"),
                ("participants", "Dr Roux"),
                ("note", "Apporter le dossier"),
                ("inviter", "oui"),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    is_full_candidate_page(&html);
    for field in ["heure", "duree", "centre"] {
        assert!(
            html.contains(&format!("href=\"#rdv-{field}-{application}\"")),
            "{field} in the summary"
        );
        assert!(html.contains(&format!("rdv-{field}-{application}-erreur")));
    }
    assert_eq!(
        field_value(&html, &format!("rdv-lieu-{application}")),
        "Salle <2>"
    );
    assert_eq!(
        field_value(&html, &format!("rdv-duree-{application}")),
        "beaucoup"
    );
    assert_eq!(
        field_value(&html, &format!("rdv-note-{application}")),
        "Apporter le dossier"
    );
    assert_eq!(app.count("SELECT count(*) FROM meetings"), 0);

    let r = staff
        .post_form(
            &path,
            &[
                ("csrf", &csrf),
                ("type", "visite"),
                ("date", &day),
                ("heure", "14:00"),
                ("duree", "1 h 30"),
                ("centre", ""),
                ("lieu", "Fleurance"),
                ("inviter", "oui"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        app.count("SELECT duration_minutes FROM meetings"),
        90,
        "« 1 h 30 » read as 90 minutes"
    );
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.contains("fait=invitation"), "{location}");
    app.dispatch_all_pending_emails().await;
    let invitation = app
        .smtp
        .received_by("claire.martin@exemple.fr")
        .into_iter()
        .find(|m| m.subject().starts_with("Visite"))
        .expect("the invitation");
    assert!(
        invitation.text().contains("(1\u{a0}h\u{a0}30)"),
        "{}",
        invitation.text()
    );
    let (_, html) = staff
        .get_html(&format!("/recrutement/candidats/{candidate}"))
        .await;
    assert!(
        html.contains("(1\u{a0}h\u{a0}30)"),
        "the duration as written"
    );
    assert!(!html.contains("90 min"));
    let (_, agenda) = staff.get_html("/recrutement/agenda").await;
    assert!(agenda.contains("Visite du territoire (1\u{a0}h\u{a0}30)"));
}

#[tokio::test]
async fn the_confirmation_is_a_fixed_sentence_never_text_from_the_address() {
    let app = TestApp::spawn().await;
    let (candidate, application) = applied(&app).await;
    let staff = app.staff(StaffRole::Recruiter).await;
    let r = post_move(
        &staff,
        &application,
        &[("depuis", "nouvelle"), ("vers", "premier_contact")],
    )
    .await;
    assert_eq!(r.status(), 303);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(
        location,
        format!(
            "/recrutement/candidats/{candidate}?fait=etape-premier_contact#candidature-{application}"
        )
    );
    let (_, html) = staff.get_html(&location).await;
    assert!(html.contains("Candidature passée à l&#x27;étape « Premier contact »."));
    // Reloading the page without the code shows no confirmation.
    let page = format!("/recrutement/candidats/{candidate}");
    let (_, html) = staff.get_html(&page).await;
    assert!(!html.contains("role=\"status\""));
    for hostile in [
        "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "etape-%3Cb%3E",
        "etape-inconnue",
        "Vous%20avez%20gagn%C3%A9",
        "note%20ajout%C3%A9e",
    ] {
        let (status, html) = staff.get_html(&format!("{page}?fait={hostile}")).await;
        assert_eq!(status, 200, "{hostile}");
        assert!(!html.contains("role=\"status\""), "{hostile}");
        assert!(!html.contains("<script>alert"), "{hostile}");
        assert!(!html.contains("gagné"), "{hostile}");
    }
    // Twice the parameter, or a control character: never a 500.
    let (status, _) = staff
        .get_html(&format!("{page}?fait=note&fait=grille"))
        .await;
    assert!(status < 500, "{status}");
    let (status, _) = staff.get_html(&format!("{page}?fait=%00")).await;
    assert!(status < 500, "{status}");
}

#[tokio::test]
async fn the_timeline_shows_everything_newest_first() {
    let app = TestApp::spawn().await;
    let (candidate, application) = applied(&app).await;
    app.dispatch_all_pending_emails().await;
    let staff = app.staff(StaffRole::Recruiter).await;
    assert_eq!(
        post_move(
            &staff,
            &application,
            &[
                ("depuis", "nouvelle"),
                ("vers", "premier_contact"),
                ("note", "Appelée"),
            ],
        )
        .await
        .status(),
        303
    );
    let csrf = staff.csrf().await;
    staff
        .post_form(
            &format!("/recrutement/candidats/{candidate}/notes"),
            &[("csrf", &csrf), ("note", "Note la plus récente")],
        )
        .await;
    let (_, html) = staff
        .get_html(&format!("/recrutement/candidats/{candidate}"))
        .await;
    let doc = scraper::Html::parse_document(&html);
    let sel = scraper::Selector::parse(".timeline .timeline-item").unwrap();
    let items: Vec<String> = doc
        .select(&sel)
        .map(|e| e.text().collect::<Vec<_>>().join(" "))
        .collect();
    assert!(items.len() >= 4, "{items:?}");
    assert!(items[0].contains("Note la plus récente"), "{items:?}");
    let moved = items
        .iter()
        .position(|i| i.contains("passée de « Nouvelle » à « Premier contact »"))
        .expect("the move");
    let received = items
        .iter()
        .position(|i| i.contains("reçue, à l'étape « Nouvelle »"))
        .expect("the application");
    assert!(moved < received, "newest first: {items:?}");
    assert!(
        items.iter().any(|i| i.contains("Courriel au candidat")),
        "the confirmation e-mail: {items:?}"
    );
    assert!(items.iter().any(|i| i.contains("Appelée")));

    // Filtered, as Lever's « Overview » is: only the notes; an unknown filter shows everything
    // and is not echoed.
    let kinds = |html: &str| -> Vec<String> {
        let doc = scraper::Html::parse_document(html);
        let sel = scraper::Selector::parse(".timeline .timeline-item").unwrap();
        doc.select(&sel)
            .map(|e| e.value().attr("class").unwrap_or_default().to_owned())
            .collect()
    };
    let (_, html) = staff
        .get_html(&format!("/recrutement/candidats/{candidate}?voir=notes"))
        .await;
    let only = kinds(&html);
    assert_eq!(only.len(), 1, "{only:?}");
    assert!(only[0].contains("timeline-item--note"));
    assert!(html.contains("aria-current=\"page\">Notes</a>"));
    let (status, html) = staff
        .get_html(&format!(
            "/recrutement/candidats/{candidate}?voir=%3Cscript%3Ex"
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(kinds(&html).len(), items.len());
    assert!(!html.contains("<script>x"));
}

/// Schedules an interview (yesterday) on `application`; returns the meeting id.
async fn interview(app: &TestApp, staff: &StaffClient, application: &str) -> String {
    let csrf = staff.csrf().await;
    let day = (test_day() - Duration::days(1)).to_string();
    let r = staff
        .post_form(
            &format!("/recrutement/candidatures/{application}/rendez-vous"),
            &[
                ("csrf", &csrf),
                ("type", "entretien"),
                ("date", &day),
                ("heure", "10:00"),
                ("duree", "45 min"),
                ("centre", ""),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    app.text("SELECT max(id) FROM meetings").unwrap()
}

#[tokio::test]
async fn an_admin_defines_the_criteria_and_mistakes_are_shown_again() {
    let app = TestApp::spawn().await;
    let admin = app.staff(StaffRole::Admin).await;
    let csrf = admin.csrf_from("/admin/grille").await;
    let r = admin
        .post_form(
            "/admin/grille",
            &[
                ("csrf", &csrf),
                ("nom", ""),
                ("description", "Décrit <i>ceci</i>"),
                ("ordre", "-5"),
                ("actif", "oui"),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("Se déconnecter"));
    assert!(html.contains("Donnez un nom au critère"));
    assert!(html.contains("aria-describedby=\"ordre-nouveau-erreur\""));
    assert_eq!(
        field_value(&html, "description-nouveau"),
        "Décrit <i>ceci</i>"
    );
    assert_eq!(field_value(&html, "ordre-nouveau"), "-5");
    assert_eq!(app.count("SELECT count(*) FROM evaluation_criteria"), 0);

    for (name, order) in [("Motivation", "20"), ("Projet professionnel", "10")] {
        let r = admin
            .post_form(
                "/admin/grille",
                &[
                    ("csrf", &csrf),
                    ("nom", name),
                    ("description", ""),
                    ("ordre", order),
                    ("actif", "oui"),
                ],
            )
            .await;
        assert_eq!(r.status(), 303);
    }
    let (_, html) = admin.get_html("/admin/grille").await;
    let projet = html.find("Projet professionnel").unwrap();
    let motivation = html.find("Motivation").unwrap();
    assert!(projet < motivation, "in their order");
    // Deactivated: kept, no longer offered.
    let id = app
        .text("SELECT id FROM evaluation_criteria WHERE name = 'Motivation'")
        .unwrap();
    let r = admin
        .post_form(
            &format!("/admin/grille/{id}"),
            &[("csrf", &csrf), ("nom", "Motivation"), ("ordre", "20")],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        app.text(&format!(
            "SELECT active::text FROM evaluation_criteria WHERE id = {id}"
        ))
        .unwrap(),
        "false"
    );
    // A criterion that does not exist, a missing token, a recruiter: refused.
    let r = admin
        .post_form(
            "/admin/grille/999999",
            &[("csrf", &csrf), ("nom", "X"), ("ordre", "1")],
        )
        .await;
    assert_eq!(r.status(), 404);
    let r = admin
        .post_form("/admin/grille", &[("csrf", "faux"), ("nom", "X")])
        .await;
    assert_eq!(r.status(), 403);
    let recruiter = app.staff(StaffRole::Recruiter).await;
    assert_eq!(recruiter.get("/admin/grille").await.status(), 403);
    let rcsrf = recruiter.csrf().await;
    let r = recruiter
        .post_form("/admin/grille", &[("csrf", &rcsrf), ("nom", "X")])
        .await;
    assert_eq!(r.status(), 403);
    assert_eq!(app.count("SELECT count(*) FROM evaluation_criteria"), 2);
}

#[tokio::test]
async fn a_recruiter_fills_the_grid_after_an_interview_and_the_candidate_can_read_it() {
    let app = TestApp::spawn().await;
    vocation::pipeline::evaluation::load_defaults(&mut app.conn()).unwrap();
    let (candidate, application) = applied(&app).await;
    let staff = app.staff(StaffRole::Recruiter).await;
    let meeting = interview(&app, &staff, &application).await;
    let ids: Vec<String> = (0..4)
        .map(|i| {
            app.text(&format!(
                "SELECT id FROM evaluation_criteria ORDER BY position, id OFFSET {i} LIMIT 1"
            ))
            .unwrap()
        })
        .collect();
    let path = format!("/recrutement/rendez-vous/{meeting}/grille");
    let (status, html) = staff.get_html(&path).await;
    assert_eq!(status, 200);
    assert!(html.contains("Projet professionnel"));
    assert!(html.contains("Motivation pour le territoire"));
    assert!(html.contains("Le candidat peut lire cette grille"));
    let csrf = staff.csrf().await;

    // A score out of range and no opinion: the grid again, everything typed kept.
    let mut fields: Vec<(&str, &str)> = vec![("csrf", &csrf)];
    let scores = ["4", "5", "", "2"];
    let comments = [
        "Projet clair <script>",
        "Connaît le Gers",
        "",
        "Disponible en mars",
    ];
    for i in 0..4 {
        fields.push(("critere", &ids[i]));
        fields.push(("note", scores[i]));
        fields.push(("commentaire", comments[i]));
    }
    fields.push(("commentaire_ensemble", "Bon entretien"));
    let r = staff.post_form(&path, &fields).await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("Se déconnecter"));
    assert!(html.contains("Choisissez l&#x27;avis d&#x27;ensemble"));
    assert!(html.contains(&format!("aria-describedby=\"note-{}-erreur\"", ids[1])));
    assert_eq!(
        field_value(&html, &format!("commentaire-{}", ids[0])),
        "Projet clair <script>"
    );
    assert!(!html.contains("Projet clair <script>"), "escaped");
    assert_eq!(field_value(&html, "commentaire-ensemble"), "Bon entretien");
    assert_eq!(app.count("SELECT count(*) FROM evaluations"), 0);

    // Corrected.
    let mut fields: Vec<(&str, &str)> = vec![("csrf", &csrf)];
    let scores = ["4", "3", "", "2"];
    for i in 0..4 {
        fields.push(("critere", &ids[i]));
        fields.push(("note", scores[i]));
        fields.push(("commentaire", comments[i]));
    }
    fields.push(("avis", "favorable"));
    fields.push(("commentaire_ensemble", "Bon entretien"));
    let r = staff.post_form(&path, &fields).await;
    assert_eq!(r.status(), 303);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(&format!("/recrutement/candidats/{candidate}?fait=grille")));
    assert_eq!(app.count("SELECT count(*) FROM evaluation_scores"), 4);
    assert_eq!(
        app.count("SELECT count(*) FROM evaluation_scores WHERE score IS NULL"),
        1,
        "« non évalué »"
    );
    let (_, html) = staff.get_html(&location).await;
    assert!(html.contains("Grille d&#x27;entretien enregistrée."));
    assert!(html.contains("4 – très satisfaisant"));
    assert!(html.contains("Non évalué"));
    assert!(html.contains("avis favorable"));
    assert!(html.contains("Projet clair &lt;script&gt;"));
    assert!(html.contains("Modifier la grille d'entretien"));

    // Filled again: replaced, not doubled.
    let r = staff.post_form(&path, &fields).await;
    assert_eq!(r.status(), 303);
    assert_eq!(app.count("SELECT count(*) FROM evaluations"), 1);
    assert_eq!(app.count("SELECT count(*) FROM evaluation_scores"), 4);

    // On « Mes données » and in its export: the grid is the candidate's personal data.
    let mut conn = app.conn();
    let held = vocation::privacy::personal_data(&mut conn, candidate.parse().unwrap(), test_day())
        .unwrap()
        .unwrap();
    let grids = held["evaluations"].as_array().unwrap();
    assert_eq!(grids.len(), 1);
    assert_eq!(grids[0]["opinion"], "Favorable");
    assert_eq!(grids[0]["scores"][0]["criterion"], "Projet professionnel");
    assert_eq!(grids[0]["scores"][0]["score"], 4);
    assert!(grids[0].get("author").is_none());

    // A communication officer, a forged token, another meeting: refused, nothing changed.
    let comms = app.staff(StaffRole::Communication).await;
    let ccsrf = comms.csrf_from("/espace").await;
    let mut hostile = fields.clone();
    hostile[0] = ("csrf", &ccsrf);
    assert_eq!(comms.post_form(&path, &hostile).await.status(), 403);
    assert_eq!(comms.get(&path).await.status(), 403);
    let mut forged = fields.clone();
    forged[0] = ("csrf", "faux");
    assert_eq!(staff.post_form(&path, &forged).await.status(), 403);
    assert_eq!(
        staff
            .post_form("/recrutement/rendez-vous/999999/grille", &fields)
            .await
            .status(),
        404
    );
    assert_eq!(
        staff
            .get("/recrutement/rendez-vous/abc/grille")
            .await
            .status(),
        404
    );
    // A criterion id of nothing, or sent twice, changes nothing of the others.
    let mut odd = fields.clone();
    odd.push(("critere", "999999"));
    odd.push(("note", "4"));
    odd.push(("commentaire", "x"));
    assert_eq!(staff.post_form(&path, &odd).await.status(), 303);
    assert_eq!(app.count("SELECT count(*) FROM evaluation_scores"), 4);
}

#[tokio::test]
async fn the_grid_is_on_the_candidates_private_page_and_goes_at_erasure() {
    let app = TestApp::spawn().await;
    vocation::pipeline::evaluation::load_defaults(&mut app.conn()).unwrap();
    let (candidate, application) = applied(&app).await;
    let staff = app.staff(StaffRole::Recruiter).await;
    let meeting = interview(&app, &staff, &application).await;
    let first = app
        .text("SELECT id FROM evaluation_criteria ORDER BY position LIMIT 1")
        .unwrap();
    let csrf = staff.csrf().await;
    let r = staff
        .post_form(
            &format!("/recrutement/rendez-vous/{meeting}/grille"),
            &[
                ("csrf", &csrf),
                ("critere", &first),
                ("note", "3"),
                ("commentaire", "Projet mûri"),
                ("avis", "reserve"),
                ("commentaire_ensemble", "À revoir en visite"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    // The private page, through the link of the confirmation e-mail.
    app.dispatch_all_pending_emails().await;
    let mail = app
        .smtp
        .received_by("claire.martin@exemple.fr")
        .into_iter()
        .find(|m| m.text().contains("/mes-donnees/"))
        .expect("the confirmation with the private link");
    let text = mail.text();
    let start = text.find("http://vocation.test/mes-donnees/").unwrap();
    let private = text[start + "http://vocation.test".len()..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let (status, html) = app.get_html(&private).await;
    assert_eq!(status, 200);
    assert!(html.contains("Grilles d'entretien"));
    assert!(html.contains("Projet mûri"));
    assert!(html.contains("3 – satisfaisant"));
    assert!(html.contains("avis d'ensemble : Réservé"));
    assert!(html.contains("À revoir en visite"));
    // Erasure: the grid goes with the notes.
    let erased = vocation::privacy::erase(
        &mut app.conn(),
        candidate.parse().unwrap(),
        chrono::Utc::now(),
    )
    .unwrap();
    assert!(matches!(erased, vocation::privacy::Erasure::Erased(_)));
    assert_eq!(app.count("SELECT count(*) FROM evaluations"), 0);
    assert_eq!(app.count("SELECT count(*) FROM evaluation_scores"), 0);
    assert_eq!(
        app.count("SELECT count(*) FROM evaluation_criteria"),
        4,
        "the criteria are not personal data and stay"
    );
}

#[tokio::test]
async fn an_e_mail_confirmed_without_a_subject_shows_the_preview_again_with_the_text_kept() {
    let app = TestApp::spawn().await;
    let (_, application) = applied(&app).await;
    let staff = app.staff(StaffRole::Recruiter).await;
    let text = "Bonjour Docteur Martin,\n\nÀ mardi <b>14 h</b>.";
    let r = post_move(
        &staff,
        &application,
        &[
            ("depuis", "nouvelle"),
            ("vers", "entretien"),
            ("note", "Note gardée"),
            ("envoyer_courriel", "oui"),
            ("confirmer", "oui"),
            ("objet", "   "),
            ("texte", text),
        ],
    )
    .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("Se déconnecter"), "the staff layout");
    assert!(html.contains("aria-describedby=\"objet-erreur\""));
    assert!(html.contains("Écrivez l&#x27;objet du courriel."));
    assert_eq!(field_value(&html, "texte"), text, "the text as typed");
    assert_eq!(crate::helpers::hidden_value(&html, "note"), "Note gardée");
    assert!(!html.contains("<b>14 h</b>"), "escaped");
    assert_eq!(
        app.text("SELECT stage FROM applications").unwrap(),
        "nouvelle"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM outbound_emails WHERE subject = ''"),
        0
    );
}
