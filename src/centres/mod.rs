//! Territorial health centres and antennas.

use chrono::NaiveDate;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::db::enums::{CentreKind, CentreStatus};
use crate::db::schema::centres;
use crate::domain::FieldErrors;
use crate::domain::{split_decimal, DecimalError, Invalid};
use crate::staff::audit::audit;

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

/// Every centre with its kind and status, for the administrators' list (by name).
pub fn list_by_name(conn: &mut PgConnection) -> QueryResult<Vec<Centre>> {
    centres::table
        .order(centres::name.asc())
        .select(Centre::as_select())
        .load(conn)
}

/// One centre, if it exists.
pub fn find(conn: &mut PgConnection, id: i64) -> QueryResult<Option<Centre>> {
    centres::table
        .find(id)
        .select(Centre::as_select())
        .first(conn)
        .optional()
}

/// The largest planned capacity accepted: 100 FTE, far above any real centre.
pub const MAX_CAPACITY_HUNDREDTHS: i32 = 10_000;

/// Parses an amount of full-time equivalents as an administrator types it ("3,5", "0",
/// "2.75", "4 ETP") into hundredths. Unlike [`crate::domain::Fte`] (one person's working
/// time, 0.01 to 1), an amount may be zero or pass one full time.
pub fn parse_fte_amount(input: &str) -> Result<i32, Invalid> {
    let compact: String = input.chars().filter(|c| !c.is_whitespace()).collect();
    let text = if compact.to_ascii_uppercase().ends_with("ETP") {
        &compact[..compact.len() - 3]
    } else {
        &compact
    };
    if text.is_empty() {
        return Err(Invalid::new(
            "Indiquez la capacité prévue en équivalents temps plein, par exemple 2,5 \
             (0 si elle n'est pas encore fixée).",
        ));
    }
    let wrong = || {
        Invalid::new(format!(
            "« {} » n'est pas un nombre d'équivalents temps plein : écrivez par exemple 2,5 ou 3.",
            input.trim()
        ))
    };
    let (int, frac) = match split_decimal(text) {
        Ok(parts) => parts,
        Err(DecimalError::NotANumber) => return Err(wrong()),
        Err(DecimalError::TooManyDecimals) => {
            return Err(Invalid::new(
                "Deux décimales au plus pour une capacité en équivalents temps plein (par exemple 2,75).",
            ))
        }
    };
    let too_large = || {
        Invalid::new(format!(
            "La capacité prévue ne peut dépasser {} ETP.",
            crate::domain::format_hundredths(i64::from(MAX_CAPACITY_HUNDREDTHS))
        ))
    };
    let int = int.trim_start_matches('0');
    if int.len() > 4 {
        return Err(too_large());
    }
    let int: i32 = if int.is_empty() {
        0
    } else {
        int.parse().map_err(|_| wrong())?
    };
    let frac = i32::try_from(frac).map_err(|_| wrong())?;
    let hundredths = int * 100 + frac;
    if hundredths > MAX_CAPACITY_HUNDREDTHS {
        return Err(too_large());
    }
    Ok(hundredths)
}

/// An INSEE commune code: five characters, digits except "2A"/"2B" for Corsica (upper-cased).
pub fn parse_insee_code(input: &str) -> Result<String, Invalid> {
    let code = input.trim().to_uppercase();
    if code.is_empty() {
        return Err(Invalid::new(
            "Indiquez le code INSEE de la commune, par exemple 32132.",
        ));
    }
    let chars: Vec<char> = code.chars().collect();
    let valid = chars.len() == 5
        && chars[0].is_ascii_digit()
        && (chars[1].is_ascii_digit() || chars[1] == 'A' || chars[1] == 'B')
        && chars[2..].iter().all(|c| c.is_ascii_digit());
    if valid {
        Ok(code)
    } else {
        Err(Invalid::new(format!(
            "« {} » n'est pas un code INSEE : cinq chiffres (2A ou 2B au début pour la Corse), \
             par exemple 32132.",
            input.trim()
        )))
    }
}

/// A latitude (`limit` 90) or longitude (`limit` 180) in decimal degrees, with a comma or a
/// dot: "43,8484", "-0.5".
pub fn parse_coordinate(input: &str, what: &str, limit: f64) -> Result<f64, Invalid> {
    let text = input.trim().replace(',', ".");
    if text.is_empty() {
        return Err(Invalid::new(format!(
            "Indiquez la {what} en degrés décimaux, par exemple 43,8484."
        )));
    }
    let unsigned = text
        .strip_prefix('-')
        .or_else(|| text.strip_prefix('+'))
        .unwrap_or(&text);
    let (int, frac) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let digits_only = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    let value = if int.is_empty() || !digits_only(int) || !digits_only(frac) {
        None
    } else {
        text.parse::<f64>().ok().filter(|v| v.is_finite())
    };
    let Some(value) = value else {
        return Err(Invalid::new(format!(
            "« {} » n'est pas une {what} : écrivez un nombre en degrés décimaux, par exemple \
             43,8484 ou 0.6633.",
            input.trim()
        )));
    };
    if value.abs() > limit {
        return Err(Invalid::new(format!(
            "La {what} doit être comprise entre -{limit} et {limit} degrés."
        )));
    }
    Ok(value)
}

/// A date typed as 2027-09-01 (date field) or 01/09/2027.
fn parse_day(input: &str) -> Option<NaiveDate> {
    let t = input.trim();
    NaiveDate::parse_from_str(t, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(t, "%d/%m/%Y"))
        .ok()
}

/// The centre form as typed, kept to be shown again when something is wrong.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CentreForm {
    pub nom: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub commune: String,
    pub code_insee: String,
    pub latitude: String,
    pub longitude: String,
    pub statut: String,
    pub ouverture: String,
    pub fermeture: String,
    pub capacite: String,
    /// The street line of the postal address (issue 19: the positions' JobPosting data).
    pub adresse: String,
    pub code_postal: String,
}

/// The form's fields in page order, with their French labels (for the error summary).
pub const FORM_FIELDS: &[(&str, &str)] = &[
    ("nom", "Nom"),
    ("type", "Type"),
    ("commune", "Commune"),
    ("adresse", "Adresse"),
    ("code_postal", "Code postal"),
    ("code_insee", "Code INSEE"),
    ("latitude", "Latitude"),
    ("longitude", "Longitude"),
    ("statut", "Statut"),
    ("ouverture", "Date d'ouverture"),
    ("fermeture", "Date de fermeture"),
    ("capacite", "Capacité prévue"),
];

/// A centre as it is written: every value checked.
#[derive(Debug, Clone, Insertable, AsChangeset)]
#[diesel(table_name = centres, treat_none_as_null = true)]
pub struct CentreChanges {
    pub name: String,
    pub kind: CentreKind,
    pub commune: String,
    pub insee_code: String,
    pub latitude: f64,
    pub longitude: f64,
    pub status: CentreStatus,
    pub opened_on: Option<NaiveDate>,
    pub closed_on: Option<NaiveDate>,
    pub planned_fte_hundredths: i32,
    pub street_address: String,
    pub postcode: String,
}

/// A centre's postal address: its street line and postcode (empty when not typed yet).
pub fn postal_address(conn: &mut PgConnection, id: i64) -> QueryResult<Option<(String, String)>> {
    centres::table
        .find(id)
        .select((centres::street_address, centres::postcode))
        .first(conn)
        .optional()
}

/// Longest name or commune accepted.
const MAX_TEXT: usize = 200;

fn required_text(
    value: &str,
    field: &'static str,
    empty: &str,
    errors: &mut FieldErrors,
) -> Option<String> {
    let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
    if value.is_empty() {
        errors.add(field, empty);
        None
    } else if value.chars().count() > MAX_TEXT {
        errors.add(field, format!("{MAX_TEXT} caractères au plus."));
        None
    } else {
        Some(value)
    }
}

impl CentreForm {
    /// The current values of a centre, to fill the edit form.
    pub fn from_centre(c: &Centre) -> CentreForm {
        let coordinate = |v: f64| v.to_string().replace('.', ",");
        CentreForm {
            nom: c.name.clone(),
            kind: c.kind.code().to_owned(),
            commune: c.commune.clone(),
            code_insee: c.insee_code.clone(),
            latitude: coordinate(c.latitude),
            longitude: coordinate(c.longitude),
            statut: c.status.code().to_owned(),
            ouverture: c.opened_on.map(|d| d.to_string()).unwrap_or_default(),
            fermeture: c.closed_on.map(|d| d.to_string()).unwrap_or_default(),
            capacite: crate::domain::format_hundredths(i64::from(c.planned_fte_hundredths)),
            // Read apart: see [`postal_address`].
            adresse: String::new(),
            code_postal: String::new(),
        }
    }

    /// Checks every field; all the problems found, each at its field.
    pub fn validate(&self) -> Result<CentreChanges, FieldErrors> {
        let mut errors = FieldErrors::default();
        let name = required_text(
            &self.nom,
            "nom",
            "Indiquez le nom du centre, par exemple « Centre territorial de santé de Fleurance ».",
            &mut errors,
        );
        let kind = CentreKind::from_code(&self.kind);
        if kind.is_none() {
            errors.add("type", "Choisissez le type : centre de santé ou antenne.");
        }
        let commune = required_text(
            &self.commune,
            "commune",
            "Indiquez la commune, par exemple Fleurance.",
            &mut errors,
        );
        let insee_code = parse_insee_code(&self.code_insee)
            .map_err(|e| errors.add("code_insee", e.0))
            .ok();
        let latitude = parse_coordinate(&self.latitude, "latitude", 90.0)
            .map_err(|e| errors.add("latitude", e.0))
            .ok();
        let longitude = parse_coordinate(&self.longitude, "longitude", 180.0)
            .map_err(|e| errors.add("longitude", e.0))
            .ok();
        let status = CentreStatus::from_code(&self.statut);
        if status.is_none() {
            errors.add(
                "statut",
                "Choisissez le statut : en projet, ouvert ou fermé.",
            );
        }
        let date = |value: &str, field: &'static str, errors: &mut FieldErrors| {
            if value.trim().is_empty() {
                return Some(None);
            }
            match parse_day(value) {
                Some(d) => Some(Some(d)),
                None => {
                    errors.add(
                        field,
                        "Date illisible : saisissez-la au format JJ/MM/AAAA, par exemple 01/09/2027.",
                    );
                    None
                }
            }
        };
        let opened_on = date(&self.ouverture, "ouverture", &mut errors);
        let closed_on = date(&self.fermeture, "fermeture", &mut errors);
        if let (Some(Some(opening)), Some(Some(closing))) = (opened_on, closed_on) {
            if closing < opening {
                errors.add(
                    "fermeture",
                    format!(
                        "La date de fermeture doit suivre la date d'ouverture ({}).",
                        opening.format("%d/%m/%Y")
                    ),
                );
            }
        }
        if status == Some(CentreStatus::Closed) && closed_on == Some(None) {
            errors.add(
                "fermeture",
                "Un centre fermé a une date de fermeture : indiquez-la.",
            );
        }
        let planned = parse_fte_amount(&self.capacite)
            .map_err(|e| errors.add("capacite", e.0))
            .ok();
        let street_address = self.adresse.trim().to_owned();
        if street_address.chars().count() > MAX_TEXT {
            errors.add(
                "adresse",
                format!("L'adresse fait plus de {MAX_TEXT} caractères : abrégez-la."),
            );
        }
        let postcode = self.code_postal.trim().to_owned();
        let five_digits = postcode.len() == 5 && postcode.bytes().all(|b| b.is_ascii_digit());
        if !postcode.is_empty() && !five_digits {
            errors.add(
                "code_postal",
                "Le code postal a cinq chiffres, par exemple 32500 (ou laissez le champ vide).",
            );
        }
        match (
            name, kind, commune, insee_code, latitude, longitude, status, opened_on, closed_on,
            planned,
        ) {
            (
                Some(name),
                Some(kind),
                Some(commune),
                Some(insee_code),
                Some(latitude),
                Some(longitude),
                Some(status),
                Some(opened_on),
                Some(closed_on),
                Some(planned_fte_hundredths),
            ) if errors.is_empty() => Ok(CentreChanges {
                name,
                kind,
                commune,
                insee_code,
                latitude,
                longitude,
                status,
                opened_on,
                closed_on,
                planned_fte_hundredths,
                street_address,
                postcode,
            }),
            _ => Err(errors),
        }
    }
}

/// Why a centre was not saved.
#[derive(Debug)]
pub enum SaveError {
    NotFound,
    /// Another centre has this value: (field, message).
    Taken(FieldErrors),
}

/// The fields another centre (not `except`) already uses.
fn duplicates(
    conn: &mut PgConnection,
    c: &CentreChanges,
    except: Option<i64>,
) -> QueryResult<FieldErrors> {
    let mut query = centres::table
        .filter(
            centres::name
                .eq(&c.name)
                .or(centres::insee_code.eq(&c.insee_code)),
        )
        .select((centres::name, centres::insee_code, centres::commune))
        .into_boxed();
    if let Some(id) = except {
        query = query.filter(centres::id.ne(id));
    }
    let others: Vec<(String, String, String)> = query.load(conn)?;
    let mut errors = FieldErrors::default();
    for (name, insee, commune) in others {
        if name == c.name {
            errors.add(
                "nom",
                "Un autre centre porte déjà ce nom : choisissez-en un autre.",
            );
        }
        if insee == c.insee_code {
            errors.add(
                "code_insee",
                format!("Ce code INSEE est déjà celui du centre de {commune}."),
            );
        }
    }
    Ok(errors)
}

/// A unique violation on the centres table (a concurrent save), at its field.
fn unique_violation(e: &diesel::result::Error) -> Option<FieldErrors> {
    use diesel::result::{DatabaseErrorKind, Error};
    let Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info) = e else {
        return None;
    };
    let mut errors = FieldErrors::default();
    match info.constraint_name() {
        Some("centres_name_key") => errors.add(
            "nom",
            "Un autre centre porte déjà ce nom : choisissez-en un autre.",
        ),
        Some("centres_insee_code_key") => errors.add(
            "code_insee",
            "Ce code INSEE est déjà celui d'un autre centre.",
        ),
        _ => return None,
    }
    Some(errors)
}

/// Creates a centre and records it in the audit log; its id.
pub fn create(
    conn: &mut PgConnection,
    actor: i64,
    c: &CentreChanges,
) -> QueryResult<Result<i64, SaveError>> {
    let result = conn.transaction(|conn| {
        let taken = duplicates(conn, c, None)?;
        if !taken.is_empty() {
            return Ok(Err(SaveError::Taken(taken)));
        }
        // The process's clock, as for `updated_at` when it is changed.
        let now = chrono::Utc::now();
        let id: i64 = diesel::insert_into(centres::table)
            .values((c, centres::created_at.eq(now), centres::updated_at.eq(now)))
            .returning(centres::id)
            .get_result(conn)?;
        audit(
            conn,
            Some(actor),
            "creation_centre",
            "centre",
            Some(id),
            &c.name,
        )?;
        Ok(Ok(id))
    });
    match result {
        Err(e) => unique_violation(&e)
            .map(|f| Ok(Err(SaveError::Taken(f))))
            .unwrap_or(Err(e)),
        ok => ok,
    }
}

/// Changes a centre, sets its `updated_at` and records it in the audit log.
pub fn update(
    conn: &mut PgConnection,
    actor: i64,
    id: i64,
    c: &CentreChanges,
) -> QueryResult<Result<(), SaveError>> {
    let result = conn.transaction(|conn| {
        let taken = duplicates(conn, c, Some(id))?;
        if !taken.is_empty() {
            return Ok(Err(SaveError::Taken(taken)));
        }
        let n = diesel::update(centres::table.find(id))
            .set((c, centres::updated_at.eq(chrono::Utc::now())))
            .execute(conn)?;
        if n == 0 {
            return Ok(Err(SaveError::NotFound));
        }
        audit(
            conn,
            Some(actor),
            "modification_centre",
            "centre",
            Some(id),
            &c.name,
        )?;
        Ok(Ok(()))
    });
    match result {
        Err(e) => unique_violation(&e)
            .map(|f| Ok(Err(SaveError::Taken(f))))
            .unwrap_or(Err(e)),
        ok => ok,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fte_amounts_are_read_exactly_in_hundredths() {
        for (input, hundredths) in [
            ("0", 0),
            ("3,5", 350),
            ("3.5", 350),
            (" 2,75 ", 275),
            ("1", 100),
            ("12", 1200),
            (",5", 50),
            ("0,05", 5),
            ("4 ETP", 400),
            ("2,5etp", 250),
            ("007", 700),
            ("100", 10_000),
        ] {
            assert_eq!(parse_fte_amount(input), Ok(hundredths), "{input}");
        }
    }

    #[test]
    fn malformed_or_oversized_fte_amounts_are_refused_with_a_reason() {
        for input in [
            "",
            "  ",
            "abc",
            "-1",
            "1,2,3",
            ".",
            "3,555",
            "100,01",
            "123456789012",
            "ETP",
            "5 %",
        ] {
            assert!(
                parse_fte_amount(input).is_err(),
                "{input} should be refused"
            );
        }
        assert!(parse_fte_amount("3,555")
            .unwrap_err()
            .0
            .contains("Deux décimales"));
        assert!(parse_fte_amount("101")
            .unwrap_err()
            .0
            .contains("ne peut dépasser 100 ETP"));
        assert!(parse_fte_amount("").unwrap_err().0.contains("Indiquez"));
    }

    #[test]
    fn insee_codes_are_five_digits_or_corsican() {
        assert_eq!(parse_insee_code(" 32132 ").as_deref(), Ok("32132"));
        assert_eq!(parse_insee_code("2a004").as_deref(), Ok("2A004"));
        assert_eq!(parse_insee_code("2B033").as_deref(), Ok("2B033"));
        for input in [
            "",
            "3213",
            "321320",
            "2C004",
            "A2132",
            "32 13",
            "3213a",
            "３２１３２",
        ] {
            assert!(
                parse_insee_code(input).is_err(),
                "{input} should be refused"
            );
        }
    }

    #[test]
    fn coordinates_take_a_comma_or_a_dot_within_their_range() {
        assert_eq!(parse_coordinate("43,8484", "latitude", 90.0), Ok(43.8484));
        assert_eq!(parse_coordinate("-0.5", "longitude", 180.0), Ok(-0.5));
        assert_eq!(parse_coordinate("+90", "latitude", 90.0), Ok(90.0));
        assert_eq!(parse_coordinate("-180", "longitude", 180.0), Ok(-180.0));
        for input in [
            "", "abc", "91", "-90,01", "inf", "NaN", "1e2", "43,8,4", ",5", "43°50",
        ] {
            assert!(
                parse_coordinate(input, "latitude", 90.0).is_err(),
                "{input} should be refused"
            );
        }
        assert!(parse_coordinate("181", "longitude", 180.0)
            .unwrap_err()
            .0
            .contains("entre -180 et 180"));
    }

    fn valid() -> CentreForm {
        CentreForm {
            nom: "Centre territorial de santé de Mirande".into(),
            kind: "centre".into(),
            commune: "Mirande".into(),
            code_insee: "32256".into(),
            latitude: "43,5147".into(),
            longitude: "0.4039".into(),
            statut: "planned".into(),
            ouverture: "2027-01-01".into(),
            fermeture: String::new(),
            capacite: "3,5".into(),
            adresse: "  12 rue de l'Hôpital ".into(),
            code_postal: "32300".into(),
        }
    }

    #[test]
    fn a_complete_form_gives_the_centre_to_write() {
        let c = valid().validate().unwrap();
        assert_eq!(c.name, "Centre territorial de santé de Mirande");
        assert_eq!(c.kind, CentreKind::Centre);
        assert_eq!(c.latitude, 43.5147);
        assert_eq!(c.status, CentreStatus::Planned);
        assert_eq!(c.opened_on, NaiveDate::from_ymd_opt(2027, 1, 1));
        assert_eq!(c.closed_on, None);
        assert_eq!(c.planned_fte_hundredths, 350);
        assert_eq!(c.street_address, "12 rue de l'Hôpital");
        assert_eq!(c.postcode, "32300");
        for wrong in ["3230", "32 300", "ABCDE", "323000"] {
            let e = CentreForm {
                code_postal: wrong.into(),
                ..valid()
            }
            .validate()
            .unwrap_err();
            assert!(e.0.contains_key("code_postal"), "{wrong}");
        }
    }

    #[test]
    fn closing_dates_follow_opening_and_closed_centres_need_one() {
        let closed = CentreForm {
            statut: "closed".into(),
            ..valid()
        };
        assert!(closed.validate().unwrap_err().0.contains_key("fermeture"));
        let before = CentreForm {
            fermeture: "31/12/2026".into(),
            ..valid()
        };
        assert!(before.validate().unwrap_err().0["fermeture"].contains("01/01/2027"));
        let same_day = CentreForm {
            statut: "closed".into(),
            fermeture: "01/01/2027".into(),
            ..valid()
        };
        assert!(same_day.validate().is_ok());
    }

    #[test]
    fn every_wrong_field_is_reported_at_once() {
        let errors = CentreForm::default().validate().unwrap_err();
        for field in [
            "nom",
            "type",
            "commune",
            "code_insee",
            "latitude",
            "longitude",
            "statut",
            "capacite",
        ] {
            assert!(errors.0.contains_key(field), "{field}");
        }
    }
}
