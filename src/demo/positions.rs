//! The demo's four published positions and the centres each one is at.

use diesel::prelude::*;

use crate::db::schema::{position_centres, positions};

/// Title, specialty, description, FTE min and max (hundredths), communes.
type PositionSpec = (
    &'static str,
    &'static str,
    &'static str,
    i32,
    i32,
    &'static [&'static str],
);

/// Inserts the demo's positions at the centres of their communes (the first centre when a
/// commune has none); returns their ids.
pub(super) fn demo_positions(
    conn: &mut PgConnection,
    centre_ids: &[(i64, String)],
) -> QueryResult<Vec<i64>> {
    let centre = |commune: &str| {
        centre_ids
            .iter()
            .find(|(_, c)| c == commune)
            .map(|(id, _)| *id)
            .unwrap_or(centre_ids[0].0)
    };

    let position_specs: [PositionSpec; 4] = [
        (
            "Médecin généraliste – Fleurance",
            "SM54",
            "Consultations de médecine générale au centre territorial de Fleurance, au sein d'une équipe avec secrétariat et infirmière.",
            100, 100, &["Fleurance"],
        ),
        (
            "Médecin généraliste à temps partagé – Vic-Fezensac et Gondrin",
            "SM54",
            "Semaine partagée entre le centre de Vic-Fezensac et l'antenne de Gondrin ; temps partiel possible.",
            60, 100, &["Vic-Fezensac", "Gondrin"],
        ),
        (
            "Médecin généraliste – Plaisance et Marciac",
            "SM54",
            "Ouest du département : centre de Plaisance et antenne de Marciac.",
            50, 100, &["Plaisance", "Marciac"],
        ),
        (
            "Pédiatre – consultations avancées",
            "SM40",
            "Consultations de pédiatrie une à deux journées par semaine dans les centres territoriaux.",
            20, 40, &["Fleurance", "Vic-Fezensac"],
        ),
    ];
    let mut position_ids = Vec::new();
    for (title, specialty, description, min, max, communes) in position_specs {
        let id: i64 = diesel::insert_into(positions::table)
            .values((
                positions::title.eq(title),
                positions::specialty_code.eq(specialty),
                positions::description.eq(description),
                positions::fte_min_hundredths.eq(min),
                positions::fte_max_hundredths.eq(max),
                positions::published.eq(true),
            ))
            .returning(positions::id)
            .get_result(conn)?;
        for commune in communes {
            diesel::insert_into(position_centres::table)
                .values((
                    position_centres::position_id.eq(id),
                    position_centres::centre_id.eq(centre(commune)),
                ))
                .execute(conn)?;
        }
        position_ids.push(id);
    }
    Ok(position_ids)
}
