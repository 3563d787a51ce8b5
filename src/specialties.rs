//! The medical specialties of the ANS nomenclature TRE_R38 (reference data, loaded by a
//! migration). SM54, SM53 and SM26 together are general practice.

use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::specialties;

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = specialties, check_for_backend(diesel::pg::Pg))]
pub struct Specialty {
    pub code: String,
    pub label: String,
    pub general_practice: bool,
}

/// General practice first (SM54 before SM53 and SM26), then the others by label.
pub fn load_all(conn: &mut PgConnection) -> QueryResult<Vec<Specialty>> {
    let mut all: Vec<Specialty> = specialties::table
        .select(Specialty::as_select())
        .load(conn)?;
    let rank = |s: &Specialty| match s.code.as_str() {
        "SM54" => 0,
        "SM53" => 1,
        "SM26" => 2,
        _ => 3,
    };
    all.sort_by(|a, b| rank(a).cmp(&rank(b)).then_with(|| a.label.cmp(&b.label)));
    Ok(all)
}
