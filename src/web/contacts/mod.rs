//! The communications staff's audiences: contacts, lists, CSV import (preview, then
//! confirmation) and export, the suppression list and organisations.

pub mod contact;
pub mod import;
pub mod lists;
pub mod organisations;
pub mod suppression;

use serde::{Deserialize, Serialize};

use crate::campaigns::contacts::ContactRow;
use crate::db::enums::ContactStatus;

/// Rows of a paged table.
const PER_PAGE: i64 = 50;

/// A radio button of an enumeration's field.
#[derive(Serialize)]
struct Radio {
    value: &'static str,
    label: &'static str,
    input_id: String,
    checked: bool,
}

/// Radio buttons for an enumeration: the first carries the field's id (the summary links to
/// it), the others `field-code`.
fn radios<T: Copy>(
    all: &[T],
    field: &str,
    chosen: &str,
    code: impl Fn(T) -> &'static str,
    label: impl Fn(T) -> &'static str,
) -> Vec<Radio> {
    all.iter()
        .enumerate()
        .map(|(i, k)| Radio {
            value: code(*k),
            label: label(*k),
            input_id: if i == 0 {
                field.to_owned()
            } else {
                format!("{field}-{}", code(*k))
            },
            checked: chosen == code(*k),
        })
        .collect()
}

/// An `<option>` of a select: an enumeration's code or a row's id.
#[derive(Serialize)]
struct Choice<V: Serialize, L: Serialize> {
    value: V,
    label: L,
    selected: bool,
}

/// `<option>`s for an enumeration.
fn options<T: Copy>(
    all: &[T],
    chosen: &str,
    code: impl Fn(T) -> &'static str,
    label: impl Fn(T) -> &'static str,
) -> Vec<Choice<&'static str, &'static str>> {
    all.iter()
        .map(|k| Choice {
            value: code(*k),
            label: label(*k),
            selected: chosen == code(*k),
        })
        .collect()
}

/// The previous / next links of a paged table.
#[derive(Serialize)]
struct Pagination {
    page: i64,
    pages: i64,
    several: bool,
    previous: Option<String>,
    next: Option<String>,
}

/// Previous / next links of a paged table.
fn pagination(base: &str, params: &[(&str, String)], page: i64, total: i64) -> Pagination {
    let pages = ((total + PER_PAGE - 1) / PER_PAGE).max(1);
    let link = |p: i64| {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in params {
            if !v.is_empty() {
                s.append_pair(k, v);
            }
        }
        if p > 1 {
            s.append_pair("page", &p.to_string());
        }
        let q = s.finish();
        if q.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{q}")
        }
    };
    Pagination {
        page,
        pages,
        several: pages > 1,
        previous: (page > 1).then(|| link(page - 1)),
        next: (page < pages).then(|| link(page + 1)),
    }
}

fn page_number(raw: &str) -> i64 {
    raw.trim()
        .parse::<i64>()
        .ok()
        .filter(|p| *p >= 1)
        .unwrap_or(1)
}

fn optional_id(raw: &str) -> Option<i64> {
    raw.trim().parse().ok()
}

fn full_name(first: &str, last: &str) -> String {
    format!("{first} {last}").trim().to_owned()
}

/// A contact in a table of contacts.
#[derive(Serialize)]
struct ContactRowView {
    id: i64,
    email: Option<String>,
    name: String,
    organisation: String,
    kind: &'static str,
    tags: String,
    city: String,
    status: &'static str,
    inactive: bool,
}

fn contact_row(c: &ContactRow) -> ContactRowView {
    ContactRowView {
        id: c.id,
        email: c.email.clone(),
        name: full_name(&c.first_name, &c.last_name),
        organisation: c.organisation.clone().unwrap_or_default(),
        kind: c.kind.label(),
        tags: c.tags.join(", "),
        city: c.city.clone(),
        status: c.status.label(),
        inactive: c.status != ContactStatus::Active,
    }
}

/// A form that carries nothing but its anti-forgery token.
#[derive(Debug, Default, Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}
