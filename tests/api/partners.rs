//! A partner site end to end (issue 19): the position listed in the partner's JSON and embed
//! carries the partner's channel link; following it counts a visit, preselects the position on
//! the form and attributes the application to the partner's channel.

use std::sync::Arc;

use diesel::prelude::*;
use serde_json::Value;
use vocation::config::PartnerSettings;
use vocation::db::enums::StaffRole;

use crate::helpers::{hidden_value, sql_now, Fields, FormTokens, TestApp};

const PARTNER_ORIGIN: &str = "https://www.dites32.fr";

/// The public URL the tests' settings carry, which links are built on.
const PUBLIC_URL: &str = "http://vocation.test";

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
}

fn published_position(app: &TestApp) -> i64 {
    let mut conn = app.conn();
    let id = diesel::sql_query(format!(
        "INSERT INTO positions (title, specialty_code, description, fte_min_hundredths, \
         fte_max_hundredths, published, published_at, created_at, updated_at) \
         VALUES ('Médecin généraliste à Fleurance', 'SM54', 'Consultations.', 60, 100, true, \
         {now}, {now}, {now}) RETURNING id",
        now = sql_now()
    ))
    .get_result::<Id>(&mut conn)
    .unwrap()
    .id;
    diesel::sql_query(
        "INSERT INTO position_centres (position_id, centre_id) \
         SELECT $1, id FROM centres WHERE commune = 'Fleurance'",
    )
    .bind::<diesel::sql_types::BigInt, _>(id)
    .execute(&mut conn)
    .unwrap();
    id
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_provider(Arc::new(reqwest::cookie::Jar::default()))
        .build()
        .unwrap()
}

#[tokio::test]
async fn an_application_from_the_partners_embed_is_attributed_to_the_partners_channel() {
    let app = TestApp::builder()
        .partners(vec![PartnerSettings {
            id: "dites32".into(),
            name: "#Dites32".into(),
            origin: PARTNER_ORIGIN.into(),
            link_code: "dites32".into(),
        }])
        .spawn()
        .await;
    let position = published_position(&app);

    // The communications officer creates the partner's channel link the configuration names.
    let staff = app.staff(StaffRole::Communication).await;
    let csrf = staff.csrf_from("/campagnes/liens/nouveau").await;
    let r = staff
        .post_form(
            "/campagnes/liens/nouveau",
            &[
                ("csrf", csrf.as_str()),
                ("libelle", "Relais dites32.fr"),
                ("code", "dites32"),
                ("utm_source", "dites32"),
                ("utm_medium", "partenaire"),
                ("utm_campaign", "relais"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let link = app.count("SELECT id FROM channel_links WHERE code = 'dites32'");

    // The partner's page reads the JSON list; the embed shows the same link.
    let r = app
        .client
        .get(app.url("/partenaires/postes.json"))
        .header("Origin", PARTNER_ORIGIN)
        .send()
        .await
        .unwrap();
    let list: Vec<Value> = r.json().await.unwrap();
    let href = list
        .iter()
        .find(|p| p["id"] == position)
        .and_then(|p| p["lien"].as_str())
        .expect("the position is in the partner's list")
        .to_owned();
    assert_eq!(href, format!("{PUBLIC_URL}/l/dites32?poste={position}"));
    let (_, embed) = app.get_html("/partenaires/dites32/postes").await;
    let doc = scraper::Html::parse_document(&embed);
    let anchors = scraper::Selector::parse("a[href]").unwrap();
    assert!(
        doc.select(&anchors)
            .any(|a| a.value().attr("href") == Some(href.as_str())),
        "{embed}"
    );

    // A doctor clicks it: a visit, then the form with the position chosen and the channel kept.
    let doctor = browser();
    let path = href.strip_prefix(PUBLIC_URL).unwrap();
    let r = doctor.get(app.url(path)).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("/candidature?"), "{location}");
    assert!(location.contains("canal=dites32"), "{location}");
    assert!(
        location.contains(&format!("poste={position}")),
        "{location}"
    );
    assert!(location.contains("utm_source=dites32"), "{location}");
    assert_eq!(
        app.count(&format!(
            "SELECT coalesce(sum(visits), 0) FROM channel_link_visits WHERE link_id = {link}"
        )),
        1
    );
    let html = doctor
        .get(app.url(&location))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(hidden_value(&html, "canal"), "dites32");
    let doc = scraper::Html::parse_document(&html);
    let chosen = scraper::Selector::parse("#poste option[selected]").unwrap();
    let chosen: Vec<String> = doc
        .select(&chosen)
        .filter_map(|o| o.value().attr("value").map(str::to_owned))
        .collect();
    assert_eq!(chosen, vec![position.to_string()]);

    // The doctor applies to that position from that page.
    let tokens = FormTokens::from_html(&html);
    let mut form = reqwest::multipart::Form::new()
        .text("csrf", tokens.csrf)
        .text("soumission", tokens.soumission)
        .text("canal", hidden_value(&html, "canal"))
        .text("utm_source", hidden_value(&html, "utm_source"))
        .text("utm_medium", hidden_value(&html, "utm_medium"));
    for (k, v) in Fields::valid().set("poste", &position.to_string()).iter() {
        form = form.text(k.clone(), v.clone());
    }
    let r = doctor
        .post(app.url("/candidature"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let application = app.count("SELECT max(id) FROM applications");
    assert_eq!(
        app.count(&format!(
            "SELECT channel_link_id FROM applications WHERE id = {application}"
        )),
        link
    );
    assert_eq!(
        app.count(&format!(
            "SELECT position_id FROM applications WHERE id = {application}"
        )),
        position
    );
    assert_eq!(
        app.text(&format!(
            "SELECT utm_source FROM applications WHERE id = {application}"
        ))
        .as_deref(),
        Some("dites32")
    );
}
