//! Administrators' pages for centres and positions.

use actix_web::web;

/// Registers the centres' and positions' pages.
pub fn configure(_cfg: &mut web::ServiceConfig) {}
