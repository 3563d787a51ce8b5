//! The library of campaign templates (table `mail_templates`), and the read models the campaign
//! pages need: the lists a campaign can go to, with how many people would receive it, the
//! campaigns' overview, and the contact chosen for a preview.
//!
//! Every template saved goes through [`Compiled::check`]: a template that would fail when sent
//! (unknown variable, broken block) is refused here with the reason, at its field. A template
//! used by a campaign that is sending (« en cours » or « en pause ») cannot change: its
//! recipients would get two versions of one mailing.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Text, Timestamptz};
use serde::{Deserialize, Serialize};

use super::runs::{self, Campaign};
use super::template::{Compiled, TemplateSource};
use crate::db::enums::{CampaignStatus, RunStatus};
use crate::db::lower;
use crate::db::schema::{
    campaign_lists, campaigns, contact_lists, contacts, mail_templates, organisations,
};
use crate::domain::FieldErrors;
use crate::mail::outbox::{self, NewOutboundEmail};
use crate::staff::audit::audit;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = mail_templates, check_for_backend(diesel::pg::Pg))]
pub struct MailTemplate {
    pub id: i64,
    pub name: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    pub updated_by: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub preheader: String,
}

impl MailTemplate {
    pub fn source(&self) -> TemplateSource {
        TemplateSource {
            subject: self.subject.clone(),
            body_text: self.body_text.clone(),
            body_html: self.body_html.clone(),
            preheader: self.preheader.clone(),
        }
    }
}

/// The template form as typed, shown again when something is wrong.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct TemplateForm {
    pub nom: String,
    pub objet: String,
    pub texte: String,
    pub html: String,
    /// The preview text (preheader).
    pub apercu: String,
}

impl TemplateForm {
    pub fn from_template(t: &MailTemplate) -> TemplateForm {
        TemplateForm {
            nom: t.name.clone(),
            objet: t.subject.clone(),
            texte: t.body_text.clone(),
            html: t.body_html.clone(),
            apercu: t.preheader.clone(),
        }
    }

    fn source(&self) -> TemplateSource {
        TemplateSource {
            subject: self.objet.clone(),
            body_text: self.texte.clone(),
            body_html: self.html.clone(),
            preheader: self.apercu.clone(),
        }
    }
}

/// The form's fields in page order, with their labels (for the error summary).
pub const FORM_FIELDS: &[(&str, &str)] = &[
    ("nom", "Nom du modèle"),
    ("objet", "Objet"),
    ("apercu", "Texte d'aperçu"),
    ("texte", "Texte du message"),
    ("html", "Version HTML"),
];

const MAX_NAME: usize = 200;
const MAX_SUBJECT: usize = 500;
const MAX_TEXT: usize = 100_000;
const MAX_HTML: usize = 200_000;
/// The column's CHECK (migration 000032).
const MAX_PREHEADER: usize = 200;

/// A campaign that uses a template.
#[derive(Debug, Clone, Serialize)]
pub struct CampaignRef {
    pub id: i64,
    pub name: String,
    pub status: CampaignStatus,
    pub status_label: &'static str,
}

impl CampaignRef {
    fn new(id: i64, name: String, status: CampaignStatus) -> CampaignRef {
        CampaignRef {
            id,
            name,
            status,
            status_label: status.label(),
        }
    }

    /// Sending: its template must not change under it.
    fn is_sending(&self) -> bool {
        matches!(
            self.status,
            CampaignStatus::Running | CampaignStatus::Paused
        )
    }
}

/// Why a template was not saved (or deleted).
#[derive(Debug)]
pub enum SaveError {
    NotFound,
    /// Per-field messages.
    Invalid(FieldErrors),
    /// The template is used by these campaigns; the message says what to do.
    InUse(String),
}

/// What a valid form gives.
struct Checked {
    name: String,
    source: TemplateSource,
}

/// Checks the form without the database: lengths, and the template itself (compiled and
/// rendered with sample values, in strict mode).
fn check(form: &TemplateForm, public_url: &str) -> Result<Checked, FieldErrors> {
    let mut errors = FieldErrors::default();
    let name = form.nom.trim();
    if name.is_empty() {
        errors.add(
            "nom",
            "Donnez un nom au modèle, par exemple « Internes – rentrée 2027 ».",
        );
    } else if name.chars().count() > MAX_NAME {
        errors.add("nom", format!("{MAX_NAME} caractères au plus pour le nom."));
    }
    let too_long = [
        ("objet", &form.objet, MAX_SUBJECT),
        ("texte", &form.texte, MAX_TEXT),
        ("html", &form.html, MAX_HTML),
        ("apercu", &form.apercu, MAX_PREHEADER),
    ];
    for (field, value, max) in too_long {
        if value.chars().count() > max {
            errors.add(
                field,
                format!("Ce texte est trop long : {max} caractères au plus."),
            );
        }
    }
    if let Err(e) = Compiled::check(&form.source(), public_url) {
        for (field, message) in e.0 {
            errors.add(field, capitalise(&message));
        }
    }
    if errors.is_empty() {
        Ok(Checked {
            name: name.to_owned(),
            source: TemplateSource {
                subject: form.objet.trim().to_owned(),
                body_text: form.texte.trim_end().to_owned(),
                body_html: form.html.trim().to_owned(),
                preheader: crate::campaigns::template::preheader(&form.apercu),
            },
        })
    } else {
        Err(errors)
    }
}

/// « la variable … » → « La variable … ».
fn capitalise(message: &str) -> String {
    let mut chars = message.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn name_taken_message(name: &str) -> String {
    format!("Un modèle s'appelle déjà « {name} » : choisissez un autre nom.")
}

fn name_taken(conn: &mut PgConnection, name: &str, except: Option<i64>) -> QueryResult<bool> {
    let mut query = mail_templates::table
        .filter(lower(mail_templates::name).eq(lower(name)))
        .select(mail_templates::id)
        .into_boxed();
    if let Some(id) = except {
        query = query.filter(mail_templates::id.ne(id));
    }
    Ok(query.first::<i64>(conn).optional()?.is_some())
}

fn is_unique_violation(e: &diesel::result::Error) -> bool {
    matches!(
        e,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}

pub fn find(conn: &mut PgConnection, id: i64) -> QueryResult<Option<MailTemplate>> {
    mail_templates::table
        .find(id)
        .select(MailTemplate::as_select())
        .first(conn)
        .optional()
}

/// Every template, by name.
pub fn list(conn: &mut PgConnection) -> QueryResult<Vec<MailTemplate>> {
    mail_templates::table
        .select(MailTemplate::as_select())
        .order((lower(mail_templates::name), mail_templates::id))
        .load(conn)
}

/// The campaigns using a template, newest first.
pub fn campaigns_using(conn: &mut PgConnection, template_id: i64) -> QueryResult<Vec<CampaignRef>> {
    let rows: Vec<(i64, String, CampaignStatus)> = campaigns::table
        .filter(campaigns::template_id.eq(template_id))
        .select((campaigns::id, campaigns::name, campaigns::status))
        .order(campaigns::created_at.desc())
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, name, status)| CampaignRef::new(id, name, status))
        .collect())
}

/// A template and the campaigns that use it; None when it does not exist.
pub fn find_with_campaigns(
    conn: &mut PgConnection,
    id: i64,
) -> QueryResult<Option<(MailTemplate, Vec<CampaignRef>)>> {
    let Some(template) = find(conn, id)? else {
        return Ok(None);
    };
    Ok(Some((template, campaigns_using(conn, id)?)))
}

/// A template with the campaigns that use it (the library's list).
#[derive(Debug, Clone)]
pub struct LibraryEntry {
    pub template: MailTemplate,
    pub campaigns: Vec<CampaignRef>,
}

pub fn list_with_campaigns(conn: &mut PgConnection) -> QueryResult<Vec<LibraryEntry>> {
    let templates = list(conn)?;
    let uses: Vec<(i64, i64, String, CampaignStatus)> = campaigns::table
        .filter(campaigns::template_id.is_not_null())
        .select((
            campaigns::template_id.assume_not_null(),
            campaigns::id,
            campaigns::name,
            campaigns::status,
        ))
        .order(campaigns::created_at.desc())
        .load(conn)?;
    Ok(templates
        .into_iter()
        .map(|template| {
            let campaigns = uses
                .iter()
                .filter(|(t, ..)| *t == template.id)
                .map(|(_, id, name, status)| CampaignRef::new(*id, name.clone(), *status))
                .collect();
            LibraryEntry {
                template,
                campaigns,
            }
        })
        .collect())
}

/// A new template; its id, or why it was refused.
pub fn create(
    conn: &mut PgConnection,
    actor: Option<i64>,
    form: &TemplateForm,
    public_url: &str,
) -> QueryResult<Result<i64, SaveError>> {
    let checked = match check(form, public_url) {
        Ok(c) => c,
        Err(errors) => return Ok(Err(SaveError::Invalid(errors))),
    };
    let taken = || {
        let mut errors = FieldErrors::default();
        errors.add("nom", name_taken_message(&checked.name));
        Ok(Err(SaveError::Invalid(errors)))
    };
    let result = conn.transaction(|conn| {
        if name_taken(conn, &checked.name, None)? {
            return Ok(None);
        }
        let id: i64 = diesel::insert_into(mail_templates::table)
            .values((
                mail_templates::name.eq(&checked.name),
                mail_templates::subject.eq(&checked.source.subject),
                mail_templates::body_text.eq(&checked.source.body_text),
                mail_templates::body_html.eq(&checked.source.body_html),
                mail_templates::preheader.eq(&checked.source.preheader),
                mail_templates::updated_by.eq(actor),
            ))
            .returning(mail_templates::id)
            .get_result(conn)?;
        audit(
            conn,
            actor,
            "mail_template.create",
            "mail_template",
            Some(id),
            &checked.name,
        )?;
        Ok(Some(id))
    });
    match result {
        Ok(Some(id)) => Ok(Ok(id)),
        Ok(None) => taken(),
        // Two people creating the same name at once: the unique index decides.
        Err(e) if is_unique_violation(&e) => taken(),
        Err(e) => Err(e),
    }
}

/// The campaigns sending with this template, locked against a change of status until the
/// transaction ends (a campaign cannot start sending while its template is being changed).
fn sending_campaigns(conn: &mut PgConnection, template_id: i64) -> QueryResult<Vec<CampaignRef>> {
    let rows: Vec<(i64, String, CampaignStatus)> = campaigns::table
        .filter(campaigns::template_id.eq(template_id))
        .select((campaigns::id, campaigns::name, campaigns::status))
        .order(campaigns::id)
        .for_share()
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, name, status)| CampaignRef::new(id, name, status))
        .collect())
}

fn quoted_names(campaigns: &[&CampaignRef]) -> String {
    campaigns
        .iter()
        .map(|c| format!("« {} » ({})", c.name, c.status_label.to_lowercase()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Changes a template, unless a campaign is sending with it.
pub fn update(
    conn: &mut PgConnection,
    actor: Option<i64>,
    id: i64,
    form: &TemplateForm,
    public_url: &str,
) -> QueryResult<Result<(), SaveError>> {
    let checked = match check(form, public_url) {
        Ok(c) => c,
        Err(errors) => return Ok(Err(SaveError::Invalid(errors))),
    };
    let result = conn.transaction(|conn| {
        let exists = mail_templates::table
            .find(id)
            .select(mail_templates::id)
            .for_update()
            .first::<i64>(conn)
            .optional()?;
        if exists.is_none() {
            return Ok(Err(SaveError::NotFound));
        }
        let using = sending_campaigns(conn, id)?;
        let sending: Vec<&CampaignRef> = using.iter().filter(|c| c.is_sending()).collect();
        if !sending.is_empty() {
            return Ok(Err(SaveError::InUse(format!(
                "Ce modèle sert à une campagne en cours d'envoi : {}. Il ne peut pas changer \
                 tant qu'elle n'est pas terminée ou annulée, sinon ses destinataires recevraient \
                 deux versions du message. Pour préparer une autre version, créez un nouveau \
                 modèle.",
                quoted_names(&sending)
            ))));
        }
        if name_taken(conn, &checked.name, Some(id))? {
            let mut errors = FieldErrors::default();
            errors.add("nom", name_taken_message(&checked.name));
            return Ok(Err(SaveError::Invalid(errors)));
        }
        diesel::update(mail_templates::table.find(id))
            .set((
                mail_templates::name.eq(&checked.name),
                mail_templates::subject.eq(&checked.source.subject),
                mail_templates::body_text.eq(&checked.source.body_text),
                mail_templates::body_html.eq(&checked.source.body_html),
                mail_templates::preheader.eq(&checked.source.preheader),
                mail_templates::updated_by.eq(actor),
                mail_templates::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)?;
        audit(
            conn,
            actor,
            "mail_template.update",
            "mail_template",
            Some(id),
            &checked.name,
        )?;
        Ok(Ok(()))
    });
    match result {
        Err(e) if is_unique_violation(&e) => {
            let mut errors = FieldErrors::default();
            errors.add("nom", name_taken_message(&checked.name));
            Ok(Err(SaveError::Invalid(errors)))
        }
        other => other,
    }
}

/// Creates (`id` None) or changes a template; its id.
pub fn save(
    conn: &mut PgConnection,
    actor: Option<i64>,
    id: Option<i64>,
    form: &TemplateForm,
    public_url: &str,
) -> QueryResult<Result<i64, SaveError>> {
    Ok(match id {
        None => create(conn, actor, form, public_url)?,
        Some(id) => update(conn, actor, id, form, public_url)?.map(|()| id),
    })
}

/// Deletes a template no campaign uses (campaigns keep theirs: the foreign key restricts).
pub fn delete(
    conn: &mut PgConnection,
    actor: Option<i64>,
    id: i64,
) -> QueryResult<Result<String, SaveError>> {
    conn.transaction(|conn| {
        let Some(template) = mail_templates::table
            .find(id)
            .select(MailTemplate::as_select())
            .for_update()
            .first(conn)
            .optional()?
        else {
            return Ok(Err(SaveError::NotFound));
        };
        let using = sending_campaigns(conn, id)?;
        if !using.is_empty() {
            let all: Vec<&CampaignRef> = using.iter().collect();
            return Ok(Err(SaveError::InUse(format!(
                "Ce modèle sert à {} : il ne peut pas être supprimé tant qu'une campagne \
                 l'utilise, pour que chacune garde trace du message envoyé.",
                quoted_names(&all)
            ))));
        }
        diesel::delete(mail_templates::table.find(id)).execute(conn)?;
        audit(
            conn,
            actor,
            "mail_template.delete",
            "mail_template",
            Some(id),
            &template.name,
        )?;
        Ok(Ok(template.name))
    })
}

// ---------------------------------------------------------------------------------------------
// Preview

/// The contact whose values fill a preview.
#[derive(Debug, Clone, Queryable)]
pub struct PreviewContact {
    pub id: i64,
    pub email: Option<String>,
    pub first_name: String,
    pub last_name: String,
    pub organisation: Option<String>,
    pub city: String,
    /// The contact kind's code (`ContactKind`).
    pub kind: String,
}

type PreviewColumns = (
    contacts::id,
    contacts::email,
    contacts::first_name,
    contacts::last_name,
    diesel::dsl::Nullable<organisations::name>,
    contacts::city,
    contacts::kind,
);

fn preview_columns() -> PreviewColumns {
    (
        contacts::id,
        contacts::email,
        contacts::first_name,
        contacts::last_name,
        organisations::name.nullable(),
        contacts::city,
        contacts::kind,
    )
}

pub fn preview_contact(conn: &mut PgConnection, id: i64) -> QueryResult<Option<PreviewContact>> {
    contacts::table
        .left_join(organisations::table)
        .filter(contacts::id.eq(id))
        .select(preview_columns())
        .first(conn)
        .optional()
}

/// The contact with this address (compared case-insensitively, as contacts are unique).
pub fn preview_contact_by_email(
    conn: &mut PgConnection,
    email: &str,
) -> QueryResult<Option<PreviewContact>> {
    contacts::table
        .left_join(organisations::table)
        .filter(crate::db::lower_opt(contacts::email).eq(lower(email.trim()).nullable()))
        .select(preview_columns())
        .first(conn)
        .optional()
}

/// Queues a test message through the outbox, and records who sent it (not to whom: the audit
/// log is no place for addresses).
pub fn queue_test(
    conn: &mut PgConnection,
    actor: Option<i64>,
    template_id: i64,
    template_name: &str,
    email: NewOutboundEmail,
) -> QueryResult<()> {
    conn.transaction(|conn| {
        outbox::enqueue(conn, &[email])?;
        audit(
            conn,
            actor,
            "mail_template.test_send",
            "mail_template",
            Some(template_id),
            template_name,
        )
    })
}

// ---------------------------------------------------------------------------------------------
// Audiences offered to a campaign

/// A list, with the number of its members a campaign would reach today: active contacts whose
/// address is not suppressed.
#[derive(Debug, Clone, Serialize, QueryableByName)]
pub struct AudienceList {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Text)]
    pub name: String,
    #[diesel(sql_type = BigInt)]
    pub active: i64,
}

pub fn audience_lists(conn: &mut PgConnection) -> QueryResult<Vec<AudienceList>> {
    diesel::sql_query(
        "SELECT l.id, l.name, count(c.id) FILTER (WHERE c.status = 'active' \
             AND NOT EXISTS (SELECT 1 FROM suppressions s WHERE s.email = lower(c.email))) AS active \
         FROM contact_lists l \
         LEFT JOIN list_members m ON m.list_id = l.id \
         LEFT JOIN contacts c ON c.id = m.contact_id \
         GROUP BY l.id, l.name ORDER BY lower(l.name), l.id",
    )
    .load(conn)
}

/// The names of a campaign's lists.
pub fn list_names(conn: &mut PgConnection, campaign_id: i64) -> QueryResult<Vec<String>> {
    campaign_lists::table
        .inner_join(contact_lists::table)
        .filter(campaign_lists::campaign_id.eq(campaign_id))
        .select(contact_lists::name)
        .order(contact_lists::name)
        .load(conn)
}

// ---------------------------------------------------------------------------------------------
// Campaigns' overview

/// The latest run of a campaign, with its counts.
#[derive(Debug, Clone, QueryableByName)]
pub struct LastRun {
    #[diesel(sql_type = BigInt)]
    pub campaign_id: i64,
    #[diesel(sql_type = Timestamptz)]
    pub scheduled_for: DateTime<Utc>,
    #[diesel(sql_type = Text)]
    pub status: RunStatus,
    #[diesel(sql_type = Integer)]
    pub recipients: i32,
    #[diesel(sql_type = BigInt)]
    pub sent: i64,
    #[diesel(sql_type = BigInt)]
    pub failed: i64,
    #[diesel(sql_type = BigInt)]
    pub pending: i64,
}

/// One line of the campaigns' list.
#[derive(Debug, Clone)]
pub struct CampaignRow {
    pub campaign: Campaign,
    pub template: String,
    pub lists: Vec<String>,
    pub last_run: Option<LastRun>,
}

pub fn overview(conn: &mut PgConnection) -> QueryResult<Vec<CampaignRow>> {
    let all = runs::list_all(conn)?;
    let templates: Vec<(i64, String)> = mail_templates::table
        .select((mail_templates::id, mail_templates::name))
        .load(conn)?;
    let lists: Vec<(i64, String)> = campaign_lists::table
        .inner_join(contact_lists::table)
        .select((campaign_lists::campaign_id, contact_lists::name))
        .order(contact_lists::name)
        .load(conn)?;
    let last_runs: Vec<LastRun> = diesel::sql_query(
        "SELECT DISTINCT ON (r.campaign_id) r.campaign_id, r.scheduled_for, r.status, r.recipients, \
            (SELECT count(*) FROM deliveries d WHERE d.run_id = r.id AND d.status = 'envoye') AS sent, \
            (SELECT count(*) FROM deliveries d WHERE d.run_id = r.id AND d.status = 'echec') AS failed, \
            (SELECT count(*) FROM deliveries d WHERE d.run_id = r.id AND d.status = 'en_attente') AS pending \
         FROM campaign_runs r ORDER BY r.campaign_id, r.scheduled_for DESC",
    )
    .load(conn)?;
    Ok(all
        .into_iter()
        .map(|campaign| CampaignRow {
            template: templates
                .iter()
                .find(|(id, _)| *id == campaign.template_id)
                .map(|(_, n)| n.clone())
                .unwrap_or_default(),
            lists: lists
                .iter()
                .filter(|(c, _)| *c == campaign.id)
                .map(|(_, n)| n.clone())
                .collect(),
            last_run: last_runs
                .iter()
                .find(|r| r.campaign_id == campaign.id)
                .cloned(),
            campaign,
        })
        .collect())
}

/// The campaign a run belongs to.
pub fn run_campaign(conn: &mut PgConnection, run_id: i64) -> QueryResult<Option<i64>> {
    use crate::db::schema::campaign_runs;
    campaign_runs::table
        .find(run_id)
        .select(campaign_runs::campaign_id)
        .first(conn)
        .optional()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(nom: &str, objet: &str, texte: &str, html: &str) -> TemplateForm {
        TemplateForm {
            nom: nom.into(),
            objet: objet.into(),
            texte: texte.into(),
            html: html.into(),
            apercu: String::new(),
        }
    }

    #[test]
    fn an_unknown_variable_is_reported_at_its_field_with_its_name() {
        let errors = check(
            &form("Internes", "Bonjour {{prenom}}", "Cher {{titre}}", ""),
            "https://x",
        )
        .err()
        .unwrap();
        let text = errors.0.get("texte").unwrap();
        assert!(text.starts_with("La variable « titre »"), "{text}");
        assert!(!errors.0.contains_key("objet"));
    }

    #[test]
    fn a_name_is_required_and_values_are_tidied() {
        let errors = check(&form("  ", "Objet", "Texte", ""), "https://x")
            .err()
            .unwrap();
        assert!(errors.0.contains_key("nom"));
        let ok = check(
            &form(" Internes ", " Objet ", "Texte\n\n", "  "),
            "https://x",
        )
        .ok()
        .unwrap();
        assert_eq!(ok.name, "Internes");
        assert_eq!(ok.source.subject, "Objet");
        assert_eq!(ok.source.body_text, "Texte");
        assert_eq!(ok.source.body_html, "");
    }
}
