//! Empty variables: how many recipients would get a template's variable empty (a contact
//! without a first name makes « {{prenom}}, le Gers recrute… » read « , le Gers recrute… »),
//! counted over a campaign's recipients or over every contact that can be mailed, with what
//! the subject then looks like, for the template's preview and the campaign's page.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};
use serde::Serialize;

use crate::campaigns::library::MailTemplate;
use crate::campaigns::template::{Compiled, Personalisation};
use crate::db::enums::ContactStatus;
use crate::domain::french;

/// A variable the template uses and that some recipients leave empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EmptyVariable {
    pub variable: &'static str,
    pub count: i64,
    /// In French: how many, and what it does to the message.
    pub message: String,
}

/// The variables a contact may leave empty, what lacking it is called (singular, plural).
const OPTIONAL: [(&str, &str, &str); 5] = [
    ("prenom", "n'a pas de prénom", "n'ont pas de prénom"),
    ("nom", "n'a pas de nom", "n'ont pas de nom"),
    (
        "nom_complet",
        "n'a ni prénom ni nom",
        "n'ont ni prénom ni nom",
    ),
    (
        "organisation",
        "n'a pas d'organisation",
        "n'ont pas d'organisation",
    ),
    ("ville", "n'a pas de ville", "n'ont pas de ville"),
];

/// Whether `source` names `variable` inside a Handlebars expression (`{{prenom}}`,
/// `{{#if prenom}}`…).
pub fn uses(source: &str, variable: &str) -> bool {
    let mut rest = source;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        let inside = &after[..end];
        if inside
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .any(|token| token == variable)
        {
            return true;
        }
        rest = &after[end + 2..];
    }
    false
}

#[derive(QueryableByName)]
struct Blanks {
    #[diesel(sql_type = BigInt)]
    prenom: i64,
    #[diesel(sql_type = BigInt)]
    nom: i64,
    #[diesel(sql_type = BigInt)]
    nom_complet: i64,
    #[diesel(sql_type = BigInt)]
    organisation: i64,
    #[diesel(sql_type = BigInt)]
    ville: i64,
}

/// Counts, per optional variable, the recipients who lack it: those of `campaign` (its lists'
/// active contacts, one per address, without suppressed addresses, as a run would have them),
/// or every active contact not suppressed when `campaign` is None.
fn count_blanks(conn: &mut PgConnection, campaign: Option<i64>) -> QueryResult<Blanks> {
    // One contact per address (unique index on lower(email)): no DISTINCT needed. The lists'
    // condition only when there is a campaign: an `OR` would keep the planner from a semi-join.
    let of_campaign = if campaign.is_some() {
        "AND EXISTS (SELECT 1 FROM list_members m \
                     JOIN campaign_lists cl ON cl.list_id = m.list_id \
                     WHERE m.contact_id = c.id AND cl.campaign_id = $2)"
    } else {
        "AND $2::int8 IS NULL"
    };
    diesel::sql_query(format!(
        "SELECT count(*) FILTER (WHERE btrim(c.first_name) = '') AS prenom, \
                count(*) FILTER (WHERE btrim(c.last_name) = '') AS nom, \
                count(*) FILTER (WHERE btrim(c.first_name) = '' AND btrim(c.last_name) = '') \
                  AS nom_complet, \
                count(*) FILTER (WHERE c.organisation_id IS NULL) AS organisation, \
                count(*) FILTER (WHERE btrim(c.city) = '') AS ville \
         FROM contacts c \
         WHERE c.status = $1 AND c.email IS NOT NULL \
           AND NOT EXISTS (SELECT 1 FROM suppressions s WHERE s.email = lower(c.email)) \
           {of_campaign}"
    ))
    .bind::<Text, _>(ContactStatus::Active)
    .bind::<Nullable<BigInt>, _>(campaign)
    .get_result(conn)
}

/// The sample values with `variable` left empty.
fn without(variable: &str, public_url: &str) -> Personalisation {
    let s = Personalisation::sample(public_url);
    let (first, last, org, city) = match variable {
        "prenom" => (
            "",
            s.nom.as_str(),
            s.organisation.as_str(),
            s.ville.as_str(),
        ),
        "nom" => (
            s.prenom.as_str(),
            "",
            s.organisation.as_str(),
            s.ville.as_str(),
        ),
        "nom_complet" => ("", "", s.organisation.as_str(), s.ville.as_str()),
        "organisation" => (s.prenom.as_str(), s.nom.as_str(), "", s.ville.as_str()),
        _ => (
            s.prenom.as_str(),
            s.nom.as_str(),
            s.organisation.as_str(),
            "",
        ),
    };
    Personalisation::new(
        first,
        last,
        org,
        city,
        s.lien_candidature.clone(),
        s.lien_desinscription.clone(),
    )
}

/// The beginning of a subject, as the warning quotes it.
fn beginning(subject: &str) -> String {
    const SHOWN: usize = 40;
    if subject.chars().count() <= SHOWN {
        subject.to_owned()
    } else {
        let cut: String = subject.chars().take(SHOWN).collect();
        format!("{}…", cut.trim_end())
    }
}

/// The variables `template` uses that some recipients lack (those of `campaign`, or every
/// contact that can be mailed), each with its count and what it does to the message. Empty
/// when nobody lacks one, or when the template cannot be rendered (its page says so).
pub fn empty_variables(
    conn: &mut PgConnection,
    template: &MailTemplate,
    campaign: Option<i64>,
    public_url: &str,
) -> QueryResult<Vec<EmptyVariable>> {
    let source = template.source();
    let all = format!(
        "{}\n{}\n{}",
        source.subject, source.body_text, source.body_html
    );
    let used: Vec<_> = OPTIONAL.iter().filter(|(v, _, _)| uses(&all, v)).collect();
    if used.is_empty() {
        return Ok(Vec::new());
    }
    let Ok(compiled) = Compiled::check(&source, public_url) else {
        return Ok(Vec::new());
    };
    let blanks = count_blanks(conn, campaign)?;
    let mut out = Vec::new();
    for (variable, one, many) in used {
        let count = match *variable {
            "prenom" => blanks.prenom,
            "nom" => blanks.nom,
            "nom_complet" => blanks.nom_complet,
            "organisation" => blanks.organisation,
            _ => blanks.ville,
        };
        if count == 0 {
            continue;
        }
        let who = format!(
            "{} {}",
            french::count_label(count, "contact", "contacts"),
            if count <= 1 { one } else { many }
        );
        let consequence = if uses(&source.subject, variable) {
            match compiled.render_parts(&without(variable, public_url)) {
                Ok(parts) => format!("l'objet commencera par « {} »", beginning(&parts.subject)),
                Err(_) => continue,
            }
        } else {
            format!(
                "la variable {{{{{variable}}}}} sera vide dans le message : vérifiez qu'il se lit \
                 bien sans elle (ou écrivez {{{{#if {variable}}}}}…{{{{else}}}}…{{{{/if}}}})"
            )
        };
        out.push(EmptyVariable {
            variable,
            count,
            message: format!("{who} : {consequence}."),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_variable_is_found_inside_any_expression_only() {
        assert!(uses("{{prenom}}, le Gers recrute", "prenom"));
        assert!(uses("{{#if prenom}}{{prenom}}, {{/if}}le Gers", "prenom"));
        assert!(uses("{{ prenom }}", "prenom"));
        assert!(!uses("prenom, le Gers recrute", "prenom"));
        assert!(!uses("{{nom_complet}}", "nom"));
        assert!(uses("{{nom_complet}}", "nom_complet"));
        assert!(!uses("{{prenom", "prenom"));
    }

    #[test]
    fn a_long_subject_is_quoted_by_its_beginning() {
        assert_eq!(beginning(", le Gers recrute"), ", le Gers recrute");
        assert_eq!(
            beginning(", le Gers recrute des médecins salariés dans ses centres"),
            ", le Gers recrute des médecins salariés…"
        );
    }
}
