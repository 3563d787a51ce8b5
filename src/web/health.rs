//! Liveness and readiness, as JSON.

use actix_web::{web, HttpResponse};
use diesel::prelude::*;
use serde_json::json;

use crate::web::AppState;

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// Ready when a query reaches the database.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let pool = state.pool.clone();
    let ok = web::block(move || -> bool {
        pool.get()
            .ok()
            .map(|mut c| diesel::sql_query("SELECT 1").execute(&mut c).is_ok())
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false);
    if ok {
        HttpResponse::Ok().json(json!({ "status": "ok", "database": "ok" }))
    } else {
        HttpResponse::ServiceUnavailable()
            .json(json!({ "status": "unavailable", "database": "unreachable" }))
    }
}
