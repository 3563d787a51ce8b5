//! Open needs (postes) that doctors can apply to.

pub mod open;
pub mod web_formats;

use chrono::NaiveDate;
use diesel::prelude::*;
use serde::Serialize;
use std::collections::HashMap;

use crate::centres::Centre;
use crate::db::schema::{centres, position_centres, positions, specialties};
use crate::domain::FieldErrors;
use crate::domain::{Fte, Invalid};
use crate::staff::audit::audit;

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
    pub published_at: Option<chrono::DateTime<chrono::Utc>>,
    pub closes_on: Option<NaiveDate>,
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
    /// Its public page, /postes/{id}-{slug}.
    pub path: String,
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

/// Every published position, whether its centres are open or not (the staff board's filter).
/// Public places read [`open::list_open`] instead.
pub fn list_published(conn: &mut PgConnection) -> QueryResult<Vec<PublishedPosition>> {
    let rows: Vec<(Position, Option<String>)> = positions::table
        .left_join(specialties::table)
        .filter(positions::published.eq(true))
        .order(positions::id.asc())
        .select((Position::as_select(), specialties::label.nullable()))
        .load(conn)?;
    let ids: Vec<i64> = rows.iter().map(|(p, _)| p.id).collect();
    let mut places = communes(conn, Some(&ids))?;
    Ok(rows
        .into_iter()
        .map(|(p, specialty)| PublishedPosition {
            communes: places.remove(&p.id).unwrap_or_default(),
            working_time: describe_fte(p.fte_min_hundredths, p.fte_max_hundredths),
            path: format!("/postes/{}-{}", p.id, open::slug(&p.title)),
            id: p.id,
            title: p.title,
            description: p.description,
            specialty,
        })
        .collect())
}

/// The communes of each position's centres, in alphabetical order; only those of the positions
/// `only` names, when given.
fn communes(
    conn: &mut PgConnection,
    only: Option<&[i64]>,
) -> QueryResult<HashMap<i64, Vec<String>>> {
    let mut query = position_centres::table
        .inner_join(centres::table)
        .order(centres::commune.asc())
        .select((position_centres::position_id, centres::commune))
        .into_boxed();
    if let Some(ids) = only {
        query = query.filter(position_centres::position_id.eq_any(ids));
    }
    let mut by_position: HashMap<i64, Vec<String>> = HashMap::new();
    for (id, commune) in query.load::<(i64, String)>(conn)? {
        by_position.entry(id).or_default().push(commune);
    }
    Ok(by_position)
}

/// Whether a position exists and is published (the form only accepts those).
pub fn is_published(conn: &mut PgConnection, id: i64) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        positions::table.filter(positions::id.eq(id).and(positions::published.eq(true))),
    ))
    .get_result(conn)
}

/// A position as the administrators' list shows it.
#[derive(Debug, Clone, Serialize)]
pub struct PositionSummary {
    pub id: i64,
    pub title: String,
    pub specialty: Option<String>,
    pub fte_min_hundredths: i32,
    pub fte_max_hundredths: i32,
    pub published: bool,
    pub communes: Vec<String>,
}

/// Every position, published or not, newest first.
pub fn list_all(conn: &mut PgConnection) -> QueryResult<Vec<PositionSummary>> {
    let rows: Vec<(Position, Option<String>)> = positions::table
        .left_join(specialties::table)
        .order(positions::id.desc())
        .select((Position::as_select(), specialties::label.nullable()))
        .load(conn)?;
    let mut places = communes(conn, None)?;
    Ok(rows
        .into_iter()
        .map(|(p, specialty)| PositionSummary {
            communes: places.remove(&p.id).unwrap_or_default(),
            id: p.id,
            title: p.title,
            specialty,
            fte_min_hundredths: p.fte_min_hundredths,
            fte_max_hundredths: p.fte_max_hundredths,
            published: p.published,
        })
        .collect())
}

/// One position and the ids of its centres, if it exists.
pub fn find(conn: &mut PgConnection, id: i64) -> QueryResult<Option<(Position, Vec<i64>)>> {
    let Some(position) = positions::table
        .find(id)
        .select(Position::as_select())
        .first(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let centre_ids = position_centres::table
        .filter(position_centres::position_id.eq(id))
        .order(position_centres::centre_id.asc())
        .select(position_centres::centre_id)
        .load(conn)?;
    Ok(Some((position, centre_ids)))
}

/// The position form as typed, kept to be shown again when something is wrong.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PositionForm {
    pub titre: String,
    pub specialite: String,
    pub description: String,
    /// Ids of the centres ticked (the field repeats).
    pub centres: Vec<String>,
    pub etp_min: String,
    pub etp_max: String,
    pub publie: bool,
    /// The last day applications are taken, optional (AAAA-MM-JJ or JJ/MM/AAAA).
    pub date_limite: String,
}

/// The form's fields in page order, with their French labels (for the error summary).
pub const FORM_FIELDS: &[(&str, &str)] = &[
    ("titre", "Titre"),
    ("specialite", "Spécialité"),
    ("description", "Description"),
    ("centres", "Centres concernés"),
    ("etp_min", "ETP minimum"),
    ("etp_max", "ETP maximum"),
    ("date_limite", "Date limite de candidature"),
];

pub const MAX_TITLE: usize = 200;
pub const MAX_DESCRIPTION: usize = 5000;

/// A position as it is written: every value checked.
#[derive(Debug, Clone)]
pub struct PositionChanges {
    pub title: String,
    pub specialty_code: Option<String>,
    pub description: String,
    pub fte_min: Fte,
    pub fte_max: Fte,
    pub published: bool,
    pub centre_ids: Vec<i64>,
    pub closes_on: Option<NaiveDate>,
}

/// The message when a published position would include closed centres.
fn closed_message(communes: &[String]) -> String {
    match communes {
        [one] => format!(
            "Le centre de {one} est fermé : un poste publié ne peut pas le proposer. \
             Décochez-le, ou ne publiez pas le poste."
        ),
        many => format!(
            "Les centres de {} sont fermés : un poste publié ne peut pas les proposer. \
             Décochez-les, ou ne publiez pas le poste.",
            many.join(", ")
        ),
    }
}

impl PositionForm {
    /// The current values of a position, to fill the edit form.
    pub fn from_position(p: &Position, centre_ids: &[i64]) -> PositionForm {
        PositionForm {
            titre: p.title.clone(),
            specialite: p.specialty_code.clone().unwrap_or_default(),
            description: p.description.clone(),
            centres: centre_ids.iter().map(|id| id.to_string()).collect(),
            etp_min: crate::domain::format_hundredths(i64::from(p.fte_min_hundredths)),
            etp_max: crate::domain::format_hundredths(i64::from(p.fte_max_hundredths)),
            publie: p.published,
            date_limite: p.closes_on.map(|d| d.to_string()).unwrap_or_default(),
        }
    }

    /// Checks every field against the specialties and centres offered; all the problems found,
    /// each at its field. A published position may not include a centre closed on `today`.
    pub fn validate(
        &self,
        specialty_codes: &[String],
        centres: &[Centre],
        today: NaiveDate,
    ) -> Result<PositionChanges, FieldErrors> {
        let mut errors = FieldErrors::default();
        let title = self.titre.trim().to_owned();
        if title.is_empty() {
            errors.add(
                "titre",
                "Indiquez le titre du poste, par exemple « Médecin généraliste à Fleurance ».",
            );
        } else if title.chars().count() > MAX_TITLE {
            errors.add(
                "titre",
                format!(
                    "Le titre fait {} caractères : {MAX_TITLE} au plus.",
                    title.chars().count()
                ),
            );
        }
        let specialty = self.specialite.trim();
        let specialty_code = if specialty.is_empty() {
            None
        } else if specialty_codes.iter().any(|c| c == specialty) {
            Some(specialty.to_owned())
        } else {
            errors.add(
                "specialite",
                "Choisissez une spécialité dans la liste, ou « Toute spécialité ».",
            );
            None
        };
        let description = self.description.replace("\r\n", "\n").trim().to_owned();
        if description.chars().count() > MAX_DESCRIPTION {
            errors.add(
                "description",
                format!(
                    "La description fait {} caractères : {MAX_DESCRIPTION} au plus.",
                    description.chars().count()
                ),
            );
        }
        let mut chosen: Vec<&Centre> = Vec::new();
        for value in &self.centres {
            match value
                .trim()
                .parse::<i64>()
                .ok()
                .and_then(|id| centres.iter().find(|c| c.id == id))
            {
                Some(c) if !chosen.iter().any(|k| k.id == c.id) => chosen.push(c),
                Some(_) => {}
                None => errors.add("centres", "Choisissez les centres dans la liste."),
            }
        }
        if self.publie {
            let closed: Vec<String> = chosen
                .iter()
                .filter(|c| c.closed_on_day(today))
                .map(|c| c.commune.clone())
                .collect();
            if !closed.is_empty() {
                errors.add("centres", closed_message(&closed));
            }
        }
        let fte = |value: &str, field: &'static str, errors: &mut FieldErrors| {
            Fte::parse(value)
                .map_err(|e: Invalid| errors.add(field, e.0))
                .ok()
        };
        let fte_min = fte(&self.etp_min, "etp_min", &mut errors);
        let fte_max = fte(&self.etp_max, "etp_max", &mut errors);
        if let (Some(min), Some(max)) = (fte_min, fte_max) {
            if min > max {
                errors.add(
                    "etp_max",
                    format!(
                        "L'ETP maximum doit être au moins égal à l'ETP minimum ({min}) : \
                         par exemple {min} à 1."
                    ),
                );
            }
        }
        let closes_on = match self.date_limite.trim() {
            "" => None,
            typed => match crate::domain::fields::parse_date(typed) {
                Some(day) => Some(day),
                None => {
                    errors.add(
                        "date_limite",
                        format!(
                            "« {} » n'est pas une date : écrivez-la comme 31/03/{} ou laissez \
                             le champ vide s'il n'y a pas de date limite.",
                            typed.chars().take(40).collect::<String>(),
                            today.format("%Y")
                        ),
                    );
                    None
                }
            },
        };
        match (fte_min, fte_max) {
            (Some(fte_min), Some(fte_max)) if errors.is_empty() => Ok(PositionChanges {
                closes_on,
                title,
                specialty_code,
                description,
                fte_min,
                fte_max,
                published: self.publie,
                centre_ids: chosen.iter().map(|c| c.id).collect(),
            }),
            _ => Err(errors),
        }
    }
}

/// Why a position was not saved.
#[derive(Debug)]
pub enum SaveError {
    NotFound,
    /// A centre changed meanwhile (closed, removed): the message at its field.
    Invalid(FieldErrors),
}

/// Locks the chosen centres while the position is written and checks them again: they exist,
/// and none is closed if the position is published.
fn check_centres(
    conn: &mut PgConnection,
    p: &PositionChanges,
    today: NaiveDate,
) -> QueryResult<Option<FieldErrors>> {
    let found: Vec<Centre> = centres::table
        .filter(centres::id.eq_any(&p.centre_ids))
        .order(centres::commune.asc())
        .select(Centre::as_select())
        .for_share()
        .load(conn)?;
    let mut errors = FieldErrors::default();
    if found.len() != p.centre_ids.len() {
        errors.add("centres", "Choisissez les centres dans la liste.");
    } else if p.published {
        let closed: Vec<String> = found
            .iter()
            .filter(|c| c.closed_on_day(today))
            .map(|c| c.commune.clone())
            .collect();
        if !closed.is_empty() {
            errors.add("centres", closed_message(&closed));
        }
    }
    Ok((!errors.is_empty()).then_some(errors))
}

fn replace_centres(conn: &mut PgConnection, id: i64, centre_ids: &[i64]) -> QueryResult<()> {
    diesel::delete(position_centres::table.filter(position_centres::position_id.eq(id)))
        .execute(conn)?;
    let rows: Vec<_> = centre_ids
        .iter()
        .map(|c| {
            (
                position_centres::position_id.eq(id),
                position_centres::centre_id.eq(*c),
            )
        })
        .collect();
    diesel::insert_into(position_centres::table)
        .values(&rows)
        .execute(conn)?;
    Ok(())
}

fn audit_detail(p: &PositionChanges) -> String {
    let state = if p.published {
        "publié"
    } else {
        "non publié"
    };
    format!("{} ({state})", p.title)
}

/// Creates a position with its centres, in one transaction, and records it in the audit log.
pub fn create(
    conn: &mut PgConnection,
    actor: i64,
    p: &PositionChanges,
    today: NaiveDate,
) -> QueryResult<Result<i64, SaveError>> {
    conn.transaction(|conn| {
        if let Some(errors) = check_centres(conn, p, today)? {
            return Ok(Err(SaveError::Invalid(errors)));
        }
        let now = chrono::Utc::now();
        let id: i64 = diesel::insert_into(positions::table)
            .values((
                positions::title.eq(&p.title),
                positions::specialty_code.eq(&p.specialty_code),
                positions::description.eq(&p.description),
                positions::fte_min_hundredths.eq(p.fte_min.hundredths()),
                positions::fte_max_hundredths.eq(p.fte_max.hundredths()),
                positions::published.eq(p.published),
                positions::published_at.eq(p.published.then_some(now)),
                positions::closes_on.eq(p.closes_on),
                // The process's clock, as for `updated_at` when it is changed.
                positions::created_at.eq(now),
                positions::updated_at.eq(now),
            ))
            .returning(positions::id)
            .get_result(conn)?;
        replace_centres(conn, id, &p.centre_ids)?;
        audit(
            conn,
            Some(actor),
            "creation_poste",
            "position",
            Some(id),
            &audit_detail(p),
        )?;
        Ok(Ok(id))
    })
}

/// Changes a position and its centres, in one transaction, sets its `updated_at` and records
/// it in the audit log.
pub fn update(
    conn: &mut PgConnection,
    actor: i64,
    id: i64,
    p: &PositionChanges,
    today: NaiveDate,
) -> QueryResult<Result<(), SaveError>> {
    conn.transaction(|conn| {
        if let Some(errors) = check_centres(conn, p, today)? {
            return Ok(Err(SaveError::Invalid(errors)));
        }
        // Locked, so that two saves agree on when it was published.
        let Some((was_published, published_at)) = positions::table
            .find(id)
            .select((positions::published, positions::published_at))
            .for_update()
            .first::<(bool, Option<chrono::DateTime<chrono::Utc>>)>(conn)
            .optional()?
        else {
            return Ok(Err(SaveError::NotFound));
        };
        let now = chrono::Utc::now();
        // When it was (last) published: kept while it stays published, set when it is
        // published again, cleared when it is withdrawn.
        let published_at = match (was_published, p.published) {
            (_, false) => None,
            (true, true) => published_at.or(Some(now)),
            (false, true) => Some(now),
        };
        let n = diesel::update(positions::table.find(id))
            .set((
                positions::published_at.eq(published_at),
                positions::closes_on.eq(p.closes_on),
                positions::title.eq(&p.title),
                positions::specialty_code.eq(&p.specialty_code),
                positions::description.eq(&p.description),
                positions::fte_min_hundredths.eq(p.fte_min.hundredths()),
                positions::fte_max_hundredths.eq(p.fte_max.hundredths()),
                positions::published.eq(p.published),
                positions::updated_at.eq(now),
            ))
            .execute(conn)?;
        if n == 0 {
            return Ok(Err(SaveError::NotFound));
        }
        replace_centres(conn, id, &p.centre_ids)?;
        audit(
            conn,
            Some(actor),
            "modification_poste",
            "position",
            Some(id),
            &audit_detail(p),
        )?;
        Ok(Ok(()))
    })
}

#[cfg(test)]
mod tests {
    use super::describe_fte;

    use super::PositionForm;
    use crate::centres::Centre;
    use crate::db::enums::{CentreKind, CentreStatus};
    use chrono::NaiveDate;

    fn centre(
        id: i64,
        commune: &str,
        status: CentreStatus,
        closed_on: Option<NaiveDate>,
    ) -> Centre {
        Centre {
            id,
            name: format!("Centre de {commune}"),
            kind: CentreKind::Centre,
            commune: commune.to_owned(),
            insee_code: format!("3200{id}"),
            latitude: 43.8,
            longitude: 0.6,
            status,
            opened_on: None,
            closed_on,
            planned_fte_hundredths: 200,
        }
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn centres() -> Vec<Centre> {
        vec![
            centre(1, "Fleurance", CentreStatus::Open, None),
            centre(2, "Marciac", CentreStatus::Closed, Some(day("2026-06-30"))),
            centre(3, "Gondrin", CentreStatus::Open, Some(day("2027-03-31"))),
        ]
    }

    fn form() -> PositionForm {
        PositionForm {
            titre: "  Médecin généraliste  ".into(),
            specialite: "SM54".into(),
            description: "Ligne 1\r\nLigne 2".into(),
            centres: vec!["1".into(), "3".into(), "1".into()],
            etp_min: "0,5".into(),
            etp_max: "100 %".into(),
            publie: true,
            date_limite: "31/03/2027".into(),
        }
    }

    #[test]
    fn a_complete_form_gives_the_position_to_write() {
        let codes = vec!["SM54".to_owned()];
        let p = form()
            .validate(&codes, &centres(), day("2026-12-01"))
            .unwrap();
        assert_eq!(p.title, "Médecin généraliste");
        assert_eq!(p.specialty_code.as_deref(), Some("SM54"));
        assert_eq!(p.description, "Ligne 1\nLigne 2");
        assert_eq!(p.centre_ids, vec![1, 3]);
        assert_eq!((p.fte_min.hundredths(), p.fte_max.hundredths()), (50, 100));
        assert!(p.published);
        assert_eq!(p.closes_on, Some(day("2027-03-31")));
    }

    #[test]
    fn a_published_position_refuses_centres_closed_that_day() {
        let codes = vec!["SM54".to_owned()];
        let with_closed = PositionForm {
            centres: vec!["1".into(), "2".into()],
            ..form()
        };
        let errors = with_closed
            .validate(&codes, &centres(), day("2026-12-01"))
            .unwrap_err();
        assert!(errors.0["centres"].contains("Marciac"));
        // Gondrin closes on 31 March 2027: refused from that day.
        assert!(form()
            .validate(&codes, &centres(), day("2027-03-31"))
            .is_err());
        let unpublished = PositionForm {
            publie: false,
            ..with_closed
        };
        assert!(unpublished
            .validate(&codes, &centres(), day("2026-12-01"))
            .is_ok());
    }

    #[test]
    fn wrong_fields_are_each_reported() {
        let codes = vec!["SM54".to_owned()];
        let wrong = PositionForm {
            titre: "x".repeat(201),
            specialite: "SM00".into(),
            description: String::new(),
            centres: vec!["99".into()],
            etp_min: "0,8".into(),
            etp_max: "0,5".into(),
            publie: false,
            date_limite: "bientôt".into(),
        };
        let errors = wrong
            .validate(&codes, &centres(), day("2026-12-01"))
            .unwrap_err();
        for field in ["titre", "specialite", "centres", "etp_max", "date_limite"] {
            assert!(errors.0.contains_key(field), "{field}");
        }
        assert!(errors.0["etp_max"].contains("0,8"));
        let empty = PositionForm::default()
            .validate(&codes, &centres(), day("2026-12-01"))
            .unwrap_err();
        for field in ["titre", "etp_min", "etp_max"] {
            assert!(empty.0.contains_key(field), "{field}");
        }
    }

    #[test]
    fn fte_ranges_read_naturally() {
        assert_eq!(describe_fte(100, 100), "Temps plein");
        assert_eq!(describe_fte(60, 80), "Temps partiel (60 % à 80 %)");
        assert_eq!(describe_fte(50, 100), "Temps plein ou partiel (dès 50 %)");
    }
}
