//! Letters (courrier) as PDF for the print shop: one A4 page or more per letter, the
//! recipient's address placed for a French DL window envelope, the département's identity, the
//! date, the subject, the body, and the contact's personal link as text and as a QR code with
//! the personal code.
//!
//! [`write_letters`] writes any number of letters into one PDF object by object: each page is
//! written to the output as soon as it is laid out, so memory holds one letter at a time plus
//! the list of page references and byte offsets (a few bytes per page), whatever the count.
//! The two fonts (Liberation Sans 2, regular and bold, SIL Open Font License) are embedded
//! once per file; text is WinAnsiEncoding, so it stays selectable and `pdftotext` gives it back.

mod letter;
mod text;

#[cfg(test)]
mod tests;

use std::io::{self, Write};

use pdf_writer::{Chunk, Filter, Finish, Name, Rect, Ref, Settings};

pub use letter::{
    MAX_ADDRESS_LINES, MAX_ADDRESS_LINE_CHARS, MAX_CODE_CHARS, MAX_LINK_CHARS, MAX_PAGES_PER_LETTER,
};

/// The département's identity, printed on every letter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender {
    /// e.g. « Département du Gers ».
    pub name: String,
    /// e.g. « Centre départemental de santé ».
    pub service: String,
    /// The return address lines.
    pub address_lines: Vec<String>,
    /// The town of the date line: « Auch, le 7 décembre 2026 ».
    pub place: String,
}

/// One letter to one contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Letter {
    /// 1 to 6 lines of at most 38 characters (NF Z10-011), already formatted by the caller;
    /// blank lines are skipped.
    pub address: Vec<String>,
    /// The date printed: « Auch, le 7 décembre 2026 ».
    pub date: chrono::NaiveDate,
    /// The « Objet : » line (left out when empty).
    pub subject: String,
    /// Plain text; paragraphs are separated by blank lines, a single line break is kept.
    pub body: String,
    /// The personal short URL, printed in full and encoded as a QR code.
    pub link: String,
    /// The personal code printed near the QR code.
    pub code: String,
}

/// Why a letter cannot be printed as given. [`write_letters`] returns it inside an
/// [`io::Error`] of kind [`io::ErrorKind::InvalidInput`]; get it back with
/// [`LetterError::from_io`]. Its `Display` is a French sentence for staff.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Courrier n° {} (code {code}) : {problem}", .index + 1)]
pub struct LetterError {
    /// Position of the letter in the iterator given to [`write_letters`], from 0.
    pub index: usize,
    /// The letter's personal code, to find the contact.
    pub code: String,
    pub problem: LetterProblem,
}

impl LetterError {
    /// The letter error carried by `e`, if `e` is one.
    pub fn from_io(e: &io::Error) -> Option<&LetterError> {
        e.get_ref()?.downcast_ref::<LetterError>()
    }
}

/// What is wrong with a letter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LetterProblem {
    #[error("l’adresse est vide.")]
    NoAddress,
    #[error("l’adresse a {0} lignes ; La Poste en admet 6 au plus.")]
    TooManyAddressLines(usize),
    #[error("la ligne {line} de l’adresse a {chars} caractères ; La Poste en admet 38 au plus.")]
    AddressLineTooLong { line: usize, chars: usize },
    #[error("la ligne {line} de l’adresse est trop large pour la fenêtre de l’enveloppe.")]
    AddressLineTooWide { line: usize },
    #[error("le texte du courrier dépasse {0} pages.")]
    BodyTooLong(u32),
    #[error("le lien personnel dépasse {0} caractères.")]
    LinkTooLong(usize),
    #[error("le lien personnel est vide.")]
    NoLink,
    #[error("le lien personnel contient des espaces ou des caractères non ASCII : il ne serait pas imprimé tel que le code QR le donne.")]
    LinkNotAscii,
    #[error("le code personnel est vide.")]
    NoCode,
    #[error("le code personnel dépasse {0} caractères.")]
    CodeTooLong(usize),
    #[error("l’en-tête de l’expéditeur est trop long pour tenir au-dessus de la date.")]
    SenderTooLong,
    #[error("aucun courrier à imprimer.")]
    NoLetters,
}

/// Checks that `letter` can be printed (the same checks as [`write_letters`], without writing
/// anything) and returns its number of pages. `index` is only copied into the error.
pub fn check_letter(sender: &Sender, letter: &Letter, index: usize) -> Result<u32, LetterError> {
    letter::lay_out(sender, letter, text::fonts())
        .map(|pages| pages.len() as u32)
        .map_err(|problem| LetterError {
            index,
            code: letter.code.clone(),
            problem,
        })
}

/// Writes every letter, each starting on a new page, into one PDF, object by object, so memory
/// does not grow with the number of letters. Returns the number of pages written.
///
/// A letter that cannot be printed (see [`LetterProblem`]) stops the writing with an
/// [`io::Error`] of kind `InvalidInput` carrying a [`LetterError`]; what was written to `out`
/// until then is not a valid PDF and must be thrown away. Use [`check_letter`] first to report
/// every bad letter at once.
pub fn write_letters<W: Write>(
    sender: &Sender,
    letters: impl Iterator<Item = Letter>,
    out: W,
) -> io::Result<u32> {
    let fonts = text::fonts();
    let mut pdf = PdfOut::start(out)?;
    pdf.write_font(&fonts.regular, FONT_REGULAR)?;
    pdf.write_font(&fonts.bold, FONT_BOLD)?;
    let mut kids: Vec<Ref> = Vec::new();
    for (index, letter) in letters.enumerate() {
        let pages = letter::lay_out(sender, &letter, fonts).map_err(|problem| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                LetterError {
                    index,
                    code: letter.code.clone(),
                    problem,
                },
            )
        })?;
        for content in pages {
            let data = deflate(&content.finish());
            let content_id = pdf.next_ref();
            let page_id = pdf.next_ref();
            pdf.object(|chunk| {
                chunk.stream(content_id, &data).filter(Filter::FlateDecode);
            })?;
            pdf.object(|chunk| {
                let mut page = chunk.page(page_id);
                page.media_box(Rect::new(0.0, 0.0, letter::PAGE_WIDTH, letter::PAGE_HEIGHT))
                    .parent(PAGE_TREE)
                    .contents(content_id);
                page.resources()
                    .fonts()
                    .pair(Name(letter::REGULAR), FONT_REGULAR.font)
                    .pair(Name(letter::BOLD), FONT_BOLD.font);
            })?;
            kids.push(page_id);
        }
    }
    if kids.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            LetterError {
                index: 0,
                code: String::new(),
                problem: LetterProblem::NoLetters,
            },
        ));
    }
    let count = kids.len() as u32;
    pdf.finish(&kids)?;
    Ok(count)
}

/// The objects of one embedded font.
#[derive(Clone, Copy)]
struct FontRefs {
    font: Ref,
    descriptor: Ref,
    file: Ref,
}

const CATALOG: Ref = Ref::new(1);
const PAGE_TREE: Ref = Ref::new(2);
const INFO: Ref = Ref::new(3);
const FONT_REGULAR: FontRefs = FontRefs {
    font: Ref::new(4),
    descriptor: Ref::new(5),
    file: Ref::new(6),
};
const FONT_BOLD: FontRefs = FontRefs {
    font: Ref::new(7),
    descriptor: Ref::new(8),
    file: Ref::new(9),
};
const FIRST_FREE_REF: i32 = 10;

/// zlib-compressed `data`, for FlateDecode streams.
fn deflate(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::ZlibEncoder::new(
        Vec::with_capacity(data.len() / 2 + 64),
        flate2::Compression::new(6),
    );
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(data);
    encoder.finish().unwrap_or_default()
}

/// A PDF written to `out` one indirect object at a time: only the byte offset of each object
/// stays in memory, for the cross-reference table written at the end.
struct PdfOut<W: Write> {
    out: io::BufWriter<W>,
    position: u64,
    /// Byte offset of object n at index n - 1 (0 while not yet written).
    offsets: Vec<u64>,
    next: i32,
}

impl<W: Write> PdfOut<W> {
    fn start(out: W) -> io::Result<Self> {
        let mut pdf = PdfOut {
            out: io::BufWriter::with_capacity(64 * 1024, out),
            position: 0,
            offsets: Vec::new(),
            next: FIRST_FREE_REF,
        };
        // The binary comment tells transfer tools that the file is binary.
        pdf.raw(b"%PDF-1.7\n%\x80\x80\x80\x80\n")?;
        Ok(pdf)
    }

    fn raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.position += bytes.len() as u64;
        Ok(())
    }

    fn next_ref(&mut self) -> Ref {
        let r = Ref::new(self.next);
        self.next += 1;
        r
    }

    /// Writes the one indirect object that `write` puts into a fresh chunk.
    fn object(&mut self, write: impl FnOnce(&mut Chunk)) -> io::Result<()> {
        let mut chunk = Chunk::with_settings(Settings { pretty: false });
        write(&mut chunk);
        let mut refs = chunk.refs();
        let id = refs.next().expect("one object per chunk").get();
        debug_assert!(refs.next().is_none(), "one object per chunk");
        let index = (id - 1) as usize;
        if self.offsets.len() <= index {
            self.offsets.resize(index + 1, 0);
        }
        self.offsets[index] = self.position;
        self.raw(chunk.as_bytes())
    }

    fn write_font(&mut self, font: &text::Font, refs: FontRefs) -> io::Result<()> {
        self.object(|chunk| {
            let mut dict = chunk.indirect(refs.font).dict();
            dict.pair(Name(b"Type"), Name(b"Font"));
            dict.pair(Name(b"Subtype"), Name(b"TrueType"));
            dict.pair(Name(b"BaseFont"), Name(font.postscript_name.as_bytes()));
            dict.pair(Name(b"FirstChar"), 32);
            dict.pair(Name(b"LastChar"), 255);
            dict.insert(Name(b"Widths"))
                .array()
                .items(font.widths[32..].iter().copied());
            dict.pair(Name(b"Encoding"), Name(b"WinAnsiEncoding"));
            dict.pair(Name(b"FontDescriptor"), refs.descriptor);
            dict.finish();
        })?;
        self.object(|chunk| {
            let mut flags = pdf_writer::types::FontFlags::NON_SYMBOLIC;
            if font.bold {
                flags |= pdf_writer::types::FontFlags::FORCE_BOLD;
            }
            chunk
                .font_descriptor(refs.descriptor)
                .name(Name(font.postscript_name.as_bytes()))
                .flags(flags)
                .bbox(Rect::new(
                    font.bbox[0],
                    font.bbox[1],
                    font.bbox[2],
                    font.bbox[3],
                ))
                .italic_angle(font.italic_angle)
                .ascent(font.ascent)
                .descent(font.descent)
                .cap_height(font.cap_height)
                .stem_v(font.stem_v)
                .font_file2(refs.file);
        })?;
        self.object(|chunk| {
            chunk
                .stream(refs.file, &font.deflated)
                .filter(Filter::FlateDecode)
                .pair(Name(b"Length1"), font.data.len() as i32);
        })
    }

    /// The page tree, catalog, document information, cross-reference table and trailer.
    fn finish(mut self, kids: &[Ref]) -> io::Result<()> {
        self.object(|chunk| {
            chunk
                .pages(PAGE_TREE)
                .kids(kids.iter().copied())
                .count(kids.len() as i32);
        })?;
        self.object(|chunk| {
            chunk
                .indirect(CATALOG)
                .start::<pdf_writer::writers::Catalog>()
                .pages(PAGE_TREE)
                .lang(pdf_writer::TextStr("fr-FR"));
        })?;
        self.object(|chunk| {
            chunk
                .indirect(INFO)
                .start::<pdf_writer::writers::DocumentInfo>()
                .title(pdf_writer::TextStr("Courriers"))
                .producer(pdf_writer::TextStr("Vocation"));
        })?;
        let xref_offset = self.position;
        let size = self.offsets.len() + 1;
        let mut table = String::with_capacity(size * 20 + 64);
        table.push_str(&format!("xref\n0 {size}\n0000000000 65535 f\r\n"));
        for offset in std::mem::take(&mut self.offsets) {
            // Every number up to the last was used: the layout never leaves a hole.
            table.push_str(&format!("{offset:010} 00000 n\r\n"));
        }
        self.raw(table.as_bytes())?;
        self.raw(
            format!(
                "trailer\n<< /Size {size} /Root {} 0 R /Info {} 0 R >>",
                CATALOG.get(),
                INFO.get()
            )
            .as_bytes(),
        )?;
        self.raw(format!("\nstartxref\n{xref_offset}\n%%EOF\n").as_bytes())?;
        self.out.flush()
    }
}
