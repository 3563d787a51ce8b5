//! Contacts and lists: the audiences of the mailings. A contact is one address (unique, case
//! ignored); deleting it never touches the suppression list, so an unsubscribed address stays
//! unsubscribed whatever happens to the contact.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::campaigns::import::{split_tags, MAX_TAGS, MAX_TEXT};
use crate::campaigns::{organisations, suppression};
use crate::db::enums::{ContactKind, ContactStatus, LegalBasis, SuppressionReason};
use crate::db::schema::{
    contact_lists, contacts, list_members, organisations as orgs, suppressions,
};
use crate::db::{lower, lower_opt};
use crate::domain::EmailAddress;
use crate::domain::FieldErrors;
use crate::domain::{AddressInput, PostalAddress};
use crate::staff::audit::audit;

type Timestamp = chrono::DateTime<chrono::Utc>;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = contacts, check_for_backend(diesel::pg::Pg))]
pub struct Contact {
    pub id: i64,
    /// None: a contact known only by post (it then has a postal address).
    pub email: Option<String>,
    pub first_name: String,
    pub last_name: String,
    pub organisation_id: Option<i64>,
    pub kind: ContactKind,
    pub tags: Vec<String>,
    pub city: String,
    pub legal_basis: LegalBasis,
    pub status: ContactStatus,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub address_complement: String,
    pub address_building: String,
    pub address_street: String,
    pub address_locality: String,
    pub postcode: String,
    pub postal_town: String,
    pub country: String,
    pub deceased: bool,
    pub no_letters_at: Option<Timestamp>,
}

impl Contact {
    /// The postal address as stored (checked when it was saved or imported).
    pub fn address_input(&self) -> AddressInput {
        AddressInput {
            complement: self.address_complement.clone(),
            building: self.address_building.clone(),
            street: self.address_street.clone(),
            locality: self.address_locality.clone(),
            postcode: self.postcode.clone(),
            town: self.postal_town.clone(),
            country: self.country.clone(),
        }
    }
}

pub fn find(conn: &mut PgConnection, id: i64) -> QueryResult<Option<Contact>> {
    contacts::table
        .find(id)
        .select(Contact::as_select())
        .first(conn)
        .optional()
}

/// The contact form as typed, shown again when something is wrong.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ContactForm {
    pub courriel: String,
    pub prenom: String,
    pub nom: String,
    pub organisation: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub etiquettes: String,
    pub ville: String,
    pub base_legale: String,
    pub adresse_complement: String,
    pub adresse_batiment: String,
    pub adresse_voie: String,
    pub adresse_lieu_dit: String,
    pub code_postal: String,
    pub commune_postale: String,
    pub pays: String,
    /// A checkbox: « on » when ticked.
    pub decede: String,
    pub ne_plus_ecrire: String,
}

/// The form's fields in page order, with their labels (for the error summary).
pub const FORM_FIELDS: &[(&str, &str)] = &[
    ("courriel", "Adresse électronique"),
    ("prenom", "Prénom"),
    ("nom", "Nom"),
    ("organisation", "Organisation"),
    ("type", "Type de contact"),
    ("etiquettes", "Étiquettes"),
    ("ville", "Ville"),
    ("base_legale", "Base légale"),
    ("adresse_complement", "Complément (appartement, chez…)"),
    ("adresse_batiment", "Bâtiment, résidence"),
    ("adresse_voie", "Numéro et voie"),
    ("adresse_lieu_dit", "Lieu-dit ou boîte postale"),
    ("code_postal", "Code postal"),
    ("commune_postale", "Commune"),
    ("pays", "Pays"),
];

/// A contact as written: every value checked.
#[derive(Debug, Clone)]
pub struct ContactChanges {
    /// None: known only by post (then `address` is set).
    pub email: Option<EmailAddress>,
    pub first_name: String,
    pub last_name: String,
    pub organisation_id: Option<i64>,
    pub kind: ContactKind,
    pub tags: Vec<String>,
    pub city: String,
    pub legal_basis: LegalBasis,
    /// None: no postal address.
    pub address: Option<PostalAddress>,
    pub deceased: bool,
    pub no_letters: bool,
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl ContactForm {
    pub fn from_contact(c: &Contact) -> ContactForm {
        ContactForm {
            courriel: c.email.clone().unwrap_or_default(),
            prenom: c.first_name.clone(),
            nom: c.last_name.clone(),
            organisation: c
                .organisation_id
                .map(|id| id.to_string())
                .unwrap_or_default(),
            kind: c.kind.code().to_owned(),
            etiquettes: c.tags.join(", "),
            ville: c.city.clone(),
            base_legale: c.legal_basis.code().to_owned(),
            adresse_complement: c.address_complement.clone(),
            adresse_batiment: c.address_building.clone(),
            adresse_voie: c.address_street.clone(),
            adresse_lieu_dit: c.address_locality.clone(),
            code_postal: c.postcode.clone(),
            commune_postale: c.postal_town.clone(),
            pays: c.country.clone(),
            decede: if c.deceased {
                "on".into()
            } else {
                String::new()
            },
            ne_plus_ecrire: if c.no_letters_at.is_some() {
                "on".into()
            } else {
                String::new()
            },
        }
    }

    /// Checks every field; all the problems found, each at its field.
    pub fn validate(&self) -> Result<ContactChanges, FieldErrors> {
        let mut errors = FieldErrors::default();
        // Optional: a contact known only by post has none (then it needs a postal address).
        let email = if self.courriel.trim().is_empty() {
            Some(None)
        } else {
            EmailAddress::parse_for_someone(&self.courriel)
                .map_err(|e| errors.add("courriel", e.0))
                .ok()
                .map(Some)
        };
        let mut text = |value: &str, field: &'static str| {
            let v = one_line(value);
            if v.chars().count() > MAX_TEXT {
                errors.add(field, format!("{MAX_TEXT} caractères au plus."));
            }
            v
        };
        let first_name = text(&self.prenom, "prenom");
        let last_name = text(&self.nom, "nom");
        let city = text(&self.ville, "ville");
        let organisation_id = if self.organisation.trim().is_empty() {
            Some(None)
        } else {
            match self.organisation.trim().parse::<i64>() {
                Ok(id) => Some(Some(id)),
                Err(_) => {
                    errors.add(
                        "organisation",
                        "Choisissez une organisation dans la liste, ou « Aucune ».",
                    );
                    None
                }
            }
        };
        let kind = ContactKind::from_code(&self.kind);
        if kind.is_none() {
            errors.add(
                "type",
                "Choisissez le type de contact : faculté, médecin retraité, médecin, interne ou \
                 partenaire.",
            );
        }
        let tags = split_tags(&self.etiquettes);
        if tags.len() > MAX_TAGS {
            errors.add("etiquettes", format!("{MAX_TAGS} étiquettes au plus."));
        } else if tags.iter().any(|t| t.chars().count() > MAX_TEXT) {
            errors.add(
                "etiquettes",
                format!("Une étiquette compte {MAX_TEXT} caractères au plus."),
            );
        }
        let legal_basis = LegalBasis::from_code(&self.base_legale);
        if legal_basis.is_none() {
            errors.add(
                "base_legale",
                "Choisissez la base légale qui permet d'écrire à ce contact.",
            );
        }
        let address_input = AddressInput {
            complement: self.adresse_complement.clone(),
            building: self.adresse_batiment.clone(),
            street: self.adresse_voie.clone(),
            locality: self.adresse_lieu_dit.clone(),
            postcode: self.code_postal.clone(),
            town: self.commune_postale.clone(),
            country: self.pays.clone(),
        };
        let address = match address_input.parse() {
            Ok(a) => a,
            Err(problems) => {
                for (field, message) in problems {
                    errors.add(field, message);
                }
                None
            }
        };
        if matches!(email, Some(None)) && address_input.is_empty() {
            errors.add(
                "courriel",
                "Indiquez une adresse électronique ou, plus bas, une adresse postale : sans \
                 l'une ni l'autre, on ne peut pas écrire à ce contact.",
            );
        }
        match (email, organisation_id, kind, legal_basis) {
            (Some(email), Some(organisation_id), Some(kind), Some(legal_basis))
                if errors.is_empty() =>
            {
                Ok(ContactChanges {
                    email,
                    first_name,
                    last_name,
                    organisation_id,
                    kind,
                    tags,
                    city,
                    legal_basis,
                    address,
                    deceased: !self.decede.is_empty(),
                    no_letters: !self.ne_plus_ecrire.is_empty(),
                })
            }
            _ => Err(errors),
        }
    }
}

/// Why a contact was not saved.
#[derive(Debug)]
pub enum SaveError {
    NotFound,
    Invalid(FieldErrors),
}

/// The problems only the database can tell: address taken or suppressed, organisation gone.
fn conflicts(
    conn: &mut PgConnection,
    c: &ContactChanges,
    except: Option<i64>,
) -> QueryResult<FieldErrors> {
    let mut errors = FieldErrors::default();
    let Some(email) = &c.email else {
        return other_conflicts(conn, c, errors);
    };
    let mut taken = contacts::table
        .filter(lower_opt(contacts::email).eq(email.normalized()))
        .select(contacts::id)
        .into_boxed();
    if let Some(id) = except {
        taken = taken.filter(contacts::id.ne(id));
    }
    if let Some(other) = taken.first::<i64>(conn).optional()? {
        errors.add(
            "courriel",
            format!("Un autre contact (n° {other}) a déjà cette adresse : modifiez-le plutôt."),
        );
    }
    let suppressed: Option<SuppressionReason> = suppressions::table
        .find(suppression::key(email.as_str()))
        .select(suppressions::reason)
        .first(conn)
        .optional()?;
    // An address already used by this contact may stay; a new one must not be suppressed.
    let unchanged = match except {
        Some(id) => contacts::table
            .find(id)
            .select(lower_opt(contacts::email))
            .first::<Option<String>>(conn)
            .optional()?
            .flatten()
            .is_some_and(|e| e == email.normalized()),
        None => false,
    };
    if let (Some(reason), false) = (suppressed, unchanged) {
        errors.add(
            "courriel",
            format!(
                "Cette adresse figure dans la liste des désinscriptions ({}) : on ne peut plus \
                 lui écrire.",
                reason.label().to_lowercase()
            ),
        );
    }
    other_conflicts(conn, c, errors)
}

fn other_conflicts(
    conn: &mut PgConnection,
    c: &ContactChanges,
    mut errors: FieldErrors,
) -> QueryResult<FieldErrors> {
    if let Some(org) = c.organisation_id {
        if !organisations::exists(conn, org)? {
            errors.add(
                "organisation",
                "Cette organisation n'existe plus : choisissez-en une autre.",
            );
        }
    }
    Ok(errors)
}

fn is_unique_violation(e: &diesel::result::Error) -> bool {
    matches!(
        e,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}

fn taken_concurrently() -> SaveError {
    let mut errors = FieldErrors::default();
    errors.add(
        "courriel",
        "Un autre contact a déjà cette adresse : modifiez-le plutôt.",
    );
    SaveError::Invalid(errors)
}

/// Writes the postal address and the letter flags of a contact. « Ne plus écrire » keeps the
/// date it was first recorded.
fn set_postal(conn: &mut PgConnection, id: i64, c: &ContactChanges) -> QueryResult<()> {
    let [complement, building, street, locality, postcode, town, country] =
        crate::domain::postal::columns(c.address.as_ref());
    diesel::update(contacts::table.find(id))
        .set((
            contacts::address_complement.eq(complement),
            contacts::address_building.eq(building),
            contacts::address_street.eq(street),
            contacts::address_locality.eq(locality),
            contacts::postcode.eq(postcode),
            contacts::postal_town.eq(town),
            contacts::country.eq(country),
            contacts::deceased.eq(c.deceased),
        ))
        .execute(conn)?;
    if c.no_letters {
        diesel::update(
            contacts::table
                .find(id)
                .filter(contacts::no_letters_at.is_null()),
        )
        .set(contacts::no_letters_at.eq(diesel::dsl::now))
        .execute(conn)?;
    } else {
        diesel::update(contacts::table.find(id))
            .set(contacts::no_letters_at.eq(None::<Timestamp>))
            .execute(conn)?;
    }
    Ok(())
}

/// Creates a contact; its id.
pub fn create(
    conn: &mut PgConnection,
    actor: i64,
    c: &ContactChanges,
) -> QueryResult<Result<i64, SaveError>> {
    let result = conn.transaction(|conn| {
        let errors = conflicts(conn, c, None)?;
        if !errors.is_empty() {
            return Ok(Err(SaveError::Invalid(errors)));
        }
        let id: i64 = diesel::insert_into(contacts::table)
            .values((
                contacts::email.eq(c.email.as_ref().map(EmailAddress::as_str)),
                contacts::first_name.eq(&c.first_name),
                contacts::last_name.eq(&c.last_name),
                contacts::organisation_id.eq(c.organisation_id),
                contacts::kind.eq(c.kind),
                contacts::tags.eq(&c.tags),
                contacts::city.eq(&c.city),
                contacts::legal_basis.eq(c.legal_basis),
                // Inserted with the contact: without an e-mail address, the check
                // constraint needs the postal address at once.
                contacts::postal_town.eq(c
                    .address
                    .as_ref()
                    .map(|a| a.as_input().town)
                    .unwrap_or_default()),
            ))
            .returning(contacts::id)
            .get_result(conn)?;
        set_postal(conn, id, c)?;
        audit(
            conn,
            Some(actor),
            "creation_contact",
            "contact",
            Some(id),
            "",
        )?;
        Ok(Ok(id))
    });
    match result {
        Err(e) if is_unique_violation(&e) => Ok(Err(taken_concurrently())),
        other => other,
    }
}

/// Changes a contact (never its status: that follows the suppression list).
pub fn update(
    conn: &mut PgConnection,
    actor: i64,
    id: i64,
    c: &ContactChanges,
) -> QueryResult<Result<(), SaveError>> {
    let result = conn.transaction(|conn| {
        let errors = conflicts(conn, c, Some(id))?;
        if !errors.is_empty() {
            return Ok(Err(SaveError::Invalid(errors)));
        }
        // The address first: the check constraint (an e-mail address or a postal one) holds
        // after each statement, and a contact may lose its e-mail address as it gains a
        // postal one.
        set_postal(conn, id, c)?;
        let n = diesel::update(contacts::table.find(id))
            .set((
                contacts::email.eq(c.email.as_ref().map(EmailAddress::as_str)),
                contacts::first_name.eq(&c.first_name),
                contacts::last_name.eq(&c.last_name),
                contacts::organisation_id.eq(c.organisation_id),
                contacts::kind.eq(c.kind),
                contacts::tags.eq(&c.tags),
                contacts::city.eq(&c.city),
                contacts::legal_basis.eq(c.legal_basis),
                contacts::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)?;
        if n == 0 {
            return Ok(Err(SaveError::NotFound));
        }
        audit(
            conn,
            Some(actor),
            "modification_contact",
            "contact",
            Some(id),
            "",
        )?;
        Ok(Ok(()))
    });
    match result {
        Err(e) if is_unique_violation(&e) => Ok(Err(taken_concurrently())),
        other => other,
    }
}

/// Deletes a contact and its list memberships. Its address stays on the suppression list if
/// it is there. False when there was no such contact.
pub fn delete(conn: &mut PgConnection, actor: i64, id: i64) -> QueryResult<bool> {
    conn.transaction(|conn| {
        let n = diesel::delete(contacts::table.find(id)).execute(conn)?;
        if n == 1 {
            audit(
                conn,
                Some(actor),
                "suppression_contact",
                "contact",
                Some(id),
                "",
            )?;
        }
        Ok(n == 1)
    })
}

// ---------------------------------------------------------------------------------------------
// Search

/// What the contacts page filters on.
#[derive(Debug, Clone, Default)]
pub struct ContactFilter {
    /// Part of the address, a name, the organisation or the city.
    pub text: String,
    pub list_id: Option<i64>,
    pub kind: Option<ContactKind>,
    pub status: Option<ContactStatus>,
}

/// One line of the contacts table.
#[derive(Debug, Clone, Queryable, Serialize)]
pub struct ContactRow {
    pub id: i64,
    pub email: Option<String>,
    pub first_name: String,
    pub last_name: String,
    pub organisation: Option<String>,
    pub kind: ContactKind,
    pub tags: Vec<String>,
    pub city: String,
    pub status: ContactStatus,
}

/// `%text%` for ILIKE, with the wildcards the person typed taken literally.
fn like_pattern(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

type FilteredContacts<'a> =
    diesel::dsl::IntoBoxed<'a, diesel::dsl::LeftJoin<contacts::table, orgs::table>, diesel::pg::Pg>;

fn filtered(filter: &ContactFilter) -> FilteredContacts<'static> {
    let mut query = contacts::table.left_join(orgs::table).into_boxed();
    let text = filter.text.trim();
    if !text.is_empty() {
        let p = like_pattern(text);
        query = query.filter(
            contacts::email
                .ilike(p.clone())
                .is_not_distinct_from(true)
                .or(contacts::first_name
                    .concat(" ")
                    .concat(contacts::last_name)
                    .ilike(p.clone()))
                .or(contacts::last_name
                    .concat(" ")
                    .concat(contacts::first_name)
                    .ilike(p.clone()))
                .or(contacts::city.ilike(p.clone()))
                .or(orgs::name.nullable().ilike(p).is_not_distinct_from(true)),
        );
    }
    if let Some(list_id) = filter.list_id {
        query = query.filter(
            contacts::id.eq_any(
                list_members::table
                    .filter(list_members::list_id.eq(list_id))
                    .select(list_members::contact_id),
            ),
        );
    }
    if let Some(kind) = filter.kind {
        query = query.filter(contacts::kind.eq(kind));
    }
    if let Some(status) = filter.status {
        query = query.filter(contacts::status.eq(status));
    }
    query
}

/// One page (from 1) of the contacts matching `filter`, by name; and how many match in all.
pub fn search(
    conn: &mut PgConnection,
    filter: &ContactFilter,
    page: i64,
    per_page: i64,
) -> QueryResult<(i64, Vec<ContactRow>)> {
    let total: i64 = filtered(filter).count().get_result(conn)?;
    let rows = filtered(filter)
        .select((
            contacts::id,
            contacts::email,
            contacts::first_name,
            contacts::last_name,
            orgs::name.nullable(),
            contacts::kind,
            contacts::tags,
            contacts::city,
            contacts::status,
        ))
        .order((
            lower(contacts::last_name),
            lower(contacts::first_name),
            contacts::id,
        ))
        .limit(per_page)
        .offset((page.max(1) - 1) * per_page)
        .load(conn)?;
    Ok((total, rows))
}

// ---------------------------------------------------------------------------------------------
// Lists

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = contact_lists, check_for_backend(diesel::pg::Pg))]
pub struct ContactList {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub created_at: Timestamp,
}

/// A list with its member count and how many of them can be written to.
#[derive(Debug, Clone, QueryableByName, Serialize)]
pub struct ListSummary {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub id: i64,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub description: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub members: i64,
    /// Active and not suppressed.
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub active: i64,
}

/// Every list by name, with its counts.
pub fn lists_with_counts(conn: &mut PgConnection) -> QueryResult<Vec<ListSummary>> {
    diesel::sql_query(
        "SELECT l.id, l.name, l.description, \
                count(c.id) AS members, \
                count(c.id) FILTER (WHERE c.status = 'active' AND NOT EXISTS \
                    (SELECT 1 FROM suppressions s WHERE s.email = lower(c.email))) AS active \
         FROM contact_lists l \
         LEFT JOIN list_members m ON m.list_id = l.id \
         LEFT JOIN contacts c ON c.id = m.contact_id \
         GROUP BY l.id ORDER BY lower(l.name)",
    )
    .load(conn)
}

pub fn all_lists(conn: &mut PgConnection) -> QueryResult<Vec<ContactList>> {
    contact_lists::table
        .order(lower(contact_lists::name))
        .select(ContactList::as_select())
        .load(conn)
}

pub fn find_list(conn: &mut PgConnection, id: i64) -> QueryResult<Option<ContactList>> {
    contact_lists::table
        .find(id)
        .select(ContactList::as_select())
        .first(conn)
        .optional()
}

/// A list by name, case ignored.
pub fn find_list_by_name(conn: &mut PgConnection, name: &str) -> QueryResult<Option<ContactList>> {
    contact_lists::table
        .filter(lower(contact_lists::name).eq(lower(name.trim())))
        .select(ContactList::as_select())
        .first(conn)
        .optional()
}

/// The list form as typed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ListForm {
    pub nom: String,
    pub description: String,
}

pub const LIST_FIELDS: &[(&str, &str)] =
    &[("nom", "Nom de la liste"), ("description", "Description")];

/// Creates a list; its id, or the problems at their fields.
pub fn create_list(
    conn: &mut PgConnection,
    actor: Option<i64>,
    form: &ListForm,
) -> QueryResult<Result<i64, FieldErrors>> {
    let mut errors = FieldErrors::default();
    let name = one_line(&form.nom);
    let description = form.description.trim().to_owned();
    if name.is_empty() {
        errors.add(
            "nom",
            "Indiquez le nom de la liste, par exemple « Internes de Toulouse 2027 ».",
        );
    } else if name.chars().count() > MAX_TEXT {
        errors.add("nom", format!("{MAX_TEXT} caractères au plus."));
    }
    if description.chars().count() > 2000 {
        errors.add("description", "2 000 caractères au plus.");
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let result = conn.transaction(|conn| {
        if find_list_by_name(conn, &name)?.is_some() {
            errors.add(
                "nom",
                "Une liste porte déjà ce nom (majuscules et minuscules confondues) : choisissez-en \
                 un autre.",
            );
            return Ok(Err(errors));
        }
        let id: i64 = diesel::insert_into(contact_lists::table)
            .values((
                contact_lists::name.eq(&name),
                contact_lists::description.eq(&description),
            ))
            .returning(contact_lists::id)
            .get_result(conn)?;
        audit(
            conn,
            actor,
            "creation_liste",
            "contact_list",
            Some(id),
            &name,
        )?;
        Ok(Ok(id))
    });
    match result {
        Err(e) if is_unique_violation(&e) => {
            let mut errors = FieldErrors::default();
            errors.add(
                "nom",
                "Une liste porte déjà ce nom : choisissez-en un autre.",
            );
            Ok(Err(errors))
        }
        other => other,
    }
}

/// The list of that name, created when missing; its id and whether it was created.
pub fn ensure_list(
    conn: &mut PgConnection,
    name: &str,
) -> QueryResult<Result<(i64, bool), String>> {
    if let Some(list) = find_list_by_name(conn, name)? {
        return Ok(Ok((list.id, false)));
    }
    let form = ListForm {
        nom: name.to_owned(),
        description: String::new(),
    };
    Ok(match create_list(conn, None, &form)? {
        Ok(id) => Ok((id, true)),
        Err(errors) => Err(errors.0.into_values().collect::<Vec<_>>().join(" ")),
    })
}

/// The lists a contact belongs to, by name.
pub fn lists_of(conn: &mut PgConnection, contact_id: i64) -> QueryResult<Vec<ContactList>> {
    contact_lists::table
        .inner_join(list_members::table)
        .filter(list_members::contact_id.eq(contact_id))
        .order(lower(contact_lists::name))
        .select(ContactList::as_select())
        .load(conn)
}

/// Puts a contact in a list (nothing when it is there already). False when either is missing.
pub fn add_member(conn: &mut PgConnection, list_id: i64, contact_id: i64) -> QueryResult<bool> {
    if find_list(conn, list_id)?.is_none() || find(conn, contact_id)?.is_none() {
        return Ok(false);
    }
    diesel::insert_into(list_members::table)
        .values((
            list_members::list_id.eq(list_id),
            list_members::contact_id.eq(contact_id),
        ))
        .on_conflict_do_nothing()
        .execute(conn)?;
    Ok(true)
}

/// Takes a contact out of a list; whether it was in it.
pub fn remove_member(conn: &mut PgConnection, list_id: i64, contact_id: i64) -> QueryResult<bool> {
    diesel::delete(
        list_members::table
            .filter(list_members::list_id.eq(list_id))
            .filter(list_members::contact_id.eq(contact_id)),
    )
    .execute(conn)
    .map(|n| n == 1)
}

// ---------------------------------------------------------------------------------------------
// The suppression list, as the staff see it

#[derive(Debug, Clone, Queryable)]
pub struct SuppressionRow {
    pub email: String,
    pub reason: SuppressionReason,
    pub detail: String,
    pub created_at: Timestamp,
}

/// One page (from 1) of suppressed addresses, newest first, optionally matching `text`; and
/// how many match in all.
pub fn suppressions_page(
    conn: &mut PgConnection,
    text: &str,
    page: i64,
    per_page: i64,
) -> QueryResult<(i64, Vec<SuppressionRow>)> {
    let query = || {
        let mut q = suppressions::table.into_boxed();
        if !text.trim().is_empty() {
            q = q.filter(suppressions::email.ilike(like_pattern(&text.trim().to_lowercase())));
        }
        q
    };
    let total = query().count().get_result(conn)?;
    let rows = query()
        .select((
            suppressions::email,
            suppressions::reason,
            suppressions::detail,
            suppressions::created_at,
        ))
        .order((suppressions::created_at.desc(), suppressions::email))
        .limit(per_page)
        .offset((page.max(1) - 1) * per_page)
        .load(conn)?;
    Ok((total, rows))
}

/// Adds an address to the suppression list by hand (its contact, if any, becomes
/// unsubscribed). Whether it was not there yet.
pub fn suppress_by_hand(
    conn: &mut PgConnection,
    actor: i64,
    email: &EmailAddress,
    note: &str,
) -> QueryResult<bool> {
    conn.transaction(|conn| {
        let added = suppression::suppress(conn, email.as_str(), SuppressionReason::Manual, note)?;
        if added {
            // No address in the log: personal data.
            audit(
                conn,
                Some(actor),
                "desinscription_manuelle",
                "suppression",
                None,
                "",
            )?;
        }
        Ok(added)
    })
}

/// The reason an address is suppressed, if it is.
/// A contact without an e-mail address has none.
pub fn suppression_of(
    conn: &mut PgConnection,
    email: Option<&str>,
) -> QueryResult<Option<(SuppressionReason, Timestamp)>> {
    let Some(email) = email else {
        return Ok(None);
    };
    suppressions::table
        .find(suppression::key(email))
        .select((suppressions::reason, suppressions::created_at))
        .first(conn)
        .optional()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> ContactForm {
        ContactForm {
            courriel: " Claire.Martin@Exemple.fr ".into(),
            prenom: "Claire ".into(),
            nom: "Martin".into(),
            organisation: "".into(),
            kind: "medecin".into(),
            etiquettes: "gers; salon".into(),
            ville: "Auch".into(),
            base_legale: "interet_legitime".into(),
            ..ContactForm::default()
        }
    }

    #[test]
    fn a_complete_form_gives_a_contact() {
        let c = valid().validate().unwrap();
        assert_eq!(
            c.email.as_ref().map(EmailAddress::as_str),
            Some("Claire.Martin@Exemple.fr")
        );
        assert_eq!(c.first_name, "Claire");
        assert_eq!(c.tags, ["gers", "salon"]);
        assert_eq!(c.organisation_id, None);
    }

    #[test]
    fn a_contact_needs_an_email_address_or_a_postal_one() {
        let form = ContactForm {
            courriel: "  ".into(),
            ..valid()
        };
        let errors = form.validate().unwrap_err();
        assert!(errors.0["courriel"].contains("adresse postale"));
        let form = ContactForm {
            courriel: "".into(),
            adresse_voie: "3 rue Gambetta".into(),
            code_postal: "32000".into(),
            commune_postale: "Auch".into(),
            ..valid()
        };
        let c = form.validate().unwrap();
        assert!(c.email.is_none());
        assert!(c.address.is_some());
        // A half-typed address is reported at its own fields, not as « neither ».
        let form = ContactForm {
            courriel: "".into(),
            adresse_voie: "3 rue Gambetta".into(),
            ..valid()
        };
        let errors = form.validate().unwrap_err();
        assert!(errors.0.contains_key("commune_postale"));
        assert!(!errors.0.contains_key("courriel"));
    }

    #[test]
    fn every_wrong_field_gets_its_message() {
        let form = ContactForm {
            courriel: "claire".into(),
            organisation: "x".into(),
            kind: "dentiste".into(),
            base_legale: "".into(),
            ..valid()
        };
        let errors = form.validate().unwrap_err();
        let fields: Vec<_> = errors.0.keys().copied().collect();
        assert_eq!(fields, ["base_legale", "courriel", "organisation", "type"]);
        assert!(errors.0["courriel"].contains("@"));
    }

    #[test]
    fn like_wildcards_are_literal() {
        assert_eq!(like_pattern("50%_x"), "%50\\%\\_x%");
    }
}
