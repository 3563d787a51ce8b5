//! Each centre's planned, filled, committed and missing FTE on a given day, the campaign's
//! yearly goal, and the map of the département. Computed from allocations; nothing is stored.

use chrono::{Datelike, NaiveDate, TimeZone, Utc};
use diesel::prelude::*;
use serde::Serialize;

use super::{doctors_on, DoctorAtCentre};
use crate::centres::{self, Centre};
use crate::config::GoalSettings;
use crate::db::enums::{CentreStatus, OfferStatus, Stage};
use crate::db::schema::{applications, offer_allocations, offers, placements};
use crate::domain::format_hundredths;

#[derive(Debug, Clone, Serialize)]
pub struct CentreCapacity {
    pub id: i64,
    pub name: String,
    pub commune: String,
    pub kind: &'static str,
    pub status: &'static str,
    pub closed: bool,
    pub planned: i64,
    pub filled: i64,
    pub committed: i64,
    pub missing: i64,
    pub planned_text: String,
    pub filled_text: String,
    pub committed_text: String,
    pub missing_text: String,
    /// Filled share of the planned capacity, in percent (None without planned capacity).
    pub coverage: Option<i64>,
    /// CSS class of the coverage: couverture-nulle, -faible, -partielle, -complete, -sans-objet.
    pub coverage_class: &'static str,
    pub coverage_label: &'static str,
    pub doctors: Vec<DoctorAtCentre>,
    /// Doctors whose placement starts after the day (« prise de poste prévue »): their FTE is
    /// in `committed`, not in `filled`.
    pub planned_starts: Vec<DoctorAtCentre>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Goal {
    pub year: i32,
    /// Doctors who took up their post this year, up to the day (started placements).
    pub doctors: i64,
    /// « médecin recruté » or « médecins recrutés », agreeing with `doctors`.
    pub doctors_words: &'static str,
    pub doctors_target: i64,
    pub fte: String,
    pub fte_target: String,
    /// Percent of the doctors' target reached, capped at 100 (for the progress bar).
    pub doctors_percent: i64,
    pub fte_percent: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Totals {
    /// Filled FTE in hundredths: zero when no doctor is at work that day.
    pub filled_hundredths: i64,
    pub planned: String,
    pub filled: String,
    pub committed: String,
    pub missing: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Capacity {
    pub day: NaiveDate,
    pub centres: Vec<CentreCapacity>,
    /// Whether any centre has a start to come (the page lists them).
    pub has_planned_starts: bool,
    pub totals: Totals,
    pub goal: Goal,
    pub map: Map,
}

fn coverage(planned: i64, filled: i64, closed: bool) -> (Option<i64>, &'static str, &'static str) {
    if closed || planned == 0 {
        return (None, "couverture-sans-objet", "sans objet");
    }
    let percent = filled * 100 / planned;
    let (class, label) = match percent {
        0 => ("couverture-nulle", "aucun ETP pourvu"),
        1..=49 => ("couverture-faible", "moins de la moitié"),
        50..=99 => ("couverture-partielle", "partiellement pourvu"),
        _ => ("couverture-complete", "pourvu"),
    };
    (Some(percent), class, label)
}

/// The first instant of the day after `day`, Paris time: what happened before it happened
/// "on or before `day`".
fn end_of_day(day: NaiveDate) -> chrono::DateTime<Utc> {
    let next = day
        .succ_opt()
        .unwrap_or(day)
        .and_hms_opt(0, 0, 0)
        .unwrap_or_default();
    chrono_tz::Europe::Paris
        .from_local_datetime(&next)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| Utc.from_utc_datetime(&next))
}

/// FTE committed per centre on `day`: accepted (on or before that day) offers whose doctor has
/// not started by then (no placement yet, or one starting later), unless the application was
/// closed by hand since (withdrawn, refused, put in the pool).
fn committed_on(conn: &mut PgConnection, day: NaiveDate) -> QueryResult<Vec<(i64, i32)>> {
    offer_allocations::table
        .inner_join(offers::table.inner_join(applications::table))
        .left_join(placements::table.on(placements::offer_id.eq(offers::id)))
        .filter(offers::status.eq(OfferStatus::Accepted))
        .filter(applications::stage.eq_any([Stage::Accepted, Stage::Recruited]))
        .filter(offers::answered_at.lt(end_of_day(day)))
        .filter(placements::id.is_null().or(placements::started_on.gt(day)))
        .select((
            offer_allocations::centre_id,
            offer_allocations::fte_hundredths,
        ))
        .load(conn)
}

/// Doctors (placements started) and their offers' FTE from 1 January of `day`'s year to `day`.
fn recruited_this_year(conn: &mut PgConnection, day: NaiveDate) -> QueryResult<(i64, i64)> {
    let first = NaiveDate::from_ymd_opt(day.year(), 1, 1).unwrap_or(day);
    let rows: Vec<i32> = placements::table
        .inner_join(offers::table)
        .filter(placements::started_on.between(first, day))
        .select(offers::fte_hundredths)
        .load(conn)?;
    Ok((rows.len() as i64, rows.iter().map(|f| i64::from(*f)).sum()))
}

pub fn compute(
    conn: &mut PgConnection,
    day: NaiveDate,
    goal: &GoalSettings,
) -> QueryResult<Capacity> {
    let all = centres::list_all(conn)?;
    let doctors = doctors_on(conn, day)?;
    let to_come = super::starting_after(conn, day)?;
    let committed = committed_on(conn, day)?;
    let mut rows = Vec::with_capacity(all.len());
    for centre in &all {
        let here: Vec<DoctorAtCentre> = doctors
            .iter()
            .filter(|(c, _)| *c == centre.id)
            .map(|(_, d)| d.clone())
            .collect();
        let closed = centre.closed_on_day(day);
        let planned = if closed {
            0
        } else {
            i64::from(centre.planned_fte_hundredths)
        };
        let filled: i64 = here.iter().map(|d| i64::from(d.fte_hundredths)).sum();
        let committed: i64 = committed
            .iter()
            .filter(|(c, _)| *c == centre.id)
            .map(|(_, f)| i64::from(*f))
            .sum();
        let missing = (planned - filled - committed).max(0);
        let (percent, class, label) = coverage(planned, filled, closed);
        rows.push(CentreCapacity {
            id: centre.id,
            name: centre.name.clone(),
            commune: centre.commune.clone(),
            kind: centre.kind.label(),
            status: if closed {
                CentreStatus::Closed.label()
            } else {
                centre.status.label()
            },
            closed,
            planned,
            filled,
            committed,
            missing,
            planned_text: format_hundredths(planned),
            filled_text: format_hundredths(filled),
            committed_text: format_hundredths(committed),
            missing_text: format_hundredths(missing),
            coverage: percent,
            coverage_class: class,
            coverage_label: label,
            doctors: here,
            planned_starts: to_come
                .iter()
                .filter(|(c, _)| *c == centre.id)
                .map(|(_, d)| d.clone())
                .collect(),
        });
    }
    let sum = |f: fn(&CentreCapacity) -> i64| format_hundredths(rows.iter().map(f).sum());
    let totals = Totals {
        filled_hundredths: rows.iter().map(|c| c.filled).sum(),
        planned: sum(|c| c.planned),
        filled: sum(|c| c.filled),
        committed: sum(|c| c.committed),
        missing: sum(|c| c.missing),
    };
    let (recruited, recruited_fte) = recruited_this_year(conn, day)?;
    let doctors_target = i64::from(goal.doctors_per_year.max(1));
    let fte_target = goal.fte_hundredths().unwrap_or(1000).max(1);
    let goal = Goal {
        year: day.year(),
        doctors: recruited,
        doctors_words: if recruited > 1 {
            "médecins recrutés"
        } else {
            "médecin recruté"
        },
        doctors_target,
        fte: format_hundredths(recruited_fte),
        fte_target: format_hundredths(fte_target),
        doctors_percent: (recruited * 100 / doctors_target).min(100),
        fte_percent: (recruited_fte * 100 / fte_target).min(100),
    };
    let map = Map::draw(&all, &rows);
    Ok(Capacity {
        day,
        has_planned_starts: !to_come.is_empty(),
        centres: rows,
        totals,
        goal,
        map,
    })
}

/// A point of the map with its label.
#[derive(Debug, Clone, Serialize)]
pub struct MapPoint {
    pub x: String,
    pub y: String,
    pub r: String,
    pub label_x: String,
    pub label_y: String,
    pub label: String,
    pub detail: String,
    pub class: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct MapLine {
    pub x1: String,
    pub y1: String,
    pub x2: String,
    pub y2: String,
}

/// The département drawn from the centres' coordinates: no tiles, no outside requests.
#[derive(Debug, Clone, Serialize)]
pub struct Map {
    pub width: u32,
    pub height: u32,
    pub points: Vec<MapPoint>,
    pub graticule: Vec<MapLine>,
    /// The département's outline as an SVG path (`d`), empty if the data could not be read.
    pub outline: String,
    pub prefecture: MapPoint,
    pub description: String,
}

/// The Gers, roughly (degrees): the frame the centres are drawn in, widened if one lies outside.
const FRAME: (f64, f64, f64, f64) = (43.30, 44.10, -0.30, 1.20);
/// Auch, the préfecture, drawn as a landmark.
const AUCH: (f64, f64) = (43.6465, 0.5855);

fn px(v: f64) -> String {
    format!("{v:.1}")
}

/// The Gers' boundary (longitude, latitude), simplified to about 300 m: `data/gers.geojson`,
/// from IGN's ADMIN EXPRESS COG 2018, Licence Ouverte (see data/README.md for the source, the
/// attribution and how to regenerate it).
const OUTLINE_GEOJSON: &str = include_str!("../../data/gers.geojson");

/// The outer ring of the first polygon of the GeoJSON, as (latitude, longitude) pairs.
fn outline_ring() -> Vec<(f64, f64)> {
    let parsed: serde_json::Value = serde_json::from_str(OUTLINE_GEOJSON).unwrap_or_default();
    parsed["features"][0]["geometry"]["coordinates"][0]
        .as_array()
        .map(|ring| {
            ring.iter()
                .filter_map(|p| Some((p[1].as_f64()?, p[0].as_f64()?)))
                .collect()
        })
        .unwrap_or_default()
}

impl Map {
    fn draw(all: &[Centre], rows: &[CentreCapacity]) -> Map {
        let (mut lat_min, mut lat_max, mut lon_min, mut lon_max) = FRAME;
        let ring = outline_ring();
        for &(lat, lon) in &ring {
            lat_min = lat_min.min(lat - 0.02);
            lat_max = lat_max.max(lat + 0.02);
            lon_min = lon_min.min(lon - 0.03);
            lon_max = lon_max.max(lon + 0.03);
        }
        for c in all {
            lat_min = lat_min.min(c.latitude - 0.05);
            lat_max = lat_max.max(c.latitude + 0.05);
            lon_min = lon_min.min(c.longitude - 0.08);
            lon_max = lon_max.max(c.longitude + 0.08);
        }
        let width = 640.0;
        let pad = 24.0;
        // Equirectangular, with longitudes shrunk by the cosine of the middle latitude.
        let shrink = ((lat_min + lat_max) / 2.0).to_radians().cos();
        let scale = (width - 2.0 * pad) / ((lon_max - lon_min) * shrink);
        let height = (lat_max - lat_min) * scale + 2.0 * pad;
        let project = |lat: f64, lon: f64| {
            (
                pad + (lon - lon_min) * shrink * scale,
                pad + (lat_max - lat) * scale,
            )
        };
        let mut outline = String::with_capacity(ring.len() * 14);
        for (i, &(lat, lon)) in ring.iter().enumerate() {
            let (x, y) = project(lat, lon);
            outline.push_str(if i == 0 { "M" } else { "L" });
            outline.push_str(&format!("{x:.1} {y:.1}"));
        }
        if !outline.is_empty() {
            outline.push('Z');
        }
        let mut graticule = Vec::new();
        let mut lat = (lat_min * 5.0).ceil() / 5.0;
        while lat < lat_max {
            let (x1, y) = project(lat, lon_min);
            let (x2, _) = project(lat, lon_max);
            graticule.push(MapLine {
                x1: px(x1),
                y1: px(y),
                x2: px(x2),
                y2: px(y),
            });
            lat += 0.2;
        }
        let mut lon = (lon_min * 5.0).ceil() / 5.0;
        while lon < lon_max {
            let (x, y1) = project(lat_max, lon);
            let (_, y2) = project(lat_min, lon);
            graticule.push(MapLine {
                x1: px(x),
                y1: px(y1),
                x2: px(x),
                y2: px(y2),
            });
            lon += 0.2;
        }
        let points = all
            .iter()
            .zip(rows)
            .map(|(c, row)| {
                let (x, y) = project(c.latitude, c.longitude);
                // Area grows with planned capacity: radius 8 for none, 8 + 4 per FTE.
                let r = 8.0 + (row.planned as f64 / 100.0).sqrt() * 6.0;
                let detail = match row.coverage {
                    Some(p) => format!("{} / {} ETP ({p} %)", row.filled_text, row.planned_text),
                    None if row.closed => "fermé".to_owned(),
                    None => "pas de capacité prévue".to_owned(),
                };
                MapPoint {
                    x: px(x),
                    y: px(y),
                    r: px(r),
                    label_x: px(x + r + 4.0),
                    label_y: px(y + 4.0),
                    label: c.commune.clone(),
                    detail,
                    class: row.coverage_class,
                }
            })
            .collect();
        let (ax, ay) = project(AUCH.0, AUCH.1);
        let description = rows
            .iter()
            .map(|r| match r.coverage {
                Some(p) => format!(
                    "{} : {} ETP pourvus sur {} prévus ({p} %)",
                    r.commune, r.filled_text, r.planned_text
                ),
                None => format!("{} : {}", r.commune, r.coverage_label),
            })
            .collect::<Vec<_>>()
            .join(" ; ");
        Map {
            width: width as u32,
            height: height.round() as u32,
            points,
            graticule,
            outline,
            prefecture: MapPoint {
                x: px(ax - 4.0),
                y: px(ay - 4.0),
                r: "8".to_owned(),
                label_x: px(ax + 8.0),
                label_y: px(ay + 4.0),
                label: "Auch (préfecture)".to_owned(),
                detail: String::new(),
                class: "prefecture",
            },
            description,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_outline_of_the_gers_is_shipped_and_drawn() {
        let ring = outline_ring();
        assert!(ring.len() > 100, "{} points", ring.len());
        // Auch lies inside the Gers' bounding box, and the ring is closed.
        let (lats, lons): (Vec<f64>, Vec<f64>) = ring.iter().copied().unzip();
        let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
        let max = |v: &[f64]| v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        assert!(min(&lats) < AUCH.0 && AUCH.0 < max(&lats));
        assert!(min(&lons) < AUCH.1 && AUCH.1 < max(&lons));
        assert_eq!(ring.first(), ring.last());
        let map = Map::draw(&[], &[]);
        assert!(map.outline.starts_with('M') && map.outline.ends_with('Z'));
    }

    #[test]
    fn coverage_classes_follow_the_filled_share() {
        assert_eq!(coverage(300, 0, false).1, "couverture-nulle");
        assert_eq!(
            coverage(300, 100, false),
            (Some(33), "couverture-faible", "moins de la moitié")
        );
        assert_eq!(coverage(300, 200, false).1, "couverture-partielle");
        assert_eq!(coverage(300, 300, false).1, "couverture-complete");
        assert_eq!(coverage(0, 100, false).0, None);
        assert_eq!(coverage(300, 100, true).1, "couverture-sans-objet");
    }

    #[test]
    fn the_end_of_a_paris_day_is_before_midnight_utc() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        assert_eq!(end_of_day(day).to_rfc3339(), "2026-11-23T23:00:00+00:00");
    }
}
