//! « Mes données » (RGPD): the private link in the confirmation e-mail, what the page and the
//! export show, forged and expired links, asking for a new link, withdrawing, erasure, and the
//! daily retention job.

use chrono::{Duration, Utc};
use serde_json::Value;
use vocation::config::Settings;

use crate::helpers::{hidden_value, sql_now, sql_today, tiny_pdf, Fields, TempDir, TestApp};

const CLAIRE: &str = "claire.martin@exemple.fr";

/// The path of the private link in a message's text.
fn private_path(text: &str) -> String {
    let start = text
        .find("http://vocation.test/mes-donnees/")
        .unwrap_or_else(|| panic!("no private link in:\n{text}"));
    text[start + "http://vocation.test".len()..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

/// Applies with the form (optionally with a CV) and returns the candidate's id.
async fn apply(app: &TestApp, fields: &Fields, cv: bool) -> i64 {
    let tokens = app.form_tokens("/candidature").await;
    let cv = cv.then(|| ("mon-cv.pdf", tiny_pdf()));
    let r = app.post_application(&tokens, fields, cv).await;
    assert_eq!(r.status().as_u16(), 303, "{}", r.text().await.unwrap());
    let email = fields
        .iter()
        .find(|(k, _)| k == "courriel")
        .map(|(_, v)| v.clone())
        .unwrap();
    app.count(&format!(
        "SELECT id FROM candidates WHERE email = '{email}' ORDER BY id DESC LIMIT 1"
    ))
}

/// A second doctor, without RPPS, with their own e-mail and phone.
fn other_doctor(email: &str, phone: &str) -> Fields {
    Fields::valid()
        .set("prenom", "Paul")
        .set("nom", "Durand")
        .set("courriel", email)
        .set("telephone", phone)
        .without("rpps")
}

/// The private link sent in the confirmation e-mail to `address`.
async fn link_from_confirmation(app: &TestApp, address: &str) -> String {
    app.dispatch_all_pending_emails().await;
    let mails = app.smtp.received_by(address);
    let confirmation = mails
        .iter()
        .find(|m| m.subject().contains("candidature"))
        .expect("confirmation e-mail");
    let path = private_path(&confirmation.text());
    assert!(confirmation
        .html()
        .contains(&format!("http://vocation.test{path}")));
    path
}

fn settings_for(app: &TestApp) -> Settings {
    let scratch = TempDir::new();
    let mut s = TestApp::builder().settings(&app.db, &app.smtp, &scratch);
    s.storage.documents_dir = app.documents_dir.clone();
    s
}

fn exec(app: &TestApp, sql: &str) {
    use diesel::connection::SimpleConnection;
    app.conn()
        .batch_execute(sql)
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn csrf_of(app: &TestApp, path: &str) -> String {
    let (status, html) = app.get_html(path).await;
    assert_eq!(status, 200, "{html}");
    hidden_value(&html, "csrf")
}

async fn post(app: &TestApp, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .form(fields)
        .send()
        .await
        .expect("POST")
}

#[tokio::test]
async fn the_confirmation_email_links_to_a_page_showing_everything_held() {
    let app = TestApp::spawn().await;
    let id = apply(&app, &Fields::valid(), true).await;
    let path = link_from_confirmation(&app, CLAIRE).await;
    assert!(path.starts_with(&format!("/mes-donnees/{id}.")), "{path}");

    let r = app.get(&path).await;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let html = r.text().await.unwrap();
    for expected in [
        "Claire",
        "Martin",
        CLAIRE,
        "10132437004",
        "mon-cv.pdf",
        "Je souhaite m&#x27;installer dans le Gers.",
        "Nouvelle",
        "Retirer la candidature n°",
        "Rester dans le vivier",
        "Télécharger mes données",
    ] {
        assert!(html.contains(expected), "missing {expected:?} in the page");
    }
}

#[tokio::test]
async fn the_export_is_a_json_attachment_with_the_candidates_data() {
    let app = TestApp::spawn().await;
    let id = apply(&app, &Fields::valid(), true).await;
    let path = link_from_confirmation(&app, CLAIRE).await;

    let r = app.get(&format!("{path}/export.json")).await;
    assert_eq!(r.status().as_u16(), 200);
    let disposition = r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(disposition.starts_with("attachment"), "{disposition}");
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let json: Value = r.json().await.unwrap();
    let data = &json["data"];
    assert_eq!(data["candidate_id"], id);
    assert_eq!(data["identity"]["first_name"], "Claire");
    assert_eq!(data["identity"]["last_name"], "Martin");
    assert_eq!(data["identity"]["rpps"], "10132437004");
    assert_eq!(data["contact"]["email"], CLAIRE);
    assert_eq!(data["consent"]["pool"], true);
    assert_eq!(data["applications"].as_array().unwrap().len(), 1);
    assert_eq!(data["applications"][0]["stage_code"], "nouvelle");
    assert_eq!(data["documents"][0]["name"], "mon-cv.pdf");
    assert!(data["offers"].as_array().unwrap().is_empty());
    assert!(!data["emails"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn a_forged_token_or_another_candidates_id_is_a_404_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let claire = apply(&app, &Fields::valid(), false).await;
    let paul = apply(
        &app,
        &other_doctor("paul.durand@exemple.fr", "06 22 33 44 55"),
        false,
    )
    .await;
    let path = link_from_confirmation(&app, CLAIRE).await;
    let csrf = csrf_of(&app, &path).await;

    // Claire's signature with Paul's id.
    let forged = path.replacen(
        &format!("/mes-donnees/{claire}."),
        &format!("/mes-donnees/{paul}."),
        1,
    );
    assert_ne!(forged, path);
    assert_eq!(app.get(&forged).await.status().as_u16(), 404);
    assert_eq!(
        app.get(&format!("{forged}/export.json"))
            .await
            .status()
            .as_u16(),
        404
    );
    let r = post(
        &app,
        &format!("{forged}/effacement"),
        &[("csrf", &csrf), ("confirmation", "oui")],
    )
    .await;
    assert_eq!(r.status().as_u16(), 404);
    let r = post(
        &app,
        &format!("{}/desistement", forged),
        &[("csrf", &csrf), ("candidature", "1")],
    )
    .await;
    assert_eq!(r.status().as_u16(), 404);
    // A genuine link cannot withdraw someone else's application.
    let pauls_application = app.count(&format!(
        "SELECT id FROM applications WHERE candidate_id = {paul}"
    ));
    let r = post(
        &app,
        &format!("{path}/desistement"),
        &[
            ("csrf", &csrf),
            ("candidature", &pauls_application.to_string()),
        ],
    )
    .await;
    assert!(r.headers()["location"]
        .to_str()
        .unwrap()
        .contains("desistement-impossible"));
    for garbage in [
        "/mes-donnees/1",
        "/mes-donnees/abc",
        "/mes-donnees/1.99999999999.AAAAAAAAAAAAAAAAAAAAAA",
    ] {
        assert_eq!(app.get(garbage).await.status().as_u16(), 404, "{garbage}");
    }

    assert_eq!(
        app.text(&format!(
            "SELECT last_name FROM candidates WHERE id = {paul}"
        )),
        Some("Durand".into())
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM applications WHERE candidate_id = {paul} AND stage = 'nouvelle'"
        )),
        1
    );
}

#[tokio::test]
async fn an_expired_link_offers_a_new_one_and_only_known_addresses_get_it() {
    let app = TestApp::spawn().await;
    let id = apply(&app, &Fields::valid(), false).await;
    app.dispatch_all_pending_emails().await;
    let settings = settings_for(&app);
    let expired = vocation::privacy::link_url_until(&settings, id, Utc::now() - Duration::hours(1));
    let expired = expired
        .trim_start_matches("http://vocation.test")
        .to_owned();

    let (status, html) = app.get_html(&expired).await;
    assert_eq!(status, 410);
    assert!(html.contains("Ce lien a expiré"));
    assert!(!html.contains("Martin"), "an expired link shows no data");
    let csrf = hidden_value(&html, "csrf");

    // Without the form's token: refused, nothing queued.
    let before = app.count("SELECT count(*) FROM outbound_emails");
    let r = post(
        &app,
        "/mes-donnees",
        &[("csrf", "faux"), ("courriel", CLAIRE)],
    )
    .await;
    assert_eq!(r.status().as_u16(), 403);
    assert_eq!(app.count("SELECT count(*) FROM outbound_emails"), before);

    // A malformed address is a field error.
    let r = post(
        &app,
        "/mes-donnees",
        &[("csrf", &csrf), ("courriel", "pas une adresse")],
    )
    .await;
    assert_eq!(r.status().as_u16(), 422);
    let html = r.text().await.unwrap();
    assert!(crate::helpers::field_error(&html, "courriel").is_some());

    let known = post(
        &app,
        "/mes-donnees",
        &[("csrf", &csrf), ("courriel", "Claire.Martin@Exemple.fr")],
    )
    .await;
    assert_eq!(known.status().as_u16(), 200);
    let known = known.text().await.unwrap();
    let unknown = post(
        &app,
        "/mes-donnees",
        &[("csrf", &csrf), ("courriel", "inconnu@exemple.fr")],
    )
    .await;
    assert_eq!(unknown.status().as_u16(), 200);
    let unknown = unknown.text().await.unwrap();
    assert!(
        known.contains("si cette adresse est connue, un lien vient d'être envoyé")
            || known.contains("Si cette adresse est connue, un lien vient d&#x27;être envoyé")
            || known.contains("Si cette adresse est connue, un lien vient d'être envoyé")
    );
    assert_eq!(
        known, unknown,
        "the answer must not tell whether the address is known"
    );

    assert_eq!(
        app.count("SELECT count(*) FROM outbound_emails WHERE kind = 'personal_data_link'"),
        1
    );
    app.dispatch_all_pending_emails().await;
    assert!(app.smtp.received_by("inconnu@exemple.fr").is_empty());
    let mail = app
        .smtp
        .received_by(CLAIRE)
        .into_iter()
        .find(|m| m.subject().contains("Votre lien"))
        .expect("the new link");
    let fresh = private_path(&mail.text());
    let (status, html) = app.get_html(&fresh).await;
    assert_eq!(status, 200);
    assert!(html.contains("Martin"));
}

#[tokio::test]
async fn a_candidate_withdraws_an_application_and_recruiters_see_it() {
    let app = TestApp::spawn().await;
    let id = apply(&app, &Fields::valid(), false).await;
    let path = link_from_confirmation(&app, CLAIRE).await;
    let application = app.count(&format!(
        "SELECT id FROM applications WHERE candidate_id = {id}"
    ));
    let csrf = csrf_of(&app, &path).await;

    // Without the CSRF token nothing moves.
    let r = post(
        &app,
        &format!("{path}/desistement"),
        &[("csrf", "x"), ("candidature", &application.to_string())],
    )
    .await;
    assert_eq!(r.status().as_u16(), 403);
    assert_eq!(
        app.text(&format!(
            "SELECT stage FROM applications WHERE id = {application}"
        )),
        Some("nouvelle".into())
    );

    let r = post(
        &app,
        &format!("{path}/desistement"),
        &[("csrf", &csrf), ("candidature", &application.to_string())],
    )
    .await;
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(
        app.text(&format!(
            "SELECT stage FROM applications WHERE id = {application}"
        )),
        Some("desistement".into())
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM stage_history WHERE application_id = {application} \
             AND to_stage = 'desistement' AND actor_id IS NULL AND reason = 'retrait_candidat'"
        )),
        1
    );
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let (_, html) = app.get_html(&location).await;
    assert!(html.contains("Votre candidature est retirée"));
    assert!(!html.contains("Retirer la candidature n°"));

    // Again: nothing to withdraw.
    let r = post(
        &app,
        &format!("{path}/desistement"),
        &[("csrf", &csrf), ("candidature", &application.to_string())],
    )
    .await;
    assert!(r.headers()["location"]
        .to_str()
        .unwrap()
        .contains("desistement-impossible"));
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM stage_history WHERE application_id = {application}"
        )),
        2
    );

    let staff = app.staff(vocation::db::enums::StaffRole::Recruiter).await;
    let (status, html) = staff
        .get_html(&format!("/recrutement/candidats/{id}"))
        .await;
    assert_eq!(status, 200);
    assert!(
        html.contains("Retrait par le candidat"),
        "recruiters see the reason"
    );
}

#[tokio::test]
async fn erasure_anonymises_the_candidate_deletes_documents_and_keeps_statistics() {
    let app = TestApp::spawn().await;
    let id = apply(&app, &Fields::valid(), true).await;
    let path = link_from_confirmation(&app, CLAIRE).await;
    let author = app.create_staff("rh@cds32.test", vocation::db::enums::StaffRole::Recruiter);
    exec(
        &app,
        &format!(
            "INSERT INTO candidate_notes (candidate_id, author_id, body) \
             VALUES ({id}, {author}, 'Appelée, très motivée')"
        ),
    );
    let file = app
        .text(&format!(
            "SELECT storage_key FROM documents WHERE candidate_id = {id}"
        ))
        .expect("a stored CV");
    assert!(app.documents_dir.join(&file).exists());

    let (status, html) = app.get_html(&format!("{path}/effacement")).await;
    assert_eq!(status, 200);
    let csrf = hidden_value(&html, "csrf");

    // The confirmation box is required.
    let r = post(&app, &format!("{path}/effacement"), &[("csrf", &csrf)]).await;
    assert_eq!(r.status().as_u16(), 422);
    assert!(crate::helpers::field_error(&r.text().await.unwrap(), "confirmation").is_some());
    assert_eq!(
        app.text(&format!("SELECT last_name FROM candidates WHERE id = {id}")),
        Some("Martin".into())
    );

    let r = post(
        &app,
        &format!("{path}/effacement"),
        &[("csrf", &csrf), ("confirmation", "oui")],
    )
    .await;
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.text().await.unwrap().contains("Données effacées"));

    let row = app
        .text(&format!(
            "SELECT concat_ws('|', first_name, last_name, email, email_normalized, phone, \
             coalesce(rpps, '-'), (anonymised_at IS NOT NULL)::text) FROM candidates WHERE id = {id}"
        ))
        .unwrap();
    assert_eq!(row, "|Anonyme||||-|true");
    for (table, column) in [
        ("documents", "candidate_id"),
        ("candidate_notes", "candidate_id"),
        ("outbound_emails", "candidate_id"),
    ] {
        assert_eq!(
            app.count(&format!(
                "SELECT count(*) FROM {table} WHERE {column} = {id}"
            )),
            0,
            "{table}"
        );
    }
    assert!(
        !app.documents_dir.join(&file).exists(),
        "the CV file is gone"
    );
    // The statistics stay.
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM applications WHERE candidate_id = {id} AND message = ''"
        )),
        1
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM stage_history h JOIN applications a ON a.id = h.application_id \
             WHERE a.candidate_id = {id}"
        )),
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'effacement_demande'"),
        1
    );
    // The link shows nothing any more.
    assert_eq!(app.get(&path).await.status().as_u16(), 404);
}

#[tokio::test]
async fn erasure_is_refused_while_an_offer_is_live_or_after_a_placement() {
    let app = TestApp::spawn().await;
    let id = apply(&app, &Fields::valid(), true).await;
    let path = link_from_confirmation(&app, CLAIRE).await;
    let application = app.count(&format!(
        "SELECT id FROM applications WHERE candidate_id = {id}"
    ));
    let admin = app.create_staff("admin@cds32.test", vocation::db::enums::StaffRole::Admin);
    exec(
        &app,
        &format!(
            "INSERT INTO offers (application_id, status, working_time, fte_hundredths, starts_on, \
             expires_on, approved_by, approved_at, sent_at) VALUES ({application}, 'sent', \
             'temps_plein', 100, {today} + 30, {today} + 10, {admin}, {now}, {now})",
            today = sql_today(),
            now = sql_now()
        ),
    );
    let (status, html) = app.get_html(&format!("{path}/effacement")).await;
    assert_eq!(status, 200);
    assert!(html.contains("ne peuvent pas être effacées"));
    let csrf = csrf_of(&app, &path).await;

    let r = post(
        &app,
        &format!("{path}/effacement"),
        &[("csrf", &csrf), ("confirmation", "oui")],
    )
    .await;
    assert_eq!(r.status().as_u16(), 409);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("une proposition d&#x27;engagement vous a été faite")
            || html.contains("une proposition d'engagement vous a été faite")
    );
    assert_eq!(
        app.text(&format!("SELECT last_name FROM candidates WHERE id = {id}")),
        Some("Martin".into())
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM documents WHERE candidate_id = {id}"
        )),
        1
    );

    // Accepted and started: a placement keeps the data even once the offer is settled.
    exec(
        &app,
        &format!(
            "UPDATE offers SET status = 'accepted', answered_at = {now} WHERE application_id = {application}; \
             INSERT INTO placements (application_id, offer_id, started_on) \
             SELECT {application}, id, {today} FROM offers WHERE application_id = {application}; \
             UPDATE applications SET stage = 'recrutee' WHERE id = {application}",
            today = sql_today(),
            now = sql_now()
        ),
    );
    let r = post(
        &app,
        &format!("{path}/effacement"),
        &[("csrf", &csrf), ("confirmation", "oui")],
    )
    .await;
    assert_eq!(r.status().as_u16(), 409);
    let html = r.text().await.unwrap();
    assert!(html.contains("vous travaillez ou avez travaillé avec nous"));
    // The page and the export show the offer and the placement.
    let (status, html) = app.get_html(&path).await;
    assert_eq!(status, 200);
    assert!(html.contains("Proposition n°"), "the offer is shown");
    assert!(html.contains("Engagement n°"), "the placement is shown");
    let export: Value = app
        .get(&format!("{path}/export.json"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(export["data"]["offers"][0]["status"], "Acceptée");
    assert_eq!(
        export["data"]["placements"][0]["application_id"],
        application
    );
    assert_eq!(
        app.text(&format!("SELECT email FROM candidates WHERE id = {id}")),
        Some(CLAIRE.into())
    );
}

/// Candidates for the retention job, each in one situation; returns their ids.
struct Cohort {
    old_pool: i64,
    ended_without_consent: i64,
    open_without_consent: i64,
    recruited_long_ago: i64,
    near_consent_end: i64,
}

async fn cohort(app: &TestApp) -> Cohort {
    let old_pool = apply(app, &Fields::valid(), true).await;
    let ended_without_consent = apply(
        app,
        &other_doctor("a@exemple.fr", "06 10 00 00 01").without("vivier"),
        true,
    )
    .await;
    let open_without_consent = apply(
        app,
        &other_doctor("b@exemple.fr", "06 10 00 00 02").without("vivier"),
        false,
    )
    .await;
    let recruited_long_ago =
        apply(app, &other_doctor("c@exemple.fr", "06 10 00 00 03"), false).await;
    let near_consent_end = apply(app, &other_doctor("d@exemple.fr", "06 10 00 00 04"), false).await;
    exec(
        app,
        &format!(
            "UPDATE candidates SET last_activity_at = {now} - interval '3 years' \
             WHERE id IN ({old_pool}, {recruited_long_ago}); \
             UPDATE candidates SET last_activity_at = {now} - interval '4 months' \
             WHERE id IN ({ended_without_consent}, {open_without_consent}); \
             UPDATE applications SET stage = 'refusee' WHERE candidate_id = {ended_without_consent}; \
             UPDATE applications SET stage = 'recrutee' WHERE candidate_id = {recruited_long_ago}; \
             UPDATE candidates SET last_activity_at = {now} - interval '2 years' + interval '10 days' \
             WHERE id = {near_consent_end}",
            now = sql_now()
        ),
    );
    Cohort {
        old_pool,
        ended_without_consent,
        open_without_consent,
        recruited_long_ago,
        near_consent_end,
    }
}

fn is_anonymised(app: &TestApp, id: i64) -> bool {
    app.count(&format!(
        "SELECT count(*) FROM candidates WHERE id = {id} AND anonymised_at IS NOT NULL AND email = ''"
    )) == 1
}

#[tokio::test]
async fn the_daily_job_anonymises_what_is_due_once_and_records_it() {
    let app = TestApp::spawn().await;
    let c = cohort(&app).await;
    let files: Vec<String> = [c.old_pool, c.ended_without_consent]
        .iter()
        .map(|id| {
            app.text(&format!(
                "SELECT storage_key FROM documents WHERE candidate_id = {id}"
            ))
            .unwrap()
        })
        .collect();
    let applications_before = app.count("SELECT count(*) FROM applications");
    let settings = settings_for(&app);
    let today = Utc::now().date_naive();

    let mut conn = app.conn();
    let report = vocation::privacy::run_daily(&mut conn, &settings, today, Utc::now())
        .unwrap()
        .expect("the first run of the day does the work");
    assert_eq!(report.anonymised_retention, 1);
    assert_eq!(report.anonymised_without_consent, 1);
    assert_eq!(report.documents_deleted, 2);
    assert_eq!(report.consent_reminders, 1);

    assert!(is_anonymised(&app, c.old_pool));
    assert!(is_anonymised(&app, c.ended_without_consent));
    assert!(!is_anonymised(&app, c.open_without_consent));
    assert!(!is_anonymised(&app, c.recruited_long_ago));
    assert!(!is_anonymised(&app, c.near_consent_end));
    for f in &files {
        assert!(!app.documents_dir.join(f).exists());
    }
    assert_eq!(
        app.count("SELECT count(*) FROM applications"),
        applications_before
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM privacy_runs WHERE anonymised_retention = 1 \
             AND anonymised_without_consent = 1 AND documents_deleted = 2 AND consent_reminders = 1"
        ),
        1
    );
    let detail = app
        .text("SELECT detail FROM audit_log WHERE action = 'conservation_donnees'")
        .unwrap();
    assert!(detail.starts_with("1 anonymisé(s)"), "{detail}");
    assert!(!detail.contains("exemple.fr"));

    // Two anonymised candidates are not offered to recruiters as duplicates of each other.
    assert!(
        vocation::candidates::possible_duplicates(&mut conn, c.old_pool)
            .unwrap()
            .is_empty()
    );
    assert!(
        vocation::candidates::possible_duplicates(&mut conn, c.ended_without_consent)
            .unwrap()
            .is_empty()
    );

    // The same day again: already done.
    assert!(
        vocation::privacy::run_daily(&mut conn, &settings, today, Utc::now())
            .unwrap()
            .is_none()
    );
    // The rules themselves find nothing more to do.
    let again = vocation::privacy::apply_retention(&mut conn, &settings, Utc::now()).unwrap();
    assert_eq!(again, vocation::privacy::RunReport::default());

    // Admins see the run in the journal.
    let admin = app.staff(vocation::db::enums::StaffRole::Admin).await;
    let (status, html) = admin.get_html("/admin/journal").await;
    assert_eq!(status, 200);
    assert!(html.contains("conservation_donnees"));
}

#[tokio::test]
async fn two_instances_running_the_job_at_once_do_the_work_once() {
    let app = TestApp::spawn().await;
    let c = cohort(&app).await;
    let settings = std::sync::Arc::new(settings_for(&app));
    let today = Utc::now().date_naive();
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let (settings, barrier) = (settings.clone(), barrier.clone());
            let mut conn = app.conn();
            std::thread::spawn(move || {
                barrier.wait();
                vocation::privacy::run_daily(&mut conn, &settings, today, Utc::now()).unwrap()
            })
        })
        .collect();
    let reports: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let done: Vec<_> = reports.iter().flatten().collect();
    assert_eq!(done.len(), 1, "one instance did the work: {reports:?}");
    assert_eq!(
        done[0].anonymised_retention + done[0].anonymised_without_consent,
        2
    );
    assert!(is_anonymised(&app, c.old_pool));
    assert_eq!(app.count("SELECT count(*) FROM privacy_runs"), 1);
    assert_eq!(
        app.count("SELECT count(*) FROM outbound_emails WHERE kind = 'consent_renewal'"),
        1
    );
}

#[tokio::test]
async fn the_consent_renewal_email_is_sent_once_and_its_button_renews_consent() {
    let app = TestApp::spawn().await;
    let c = cohort(&app).await;
    app.dispatch_all_pending_emails().await;
    let settings = settings_for(&app);
    let today = Utc::now().date_naive();
    let mut conn = app.conn();
    let first = vocation::privacy::run_daily(&mut conn, &settings, today, Utc::now())
        .unwrap()
        .unwrap();
    assert_eq!(first.consent_reminders, 1);
    let next_day = vocation::privacy::run_daily(
        &mut conn,
        &settings,
        today + Duration::days(1),
        Utc::now() + Duration::days(1),
    )
    .unwrap()
    .unwrap();
    assert_eq!(next_day.consent_reminders, 0, "sent once");
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM candidates WHERE id = {} AND consent_reminder_sent_at IS NOT NULL",
            c.near_consent_end
        )),
        1
    );

    app.dispatch_all_pending_emails().await;
    let mails: Vec<_> = app
        .smtp
        .received_by("d@exemple.fr")
        .into_iter()
        .filter(|m| m.subject().contains("vivier"))
        .collect();
    assert_eq!(mails.len(), 1);
    let path = private_path(&mails[0].text());
    let csrf = csrf_of(&app, &path).await;
    let r = post(
        &app,
        &format!("{path}/vivier"),
        &[("csrf", &csrf), ("accord", "oui")],
    )
    .await;
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM candidates WHERE id = {} \
             AND pool_consent_at > {now} - interval '1 minute' \
             AND last_activity_at > {now} - interval '1 minute'",
            c.near_consent_end,
            now = sql_now()
        )),
        1
    );
    // Renewed: no longer due for anonymisation nor for a reminder.
    let later = vocation::privacy::apply_retention(&mut conn, &settings, Utc::now()).unwrap();
    assert_eq!(later.consent_reminders, 0);
    assert!(!is_anonymised(&app, c.near_consent_end));
}

#[tokio::test]
async fn asking_for_links_is_rate_limited() {
    let app = TestApp::builder().form_burst(2).spawn().await;
    let csrf = csrf_of(&app, "/mes-donnees").await;
    for _ in 0..2 {
        let r = post(
            &app,
            "/mes-donnees",
            &[("csrf", &csrf), ("courriel", CLAIRE)],
        )
        .await;
        assert_eq!(r.status().as_u16(), 200);
    }
    let r = post(
        &app,
        "/mes-donnees",
        &[("csrf", &csrf), ("courriel", CLAIRE)],
    )
    .await;
    assert_eq!(r.status().as_u16(), 429);
    assert!(r.headers().contains_key("retry-after"));
}
