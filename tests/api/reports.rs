//! The reports (`/rapports`): funnel, channels and campaigns, reasons, pool and profiles, their
//! CSV downloads, the period filter and who may see them.
//!
//! Applications are posted through the form; stage moves go through the pipeline's own function
//! with chosen times (the staff route would stamp them now); offers, campaigns, deliveries and
//! clicks are written by SQL, their own paths being long.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Europe::Paris;
use diesel::connection::SimpleConnection as _;
use vocation::db::enums::{StaffRole, Stage};
use vocation::domain::ids::{ApplicationId, CandidateId};
use vocation::pipeline::{
    move_application, record_move, MoveRequest, RecordedMove, OFFER_FLOW_STAGES,
};

use crate::helpers::{sql_now, Fields, TestApp};

fn paris_today() -> NaiveDate {
    Utc::now().with_timezone(&Paris).date_naive()
}

/// Noon in Paris, 60 days ago: every seeded event falls at noon, whole days after it.
fn base() -> DateTime<Utc> {
    let day = paris_today() - Duration::days(60);
    Paris
        .from_local_datetime(&day.and_hms_opt(12, 0, 0).unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

fn at(days: i64) -> DateTime<Utc> {
    base() + Duration::days(days)
}

fn date(days: i64) -> String {
    at(days).with_timezone(&Paris).date_naive().to_string()
}

fn sql(app: &TestApp, statements: &str) {
    app.conn()
        .batch_execute(statements)
        .unwrap_or_else(|e| panic!("{statements}: {e}"));
}

/// Posts an application through the form; returns its id. Each doctor has their own e-mail and
/// phone (no merge) and no RPPS.
async fn apply(app: &TestApp, n: u32, fields: Fields) -> i64 {
    let fields = fields
        .without("rpps")
        .set("courriel", &format!("docteur{n}@exemple.fr"))
        .set("telephone", &format!("06 12 34 56 {n:02}"));
    let r = app.apply(&fields).await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let id: i64 = app
        .text(&format!(
            "SELECT a.id FROM applications a JOIN candidates c ON c.id = a.candidate_id \
             WHERE c.email = 'docteur{n}@exemple.fr'"
        ))
        .unwrap()
        .parse()
        .unwrap();
    // Received at the base time. The history is append-only (a trigger): the test backdates
    // its first row with triggers off for this session only.
    sql(
        app,
        &format!(
            "UPDATE applications SET created_at = '{0}', stage_entered_at = '{0}' WHERE id = {id}; \
             SET session_replication_role = replica; \
             UPDATE stage_history SET created_at = '{0}' WHERE application_id = {id}; \
             SET session_replication_role = DEFAULT",
            at(0).to_rfc3339()
        ),
    );
    id
}

/// The moves of an application at chosen times. A recruiter's moves go through the pipeline's
/// checked function; « Proposition », « Acceptée » and « Recrutée » are the offer flow's (issue
/// 18: never chosen by hand), recorded here with its own primitive, the offer and placement
/// rows being written by SQL in [`seed`].
fn moves(app: &TestApp, actor: i64, application_id: i64, steps: &[(Stage, i64, Option<&str>)]) {
    let mut conn = app.conn();
    let mut from = Stage::New;
    let candidate_id: i64 = app
        .text(&format!(
            "SELECT candidate_id FROM applications WHERE id = {application_id}"
        ))
        .unwrap()
        .parse()
        .unwrap();
    for &(to, day, reason) in steps {
        if OFFER_FLOW_STAGES.contains(&to) {
            record_move(
                &mut conn,
                &RecordedMove {
                    application_id: ApplicationId(application_id),
                    candidate_id: CandidateId(candidate_id),
                    from,
                    to,
                    actor_id: Some(actor),
                    reason: None,
                    note: None,
                    follow_up_on: None,
                },
                at(day),
            )
            .unwrap();
            from = to;
            continue;
        }
        let request = MoveRequest {
            application_id,
            expected_from: from,
            to,
            reason: reason.map(str::to_owned),
            note: None,
            follow_up_on: None,
        };
        move_application(&mut conn, actor, &request, None, at(day))
            .unwrap()
            .unwrap_or_else(|e| panic!("move to {}: {e}", to.code()));
        from = to;
    }
}

/// Five applications:
/// - A1 (faculty, campaign): every stage up to recruited, on days 2, 6, 10, 12, 13, 20;
/// - A2 (faculty, intern): first contact day 4, interview day 10, refused day 11 (profile);
/// - A3 (press, campaign): first contact day 6, withdrew day 7 (pay), declined an offer;
/// - A4 (nothing said): still new;
/// - A5 (social media, UTM link, SM26): interview day 3 (skipping first contact), refused day 8.
async fn seed(app: &TestApp) {
    let actor = app.create_staff("recruteur@cds32.test", StaffRole::Recruiter);
    let a1 = apply(app, 1, Fields::valid()).await;
    let a2 = apply(app, 2, Fields::valid().set("situation", "interne")).await;
    let a3 = apply(app, 3, Fields::valid().set("connaissance", "presse")).await;
    let a4 = apply(app, 4, Fields::valid().without("connaissance")).await;
    let a5 = apply(
        app,
        5,
        Fields::valid()
            .set("connaissance", "reseaux_sociaux")
            .set("specialite", "SM26")
            .set("utm_source", "=facebook")
            .set("utm_medium", "social")
            .set("utm_campaign", "automne"),
    )
    .await;
    moves(
        app,
        actor,
        a1,
        &[
            (Stage::FirstContact, 2, None),
            (Stage::Interview, 6, None),
            (Stage::SiteVisit, 10, None),
            (Stage::Offer, 12, None),
            (Stage::Accepted, 13, None),
            (Stage::Recruited, 20, None),
        ],
    );
    moves(
        app,
        actor,
        a2,
        &[
            (Stage::FirstContact, 4, None),
            (Stage::Interview, 10, None),
            (Stage::Refused, 11, Some("profil_inadapte")),
        ],
    );
    moves(
        app,
        actor,
        a3,
        &[
            (Stage::FirstContact, 6, None),
            (Stage::Withdrawn, 7, Some("remuneration")),
        ],
    );
    moves(
        app,
        actor,
        a5,
        &[
            (Stage::Interview, 3, None),
            (Stage::Refused, 8, Some("specialite")),
        ],
    );
    // Offers: A1's accepted, A3's declined for the distance; a draft for A2 (not an offer made).
    sql(
        app,
        &format!(
            "INSERT INTO offers (application_id, status, working_time, fte_hundredths, starts_on, \
               expires_on, approved_by, approved_at, sent_at, answered_at, decline_reason) VALUES \
             ({a1}, 'accepted', 'temps_plein', 100, '{d}', '{d}', {actor}, '{t12}', '{t12}', \
               '{t13}', NULL), \
             ({a3}, 'declined', 'temps_plein', 100, '{d}', '{d}', {actor}, '{t6}', '{t6}', \
               '{t7}', 'distance'), \
             ({a2}, 'draft', 'temps_plein', 100, '{d}', '{d}', NULL, NULL, NULL, NULL, NULL)",
            d = date(40),
            t6 = at(6).to_rfc3339(),
            t7 = at(7).to_rfc3339(),
            t12 = at(12).to_rfc3339(),
            t13 = at(13).to_rfc3339(),
        ),
    );
    // A1 took up the post on day 20: a hire is a placement that has started.
    sql(
        app,
        &format!(
            "INSERT INTO placements (application_id, offer_id, started_on) \
             SELECT {a1}, id, '{d}' FROM offers WHERE application_id = {a1}",
            d = date(20),
        ),
    );
    // A campaign that brought A1 and A3: three messages sent in the period, one long before,
    // one failure; three clicks.
    sql(
        app,
        &format!(
            "INSERT INTO mail_templates (name, subject, body_text, body_html) \
               VALUES ('Modèle', 'Objet', 'Texte', '<p>Texte</p>'); \
             INSERT INTO campaigns (name, template_id, sender_name, sender_email, rate_per_minute, \
               schedule_kind, status) \
               SELECT '+Internes novembre', id, 'CDS', 'cds@exemple.fr', 60, 'maintenant', \
               'terminee' FROM mail_templates; \
             INSERT INTO campaigns (name, template_id, sender_name, sender_email, rate_per_minute, \
               schedule_kind) \
               SELECT 'Brouillon sans envoi', id, 'CDS', 'cds@exemple.fr', 60, 'maintenant' \
               FROM mail_templates; \
             INSERT INTO campaign_runs (campaign_id, scheduled_for) \
               SELECT id, '{t0}' FROM campaigns WHERE name LIKE '+%'; \
             INSERT INTO deliveries (run_id, email, status, sent_at) \
               SELECT r.id, v.email, v.status, v.sent_at::timestamptz FROM campaign_runs r, \
               (VALUES ('a@x.fr', 'envoye', '{t0}'), ('b@x.fr', 'envoye', '{t0}'), \
                       ('c@x.fr', 'envoye', '{t1}'), ('d@x.fr', 'envoye', '{old}'), \
                       ('e@x.fr', 'echec', NULL)) AS v(email, status, sent_at); \
             INSERT INTO link_clicks (delivery_id, clicked_at) \
               SELECT id, '{t1}' FROM deliveries WHERE email IN ('a@x.fr', 'b@x.fr'); \
             INSERT INTO link_clicks (delivery_id, clicked_at) \
               SELECT id, '{t2}' FROM deliveries WHERE email = 'c@x.fr'; \
             UPDATE applications SET campaign_id = (SELECT id FROM campaigns WHERE name LIKE '+%') \
               WHERE id IN ({a1}, {a3})",
            t0 = at(-1).to_rfc3339(),
            t1 = at(0).to_rfc3339(),
            t2 = at(1).to_rfc3339(),
            old = (at(0) - Duration::days(800)).to_rfc3339(),
        ),
    );
    // Pool: A4 refused the pool; A3's last action is older than the retention (2 years).
    sql(
        app,
        &format!(
            "UPDATE candidates SET pool_consent_at = NULL \
               WHERE id = (SELECT candidate_id FROM applications WHERE id = {a4}); \
             UPDATE candidates SET last_activity_at = {} - interval '3 years' \
               WHERE id = (SELECT candidate_id FROM applications WHERE id = {a3})",
            sql_now()
        ),
    );
}

/// The rows of the table with this caption: header cell then data cells, as text.
fn table(html: &str, caption: &str) -> Vec<Vec<String>> {
    let doc = scraper::Html::parse_document(html);
    let tables = scraper::Selector::parse("table").unwrap();
    let cap = scraper::Selector::parse("caption").unwrap();
    let rows = scraper::Selector::parse("tbody tr").unwrap();
    let cells = scraper::Selector::parse("th, td").unwrap();
    let text = |e: scraper::ElementRef| e.text().collect::<String>().trim().to_owned();
    let table = doc
        .select(&tables)
        .find(|t| t.select(&cap).next().map(text).as_deref() == Some(caption))
        .unwrap_or_else(|| panic!("no table « {caption} »"));
    table
        .select(&rows)
        .map(|r| r.select(&cells).map(text).collect())
        .collect()
}

fn row<'a>(rows: &'a [Vec<String>], head: &str) -> &'a [String] {
    rows.iter()
        .find(|r| r[0] == head)
        .unwrap_or_else(|| panic!("no row « {head} » in {rows:?}"))
}

fn strings(cells: &[&str]) -> Vec<String> {
    cells.iter().map(|s| (*s).to_owned()).collect()
}

/// A CSV download: its records (the byte-order mark removed), `;` separated.
async fn csv(client: &crate::helpers::StaffClient, path: &str) -> Vec<Vec<String>> {
    let r = client.get(path).await;
    assert_eq!(r.status(), 200, "{path}");
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let body = r.text().await.unwrap();
    let body = body.strip_prefix('\u{feff}').expect("a byte-order mark");
    csv::ReaderBuilder::new()
        .delimiter(b';')
        .has_headers(false)
        .from_reader(body.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

#[tokio::test]
async fn the_funnel_counts_entries_conversions_and_median_times() {
    let app = TestApp::spawn().await;
    seed(&app).await;
    let comms = app.staff(StaffRole::Communication).await;
    let (status, html) = comms.get_html("/rapports").await;
    assert_eq!(status, 200, "{html}");

    let funnel = table(&html, "Entonnoir de recrutement");
    // Stage; entered; reached or beyond; conversion; ended stays; median days.
    assert_eq!(
        row(&funnel, "Nouvelle"),
        strings(&["Nouvelle", "5", "5", "", "4", "3,5"])
    );
    assert_eq!(
        row(&funnel, "Premier contact"),
        strings(&["Premier contact", "3", "4", "80,0", "3", "4,0"])
    );
    assert_eq!(
        row(&funnel, "Entretien"),
        strings(&["Entretien", "3", "3", "75,0", "3", "4,0"])
    );
    assert_eq!(
        row(&funnel, "Visite du territoire"),
        strings(&["Visite du territoire", "1", "1", "33,3", "1", "2,0"])
    );
    assert_eq!(
        row(&funnel, "Recrutée"),
        strings(&["Recrutée", "1", "1", "100,0", "0", ""])
    );
    assert_eq!(
        row(&funnel, "Refusée"),
        strings(&["Refusée", "2", "", "", "0", ""])
    );
    assert_eq!(
        row(&funnel, "Désistement"),
        strings(&["Désistement", "1", "", "", "0", ""])
    );
    assert_eq!(
        // From the application (day 0, noon) to the start day of the placement (day 20, the
        // day's beginning: issue 18 counts a hire from its placement, not from a stage move).
        table(&html, "Délai entre candidature et prise de poste"),
        vec![strings(&["1", "19,5"])]
    );

    // The funnel chart is an accessible SVG whose description gives the figures.
    let doc = scraper::Html::parse_document(&html);
    let svg = doc
        .select(&scraper::Selector::parse("svg[aria-labelledby^='graphique-entonnoir']").unwrap())
        .next()
        .expect("the funnel chart");
    assert_eq!(svg.value().attr("role"), Some("img"));
    assert_eq!(
        svg.value().attr("aria-labelledby"),
        Some("graphique-entonnoir-titre graphique-entonnoir-desc")
    );
    let desc: String = doc
        .select(&scraper::Selector::parse("desc#graphique-entonnoir-desc").unwrap())
        .next()
        .expect("a description")
        .text()
        .collect();
    assert!(
        desc.contains("Premier contact : 4, soit 80,0 % de l'étape précédente"),
        "{desc}"
    );
    assert!(!html.contains("style=\""), "no style attribute (CSP)");

    // The same figures as CSV.
    let period = format!("du={}&au={}", date(-1), paris_today());
    let records = csv(&comms, &format!("/rapports/entonnoir.csv?{period}")).await;
    assert_eq!(
        records[0],
        strings(&[
            "Étape",
            "Candidatures entrées dans l'étape",
            "Candidatures ayant atteint l'étape ou une suivante",
            "Conversion depuis l'étape précédente (%)",
            "Passages terminés",
            "Durée médiane dans l'étape (jours)",
        ])
    );
    assert_eq!(
        records[2],
        strings(&["Premier contact", "3", "4", "80,0", "3", "4,0"])
    );
    assert_eq!(records.len(), 1 + Stage::ALL.len());
    let delay = csv(&comms, &format!("/rapports/delai-recrutement.csv?{period}")).await;
    assert_eq!(delay[1], strings(&["1", "19,5"]));
}

#[tokio::test]
async fn the_period_limits_what_is_counted() {
    let app = TestApp::spawn().await;
    seed(&app).await;
    let comms = app.staff(StaffRole::Communication).await;

    // Days 0 to 5: the five arrivals, A1's and A2's first contacts, A5's interview.
    let (status, html) = comms
        .get_html(&format!("/rapports?du={}&au={}", date(0), date(5)))
        .await;
    assert_eq!(status, 200);
    let funnel = table(&html, "Entonnoir de recrutement");
    assert_eq!(row(&funnel, "Nouvelle")[1], "5");
    assert_eq!(row(&funnel, "Premier contact")[1], "2");
    assert_eq!(row(&funnel, "Entretien")[1], "1");
    assert_eq!(row(&funnel, "Recrutée")[1], "0");
    // A stay begun in the period counts once it has ended, even after the period.
    assert_eq!(row(&funnel, "Nouvelle")[4], "4");
    assert!(html.contains("Chiffres du "));

    // Before anything happened: nothing, and the page says so instead of drawing.
    let (status, html) = comms
        .get_html(&format!("/rapports?du={}&au={}", date(-30), date(-10)))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        row(&table(&html, "Entonnoir de recrutement"), "Nouvelle")[1],
        "0"
    );
    assert!(!html.contains("graphique-entonnoir-titre"));
    assert!(html.contains("Aucune donnée sur la période."));
    let campaigns = csv(
        &comms,
        &format!("/rapports/campagnes.csv?du={}&au={}", date(-30), date(-10)),
    )
    .await;
    assert_eq!(campaigns.len(), 1, "headers only: {campaigns:?}");

    // The default period is the last twelve months: the same as asking for them.
    let (_, default) = comms.get_html("/rapports").await;
    assert!(default.contains(&format!("value=\"{}\"", paris_today())));
    assert_eq!(
        row(&table(&default, "Entonnoir de recrutement"), "Nouvelle")[1],
        "5"
    );
}

#[tokio::test]
async fn channels_and_campaigns_show_applications_offers_recruitments_and_mailing_figures() {
    let app = TestApp::spawn().await;
    seed(&app).await;
    let comms = app.staff(StaffRole::Communication).await;
    let (status, html) = comms.get_html("/rapports").await;
    assert_eq!(status, 200);

    let heard = table(
        &html,
        "Candidatures par canal déclaré (« comment nous avez-vous connus »)",
    );
    assert_eq!(
        row(&heard, "Faculté de médecine, internat"),
        strings(&["Faculté de médecine, internat", "2", "1", "1"])
    );
    assert_eq!(
        row(&heard, "Presse, radio, télévision"),
        strings(&["Presse, radio, télévision", "1", "1", "0"])
    );
    assert_eq!(row(&heard, "Réseaux sociaux")[1], "1");
    assert_eq!(row(&heard, "Non renseigné")[1], "1");
    // Most applications first.
    assert_eq!(heard[0][0], "Faculté de médecine, internat");

    let utm = table(&html, "Candidatures par lien marqué (paramètres UTM)");
    assert_eq!(
        utm,
        vec![strings(&["=facebook", "social", "automne", "1", "0", "0"])]
    );

    let campaigns = table(
        &html,
        "Campagnes de courriels et de courriers : envois, clics et candidatures",
    );
    // Sent in the period: three (not the old one, not the failure); three clicks; A1 and A3.
    assert_eq!(
        campaigns,
        vec![strings(&[
            "+Internes novembre",
            "Courriel",
            "3",
            "0",
            "3",
            "2",
            "2",
            "1"
        ])]
    );
    assert!(!html.contains("Brouillon sans envoi"));

    // CSV: French headers, formula-looking cells neutralised.
    let records = csv(&comms, "/rapports/campagnes.csv").await;
    assert_eq!(
        records,
        vec![
            strings(&[
                "Campagne",
                "Type",
                "Envois",
                "Rebonds",
                "Clics",
                "Candidatures",
                "Propositions",
                "Recrutements"
            ]),
            strings(&[
                "'+Internes novembre",
                "Courriel",
                "3",
                "0",
                "3",
                "2",
                "2",
                "1"
            ]),
        ]
    );
    let records = csv(&comms, "/rapports/utm.csv").await;
    assert_eq!(records[1][0], "'=facebook");
    let records = csv(&comms, "/rapports/connaissance.csv").await;
    assert_eq!(
        records[0],
        strings(&["Canal", "Candidatures", "Propositions", "Recrutements"])
    );
    assert!(records.contains(&strings(&["Faculté de médecine, internat", "2", "1", "1"])));

    // A click in the period with no sending in it still shows the campaign.
    let (_, html) = comms
        .get_html(&format!("/rapports?du={}&au={}", date(1), date(1)))
        .await;
    assert_eq!(
        table(
            &html,
            "Campagnes de courriels et de courriers : envois, clics et candidatures"
        ),
        vec![strings(&[
            "+Internes novembre",
            "Courriel",
            "0",
            "0",
            "1",
            "0",
            "0",
            "0"
        ])]
    );
}

#[tokio::test]
async fn reasons_pool_specialties_and_situations_are_counted() {
    let app = TestApp::spawn().await;
    seed(&app).await;
    let comms = app.staff(StaffRole::Communication).await;
    let (status, html) = comms.get_html("/rapports").await;
    assert_eq!(status, 200);

    let refusals = table(&html, "Motifs de refus par le département");
    assert_eq!(refusals.len(), 2);
    assert!(refusals.contains(&strings(&["Profil ne correspondant pas aux besoins", "1"])));
    assert!(refusals.contains(&strings(&["Spécialité non recherchée", "1"])));
    assert_eq!(
        table(&html, "Motifs de désistement des candidats"),
        vec![strings(&["Rémunération", "1"])]
    );
    assert_eq!(
        table(&html, "Motifs des propositions déclinées"),
        vec![strings(&["Distance, trajets", "1"])]
    );

    // Five consented; A4 refused the pool, A3 is past the retention.
    assert_eq!(table(&html, "Vivier"), vec![strings(&["3", "2"])]);

    let gp = app
        .text("SELECT label FROM specialties WHERE code = 'SM54'")
        .unwrap();
    let other = app
        .text("SELECT label FROM specialties WHERE code = 'SM26'")
        .unwrap();
    let specialties = table(&html, "Spécialités des candidats");
    assert_eq!(
        specialties,
        vec![vec![gp, "4".to_owned()], vec![other, "1".to_owned()]]
    );
    let situations = table(&html, "Situations professionnelles des candidats");
    assert_eq!(
        situations,
        vec![
            strings(&["Activité de remplacement", "4"]),
            strings(&["Interne en médecine", "1"]),
        ]
    );

    let records = csv(&comms, "/rapports/situations.csv").await;
    assert_eq!(records[0], strings(&["Situation", "Candidats"]));
    assert_eq!(records[1], strings(&["Activité de remplacement", "4"]));
    let records = csv(&comms, "/rapports/vivier.csv").await;
    assert_eq!(records[1], strings(&["3", "2"]));
    let records = csv(&comms, "/rapports/motifs-declin.csv").await;
    assert_eq!(
        records,
        vec![
            strings(&["Motif", "Nombre"]),
            strings(&["Distance, trajets", "1"])
        ]
    );
}

#[tokio::test]
async fn a_wrong_date_is_explained_next_to_its_field() {
    let app = TestApp::spawn().await;
    let admin = app.staff(StaffRole::Admin).await;

    let (status, html) = admin.get_html("/rapports?du=31%2F02%2F2026&au=").await;
    assert_eq!(status, 422, "{html}");
    let doc = scraper::Html::parse_document(&html);
    let error: String = doc
        .select(&scraper::Selector::parse("#du-error").unwrap())
        .next()
        .expect("the message tied to « Du »")
        .text()
        .collect();
    assert!(error.contains("JJ/MM/AAAA"), "{error}");
    let input = doc
        .select(&scraper::Selector::parse("input#du").unwrap())
        .next()
        .unwrap();
    assert_eq!(input.value().attr("aria-invalid"), Some("true"));
    assert!(input
        .value()
        .attr("aria-describedby")
        .unwrap()
        .contains("du-error"));
    assert!(html.contains("<title>Erreur – Rapports"));
    assert!(!html.contains("Entonnoir de recrutement"));

    // The end before the start: the message is on « Au ».
    let (status, html) = admin
        .get_html("/rapports?du=2026-05-01&au=2026-04-01")
        .await;
    assert_eq!(status, 422);
    assert!(html.contains("id=\"au-error\""));
    assert!(!html.contains("id=\"du-error\""));

    // The CSV answers 400 with the reason, not a server error.
    let r = admin.get("/rapports/entonnoir.csv?du=hier").await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("JJ/MM/AAAA"));
    // An unknown figure does not exist.
    assert_eq!(admin.get("/rapports/inconnu.csv").await.status(), 404);
}

#[tokio::test]
async fn only_administrators_and_communications_staff_see_the_reports() {
    let app = TestApp::spawn().await;
    let recruiter = app.staff(StaffRole::Recruiter).await;
    assert_eq!(recruiter.get("/rapports").await.status(), 403);
    assert_eq!(recruiter.get("/rapports/entonnoir.csv").await.status(), 403);
    let (_, home) = recruiter.get_html("/espace").await;
    assert!(!home.contains("href=\"/rapports\""));

    for role in [StaffRole::Admin, StaffRole::Communication] {
        let member = app.staff(role).await;
        let (status, html) = member.get_html("/rapports").await;
        assert_eq!(status, 200, "{}", role.code());
        // The menu's link, marked as the page shown (issue 18).
        assert!(html.contains("<a href=\"/rapports\" aria-current=\"page\">Rapports</a>"));
    }

    // Without a session: to the sign-in page, then back here.
    let anonymous = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for path in ["/rapports", "/rapports/vivier.csv"] {
        let r = anonymous.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 303, "{path}");
        let location = r.headers()["location"].to_str().unwrap();
        assert!(location.starts_with("/connexion"), "{location}");
    }
}
