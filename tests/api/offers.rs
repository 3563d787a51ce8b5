//! Offers, placements and centre capacity.

use chrono::{Duration, NaiveDate, Utc};
use vocation::config::GoalSettings;
use vocation::db::enums::StaffRole;
use vocation::placements::capacity;

use crate::helpers::{sql_today, Fields, StaffClient, TestApp};

type FormFields = Vec<(String, String)>;

fn today() -> NaiveDate {
    Utc::now()
        .with_timezone(&chrono_tz::Europe::Paris)
        .date_naive()
}

fn day(offset: i64) -> String {
    (today() + Duration::days(offset)).to_string()
}

fn centre(app: &TestApp, commune: &str) -> String {
    app.text(&format!(
        "SELECT id FROM centres WHERE commune = '{commune}'"
    ))
    .unwrap()
}

/// A doctor who applied and was interviewed; returns (candidate id, application id).
async fn interviewed(app: &TestApp, recruiter: &StaffClient) -> (String, String) {
    assert_eq!(app.apply(&Fields::valid()).await.status(), 303);
    let candidate = app.text("SELECT max(id) FROM candidates").unwrap();
    let application = app.text("SELECT max(id) FROM applications").unwrap();
    let csrf = recruiter.csrf().await;
    let r = recruiter
        .post_form(
            &format!("/recrutement/candidatures/{application}/etape"),
            &[
                ("csrf", csrf.as_str()),
                ("depuis", "nouvelle"),
                ("vers", "entretien"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    (candidate, application)
}

fn whole_days(centre: &str, days: &[&str]) -> Vec<(String, String)> {
    days.iter()
        .flat_map(|d| {
            [
                (format!("jours-{centre}"), format!("{d}-matin")),
                (format!("jours-{centre}"), format!("{d}-apres-midi")),
            ]
        })
        .collect()
}

/// Vic-Fezensac Monday–Wednesday (0,6), Fleurance Thursday–Friday (0,4): full time.
fn split_week(app: &TestApp, csrf: &str) -> Vec<(String, String)> {
    let (vic, fleurance) = (centre(app, "Vic-Fezensac"), centre(app, "Fleurance"));
    let mut fields: Vec<(String, String)> = [
        ("csrf", csrf),
        ("temps", "temps_plein"),
        ("etp", "1"),
        ("debut", &day(40)),
        ("expiration", &day(20)),
        ("gardes", "Une garde par mois au plus, récupérée"),
        (
            "remuneration",
            "Grille des praticiens contractuels, échelon 4",
        ),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    fields.extend(whole_days(&vic, &["lun", "mar", "mer"]));
    fields.push((format!("etp-{vic}"), "0,6".into()));
    fields.extend(whole_days(&fleurance, &["jeu", "ven"]));
    fields
}

async fn post(staff: &StaffClient, path: &str, fields: &[(String, String)]) -> reqwest::Response {
    staff
        .client
        .post(format!("{}{}", staff.base, path))
        .form(fields)
        .send()
        .await
        .unwrap()
}

async fn draft(
    app: &TestApp,
    recruiter: &StaffClient,
    application: &str,
    fields: &[(String, String)],
) -> String {
    let r = post(
        recruiter,
        &format!("/recrutement/candidatures/{application}/proposition"),
        fields,
    )
    .await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    app.text("SELECT max(id) FROM offers").unwrap()
}

async fn act(
    staff: &StaffClient,
    offer: &str,
    action: &str,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let csrf = staff.csrf().await;
    let mut fields = vec![("csrf", csrf.as_str())];
    fields.extend_from_slice(extra);
    staff
        .post_form(
            &format!("/recrutement/propositions/{offer}/{action}"),
            &fields,
        )
        .await
}

/// Drafted, approved by an admin and sent: returns the offer id.
async fn sent_offer(app: &TestApp, recruiter: &StaffClient, application: &str) -> String {
    let csrf = recruiter.csrf().await;
    let offer = draft(app, recruiter, application, &split_week(app, &csrf)).await;
    let admin = app.staff(StaffRole::Admin).await;
    assert_eq!(act(&admin, &offer, "approuver", &[]).await.status(), 303);
    assert_eq!(act(recruiter, &offer, "envoyer", &[]).await.status(), 303);
    offer
}

fn goal() -> GoalSettings {
    GoalSettings {
        doctors_per_year: 10,
        fte_per_year: "10".into(),
    }
}

/// (planned, filled, committed, missing) hundredths of a centre on a day.
fn figures(app: &TestApp, commune: &str, on: NaiveDate) -> (i64, i64, i64, i64) {
    let report = capacity::compute(&mut app.conn(), on, &goal()).unwrap();
    let c = report
        .centres
        .iter()
        .find(|c| c.commune == commune)
        .unwrap();
    (c.planned, c.filled, c.committed, c.missing)
}

#[tokio::test]
async fn a_split_week_offer_is_approved_sent_and_received_with_its_weekly_table() {
    let app = TestApp::spawn().await;
    let recruiter = app.staff(StaffRole::Recruiter).await;
    let (candidate, application) = interviewed(&app, &recruiter).await;

    // The form starts from the doctor's wishes and lists the open centres.
    let (status, html) = recruiter
        .get_html(&format!(
            "/recrutement/candidatures/{application}/proposition"
        ))
        .await;
    assert_eq!(status, 200);
    assert!(
        html.contains("Vic-Fezensac, lundi matin"),
        "each checkbox is labelled"
    );
    assert!(
        html.contains("value=\"0,6\""),
        "six half-days wished: 0,6 ETP"
    );

    let csrf = recruiter.csrf().await;
    let offer = draft(&app, &recruiter, &application, &split_week(&app, &csrf)).await;
    assert_eq!(
        app.text(&format!("SELECT status FROM offers WHERE id = {offer}"))
            .unwrap(),
        "draft"
    );
    assert_eq!(
        app.count(&format!(
            "SELECT sum(fte_hundredths) FROM offer_allocations WHERE offer_id = {offer}"
        )),
        100
    );
    let (_, page) = recruiter
        .get_html(&format!("/recrutement/propositions/{offer}"))
        .await;
    assert!(page.contains("du lundi au mercredi"), "{page}");
    assert!(page.contains("En attente d'approbation"));

    // Not approved: it cannot be sent, and a recruiter cannot approve it.
    let r = act(&recruiter, &offer, "envoyer", &[]).await;
    assert_eq!(r.status(), 422);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("approuvée avant d&#x27;être envoyée")
            || app.count(&format!(
                "SELECT count(*) FROM offers WHERE id = {offer} AND status = 'draft'"
            )) == 1
    );
    assert_eq!(
        act(&recruiter, &offer, "approuver", &[]).await.status(),
        403
    );
    assert_eq!(
        app.count("SELECT count(*) FROM outbound_emails WHERE kind = 'offer'"),
        0
    );

    let admin = app.staff(StaffRole::Admin).await;
    assert_eq!(act(&admin, &offer, "approuver", &[]).await.status(), 303);
    assert_eq!(act(&recruiter, &offer, "envoyer", &[]).await.status(), 303);
    assert_eq!(
        app.text(&format!("SELECT status FROM offers WHERE id = {offer}"))
            .unwrap(),
        "sent"
    );
    assert_eq!(
        app.text(&format!(
            "SELECT stage FROM applications WHERE id = {application}"
        ))
        .unwrap(),
        "proposition"
    );
    assert_eq!(
        app.text("SELECT note FROM stage_history WHERE to_stage = 'proposition'")
            .unwrap(),
        format!("Proposition n° {offer} envoyée")
    );

    app.dispatch_all_pending_emails().await;
    let mails = app.smtp.received_by("claire.martin@exemple.fr");
    let mail = mails
        .iter()
        .find(|m| m.subject().starts_with("Votre proposition de poste"))
        .expect("the offer e-mail reached the SMTP server");
    let text = mail.text();
    for line in [
        "Lundi : Vic-Fezensac (journée)",
        "Mercredi : Vic-Fezensac (journée)",
        "Jeudi : Fleurance (journée)",
        "Vendredi : Fleurance (journée)",
        "Temps plein, 1 ETP (10 demi-journées par semaine)",
        "Une garde par mois au plus, récupérée",
    ] {
        assert!(text.contains(line), "missing « {line} » in:\n{text}");
    }
    let html = mail.html();
    let doc = scraper::Html::parse_document(&html);
    let row_header = scraper::Selector::parse("th[scope=row]").unwrap();
    let nested = scraper::Selector::parse("table").unwrap();
    let rows: Vec<String> = doc
        .select(&scraper::Selector::parse("tbody tr").unwrap())
        .filter(|r| r.select(&row_header).next().is_some() && r.select(&nested).next().is_none())
        .map(|r| r.text().collect::<Vec<_>>().join("|"))
        .collect();
    assert_eq!(rows.len(), 5, "{rows:?}");
    assert!(
        rows[0].contains("Lundi") && rows[0].matches("Vic-Fezensac").count() == 2,
        "{rows:?}"
    );
    assert!(
        rows[4].contains("Vendredi") && rows[4].matches("Fleurance").count() == 2,
        "{rows:?}"
    );
    let _ = candidate;
}

#[tokio::test]
async fn each_offer_rule_is_refused_with_its_message_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let recruiter = app.staff(StaffRole::Recruiter).await;
    let (_, application) = interviewed(&app, &recruiter).await;
    let csrf = recruiter.csrf().await;
    let path = format!("/recrutement/candidatures/{application}/proposition");
    let (vic, fleurance, gondrin) = (
        centre(&app, "Vic-Fezensac"),
        centre(&app, "Fleurance"),
        centre(&app, "Gondrin"),
    );
    {
        use diesel::RunQueryDsl;
        diesel::sql_query(format!(
            "UPDATE centres SET status = 'closed', closed_on = DATE '2026-06-30' WHERE id = {gondrin}"
        ))
        .execute(&mut app.conn())
        .unwrap();
    }

    let with = |change: &dyn Fn(&mut FormFields)| {
        let mut f = split_week(&app, &csrf);
        change(&mut f);
        f
    };
    let cases: Vec<(Vec<(String, String)>, &str)> = vec![
        // A half-day in two centres.
        (
            with(&|f| f.push((format!("jours-{fleurance}"), "mer-apres-midi".into()))),
            "Le mercredi après-midi est prévu à",
        ),
        // Allocations that do not add up: 0,6 + 0,3.
        (
            with(&|f| f.push((format!("etp-{fleurance}"), "0,3".into()))),
            "totalisent 0,9 ETP et la proposition 1 ETP",
        ),
        // Full time is 1 FTE.
        (
            with(&|f| {
                f.retain(|(k, _)| k != "etp");
                f.push(("etp".into(), "0,8".into()));
            }),
            "Un temps plein correspond à 1 ETP",
        ),
        // A closed centre.
        (
            with(&|f| f.extend(whole_days(&gondrin, &["ven"]))),
            "Le centre de Gondrin est fermé depuis le 30/06/2026",
        ),
        // Part-time fractions: 0,6 in total but 0,3 + 0,2 allocated.
        (
            {
                let mut f: Vec<(String, String)> = [
                    ("csrf", csrf.as_str()),
                    ("temps", "temps_partiel"),
                    ("etp", "0,6"),
                    ("debut", &day(40)),
                    ("expiration", &day(20)),
                ]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
                f.extend(whole_days(&vic, &["lun"]));
                f.push((format!("jours-{vic}"), "mar-matin".into()));
                f.push((format!("etp-{vic}"), "0,3".into()));
                f.extend(whole_days(&fleurance, &["jeu"]));
                f
            },
            "totalisent 0,5 ETP et la proposition 0,6 ETP",
        ),
        // The answer is due after the start.
        (
            with(&|f| {
                f.retain(|(k, _)| k != "expiration");
                f.push(("expiration".into(), day(60)));
            }),
            "doit précéder la prise de poste",
        ),
    ];
    for (fields, message) in cases {
        let r = post(&recruiter, &path, &fields).await;
        assert_eq!(r.status(), 422, "{message}");
        let html = r.text().await.unwrap();
        let decoded = html.replace("&#x27;", "'");
        assert!(decoded.contains(message), "« {message} » not in the page");
        assert!(html.contains("error-summary"));
        // Values are kept: the typed salary note and the ticked half-days.
        assert!(html.contains("échelon 4") || !fields.iter().any(|(k, _)| k == "remuneration"));
        assert!(html.contains(&format!(
            "id=\"jours-{vic}-lun-matin\" name=\"jours-{vic}\" value=\"lun-matin\" checked"
        )));
    }
    assert_eq!(app.count("SELECT count(*) FROM offers"), 0);

    // The part-time split that adds up is accepted: 0,3 + 0,3 = 0,6.
    let mut f: Vec<(String, String)> = [
        ("csrf", csrf.as_str()),
        ("temps", "temps_partiel"),
        ("etp", "60 %"),
        ("debut", &day(40)),
        ("expiration", &day(20)),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    f.extend(whole_days(&vic, &["lun"]));
    f.push((format!("jours-{vic}"), "mar-matin".into()));
    f.extend(whole_days(&fleurance, &["jeu"]));
    f.push((format!("jours-{fleurance}"), "ven-matin".into()));
    draft(&app, &recruiter, &application, &f).await;
    assert_eq!(app.count("SELECT fte_hundredths FROM offers"), 60);
}

#[tokio::test]
async fn an_offer_is_refused_before_the_interview_stage() {
    let app = TestApp::spawn().await;
    let recruiter = app.staff(StaffRole::Recruiter).await;
    assert_eq!(app.apply(&Fields::valid()).await.status(), 303);
    let application = app.text("SELECT max(id) FROM applications").unwrap();
    let csrf = recruiter.csrf().await;
    let r = post(
        &recruiter,
        &format!("/recrutement/candidatures/{application}/proposition"),
        &split_week(&app, &csrf),
    )
    .await;
    assert_eq!(r.status(), 422);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("à partir de l&#x27;étape « Entretien »"));
    assert_eq!(app.count("SELECT count(*) FROM offers"), 0);
}

#[tokio::test]
async fn a_new_offer_supersedes_the_live_one_which_stays_in_history() {
    let app = TestApp::spawn().await;
    let recruiter = app.staff(StaffRole::Recruiter).await;
    let (candidate, application) = interviewed(&app, &recruiter).await;
    let first = sent_offer(&app, &recruiter, &application).await;

    // The form for a new offer starts from the live one.
    let (_, html) = recruiter
        .get_html(&format!(
            "/recrutement/candidatures/{application}/proposition"
        ))
        .await;
    assert!(html.contains("échelon 4"));
    let csrf = recruiter.csrf().await;
    let mut fields = split_week(&app, &csrf);
    fields.retain(|(k, _)| k != "remuneration");
    fields.push(("remuneration".into(), "Échelon 5 après négociation".into()));
    let second = draft(&app, &recruiter, &application, &fields).await;
    assert_ne!(first, second);
    assert_eq!(
        app.text(&format!(
            "SELECT status || ' ' || superseded_by FROM offers WHERE id = {first}"
        ))
        .unwrap(),
        format!("withdrawn {second}")
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM offers WHERE application_id = {application} AND status IN ('draft', 'sent', 'accepted')"
        )),
        1,
        "one live offer per application"
    );
    let (_, page) = recruiter
        .get_html(&format!("/recrutement/candidats/{candidate}"))
        .await;
    assert!(page.contains(&format!("Proposition n° {first}")) && page.contains("Retirée"));
    assert!(page.contains(&format!("Proposition n° {second}")) && page.contains("Brouillon"));
    let (_, old) = recruiter
        .get_html(&format!("/recrutement/propositions/{first}"))
        .await;
    assert!(old.contains(&format!("la proposition n° {second}")));
}

#[tokio::test]
async fn the_expiry_job_marks_sent_offers_past_their_answer_date_once() {
    let app = TestApp::spawn().await;
    let recruiter = app.staff(StaffRole::Recruiter).await;
    let (_, application) = interviewed(&app, &recruiter).await;
    let offer = sent_offer(&app, &recruiter, &application).await;
    let due = today() + Duration::days(20);

    let mut conn = app.conn();
    assert_eq!(
        vocation::offers::expire_due(&mut conn, due).unwrap(),
        0,
        "due that day: still open"
    );
    assert_eq!(
        vocation::offers::expire_due(&mut conn, due + Duration::days(1)).unwrap(),
        1
    );
    assert_eq!(
        vocation::offers::expire_due(&mut conn, due + Duration::days(1)).unwrap(),
        0
    );
    assert_eq!(
        app.text(&format!("SELECT status FROM offers WHERE id = {offer}"))
            .unwrap(),
        "expired"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'proposition_expiree'"),
        1
    );
    // An expired offer can no longer be accepted.
    assert_eq!(act(&recruiter, &offer, "accepter", &[]).await.status(), 422);
}

#[tokio::test]
async fn the_service_expires_overdue_offers_when_it_starts() {
    let app = TestApp::spawn().await;
    let recruiter = app.staff(StaffRole::Recruiter).await;
    let (_, application) = interviewed(&app, &recruiter).await;
    let offer = sent_offer(&app, &recruiter, &application).await;
    {
        use diesel::RunQueryDsl;
        diesel::sql_query(format!(
            "UPDATE offers SET expires_on = {} - 1 WHERE id = {offer}",
            sql_today()
        ))
        .execute(&mut app.conn())
        .unwrap();
    }
    let settings = {
        let mut s = vocation::config::Settings::load_for("test").unwrap();
        s.database.url = secrecy::SecretString::from(app.db.url.clone());
        s.scheduler.daily_digest_cron = String::new();
        s.campaigns.tick_cron = String::new();
        s
    };
    let pool = vocation::db::prepare(&settings).unwrap();
    let scheduler = vocation::scheduler::start(
        std::sync::Arc::new(settings),
        pool,
        std::sync::Arc::new(tokio::sync::Notify::new()),
        std::sync::Arc::new(tokio::sync::Notify::new()),
    )
    .await
    .unwrap();
    for _ in 0..100 {
        if app.count(&format!(
            "SELECT count(*) FROM offers WHERE id = {offer} AND status = 'expired'"
        )) == 1
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        app.text(&format!("SELECT status FROM offers WHERE id = {offer}"))
            .unwrap(),
        "expired"
    );
    if let Some(mut s) = scheduler {
        s.shutdown().await.unwrap();
    }
}

#[tokio::test]
async fn acceptance_and_start_create_a_placement_and_capacity_follows_the_dates() {
    let app = TestApp::spawn().await;
    {
        use diesel::RunQueryDsl;
        diesel::sql_query("UPDATE centres SET planned_fte_hundredths = 200")
            .execute(&mut app.conn())
            .unwrap();
    }
    let recruiter = app.staff(StaffRole::Recruiter).await;
    let (candidate, application) = interviewed(&app, &recruiter).await;
    let offer = sent_offer(&app, &recruiter, &application).await;
    let now = today();
    assert_eq!(
        figures(&app, "Vic-Fezensac", now),
        (200, 0, 0, 200),
        "sent is not committed"
    );

    assert_eq!(act(&recruiter, &offer, "accepter", &[]).await.status(), 303);
    assert_eq!(
        app.text(&format!(
            "SELECT stage FROM applications WHERE id = {application}"
        ))
        .unwrap(),
        "acceptee"
    );
    assert_eq!(figures(&app, "Vic-Fezensac", now), (200, 0, 60, 140));
    assert_eq!(figures(&app, "Fleurance", now), (200, 0, 40, 160));
    assert_eq!(
        figures(&app, "Vic-Fezensac", now - Duration::days(1)).2,
        0,
        "not accepted yet then"
    );

    // The doctor starts in ten days.
    let start = now + Duration::days(10);
    let r = act(
        &recruiter,
        &offer,
        "prise-de-poste",
        &[("date", &start.to_string())],
    )
    .await;
    assert_eq!(r.status(), 303);
    let placement = app.text("SELECT id FROM placements").unwrap();
    assert_eq!(
        r.headers()["location"].to_str().unwrap(),
        format!("/recrutement/affectations/{placement}")
    );
    // Issue 18: a start to come leaves the application « Acceptée » until the start day.
    assert_eq!(
        app.text(&format!(
            "SELECT stage FROM applications WHERE id = {application}"
        ))
        .unwrap(),
        "acceptee"
    );
    assert_eq!(
        figures(&app, "Vic-Fezensac", now),
        (200, 0, 60, 140),
        "before the start: committed"
    );
    assert_eq!(
        figures(&app, "Vic-Fezensac", start),
        (200, 60, 0, 140),
        "from the start: filled"
    );
    assert_eq!(
        figures(&app, "Fleurance", start + Duration::days(100)),
        (200, 40, 0, 160)
    );
    // Starting twice is refused.
    assert_eq!(
        act(
            &recruiter,
            &offer,
            "prise-de-poste",
            &[("date", &start.to_string())]
        )
        .await
        .status(),
        422
    );

    // The capacity page at that date: figures, the doctor and their pattern, the map, the goal.
    let (status, html) = recruiter.get_html(&format!("/capacite?date={start}")).await;
    assert_eq!(status, 200);
    let doc = scraper::Html::parse_document(&html);
    let row = |commune: &str| -> Vec<String> {
        let sel = scraper::Selector::parse("table.capacity-table tbody tr").unwrap();
        doc.select(&sel)
            .find(|r| r.text().any(|t| t.contains(commune)))
            .unwrap()
            .select(&scraper::Selector::parse("td").unwrap())
            .map(|td| td.text().collect::<String>().trim().to_owned())
            .collect()
    };
    assert_eq!(row("Vic-Fezensac")[1..5], ["2", "0,6", "0", "1,4"]);
    assert!(
        html.contains("Claire Martin</a> : du lundi au mercredi (0,6 ETP)"),
        "{html}"
    );
    assert!(
        html.contains("<svg")
            && html.contains("Vic-Fezensac : 0,6 ETP pourvus sur 2 prévus (30 %)")
    );
    let expected_goal = if start.format("%Y").to_string() == now.format("%Y").to_string() {
        "<strong>1</strong> médecin recruté sur un objectif de 10"
    } else {
        "<strong>0</strong> médecin recruté sur un objectif de 10"
    };
    assert!(html.contains(expected_goal), "{expected_goal}");
    let (_, before) = recruiter.get_html(&format!("/capacite?date={now}")).await;
    assert!(before.contains("Aucun médecin en poste à cette date."));

    let (_, page) = recruiter
        .get_html(&format!("/recrutement/candidats/{candidate}"))
        .await;
    assert!(page.contains(&format!("/recrutement/affectations/{placement}")));
}

#[tokio::test]
async fn a_declined_offer_records_its_reason_and_closes_the_application() {
    let app = TestApp::spawn().await;
    let recruiter = app.staff(StaffRole::Recruiter).await;
    let (_, application) = interviewed(&app, &recruiter).await;
    let offer = sent_offer(&app, &recruiter, &application).await;
    assert_eq!(
        act(&recruiter, &offer, "decliner", &[("motif", "")])
            .await
            .status(),
        422
    );
    let r = act(
        &recruiter,
        &offer,
        "decliner",
        &[("motif", "distance"), ("clore", "oui")],
    )
    .await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        app.text(&format!(
            "SELECT status || ' ' || decline_reason FROM offers WHERE id = {offer}"
        ))
        .unwrap(),
        "declined distance"
    );
    assert_eq!(
        app.text(&format!(
            "SELECT stage FROM applications WHERE id = {application}"
        ))
        .unwrap(),
        "desistement"
    );
    assert_eq!(
        app.text("SELECT reason FROM stage_history WHERE to_stage = 'desistement'")
            .unwrap(),
        "distance"
    );
}

#[tokio::test]
async fn a_doctor_redeployed_from_a_closing_centre_keeps_their_history_and_total() {
    let app = TestApp::spawn().await;
    {
        use diesel::RunQueryDsl;
        diesel::sql_query("UPDATE centres SET planned_fte_hundredths = 100")
            .execute(&mut app.conn())
            .unwrap();
    }
    let recruiter = app.staff(StaffRole::Recruiter).await;
    let (_, application) = interviewed(&app, &recruiter).await;
    let offer = sent_offer(&app, &recruiter, &application).await;
    assert_eq!(act(&recruiter, &offer, "accepter", &[]).await.status(), 303);
    let start = today() - Duration::days(30);
    assert_eq!(
        act(
            &recruiter,
            &offer,
            "prise-de-poste",
            &[("date", &start.to_string())]
        )
        .await
        .status(),
        303
    );
    let placement = app.text("SELECT id FROM placements").unwrap();
    let (fleurance, plaisance) = (centre(&app, "Fleurance"), centre(&app, "Plaisance"));
    let allocation = app
        .text(&format!(
            "SELECT id FROM placement_allocations WHERE centre_id = {fleurance}"
        ))
        .unwrap();

    // Fleurance closes in a month.
    let closing = today() + Duration::days(30);
    {
        use diesel::RunQueryDsl;
        diesel::sql_query(format!(
            "UPDATE centres SET closed_on = DATE '{closing}' WHERE id = {fleurance}"
        ))
        .execute(&mut app.conn())
        .unwrap();
    }
    // The centre's page lists the doctors to redeploy before it closes.
    let admin = app.staff(StaffRole::Admin).await;
    let (_, centre_page) = admin.get_html(&format!("/admin/centres/{fleurance}")).await;
    assert!(centre_page.contains("Médecins à redéployer avant la fermeture du"));
    assert!(centre_page.contains("Claire Martin : jeudi, vendredi (0,4 ETP)"));
    assert!(centre_page.contains(&format!(
        "/recrutement/affectations/{placement}#redeploiement-{allocation}"
    )));
    let path = format!("/recrutement/affectations/{placement}/redeploiement");
    let csrf = recruiter.csrf().await;
    // Thursday–Friday in Plaisance, but Monday morning is already worked in Vic-Fezensac.
    let r = recruiter
        .post_form(
            &path,
            &[
                ("csrf", &csrf),
                ("affectation", &allocation),
                ("centre", &plaisance),
                ("date", &closing.to_string()),
                ("jours", "lun-matin"),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("Le lundi matin est déjà travaillé à Vic-Fezensac"));
    // To a closed centre: refused.
    let r = recruiter
        .post_form(
            &path,
            &[
                ("csrf", &csrf),
                ("affectation", &allocation),
                ("centre", &fleurance),
                ("date", &closing.to_string()),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    assert_eq!(
        app.count("SELECT count(*) FROM placement_allocations"),
        2,
        "nothing changed"
    );

    let r = recruiter
        .post_form(
            &path,
            &[
                ("csrf", &csrf),
                ("affectation", &allocation),
                ("centre", &plaisance),
                ("date", &closing.to_string()),
                ("note", "Fermeture du centre de Fleurance"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        app.count("SELECT count(*) FROM placement_allocations"),
        3,
        "history kept"
    );
    assert_eq!(
        app.text(&format!(
            "SELECT ends_on::text FROM placement_allocations WHERE id = {allocation}"
        ))
        .unwrap(),
        (closing - Duration::days(1)).to_string()
    );
    assert_eq!(
        app.text(&format!(
            "SELECT starts_on::text || ' ' || half_days || ' ' || fte_hundredths FROM placement_allocations WHERE replaces_id = {allocation}"
        ))
        .unwrap(),
        format!("{closing} {} 40", (1 << 6) + (1 << 7) + (1 << 8) + (1 << 9)),
        "same half-days and FTE by default"
    );
    let before = closing - Duration::days(1);
    assert_eq!(figures(&app, "Fleurance", before), (100, 40, 0, 60));
    assert_eq!(figures(&app, "Plaisance", before).1, 0);
    assert_eq!(
        figures(&app, "Fleurance", closing),
        (0, 0, 0, 0),
        "closed: nothing planned"
    );
    assert_eq!(figures(&app, "Plaisance", closing), (100, 40, 0, 60));
    let total: i64 = capacity::compute(&mut app.conn(), closing, &goal())
        .unwrap()
        .centres
        .iter()
        .map(|c| c.filled)
        .sum();
    assert_eq!(total, 100, "the doctor's total FTE is unchanged");
    let (_, centre_page) = admin.get_html(&format!("/admin/centres/{fleurance}")).await;
    assert!(
        !centre_page.contains("Claire Martin"),
        "nobody left to redeploy"
    );

    let (_, page) = recruiter
        .get_html(&format!("/recrutement/affectations/{placement}"))
        .await;
    assert!(page.contains("Fermeture du centre de Fleurance"));
    assert_eq!(
        page.matches("<td>Centre territorial de santé de Fleurance</td>")
            .count(),
        1
    );
}

#[tokio::test]
async fn communication_staff_cannot_see_offers_and_see_capacity_without_names() {
    let app = TestApp::spawn().await;
    let recruiter = app.staff(StaffRole::Recruiter).await;
    let (candidate, application) = interviewed(&app, &recruiter).await;
    let offer = sent_offer(&app, &recruiter, &application).await;
    assert_eq!(act(&recruiter, &offer, "accepter", &[]).await.status(), 303);
    let start = today().to_string();
    assert_eq!(
        act(&recruiter, &offer, "prise-de-poste", &[("date", &start)])
            .await
            .status(),
        303
    );
    let placement = app.text("SELECT id FROM placements").unwrap();

    let communication = app.staff(StaffRole::Communication).await;
    for path in [
        format!("/recrutement/propositions/{offer}"),
        format!("/recrutement/candidatures/{application}/proposition"),
        format!("/recrutement/affectations/{placement}"),
        format!("/recrutement/candidats/{candidate}"),
    ] {
        assert_eq!(communication.get(&path).await.status(), 403, "{path}");
    }
    let (_, home) = communication.get_html("/espace").await;
    let csrf = crate::helpers::hidden_value(&home, "csrf");
    let r = communication
        .post_form(
            &format!("/recrutement/propositions/{offer}/retirer"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 403);

    let (status, html) = communication.get_html("/capacite").await;
    assert_eq!(status, 200);
    assert!(
        html.contains("Un médecin</li>") || html.contains("Un médecin :"),
        "figures without names"
    );
    assert!(
        !html.contains("Martin"),
        "no doctor's name for communication staff"
    );
    let (_, html) = recruiter.get_html("/capacite").await;
    assert!(html.contains("Claire Martin"));

    let r = communication.get("/capacite?date=31/02/2027").await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("n&#x27;est pas une date"));
}
