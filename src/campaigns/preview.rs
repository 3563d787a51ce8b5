//! A template as a recipient would get it, for its preview and its test send: the message with
//! a contact's values or sample ones, and the address a test may go to.

use diesel::{PgConnection, QueryResult};

use crate::campaigns::blanks::{empty_variables, EmptyVariable};
use crate::campaigns::form::default_sender;
use crate::campaigns::library::{self, MailTemplate, PreviewContact};
use crate::campaigns::template::{as_recipient, Compiled, Footer, Personalisation};
use crate::config::Settings;
use crate::db::enums::ContactKind;
use crate::domain::EmailAddress;
use crate::templates::RenderedEmail;

/// The public address without a trailing slash.
pub fn public_url(settings: &Settings) -> String {
    settings.http.public_url.trim_end_matches('/').to_owned()
}

/// A template and the contact whose values it is shown with (None when `contact` names no
/// one); None when the template does not exist.
pub fn load(
    conn: &mut PgConnection,
    id: i64,
    contact: Option<i64>,
) -> QueryResult<Option<(MailTemplate, Option<PreviewContact>)>> {
    let Some(template) = library::find(conn, id)? else {
        return Ok(None);
    };
    let contact = match contact {
        Some(c) => library::preview_contact(conn, c)?,
        None => None,
    };
    Ok(Some((template, contact)))
}

/// A template, the contact whose values it is shown with, and the variables it uses that some
/// contacts that can be mailed lack (« 37 contacts n'ont pas de prénom : … »); None when the
/// template does not exist.
#[allow(clippy::type_complexity)]
pub fn load_with_blanks(
    conn: &mut PgConnection,
    id: i64,
    contact: Option<i64>,
    public_url: &str,
) -> QueryResult<Option<(MailTemplate, Option<PreviewContact>, Vec<EmptyVariable>)>> {
    let Some((template, contact)) = load(conn, id, contact)? else {
        return Ok(None);
    };
    let blanks = empty_variables(conn, &template, None, public_url)?;
    Ok(Some((template, contact, blanks)))
}

/// The variables template `id` uses that some contacts that can be mailed lack.
pub fn blanks_of(
    conn: &mut PgConnection,
    id: i64,
    public_url: &str,
) -> QueryResult<Vec<EmptyVariable>> {
    match library::find(conn, id)? {
        Some(template) => empty_variables(conn, &template, None, public_url),
        None => Ok(Vec::new()),
    }
}

/// A template and the contact with the address searched (None when empty or unknown); None
/// when the template does not exist.
pub fn load_by_email(
    conn: &mut PgConnection,
    id: i64,
    search: &str,
) -> QueryResult<Option<(MailTemplate, Option<PreviewContact>)>> {
    let Some(template) = library::find(conn, id)? else {
        return Ok(None);
    };
    let found = if search.is_empty() {
        None
    } else {
        library::preview_contact_by_email(conn, search)?
    };
    Ok(Some((template, found)))
}

/// The whole message as a recipient would get it, with the contact's values or the sample
/// ones. The links are those of a preview: the real ones are signed for each delivery.
pub fn render_message(
    settings: &Settings,
    template: &MailTemplate,
    contact: Option<&PreviewContact>,
) -> Result<RenderedEmail, String> {
    let url = public_url(settings);
    let (values, kind) = match contact {
        None => (
            Personalisation::sample(&url),
            as_recipient(ContactKind::Faculty.code()),
        ),
        Some(c) => (
            Personalisation::new(
                &c.first_name,
                &c.last_name,
                c.organisation.as_deref().unwrap_or_default(),
                &c.city,
                format!("{url}/candidature"),
                format!("{url}/desinscription/essai"),
            ),
            as_recipient(&c.kind),
        ),
    };
    let compiled = Compiled::check(&template.source(), &url).map_err(|e| {
        e.0.into_iter()
            .map(|(field, message)| format!("{field} : {message}"))
            .collect::<Vec<_>>()
            .join(" ; ")
    })?;
    let (sender, _) = default_sender(settings);
    let footer = Footer {
        org: &settings.organisation,
        sender: &sender,
        kind: &kind,
        unsubscribe_url: &values.lien_desinscription,
    };
    compiled.render(&values, &footer)
}

/// An address a test message may go to, or what to correct.
pub fn parse_recipient(raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(
            "Indiquez l'adresse qui recevra l'essai, par exemple prenom.nom@exemple.fr.".to_owned(),
        );
    }
    let valid = EmailAddress::parse(raw).is_ok() && raw.parse::<lettre::Address>().is_ok();
    if valid {
        Ok(raw.to_owned())
    } else {
        Err(format!(
            "« {raw} » n'est pas une adresse électronique valide : écrivez-la au format \
             prenom.nom@exemple.fr."
        ))
    }
}
