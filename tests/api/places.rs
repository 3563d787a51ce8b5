//! Centres and positions: the administrators' pages.

use vocation::db::enums::StaffRole;

use crate::helpers::{field_error, hidden_value, Fields, StaffClient, TestApp};

/// A complete, valid centre form (without the CSRF token).
fn centre_fields() -> Vec<(&'static str, String)> {
    [
        ("nom", "Centre territorial de santé de Mirande"),
        ("type", "centre"),
        ("commune", "Mirande"),
        ("code_insee", "32256"),
        ("latitude", "43,5147"),
        ("longitude", "0.4039"),
        ("statut", "planned"),
        ("ouverture", "2027-01-01"),
        ("fermeture", ""),
        ("capacite", "3,5"),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_owned()))
    .collect()
}

/// A complete, valid position form (without the CSRF token nor centres).
fn position_fields() -> Vec<(&'static str, String)> {
    [
        ("titre", "Médecin généraliste – Mirande"),
        ("specialite", "SM54"),
        (
            "description",
            "Consultations, suivi des patients chroniques.",
        ),
        ("etp_min", "0,6"),
        ("etp_max", "1"),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_owned()))
    .collect()
}

fn with(
    mut fields: Vec<(&'static str, String)>,
    key: &'static str,
    value: &str,
) -> Vec<(&'static str, String)> {
    fields.retain(|(k, _)| *k != key);
    fields.push((key, value.to_owned()));
    fields
}

async fn post(
    staff: &StaffClient,
    path: &str,
    csrf: Option<&str>,
    fields: &[(&'static str, String)],
) -> reqwest::Response {
    let mut all: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    if let Some(csrf) = csrf {
        all.push(("csrf", csrf));
    }
    staff.post_form(path, &all).await
}

/// The `value` of the input with this id.
fn input_value(html: &str, id: &str) -> Option<String> {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse(&format!("#{id}")).unwrap();
    doc.select(&sel)
        .next()
        .and_then(|e| e.value().attr("value").map(str::to_owned))
}

/// Whether the radio or checkbox with this id is checked.
fn is_checked(html: &str, id: &str) -> bool {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse(&format!("#{id}")).unwrap();
    doc.select(&sel)
        .next()
        .is_some_and(|e| e.value().attr("checked").is_some())
}

/// The positions offered by the application form's select.
fn position_options(html: &str) -> Vec<String> {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse("#poste option").unwrap();
    doc.select(&sel)
        .filter_map(|o| o.value().attr("value").map(str::to_owned))
        .filter(|v| !v.is_empty())
        .collect()
}

fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

fn centre_id(app: &TestApp, commune: &str) -> String {
    app.text(&format!(
        "SELECT id FROM centres WHERE commune = '{commune}'"
    ))
    .unwrap()
}

async fn admin(app: &TestApp) -> (StaffClient, String) {
    let admin = app.staff(StaffRole::Admin).await;
    let csrf = admin.csrf().await;
    (admin, csrf)
}

#[tokio::test]
async fn an_admin_creates_a_centre_and_finds_it_in_the_list_with_its_capacity_in_fte() {
    let app = TestApp::spawn().await;
    let (admin, csrf) = admin(&app).await;
    let (status, html) = admin.get_html("/admin/centres").await;
    assert_eq!(status, 200);
    assert!(html.contains("href=\"/admin/centres/nouveau\""));
    assert!(html.contains("Ajouter un centre"));
    let (status, html) = admin.get_html("/admin/centres/nouveau").await;
    assert_eq!(status, 200);
    assert!(is_checked(&html, "statut"), "planned by default");

    let r = post(
        &admin,
        "/admin/centres/nouveau",
        Some(&csrf),
        &centre_fields(),
    )
    .await;
    assert_eq!(r.status(), 303);
    let id = app
        .text("SELECT id FROM centres WHERE insee_code = '32256'")
        .unwrap();
    assert_eq!(location(&r), format!("/admin/centres?enregistre={id}"));
    assert_eq!(
        app.text(&format!(
            "SELECT concat_ws('|', name, kind, commune, latitude, longitude, status, opened_on, \
             coalesce(closed_on::text, 'sans'), planned_fte_hundredths) FROM centres WHERE id = {id}"
        ))
        .unwrap(),
        "Centre territorial de santé de Mirande|centre|Mirande|43.5147|0.4039|planned|2027-01-01|sans|350"
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM audit_log WHERE action = 'creation_centre' AND entity = 'centre' \
             AND entity_id = {id} AND actor_id IS NOT NULL"
        )),
        1
    );

    let (status, html) = admin.get_html(&location(&r)).await;
    assert_eq!(status, 200);
    assert!(html.contains("Le centre « Centre territorial de santé de Mirande » est enregistré."));
    assert!(html.contains(&format!("href=\"/admin/centres/{id}\"")));
    assert!(html.contains("Capacité prévue des centres ouverts ou en projet : 3,5 ETP."));
    for expected in [
        "3,5 ETP",
        "En projet",
        "Centre de santé",
        "Antenne",
        "Ouvert",
        "01/01/2027",
    ] {
        assert!(html.contains(expected), "missing {expected}");
    }
}

#[tokio::test]
async fn an_admin_edits_a_centre_and_the_change_is_audited_with_updated_at_set() {
    let app = TestApp::spawn().await;
    let (admin, csrf) = admin(&app).await;
    let id = centre_id(&app, "Marciac");
    let path = format!("/admin/centres/{id}");
    let (status, html) = admin.get_html(&path).await;
    assert_eq!(status, 200);
    assert_eq!(
        input_value(&html, "nom").as_deref(),
        Some("Antenne territoriale de santé de Marciac")
    );
    assert_eq!(input_value(&html, "latitude").as_deref(), Some("43,5246"));
    assert_eq!(input_value(&html, "code_insee").as_deref(), Some("32233"));
    assert_eq!(
        input_value(&html, "ouverture").as_deref(),
        Some("2023-01-01")
    );
    assert!(is_checked(&html, "type-antenne"));
    assert!(is_checked(&html, "statut-open"));

    let fields = vec![
        ("nom", "Antenne territoriale de santé de Marciac".to_owned()),
        ("type", "antenne".to_owned()),
        ("commune", "Marciac".to_owned()),
        ("code_insee", "32233".to_owned()),
        ("latitude", "43.5246".to_owned()),
        ("longitude", "0,1612".to_owned()),
        ("statut", "closed".to_owned()),
        ("ouverture", "01/01/2023".to_owned()),
        ("fermeture", "2026-12-31".to_owned()),
        ("capacite", "1,25".to_owned()),
    ];
    let r = post(&admin, &path, Some(&csrf), &fields).await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    assert_eq!(
        app.text(&format!(
            "SELECT concat_ws('|', status, closed_on, planned_fte_hundredths) FROM centres WHERE id = {id}"
        ))
        .unwrap(),
        "closed|2026-12-31|125"
    );
    // Set by the edit: this centre comes from the reference data, stamped by PostgreSQL's
    // clock when migrated, and the edit by the service's (they differ under faketime).
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM centres WHERE id = {id} AND updated_at <> created_at"
        )),
        1
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM audit_log WHERE action = 'modification_centre' AND entity_id = {id}"
        )),
        1
    );
    let (_, html) = admin.get_html("/admin/centres").await;
    assert!(html.contains("1,25 ETP") && html.contains("31/12/2026") && html.contains("Fermé"));

    // Reopening clears the closing date when the field is emptied.
    let reopened = with(with(fields, "statut", "open"), "fermeture", "");
    let r = post(&admin, &path, Some(&csrf), &reopened).await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        app.text(&format!(
            "SELECT coalesce(closed_on::text, 'sans') FROM centres WHERE id = {id}"
        ))
        .unwrap(),
        "sans"
    );

    // A wrong value on the edit page: 422, the values kept, nothing changed.
    let wrong = with(
        with(reopened, "capacite", "2,555"),
        "commune",
        "Marciac-sur-Arros",
    );
    let r = post(&admin, &path, Some(&csrf), &wrong).await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(field_error(&html, "capacite")
        .unwrap()
        .contains("Deux décimales"));
    assert_eq!(input_value(&html, "capacite").as_deref(), Some("2,555"));
    assert_eq!(
        input_value(&html, "commune").as_deref(),
        Some("Marciac-sur-Arros")
    );
    assert!(html.contains(&format!("action=\"/admin/centres/{id}\"")));
    assert_eq!(
        app.count("SELECT count(*) FROM centres WHERE commune = 'Marciac-sur-Arros'"),
        0
    );
}

#[tokio::test]
async fn a_centre_with_a_malformed_insee_code_is_refused_with_the_values_kept() {
    let app = TestApp::spawn().await;
    let (admin, csrf) = admin(&app).await;
    for code in ["3225", "322566", "2C004", "32 56", "ABCDE"] {
        let fields = with(centre_fields(), "code_insee", code);
        let r = post(&admin, "/admin/centres/nouveau", Some(&csrf), &fields).await;
        assert_eq!(r.status(), 422, "{code}");
        let html = r.text().await.unwrap();
        assert!(
            field_error(&html, "code_insee")
                .unwrap()
                .contains("n'est pas un code INSEE"),
            "{code}"
        );
        assert_eq!(input_value(&html, "code_insee").as_deref(), Some(code));
        assert_eq!(
            input_value(&html, "nom").as_deref(),
            Some("Centre territorial de santé de Mirande")
        );
        assert_eq!(input_value(&html, "latitude").as_deref(), Some("43,5147"));
        assert_eq!(input_value(&html, "capacite").as_deref(), Some("3,5"));
        assert!(is_checked(&html, "type"));
        assert!(
            html.contains("href=\"#code_insee\""),
            "the summary links to the field"
        );
        assert!(html.contains("aria-invalid=\"true\""));
    }
    assert_eq!(app.count("SELECT count(*) FROM centres"), 5);
    // Lower-case Corsican codes are accepted and stored upper-cased.
    let fields = with(centre_fields(), "code_insee", "2a004");
    let r = post(&admin, "/admin/centres/nouveau", Some(&csrf), &fields).await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        app.count("SELECT count(*) FROM centres WHERE insee_code = '2A004'"),
        1
    );
}

#[tokio::test]
async fn each_invalid_centre_field_is_refused_with_its_message_and_nothing_stored() {
    let app = TestApp::spawn().await;
    let (admin, csrf) = admin(&app).await;
    let long_name = "x".repeat(201);
    let cases: Vec<(&'static str, &str, &'static str, &str)> = vec![
        ("nom", "   ", "nom", "Indiquez le nom"),
        ("nom", &long_name, "nom", "200 caractères au plus"),
        ("type", "hopital", "type", "Choisissez le type"),
        ("commune", "", "commune", "Indiquez la commune"),
        ("latitude", "", "latitude", "Indiquez la latitude"),
        ("latitude", "91", "latitude", "entre -90 et 90"),
        ("latitude", "43°50'", "latitude", "n'est pas une latitude"),
        ("longitude", "-180,5", "longitude", "entre -180 et 180"),
        ("longitude", "zéro", "longitude", "n'est pas une longitude"),
        ("statut", "ferme", "statut", "Choisissez le statut"),
        ("ouverture", "31/02/2027", "ouverture", "Date illisible"),
        ("fermeture", "demain", "fermeture", "Date illisible"),
        (
            "fermeture",
            "2026-12-31",
            "fermeture",
            "doit suivre la date d'ouverture (01/01/2027)",
        ),
        ("statut", "closed", "fermeture", "date de fermeture"),
        ("capacite", "", "capacite", "Indiquez la capacité"),
        ("capacite", "3,555", "capacite", "Deux décimales"),
        ("capacite", "-1", "capacite", "n'est pas un nombre"),
        ("capacite", "250", "capacite", "ne peut dépasser 100 ETP"),
    ];
    for (field, value, error_at, message) in cases {
        let fields = with(centre_fields(), field, value);
        let r = post(&admin, "/admin/centres/nouveau", Some(&csrf), &fields).await;
        assert_eq!(r.status(), 422, "{field} = {value}");
        let html = r.text().await.unwrap();
        let shown = field_error(&html, error_at).unwrap_or_default();
        assert!(
            shown.contains(message),
            "{field} = {value}: «{shown}» should contain «{message}»"
        );
        assert!(html.contains("Le centre n'a pas été enregistré"));
        // The other values are kept.
        assert_eq!(input_value(&html, "code_insee").as_deref(), Some("32256"));
        if !["type", "statut"].contains(&field) {
            assert_eq!(input_value(&html, field).as_deref(), Some(value), "{field}");
        }
    }
    assert_eq!(app.count("SELECT count(*) FROM centres"), 5);
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'creation_centre'"),
        0
    );
    // A capacity above one full time and zero are both fine.
    for (capacity, hundredths) in [("12,5", 1250), ("0", 0)] {
        let fields = with(
            with(centre_fields(), "capacite", capacity),
            "code_insee",
            if hundredths == 0 { "32001" } else { "32002" },
        );
        let fields = with(fields, "nom", &format!("Centre {capacity}"));
        let r = post(&admin, "/admin/centres/nouveau", Some(&csrf), &fields).await;
        assert_eq!(r.status(), 303, "{capacity}");
        assert_eq!(
            app.count(&format!(
                "SELECT planned_fte_hundredths FROM centres WHERE name = 'Centre {capacity}'"
            )),
            hundredths
        );
    }
}

#[tokio::test]
async fn a_duplicate_insee_code_or_name_is_refused_at_its_field() {
    let app = TestApp::spawn().await;
    let (admin, csrf) = admin(&app).await;
    // Fleurance's INSEE code.
    let fields = with(centre_fields(), "code_insee", "32132");
    let r = post(&admin, "/admin/centres/nouveau", Some(&csrf), &fields).await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(field_error(&html, "code_insee")
        .unwrap()
        .contains("déjà celui du centre de Fleurance"));
    assert_eq!(input_value(&html, "code_insee").as_deref(), Some("32132"));
    assert_eq!(input_value(&html, "commune").as_deref(), Some("Mirande"));
    let fields = with(
        centre_fields(),
        "nom",
        "Centre territorial de santé de Fleurance",
    );
    let r = post(&admin, "/admin/centres/nouveau", Some(&csrf), &fields).await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(field_error(&html, "nom")
        .unwrap()
        .contains("porte déjà ce nom"));
    assert_eq!(app.count("SELECT count(*) FROM centres"), 5);

    // Editing: another centre's code is refused, the centre's own is fine.
    let id = centre_id(&app, "Plaisance");
    let own = vec![
        ("nom", "Centre territorial de santé de Plaisance".to_owned()),
        ("type", "centre".to_owned()),
        ("commune", "Plaisance".to_owned()),
        ("code_insee", "32462".to_owned()),
        ("latitude", "43,6045".to_owned()),
        ("longitude", "0,045".to_owned()),
        ("statut", "open".to_owned()),
        ("ouverture", "2022-01-01".to_owned()),
        ("capacite", "2".to_owned()),
    ];
    let path = format!("/admin/centres/{id}");
    let r = post(&admin, &path, Some(&csrf), &own).await;
    assert_eq!(r.status(), 422);
    assert!(field_error(&r.text().await.unwrap(), "code_insee")
        .unwrap()
        .contains("Vic-Fezensac"));
    let r = post(
        &admin,
        &path,
        Some(&csrf),
        &with(own, "code_insee", "32319"),
    )
    .await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        app.count(&format!(
            "SELECT planned_fte_hundredths FROM centres WHERE id = {id}"
        )),
        200
    );
}

#[tokio::test]
async fn recruiters_and_communication_staff_get_403_and_change_nothing() {
    let app = TestApp::spawn().await;
    let centre = centre_id(&app, "Fleurance");
    let (admin, admin_csrf) = admin(&app).await;
    let r = post(
        &admin,
        "/admin/postes/nouveau",
        Some(&admin_csrf),
        &position_fields(),
    )
    .await;
    assert_eq!(r.status(), 303);
    let position = app.text("SELECT id FROM positions").unwrap();
    for role in [StaffRole::Recruiter, StaffRole::Communication] {
        let staff = app.staff(role).await;
        let csrf = hidden_value(&staff.get_html("/espace").await.1, "csrf");
        assert!(!csrf.is_empty());
        for page in [
            "/admin/centres".to_owned(),
            "/admin/centres/nouveau".to_owned(),
            format!("/admin/centres/{centre}"),
            "/admin/postes".to_owned(),
            "/admin/postes/nouveau".to_owned(),
            format!("/admin/postes/{position}"),
        ] {
            assert_eq!(
                staff.get(&page).await.status(),
                403,
                "{} {page}",
                role.code()
            );
        }
        let r = post(
            &staff,
            "/admin/centres/nouveau",
            Some(&csrf),
            &centre_fields(),
        )
        .await;
        assert_eq!(r.status(), 403);
        let edit = with(centre_fields(), "code_insee", "32132");
        let r = post(
            &staff,
            &format!("/admin/centres/{centre}"),
            Some(&csrf),
            &edit,
        )
        .await;
        assert_eq!(r.status(), 403);
        let r = post(
            &staff,
            "/admin/postes/nouveau",
            Some(&csrf),
            &position_fields(),
        )
        .await;
        assert_eq!(r.status(), 403);
        let r = post(
            &staff,
            &format!("/admin/postes/{position}"),
            Some(&csrf),
            &with(position_fields(), "titre", "Changé"),
        )
        .await;
        assert_eq!(r.status(), 403);
    }
    assert_eq!(app.count("SELECT count(*) FROM centres"), 5);
    assert_eq!(app.count("SELECT count(*) FROM positions"), 1);
    assert_eq!(
        app.count("SELECT count(*) FROM positions WHERE title = 'Changé'"),
        0
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM centres WHERE name = 'Centre territorial de santé de Mirande'"
        ),
        0
    );
}

#[tokio::test]
async fn posts_without_the_csrf_token_get_403_and_change_nothing() {
    let app = TestApp::spawn().await;
    let (admin, csrf) = admin(&app).await;
    let r = post(
        &admin,
        "/admin/postes/nouveau",
        Some(&csrf),
        &position_fields(),
    )
    .await;
    assert_eq!(r.status(), 303);
    let position = app.text("SELECT id FROM positions").unwrap();
    let centre = centre_id(&app, "Fleurance");
    let edit_centre = with(centre_fields(), "code_insee", "32132");
    for token in [None, Some("faux")] {
        let r = post(&admin, "/admin/centres/nouveau", token, &centre_fields()).await;
        assert_eq!(r.status(), 403);
        let r = post(
            &admin,
            &format!("/admin/centres/{centre}"),
            token,
            &edit_centre,
        )
        .await;
        assert_eq!(r.status(), 403);
        let r = post(&admin, "/admin/postes/nouveau", token, &position_fields()).await;
        assert_eq!(r.status(), 403);
        let r = post(
            &admin,
            &format!("/admin/postes/{position}"),
            token,
            &with(position_fields(), "titre", "Changé"),
        )
        .await;
        assert_eq!(r.status(), 403);
    }
    assert_eq!(app.count("SELECT count(*) FROM centres"), 5);
    assert_eq!(
        app.text(&format!("SELECT name FROM centres WHERE id = {centre}"))
            .unwrap(),
        "Centre territorial de santé de Fleurance"
    );
    assert_eq!(app.count("SELECT count(*) FROM positions"), 1);
    assert_eq!(
        app.count("SELECT count(*) FROM positions WHERE title = 'Changé'"),
        0
    );
}

#[tokio::test]
async fn unknown_centres_and_positions_are_404() {
    let app = TestApp::spawn().await;
    let (admin, csrf) = admin(&app).await;
    for page in [
        "/admin/centres/424242",
        "/admin/centres/abc",
        "/admin/postes/424242",
        "/admin/postes/abc",
    ] {
        let (status, html) = admin.get_html(page).await;
        assert_eq!(status, 404, "{page}");
        assert!(html.contains("Page introuvable"), "{page}");
    }
    let r = post(
        &admin,
        "/admin/centres/424242",
        Some(&csrf),
        &centre_fields(),
    )
    .await;
    assert_eq!(r.status(), 404);
    let r = post(
        &admin,
        "/admin/postes/424242",
        Some(&csrf),
        &position_fields(),
    )
    .await;
    assert_eq!(r.status(), 404);
    assert_eq!(app.count("SELECT count(*) FROM centres"), 5);
    assert_eq!(app.count("SELECT count(*) FROM positions"), 0);
}

#[tokio::test]
async fn an_admin_creates_and_edits_a_position_with_its_centres_in_one_go() {
    let app = TestApp::spawn().await;
    let (admin, csrf) = admin(&app).await;
    let (fleurance, gondrin) = (centre_id(&app, "Fleurance"), centre_id(&app, "Gondrin"));
    let (status, html) = admin.get_html("/admin/postes").await;
    assert_eq!(status, 200);
    assert!(html.contains("href=\"/admin/postes/nouveau\""));
    let (status, html) = admin.get_html("/admin/postes/nouveau").await;
    assert_eq!(status, 200);
    assert!(html.contains(&format!("value=\"{gondrin}\"")));

    let fields = with(
        with(position_fields(), "centres", &fleurance),
        "centres",
        &gondrin,
    );
    let fields = [fields, vec![("centres", fleurance.clone())]].concat();
    let r = post(&admin, "/admin/postes/nouveau", Some(&csrf), &fields).await;
    assert_eq!(r.status(), 303);
    let id = app.text("SELECT id FROM positions").unwrap();
    assert_eq!(location(&r), format!("/admin/postes?enregistre={id}"));
    assert_eq!(
        app.text(&format!(
            "SELECT concat_ws('|', title, specialty_code, description, fte_min_hundredths, \
             fte_max_hundredths, published) FROM positions WHERE id = {id}"
        ))
        .unwrap(),
        "Médecin généraliste – Mirande|SM54|Consultations, suivi des patients chroniques.|60|100|f"
    );
    assert_eq!(
        app.text(&format!(
            "SELECT string_agg(c.commune, ',' ORDER BY c.commune) FROM position_centres pc \
             JOIN centres c ON c.id = pc.centre_id WHERE pc.position_id = {id}"
        ))
        .unwrap(),
        "Fleurance,Gondrin"
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM audit_log WHERE action = 'creation_poste' AND entity = 'position' AND entity_id = {id}"
        )),
        1
    );
    let (_, html) = admin.get_html(&location(&r)).await;
    assert!(html.contains("Le poste « Médecin généraliste – Mirande » est enregistré."));
    assert!(html.contains("Fleurance, Gondrin"));
    assert!(html.contains("0,6 à 1 ETP"));
    assert!(html.contains("Non publié"));
    assert!(html.contains("Médecine générale"));

    // The edit page shows the stored values.
    let path = format!("/admin/postes/{id}");
    let (status, html) = admin.get_html(&path).await;
    assert_eq!(status, 200);
    assert_eq!(
        input_value(&html, "titre").as_deref(),
        Some("Médecin généraliste – Mirande")
    );
    assert_eq!(input_value(&html, "etp_min").as_deref(), Some("0,6"));
    // Centres are listed by commune: Fleurance first.
    assert!(is_checked(&html, "centres"));
    assert!(is_checked(&html, &format!("centre-{gondrin}")));
    assert!(!is_checked(
        &html,
        &format!("centre-{}", centre_id(&app, "Marciac"))
    ));
    assert!(!is_checked(&html, "publie"));
    assert!(html.contains("<option value=\"SM54\" selected>"));

    // Changing the centres and the working time, without a specialty.
    let fields = with(
        with(
            with(position_fields(), "centres", &gondrin),
            "specialite",
            "",
        ),
        "etp_min",
        "50 %",
    );
    let r = post(&admin, &path, Some(&csrf), &fields).await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        app.text(&format!(
            "SELECT concat_ws('|', coalesce(specialty_code, 'aucune'), fte_min_hundredths) FROM positions WHERE id = {id}"
        ))
        .unwrap(),
        "aucune|50"
    );
    assert_eq!(
        app.text(&format!(
            "SELECT string_agg(centre_id::text, ',') FROM position_centres WHERE position_id = {id}"
        ))
        .unwrap(),
        gondrin
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM positions WHERE id = {id} AND updated_at > created_at"
        )),
        1
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM audit_log WHERE action = 'modification_poste' AND entity_id = {id}"
        )),
        1
    );
    // No centre at all is allowed too.
    let r = post(&admin, &path, Some(&csrf), &position_fields()).await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM position_centres WHERE position_id = {id}"
        )),
        0
    );
}

#[tokio::test]
async fn each_invalid_position_field_is_refused_with_its_message_and_the_values_kept() {
    let app = TestApp::spawn().await;
    let (admin, csrf) = admin(&app).await;
    let fleurance = centre_id(&app, "Fleurance");
    let long_title = "x".repeat(201);
    let long_description = "y".repeat(5001);
    let cases: Vec<(&'static str, &str, &'static str, &str)> = vec![
        ("titre", "  ", "titre", "Indiquez le titre"),
        ("titre", &long_title, "titre", "200 au plus"),
        (
            "specialite",
            "SM00",
            "specialite",
            "Choisissez une spécialité",
        ),
        (
            "description",
            &long_description,
            "description",
            "5000 au plus",
        ),
        (
            "centres",
            "424242",
            "centres",
            "Choisissez les centres dans la liste",
        ),
        (
            "centres",
            "abc",
            "centres",
            "Choisissez les centres dans la liste",
        ),
        ("etp_min", "", "etp_min", "Indiquez le temps de travail"),
        ("etp_min", "0", "etp_min", "supérieur à zéro"),
        ("etp_max", "1,5", "etp_max", "ne peut dépasser 1"),
        ("etp_max", "0,755", "etp_max", "Deux décimales"),
        (
            "etp_max",
            "0,5",
            "etp_max",
            "au moins égal à l'ETP minimum (0,6)",
        ),
    ];
    for (field, value, error_at, message) in cases {
        let mut fields = with(position_fields(), field, value);
        if field != "centres" {
            fields.push(("centres", fleurance.clone()));
        }
        fields.push(("publie", "oui".to_owned()));
        let r = post(&admin, "/admin/postes/nouveau", Some(&csrf), &fields).await;
        assert_eq!(r.status(), 422, "{field} = {value}");
        let html = r.text().await.unwrap();
        let shown = field_error(&html, error_at).unwrap_or_default();
        assert!(
            shown.contains(message),
            "{field} = {value}: «{shown}» should contain «{message}»"
        );
        assert!(html.contains("Le poste n'a pas été enregistré"));
        assert!(html.contains(&format!("href=\"#{error_at}\"")));
        // Every value is kept.
        assert!(is_checked(&html, "publie"), "{field}");
        if field != "titre" {
            assert_eq!(
                input_value(&html, "titre").as_deref(),
                Some("Médecin généraliste – Mirande")
            );
        }
        if field == "centres" {
            assert!(!is_checked(&html, "centres"));
        } else {
            assert!(
                is_checked(&html, "centres"),
                "Fleurance stays ticked ({field})"
            );
        }
        if field == "specialite" || field == "description" {
            continue;
        }
        if field.starts_with("etp") || field == "titre" {
            assert_eq!(input_value(&html, field).as_deref(), Some(value), "{field}");
        }
    }
    assert_eq!(app.count("SELECT count(*) FROM positions"), 0);
    assert_eq!(app.count("SELECT count(*) FROM position_centres"), 0);
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'creation_poste'"),
        0
    );
}

#[tokio::test]
async fn a_published_position_appears_on_the_campaign_page_and_in_the_form_until_it_is_unpublished()
{
    let app = TestApp::spawn().await;
    let (admin, csrf) = admin(&app).await;
    let gondrin = centre_id(&app, "Gondrin");
    let fields = [
        position_fields(),
        vec![("centres", gondrin.clone()), ("publie", "oui".to_owned())],
    ]
    .concat();
    let r = post(&admin, "/admin/postes/nouveau", Some(&csrf), &fields).await;
    assert_eq!(r.status(), 303);
    let id = app
        .text("SELECT id FROM positions WHERE published")
        .unwrap();

    let (status, html) = app.get_html("/").await;
    assert_eq!(status, 200);
    assert!(html.contains("Médecin généraliste – Mirande"));
    assert!(html.contains("Consultations, suivi des patients chroniques."));
    assert!(html.contains(&format!("/candidature?poste={id}")));
    assert!(!html.contains("Aucun poste n'est publié"));
    let (status, html) = app.get_html("/candidature").await;
    assert_eq!(status, 200);
    assert!(position_options(&html).contains(&id));

    // A doctor applies to it.
    let r = app.apply(&Fields::valid().set("poste", &id)).await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM applications WHERE position_id = {id}"
        )),
        1
    );

    // Unpublished: gone from both pages, and the form refuses it.
    let unpublished = [position_fields(), vec![("centres", gondrin)]].concat();
    let r = post(
        &admin,
        &format!("/admin/postes/{id}"),
        Some(&csrf),
        &unpublished,
    )
    .await;
    assert_eq!(r.status(), 303);
    let (_, html) = app.get_html("/").await;
    assert!(!html.contains("Médecin généraliste – Mirande"));
    assert!(html.contains("Aucun poste n'est publié"));
    let (_, html) = app.get_html("/candidature").await;
    assert!(position_options(&html).is_empty());
    let r = app
        .apply(
            &Fields::valid()
                .set("poste", &id)
                .set("courriel", "autre@exemple.fr"),
        )
        .await;
    assert_eq!(r.status(), 422);
}

#[tokio::test]
async fn a_closed_centre_is_refused_for_a_published_position_but_not_for_a_draft() {
    let app = TestApp::spawn().await;
    let (admin, csrf) = admin(&app).await;
    let (marciac, fleurance, plaisance) = (
        centre_id(&app, "Marciac"),
        centre_id(&app, "Fleurance"),
        centre_id(&app, "Plaisance"),
    );
    // Marciac closed (status and date); Plaisance still marked open but past its closing date.
    diesel::RunQueryDsl::execute(
        diesel::sql_query(format!(
            "UPDATE centres SET status = 'closed', closed_on = DATE '2024-12-31' WHERE id = {marciac}; "
        )),
        &mut app.conn(),
    )
    .unwrap();
    diesel::RunQueryDsl::execute(
        diesel::sql_query(format!(
            "UPDATE centres SET closed_on = DATE '2025-06-30' WHERE id = {plaisance}"
        )),
        &mut app.conn(),
    )
    .unwrap();
    let (_, html) = admin.get_html("/admin/postes/nouveau").await;
    assert!(html.contains("Antenne territoriale de santé de Marciac (fermé)"));

    for closed in [&marciac, &plaisance] {
        let fields = [
            position_fields(),
            vec![
                ("centres", fleurance.clone()),
                ("centres", closed.clone()),
                ("publie", "oui".to_owned()),
            ],
        ]
        .concat();
        let r = post(&admin, "/admin/postes/nouveau", Some(&csrf), &fields).await;
        assert_eq!(r.status(), 422);
        let html = r.text().await.unwrap();
        let message = field_error(&html, "centres").unwrap();
        assert!(message.contains("est fermé"), "{message}");
        assert!(is_checked(&html, &format!("centre-{closed}")));
        assert!(is_checked(&html, "publie"));
    }
    assert_eq!(app.count("SELECT count(*) FROM positions"), 0);

    // As a draft it may be kept; publishing it later is refused.
    let draft = [position_fields(), vec![("centres", marciac.clone())]].concat();
    let r = post(&admin, "/admin/postes/nouveau", Some(&csrf), &draft).await;
    assert_eq!(r.status(), 303);
    let id = app.text("SELECT id FROM positions").unwrap();
    let published = [draft, vec![("publie", "oui".to_owned())]].concat();
    let r = post(
        &admin,
        &format!("/admin/postes/{id}"),
        Some(&csrf),
        &published,
    )
    .await;
    assert_eq!(r.status(), 422);
    assert!(field_error(&r.text().await.unwrap(), "centres")
        .unwrap()
        .contains("Marciac"));
    assert_eq!(
        app.count("SELECT count(*) FROM positions WHERE published"),
        0
    );
}
