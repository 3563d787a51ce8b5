//! `/metrics`: the Prometheus text a scraper reads after real requests and applications, the
//! route label (the pattern, never a path holding a token), and the bearer token.

use std::collections::HashMap;
use std::time::Duration;

use chrono::Utc;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use secrecy::SecretString;
use vocation::campaigns::runs::{self, CampaignInput, Schedule};
use vocation::startup::Application;

use crate::helpers::{sql_now, Fields, TempDir, TestApp, TestDatabase, TestSmtp};

/// The samples of an exposition: `name{labels}` (labels as written) → value.
fn parse(text: &str) -> HashMap<String, f64> {
    let mut samples = HashMap::new();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("a sample line has a value: {line}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("a numeric value: {line}"));
        samples.insert(series.to_owned(), value);
    }
    samples
}

fn sample(samples: &HashMap<String, f64>, series: &str) -> f64 {
    *samples
        .get(series)
        .unwrap_or_else(|| panic!("no sample {series}; have {:#?}", sorted_keys(samples)))
}

fn sorted_keys(samples: &HashMap<String, f64>) -> Vec<&String> {
    let mut keys: Vec<&String> = samples.keys().collect();
    keys.sort();
    keys
}

async fn scrape(app: &TestApp) -> (String, HashMap<String, f64>) {
    let r = app.get("/metrics").await;
    assert_eq!(r.status(), 200);
    let content_type = r.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let text = r.text().await.unwrap();
    assert!(text.ends_with("# EOF\n"), "{text}");
    let samples = parse(&text);
    (text, samples)
}

#[tokio::test]
async fn requests_are_counted_by_route_pattern_and_applications_when_recorded() {
    let app = TestApp::spawn().await;
    let secret = "jeton-prive-de-desinscription-0123456789";
    for _ in 0..3 {
        assert_eq!(app.get("/healthz").await.status(), 200);
    }
    let r = app.get(&format!("/desinscription/{secret}")).await;
    let unsubscribe_status = r.status().as_u16();
    assert_eq!(app.get("/cette-page-n-existe-pas").await.status(), 404);

    let tokens = app.form_tokens("/candidature").await;
    let fields = Fields::valid();
    let r = app.post_application(&tokens, &fields, None).await;
    assert_eq!(r.status(), 303);
    // The same form sent again (double click): one application, counted once.
    let r = app.post_application(&tokens, &fields, None).await;
    assert_eq!(r.status(), 303);
    assert_eq!(app.count("SELECT count(*) FROM applications"), 1);

    let (text, samples) = scrape(&app).await;
    assert_eq!(
        sample(
            &samples,
            r#"vocation_http_requests_total{method="GET",route="/healthz",status="200"}"#
        ),
        3.0
    );
    assert_eq!(
        sample(
            &samples,
            r#"vocation_http_requests_total{method="GET",route="/candidature",status="200"}"#
        ),
        1.0
    );
    assert_eq!(
        sample(
            &samples,
            r#"vocation_http_requests_total{method="POST",route="/candidature",status="303"}"#
        ),
        2.0
    );
    assert_eq!(
        sample(
            &samples,
            &format!(
                r#"vocation_http_requests_total{{method="GET",route="/desinscription/{{token}}",status="{unsubscribe_status}"}}"#
            )
        ),
        1.0
    );
    assert_eq!(
        sample(
            &samples,
            r#"vocation_http_requests_total{method="GET",route="unmatched",status="404"}"#
        ),
        1.0
    );
    assert!(!text.contains(secret), "a raw path leaked into the metrics");
    assert!(
        !text.contains("cette-page"),
        "a raw path leaked into the metrics"
    );

    // The latency histogram: one observation per request, in cumulative buckets.
    let count = sample(
        &samples,
        r#"vocation_http_request_duration_seconds_count{method="POST",route="/candidature"}"#,
    );
    assert_eq!(count, 2.0);
    let inf = sample(
        &samples,
        r#"vocation_http_request_duration_seconds_bucket{le="+Inf",method="POST",route="/candidature"}"#,
    );
    assert_eq!(inf, 2.0);
    assert!(
        sample(
            &samples,
            r#"vocation_http_request_duration_seconds_sum{method="POST",route="/candidature"}"#
        ) > 0.0
    );

    assert_eq!(
        sample(&samples, "vocation_applications_received_total"),
        1.0
    );

    // Queue depth: what PostgreSQL holds (the confirmation and the recruiters' notice).
    let pending = app.count("SELECT count(*) FROM outbound_emails WHERE status = 'pending'");
    assert!(pending > 0);
    assert_eq!(
        sample(&samples, r#"vocation_queue_depth{queue="outbound_emails"}"#),
        pending as f64
    );
    assert_eq!(
        sample(&samples, r#"vocation_queue_depth{queue="deliveries"}"#),
        0.0
    );
    assert_eq!(sample(&samples, "vocation_database_up"), 1.0);

    // The pool: the test settings allow 4 connections.
    assert_eq!(sample(&samples, "vocation_db_pool_max_connections"), 4.0);
    let open = sample(&samples, "vocation_db_pool_connections");
    let idle = sample(&samples, "vocation_db_pool_idle_connections");
    assert!((1.0..=4.0).contains(&open) && idle <= open, "{open} {idle}");

    // Once sent, the queue is empty at the next scrape.
    app.dispatch_all_pending_emails().await;
    let (_, samples) = scrape(&app).await;
    assert_eq!(
        sample(&samples, r#"vocation_queue_depth{queue="outbound_emails"}"#),
        0.0
    );
    // The first scrape is counted too.
    assert_eq!(
        sample(
            &samples,
            r#"vocation_http_requests_total{method="GET",route="/metrics",status="200"}"#
        ),
        1.0
    );
}

#[tokio::test]
async fn deliveries_of_runs_in_progress_are_reported_by_status_as_postgresql_holds_them() {
    let app = TestApp::spawn().await;
    let mut conn = app.conn();
    let run = run_with_recipients(&mut conn, "Internes", 5);
    assert_eq!(
        app.text(&format!(
            "SELECT status FROM campaign_runs WHERE id = {run}"
        ))
        .as_deref(),
        Some("envoi")
    );
    // Two of them sent, one failed: as the senders would have recorded.
    diesel::sql_query(format!(
        "UPDATE deliveries SET status = 'envoye', sent_at = {} WHERE id IN \
         (SELECT id FROM deliveries WHERE run_id = {run} ORDER BY id LIMIT 2)",
        sql_now()
    ))
    .execute(&mut conn)
    .unwrap();
    diesel::sql_query(format!(
        "UPDATE deliveries SET status = 'echec' WHERE id = \
         (SELECT max(id) FROM deliveries WHERE run_id = {run})"
    ))
    .execute(&mut conn)
    .unwrap();
    // A finished run is history (the reports show it): not counted.
    let old = run_with_recipients(&mut conn, "Anciens", 3);
    diesel::sql_query(format!(
        "UPDATE deliveries SET status = 'envoye', sent_at = {} WHERE run_id = {old}",
        sql_now()
    ))
    .execute(&mut conn)
    .unwrap();
    diesel::sql_query(format!(
        "UPDATE campaign_runs SET status = 'termine', finished_at = {} WHERE id = {old}",
        sql_now()
    ))
    .execute(&mut conn)
    .unwrap();

    let (_, samples) = scrape(&app).await;
    for (status, expected) in [
        ("en_attente", 2.0),
        ("envoye", 2.0),
        ("echec", 1.0),
        ("ecarte", 0.0),
        ("annule", 0.0),
    ] {
        assert_eq!(
            sample(
                &samples,
                &format!(r#"vocation_campaign_deliveries{{status="{status}"}}"#)
            ),
            expected,
            "{status}"
        );
    }
    assert_eq!(
        sample(&samples, r#"vocation_queue_depth{queue="deliveries"}"#),
        2.0
    );

    // Paused, the run is still in progress; once it ends its figures leave the gauge.
    diesel::sql_query(format!(
        "UPDATE campaign_runs SET status = 'pause' WHERE id = {run}"
    ))
    .execute(&mut conn)
    .unwrap();
    let (_, samples) = scrape(&app).await;
    assert_eq!(
        sample(&samples, r#"vocation_campaign_deliveries{status="envoye"}"#),
        2.0
    );
    diesel::sql_query(format!(
        "UPDATE campaign_runs SET status = 'annule' WHERE id = {run}"
    ))
    .execute(&mut conn)
    .unwrap();
    let (_, samples) = scrape(&app).await;
    assert_eq!(
        sample(&samples, r#"vocation_campaign_deliveries{status="envoye"}"#),
        0.0
    );
}

#[tokio::test]
async fn scheduler_runs_are_counted_per_job() {
    let db = TestDatabase::create();
    let smtp = TestSmtp::start();
    let scratch = TempDir::new();
    let mut settings = TestApp::builder().settings(&db, &smtp, &scratch);
    settings.scheduler.daily_digest_cron = "* * * * * *".into();
    settings.privacy.retention_cron = "* * * * * *".into();
    let app = Application::build(settings).await.unwrap();
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::new();
    for job in ["daily_digest", "privacy_retention"] {
        let series = format!(r#"vocation_scheduler_runs_total{{job="{job}",outcome="ok"}}"#);
        let mut runs = 0.0;
        for _ in 0..100 {
            let text = client
                .get(format!("{address}/metrics"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            runs = parse(&text).get(&series).copied().unwrap_or(0.0);
            if runs >= 1.0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(runs >= 1.0, "{job} ran every second; counted {runs}");
    }
}

/// A service whose metrics settings the test chooses.
async fn spawn_with_metrics(enabled: bool, token: &str) -> (String, TestDatabase, TempDir) {
    let db = TestDatabase::create();
    let smtp = TestSmtp::start();
    let scratch = TempDir::new();
    let mut settings = TestApp::builder().settings(&db, &smtp, &scratch);
    settings.metrics.enabled = enabled;
    settings.metrics.token = SecretString::from(token.to_owned());
    settings.check().unwrap();
    let app = Application::build(settings).await.unwrap();
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    (address, db, scratch)
}

#[tokio::test]
async fn with_a_token_set_a_scrape_without_it_gets_401() {
    let token = "jeton-de-collecte-8f3a1c";
    let (address, _db, _scratch) = spawn_with_metrics(true, token).await;
    let client = reqwest::Client::new();
    let url = format!("{address}/metrics");

    let r = client.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.headers()["www-authenticate"].to_str().unwrap(),
        "Bearer realm=\"metrics\""
    );
    let body = r.text().await.unwrap();
    assert!(!body.contains("vocation_"), "{body}");

    for wrong in ["Bearer autre-jeton", "Basic abc", token] {
        let r = client
            .get(&url)
            .header("Authorization", wrong)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{wrong}");
    }

    let r = client
        .get(&url)
        .header("Authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let samples = parse(&r.text().await.unwrap());
    // The refused scrapes are counted with their status.
    assert_eq!(
        sample(
            &samples,
            r#"vocation_http_requests_total{method="GET",route="/metrics",status="401"}"#
        ),
        4.0
    );
}

#[tokio::test]
async fn disabled_metrics_answer_404() {
    let (address, _db, _scratch) = spawn_with_metrics(false, "").await;
    let r = reqwest::get(format!("{address}/metrics")).await.unwrap();
    assert_eq!(r.status(), 404);
    assert!(!r.text().await.unwrap().contains("vocation_"));
}

/// A campaign run started now for `n` contacts; its deliveries are all pending.
fn run_with_recipients(conn: &mut PgConnection, list_name: &str, n: i32) -> i64 {
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = BigInt)]
        id: i64,
    }
    let list = crate::campaigns::seed_list_on(
        conn,
        list_name,
        &list_name.to_lowercase(),
        usize::try_from(n).unwrap(),
    );
    let template = diesel::sql_query(
        "INSERT INTO mail_templates (name, subject, body_text, body_html) \
         VALUES ($1, 'Bonjour', 'Bonjour {{prenom}}', '<p>Bonjour {{prenom}}</p>') \
         RETURNING id",
    )
    .bind::<Text, _>(list_name)
    .get_result::<Id>(conn)
    .unwrap()
    .id;
    let campaign = runs::create(
        conn,
        &CampaignInput {
            name: format!("{list_name} – métriques"),
            template_id: template,
            list_ids: vec![list],
            sender_name: "Recrutement CDS32".into(),
            sender_email: "recrutement@vocation.test".into(),
            rate_per_minute: 600,
            schedule: Schedule::Now,
        },
        None,
    )
    .unwrap();
    runs::schedule(conn, campaign, Utc::now(), None).unwrap();
    let run = diesel::sql_query(format!(
        "SELECT id FROM campaign_runs WHERE campaign_id = {campaign}"
    ))
    .get_result::<Id>(conn)
    .unwrap()
    .id;
    let materialised = diesel::sql_query(format!(
        "SELECT count(*) AS id FROM deliveries WHERE run_id = {run}"
    ))
    .get_result::<Id>(conn)
    .unwrap()
    .id;
    assert_eq!(materialised, i64::from(n), "the run's deliveries exist");
    run
}
