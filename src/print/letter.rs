//! The layout of one letter: where each line goes on the A4 pages, as PDF content streams.
//!
//! Page 1, measured from the top left corner of the sheet:
//! - the sender's identity top left (20 mm from the left, from 15 mm down);
//! - the recipient's address in the zone a French DL window envelope shows. The envelope is
//!   110 × 220 mm with its window of 45 × 100 mm on the right, 20 mm from the right edge and
//!   15 mm from the bottom edge (the right-window DL sold by French envelope makers; the A4
//!   sheet is folded in three, 99 mm panels). Across, the window covers the sheet from 95 to
//!   195 mm (the sheet is 10 mm narrower than the envelope); down, from 39 to 84 mm when the
//!   folded sheet rests at the bottom of the envelope and from 50 to 95 mm when it slides up.
//!   The address block therefore starts 100 mm from the left and 52 mm from the top and keeps
//!   within 90 mm × 32 mm: six lines of at most 38 characters (NF Z10-011), from 10 pt down to
//!   8 pt when a line is wide, and never cut: a line that does not fit is an error;
//! - the date line under the window, the « Objet », then the body;
//! - the personal QR code (vector, filled rectangles, at least 25 mm, with its 4-module quiet
//!   zone kept clear), the link in full and the personal code at the bottom.
//!
//! The body flows onto further pages (20 at most, then the letter is refused rather than cut);
//! when a letter has more than one page, each page carries « page n / N » and the code, so the
//! print shop can tell letters apart in the merged file.

use pdf_writer::{Content, Name, Str};
use qrcode::{Color, EcLevel, QrCode};

use super::text::{encode, encode_into, Font, Fonts};
use super::{Letter, LetterProblem, Sender};

/// A4 in points.
pub const PAGE_WIDTH: f32 = 595.275_6;
pub const PAGE_HEIGHT: f32 = 841.889_8;

/// The resource names of the two fonts.
pub(crate) const REGULAR: &[u8] = b"F1";
pub(crate) const BOLD: &[u8] = b"F2";

/// NF Z10-011: at most 6 lines of at most 38 characters.
pub const MAX_ADDRESS_LINES: usize = 6;
pub const MAX_ADDRESS_LINE_CHARS: usize = 38;
/// A letter longer than this is refused (the template is probably wrong).
pub const MAX_PAGES_PER_LETTER: u32 = 20;
/// The personal link and code are short by design; these bounds keep the QR code readable and
/// the block at the bottom of page 1 in its place.
pub const MAX_LINK_CHARS: usize = 200;
pub const MAX_CODE_CHARS: usize = 32;
/// More text than 20 full pages can hold: refused before any layout work.
const MAX_BODY_BYTES: usize = 200_000;

fn mm(v: f32) -> f32 {
    v * 72.0 / 25.4
}

const MARGIN_LEFT: f32 = 20.0;
const MARGIN_RIGHT: f32 = 20.0;
const SENDER_TOP: f32 = 15.0;
const SENDER_WIDTH: f32 = 72.0;
const ADDRESS_LEFT: f32 = 100.0;
const ADDRESS_TOP: f32 = 52.0;
const ADDRESS_WIDTH: f32 = 90.0;
const ADDRESS_MAX_HEIGHT: f32 = 32.0;
const DATE_BASELINE: f32 = 92.0;
const SUBJECT_BASELINE: f32 = 104.0;
const CONTINUATION_TOP: f32 = 20.0;
const CONTINUATION_BOTTOM: f32 = 275.0;
const QR_BOTTOM: f32 = 282.0;
const QR_MIN_SIZE: f32 = 25.0;
const QR_MIN_MODULE: f32 = 0.5;
const FOOTER_BASELINE: f32 = 290.0;

const BODY_SIZE: f32 = 10.0;
const BODY_LEADING: f32 = 13.5;
const PARAGRAPH_GAP: f32 = 6.0;

fn text_width() -> f32 {
    mm(210.0 - MARGIN_LEFT - MARGIN_RIGHT)
}

/// Lays out one letter; one content stream per page.
pub(crate) fn lay_out(
    sender: &Sender,
    letter: &Letter,
    fonts: &Fonts,
) -> Result<Vec<Content>, LetterProblem> {
    let address = check_address(letter)?;
    if letter.link.trim().is_empty() {
        return Err(LetterProblem::NoLink);
    }
    if letter.link.chars().count() > MAX_LINK_CHARS {
        return Err(LetterProblem::LinkTooLong(MAX_LINK_CHARS));
    }
    // What is printed must be what the QR code gives: printable ASCII only (a short link is).
    if !letter.link.trim().bytes().all(|b| b.is_ascii_graphic()) {
        return Err(LetterProblem::LinkNotAscii);
    }
    if letter.code.trim().is_empty() {
        return Err(LetterProblem::NoCode);
    }
    if letter.code.chars().count() > MAX_CODE_CHARS {
        return Err(LetterProblem::CodeTooLong(MAX_CODE_CHARS));
    }
    if letter.body.len() > MAX_BODY_BYTES {
        return Err(LetterProblem::BodyTooLong(MAX_PAGES_PER_LETTER));
    }
    let qr = QrCode::with_error_correction_level(letter.link.trim().as_bytes(), EcLevel::M)
        .map_err(|_| LetterProblem::LinkTooLong(MAX_LINK_CHARS))?;

    let mut pages = Pages {
        fonts,
        pages: vec![Content::new()],
        y: 0.0,
        bottom: 0.0,
    };
    pages.sender(sender)?;
    pages.address(&address)?;

    let date = date_line(&sender.place, letter.date);
    pages.y = mm(DATE_BASELINE);
    pages.text(REGULAR, BODY_SIZE, mm(ADDRESS_LEFT), &date);

    // The QR block's height decides where the body of page 1 must stop.
    let qr_size = mm(QR_MIN_SIZE.max(qr.width() as f32 * QR_MIN_MODULE));
    let module = qr_size / qr.width() as f32;
    let qr_top = mm(QR_BOTTOM) - qr_size;
    pages.qr_block(&qr, module, qr_top, letter)?;

    pages.y = mm(SUBJECT_BASELINE);
    pages.bottom = qr_top - 4.0 * module - BODY_LEADING;
    let subject = encode(letter.subject.trim());
    if !subject.iter().all(|b| b.is_ascii_whitespace()) {
        let mut line = encode("Objet : ");
        line.extend(subject.iter().map(|&b| if b == b'\n' { b' ' } else { b }));
        for l in wrap(&fonts.bold, BODY_SIZE, &line, text_width()) {
            pages.line(BOLD, mm(MARGIN_LEFT), &l)?;
        }
        pages.y += mm(6.0);
    } else {
        pages.y += BODY_LEADING;
    }

    pages.body(&encode(&letter.body))?;

    let count = pages.pages.len();
    if count > 1 {
        for (i, content) in pages.pages.iter_mut().enumerate() {
            let mut footer = format!("Page {} / {count}", i + 1).into_bytes();
            footer.extend_from_slice(b" \x97 code ");
            encode_into(letter.code.trim(), &mut footer);
            footer.retain(|&b| b != b'\n');
            let x = mm(210.0 - MARGIN_RIGHT) - fonts.regular.width(&footer, 8.0);
            show(content, REGULAR, 8.0, x, mm(FOOTER_BASELINE), &footer);
        }
    }
    Ok(pages.pages)
}

/// The address lines to print: blank lines skipped, NF Z10-011's bounds checked.
fn check_address(letter: &Letter) -> Result<Vec<Vec<u8>>, LetterProblem> {
    let lines: Vec<&str> = letter
        .address
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
        .collect();
    if lines.is_empty() {
        return Err(LetterProblem::NoAddress);
    }
    if lines.len() > MAX_ADDRESS_LINES {
        return Err(LetterProblem::TooManyAddressLines(lines.len()));
    }
    let mut encoded = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        let chars = line.chars().count();
        if chars > MAX_ADDRESS_LINE_CHARS {
            return Err(LetterProblem::AddressLineTooLong { line: i + 1, chars });
        }
        let mut bytes = encode(line);
        // A line break inside a line would print outside the window.
        for b in &mut bytes {
            if *b == b'\n' {
                *b = b' ';
            }
        }
        encoded.push(bytes);
    }
    Ok(encoded)
}

/// « Auch, le 7 décembre 2026 » (« le 1er mai 2027 » on the first of a month).
pub(crate) fn date_line(place: &str, date: chrono::NaiveDate) -> String {
    use chrono::Datelike;
    // « lundi 7 décembre »: the weekday is left out.
    let weekday_date = crate::domain::french::weekday_date(date);
    let day_month = weekday_date
        .split_once(' ')
        .map_or(weekday_date.as_str(), |(_, rest)| rest);
    let place = place.trim();
    if place.is_empty() {
        format!("Le {day_month} {}", date.year())
    } else {
        format!("{place}, le {day_month} {}", date.year())
    }
}

/// Cuts `text` (WinAnsiEncoding, no line break) into lines no wider than `width` points: at
/// spaces, and inside a word only when the word alone is wider than a line. Nothing is lost.
pub(crate) fn wrap(font: &Font, size: f32, text: &[u8], width: f32) -> Vec<Vec<u8>> {
    let space = font.width(b" ", size);
    let mut lines = Vec::new();
    let mut line: Vec<u8> = Vec::new();
    let mut line_width = 0.0;
    for word in text.split(|&b| b == b' ').filter(|w| !w.is_empty()) {
        let word_width = font.width(word, size);
        let gap = if line.is_empty() { 0.0 } else { space };
        if line_width + gap + word_width <= width {
            if !line.is_empty() {
                line.push(b' ');
            }
            line.extend_from_slice(word);
            line_width += gap + word_width;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
            line_width = 0.0;
        }
        if word_width <= width {
            line.extend_from_slice(word);
            line_width = word_width;
        } else {
            for &b in word {
                let w = font.width(&[b], size);
                if line_width + w > width && !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                    line_width = 0.0;
                }
                line.push(b);
                line_width += w;
            }
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// Shows `text` with its baseline at `y` points from the top of the page.
fn show(content: &mut Content, font: &[u8], size: f32, x: f32, y: f32, text: &[u8]) {
    content
        .begin_text()
        .set_font(Name(font), size)
        .set_text_matrix([1.0, 0.0, 0.0, 1.0, x, PAGE_HEIGHT - y])
        .show(Str(text))
        .end_text();
}

/// The pages of one letter being laid out, and the cursor: `y` is the next baseline, from the
/// top of the page, and `bottom` the lowest baseline allowed on the current page.
struct Pages<'f> {
    fonts: &'f Fonts,
    pages: Vec<Content>,
    y: f32,
    bottom: f32,
}

impl Pages<'_> {
    fn current(&mut self) -> &mut Content {
        // There is always at least page 1.
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    /// One line at the cursor, without moving it.
    fn text(&mut self, name: &[u8], size: f32, x: f32, text: &str) {
        let mut bytes = encode(text);
        bytes.retain(|&b| b != b'\n');
        let y = self.y;
        show(self.current(), name, size, x, y, &bytes);
    }

    /// One body line at the cursor, moving it down; a new page first when there is no room.
    fn line(&mut self, name: &[u8], x: f32, text: &[u8]) -> Result<(), LetterProblem> {
        if self.y > self.bottom {
            self.new_page()?;
        }
        let y = self.y;
        show(self.current(), name, BODY_SIZE, x, y, text);
        self.y += BODY_LEADING;
        Ok(())
    }

    fn new_page(&mut self) -> Result<(), LetterProblem> {
        if self.pages.len() as u32 >= MAX_PAGES_PER_LETTER {
            return Err(LetterProblem::BodyTooLong(MAX_PAGES_PER_LETTER));
        }
        self.pages.push(Content::new());
        self.y = mm(CONTINUATION_TOP) + BODY_SIZE;
        self.bottom = mm(CONTINUATION_BOTTOM);
        Ok(())
    }

    /// Name (bold), service, then the return address, top left; it must end above the date.
    fn sender(&mut self, sender: &Sender) -> Result<(), LetterProblem> {
        let fonts = self.fonts;
        let x = mm(MARGIN_LEFT);
        let width = mm(SENDER_WIDTH);
        let mut y = mm(SENDER_TOP);
        let blocks: [(&Font, &[u8], f32, Vec<&str>); 3] = [
            (&fonts.bold, BOLD, 11.0, vec![sender.name.as_str()]),
            (&fonts.regular, REGULAR, 10.0, vec![sender.service.as_str()]),
            (
                &fonts.regular,
                REGULAR,
                9.0,
                sender.address_lines.iter().map(String::as_str).collect(),
            ),
        ];
        for (font, name, size, lines) in blocks {
            for line in lines {
                for part in encode(line).split(|&b| b == b'\n') {
                    for l in wrap(font, size, part, width) {
                        y += size * 1.25;
                        if y > mm(DATE_BASELINE - 8.0) {
                            return Err(LetterProblem::SenderTooLong);
                        }
                        show(self.current(), name, size, x, y, &l);
                    }
                }
            }
        }
        Ok(())
    }

    /// The recipient's address in the envelope's window, at the largest size that fits.
    fn address(&mut self, lines: &[Vec<u8>]) -> Result<(), LetterProblem> {
        let font = &self.fonts.regular;
        let width = mm(ADDRESS_WIDTH);
        let mut size = 10.0;
        loop {
            let widest = lines
                .iter()
                .enumerate()
                .find(|(_, l)| font.width(l, size) > width);
            match widest {
                None => break,
                Some((i, _)) if size <= 8.0 => {
                    return Err(LetterProblem::AddressLineTooWide { line: i + 1 })
                }
                Some(_) => size -= 0.5,
            }
        }
        let leading = size * 1.2;
        debug_assert!(leading * MAX_ADDRESS_LINES as f32 <= mm(ADDRESS_MAX_HEIGHT));
        let mut y = mm(ADDRESS_TOP) + size;
        for line in lines {
            show(self.current(), REGULAR, size, mm(ADDRESS_LEFT), y, line);
            y += leading;
        }
        Ok(())
    }

    /// The QR code at the bottom left of page 1, the link and the code on its right.
    fn qr_block(
        &mut self,
        qr: &QrCode,
        module: f32,
        top: f32,
        letter: &Letter,
    ) -> Result<(), LetterProblem> {
        let fonts = self.fonts;
        let left = mm(MARGIN_LEFT) + 4.0 * module;
        let width = qr.width();
        let content = self.current();
        content.save_state().set_fill_gray(0.0);
        for row in 0..width {
            let mut col = 0;
            while col < width {
                if qr[(col, row)] != Color::Dark {
                    col += 1;
                    continue;
                }
                let start = col;
                while col < width && qr[(col, row)] == Color::Dark {
                    col += 1;
                }
                content.rect(
                    left + start as f32 * module,
                    PAGE_HEIGHT - top - (row + 1) as f32 * module,
                    (col - start) as f32 * module,
                    module,
                );
            }
        }
        content.fill_nonzero().restore_state();

        let x = left + width as f32 * module + 4.0 * module + mm(4.0);
        let text_width = mm(210.0 - MARGIN_RIGHT) - x;
        let mut y = top + 10.0;
        let intro = encode("Pour répondre en ligne, scannez ce code ou saisissez l’adresse :");
        for l in wrap(&fonts.regular, 9.5, &intro, text_width) {
            show(content, REGULAR, 9.5, x, y, &l);
            y += 12.0;
        }
        let link = encode(letter.link.trim());
        for l in wrap(&fonts.bold, 10.0, &link, text_width) {
            show(content, BOLD, 10.0, x, y, &l);
            y += 12.5;
        }
        y += 4.0;
        let label = encode("Votre code personnel : ");
        let code = encode(letter.code.trim());
        let label_width = fonts.regular.width(&label, 10.0);
        show(content, REGULAR, 10.0, x, y, &label);
        if label_width + fonts.bold.width(&code, 11.0) <= text_width {
            show(content, BOLD, 11.0, x + label_width, y, &code);
        } else {
            for l in wrap(&fonts.bold, 11.0, &code, text_width) {
                y += 13.0;
                show(content, BOLD, 11.0, x, y, &l);
            }
        }
        Ok(())
    }

    /// The body: lines kept, blank lines between paragraphs, long lines wrapped.
    fn body(&mut self, body: &[u8]) -> Result<(), LetterProblem> {
        let font = &self.fonts.regular;
        let mut blank_before = false;
        let mut first = true;
        for line in body.split(|&b| b == b'\n') {
            if line.iter().all(|&b| b == b' ' || b == 0xa0) {
                blank_before = true;
                continue;
            }
            if blank_before && !first {
                self.y += PARAGRAPH_GAP;
            }
            blank_before = false;
            first = false;
            for l in wrap(font, BODY_SIZE, line, text_width()) {
                self.line(REGULAR, mm(MARGIN_LEFT), &l)?;
            }
        }
        Ok(())
    }
}
