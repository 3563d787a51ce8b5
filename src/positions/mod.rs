//! Open needs (postes) that doctors can apply to.

use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::{centres, position_centres, positions, specialties};

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = positions, check_for_backend(diesel::pg::Pg))]
pub struct Position {
    pub id: i64,
    pub title: String,
    pub specialty_code: Option<String>,
    pub description: String,
    pub fte_min_hundredths: i32,
    pub fte_max_hundredths: i32,
    pub published: bool,
}

/// A published position with what the campaign page shows of it.
#[derive(Debug, Clone, Serialize)]
pub struct PublishedPosition {
    pub id: i64,
    pub title: String,
    pub description: String,
    pub specialty: Option<String>,
    pub working_time: String,
    pub communes: Vec<String>,
}

/// FTE range in words: "temps plein", "temps partiel (60 % à 80 %)", "temps partiel ou plein".
pub fn describe_fte(min: i32, max: i32) -> String {
    match (min, max) {
        (100, 100) => "Temps plein".to_owned(),
        (min, 100) => format!("Temps plein ou partiel (dès {min} %)"),
        (min, max) if min == max => format!("Temps partiel ({min} %)"),
        (min, max) => format!("Temps partiel ({min} % à {max} %)"),
    }
}

pub fn list_published(conn: &mut PgConnection) -> QueryResult<Vec<PublishedPosition>> {
    let rows: Vec<(Position, Option<String>)> = positions::table
        .left_join(specialties::table)
        .filter(positions::published.eq(true))
        .order(positions::id.asc())
        .select((Position::as_select(), specialties::label.nullable()))
        .load(conn)?;
    let ids: Vec<i64> = rows.iter().map(|(p, _)| p.id).collect();
    let places: Vec<(i64, String)> = position_centres::table
        .inner_join(centres::table)
        .filter(position_centres::position_id.eq_any(&ids))
        .order(centres::commune.asc())
        .select((position_centres::position_id, centres::commune))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(p, specialty)| PublishedPosition {
            communes: places
                .iter()
                .filter(|(id, _)| *id == p.id)
                .map(|(_, c)| c.clone())
                .collect(),
            working_time: describe_fte(p.fte_min_hundredths, p.fte_max_hundredths),
            id: p.id,
            title: p.title,
            description: p.description,
            specialty,
        })
        .collect())
}

/// Whether a position exists and is published (the form only accepts those).
pub fn is_published(conn: &mut PgConnection, id: i64) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        positions::table.filter(positions::id.eq(id).and(positions::published.eq(true))),
    ))
    .get_result(conn)
}

#[cfg(test)]
mod tests {
    use super::describe_fte;

    #[test]
    fn fte_ranges_read_naturally() {
        assert_eq!(describe_fte(100, 100), "Temps plein");
        assert_eq!(describe_fte(60, 80), "Temps partiel (60 % à 80 %)");
        assert_eq!(describe_fte(50, 100), "Temps plein ou partiel (dès 50 %)");
    }
}
