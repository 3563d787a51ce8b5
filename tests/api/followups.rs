use std::time::Duration;

use chrono::NaiveDate;
use vocation::db::enums::StaffRole;

use crate::helpers::{test_day, Fields, TestApp, RECRUITERS};

/// A follow-up date a month ago, and one a month ahead.
fn past() -> NaiveDate {
    test_day() - chrono::Duration::days(30)
}

fn future() -> NaiveDate {
    test_day() + chrono::Duration::days(30)
}

/// Puts the application of `email` in the pool with the given follow-up date.
async fn pooled(app: &TestApp, email: &str, phone: &str, follow_up: NaiveDate) {
    let fields = Fields::valid()
        .set("courriel", email)
        .set("telephone", phone)
        .set("rpps", "")
        .set("nom", &format!("Vivier-{follow_up}"));
    assert_eq!(app.apply(&fields).await.status(), 303);
    diesel::RunQueryDsl::execute(
        diesel::sql_query(format!(
            "WITH a AS (UPDATE applications SET stage = 'vivier' WHERE candidate_id = \
               (SELECT id FROM candidates WHERE email_normalized = '{email}') RETURNING id) \
             INSERT INTO stage_history (application_id, from_stage, to_stage, follow_up_on) \
             SELECT id, 'nouvelle', 'vivier', DATE '{follow_up}' FROM a"
        )),
        &mut app.conn(),
    )
    .unwrap();
}

#[tokio::test]
async fn the_follow_up_list_shows_pool_candidates_whose_date_has_come() {
    let app = TestApp::spawn().await;
    pooled(&app, "passe@exemple.fr", "0611111111", past()).await;
    pooled(&app, "futur@exemple.fr", "0622222222", future()).await;
    let staff = app.staff(StaffRole::Recruiter).await;
    let (status, html) = staff.get_html("/recrutement/relances").await;
    assert_eq!(status, 200);
    assert!(html.contains(&format!("Vivier-{}", past())));
    assert!(html.contains(&past().format("%d/%m/%Y").to_string()));
    assert!(!html.contains(&format!("Vivier-{}", future())));
    let comms = app.staff(StaffRole::Communication).await;
    assert_eq!(comms.get("/recrutement/relances").await.status(), 403);
}

#[tokio::test]
async fn the_daily_digest_is_queued_once_a_day_however_many_instances_try() {
    let app = TestApp::spawn().await;
    pooled(&app, "passe@exemple.fr", "0611111111", past()).await;
    app.dispatch_all_pending_emails().await;
    let settings = vocation::config::Settings::load_for("test")
        .map(|mut s| {
            s.recruiters.notify = vec![RECRUITERS.to_owned()];
            s.http.public_url = "http://vocation.test".into();
            s
        })
        .unwrap();
    let today = test_day();
    // Eight concurrent attempts, as from several instances and ticks.
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let pool = app.dispatcher.pool.clone();
            let settings = settings.clone();
            std::thread::spawn(move || {
                let mut conn = pool.get().unwrap();
                vocation::pipeline::followups::queue_daily_digest(&mut conn, &settings, today)
                    .unwrap()
            })
        })
        .collect();
    let queued: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(queued, 1);
    app.dispatch_all_pending_emails().await;
    let digests: Vec<_> = app
        .smtp
        .received_by(RECRUITERS)
        .into_iter()
        .filter(|m| m.subject().contains("relance"))
        .collect();
    assert_eq!(digests.len(), 1);
    let text = digests[0].text();
    assert!(text.contains(&format!("Vivier-{}", past())), "{text}");
    assert!(
        text.contains("http://vocation.test/recrutement/candidats/"),
        "{text}"
    );
    // The next day is a new occurrence.
    let mut conn = app.conn();
    let next = today.succ_opt().unwrap();
    assert_eq!(
        vocation::pipeline::followups::queue_daily_digest(&mut conn, &settings, next).unwrap(),
        1
    );
}

#[tokio::test]
async fn two_instances_with_the_scheduler_send_one_digest() {
    let first = TestApp::builder()
        .digest_cron("* * * * * *")
        .with_worker()
        .spawn()
        .await;
    pooled(&first, "passe@exemple.fr", "0611111111", past()).await;
    let second = TestApp::builder()
        .digest_cron("* * * * * *")
        .with_worker()
        .database_of(&first)
        .spawn()
        .await;
    // Several ticks of both schedulers.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert_eq!(
        first.count("SELECT count(*) FROM scheduled_runs WHERE job = 'daily_digest'"),
        1
    );
    assert_eq!(
        first.count("SELECT count(*) FROM outbound_emails WHERE kind = 'daily_digest'"),
        1
    );
    let digests = |app: &TestApp| {
        app.smtp
            .received_by(RECRUITERS)
            .into_iter()
            .filter(|m| m.subject().contains("relance"))
            .count()
    };
    assert_eq!(digests(&first) + digests(&second), 1);
}

#[test]
fn five_field_cron_expressions_are_accepted_and_bad_ones_named() {
    use vocation::config::normalize_cron;
    assert_eq!(
        normalize_cron("0 7 * * 1-5").unwrap().unwrap(),
        "0 0 7 * * 1-5"
    );
    assert_eq!(
        normalize_cron("0 0 7 * * *").unwrap().unwrap(),
        "0 0 7 * * *"
    );
    assert_eq!(normalize_cron("  ").unwrap(), None);
    assert!(normalize_cron("tous les jours").is_err());
}

#[tokio::test]
async fn the_home_reads_the_date_given_at_the_last_entry_in_the_pool() {
    let app = TestApp::spawn().await;
    // In the pool until a month ahead: not due.
    pooled(&app, "retour@exemple.fr", "0633333333", future()).await;
    let recruiter = app.staff(StaffRole::Recruiter).await;
    let (_, home) = recruiter.get_html("/espace").await;
    assert!(!home.contains(&format!("Vivier-{}", future())));
    // Out of the pool, then back in it with a date that has come: that date counts.
    let run = |sql: String| {
        diesel::RunQueryDsl::execute(diesel::sql_query(sql), &mut app.conn()).unwrap();
    };
    run(
        "WITH a AS (UPDATE applications SET stage = 'premier_contact' RETURNING id) \
         INSERT INTO stage_history (application_id, from_stage, to_stage) \
         SELECT id, 'vivier', 'premier_contact' FROM a"
            .to_owned(),
    );
    run(format!(
        "WITH a AS (UPDATE applications SET stage = 'vivier' RETURNING id) \
         INSERT INTO stage_history (application_id, from_stage, to_stage, follow_up_on) \
         SELECT id, 'premier_contact', 'vivier', DATE '{}' FROM a",
        past()
    ));
    let (_, home) = recruiter.get_html("/espace").await;
    assert!(home.contains(&format!("Vivier-{}", future())), "{home}");
    assert!(home.contains(&past().format("%d/%m/%Y").to_string()));
    // The copy on the application is the last pool entry's date, for every application.
    assert_eq!(
        app.count(
            "SELECT count(*) FROM applications a WHERE a.pool_follow_up_on IS DISTINCT FROM \
             (SELECT h.follow_up_on FROM stage_history h WHERE h.application_id = a.id \
              AND h.to_stage = 'vivier' ORDER BY h.created_at DESC, h.id DESC LIMIT 1)"
        ),
        0
    );
}
