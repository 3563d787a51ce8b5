//! Issue 18, the offer flow: « Proposition », « Acceptée » and « Recrutée » are reached only
//! through an offer and its placement (never by a recruiter's move, on the page, with the e-mail
//! preview or through the API); a start to come is « prise de poste prévue » and counts as
//! committed; the hires agree on /rapports, /capacite and the board; a recruiter asks for an
//! offer's approval and the approvers are told; a refused offer action shows its page again.

use chrono::{Duration, NaiveDate};
use diesel::connection::SimpleConnection as _;
use serde_json::json;
use vocation::config::GoalSettings;
use vocation::db::enums::StaffRole;
use vocation::placements::capacity;

use crate::helpers::{test_day, Fields, StaffClient, TestApp};

fn today() -> NaiveDate {
    test_day()
}

pub(crate) fn day(offset: i64) -> String {
    (today() + Duration::days(offset)).to_string()
}

fn centre(app: &TestApp, commune: &str) -> String {
    app.text(&format!(
        "SELECT id FROM centres WHERE commune = '{commune}'"
    ))
    .unwrap()
}

/// Applies with its own e-mail and phone (one candidate each); returns the application's id.
pub(crate) async fn apply(app: &TestApp, n: u32) -> String {
    let fields = Fields::valid()
        .without("rpps")
        .set("courriel", &format!("docteur{n}@exemple.fr"))
        .set("telephone", &format!("06 12 34 56 {n:02}"))
        .set(
            "nom",
            ["Martin", "Durand", "Bernard", "Petit"][n as usize % 4],
        );
    let r = app.apply(&fields).await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    app.text(&format!(
        "SELECT a.id FROM applications a JOIN candidates c ON c.id = a.candidate_id \
         WHERE c.email = 'docteur{n}@exemple.fr'"
    ))
    .unwrap()
}

async fn move_by_hand(
    recruiter: &StaffClient,
    application: &str,
    from: &str,
    to: &str,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let csrf = recruiter.csrf().await;
    let mut fields = vec![("csrf", csrf.as_str()), ("depuis", from), ("vers", to)];
    fields.extend_from_slice(extra);
    recruiter
        .post_form(
            &format!("/recrutement/candidatures/{application}/etape"),
            &fields,
        )
        .await
}

fn stage(app: &TestApp, application: &str) -> String {
    app.text(&format!(
        "SELECT stage FROM applications WHERE id = {application}"
    ))
    .unwrap()
}

/// Full time, Vic-Fezensac Monday–Wednesday (0,6) and Fleurance Thursday–Friday (0,4).
fn offer_fields(app: &TestApp, csrf: &str, starts: &str) -> Vec<(String, String)> {
    let (vic, fleurance) = (centre(app, "Vic-Fezensac"), centre(app, "Fleurance"));
    let mut fields: Vec<(String, String)> = [
        ("csrf", csrf),
        ("temps", "temps_plein"),
        ("etp", "1"),
        ("debut", starts),
        // The answer is due before the start (at the latest on the start day).
        ("expiration", starts.min(day(20).as_str())),
        ("gardes", ""),
        ("remuneration", ""),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (centre, days) in [
        (vic, &["lun", "mar", "mer"][..]),
        (fleurance, &["jeu", "ven"]),
    ] {
        for d in days {
            for half in ["matin", "apres-midi"] {
                fields.push((format!("jours-{centre}"), format!("{d}-{half}")));
            }
        }
    }
    fields.push((format!("etp-{}", centre(app, "Vic-Fezensac")), "0,6".into()));
    fields
}

/// A draft offer for an application moved to « Entretien »; returns the offer's id.
pub(crate) async fn drafted(
    app: &TestApp,
    recruiter: &StaffClient,
    application: &str,
    starts: &str,
) -> String {
    let r = move_by_hand(recruiter, application, "nouvelle", "entretien", &[]).await;
    assert_eq!(r.status(), 303);
    let csrf = recruiter.csrf().await;
    let r = recruiter
        .client
        .post(format!(
            "{}/recrutement/candidatures/{application}/proposition",
            recruiter.base
        ))
        .form(&offer_fields(app, &csrf, starts))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    app.text(&format!(
        "SELECT max(id) FROM offers WHERE application_id = {application}"
    ))
    .unwrap()
}

pub(crate) async fn act(
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

/// Drafted, approved, sent and accepted: returns the offer's id.
pub(crate) async fn accepted(
    app: &TestApp,
    recruiter: &StaffClient,
    admin: &StaffClient,
    application: &str,
    starts: &str,
) -> String {
    let offer = drafted(app, recruiter, application, starts).await;
    for (who, action) in [
        (admin, "approuver"),
        (recruiter, "envoyer"),
        (recruiter, "accepter"),
    ] {
        let r = act(who, &offer, action, &[]).await;
        assert_eq!(r.status(), 303, "{action}: {}", r.text().await.unwrap());
    }
    assert_eq!(stage(app, application), "acceptee");
    offer
}

fn goal() -> GoalSettings {
    GoalSettings {
        doctors_per_year: 10,
        fte_per_year: "10".into(),
    }
}

/// The text of the first element matching `selector`.
fn text_of(html: &str, selector: &str) -> Option<String> {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse(selector).unwrap();
    doc.select(&sel)
        .next()
        .map(|e| e.text().collect::<String>().trim().to_owned())
}

/// The cells of the first row of a report figure's table.
fn figure_row(html: &str, slug: &str, head: &str) -> Vec<String> {
    let doc = scraper::Html::parse_document(html);
    let section = scraper::Selector::parse("section.figure").unwrap();
    let title = scraper::Selector::parse("h3").unwrap();
    let rows = scraper::Selector::parse("tbody tr").unwrap();
    let cell = scraper::Selector::parse("th, td").unwrap();
    let figure = doc
        .select(&section)
        .find(|s| {
            s.select(&title)
                .next()
                .is_some_and(|h| h.value().attr("id") == Some(slug))
        })
        .unwrap_or_else(|| panic!("no figure {slug}"));
    figure
        .select(&rows)
        .map(|r| {
            r.select(&cell)
                .map(|c| c.text().collect::<String>().trim().to_owned())
                .collect::<Vec<_>>()
        })
        .find(|cells| head.is_empty() || cells[0] == head)
        .unwrap_or_else(|| panic!("no row {head} in {slug}"))
}

#[tokio::test]
async fn the_offer_stages_are_never_chosen_by_hand_on_the_page_the_preview_or_the_api() {
    let app = TestApp::spawn().await;
    let recruiter = app.staff(StaffRole::Recruiter).await;
    let application = apply(&app, 1).await;
    let candidate = app
        .text(&format!(
            "SELECT candidate_id FROM applications WHERE id = {application}"
        ))
        .unwrap();

    // The candidate page does not offer them.
    let (status, html) = recruiter
        .get_html(&format!("/recrutement/candidats/{candidate}"))
        .await;
    assert_eq!(status, 200);
    assert!(
        html.contains("name=\"vers\" value=\"premier_contact\""),
        "{html}"
    );
    for code in ["proposition", "acceptee", "recrutee"] {
        assert!(
            !html.contains(&format!("name=\"vers\" value=\"{code}\"")),
            "{code} offered"
        );
    }

    // Posted anyway (an old form, a crafted request): refused with the reason, nothing written.
    for to in ["proposition", "acceptee", "recrutee"] {
        let r = move_by_hand(&recruiter, &application, "nouvelle", to, &[]).await;
        assert_eq!(r.status(), 422, "{to}");
        let body = r.text().await.unwrap();
        assert!(body.contains("ne se choisit pas à la main"), "{body}");
        // With the e-mail preview first: the same rule.
        let r = move_by_hand(
            &recruiter,
            &application,
            "nouvelle",
            to,
            &[("envoyer_courriel", "oui")],
        )
        .await;
        assert_eq!(r.status(), 422, "{to} with the e-mail");
    }
    assert_eq!(stage(&app, &application), "nouvelle");
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM stage_history WHERE application_id = {application} \
             AND to_stage IN ('proposition', 'acceptee', 'recrutee')"
        )),
        0
    );
    // Hostile codes: a 4xx, never a 500.
    for to in ["recrutee\u{0}", "recrutée", "RECRUTEE", &"r".repeat(10_000)] {
        let r = move_by_hand(&recruiter, &application, "nouvelle", to, &[]).await;
        assert!(r.status().is_client_error(), "{}", r.status());
    }

    // The API says the same, at the field.
    let user = app.create_staff("api@cds32.test", StaffRole::Recruiter);
    let (_, token) =
        vocation::api_tokens::create(&mut app.conn(), user, "outil", chrono::Utc::now()).unwrap();
    let r = app
        .client
        .post(app.url(&format!("/api/v1/candidatures/{application}/etape")))
        .bearer_auth(&token)
        .json(&json!({"depuis": "nouvelle", "vers": "recrutee"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let problem: serde_json::Value = r.json().await.unwrap();
    assert!(problem.to_string().contains("vers"), "{problem}");
    assert!(
        problem.to_string().contains("ne se choisit pas à la main"),
        "{problem}"
    );
    assert_eq!(stage(&app, &application), "nouvelle");
}

#[tokio::test]
async fn an_accepted_offer_can_still_end_by_hand_and_its_fte_is_then_no_longer_committed() {
    let app = TestApp::spawn().await;
    let recruiter = app.staff(StaffRole::Recruiter).await;
    let admin = app.staff(StaffRole::Admin).await;
    let application = apply(&app, 1).await;
    let offer = accepted(&app, &recruiter, &admin, &application, &day(30)).await;
    let committed = || {
        capacity::compute(&mut app.conn(), today(), &goal())
            .unwrap()
            .totals
            .committed
    };
    assert_eq!(committed(), "1");
    let r = move_by_hand(
        &recruiter,
        &application,
        "acceptee",
        "desistement",
        &[("motif_desistement", "distance")],
    )
    .await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    assert_eq!(stage(&app, &application), "desistement");
    assert_eq!(committed(), "0");
    // A withdrawn doctor does not start.
    let r = act(&recruiter, &offer, "prise-de-poste", &[("date", &day(30))]).await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("« Désistement »"));
    assert_eq!(app.count("SELECT count(*) FROM placements"), 0);
}

#[tokio::test]
async fn hires_agree_on_the_reports_the_capacity_page_and_the_board() {
    let app = TestApp::spawn().await;
    app.conn()
        .batch_execute("UPDATE centres SET planned_fte_hundredths = 200")
        .unwrap();
    let recruiter = app.staff(StaffRole::Recruiter).await;
    let admin = app.staff(StaffRole::Admin).await;

    // A: started today. B: starts in 30 days. C: old data, a manual jump to « Recrutée ».
    let a = apply(&app, 1).await;
    let offer_a = accepted(&app, &recruiter, &admin, &a, &day(0)).await;
    let r = act(&recruiter, &offer_a, "prise-de-poste", &[("date", &day(0))]).await;
    assert_eq!(r.status(), 303);
    assert_eq!(stage(&app, &a), "recrutee");

    let b = apply(&app, 2).await;
    let offer_b = accepted(&app, &recruiter, &admin, &b, &day(30)).await;
    let r = act(
        &recruiter,
        &offer_b,
        "prise-de-poste",
        &[("date", &day(30))],
    )
    .await;
    assert_eq!(r.status(), 303);
    let placement_b = app
        .text(&format!(
            "SELECT id FROM placements WHERE application_id = {b}"
        ))
        .unwrap();
    assert_eq!(
        stage(&app, &b),
        "acceptee",
        "a start to come stays accepted"
    );
    let planned = (today() + Duration::days(30))
        .format("%d/%m/%Y")
        .to_string();
    let (_, page) = recruiter
        .get_html(&format!("/recrutement/affectations/{placement_b}"))
        .await;
    assert!(page.contains("Prise de poste prévue le"), "{page}");
    assert!(!page.contains("En poste depuis"), "{page}");
    let (_, page) = recruiter
        .get_html(&format!("/recrutement/propositions/{offer_b}"))
        .await;
    assert!(
        page.contains(&format!("Prise de poste prévue le {planned}")),
        "{page}"
    );

    let c = apply(&app, 3).await;
    app.conn()
        .batch_execute(&format!(
            "UPDATE applications SET stage = 'recrutee' WHERE id = {c}; \
             INSERT INTO stage_history (application_id, from_stage, to_stage, created_at) \
             VALUES ({c}, 'nouvelle', 'recrutee', {now} - interval '2 days')",
            now = crate::helpers::sql_now()
        ))
        .unwrap();
    // Before the migration, the board counted C; the reports already do not.
    let (_, html) = admin.get_html("/rapports").await;
    assert_eq!(figure_row(&html, "delai-recrutement", "")[0], "1");
    assert!(
        html.contains("1 candidature passée à « Recrutée » pendant la période sans proposition"),
        "{html}"
    );
    // The migration of issue 18 takes C back, by an appended move.
    app.conn()
        .batch_execute(include_str!(
            "../../migrations/2026-12-07-000021_hires_need_a_placement/up.sql"
        ))
        .unwrap();
    assert_eq!(stage(&app, &c), "nouvelle");
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM stage_history WHERE application_id = {c} \
             AND from_stage = 'recrutee' AND to_stage = 'nouvelle' AND note LIKE '%sans proposition%'"
        )),
        1
    );
    assert_eq!(stage(&app, &a), "recrutee", "a real hire is untouched");

    // /rapports: one hire (A), B not yet, C noted but not counted.
    let (status, html) = admin.get_html("/rapports").await;
    assert_eq!(status, 200);
    assert_eq!(figure_row(&html, "delai-recrutement", "")[0], "1");
    assert_eq!(figure_row(&html, "entonnoir", "Recrutée")[1], "1");
    assert_eq!(figure_row(&html, "entonnoir", "Acceptée")[1], "2");
    assert!(html.contains("1 candidature passée à « Recrutée »"));

    // /capacite: A filled, B committed; the goal counts A.
    let report = capacity::compute(&mut app.conn(), today(), &goal()).unwrap();
    assert_eq!(report.goal.doctors, 1);
    assert_eq!(report.totals.filled, "1");
    assert_eq!(report.totals.committed, "1");
    let (status, html) = recruiter.get_html("/capacite").await;
    assert_eq!(status, 200);
    assert!(
        html.contains("<strong>1</strong> médecin recruté sur un objectif de 10"),
        "{html}"
    );
    assert!(
        html.contains(&format!(
            "Claire Bernard</a> : du lundi au mercredi (0,6 ETP), prise de poste prévue le {planned}"
        )),
        "{html}"
    );

    // The board: one in « Recrutée » (A), one in « Acceptée » (B).
    let (_, board) = recruiter.get_html("/recrutement").await;
    assert_eq!(
        text_of(&board, "#col-recrutee .count").as_deref(),
        Some("1")
    );
    assert_eq!(
        text_of(&board, "#col-acceptee .count").as_deref(),
        Some("1")
    );

    // The start day of B: the figures for that day do not depend on the daily job.
    let start = today() + Duration::days(30);
    let period = vocation::reports::Period {
        from: today() - Duration::days(10),
        to: start,
    };
    let before = vocation::reports::funnel(&mut app.conn(), period, start).unwrap();
    assert_eq!(before.recruited, 2);
    let capacity_before = capacity::compute(&mut app.conn(), start, &goal()).unwrap();
    assert_eq!(capacity_before.totals.filled, "2");
    assert_eq!(capacity_before.totals.committed, "0");
    // The job, run twice (as two instances would): one move, dated at the start day.
    assert_eq!(
        vocation::placements::start_due(&mut app.conn(), start - Duration::days(1)).unwrap(),
        0
    );
    assert_eq!(
        vocation::placements::start_due(&mut app.conn(), start).unwrap(),
        1
    );
    assert_eq!(
        vocation::placements::start_due(&mut app.conn(), start).unwrap(),
        0
    );
    assert_eq!(stage(&app, &b), "recrutee");
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM stage_history WHERE application_id = {b} \
             AND to_stage = 'recrutee' AND actor_id IS NULL \
             AND (created_at AT TIME ZONE 'Europe/Paris')::date = DATE '{start}'"
        )),
        1
    );
    let after = vocation::reports::funnel(&mut app.conn(), period, start).unwrap();
    assert_eq!(after, before);
    let (_, board) = recruiter.get_html("/recrutement").await;
    assert_eq!(
        text_of(&board, "#col-recrutee .count").as_deref(),
        Some("2")
    );

    // The migration's down puts C back where the old data had it.
    app.conn()
        .batch_execute(include_str!(
            "../../migrations/2026-12-07-000021_hires_need_a_placement/down.sql"
        ))
        .unwrap();
    assert_eq!(stage(&app, &c), "recrutee");
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM stage_history WHERE application_id = {c}"
        )),
        2
    );
}

#[tokio::test]
async fn a_recruiter_asks_for_approval_and_every_approver_is_told() {
    let app = TestApp::spawn().await;
    let recruiter = app.staff(StaffRole::Recruiter).await;
    let admin = app.staff(StaffRole::Admin).await;
    app.create_staff("admin2@cds32.test", StaffRole::Admin);
    let gone = app.create_staff("parti@cds32.test", StaffRole::Admin);
    app.conn()
        .batch_execute(&format!(
            "UPDATE staff_users SET active = false WHERE id = {gone}; \
             UPDATE staff_users SET display_name = 'Julie Recruteuse' WHERE role = 'recruteur'"
        ))
        .unwrap();
    let communication = app.staff(StaffRole::Communication).await;
    let application = apply(&app, 1).await;
    let offer = drafted(&app, &recruiter, &application, &day(40)).await;

    let (_, page) = recruiter
        .get_html(&format!("/recrutement/propositions/{offer}"))
        .await;
    assert!(page.contains("Demander la validation"), "{page}");
    let (_, page) = admin
        .get_html(&format!("/recrutement/propositions/{offer}"))
        .await;
    assert!(!page.contains("Demander la validation"));

    // Without the CSRF token, by a role without access, for an offer that does not exist.
    let r = recruiter
        .post_form(
            &format!("/recrutement/propositions/{offer}/demander-validation"),
            &[("csrf", "faux")],
        )
        .await;
    assert_eq!(r.status(), 403);
    assert_eq!(
        act(&communication, &offer, "demander-validation", &[])
            .await
            .status(),
        403
    );
    assert_eq!(
        act(&recruiter, "999999", "demander-validation", &[])
            .await
            .status(),
        404
    );
    assert_eq!(
        app.count("SELECT count(*) FROM outbound_emails WHERE kind = 'approval_request'"),
        0
    );

    let r = act(&recruiter, &offer, "demander-validation", &[]).await;
    assert_eq!(r.status(), 303);
    // The active admins (not the one who left, not communication staff) are told, with a link.
    let recipients: Vec<String> = app
        .text(
            "SELECT string_agg(recipient, ',' ORDER BY recipient) FROM outbound_emails \
             WHERE kind = 'approval_request'",
        )
        .unwrap()
        .split(',')
        .map(str::to_owned)
        .collect();
    assert_eq!(recipients.len(), 2, "{recipients:?}");
    assert!(recipients.contains(&"admin2@cds32.test".to_owned()));
    assert!(!recipients.contains(&"parti@cds32.test".to_owned()));
    let body = app
        .text("SELECT body_text FROM outbound_emails WHERE kind = 'approval_request' LIMIT 1")
        .unwrap();
    assert!(
        body.contains(&format!("/recrutement/propositions/{offer}")),
        "{body}"
    );
    assert!(
        body.contains("Julie Recruteuse demande la validation"),
        "{body}"
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM outbound_emails WHERE kind = 'approval_request' \
             AND (candidate_id IS NOT NULL OR application_id IS NOT NULL)"
        ),
        0,
        "a staff e-mail is not on the candidate's record"
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM audit_log WHERE action = 'validation_demandee' \
             AND entity_id = {offer}"
        )),
        1
    );
    let waiting = vocation::offers::waiting_for_approval(&mut app.conn()).unwrap();
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].offer_id.to_string(), offer);
    assert_eq!(waiting[0].candidate, "Claire Durand");
    assert_eq!(waiting[0].requested_by.as_deref(), Some("Julie Recruteuse"));

    // The approvers see who asked; asking twice is refused on the same page.
    let (_, page) = admin
        .get_html(&format!("/recrutement/propositions/{offer}"))
        .await;
    assert!(
        page.contains("Validation demandée par Julie Recruteuse le"),
        "{page}"
    );
    let r = act(&recruiter, &offer, "demander-validation", &[]).await;
    assert_eq!(r.status(), 422);
    let page = r.text().await.unwrap();
    assert!(page.contains("déjà demandée"), "{page}");
    assert!(page.contains("Se déconnecter"), "the full staff layout");
    assert_eq!(
        app.count("SELECT count(*) FROM outbound_emails WHERE kind = 'approval_request'"),
        2
    );

    // Approving clears the waiting state.
    assert_eq!(act(&admin, &offer, "approuver", &[]).await.status(), 303);
    assert!(vocation::offers::waiting_for_approval(&mut app.conn())
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn a_refused_offer_action_shows_the_offer_again_with_what_was_typed() {
    let app = TestApp::spawn().await;
    let recruiter = app.staff(StaffRole::Recruiter).await;
    let admin = app.staff(StaffRole::Admin).await;
    let application = apply(&app, 1).await;
    let offer = drafted(&app, &recruiter, &application, &day(40)).await;
    assert_eq!(act(&admin, &offer, "approuver", &[]).await.status(), 303);
    assert_eq!(act(&recruiter, &offer, "envoyer", &[]).await.status(), 303);

    // Declined without a reason, « close » unticked: the same page, the message at the field.
    let r = act(&recruiter, &offer, "decliner", &[]).await;
    assert_eq!(r.status(), 422);
    let page = r.text().await.unwrap();
    assert!(page.contains("Se déconnecter"), "the full staff layout");
    assert!(page.contains("class=\"error-summary\""), "{page}");
    assert!(page.contains("href=\"#motif\""), "{page}");
    assert!(page.contains("aria-describedby=\"motif-error\""), "{page}");
    assert!(page.contains("Choisissez le motif dans la liste."));
    let doc = scraper::Html::parse_document(&page);
    let clore = scraper::Selector::parse("#clore").unwrap();
    assert!(
        doc.select(&clore)
            .next()
            .unwrap()
            .value()
            .attr("checked")
            .is_none(),
        "the unticked box stays unticked"
    );
    // A reason from another list (a refusal code) is refused the same way.
    let r = act(
        &recruiter,
        &offer,
        "decliner",
        &[("motif", "profil_inadapte"), ("clore", "oui")],
    )
    .await;
    assert_eq!(r.status(), 422);
    assert_eq!(stage(&app, &application), "proposition");

    // The start: a date that is not one is kept as typed, with its message.
    assert_eq!(act(&recruiter, &offer, "accepter", &[]).await.status(), 303);
    let r = act(
        &recruiter,
        &offer,
        "prise-de-poste",
        &[("date", "32/13/2026")],
    )
    .await;
    assert_eq!(r.status(), 422);
    let page = r.text().await.unwrap();
    assert!(page.contains("value=\"32/13/2026\""), "{page}");
    assert!(page.contains("aria-describedby=\"date-prise-hint date-prise-error\""));
    assert!(page.contains("La date de prise de poste est obligatoire"));
    // Hostile dates: a 4xx, never a 500, never echoed raw.
    for date in ["\u{1}", "<script>alert(1)</script>", &"9".repeat(100_000)] {
        let r = act(&recruiter, &offer, "prise-de-poste", &[("date", date)]).await;
        assert!(r.status().is_client_error(), "{}", r.status());
        assert!(!r.text().await.unwrap().contains("<script>alert(1)"));
    }
    assert_eq!(app.count("SELECT count(*) FROM placements"), 0);
    // Another record's id.
    assert_eq!(
        act(&recruiter, "999999", "prise-de-poste", &[("date", &day(1))])
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn a_refused_redeployment_shows_the_placement_again_with_what_was_typed() {
    let app = TestApp::spawn().await;
    let recruiter = app.staff(StaffRole::Recruiter).await;
    let admin = app.staff(StaffRole::Admin).await;
    let application = apply(&app, 1).await;
    let offer = accepted(&app, &recruiter, &admin, &application, &day(0)).await;
    let r = act(&recruiter, &offer, "prise-de-poste", &[("date", &day(0))]).await;
    assert_eq!(r.status(), 303);
    let placement = app.text("SELECT id FROM placements").unwrap();
    let allocation = app
        .text(
            "SELECT min(a.id) FROM placement_allocations a JOIN centres c ON c.id = a.centre_id \
             WHERE c.commune = 'Vic-Fezensac'",
        )
        .unwrap();
    let marciac = centre(&app, "Marciac");
    let csrf = recruiter.csrf().await;
    // From the first day of the allocation: too early, refused at the field.
    let r = recruiter
        .post_form(
            &format!("/recrutement/affectations/{placement}/redeploiement"),
            &[
                ("csrf", csrf.as_str()),
                ("affectation", allocation.as_str()),
                ("centre", marciac.as_str()),
                ("date", &day(0)),
                ("jours", "lun-matin"),
                ("etp", "0,3"),
                ("note", "Fermeture <b>prévue</b>"),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    let page = r.text().await.unwrap();
    assert!(page.contains("Se déconnecter"), "the full staff layout");
    assert!(page.contains(&format!("id=\"redeploiement-{allocation}-error\"")));
    assert!(page.contains("value=\"0,3\""), "{page}");
    assert!(
        page.contains("value=\"Fermeture &lt;b&gt;prévue&lt;/b&gt;\""),
        "{page}"
    );
    assert!(
        page.contains(&format!("<option value=\"{marciac}\" selected>")),
        "{page}"
    );
    assert!(
        page.contains(&format!(
            "id=\"jours-{allocation}-lun-matin\" name=\"jours\" value=\"lun-matin\" checked"
        )),
        "{page}"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM placement_allocations"),
        2,
        "nothing written"
    );
    // An allocation of another placement, through this one's page: not found, nothing written.
    let other = apply(&app, 2).await;
    let offer = accepted(&app, &recruiter, &admin, &other, &day(0)).await;
    let r = act(&recruiter, &offer, "prise-de-poste", &[("date", &day(0))]).await;
    assert_eq!(r.status(), 303);
    let foreign = app
        .text(&format!(
            "SELECT min(a.id) FROM placement_allocations a JOIN placements p \
             ON p.id = a.placement_id WHERE p.id <> {placement}"
        ))
        .unwrap();
    let before = app.count("SELECT count(*) FROM placement_allocations");
    // A missing allocation, another placement's, a centre that is not one: no 500.
    for (allocation, centre) in [
        ("999999", marciac.as_str()),
        (foreign.as_str(), marciac.as_str()),
        (allocation.as_str(), "x\u{1}"),
    ] {
        let r = recruiter
            .post_form(
                &format!("/recrutement/affectations/{placement}/redeploiement"),
                &[
                    ("csrf", csrf.as_str()),
                    ("affectation", allocation),
                    ("centre", centre),
                    ("date", &day(5)),
                ],
            )
            .await;
        assert!(r.status().is_client_error(), "{}", r.status());
    }
    assert_eq!(
        app.count("SELECT count(*) FROM placement_allocations"),
        before,
        "nothing written"
    );
}
