//! The global suppression list: addresses never to be mailed again (unsubscribed, unknown
//! mailbox, added by hand). Keyed by the lower-cased address and kept when the contact is
//! deleted, so a re-import cannot bring an unsubscribed address back.

use diesel::prelude::*;

use crate::db::enums::{ContactStatus, SuppressionReason};
use crate::db::schema::{contacts, suppressions};

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
            SuppressionReason::UnknownMailbox => ContactStatus::Bounced,
            SuppressionReason::Unsubscribed | SuppressionReason::Manual => {
                ContactStatus::Unsubscribed
            }
        };
        diesel::update(
            contacts::table
                .filter(crate::db::lower(contacts::email).eq(&email))
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
