//! The campaign ledger end to end: real PostgreSQL, real campaign senders, and the programmable
//! SMTP server of `smtp_server.rs` answering each recipient as told.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use chrono_tz::Europe::Paris;
use diesel::prelude::*;
use openssl::pkey::PKey;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Notify;
use vocation::campaigns::links;
use vocation::campaigns::runs::{self, CampaignInput, Schedule};
use vocation::campaigns::sending::{self, CampaignSender, Claim, SenderHandle};
use vocation::config::{MailTransportKind, Settings, SmtpTls};
use vocation::mail::dkim;

use crate::helpers::{sql_now, Fields, FormTokens, TestApp};
use crate::smtp_server::{Behaviour, SmtpServer};

/// Settings for a campaign sender of `app` writing to `smtp`, fast enough for tests.
pub(crate) fn sender_settings(app: &TestApp, smtp: &SmtpServer) -> Settings {
    let mut s = Settings::load_for("test").expect("settings");
    s.database.url = SecretString::from(app.db.url.clone());
    s.database.pool_size = 6;
    s.http.public_url = "http://vocation.test".into();
    s.mail.transport = MailTransportKind::Smtp;
    s.mail.smtp.host = "127.0.0.1".into();
    s.mail.smtp.port = smtp.port;
    s.mail.smtp.tls = SmtpTls::None;
    s.mail.smtp.timeout_seconds = 2;
    s.scheduler.daily_digest_cron = String::new();
    s.scheduler.offer_expiry_cron = String::new();
    s.campaigns.enabled = true;
    s.campaigns.connections = 2;
    s.campaigns.batch_size = 10;
    s.campaigns.lease_seconds = 30;
    s.campaigns.max_attempts = 4;
    s.campaigns.retry_base_seconds = 0;
    s.campaigns.poll_interval_ms = 50;
    s.campaigns.tick_cron = String::new();
    s.check().expect("valid sender settings");
    s
}

/// A running sender; dropping it aborts its tasks (a worker that dies).
pub(crate) type Running = SenderHandle;

pub(crate) fn start_sender(settings: Settings) -> Running {
    let settings = Arc::new(settings);
    let pool = vocation::db::prepare(&settings).expect("pool");
    let sender = CampaignSender::new(settings, pool, Arc::new(Notify::new())).expect("sender");
    sender.start()
}

/// `n` active contacts `prefix-<i>@example.org` in a new list; returns the list id.
fn seed_list(app: &TestApp, name: &str, prefix: &str, n: usize) -> i64 {
    seed_list_on(&mut app.conn(), name, prefix, n)
}

/// [`seed_list`] on a connection of one's own (contacts already there are reused).
pub(crate) fn seed_list_on(conn: &mut PgConnection, name: &str, prefix: &str, n: usize) -> i64 {
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        id: i64,
    }
    let list: Id = diesel::sql_query("INSERT INTO contact_lists (name) VALUES ($1) RETURNING id")
        .bind::<diesel::sql_types::Text, _>(name)
        .get_result(conn)
        .unwrap();
    diesel::sql_query(format!(
        "INSERT INTO contacts (email, first_name, last_name, kind, legal_basis, city) \
         SELECT '{prefix}-' || i || '@example.org', 'Prénom' || i, 'Nom' || i, \
                'medecin_retraite', 'interet_legitime', 'Auch' \
         FROM generate_series(1, {n}) AS i ON CONFLICT DO NOTHING"
    ))
    .execute(conn)
    .unwrap();
    diesel::sql_query(format!(
        "INSERT INTO list_members (list_id, contact_id) \
         SELECT {}, id FROM contacts WHERE email LIKE '{prefix}-%@example.org'",
        list.id
    ))
    .execute(conn)
    .unwrap();
    list.id
}

fn add_contact(app: &TestApp, list: i64, email: &str) {
    let mut conn = app.conn();
    diesel::sql_query(format!(
        "WITH c AS (INSERT INTO contacts (email, first_name, kind, legal_basis) \
                    VALUES ('{email}', 'Alex', 'medecin', 'interet_legitime') RETURNING id) \
         INSERT INTO list_members (list_id, contact_id) SELECT {list}, id FROM c"
    ))
    .execute(&mut conn)
    .unwrap();
}

fn template(app: &TestApp) -> i64 {
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        id: i64,
    }
    diesel::sql_query(
        "INSERT INTO mail_templates (name, subject, body_text, body_html) VALUES \
         ('Retraités ' || gen_random_uuid(), 'Bonjour {{prenom}} : exercer dans le Gers', \
          'Bonjour {{prenom}} {{nom}},\n\nLe Gers recrute des médecins salariés. \
Candidatez : {{lien_candidature}}\n\nBien cordialement', '') RETURNING id",
    )
    .get_result::<Id>(&mut app.conn())
    .unwrap()
    .id
}

fn campaign(app: &TestApp, lists: &[i64], rate: i32, schedule: Schedule) -> i64 {
    let template = template(app);
    runs::create(
        &mut app.conn(),
        &CampaignInput {
            name: "Médecins retraités – automne".into(),
            template_id: template,
            list_ids: lists.to_vec(),
            sender_name: "Recrutement CDS32".into(),
            sender_email: "recrutement@vocation.test".into(),
            rate_per_minute: rate,
            schedule,
        },
        None,
    )
    .unwrap()
}

fn schedule_now(app: &TestApp, campaign: i64) {
    runs::schedule(&mut app.conn(), campaign, Utc::now(), None).unwrap();
}

/// Waits until the SQL count reaches `n` (or panics after `secs`).
async fn wait_count(app: &TestApp, sql: &str, n: i64, secs: u64) {
    let start = Instant::now();
    loop {
        let got = app.count(sql);
        if got == n {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "waited {secs} s for {sql} = {n}, got {got}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the campaign is « terminée » (or panics after `secs`).
async fn wait_finished(app: &TestApp, campaign: i64, secs: u64) {
    wait_count(
        app,
        &format!("SELECT count(*) FROM campaigns WHERE id = {campaign} AND status = 'terminee'"),
        1,
        secs,
    )
    .await;
}

fn status_of(app: &TestApp, email: &str) -> String {
    app.text(&format!(
        "SELECT status FROM deliveries WHERE email = '{email}'"
    ))
    .unwrap_or_default()
}

pub(crate) fn secret() -> Vec<u8> {
    Settings::load_for("test")
        .unwrap()
        .security
        .secret_key
        .expose_secret()
        .as_bytes()
        .to_vec()
}

#[tokio::test]
async fn every_recipient_gets_one_message_with_the_list_headers() {
    let app = TestApp::spawn().await;
    let smtp = SmtpServer::start();
    let a = seed_list(&app, "Retraités", "r", 12);
    let b = seed_list(&app, "Retraités bis", "r", 12); // the same people: deduplicated
    add_contact(&app, b, "Deja.Desinscrit@example.org");
    vocation::campaigns::suppression::suppress(
        &mut app.conn(),
        "deja.desinscrit@EXAMPLE.org",
        vocation::db::enums::SuppressionReason::Unsubscribed,
        "test",
    )
    .unwrap();
    let id = campaign(&app, &[a, b], 6000, Schedule::Now);
    schedule_now(&app, id);
    assert_eq!(
        app.count(&format!(
            "SELECT recipients FROM campaign_runs WHERE campaign_id = {id}"
        )),
        12,
        "suppressed and duplicate addresses are not materialised"
    );
    let _sender = start_sender(sender_settings(&app, &smtp));
    wait_finished(&app, id, 20).await;
    let per = smtp.per_recipient();
    assert_eq!(per.len(), 12);
    assert!(per.values().all(|n| *n == 1), "{per:?}");
    // Two claims (batches of 10): in each, every message after the first had its envelope
    // written behind the previous content.
    assert_eq!(smtp.chained_transactions(), 10);
    assert!(!per.contains_key("deja.desinscrit@example.org"));

    let run: i64 = app.count(&format!(
        "SELECT id FROM campaign_runs WHERE campaign_id = {id}"
    ));
    let msg = smtp
        .messages()
        .into_iter()
        .find(|m| m.rcpt_to[0] == "r-3@example.org")
        .unwrap();
    let delivery = app.count("SELECT id FROM deliveries WHERE email = 'r-3@example.org'");
    // The installation's part keeps IDs from repeating on another database (issue 20).
    let part = app.text("SELECT installation_part()").unwrap();
    let expected_id = format!("<campagne.{run}.{delivery}.{part}@vocation.test>");
    assert_eq!(msg.message_id().as_deref(), Some(expected_id.as_str()));
    assert_eq!(
        app.text(&format!(
            "SELECT message_id FROM deliveries WHERE id = {delivery}"
        ))
        .as_deref(),
        Some(expected_id.as_str())
    );
    let unsubscribe = msg.header("List-Unsubscribe").unwrap();
    let token = links::token(&secret(), links::Purpose::Unsubscribe, delivery);
    assert!(
        unsubscribe.contains(&format!("<http://vocation.test/desinscription/{token}>")),
        "{unsubscribe}"
    );
    assert!(unsubscribe.contains("<mailto:"), "{unsubscribe}");
    assert_eq!(
        msg.header("List-Unsubscribe-Post").as_deref(),
        Some("List-Unsubscribe=One-Click")
    );
    // One List-Id for the organisation's campaigns, not the internal campaign name (issue 20).
    assert!(msg
        .header("List-Id")
        .unwrap()
        .ends_with("<campagnes.vocation.test>"));
    // The relay announces 8BITMIME: both parts go as written, and MAIL FROM says so.
    assert!(msg.eight_bit_mime);
    let raw = String::from_utf8(msg.data.clone()).expect("UTF-8 as written");
    assert_eq!(
        raw.matches("Content-Transfer-Encoding: 8bit\r\n").count(),
        2,
        "{raw}"
    );
    assert!(
        raw.contains("Le Gers recrute des médecins salariés"),
        "{raw}"
    );
    assert!(raw.split("\r\n").all(|line| line.len() <= 998));
    let parsed = mail_parser::MessageParser::default()
        .parse(&msg.data)
        .unwrap();
    assert_eq!(
        parsed.subject(),
        Some("Bonjour Prénom3 : exercer dans le Gers")
    );
    let text = parsed.body_text(0).unwrap();
    assert!(text.contains("Bonjour Prénom3 Nom3,"), "{text}");
    assert!(text.contains("Conseil départemental du Gers"), "{text}");
    assert!(text.contains(&format!("desinscription/{token}")), "{text}");
    assert!(text.contains("en tant que médecin retraité"), "{text}");
    let html = parsed.body_html(0).unwrap();
    assert!(html.contains(&format!(
        "href=\"http://vocation.test/desinscription/{token}\""
    )));
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM deliveries d JOIN campaign_runs r ON r.id = d.run_id \
             WHERE r.campaign_id = {id} AND d.status = 'envoye' AND d.smtp_code = 250 \
             AND d.sent_at IS NOT NULL"
        )),
        12
    );
}

#[tokio::test]
async fn a_relay_without_8bitmime_gets_quoted_printable_parts() {
    let app = TestApp::spawn().await;
    let smtp = SmtpServer::start();
    smtp.without_8bitmime();
    let list = seed_list(&app, "Sept bits", "s", 2);
    let id = campaign(&app, &[list], 6000, Schedule::Now);
    schedule_now(&app, id);
    let _sender = start_sender(sender_settings(&app, &smtp));
    wait_finished(&app, id, 20).await;
    let messages = smtp.messages();
    assert_eq!(messages.len(), 2);
    for m in messages {
        assert!(!m.eight_bit_mime);
        assert!(m.data.is_ascii());
        let raw = String::from_utf8_lossy(&m.data);
        assert_eq!(
            raw.matches("Content-Transfer-Encoding: quoted-printable\r\n")
                .count(),
            2,
            "{raw}"
        );
        let parsed = mail_parser::MessageParser::default()
            .parse(&m.data)
            .unwrap();
        let text = parsed.body_text(0).unwrap();
        assert!(
            text.contains("Le Gers recrute des médecins salariés"),
            "{text}"
        );
        let html = parsed.body_html(0).unwrap();
        assert!(html.contains("Conseil départemental du Gers"), "{html}");
    }
}

#[tokio::test]
async fn one_click_unsubscribe_needs_no_cookie_and_get_changes_nothing() {
    let app = TestApp::spawn().await;
    let smtp = SmtpServer::start();
    let list = seed_list(&app, "Internes", "i", 2);
    let id = campaign(&app, &[list], 6000, Schedule::Now);
    schedule_now(&app, id);
    let _sender = start_sender(sender_settings(&app, &smtp));
    smtp.wait_for(2, Duration::from_secs(10)).await;
    let msg = smtp
        .messages()
        .into_iter()
        .find(|m| m.rcpt_to[0] == "i-1@example.org")
        .unwrap();
    let header = msg.header("List-Unsubscribe").unwrap();
    let path = header
        .split("http://vocation.test")
        .nth(1)
        .and_then(|rest| rest.split('>').next())
        .unwrap()
        .to_owned();
    // A client with no cookie store and no redirects, as a mail provider's one-click POST.
    let bare = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let get = bare.get(app.url(&path)).send().await.unwrap();
    assert_eq!(get.status(), 200);
    assert_eq!(get.headers().get("cache-control").unwrap(), "no-store");
    let page = get.text().await.unwrap();
    assert!(page.contains("Me désinscrire"), "{page}");
    assert!(page.contains("i•••••@example.org"));
    assert_eq!(
        app.count("SELECT count(*) FROM suppressions"),
        0,
        "GET changes nothing"
    );

    let post = bare
        .post(app.url(&path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 200, "no redirect, no login");
    assert!(post.text().await.unwrap().contains("C'est fait"));
    assert_eq!(
        app.text("SELECT reason FROM suppressions WHERE email = 'i-1@example.org'")
            .as_deref(),
        Some("desinscription")
    );
    assert_eq!(
        app.text("SELECT status FROM contacts WHERE email = 'i-1@example.org'")
            .as_deref(),
        Some("unsubscribed")
    );
    assert_eq!(
        app.count("SELECT count(*) FROM deliveries WHERE unsubscribed_at IS NOT NULL"),
        1
    );
    // Again: still fine, nothing more.
    let again = bare.post(app.url(&path)).send().await.unwrap();
    assert_eq!(again.status(), 200);
    assert_eq!(app.count("SELECT count(*) FROM suppressions"), 1);
    // A forged token is refused with a page, not a 500.
    let forged = bare
        .post(app.url("/desinscription/1.AAAAAAAAAAAAAAAAAAAAAA"))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 404);
    let outcome = runs::outcome(&mut app.conn(), id).unwrap();
    assert_eq!(outcome.unsubscribed, 1);
}

#[tokio::test]
async fn each_smtp_answer_is_recorded_as_it_should_with_a_pipelining_relay() {
    each_smtp_answer_is_recorded_as_it_should(true).await;
}

#[tokio::test]
async fn each_smtp_answer_is_recorded_as_it_should_with_a_relay_without_pipelining() {
    each_smtp_answer_is_recorded_as_it_should(false).await;
}

/// Every answer of the relay, at RCPT or after DATA, with the envelope's commands written in
/// one go (PIPELINING, RFC 2920) or one at a time.
async fn each_smtp_answer_is_recorded_as_it_should(pipelining: bool) {
    let app = TestApp::spawn().await;
    let smtp = SmtpServer::start();
    if !pipelining {
        smtp.without_pipelining();
    }
    let list = seed_list(&app, "Divers", "ok", 3);
    for who in [
        "unknown", "reject", "defer", "drop", "close", "slow", "always",
    ] {
        add_contact(&app, list, &format!("{who}@example.org"));
    }
    smtp.set_for("unknown@example.org", Behaviour::UnknownMailbox);
    smtp.set_for("reject@example.org", Behaviour::Reject554);
    smtp.set_for_times("defer@example.org", Behaviour::Defer451, 2);
    smtp.set_for_times("drop@example.org", Behaviour::DropAfterData, 1);
    smtp.set_for_times("close@example.org", Behaviour::Close421, 1);
    smtp.set_for_times(
        "slow@example.org",
        Behaviour::Slow(Duration::from_secs(4)),
        1,
    );
    smtp.set_for("always@example.org", Behaviour::Defer451);
    let id = campaign(&app, &[list], 6000, Schedule::Now);
    schedule_now(&app, id);
    let _sender = start_sender(sender_settings(&app, &smtp));
    wait_finished(&app, id, 40).await;

    for ok in ["ok-1", "ok-2", "ok-3"] {
        assert_eq!(status_of(&app, &format!("{ok}@example.org")), "envoye");
    }
    // 550 5.1.1: failed at once, the address suppressed and the contact marked bounced.
    assert_eq!(status_of(&app, "unknown@example.org"), "echec");
    assert_eq!(
        app.count("SELECT smtp_code FROM deliveries WHERE email = 'unknown@example.org'"),
        550
    );
    assert_eq!(
        app.text("SELECT reason FROM suppressions WHERE email = 'unknown@example.org'")
            .as_deref(),
        Some("adresse_inconnue")
    );
    assert_eq!(
        app.text("SELECT status FROM contacts WHERE email = 'unknown@example.org'")
            .as_deref(),
        Some("bounced")
    );
    assert_eq!(smtp.attempts_for("unknown@example.org"), 1);
    // 554 after DATA: failed, not suppressed.
    assert_eq!(status_of(&app, "reject@example.org"), "echec");
    assert_eq!(
        app.count("SELECT count(*) FROM suppressions WHERE email = 'reject@example.org'"),
        0
    );
    // 451 twice, then accepted on the third attempt.
    assert_eq!(status_of(&app, "defer@example.org"), "envoye");
    assert_eq!(
        app.count("SELECT attempts FROM deliveries WHERE email = 'defer@example.org'"),
        3
    );
    // Connection dropped after DATA, 421, and a reply slower than the timeout: retried, sent.
    for retried in ["drop", "close", "slow"] {
        let email = format!("{retried}@example.org");
        assert_eq!(status_of(&app, &email), "envoye", "{retried}");
        assert_eq!(
            app.count(&format!(
                "SELECT attempts FROM deliveries WHERE email = '{email}'"
            )),
            2,
            "{retried}"
        );
    }
    // 451 forever: failed after max_attempts (4), with the server's reply kept.
    assert_eq!(status_of(&app, "always@example.org"), "echec");
    assert_eq!(
        app.count("SELECT attempts FROM deliveries WHERE email = 'always@example.org'"),
        4
    );
    assert!(app
        .text("SELECT last_error FROM deliveries WHERE email = 'always@example.org'")
        .unwrap()
        .contains("451"));
    // « Retry the failed recipients »: the 554 one now goes through; the suppressed one does not.
    smtp.set_for("reject@example.org", Behaviour::Accept);
    smtp.set_for("always@example.org", Behaviour::Accept);
    let retried = runs::retry_failed(&mut app.conn(), id, Utc::now(), None).unwrap();
    assert_eq!(retried, 2, "the unknown mailbox is suppressed, not retried");
    wait_finished(&app, id, 20).await;
    assert_eq!(status_of(&app, "reject@example.org"), "envoye");
    assert_eq!(status_of(&app, "always@example.org"), "envoye");
    assert_eq!(smtp.count_for("ok-1@example.org"), 1);
    // The envelope went in one write exactly when the relay offered it. Every transaction
    // counts: the accepted ones and those refused at RCPT or after DATA.
    let transactions: usize = ["ok-1", "ok-2", "ok-3", "unknown", "reject", "defer", "drop"]
        .iter()
        .map(|who| smtp.attempts_for(&format!("{who}@example.org")))
        .sum();
    if pipelining {
        assert!(
            smtp.pipelined_transactions() >= transactions,
            "{} pipelined of at least {transactions}",
            smtp.pipelined_transactions()
        );
        assert!(smtp.chained_transactions() >= 1);
    } else {
        assert_eq!(smtp.pipelined_transactions(), 0);
        assert_eq!(smtp.chained_transactions(), 0);
    }
}

#[tokio::test]
async fn an_address_unsubscribed_during_the_run_is_skipped() {
    let app = TestApp::spawn().await;
    let smtp = SmtpServer::start();
    let list = seed_list(&app, "Lente", "s", 6);
    // 60 per minute: one message a second, time enough to unsubscribe the last one.
    let id = campaign(&app, &[list], 60, Schedule::Now);
    schedule_now(&app, id);
    let _sender = start_sender(sender_settings(&app, &smtp));
    smtp.wait_for(1, Duration::from_secs(10)).await;
    let last = app.count("SELECT id FROM deliveries WHERE email = 's-6@example.org'");
    let token = links::token(&secret(), links::Purpose::Unsubscribe, last);
    let r = reqwest::Client::new()
        .post(app.url(&format!("/desinscription/{token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    wait_finished(&app, id, 20).await;
    assert_eq!(status_of(&app, "s-6@example.org"), "ecarte");
    assert_eq!(smtp.count_for("s-6@example.org"), 0);
    assert_eq!(smtp.count(), 5);
    // The pace held: five messages took about four seconds at least.
    let times: Vec<Instant> = smtp.messages().iter().map(|m| m.at).collect();
    let spread = *times.iter().max().unwrap() - *times.iter().min().unwrap();
    assert!(spread >= Duration::from_millis(3500), "{spread:?}");
}

#[tokio::test]
async fn two_senders_on_one_database_never_send_a_delivery_twice() {
    let app = TestApp::spawn().await;
    let smtp = SmtpServer::start();
    let list = seed_list(&app, "Nationale", "n", 300);
    let id = campaign(&app, &[list], 100_000, Schedule::Now);
    schedule_now(&app, id);
    let mut settings = sender_settings(&app, &smtp);
    settings.campaigns.connections = 3;
    settings.campaigns.batch_size = 7;
    let _one = start_sender(settings.clone());
    let _two = start_sender(settings);
    wait_finished(&app, id, 60).await;
    let per = smtp.per_recipient();
    assert_eq!(per.len(), 300);
    assert!(per.values().all(|n| *n == 1), "a delivery went twice");
    assert!(smtp.max_connections_seen() >= 2);
    assert_eq!(
        app.count("SELECT count(*) FROM deliveries WHERE status = 'envoye' AND attempts = 1"),
        300
    );
}

#[tokio::test]
async fn a_dead_workers_deliveries_are_sent_once_its_lease_ends() {
    let app = TestApp::spawn().await;
    let smtp = SmtpServer::start();
    let list = seed_list(&app, "Bail", "l", 20);
    let id = campaign(&app, &[list], 100_000, Schedule::Now);
    schedule_now(&app, id);
    // A worker claims five deliveries for two seconds, then dies without a word.
    let claimed = match sending::claim(&mut app.conn(), Utc::now(), 5, 2, None).unwrap() {
        Claim::Work(_, items) => items,
        other => panic!("expected work, got {other:?}"),
    };
    assert_eq!(claimed.len(), 5);
    let started = Instant::now();
    let _sender = start_sender(sender_settings(&app, &smtp));
    smtp.wait_for(15, Duration::from_secs(10)).await;
    for item in &claimed {
        assert_eq!(
            smtp.count_for(&item.email),
            0,
            "leased rows wait for the lease"
        );
    }
    wait_finished(&app, id, 20).await;
    assert!(started.elapsed() >= Duration::from_millis(1500));
    let per = smtp.per_recipient();
    assert_eq!(per.len(), 20);
    assert!(per.values().all(|n| *n == 1));
    for item in &claimed {
        assert_eq!(
            app.count(&format!(
                "SELECT attempts FROM deliveries WHERE id = {}",
                item.id
            )),
            2
        );
    }
}

#[tokio::test]
async fn a_sender_shut_down_gives_its_unsent_deliveries_back_at_once() {
    let app = TestApp::spawn().await;
    let slow = SmtpServer::start();
    slow.set_default(Behaviour::Slow(Duration::from_millis(600)));
    let list = seed_list(&app, "Arrêt", "s", 30);
    let id = campaign(&app, &[list], 100_000, Schedule::Now);
    schedule_now(&app, id);
    // A lease far longer than the test: whatever the second sender sends was given back.
    let mut settings = sender_settings(&app, &slow);
    settings.campaigns.lease_seconds = 3600;
    let first = start_sender(settings.clone());
    slow.wait_for(1, Duration::from_secs(10)).await;
    let leased = app.count(&format!(
        "SELECT count(*) FROM deliveries WHERE status = 'en_attente' AND locked_until > {}",
        sql_now()
    ));
    assert!(
        leased > 2,
        "the connections hold claimed deliveries ({leased})"
    );

    first.shutdown().await;
    // What was being transmitted finished and is recorded; nothing stays leased, and the
    // deliveries given back carry no attempt.
    let sent = slow.count();
    assert!(sent > 0 && sent < 30, "{sent} sent before the shutdown");
    assert_eq!(
        app.count("SELECT count(*) FROM deliveries WHERE status = 'envoye'"),
        i64::try_from(sent).unwrap()
    );
    assert_eq!(
        app.count("SELECT count(*) FROM deliveries WHERE locked_until IS NOT NULL"),
        0
    );
    assert_eq!(
        app.count("SELECT count(*) FROM deliveries WHERE status = 'en_attente' AND attempts = 0"),
        30 - i64::try_from(sent).unwrap()
    );

    // A second sender claims them at once (the first one's lease would last an hour).
    let fast = SmtpServer::start();
    let mut settings = sender_settings(&app, &fast);
    settings.campaigns.lease_seconds = 3600;
    let _second = start_sender(settings);
    wait_finished(&app, id, 60).await;
    let mut per = slow.per_recipient();
    for (rcpt, n) in fast.per_recipient() {
        *per.entry(rcpt).or_default() += n;
    }
    assert_eq!(per.len(), 30);
    assert!(
        per.values().all(|n| *n == 1),
        "a recipient got two messages"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM deliveries WHERE status = 'envoye' AND attempts = 1"),
        30
    );
}

#[tokio::test]
async fn pause_resume_and_cancel() {
    let app = TestApp::spawn().await;
    let smtp = SmtpServer::start();
    let list = seed_list(&app, "Pause", "p", 10);
    let id = campaign(&app, &[list], 120, Schedule::Now);
    schedule_now(&app, id);
    let _sender = start_sender(sender_settings(&app, &smtp));
    smtp.wait_for(1, Duration::from_secs(10)).await;
    runs::pause(&mut app.conn(), id, None).unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await; // what was in flight lands
    let at_pause = smtp.count();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(smtp.count(), at_pause, "nothing goes out while paused");
    assert!(
        runs::pause(&mut app.conn(), id, None).is_err(),
        "already paused"
    );
    runs::resume(&mut app.conn(), id, None).unwrap();
    smtp.wait_for(at_pause + 1, Duration::from_secs(10)).await;
    assert!(smtp.count() > at_pause);
    let cancelled = runs::cancel(&mut app.conn(), id, None).unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    let sent = smtp.count();
    assert!(
        cancelled > 0 && sent < 10,
        "{cancelled} cancelled, {sent} sent"
    );
    // A delivery being sent at the moment of the cancellation still goes out and is then
    // recorded as sent: at most one per connection is taken back from the cancelled count.
    let still_cancelled =
        app.count("SELECT count(*) FROM deliveries WHERE status = 'annule'") as usize;
    assert!(
        still_cancelled <= cancelled && still_cancelled + 2 >= cancelled,
        "{still_cancelled} of {cancelled}"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM deliveries WHERE status = 'en_attente'"),
        0
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(smtp.count(), sent, "nothing after the cancellation");
    assert_eq!(
        app.text(&format!("SELECT status FROM campaigns WHERE id = {id}"))
            .as_deref(),
        Some("annulee")
    );
}

#[tokio::test]
async fn a_recurring_run_is_created_once_and_a_late_one_waits() {
    let app = TestApp::spawn().await;
    let list = seed_list(&app, "Cron", "c", 3);
    let daily = campaign(&app, &[list], 600, Schedule::Cron("0 9 * * *".into()));
    runs::schedule(&mut app.conn(), daily, Utc::now(), None).unwrap();
    // The dates follow the run: 9:00 in Paris tomorrow and the day after (never ambiguous, and
    // its offset from UTC is whatever the season makes it).
    let paris_nine = |days: i64| {
        let day = Utc::now().with_timezone(&Paris).date_naive() + chrono::Duration::days(days);
        Paris
            .from_local_datetime(&day.and_hms_opt(9, 0, 0).unwrap())
            .single()
            .unwrap()
            .with_timezone(&Utc)
    };
    let (nine, next_nine) = (paris_nine(1), paris_nine(2));
    // Programmed the day before.
    diesel::sql_query(format!(
        "UPDATE campaigns SET updated_at = '{}' WHERE id = {daily}",
        (nine - chrono::Duration::hours(20)).to_rfc3339()
    ))
    .execute(&mut app.conn())
    .unwrap();
    let late = chrono::Duration::minutes(30);
    // Ten minutes after 9:00 in Paris, two instances tick at once.
    let tick = nine + chrono::Duration::minutes(10);
    let (url1, url2) = (app.db.url.clone(), app.db.url.clone());
    let t1 = std::thread::spawn(move || {
        runs::create_cron_runs(&mut PgConnection::establish(&url1).unwrap(), tick, late).unwrap()
    });
    let t2 = std::thread::spawn(move || {
        runs::create_cron_runs(&mut PgConnection::establish(&url2).unwrap(), tick, late).unwrap()
    });
    assert_eq!(t1.join().unwrap() + t2.join().unwrap(), 1);
    assert_eq!(
        runs::create_cron_runs(&mut app.conn(), tick, late).unwrap(),
        0
    );
    assert_eq!(
        app.text(&format!(
            "SELECT status || ' ' || to_char(scheduled_for AT TIME ZONE 'Europe/Paris', 'HH24:MI') \
             FROM campaign_runs WHERE campaign_id = {daily}"
        ))
        .as_deref(),
        Some("planifie 09:00")
    );
    assert_eq!(
        runs::activate_due_runs(&mut app.conn(), tick, late).unwrap(),
        1
    );
    assert_eq!(
        app.count(&format!(
            "SELECT recipients FROM campaign_runs WHERE campaign_id = {daily}"
        )),
        3
    );
    // The next day the service was down from 8:00 to 11:00 (Paris): the 9:00 run waits.
    let after_outage = next_nine + chrono::Duration::hours(2);
    assert_eq!(
        runs::create_cron_runs(&mut app.conn(), after_outage, late).unwrap(),
        1
    );
    let waiting = app.count(&format!(
        "SELECT id FROM campaign_runs WHERE campaign_id = {daily} AND status = 'a_confirmer'"
    ));
    assert!(waiting > 0);
    assert_eq!(
        runs::activate_due_runs(&mut app.conn(), after_outage, late).unwrap(),
        0,
        "a late run is not sent without confirmation"
    );
    runs::confirm_run(&mut app.conn(), waiting, after_outage, None).unwrap();
    assert_eq!(
        app.text(&format!(
            "SELECT status FROM campaign_runs WHERE id = {waiting}"
        ))
        .as_deref(),
        Some("envoi")
    );
    // A one-off campaign due during the outage waits too, and can be dropped.
    let once = campaign(&app, &[list], 600, Schedule::At(next_nine));
    runs::schedule(
        &mut app.conn(),
        once,
        nine + chrono::Duration::hours(3),
        None,
    )
    .unwrap();
    assert_eq!(
        runs::activate_due_runs(&mut app.conn(), after_outage, late).unwrap(),
        0
    );
    let run = app.count(&format!(
        "SELECT id FROM campaign_runs WHERE campaign_id = {once} AND status = 'a_confirmer'"
    ));
    runs::skip_run(&mut app.conn(), run, None).unwrap();
    assert_eq!(
        app.text(&format!("SELECT status FROM campaigns WHERE id = {once}"))
            .as_deref(),
        Some("annulee")
    );
}

#[tokio::test]
async fn an_application_that_follows_a_tracked_link_is_attributed() {
    let app = TestApp::spawn().await;
    let smtp = SmtpServer::start();
    let list = seed_list(&app, "Clic", "k", 1);
    let id = campaign(&app, &[list], 6000, Schedule::Now);
    schedule_now(&app, id);
    let _sender = start_sender(sender_settings(&app, &smtp));
    smtp.wait_for(1, Duration::from_secs(10)).await;
    let msg = smtp.messages().remove(0);
    let parsed = mail_parser::MessageParser::default()
        .parse(&msg.data)
        .unwrap();
    let text = parsed.body_text(0).unwrap().into_owned();
    let link = text
        .split_whitespace()
        .find(|w| w.starts_with("http://vocation.test/c/"))
        .unwrap()
        .trim_end_matches('.')
        .replace("http://vocation.test", "");
    let bare = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = bare.get(app.url(&link)).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("/candidature?"), "{location}");
    assert!(location.contains(&format!("utm_campaign=campagne-{id}")));
    assert_eq!(app.count("SELECT count(*) FROM link_clicks"), 1);
    // The form keeps the token; the application is attributed to the campaign.
    let tokens: FormTokens = app.form_tokens(&location).await;
    let (_, html) = app.get_html(&location).await;
    let suivi = crate::helpers::hidden_value(&html, "suivi");
    assert!(!suivi.is_empty());
    let fields = Fields::valid().set("suivi", &suivi);
    let posted = app.post_application(&tokens, &fields, None).await;
    assert!(posted.status().is_redirection() || posted.status().is_success());
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM applications WHERE campaign_id = {id} AND delivery_id IS NOT NULL"
        )),
        1
    );
    // A forged token attributes nothing and still leads to the form.
    let r = bare
        .get(app.url("/c/1.AAAAAAAAAAAAAAAAAAAAAA"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["location"], "/candidature");
    let outcome = runs::outcome(&mut app.conn(), id).unwrap();
    assert_eq!(
        (
            outcome.sent,
            outcome.clicks,
            outcome.clickers,
            outcome.applications
        ),
        (1, 1, 1, 1)
    );
}

#[tokio::test]
async fn messages_are_dkim_signed_over_the_list_headers_when_a_key_is_set() {
    let app = TestApp::spawn().await;
    let smtp = SmtpServer::start();
    let key = std::env::temp_dir().join(format!("dkim-{}.pem", uuid::Uuid::new_v4().simple()));
    let out = std::process::Command::new("openssl")
        .args(["genrsa", "-traditional", "-out"])
        .arg(&key)
        .arg("2048")
        .output()
        .expect("openssl");
    assert!(out.status.success(), "{out:?}");
    let list = seed_list(&app, "DKIM", "d", 1);
    let id = campaign(&app, &[list], 6000, Schedule::Now);
    schedule_now(&app, id);
    let mut settings = sender_settings(&app, &smtp);
    settings.mail.dkim.selector = "vocation".into();
    settings.mail.dkim.domain = "vocation.test".into();
    settings.mail.dkim.private_key_file = key.clone();
    let _sender = start_sender(settings);
    smtp.wait_for(1, Duration::from_secs(10)).await;
    let pem = std::fs::read(&key).unwrap();
    let _ = std::fs::remove_file(&key);
    let received = &smtp.messages()[0];
    // Signed mail stays 7bit (RFC 6376 §5.3), although this relay takes 8BITMIME.
    assert!(!received.eight_bit_mime);
    assert!(received.data.is_ascii());
    let signature = received.header("DKIM-Signature").expect("signed");
    assert!(
        received
            .data
            .starts_with(b"DKIM-Signature: v=1; a=rsa-sha256;"),
        "the signature comes first: {}",
        String::from_utf8_lossy(&received.data)
    );
    // The body the relay received is the one that was hashed…
    let body = received
        .data
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| &received.data[i + 4..])
        .expect("a blank line after the headers");
    let tags = dkim::tags(&signature).unwrap();
    let tag = |name: &str| tags.iter().find(|(n, _)| n == name).unwrap().1.clone();
    assert_eq!(tag("bh"), dkim::body_hash(body));
    assert_eq!(tag("c"), "relaxed/relaxed");
    // …and the signature checks with the public key over the headers as received.
    let public = PKey::public_key_from_der(
        &PKey::private_key_from_pem(&pem)
            .unwrap()
            .public_key_to_der()
            .unwrap(),
    )
    .unwrap();
    let verified = dkim::verify(&received.data, &public).expect("a valid signature");
    assert_eq!(
        (verified.domain.as_str(), verified.selector.as_str()),
        ("vocation.test", "vocation")
    );
    // One altered byte in a signed header breaks it.
    let mut altered = received.data.clone();
    let at = altered
        .windows(9)
        .position(|w| w == b"\r\nList-Id")
        .expect("a List-Id")
        + 11;
    altered[at] ^= 0x01;
    assert_eq!(
        dkim::verify(&altered, &public),
        Err(dkim::DkimError::BadSignature)
    );
    assert!(signature.contains("d=vocation.test"), "{signature}");
    assert!(signature.contains("s=vocation"), "{signature}");
    let signed: String = signature
        .split(';')
        .find(|p| p.trim_start().starts_with("h="))
        .unwrap()
        .to_ascii_lowercase();
    for h in [
        "list-unsubscribe",
        "list-unsubscribe-post",
        "list-id",
        "from",
        "subject",
    ] {
        assert!(
            signed.split([':', '=']).any(|x| x.trim() == h),
            "{h} not in {signed}"
        );
    }
}

#[tokio::test]
async fn a_run_in_progress_when_the_claim_cursor_arrives_is_finished_once_to_each_recipient() {
    let app = TestApp::spawn().await;
    let smtp = SmtpServer::start();
    let list = seed_list(&app, "Migration", "m", 10);
    let id = campaign(&app, &[list], 6000, Schedule::Now);
    // Materialised at once: the run is sending.
    schedule_now(&app, id);
    // As a run could stand under migration 000015: the first three sent, the fourth leased by
    // a worker that died (its lease over), the rest never claimed.
    let mut conn = app.conn();
    diesel::sql_query(format!(
        "UPDATE deliveries d SET status = 'envoye', attempts = 1, sent_at = {} \
         FROM (SELECT id FROM deliveries ORDER BY id LIMIT 3) f WHERE d.id = f.id",
        sql_now()
    ))
    .execute(&mut conn)
    .unwrap();
    diesel::sql_query(format!(
        "UPDATE deliveries d SET attempts = 1, locked_until = {} - interval '1 second' \
         FROM (SELECT id FROM deliveries ORDER BY id OFFSET 3 LIMIT 1) f WHERE d.id = f.id",
        sql_now()
    ))
    .execute(&mut conn)
    .unwrap();
    let down = include_str!("../../migrations/2026-11-23-000016_delivery_cursor/down.sql");
    let up = include_str!("../../migrations/2026-11-23-000016_delivery_cursor/up.sql");
    diesel::connection::SimpleConnection::batch_execute(&mut conn, down).unwrap();
    diesel::connection::SimpleConnection::batch_execute(&mut conn, up).unwrap();
    drop(conn);
    // The cursor stands on the last delivery touched; what is pending below it is swept.
    assert_eq!(
        app.count(
            "SELECT count(*) FROM campaign_runs r WHERE recheck_at IS NOT NULL \
               AND claim_cursor = (SELECT id FROM deliveries ORDER BY id OFFSET 3 LIMIT 1) \
               AND first_delivery_id = (SELECT min(id) FROM deliveries) \
               AND last_delivery_id = (SELECT max(id) FROM deliveries)"
        ),
        1
    );
    let _sender = start_sender(sender_settings(&app, &smtp));
    wait_finished(&app, id, 20).await;
    assert_eq!(smtp.count(), 7, "the three sent before are not sent again");
    assert!(smtp.per_recipient().values().all(|n| *n == 1));
    assert_eq!(
        app.count("SELECT count(*) FROM deliveries WHERE status = 'envoye'"),
        10
    );
}

/// The message of `result`, which must be a foreign key violation.
fn foreign_key_violation(result: Result<usize, diesel::result::Error>, what: &str) -> String {
    match result {
        Err(diesel::result::Error::DatabaseError(kind, info)) => {
            assert!(
                matches!(kind, diesel::result::DatabaseErrorKind::ForeignKeyViolation),
                "{what}: {kind:?} {}",
                info.message()
            );
            info.message().to_owned()
        }
        other => panic!("{what}: expected a foreign key violation, got {other:?}"),
    }
}

/// The error of a statement expected to break a delivery's reference.
fn reference_error(conn: &mut PgConnection, sql: &str) -> String {
    foreign_key_violation(diesel::sql_query(sql).execute(conn), sql)
}

#[tokio::test]
async fn deliveries_reference_their_run_and_contact_as_foreign_keys_would() {
    let app = TestApp::spawn().await;
    let list = seed_list(&app, "Références", "ref", 3);
    let id = campaign(&app, &[list], 6000, Schedule::Now);
    schedule_now(&app, id);
    let run = app.count("SELECT max(id) FROM campaign_runs");
    assert_eq!(app.count("SELECT count(*) FROM deliveries"), 3);
    let mut conn = app.conn();

    // A delivery naming no run, or no contact, is refused: inserted or re-pointed.
    let no_run = reference_error(
        &mut conn,
        "INSERT INTO deliveries (run_id, contact_id, email) \
         SELECT 999999, id, 'x-' || email FROM contacts LIMIT 1",
    );
    assert!(no_run.contains("deliveries_run_id_fkey"), "{no_run}");
    let no_contact = reference_error(
        &mut conn,
        &format!(
            "INSERT INTO deliveries (run_id, contact_id, email) \
             VALUES ({run}, 999999, 'personne@example.org')"
        ),
    );
    assert!(
        no_contact.contains("deliveries_contact_id_fkey"),
        "{no_contact}"
    );
    let moved = reference_error(
        &mut conn,
        "UPDATE deliveries SET contact_id = 999999 WHERE id = (SELECT min(id) FROM deliveries)",
    );
    assert!(moved.contains("deliveries_contact_id_fkey"), "{moved}");
    reference_error(
        &mut conn,
        "UPDATE deliveries SET run_id = 999999 WHERE id = (SELECT min(id) FROM deliveries)",
    );
    // A delivery without a contact is allowed (a deleted contact leaves its deliveries so).
    assert_eq!(app.count("SELECT count(*) FROM deliveries"), 3);

    // Deleting a contact detaches its delivery; deleting the run deletes its deliveries.
    diesel::sql_query("DELETE FROM contacts WHERE email = 'ref-1@example.org'")
        .execute(&mut conn)
        .unwrap();
    assert_eq!(
        app.count(
            "SELECT count(*) FROM deliveries \
             WHERE email = 'ref-1@example.org' AND contact_id IS NULL"
        ),
        1
    );
    diesel::sql_query(format!("DELETE FROM campaign_runs WHERE id = {run}"))
        .execute(&mut conn)
        .unwrap();
    assert_eq!(app.count("SELECT count(*) FROM deliveries"), 0);
}

/// Runs `sql` on a connection of its own in a thread; the receiver gets its result.
fn in_thread(
    app: &TestApp,
    sql: String,
) -> std::sync::mpsc::Receiver<Result<usize, diesel::result::Error>> {
    let mut conn = app.conn();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(diesel::sql_query(sql).execute(&mut conn));
    });
    rx
}

#[tokio::test]
async fn a_contact_deleted_while_deliveries_to_it_are_inserted_is_never_left_referenced() {
    let app = TestApp::spawn().await;
    let list = seed_list(&app, "Concurrence", "conc", 2);
    let id = campaign(&app, &[list], 6000, Schedule::Now);
    // A run of its own, with no deliveries yet.
    diesel::sql_query(format!(
        "INSERT INTO campaign_runs (campaign_id, scheduled_for) \
         VALUES ({id}, {} + interval '1 day')",
        sql_now()
    ))
    .execute(&mut app.conn())
    .unwrap();
    let run = app.count("SELECT max(id) FROM campaign_runs");
    let contact =
        |email: &str| app.count(&format!("SELECT id FROM contacts WHERE email = '{email}'"));
    let (first, second) = (contact("conc-1@example.org"), contact("conc-2@example.org"));
    let insert = |contact: i64| {
        format!(
            "INSERT INTO deliveries (run_id, contact_id, email) \
             VALUES ({run}, {contact}, 'conc-{contact}@example.org')"
        )
    };
    let wait = Duration::from_millis(300);

    // The insert first: the deletion waits for its commit, then detaches the new delivery.
    let mut inserting = app.conn();
    diesel::sql_query("BEGIN").execute(&mut inserting).unwrap();
    diesel::sql_query(insert(first))
        .execute(&mut inserting)
        .unwrap();
    let deleting = in_thread(&app, format!("DELETE FROM contacts WHERE id = {first}"));
    assert!(deleting.recv_timeout(wait).is_err(), "the deletion waits");
    diesel::sql_query("COMMIT").execute(&mut inserting).unwrap();
    assert_eq!(
        deleting
            .recv_timeout(Duration::from_secs(10))
            .unwrap()
            .unwrap(),
        1
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM deliveries WHERE email = 'conc-{first}@example.org' \
               AND contact_id IS NULL"
        )),
        1
    );

    // The deletion first: the insert waits for its commit, then finds the contact gone.
    let mut deleting = app.conn();
    diesel::sql_query("BEGIN").execute(&mut deleting).unwrap();
    diesel::sql_query(format!("DELETE FROM contacts WHERE id = {second}"))
        .execute(&mut deleting)
        .unwrap();
    let inserted = in_thread(&app, insert(second));
    assert!(inserted.recv_timeout(wait).is_err(), "the insert waits");
    diesel::sql_query("COMMIT").execute(&mut deleting).unwrap();
    foreign_key_violation(
        inserted.recv_timeout(Duration::from_secs(10)).unwrap(),
        "the insert after the deletion",
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM deliveries WHERE contact_id = {second} \
               OR email = 'conc-{second}@example.org'"
        )),
        0
    );
}
