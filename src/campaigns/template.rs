//! Campaign templates: a Handlebars subject, text body and (optional) HTML body written by
//! communications staff, compiled in strict mode. The author writes the message; the layout
//! around it is ours and always carries the sender's identity and the unsubscribe link, so a
//! template cannot remove them. An empty HTML body is derived from the text body.
//!
//! Each part is checked by [`crate::templates::guard`] whenever it is compiled (at save, and
//! again before a preview, a test send or a campaign run uses the stored text): no inclusion,
//! inline partial or loop, bounded nesting and length; every render is bounded in output and
//! time. A template cannot call itself, so no render can overflow the stack.

use handlebars::{Handlebars, RenderErrorReason};
use serde::Serialize;

use crate::config::OrganisationSettings;
use crate::templates::guard::{self, RenderFailure};
use crate::templates::RenderedEmail;

/// The variables a template may use, with what they hold (shown on the editor page).
pub const VARIABLES: &[(&str, &str)] = &[
    ("prenom", "le prénom du contact (peut être vide)"),
    ("nom", "le nom du contact (peut être vide)"),
    ("nom_complet", "prénom et nom, ou vide"),
    ("organisation", "l'organisation du contact (peut être vide)"),
    ("ville", "la ville du contact (peut être vide)"),
    (
        "lien_candidature",
        "l'adresse suivie du formulaire de candidature",
    ),
    ("lien_desinscription", "l'adresse de désinscription"),
];

/// What the author wrote.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TemplateSource {
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    /// The preview text (preheader) mail clients show after the subject; hidden in the HTML
    /// body, plain text (no variables), one line.
    pub preheader: String,
}

/// One recipient's values for the template variables.
#[derive(Debug, Clone, Serialize)]
pub struct Personalisation {
    pub prenom: String,
    pub nom: String,
    pub nom_complet: String,
    pub organisation: String,
    pub ville: String,
    pub lien_candidature: String,
    pub lien_desinscription: String,
}

impl Personalisation {
    pub fn new(
        first_name: &str,
        last_name: &str,
        organisation: &str,
        city: &str,
        apply_url: String,
        unsubscribe_url: String,
    ) -> Personalisation {
        let full = format!("{} {}", first_name.trim(), last_name.trim())
            .trim()
            .to_owned();
        Personalisation {
            prenom: first_name.trim().to_owned(),
            nom: last_name.trim().to_owned(),
            nom_complet: full,
            organisation: organisation.trim().to_owned(),
            ville: city.trim().to_owned(),
            lien_candidature: apply_url,
            lien_desinscription: unsubscribe_url,
        }
    }

    /// The values used to check a template and for previews without a chosen contact.
    pub fn sample(public_url: &str) -> Personalisation {
        Personalisation::new(
            "Camille",
            "Durand",
            "Faculté de santé de Toulouse",
            "Toulouse",
            format!("{public_url}/candidature"),
            format!("{public_url}/desinscription/essai"),
        )
    }
}

/// The identity printed under every message.
#[derive(Debug, Clone, Serialize)]
pub struct Footer<'a> {
    pub org: &'a OrganisationSettings,
    /// The campaign's sender name.
    pub sender: &'a str,
    /// Why the recipient receives it (« en tant que médecin retraité »), see [`as_recipient`].
    pub kind: &'a str,
    pub unsubscribe_url: &'a str,
}

/// « en tant que médecin retraité », « en tant qu'interne »: what the recipient is to us, as
/// the footer says it, from a contact kind's code.
pub fn as_recipient(kind_code: &str) -> String {
    use crate::db::enums::ContactKind;
    let what = match ContactKind::from_code(kind_code) {
        Some(ContactKind::Faculty) => "contact d'une faculté de médecine".to_owned(),
        Some(k) => k.label().to_lowercase(),
        None => "contact".to_owned(),
    };
    let elide = what
        .chars()
        .next()
        .is_some_and(|c| "aeiouyéèêàâîïôûh".contains(c));
    if elide {
        format!("en tant qu'{what}")
    } else {
        format!("en tant que {what}")
    }
}

/// Why a template was refused, per field (« objet », « texte », « html »).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TemplateErrors(pub Vec<(&'static str, String)>);

impl TemplateErrors {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A template ready to render many messages.
pub struct Compiled {
    escaped: Handlebars<'static>,
    plain: Handlebars<'static>,
    html_from_text: bool,
    preheader: String,
}

const SUBJECT: &str = "objet";
const TEXT: &str = "texte";
const HTML: &str = "html";

fn registry(escape: bool) -> Handlebars<'static> {
    let mut hb = Handlebars::new();
    hb.set_strict_mode(true);
    if !escape {
        hb.register_escape_fn(handlebars::no_escape);
    }
    hb
}

fn render_error(e: &handlebars::RenderError) -> String {
    match e.reason() {
        RenderErrorReason::MissingVariable(Some(path)) => format!(
            "la variable « {path} » n'existe pas ; variables possibles : {}",
            VARIABLES
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        RenderErrorReason::HelperNotFound(name) => {
            format!("« {name} » n'est ni une variable ni une fonction connue")
        }
        _ => format!("le modèle ne peut pas être appliqué : {e}"),
    }
}

fn failure(e: &RenderFailure) -> String {
    match e {
        RenderFailure::Bound(refusal) => refusal.0.clone(),
        RenderFailure::Render(e) => render_error(e),
    }
}

/// Parses one part within [`guard`]'s rules (no inclusion, no loop, bounded nesting and
/// length) and registers it under `name`.
fn register(hb: &mut Handlebars<'static>, name: &str, source: &str) -> Result<(), String> {
    let template = guard::check(source, name, &[]).map_err(|r| r.0)?;
    hb.register_template(name, template);
    Ok(())
}

impl Compiled {
    /// Parses the three parts; each broken one is reported at its field.
    pub fn compile(source: &TemplateSource) -> Result<Compiled, TemplateErrors> {
        let mut errors = TemplateErrors::default();
        let mut escaped = registry(true);
        let mut plain = registry(false);
        if source.subject.trim().is_empty() {
            errors
                .0
                .push((SUBJECT, "indiquez l'objet du message".into()));
        } else if let Err(e) = register(&mut plain, SUBJECT, &source.subject) {
            errors.0.push((SUBJECT, e));
        }
        if source.body_text.trim().is_empty() {
            errors.0.push((TEXT, "écrivez le texte du message".into()));
        } else if let Err(e) = register(&mut plain, TEXT, &source.body_text) {
            errors.0.push((TEXT, e));
        }
        let html_from_text = source.body_html.trim().is_empty();
        let html_source = if html_from_text {
            &source.body_text
        } else {
            &source.body_html
        };
        if !html_source.trim().is_empty() {
            // From text, the rendered text is escaped and paragraphed below.
            let target = if html_from_text {
                &mut plain
            } else {
                &mut escaped
            };
            if let Err(e) = register(target, HTML, html_source) {
                if !html_from_text {
                    errors.0.push((HTML, e));
                }
            }
        }
        if errors.is_empty() {
            Ok(Compiled {
                escaped,
                plain,
                html_from_text,
                preheader: preheader(&source.preheader),
            })
        } else {
            Err(errors)
        }
    }

    /// Compiles and renders with sample values: an unknown variable, a missing helper or a
    /// template that cannot render is refused here, when it is saved, not when it is sent.
    pub fn check(source: &TemplateSource, public_url: &str) -> Result<Compiled, TemplateErrors> {
        let compiled = Compiled::compile(source)?;
        let sample = Personalisation::sample(public_url);
        let mut errors = TemplateErrors::default();
        if let Err(e) = guard::render(&compiled.plain, SUBJECT, &sample) {
            errors.0.push((SUBJECT, failure(&e)));
        }
        if let Err(e) = guard::render(&compiled.plain, TEXT, &sample) {
            errors.0.push((TEXT, failure(&e)));
        }
        if !compiled.html_from_text {
            if let Err(e) = guard::render(&compiled.escaped, HTML, &sample) {
                errors.0.push((HTML, failure(&e)));
            }
        }
        if errors.is_empty() {
            Ok(compiled)
        } else {
            Err(errors)
        }
    }

    /// The author's part of the message for one recipient: subject (one line), text, HTML.
    pub fn render_parts(&self, values: &Personalisation) -> Result<RenderedEmail, String> {
        let subject = guard::render(&self.plain, SUBJECT, values)
            .map_err(|e| format!("objet : {}", failure(&e)))?;
        let text = guard::render(&self.plain, TEXT, values)
            .map_err(|e| format!("texte : {}", failure(&e)))?;
        let html = if self.html_from_text {
            html_from_text(&text)
        } else {
            guard::render(&self.escaped, HTML, values)
                .map_err(|e| format!("html : {}", failure(&e)))?
        };
        Ok(RenderedEmail {
            subject: subject.split_whitespace().collect::<Vec<_>>().join(" "),
            text,
            html,
        })
    }

    /// The whole message for one recipient: the author's part inside our layout.
    pub fn render(
        &self,
        values: &Personalisation,
        footer: &Footer<'_>,
    ) -> Result<RenderedEmail, String> {
        let parts = self.render_parts(values)?;
        let templates = crate::templates::global();
        #[derive(Serialize)]
        struct Layout<'a> {
            body: &'a str,
            /// Shown by mail clients after the subject, hidden in the body (email/_layout).
            preheader: &'a str,
            #[serde(flatten)]
            footer: &'a Footer<'a>,
        }
        let text = templates
            .render_text(
                "email/campaign/body.txt",
                &Layout {
                    body: &parts.text,
                    preheader: "",
                    footer,
                },
            )
            .map_err(|e| e.to_string())?;
        let html = templates
            .render_page(
                "email/campaign/body.html",
                &Layout {
                    body: &parts.html,
                    preheader: &self.preheader,
                    footer,
                },
            )
            .map_err(|e| e.to_string())?;
        Ok(RenderedEmail {
            subject: parts.subject,
            text,
            html,
        })
    }
}

/// A preheader as sent: one line, runs of whitespace as one space, at most 200 characters.
pub fn preheader(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(200)
        .collect()
}

fn escape_html(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// Paragraphs from blank lines, line breaks kept, web addresses made links.
pub fn html_from_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 4);
    for paragraph in text.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
        out.push_str("<p>");
        for (i, line) in paragraph.lines().enumerate() {
            if i > 0 {
                out.push_str("<br>\n");
            }
            for (j, word) in line.split(' ').enumerate() {
                if j > 0 {
                    out.push(' ');
                }
                let trimmed = word.trim_end_matches(['.', ',', ';', ':', ')', '!', '?']);
                if (trimmed.starts_with("https://") || trimmed.starts_with("http://"))
                    && trimmed.len() > 8
                {
                    out.push_str("<a href=\"");
                    escape_html(trimmed, &mut out);
                    out.push_str("\" style=\"color:");
                    out.push_str(crate::theme::DEFAULT_ACCENT);
                    out.push_str(";\">");
                    escape_html(trimmed, &mut out);
                    out.push_str("</a>");
                    escape_html(&word[trimmed.len()..], &mut out);
                } else {
                    escape_html(word, &mut out);
                }
            }
        }
        out.push_str("</p>\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(subject: &str, text: &str, html: &str) -> TemplateSource {
        TemplateSource {
            subject: subject.into(),
            body_text: text.into(),
            body_html: html.into(),
            preheader: String::new(),
        }
    }

    #[test]
    fn unknown_variable_is_refused_with_its_name() {
        let err = Compiled::check(
            &source("Bonjour {{prenom}}", "Cher {{prénom_inconnu}}", ""),
            "https://x",
        )
        .err()
        .unwrap();
        assert_eq!(err.0.len(), 1);
        assert_eq!(err.0[0].0, "texte");
        assert!(err.0[0].1.contains("prénom_inconnu"), "{}", err.0[0].1);
    }

    #[test]
    fn broken_syntax_is_refused_at_its_field() {
        let err = Compiled::check(&source("ok", "ok", "<p>{{#if prenom}}</p>"), "https://x")
            .err()
            .unwrap();
        assert_eq!(err.0[0].0, "html");
        assert!(err.0[0].1.contains("mal formé"));
    }

    #[test]
    fn empty_subject_or_text_is_refused() {
        let err = Compiled::check(&source(" ", "", ""), "https://x")
            .err()
            .unwrap();
        let fields: Vec<_> = err.0.iter().map(|(f, _)| *f).collect();
        assert_eq!(fields, vec!["objet", "texte"]);
    }

    #[test]
    fn html_values_are_escaped_and_text_ones_are_not() {
        let compiled = Compiled::check(
            &source(
                "Pour {{organisation}}",
                "À {{organisation}}",
                "<p>{{organisation}}</p>",
            ),
            "https://x",
        )
        .unwrap();
        let mut values = Personalisation::sample("https://x");
        values.organisation = "Dupont & <Fils>".into();
        let parts = compiled.render_parts(&values).unwrap();
        assert_eq!(parts.subject, "Pour Dupont & <Fils>");
        assert_eq!(parts.text, "À Dupont & <Fils>");
        assert_eq!(parts.html, "<p>Dupont &amp; &lt;Fils&gt;</p>");
    }

    #[test]
    fn html_is_derived_from_text_with_links() {
        let compiled = Compiled::check(
            &source(
                "Objet",
                "Bonjour {{prenom}},\n\nPostulez : {{lien_candidature}}.\nMerci <3",
                "",
            ),
            "https://gers.example",
        )
        .unwrap();
        let parts = compiled
            .render_parts(&Personalisation::sample("https://gers.example"))
            .unwrap();
        assert_eq!(
            parts.html,
            "<p>Bonjour Camille,</p>\n<p>Postulez : <a href=\"https://gers.example/candidature\" \
             style=\"color:#1a5e73;\">https://gers.example/candidature</a>.<br>\nMerci &lt;3</p>\n"
        );
    }

    #[test]
    fn the_footer_says_why_with_french_elision() {
        assert_eq!(
            as_recipient("medecin_retraite"),
            "en tant que médecin retraité"
        );
        assert_eq!(as_recipient("interne"), "en tant qu'interne");
        assert_eq!(
            as_recipient("faculte"),
            "en tant que contact d'une faculté de médecine"
        );
        assert_eq!(as_recipient("??"), "en tant que contact");
    }

    #[test]
    fn subject_is_one_line() {
        let compiled =
            Compiled::check(&source("Bonjour\n{{prenom}}\r\n !", "x", ""), "https://x").unwrap();
        let parts = compiled
            .render_parts(&Personalisation::sample("https://x"))
            .unwrap();
        assert_eq!(parts.subject, "Bonjour Camille !");
    }
}
