//! The e-mail proposed when an application changes stage: one template per stage, editable by
//! admins, rendered for the candidate, then previewed and possibly edited by the recruiter. What
//! the recruiter confirms is sent as typed (never evaluated as a template again).

use diesel::prelude::*;
use serde::Serialize;
use serde_json::json;

use crate::config::Settings;
use crate::db::enums::Stage;
use crate::db::schema::{applications, candidates, positions, specialties, stage_email_templates};
use crate::mail::new_message_id;
use crate::mail::outbox::NewOutboundEmail;
use crate::templates::{self, RenderedEmail};

/// The variables a stage template may use, with what they hold (shown to admins).
pub const VARIABLES: &[(&str, &str)] = &[
    (
        "salutation",
        "« Docteur Martin » pour un médecin, sinon « Claire Martin » (après « Bonjour »)",
    ),
    ("prenom", "prénom du candidat"),
    ("nom", "nom du candidat"),
    ("civilite", "Madame, Monsieur ou vide"),
    ("specialite", "spécialité"),
    ("poste", "poste visé, ou « candidature spontanée »"),
    ("etape", "nom de la nouvelle étape"),
    ("service", "nom du service recruteur"),
    ("contact", "adresse de contact du service"),
    ("telephone", "téléphone du service"),
];

#[derive(Debug, Clone, Queryable, Serialize)]
pub struct StageTemplate {
    pub stage: String,
    pub subject: String,
    pub body: String,
}

pub fn template_for(conn: &mut PgConnection, stage: Stage) -> QueryResult<Option<StageTemplate>> {
    stage_email_templates::table
        .find(stage.code())
        .select((
            stage_email_templates::stage,
            stage_email_templates::subject,
            stage_email_templates::body,
        ))
        .first(conn)
        .optional()
}

pub fn all_templates(conn: &mut PgConnection) -> QueryResult<Vec<StageTemplate>> {
    let mut all: Vec<StageTemplate> = stage_email_templates::table
        .select((
            stage_email_templates::stage,
            stage_email_templates::subject,
            stage_email_templates::body,
        ))
        .load(conn)?;
    let rank = |code: &str| {
        Stage::ALL
            .iter()
            .position(|s| s.code() == code)
            .unwrap_or(99)
    };
    all.sort_by_key(|t| rank(&t.stage));
    Ok(all)
}

/// The candidate's e-mail address and the data a template is rendered with.
pub fn context(
    conn: &mut PgConnection,
    settings: &Settings,
    application_id: i64,
    stage: Stage,
) -> QueryResult<Option<(String, serde_json::Value)>> {
    /// E-mail, first name, civility, last name, specialty, position, situation, RPPS.
    type Row = (
        String,
        String,
        crate::db::enums::Civility,
        String,
        String,
        Option<String>,
        String,
        Option<String>,
    );
    let row: Option<Row> = applications::table
        .inner_join(candidates::table.inner_join(specialties::table))
        .left_join(positions::table)
        .filter(applications::id.eq(application_id))
        .select((
            candidates::email,
            candidates::first_name,
            candidates::civility,
            candidates::last_name,
            specialties::label,
            positions::title.nullable(),
            candidates::situation,
            candidates::rpps,
        ))
        .first(conn)
        .optional()?;
    Ok(row.map(
        |(email, first, civility, last, specialty, position, situation, rpps)| {
            let civilite = match civility {
                crate::db::enums::Civility::NotSaid => "",
                c => c.label(),
            };
            (
                email,
                json!({
                    "salutation": crate::domain::salutation(&first, &last, &situation, rpps.as_deref()),
                    "prenom": first,
                    "nom": last,
                    "civilite": civilite,
                    "specialite": specialty,
                    "poste": position.unwrap_or_else(|| "candidature spontanée".to_owned()),
                    "etape": stage.label(),
                    "service": settings.organisation.service,
                    "contact": settings.organisation.contact_email,
                    "telephone": settings.organisation.phone,
                }),
            )
        },
    ))
}

/// What is wrong with a stage template, and in which field (`objet` or `texte`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateProblem {
    pub field: &'static str,
    pub message: String,
}

impl std::fmt::Display for TemplateProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} : {}", self.field, self.message)
    }
}

/// Renders a subject and body template with `data` (within the bounds of
/// [`templates::guard`]); the error says why, in French, and in which field.
/// The stage e-mail proposed for review: the template rendered for the candidate, or empty
/// fields and a French sentence saying what is wrong when the template fails (the recruiter
/// then writes the e-mail).
pub fn proposed(
    template: Option<&StageTemplate>,
    data: &serde_json::Value,
) -> (String, String, Option<String>) {
    match template.map(|t| render(&t.subject, &t.body, data)) {
        Some(Ok((subject, body))) => (subject, body, None),
        Some(Err(e)) => (
            String::new(),
            String::new(),
            Some(format!(
                "Le modèle de cette étape est invalide ({e}) : écrivez le courriel vous-même ou \
                 demandez à un administrateur de le corriger."
            )),
        ),
        None => (String::new(), String::new(), None),
    }
}

pub fn render(
    subject: &str,
    body: &str,
    data: &serde_json::Value,
) -> Result<(String, String), TemplateProblem> {
    let t = templates::global();
    let subject = t
        .render_text_string(subject, data)
        .map_err(|e| TemplateProblem {
            field: "objet",
            message: explain(&e),
        })?;
    let body = t
        .render_text_string(body, data)
        .map_err(|e| TemplateProblem {
            field: "texte",
            message: explain(&e),
        })?;
    Ok((
        subject.split_whitespace().collect::<Vec<_>>().join(" "),
        body,
    ))
}

fn explain(e: &templates::guard::RenderFailure) -> String {
    let e = match e {
        templates::guard::RenderFailure::Bound(refusal) => return refusal.0.clone(),
        templates::guard::RenderFailure::Render(e) => e,
    };
    let text = e.to_string();
    if text.contains("strict mode") || text.contains("not found") {
        format!(
            "une variable n'existe pas ({text}). Variables possibles : {}",
            VARIABLES
                .iter()
                .map(|(v, _)| format!("{{{{{v}}}}}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    } else {
        format!("modèle invalide ({text})")
    }
}

/// Checks an admin's template against sample data: unknown variables, syntax errors,
/// inclusions, loops and too deep nesting are refused with the reason, at their field.
pub fn check_template(subject: &str, body: &str) -> Result<(), TemplateProblem> {
    let sample = json!({
        "salutation": "Docteur Martin", "prenom": "Claire", "nom": "Martin", "civilite": "Madame", "specialite": "Médecine générale",
        "poste": "candidature spontanée", "etape": "Entretien", "service": "CDS32",
        "contact": "recrutement@exemple.fr", "telephone": "05 00 00 00 00",
    });
    for (field, value, what) in [("objet", subject, "l'objet"), ("texte", body, "le texte")] {
        if value.trim().is_empty() {
            return Err(TemplateProblem {
                field,
                message: format!("{what} est obligatoire"),
            });
        }
    }
    render(subject, body, &sample).map(|_| ())
}

/// The message the recruiter confirmed, ready for the outbox (text as typed, HTML escaped).
pub fn confirmed_email(
    settings: &Settings,
    recipient: &str,
    subject: &str,
    body: &str,
) -> anyhow::Result<NewOutboundEmail> {
    let paragraphs: Vec<&str> = body
        .split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    let data = json!({
        "subject": subject.split_whitespace().collect::<Vec<_>>().join(" "),
        "body": body,
        "paragraphs": paragraphs,
        "org": settings.organisation,
    });
    let rendered: RenderedEmail = templates::global()
        .render_email("stage_message", &data)
        .map_err(|e| anyhow::anyhow!("rendering stage e-mail: {e}"))?;
    Ok(NewOutboundEmail::new(
        "stage_message",
        recipient,
        rendered,
        new_message_id(&settings.mail_domain()),
    ))
}

/// Saves an admin's edit of a stage template, with its line in the audit log.
pub fn save_template(
    conn: &mut PgConnection,
    stage: Stage,
    subject: &str,
    body: &str,
    actor: i64,
) -> QueryResult<usize> {
    let n = diesel::update(stage_email_templates::table.find(stage.code()))
        .set((
            stage_email_templates::subject.eq(subject),
            stage_email_templates::body.eq(body),
            stage_email_templates::updated_at.eq(chrono::Utc::now()),
            stage_email_templates::updated_by.eq(Some(actor)),
        ))
        .execute(conn)?;
    if n > 0 {
        crate::staff::audit::audit(
            conn,
            Some(actor),
            "modele_courriel",
            "stage_email_template",
            None,
            stage.code(),
        )?;
    }
    Ok(n)
}

/// What the preview of a move's e-mail shows: the stage's template, if any, and the
/// candidate's address with the data it is rendered with.
pub type Preview = (Option<StageTemplate>, Option<(String, serde_json::Value)>);

/// Checks a move against the application's current stage, then gathers its e-mail's preview.
/// Nothing is written.
pub fn preview(
    conn: &mut PgConnection,
    settings: &Settings,
    request: &super::MoveRequest,
) -> QueryResult<Result<Preview, super::MoveError>> {
    let Some(current) = super::current_stage(conn, request.application_id)? else {
        return Ok(Err(super::MoveError::NotFound));
    };
    if let Err(e) = super::check_move(current, request) {
        return Ok(Err(e));
    }
    let template = template_for(conn, request.to)?;
    let context = context(conn, settings, request.application_id, request.to)?;
    Ok(Ok((template, context)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_variables_are_refused_with_the_list_of_known_ones() {
        let e = check_template("Bonjour", "Bonjour {{prénom_inconnu}}").unwrap_err();
        assert_eq!(e.field, "texte");
        assert!(e.message.contains("{{prenom}}"), "{e}");
        assert!(check_template("Objet {{service}}", "Bonjour {{prenom}} {{nom}}").is_ok());
        assert!(check_template("Objet", "{{#if}}").is_err());
    }

    #[test]
    fn values_are_not_evaluated_as_templates() {
        let data = json!({ "prenom": "{{nom}}", "nom": "<b>" });
        let (_, body) = render("x", "Bonjour {{prenom}} {{nom}}", &data).unwrap();
        assert_eq!(body, "Bonjour {{nom}} <b>");
    }
}
