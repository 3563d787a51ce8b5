//! Handlebars in strict mode (a missing variable is an error), templates embedded in the binary
//! from `templates/` (read from disk in debug builds, so editing a page needs no rebuild).
//! Two registries: one escapes HTML (pages, HTML e-mails), one does not (text e-mails, subjects).

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

fn registry(escape: bool) -> Result<Handlebars<'static>, handlebars::TemplateError> {
    let mut hb = Handlebars::new();
    hb.set_strict_mode(true);
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
