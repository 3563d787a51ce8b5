use crate::helpers::TestApp;

#[tokio::test]
async fn healthz_and_readyz_answer_json() {
    let app = TestApp::spawn().await;
    let r = app.get("/healthz").await;
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["status"], "ok");

    let r = app.get("/readyz").await;
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["database"], "ok");
}

#[tokio::test]
async fn readyz_and_pages_answer_503_without_internals_when_the_database_is_gone() {
    let app = TestApp::spawn().await;
    // Drop the database under the running service (FORCE ends its connections).
    {
        use diesel::prelude::*;
        let mut admin = diesel::PgConnection::establish(crate::helpers::ADMIN_URL).unwrap();
        diesel::sql_query(format!("DROP DATABASE \"{}\" WITH (FORCE)", app.db.name))
            .execute(&mut admin)
            .unwrap();
    }
    let r = app.get("/readyz").await;
    assert_eq!(r.status(), 503);

    let (status, html) = app.get_html("/candidature").await;
    assert_eq!(status, 503, "{html}");
    assert!(html.contains("Service momentanément indisponible"));
    for leak in ["diesel", "postgres", "panicked", "vocation_test_"] {
        assert!(
            !html.to_lowercase().contains(leak),
            "page leaks {leak}: {html}"
        );
    }
}
