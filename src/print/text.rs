//! Text for the letters' PDF: French text turned into WinAnsiEncoding bytes (the encoding every
//! PDF reader knows for simple TrueType fonts, and which holds every character French needs:
//! accents, « œ », « « » », « ’ », « € », the no-break space), and the metrics of the two
//! embedded fonts, Liberation Sans 2 regular and bold (SIL Open Font License, see
//! assets/fonts/LICENSE).
//!
//! A character outside WinAnsiEncoding is never dropped: a letter of another Latin alphabet
//! (Polish « ł », Romanian « ș », Czech « č »…) is written without its accent, a decomposed
//! accent (« e » + U+0301) is put back on its letter, and anything else (emoji, another
//! script) becomes « ? ». Control and invisible formatting characters (bidi marks, zero-width
//! spaces) are not letters and are left out.

use std::sync::OnceLock;

/// WinAnsiEncoding's codes 0x80 to 0x9F (the rest of 0x20..=0xFF is Latin-1 itself);
/// `None` where the code is undefined.
const WIN_ANSI_80: [Option<char>; 32] = [
    Some('€'),
    None,
    Some('‚'),
    Some('ƒ'),
    Some('„'),
    Some('…'),
    Some('†'),
    Some('‡'),
    Some('ˆ'),
    Some('‰'),
    Some('Š'),
    Some('‹'),
    Some('Œ'),
    None,
    Some('Ž'),
    None,
    None,
    Some('‘'),
    Some('’'),
    Some('“'),
    Some('”'),
    Some('•'),
    Some('–'),
    Some('—'),
    Some('˜'),
    Some('™'),
    Some('š'),
    Some('›'),
    Some('œ'),
    None,
    Some('ž'),
    Some('Ÿ'),
];

/// The character a WinAnsiEncoding byte stands for (`None` for controls and undefined codes).
pub(crate) fn win_ansi_char(byte: u8) -> Option<char> {
    match byte {
        0x20..=0x7e => Some(byte as char),
        0x80..=0x9f => WIN_ANSI_80[usize::from(byte - 0x80)],
        0xa0..=0xff => char::from_u32(u32::from(byte)),
        _ => None,
    }
}

/// The WinAnsiEncoding byte of `c`, if it has one.
fn win_ansi_byte(c: char) -> Option<u8> {
    match c {
        ' '..='~' | '\u{a0}'..='\u{ff}' => Some(c as u32 as u8),
        _ => WIN_ANSI_80
            .iter()
            .position(|&x| x == Some(c))
            .map(|i| 0x80 + i as u8),
    }
}

/// Latin Extended-A (U+0100 to U+017F) without accents, one letter per code point; « * » where
/// the character is either in WinAnsiEncoding (Œ œ Š š Ÿ Ž ž) or written as two letters.
const LATIN_EXTENDED_A: &[u8] = concat!(
    "AaAaAaCcCcCcCcDd",
    "DdEeEeEeEeEeGgGg",
    "GgGgHhHhIiIiIiIi",
    "Ii**JjKkkLlLlLlL",
    "lLlNnNnNnnNnOoOo",
    "Oo**RrRrRrSsSsSs",
    "SsTtTtTtUuUuUuUu",
    "UuUuWwYyYZzZzZzs",
)
.as_bytes();
const _: () = assert!(LATIN_EXTENDED_A.len() == 128);

/// Base letter and combining mark (U+0300 to U+0327) composed into one Latin-1 letter.
const COMPOSE: &[(char, &str)] = &[
    ('\u{300}', "AÀaàEÈeèIÌiìOÒoòUÙuù"),
    ('\u{301}', "AÁaáEÉeéIÍiíOÓoóUÚuúYÝyý"),
    ('\u{302}', "AÂaâEÊeêIÎiîOÔoôUÛuû"),
    ('\u{303}', "AÃaãNÑnñOÕoõ"),
    ('\u{308}', "AÄaäEËeëIÏiïOÖoöUÜuüyÿYŸ"),
    ('\u{30a}', "AÅaå"),
    ('\u{30c}', "SŠsšZŽzž"),
    ('\u{327}', "CÇcç"),
];

/// `base` with the combining `mark`, when WinAnsiEncoding has that letter.
fn compose(base: u8, mark: char) -> Option<u8> {
    let base = win_ansi_char(base)?;
    let (_, pairs) = COMPOSE.iter().find(|(m, _)| *m == mark)?;
    let chars: Vec<char> = pairs.chars().collect();
    chars
        .chunks(2)
        .find(|pair| pair[0] == base)
        .and_then(|pair| win_ansi_byte(pair[1]))
}

/// Appends `s` to `out` in WinAnsiEncoding. Line breaks (`\n`, U+2028, U+2029) are kept as
/// `\n`; tabs become spaces; other controls and invisible formatting characters are left out.
pub(crate) fn encode_into(s: &str, out: &mut Vec<u8>) {
    for c in s.chars() {
        if let Some(b) = win_ansi_byte(c) {
            // U+00AD, the soft hyphen, is invisible in running text.
            if b != 0xad {
                out.push(b);
            }
            continue;
        }
        match c {
            '\n' | '\u{2028}' | '\u{2029}' => out.push(b'\n'),
            '\t' | '\u{2000}'..='\u{2006}' | '\u{2008}'..='\u{200a}' | '\u{205f}' | '\u{3000}' => {
                out.push(b' ')
            }
            // No-break spaces of other widths (figure space, French narrow no-break space).
            '\u{2007}' | '\u{202f}' => out.push(0xa0),
            '\u{2010}'..='\u{2012}' | '\u{2212}' | '\u{2043}' => out.push(b'-'),
            '\u{2015}' => out.push(0x97),
            '\u{2032}' => out.push(b'\''),
            '\u{2033}' => out.push(b'"'),
            '\u{2024}' => out.push(b'.'),
            '\u{fb00}' => out.extend_from_slice(b"ff"),
            '\u{fb01}' => out.extend_from_slice(b"fi"),
            '\u{fb02}' => out.extend_from_slice(b"fl"),
            '\u{fb03}' => out.extend_from_slice(b"ffi"),
            '\u{fb04}' => out.extend_from_slice(b"ffl"),
            '\u{132}' => out.extend_from_slice(b"IJ"),
            '\u{133}' => out.extend_from_slice(b"ij"),
            '\u{2116}' => out.extend_from_slice(b"No"),
            '\u{218}' => out.push(b'S'),
            '\u{219}' => out.push(b's'),
            '\u{21a}' => out.push(b'T'),
            '\u{21b}' => out.push(b't'),
            '\u{100}'..='\u{17f}' => {
                let b = LATIN_EXTENDED_A[c as usize - 0x100];
                out.push(if b == b'*' { b'?' } else { b });
            }
            // Combining marks: put back on the letter before when WinAnsiEncoding has the
            // accented letter, else the bare letter stays (the accent alone is not a letter).
            '\u{300}'..='\u{36f}' => {
                if let Some(last) = out.last_mut() {
                    if let Some(composed) = compose(*last, c) {
                        *last = composed;
                    }
                }
            }
            // Controls, zero-width and bidi formatting characters, the byte order mark and
            // variation selectors: invisible, not letters.
            '\0'..='\u{1f}'
            | '\u{7f}'..='\u{9f}'
            | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{206f}'
            | '\u{fe00}'..='\u{fe0f}'
            | '\u{feff}' => {}
            _ => out.push(b'?'),
        }
    }
}

/// `s` in WinAnsiEncoding (see [`encode_into`]).
pub(crate) fn encode(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    encode_into(s, &mut out);
    out
}

/// One embedded font: its file and what the PDF needs to describe it.
pub(crate) struct Font {
    /// The TrueType file, as shipped in assets/fonts.
    pub data: &'static [u8],
    /// The file compressed once for the `/FontFile2` stream.
    pub deflated: Vec<u8>,
    pub postscript_name: String,
    /// Advance width of each WinAnsiEncoding code, in thousandths of the font size.
    pub widths: [f32; 256],
    pub bbox: [f32; 4],
    pub ascent: f32,
    pub descent: f32,
    pub cap_height: f32,
    pub italic_angle: f32,
    pub stem_v: f32,
    pub bold: bool,
}

impl Font {
    fn load(data: &'static [u8], bold: bool) -> Font {
        // The font files are part of the binary; a broken one is a build mistake that every
        // test of this module shows.
        let face = ttf_parser::Face::parse(data, 0).expect("embedded font parses");
        let scale = 1000.0 / f32::from(face.units_per_em());
        let mut widths = [0.0; 256];
        for (byte, width) in widths.iter_mut().enumerate() {
            if let Some(c) = win_ansi_char(byte as u8) {
                if let Some(glyph) = face.glyph_index(c) {
                    *width = f32::from(face.glyph_hor_advance(glyph).unwrap_or(0)) * scale;
                }
            }
        }
        // The no-break space is drawn and measured as a space.
        widths[0xa0] = widths[0x20];
        let b = face.global_bounding_box();
        let postscript_name = face
            .names()
            .into_iter()
            .find(|n| n.name_id == ttf_parser::name_id::POST_SCRIPT_NAME && n.is_unicode())
            .and_then(|n| n.to_string())
            .unwrap_or_else(|| {
                if bold {
                    "LiberationSans-Bold".to_owned()
                } else {
                    "LiberationSans".to_owned()
                }
            });
        Font {
            data,
            deflated: super::deflate(data),
            postscript_name,
            widths,
            bbox: [
                f32::from(b.x_min) * scale,
                f32::from(b.y_min) * scale,
                f32::from(b.x_max) * scale,
                f32::from(b.y_max) * scale,
            ],
            ascent: f32::from(face.ascender()) * scale,
            descent: f32::from(face.descender()) * scale,
            cap_height: f32::from(face.capital_height().unwrap_or(face.ascender())) * scale,
            italic_angle: face.italic_angle(),
            stem_v: if bold { 140.0 } else { 80.0 },
            bold,
        }
    }

    /// Width of `text` (WinAnsiEncoding) at `size` points.
    pub fn width(&self, text: &[u8], size: f32) -> f32 {
        text.iter()
            .map(|&b| self.widths[usize::from(b)])
            .sum::<f32>()
            * size
            / 1000.0
    }
}

/// The two fonts of the letters, loaded once per process.
pub(crate) struct Fonts {
    pub regular: Font,
    pub bold: Font,
}

pub(crate) fn fonts() -> &'static Fonts {
    static FONTS: OnceLock<Fonts> = OnceLock::new();
    FONTS.get_or_init(|| Fonts {
        regular: Font::load(
            include_bytes!("../../assets/fonts/LiberationSans-Regular.ttf"),
            false,
        ),
        bold: Font::load(
            include_bytes!("../../assets/fonts/LiberationSans-Bold.ttf"),
            true,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8]) -> String {
        bytes
            .iter()
            .map(|&b| {
                if b == b'\n' {
                    '\n'
                } else {
                    win_ansi_char(b).unwrap()
                }
            })
            .collect()
    }

    #[test]
    fn french_text_round_trips_through_win_ansi() {
        let s = "« Œuvre », l’été à Auch : 12\u{a0}€, Ÿ ç à é è ê ë î ï ô ù û ü — – … œ æ ß";
        assert_eq!(decode(&encode(s)), s);
        // The narrow no-break space becomes the no-break space, not a breaking one.
        assert_eq!(encode("1\u{202f}234"), b"1\xa0234");
    }

    #[test]
    fn characters_outside_win_ansi_are_never_dropped() {
        assert_eq!(
            decode(&encode("Łukasz Bîrsan Ștefănescu Čapek Dvořák")),
            "Lukasz Bîrsan Stefanescu Capek Dvorák"
        );
        // Decomposed accents are put back on their letter.
        assert_eq!(decode(&encode("e\u{301}te\u{301} c\u{327}a")), "été ça");
        // Emoji and other scripts: one « ? » per character, never nothing.
        assert_eq!(decode(&encode("a😀b")), "a?b");
        assert_eq!(decode(&encode("שלום")), "????");
        // Controls and bidi marks are not letters.
        assert_eq!(
            decode(&encode("a\u{0}b\u{7}c\u{202e}d\u{200b}e\u{feff}")),
            "abcde"
        );
        assert_eq!(decode(&encode("a\tb\r\nc")), "a b\nc");
        // Every code point of Latin Extended-A gives at least one visible character.
        for c in '\u{100}'..='\u{17f}' {
            let e = encode(&c.to_string());
            assert!(!e.is_empty(), "{c:?}");
            assert!(e.iter().all(|&b| win_ansi_char(b).is_some()), "{c:?}");
        }
    }

    #[test]
    fn the_fonts_have_every_win_ansi_character() {
        let fonts = fonts();
        for font in [&fonts.regular, &fonts.bold] {
            for b in 0x20..=0xffu8 {
                if win_ansi_char(b).is_some() {
                    assert!(
                        font.widths[usize::from(b)] > 0.0,
                        "{b:#x} in {}",
                        font.postscript_name
                    );
                }
            }
        }
        assert_eq!(fonts.regular.postscript_name, "LiberationSans");
        assert_eq!(fonts.bold.postscript_name, "LiberationSans-Bold");
    }
}
