use crate::helpers::TestApp;

#[tokio::test]
async fn the_campaign_page_presents_the_offer_the_centres_and_a_call_to_apply() {
    let app = TestApp::spawn().await;
    let (status, html) = app.get_html("/").await;
    assert_eq!(status, 200);
    assert!(html.contains("<html lang=\"fr\">"));
    for expected in [
        "salarié",
        "temps partiel",
        "secrétariat",
        "permanence des soins",
        "internes",
        "href=\"/candidature\"",
    ] {
        assert!(
            html.to_lowercase().contains(&expected.to_lowercase()),
            "missing {expected}"
        );
    }
    for commune in [
        "Fleurance",
        "Vic-Fezensac",
        "Gondrin",
        "Plaisance",
        "Marciac",
    ] {
        assert!(html.contains(commune), "missing {commune}");
    }
    assert!(html.contains("Aucun poste n'est publié"));

    vocation::demo::load(&mut app.conn()).unwrap();
    let (_, html) = app.get_html("/").await;
    assert!(html.contains("Médecin généraliste – Fleurance"));
    let id = app.text("SELECT min(id) FROM positions").unwrap();
    assert!(html.contains(&format!("/candidature?poste={id}")));
}

#[tokio::test]
async fn the_form_lists_general_practice_first_and_preselects_the_position() {
    let app = TestApp::spawn().await;
    vocation::demo::load(&mut app.conn()).unwrap();
    let id = app.text("SELECT min(id) FROM positions").unwrap();
    let (status, html) = app
        .get_html(&format!("/candidature?poste={id}&utm_campaign=facultes"))
        .await;
    assert_eq!(status, 200);
    let doc = scraper::Html::parse_document(&html);
    let sel = scraper::Selector::parse("#specialite option").unwrap();
    let codes: Vec<String> = doc
        .select(&sel)
        .filter_map(|o| o.value().attr("value").map(str::to_owned))
        .filter(|v| !v.is_empty())
        .collect();
    assert_eq!(&codes[..3], ["SM54", "SM53", "SM26"]);
    assert_eq!(codes.len(), 95);
    let sel = scraper::Selector::parse("#poste option[selected]").unwrap();
    assert_eq!(
        doc.select(&sel).next().unwrap().value().attr("value"),
        Some(id.as_str())
    );
    let sel = scraper::Selector::parse("input[name=utm_campaign]").unwrap();
    assert_eq!(
        doc.select(&sel).next().unwrap().value().attr("value"),
        Some("facultes")
    );
    // Every input is labelled, with autocomplete on identity fields.
    for id in [
        "prenom",
        "nom",
        "courriel",
        "telephone",
        "rpps",
        "specialite",
        "situation",
        "disponibilite",
        "message",
        "cv",
    ] {
        assert!(html.contains(&format!("for=\"{id}\"")), "label for {id}");
    }
    for token in [
        "autocomplete=\"given-name\"",
        "autocomplete=\"family-name\"",
        "autocomplete=\"email\"",
        "autocomplete=\"tel\"",
    ] {
        assert!(html.contains(token), "{token}");
    }
    // The privacy notice names the controller, retention and the DPO.
    assert!(html.contains("Responsable du traitement"));
    assert!(html.contains("dpo@gers.fr"));
    assert!(html.contains("2 ans"));
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = TestApp::spawn().await;
    for path in [
        "/",
        "/candidature",
        "/healthz",
        "/nulle-part",
        "/static/app.css",
    ] {
        let r = app.get(path).await;
        let h = r.headers();
        let csp = h
            .get("content-security-policy")
            .unwrap_or_else(|| panic!("CSP on {path}"))
            .to_str()
            .unwrap();
        for directive in [
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.contains(directive), "{path}: {csp}");
        }
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert!(h.contains_key("referrer-policy"), "{path}");
        assert!(
            !h.contains_key("strict-transport-security"),
            "no HSTS over plain HTTP"
        );
    }
    let fresh = reqwest::Client::new();
    let r = fresh.get(app.url("/candidature")).send().await.unwrap();
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
}

#[tokio::test]
async fn unknown_pages_and_wrong_methods_get_french_answers() {
    let app = TestApp::spawn().await;
    let (status, html) = app.get_html("/nulle-part").await;
    assert_eq!(status, 404);
    assert!(html.contains("Page introuvable"));
    let r = app
        .client
        .delete(app.url("/candidature"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    let r = app.client.post(app.url("/")).send().await.unwrap();
    assert!(r.status() == 405 || r.status() == 404);
}

#[tokio::test]
async fn the_privacy_and_accessibility_statements_are_published() {
    let app = TestApp::spawn().await;
    let (status, html) = app.get_html("/donnees-personnelles").await;
    assert_eq!(status, 200);
    for expected in [
        "responsable du traitement",
        "délégué à la protection des données",
        "dpo@gers.fr",
        "CNIL",
        "2 ans",
    ] {
        assert!(html.contains(expected), "privacy: {expected}");
    }
    let (status, html) = app.get_html("/accessibilite").await;
    assert_eq!(status, 200);
    assert!(html.contains("RGAA"));
}
