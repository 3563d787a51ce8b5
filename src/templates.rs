//! Handlebars in strict mode (a missing variable is an error), templates embedded in the binary
//! from `templates/` (read from disk in debug builds, so editing a page needs no rebuild).
//! Two registries: one escapes HTML (pages, HTML e-mails), one does not (text e-mails, subjects).

pub mod guard;

use std::sync::OnceLock;

use handlebars::Handlebars;
use rust_embed::RustEmbed;
use serde::Serialize;

#[derive(RustEmbed)]
#[folder = "templates/"]
struct TemplateFiles;

pub struct Templates {
    html: Handlebars<'static>,
    text: Handlebars<'static>,
}

/// A rendered e-mail: subject, text part and HTML part.
#[derive(Debug, Clone)]
pub struct RenderedEmail {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Formats an RFC 3339 timestamp or an ISO date for French readers, in Paris time:
/// `{{date x}}` gives 22/11/2026, `{{datetime x}}` gives 22/11/2026 à 14:05.
fn french_date(value: &str, with_time: bool) -> String {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(value) {
        let local = t.with_timezone(&chrono_tz::Europe::Paris);
        return if with_time {
            local.format("%d/%m/%Y à %H:%M").to_string()
        } else {
            local.format("%d/%m/%Y").to_string()
        };
    }
    match chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        Ok(d) => d.format("%d/%m/%Y").to_string(),
        Err(_) => value.to_owned(),
    }
}

handlebars::handlebars_helper!(date_helper: |v: str| french_date(v, false));
handlebars::handlebars_helper!(datetime_helper: |v: str| french_date(v, true));
handlebars::handlebars_helper!(plural_helper: |n: i64, one: str, many: str| plural(n, one, many));

/// « 0 médecin recruté », « 1 médecin recruté », « 2 médecins recrutés » (French: 0 and 1 take
/// the singular): `{{plural n "médecin recruté" "médecins recrutés"}}` in a template.
pub fn plural(n: i64, one: &str, many: &str) -> String {
    let words = if n.abs() < 2 { one } else { many };
    format!("{}\u{a0}{words}", crate::domain::french::thousands(n))
}

/// The helpers this module's registries add to Handlebars' own.
const HELPERS: &[&str] = &["date", "datetime", "plural"];

fn registry(escape: bool) -> Result<Handlebars<'static>, handlebars::TemplateError> {
    let mut hb = Handlebars::new();
    hb.set_strict_mode(true);
    hb.register_helper("date", Box::new(date_helper));
    hb.register_helper("datetime", Box::new(datetime_helper));
    hb.register_helper("plural", Box::new(plural_helper));
    if !escape {
        hb.register_escape_fn(handlebars::no_escape);
    }
    hb.register_embed_templates_with_extension::<TemplateFiles>(".hbs")?;
    Ok(hb)
}

impl Templates {
    pub fn load() -> Result<Self, handlebars::TemplateError> {
        Ok(Templates {
            html: registry(true)?,
            text: registry(false)?,
        })
    }

    pub fn render_page<T: Serialize>(
        &self,
        name: &str,
        data: &T,
    ) -> Result<String, handlebars::RenderError> {
        self.html.render(name, data)
    }

    /// Renders a template given as text (one staff wrote), without HTML escaping, in strict
    /// mode (an unknown variable is an error), within the bounds of [`guard`]: a template
    /// that includes another, loops or nests too deep is refused before it renders.
    pub fn render_text_string<T: Serialize>(
        &self,
        template: &str,
        data: &T,
    ) -> Result<String, guard::RenderFailure> {
        guard::render_source(&self.text, template, HELPERS, data)
    }

    /// Renders an embedded template without HTML escaping (text e-mails).
    pub fn render_text<T: Serialize>(
        &self,
        name: &str,
        data: &T,
    ) -> Result<String, handlebars::RenderError> {
        self.text.render(name, data)
    }

    /// Renders `templates/email/<name>/{subject,body.txt,body.html}.hbs`.
    pub fn render_email<T: Serialize>(
        &self,
        name: &str,
        data: &T,
    ) -> Result<RenderedEmail, handlebars::RenderError> {
        let subject = self.text.render(&format!("email/{name}/subject"), data)?;
        Ok(RenderedEmail {
            // A subject is one line, whatever a template or a value contains.
            subject: subject.split_whitespace().collect::<Vec<_>>().join(" "),
            text: self.text.render(&format!("email/{name}/body.txt"), data)?,
            html: self.html.render(&format!("email/{name}/body.html"), data)?,
        })
    }
}

static GLOBAL: OnceLock<Templates> = OnceLock::new();

/// The process-wide templates. Start-up calls [`init`] first so that a broken template stops
/// the service at once rather than on the first request.
pub fn global() -> &'static Templates {
    GLOBAL.get_or_init(|| Templates::load().expect("templates are checked at start-up by init()"))
}

pub fn init() -> Result<&'static Templates, handlebars::TemplateError> {
    if let Some(t) = GLOBAL.get() {
        return Ok(t);
    }
    let loaded = Templates::load()?;
    Ok(GLOBAL.get_or_init(|| loaded))
}

#[cfg(test)]
mod tests {
    use super::{french_date, plural};

    #[test]
    fn durations_read_as_people_write_them() {}

    #[test]
    fn plurals_follow_the_french_rule() {
        assert_eq!(plural(0, "clic", "clics"), "0\u{a0}clic");
        assert_eq!(
            plural(1, "médecin recruté", "médecins recrutés"),
            "1\u{a0}médecin recruté"
        );
        assert_eq!(
            plural(2, "médecin recruté", "médecins recrutés"),
            "2\u{a0}médecins recrutés"
        );
        assert_eq!(plural(12345, "clic", "clics"), "12\u{202f}345\u{a0}clics");
    }

    #[test]
    fn dates_read_the_french_way_in_paris_time() {
        assert_eq!(
            french_date("2026-11-22T13:05:00Z", true),
            "22/11/2026 à 14:05"
        );
        assert_eq!(
            french_date("2026-07-01T22:30:00+00:00", false),
            "02/07/2026"
        );
        assert_eq!(french_date("2027-09-01", false), "01/09/2027");
    }
}
