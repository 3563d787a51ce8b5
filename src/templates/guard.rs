//! Bounds for the templates staff write (campaign templates, stage e-mails): what they may
//! contain, checked on the parsed template, and how far a render may go.
//!
//! A staff template is a message with variables and conditions, nothing more. Partials
//! (`{{> x}}`, `{{#> x}}`), inline partials and other decorators (`{{#*inline}}`, `{{* x}}`)
//! are refused: they are the only way for a Handlebars template to call itself (the subject
//! including the text and the text the subject, an inline partial calling itself, for some
//! recipients only behind an `{{#if}}`), which overflows the stack and kills the process — a
//! stack overflow cannot be caught. `{{#each}}` is refused too: the values are flat, and
//! nested `{{#each @root}}` multiply the output (or the time, with an empty body) without
//! bound. Blocks are nested at most [`MAX_DEPTH`] deep, checked on the text before the parser
//! (itself recursive) sees it, and the template is at most [`MAX_SOURCE_CHARS`] long. Without
//! partials or loops a render then visits each element of the template once at most: its
//! depth is the template's, and its output is bounded by the template's length times the
//! length of a value.
//!
//! The check runs when a template is saved and again, on the stored text, before every
//! render (a template written in the database directly is caught there too), and every render
//! writes into a [`Bounded`] output that stops it past [`MAX_OUTPUT_BYTES`] or
//! [`MAX_RENDER_TIME`]: what a bound stops is an error with its reason, never a crash.

use std::io::Write;
use std::time::{Duration, Instant};

use handlebars::template::{HelperTemplate, Parameter, Template, TemplateElement};
use handlebars::{Handlebars, Path};
use serde::Serialize;

/// Nesting of blocks (`{{#if}}` in `{{#with}}`…) and of sub-expressions.
pub const MAX_DEPTH: usize = 16;
/// Length of one template (subject, text or HTML).
pub const MAX_SOURCE_CHARS: usize = 200_000;
/// What one render may write.
pub const MAX_OUTPUT_BYTES: usize = 2 * 1024 * 1024;
/// How long one render may run (a normal one takes well under a millisecond).
pub const MAX_RENDER_TIME: Duration = Duration::from_secs(2);

/// The block helpers a staff template may use.
const BLOCK_HELPERS: &[&str] = &["if", "unless", "with"];
/// The helpers a staff template may call with parameters (plus the registry's own, given to
/// [`check`]).
const HELPERS: &[&str] = &[
    "eq", "ne", "gt", "gte", "lt", "lte", "and", "or", "not", "len", "lookup",
];
/// Built-in helpers that are never allowed, even written as a bare `{{name}}`.
const FORBIDDEN: &[&str] = &["each", "log", "raw", "inline"];

/// Why a staff template is refused or a render was stopped, in French, to show at the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub String);

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The deepest nesting of blocks and parentheses, read on the text without parsing it (the
/// parser recurses once per level). It counts `{{#…`, `{{^…` and `(` inside mustaches as
/// openings, `{{/…` and `)` as closings; it may count too much (a `{{#` in a comment), never
/// too little.
fn textual_depth(source: &str) -> usize {
    let bytes = source.as_bytes();
    let (mut depth, mut deepest, mut parens, mut i) = (0usize, 0usize, 0usize, 0usize);
    let mut inside = false;
    while i < bytes.len() {
        if !inside && bytes[i..].starts_with(b"{{") {
            inside = true;
            i += 2;
            while i < bytes.len() && matches!(bytes[i], b'{' | b'~' | b' ') {
                i += 1;
            }
            match bytes.get(i) {
                Some(b'#') => depth += 1,
                Some(b'^') if !matches!(bytes.get(i + 1), Some(b'}') | Some(b'~')) => depth += 1,
                Some(b'/') => depth = depth.saturating_sub(1),
                _ => {}
            }
            deepest = deepest.max(depth);
            continue;
        }
        if inside {
            match bytes[i] {
                b'(' => {
                    parens += 1;
                    deepest = deepest.max(depth + parens);
                }
                b')' => parens = parens.saturating_sub(1),
                b'}' if bytes[i..].starts_with(b"}}") => {
                    inside = false;
                    parens = 0;
                }
                _ => {}
            }
        }
        i += 1;
    }
    deepest
}

fn helper_list(extra: &[&str]) -> String {
    BLOCK_HELPERS
        .iter()
        .chain(HELPERS)
        .chain(extra)
        .copied()
        .collect::<Vec<_>>()
        .join(", ")
}

struct Walk<'a> {
    extra_helpers: &'a [&'a str],
}

impl Walk<'_> {
    fn template(&self, t: &Template, depth: usize) -> Result<(), Refusal> {
        if depth > MAX_DEPTH {
            return Err(too_deep());
        }
        t.elements.iter().try_for_each(|e| self.element(e, depth))
    }

    fn element(&self, element: &TemplateElement, depth: usize) -> Result<(), Refusal> {
        match element {
            TemplateElement::RawString(_) | TemplateElement::Comment(_) => Ok(()),
            TemplateElement::Expression(h) | TemplateElement::HtmlExpression(h) => {
                self.helper(h, depth)
            }
            TemplateElement::HelperBlock(h) => self.helper(h, depth + 1),
            TemplateElement::PartialExpression(_) | TemplateElement::PartialBlock(_) => {
                Err(Refusal(
                    "les inclusions de modèle ({{> …}}) ne sont pas permises : écrivez le \
                     texte dans le modèle lui-même"
                        .to_owned(),
                ))
            }
            TemplateElement::DecoratorExpression(_) | TemplateElement::DecoratorBlock(_) => {
                Err(Refusal(
                    "les blocs {{#*inline}} et les décorateurs ({{* …}}) ne sont pas permis : \
                     écrivez le texte dans le modèle lui-même"
                        .to_owned(),
                ))
            }
            // A kind of element a later Handlebars may add: refused until it is known.
            _ => Err(unknown()),
        }
    }

    fn helper(&self, h: &HelperTemplate, depth: usize) -> Result<(), Refusal> {
        if depth > MAX_DEPTH {
            return Err(too_deep());
        }
        let called = h.block || !h.params.is_empty() || !h.hash.is_empty();
        match &h.name {
            Parameter::Name(name) => self.name(name, h.block, called)?,
            Parameter::Path(Path::Relative((_, raw)) | Path::Local((_, _, raw))) => {
                self.name(raw, h.block, called)?
            }
            Parameter::Subexpression(s) => self.element(&s.element, depth + 1)?,
            Parameter::Literal(_) => {}
            _ => return Err(unknown()),
        }
        for p in h.params.iter().chain(h.hash.values()) {
            self.parameter(p, depth)?;
        }
        if let Some(t) = &h.template {
            self.template(t, depth)?;
        }
        if let Some(t) = &h.inverse {
            self.template(t, depth)?;
        }
        Ok(())
    }

    fn name(&self, name: &str, block: bool, called: bool) -> Result<(), Refusal> {
        let allowed = if block {
            BLOCK_HELPERS.contains(&name)
        } else {
            !FORBIDDEN.contains(&name)
                && (!called || HELPERS.contains(&name) || self.extra_helpers.contains(&name))
        };
        if allowed {
            Ok(())
        } else {
            Err(Refusal(format!(
                "« {name} » n'est pas permis dans un modèle ; fonctions possibles : {}",
                helper_list(self.extra_helpers)
            )))
        }
    }

    fn parameter(&self, p: &Parameter, depth: usize) -> Result<(), Refusal> {
        match p {
            Parameter::Subexpression(s) => self.element(&s.element, depth + 1),
            Parameter::Name(_) | Parameter::Path(_) | Parameter::Literal(_) => Ok(()),
            _ => Err(unknown()),
        }
    }
}

fn unknown() -> Refusal {
    Refusal("le modèle contient une construction Handlebars qui n'est pas permise".to_owned())
}

fn too_deep() -> Refusal {
    Refusal(format!(
        "trop de blocs imbriqués les uns dans les autres ({MAX_DEPTH} niveaux au plus)"
    ))
}

fn parse_error(e: &handlebars::TemplateError) -> Refusal {
    Refusal(match e.pos() {
        Some((l, c)) => format!(
            "le modèle est mal formé à la ligne {l}, colonne {c} (accolades ou bloc {{{{#if}}}} non fermé ?)"
        ),
        None => "le modèle est mal formé (accolades ou bloc {{#if}} non fermé ?)".to_owned(),
    })
}

/// Parses a staff template and checks it against the rules above; `extra_helpers` are the
/// helpers the registry it renders in adds (`date`…). The parsed template, ready to register.
pub fn check(source: &str, name: &str, extra_helpers: &[&str]) -> Result<Template, Refusal> {
    if source.chars().count() > MAX_SOURCE_CHARS {
        return Err(Refusal(format!(
            "le modèle est trop long ({MAX_SOURCE_CHARS} caractères au plus)"
        )));
    }
    if textual_depth(source) > MAX_DEPTH {
        return Err(too_deep());
    }
    let template =
        Template::compile_with_name(source, name.to_owned()).map_err(|e| parse_error(&e))?;
    Walk { extra_helpers }.template(&template, 0)?;
    Ok(template)
}

/// Which bound stopped a render.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bound {
    Size,
    Time,
}

/// A render's output that refuses to grow past [`MAX_OUTPUT_BYTES`] or to be written to after
/// [`MAX_RENDER_TIME`]: the write fails, and Handlebars stops the render with that error.
struct Bounded {
    buf: Vec<u8>,
    max: usize,
    deadline: Instant,
    hit: Option<Bound>,
}

impl Write for Bounded {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.buf.len() + data.len() > self.max {
            self.hit = Some(Bound::Size);
            return Err(std::io::Error::other("output too large"));
        }
        if Instant::now() > self.deadline {
            self.hit = Some(Bound::Time);
            return Err(std::io::Error::other("render too long"));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Why a bounded render failed.
#[derive(Debug)]
pub enum RenderFailure {
    /// A bound stopped it (or the template broke a rule): the reason, in French.
    Bound(Refusal),
    /// Handlebars refused it (unknown variable…).
    Render(handlebars::RenderError),
}

impl From<Refusal> for RenderFailure {
    fn from(r: Refusal) -> Self {
        RenderFailure::Bound(r)
    }
}

fn bounded_to_string<F>(render: F) -> Result<String, RenderFailure>
where
    F: FnOnce(&mut Bounded) -> Result<(), handlebars::RenderError>,
{
    bounded_within(MAX_OUTPUT_BYTES, MAX_RENDER_TIME, render)
}

fn bounded_within<F>(max: usize, time: Duration, render: F) -> Result<String, RenderFailure>
where
    F: FnOnce(&mut Bounded) -> Result<(), handlebars::RenderError>,
{
    let mut out = Bounded {
        buf: Vec::new(),
        max,
        deadline: Instant::now() + time,
        hit: None,
    };
    let result = render(&mut out);
    match (result, out.hit) {
        (_, Some(Bound::Size)) => Err(RenderFailure::Bound(Refusal(format!(
            "le message produit dépasse {} Ko : le modèle se répète trop",
            max / 1024
        )))),
        (_, Some(Bound::Time)) => Err(RenderFailure::Bound(Refusal(format!(
            "le modèle met trop de temps à produire le message (plus de {} ms)",
            time.as_millis()
        )))),
        (Err(e), None) => Err(RenderFailure::Render(e)),
        (Ok(()), None) => String::from_utf8(out.buf).map_err(|_| {
            RenderFailure::Bound(Refusal("le message produit n'est pas du texte".to_owned()))
        }),
    }
}

/// Renders a registered (and checked) template within the bounds.
pub fn render<T: Serialize>(
    registry: &Handlebars<'_>,
    name: &str,
    data: &T,
) -> Result<String, RenderFailure> {
    bounded_to_string(|out| registry.render_to_write(name, data, out))
}

/// Checks a template given as text ([`check`]), then renders it within the bounds.
pub fn render_source<T: Serialize>(
    registry: &Handlebars<'_>,
    source: &str,
    extra_helpers: &[&str],
    data: &T,
) -> Result<String, RenderFailure> {
    check(source, "modèle", extra_helpers)?;
    bounded_to_string(|out| registry.render_template_to_write(source, data, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(source: &str) -> String {
        match check(source, "t", &[]) {
            Err(r) => r.0,
            Ok(_) => panic!("accepted: {source}"),
        }
    }

    #[test]
    fn partials_inline_partials_and_decorators_are_refused() {
        assert!(refused("{{> texte}}").contains("inclusions"));
        assert!(refused("a {{#> layout}}x{{/layout}}").contains("inclusions"));
        assert!(refused("{{> (lookup this \"x\")}}").contains("inclusions"));
        assert!(refused("{{#*inline \"a\"}}x{{> a}}{{/inline}}{{> a}}").contains("inline"));
        assert!(refused("{{#*inline \"a\"}}x{{/inline}}").contains("inline"));
        assert!(refused("{{#if x}}{{#with y}}{{> a}}{{/with}}{{/if}}").contains("inclusions"));
        assert!(refused("{{#if x}}a{{else}}{{> a}}{{/if}}").contains("inclusions"));
    }

    #[test]
    fn loops_and_unlisted_helpers_are_refused() {
        assert!(refused("{{#each @root}}{{this}}{{/each}}").contains("« each »"));
        assert!(refused("{{log prenom}}").contains("« log »"));
        assert!(refused("{{#if (each x)}}a{{/if}}").contains("« each »"));
        assert!(refused("{{frobnicate prenom}}").contains("« frobnicate »"));
        assert!(check("{{date x}}", "t", &["date"]).is_ok());
    }

    #[test]
    fn conditions_variables_and_comparisons_are_accepted() {
        let ok = "Bonjour {{prenom}} {{{nom}}}{{#if ville}} de {{ville}}{{else if nom}}!{{/if}}\
                  {{#unless organisation}}-{{/unless}}{{#with this}}{{nom}}{{/with}}\
                  {{#if (eq prenom \"Camille\")}}oui{{/if}}{{!-- note --}}";
        assert!(
            check(ok, "t", &[]).is_ok(),
            "{:?}",
            check(ok, "t", &[]).err()
        );
    }

    #[test]
    fn deep_nesting_is_refused_before_the_parser_sees_it() {
        let depth = MAX_DEPTH + 1;
        let deep = format!("{}x{}", "{{#if a}}".repeat(depth), "{{/if}}".repeat(depth));
        assert!(refused(&deep).contains("imbriqués"));
        let ok = format!("{}x{}", "{{#if a}}".repeat(3), "{{/if}}".repeat(3));
        assert!(check(&ok, "t", &[]).is_ok());
        // What would overflow the parser's stack is never parsed.
        let huge = format!(
            "{}x{}",
            "{{#if a}}".repeat(20_000),
            "{{/if}}".repeat(20_000)
        );
        assert!(refused(&huge).contains("trop long") || refused(&huge).contains("imbriqués"));
        let parens = format!(
            "{{{{#if {}a{}}}}}x{{{{/if}}}}",
            "(not ".repeat(40),
            ")".repeat(40)
        );
        assert!(refused(&parens).contains("imbriqués"));
    }

    #[test]
    fn a_render_past_the_output_bound_is_an_error() {
        let mut hb = Handlebars::new();
        hb.register_escape_fn(handlebars::no_escape);
        let big = "x".repeat(MAX_OUTPUT_BYTES / 4);
        let t = check("{{v}}{{v}}{{v}}{{v}}{{v}}", "t", &[]).unwrap();
        hb.register_template("t", t);
        match render(&hb, "t", &serde_json::json!({ "v": big })) {
            Err(RenderFailure::Bound(r)) => assert!(r.0.contains("dépasse"), "{r}"),
            other => panic!("{other:?}"),
        }
        let small = render(&hb, "t", &serde_json::json!({ "v": "ab" })).unwrap();
        assert_eq!(small, "ababababab");
    }

    #[test]
    fn a_render_past_the_time_bound_is_an_error() {
        let mut hb = Handlebars::new();
        let t = check("{{#if a}}{{a}}{{/if}}{{a}}", "t", &[]).unwrap();
        hb.register_template("t", t);
        let data = serde_json::json!({ "a": "x" });
        let slow = bounded_within(1024, Duration::from_millis(20), |out| {
            std::thread::sleep(Duration::from_millis(40));
            hb.render_to_write("t", &data, out)
        });
        match slow {
            Err(RenderFailure::Bound(r)) => assert!(r.0.contains("trop de temps"), "{r}"),
            other => panic!("{other:?}"),
        }
        let fast = bounded_within(1024, Duration::from_secs(5), |out| {
            hb.render_to_write("t", &data, out)
        });
        assert_eq!(fast.unwrap(), "xx");
    }

    #[test]
    fn render_source_checks_before_rendering() {
        let hb = Handlebars::new();
        let data = serde_json::json!({ "a": true });
        let attack = "{{#*inline \"a\"}}x{{#if a}}{{> a}}{{/if}}{{/inline}}{{> a}}";
        match render_source(&hb, attack, &[], &data) {
            Err(RenderFailure::Bound(r)) => assert!(r.0.contains("inline"), "{r}"),
            other => panic!("{other:?}"),
        }
    }
}
