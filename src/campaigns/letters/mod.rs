//! Letter campaigns (« courrier », issue 19): the same audiences as e-mail campaigns, a letter
//! template (Handlebars subject and body, checked by [`crate::campaigns::template`] with the
//! e-mail templates' strict rules and bounds), and a « run » that produces the letters: one
//! delivery per contact in the campaign's ledger (`campaign_runs` / `deliveries`), each with a
//! personal short code ([`code`]) printed on the letter and carried by its link and QR code.
//!
//! Letter deliveries are written as already done (`envoye`, printed) in a run that is already
//! finished (`termine`): the e-mail workers only claim pending deliveries of sending runs of
//! campaigns with an e-mail template, so they never see a letter.
//!
//! Who gets no letter: a contact unsubscribed or bounced, whose address is on the suppression
//! list, marked deceased, or who asked « ne plus écrire »; a contact without a postal address,
//! or whose address block would not fit the envelope (counted apart, never cut).

pub mod code;
pub mod print;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Text, Timestamptz};
use serde::{Deserialize, Serialize};

use crate::campaigns::template::{Compiled, TemplateSource};
use crate::db::enums::{CampaignKind, CampaignStatus, ContactStatus, DeliveryStatus, RunStatus};
use crate::db::schema::{campaign_runs, campaigns, deliveries};
use crate::domain::{AddressInput, FieldErrors};
use crate::staff::audit::audit;

/// Longest campaign name.
const MAX_NAME: usize = 200;

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = campaigns, check_for_backend(diesel::pg::Pg))]
pub struct LetterCampaign {
    pub id: i64,
    pub name: String,
    pub status: CampaignStatus,
    #[diesel(
        select_expression = campaigns::letter_subject.assume_not_null(),
        select_expression_type = diesel::dsl::AssumeNotNull<campaigns::letter_subject>
    )]
    pub letter_subject: String,
    #[diesel(
        select_expression = campaigns::letter_body.assume_not_null(),
        select_expression_type = diesel::dsl::AssumeNotNull<campaigns::letter_body>
    )]
    pub letter_body: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl LetterCampaign {
    pub fn source(&self) -> TemplateSource {
        TemplateSource {
            subject: self.letter_subject.clone(),
            body_text: self.letter_body.clone(),
            body_html: String::new(),
            preheader: String::new(),
        }
    }
}

/// The letter campaign form as typed (kept when it is shown again with its errors).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LetterForm {
    /// The form's anti-forgery token: checked by the page, never shown again.
    #[serde(skip_serializing)]
    pub csrf: String,
    pub nom: String,
    pub listes: Vec<String>,
    pub objet: String,
    pub texte: String,
}

/// The form's fields in page order, with their labels (for the error summary).
pub const FORM_FIELDS: &[(&str, &str)] = &[
    ("nom", "Nom de la campagne"),
    ("listes", "Listes de contacts"),
    ("objet", "Objet du courrier"),
    ("texte", "Texte du courrier"),
];

/// A letter campaign as written: every value checked.
#[derive(Debug, Clone)]
pub struct LetterInput {
    pub name: String,
    pub list_ids: Vec<i64>,
    pub subject: String,
    pub body: String,
}

impl LetterForm {
    pub fn from_campaign(c: &LetterCampaign, list_ids: &[i64]) -> LetterForm {
        LetterForm {
            csrf: String::new(),
            nom: c.name.clone(),
            listes: list_ids.iter().map(i64::to_string).collect(),
            objet: c.letter_subject.clone(),
            texte: c.letter_body.clone(),
        }
    }

    /// Checks the fields; the template is compiled and tried with sample values, like an
    /// e-mail template at save.
    pub fn validate(&self, public_url: &str) -> Result<LetterInput, FieldErrors> {
        let mut errors = FieldErrors::default();
        let name = self.nom.split_whitespace().collect::<Vec<_>>().join(" ");
        if name.is_empty() {
            errors.add(
                "nom",
                "Donnez un nom à la campagne, par exemple « Lettre aux médecins retraités ».",
            );
        } else if name.chars().count() > MAX_NAME {
            errors.add("nom", format!("{MAX_NAME} caractères au plus."));
        }
        if crate::domain::has_control(&self.nom) {
            errors.add("nom", crate::domain::CONTROL_MESSAGE);
        }
        let mut list_ids = Vec::new();
        for l in &self.listes {
            match l.trim().parse::<i64>() {
                Ok(id) if id > 0 => list_ids.push(id),
                _ => errors.add("listes", "Choisissez les listes dans celles proposées."),
            }
        }
        list_ids.sort_unstable();
        list_ids.dedup();
        if list_ids.is_empty() {
            errors.add("listes", "Choisissez au moins une liste de contacts.");
        }
        // Each part checked on its own, so that both are reported when both are wrong.
        for (field, subject, body) in [
            ("objet", self.objet.as_str(), "."),
            ("texte", ".", self.texte.as_str()),
        ] {
            let source = TemplateSource {
                subject: subject.to_owned(),
                body_text: body.to_owned(),
                body_html: String::new(),
                preheader: String::new(),
            };
            if let Err(problems) = Compiled::check(&source, public_url) {
                for (_, message) in problems.0 {
                    errors.add(field, capitalise(&message));
                }
            }
        }
        if errors.is_empty() {
            Ok(LetterInput {
                name,
                list_ids,
                subject: self.objet.trim().to_owned(),
                body: self.texte.replace("\r\n", "\n").trim().to_owned(),
            })
        } else {
            Err(errors)
        }
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

pub fn find(conn: &mut PgConnection, id: i64) -> QueryResult<Option<LetterCampaign>> {
    campaigns::table
        .find(id)
        .filter(campaigns::kind.eq(CampaignKind::Letter))
        .select(LetterCampaign::as_select())
        .first(conn)
        .optional()
}

/// Every letter campaign, newest first.
pub fn list(conn: &mut PgConnection) -> QueryResult<Vec<LetterCampaign>> {
    campaigns::table
        .filter(campaigns::kind.eq(CampaignKind::Letter))
        .select(LetterCampaign::as_select())
        .order(campaigns::created_at.desc())
        .load(conn)
}

/// Why a letter campaign was not saved or produced (shown to the user).
#[derive(Debug, thiserror::Error)]
pub enum LetterError {
    #[error("campagne introuvable")]
    NotFound,
    #[error("les courriers de cette campagne sont déjà produits : elle ne peut plus changer")]
    AlreadyProduced,
    #[error("une des listes choisies n'existe plus : choisissez-en une autre")]
    UnknownList,
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

fn lists_exist(conn: &mut PgConnection, ids: &[i64]) -> QueryResult<bool> {
    use crate::db::schema::contact_lists;
    let n: i64 = contact_lists::table
        .filter(contact_lists::id.eq_any(ids))
        .count()
        .get_result(conn)?;
    Ok(n == ids.len() as i64)
}

/// A new letter campaign, as a draft.
pub fn create(
    conn: &mut PgConnection,
    input: &LetterInput,
    actor: i64,
) -> Result<i64, LetterError> {
    conn.transaction(|conn| {
        if !lists_exist(conn, &input.list_ids)? {
            return Err(LetterError::UnknownList);
        }
        let id: i64 = diesel::insert_into(campaigns::table)
            .values((
                campaigns::name.eq(&input.name),
                campaigns::kind.eq(CampaignKind::Letter),
                campaigns::letter_subject.eq(&input.subject),
                campaigns::letter_body.eq(&input.body),
                // The e-mail columns, unused by letters, keep neutral values.
                campaigns::sender_name.eq(""),
                campaigns::sender_email.eq(""),
                campaigns::rate_per_minute.eq(1),
                campaigns::schedule_kind.eq(crate::db::enums::ScheduleKind::Now),
                campaigns::created_by.eq(actor),
            ))
            .returning(campaigns::id)
            .get_result(conn)?;
        crate::campaigns::runs::campaign::set_lists(conn, id, &input.list_ids)?;
        audit(
            conn,
            Some(actor),
            "campaign.create",
            "campaign",
            Some(id),
            &input.name,
        )?;
        Ok(id)
    })
}

/// Changes a letter campaign whose letters are not produced yet.
pub fn update(
    conn: &mut PgConnection,
    id: i64,
    input: &LetterInput,
    actor: i64,
) -> Result<(), LetterError> {
    conn.transaction(|conn| {
        let status = lock(conn, id)?;
        if status != CampaignStatus::Draft {
            return Err(LetterError::AlreadyProduced);
        }
        if !lists_exist(conn, &input.list_ids)? {
            return Err(LetterError::UnknownList);
        }
        diesel::update(campaigns::table.find(id))
            .set((
                campaigns::name.eq(&input.name),
                campaigns::letter_subject.eq(&input.subject),
                campaigns::letter_body.eq(&input.body),
                campaigns::updated_at.eq(Utc::now()),
            ))
            .execute(conn)?;
        crate::campaigns::runs::campaign::set_lists(conn, id, &input.list_ids)?;
        audit(
            conn,
            Some(actor),
            "campaign.update",
            "campaign",
            Some(id),
            &input.name,
        )?;
        Ok(())
    })
}

fn lock(conn: &mut PgConnection, id: i64) -> Result<CampaignStatus, LetterError> {
    campaigns::table
        .find(id)
        .filter(campaigns::kind.eq(CampaignKind::Letter))
        .select(campaigns::status)
        .for_update()
        .first(conn)
        .optional()?
        .ok_or(LetterError::NotFound)
}

pub fn list_ids(conn: &mut PgConnection, campaign_id: i64) -> QueryResult<Vec<i64>> {
    crate::campaigns::runs::list_ids(conn, campaign_id)
}

// ---------------------------------------------------------------------------------------------
// Production

/// Who the production left out, and why; who got a letter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Production {
    pub letters: i64,
    /// Unsubscribed, bounced or on the suppression list.
    pub unsubscribed: i64,
    pub deceased: i64,
    pub no_letters: i64,
    pub no_address: i64,
    /// An address that does not fit the envelope (a name over 38 characters, say).
    pub invalid_address: i64,
}

/// One member of the campaign's lists as production sees them.
#[derive(Debug, QueryableByName)]
struct Member {
    #[diesel(sql_type = BigInt)]
    id: i64,
    /// None for a contact known only by post: the letter's delivery then has none either.
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    email: Option<String>,
    #[diesel(sql_type = Text)]
    first_name: String,
    #[diesel(sql_type = Text)]
    last_name: String,
    #[diesel(sql_type = Text)]
    organisation: String,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Bool)]
    deceased: bool,
    #[diesel(sql_type = Bool)]
    no_letters: bool,
    #[diesel(sql_type = Bool)]
    suppressed: bool,
    #[diesel(embed)]
    address: AddressColumns,
}

/// The address columns of a contact, as read by raw queries.
#[derive(Debug, Clone, QueryableByName)]
pub struct AddressColumns {
    #[diesel(sql_type = Text)]
    pub address_complement: String,
    #[diesel(sql_type = Text)]
    pub address_building: String,
    #[diesel(sql_type = Text)]
    pub address_street: String,
    #[diesel(sql_type = Text)]
    pub address_locality: String,
    #[diesel(sql_type = Text)]
    pub postcode: String,
    #[diesel(sql_type = Text)]
    pub postal_town: String,
    #[diesel(sql_type = Text)]
    pub country: String,
}

impl AddressColumns {
    pub fn input(&self) -> AddressInput {
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

/// The recipient line: the contact's name, else their organisation's.
pub fn recipient(first_name: &str, last_name: &str, organisation: &str) -> String {
    let name = format!("{} {}", first_name.trim(), last_name.trim());
    let name = name.trim();
    if name.is_empty() {
        organisation.trim().to_owned()
    } else {
        name.to_owned()
    }
}

/// The address block of a contact, if it has one that fits the envelope.
pub fn block(
    first_name: &str,
    last_name: &str,
    organisation: &str,
    address: &AddressInput,
) -> Result<Option<Vec<String>>, String> {
    match address.parse() {
        Ok(None) => Ok(None),
        Ok(Some(a)) => a
            .block(&recipient(first_name, last_name, organisation))
            .map(Some),
        Err(problems) => Err(problems
            .into_iter()
            .map(|(_, m)| m)
            .collect::<Vec<_>>()
            .join(" ")),
    }
}

const MEMBERS: &str = "SELECT c.id, c.email, c.first_name, c.last_name, \
        coalesce(o.name, '') AS organisation, c.status, c.deceased, \
        c.no_letters_at IS NOT NULL AS no_letters, \
        EXISTS (SELECT 1 FROM suppressions s WHERE s.email = lower(c.email)) AS suppressed, \
        c.address_complement, c.address_building, c.address_street, c.address_locality, \
        c.postcode, c.postal_town, c.country \
    FROM contacts c LEFT JOIN organisations o ON o.id = c.organisation_id \
    WHERE EXISTS (SELECT 1 FROM list_members m JOIN campaign_lists cl ON cl.list_id = m.list_id \
                  WHERE cl.campaign_id = $1 AND m.contact_id = c.id) \
    ORDER BY c.id";

fn members(conn: &mut PgConnection, campaign_id: i64) -> QueryResult<Vec<Member>> {
    diesel::sql_query(MEMBERS)
        .bind::<BigInt, _>(campaign_id)
        .load(conn)
}

/// Sorts the campaign's members into who gets a letter and who does not (and why).
fn sort_members(members: Vec<Member>) -> (Vec<Member>, Production) {
    let mut report = Production::default();
    let mut chosen = Vec::with_capacity(members.len());
    for m in members {
        if m.status != ContactStatus::Active.code() || m.suppressed {
            report.unsubscribed += 1;
        } else if m.deceased {
            report.deceased += 1;
        } else if m.no_letters {
            report.no_letters += 1;
        } else {
            match block(
                &m.first_name,
                &m.last_name,
                &m.organisation,
                &m.address.input(),
            ) {
                Ok(None) => report.no_address += 1,
                Err(_) => report.invalid_address += 1,
                Ok(Some(_)) => {
                    report.letters += 1;
                    chosen.push(m);
                }
            }
        }
    }
    (chosen, report)
}

/// What a production would give now (shown on the button before it is pressed).
pub fn forecast(conn: &mut PgConnection, campaign_id: i64) -> QueryResult<Production> {
    Ok(sort_members(members(conn, campaign_id)?).1)
}

/// Produces the letters of a draft campaign: one run, one delivery per contact who gets a
/// letter, each with a fresh personal code; the campaign is then finished. Once only.
pub fn produce(
    conn: &mut PgConnection,
    campaign_id: i64,
    now: DateTime<Utc>,
    actor: i64,
) -> Result<Production, LetterError> {
    conn.transaction(|conn| {
        let status = lock(conn, campaign_id)?;
        if status != CampaignStatus::Draft {
            return Err(LetterError::AlreadyProduced);
        }
        let (chosen, report) = sort_members(members(conn, campaign_id)?);
        let report_json = serde_json::to_string(&report).unwrap_or_default();
        let run_id: i64 = diesel::insert_into(campaign_runs::table)
            .values((
                campaign_runs::campaign_id.eq(campaign_id),
                campaign_runs::scheduled_for.eq(now),
                campaign_runs::status.eq(RunStatus::Done),
                campaign_runs::recipients.eq(i32::try_from(report.letters).unwrap_or(i32::MAX)),
                campaign_runs::next_slot_at.eq(now),
                campaign_runs::started_at.eq(now),
                campaign_runs::finished_at.eq(now),
                campaign_runs::letter_report.eq(&report_json),
            ))
            .returning(campaign_runs::id)
            .get_result(conn)?;
        let contact_ids: Vec<i64> = chosen.iter().map(|m| m.id).collect();
        let emails: Vec<Option<&str>> = chosen.iter().map(|m| m.email.as_deref()).collect();
        // 40 random bits per code: a collision with the codes already given is rare but
        // possible; the unique index refuses it and new codes are drawn (in a savepoint).
        let mut attempt = 0;
        loop {
            attempt += 1;
            let codes: Vec<String> = {
                let mut rng = rand::thread_rng();
                let mut seen = std::collections::HashSet::with_capacity(chosen.len());
                let mut codes = Vec::with_capacity(chosen.len());
                while codes.len() < chosen.len() {
                    let c = code::generate(&mut rng);
                    if seen.insert(c.clone()) {
                        codes.push(c);
                    }
                }
                codes
            };
            let inserted = conn.transaction(|conn| {
                diesel::sql_query(
                    "INSERT INTO deliveries (run_id, contact_id, email, status, next_attempt_at, \
                         sent_at, updated_at, letter_code) \
                     SELECT $1, v.contact_id, v.email, $2, $3, $3, $3, v.code \
                     FROM unnest($4::bigint[], $5::text[], $6::text[]) AS v(contact_id, email, code)",
                )
                .bind::<BigInt, _>(run_id)
                .bind::<Text, _>(DeliveryStatus::Sent)
                .bind::<Timestamptz, _>(now)
                .bind::<Array<BigInt>, _>(&contact_ids)
                .bind::<Array<diesel::sql_types::Nullable<Text>>, _>(&emails)
                .bind::<Array<Text>, _>(&codes)
                .execute(conn)
            });
            match inserted {
                Ok(_) => break,
                Err(diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::UniqueViolation,
                    info,
                )) if attempt < 5 && info.constraint_name() == Some("deliveries_letter_code_key") => {
                    continue
                }
                Err(e) => return Err(e.into()),
            }
        }
        let (first, last): (Option<i64>, Option<i64>) = deliveries::table
            .filter(deliveries::run_id.eq(run_id))
            .select((
                diesel::dsl::min(deliveries::id),
                diesel::dsl::max(deliveries::id),
            ))
            .get_result(conn)?;
        // Nothing for a claim to walk: the cursor is at the end already.
        diesel::update(campaign_runs::table.find(run_id))
            .set((
                campaign_runs::first_delivery_id.eq(first.unwrap_or(0)),
                campaign_runs::last_delivery_id.eq(last.unwrap_or(0)),
                campaign_runs::claim_cursor.eq(last.unwrap_or(0)),
            ))
            .execute(conn)?;
        diesel::update(campaigns::table.find(campaign_id))
            .set((
                campaigns::status.eq(CampaignStatus::Finished),
                campaigns::updated_at.eq(now),
            ))
            .execute(conn)?;
        audit(
            conn,
            Some(actor),
            "campaign.letters",
            "campaign",
            Some(campaign_id),
            &format!("{} courrier(s) produit(s)", report.letters),
        )?;
        Ok(report)
    })
}

/// The run of a produced letter campaign: when, and its report.
#[derive(Debug, Clone)]
pub struct LetterRun {
    pub id: i64,
    pub produced_at: DateTime<Utc>,
    pub report: Production,
}

pub fn run_of(conn: &mut PgConnection, campaign_id: i64) -> QueryResult<Option<LetterRun>> {
    let found: Option<(i64, DateTime<Utc>, Option<String>)> = campaign_runs::table
        .filter(campaign_runs::campaign_id.eq(campaign_id))
        .select((
            campaign_runs::id,
            campaign_runs::scheduled_for,
            campaign_runs::letter_report,
        ))
        .order(campaign_runs::id)
        .first(conn)
        .optional()?;
    Ok(found.map(|(id, produced_at, report)| LetterRun {
        id,
        produced_at,
        report: report
            .and_then(|r| serde_json::from_str(&r).ok())
            .unwrap_or_default(),
    }))
}

// ---------------------------------------------------------------------------------------------
// Codes: the short link and « ne plus écrire »

/// The letter a code stands for.
#[derive(Debug, Clone, Copy)]
pub struct CodeTarget {
    pub delivery_id: i64,
    pub campaign_id: i64,
    pub contact_id: Option<i64>,
}

pub fn by_code(conn: &mut PgConnection, code: &str) -> QueryResult<Option<CodeTarget>> {
    deliveries::table
        .inner_join(campaign_runs::table)
        .filter(deliveries::letter_code.eq(code))
        .select((
            deliveries::id,
            campaign_runs::campaign_id,
            deliveries::contact_id,
        ))
        .first::<(i64, i64, Option<i64>)>(conn)
        .optional()
        .map(|f| {
            f.map(|(delivery_id, campaign_id, contact_id)| CodeTarget {
                delivery_id,
                campaign_id,
                contact_id,
            })
        })
}

/// Whether the contact of a letter already asked to receive no more letters.
pub fn stopped(conn: &mut PgConnection, contact_id: i64) -> QueryResult<bool> {
    use crate::db::schema::contacts;
    Ok(contacts::table
        .find(contact_id)
        .select(contacts::no_letters_at.is_not_null())
        .first::<bool>(conn)
        .optional()?
        .unwrap_or(false))
}

/// « Ne plus m'écrire » from a letter's code page: recorded on the contact (once; the first
/// date is kept) and in the journal. False when the letter has no contact any more.
pub fn stop_letters(
    conn: &mut PgConnection,
    target: CodeTarget,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    use crate::db::schema::contacts;
    let Some(contact_id) = target.contact_id else {
        return Ok(false);
    };
    conn.transaction(|conn| {
        let n = diesel::update(
            contacts::table
                .find(contact_id)
                .filter(contacts::no_letters_at.is_null()),
        )
        .set((
            contacts::no_letters_at.eq(now),
            contacts::updated_at.eq(now),
        ))
        .execute(conn)?;
        if n == 1 {
            audit(
                conn,
                None,
                "contact.no_letters",
                "contact",
                Some(contact_id),
                &format!(
                    "demandé depuis un courrier de la campagne n° {}",
                    target.campaign_id
                ),
            )?;
        }
        let exists: bool = diesel::select(diesel::dsl::exists(contacts::table.find(contact_id)))
            .get_result(conn)?;
        Ok(exists)
    })
}
