//! Answers by mail, end to end (issue 20): mail to a candidate goes with their conversation
//! address as Reply-To; what comes back into a real Dovecot — a doctor's answer with
//! attachments, an out-of-office, a calendar Accept, an answer found by the Message-ID it
//! quotes, forgeries, mail from strangers — is read by the service itself and lands on the
//! candidate's page, the agenda, the « Non reconnu » page or nowhere; a recruiter answers from
//! the candidate's page, threaded; strangers' mail is attached by hand or dismissed.

use vocation::campaigns::links;
use vocation::db::enums::StaffRole;

use crate::campaigns::secret;
use crate::helpers::{tiny_pdf, Fields, TestApp};

/// The message at a staff form's field (`#ID-erreur`).
fn field_error(html: &str, id: &str) -> Option<String> {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse(&format!("#{id}-erreur")).unwrap();
    doc.select(&sel)
        .next()
        .map(|e| e.text().collect::<String>().trim().to_owned())
}
use crate::imap_server::TestImap;
use crate::mailbox::wait_for;

const FORGER_KEY: &[u8] = b"not the service's secret key, whatever an outsider may try with it";

/// A message with CRLF line ends, as mail travels.
fn crlf(text: &str) -> Vec<u8> {
    text.replace("\r\n", "\n")
        .replace('\n', "\r\n")
        .into_bytes()
}

fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[tokio::test]
async fn answers_land_on_the_candidate_page_and_recruiters_answer_threaded() {
    let imap = TestImap::start();
    let mailbox = imap.mailbox();
    let app = TestApp::builder()
        .recruiters(&["equipe@vocation.test"])
        .adjust(move |s| {
            s.mailboxes = vec![mailbox.clone()];
            s.inbound.poll_interval_seconds = 1;
        })
        .spawn()
        .await;

    // A doctor applies; the confirmation goes with her conversation address as Reply-To.
    let email = "claire.conversation@example.org";
    assert_eq!(
        app.apply(&Fields::valid().set("courriel", email))
            .await
            .status(),
        303
    );
    let candidate = app
        .text(&format!(
            "SELECT id::text FROM candidates WHERE email = '{email}'"
        ))
        .unwrap()
        .parse::<i64>()
        .unwrap();
    app.dispatch_all_pending_emails().await;
    let confirmation = app
        .smtp
        .received_by(email)
        .into_iter()
        .next()
        .expect("the confirmation");
    let reply_to = confirmation.header("Reply-To").expect("a Reply-To");
    let conversation =
        links::conversation_address("recrutement", "vocation.test", &secret(), candidate);
    assert!(reply_to.contains(&conversation), "{reply_to}");
    let confirmation_id = confirmation.header("Message-ID").unwrap();
    // Mail to staff has no conversation Reply-To.
    let notice = app
        .smtp
        .received_by("equipe@vocation.test")
        .into_iter()
        .next()
        .expect("the recruiters' notification");
    assert!(!notice
        .header("Reply-To")
        .unwrap_or_default()
        .contains("recrutement+"));

    // A recruiter in charge: the one who last moved her application.
    let recruiter = app.staff(StaffRole::Recruiter).await;
    let recruiter_email = app
        .text("SELECT email FROM staff_users WHERE role = 'recruteur' ORDER BY id DESC LIMIT 1")
        .unwrap();
    let sql = |q: String| {
        use diesel::RunQueryDsl;
        diesel::sql_query(q).execute(&mut app.conn()).unwrap()
    };
    sql(format!(
        "INSERT INTO stage_history (application_id, from_stage, to_stage, actor_id, created_at) \
         SELECT a.id, 'nouvelle', 'nouvelle', s.id, now() FROM applications a, staff_users s \
         WHERE a.candidate_id = {candidate} AND s.email = '{recruiter_email}'"
    ));
    // A meeting she is invited to: calendar answers go to her conversation address.
    let csrf = recruiter.csrf().await;
    let application = app
        .text(&format!(
            "SELECT id FROM applications WHERE candidate_id = {candidate}"
        ))
        .unwrap();
    let day = chrono::Utc::now().date_naive() + chrono::Duration::days(10);
    let r = recruiter
        .post_form(
            &format!("/recrutement/candidatures/{application}/rendez-vous"),
            &[
                ("csrf", &csrf),
                ("type", "entretien"),
                ("date", &day.format("%Y-%m-%d").to_string()),
                ("heure", "10:00"),
                ("duree", "60"),
                ("lieu", "Auch"),
                ("inviter", "oui"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let meeting = app.text("SELECT max(id) FROM meetings").unwrap();
    app.dispatch_all_pending_emails().await;
    let ics = app
        .smtp
        .received_by(email)
        .iter()
        .find_map(|m| {
            use mail_parser::MimeHeaders;
            m.parsed().parts.iter().find_map(|p| {
                p.content_type()
                    .filter(|ct| ct.subtype() == Some("calendar"))
                    .and_then(|_| p.text_contents())
                    .map(str::to_owned)
            })
        })
        .expect("the invitation's calendar");
    let raw = ics.replace("\r\n ", "");
    let organizer = raw
        .lines()
        .find(|l| l.starts_with("ORGANIZER"))
        .expect("an ORGANIZER");
    assert!(
        organizer.ends_with(&format!("mailto:{conversation}")),
        "{organizer}"
    );
    let installation = vocation::mail::installation_id(&mut app.conn()).unwrap();
    let uid = format!("rendez-vous-{meeting}.{installation}@vocation.test");

    let forged = links::conversation_address("recrutement", "vocation.test", FORGER_KEY, candidate);
    let pdf = tiny_pdf();
    let answer = format!(
        "From: Claire <{email}>\nTo: Recrutement <{conversation}>\nSubject: Re: Votre candidature\n\
         Message-ID: <reponse-1@example.org>\nIn-Reply-To: {confirmation_id}\n\
         MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b1\"\n\n\
         --b1\nContent-Type: text/plain; charset=utf-8\n\n\
         Bonjour,\nJe suis disponible mardi <script>alert(1)</script>.\nClaire\n\
         --b1\nContent-Type: application/pdf\nContent-Disposition: attachment; filename=\"CV Claire.pdf\"\n\
         Content-Transfer-Encoding: base64\n\n{}\n\
         --b1\nContent-Type: text/html\nContent-Disposition: attachment; filename=\"page.html\"\n\n\
         <script>alert(document.cookie)</script>\n--b1--\n",
        base64(&pdf)
    );
    let out_of_office = format!(
        "From: {email}\nTo: {conversation}\nSubject: Réponse automatique : Votre candidature\n\
         Auto-Submitted: auto-replied\n\nJe suis absente jusqu'au 12.\n"
    );
    let accept = format!(
        "From: {email}\nTo: {conversation}\nSubject: Accepté : Entretien\nMIME-Version: 1.0\n\
         Content-Type: text/calendar; method=REPLY; charset=utf-8\n\n\
         BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//Test//FR\nMETHOD:REPLY\nBEGIN:VEVENT\n\
         UID:{uid}\nDTSTAMP:20260101T100000Z\nSEQUENCE:0\n\
         ATTENDEE;PARTSTAT=ACCEPTED;CN=Claire:mailto:{email}\nEND:VEVENT\nEND:VCALENDAR\n"
    );
    // Without a token, but quoting our Message-ID, from her own address: hers.
    let by_reference = format!(
        "From: {email}\nTo: recrutement@vocation.test\nSubject: Re: Votre candidature\n\
         Message-ID: <reponse-2@example.org>\nReferences: {confirmation_id}\n\n\
         J'ajoute : mercredi aussi.\n"
    );
    // The same quote from someone else's address, a forged token, a stranger.
    let spoofed = format!(
        "From: intrus@example.net\nTo: recrutement@vocation.test\nSubject: Re: Votre candidature\n\
         In-Reply-To: {confirmation_id}\n\nJe prends sa place.\n"
    );
    let forged_token =
        format!("From: intrus@example.net\nTo: {forged}\nSubject: Changement\n\nFaux jeton.\n");
    let stranger = "From: Docteur Inconnu <inconnu@example.net>\nTo: recrutement@vocation.test\n\
         Subject: Poste à Auch ?\n\nBonjour, le poste est-il encore ouvert ?\n"
        .to_owned();
    let forged_accept = accept
        .replace(&conversation, &forged)
        .replace(&format!("From: {email}"), "From: intrus@example.net")
        .replace("ACCEPTED", "DECLINED");
    imap.append_all(&[
        crlf(&answer),
        crlf(&out_of_office),
        crlf(&accept),
        crlf(&by_reference),
        crlf(&spoofed),
        crlf(&forged_token),
        crlf(&stranger),
        crlf(&forged_accept),
    ])
    .await;
    wait_for("every message read and moved", 60, || {
        app.count("SELECT count(*) FROM inbound_messages WHERE moved_at IS NOT NULL") == 8
            && imap.count("INBOX") == 0
    })
    .await;

    // Her answers and her out-of-office are on her conversation; the calendar answer on the
    // meeting; the rest waits in « Non reconnu ».
    assert_eq!(imap.count("Traité"), 4);
    assert_eq!(imap.count("Non reconnu"), 4);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM candidate_messages WHERE candidate_id = {candidate} \
             AND direction = 'recu' AND NOT automatic"
        )),
        2
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM candidate_messages WHERE candidate_id = {candidate} \
             AND automatic AND read_at IS NOT NULL"
        )),
        1,
        "the out-of-office, recorded quietly"
    );
    assert_eq!(
        app.text(&format!("SELECT answer FROM meetings WHERE id = {meeting}"))
            .as_deref(),
        Some("accepte"),
        "the forged Decline changed nothing"
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM documents WHERE candidate_id = {candidate} \
             AND kind = 'piece_jointe' AND candidate_message_id IS NOT NULL"
        )),
        2
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM inbound_messages WHERE raw IS NOT NULL AND resolved_at IS NULL"
        ),
        4
    );
    // The recruiter in charge is told of each answer a person wrote, not of the automatic one.
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM outbound_emails WHERE kind = 'reply_notification' \
             AND recipient = '{recruiter_email}'"
        )),
        2
    );
    assert_eq!(
        app.count("SELECT count(*) FROM outbound_emails WHERE kind = 'reply_notification'"),
        2
    );

    // Her page shows the answers, safely, with the attachments; the meeting's answer too.
    let (status, html) = recruiter
        .get_html(&format!("/recrutement/candidats/{candidate}"))
        .await;
    assert_eq!(status, 200);
    assert!(
        html.contains("Je suis disponible mardi &lt;script&gt;"),
        "{html}"
    );
    assert!(!html.contains("<script>alert"));
    assert!(html.contains("mercredi aussi"));
    assert!(html.contains("Réponse automatique"));
    assert!(html.contains("CV Claire.pdf"));
    assert!(html.contains("Accepté par le médecin"));
    assert!(
        html.contains("2\u{a0}nouveaux messages"),
        "unread shown once"
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM candidate_messages WHERE candidate_id = {candidate} \
             AND read_at IS NULL"
        )),
        0,
        "read once the page was opened"
    );
    let (_, agenda) = recruiter.get_html("/recrutement/agenda").await;
    assert!(agenda.contains("Accepté par le médecin"), "{agenda}");

    // The attachments are served under our names, never as pages the browser would run.
    let html_attachment = app
        .text(&format!(
            "SELECT id::text FROM documents WHERE candidate_id = {candidate} \
             AND original_name = 'page.html'"
        ))
        .unwrap();
    let r = recruiter
        .get(&format!("/recrutement/documents/{html_attachment}"))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "application/octet-stream"
    );
    assert_eq!(
        r.headers()["content-disposition"].to_str().unwrap(),
        format!("attachment; filename=\"piece-jointe-{html_attachment}.bin\"")
    );
    assert!(r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("sandbox"));
    let pdf_attachment = app
        .text(&format!(
            "SELECT id::text FROM documents WHERE candidate_id = {candidate} \
             AND original_name = 'CV Claire.pdf'"
        ))
        .unwrap();
    let r = recruiter
        .get(&format!("/recrutement/documents/{pdf_attachment}"))
        .await;
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "application/pdf"
    );
    assert_eq!(r.bytes().await.unwrap().to_vec(), pdf);

    // An outsider cannot write in her name.
    let anonymous = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = anonymous
        .post(app.url(&format!("/recrutement/candidats/{candidate}/repondre")))
        .form(&[("objet", "Piège"), ("message", "Cliquez ici")])
        .send()
        .await
        .unwrap();
    assert!(
        matches!(r.status().as_u16(), 303 | 401 | 403),
        "{}",
        r.status()
    );
    assert_eq!(
        app.count("SELECT count(*) FROM outbound_emails WHERE kind = 'recruiter_reply'"),
        0
    );

    // The recruiter answers: an empty message is refused at its field, the subject kept; a
    // subject on two lines (a header injection attempt) is refused too.
    let path = format!("/recrutement/candidats/{candidate}/repondre");
    let r = recruiter
        .post_form(
            &path,
            &[
                ("csrf", &csrf),
                ("objet", "Re: Votre candidature"),
                ("message", "  "),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    let page = r.text().await.unwrap();
    assert!(field_error(&page, "reponse-message")
        .unwrap()
        .contains("Écrivez le message"));
    assert!(page.contains("value=\"Re: Votre candidature\""));
    let r = recruiter
        .post_form(
            &path,
            &[
                ("csrf", &csrf),
                ("objet", "Bonjour\r\nBcc: tous@example.net"),
                ("message", "Texte"),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    assert!(field_error(&r.text().await.unwrap(), "reponse-objet")
        .unwrap()
        .contains("une ligne"));
    // A message past 20,000 characters is refused at its field, whole, not cut.
    let long = "a".repeat(20_001);
    let r = recruiter
        .post_form(
            &path,
            &[("csrf", &csrf), ("objet", "Long"), ("message", &long)],
        )
        .await;
    assert_eq!(r.status(), 422);
    let page = r.text().await.unwrap();
    assert!(
        field_error(&page, "reponse-message")
            .unwrap()
            .contains("20\u{202f}001 caractères"),
        "{page}"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM outbound_emails WHERE kind = 'recruiter_reply'"),
        0
    );
    let r = recruiter
        .post_form(
            &path,
            &[
                ("csrf", &csrf),
                ("objet", "Re: Votre candidature"),
                ("message", "Bonjour,\nMardi 10 h nous convient.\nL'équipe"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    app.dispatch_all_pending_emails().await;
    let sent = app
        .smtp
        .received_by(email)
        .into_iter()
        .find(|m| m.subject() == "Re: Votre candidature")
        .expect("the answer");
    assert!(sent.text().contains("Mardi 10 h nous convient."));
    // Threaded with her last answer, and answerable again.
    assert_eq!(
        sent.header("In-Reply-To").as_deref(),
        Some("<reponse-2@example.org>")
    );
    let references = sent.header("References").unwrap();
    assert!(references.contains(&confirmation_id), "{references}");
    assert!(
        references.ends_with("<reponse-2@example.org>"),
        "{references}"
    );
    assert!(sent.header("Reply-To").unwrap().contains(&conversation));
    let (_, html) = recruiter
        .get_html(&format!(
            "/recrutement/candidats/{candidate}?voir=courriels"
        ))
        .await;
    assert!(html.contains("Réponse au candidat : « Re: Votre candidature »"));
    assert!(html.contains("Mardi 10 h nous convient."));

    // « Non reconnu »: the stranger's mail is listed; a wrong record is refused at its field
    // with what was typed; then attached by number.
    let (status, page) = recruiter
        .get_html("/recrutement/courriels-non-reconnus")
        .await;
    assert_eq!(status, 200);
    assert!(page.contains("Poste à Auch ?"));
    assert!(page.contains("inconnu@example.net"));
    let stranger_id = app
        .text("SELECT id::text FROM inbound_messages WHERE subject = 'Poste à Auch ?'")
        .unwrap();
    let attach = format!("/recrutement/courriels-non-reconnus/{stranger_id}/rattacher");
    let r = recruiter
        .post_form(&attach, &[("csrf", &csrf), ("candidat", "n° 999999")])
        .await;
    assert_eq!(r.status(), 422);
    let page = r.text().await.unwrap();
    assert!(field_error(&page, &format!("rattacher-{stranger_id}"))
        .unwrap()
        .contains("Aucune fiche n° 999999"));
    assert!(page.contains("value=\"n° 999999\""));
    let r = recruiter
        .post_form(
            &attach,
            &[("csrf", &csrf), ("candidat", &candidate.to_string())],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM candidate_messages WHERE candidate_id = {candidate} \
             AND staff_id IS NOT NULL AND body_text LIKE '%encore ouvert%'"
        )),
        1
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM inbound_messages WHERE id = {stranger_id} AND raw IS NULL \
             AND subject IS NULL AND candidate_id = {candidate}"
        )),
        1
    );
    // Attached twice (another tab): nothing more.
    let r = recruiter
        .post_form(
            &attach,
            &[("csrf", &csrf), ("candidat", &candidate.to_string())],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        app.count("SELECT count(*) FROM candidate_messages WHERE body_text LIKE '%encore ouvert%'"),
        1
    );
    // The spoofed one is dismissed: what was kept of it goes.
    let spoofed_id = app
        .text(
            "SELECT id::text FROM inbound_messages WHERE from_address = 'intrus@example.net' \
               AND subject = 'Re: Votre candidature'",
        )
        .unwrap();
    let r = recruiter
        .post_form(
            &format!("/recrutement/courriels-non-reconnus/{spoofed_id}/ecarter"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM inbound_messages WHERE id = {spoofed_id} AND raw IS NULL \
             AND from_address IS NULL AND resolved_at IS NOT NULL"
        )),
        1
    );
    // What waits longer than the retention days is forgotten by the daily job; not before.
    let waiting = "SELECT count(*) FROM inbound_messages WHERE raw IS NOT NULL";
    assert_eq!(
        app.count(waiting),
        2,
        "the forged token and the forged Decline"
    );
    let now = chrono::Utc::now();
    let forgotten = |at| vocation::mailbox::unrecognised::purge(&mut app.conn(), at, 30).unwrap();
    assert_eq!(forgotten(now + chrono::Duration::days(29)), 0);
    assert_eq!(forgotten(now + chrono::Duration::days(31)), 2);
    assert_eq!(app.count(waiting), 0);
    assert_eq!(
        app.count(
            "SELECT count(*) FROM inbound_messages WHERE from_address IS NOT NULL \
             OR subject IS NOT NULL OR excerpt IS NOT NULL"
        ),
        0
    );

    // The journal tells both in sentences.
    let admin = app.staff(StaffRole::Admin).await;
    let (_, journal) = admin.get_html("/admin/journal").await;
    assert!(
        journal.contains("a rattaché un courriel non reconnu"),
        "{journal}"
    );
    assert!(journal.contains("a écarté le courriel non reconnu"));
    assert!(journal.contains("a écrit au candidat depuis"));

    // Her right of access covers the mail exchanged: her answers, their attachments, ours.
    let held = vocation::privacy::personal_data(
        &mut app.conn(),
        candidate,
        chrono::Utc::now().date_naive(),
    )
    .unwrap()
    .unwrap();
    let messages = held["messages"].as_array().unwrap();
    assert!(messages.iter().any(|m| m["text"]
        .as_str()
        .unwrap()
        .contains("Je suis disponible mardi")
        && m["attachments"].as_array().unwrap().len() == 2));
    assert!(messages
        .iter()
        .any(|m| m["received"] == false && m["text"].as_str().unwrap().contains("Mardi 10 h")));

    // Erasing her record takes the conversation and the attachments' files with it.
    let files: Vec<String> = {
        use diesel::prelude::*;
        use vocation::db::schema::documents;
        documents::table
            .filter(documents::candidate_id.eq(candidate))
            .select(documents::storage_key)
            .load(&mut app.conn())
            .unwrap()
    };
    assert!(!files.is_empty());
    let erased = vocation::privacy::erase(&mut app.conn(), candidate, chrono::Utc::now()).unwrap();
    drop(erased);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM candidate_messages WHERE candidate_id = {candidate}"
        )),
        0
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM documents WHERE candidate_id = {candidate}"
        )),
        0
    );
}
