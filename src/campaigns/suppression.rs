//! The global suppression list: addresses never to be mailed again (unsubscribed, unknown
//! mailbox, added by hand). Keyed by the lower-cased address and kept when the contact is
//! deleted, so a re-import cannot bring an unsubscribed address back.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::db::enums::{ContactStatus, SuppressionReason};
use crate::db::schema::{contacts, deliveries, suppressions};
use crate::domain::{EmailAddress, FieldErrors};

/// The key under which an address is suppressed.
pub fn key(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Suppresses an address and marks its contact (if any) unsubscribed or bounced. Idempotent:
/// the first reason recorded is kept. Returns true when the address was not suppressed before.
pub fn suppress(
    conn: &mut PgConnection,
    email: &str,
    reason: SuppressionReason,
    detail: &str,
) -> QueryResult<bool> {
    let email = key(email);
    conn.transaction(|conn| {
        let inserted = diesel::insert_into(suppressions::table)
            .values((
                suppressions::email.eq(&email),
                suppressions::reason.eq(reason),
                suppressions::detail.eq(detail),
            ))
            .on_conflict_do_nothing()
            .execute(conn)?;
        let status = match reason {
            SuppressionReason::UnknownMailbox | SuppressionReason::Bounce => ContactStatus::Bounced,
            SuppressionReason::Unsubscribed
            | SuppressionReason::Manual
            | SuppressionReason::Complaint => ContactStatus::Unsubscribed,
        };
        diesel::update(
            contacts::table
                .filter(crate::db::lower_opt(contacts::email).eq(&email))
                .filter(contacts::status.eq(ContactStatus::Active)),
        )
        .set((
            contacts::status.eq(status),
            contacts::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)?;
        Ok(inserted == 1)
    })
}

pub fn is_suppressed(conn: &mut PgConnection, email: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        suppressions::table.filter(suppressions::email.eq(key(email))),
    ))
    .get_result(conn)
}

/// The address a delivery went to and whether it is suppressed already (the unsubscribe
/// link's page); None when the delivery is unknown.
pub fn delivery_address(
    conn: &mut PgConnection,
    delivery_id: i64,
) -> QueryResult<Option<(String, bool)>> {
    // A letter's delivery has no address: nothing to unsubscribe there.
    let email: Option<String> = deliveries::table
        .find(delivery_id)
        .select(deliveries::email)
        .first::<Option<String>>(conn)
        .optional()?
        .flatten();
    match email {
        None => Ok(None),
        Some(email) => {
            let done = is_suppressed(conn, &email)?;
            Ok(Some((email, done)))
        }
    }
}

/// The form that adds an address by hand, as typed.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct SuppressionForm {
    /// The form's anti-forgery token: checked by the page, never shown again.
    #[serde(skip_serializing)]
    pub csrf: String,
    pub courriel: String,
    pub note: String,
}

/// The form's fields in order (id, label), for its error summary.
pub const SUPPRESSION_FIELDS: &[(&str, &str)] =
    &[("courriel", "Adresse électronique"), ("note", "Note")];

impl SuppressionForm {
    /// The address to suppress and the note (on one line, 500 characters at most), or a
    /// message per wrong field.
    pub fn validate(&self) -> Result<(EmailAddress, String), FieldErrors> {
        let mut errors = FieldErrors::default();
        let email = EmailAddress::parse_for_someone(&self.courriel)
            .map_err(|e| errors.add("courriel", e.0))
            .ok();
        let note = self.note.split_whitespace().collect::<Vec<_>>().join(" ");
        if note.chars().count() > 500 {
            errors.add("note", "500 caractères au plus.");
        }
        match email.filter(|_| errors.is_empty()) {
            Some(email) => Ok((email, note)),
            None => Err(errors),
        }
    }
}
