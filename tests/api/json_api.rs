//! The JSON API under /api/v1: its OpenAPI document, the public submission with the form's
//! rules and protections, API tokens, roles, problem details and hostile input.

use proptest::prelude::*;
use serde_json::{json, Value};
use vocation::applications::{Choices, FIELD_ORDER};
use vocation::db::enums::StaffRole;
use vocation::web::api::{parse_application, ROUTES};

use crate::helpers::{TestApp, RECRUITERS, STAFF_PASSWORD};

/// A complete, valid application in the API's JSON.
fn valid_json() -> Value {
    json!({
        "civilite": "madame",
        "prenom": "Claire",
        "nom": "Martin",
        "courriel": "claire.martin@exemple.fr",
        "telephone": "06 12 34 56 78",
        "rpps": "10132437004",
        "specialite": "SM54",
        "situation": "remplacant",
        "disponibilite": crate::helpers::available_from().to_string(),
        "temps_travail": "temps_partiel",
        "demi_journees": 6,
        "garde": true,
        "message": "Je souhaite m'installer dans le Gers.",
        "connaissance": "faculte",
        "consentement": true,
        "vivier": true
    })
}

fn with(mut v: Value, key: &str, value: Value) -> Value {
    v[key] = value;
    v
}

async fn post_json(app: &TestApp, path: &str, body: &Value) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn post_raw(
    app: &TestApp,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> reqwest::Response {
    let mut r = app.client.post(app.url(path)).body(body);
    if let Some(ct) = content_type {
        r = r.header("Content-Type", ct);
    }
    r.send().await.unwrap()
}

/// Checks the RFC 9457 shape and returns the document.
async fn problem(r: reqwest::Response, status: u16) -> Value {
    assert_eq!(r.status().as_u16(), status);
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "application/problem+json"
    );
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["status"], status, "{p}");
    assert!(
        p["type"]
            .as_str()
            .unwrap()
            .starts_with("urn:vocation:probleme:"),
        "{p}"
    );
    assert!(!p["title"].as_str().unwrap().is_empty(), "{p}");
    assert!(p["detail"].as_str().unwrap().len() > 10, "{p}");
    assert!(p["errors"].is_array(), "{p}");
    p
}

fn error_fields(p: &Value) -> Vec<String> {
    p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert!(!e["message"].as_str().unwrap().is_empty());
            e["field"].as_str().unwrap().to_owned()
        })
        .collect()
}

/// A staff member with `role` and an API token; returns (user id, token).
fn token_for(app: &TestApp, role: StaffRole) -> (i64, String) {
    let email = format!(
        "{}-{}@cds32.test",
        role.code(),
        uuid::Uuid::new_v4().simple()
    );
    let user = app.create_staff(&email, role);
    let (_, token) =
        vocation::api_tokens::create(&mut app.conn(), user, "outil", chrono::Utc::now()).unwrap();
    (user, token)
}

async fn get_with(app: &TestApp, path: &str, token: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn post_with(app: &TestApp, path: &str, token: &str, body: &Value) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_openapi_document_describes_every_registered_route() {
    let app = TestApp::spawn().await;
    let r = app.get("/api/openapi.json").await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let doc: Value = r.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let mut operation_ids = Vec::new();
    for (method, path) in ROUTES {
        let op = &doc["paths"][path][method];
        let id = op["operationId"]
            .as_str()
            .unwrap_or_else(|| panic!("{method} {path} is not in the document"));
        operation_ids.push(id.to_owned());
        assert!(op["responses"].is_object(), "{method} {path}");
    }
    // Nothing more in the document than what is registered.
    let documented: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|p| p.as_object().unwrap().len())
        .sum();
    assert_eq!(documented, ROUTES.len());
    let mut unique = operation_ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), operation_ids.len(), "{operation_ids:?}");
    assert!(operation_ids.contains(&"deposerCandidature".to_owned()));
    assert!(operation_ids.contains(&"changerEtape".to_owned()));
    assert_eq!(
        doc["components"]["securitySchemes"]["jeton"]["scheme"],
        "bearer"
    );
    assert!(doc["components"]["schemas"]["Problem"].is_object());
    let required = &doc["components"]["schemas"]["CandidatureEntree"]["required"];
    assert!(
        required.as_array().unwrap().contains(&json!("courriel")),
        "{required}"
    );
    assert!(!required.as_array().unwrap().contains(&json!("rpps")));
    assert!(doc["paths"]["/api/v1/candidats"]["get"]["security"].is_array());
    assert!(doc["paths"]["/api/v1/postes"]["get"]["security"].is_null());

    // Every documented route answers (never a 404 for a documented address).
    for (method, path) in ROUTES {
        let url = app.url(&path.replace("{id}", "1"));
        let r = match *method {
            "get" => app.client.get(url).send().await.unwrap(),
            _ => app.client.post(url).json(&json!({})).send().await.unwrap(),
        };
        assert_ne!(r.status(), 405, "{method} {path}");
        assert_ne!(r.status(), 500, "{method} {path}");
    }
}

#[tokio::test]
async fn published_positions_are_listed_as_on_the_campaign_page() {
    let app = TestApp::spawn().await;
    vocation::demo::load(&mut app.conn()).unwrap();
    let r = app.get("/api/v1/postes").await;
    assert_eq!(r.status(), 200);
    let list: Vec<Value> = r.json().await.unwrap();
    assert_eq!(
        list.len() as i64,
        app.count("SELECT count(*) FROM positions WHERE published")
    );
    assert!(!list.is_empty());
    let first = app
        .text("SELECT title FROM positions WHERE published ORDER BY id LIMIT 1")
        .unwrap();
    assert_eq!(list[0]["intitule"], first.as_str());
    assert!(list[0]["communes"].is_array());
}

#[tokio::test]
async fn a_valid_application_through_the_api_is_recorded_and_both_emails_are_received() {
    let app = TestApp::spawn().await;
    let fleurance = app
        .count("SELECT id FROM centres WHERE commune = 'Fleurance'")
        .to_string();
    let body = with(
        valid_json(),
        "centres",
        json!([fleurance.parse::<i64>().unwrap()]),
    );
    let r = post_json(&app, "/api/v1/candidatures", &body).await;
    assert_eq!(r.status(), 201);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let answer: Value = r.json().await.unwrap();
    let reference = answer["reference"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(reference).is_ok());
    assert_eq!(answer["statut"], "enregistree");
    assert_eq!(location, format!("/candidature/merci/{reference}"));
    assert_eq!(app.count("SELECT count(*) FROM candidates"), 1);
    assert_eq!(
        app.text("SELECT submission_key FROM applications").unwrap(),
        reference
    );
    assert_eq!(
        app.text("SELECT phone_normalized FROM candidates").unwrap(),
        "+33612345678"
    );
    assert_eq!(app.count("SELECT count(*) FROM candidate_centres"), 1);
    assert_eq!(app.count("SELECT count(*) FROM stage_history"), 1);
    // The confirmation page works for the reference.
    let (status, html) = app.get_html(&location).await;
    assert_eq!(status, 200);
    assert!(html.contains("Claire"));

    assert_eq!(app.dispatch_all_pending_emails().await, 2);
    let to_candidate = app.smtp.received_by("claire.martin@exemple.fr");
    assert_eq!(to_candidate.len(), 1);
    assert!(to_candidate[0].text().contains("Bonjour Docteur Martin,"));
    assert_eq!(app.smtp.received_by(RECRUITERS).len(), 1);
}

#[tokio::test]
async fn the_same_idempotency_key_records_one_application() {
    let app = TestApp::spawn().await;
    let key = uuid::Uuid::new_v4().to_string();
    let send = |body: Value, header: Option<String>| {
        let mut r = app.client.post(app.url("/api/v1/candidatures")).json(&body);
        if let Some(h) = header {
            r = r.header("Idempotency-Key", h);
        }
        r.send()
    };
    let first = send(valid_json(), Some(key.clone())).await.unwrap();
    assert_eq!(first.status(), 201);
    let again = send(valid_json(), Some(key.clone())).await.unwrap();
    assert_eq!(again.status(), 200);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["reference"], key.as_str());
    assert_eq!(again["statut"], "deja_recue");
    // The key may also come in the body.
    let in_body = send(with(valid_json(), "cle", json!(key)), None)
        .await
        .unwrap();
    assert_eq!(in_body.status(), 200);
    assert_eq!(app.count("SELECT count(*) FROM applications"), 1);
    assert_eq!(app.count("SELECT count(*) FROM outbound_emails"), 2);

    // A key that is not a UUID, or a body key that differs from the header, is refused on `cle`.
    let p = problem(send(valid_json(), Some("abc".into())).await.unwrap(), 422).await;
    assert_eq!(error_fields(&p), ["cle"]);
    let other = uuid::Uuid::new_v4().to_string();
    let p = problem(
        send(with(valid_json(), "cle", json!(other)), Some(key.clone()))
            .await
            .unwrap(),
        422,
    )
    .await;
    assert_eq!(error_fields(&p), ["cle"]);
    assert_eq!(app.count("SELECT count(*) FROM applications"), 1);
}

#[tokio::test]
async fn a_known_candidate_with_the_same_email_has_their_open_application_completed() {
    let app = TestApp::spawn().await;
    assert_eq!(
        post_json(&app, "/api/v1/candidatures", &valid_json())
            .await
            .status(),
        201
    );
    let body = with(
        with(valid_json(), "telephone", json!("07 00 00 00 01")),
        "message",
        json!("Disponible dès septembre."),
    );
    let r = post_json(&app, "/api/v1/candidatures", &body).await;
    assert_eq!(r.status(), 201);
    let answer: Value = r.json().await.unwrap();
    assert_eq!(
        answer["statut"], "enregistree",
        "the same answer as for a new person"
    );
    assert_eq!(app.count("SELECT count(*) FROM candidates"), 1);
    assert_eq!(app.count("SELECT count(*) FROM applications"), 1);
    assert!(app
        .text("SELECT message FROM applications")
        .unwrap()
        .contains("Disponible dès septembre."));
}

#[tokio::test]
async fn validation_errors_are_problem_details_with_a_french_message_per_field() {
    let app = TestApp::spawn().await;
    let p = problem(
        post_json(&app, "/api/v1/candidatures", &json!({})).await,
        422,
    )
    .await;
    assert_eq!(p["type"], "urn:vocation:probleme:validation");
    assert_eq!(
        error_fields(&p),
        [
            "civilite",
            "prenom",
            "nom",
            "courriel",
            "telephone",
            "specialite",
            "situation",
            "temps_travail",
            "consentement"
        ]
    );
    // Same messages as the form.
    let body = with(valid_json(), "rpps", json!("10132437005"));
    let p = problem(post_json(&app, "/api/v1/candidatures", &body).await, 422).await;
    assert_eq!(error_fields(&p), ["rpps"]);
    assert!(p["errors"][0]["message"].as_str().unwrap().contains("RPPS"));
    let body = with(valid_json(), "poste", json!(424242));
    let p = problem(post_json(&app, "/api/v1/candidatures", &body).await, 422).await;
    assert_eq!(error_fields(&p), ["poste"]);
    let body = with(valid_json(), "centres", json!([999999]));
    let p = problem(post_json(&app, "/api/v1/candidatures", &body).await, 422).await;
    assert_eq!(error_fields(&p), ["centres"]);
    assert_eq!(app.count("SELECT count(*) FROM candidates"), 0);
    assert_eq!(app.count("SELECT count(*) FROM outbound_emails"), 0);
}

#[tokio::test]
async fn hostile_bodies_get_a_clear_4xx_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let path = "/api/v1/candidatures";
    let json_ct = Some("application/json");

    // Invalid UTF-8 inside a string.
    let mut bytes = br#"{"prenom":""#.to_vec();
    bytes.extend_from_slice(&[0xff, 0xfe, 0x80]);
    bytes.extend_from_slice(br#""}"#);
    let p = problem(post_raw(&app, path, json_ct, bytes).await, 400).await;
    assert!(p["detail"].as_str().unwrap().contains("UTF-8"), "{p}");

    // A huge body (1 MB): 413, whatever it contains.
    let huge = with(valid_json(), "message", json!("a".repeat(1024 * 1024)));
    let p = problem(
        post_raw(&app, path, json_ct, serde_json::to_vec(&huge).unwrap()).await,
        413,
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("Ko"));

    // Wrong or missing content types.
    let valid = serde_json::to_vec(&valid_json()).unwrap();
    for ct in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let p = problem(post_raw(&app, path, ct, valid.clone()).await, 415).await;
        assert!(p["detail"].as_str().unwrap().contains("application/json"));
    }
    let form = reqwest::multipart::Form::new().text("prenom", "Claire");
    let r = app
        .client
        .post(app.url(path))
        .multipart(form)
        .send()
        .await
        .unwrap();
    problem(r, 415).await;

    // Malformed JSON, a truncated one, and JSON that is not an object.
    for body in [
        &b"{\"prenom\": Claire}"[..],
        b"{\"prenom\": \"Claire\"",
        b"",
        b"[1,2]",
        b"42",
        b"null",
    ] {
        let p = problem(post_raw(&app, path, json_ct, body.to_vec()).await, 400).await;
        assert_eq!(p["type"], "urn:vocation:probleme:json-invalide");
    }

    // A repeated field, an unknown field, a wrong type.
    let dup = br#"{"prenom":"Claire","nom":"Martin","prenom":"Zoe"}"#.to_vec();
    let p = problem(post_raw(&app, path, json_ct, dup).await, 400).await;
    assert_eq!(error_fields(&p), ["prenom"]);
    assert!(p["detail"].as_str().unwrap().contains("plusieurs fois"));
    let unknown = with(valid_json(), "admin", json!(true));
    let p = problem(post_json(&app, path, &unknown).await, 400).await;
    assert_eq!(error_fields(&p), ["admin"]);
    for (key, value) in [
        ("prenom", json!(42)),
        ("consentement", json!("oui")),
        ("centres", json!("1,2")),
        ("demi_journees", json!(100000)),
        ("poste", json!({"id": 1})),
    ] {
        let p = problem(
            post_json(&app, path, &with(valid_json(), key, value)).await,
            400,
        )
        .await;
        assert!(
            p["detail"].as_str().unwrap().contains("type attendu")
                || p["detail"].as_str().unwrap().contains("format attendu"),
            "{key}: {p}"
        );
    }
    assert_eq!(app.count("SELECT count(*) FROM candidates"), 0);
    assert_eq!(app.count("SELECT count(*) FROM applications"), 0);
    assert_eq!(app.count("SELECT count(*) FROM outbound_emails"), 0);
}

#[tokio::test]
async fn scripts_sql_and_template_syntax_are_stored_as_typed_and_returned_in_json() {
    let app = TestApp::spawn().await;
    let hostile = "<script>alert('x')</script> '); DROP TABLE candidates; -- {{#each org}}{{this}}{{/each}} {{{raw}}}";
    let body = with(valid_json(), "message", json!(hostile));
    let body = with(body, "utm_campaign", json!("{{lien}}<b>"));
    let r = post_json(&app, "/api/v1/candidatures", &body).await;
    assert_eq!(r.status(), 201);
    assert_eq!(
        app.text("SELECT message FROM applications").unwrap(),
        hostile
    );
    assert_eq!(
        app.text("SELECT utm_campaign FROM applications").unwrap(),
        "{{lien}}<b>"
    );
    // The recruiter reads it back as typed, as JSON that browsers will not sniff as HTML.
    let (_, token) = token_for(&app, StaffRole::Recruiter);
    let id = app.count("SELECT id FROM applications");
    let r = get_with(&app, &format!("/api/v1/candidatures/{id}"), &token).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    let detail: Value = r.json().await.unwrap();
    assert_eq!(detail["candidature"]["message"], hostile);
    // The e-mails escape it and do not run the template syntax.
    app.dispatch_all_pending_emails().await;
    let mail = &app.smtp.received_by(RECRUITERS)[0];
    assert!(!mail.html().contains("<script>"));
    assert!(mail.html().contains("&lt;script&gt;"));
    assert!(mail.text().contains("{{#each org}}"));
}

#[tokio::test]
async fn staff_routes_answer_401_with_a_bearer_challenge_without_a_valid_token() {
    let app = TestApp::spawn().await;
    for path in [
        "/api/v1/candidats",
        "/api/v1/candidats/1",
        "/api/v1/candidatures",
        "/api/v1/candidatures/1",
        "/api/v1/campagnes",
        "/api/v1/campagnes/1/statistiques",
    ] {
        let r = app.get(path).await;
        assert_eq!(
            r.headers()["www-authenticate"].to_str().unwrap(),
            "Bearer realm=\"vocation\""
        );
        let p = problem(r, 401).await;
        assert!(p["detail"].as_str().unwrap().contains("Authorization"));
    }
    for header in [
        "Bearer voc_nimportequoi",
        "Basic dXNlcjpwYXNz",
        "Bearer",
        "voc_x",
    ] {
        let r = app
            .client
            .get(app.url("/api/v1/candidats"))
            .header("Authorization", header)
            .send()
            .await
            .unwrap();
        assert!(r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token"));
        problem(r, 401).await;
    }
    let r = app
        .client
        .post(app.url("/api/v1/candidatures/1/etape"))
        .json(&json!({"depuis": "nouvelle", "vers": "entretien"}))
        .send()
        .await
        .unwrap();
    problem(r, 401).await;
}

#[tokio::test]
async fn roles_apply_to_api_tokens_as_to_pages() {
    let app = TestApp::spawn().await;
    let (_, recruiter) = token_for(&app, StaffRole::Recruiter);
    let (_, communication) = token_for(&app, StaffRole::Communication);
    let (_, admin) = token_for(&app, StaffRole::Admin);
    for path in ["/api/v1/candidats", "/api/v1/candidatures"] {
        assert_eq!(get_with(&app, path, &recruiter).await.status(), 200);
        assert_eq!(get_with(&app, path, &admin).await.status(), 200);
        let p = problem(get_with(&app, path, &communication).await, 403).await;
        assert_eq!(p["type"], "urn:vocation:probleme:acces-refuse");
    }
    assert_eq!(
        get_with(&app, "/api/v1/campagnes", &communication)
            .await
            .status(),
        200
    );
    assert_eq!(
        get_with(&app, "/api/v1/campagnes", &admin).await.status(),
        200
    );
    problem(get_with(&app, "/api/v1/campagnes", &recruiter).await, 403).await;
    let r = post_with(
        &app,
        "/api/v1/candidatures/1/etape",
        &communication,
        &json!({"depuis": "nouvelle", "vers": "entretien"}),
    )
    .await;
    problem(r, 403).await;
}

#[tokio::test]
async fn a_token_is_shown_once_stored_as_a_hash_and_stops_when_revoked_or_the_account_is_disabled()
{
    let app = TestApp::spawn().await;
    let email = "recruteuse@cds32.test";
    let user = app.create_staff(email, StaffRole::Recruiter);
    let (staff, r) = app.sign_in(email, STAFF_PASSWORD).await;
    assert_eq!(r.status(), 303);

    // Without a session: the sign-in page.
    let anonymous = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = anonymous
        .get(app.url("/espace/jetons"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);

    let csrf = staff.csrf_from("/espace/jetons").await;
    // Without the CSRF token: 403, nothing created.
    let r = staff
        .post_form("/espace/jetons", &[("csrf", "faux"), ("nom", "Outil")])
        .await;
    assert_eq!(r.status(), 403);
    assert_eq!(app.count("SELECT count(*) FROM api_tokens"), 0);
    // Without a name: 422 with the message tied to the field.
    let r = staff
        .post_form("/espace/jetons", &[("csrf", &csrf), ("nom", "  ")])
        .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"nom-error\""), "{html}");
    assert_eq!(app.count("SELECT count(*) FROM api_tokens"), 0);

    let r = staff
        .post_form(
            "/espace/jetons",
            &[("csrf", &csrf), ("nom", "Tableau <RH>")],
        )
        .await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("Tableau &lt;RH&gt;"));
    let token = {
        let doc = scraper::Html::parse_document(&html);
        let sel = scraper::Selector::parse("#jeton-cree").unwrap();
        doc.select(&sel)
            .next()
            .and_then(|e| e.value().attr("value"))
            .unwrap()
            .to_owned()
    };
    assert!(token.starts_with("voc_") && token.len() > 40);
    // Only its SHA-256 is kept; the list never shows it again.
    let stored = app.text("SELECT token_hash FROM api_tokens").unwrap();
    assert_ne!(stored, token);
    use sha2::{Digest, Sha256};
    let digest: String = Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(stored, digest);
    let (_, list) = staff.get_html("/espace/jetons").await;
    assert!(!list.contains(&token));
    assert!(list.contains("Jamais"));

    let r = get_with(&app, "/api/v1/candidats", &token).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        app.count("SELECT count(*) FROM api_tokens WHERE last_used_at IS NOT NULL"),
        1
    );

    // Another member cannot revoke it.
    let other = app.staff(StaffRole::Recruiter).await;
    let other_csrf = other.csrf_from("/espace/jetons").await;
    let id = app.count("SELECT id FROM api_tokens");
    let r = other
        .post_form(
            &format!("/espace/jetons/{id}/revoquer"),
            &[("csrf", &other_csrf)],
        )
        .await;
    assert_eq!(r.status(), 404);
    assert_eq!(
        get_with(&app, "/api/v1/candidats", &token).await.status(),
        200
    );
    // A GET does not revoke; a POST without CSRF neither.
    let r = staff.get(&format!("/espace/jetons/{id}/revoquer")).await;
    assert_ne!(r.status(), 200);
    let r = staff
        .post_form(&format!("/espace/jetons/{id}/revoquer"), &[("csrf", "x")])
        .await;
    assert_eq!(r.status(), 403);
    assert_eq!(
        get_with(&app, "/api/v1/candidats", &token).await.status(),
        200
    );

    let r = staff
        .post_form(&format!("/espace/jetons/{id}/revoquer"), &[("csrf", &csrf)])
        .await;
    assert_eq!(r.status(), 303);
    problem(get_with(&app, "/api/v1/candidats", &token).await, 401).await;
    let (_, list) = staff.get_html("/espace/jetons").await;
    assert!(list.contains("Révoqué le"));

    // A disabled account's tokens stop working.
    let (_, second) =
        vocation::api_tokens::create(&mut app.conn(), user, "autre", chrono::Utc::now()).unwrap();
    assert_eq!(
        get_with(&app, "/api/v1/candidats", &second).await.status(),
        200
    );
    diesel::RunQueryDsl::execute(
        diesel::sql_query(format!(
            "UPDATE staff_users SET active = false WHERE id = {user}"
        )),
        &mut app.conn(),
    )
    .unwrap();
    problem(get_with(&app, "/api/v1/candidats", &second).await, 401).await;
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action IN ('creation_jeton_api', 'revocation_jeton_api')"),
        2
    );
}

async fn apply(app: &TestApp, first: &str, last: &str, email: &str, phone: &str) -> i64 {
    let body = with(
        with(
            with(
                with(
                    with(valid_json(), "prenom", json!(first)),
                    "nom",
                    json!(last),
                ),
                "courriel",
                json!(email),
            ),
            "telephone",
            json!(phone),
        ),
        "rpps",
        Value::Null,
    );
    let r = post_json(app, "/api/v1/candidatures", &body).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    app.count(&format!(
        "SELECT a.id FROM applications a JOIN candidates c ON c.id = a.candidate_id \
         WHERE c.email_normalized = '{email}'"
    ))
}

#[tokio::test]
async fn candidates_and_applications_are_listed_with_the_boards_filters_and_pages() {
    let app = TestApp::spawn().await;
    apply(&app, "Claire", "Martin", "claire@exemple.fr", "0612345678").await;
    apply(&app, "Paul", "Durand", "paul@exemple.fr", "0612345679").await;
    apply(&app, "Inès", "Roux", "ines@exemple.fr", "0612345670").await;
    let (_, token) = token_for(&app, StaffRole::Recruiter);

    let r = get_with(&app, "/api/v1/candidats?par_page=2", &token).await;
    assert_eq!(r.status(), 200);
    let page: Value = r.json().await.unwrap();
    assert_eq!(page["total"], 3);
    assert_eq!(page["elements"].as_array().unwrap().len(), 2);
    assert_eq!(page["elements"][0]["nom"], "Martin");
    let page: Value = get_with(&app, "/api/v1/candidats?par_page=2&page=2", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["elements"].as_array().unwrap().len(), 1);
    assert_eq!(page["elements"][0]["prenom"], "Inès");
    let page: Value = get_with(&app, "/api/v1/candidats?q=durand", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["total"], 1);
    assert_eq!(page["elements"][0]["courriel"], "paul@exemple.fr");

    let candidate = page["elements"][0]["id"].as_i64().unwrap();
    let r = get_with(&app, &format!("/api/v1/candidats/{candidate}"), &token).await;
    assert_eq!(r.status(), 200);
    let detail: Value = r.json().await.unwrap();
    assert_eq!(detail["candidat"]["email"], "paul@exemple.fr");
    assert_eq!(
        detail["candidat"]["applications"].as_array().unwrap().len(),
        1
    );
    problem(
        get_with(&app, "/api/v1/candidats/999999", &token).await,
        404,
    )
    .await;
    problem(get_with(&app, "/api/v1/candidats/abc", &token).await, 404).await;

    let page: Value = get_with(&app, "/api/v1/candidatures?etape=nouvelle", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["total"], 3);
    assert_eq!(page["elements"][0]["etape_libelle"], "Nouvelle");
    let page: Value = get_with(&app, "/api/v1/candidatures?etape=entretien", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["total"], 0);
    let p = problem(
        get_with(&app, "/api/v1/candidatures?etape=inconnue", &token).await,
        422,
    )
    .await;
    assert_eq!(error_fields(&p), ["etape"]);
    let p = problem(
        get_with(&app, "/api/v1/candidats?par_page=0&page=0", &token).await,
        422,
    )
    .await;
    assert_eq!(error_fields(&p), ["page", "par_page"]);
    let p = problem(
        get_with(&app, "/api/v1/candidats?page=abc", &token).await,
        400,
    )
    .await;
    assert_eq!(p["type"], "urn:vocation:probleme:parametres-invalides");
}

#[tokio::test]
async fn a_stage_move_follows_the_pipeline_rules_and_is_recorded_in_the_history() {
    let app = TestApp::spawn().await;
    let id = apply(&app, "Claire", "Martin", "claire@exemple.fr", "0612345678").await;
    let (user, token) = token_for(&app, StaffRole::Recruiter);
    let path = format!("/api/v1/candidatures/{id}/etape");

    let r = post_with(
        &app,
        &path,
        &token,
        &json!({"depuis": "nouvelle", "vers": "premier_contact", "note": "Appelée <b>lundi</b>"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let detail: Value = r.json().await.unwrap();
    assert_eq!(detail["candidature"]["stage_code"], "premier_contact");
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM stage_history WHERE application_id = {id} \
             AND from_stage = 'nouvelle' AND to_stage = 'premier_contact' AND actor_id = {user} \
             AND note = 'Appelée <b>lundi</b>'"
        )),
        1
    );

    // Stale: the stage changed meanwhile.
    let p = problem(
        post_with(
            &app,
            &path,
            &token,
            &json!({"depuis": "nouvelle", "vers": "entretien"}),
        )
        .await,
        409,
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("Premier contact"));
    // Backwards is not allowed.
    let p = problem(
        post_with(
            &app,
            &path,
            &token,
            &json!({"depuis": "premier_contact", "vers": "nouvelle"}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(error_fields(&p), ["vers"]);
    // A refusal needs a reason from the list, the pool a follow-up date.
    let p = problem(
        post_with(
            &app,
            &path,
            &token,
            &json!({"depuis": "premier_contact", "vers": "refusee"}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(error_fields(&p), ["motif"]);
    let p = problem(
        post_with(
            &app,
            &path,
            &token,
            &json!({"depuis": "premier_contact", "vers": "vivier"}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(error_fields(&p), ["relance"]);
    let p = problem(
        post_with(
            &app,
            &path,
            &token,
            &json!({"depuis": "x", "vers": "y", "relance": "demain"}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(error_fields(&p), ["depuis", "vers", "relance"]);
    let p = problem(
        post_with(&app, &path, &token, &json!({"depuis": "premier_contact"})).await,
        400,
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("vers"), "{p}");
    assert_eq!(app.count("SELECT count(*) FROM stage_history"), 2);

    let r = post_with(
        &app,
        &path,
        &token,
        &json!({"depuis": "premier_contact", "vers": "refusee", "motif": "specialite"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        app.text(&format!("SELECT stage FROM applications WHERE id = {id}"))
            .unwrap(),
        "refusee"
    );
    problem(
        post_with(
            &app,
            "/api/v1/candidatures/999999/etape",
            &token,
            &json!({"depuis": "nouvelle", "vers": "entretien"}),
        )
        .await,
        404,
    )
    .await;
}

#[tokio::test]
async fn campaign_statistics_come_from_its_runs_and_attributed_applications() {
    let app = TestApp::spawn().await;
    #[derive(diesel::QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        id: i64,
    }
    let campaign = diesel::RunQueryDsl::get_result::<Id>(
        diesel::sql_query(
            "WITH t AS (INSERT INTO mail_templates (name, subject, body_text, body_html) \
               VALUES ('Modèle', 'Objet', 'Texte', '') RETURNING id) \
             INSERT INTO campaigns (name, template_id, sender_name, sender_email, \
               rate_per_minute, schedule_kind, status) SELECT 'Facultés 2026', id, 'CDS32', \
               'cds@cds32.test', 60, 'maintenant', 'terminee' FROM t RETURNING id",
        ),
        &mut app.conn(),
    )
    .unwrap()
    .id;
    let id = apply(&app, "Claire", "Martin", "claire@exemple.fr", "0612345678").await;
    diesel::RunQueryDsl::execute(
        diesel::sql_query(format!(
            "UPDATE applications SET campaign_id = {campaign} WHERE id = {id}"
        )),
        &mut app.conn(),
    )
    .unwrap();
    let (_, token) = token_for(&app, StaffRole::Communication);
    let list: Vec<Value> = get_with(&app, "/api/v1/campagnes", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["nom"], "Facultés 2026");
    assert_eq!(list[0]["statut"], "terminee");
    let r = get_with(
        &app,
        &format!("/api/v1/campagnes/{campaign}/statistiques"),
        &token,
    )
    .await;
    assert_eq!(r.status(), 200);
    let stats: Value = r.json().await.unwrap();
    assert_eq!(stats["resultats"]["applications"], 1);
    assert_eq!(stats["resultats"]["recruitments"], 0);
    assert!(stats["envois"].as_array().unwrap().is_empty());
    problem(
        get_with(&app, "/api/v1/campagnes/999999/statistiques", &token).await,
        404,
    )
    .await;
}

#[tokio::test]
async fn unknown_addresses_and_wrong_methods_under_api_are_problem_details() {
    let app = TestApp::spawn().await;
    let p = problem(app.get("/api/v1/inconnu").await, 404).await;
    assert_eq!(p["type"], "urn:vocation:probleme:introuvable");
    problem(app.get("/api/v2/postes").await, 404).await;
    let r = app
        .client
        .delete(app.url("/api/v1/postes"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["allow"], "GET");
    problem(r, 405).await;
    let r = app.get("/api/v1/candidatures/1/etape").await;
    assert_eq!(r.headers()["allow"], "POST");
    problem(r, 405).await;
    let r = app
        .client
        .put(app.url("/api/v1/candidatures"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["allow"], "GET, POST");
    problem(r, 405).await;
    // Pages outside /api keep their HTML errors.
    let r = app.get("/nulle-part").await;
    assert_eq!(r.status(), 404);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
}

#[tokio::test]
async fn submissions_are_rate_limited_per_address_like_the_form() {
    let app = TestApp::builder().form_burst(2).spawn().await;
    for i in 0..2 {
        let body = with(
            with(valid_json(), "courriel", json!(format!("c{i}@exemple.fr"))),
            "telephone",
            json!(format!("06 00 00 00 0{i}")),
        );
        let body = with(body, "rpps", Value::Null);
        assert_eq!(
            post_json(&app, "/api/v1/candidatures", &body)
                .await
                .status(),
            201
        );
    }
    let r = post_json(&app, "/api/v1/candidatures", &valid_json()).await;
    assert!(
        r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    let p = problem(r, 429).await;
    assert!(p["detail"].as_str().unwrap().contains("Réessayez"));
    // Reading is not limited.
    assert_eq!(app.get("/api/v1/postes").await.status(), 200);
    assert_eq!(app.count("SELECT count(*) FROM applications"), 2);
}

// ---------------------------------------------------------------------------------------------
// Property-based: the parser and validator never panic, and answer with known fields.

const SPECIALTIES: &[&str] = &["SM54"];

fn choices<'a>(codes: &'a [String]) -> Choices<'a> {
    Choices {
        specialty_codes: codes,
        centre_ids: &[1, 2],
        published_position_ids: &[7],
        privacy_notice_version: "v1",
        today: crate::helpers::test_day(),
    }
}

const API_FIELDS: &[&str] = &[
    "civilite",
    "prenom",
    "nom",
    "courriel",
    "telephone",
    "rpps",
    "specialite",
    "situation",
    "disponibilite",
    "temps_travail",
    "demi_journees",
    "centres",
    "garde",
    "maitre_stage",
    "message",
    "connaissance",
    "poste",
    "consentement",
    "vivier",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "suivi",
    "canal",
    "cle",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,40}".prop_map(Value::from),
        "[<>{}'\";\\-a-z ]{0,30}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 40, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    prop::sample::select(API_FIELDS).prop_map(str::to_owned),
                    "[a-z_]{1,10}"
                ],
                inner,
                0..10
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Only known fields with arbitrary values of any type.
fn known_fields_object() -> impl Strategy<Value = Value> {
    prop::collection::btree_map(prop::sample::select(API_FIELDS), json_value(), 0..24)
        .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()))
}

fn check(body: &[u8], header_key: Option<&str>) -> Result<(), TestCaseError> {
    let codes: Vec<String> = SPECIALTIES.iter().map(|s| s.to_string()).collect();
    let known: Vec<&str> = FIELD_ORDER
        .iter()
        .map(|(id, _)| *id)
        .chain(["cle"])
        .collect();
    match parse_application(body, header_key, &choices(&codes)) {
        Ok(app) => {
            // Accepted input satisfies the form's rules.
            prop_assert!(!app.first_name.as_str().is_empty());
            prop_assert_eq!(app.specialty_code.as_str(), "SM54");
        }
        Err(p) => {
            prop_assert!(p.status == 400 || p.status == 422, "status {}", p.status);
            prop_assert!(!p.detail.is_empty());
            if p.status == 422 {
                prop_assert!(!p.errors.is_empty());
                for e in &p.errors {
                    prop_assert!(known.contains(&e.field.as_str()), "field {}", e.field);
                    prop_assert!(!e.message.is_empty());
                }
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_json_never_panics_the_application_parser(v in json_value()) {
        check(&serde_json::to_vec(&v).unwrap(), None)?;
    }

    #[test]
    fn arbitrary_values_in_known_fields_get_field_errors_or_pass(v in known_fields_object()) {
        check(&serde_json::to_vec(&v).unwrap(), None)?;
    }

    #[test]
    fn arbitrary_bytes_and_keys_never_panic_the_application_parser(
        body in prop::collection::vec(any::<u8>(), 0..300),
        key in prop::option::of(".{0,40}"),
    ) {
        check(&body, key.as_deref())?;
    }

    #[test]
    fn a_valid_application_with_any_message_is_accepted_or_refused_on_the_message(
        message in "\\PC{0,300}",
        first in "[A-Za-zÀ-ÿ' -]{1,40}",
    ) {
        let body = with(with(valid_json(), "message", json!(message)), "prenom", json!(first));
        let codes: Vec<String> = SPECIALTIES.iter().map(|s| s.to_string()).collect();
        match parse_application(&serde_json::to_vec(&body).unwrap(), None, &choices(&codes)) {
            Ok(app) => prop_assert_eq!(app.message.as_str(), message.trim()),
            Err(p) => {
                prop_assert_eq!(p.status, 422);
                for e in &p.errors {
                    prop_assert!(e.field == "message" || e.field == "prenom", "{:?}", p.errors);
                }
            }
        }
    }
}

#[test]
fn the_registered_routes_are_unique() {
    let mut seen: Vec<_> = ROUTES.to_vec();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), ROUTES.len());
    // Every path is under /api/v1.
    assert!(ROUTES.iter().all(|(_, p)| p.starts_with("/api/v1/")));
}
