//! Templates written by staff cannot crash or stall the service (issue 16 §2). The attacks
//! are those tried by a communication account: a subject and a text including each other, an
//! inline partial calling itself (for every recipient, or only for those of one town), inline
//! partials each calling the previous one twice. Before the fix the first ones overflowed the
//! stack and killed the process (this test binary with it); the conditional one passed the
//! save check and killed it at preview, at the campaign run, and again when the delivery's
//! lease ended. Now they are refused when saved, with a message at the field; written in the
//! database directly, they are refused again where they render (preview, test send, campaign
//! run, stage e-mail), the service stays up, and each delivery fails once with the reason.

use std::time::{Duration, Instant};

use chrono::Utc;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use vocation::campaigns::runs::{self, CampaignInput, Schedule};
use vocation::db::enums::StaffRole;

use crate::campaign_pages::{page_text, post};
use crate::campaigns::{seed_list_on, sender_settings, start_sender};
use crate::helpers::{field_error, hidden_value, Fields, StaffClient, TestApp};
use crate::smtp_server::SmtpServer;

/// The subject includes the text, the text the subject.
const MUTUAL_SUBJECT: &str = "Bonjour {{> texte}}";
const MUTUAL_TEXT: &str = "Cher {{prenom}}, {{> objet}}";
/// An inline partial calling itself.
const SELF_INLINE: &str = "{{#*inline \"a\"}}x{{> a}}{{/inline}}{{> a}}";
/// The same, for the contacts of Auch only (the sample values of the save check live in
/// Toulouse: this one passed it).
const AUCH_ONLY: &str = "Bonjour {{prenom}},\n\n{{#*inline \"relance\"}}Venez à {{ville}}. \
                         {{#if (eq ville \"Auch\")}}{{> relance}}{{/if}}{{/inline}}{{> relance}}";

/// Inline partials each calling the previous one twice: 1 KB that expands to 2^levels copies.
fn exponential(levels: usize) -> String {
    let mut t = String::from("{{#*inline \"p0\"}}Le Gers recrute des médecins. {{/inline}}");
    for i in 1..=levels {
        t.push_str(&format!(
            "{{{{#*inline \"p{i}\"}}}}{{{{> p{}}}}}{{{{> p{}}}}}{{{{/inline}}}}",
            i - 1,
            i - 1
        ));
    }
    t.push_str(&format!("{{{{> p{levels}}}}}"));
    t
}

/// The value of the textarea `name` as the page shows it.
fn textarea(html: &str, name: &str) -> String {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse(&format!("textarea[name={name}]")).unwrap();
    doc.select(&sel)
        .next()
        .map(|e| e.text().collect())
        .unwrap_or_default()
}

/// The service answers: a public page and a staff page.
async fn still_up(app: &TestApp, staff: &StaffClient) {
    assert_eq!(app.get("/healthz").await.status(), 200, "the service is up");
    assert_eq!(staff.get("/campagnes/modeles").await.status(), 200);
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// A template written in the database directly, past the save check.
fn stored_template(app: &TestApp, name: &str, subject: &str, text: &str) -> i64 {
    diesel::sql_query(
        "INSERT INTO mail_templates (name, subject, body_text, body_html) \
         VALUES ($1, $2, $3, '') RETURNING id",
    )
    .bind::<Text, _>(name)
    .bind::<Text, _>(subject)
    .bind::<Text, _>(text)
    .get_result::<Id>(&mut app.conn())
    .unwrap()
    .id
}

fn contact_in(app: &TestApp, email: &str, city: &str) -> i64 {
    diesel::sql_query(
        "INSERT INTO contacts (email, first_name, last_name, kind, legal_basis, city) \
         VALUES ($1, 'Alex', 'Martin', 'medecin_retraite', 'interet_legitime', $2) RETURNING id",
    )
    .bind::<Text, _>(email)
    .bind::<Text, _>(city)
    .get_result::<Id>(&mut app.conn())
    .unwrap()
    .id
}

#[tokio::test]
async fn recursive_and_exploding_campaign_templates_are_refused_at_save_with_a_message_at_the_field(
) {
    let app = TestApp::spawn().await;
    let staff = app.staff(StaffRole::Communication).await;
    let exploding = exponential(25);
    assert!(exploding.len() < 2000, "a small template");
    let attacks: &[(&str, &str, &str, &[&str])] = &[
        ("mutuelle", MUTUAL_SUBJECT, MUTUAL_TEXT, &["objet", "texte"]),
        ("elle-même", "Bonjour", SELF_INLINE, &["texte"]),
        ("à Auch", "Bonjour", AUCH_ONLY, &["texte"]),
        ("exponentielle", "Bonjour", &exploding, &["texte"]),
    ];
    for (name, subject, text, fields) in attacks {
        let started = Instant::now();
        let r = post(
            &staff,
            "/campagnes/modeles/nouveau",
            &[
                ("nom", name),
                ("objet", subject),
                ("texte", text),
                ("html", ""),
            ],
        )
        .await;
        assert_eq!(r.status(), 422, "{name}");
        let html = r.text().await.unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{name}: answered at once"
        );
        for field in *fields {
            let message = field_error(&html, field).unwrap_or_default();
            assert!(
                message.contains("ne sont pas permis"),
                "{name}: a message at « {field} »: {message:?}"
            );
        }
        // What was typed is kept.
        assert_eq!(hidden_value(&html, "nom"), *name);
        assert_eq!(hidden_value(&html, "objet"), *subject);
        assert_eq!(textarea(&html, "texte"), *text, "{name}");
    }
    // An inclusion in the HTML version is refused there too.
    let r = post(
        &staff,
        "/campagnes/modeles/nouveau",
        &[
            ("nom", "html"),
            ("objet", "Bonjour"),
            ("texte", "Bonjour {{prenom}}"),
            ("html", "<p>{{> texte}}</p>"),
        ],
    )
    .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(field_error(&html, "html")
        .unwrap_or_default()
        .contains("inclusions"));
    // Nested loops over the values multiply the output: refused as well.
    let r = post(
        &staff,
        "/campagnes/modeles/nouveau",
        &[
            ("nom", "boucles"),
            ("objet", "Bonjour"),
            (
                "texte",
                "{{#each @root}}{{#each @root}}{{#each @root}}{{this}}{{/each}}{{/each}}{{/each}}",
            ),
            ("html", ""),
        ],
    )
    .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(field_error(&html, "texte")
        .unwrap_or_default()
        .contains("« each »"));
    assert_eq!(app.count("SELECT count(*) FROM mail_templates"), 0);

    // Changing a saved template into one of them is refused the same way.
    let r = post(
        &staff,
        "/campagnes/modeles/nouveau",
        &[
            ("nom", "Internes"),
            ("objet", "Bonjour {{prenom}}"),
            ("texte", "Le Gers recrute : {{lien_candidature}}"),
            ("html", ""),
        ],
    )
    .await;
    assert_eq!(r.status(), 303);
    let id = app.text("SELECT id FROM mail_templates").unwrap();
    let r = post(
        &staff,
        &format!("/campagnes/modeles/{id}"),
        &[
            ("nom", "Internes"),
            ("objet", "Bonjour {{prenom}}"),
            ("texte", AUCH_ONLY),
            ("html", ""),
        ],
    )
    .await;
    assert_eq!(r.status(), 422);
    assert!(field_error(&r.text().await.unwrap(), "texte")
        .unwrap_or_default()
        .contains("inline"));
    assert_eq!(
        app.text("SELECT body_text FROM mail_templates").unwrap(),
        "Le Gers recrute : {{lien_candidature}}"
    );
    still_up(&app, &staff).await;
}

#[tokio::test]
async fn a_recursive_template_written_in_the_database_fails_at_preview_and_test_send_and_the_service_stays_up(
) {
    let app = TestApp::spawn().await;
    let staff = app.staff(StaffRole::Communication).await;
    let auch = contact_in(&app, "alex@exemple.fr", "Auch");
    let cases = [
        stored_template(&app, "mutuelle", MUTUAL_SUBJECT, MUTUAL_TEXT),
        stored_template(&app, "elle-même", "Bonjour", SELF_INLINE),
        stored_template(&app, "à Auch", "Bonjour", AUCH_ONLY),
        stored_template(&app, "exponentielle", "Bonjour", &exponential(25)),
    ];
    for id in cases {
        for query in [String::new(), format!("?contact={auch}")] {
            let (status, html) = staff
                .get_html(&format!("/campagnes/modeles/{id}/apercu{query}"))
                .await;
            assert_eq!(status, 200, "{html}");
            let text = page_text(&html);
            assert!(
                text.contains("Ce modèle ne peut pas être mis en forme")
                    && text.contains("ne sont pas permis"),
                "template {id}{query}: {text}"
            );
            let r = staff
                .get(&format!("/campagnes/modeles/{id}/apercu-html{query}"))
                .await;
            assert_eq!(r.status(), 422);
        }
        let contact = auch.to_string();
        let r = post(
            &staff,
            &format!("/campagnes/modeles/{id}/essai"),
            &[("destinataire", "moi@cds32.test"), ("contact", &contact)],
        )
        .await;
        assert_eq!(r.status(), 422, "the test send is refused");
        assert!(page_text(&r.text().await.unwrap()).contains("ne peut pas être mis en forme"));
        still_up(&app, &staff).await;
    }
    assert_eq!(
        app.count("SELECT count(*) FROM outbound_emails WHERE kind = 'essai_campagne'"),
        0,
        "nothing queued"
    );
}

async fn wait_until(app: &TestApp, sql: &str, n: i64, secs: u64) {
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

#[tokio::test]
async fn a_campaign_run_with_a_recursive_template_fails_each_delivery_once_with_the_reason_and_completes(
) {
    let app = TestApp::spawn().await;
    let staff = app.staff(StaffRole::Communication).await;
    let smtp = SmtpServer::start();
    // Every contact of this list lives in Auch: the template recurses for each of them.
    let list = seed_list_on(&mut app.conn(), "Retraités d'Auch", "auch", 5);
    let template = stored_template(&app, "à Auch", "Bonjour {{prenom}}", AUCH_ONLY);
    let campaign = runs::create(
        &mut app.conn(),
        &CampaignInput {
            name: "Auch – relance".into(),
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
    // A short lease: a delivery that had crashed its sender would be claimed again soon.
    settings.campaigns.lease_seconds = 2;
    let sender = start_sender(settings);
    wait_until(
        &app,
        &format!("SELECT count(*) FROM campaigns WHERE id = {campaign} AND status = 'terminee'"),
        1,
        30,
    )
    .await;
    assert_eq!(
        app.count("SELECT count(*) FROM deliveries WHERE status = 'echec' AND attempts = 1"),
        5,
        "each delivery failed once"
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM deliveries WHERE last_error LIKE 'texte : %inline%permis%'"
        ),
        5,
        "with the reason: {:?}",
        app.text("SELECT last_error FROM deliveries LIMIT 1")
    );
    assert!(smtp.messages().is_empty(), "nothing was sent");
    // Past the lease, nothing is claimed again.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        app.count("SELECT count(*) FROM deliveries WHERE status = 'echec' AND attempts = 1"),
        5
    );
    // The run's page counts them as failed.
    let (status, html) = staff.get_html(&format!("/campagnes/{campaign}")).await;
    assert_eq!(status, 200);
    let doc = scraper::Html::parse_document(&html);
    let failed: Vec<String> = doc
        .select(&scraper::Selector::parse("dd[data-field=failed]").unwrap())
        .map(|e| e.text().collect::<String>().trim().to_owned())
        .collect();
    assert_eq!(failed, vec!["5"], "{html}");
    still_up(&app, &staff).await;
    sender.shutdown().await;
}

#[tokio::test]
async fn a_recursive_stage_template_is_refused_at_save_and_one_in_the_database_does_not_crash_the_move(
) {
    let app = TestApp::spawn().await;
    let admin = app.staff(StaffRole::Admin).await;
    let csrf = admin.csrf().await;
    let before = app
        .text("SELECT body FROM stage_email_templates WHERE stage = 'entretien'")
        .unwrap();
    let conditional = "Bonjour {{prenom}},\n{{#*inline \"a\"}}à bientôt {{#if (eq prenom \"Claire\")}}{{> a}}{{/if}}{{/inline}}{{> a}}";
    for (subject, body, field) in [
        ("Entretien", SELF_INLINE, "texte"),
        ("Entretien", conditional, "texte"),
        ("{{> email/stage_message/subject}}", "Bonjour", "objet"),
        ("Entretien", &exponential(25), "texte"),
    ] {
        let r = admin
            .post_form(
                "/admin/modeles/entretien",
                &[("csrf", &csrf), ("objet", subject), ("texte", body)],
            )
            .await;
        assert_eq!(r.status(), 422, "{body}");
        let html = r.text().await.unwrap();
        let doc = scraper::Html::parse_document(&html);
        let text_of = |selector: &str| {
            doc.select(&scraper::Selector::parse(selector).unwrap())
                .next()
                .map(|e| e.text().collect::<String>())
                .unwrap_or_default()
        };
        let message = text_of(&format!("#{field}-entretien-error"));
        assert!(
            message.contains("ne sont pas permis"),
            "at « {field} »: {message:?}"
        );
        assert!(text_of("#modele-entretien-erreur").contains("Modèle non enregistré"));
        let typed_subject = doc
            .select(&scraper::Selector::parse("#objet-entretien").unwrap())
            .next()
            .and_then(|e| e.value().attr("value"))
            .unwrap_or_default();
        assert_eq!(typed_subject, subject, "what was typed is kept");
        let typed: String = scraper::Html::parse_document(&html)
            .select(&scraper::Selector::parse("#texte-entretien").unwrap())
            .next()
            .map(|e| e.text().collect())
            .unwrap_or_default();
        assert_eq!(
            typed.trim_start(),
            body.trim_start(),
            "what was typed is kept"
        );
    }
    assert_eq!(
        app.text("SELECT body FROM stage_email_templates WHERE stage = 'entretien'")
            .unwrap(),
        before
    );

    // Written in the database directly, the conditional one (it recurses for Claire only).
    diesel::sql_query("UPDATE stage_email_templates SET body = $1 WHERE stage = 'entretien'")
        .bind::<Text, _>(conditional)
        .execute(&mut app.conn())
        .unwrap();
    assert_eq!(app.apply(&Fields::valid()).await.status(), 303);
    let application = app.text("SELECT id FROM applications").unwrap();
    let recruiter = app.staff(StaffRole::Recruiter).await;
    let csrf = recruiter.csrf().await;
    let r = recruiter
        .post_form(
            &format!("/recrutement/candidatures/{application}/etape"),
            &[
                ("csrf", &csrf),
                ("depuis", "nouvelle"),
                ("vers", "entretien"),
                ("envoyer_courriel", "oui"),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    let text = page_text(&r.text().await.unwrap());
    assert!(
        text.contains("Le modèle de cette étape est invalide") && text.contains("inline"),
        "{text}"
    );
    assert_eq!(app.get("/healthz").await.status(), 200, "the service is up");
    assert_eq!(recruiter.get("/recrutement").await.status(), 200);
}

#[tokio::test]
async fn an_e_mail_whose_every_attempt_died_without_an_outcome_fails_instead_of_looping() {
    let app = TestApp::spawn().await;
    let staff = app.staff(StaffRole::Communication).await;
    let template = stored_template(&app, "Internes", "Bonjour {{prenom}}", "Le Gers recrute.");
    let r = post(
        &staff,
        &format!("/campagnes/modeles/{template}/essai"),
        &[("destinataire", "moi@cds32.test")],
    )
    .await;
    assert_eq!(r.status(), 200);
    // Claimed again and again, each claim ending with the worker (a crash, a panic) before
    // any outcome was recorded: its attempts went past the limit.
    diesel::sql_query("UPDATE outbound_emails SET attempts = 1000")
        .execute(&mut app.conn())
        .unwrap();
    app.dispatch_all_pending_emails().await;
    assert_eq!(
        app.text("SELECT status || ' / ' || coalesce(last_error, '') FROM outbound_emails")
            .unwrap(),
        "failed / abandonné : 1000 tentatives interrompues sans résultat"
    );
    assert_eq!(
        app.dispatch_all_pending_emails().await,
        0,
        "never claimed again"
    );
    assert!(app.smtp.received().is_empty());
}

#[tokio::test]
async fn a_delivery_whose_every_claim_died_without_an_outcome_fails_and_the_run_completes() {
    let app = TestApp::spawn().await;
    let smtp = SmtpServer::start();
    let list = seed_list_on(&mut app.conn(), "Retraités", "poison", 3);
    let template = stored_template(&app, "Retraités", "Bonjour {{prenom}}", "Le Gers recrute.");
    let campaign = runs::create(
        &mut app.conn(),
        &CampaignInput {
            name: "Retraités – relance".into(),
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
    runs::activate_due_runs(&mut app.conn(), Utc::now(), chrono::Duration::minutes(60)).unwrap();
    // One delivery was claimed more times than it may be tried, each claim ending with its
    // sender before any outcome was recorded.
    diesel::sql_query("UPDATE deliveries SET attempts = 1000 WHERE email = 'poison-2@example.org'")
        .execute(&mut app.conn())
        .unwrap();
    let sender = start_sender(sender_settings(&app, &smtp));
    wait_until(
        &app,
        &format!("SELECT count(*) FROM campaigns WHERE id = {campaign} AND status = 'terminee'"),
        1,
        30,
    )
    .await;
    assert_eq!(
        app.text(
            "SELECT status || ' / ' || last_error FROM deliveries \
             WHERE email = 'poison-2@example.org'"
        )
        .unwrap(),
        "echec / abandonné : 1000 tentatives interrompues sans résultat"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM deliveries WHERE status = 'envoye'"),
        2,
        "the others are sent"
    );
    assert_eq!(smtp.count_for("poison-2@example.org"), 0);
    sender.shutdown().await;
}
