//! Open positions: the one query every public place reads (home page, /postes, a position's
//! page, the sitemap, the Atom feed, the partners' JSON and embed, the application form).
//!
//! A position is open on a day when it is published, its closing date (if any) is not past,
//! and it still has an open centre: its closed centres are left out, and a position whose
//! centres are all closed is not open at all. A position without any centre (« tout le
//! département ») stays open.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use serde::Serialize;
use std::collections::HashMap;

use super::{describe_fte, Position, PublishedPosition};
use crate::centres::Centre;
use crate::db::schema::{centres, position_centres, positions, specialties};

/// A centre where an open position is worked, with its postal address.
#[derive(Debug, Clone, Serialize)]
pub struct Workplace {
    pub id: i64,
    pub name: String,
    pub commune: String,
    pub street_address: String,
    pub postcode: String,
}

/// A position open today, with what every public place shows of it.
#[derive(Debug, Clone, Serialize)]
pub struct OpenPosition {
    pub id: i64,
    pub title: String,
    pub description: String,
    pub specialty: Option<String>,
    /// « Temps plein », « Temps partiel (60 % à 80 %) ».
    pub working_time: String,
    pub fte_min_hundredths: i32,
    pub fte_max_hundredths: i32,
    /// Its open centres, by commune.
    pub workplaces: Vec<Workplace>,
    /// The communes of its open centres, by name (each once).
    pub communes: Vec<String>,
    /// The last part of its address: /postes/{id}-{slug}.
    pub slug: String,
    /// Its page: /postes/{id}-{slug}.
    pub path: String,
    /// When it was (last) published; its last change when that is unknown.
    pub published_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub closes_on: Option<NaiveDate>,
}

/// Every position open on `today`, oldest first.
pub fn list_open(conn: &mut PgConnection, today: NaiveDate) -> QueryResult<Vec<OpenPosition>> {
    load(conn, today, None)
}

/// One position if it is open on `today`.
pub fn find_open(
    conn: &mut PgConnection,
    id: i64,
    today: NaiveDate,
) -> QueryResult<Option<OpenPosition>> {
    Ok(load(conn, today, Some(id))?.into_iter().next())
}

fn load(
    conn: &mut PgConnection,
    today: NaiveDate,
    only: Option<i64>,
) -> QueryResult<Vec<OpenPosition>> {
    let mut query = positions::table
        .left_join(specialties::table)
        .filter(positions::published.eq(true))
        .filter(
            positions::closes_on
                .is_null()
                .or(positions::closes_on.ge(today)),
        )
        .order(positions::id.asc())
        .select((
            Position::as_select(),
            specialties::label.nullable(),
            positions::updated_at,
        ))
        .into_boxed();
    if let Some(id) = only {
        query = query.filter(positions::id.eq(id));
    }
    let rows: Vec<(Position, Option<String>, DateTime<Utc>)> = query.load(conn)?;
    let ids: Vec<i64> = rows.iter().map(|(p, _, _)| p.id).collect();
    // Every centre of these positions, open or not: a position whose centres are all closed is
    // told apart from one that has none.
    let linked: Vec<(i64, Centre, String, String)> = position_centres::table
        .inner_join(centres::table)
        .filter(position_centres::position_id.eq_any(&ids))
        .order((centres::commune.asc(), centres::name.asc()))
        .select((
            position_centres::position_id,
            Centre::as_select(),
            centres::street_address,
            centres::postcode,
        ))
        .load(conn)?;
    let mut any_centre: HashMap<i64, bool> = HashMap::new();
    let mut open_centres: HashMap<i64, Vec<Workplace>> = HashMap::new();
    for (position_id, centre, street_address, postcode) in linked {
        any_centre.insert(position_id, true);
        if centre.closed_on_day(today) {
            continue;
        }
        open_centres
            .entry(position_id)
            .or_default()
            .push(Workplace {
                id: centre.id,
                name: centre.name,
                commune: centre.commune,
                street_address,
                postcode,
            });
    }
    Ok(rows
        .into_iter()
        .filter_map(|(p, specialty, updated_at)| {
            let workplaces = open_centres.remove(&p.id).unwrap_or_default();
            if workplaces.is_empty() && any_centre.contains_key(&p.id) {
                return None;
            }
            let mut communes: Vec<String> = workplaces.iter().map(|w| w.commune.clone()).collect();
            communes.dedup();
            let slug = slug(&p.title);
            Some(OpenPosition {
                path: format!("/postes/{}-{slug}", p.id),
                slug,
                working_time: describe_fte(p.fte_min_hundredths, p.fte_max_hundredths),
                published_at: p.published_at.unwrap_or(updated_at),
                updated_at,
                closes_on: p.closes_on,
                fte_min_hundredths: p.fte_min_hundredths,
                fte_max_hundredths: p.fte_max_hundredths,
                id: p.id,
                title: p.title,
                description: p.description,
                specialty,
                workplaces,
                communes,
            })
        })
        .collect())
}

/// The positions open on `today` as the campaign page, the application form and the API list
/// them.
pub fn list_open_summaries(
    conn: &mut PgConnection,
    today: NaiveDate,
) -> QueryResult<Vec<PublishedPosition>> {
    Ok(list_open(conn, today)?
        .into_iter()
        .map(|p| PublishedPosition {
            id: p.id,
            title: p.title,
            description: p.description,
            specialty: p.specialty,
            working_time: p.working_time,
            communes: p.communes,
            path: p.path,
        })
        .collect())
}

/// When the open positions last changed by `today`: the latest change of a position
/// (published, withdrawn, edited) or of a centre, or the start of the day a centre closed or
/// a position's closing date passed; None when there is nothing.
pub fn last_change(
    conn: &mut PgConnection,
    today: NaiveDate,
) -> QueryResult<Option<DateTime<Utc>>> {
    use diesel::dsl::max;
    let edited: Option<DateTime<Utc>> = positions::table
        .select(max(positions::updated_at))
        .first(conn)?;
    let centre_edited: Option<DateTime<Utc>> = centres::table
        .select(max(centres::updated_at))
        .first(conn)?;
    let closed: Option<NaiveDate> = centres::table
        .filter(centres::closed_on.le(today))
        .select(max(centres::closed_on))
        .first(conn)?;
    // A position closing on day d is gone from d + 1.
    let expired: Option<NaiveDate> = positions::table
        .filter(positions::closes_on.lt(today))
        .select(max(positions::closes_on))
        .first(conn)?;
    let start_of = |day: NaiveDate| {
        day.and_hms_opt(0, 0, 0).and_then(|t| {
            use chrono::TimeZone;
            chrono_tz::Europe::Paris
                .from_local_datetime(&t)
                .earliest()
                .map(|t| t.with_timezone(&Utc))
        })
    };
    Ok([
        edited,
        centre_edited,
        closed.and_then(start_of),
        expired.and_then(|d| d.succ_opt()).and_then(start_of),
    ]
    .into_iter()
    .flatten()
    .max())
}

/// Working time as people say it: « Temps plein », « Temps partiel : 60 à 80 % (3 à 4 jours
/// par semaine) », « Temps plein ou temps partiel dès 50 % ».
pub fn spoken_working_time(min: i32, max: i32) -> String {
    // 20 % is a day a week, 10 % a half-day.
    match (min, max) {
        (100, _) => "Temps plein".to_owned(),
        (min, 100) => format!("Temps plein ou temps partiel dès {min} %"),
        (min, max) if min == max && min % 10 == 0 && min > 0 => format!(
            "Temps partiel : {min} % ({})",
            crate::domain::describe_half_days((min / 10) as i16)
        ),
        (min, max) if min == max => format!("Temps partiel : {min} %"),
        (min, max) if min % 20 == 0 && max % 20 == 0 && min > 0 => format!(
            "Temps partiel : {min} à {max} % ({} à {} jours par semaine)",
            min / 20,
            max / 20
        ),
        (min, max) => format!("Temps partiel : {min} à {max} %"),
    }
}

/// The longest slug written in an address.
const MAX_SLUG: usize = 80;

/// A title as the last part of an address: lowercase ASCII letters and digits, words joined
/// by hyphens, French accents and ligatures spelt out (« Médecin généraliste – Vic-Fezensac »
/// gives « medecin-generaliste-vic-fezensac »); « poste » when nothing is left.
pub fn slug(title: &str) -> String {
    let mut out = String::new();
    let mut hyphen = false;
    for c in title.chars().flat_map(char::to_lowercase) {
        let spelt: &str = match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => "a",
            'ç' => "c",
            'è' | 'é' | 'ê' | 'ë' => "e",
            'ì' | 'í' | 'î' | 'ï' => "i",
            'ñ' => "n",
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' => "o",
            'ù' | 'ú' | 'û' | 'ü' => "u",
            'ý' | 'ÿ' => "y",
            'œ' => "oe",
            'æ' => "ae",
            c if c.is_ascii_alphanumeric() => {
                let mut buf = [0u8; 4];
                let s: &str = c.encode_utf8(&mut buf);
                if hyphen && !out.is_empty() {
                    out.push('-');
                }
                hyphen = false;
                out.push_str(s);
                if out.len() >= MAX_SLUG {
                    break;
                }
                continue;
            }
            _ => {
                hyphen = true;
                continue;
            }
        };
        if hyphen && !out.is_empty() {
            out.push('-');
        }
        hyphen = false;
        out.push_str(spelt);
        if out.len() >= MAX_SLUG {
            break;
        }
    }
    let out = out.trim_end_matches('-').to_owned();
    if out.is_empty() {
        "poste".to_owned()
    } else {
        out
    }
}

/// What the last part of a position's address names.
#[derive(Debug, PartialEq, Eq)]
pub struct PositionKey<'a> {
    pub id: i64,
    /// What follows the id and its hyphen; None when there is nothing.
    pub slug: Option<&'a str>,
}

/// Reads `12-medecin-generaliste` or `12`; anything else (no id, a negative or huge number,
/// signs, spaces) names no position.
pub fn parse_key(raw: &str) -> Option<PositionKey<'_>> {
    let (digits, slug) = match raw.split_once('-') {
        Some((digits, slug)) => (digits, Some(slug)),
        None => (raw, None),
    };
    if digits.is_empty() || digits.len() > 18 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let id: i64 = digits.parse().ok()?;
    (id > 0).then_some(PositionKey { id, slug })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_lowercase_ascii_words() {
        assert_eq!(
            slug("Médecin généraliste – Vic-Fezensac"),
            "medecin-generaliste-vic-fezensac"
        );
        assert_eq!(
            slug("  Pédiatre (½ temps) à L'Isle-Jourdain !"),
            "pediatre-temps-a-l-isle-jourdain"
        );
        assert_eq!(slug("Cœur & ÉCHO"), "coeur-echo");
        assert_eq!(slug("</script>"), "script");
        assert_eq!(slug("—— ✓ ——"), "poste");
        assert_eq!(slug("医生"), "poste");
        assert!(slug(&"é".repeat(500)).len() <= MAX_SLUG + 1);
        let s = slug(&"ab ".repeat(100));
        assert!(s.len() <= MAX_SLUG + 2 && !s.ends_with('-'), "{s}");
    }

    #[test]
    fn working_time_reads_as_people_say_it() {
        assert_eq!(spoken_working_time(100, 100), "Temps plein");
        assert_eq!(
            spoken_working_time(60, 80),
            "Temps partiel : 60 à 80 % (3 à 4 jours par semaine)"
        );
        assert_eq!(
            spoken_working_time(50, 50),
            "Temps partiel : 50 % (2 jours ½ par semaine)"
        );
        assert_eq!(
            spoken_working_time(20, 20),
            "Temps partiel : 20 % (1 jour par semaine)"
        );
        assert_eq!(spoken_working_time(55, 75), "Temps partiel : 55 à 75 %");
        assert_eq!(
            spoken_working_time(50, 100),
            "Temps plein ou temps partiel dès 50 %"
        );
    }

    #[test]
    fn keys_name_a_positive_id_and_an_optional_slug() {
        assert_eq!(
            parse_key("12-medecin"),
            Some(PositionKey {
                id: 12,
                slug: Some("medecin")
            })
        );
        assert_eq!(parse_key("12"), Some(PositionKey { id: 12, slug: None }));
        assert_eq!(
            parse_key("12-"),
            Some(PositionKey {
                id: 12,
                slug: Some("")
            })
        );
        for wrong in [
            "",
            "-12",
            "0",
            "+12",
            "abc",
            "12a-x",
            " 12",
            "99999999999999999999",
            "9223372036854775808",
            "١٢-x",
        ] {
            assert_eq!(parse_key(wrong), None, "{wrong}");
        }
    }
}
