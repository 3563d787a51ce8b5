//! Communications staff's pages for mailings: the library of campaign templates (editor,
//! preview with sample or real contact values, test send) and the campaigns (form, page with
//! the lifecycle actions, live progress and outcome).
//!
//! E-mail addresses never appear in a URL (the preview's contact search is a POST that answers
//! with the contact's id): URLs end up in the request logs, addresses must not.

pub mod actions;
pub mod campaign;
pub mod channels;
pub mod form;
pub mod letters;
pub mod preview;
pub mod templates;

use serde::Deserialize;

/// The notice shown after an action (`?fait=…`): fixed texts, nothing personal in the URL.
#[derive(Debug, Default, Deserialize)]
pub struct DoneQuery {
    #[serde(default)]
    fait: String,
    #[serde(default)]
    n: String,
}

/// A form that carries nothing but its anti-forgery token.
#[derive(Debug, Default, Deserialize)]
pub struct CsrfBody {
    #[serde(default)]
    csrf: String,
}
