//! The OpenAPI document is exact enough for a client (or a fuzzer such as schemathesis) to
//! rely on: code lists are enumerations, required fields have no default, consent is
//! `const: true`, keys are UUIDs, unknown fields are refused, pages are bounded, and every
//! answer the server gives (400, 401, 405, 413, 415, 429, 503…) is documented with its
//! headers. Each property of the document is checked against what the server really does.

use serde_json::{json, Value};
use vocation::db::enums::{Civility, HeardFrom, Situation, StaffRole, Stage, WorkingTime};
use vocation::web::api::ROUTES;

use crate::helpers::TestApp;

async fn document(app: &TestApp) -> Value {
    let r = app.get("/api/openapi.json").await;
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

fn schema<'a>(doc: &'a Value, name: &str) -> &'a Value {
    let s = &doc["components"]["schemas"][name];
    assert!(s.is_object(), "schema {name} missing");
    s
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .filter_map(|x| x.as_str().map(str::to_owned))
        .collect()
}

fn codes<T: Copy>(all: &[T], code: fn(T) -> &'static str) -> Vec<String> {
    all.iter().map(|v| code(*v).to_owned()).collect()
}

fn parameter<'a>(doc: &'a Value, path: &str, method: &str, name: &str) -> &'a Value {
    doc["paths"][path][method]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("{method} {path}: no parameter {name}"))
}

fn valid_application() -> Value {
    json!({
        "civilite": "madame",
        "prenom": "Claire",
        "nom": "Martin",
        "courriel": "claire.martin@exemple.fr",
        "telephone": "06 12 34 56 78",
        "specialite": "SM54",
        "situation": "remplacant",
        "temps_travail": "temps_plein",
        "consentement": true
    })
}

fn with(mut v: Value, key: &str, value: Value) -> Value {
    v[key] = value;
    v
}

async fn post_json(
    app: &TestApp,
    path: &str,
    token: Option<&str>,
    body: &Value,
) -> reqwest::Response {
    let mut r = app.client.post(app.url(path)).json(body);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    r.send().await.unwrap()
}

async fn get_with(app: &TestApp, path: &str, token: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

fn token_for(app: &TestApp, role: StaffRole) -> String {
    let email = format!(
        "{}-{}@cds32.test",
        role.code(),
        uuid::Uuid::new_v4().simple()
    );
    let user = app.create_staff(&email, role);
    vocation::api_tokens::create(&mut app.conn(), user, "outil", chrono::Utc::now())
        .unwrap()
        .1
}

/// A problem+json answer with `status`, in French, without serde's English parser text.
async fn french_problem(r: reqwest::Response, status: u16) -> Value {
    assert_eq!(r.status().as_u16(), status);
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "application/problem+json"
    );
    let p: Value = r.json().await.unwrap();
    let text = p.to_string();
    for english in [
        "invalid type",
        "invalid value",
        "invalid digit",
        "expected",
        "missing field",
        "unknown field",
        " at line ",
    ] {
        assert!(
            !text.contains(english),
            "English parser text {english:?} in {p}"
        );
    }
    p
}

fn fields(p: &Value) -> Vec<String> {
    p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect()
}

/// The statuses documented for an operation.
fn documented(doc: &Value, path: &str, method: &str) -> Vec<String> {
    doc["paths"][path][method]["responses"]
        .as_object()
        .unwrap_or_else(|| panic!("{method} {path} has no responses"))
        .keys()
        .cloned()
        .collect()
}

#[tokio::test]
async fn code_lists_are_enumerations_taken_from_the_code_and_the_reference_data() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;
    let entry = &schema(&doc, "CandidatureEntree")["properties"];
    assert_eq!(
        strings(&entry["civilite"]["enum"]),
        codes(Civility::ALL, Civility::code)
    );
    assert_eq!(
        strings(&entry["situation"]["enum"]),
        codes(Situation::ALL, Situation::code)
    );
    assert_eq!(
        strings(&entry["temps_travail"]["enum"]),
        codes(WorkingTime::ALL, WorkingTime::code)
    );
    assert_eq!(
        strings(&entry["connaissance"]["enum"]),
        codes(HeardFrom::ALL, HeardFrom::code)
    );
    // The specialties: exactly the codes of the table the form checks against.
    let specialties = strings(&entry["specialite"]["enum"]);
    assert!(specialties.len() >= 50, "{specialties:?}");
    let list = specialties
        .iter()
        .map(|c| format!("'{c}'"))
        .collect::<Vec<_>>()
        .join(",");
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM specialties WHERE code IN ({list})"
        )),
        specialties.len() as i64
    );
    assert_eq!(
        app.count("SELECT count(*) FROM specialties"),
        specialties.len() as i64
    );
    let stages = codes(Stage::ALL, Stage::code);
    let moves = &schema(&doc, "ChangementEtape")["properties"];
    assert_eq!(strings(&moves["depuis"]["enum"]), stages);
    assert_eq!(strings(&moves["vers"]["enum"]), stages);
    assert!(strings(&moves["motif"]["enum"]).contains(&"poste_pourvu".to_owned()));
    let etape = parameter(&doc, "/api/v1/candidatures", "get", "etape");
    assert_eq!(strings(&etape["schema"]["enum"]), stages);
    let specialite = parameter(&doc, "/api/v1/candidats", "get", "specialite");
    assert!(strings(&specialite["schema"]["enum"]).contains(&"MG".to_owned()));
    // What the API answers uses the same lists.
    assert_eq!(
        strings(&schema(&doc, "CandidatureApi")["properties"]["etape"]["enum"]),
        stages
    );

    // The server refuses what is outside the lists, as documented, naming the field.
    let token = token_for(&app, StaffRole::Recruiter);
    for (query, field) in [
        ("temps=mi_temps", "temps"),
        ("situation=astronaute", "situation"),
        ("specialite=SM99X", "specialite"),
        ("centre=abc", "centre"),
        ("poste=quelconque", "poste"),
        ("dispo_avant=demain", "dispo_avant"),
        ("etape=inconnue", "etape"),
    ] {
        let r = get_with(&app, &format!("/api/v1/candidats?{query}"), &token).await;
        let p = french_problem(r, 422).await;
        assert_eq!(fields(&p), [field], "{query}");
    }
    for query in [
        "specialite=MG",
        "specialite=SM54",
        "temps=temps_partiel",
        "poste=spontanee",
    ] {
        let r = get_with(&app, &format!("/api/v1/candidats?{query}"), &token).await;
        assert_eq!(r.status(), 200, "{query}");
    }
    let p = french_problem(
        post_json(
            &app,
            "/api/v1/candidatures/1/etape",
            Some(&token),
            &json!({"depuis": "nouvelle", "vers": "refusee", "motif": "humeur"}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(fields(&p), ["motif"]);
}

#[tokio::test]
async fn required_fields_have_no_default_consent_is_const_true_and_keys_are_uuids() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;
    let entry = schema(&doc, "CandidatureEntree");
    let required = strings(&entry["required"]);
    assert!(required.contains(&"consentement".to_owned()));
    for name in &required {
        let prop = &entry["properties"][name];
        assert!(
            prop.get("default").is_none(),
            "{name} has a default: {prop}"
        );
    }
    assert_eq!(entry["properties"]["consentement"]["const"], true);
    assert_eq!(entry["properties"]["cle"]["format"], "uuid");
    assert_eq!(entry["properties"]["courriel"]["format"], "email");
    assert_eq!(entry["properties"]["demi_journees"]["minimum"], 1);
    assert_eq!(entry["properties"]["demi_journees"]["maximum"], 9);
    let key = parameter(&doc, "/api/v1/candidatures", "post", "Idempotency-Key");
    assert_eq!(key["schema"], json!({"type": "string", "format": "uuid"}));
    assert_eq!(
        schema(&doc, "CandidatureRecue")["properties"]["reference"]["format"],
        "uuid"
    );

    // The server agrees: consent false, a key that is not a UUID, half-days out of bounds.
    for (body, field) in [
        (
            with(valid_application(), "consentement", json!(false)),
            "consentement",
        ),
        (
            with(valid_application(), "cle", json!("pas-un-uuid")),
            "cle",
        ),
        (
            with(valid_application(), "demi_journees", json!(0)),
            "demi_journees",
        ),
        (
            with(valid_application(), "demi_journees", json!(12)),
            "demi_journees",
        ),
    ] {
        let p = french_problem(
            post_json(&app, "/api/v1/candidatures", None, &body).await,
            422,
        )
        .await;
        assert_eq!(fields(&p), [field], "{body}");
    }
    assert_eq!(app.count("SELECT count(*) FROM applications"), 0);
    // The documented example is accepted as it stands (a fuzzer starts from it).
    let example = entry["example"].clone();
    let r = post_json(&app, "/api/v1/candidatures", None, &example).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
}

#[tokio::test]
async fn unknown_fields_are_refused_as_documented_with_a_french_problem_naming_them() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;
    for name in ["CandidatureEntree", "ChangementEtape"] {
        assert_eq!(schema(&doc, name)["additionalProperties"], false, "{name}");
    }
    assert!(documented(&doc, "/api/v1/candidatures", "post").contains(&"400".to_owned()));
    let body = with(valid_application(), "role", json!("admin"));
    let p = french_problem(
        post_json(&app, "/api/v1/candidatures", None, &body).await,
        400,
    )
    .await;
    assert_eq!(fields(&p), ["role"]);
    assert!(p["detail"].as_str().unwrap().contains("« role »"), "{p}");
    assert_eq!(app.count("SELECT count(*) FROM applications"), 0);
}

#[tokio::test]
async fn parser_errors_are_french_and_name_the_field_instead_of_serdes_english() {
    let app = TestApp::spawn().await;
    for (key, value) in [
        ("prenom", json!(42)),
        ("consentement", json!("oui")),
        ("centres", json!("1,2")),
        ("demi_journees", json!(100000)),
        ("poste", json!({"id": 1})),
        ("nom", Value::Null),
    ] {
        let body = with(valid_application(), key, value);
        let p = french_problem(
            post_json(&app, "/api/v1/candidatures", None, &body).await,
            400,
        )
        .await;
        assert_eq!(fields(&p), [key], "{p}");
        let detail = p["detail"].as_str().unwrap();
        assert!(detail.contains(&format!("« {key} »")), "{detail}");
        assert!(detail.contains("ligne 1, colonne"), "{detail}");
    }
    // Found by schemathesis: integers written as floats are integers for JSON Schema (and for
    // JavaScript clients); they were refused with a 400.
    for (key, value) in [
        ("centres", json!([1.0])),
        ("poste", json!(2112652194154509.0)),
    ] {
        let body = with(valid_application(), key, value);
        let r = post_json(&app, "/api/v1/candidatures", None, &body).await;
        assert_ne!(r.status(), 400, "{key}: {}", r.text().await.unwrap());
    }
    // A body that is not an object.
    let r = app
        .client
        .post(app.url("/api/v1/candidatures"))
        .header("Content-Type", "application/json")
        .body("[1, 2]")
        .send()
        .await
        .unwrap();
    let p = french_problem(r, 400).await;
    assert!(p["detail"].as_str().unwrap().contains("objet JSON"), "{p}");
    // A missing field of a stage move, and a page that is not a number.
    let token = token_for(&app, StaffRole::Recruiter);
    let p = french_problem(
        post_json(
            &app,
            "/api/v1/candidatures/1/etape",
            Some(&token),
            &json!({"depuis": "nouvelle"}),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(fields(&p), ["vers"]);
    let p = french_problem(
        get_with(&app, "/api/v1/candidats?page=abc", &token).await,
        400,
    )
    .await;
    assert_eq!(fields(&p), ["page"]);
    assert!(p["detail"].as_str().unwrap().contains("« page »"), "{p}");
    let p = french_problem(
        get_with(&app, "/api/v1/candidats?page=1&page=2", &token).await,
        400,
    )
    .await;
    assert_eq!(fields(&p), ["page"]);
}

#[tokio::test]
async fn pages_are_bounded_in_the_document_and_by_the_server() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;
    for path in ["/api/v1/candidats", "/api/v1/candidatures"] {
        let page = &parameter(&doc, path, "get", "page")["schema"];
        assert_eq!(page["type"], "integer");
        assert_eq!(page["minimum"], 1);
        assert_eq!(page["maximum"], 1_000_000);
        let per_page = &parameter(&doc, path, "get", "par_page")["schema"];
        assert_eq!(per_page["minimum"], 1);
        assert_eq!(per_page["maximum"], 100);
        assert_eq!(per_page["default"], 20);
    }
    let token = token_for(&app, StaffRole::Recruiter);
    for query in ["page=0", "page=1000001", "par_page=0", "par_page=101"] {
        let r = get_with(&app, &format!("/api/v1/candidatures?{query}"), &token).await;
        french_problem(r, 422).await;
    }
    // Found by schemathesis: an empty page was read as no page (200) although the document
    // says it is an integer.
    for (query, field) in [("page=", "page"), ("par_page=", "par_page")] {
        let r = get_with(&app, &format!("/api/v1/candidatures?{query}"), &token).await;
        let p = french_problem(r, 400).await;
        assert_eq!(fields(&p), [field], "{query}");
    }
    for query in ["page=1000000", "par_page=100", "par_page=1"] {
        let r = get_with(&app, &format!("/api/v1/candidatures?{query}"), &token).await;
        assert_eq!(r.status(), 200, "{query}");
    }
}

#[tokio::test]
async fn every_answer_the_server_gives_is_documented_with_its_headers() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;
    for (method, path) in ROUTES {
        let statuses = documented(&doc, path, method);
        for status in ["405", "503"] {
            assert!(
                statuses.contains(&status.to_owned()),
                "{method} {path}: {status}"
            );
        }
        let responses = &doc["paths"][path][method]["responses"];
        let allow = &responses["405"]["headers"]["Allow"]["schema"]["enum"];
        assert!(allow.is_array(), "{method} {path}: Allow");
        assert!(responses["503"]["headers"]["Retry-After"].is_object());
        if *method == "post" {
            for status in ["400", "413", "415"] {
                assert!(
                    statuses.contains(&status.to_owned()),
                    "{method} {path}: {status}"
                );
            }
        }
        if doc["paths"][path][method]["security"].is_array() {
            assert!(
                responses["401"]["headers"]["WWW-Authenticate"].is_object(),
                "{method} {path}"
            );
        }
        if path.contains("{id}") {
            assert!(statuses.contains(&"404".to_owned()), "{method} {path}");
        }
    }
    let submit = &doc["paths"]["/api/v1/candidatures"]["post"]["responses"];
    assert!(submit["201"]["headers"]["Location"].is_object());
    assert!(submit["200"]["headers"]["Location"].is_object());
    assert!(submit["429"]["headers"]["Retry-After"].is_object());

    // What the server answers matches: 415, 413, 405 with the documented Allow, 401 with its
    // challenge, 201 with Location.
    let r = app
        .client
        .post(app.url("/api/v1/candidatures"))
        .header("Content-Type", "text/plain")
        .body(valid_application().to_string())
        .send()
        .await
        .unwrap();
    french_problem(r, 415).await;
    let huge = with(
        valid_application(),
        "message",
        json!("a".repeat(100 * 1024)),
    );
    french_problem(
        post_json(&app, "/api/v1/candidatures", None, &huge).await,
        413,
    )
    .await;
    let r = app
        .client
        .delete(app.url("/api/v1/candidatures"))
        .send()
        .await
        .unwrap();
    let allow = r.headers()["allow"].to_str().unwrap().to_owned();
    assert_eq!(
        json!([allow]),
        doc["paths"]["/api/v1/candidatures"]["get"]["responses"]["405"]["headers"]["Allow"]
            ["schema"]["enum"]
    );
    french_problem(r, 405).await;
    let r = app.get("/api/v1/candidats").await;
    assert!(r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Bearer"));
    french_problem(r, 401).await;
    let r = post_json(&app, "/api/v1/candidatures", None, &valid_application()).await;
    assert_eq!(r.status(), 201);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("/candidature/merci/"), "{location}");
    let answer: Value = r.json().await.unwrap();
    let statuses = strings(&schema(&doc, "CandidatureRecue")["properties"]["statut"]["enum"]);
    assert!(statuses.contains(&answer["statut"].as_str().unwrap().to_owned()));
}
