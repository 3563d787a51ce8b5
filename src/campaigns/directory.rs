//! What the audience pages read together: a page of contacts with the lists to filter by, a
//! contact's record (its lists, the lists it could join, its suppression), a contact before it
//! is deleted, a list with its members and its imports.

use chrono::{DateTime, Utc};
use diesel::{PgConnection, QueryResult};

use crate::campaigns::contacts::{
    self, Contact, ContactFilter, ContactList, ContactRow, ListSummary,
};
use crate::campaigns::import::{self, ImportRecord};
use crate::campaigns::organisations::{self, Organisation};
use crate::db::enums::SuppressionReason;

/// How many match in all, and one page of them.
pub type Counted<T> = (i64, Vec<T>);

/// Why and since when an address is suppressed.
pub type Suppressed = Option<(SuppressionReason, DateTime<Utc>)>;

/// One page of the contacts matching `filter` (their total, the rows), with every list to
/// filter by.
pub fn browse(
    conn: &mut PgConnection,
    filter: &ContactFilter,
    page: i64,
    per_page: i64,
) -> QueryResult<(Vec<ContactList>, Counted<ContactRow>)> {
    Ok((
        contacts::all_lists(conn)?,
        contacts::search(conn, filter, page, per_page)?,
    ))
}

/// A contact as its page shows it besides the form.
pub struct ContactRecord {
    pub contact: Contact,
    /// The lists it belongs to.
    pub member_of: Vec<ContactList>,
    /// Every list.
    pub all_lists: Vec<ContactList>,
    pub suppressed: Suppressed,
}

/// What the contact form offers (the organisations), and for an existing contact (`id`) its
/// record; None when that contact does not exist.
pub fn contact_form(
    conn: &mut PgConnection,
    id: Option<i64>,
) -> QueryResult<Option<(Vec<Organisation>, Option<ContactRecord>)>> {
    let orgs = organisations::all_by_name(conn)?;
    let record = match id {
        None => None,
        Some(id) => {
            let Some(contact) = contacts::find(conn, id)? else {
                return Ok(None);
            };
            let member_of = contacts::lists_of(conn, id)?;
            let all_lists = contacts::all_lists(conn)?;
            let suppressed = contacts::suppression_of(conn, contact.email.as_deref())?;
            Some(ContactRecord {
                contact,
                member_of,
                all_lists,
                suppressed,
            })
        }
    };
    Ok(Some((orgs, record)))
}

/// A contact and its suppression, shown before deleting it; None when it does not exist.
pub fn before_deletion(
    conn: &mut PgConnection,
    id: i64,
) -> QueryResult<Option<(Contact, Suppressed)>> {
    let Some(contact) = contacts::find(conn, id)? else {
        return Ok(None);
    };
    let suppressed = contacts::suppression_of(conn, contact.email.as_deref())?;
    Ok(Some((contact, suppressed)))
}

/// A list's page: the list with its counts, one page of its members, the imports into it.
pub struct ListMembers {
    pub summary: ListSummary,
    pub members: Counted<ContactRow>,
    pub history: Vec<ImportRecord>,
}

/// A list with its counts, one page of its members matching `filter` and the imports into it;
/// None when the list does not exist.
pub fn list_with_members(
    conn: &mut PgConnection,
    id: i64,
    filter: &ContactFilter,
    page: i64,
    per_page: i64,
) -> QueryResult<Option<ListMembers>> {
    let Some(summary) = contacts::lists_with_counts(conn)?
        .into_iter()
        .find(|l| l.id == id)
    else {
        return Ok(None);
    };
    let members = contacts::search(conn, filter, page, per_page)?;
    let history = import::history(conn, id)?;
    Ok(Some(ListMembers {
        summary,
        members,
        history,
    }))
}
