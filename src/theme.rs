//! Our own look: the palette of `static/app.css` with the contrast of every text/background
//! pair (checked by a test, tabulated in the README), and the département's accent colour and
//! logo from `[organisation]`, applied by a small generated stylesheet (`/apparence/theme.css`)
//! because the Content-Security-Policy forbids inline styles.
//!
//! No colour of the French State's design system (its blue, red and green) and no Marianne
//! font: their terms reserve them to the State's services.

use std::fmt;

/// A colour written `#rrggbb` (or `#rgb`) in the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Colour {
    r: u8,
    g: u8,
    b: u8,
}

impl Colour {
    pub const WHITE: Colour = Colour::rgb(255, 255, 255);
    pub const BLACK: Colour = Colour::rgb(0, 0, 0);

    pub const fn rgb(r: u8, g: u8, b: u8) -> Colour {
        Colour { r, g, b }
    }

    /// Parses `#rrggbb` or `#rgb` (case-insensitive); anything else is refused.
    pub fn parse(raw: &str) -> Option<Colour> {
        let hex = raw.trim().strip_prefix('#')?;
        if !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        let channel = |s: &str| u8::from_str_radix(s, 16).ok();
        match hex.len() {
            6 => Some(Colour::rgb(
                channel(&hex[0..2])?,
                channel(&hex[2..4])?,
                channel(&hex[4..6])?,
            )),
            3 => {
                let d = |i: usize| channel(&hex[i..=i].repeat(2));
                Some(Colour::rgb(d(0)?, d(1)?, d(2)?))
            }
            _ => None,
        }
    }

    /// WCAG 2 relative luminance.
    pub fn luminance(self) -> f64 {
        let lin = |c: u8| {
            let c = f64::from(c) / 255.0;
            if c <= 0.04045 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * lin(self.r) + 0.7152 * lin(self.g) + 0.0722 * lin(self.b)
    }

    /// WCAG 2 contrast ratio, 1 to 21.
    pub fn contrast(self, other: Colour) -> f64 {
        let (a, b) = (self.luminance(), other.luminance());
        (a.max(b) + 0.05) / (a.min(b) + 0.05)
    }

    /// `share` of this colour mixed with `other` (0 to 1), channel by channel.
    pub fn mix(self, other: Colour, share: f64) -> Colour {
        let m = |a: u8, b: u8| (f64::from(a) * share + f64::from(b) * (1.0 - share)).round() as u8;
        Colour::rgb(m(self.r, other.r), m(self.g, other.g), m(self.b, other.b))
    }
}

impl fmt::Display for Colour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{:02x}{:02x}{:02x}", self.r, self.g, self.b)
    }
}

/// The default accent (a deep petrol blue), used when `organisation.accent_colour` is empty.
pub const DEFAULT_ACCENT: &str = "#1a5e73";
/// Background of the light blocks (`--bg-alt`).
pub const BG_ALT: &str = "#f3f5f8";

/// The colours derived from an accent: hover/pressed (darker) and the soft tint of badges.
pub struct Accent {
    pub accent: Colour,
    pub strong: Colour,
    pub soft: Colour,
}

impl Accent {
    pub fn new(accent: Colour) -> Accent {
        Accent {
            accent,
            strong: accent.mix(Colour::BLACK, 0.78),
            soft: accent.mix(Colour::WHITE, 0.09),
        }
    }

    /// Why an accent cannot be used: it is link text on white and on the light blocks, white
    /// text on buttons, and text on its own soft tint; each needs 4.5:1.
    pub fn check(raw: &str) -> Result<Accent, String> {
        let accent = Colour::parse(raw).ok_or_else(|| {
            format!("« {raw} » n'est pas une couleur hexadécimale (par exemple « #0b6e4f »)")
        })?;
        let a = Accent::new(accent);
        let bg_alt = Colour::parse(BG_ALT).unwrap_or(Colour::WHITE);
        let worst = [
            a.accent.contrast(Colour::WHITE),
            a.accent.contrast(bg_alt),
            a.accent.contrast(a.soft),
        ]
        .into_iter()
        .fold(f64::INFINITY, f64::min);
        if worst < 4.5 {
            let ratio = format!("{worst:.2}").replace('.', ",");
            return Err(format!(
                "« {raw} » n'offre qu'un contraste de {ratio} : 1 avec le fond clair des pages ; \
                 il faut au moins 4,5 : 1 (WCAG AA) : choisissez une teinte plus foncée"
            ));
        }
        Ok(a)
    }
}

/// Image types accepted for the logo, by extension, with their content type.
pub fn logo_content_type(path: &str) -> Option<&'static str> {
    let ext = path.rsplit('.').next()?.to_ascii_lowercase();
    match ext.as_str() {
        "svg" => Some("image/svg+xml"),
        "png" => Some("image/png"),
        "jpg" | "jpeg" => Some("image/jpeg"),
        "webp" => Some("image/webp"),
        _ => None,
    }
}

/// Where the logo is served from.
pub const LOGO_URL: &str = "/apparence/logo";

/// The generated stylesheet: the accent's custom properties and, when a logo is configured,
/// the logo beside the name in the header (a background image: the name stays the text).
pub fn stylesheet(accent: &Accent, has_logo: bool) -> String {
    let mut css = format!(
        "/* Generated from [organisation] accent_colour and logo_path. */\n:root {{ --accent: {}; \
         --accent-strong: {}; --accent-soft: {}; }}\n",
        accent.accent, accent.strong, accent.soft
    );
    if has_logo {
        css.push_str(&format!(
            ".brand {{ padding-left: 3.5rem; min-height: 3rem; justify-content: center; \
             background: url(\"{LOGO_URL}\") no-repeat left center / 3rem auto; }}\n"
        ));
    }
    css
}

/// Every text/background pair of the palette (name, text, background, minimum ratio): normal
/// text needs 4.5:1, borders of fields and other UI parts 3:1 (WCAG 1.4.3 and 1.4.11).
pub const PALETTE_PAIRS: &[(&str, &str, &str, f64)] = &[
    ("texte / blanc", "#1b2430", "#ffffff", 4.5),
    ("texte / fond clair", "#1b2430", BG_ALT, 4.5),
    ("texte / champ", "#1b2430", "#eef1f5", 4.5),
    ("texte secondaire / blanc", "#4a5568", "#ffffff", 4.5),
    ("texte secondaire / fond clair", "#4a5568", BG_ALT, 4.5),
    ("accent (liens) / blanc", DEFAULT_ACCENT, "#ffffff", 4.5),
    ("accent / fond clair", DEFAULT_ACCENT, BG_ALT, 4.5),
    ("accent / teinte d'accent", DEFAULT_ACCENT, "#eaf1f2", 4.5),
    ("blanc / bouton", "#ffffff", DEFAULT_ACCENT, 4.5),
    ("blanc / bouton survolé", "#ffffff", "#14495a", 4.5),
    ("erreur / blanc", "#b42318", "#ffffff", 4.5),
    ("erreur / fond d'erreur", "#b42318", "#fdecea", 4.5),
    ("blanc / bouton danger", "#ffffff", "#b42318", 4.5),
    ("succès / blanc", "#22703d", "#ffffff", 4.5),
    ("succès / fond de succès", "#22703d", "#e8f3ec", 4.5),
    ("avertissement / blanc", "#8a4a00", "#ffffff", 4.5),
    (
        "avertissement / fond d'avertissement",
        "#8a4a00",
        "#fff3e0",
        4.5,
    ),
    ("information / blanc", "#1f5a96", "#ffffff", 4.5),
    (
        "information / fond d'information",
        "#1f5a96",
        "#e9f1fa",
        4.5,
    ),
    ("neutre / fond neutre", "#4a5568", "#eef1f5", 4.5),
    ("bordure de champ / blanc", "#7a8494", "#ffffff", 3.0),
    ("contour de focus / blanc", "#2f6fde", "#ffffff", 3.0),
    ("carte : aucun ETP pourvu", "#b42318", "#ffffff", 3.0),
    ("carte : moins de la moitié", "#c2560c", "#ffffff", 3.0),
    ("carte : la moitié ou plus", "#8a6a00", "#ffffff", 3.0),
    ("carte : capacité atteinte", "#22703d", "#ffffff", 3.0),
    ("carte : sans objet", "#6b7280", "#ffffff", 3.0),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pair_of_the_palette_meets_wcag_aa() {
        let mut table =
            String::from("| paire | texte | fond | contraste | minimum |\n|---|---|---|---|---|\n");
        for (name, fg, bg, min) in PALETTE_PAIRS {
            let ratio = Colour::parse(fg)
                .unwrap()
                .contrast(Colour::parse(bg).unwrap());
            assert!(
                ratio >= *min,
                "{name}: {fg} on {bg} is {ratio:.2}:1 < {min}"
            );
            table.push_str(&format!(
                "| {name} | `{fg}` | `{bg}` | {ratio:.2} : 1 | {min} |\n"
            ));
        }
        // `cargo test --lib palette -- --nocapture` prints the README's table.
        println!("{}", table.replace('.', ","));
    }

    #[test]
    fn the_palette_is_the_one_of_app_css_and_has_no_state_colour() {
        let css = include_str!("../static/app.css").to_ascii_lowercase();
        for (_, fg, bg, _) in PALETTE_PAIRS {
            for c in [fg, bg] {
                assert!(css.contains(&c.to_ascii_lowercase()), "{c} not in app.css");
            }
        }
        for state in ["#000091", "#ce0500", "#18753c", "marianne"] {
            assert!(!css.contains(state), "{state} in app.css");
            let staff = include_str!("../static/staff.css").to_ascii_lowercase();
            assert!(!staff.contains(state), "{state} in staff.css");
        }
    }

    #[test]
    fn the_default_accent_derives_the_colours_of_app_css() {
        let a = Accent::check(DEFAULT_ACCENT).unwrap();
        assert_eq!(a.strong.to_string(), "#14495a");
        assert_eq!(a.soft.to_string(), "#eaf1f2");
    }

    #[test]
    fn an_accent_is_parsed_and_checked() {
        assert_eq!(Colour::parse("#0B6E4F").unwrap().to_string(), "#0b6e4f");
        assert_eq!(Colour::parse("#abc").unwrap().to_string(), "#aabbcc");
        for bad in [
            "0b6e4f",
            "#0b6e4",
            "#gggggg",
            "",
            "#",
            "rouge",
            "#0b6e4f00",
            "#é12345",
        ] {
            assert!(Colour::parse(bad).is_none(), "{bad}");
        }
        assert!(Accent::check("#0b6e4f").is_ok());
        let e = Accent::check("#ffcc00").err().unwrap();
        assert!(e.contains("4,5 : 1"), "{e}");
        assert!(Accent::check("#zzz")
            .err()
            .unwrap()
            .contains("hexadécimale"));
    }

    #[test]
    fn contrast_matches_known_values() {
        let ratio = Colour::WHITE.contrast(Colour::BLACK);
        assert!((ratio - 21.0).abs() < 1e-9);
        let grey = Colour::parse("#767676").unwrap().contrast(Colour::WHITE);
        assert!((grey - 4.54).abs() < 0.01, "{grey}");
    }

    #[test]
    fn the_stylesheet_sets_the_accent_and_the_logo() {
        let a = Accent::check("#0b6e4f").unwrap();
        let css = stylesheet(&a, true);
        assert!(css.contains("--accent: #0b6e4f;"), "{css}");
        assert!(css.contains(LOGO_URL));
        assert!(!stylesheet(&a, false).contains(LOGO_URL));
    }
}
