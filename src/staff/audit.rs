//! The audit log: who did what to which record, written by every use case that changes data,
//! and read page by page by administrators (the « Journal des actions »).

use diesel::prelude::*;

use crate::db::schema::{audit_log, staff_users};

/// Records an action in the audit log. `detail` must not hold personal data.
pub fn audit(
    conn: &mut PgConnection,
    actor_id: Option<i64>,
    action: &str,
    entity: &str,
    entity_id: Option<i64>,
    detail: &str,
) -> QueryResult<()> {
    diesel::insert_into(audit_log::table)
        .values((
            audit_log::actor_id.eq(actor_id),
            audit_log::action.eq(action),
            audit_log::entity.eq(entity),
            audit_log::entity_id.eq(entity_id),
            audit_log::detail.eq(detail),
        ))
        .execute(conn)
        .map(|_| ())
}

/// One line of the audit log as admins read it.
#[derive(Debug, Clone, Queryable, serde::Serialize)]
pub struct AuditEntry {
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub actor: Option<String>,
    pub action: String,
    pub entity: String,
    pub entity_id: Option<i64>,
    pub detail: String,
}

/// Page `page` (from 1) of the log, newest first, `per_page` lines a page.
pub fn audit_page(
    conn: &mut PgConnection,
    page: i64,
    per_page: i64,
) -> QueryResult<Vec<AuditEntry>> {
    audit_log::table
        .left_join(staff_users::table)
        .order(audit_log::id.desc())
        .limit(per_page)
        .offset((page.max(1) - 1) * per_page)
        .select((
            audit_log::created_at,
            staff_users::display_name.nullable(),
            audit_log::action,
            audit_log::entity,
            audit_log::entity_id,
            audit_log::detail,
        ))
        .load(conn)
}
