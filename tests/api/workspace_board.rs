//! The board as a kanban (issue 18): compact cards with their days in stage, the two orders,
//! « en retard » only past each stage's delay, « Voir les N autres », a card moved by its own
//! form through the same rules and e-mail review as the candidate page, and the actions on a
//! selection (move, export) tried with hostile input.

use vocation::db::enums::StaffRole;

use crate::helpers::{hidden_value, sql_now, Fields, StaffClient, TestApp};

/// Applies through the public form; returns the application's id.
async fn applied(app: &TestApp, n: usize) -> i64 {
    let fields = Fields::valid()
        .set("courriel", &format!("kanban{n}@exemple.fr"))
        .set("telephone", &format!("06{:08}", 10_000 + n))
        .set("rpps", "")
        .set("nom", &format!("Kanban{n}"));
    assert_eq!(app.apply(&fields).await.status(), 303);
    app.text(&format!(
        "SELECT a.id::text FROM applications a JOIN candidates c ON c.id = a.candidate_id \
         WHERE c.email_normalized = 'kanban{n}@exemple.fr'"
    ))
    .unwrap()
    .parse()
    .unwrap()
}

/// Runs a statement on the test's database.
fn exec(app: &TestApp, sql: &str) {
    diesel::RunQueryDsl::execute(diesel::sql_query(sql), &mut app.conn()).unwrap();
}

/// Puts an application in `stage`, entered `days` ago by the process's clock.
fn set_stage(app: &TestApp, application: i64, stage: &str, days: i64) {
    exec(
        app,
        &format!(
            "UPDATE applications SET stage = '{stage}', \
             stage_entered_at = {} - interval '{days} days' WHERE id = {application}",
            sql_now()
        ),
    );
}

fn stage_of(app: &TestApp, application: i64) -> String {
    app.text(&format!(
        "SELECT stage FROM applications WHERE id = {application}"
    ))
    .unwrap()
}

/// The text of a card on the board, spaces collapsed.
fn card_text(html: &str, application: i64) -> String {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse(&format!("#carte-{application}")).unwrap();
    let text: String = doc
        .select(&sel)
        .next()
        .unwrap_or_else(|| panic!("card {application} on the board"))
        .text()
        .collect();
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// What a card says of its wait in the stage.
fn wait_text(html: &str, application: i64) -> String {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse(&format!("#carte-{application} .stage-card__wait")).unwrap();
    let text: String = doc.select(&sel).next().unwrap().text().collect();
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The `href` of the links of the page whose text contains `text`.
fn links(html: &str, text: &str) -> Vec<String> {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse("a").unwrap();
    doc.select(&sel)
        .filter(|a| a.text().collect::<String>().contains(text))
        .map(|a| a.value().attr("href").unwrap_or_default().to_owned())
        .collect()
}

/// The page as read (the apostrophes Handlebars escapes read back).
fn read(html: &str) -> String {
    html.replace("&#x27;", "'").replace("&#x3D;", "=")
}

/// The application ids of a column's cards, in their order.
fn column_ids(html: &str, stage: &str) -> Vec<i64> {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse(&format!("#colonne-{stage} .stage-card")).unwrap();
    doc.select(&sel)
        .map(|e| e.value().attr("data-application").unwrap().parse().unwrap())
        .collect()
}

async fn move_card(
    staff: &StaffClient,
    application: i64,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let csrf = staff.csrf().await;
    let mut all = vec![("csrf", csrf.as_str())];
    all.extend_from_slice(fields);
    staff
        .post_form(
            &format!("/recrutement/tableau/{application}/deplacer"),
            &all,
        )
        .await
}

#[tokio::test]
async fn cards_say_how_long_they_wait_and_are_late_only_past_their_stage_delay() {
    let app = TestApp::spawn().await;
    let today = applied(&app, 1).await;
    let yesterday = applied(&app, 2).await;
    let late = applied(&app, 3).await;
    let contact = applied(&app, 4).await;
    let exit = applied(&app, 5).await;
    set_stage(&app, yesterday, "nouvelle", 1);
    // « nouvelle » waits 3 days at most, « premier_contact » 7 (config/default.toml).
    set_stage(&app, late, "nouvelle", 12);
    set_stage(&app, contact, "premier_contact", 5);
    set_stage(&app, exit, "vivier", 400);
    let staff = app.staff(StaffRole::Recruiter).await;
    let (status, html) = staff.get_html("/recrutement").await;
    assert_eq!(status, 200);

    let card = card_text(&html, today);
    assert!(card.contains("Kanban1"), "{card}");
    assert!(card.contains("Médecine générale"), "{card}");
    assert!(
        card.contains("Temps partiel, 3 jours par semaine"),
        "{card}"
    );
    assert_eq!(wait_text(&html, today), "arrivée aujourd'hui");
    assert_eq!(wait_text(&html, yesterday), "depuis 1 jour");
    assert_eq!(wait_text(&html, late), "depuis 12 jours en retard");
    assert_eq!(wait_text(&html, contact), "depuis 5 jours");
    // An exit has no delay.
    assert_eq!(wait_text(&html, exit), "depuis 400 jours");
    assert!(!html.contains("depuis 0 jour"));
    assert!(!html.contains("Depuis"));

    // The columns side by side in their own scrolling region, each with its count.
    let doc = scraper::Html::parse_document(&html);
    let region = doc
        .select(
            &scraper::Selector::parse("#tableau[role=region][tabindex='0'][aria-label]").unwrap(),
        )
        .count();
    assert_eq!(region, 1);
    assert!(html.contains("Nouvelle <span class=\"count\">3</span>"));
    assert_eq!(column_ids(&html, "premier_contact"), vec![contact]);
}

#[tokio::test]
async fn the_columns_sort_waiting_longest_first_or_newest_first_and_show_the_rest_on_demand() {
    let app = TestApp::spawn().await;
    let mut ids = Vec::new();
    for n in 0..23 {
        let id = applied(&app, n).await;
        // The higher n, the more recent.
        set_stage(&app, id, "nouvelle", 30 - n as i64);
        ids.push(id);
    }
    let staff = app.staff(StaffRole::Recruiter).await;
    let (_, html) = staff.get_html("/recrutement").await;
    assert_eq!(column_ids(&html, "nouvelle"), ids[..20].to_vec());
    assert_eq!(
        links(&html, "Voir les 3 autres"),
        ["/recrutement?etape=nouvelle"]
    );

    let (_, html) = staff.get_html("/recrutement?tri=recentes").await;
    let newest: Vec<i64> = ids.iter().rev().take(20).copied().collect();
    assert_eq!(column_ids(&html, "nouvelle"), newest);
    assert_eq!(
        links(&html, "Voir les 3 autres"),
        ["/recrutement?tri=recentes&etape=nouvelle"]
    );

    // The column alone, with its pages.
    let (status, html) = staff
        .get_html("/recrutement?tri=recentes&etape=nouvelle&page=2")
        .await;
    assert_eq!(status, 200);
    assert_eq!(column_ids(&html, "nouvelle"), vec![ids[2], ids[1], ids[0]]);
    assert_eq!(column_ids(&html, "entretien"), Vec::<i64>::new());
    assert!(html.contains("Revenir à toutes les colonnes"));
    // Hostile order and stage values are ignored.
    let (status, html) = staff
        .get_html("/recrutement?tri=%00&etape=%3Cscript%3E&page=-1")
        .await;
    assert_eq!(status, 400, "{html}");
    let (status, html) = staff.get_html("/recrutement?tri=bogus&etape=bogus").await;
    assert_eq!(status, 200);
    assert_eq!(column_ids(&html, "nouvelle"), ids[..20].to_vec());
}

#[tokio::test]
async fn a_card_moves_by_its_own_form_through_the_same_rules() {
    let app = TestApp::spawn().await;
    let id = applied(&app, 1).await;
    // Without an e-mail template for the stage, the move is recorded at once.
    exec(
        &app,
        "DELETE FROM stage_email_templates WHERE stage = 'premier_contact'",
    );
    let staff = app.staff(StaffRole::Recruiter).await;
    let (_, board) = staff.get_html("/recrutement").await;
    // The card's « Déplacer » link leads to its form (the board itself carries one form per
    // column, for board.js), which offers the allowed targets but never the offer flow's stages.
    let href = {
        let doc = scraper::Html::parse_document(&board);
        let sel = scraper::Selector::parse(&format!("#carte-{id} a.card-move-link")).unwrap();
        doc.select(&sel)
            .next()
            .expect("the card's « Déplacer » link")
            .value()
            .attr("href")
            .unwrap()
            .to_owned()
    };
    assert_eq!(href, format!("/recrutement/tableau/{id}/deplacer"));
    let (status, html) = staff.get_html(&href).await;
    assert_eq!(status, 200);
    assert_eq!(hidden_value(&html, "depuis"), "nouvelle");
    let doc = scraper::Html::parse_document(&html);
    let options: Vec<String> = doc
        .select(&scraper::Selector::parse(&format!("#vers-{id} option")).unwrap())
        .map(|o| o.value().attr("value").unwrap().to_owned())
        .collect();
    assert_eq!(
        options,
        [
            "premier_contact",
            "entretien",
            "visite",
            "refusee",
            "desistement",
            "vivier"
        ]
    );
    assert_eq!(
        hidden_value(&html, "retour"),
        "",
        "the plain board comes back to itself"
    );

    let r = move_card(
        &staff,
        id,
        &[
            ("depuis", "nouvelle"),
            ("vers", "premier_contact"),
            ("retour", "tri=recentes&q=%0A"),
        ],
    )
    .await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/recrutement?q=%0A&tri=recentes");
    assert_eq!(stage_of(&app, id), "premier_contact");
    assert_eq!(
        app.count(&format!("SELECT count(*) FROM stage_history WHERE application_id = {id} AND to_stage = 'premier_contact' AND from_stage = 'nouvelle'")),
        1
    );
    // A return address elsewhere is not followed.
    let r = move_card(
        &staff,
        id,
        &[
            ("depuis", "premier_contact"),
            ("vers", "vivier"),
            ("details", "oui"),
            (
                "relance",
                &(crate::helpers::test_day() + chrono::Duration::days(60)).to_string(),
            ),
            ("retour", "//evil.example/"),
        ],
    )
    .await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/recrutement");
    assert_eq!(stage_of(&app, id), "vivier");
}

#[tokio::test]
async fn a_card_moved_to_a_stage_with_an_email_shows_the_email_for_review_first() {
    let app = TestApp::spawn().await;
    let id = applied(&app, 1).await;
    app.dispatch_all_pending_emails().await;
    let mails = app.count(&format!(
        "SELECT count(*) FROM outbound_emails WHERE application_id = {id}"
    ));
    let staff = app.staff(StaffRole::Recruiter).await;
    let r = move_card(&staff, id, &[("depuis", "nouvelle"), ("vers", "entretien")]).await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("Courriel au candidat"), "{html}");
    assert!(html.contains(&format!("action=\"/recrutement/candidatures/{id}/etape\"")));
    assert_eq!(
        stage_of(&app, id),
        "nouvelle",
        "nothing written before the review"
    );
    // The review page's form records the move and sends the e-mail (the candidate page's path),
    // then goes back to the board it came from.
    let subject = hidden_value(&html, "objet");
    let csrf = hidden_value(&html, "csrf");
    let retour = hidden_value(&html, "retour");
    assert_eq!(retour, "?", "the board without filters");
    let r = staff
        .post_form(
            &format!("/recrutement/candidatures/{id}/etape"),
            &[
                ("csrf", csrf.as_str()),
                ("depuis", "nouvelle"),
                ("vers", "entretien"),
                ("envoyer_courriel", "oui"),
                ("confirmer", "oui"),
                (
                    "objet",
                    if subject.is_empty() {
                        "Entretien"
                    } else {
                        &subject
                    },
                ),
                ("texte", "Bonjour, quand êtes-vous disponible ?"),
                ("retour", retour.as_str()),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/recrutement");
    assert_eq!(stage_of(&app, id), "entretien");
    // A forged return address gives the board, rebuilt from known filters only.
    let csrf = staff.csrf().await;
    let relance = (crate::helpers::test_day() + chrono::Duration::days(30))
        .format("%d/%m/%Y")
        .to_string();
    for hostile in [
        "//evil.example/x",
        "?tri=recentes&x=https://evil.example",
        "\\evil",
    ] {
        let r = staff
            .post_form(
                &format!("/recrutement/candidatures/{id}/etape"),
                &[
                    ("csrf", csrf.as_str()),
                    ("depuis", "entretien"),
                    ("vers", "vivier"),
                    ("relance", &relance),
                    ("retour", hostile),
                ],
            )
            .await;
        assert_eq!(r.status(), 303, "{hostile}");
        let location = r.headers()["location"].to_str().unwrap().to_owned();
        assert!(
            location.starts_with("/recrutement"),
            "{hostile} → {location}"
        );
        assert!(!location.contains("evil"), "{hostile} → {location}");
        // Back to « Entretien » for the next attempt (pool → premier contact is the only way
        // back; the attempt itself is what is checked).
        diesel::connection::SimpleConnection::batch_execute(
            &mut app.conn(),
            &format!("UPDATE applications SET stage = 'entretien' WHERE id = {id}"),
        )
        .unwrap();
    }
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM outbound_emails WHERE application_id = {id}"
        )),
        mails + 1
    );
}

#[tokio::test]
async fn a_refusal_or_the_pool_from_a_card_asks_for_the_reason_or_the_date_and_keeps_what_was_typed(
) {
    let app = TestApp::spawn().await;
    let id = applied(&app, 1).await;
    let staff = app.staff(StaffRole::Recruiter).await;
    let r = move_card(
        &staff,
        id,
        &[
            ("depuis", "nouvelle"),
            ("vers", "refusee"),
            ("retour", "tri=recentes"),
        ],
    )
    .await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("<label for=\"motif\">Motif</label>"),
        "{html}"
    );
    assert!(
        html.contains("class=\"site-header") || html.contains("<nav"),
        "the staff layout"
    );
    assert_eq!(stage_of(&app, id), "nouvelle");

    // Sent without the reason: the same page, 422, the message at the field, the note kept.
    let r = move_card(
        &staff,
        id,
        &[
            ("depuis", "nouvelle"),
            ("vers", "refusee"),
            ("details", "oui"),
            ("motif", ""),
            ("note", "Vu au téléphone <b>"),
            ("retour", "tri=recentes"),
        ],
    )
    .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("aria-describedby=\"motif-error\""));
    assert!(html.contains("id=\"motif-error\">Choisissez le motif dans la liste.</p>"));
    assert!(
        html.contains(">Vu au téléphone &lt;b&gt;</textarea>"),
        "{html}"
    );
    assert!(html.contains("href=\"#motif\""));
    assert_eq!(hidden_value(&html, "retour"), "tri=recentes");
    // A reason of the other list is refused too.
    let r = move_card(
        &staff,
        id,
        &[
            ("depuis", "nouvelle"),
            ("vers", "refusee"),
            ("details", "oui"),
            ("motif", "distance"),
        ],
    )
    .await;
    assert_eq!(r.status(), 422);

    let r = move_card(
        &staff,
        id,
        &[
            ("depuis", "nouvelle"),
            ("vers", "refusee"),
            ("details", "oui"),
            ("motif", "profil_inadapte"),
            ("note", "Vu"),
        ],
    )
    .await;
    assert_eq!(r.status(), 303);
    assert_eq!(stage_of(&app, id), "refusee");
    assert_eq!(
        app.text(&format!(
            "SELECT reason FROM stage_history WHERE application_id = {id} AND to_stage = 'refusee'"
        )),
        Some("profil_inadapte".to_owned())
    );

    // The pool: a date in the past, or none, is asked again.
    let other = applied(&app, 2).await;
    for (date, message) in [
        ("", "Indiquez la date"),
        ("2001-01-01", "Choisissez une date à venir."),
        ("demain", "ne se lit pas"),
    ] {
        let r = move_card(
            &staff,
            other,
            &[
                ("depuis", "nouvelle"),
                ("vers", "vivier"),
                ("details", "oui"),
                ("relance", date),
            ],
        )
        .await;
        assert_eq!(r.status(), 422, "{date}");
        let html = r.text().await.unwrap();
        assert!(
            html.contains("aria-describedby=\"relance-error\""),
            "{date}"
        );
        assert!(html.contains(message), "{date}: {html}");
    }
    assert_eq!(stage_of(&app, other), "nouvelle");
}

#[tokio::test]
async fn forbidden_stale_and_hostile_card_moves_change_nothing() {
    let app = TestApp::spawn().await;
    let id = applied(&app, 1).await;
    set_stage(&app, id, "visite", 2);
    let staff = app.staff(StaffRole::Recruiter).await;
    // The offer flow's stages are not reached from the board.
    for to in ["proposition", "acceptee", "recrutee"] {
        let r = move_card(&staff, id, &[("depuis", "visite"), ("vers", to)]).await;
        assert_eq!(r.status(), 422, "{to}");
        let html = r.text().await.unwrap();
        assert!(html.contains("ne se choisit pas à la main"), "{html}");
    }
    // Backwards, stale, unknown stage, unknown application.
    let r = move_card(&staff, id, &[("depuis", "visite"), ("vers", "nouvelle")]).await;
    assert_eq!(r.status(), 422);
    let r = move_card(
        &staff,
        id,
        &[("depuis", "nouvelle"), ("vers", "premier_contact")],
    )
    .await;
    assert_eq!(r.status(), 409);
    assert!(read(&r.text().await.unwrap()).contains("changé d'étape entre-temps"));
    let r = move_card(&staff, id, &[("depuis", "visite"), ("vers", "<script>")]).await;
    assert_eq!(r.status(), 400);
    let r = move_card(
        &staff,
        999_999,
        &[
            ("depuis", "nouvelle"),
            ("vers", "refusee"),
            ("details", "oui"),
            ("motif", "autre"),
        ],
    )
    .await;
    assert_eq!(r.status(), 404);
    let r = move_card(
        &staff,
        id,
        &[("depuis", "visite\u{0}"), ("vers", "refusee")],
    )
    .await;
    assert_eq!(r.status(), 400);
    // Without the CSRF token, or as a communications officer.
    let r = staff
        .post_form(
            &format!("/recrutement/tableau/{id}/deplacer"),
            &[
                ("depuis", "visite"),
                ("vers", "refusee"),
                ("details", "oui"),
                ("motif", "autre"),
            ],
        )
        .await;
    assert_eq!(r.status(), 403);
    let comms = app.staff(StaffRole::Communication).await;
    let csrf = comms.csrf_from("/espace").await;
    let r = comms
        .post_form(
            &format!("/recrutement/tableau/{id}/deplacer"),
            &[
                ("csrf", csrf.as_str()),
                ("depuis", "visite"),
                ("vers", "refusee"),
                ("details", "oui"),
                ("motif", "autre"),
            ],
        )
        .await;
    assert_eq!(r.status(), 403);
    assert_eq!(
        staff
            .get(&format!("/recrutement/tableau/{id}/deplacer"))
            .await
            .status()
            .as_u16(),
        200,
        "a GET shows the card's move form and changes nothing"
    );
    assert_eq!(stage_of(&app, id), "visite");
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM stage_history WHERE application_id = {id}"
        )),
        1,
        "only the submission's line"
    );
}

async fn select(staff: &StaffClient, fields: &[(&str, &str)]) -> reqwest::Response {
    let csrf = staff.csrf().await;
    let mut all = vec![("csrf", csrf.as_str())];
    all.extend_from_slice(fields);
    staff
        .post_form("/recrutement/tableau/selection", &all)
        .await
}

#[tokio::test]
async fn a_selection_moves_each_card_through_the_rules_and_says_which_did_not_move() {
    let app = TestApp::spawn().await;
    let a = applied(&app, 1).await;
    let b = applied(&app, 2).await;
    let c = applied(&app, 3).await;
    let staff = app.staff(StaffRole::Recruiter).await;
    let (sa, sb, sc) = (
        format!("{a}:nouvelle"),
        format!("{b}:nouvelle"),
        format!("{c}:entretien"),
    );
    // A refusal without its reason: nothing moves, the form comes back with the selection.
    let r = select(
        &staff,
        &[
            ("action", "deplacer"),
            ("selection", &sa),
            ("selection", &sb),
            ("vers", "refusee"),
            ("note", "Lot du lundi"),
        ],
    )
    .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("aria-describedby=\"motif_refus-error\""),
        "{html}"
    );
    assert!(html.contains(">Lot du lundi</textarea>"));
    assert!(html.contains("2 candidatures sélectionnées."));
    assert!(html.contains(&format!("value=\"{sa}\"")) && html.contains(&format!("value=\"{sb}\"")));
    assert_eq!(stage_of(&app, a), "nouvelle");

    // C is shown in another stage than its own; 999999 does not exist; A twice counts once.
    let mails_before = app.count("SELECT count(*) FROM outbound_emails");
    let r = select(
        &staff,
        &[
            ("action", "deplacer"),
            ("selection", &sa),
            ("selection", &sb),
            ("selection", &sc),
            ("selection", "999999:nouvelle"),
            ("selection", &sa),
            ("vers", "premier_contact"),
        ],
    )
    .await;
    assert_eq!(r.status(), 200);
    let html = read(&r.text().await.unwrap());
    assert!(
        html.contains("2 candidatures déplacées vers « Premier contact », 2 non déplacées :"),
        "{html}"
    );
    assert!(html.contains(&format!(
        "Candidature n° {c} : La candidature a changé d'étape entre-temps"
    )));
    assert!(html.contains("Candidature n° 999999 : Cette candidature n'existe pas."));
    assert_eq!(stage_of(&app, a), "premier_contact");
    assert_eq!(stage_of(&app, b), "premier_contact");
    assert_eq!(stage_of(&app, c), "nouvelle");
    assert_eq!(
        app.count("SELECT count(*) FROM stage_history WHERE to_stage = 'premier_contact'"),
        2
    );
    assert_eq!(
        app.count("SELECT count(*) FROM outbound_emails"),
        mails_before,
        "no e-mail from a selection"
    );

    // One card: the singular.
    let r = select(
        &staff,
        &[
            ("action", "deplacer"),
            ("selection", &format!("{a}:premier_contact")),
            ("vers", "withdrawn"),
        ],
    )
    .await;
    assert_eq!(r.status(), 422, "an unknown target is asked again");
    let r = select(
        &staff,
        &[
            ("action", "deplacer"),
            ("selection", &format!("{a}:premier_contact")),
            ("vers", "desistement"),
            ("motif_desistement", "distance"),
        ],
    )
    .await;
    assert_eq!(r.status(), 200);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("1 candidature déplacée vers « Désistement »."));

    // The offer flow's stages are not offered to a selection either.
    let r = select(
        &staff,
        &[
            ("action", "deplacer"),
            ("selection", &format!("{b}:premier_contact")),
            ("vers", "recrutee"),
        ],
    )
    .await;
    assert_eq!(r.status(), 422);
    assert_eq!(stage_of(&app, b), "premier_contact");
}

#[tokio::test]
async fn hostile_selections_are_refused_without_a_change() {
    let app = TestApp::spawn().await;
    let a = applied(&app, 1).await;
    let staff = app.staff(StaffRole::Recruiter).await;
    let sa = format!("{a}:nouvelle");
    // Nothing ticked.
    let r = select(
        &staff,
        &[("action", "deplacer"), ("vers", "premier_contact")],
    )
    .await;
    assert_eq!(r.status(), 422);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("Cochez au moins une candidature"));
    // Too many.
    let many: Vec<String> = (1..=501).map(|n| format!("{n}:nouvelle")).collect();
    let mut fields = vec![("action", "deplacer"), ("vers", "premier_contact")];
    fields.extend(many.iter().map(|s| ("selection", s.as_str())));
    let r = select(&staff, &fields).await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("500 candidatures au plus"));
    // Forged values.
    for bad in [
        "abc",
        "-1:nouvelle",
        "1:bogus",
        "1",
        "1:nouvelle\u{0}",
        "99999999999999999999:nouvelle",
    ] {
        let r = select(
            &staff,
            &[
                ("action", "deplacer"),
                ("selection", bad),
                ("vers", "premier_contact"),
            ],
        )
        .await;
        assert_eq!(r.status(), 400, "{bad:?}");
    }
    let r = select(&staff, &[("action", "supprimer"), ("selection", &sa)]).await;
    assert_eq!(r.status(), 400);
    // Without CSRF, as a communications officer, as an anonymous visitor.
    let r = staff
        .post_form(
            "/recrutement/tableau/selection",
            &[
                ("action", "deplacer"),
                ("selection", &sa),
                ("vers", "premier_contact"),
            ],
        )
        .await;
    assert_eq!(r.status(), 403);
    let comms = app.staff(StaffRole::Communication).await;
    let csrf = comms.csrf_from("/espace").await;
    let r = comms
        .post_form(
            "/recrutement/tableau/selection",
            &[
                ("csrf", csrf.as_str()),
                ("action", "exporter"),
                ("selection", &sa),
            ],
        )
        .await;
    assert_eq!(r.status(), 403);
    let anonymous = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = anonymous
        .post(app.url("/recrutement/tableau/selection"))
        .form(&[("action", "exporter"), ("selection", sa.as_str())])
        .send()
        .await
        .unwrap();
    assert!(
        r.status() == 303 || r.status() == 401 || r.status() == 403,
        "{}",
        r.status()
    );
    assert_eq!(stage_of(&app, a), "nouvelle");
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'export_csv'"),
        0
    );
}

#[tokio::test]
async fn a_selection_is_exported_for_a_spreadsheet_with_formulas_neutralised() {
    let app = TestApp::spawn().await;
    let a = applied(&app, 1).await;
    let b = applied(&app, 2).await;
    let c = applied(&app, 3).await;
    exec(
        &app,
        &format!(
            "UPDATE candidates SET last_name = '=HYPERLINK(\"http://evil\")', first_name = '+Zoé' \
             WHERE id = (SELECT candidate_id FROM applications WHERE id = {b})"
        ),
    );
    let staff = app.staff(StaffRole::Recruiter).await;
    let (sa, sb) = (format!("{a}:nouvelle"), format!("{b}:entretien"));
    let r = select(
        &staff,
        &[
            ("action", "exporter"),
            ("selection", &sb),
            ("selection", &sa),
            ("selection", "424242:nouvelle"),
            ("selection", &sa),
        ],
    )
    .await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    assert!(r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment; filename=\"candidatures-selection-"));
    let bytes = r.bytes().await.unwrap();
    assert!(bytes.starts_with(&[0xEF, 0xBB, 0xBF]));
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_reader(text.as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    let ids: Vec<String> = rows.iter().map(|r| r[0].to_owned()).collect();
    assert_eq!(
        ids,
        [a.to_string(), b.to_string()],
        "the selection only, once each"
    );
    assert!(!ids.contains(&c.to_string()));
    let hostile = rows.iter().find(|r| r[0] == b.to_string()).unwrap();
    assert_eq!(&hostile[4], "'=HYPERLINK(\"http://evil\")");
    assert_eq!(&hostile[5], "'+Zoé");
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'export_csv' AND detail LIKE '2 lignes%'"),
        1
    );
}

/// The number shown in a column's heading, thousands separators removed.
fn column_count(html: &str, stage: &str) -> i64 {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse(&format!("#col-{stage} .count")).unwrap();
    let text: String = doc
        .select(&sel)
        .next()
        .unwrap_or_else(|| panic!("column {stage} on the board"))
        .text()
        .collect();
    text.chars()
        .filter(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap()
}

/// Every stage's count from the ledger against count(*) over the applications.
fn counts_agree(app: &TestApp) -> Vec<(String, i64, i64)> {
    let mut wrong = Vec::new();
    for stage in vocation::db::enums::Stage::ALL {
        let code = stage.code();
        let kept = app.count(&format!(
            "SELECT coalesce(sum(delta), 0) FROM stage_counts WHERE stage = '{code}'"
        ));
        let real = app.count(&format!(
            "SELECT count(*) FROM applications WHERE stage = '{code}'"
        ));
        if kept != real {
            wrong.push((code.to_owned(), kept, real));
        }
    }
    wrong
}

#[tokio::test]
async fn the_unfiltered_counts_stay_exact_under_moves_at_once_inserts_and_deletes() {
    let app = TestApp::spawn().await;
    let staff = app.staff(StaffRole::Recruiter).await;
    // Through the public form (an insert of the application), then 400 more in one statement.
    let first = applied(&app, 1).await;
    exec(
        &app,
        "INSERT INTO applications (candidate_id, stage, submission_key, privacy_notice_version, \
         privacy_accepted_at) \
         SELECT a.candidate_id, (ARRAY['nouvelle', 'premier_contact', 'entretien', 'visite', \
         'refusee'])[1 + i % 5], gen_random_uuid(), a.privacy_notice_version, \
         a.privacy_accepted_at FROM applications a, generate_series(1, 400) i",
    );
    assert_eq!(counts_agree(&app), vec![]);
    let stages = [
        "nouvelle",
        "premier_contact",
        "entretien",
        "visite",
        "refusee",
        "desistement",
        "vivier",
    ];
    // Eight connections moving applications at once, each transaction moving two of them in
    // opposite directions (the order that would deadlock on one counter row per stage), while
    // the ledger is folded at the same time.
    let threads: Vec<_> = (0..8u64)
        .map(|t| {
            let mut conn = app.conn();
            std::thread::spawn(move || {
                use diesel::{Connection, RunQueryDsl};
                let mut x = t * 7919 + 1;
                for _ in 0..60 {
                    x = x
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    let a = first + (x >> 33) as i64 % 401;
                    let b = first + (x >> 17) as i64 % 401;
                    let (s, u) = (stages[(x >> 5) as usize % 7], stages[(x >> 9) as usize % 7]);
                    conn.transaction::<_, diesel::result::Error, _>(|conn| {
                        diesel::sql_query(format!(
                            "UPDATE applications SET stage = '{s}' WHERE id = {a}"
                        ))
                        .execute(conn)?;
                        diesel::sql_query(format!(
                            "UPDATE applications SET stage = '{u}', updated_at = now() \
                             WHERE id = {b}"
                        ))
                        .execute(conn)
                    })
                    .unwrap();
                    if x % 10 == 0 {
                        diesel::sql_query("SELECT stage_counts_fold()")
                            .execute(&mut conn)
                            .unwrap();
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(counts_agree(&app), vec![]);
    // Deleted applications leave their stage's count.
    exec(
        &app,
        &format!("DELETE FROM applications WHERE id > {first} AND id % 3 = 0"),
    );
    assert_eq!(counts_agree(&app), vec![]);
    // The board shows the counts of the ledger, the same as count(*).
    let (status, html) = staff.get_html("/recrutement").await;
    assert_eq!(status, 200);
    for stage in stages {
        assert_eq!(
            column_count(&html, stage),
            app.count(&format!(
                "SELECT count(*) FROM applications WHERE stage = '{stage}'"
            )),
            "{stage}"
        );
    }
    // Many moves make the ledger grow; the board folds it back to one row per stage.
    exec(
        &app,
        "DO $$ BEGIN FOR i IN 1..200 LOOP \
         UPDATE applications SET stage = 'visite' WHERE id = (SELECT min(id) FROM applications); \
         UPDATE applications SET stage = 'entretien' WHERE id = (SELECT min(id) FROM applications); \
         END LOOP; END $$",
    );
    assert!(app.count("SELECT count(*) FROM stage_counts") > 256);
    staff.get_html("/recrutement").await;
    assert!(app.count("SELECT count(*) FROM stage_counts") <= 10);
    assert_eq!(counts_agree(&app), vec![]);
}

#[tokio::test]
async fn a_card_s_move_page_without_javascript_comes_back_to_the_same_board_and_refuses_intruders()
{
    let app = TestApp::spawn().await;
    let id = applied(&app, 1).await;
    let staff = app.staff(StaffRole::Recruiter).await;
    // From a sorted board, the link carries the board's parameters and the form sends them back.
    let (_, board) = staff.get_html("/recrutement?tri=recentes&q=Kanban").await;
    let href = {
        let doc = scraper::Html::parse_document(&board);
        let sel = scraper::Selector::parse(&format!("#carte-{id} a.card-move-link")).unwrap();
        doc.select(&sel)
            .next()
            .expect("the card's « Déplacer » link")
            .value()
            .attr("href")
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        href,
        format!("/recrutement/tableau/{id}/deplacer?retour=q%3DKanban%26tri%3Drecentes")
    );
    let (status, html) = staff.get_html(&href).await;
    assert_eq!(status, 200);
    assert_eq!(hidden_value(&html, "retour"), "q=Kanban&tri=recentes");
    assert!(html.contains("Déplacer Jeanne Kanban1") || html.contains("Kanban1"));
    // The board's move form exists once per column, not once per card.
    let forms = board.matches("class=\"card-move-template\"").count();
    assert!((5..=8).contains(&forms), "{forms} forms");
    assert!(!board.contains(&format!("id=\"vers-{id}\"")));
    // A return address elsewhere, control characters, huge: only the board's own parameters.
    for hostile in [
        "%2F%2Fevil.example%2F",
        "tri%3Drecentes%26etape%3D%0A",
        &"x".repeat(5000),
    ] {
        let (status, html) = staff
            .get_html(&format!(
                "/recrutement/tableau/{id}/deplacer?retour={hostile}"
            ))
            .await;
        assert_eq!(status, 200);
        let retour = hidden_value(&html, "retour");
        assert!(
            retour.is_empty() || retour == "tri=recentes",
            "{hostile}: {retour}"
        );
    }
    // Another record's id, a non-number, a stage without board moves.
    let (status, _) = staff
        .get_html("/recrutement/tableau/999999999/deplacer")
        .await;
    assert_eq!(status, 404);
    let (status, _) = staff.get_html("/recrutement/tableau/abc/deplacer").await;
    assert_eq!(status, 404);
    set_stage(&app, id, "refusee", 1);
    let (status, html) = staff
        .get_html(&format!("/recrutement/tableau/{id}/deplacer"))
        .await;
    assert_eq!(status, 200);
    assert!(!html.contains("name=\"vers\""));
    assert!(html.contains("ne se déplace pas depuis le tableau"));
    // Not a recruiter: refused.
    let viewer = app.staff(StaffRole::Communication).await;
    let (status, _) = viewer
        .get_html(&format!("/recrutement/tableau/{id}/deplacer"))
        .await;
    assert!(status == 403 || status == 404, "{status}");
}

#[tokio::test]
async fn a_search_s_counts_come_from_its_matches() {
    let app = TestApp::spawn().await;
    let ids = [
        applied(&app, 1).await,
        applied(&app, 2).await,
        applied(&app, 3).await,
    ];
    set_stage(&app, ids[2], "premier_contact", 2);
    let staff = app.staff(StaffRole::Recruiter).await;
    // A name searched (counted from the matches listed), with and without a second filter.
    for path in [
        "/recrutement?q=Kanban",
        "/recrutement?q=kanban&temps=temps_partiel&specialite=MG",
    ] {
        let (status, html) = staff.get_html(path).await;
        assert_eq!(status, 200);
        let (new, first) = if path.contains("temps") {
            (
                app.count(
                    "SELECT count(*) FROM applications a JOIN candidates c ON c.id = a.candidate_id \
                     WHERE c.last_name LIKE 'Kanban%' AND c.working_time = 'temps_partiel' \
                     AND a.stage = 'nouvelle' AND c.specialty_code IN \
                     (SELECT code FROM specialties WHERE general_practice)",
                ),
                app.count(
                    "SELECT count(*) FROM applications a JOIN candidates c ON c.id = a.candidate_id \
                     WHERE c.last_name LIKE 'Kanban%' AND c.working_time = 'temps_partiel' \
                     AND a.stage = 'premier_contact' AND c.specialty_code IN \
                     (SELECT code FROM specialties WHERE general_practice)",
                ),
            )
        } else {
            (2, 1)
        };
        assert_eq!(column_count(&html, "nouvelle"), new, "{path}");
        assert_eq!(column_count(&html, "premier_contact"), first, "{path}");
        assert_eq!(column_count(&html, "entretien"), 0, "{path}");
    }
    // The column alone.
    let (_, html) = staff.get_html("/recrutement?q=Kanban&etape=nouvelle").await;
    assert_eq!(column_count(&html, "nouvelle"), 2);
    assert_eq!(column_ids(&html, "nouvelle").len(), 2);
}
