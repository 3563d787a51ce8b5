//! The communications staff's pages: campaign templates (editor, preview, test send) and
//! campaigns (form, lifecycle actions, progression).

use diesel::connection::SimpleConnection;
use vocation::db::enums::StaffRole;

use crate::helpers::{field_error, hidden_value, sql_now, StaffClient, TestApp};

/// The session's CSRF token, read from a page communications staff may open.
pub(crate) async fn csrf(staff: &StaffClient) -> String {
    let (status, html) = staff.get_html("/campagnes/modeles").await;
    assert_eq!(status, 200, "{html}");
    hidden_value(&html, "csrf")
}

pub(crate) async fn post(
    staff: &StaffClient,
    path: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let token = csrf(staff).await;
    let mut all = vec![("csrf", token.as_str())];
    all.extend_from_slice(fields);
    staff.post_form(path, &all).await
}

/// The page's text, entities decoded.
pub(crate) fn page_text(html: &str) -> String {
    scraper::Html::parse_document(html)
        .root_element()
        .text()
        .collect()
}

fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

const SUBJECT: &str = "Bonjour {{prenom}}, le Gers recrute";
const TEXT: &str = "Bonjour {{prenom}} {{nom}},\n\nLe département salarie des médecins.\n\
                    Candidatez : {{lien_candidature}}";

/// Saves a valid template through the editor; returns its id.
async fn template(app: &TestApp, staff: &StaffClient, name: &str) -> String {
    let r = post(
        staff,
        "/campagnes/modeles/nouveau",
        &[
            ("nom", name),
            ("objet", SUBJECT),
            ("texte", TEXT),
            ("html", ""),
        ],
    )
    .await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let id = app
        .text(&format!(
            "SELECT id FROM mail_templates WHERE name = '{name}'"
        ))
        .unwrap();
    assert_eq!(
        location(&r),
        format!("/campagnes/modeles/{id}?fait=enregistre")
    );
    id
}

/// Two lists: « Internes » with three reachable people, one unsubscribed and one suppressed
/// address; « Retraités » sharing one of the three. Returns the lists' ids.
fn audiences(app: &TestApp) -> (String, String) {
    app.conn()
        .batch_execute(
            "INSERT INTO contacts (email, first_name, last_name, kind, legal_basis, status) VALUES
               ('alice@exemple.fr', 'Alice', 'Arnaud', 'interne', 'interet_legitime', 'active'),
               ('bruno@exemple.fr', 'Bruno', 'Baron', 'interne', 'interet_legitime', 'active'),
               ('chloe@exemple.fr', 'Chloé', 'Carrère', 'interne', 'interet_legitime', 'active'),
               ('parti@exemple.fr', 'Paul', 'Parti', 'interne', 'interet_legitime', 'unsubscribed'),
               ('Bloque@exemple.fr', 'Bastien', 'Bloqué', 'interne', 'interet_legitime', 'active');
             INSERT INTO suppressions (email, reason) VALUES ('bloque@exemple.fr', 'manuelle');
             INSERT INTO contact_lists (name) VALUES ('Internes'), ('Retraités');
             INSERT INTO list_members (list_id, contact_id)
               SELECT l.id, c.id FROM contact_lists l, contacts c WHERE l.name = 'Internes';
             INSERT INTO list_members (list_id, contact_id)
               SELECT l.id, c.id FROM contact_lists l, contacts c
               WHERE l.name = 'Retraités' AND c.email = 'alice@exemple.fr';",
        )
        .unwrap();
    (
        app.text("SELECT id FROM contact_lists WHERE name = 'Internes'")
            .unwrap(),
        app.text("SELECT id FROM contact_lists WHERE name = 'Retraités'")
            .unwrap(),
    )
}

fn campaign_fields<'a>(template: &'a str, lists: &[&'a str]) -> Vec<(&'a str, &'a str)> {
    let mut fields = vec![
        ("nom", "Internes – novembre"),
        ("modele", template),
        ("expediteur_nom", "Recrutement CDS32"),
        ("expediteur_adresse", "recrutement@gers.test"),
        ("debit", "600"),
        ("envoi", "maintenant"),
        ("date", ""),
        ("heure", ""),
        ("cron", ""),
    ];
    for l in lists {
        fields.push(("listes", *l));
    }
    fields
}

/// Creates a draft campaign through the form; returns its id.
async fn campaign(app: &TestApp, staff: &StaffClient, fields: &[(&str, &str)]) -> String {
    let r = post(staff, "/campagnes/nouvelle", fields).await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let id = app.text("SELECT max(id) FROM campaigns").unwrap();
    assert_eq!(location(&r), format!("/campagnes/{id}?fait=enregistree"));
    id
}

fn status_of(app: &TestApp, campaign: &str) -> String {
    app.text(&format!(
        "SELECT status FROM campaigns WHERE id = {campaign}"
    ))
    .unwrap()
}

#[tokio::test]
async fn a_template_with_an_unknown_variable_is_refused_with_its_name_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let staff = app.staff(StaffRole::Communication).await;
    let r = post(
        &staff,
        "/campagnes/modeles/nouveau",
        &[
            ("nom", "Internes"),
            ("objet", "Bonjour {{prenom}}"),
            ("texte", "Cher confrère {{titre_honorifique}},"),
            ("html", ""),
        ],
    )
    .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    let message = field_error(&html, "texte").expect("message at the text field");
    assert!(message.contains("titre_honorifique"), "{message}");
    assert!(message.contains("prenom"), "the possible names: {message}");
    assert_eq!(field_error(&html, "objet"), None);
    // What was typed is kept.
    assert!(html.contains("Cher confrère {{titre_honorifique}},"));
    assert!(html.contains("value=\"Internes\""));
    assert_eq!(app.count("SELECT count(*) FROM mail_templates"), 0);

    // A broken HTML part is reported at its own field.
    let r = post(
        &staff,
        "/campagnes/modeles/nouveau",
        &[
            ("nom", "Internes"),
            ("objet", "Bonjour"),
            ("texte", "Texte"),
            ("html", "<p>{{#if prenom}}Bonjour</p>"),
        ],
    )
    .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(field_error(&html, "html").unwrap().contains("mal formé"));
    assert_eq!(app.count("SELECT count(*) FROM mail_templates"), 0);
}

#[tokio::test]
async fn a_valid_template_is_saved_listed_and_its_name_is_unique() {
    let app = TestApp::spawn().await;
    let staff = app.staff(StaffRole::Communication).await;
    let id = template(&app, &staff, "Internes – rentrée").await;
    assert_eq!(
        app.text(&format!(
            "SELECT subject FROM mail_templates WHERE id = {id}"
        ))
        .unwrap(),
        SUBJECT
    );

    let (status, html) = staff
        .get_html(&format!("/campagnes/modeles/{id}?fait=enregistre"))
        .await;
    assert_eq!(status, 200);
    assert!(html.contains("Le modèle est enregistré."));
    assert!(html.contains("{{lien_desinscription}}"), "the variables");
    assert!(html.contains("ajoutés automatiquement"));

    let (_, list) = staff.get_html("/campagnes/modeles").await;
    assert!(list.contains("Internes – rentrée"));

    // Same name in other letter case: refused at the name.
    let r = post(
        &staff,
        "/campagnes/modeles/nouveau",
        &[
            ("nom", "INTERNES – RENTRÉE"),
            ("objet", "Objet"),
            ("texte", "Texte"),
            ("html", ""),
        ],
    )
    .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(field_error(&html, "nom").unwrap().contains("déjà"));
    assert_eq!(app.count("SELECT count(*) FROM mail_templates"), 1);

    // Editing keeps the checks and saves.
    let r = post(
        &staff,
        &format!("/campagnes/modeles/{id}"),
        &[
            ("nom", "Internes – rentrée"),
            ("objet", "Nouvel objet pour {{prenom}}"),
            ("texte", TEXT),
            ("html", ""),
        ],
    )
    .await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        app.text(&format!(
            "SELECT subject FROM mail_templates WHERE id = {id}"
        ))
        .unwrap(),
        "Nouvel objet pour {{prenom}}"
    );

    // An unused template can be deleted.
    let r = post(&staff, &format!("/campagnes/modeles/{id}/supprimer"), &[]).await;
    assert_eq!(r.status(), 303);
    assert_eq!(app.count("SELECT count(*) FROM mail_templates"), 0);
}

#[tokio::test]
async fn the_preview_shows_the_personalised_message_and_the_unsubscribe_link() {
    let app = TestApp::spawn().await;
    let staff = app.staff(StaffRole::Communication).await;
    let id = template(&app, &staff, "Internes").await;

    // Sample values.
    let (status, html) = staff
        .get_html(&format!("/campagnes/modeles/{id}/apercu"))
        .await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Bonjour Camille, le Gers recrute"), "{html}");
    assert!(html.contains("http://vocation.test/desinscription/"));
    assert!(html.contains("<iframe"));
    assert!(html.contains("sandbox"));

    // A real contact, found by its address (any letter case).
    app.conn()
        .batch_execute(
            "INSERT INTO contacts (email, first_name, last_name, kind, legal_basis, city)
             VALUES ('berenice@exemple.fr', 'Bérénice', '<b>Roux</b>', 'medecin_retraite',
                     'interet_legitime', 'Auch')",
        )
        .unwrap();
    let contact = app.text("SELECT id FROM contacts").unwrap();
    let r = post(
        &staff,
        &format!("/campagnes/modeles/{id}/apercu"),
        &[("recherche", "Berenice@Exemple.fr")],
    )
    .await;
    assert_eq!(r.status(), 303);
    let target = location(&r);
    assert_eq!(
        target,
        format!("/campagnes/modeles/{id}/apercu?contact={contact}")
    );
    assert!(!target.contains('@'), "no address in a URL");
    let (status, html) = staff.get_html(&target).await;
    assert_eq!(status, 200);
    assert!(html.contains("Bonjour Bérénice, le Gers recrute"));
    assert!(html.contains("médecin retraité"), "why they receive it");

    // The HTML part, as its own locked-down document.
    let r = staff
        .get(&format!(
            "/campagnes/modeles/{id}/apercu-html?contact={contact}"
        ))
        .await;
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.starts_with("default-src 'none'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'self'"), "{csp}");
    let body = r.text().await.unwrap();
    assert!(body.contains("Bérénice"));
    assert!(
        body.contains("&lt;b&gt;Roux&lt;/b&gt;"),
        "values are escaped"
    );
    assert!(!body.contains("<b>Roux</b>"));
    assert!(body.contains("/desinscription/"));
    assert!(!body.contains("<script"));

    // An unknown address: said at the field.
    let r = post(
        &staff,
        &format!("/campagnes/modeles/{id}/apercu"),
        &[("recherche", "personne@exemple.fr")],
    )
    .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(field_error(&html, "recherche")
        .unwrap()
        .contains("Aucun contact"));
}

#[tokio::test]
async fn a_test_send_is_received_with_the_essai_prefix_and_the_footer_identity() {
    let app = TestApp::spawn().await;
    let staff = app.staff(StaffRole::Communication).await;
    let id = template(&app, &staff, "Internes").await;

    let r = post(
        &staff,
        &format!("/campagnes/modeles/{id}/essai"),
        &[("destinataire", "pas-une-adresse")],
    )
    .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(field_error(&html, "destinataire")
        .unwrap()
        .contains("pas-une-adresse"));
    assert!(html.contains("value=\"pas-une-adresse\""));
    assert_eq!(app.count("SELECT count(*) FROM outbound_emails"), 0);

    let r = post(
        &staff,
        &format!("/campagnes/modeles/{id}/essai"),
        &[("destinataire", "moi@cds32.test")],
    )
    .await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(page_text(&html).contains("Le message d'essai part vers moi@cds32.test"));
    assert_eq!(
        app.text("SELECT kind FROM outbound_emails").unwrap(),
        "essai_campagne"
    );

    app.dispatch_all_pending_emails().await;
    let received = app.smtp.received_by("moi@cds32.test");
    assert_eq!(received.len(), 1);
    let mail = &received[0];
    assert_eq!(mail.subject(), "[Essai] Bonjour Camille, le Gers recrute");
    let text = mail.text();
    assert!(text.contains("Bonjour Camille Durand,"), "{text}");
    assert!(
        text.contains(
            "Ce message vous est adressé par Recrutement CDS32, Conseil départemental du Gers"
        ),
        "{text}"
    );
    assert!(text.contains("Ne plus recevoir nos messages : http://vocation.test/desinscription/"));
    assert!(mail.html().contains("Ne plus recevoir nos messages"));
}

#[tokio::test]
async fn the_campaign_form_reports_each_error_at_its_field() {
    let app = TestApp::spawn().await;
    let staff = app.staff(StaffRole::Communication).await;
    let template_id = template(&app, &staff, "Internes").await;
    let (internes, _) = audiences(&app);

    // The form offers the lists with their reachable members, and the sender by default.
    let (status, html) = staff.get_html("/campagnes/nouvelle").await;
    assert_eq!(status, 200);
    assert!(html.contains("Internes (3 contacts actifs)"), "{html}");
    assert!(html.contains("Retraités (1 contact actif)"));
    assert!(html.contains("value=\"Recrutement CDS32\""));
    assert!(html.contains("value=\"recrutement@vocation.test\""));
    assert!(html.contains("value=\"600\""));

    // No list, a cron every five minutes, a bad sender address.
    let mut fields = campaign_fields(&template_id, &[]);
    fields.retain(|(k, _)| !matches!(*k, "envoi" | "cron" | "expediteur_adresse"));
    fields.extend([
        ("envoi", "cron"),
        ("cron", "*/5 * * * *"),
        ("expediteur_adresse", "recrutement@"),
    ]);
    let r = post(&staff, "/campagnes/nouvelle", &fields).await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(field_error(&html, "listes")
        .unwrap()
        .contains("au moins une liste"));
    assert!(field_error(&html, "cron")
        .unwrap()
        .contains("au moins une heure"));
    assert!(field_error(&html, "expediteur_adresse")
        .unwrap()
        .contains("recrutement@"));
    assert_eq!(field_error(&html, "nom"), None);
    assert!(
        html.contains("value=\"Internes – novembre\""),
        "values kept"
    );
    assert!(html.contains("value=\"*/5 * * * *\""));

    // A date in the past.
    let mut fields = campaign_fields(&template_id, &[&internes]);
    fields.retain(|(k, _)| !matches!(*k, "envoi" | "date" | "heure"));
    fields.extend([
        ("envoi", "date"),
        ("date", "2020-01-06"),
        ("heure", "09:00"),
    ]);
    let r = post(&staff, "/campagnes/nouvelle", &fields).await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(field_error(&html, "date").unwrap().contains("passé"));

    // A rate out of bounds, a sender name that cannot be a header.
    let mut fields = campaign_fields(&template_id, &[&internes]);
    fields.retain(|(k, _)| !matches!(*k, "debit" | "expediteur_nom"));
    fields.extend([("debit", "0"), ("expediteur_nom", "")]);
    let r = post(&staff, "/campagnes/nouvelle", &fields).await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(field_error(&html, "debit").is_some());
    assert!(field_error(&html, "expediteur_nom").is_some());

    assert_eq!(app.count("SELECT count(*) FROM campaigns"), 0);
}

#[tokio::test]
async fn a_campaign_sent_now_gets_its_deliveries_and_is_paused_resumed_then_cancelled() {
    let app = TestApp::spawn().await;
    let staff = app.staff(StaffRole::Communication).await;
    let template_id = template(&app, &staff, "Internes").await;
    let (internes, retraites) = audiences(&app);
    let id = campaign(
        &app,
        &staff,
        &campaign_fields(&template_id, &[&internes, &retraites]),
    )
    .await;

    let (status, html) = staff.get_html(&format!("/campagnes/{id}")).await;
    assert_eq!(status, 200);
    assert!(html.contains("Brouillon"));
    assert!(html.contains(&format!("action=\"/campagnes/{id}/programmer\"")));
    assert!(!html.contains(&format!("action=\"/campagnes/{id}/pause\"")));

    // Programmed « now », confirmed: a run with one delivery per reachable address, once.
    let r = post(
        &staff,
        &format!("/campagnes/{id}/programmer"),
        &[("confirmer", "oui")],
    )
    .await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), format!("/campagnes/{id}?fait=programmee"));
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM campaign_runs WHERE campaign_id = {id}"
        )),
        1
    );
    let deliveries = format!(
        "SELECT count(*) FROM deliveries d JOIN campaign_runs r ON r.id = d.run_id \
         WHERE r.campaign_id = {id}"
    );
    assert_eq!(app.count(&deliveries), 3);
    assert_eq!(status_of(&app, &id), "en_cours");
    let (_, html) = staff.get_html(&location(&r)).await;
    assert!(html.contains("En cours"));
    assert!(page_text(&html).contains("l'envoi a commencé"));
    assert!(html.contains("aria-live=\"polite\""));
    assert!(html.contains("/static/campaign-progress.js"));
    assert!(html.contains(&format!("action=\"/campagnes/{id}/pause\"")));

    // The figures the page's script polls.
    let r = staff.get(&format!("/campagnes/{id}/progression")).await;
    assert_eq!(r.status(), 200);
    let json: serde_json::Value = r.json().await.unwrap();
    assert_eq!(json["status"], "en_cours");
    assert_eq!(json["sending"], true);
    assert_eq!(json["runs"][0]["recipients"], 3);
    assert_eq!(json["runs"][0]["pending"], 3);
    assert_eq!(json["runs"][0]["sent"], 0);
    assert_eq!(json["runs"][0]["percent"], 0);

    // The template of a sending campaign cannot change.
    let r = post(
        &staff,
        &format!("/campagnes/modeles/{template_id}"),
        &[
            ("nom", "Internes"),
            ("objet", "Autre objet"),
            ("texte", TEXT),
            ("html", ""),
        ],
    )
    .await;
    assert_eq!(r.status(), 409);
    let html = r.text().await.unwrap();
    assert!(
        page_text(&html).contains(
            "Ce modèle sert à une campagne en cours d'envoi : « Internes – novembre » (en cours)"
        ),
        "{html}"
    );
    assert!(html.contains("value=\"Autre objet\""), "values kept");
    assert_eq!(
        app.text(&format!(
            "SELECT subject FROM mail_templates WHERE id = {template_id}"
        ))
        .unwrap(),
        SUBJECT
    );
    // Nor can the campaign itself.
    let (status, html) = staff.get_html(&format!("/campagnes/{id}/modifier")).await;
    assert_eq!(status, 409);
    assert!(html.contains("Seule une campagne en brouillon"));

    // Pause, then a second pause is refused with the reason, not an error.
    let r = post(&staff, &format!("/campagnes/{id}/pause"), &[]).await;
    assert_eq!(r.status(), 303);
    assert_eq!(status_of(&app, &id), "en_pause");
    let r = post(&staff, &format!("/campagnes/{id}/pause"), &[]).await;
    assert_eq!(r.status(), 409);
    let html = r.text().await.unwrap();
    assert!(page_text(&html).contains("n'est pas possible pour une campagne « En pause »"));
    let (_, html) = staff.get_html(&format!("/campagnes/{id}")).await;
    assert!(html.contains(&format!("action=\"/campagnes/{id}/reprendre\"")));

    let r = post(&staff, &format!("/campagnes/{id}/reprendre"), &[]).await;
    assert_eq!(r.status(), 303);
    assert_eq!(status_of(&app, &id), "en_cours");

    // Cancelling asks first.
    let (status, html) = staff.get_html(&format!("/campagnes/{id}/annuler")).await;
    assert_eq!(status, 200);
    assert!(html.contains("3 messages en attente ne partiront pas"));
    let r = post(&staff, &format!("/campagnes/{id}/annuler"), &[]).await;
    assert_eq!(r.status(), 200, "the confirmation step again");
    assert_eq!(status_of(&app, &id), "en_cours");

    let r = post(
        &staff,
        &format!("/campagnes/{id}/annuler"),
        &[("confirmer", "oui")],
    )
    .await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), format!("/campagnes/{id}?fait=annulee&n=3"));
    assert_eq!(status_of(&app, &id), "annulee");
    assert_eq!(
        app.count(&format!("{deliveries} AND d.status = 'annule'")),
        3
    );
    let (_, html) = staff.get_html(&location(&r)).await;
    assert!(html.contains("3 messages en attente ne partiront pas"));
    assert!(html.contains("Annulée"));
    assert!(!html.contains(&format!("action=\"/campagnes/{id}/reprendre\"")));

    // The list shows the campaign and its last run.
    let (_, html) = staff.get_html("/campagnes").await;
    assert!(html.contains("Internes – novembre"));
    assert!(html.contains("Annulée"));
    assert!(
        html.contains("0 envoyé sur 3, 0 échec, 0 restant"),
        "{html}"
    );

    // Now the template is free again.
    let r = post(
        &staff,
        &format!("/campagnes/modeles/{template_id}"),
        &[
            ("nom", "Internes"),
            ("objet", "Autre objet"),
            ("texte", TEXT),
            ("html", ""),
        ],
    )
    .await;
    assert_eq!(r.status(), 303);
}

#[tokio::test]
async fn a_draft_is_edited_and_a_late_run_waits_for_confirmation() {
    let app = TestApp::spawn().await;
    let staff = app.staff(StaffRole::Communication).await;
    let template_id = template(&app, &staff, "Internes").await;
    let (internes, _) = audiences(&app);
    let mut fields = campaign_fields(&template_id, &[&internes]);
    fields.retain(|(k, _)| !matches!(*k, "envoi" | "cron"));
    fields.extend([("envoi", "cron"), ("cron", "0 9 * * 1")]);
    let id = campaign(&app, &staff, &fields).await;

    // The recurring campaign's page lists its next occurrences (Mondays, 9:00 in Paris).
    let (_, html) = staff.get_html(&format!("/campagnes/{id}")).await;
    assert!(html.contains("Prochains envois"));
    assert_eq!(html.matches(" à 09:00</li>").count(), 3, "{html}");

    // The form comes back filled in; a change is saved.
    let (status, html) = staff.get_html(&format!("/campagnes/{id}/modifier")).await;
    assert_eq!(status, 200);
    assert!(html.contains("value=\"0 9 * * 1\""));
    assert!(html.contains(&format!("value=\"{internes}\" checked")));
    fields.retain(|(k, _)| *k != "debit");
    fields.push(("debit", "1 200"));
    let r = post(&staff, &format!("/campagnes/{id}/modifier"), &fields).await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        app.text(&format!(
            "SELECT rate_per_minute FROM campaigns WHERE id = {id}"
        ))
        .unwrap(),
        "1200"
    );

    // Programmed; a run missed while the service was down waits for a decision.
    let r = post(
        &staff,
        &format!("/campagnes/{id}/programmer"),
        &[("confirmer", "oui")],
    )
    .await;
    assert_eq!(r.status(), 303);
    assert_eq!(status_of(&app, &id), "programmee");
    app.conn()
        .batch_execute(&format!(
            "INSERT INTO campaign_runs (campaign_id, scheduled_for, status)
             VALUES ({id}, {} - interval '3 hours', 'a_confirmer')",
            sql_now()
        ))
        .unwrap();
    let run = app.text("SELECT max(id) FROM campaign_runs").unwrap();
    let (_, html) = staff.get_html(&format!("/campagnes/{id}")).await;
    assert!(html.contains("Envois en attente de confirmation"));
    assert!(html.contains(&format!("/campagnes/{id}/envois/{run}/envoyer")));
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM deliveries WHERE run_id = {run}"
        )),
        0
    );

    // A run of another campaign cannot be confirmed through this one.
    let r = post(
        &staff,
        &format!("/campagnes/999999/envois/{run}/envoyer"),
        &[],
    )
    .await;
    assert_eq!(r.status(), 404);

    let r = post(
        &staff,
        &format!("/campagnes/{id}/envois/{run}/envoyer"),
        &[],
    )
    .await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM deliveries WHERE run_id = {run}"
        )),
        3
    );
    assert_eq!(status_of(&app, &id), "en_cours");
    // Twice: refused with the reason.
    let r = post(
        &staff,
        &format!("/campagnes/{id}/envois/{run}/envoyer"),
        &[],
    )
    .await;
    assert_eq!(r.status(), 409);
    assert!(page_text(&r.text().await.unwrap()).contains("cet envoi n'attend pas de confirmation"));
}

#[tokio::test]
async fn a_recruiter_gets_403_on_every_campaign_page_and_action() {
    let app = TestApp::spawn().await;
    let staff = app.staff(StaffRole::Communication).await;
    let template_id = template(&app, &staff, "Internes").await;
    let (internes, _) = audiences(&app);
    let id = campaign(&app, &staff, &campaign_fields(&template_id, &[&internes])).await;

    let recruiter = app.staff(StaffRole::Recruiter).await;
    let t = &template_id;
    for path in [
        "/campagnes".to_owned(),
        "/campagnes/nouvelle".to_owned(),
        format!("/campagnes/{id}"),
        format!("/campagnes/{id}/modifier"),
        format!("/campagnes/{id}/progression"),
        format!("/campagnes/{id}/annuler"),
        "/campagnes/modeles".to_owned(),
        "/campagnes/modeles/nouveau".to_owned(),
        format!("/campagnes/modeles/{t}"),
        format!("/campagnes/modeles/{t}/apercu"),
        format!("/campagnes/modeles/{t}/apercu-html"),
    ] {
        let r = recruiter.get(&path).await;
        assert_eq!(r.status(), 403, "GET {path}");
    }
    // The recruiter's own token: the refusal is about the role, not the form.
    let (_, html) = recruiter.get_html("/recrutement").await;
    let token = hidden_value(&html, "csrf");
    for path in [
        "/campagnes/nouvelle".to_owned(),
        format!("/campagnes/{id}/modifier"),
        format!("/campagnes/{id}/programmer"),
        format!("/campagnes/{id}/deprogrammer"),
        format!("/campagnes/{id}/pause"),
        format!("/campagnes/{id}/reprendre"),
        format!("/campagnes/{id}/annuler"),
        format!("/campagnes/{id}/relancer"),
        format!("/campagnes/{id}/envois/1/envoyer"),
        format!("/campagnes/{id}/envois/1/ne-pas-envoyer"),
        "/campagnes/modeles/nouveau".to_owned(),
        format!("/campagnes/modeles/{t}"),
        format!("/campagnes/modeles/{t}/supprimer"),
        format!("/campagnes/modeles/{t}/apercu"),
        format!("/campagnes/modeles/{t}/essai"),
    ] {
        let r = recruiter
            .post_form(
                &path,
                &[
                    ("csrf", token.as_str()),
                    ("confirmer", "oui"),
                    ("destinataire", "x@exemple.fr"),
                ],
            )
            .await;
        assert_eq!(r.status(), 403, "POST {path}");
    }
    assert_eq!(status_of(&app, &id), "brouillon");
    assert_eq!(app.count("SELECT count(*) FROM outbound_emails"), 0);
    assert_eq!(app.count("SELECT count(*) FROM mail_templates"), 1);

    // Admins may.
    let admin = app.staff(StaffRole::Admin).await;
    let (status, _) = admin.get_html(&format!("/campagnes/{id}")).await;
    assert_eq!(status, 200);

    // And without the right token, nothing is done.
    let r = staff
        .post_form(&format!("/campagnes/{id}/programmer"), &[("csrf", "faux")])
        .await;
    assert_eq!(r.status(), 403);
    assert_eq!(status_of(&app, &id), "brouillon");
}
