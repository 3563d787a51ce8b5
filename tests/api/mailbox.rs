//! Mail coming back, end to end: a campaign sent through the test SMTP server (its envelope
//! sender carries each delivery's signed token), then bounces, complaints, unsubscribe
//! requests, automatic answers, forgeries and garbage delivered into a real Dovecot, read by
//! the service's mailbox readers; outcomes checked in the database, in the IMAP folders and on
//! the staff pages. Fixtures in tests/fixtures/mail, written from RFC 3464 / RFC 5965 in the
//! styles of Postfix, Exchange and Gmail; `{{…}}` fields are filled per delivery.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use diesel::prelude::*;
use tokio::sync::watch;
use vocation::campaigns::links;
use vocation::campaigns::runs::{self, CampaignInput, Schedule};
use vocation::config::Settings;
use vocation::db::enums::StaffRole;
use vocation::startup::Application;

use crate::campaigns::{secret, seed_list_on, sender_settings, start_sender};
use crate::helpers::{TempDir, TestApp, TestSmtp};
use crate::imap_server::TestImap;
use crate::smtp_server::SmtpServer;

const FORGER_KEY: &[u8] = b"not the service's secret key, whatever an outsider may try with it";

/// One delivery of the test campaign.
#[derive(Debug, Clone)]
struct Sent {
    id: i64,
    email: String,
    message_id: String,
}

fn template(app: &TestApp) -> i64 {
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        id: i64,
    }
    diesel::sql_query(
        "INSERT INTO mail_templates (name, subject, body_text, body_html) VALUES \
         ('Boîte ' || gen_random_uuid(), 'Exercer dans le Gers', \
          'Bonjour {{prenom}},\n\nCandidatez : {{lien_candidature}}', '') RETURNING id",
    )
    .get_result::<Id>(&mut app.conn())
    .unwrap()
    .id
}

/// Waits (polling every 20 ms) until `done`, at most `secs` seconds.
pub(crate) async fn wait_for(what: &str, secs: u64, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "waited {secs} s for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A campaign named `name` to `n` contacts `prefix-i@example.org`, sent through a test relay;
/// returns its id and deliveries. Checks that every message's envelope sender is the bounce
/// address of its own delivery.
async fn campaign_sent(app: &TestApp, name: &str, prefix: &str, n: usize) -> (i64, Vec<Sent>) {
    let list = seed_list_on(&mut app.conn(), name, prefix, n);
    let template = template(app);
    let id = runs::create(
        &mut app.conn(),
        &CampaignInput {
            name: name.into(),
            template_id: template,
            list_ids: vec![list],
            sender_name: "Recrutement CDS32".into(),
            sender_email: "recrutement@vocation.test".into(),
            rate_per_minute: 60_000,
            schedule: Schedule::Now,
        },
        None,
    )
    .unwrap();
    runs::schedule(&mut app.conn(), id, Utc::now(), None).unwrap();
    let smtp = SmtpServer::start();
    let sender = start_sender(sender_settings(app, &smtp));
    let sql = format!(
        "SELECT count(*) FROM deliveries d JOIN campaign_runs r ON r.id = d.run_id \
         WHERE r.campaign_id = {id} AND d.status = 'envoye'"
    );
    wait_for("the campaign to be sent", 30, || {
        app.count(&sql) == n as i64
    })
    .await;
    drop(sender);
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        id: i64,
        #[diesel(sql_type = diesel::sql_types::Text)]
        email: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        message_id: String,
    }
    let rows: Vec<Row> = diesel::sql_query(format!(
        "SELECT d.id, d.email, d.message_id FROM deliveries d \
         JOIN campaign_runs r ON r.id = d.run_id WHERE r.campaign_id = {id} ORDER BY d.id"
    ))
    .load(&mut app.conn())
    .unwrap();
    assert_eq!(rows.len(), n);
    let messages = smtp.messages();
    for row in &rows {
        let received = messages
            .iter()
            .find(|m| m.rcpt_to.iter().any(|r| r.eq_ignore_ascii_case(&row.email)))
            .expect("the delivery's message");
        // VERP: the envelope sender names the delivery, signed; the From stays the sender's.
        assert_eq!(
            received.mail_from,
            links::bounce_address("bounce", "vocation.test", &secret(), row.id)
        );
        let (local, _) = received.mail_from.split_once('@').unwrap();
        let token = local.strip_prefix("bounce+").unwrap();
        assert_eq!(links::verify_bounce(&secret(), token), Some(row.id));
        assert!(String::from_utf8_lossy(&received.data).contains("From: \"Recrutement CDS32\""));
    }
    (
        id,
        rows.into_iter()
            .map(|r| Sent {
                id: r.id,
                email: r.email,
                message_id: r.message_id,
            })
            .collect(),
    )
}

/// A fixture with its fields filled for `d` (lines ending in CRLF, as mail travels).
fn fixture(name: &str, d: &Sent) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/mail/{name}", env!("CARGO_MANIFEST_DIR"));
    let raw = std::fs::read(&path).unwrap();
    if !name.ends_with(".eml") {
        return raw;
    }
    let text = String::from_utf8(raw).unwrap();
    let filled = text
        .replace(
            "{{BOUNCE}}",
            &links::bounce_address("bounce", "vocation.test", &secret(), d.id),
        )
        .replace(
            "{{FORGED_BOUNCE}}",
            &links::bounce_address("bounce", "vocation.test", FORGER_KEY, d.id),
        )
        .replace("{{RCPT}}", &d.email)
        .replace("{{MESSAGE_ID}}", &d.message_id)
        .replace(
            "{{FORGED_MESSAGE_ID}}",
            "<campagne.999999.999999@vocation.test>",
        )
        .replace(
            "{{UNSUB}}",
            &links::token(&secret(), links::Purpose::Unsubscribe, d.id),
        )
        .replace(
            "{{FORGED_UNSUB}}",
            &links::token(FORGER_KEY, links::Purpose::Unsubscribe, d.id),
        )
        .replace("{{DATE}}", &Utc::now().to_rfc2822())
        .replace("{{UNIQUE}}", &uuid::Uuid::new_v4().simple().to_string());
    assert!(!filled.contains("{{"), "{name}: a field left unfilled");
    filled
        .replace("\r\n", "\n")
        .replace('\n', "\r\n")
        .into_bytes()
}

/// A whole instance of the service reading `imap`, on the test app's database.
struct Instance {
    _smtp: TestSmtp,
    _scratch: TempDir,
}

async fn instance(app: &TestApp, imap: &TestImap) -> Instance {
    let smtp = TestSmtp::start();
    let scratch = TempDir::new();
    let mut s = TestApp::builder()
        .database_of(app)
        .settings(&app.db, &smtp, &scratch);
    s.mailboxes = vec![imap.mailbox()];
    s.inbound.poll_interval_seconds = 1;
    s.inbound.claim_lease_seconds = 5;
    s.check().expect("valid settings");
    let service = Application::build(s).await.expect("instance builds");
    tokio::spawn(service.run_until_stopped());
    Instance {
        _smtp: smtp,
        _scratch: scratch,
    }
}

fn reason_of(app: &TestApp, email: &str) -> Option<String> {
    app.text(&format!(
        "SELECT reason FROM suppressions WHERE email = lower('{email}')"
    ))
}

#[tokio::test]
async fn bounces_complaints_and_unsubscribes_are_read_once_by_two_instances() {
    let app = TestApp::spawn().await;
    let (campaign, d) = campaign_sent(&app, "Rebonds test", "boite", 8).await;
    let imap = TestImap::start();
    let messages = vec![
        fixture("postfix_5xx.eml", &d[0]),
        // No token: found by the quoted Message-ID, the reported address being the delivery's.
        fixture("exchange_5xx.eml", &d[1]),
        fixture("nonstandard_5xx.eml", &d[2]),
        fixture("gmail_4xx.eml", &d[3]),
        fixture("gmail_4xx.eml", &d[3]),
        fixture("gmail_4xx.eml", &d[3]),
        fixture("gmail_4xx.eml", &d[4]),
        fixture("gmail_4xx.eml", &d[4]),
        fixture("arf_abuse.eml", &d[5]),
        fixture("mailto_unsubscribe.eml", &d[6]),
        // Set aside, with no effect on d[7].
        fixture("out_of_office.eml", &d[7]),
        fixture("forged_unsubscribe.eml", &d[7]),
        fixture("forged_bounce.eml", &d[7]),
        fixture("garbage.bin", &d[7]),
    ];
    let total = messages.len() as i64;
    imap.append_all(&messages).await;
    assert_eq!(imap.count("INBOX"), messages.len());

    // Two instances of the service read the same mailbox.
    let _one = instance(&app, &imap).await;
    let _two = instance(&app, &imap).await;
    wait_for("every message processed and moved", 60, || {
        app.count("SELECT count(*) FROM inbound_messages WHERE moved_at IS NOT NULL") == total
            && imap.count("INBOX") == 0
    })
    .await;

    // Once each: one record per message, temporary failures and the journal counted once.
    assert_eq!(app.count("SELECT count(*) FROM inbound_messages"), total);
    // The out-of-office is counted as such (Traité); the forgeries and the garbage are set
    // aside.
    assert_eq!(imap.count("Traité"), 11);
    assert_eq!(imap.count("Non reconnu"), 3);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM soft_bounces WHERE delivery_id = {}",
            d[4].id
        )),
        2
    );

    // Permanent failures: suppressed as « rebond » with the status, delivery marked, contact
    // marked bounced.
    for (sent, status) in [(&d[0], "5.1.1"), (&d[1], "5.1.10"), (&d[2], "5.7.1")] {
        assert_eq!(
            reason_of(&app, &sent.email).as_deref(),
            Some("rebond"),
            "{sent:?}"
        );
        assert!(app
            .text(&format!(
                "SELECT detail FROM suppressions WHERE email = '{}'",
                sent.email
            ))
            .unwrap()
            .contains(status));
        assert_eq!(
            app.text(&format!(
                "SELECT bounce_status FROM deliveries WHERE id = {}",
                sent.id
            ))
            .as_deref(),
            Some(status)
        );
        assert_eq!(
            app.text(&format!(
                "SELECT status FROM contacts WHERE email = '{}'",
                sent.email
            ))
            .as_deref(),
            Some("bounced")
        );
    }
    // Three temporary failures within the window suppress; two do not.
    assert_eq!(reason_of(&app, &d[3].email).as_deref(), Some("rebond"));
    assert_eq!(reason_of(&app, &d[4].email), None);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM deliveries WHERE id = {} AND bounced_at IS NULL",
            d[4].id
        )),
        1
    );
    // The complaint, found by the signed unsubscribe token of the returned message.
    assert_eq!(reason_of(&app, &d[5].email).as_deref(), Some("plainte"));
    // The unsubscribe request: as the one-click link, and in the journal.
    assert_eq!(
        reason_of(&app, &d[6].email).as_deref(),
        Some("desinscription")
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM deliveries WHERE id = {} AND unsubscribed_at IS NOT NULL",
            d[6].id
        )),
        1
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM audit_log WHERE action = 'desinscription_courriel' \
             AND entity_id = {}",
            d[6].id
        )),
        1
    );
    // The out-of-office, the forgeries and the garbage changed nothing.
    assert_eq!(reason_of(&app, &d[7].email), None);
    assert_eq!(
        app.count("SELECT count(*) FROM suppressions"),
        6,
        "only the six addresses above are suppressed"
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM inbound_messages WHERE folder = 'non_reconnu' \
             AND kind IN ('non_reconnu', 'illisible')"
        ),
        3
    );
    assert_eq!(
        app.count("SELECT count(*) FROM inbound_messages WHERE kind = 'reponse_auto'"),
        1
    );
    // What is moved is the messages as they came, kept.
    let kept = imap.messages("Traité").await;
    assert!(kept
        .iter()
        .any(|m| String::from_utf8_lossy(m).contains("Réponse automatique")));
    // No sender, subject or address is kept in the records of messages read.
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM inbound_messages WHERE detail LIKE '%@%' \
             OR coalesce(error, '') LIKE '%@%' OR detail LIKE '%{}%'",
            "boite"
        )),
        0
    );

    // The campaign page shows the run's bounces; the reports the campaign's.
    let staff = app.staff(StaffRole::Communication).await;
    let (status, html) = staff.get_html(&format!("/campagnes/{campaign}")).await;
    assert_eq!(status, 200);
    assert!(
        html.contains(r#"<dd data-field="bounced">4</dd>"#),
        "{html}"
    );
    assert!(html.contains("Rebonds (adresses en échec, écartées des envois)</dt><dd>4</dd>"));
    let csv = staff
        .get("/rapports/campagnes.csv")
        .await
        .text()
        .await
        .unwrap();
    let row = csv
        .lines()
        .find(|l| l.starts_with("Rebonds test"))
        .expect("the campaign in the report");
    // Campagne;Type;Envois;Rebonds;…
    assert_eq!(row.split(';').nth(3), Some("4"), "{csv}");
    // The journal tells the unsubscription in a sentence.
    let admin = app.staff(StaffRole::Admin).await;
    let (_, journal) = admin
        .get_html("/admin/journal?action=desinscription_courriel")
        .await;
    assert!(
        journal.contains("a désinscrit un destinataire qui l&#x27;a demandé par courriel")
            || journal.contains("a désinscrit un destinataire qui l'a demandé par courriel")
    );
}

#[tokio::test]
async fn a_server_that_goes_away_mid_run_loses_nothing() {
    let app = TestApp::spawn().await;
    let n = 80;
    let (_, d) = campaign_sent(&app, "Coupure", "coupure", n + 1).await;
    let mut imap = TestImap::start();
    let mut messages: Vec<Vec<u8>> = d[..n]
        .iter()
        .map(|s| fixture("mailto_unsubscribe.eml", s))
        .collect();
    // Over the size limit: recorded, set aside, not read.
    let mut big = fixture("postfix_5xx.eml", &d[n]);
    big.extend(std::iter::repeat_n(b'x', 2000));
    messages.push(big);
    imap.append_all(&messages).await;

    let smtp = TestSmtp::start();
    let scratch = TempDir::new();
    let mut s: Settings = TestApp::builder()
        .database_of(&app)
        .settings(&app.db, &smtp, &scratch);
    s.mailboxes = vec![imap.mailbox()];
    s.inbound.poll_interval_seconds = 1;
    s.inbound.claim_lease_seconds = 2;
    s.inbound.max_backoff_seconds = 1;
    s.inbound.max_message_bytes = 1024;
    s.check().unwrap();
    let pool = vocation::db::prepare(&s).unwrap();
    let (stop_tx, stop_rx) = watch::channel(false);
    let readers = vocation::mailbox::start(Arc::new(s), pool, stop_rx);

    let moved = "SELECT count(*) FROM inbound_messages WHERE moved_at IS NOT NULL";
    let processed = "SELECT count(*) FROM inbound_messages WHERE processed_at IS NOT NULL";
    wait_for("a few messages processed", 30, || app.count(processed) >= 3).await;
    imap.stop();
    let at_stop = app.count(processed);
    assert!(
        at_stop < messages.len() as i64,
        "the server went away before the end ({at_stop} processed)"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    imap.restart();
    wait_for("every message processed after the restart", 60, || {
        app.count(moved) == messages.len() as i64 && imap.count("INBOX") == 0
    })
    .await;

    assert_eq!(
        app.count("SELECT count(*) FROM inbound_messages"),
        messages.len() as i64
    );
    assert_eq!(imap.count("Traité"), n);
    assert_eq!(imap.count("Non reconnu"), 1);
    assert_eq!(
        app.count("SELECT count(*) FROM deliveries WHERE unsubscribed_at IS NOT NULL"),
        n as i64
    );
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'desinscription_courriel'"),
        n as i64,
        "each request processed once"
    );
    assert_eq!(
        app.text("SELECT kind FROM inbound_messages WHERE size_bytes > 1024")
            .as_deref(),
        Some("trop_grand")
    );
    assert_eq!(reason_of(&app, &d[n].email), None);

    stop_tx.send(true).unwrap();
    for r in readers {
        tokio::time::timeout(Duration::from_secs(15), r)
            .await
            .expect("readers stop")
            .unwrap();
    }
}

#[tokio::test]
async fn mailboxes_are_read_over_tls_with_the_configured_authority_only() {
    let app = TestApp::spawn().await;
    let (_, d) = campaign_sent(&app, "Chiffrement", "tls", 2).await;
    let imap = TestImap::start_tls();
    imap.append_all(&[
        fixture("mailto_unsubscribe.eml", &d[0]),
        fixture("mailto_unsubscribe.eml", &d[1]),
    ])
    .await;
    let (tls_port, ca) = imap.tls.clone().expect("TLS ports");
    let mut implicit = imap.mailbox();
    implicit.host = "localhost".into();
    implicit.port = tls_port;
    implicit.tls = vocation::config::ImapTls::Implicit;
    implicit.ca_file = Some(ca.clone());

    // A certificate nobody vouches for is refused: no login, no password sent.
    let mut untrusted = implicit.clone();
    untrusted.ca_file = None;
    assert!(vocation::mailbox::imap::connect(&untrusted).await.is_err());
    // STARTTLS on the plain port, with the authority.
    let mut starttls = imap.mailbox();
    starttls.host = "localhost".into();
    starttls.tls = vocation::config::ImapTls::Starttls;
    starttls.ca_file = Some(ca);
    let mut session = vocation::mailbox::imap::connect(&starttls)
        .await
        .expect("STARTTLS and login");
    assert_eq!(session.select("INBOX").await.unwrap().exists, 2);
    session.logout().await.unwrap();

    // The reader, over implicit TLS.
    let smtp = TestSmtp::start();
    let scratch = TempDir::new();
    let mut s: Settings = TestApp::builder()
        .database_of(&app)
        .settings(&app.db, &smtp, &scratch);
    s.mailboxes = vec![implicit];
    s.inbound.poll_interval_seconds = 1;
    s.check().unwrap();
    let pool = vocation::db::prepare(&s).unwrap();
    let (stop_tx, stop_rx) = watch::channel(false);
    let readers = vocation::mailbox::start(Arc::new(s), pool, stop_rx);
    wait_for("both requests read over TLS", 30, || {
        app.count("SELECT count(*) FROM inbound_messages WHERE moved_at IS NOT NULL") == 2
    })
    .await;
    assert_eq!(
        app.count("SELECT count(*) FROM deliveries WHERE unsubscribed_at IS NOT NULL"),
        2
    );
    assert_eq!(imap.count("Traité"), 2);
    stop_tx.send(true).unwrap();
    for r in readers {
        tokio::time::timeout(Duration::from_secs(15), r)
            .await
            .expect("readers stop")
            .unwrap();
    }
}

#[tokio::test]
async fn without_move_a_message_is_copied_flagged_and_expunged_alone() {
    let app = TestApp::spawn().await;
    let imap = TestImap::start();
    let stranger = |n: usize| {
        format!(
            "From: inconnu{n}@example.net\r\nTo: recrutement@vocation.test\r\n\
             Subject: Question {n}\r\n\r\nLe poste est-il ouvert ?\r\n"
        )
        .into_bytes()
    };
    let out_of_office = b"From: absent@example.net\r\nTo: bounce@vocation.test\r\n\
        Auto-Submitted: auto-replied\r\nSubject: Absent\r\n\r\nAbsent.\r\n"
        .to_vec();
    imap.append_all(&[stranger(1), out_of_office, stranger(2)])
        .await;
    let smtp = TestSmtp::start();
    let scratch = TempDir::new();
    let mut s: Settings = TestApp::builder()
        .database_of(&app)
        .settings(&app.db, &smtp, &scratch);
    s.mailboxes = vec![imap.mailbox()];
    s.check().unwrap();
    let pool = vocation::db::prepare(&s).unwrap();
    let mailbox = imap.mailbox();
    let reader = vocation::mailbox::Reader::new(Arc::new(s), pool, mailbox.clone());
    let mut session = vocation::mailbox::imap::connect(&mailbox).await.unwrap();
    for folder in ["Traité", "Non reconnu"] {
        vocation::mailbox::imap::ensure_folder(&mut session, folder)
            .await
            .unwrap();
    }
    // Twice: a second look at a folder already there must not fail.
    vocation::mailbox::imap::ensure_folder(&mut session, "Non reconnu")
        .await
        .unwrap();
    let selected = session.select("INBOX").await.unwrap();
    let counts = reader
        .pass(
            &mut session,
            i64::from(selected.uid_validity.unwrap()),
            false,
        )
        .await
        .unwrap();
    assert_eq!(counts.processed, 3);
    session.logout().await.unwrap();
    assert_eq!(imap.count("INBOX"), 0, "each copied message expunged");
    assert_eq!(imap.count("Traité"), 1);
    assert_eq!(imap.count("Non reconnu"), 2);
    // What the « Non reconnu » page lists.
    assert_eq!(
        app.count(
            "SELECT count(*) FROM inbound_messages WHERE raw IS NOT NULL \
             AND subject LIKE 'Question %' AND from_address LIKE 'inconnu%@example.net'"
        ),
        2
    );
}

#[tokio::test]
async fn temporary_failures_read_at_once_by_several_instances_are_all_counted() {
    use vocation::mailbox::classify::{Reference, Verdict};
    let app = TestApp::spawn().await;
    let (_, d) = campaign_sent(&app, "Comptage", "compte", 1).await;
    let smtp = TestSmtp::start();
    let scratch = TempDir::new();
    let mut s: Settings = TestApp::builder()
        .database_of(&app)
        .settings(&app.db, &smtp, &scratch);
    let n = 8;
    s.inbound.soft_bounce_limit = n;
    let s = Arc::new(s);
    let delivery = d[0].id;
    // Eight failures of one address, each claimed, then applied by eight instances at once.
    let ids: Vec<i64> = (1..=n)
        .map(|uid| {
            match vocation::mailbox::claim(&mut app.conn(), "compte", 1, uid, 100, 60, Utc::now())
                .unwrap()
            {
                vocation::mailbox::Claim::Ours { id, .. } => id,
                other => panic!("{other:?}"),
            }
        })
        .collect();
    let start = Arc::new(std::sync::Barrier::new(n as usize));
    let threads: Vec<_> = ids
        .into_iter()
        .map(|id| {
            let (s, start) = (s.clone(), start.clone());
            let mut conn = app.conn();
            std::thread::spawn(move || {
                let verdict = Verdict::Bounce {
                    reference: Reference {
                        delivery: Some(delivery),
                        ..Reference::default()
                    },
                    status: "4.2.2".into(),
                    permanent: false,
                };
                start.wait();
                vocation::mailbox::finish(
                    &mut conn,
                    id,
                    Some(&verdict),
                    None,
                    false,
                    &s,
                    &[],
                    Utc::now(),
                )
                .unwrap()
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), Some(true));
    }
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM soft_bounces WHERE delivery_id = {delivery}"
        )),
        i64::from(n)
    );
    // The eighth, whichever it was, saw the seven others and suppressed the address.
    assert_eq!(reason_of(&app, &d[0].email).as_deref(), Some("rebond"));
}
