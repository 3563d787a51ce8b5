//! The staff home's « À faire » per role, the grouped menu with its current page, the journal
//! told in sentences with its filters (and hostile filter values), and the admin forms shown
//! again with what was typed (issue 18).

use diesel::RunQueryDsl as _;
use scraper::{Html, Selector};
use vocation::db::enums::StaffRole;

use crate::helpers::{hidden_value, sql_now, sql_today, Fields, StaffClient, TestApp};

fn exec(app: &TestApp, sql: &str) {
    diesel::sql_query(sql)
        .execute(&mut app.conn())
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

fn id(app: &TestApp, sql: &str) -> i64 {
    app.text(sql)
        .unwrap_or_else(|| panic!("no row: {sql}"))
        .parse()
        .unwrap()
}

/// Applies with another address; returns (candidate id, application id).
async fn applicant(app: &TestApp, first: &str, last: &str) -> (i64, i64) {
    static PHONE: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = PHONE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let email = format!(
        "{}.{}@exemple.fr",
        first.to_lowercase(),
        last.to_lowercase()
    );
    let fields = Fields::valid()
        .set("prenom", first)
        .set("nom", last)
        .set("courriel", &email)
        .set("rpps", "")
        .set(
            "telephone",
            &format!("06 00 00 {:02} {:02}", n / 100, n % 100),
        );
    assert_eq!(app.apply(&fields).await.status(), 303);
    let candidate = id(
        app,
        &format!("SELECT id FROM candidates WHERE email = '{email}'"),
    );
    let application = id(
        app,
        &format!("SELECT max(id) FROM applications WHERE candidate_id = {candidate}"),
    );
    (candidate, application)
}

/// The text of the « À faire » section `key`, or None when the page has no such section.
fn section(html: &str, key: &str) -> Option<String> {
    let doc = Html::parse_document(html);
    let sel = Selector::parse(&format!("section#a-faire-{key}")).unwrap();
    doc.select(&sel).next().map(|s| s.html())
}

fn sections(html: &str) -> Vec<String> {
    let doc = Html::parse_document(html);
    let sel = Selector::parse("section.todo").unwrap();
    doc.select(&sel)
        .filter_map(|s| s.value().id())
        .map(|id| id.trim_start_matches("a-faire-").to_owned())
        .collect()
}

fn heading_count(section_html: &str) -> String {
    let doc = Html::parse_fragment(section_html);
    let sel = Selector::parse(".todo-count").unwrap();
    doc.select(&sel)
        .next()
        .map(|e| e.text().collect::<String>())
        .unwrap_or_default()
        .replace(['(', ')'], "")
}

struct World {
    new_candidate: i64,
    new_application: i64,
    pool_candidate: i64,
    sent_offer: i64,
    draft_offer: i64,
    meeting_candidate: i64,
    campaign: i64,
    import: i64,
}

/// One of each thing the home lists: a new application waiting 5 days, a follow-up due since
/// yesterday, an offer sent expiring in 3 days, a draft waiting for approval, an interview in
/// two days, a campaign sending and one waiting for confirmation, an import with 3 rejected
/// rows. Dates relative to the run.
async fn world(app: &TestApp, recruiter_id: i64, admin_id: i64) -> World {
    let (new_candidate, new_application) = applicant(app, "Anne", "Nouvelle").await;
    exec(
        app,
        &format!(
            "UPDATE applications SET stage_entered_at = {} - interval '5 days' WHERE id = \
             {new_application}",
            sql_now()
        ),
    );
    let (pool_candidate, pool) = applicant(app, "Paul", "Vivier").await;
    exec(
        app,
        &format!("UPDATE applications SET stage = 'vivier' WHERE id = {pool}"),
    );
    exec(
        app,
        &format!(
            "INSERT INTO stage_history (application_id, from_stage, to_stage, follow_up_on, \
             created_at) VALUES ({pool}, 'nouvelle', 'vivier', {} - 1, {})",
            sql_today(),
            sql_now()
        ),
    );
    let (_, offered) = applicant(app, "Odile", "Proposee").await;
    exec(
        app,
        &format!("UPDATE applications SET stage = 'proposition' WHERE id = {offered}"),
    );
    exec(
        app,
        &format!(
            "INSERT INTO offers (application_id, status, working_time, fte_hundredths, \
             starts_on, expires_on, approved_by, approved_at, sent_at) VALUES ({offered}, \
             'sent', 'temps_plein', 100, {today} + 60, {today} + 3, {admin_id}, {now}, {now})",
            today = sql_today(),
            now = sql_now()
        ),
    );
    let sent_offer = id(
        app,
        &format!("SELECT id FROM offers WHERE application_id = {offered}"),
    );
    let (_, drafted) = applicant(app, "Denis", "Brouillon").await;
    exec(
        app,
        &format!("UPDATE applications SET stage = 'visite' WHERE id = {drafted}"),
    );
    exec(
        app,
        &format!(
            "INSERT INTO offers (application_id, status, working_time, fte_hundredths, \
             starts_on, expires_on, approval_requested_at, approval_requested_by) VALUES \
             ({drafted}, 'draft', 'temps_plein', 100, {today} + 60, {today} + 20, {now}, \
             {recruiter_id})",
            today = sql_today(),
            now = sql_now()
        ),
    );
    let draft_offer = id(
        app,
        &format!("SELECT id FROM offers WHERE application_id = {drafted}"),
    );
    let (meeting_candidate, met) = applicant(app, "Marc", "Entretien").await;
    exec(
        app,
        &format!(
            "INSERT INTO meetings (application_id, kind, starts_at, duration_minutes, location, \
             participants, note) VALUES ({met}, 'entretien', {} + interval '2 days', 90, \
             'Mairie de Fleurance', '', '')",
            sql_now()
        ),
    );
    exec(
        app,
        "INSERT INTO mail_templates (name, subject, body_text, body_html) VALUES \
         ('Modèle du jour', 'Objet', 'Texte', '<p>Texte</p>')",
    );
    let template = id(app, "SELECT max(id) FROM mail_templates");
    exec(
        app,
        &format!(
            "INSERT INTO campaigns (name, template_id, sender_name, sender_email, \
             rate_per_minute, schedule_kind, status) VALUES ('Internes de Toulouse', \
             {template}, 'CDS', 'cds@exemple.fr', 60, 'maintenant', 'en_cours'), \
             ('Retraités, chaque mois', {template}, 'CDS', 'cds@exemple.fr', 60, 'maintenant', \
             'programmee'), ('Ancienne', {template}, 'CDS', 'cds@exemple.fr', 60, \
             'maintenant', 'terminee')"
        ),
    );
    let campaign = id(
        app,
        "SELECT id FROM campaigns WHERE name = 'Internes de Toulouse'",
    );
    let monthly = id(
        app,
        "SELECT id FROM campaigns WHERE name = 'Retraités, chaque mois'",
    );
    exec(
        app,
        &format!(
            "INSERT INTO campaign_runs (campaign_id, scheduled_for, status) VALUES \
             ({monthly}, {}, 'a_confirmer')",
            sql_now()
        ),
    );
    exec(app, "INSERT INTO contact_lists (name) VALUES ('Internes')");
    let list = id(app, "SELECT max(id) FROM contact_lists");
    exec(
        app,
        &format!(
            "INSERT INTO contact_imports (list_id, filename, content, defaults, applied_at, \
             report) VALUES ({list}, 'internes.csv', ''::bytea, '{{}}', {now} - interval '1 day', \
             '{{\"counts\": {{\"rows\": 10, \"added\": 7, \"added_to_list\": 0, \
             \"already_in_list\": 0, \"rejected\": 1, \"completed\": 0, \
             \"organisations_created\": 0}}, \"rejected\": []}}'), \
             ({list}, 'internes-2.csv', ''::bytea, '{{}}', {now}, \
             '{{\"counts\": {{\"rows\": 10, \"added\": 7, \"added_to_list\": 0, \
             \"already_in_list\": 0, \"rejected\": 3, \"completed\": 0, \
             \"organisations_created\": 0}}, \"rejected\": []}}')",
            now = sql_now()
        ),
    );
    let import = id(
        app,
        "SELECT id FROM contact_imports WHERE filename = 'internes-2.csv'",
    );
    World {
        new_candidate,
        new_application,
        pool_candidate,
        sent_offer,
        draft_offer,
        meeting_candidate,
        campaign,
        import,
    }
}

async fn signed_in(app: &TestApp, role: StaffRole, name: &str) -> (StaffClient, i64) {
    let client = app.staff(role).await;
    let id = id(app, "SELECT max(id) FROM staff_users");
    exec(
        app,
        &format!("UPDATE staff_users SET display_name = '{name}' WHERE id = {id}"),
    );
    (client, id)
}

#[tokio::test]
async fn each_role_finds_its_own_work_on_the_home_each_item_one_click_away() {
    let app = TestApp::spawn().await;
    let (recruiter, recruiter_id) = signed_in(&app, StaffRole::Recruiter, "Claire Martin").await;
    let (admin, admin_id) = signed_in(&app, StaffRole::Admin, "Alain Admin").await;
    let (communication, _) = signed_in(&app, StaffRole::Communication, "Chloé Com").await;
    let w = world(&app, recruiter_id, admin_id).await;

    // The recruiter: applications, follow-ups, offers, meetings; nothing of the others.
    let (status, home) = recruiter.get_html("/espace").await;
    assert_eq!(status, 200);
    assert_eq!(
        sections(&home),
        [
            "candidatures",
            "relances",
            "a-envoyer",
            "propositions",
            "rendez-vous"
        ]
    );
    let new = section(&home, "candidatures").unwrap();
    assert!(
        new.contains(&format!(
            "href=\"/recrutement/candidats/{}#candidature-{}\"",
            w.new_candidate, w.new_application
        )),
        "{new}"
    );
    assert!(new.contains("Anne Nouvelle"), "{new}");
    assert!(new.contains("reçue il y a 5 jours"), "{new}");
    assert!(
        new.contains("En attente"),
        "waited longer than 3 days: {new}"
    );
    // Marc, who arrived today, is the other one still « Nouvelle »; Anne, older, comes first.
    assert_eq!(heading_count(&new), "2", "{new}");
    assert!(
        new.find("Anne Nouvelle") < new.find("Marc Entretien"),
        "oldest first"
    );
    let follow_ups = section(&home, "relances").unwrap();
    assert!(follow_ups.contains("Paul Vivier"), "{follow_ups}");
    assert!(follow_ups.contains(&format!("/recrutement/candidats/{}#", w.pool_candidate)));
    assert!(follow_ups.contains("(1 jour)"), "{follow_ups}");
    assert_eq!(heading_count(&follow_ups), "1");
    let offers = section(&home, "propositions").unwrap();
    assert!(offers.contains(&format!(
        "href=\"/recrutement/propositions/{}\"",
        w.sent_offer
    )));
    assert!(offers.contains("(dans 3 jours)"), "{offers}");
    assert!(offers.contains("Expire bientôt"), "{offers}");
    assert!(
        !offers.contains(&format!("/recrutement/propositions/{}\"", w.draft_offer)),
        "a draft waits for no answer"
    );
    let meetings = section(&home, "rendez-vous").unwrap();
    assert!(
        meetings.contains("Entretien – Marc Entretien"),
        "{meetings}"
    );
    assert!(meetings.contains("1&nbsp;h&nbsp;30"), "{meetings}");
    assert!(meetings.contains("Mairie de Fleurance"), "{meetings}");
    assert!(meetings.contains(&format!("/recrutement/candidats/{}#", w.meeting_candidate)));
    assert!(
        !home.contains("href=\"/rapports\""),
        "no report for recruiters"
    );

    // Communications: campaigns and the last import, nothing of the pipeline.
    let (status, home) = communication.get_html("/espace").await;
    assert_eq!(status, 200);
    assert_eq!(sections(&home), ["campagnes", "import"]);
    let campaigns = section(&home, "campagnes").unwrap();
    assert!(campaigns.contains(&format!("href=\"/campagnes/{}\"", w.campaign)));
    assert!(campaigns.contains("campagne en cours"), "{campaigns}");
    assert!(campaigns.contains("1 envoi à confirmer"), "{campaigns}");
    assert!(
        !campaigns.contains("Ancienne"),
        "a finished campaign waits for nothing"
    );
    assert_eq!(heading_count(&campaigns), "2");
    let import = section(&home, "import").unwrap();
    assert!(import.contains(&format!("href=\"/contacts/import/{}\"", w.import)));
    assert!(
        import.contains("3 lignes refusées dans la liste « Internes »"),
        "{import}"
    );
    assert!(!home.contains("Anne Nouvelle"));

    // The admin approves (admins always may), and sees everything.
    let (_, home) = admin.get_html("/espace").await;
    assert_eq!(
        sections(&home),
        [
            "approbations",
            "candidatures",
            "relances",
            "a-envoyer",
            "propositions",
            "rendez-vous",
            "campagnes",
            "import"
        ]
    );
    let approvals = section(&home, "approbations").unwrap();
    assert!(approvals.contains(&format!(
        "href=\"/recrutement/propositions/{}\"",
        w.draft_offer
    )));
    assert!(
        approvals.contains("demandée par Claire Martin"),
        "{approvals}"
    );
    assert_eq!(heading_count(&approvals), "1");
}

#[tokio::test]
async fn an_empty_home_says_so_per_section_and_a_long_list_links_to_all() {
    let app = TestApp::spawn().await;
    let recruiter = app.staff(StaffRole::Recruiter).await;
    let (status, home) = recruiter.get_html("/espace").await;
    assert_eq!(status, 200);
    for sentence in [
        "Aucune candidature à lire.",
        "Aucune relance à faire aujourd&#x27;hui.",
        "Aucune proposition en attente de réponse.",
        "Aucun entretien ni visite dans les 7 prochains jours.",
    ] {
        assert!(home.contains(sentence), "{sentence}");
    }
    assert!(!home.contains("Voir les"));

    // More than five new applications: the first five, and a link to all.
    for last in [
        "Abel", "Bruno", "Cyril", "Denis", "Emile", "Fabien", "Gaston",
    ] {
        applicant(&app, "Jeanne", last).await;
    }
    let (_, home) = recruiter.get_html("/espace").await;
    let new = section(&home, "candidatures").unwrap();
    assert_eq!(heading_count(&new), "7");
    assert_eq!(new.matches("<li class=\"todo-item").count(), 5);
    assert!(new.contains("Voir les 7 candidatures"), "{new}");
    assert!(
        new.contains("Jeanne Abel") && !new.contains("Jeanne Gaston"),
        "oldest first"
    );
}

#[tokio::test]
async fn the_menu_is_grouped_by_role_marks_the_current_page_and_holds_no_account_settings() {
    let app = TestApp::spawn().await;
    let recruiter = app.staff(StaffRole::Recruiter).await;
    let current = |html: &str| -> Vec<String> {
        let doc = Html::parse_document(html);
        let sel = Selector::parse("nav a[aria-current=page]").unwrap();
        doc.select(&sel).map(|a| a.text().collect()).collect()
    };
    let nav_links = |html: &str| -> Vec<String> {
        let doc = Html::parse_document(html);
        let sel = Selector::parse("nav .nav-sections a").unwrap();
        doc.select(&sel)
            .filter_map(|a| a.value().attr("href").map(str::to_owned))
            .collect()
    };
    let (_, html) = recruiter.get_html("/recrutement/relances").await;
    assert_eq!(current(&html), ["Relances"]);
    let links = nav_links(&html);
    assert!(links.contains(&"/recrutement/agenda".to_owned()));
    assert!(!links
        .iter()
        .any(|l| l.starts_with("/admin") || l == "/campagnes"));
    assert!(
        !links.contains(&"/espace/jetons".to_owned()),
        "account settings are under the name, not in the menu"
    );
    let doc = Html::parse_document(&html);
    let account = Selector::parse("details.account-menu a").unwrap();
    let account: Vec<_> = doc
        .select(&account)
        .filter_map(|a| a.value().attr("href"))
        .collect();
    assert_eq!(
        account,
        ["/compte/double-authentification", "/espace/jetons"]
    );
    assert!(
        html.contains("<summary>Menu</summary>"),
        "a « Menu » for phones"
    );

    let (_, html) = recruiter.get_html("/espace").await;
    assert_eq!(current(&html), ["À faire"]);
    let (_, html) = recruiter.get_html("/espace/jetons").await;
    assert!(current(&html).is_empty(), "{:?}", current(&html));
    assert!(html.contains("href=\"/espace/jetons\" aria-current=\"page\""));

    let admin = app.staff(StaffRole::Admin).await;
    let (_, html) = admin.get_html("/admin/journal").await;
    assert_eq!(current(&html), ["Journal"]);
    let doc = Html::parse_document(&html);
    let titles = Selector::parse(".nav-section-title").unwrap();
    let titles: Vec<String> = doc.select(&titles).map(|t| t.text().collect()).collect();
    assert_eq!(
        titles,
        ["Recrutement", "Centres", "Communication", "Administration"]
    );
}

// ---------------------------------------------------------------------------------------------
// The journal

/// The journal's lines as text.
fn journal_lines(html: &str) -> Vec<String> {
    let doc = Html::parse_document(html);
    let sel = Selector::parse(".journal-sentence").unwrap();
    doc.select(&sel).map(|l| l.text().collect()).collect()
}

/// (href, text) of the links in the journal's sentences, and of its page links.
fn links_in(html: &str, css: &str) -> Vec<(String, String)> {
    let doc = Html::parse_document(html);
    let sel = Selector::parse(css).unwrap();
    doc.select(&sel)
        .map(|a| {
            (
                a.value().attr("href").unwrap_or_default().to_owned(),
                a.text().collect(),
            )
        })
        .collect()
}

fn journal_links(html: &str) -> Vec<(String, String)> {
    links_in(html, ".journal-sentence a")
}

fn page_links(html: &str) -> Vec<(String, String)> {
    links_in(html, ".pagination a")
}

fn audit(
    app: &TestApp,
    actor: Option<i64>,
    action: &str,
    entity: &str,
    id: Option<i64>,
    detail: &str,
) {
    vocation::staff::audit::audit(&mut app.conn(), actor, action, entity, id, detail).unwrap();
}

#[tokio::test]
async fn the_journal_tells_who_did_what_with_links_and_filters() {
    let app = TestApp::spawn().await;
    let (admin, admin_id) = signed_in(&app, StaffRole::Admin, "Alain Admin").await;
    let (_, claire) = signed_in(&app, StaffRole::Recruiter, "Claire Martin").await;
    let (candidate, application) = applicant(&app, "Anne", "Nouvelle").await;
    exec(&app, "DELETE FROM audit_log");
    audit(
        &app,
        Some(claire),
        "changement_etape",
        "application",
        Some(application),
        "nouvelle -> premier_contact",
    );
    audit(&app, Some(claire), "note", "candidate", Some(candidate), "");
    audit(
        &app,
        Some(admin_id),
        "proposition_envoyee",
        "offer",
        Some(3),
        "",
    );
    audit(&app, None, "proposition_expiree", "offer", Some(3), "");
    audit(
        &app,
        Some(admin_id),
        "action_inconnue",
        "chose",
        Some(8),
        "",
    );
    // The note was written ten days ago. The log is dated by PostgreSQL's clock when a line is
    // written, so the test reckons in that clock too (under tests/faketime.sh the test process's
    // clock is years ahead of the database's).
    exec(
        &app,
        "UPDATE audit_log SET created_at = now() - interval '10 days' WHERE action = 'note'",
    );

    let (status, html) = admin.get_html("/admin/journal").await;
    assert_eq!(status, 200);
    let lines = journal_lines(&html);
    assert_eq!(
        lines,
        [
            "Alain Admin a fait l'action « action_inconnue » sur l'objet « chose » n° 8.",
            "Le service a noté que la proposition n° 3 a expiré sans réponse.",
            "Alain Admin a envoyé la proposition n° 3.",
            &format!("Claire Martin a ajouté une note sur la fiche n° {candidate}."),
            &format!(
                "Claire Martin a fait passer la candidature n° {application} de Nouvelle à \
                 Premier contact."
            ),
        ]
    );
    let links = journal_links(&html);
    assert!(links.contains(&(
        format!("/recrutement/candidats/{candidate}#candidature-{application}"),
        format!("la candidature n° {application}")
    )));
    assert!(links.contains(&(
        "/recrutement/propositions/3".to_owned(),
        "la proposition n° 3".to_owned()
    )));
    assert!(links.contains(&(
        format!("/admin/journal?par={claire}"),
        "Claire Martin".to_owned()
    )));

    // By person.
    let (status, html) = admin
        .get_html(&format!("/admin/journal?par={claire}"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(journal_lines(&html).len(), 2);
    assert!(html.contains(&format!(
        "<option value=\"{claire}\" selected>Claire Martin</option>"
    )));
    // By action.
    let (_, html) = admin.get_html("/admin/journal?action=note").await;
    assert_eq!(journal_lines(&html).len(), 1);
    // By dates (Paris days, both included): the last three days leave the note out.
    let today: chrono::NaiveDate = app
        .text("SELECT ((now() AT TIME ZONE 'Europe/Paris')::date)::text")
        .and_then(|d| d.parse().ok())
        .expect("the database's day");
    let from = (today - chrono::Duration::days(3)).format("%d/%m/%Y");
    let (status, html) = admin
        .get_html(&format!(
            "/admin/journal?du={from}&au={}",
            today.format("%Y-%m-%d")
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(journal_lines(&html).len(), 4);
    let until = (today - chrono::Duration::days(9)).format("%d/%m/%Y");
    let (_, html) = admin.get_html(&format!("/admin/journal?au={until}")).await;
    assert_eq!(journal_lines(&html).len(), 1, "only the note");
    let (_, html) = admin
        .get_html(&format!("/admin/journal?par={admin_id}&action=note"))
        .await;
    assert!(html.contains("Aucune action ne correspond à ces filtres."));

    // Pages of fifty, the filters kept from page to page.
    for i in 0..60 {
        audit(&app, Some(claire), "note", "candidate", Some(i), "");
    }
    let (_, html) = admin.get_html("/admin/journal?action=note").await;
    assert_eq!(journal_lines(&html).len(), 50);
    assert!(
        page_links(&html).contains(&(
            "/admin/journal?action=note&page=2".to_owned(),
            "Page suivante".to_owned()
        )),
        "{:?}",
        page_links(&html)
    );
    let (_, html) = admin.get_html("/admin/journal?action=note&page=2").await;
    assert_eq!(journal_lines(&html).len(), 11);
    assert!(
        page_links(&html).contains(&(
            "/admin/journal?action=note".to_owned(),
            "Page précédente".to_owned()
        )),
        "back to page 1"
    );

    // Only admins read it.
    let recruiter = app.staff(StaffRole::Recruiter).await;
    assert_eq!(recruiter.get("/admin/journal").await.status(), 403);
    assert_eq!(
        recruiter
            .get(&format!("/admin/journal?par={admin_id}"))
            .await
            .status(),
        403
    );
}

#[tokio::test]
async fn hostile_journal_filters_give_the_page_again_with_the_message_at_the_field() {
    let app = TestApp::spawn().await;
    let admin = app.staff(StaffRole::Admin).await;
    let cases: &[(&str, &str, &str)] = &[
        ("du=31%2F02%2F2026", "du", "Date illisible"),
        (
            "du=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
            "du",
            "Date illisible",
        ),
        ("au=-0001-01-01", "au", "entre 2000 et 2999"),
        ("du=01%2F01%2F1200", "du", "entre 2000 et 2999"),
        (
            "du=07%2F12%2F2026&au=01%2F12%2F2026",
            "au",
            "précède la date de début",
        ),
        ("par=999999", "par", "Choisissez une personne"),
        ("par=1%20OR%201%3D1", "par", "Choisissez une personne"),
        ("par=-1", "par", "Choisissez une personne"),
        (
            "action=x%27%3B%20DROP%20TABLE%20audit_log%3B--",
            "action",
            "Choisissez une action",
        ),
        (
            "action=%7B%7Bprenom%7D%7D",
            "action",
            "Choisissez une action",
        ),
    ];
    for (query, field, message) in cases {
        let (status, html) = admin.get_html(&format!("/admin/journal?{query}")).await;
        assert_eq!(status, 422, "{query}");
        let doc = Html::parse_document(&html);
        let error = Selector::parse(&format!("#{field}-error")).unwrap();
        let error: String = doc
            .select(&error)
            .next()
            .unwrap_or_else(|| panic!("{query}: no message at {field}"))
            .text()
            .collect();
        assert!(error.contains(message), "{query}: {error}");
        let input = Selector::parse(&format!("#{field}")).unwrap();
        let input = doc.select(&input).next().unwrap();
        assert_eq!(
            input
                .value()
                .attr("aria-describedby")
                .map(|d| d.contains(&format!("{field}-error"))),
            Some(true),
            "{query}"
        );
        assert!(html.contains("class=\"error-summary\""), "{query}");
        assert!(
            html.contains("nav-sections"),
            "the whole staff layout: {query}"
        );
        assert!(!html.contains("<script>alert"), "escaped: {query}");
    }
    // What was typed stays in the field.
    let (_, html) = admin
        .get_html("/admin/journal?du=31%2F02%2F2026&au=hier")
        .await;
    assert_eq!(hidden_or_value(&html, "du"), "31/02/2026");
    assert_eq!(hidden_or_value(&html, "au"), "hier");

    // A page number that is no page reads as the first; a field sent twice, a control
    // character or a huge value are refused without a 500.
    for query in ["page=-5", "page=abc", "page=99999999999999999999", "page="] {
        let (status, _) = admin.get_html(&format!("/admin/journal?{query}")).await;
        assert_eq!(status, 200, "{query}");
    }
    let huge = "9".repeat(20_000);
    for query in [
        "du=%00".to_owned(),
        "par=1&par=2".to_owned(),
        format!("au={huge}"),
        "action=%FF%FE".to_owned(),
    ] {
        let status = admin
            .get(&format!("/admin/journal?{query}"))
            .await
            .status()
            .as_u16();
        assert!(
            (400..500).contains(&status),
            "{}: {status}",
            &query[..query.len().min(40)]
        );
    }
}

fn hidden_or_value(html: &str, id: &str) -> String {
    let doc = Html::parse_document(html);
    let sel = Selector::parse(&format!("input#{id}")).unwrap();
    doc.select(&sel)
        .next()
        .and_then(|e| e.value().attr("value"))
        .unwrap_or_default()
        .to_owned()
}

// ---------------------------------------------------------------------------------------------
// Admin forms

#[tokio::test]
async fn the_account_form_comes_back_with_the_message_at_the_field_and_what_was_typed() {
    let app = TestApp::spawn().await;
    let admin = app.staff(StaffRole::Admin).await;
    let csrf = admin.csrf_from("/admin/utilisateurs").await;
    let cases: &[(&str, &str, &str, &str)] = &[
        ("pas-une-adresse", "Jeanne Durand", "recruteur", "courriel"),
        ("jeanne@cds32.test", "Jeanne Durand", "pirate", "role"),
        ("jeanne@cds32.test", "Jeanne\u{0}Durand", "recruteur", "nom"),
        ("jeanne@cds32.test", &"J".repeat(201), "recruteur", "nom"),
    ];
    for (email, name, role, field) in cases {
        let r = admin
            .post_form(
                "/admin/utilisateurs",
                &[
                    ("csrf", &csrf),
                    ("courriel", email),
                    ("nom", name),
                    ("role", role),
                ],
            )
            .await;
        assert!(r.status().as_u16() < 500);
        if r.status().as_u16() == 400 {
            // The body reader refuses a control character before the handler.
            assert!(name.contains('\u{0}'));
            continue;
        }
        assert_eq!(r.status(), 422, "{field}");
        let html = r.text().await.unwrap();
        let doc = Html::parse_document(&html);
        let error = Selector::parse(&format!("#{field}-error")).unwrap();
        assert!(doc.select(&error).next().is_some(), "{field}: {html}");
        let control =
            Selector::parse(&format!("#{field}[aria-describedby={field}-error]")).unwrap();
        assert!(doc.select(&control).next().is_some(), "{field}");
        assert!(html.contains("nav-sections"), "the staff layout");
        if *field != "courriel" {
            assert_eq!(hidden_or_value(&html, "courriel"), *email);
        }
        if *field != "nom" {
            assert_eq!(hidden_or_value(&html, "nom"), *name);
        }
    }
    assert_eq!(
        app.count("SELECT count(*) FROM staff_users WHERE email = 'jeanne@cds32.test'"),
        0
    );
    // Without the form's token: 403, nothing created.
    let r = admin
        .post_form(
            "/admin/utilisateurs",
            &[("courriel", "jeanne@cds32.test"), ("role", "recruteur")],
        )
        .await;
    assert_eq!(r.status(), 403);

    // A change refused on one account: the accounts page again, the message in its row.
    let me = id(&app, "SELECT max(id) FROM staff_users");
    let r = admin
        .post_form(
            &format!("/admin/utilisateurs/{me}"),
            &[
                ("csrf", &csrf),
                ("action", "role"),
                ("role", "communication"),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(
        html.contains(&format!("id=\"compte-{me}-error\"")),
        "{html}"
    );
    assert!(html.contains(&format!("href=\"#role-{me}\"")));
    assert!(html.contains("nav-sections"));
    let r = admin
        .post_form(
            &format!("/admin/utilisateurs/{me}"),
            &[("csrf", &csrf), ("action", "role"), ("role", "<b>chef</b>")],
        )
        .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("Choisissez un rôle dans la liste."));
    assert!(!html.contains("<b>chef</b>"));
}

#[tokio::test]
async fn centre_position_and_stage_email_forms_come_back_in_the_staff_layout() {
    let app = TestApp::spawn().await;
    let admin = app.staff(StaffRole::Admin).await;
    let csrf = admin.csrf_from("/admin/centres/nouveau").await;
    let r = admin
        .post_form(
            "/admin/centres/nouveau",
            &[
                ("csrf", &csrf),
                ("nom", "Centre de Mirande"),
                ("type", "centre"),
                ("commune", "Mirande"),
                ("code_insee", "3225"),
                ("latitude", "43,5"),
                ("longitude", "0,4"),
                ("statut", "planned"),
                ("ouverture", ""),
                ("fermeture", ""),
                ("capacite", "2"),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"code_insee-error\""));
    assert_eq!(hidden_or_value(&html, "nom"), "Centre de Mirande");
    assert_eq!(hidden_or_value(&html, "code_insee"), "3225");
    assert!(html.contains("nav-sections"), "the staff layout");

    let r = admin
        .post_form(
            "/admin/postes/nouveau",
            &[
                ("csrf", &csrf),
                ("titre", ""),
                ("description", "Gardé tel quel"),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("Gardé tel quel"));
    assert!(html.contains("nav-sections"));

    let r = admin
        .post_form(
            "/admin/modeles/entretien",
            &[
                ("csrf", &csrf),
                ("objet", "Votre entretien"),
                ("texte", "Bonjour {{#if}}"),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("Votre entretien") && html.contains("Bonjour {{#if}}"));
    assert!(
        html.contains("aria-describedby=\"texte-entretien-error\""),
        "{html}"
    );
    assert!(html.contains("nav-sections"));
    assert_eq!(hidden_value(&html, "csrf"), csrf);
}

#[tokio::test]
async fn the_new_application_email_to_recruiters_links_to_the_candidate_page() {
    let app = TestApp::spawn().await;
    let (candidate, _) = applicant(&app, "Anne", "Nouvelle").await;
    assert_eq!(app.dispatch_all_pending_emails().await, 2);
    let mails = app.smtp.received_by(crate::helpers::RECRUITERS);
    assert_eq!(mails.len(), 1);
    let link = format!("/recrutement/candidats/{candidate}");
    assert!(mails[0].text().contains(&link), "{}", mails[0].text());
    assert!(mails[0].html().contains(&link), "{}", mails[0].html());
}
