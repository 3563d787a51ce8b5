use std::time::Duration;

use crate::helpers::{sql_now, Fields, SmtpBehaviour, TestApp, RECRUITERS};

#[tokio::test]
async fn the_background_worker_sends_without_being_asked() {
    let app = TestApp::builder().with_worker().spawn().await;
    assert_eq!(app.apply(&Fields::valid()).await.status(), 303);
    let got = app.smtp.wait_for(2).await;
    assert_eq!(
        got.len(),
        2,
        "confirmation and notification arrive on their own"
    );
}

#[tokio::test]
async fn a_temporary_smtp_failure_keeps_the_application_and_is_retried_later() {
    let app = TestApp::spawn().await;
    app.smtp.set_behaviour(SmtpBehaviour::TempFail);
    assert_eq!(app.apply(&Fields::valid()).await.status(), 303);
    assert_eq!(app.dispatch_all_pending_emails().await, 2);
    assert!(app.smtp.received().is_empty());
    assert_eq!(
        app.count("SELECT count(*) FROM applications"),
        1,
        "the application is safe"
    );
    assert_eq!(
        app.count(&format!("SELECT count(*) FROM outbound_emails WHERE status = 'pending' AND attempts = 1 AND next_attempt_at > {} + interval '20 seconds'", sql_now())),
        2,
        "deferred with backoff"
    );
    let last_error = app
        .text("SELECT last_error FROM outbound_emails LIMIT 1")
        .unwrap();
    assert!(last_error.contains("451"), "{last_error}");

    // The server recovers; once the backoff is over the messages go.
    app.smtp.set_behaviour(SmtpBehaviour::Accept);
    diesel::RunQueryDsl::execute(
        diesel::sql_query(format!(
            "UPDATE outbound_emails SET next_attempt_at = {} - interval '1 second'",
            sql_now()
        )),
        &mut app.conn(),
    )
    .unwrap();
    assert_eq!(app.dispatch_all_pending_emails().await, 2);
    assert_eq!(app.smtp.received().len(), 2);
    assert_eq!(
        app.count("SELECT count(*) FROM outbound_emails WHERE status = 'sent' AND attempts = 2"),
        2
    );
}

#[tokio::test]
async fn a_permanent_refusal_fails_the_message_without_retrying() {
    let app = TestApp::spawn().await;
    app.smtp.set_behaviour(SmtpBehaviour::Reject);
    assert_eq!(app.apply(&Fields::valid()).await.status(), 303);
    app.dispatch_all_pending_emails().await;
    assert_eq!(
        app.count("SELECT count(*) FROM outbound_emails WHERE status = 'failed'"),
        2
    );
    assert_eq!(app.count("SELECT count(*) FROM applications"), 1);
}

#[tokio::test]
async fn retries_stop_after_the_configured_number_of_attempts() {
    let app = TestApp::spawn().await;
    app.smtp.set_behaviour(SmtpBehaviour::TempFail);
    assert_eq!(app.apply(&Fields::valid()).await.status(), 303);
    for _ in 0..10 {
        diesel::RunQueryDsl::execute(
            diesel::sql_query(format!("UPDATE outbound_emails SET next_attempt_at = {} - interval '1 second' WHERE status = 'pending'", sql_now())),
            &mut app.conn(),
        )
        .unwrap();
        app.dispatch_all_pending_emails().await;
    }
    assert_eq!(
        app.count("SELECT count(*) FROM outbound_emails WHERE status = 'failed' AND attempts = 8"),
        2
    );
}

#[tokio::test]
async fn an_unreachable_smtp_server_defers_the_message() {
    let app = TestApp::builder().recruiters(&[]).spawn().await;
    assert_eq!(app.apply(&Fields::valid()).await.status(), 303);
    // Point the dispatcher at a closed port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let mut settings = vocation::config::Settings::load_for("test").unwrap();
    settings.mail.transport = vocation::config::MailTransportKind::Smtp;
    settings.mail.smtp.host = "127.0.0.1".into();
    settings.mail.smtp.port = port;
    settings.mail.smtp.tls = vocation::config::SmtpTls::None;
    let dispatcher =
        vocation::mail::outbox::Dispatcher::new(&settings, app.dispatcher.pool.clone()).unwrap();
    tokio::time::timeout(Duration::from_secs(20), dispatcher.dispatch_all())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        app.count("SELECT count(*) FROM outbound_emails WHERE status = 'pending' AND attempts = 1"),
        1
    );
    assert!(app.smtp.received_by(RECRUITERS).is_empty());
}
