//! Territorial health centres and antennas.

use diesel::prelude::*;
use serde::Serialize;

use crate::db::enums::{CentreKind, CentreStatus};
use crate::db::schema::centres;

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = centres, check_for_backend(diesel::pg::Pg))]
pub struct Centre {
    pub id: i64,
    pub name: String,
    pub kind: CentreKind,
    pub commune: String,
    pub insee_code: String,
    pub latitude: f64,
    pub longitude: f64,
    pub status: CentreStatus,
    pub opened_on: Option<chrono::NaiveDate>,
    pub closed_on: Option<chrono::NaiveDate>,
    pub planned_fte_hundredths: i32,
}

impl Centre {
    /// Whether the centre is closed on `day`: from its closing date, or for good when it is
    /// marked closed without one.
    pub fn closed_on_day(&self, day: chrono::NaiveDate) -> bool {
        match self.closed_on {
            Some(closing) => closing <= day,
            None => self.status == CentreStatus::Closed,
        }
    }
}

/// Every centre, by commune.
pub fn list_all(conn: &mut PgConnection) -> QueryResult<Vec<Centre>> {
    centres::table
        .order(centres::commune.asc())
        .select(Centre::as_select())
        .load(conn)
}

/// Centres a doctor can choose: open or planned, by commune.
pub fn list_choosable(conn: &mut PgConnection) -> QueryResult<Vec<Centre>> {
    centres::table
        .filter(centres::status.ne(CentreStatus::Closed))
        .order(centres::commune.asc())
        .select(Centre::as_select())
        .load(conn)
}
