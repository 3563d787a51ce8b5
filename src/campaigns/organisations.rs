//! Organisations contacts belong to: faculties of medicine (loaded from the embedded list of
//! French faculties), health establishments, institutions.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::db::enums::OrganisationKind;
use crate::db::lower;
use crate::db::schema::{contacts, organisations};
use crate::domain::FieldErrors;
use crate::staff::audit::audit;

/// The French faculties of medicine: universite, faculte, ville, subdivision_internat, cursus.
pub const FACULTIES_CSV: &str = include_str!("../../data/facultes_medecine.csv");

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = organisations, check_for_backend(diesel::pg::Pg))]
pub struct Organisation {
    pub id: i64,
    pub name: String,
    pub kind: OrganisationKind,
    pub city: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// Every organisation by name (for the contact form's choice).
pub fn all_by_name(conn: &mut PgConnection) -> QueryResult<Vec<Organisation>> {
    organisations::table
        .order((lower(organisations::name), organisations::city))
        .select(Organisation::as_select())
        .load(conn)
}

/// Every organisation by name, with how many contacts belong to it.
pub fn with_contact_counts(conn: &mut PgConnection) -> QueryResult<Vec<(Organisation, i64)>> {
    let all = all_by_name(conn)?;
    let counts: Vec<(Option<i64>, i64)> = contacts::table
        .filter(contacts::organisation_id.is_not_null())
        .group_by(contacts::organisation_id)
        .select((contacts::organisation_id, diesel::dsl::count_star()))
        .load(conn)?;
    let counts: std::collections::HashMap<i64, i64> = counts
        .into_iter()
        .filter_map(|(id, n)| id.map(|id| (id, n)))
        .collect();
    Ok(all
        .into_iter()
        .map(|o| {
            let n = counts.get(&o.id).copied().unwrap_or(0);
            (o, n)
        })
        .collect())
}

pub fn exists(conn: &mut PgConnection, id: i64) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(organisations::table.find(id))).get_result(conn)
}

/// The faculties of the embedded list: (name, city). The name joins the faculty and its
/// university: « UFR de médecine – Université de Tours ».
pub fn faculties() -> Vec<(String, String)> {
    let mut reader = csv::ReaderBuilder::new().from_reader(FACULTIES_CSV.as_bytes());
    reader
        .records()
        .filter_map(Result::ok)
        .filter_map(|r| {
            let (university, faculty, city) =
                (r.get(0)?.trim(), r.get(1)?.trim(), r.get(2)?.trim());
            (!university.is_empty() && !faculty.is_empty())
                .then(|| (format!("{faculty} – {university}"), city.to_owned()))
        })
        .collect()
}

/// Loads the faculties as organisations of kind `faculte`; those already there (same name and
/// city, case ignored) are left alone. How many were added.
pub fn load_faculties(conn: &mut PgConnection) -> QueryResult<usize> {
    let (names, cities): (Vec<String>, Vec<String>) = faculties().into_iter().unzip();
    diesel::sql_query(
        "INSERT INTO organisations (name, kind, city) \
         SELECT n, 'faculte', c FROM unnest($1::text[], $2::text[]) AS f(n, c) \
         ON CONFLICT DO NOTHING",
    )
    .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(names)
    .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(cities)
    .execute(conn)
}

/// Loads the faculties at a staff member's request, with the audit entry. How many were added.
pub fn load_faculties_by(conn: &mut PgConnection, actor: i64) -> QueryResult<usize> {
    let added = load_faculties(conn)?;
    audit(
        conn,
        Some(actor),
        "chargement_facultes",
        "organisation",
        None,
        &format!("{added} facultés ajoutées"),
    )?;
    Ok(added)
}

/// The organisation form as typed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct OrganisationForm {
    pub nom: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub ville: String,
}

pub const FORM_FIELDS: &[(&str, &str)] = &[("nom", "Nom"), ("type", "Type"), ("ville", "Ville")];

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Checks the form and creates the organisation; its id, or the problems at their fields.
pub fn create(
    conn: &mut PgConnection,
    actor: i64,
    form: &OrganisationForm,
) -> QueryResult<Result<i64, FieldErrors>> {
    let mut errors = FieldErrors::default();
    let name = one_line(&form.nom);
    let city = one_line(&form.ville);
    if name.is_empty() {
        errors.add(
            "nom",
            "Indiquez le nom de l'organisation, par exemple « Centre hospitalier d'Auch ».",
        );
    } else if name.chars().count() > 200 {
        errors.add("nom", "200 caractères au plus.");
    }
    if city.chars().count() > 200 {
        errors.add("ville", "200 caractères au plus.");
    }
    let kind = OrganisationKind::from_code(&form.kind);
    if kind.is_none() {
        errors.add(
            "type",
            "Choisissez le type : faculté, établissement de santé, institution ou autre.",
        );
    }
    let Some(kind) = kind.filter(|_| errors.is_empty()) else {
        return Ok(Err(errors));
    };
    conn.transaction(|conn| {
        let taken: bool = diesel::select(diesel::dsl::exists(
            organisations::table
                .filter(lower(organisations::name).eq(lower(&name)))
                .filter(lower(organisations::city).eq(lower(&city))),
        ))
        .get_result(conn)?;
        if taken {
            errors.add(
                "nom",
                "Une organisation porte déjà ce nom dans cette ville : choisissez-la plutôt que \
                 d'en créer une autre.",
            );
            return Ok(Err(errors));
        }
        let id: i64 = diesel::insert_into(organisations::table)
            .values((
                organisations::name.eq(&name),
                organisations::kind.eq(kind),
                organisations::city.eq(&city),
            ))
            .returning(organisations::id)
            .get_result(conn)?;
        audit(
            conn,
            Some(actor),
            "creation_organisation",
            "organisation",
            Some(id),
            &name,
        )?;
        Ok(Ok(id))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_list_has_37_distinct_faculties() {
        let all = faculties();
        assert_eq!(all.len(), 37);
        let distinct: std::collections::HashSet<_> = all
            .iter()
            .map(|(n, c)| (n.to_lowercase(), c.to_lowercase()))
            .collect();
        assert_eq!(distinct.len(), 37);
        assert!(all.contains(&(
            "Faculté de médecine, maïeutique et métiers de la santé – Université de Lorraine"
                .to_owned(),
            "Vandœuvre-lès-Nancy".to_owned()
        )));
    }
}
