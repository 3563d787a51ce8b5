//! Sending, tightened (issue 20): every kind of outgoing message is DKIM-signed and verified by
//! an independent verifier (dkimpy, from PyPI: `.ci/run` installs it), the headers that keep
//! automatic answers quiet, the EHLO name, meeting requests read by an independent calendar
//! parser (Python's `icalendar`), IDs unique per installation, the sender's alignment with the
//! signing domain, and the test send built as the campaign's messages.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use chrono::Utc;
use openssl::base64;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use serde_json::Value;
use vocation::campaigns::runs::{self, CampaignInput, Schedule};
use vocation::db::enums::StaffRole;
use vocation::mail::dkim;

use crate::campaigns::{seed_list_on, sender_settings, start_sender};
use crate::helpers::{field_error, hidden_value, Fields, ReceivedMail, TestApp, RECRUITERS};
use crate::smtp_server::SmtpServer;

/// A fresh RSA-2048 key written as a PEM file, and its DNS record (`v=DKIM1; k=rsa; p=…`),
/// made here with OpenSSL, not by the service's signer.
struct Key {
    path: PathBuf,
    record: String,
    public: PKey<openssl::pkey::Public>,
}

impl Drop for Key {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn dkim_key() -> Key {
    let rsa = Rsa::generate(2048).unwrap();
    let path = std::env::temp_dir().join(format!("dkim-{}.pem", uuid::Uuid::new_v4().simple()));
    std::fs::write(&path, rsa.private_key_to_pem().unwrap()).unwrap();
    let der = rsa.public_key_to_der().unwrap();
    Key {
        path,
        record: format!("v=DKIM1; k=rsa; p={}", base64::encode_block(&der)),
        public: PKey::public_key_from_der(&der).unwrap(),
    }
}

/// dkimpy's verification of messages given as a JSON list of base64 texts, the key record
/// given instead of a DNS answer; one line per message.
const DKIMPY: &str = r#"
import sys, json, base64, dkim
record = sys.argv[1].encode()
def dns(name, timeout=5):
    if name != b"vocation._domainkey.vocation.test.":
        return None
    return record
for message in json.load(sys.stdin):
    print("ok" if dkim.verify(base64.b64decode(message), dnsfunc=dns) else "fail")
"#;

fn python(script: &str, args: &[&str], input: &[u8]) -> String {
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 (with dkimpy and icalendar from PyPI, see .ci/run)");
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "python: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Whether dkimpy finds each message's signature valid (one Python process for all).
fn dkimpy_verifies(messages: &[&[u8]], key: &Key) -> Vec<bool> {
    let input: Vec<String> = messages.iter().map(|m| base64::encode_block(m)).collect();
    let out = python(
        DKIMPY,
        &[&key.record],
        serde_json::to_string(&input).unwrap().as_bytes(),
    );
    let verdicts: Vec<bool> = out
        .lines()
        .map(|l| match l {
            "ok" => true,
            "fail" => false,
            other => panic!("dkimpy said {other}"),
        })
        .collect();
    assert_eq!(verdicts.len(), messages.len());
    verdicts
}

/// The message with the value of its first `name` header replaced.
fn with_header_replaced(message: &[u8], name: &str, value: &str) -> Vec<u8> {
    let text = String::from_utf8(message.to_vec()).unwrap();
    let start = text
        .find(&format!("\r\n{name}: "))
        .unwrap_or_else(|| panic!("no {name} header"))
        + 2;
    let mut end = start + text[start..].find("\r\n").unwrap();
    // Folded continuation lines belong to the header.
    while text[end + 2..].starts_with([' ', '\t']) {
        end += 2 + text[end + 2..].find("\r\n").unwrap();
    }
    format!("{}{name}: {value}{}", &text[..start], &text[end..]).into_bytes()
}

/// The message with one more header, at the top or at the bottom of the header section.
fn with_header_added(message: &[u8], header: &str, on_top: bool) -> Vec<u8> {
    let text = String::from_utf8(message.to_vec()).unwrap();
    if on_top {
        format!("{header}\r\n{text}").into_bytes()
    } else {
        let end = text.find("\r\n\r\n").unwrap();
        format!("{}\r\n{header}{}", &text[..end], &text[end..]).into_bytes()
    }
}

/// The signature holds as sent, and breaks when From or Subject is changed or a copy of
/// From, Subject (or the list headers, for list mail) is added, on top or at the bottom.
fn assert_signature_holds_and_tampering_breaks_it(message: &[u8], key: &Key, what: &str) {
    let mut tampered = vec![
        (
            "From changed",
            with_header_replaced(message, "From", "Banque <securite@vocation.test>"),
        ),
        (
            "Subject changed",
            with_header_replaced(message, "Subject", "Votre compte est suspendu"),
        ),
    ];
    for on_top in [true, false] {
        tampered.push((
            "From added",
            with_header_added(message, "From: Banque <securite@vocation.test>", on_top),
        ));
        tampered.push((
            "Subject added",
            with_header_added(message, "Subject: Urgent", on_top),
        ));
    }
    if String::from_utf8_lossy(message).contains("\r\nList-Unsubscribe: ") {
        for on_top in [true, false] {
            tampered.push((
                "List-Unsubscribe added",
                with_header_added(
                    message,
                    "List-Unsubscribe: <https://piege.example/desinscription>",
                    on_top,
                ),
            ));
            tampered.push((
                "List-Unsubscribe-Post added",
                with_header_added(
                    message,
                    "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
                    on_top,
                ),
            ));
        }
    }
    let mut all: Vec<&[u8]> = vec![message];
    all.extend(tampered.iter().map(|(_, bytes)| bytes.as_slice()));
    let verdicts = dkimpy_verifies(&all, key);
    assert!(verdicts[0], "{what}: dkimpy refuses it");
    for ((how, bytes), accepted) in tampered.iter().zip(&verdicts[1..]) {
        assert!(!accepted, "{what}: dkimpy accepts it with {how}");
        // The signature itself breaks (dkimpy also refuses two From headers on its own).
        assert_eq!(
            dkim::verify(bytes, &key.public),
            Err(dkim::DkimError::BadSignature),
            "{what}: {how}"
        );
    }
}

/// An app whose outgoing mail is signed with `key` for vocation.test.
async fn signing_app(key: &Key) -> TestApp {
    let path = key.path.clone();
    TestApp::builder()
        .adjust(move |s| {
            s.mail.dkim.selector = "vocation".into();
            s.mail.dkim.domain = "vocation.test".into();
            s.mail.dkim.private_key_file = path.clone();
        })
        .spawn()
        .await
}

fn kind_of(app: &TestApp, mail: &ReceivedMail) -> String {
    let id = mail.header("Message-ID").expect("a Message-ID");
    app.text(&format!(
        "SELECT kind FROM outbound_emails WHERE message_id = '{}'",
        id.replace('\'', "")
    ))
    .unwrap_or_else(|| panic!("no outbox row for {id}"))
}

fn signed_headers(mail: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(mail);
    let start = text.find("DKIM-Signature:").unwrap() + "DKIM-Signature:".len();
    let mut end = start + text[start..].find("\r\n").unwrap();
    while text[end + 2..].starts_with([' ', '\t']) {
        end += 2 + text[end + 2..].find("\r\n").unwrap();
    }
    let tags = dkim::tags(&text[start..end]).unwrap();
    tags.iter()
        .find(|(n, _)| n == "h")
        .unwrap()
        .1
        .split(':')
        .map(str::to_ascii_lowercase)
        .collect()
}

/// A communication member saves a campaign template through the editor; returns its id.
async fn saved_template(staff: &crate::helpers::StaffClient) -> String {
    saved_template_with(staff, "").await
}

async fn saved_template_with(staff: &crate::helpers::StaffClient, preheader: &str) -> String {
    let (_, html) = staff.get_html("/campagnes/modeles").await;
    let csrf = hidden_value(&html, "csrf");
    let r = staff
        .post_form(
            "/campagnes/modeles/nouveau",
            &[
                ("csrf", &csrf),
                ("nom", "Internes"),
                ("apercu", preheader),
                ("objet", "Bonjour {{prenom}}, le Gers recrute"),
                (
                    "texte",
                    "Bonjour {{prenom}} {{nom}},\n\nLe département salarie des médecins.\n\
                     Candidatez : {{lien_candidature}}",
                ),
                ("html", ""),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    r.headers()["location"]
        .to_str()
        .unwrap()
        .trim_start_matches("/campagnes/modeles/")
        .split(['?', '/'])
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn every_kind_of_single_message_is_signed_verified_by_dkimpy_and_headed_for_its_kind() {
    let key = dkim_key();
    let app = signing_app(&key).await;

    // A confirmation to the candidate and a notification to the recruiters.
    assert_eq!(app.apply(&Fields::valid()).await.status(), 303);
    let application = app.text("SELECT id FROM applications").unwrap();
    // An invitation.
    let recruiter = app.staff(StaffRole::Recruiter).await;
    let csrf = recruiter.csrf().await;
    let day = (Utc::now().date_naive() + chrono::Duration::days(30))
        .format("%Y-%m-%d")
        .to_string();
    let r = recruiter
        .post_form(
            &format!("/recrutement/candidatures/{application}/rendez-vous"),
            &[
                ("csrf", &csrf),
                ("type", "entretien"),
                ("date", &day),
                ("heure", "10:00"),
                ("duree", "45"),
                ("inviter", "oui"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    // A recruiter's answer written on the candidate's page.
    let candidate = app.text("SELECT id FROM candidates").unwrap();
    let r = recruiter
        .post_form(
            &format!("/recrutement/candidats/{candidate}/repondre"),
            &[
                ("csrf", &csrf),
                ("objet", "Votre candidature"),
                ("message", "Bonjour, pouvons-nous vous appeler demain ?"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    // A private link asked on « Mes données ».
    let (_, html) = app.get_html("/mes-donnees").await;
    let token = hidden_value(&html, "csrf");
    let r = app
        .client
        .post(app.url("/mes-donnees"))
        .form(&[
            ("csrf", token.as_str()),
            ("courriel", "claire.martin@exemple.fr"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // The daily digest.
    let mut settings = vocation::config::Settings::load_for("test").unwrap();
    settings.http.public_url = "http://vocation.test".into();
    settings.recruiters.notify = vec![RECRUITERS.to_owned()];
    let queued = vocation::pipeline::followups::queue_daily_digest(
        &mut app.conn(),
        &settings,
        Utc::now().date_naive(),
    )
    .unwrap();
    assert_eq!(queued, 1);
    // The test send of a campaign template.
    let comms = app.staff(StaffRole::Communication).await;
    let template = saved_template(&comms).await;
    let (_, html) = comms.get_html("/campagnes/modeles").await;
    let csrf = hidden_value(&html, "csrf");
    let r = comms
        .post_form(
            &format!("/campagnes/modeles/{template}/essai"),
            &[("csrf", &csrf), ("destinataire", "moi@cds32.test")],
        )
        .await;
    assert_eq!(r.status(), 200);

    app.dispatch_all_pending_emails().await;
    let received = app.smtp.received();
    let mut kinds: Vec<String> = received.iter().map(|m| kind_of(&app, m)).collect();
    kinds.sort();
    kinds.dedup();
    assert_eq!(
        kinds,
        [
            "application_confirmation",
            "daily_digest",
            "essai_campagne",
            "meeting_invitation",
            "personal_data_link",
            "recruiter_notification",
            "recruiter_reply",
        ]
    );

    for mail in &received {
        let kind = kind_of(&app, mail);
        assert!(
            mail.data.starts_with(b"DKIM-Signature: v=1; a=rsa-sha256;"),
            "{kind} is not signed"
        );
        let verified = dkim::verify(&mail.data, &key.public).expect("our verifier agrees");
        assert_eq!(verified.domain, "vocation.test");
        let signed = signed_headers(&mail.data);
        for (name, times) in [
            ("from", 2),
            ("subject", 2),
            ("list-unsubscribe", 2),
            ("list-unsubscribe-post", 2),
            ("content-type", 1),
            ("mime-version", 1),
            ("auto-submitted", 1),
        ] {
            assert_eq!(
                signed.iter().filter(|h| *h == name).count(),
                times,
                "{kind}: {name} in h={signed:?}"
            );
        }
        assert_signature_holds_and_tampering_breaks_it(&mail.data, &key, &kind);

        let automatic = matches!(
            kind.as_str(),
            "application_confirmation"
                | "recruiter_notification"
                | "daily_digest"
                | "personal_data_link"
        );
        assert_eq!(
            mail.header("Auto-Submitted").as_deref(),
            automatic.then_some("auto-generated"),
            "{kind}"
        );
        let bulk = kind == "essai_campagne";
        assert_eq!(
            mail.header("Precedence").as_deref(),
            bulk.then_some("bulk"),
            "{kind}"
        );
        assert_eq!(
            mail.header("X-Auto-Response-Suppress").as_deref(),
            bulk.then_some("OOF, AutoReply"),
            "{kind}"
        );
    }

    // The test send: as a campaign's message, « [Essai] » in the subject only, and links that
    // stand for no delivery.
    let essai = received
        .iter()
        .find(|m| kind_of(&app, m) == "essai_campagne")
        .unwrap();
    assert_eq!(essai.subject(), "[Essai] Bonjour Camille, le Gers recrute");
    let mailto = vocation::campaigns::sending::unsubscribe_mailto(&settings);
    assert_eq!(
        essai
            .header("List-Unsubscribe")
            .unwrap()
            .replace("\r\n", ""),
        format!(
            "<http://vocation.test/desinscription/essai>, \
             <mailto:{mailto}?subject=desinscription-essai>"
        )
    );
    assert_eq!(
        essai.header("List-Unsubscribe-Post").as_deref(),
        Some("List-Unsubscribe=One-Click")
    );
    let list_id = essai.header("List-Id").unwrap().replace("\r\n", "");
    assert!(list_id.ends_with(" <campagnes.vocation.test>"), "{list_id}");
    assert!(!essai.header("List-Id").unwrap().contains("Internes"));

    // Every message greeted the relay with the public host, not the machine's name.
    let hellos = app.smtp.hello_names();
    assert!(!hellos.is_empty());
    assert!(hellos.iter().all(|h| h == "vocation.test"), "{hellos:?}");
}

fn install_part(app: &TestApp) -> String {
    app.text("SELECT installation_part()").unwrap()
}

#[tokio::test]
async fn campaign_messages_are_signed_oversigned_kept_from_automatic_answers_and_ided_per_installation(
) {
    let key = dkim_key();
    let app = TestApp::spawn().await;
    let smtp = SmtpServer::start();
    let list = seed_list_on(&mut app.conn(), "Signées", "signee", 2);
    let template = {
        use diesel::prelude::*;
        #[derive(QueryableByName)]
        struct Id {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            id: i64,
        }
        diesel::sql_query(
            "INSERT INTO mail_templates (name, subject, body_text, body_html, preheader) VALUES \
             ('Signées', 'Bonjour {{prenom}}', 'Le Gers recrute : {{lien_candidature}}', '', \
              'Salarié <b>du</b> département') RETURNING id",
        )
        .get_result::<Id>(&mut app.conn())
        .unwrap()
        .id
    };
    let campaign = runs::create(
        &mut app.conn(),
        &CampaignInput {
            name: "Nom interne de la campagne".into(),
            template_id: template,
            list_ids: vec![list],
            sender_name: "Recrutement CDS32".into(),
            sender_email: "recrutement@vocation.test".into(),
            rate_per_minute: 6000,
            schedule: Schedule::Now,
        },
        None,
    )
    .unwrap();
    runs::schedule(&mut app.conn(), campaign, Utc::now(), None).unwrap();
    let mut settings = sender_settings(&app, &smtp);
    settings.mail.dkim.selector = "vocation".into();
    settings.mail.dkim.domain = "vocation.test".into();
    settings.mail.dkim.private_key_file = key.path.clone();
    let sender = start_sender(settings);
    assert_eq!(smtp.wait_for(2, Duration::from_secs(20)).await, 2);
    sender.shutdown().await;

    let part = install_part(&app);
    assert_eq!(part.len(), 32);
    for received in smtp.messages() {
        assert_signature_holds_and_tampering_breaks_it(&received.data, &key, "campaign");
        assert_eq!(received.header("Precedence").as_deref(), Some("bulk"));
        assert_eq!(
            received.header("X-Auto-Response-Suppress").as_deref(),
            Some("OOF, AutoReply")
        );
        assert_eq!(received.header("Auto-Submitted"), None);
        // The preview text, escaped, hidden at the very top of the HTML; not in the text.
        let parsed = mail_parser::MessageParser::default()
            .parse(&received.data)
            .unwrap();
        let html = parsed.body_html(0).unwrap();
        let body = &html[html.find("<body").unwrap()..];
        let body = &body[body.find('>').unwrap() + 1..];
        assert!(
            body.starts_with("<div style=\"display:none;")
                && body.contains("Salarié &lt;b&gt;du&lt;/b&gt; département"),
            "{body}"
        );
        assert!(!parsed.body_text(0).unwrap().contains("Salarié"));
        let list_id = received.header("List-Id").unwrap();
        assert!(list_id.ends_with("<campagnes.vocation.test>"), "{list_id}");
        assert!(!list_id.contains("interne"), "{list_id}");
        let id = received.message_id().unwrap();
        assert!(
            id.starts_with("<campagne.") && id.ends_with(&format!(".{part}@vocation.test>")),
            "{id}"
        );
    }
    let hellos = smtp.hello_names();
    assert!(!hellos.is_empty());
    assert!(hellos.iter().all(|h| h == "vocation.test"), "{hellos:?}");

    // Another database (here a copy of the same template database, holding the same
    // installation row, as a staging copy would): another part, so other IDs.
    let other = TestApp::spawn().await;
    assert_ne!(install_part(&other), part);
    assert_eq!(install_part(&app), part, "fixed for a database");
}

/// Python's `icalendar` reads the text/calendar part of the multipart/alternative.
const ICALENDAR: &str = r#"
import sys, json, email, icalendar
message = email.message_from_bytes(sys.stdin.buffer.read())
out = {"attachment": False}
for part in message.walk():
    if part.get_content_type() == "multipart/alternative":
        for sub in part.get_payload():
            if sub.get_content_type() == "text/calendar":
                out["part_method"] = sub.get_param("method")
                ics = sub.get_payload(decode=True)
    elif part.get_filename() == "invitation.ics":
        out["attachment"] = part.get_payload(decode=True) == ics
cal = icalendar.Calendar.from_ical(ics)
event = list(cal.walk("VEVENT"))[0]
organizer, attendee = event.get("ORGANIZER"), event.get("ATTENDEE")
out.update({
    "method": str(cal.get("METHOD")),
    "prodid": str(cal.get("PRODID")),
    "uid": str(event.get("UID")),
    "sequence": int(event.get("SEQUENCE")),
    "status": str(event.get("STATUS")),
    "start": event.decoded("DTSTART").isoformat(),
    "organizer": str(organizer),
    "organizer_params": dict(organizer.params),
    "attendee": str(attendee),
    "attendee_params": dict(attendee.params),
})
print(json.dumps(out))
"#;

fn calendar_of(mail: &ReceivedMail) -> Value {
    serde_json::from_str(&python(ICALENDAR, &[], &mail.data)).unwrap()
}

#[tokio::test]
async fn invitations_are_meeting_requests_updated_and_cancelled_with_their_sequence() {
    let app = TestApp::spawn().await;
    assert_eq!(app.apply(&Fields::valid()).await.status(), 303);
    app.dispatch_all_pending_emails().await;
    let application = app.text("SELECT id FROM applications").unwrap();
    let recruiter = app.staff(StaffRole::Recruiter).await;
    let csrf = recruiter.csrf().await;
    let day = Utc::now().date_naive() + chrono::Duration::days(40);
    let r = recruiter
        .post_form(
            &format!("/recrutement/candidatures/{application}/rendez-vous"),
            &[
                ("csrf", &csrf),
                ("type", "entretien"),
                ("date", &day.format("%Y-%m-%d").to_string()),
                ("heure", "10:00"),
                ("duree", "45"),
                ("lieu", "Salle 2"),
                ("inviter", "oui"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let meeting = app.text("SELECT id FROM meetings").unwrap();
    app.dispatch_all_pending_emails().await;
    let invitations = |app: &TestApp| {
        app.smtp
            .received_by("claire.martin@exemple.fr")
            .into_iter()
            .filter(|m| {
                m.parsed()
                    .header_raw("Content-Type")
                    .is_some_and(|c| c.contains("multipart/mixed"))
            })
            .collect::<Vec<_>>()
    };
    let sent = invitations(&app);
    assert_eq!(sent.len(), 1);
    let first = calendar_of(&sent[0]);
    assert_eq!(first["method"], "REQUEST");
    assert_eq!(first["part_method"], "REQUEST");
    assert_eq!(first["attachment"], true);
    assert_eq!(first["sequence"], 0);
    assert_eq!(first["status"], "CONFIRMED");
    assert!(
        first["prodid"]
            .as_str()
            .unwrap()
            .starts_with("-//Vocation//"),
        "{first}"
    );
    let part = install_part(&app);
    assert_eq!(
        first["uid"],
        format!("rendez-vous-{meeting}.{part}@vocation.test")
    );
    let organisation = vocation::config::Settings::load_for("test")
        .unwrap()
        .organisation;
    assert_eq!(
        first["organizer"].as_str().unwrap().to_ascii_lowercase(),
        format!("mailto:{}", organisation.contact_email.to_ascii_lowercase())
    );
    assert_eq!(first["organizer_params"]["CN"], organisation.service);
    assert_eq!(
        first["attendee"].as_str().unwrap().to_ascii_lowercase(),
        "mailto:claire.martin@exemple.fr"
    );
    let params = &first["attendee_params"];
    assert_eq!(params["CN"], "Claire Martin");
    assert_eq!(params["ROLE"], "REQ-PARTICIPANT");
    assert_eq!(params["PARTSTAT"], "NEEDS-ACTION");
    assert_eq!(params["RSVP"], "TRUE");

    // Outsiders and other roles change nothing.
    let edit = format!("/recrutement/rendez-vous/{meeting}/modifier");
    let moving = format!("/recrutement/rendez-vous/{meeting}/deplacer");
    let cancelling = format!("/recrutement/rendez-vous/{meeting}/annuler");
    let r = app
        .client
        .post(app.url(&cancelling))
        .form(&[("csrf", "x"), ("prevenir", "oui")])
        .send()
        .await
        .unwrap();
    assert!(
        r.status().is_redirection() || r.status() == 403,
        "{}",
        r.status()
    );
    let comms = app.staff(StaffRole::Communication).await;
    let comms_csrf = comms.csrf().await;
    let r = comms
        .post_form(&cancelling, &[("csrf", &comms_csrf), ("prevenir", "oui")])
        .await;
    assert_eq!(r.status(), 403);
    let r = recruiter
        .post_form(&cancelling, &[("csrf", "faux"), ("prevenir", "oui")])
        .await;
    assert_eq!(r.status(), 403);
    assert_eq!(
        app.text("SELECT sequence::text || coalesce(cancelled_at::text, '') FROM meetings")
            .unwrap(),
        "0"
    );

    // The page shows the meeting as it stands; bad input is kept, at its field, with 422.
    let (status, html) = recruiter.get_html(&edit).await;
    assert_eq!(status, 200);
    assert!(html.contains("value=\"10:00\"") && html.contains("value=\"Salle 2\""));
    let later = day + chrono::Duration::days(2);
    let later_text = later.format("%Y-%m-%d").to_string();
    let r = recruiter
        .post_form(
            &moving,
            &[
                ("csrf", &csrf),
                ("date", &later_text),
                ("heure", "midi"),
                ("duree", "une éternité"),
                ("lieu", "Salle 3"),
                ("prevenir", "oui"),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(field_error(&html, "heure").unwrap().contains("HH:MM"));
    assert!(field_error(&html, "duree")
        .unwrap()
        .contains("Durée illisible"));
    assert!(html.contains("value=\"midi\"") && html.contains("value=\"Salle 3\""));
    assert_eq!(
        app.text("SELECT sequence::text FROM meetings").unwrap(),
        "0"
    );

    // Moved: the same UID, SEQUENCE 1, still a REQUEST, at the new time.
    let r = recruiter
        .post_form(
            &moving,
            &[
                ("csrf", &csrf),
                ("date", &later_text),
                ("heure", "15:30"),
                ("duree", "1 h"),
                ("lieu", "Salle 3"),
                ("prevenir", "oui"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    app.dispatch_all_pending_emails().await;
    let sent = invitations(&app);
    assert_eq!(sent.len(), 2);
    assert!(
        sent[1].subject().starts_with("Modifié : Entretien"),
        "{}",
        sent[1].subject()
    );
    let moved = calendar_of(&sent[1]);
    assert_eq!(moved["method"], "REQUEST");
    assert_eq!(moved["uid"], first["uid"]);
    assert_eq!(moved["sequence"], 1);
    assert!(
        moved["start"].as_str().unwrap().starts_with(&later_text),
        "{moved}"
    );

    // Cancelled: METHOD:CANCEL, SEQUENCE 2, the same UID; then it can no longer change.
    let r = recruiter
        .post_form(&cancelling, &[("csrf", &csrf), ("prevenir", "oui")])
        .await;
    assert_eq!(r.status(), 303);
    app.dispatch_all_pending_emails().await;
    let sent = invitations(&app);
    assert_eq!(sent.len(), 3);
    assert!(sent[2].subject().starts_with("Annulé : Entretien"));
    let cancelled = calendar_of(&sent[2]);
    assert_eq!(cancelled["method"], "CANCEL");
    assert_eq!(cancelled["part_method"], "CANCEL");
    assert_eq!(cancelled["uid"], first["uid"]);
    assert_eq!(cancelled["sequence"], 2);
    assert_eq!(cancelled["status"], "CANCELLED");
    let r = recruiter
        .post_form(&cancelling, &[("csrf", &csrf), ("prevenir", "oui")])
        .await;
    assert_eq!(r.status(), 409);
    app.dispatch_all_pending_emails().await;
    assert_eq!(invitations(&app).len(), 3, "nothing more sent");
    let candidate = app.text("SELECT candidate_id FROM applications").unwrap();
    let (_, html) = recruiter
        .get_html(&format!("/recrutement/candidats/{candidate}"))
        .await;
    assert!(html.contains("Annulé :"));
    // « Mes données » shows it called off too.
    let scratch = crate::helpers::TempDir::new();
    let settings = TestApp::builder().settings(&app.db, &app.smtp, &scratch);
    let link = vocation::privacy::link_url_until(
        &settings,
        candidate.parse().unwrap(),
        Utc::now() + chrono::Duration::hours(1),
    );
    let (status, html) = app
        .get_html(link.trim_start_matches("http://vocation.test"))
        .await;
    assert_eq!(status, 200);
    assert!(html.contains("Annulé : Entretien"), "{html}");

    // Without « prévenir », nothing goes to the candidate.
    let r = recruiter
        .post_form(
            &format!("/recrutement/candidatures/{application}/rendez-vous"),
            &[
                ("csrf", &csrf),
                ("type", "visite"),
                ("date", &day.format("%Y-%m-%d").to_string()),
                ("heure", "09:00"),
                ("duree", "2 h"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let second = app
        .text("SELECT id FROM meetings ORDER BY id DESC LIMIT 1")
        .unwrap();
    let r = recruiter
        .post_form(
            &format!("/recrutement/rendez-vous/{second}/annuler"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 303);
    app.dispatch_all_pending_emails().await;
    assert_eq!(invitations(&app).len(), 3);
}

#[tokio::test]
async fn a_campaign_sender_outside_the_signing_domain_is_refused_at_the_field() {
    let key = dkim_key();
    let app = signing_app(&key).await;
    let comms = app.staff(StaffRole::Communication).await;
    let template = saved_template(&comms).await;
    let list = seed_list_on(&mut app.conn(), "Alignés", "aligne", 1).to_string();
    let (_, html) = comms.get_html("/campagnes/nouvelle").await;
    let csrf = hidden_value(&html, "csrf");
    let fields = |address: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("nom", "Internes – décembre".to_owned()),
            ("modele", template.clone()),
            ("expediteur_nom", "Recrutement CDS32".to_owned()),
            ("expediteur_adresse", address.to_owned()),
            ("debit", "600".to_owned()),
            ("envoi", "maintenant".to_owned()),
            ("date", String::new()),
            ("heure", String::new()),
            ("cron", String::new()),
            ("listes", list.clone()),
        ]
    };
    let post = |fields: Vec<(&'static str, String)>| {
        let comms = &comms;
        async move {
            let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            comms.post_form("/campagnes/nouvelle", &pairs).await
        }
    };
    for foreign in [
        "contact@autre-domaine.fr",
        "contact@vocation.test.evil.example",
        "contact@pasvocation.test",
    ] {
        let r = post(fields(foreign)).await;
        assert_eq!(r.status(), 422, "{foreign}");
        let html = r.text().await.unwrap();
        let message = field_error(&html, "expediteur_adresse").expect("a message at the field");
        assert!(
            message.contains("signés pour le domaine vocation.test"),
            "{message}"
        );
        assert!(html.contains(&format!("value=\"{foreign}\"")), "value kept");
        assert!(
            html.contains("value=\"Internes – décembre\""),
            "values kept"
        );
    }
    assert_eq!(app.count("SELECT count(*) FROM campaigns"), 0);
    // The signing domain itself and its subdomains align.
    for aligned in ["recrutement@vocation.test", "rh@campagnes.vocation.test"] {
        let r = post(fields(aligned)).await;
        assert_eq!(r.status(), 303, "{aligned}: {}", r.text().await.unwrap());
    }
    assert_eq!(app.count("SELECT count(*) FROM campaigns"), 2);

    // Without a DKIM key, any sender domain is accepted (nothing is signed).
    let plain = TestApp::spawn().await;
    let comms = plain.staff(StaffRole::Communication).await;
    let template = saved_template(&comms).await;
    let list = seed_list_on(&mut plain.conn(), "Libres", "libre", 1).to_string();
    let (_, html) = comms.get_html("/campagnes/nouvelle").await;
    let csrf = hidden_value(&html, "csrf");
    let r = comms
        .post_form(
            "/campagnes/nouvelle",
            &[
                ("csrf", &csrf),
                ("nom", "Libre"),
                ("modele", &template),
                ("expediteur_nom", "Recrutement"),
                ("expediteur_adresse", "contact@autre-domaine.fr"),
                ("debit", "600"),
                ("envoi", "maintenant"),
                ("date", ""),
                ("heure", ""),
                ("cron", ""),
                ("listes", &list),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
}

#[tokio::test]
async fn a_template_preview_text_is_kept_on_one_bounded_line_and_goes_with_the_test_send() {
    let app = TestApp::spawn().await;
    let comms = app.staff(StaffRole::Communication).await;
    // Too long: refused at its field, with everything typed kept.
    let (_, html) = comms.get_html("/campagnes/modeles").await;
    let csrf = hidden_value(&html, "csrf");
    let long = "é".repeat(201);
    let r = comms
        .post_form(
            "/campagnes/modeles/nouveau",
            &[
                ("csrf", &csrf),
                ("nom", "Trop long"),
                ("apercu", &long),
                ("objet", "Bonjour"),
                ("texte", "Le Gers recrute."),
                ("html", ""),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(field_error(&html, "apercu").unwrap().contains("200"));
    assert!(html.contains(&long) && html.contains("value=\"Trop long\""));
    assert_eq!(app.count("SELECT count(*) FROM mail_templates"), 0);

    // Pasted over several lines: one line.
    let template = saved_template_with(&comms, "  Exercez   salarié\r\n dans le Gers  ").await;
    assert_eq!(
        app.text(&format!(
            "SELECT preheader FROM mail_templates WHERE id = {template}"
        ))
        .unwrap(),
        "Exercez salarié dans le Gers"
    );
    let (_, html) = comms.get_html("/campagnes/modeles").await;
    let csrf = hidden_value(&html, "csrf");
    let r = comms
        .post_form(
            &format!("/campagnes/modeles/{template}/essai"),
            &[("csrf", &csrf), ("destinataire", "moi@cds32.test")],
        )
        .await;
    assert_eq!(r.status(), 200);
    app.dispatch_all_pending_emails().await;
    let mail = &app.smtp.received_by("moi@cds32.test")[0];
    let html = mail.html();
    assert!(
        html.contains("mso-hide:all;\">Exercez salarié dans le Gers&#8199;"),
        "{html}"
    );
    assert!(!mail.text().contains("Exercez salarié"));
}
