//! Charts drawn on the server as SVG: a horizontal bar chart and a funnel.
//!
//! Each chart is an `<svg role="img">` named by its `<title>` and described by its `<desc>`,
//! which states every figure drawn, so a screen reader gets the whole chart. Every bar carries
//! its label and value as text: no meaning rests on colour alone. Colours are presentation
//! attributes (`fill=`), not `style` attributes, which the Content-Security-Policy blocks.
//! The page also shows each chart's figures as a table.

use std::fmt::Write;

use handlebars::html_escape;

/// Dark text on white: 15.6:1 (the palette's `--text`).
const TEXT: &str = "#1b2430";
/// The bars: our accent on white, 7.3:1 (non-text contrast needs 3:1). On a page the class
/// `chart-bar` gives them the département's accent colour instead (`static/staff.css`).
const BAR: &str = crate::theme::DEFAULT_ACCENT;
/// The system's own sans-serif, as the pages use (no Marianne: reserved to the State).
const FONT: &str =
    "font-family=\"system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif\" font-size=\"14\"";
const ROW: u32 = 30;
const BAR_HEIGHT: u32 = 20;
const TOP: u32 = 8;
/// Longest label drawn in full; longer ones are cut (the table beside has them whole).
const LABEL_CHARS: usize = 34;

/// One bar: its label, the value that sets its length, and the text written after it.
#[derive(Debug, Clone)]
pub struct Bar {
    pub label: String,
    pub value: f64,
    pub text: String,
}

impl Bar {
    /// A bar whose text is its count.
    pub fn count(label: impl Into<String>, value: i64) -> Bar {
        Bar {
            label: label.into(),
            value: value as f64,
            text: value.to_string(),
        }
    }
}

/// What a chart is called and what it shows, for assistive technologies.
pub struct Caption<'a> {
    /// Prefix of the `<title>` and `<desc>` ids; unique on the page.
    pub id: &'a str,
    pub title: &'a str,
    pub desc: &'a str,
}

fn shorten(label: &str) -> String {
    if label.chars().count() <= LABEL_CHARS {
        label.to_owned()
    } else {
        let cut: String = label.chars().take(LABEL_CHARS - 1).collect();
        format!("{}…", cut.trim_end())
    }
}

fn open(out: &mut String, caption: &Caption<'_>, width: u32, height: u32) {
    let id = html_escape(caption.id);
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" viewBox=\"0 0 {width} {height}\" \
         width=\"{width}\" height=\"{height}\" role=\"img\" aria-labelledby=\"{id}-titre {id}-desc\">\
         <title id=\"{id}-titre\">{}</title><desc id=\"{id}-desc\">{}</desc>\
         <rect width=\"{width}\" height=\"{height}\" fill=\"#ffffff\"/>",
        html_escape(caption.title),
        html_escape(caption.desc),
    );
}

fn text(out: &mut String, x: f64, y: u32, anchor: &str, content: &str) {
    let _ = write!(
        out,
        "<text x=\"{x:.1}\" y=\"{y}\" text-anchor=\"{anchor}\" dominant-baseline=\"middle\" \
         fill=\"{TEXT}\" {FONT}>{}</text>",
        html_escape(content)
    );
}

fn max_value(bars: &[Bar]) -> f64 {
    bars.iter().map(|b| b.value).fold(0.0, f64::max)
}

/// Horizontal bars, one per row: label on the left, bar, then its text.
pub fn bar_chart(caption: &Caption<'_>, bars: &[Bar]) -> String {
    // Room after the longest bar for its text (about 30 characters).
    const WIDTH: u32 = 900;
    const LABEL_END: f64 = 250.0;
    const BAR_START: f64 = 260.0;
    const BAR_SPAN: f64 = 300.0;
    let height = TOP * 2 + ROW * bars.len() as u32;
    let max = max_value(bars);
    let mut out = String::with_capacity(512 + 400 * bars.len());
    open(&mut out, caption, WIDTH, height);
    for (i, bar) in bars.iter().enumerate() {
        let top = TOP + ROW * i as u32;
        let middle = top + ROW / 2;
        let length = if max > 0.0 {
            (bar.value.max(0.0) / max * BAR_SPAN).max(if bar.value > 0.0 { 2.0 } else { 0.0 })
        } else {
            0.0
        };
        text(&mut out, LABEL_END, middle, "end", &shorten(&bar.label));
        let _ = write!(
            out,
            "<rect x=\"{BAR_START}\" y=\"{}\" width=\"{length:.1}\" height=\"{BAR_HEIGHT}\" fill=\"{BAR}\" class=\"chart-bar\"/>",
            top + (ROW - BAR_HEIGHT) / 2
        );
        text(
            &mut out,
            BAR_START + length + 8.0,
            middle,
            "start",
            &bar.text,
        );
    }
    out.push_str("</svg>");
    out
}

/// A funnel: the bars centred on one axis, narrowing stage after stage.
pub fn funnel(caption: &Caption<'_>, steps: &[Bar]) -> String {
    // As wide as the bar charts, so that both are drawn at the same scale on the page.
    const WIDTH: u32 = 900;
    const LABEL_END: f64 = 170.0;
    const CENTRE: f64 = 375.0;
    const SPAN: f64 = 380.0;
    const TEXT_START: f64 = CENTRE + SPAN / 2.0 + 10.0;
    let height = TOP * 2 + ROW * steps.len() as u32;
    let max = max_value(steps);
    let mut out = String::with_capacity(512 + 400 * steps.len());
    open(&mut out, caption, WIDTH, height);
    for (i, step) in steps.iter().enumerate() {
        let top = TOP + ROW * i as u32;
        let middle = top + ROW / 2;
        let width = if max > 0.0 {
            (step.value.max(0.0) / max * SPAN).max(if step.value > 0.0 { 2.0 } else { 0.0 })
        } else {
            0.0
        };
        text(&mut out, LABEL_END, middle, "end", &shorten(&step.label));
        let _ = write!(
            out,
            "<rect x=\"{:.1}\" y=\"{}\" width=\"{width:.1}\" height=\"{BAR_HEIGHT}\" fill=\"{BAR}\" class=\"chart-bar\"/>",
            CENTRE - width / 2.0,
            top + (ROW - BAR_HEIGHT) / 2
        );
        text(&mut out, TEXT_START, middle, "start", &step.text);
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caption() -> Caption<'static> {
        Caption {
            id: "essai",
            title: "Titre <b>",
            desc: "A : 1 ; B : 3",
        }
    }

    #[test]
    fn bars_are_proportional_and_text_is_escaped() {
        let svg = bar_chart(
            &caption(),
            &[Bar::count("Presse & radio", 1), Bar::count("<script>", 3)],
        );
        assert!(svg.starts_with("<svg "));
        assert!(svg.contains("role=\"img\""));
        assert!(svg.contains("aria-labelledby=\"essai-titre essai-desc\""));
        assert!(svg.contains("<title id=\"essai-titre\">Titre &lt;b&gt;</title>"));
        assert!(svg.contains("Presse &amp; radio"));
        assert!(!svg.contains("<script>"));
        assert!(!svg.contains("style="));
        assert!(svg.contains("width=\"100.0\" height=\"20\""));
        assert!(svg.contains("width=\"300.0\" height=\"20\""));
    }

    #[test]
    fn an_empty_value_draws_no_bar_and_long_labels_are_cut() {
        let long = "Une spécialité au nom vraiment très, très long à écrire";
        let svg = bar_chart(&caption(), &[Bar::count(long, 0)]);
        assert!(svg.contains("width=\"0.0\""));
        assert!(svg.contains('…'));
        assert!(!svg.contains(long));
    }

    #[test]
    fn the_funnel_centres_its_bars() {
        let svg = funnel(
            &caption(),
            &[Bar::count("Nouvelle", 4), Bar::count("Entretien", 2)],
        );
        // Widest bar: 380 wide from 375 - 190; the half one: 190 wide from 375 - 95.
        assert!(svg.contains("x=\"185.0\" y=\"13\" width=\"380.0\""));
        assert!(svg.contains("x=\"280.0\" y=\"43\" width=\"190.0\""));
    }
}
