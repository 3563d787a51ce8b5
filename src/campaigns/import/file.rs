//! Reading an import file: encoding, byte-order mark, delimiter, the header's columns (French
//! names, case and accents ignored, usual synonyms) and the rows one at a time.
//!
//! The encodings are those a département officer's spreadsheet writes: UTF-8 with or without a
//! byte-order mark (« CSV UTF-8 »), UTF-16 with its mark (« Texte Unicode »), and Windows-1252,
//! what Excel writes for « CSV (séparateur : point-virgule) » on a French Windows. A file that is
//! none of these (bytes Windows-1252 leaves undefined, a UTF-16 file cut in the middle, a
//! spreadsheet sent as it is) is refused with what to do. Decoding is `encoding_rs`'s.

use std::borrow::Cow;

use super::MAX_ROWS;

/// Lower case, accents removed, only letters and digits: "Base légale" → "baselegale".
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().flat_map(char::to_lowercase) {
        let mapped = match c {
            'à' | 'á' | 'â' | 'ä' | 'ã' | 'å' => "a",
            'ç' => "c",
            'è' | 'é' | 'ê' | 'ë' => "e",
            'ì' | 'í' | 'î' | 'ï' => "i",
            'ñ' => "n",
            'ò' | 'ó' | 'ô' | 'ö' | 'õ' => "o",
            'ù' | 'ú' | 'û' | 'ü' => "u",
            'ý' | 'ÿ' => "y",
            'œ' => "oe",
            'æ' => "ae",
            c if c.is_ascii_alphanumeric() => {
                out.push(c);
                continue;
            }
            _ => continue,
        };
        out.push_str(mapped);
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Email,
    FirstName,
    LastName,
    Organisation,
    Kind,
    Tags,
    City,
    LegalBasis,
    Complement,
    Building,
    Street,
    Locality,
    Postcode,
    PostalTown,
    Country,
}

/// The column a header cell names, if any (a few usual synonyms are accepted).
fn column_for(header: &str) -> Option<Column> {
    Some(match fold(header).as_str() {
        "email" | "courriel" | "mail" | "adresse" | "adresseelectronique" | "adressemail" => {
            Column::Email
        }
        "prenom" => Column::FirstName,
        "nom" | "nomdefamille" => Column::LastName,
        "organisation" | "organisme" => Column::Organisation,
        "type" => Column::Kind,
        "etiquettes" | "etiquette" | "tags" => Column::Tags,
        "ville" | "commune" => Column::City,
        "baselegale" => Column::LegalBasis,
        "adressecomplement" | "complement" => Column::Complement,
        "adressebatiment" | "batiment" | "residence" => Column::Building,
        "adressevoie" | "voie" | "numeroetvoie" | "rue" => Column::Street,
        "adresselieudit" | "lieudit" | "bp" | "boitepostale" => Column::Locality,
        "codepostal" | "cp" => Column::Postcode,
        "communepostale" | "localite" => Column::PostalTown,
        "pays" => Column::Country,
        _ => return None,
    })
}

/// Why a file cannot be read at all (nothing is imported).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    #[error("Le fichier est vide : il doit commencer par une ligne d'en-tête (email;prenom;nom;…) suivie d'une ligne par contact.")]
    Empty,
    #[error("Le fichier n'est pas encodé en UTF-8 (premier caractère illisible à la ligne {line}) : enregistrez-le depuis votre tableur au format « CSV UTF-8 », puis recommencez.")]
    NotUtf8 { line: u64 },
    #[error("Le fichier est marqué comme {encoding} mais contient des octets qui ne sont pas du {encoding} (vers la ligne {line}) : il est peut-être tronqué. Enregistrez-le à nouveau depuis votre tableur au format « CSV UTF-8 » ou « CSV (séparateur : point-virgule) », puis recommencez.")]
    BadEncoding { encoding: &'static str, line: u64 },
    #[error("L'encodage du fichier n'est pas reconnu (caractère illisible à la ligne {line}) : les encodages acceptés sont UTF-8, UTF-16 et Windows-1252 (Excel). Enregistrez-le depuis votre tableur au format « CSV UTF-8 », puis recommencez.")]
    UnknownEncoding { line: u64 },
    #[error("Ce fichier est un classeur (Excel ou autre tableur), pas un fichier CSV : ouvrez-le dans votre tableur, puis « Enregistrer sous » au format « CSV UTF-8 » ou « CSV (séparateur : point-virgule) », et envoyez ce fichier-là.")]
    Spreadsheet,
    #[error("Le fichier compte plus de {max} lignes de contacts : découpez-le en plusieurs fichiers d'au plus {max} lignes.", max = crate::domain::french::thousands(MAX_ROWS as i64))]
    TooManyRows,
    #[error("La première ligne doit être l'en-tête des colonnes et contenir une colonne « email » (trouvé : « {found} »). Colonnes reconnues : email, prenom, nom, organisation, type, etiquettes, ville, base_legale, adresse_complement, adresse_batiment, adresse_voie, adresse_lieu_dit, code_postal, commune_postale, pays.")]
    NoEmailColumn { found: String },
    #[error("La colonne « {0} » apparaît deux fois dans l'en-tête : gardez-en une seule.")]
    DuplicateColumn(String),
    #[error("Ligne {line} illisible : {reason}")]
    Malformed { line: u64, reason: String },
}

/// One data row as written in the file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawRow {
    /// Line of the file where the row starts (the header is line 1).
    pub line: u64,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub organisation: String,
    pub kind: String,
    pub tags: String,
    pub city: String,
    pub legal_basis: String,
    /// The postal address columns (all empty: no address).
    pub address: crate::domain::AddressInput,
}

/// How a file's bytes were read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TextEncoding {
    #[default]
    Utf8,
    /// UTF-8 with a byte-order mark (Excel's « CSV UTF-8 »).
    Utf8Bom,
    /// Excel's « CSV » on a French Windows.
    Windows1252,
    Utf16Le,
    Utf16Be,
}

impl TextEncoding {
    /// As the import's preview names it.
    pub fn label(self) -> &'static str {
        match self {
            TextEncoding::Utf8 => "UTF-8",
            TextEncoding::Utf8Bom => "UTF-8 avec marque d'ordre (Excel « CSV UTF-8 »)",
            TextEncoding::Windows1252 => "Windows-1252 (Excel)",
            TextEncoding::Utf16Le => "UTF-16 petit-boutiste (Excel « Texte Unicode »)",
            TextEncoding::Utf16Be => "UTF-16 gros-boutiste",
        }
    }
}

/// A delimiter as the import's preview names it.
pub fn delimiter_label(delimiter: char) -> &'static str {
    match delimiter {
        ';' => "point-virgule",
        '\t' => "tabulation",
        _ => "virgule",
    }
}

/// « Encodage : Windows-1252 (Excel) · Séparateur : point-virgule ».
pub fn format_label(encoding: TextEncoding, delimiter: char) -> String {
    format!(
        "Encodage : {} · Séparateur : {}",
        encoding.label(),
        delimiter_label(delimiter)
    )
}

/// The line (from 1) of the byte at `offset`.
fn line_at(bytes: &[u8], offset: usize) -> u64 {
    1 + bytes[..offset.min(bytes.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count() as u64
}

/// Decodes with `encoding`, refusing malformed input; the line of the first malformed byte.
fn decode_strict(encoding: &'static encoding_rs::Encoding, bytes: &[u8]) -> Result<String, u64> {
    if let Some(text) = encoding.decode_without_bom_handling_and_without_replacement(bytes) {
        return Ok(text.into_owned());
    }
    let (lossy, _) = encoding.decode_without_bom_handling(bytes);
    let at = lossy.find('\u{fffd}').unwrap_or(lossy.len());
    Err(1 + lossy[..at].matches('\n').count() as u64)
}

/// A text that has no control character but tabs and line ends: what a CSV written by a
/// spreadsheet in that encoding gives. A C1 control (U+0080–U+009F) is what Windows-1252 makes
/// of the bytes it leaves undefined.
fn first_control_line(text: &str) -> Option<u64> {
    let at = text.find(|c: char| c.is_control() && !matches!(c, '\t' | '\r' | '\n'))?;
    Some(1 + text[..at].matches('\n').count() as u64)
}

/// Where UTF-16 without a mark puts its zero bytes, if the start of the file looks like it:
/// the ASCII of a CSV header is one zero byte in two.
fn unmarked_utf16(bytes: &[u8]) -> Option<TextEncoding> {
    let start = &bytes[..bytes.len().min(4096) & !1];
    if start.len() < 4 {
        return None;
    }
    let pairs = start.len() / 2;
    let odd = start.chunks(2).filter(|p| p[1] == 0 && p[0] != 0).count();
    let even = start.chunks(2).filter(|p| p[0] == 0 && p[1] != 0).count();
    if odd * 10 >= pairs * 8 {
        Some(TextEncoding::Utf16Le)
    } else if even * 10 >= pairs * 8 {
        Some(TextEncoding::Utf16Be)
    } else {
        None
    }
}

/// The file's text and how it was read: byte-order marks first, then UTF-8, then UTF-16
/// without a mark, then Windows-1252 (what Excel writes), refused when it leaves a control
/// character that no spreadsheet writes.
pub fn decode(bytes: &[u8]) -> Result<(Cow<'_, str>, TextEncoding), FileError> {
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"\xD0\xCF\x11\xE0") {
        return Err(FileError::Spreadsheet);
    }
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return std::str::from_utf8(rest)
            .map(|t| (Cow::Borrowed(t), TextEncoding::Utf8Bom))
            .map_err(|e| FileError::NotUtf8 {
                line: line_at(rest, e.valid_up_to()),
            });
    }
    let utf16 = |encoding, which, rest: &[u8]| {
        decode_strict(encoding, rest)
            .map(|t| (Cow::Owned(t), which))
            .map_err(|line| FileError::BadEncoding {
                encoding: "UTF-16",
                line,
            })
    };
    if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
        return utf16(encoding_rs::UTF_16LE, TextEncoding::Utf16Le, rest);
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
        return utf16(encoding_rs::UTF_16BE, TextEncoding::Utf16Be, rest);
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Ok((Cow::Borrowed(text), TextEncoding::Utf8));
    }
    match unmarked_utf16(bytes) {
        Some(TextEncoding::Utf16Le) => {
            return utf16(encoding_rs::UTF_16LE, TextEncoding::Utf16Le, bytes)
        }
        Some(_) => return utf16(encoding_rs::UTF_16BE, TextEncoding::Utf16Be, bytes),
        None => {}
    }
    let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(bytes);
    if let Some(line) = first_control_line(&text) {
        return Err(FileError::UnknownEncoding { line });
    }
    Ok((Cow::Owned(text.into_owned()), TextEncoding::Windows1252))
}

/// A whole file read at once (small files, tests). Imports read theirs row by row: [`read`].
#[derive(Debug, Clone)]
pub struct ParsedFile {
    pub encoding: TextEncoding,
    pub delimiter: char,
    /// Header cells that name no known column (their values are ignored).
    pub ignored_columns: Vec<String>,
    pub rows: Vec<RawRow>,
}

/// The delimiter the header line uses most outside quotes: `;`, tab or `,` (`,` when none).
fn detect_delimiter(text: &str) -> u8 {
    let (mut commas, mut semicolons, mut tabs, mut quoted) = (0, 0, 0, false);
    for c in text.chars() {
        match c {
            '"' => quoted = !quoted,
            '\n' if !quoted => break,
            ',' if !quoted => commas += 1,
            ';' if !quoted => semicolons += 1,
            '\t' if !quoted => tabs += 1,
            _ => {}
        }
    }
    if tabs > commas && tabs > semicolons {
        b'\t'
    } else if semicolons > commas {
        b';'
    } else {
        b','
    }
}

/// A cell as typed: spreadsheet formula neutralisation (a leading `'` before `=`, `+`, `-`,
/// `@`) undone, control characters removed, spaces trimmed and collapsed.
fn clean(cell: &str) -> String {
    let cell = match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@', '\t', '\r']) => rest,
        _ => cell,
    };
    let no_controls: String = cell
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    no_controls.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The line where a record starts: csv positions it before the blank lines it skipped.
fn first_line_of(text: &[u8], p: &csv::Position) -> u64 {
    let mut line = p.line();
    let start = usize::try_from(p.byte()).unwrap_or(usize::MAX);
    for b in text.iter().skip(start) {
        match b {
            b'\n' => line += 1,
            b'\r' => {}
            _ => break,
        }
    }
    line
}

/// A file whose header is read, its rows still to come one at a time (a large file is never
/// held twice in memory).
pub struct Rows<'a> {
    /// Over the decoded text: borrowed from the file when it is UTF-8 already.
    reader: csv::Reader<std::io::Cursor<Cow<'a, [u8]>>>,
    record: csv::StringRecord,
    columns: Vec<Option<Column>>,
    /// Data rows read so far (bounded by [`MAX_ROWS`]).
    count: usize,
    pub encoding: TextEncoding,
    pub delimiter: char,
    /// Header cells that name no known column (their values are ignored).
    pub ignored_columns: Vec<String>,
}

fn malformed(e: csv::Error) -> FileError {
    FileError::Malformed {
        line: e.position().map(|p| p.line()).unwrap_or(0),
        reason: e.to_string(),
    }
}

/// Opens the file: encoding, delimiter, header. Only file-level problems are errors; problems
/// with one row are for [`check_row`].
pub fn read(bytes: &[u8]) -> Result<Rows<'_>, FileError> {
    let (text, encoding) = decode(bytes)?;
    if text.trim().is_empty() {
        return Err(FileError::Empty);
    }
    let delimiter = detect_delimiter(&text);
    let text: Cow<'_, [u8]> = match text {
        Cow::Borrowed(t) => Cow::Borrowed(t.as_bytes()),
        Cow::Owned(t) => Cow::Owned(t.into_bytes()),
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(std::io::Cursor::new(text));
    let mut record = csv::StringRecord::new();

    // The header: the first row that is not blank.
    loop {
        if !reader.read_record(&mut record).map_err(malformed)? {
            return Err(FileError::Empty);
        }
        if record.iter().any(|c| !c.trim().is_empty()) {
            break;
        }
    }
    let mut columns: Vec<Option<Column>> = Vec::new();
    let mut ignored_columns = Vec::new();
    let mut seen: Vec<Column> = Vec::new();
    for cell in record.iter() {
        let name = clean(cell);
        if name.is_empty() {
            columns.push(None);
            continue;
        }
        match column_for(&name) {
            Some(c) if seen.contains(&c) => return Err(FileError::DuplicateColumn(name)),
            Some(c) => {
                seen.push(c);
                columns.push(Some(c));
            }
            None => {
                ignored_columns.push(name);
                columns.push(None);
            }
        }
    }
    if !seen.contains(&Column::Email) {
        let found: String = record
            .iter()
            .map(clean)
            .collect::<Vec<_>>()
            .join(&(delimiter as char).to_string());
        return Err(FileError::NoEmailColumn {
            found: found.chars().take(120).collect(),
        });
    }
    Ok(Rows {
        reader,
        record,
        columns,
        count: 0,
        encoding,
        delimiter: delimiter as char,
        ignored_columns,
    })
}

impl Iterator for Rows<'_> {
    type Item = Result<RawRow, FileError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match self.reader.read_record(&mut self.record) {
                Err(e) => return Some(Err(malformed(e))),
                Ok(false) => return None,
                Ok(true) => {}
            }
            if self.record.iter().all(|c| c.trim().is_empty()) {
                continue;
            }
            self.count += 1;
            if self.count > MAX_ROWS {
                return Some(Err(FileError::TooManyRows));
            }
            let text = self.reader.get_ref().get_ref();
            let mut row = RawRow {
                line: self
                    .record
                    .position()
                    .map(|p| first_line_of(text, p))
                    .unwrap_or(0),
                ..RawRow::default()
            };
            for (cell, column) in self.record.iter().zip(&self.columns) {
                let Some(column) = column else { continue };
                let value = clean(cell);
                match column {
                    Column::Email => row.email = value,
                    Column::FirstName => row.first_name = value,
                    Column::LastName => row.last_name = value,
                    Column::Organisation => row.organisation = value,
                    Column::Kind => row.kind = value,
                    Column::Tags => row.tags = value,
                    Column::City => row.city = value,
                    Column::LegalBasis => row.legal_basis = value,
                    Column::Complement => row.address.complement = value,
                    Column::Building => row.address.building = value,
                    Column::Street => row.address.street = value,
                    Column::Locality => row.address.locality = value,
                    Column::Postcode => row.address.postcode = value,
                    Column::PostalTown => row.address.town = value,
                    Column::Country => row.address.country = value,
                }
            }
            return Some(Ok(row));
        }
    }
}

/// Reads the whole file at once.
pub fn parse(bytes: &[u8]) -> Result<ParsedFile, FileError> {
    let mut rows = read(bytes)?;
    let all = rows.by_ref().collect::<Result<Vec<_>, _>>()?;
    Ok(ParsedFile {
        encoding: rows.encoding,
        delimiter: rows.delimiter,
        ignored_columns: rows.ignored_columns,
        rows: all,
    })
}

/// Reads the file through without keeping it: its number of rows, or why it cannot be read.
pub fn check_file(bytes: &[u8]) -> Result<usize, FileError> {
    let mut n = 0;
    for row in read(bytes)? {
        row?;
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_matched_whatever_their_case_and_accents() {
        let f = parse(
            "Courriel;Prénom;NOM;Organisation;Type;Étiquettes;Ville;Base légale;Téléphone\n\
             a@exemple.fr;Éa;Dupont;CHU;interne;x|y;Auch;consentement;0600000000\n"
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(f.delimiter, ';');
        assert_eq!(f.ignored_columns, ["Téléphone"]);
        let r = &f.rows[0];
        assert_eq!(r.line, 2);
        assert_eq!(r.email, "a@exemple.fr");
        assert_eq!(r.first_name, "Éa");
        assert_eq!(r.last_name, "Dupont");
        assert_eq!(r.organisation, "CHU");
        assert_eq!(r.kind, "interne");
        assert_eq!(r.tags, "x|y");
        assert_eq!(r.city, "Auch");
        assert_eq!(r.legal_basis, "consentement");
    }

    #[test]
    fn the_delimiter_is_detected_and_a_bom_skipped() {
        let f = parse(b"\xEF\xBB\xBFemail,nom\n\"b@exemple.fr\",\"Durand; fils\"\n").unwrap();
        assert_eq!(f.delimiter, ',');
        assert_eq!(f.rows[0].email, "b@exemple.fr");
        assert_eq!(f.rows[0].last_name, "Durand; fils");
        let f = parse(b"email;nom\nc@exemple.fr;Martin, Jr\n").unwrap();
        assert_eq!(f.delimiter, ';');
        assert_eq!(f.rows[0].last_name, "Martin, Jr");
    }

    #[test]
    fn blank_lines_are_skipped_and_lines_counted_from_the_header() {
        let f = parse(b"email;nom\n\na@exemple.fr;A\r\n;\n\n\nb@exemple.fr;B\n").unwrap();
        let lines: Vec<u64> = f.rows.iter().map(|r| r.line).collect();
        assert_eq!(lines, [3, 7]);
        let f = parse(b"email,nom\na@exemple.fr,\"deux\nlignes\"\nb@exemple.fr,B\n").unwrap();
        let lines: Vec<u64> = f.rows.iter().map(|r| r.line).collect();
        assert_eq!(lines, [2, 4]);
    }

    #[test]
    fn file_level_problems_are_errors_with_the_line() {
        assert_eq!(parse(b"").unwrap_err(), FileError::Empty);
        assert_eq!(parse(b" \n\n").unwrap_err(), FileError::Empty);
        // Marked as UTF-8, but is not.
        assert_eq!(
            parse(b"\xEF\xBB\xBFemail\na@exemple.fr\nb\xE9@exemple.fr\n").unwrap_err(),
            FileError::NotUtf8 { line: 3 }
        );
        // Neither UTF-8 nor Windows-1252: a byte Windows-1252 leaves undefined.
        assert_eq!(
            parse(b"email;nom\na@exemple.fr;\xE9\na@exemple.fr;\x81\x8D\n").unwrap_err(),
            FileError::UnknownEncoding { line: 3 }
        );
        assert_eq!(
            parse(b"PK\x03\x04\x14\x00\x06\x00").unwrap_err(),
            FileError::Spreadsheet
        );
        // A UTF-16 file cut in the middle of a character.
        assert!(matches!(
            parse(b"\xFF\xFEe\x00m\x00\x00\xD8").unwrap_err(),
            FileError::BadEncoding {
                encoding: "UTF-16",
                ..
            }
        ));
        assert!(matches!(
            parse(b"a@exemple.fr;Dupont\n").unwrap_err(),
            FileError::NoEmailColumn { found } if found == "a@exemple.fr;Dupont"
        ));
        assert_eq!(
            parse(b"email;mail\n").unwrap_err(),
            FileError::DuplicateColumn("mail".into())
        );
        let message = FileError::NotUtf8 { line: 3 }.to_string();
        assert!(message.contains("ligne 3"), "{message}");
    }

    /// `text` in UTF-16, little- or big-endian, with its byte-order mark.
    fn utf16(text: &str, little: bool) -> Vec<u8> {
        let mut out = if little {
            vec![0xFF, 0xFE]
        } else {
            vec![0xFE, 0xFF]
        };
        for unit in text.encode_utf16() {
            out.extend(if little {
                unit.to_le_bytes()
            } else {
                unit.to_be_bytes()
            });
        }
        out
    }

    #[test]
    fn excel_encodings_are_read_and_named() {
        // Windows-1252, what Excel writes for « CSV (séparateur : point-virgule) ».
        let f = parse(b"email;pr\xE9nom;nom\nh@exemple.fr;H\xE9l\xE8ne;C\x9Cur\n").unwrap();
        assert_eq!(f.encoding, TextEncoding::Windows1252);
        assert_eq!(f.delimiter, ';');
        assert_eq!(f.rows[0].first_name, "Hélène");
        assert_eq!(f.rows[0].last_name, "Cœur");
        // UTF-16 with its mark (« Texte Unicode », tab-separated), both byte orders.
        for little in [true, false] {
            let f = parse(&utf16("email\tprénom\r\nz@exemple.fr\tZoé\r\n", little)).unwrap();
            assert_eq!(f.delimiter, '\t');
            assert_eq!(f.rows[0].first_name, "Zoé");
            assert_eq!(
                f.encoding,
                if little {
                    TextEncoding::Utf16Le
                } else {
                    TextEncoding::Utf16Be
                }
            );
        }
        // UTF-16 that lost its mark.
        let bytes = utf16("email,prénom\nz@exemple.fr,Zoé\n", true);
        let f = parse(&bytes[2..]).unwrap();
        assert_eq!(f.encoding, TextEncoding::Utf16Le);
        assert_eq!(f.rows[0].first_name, "Zoé");
        // UTF-8, with and without its mark.
        let f = parse("email,prénom\nz@exemple.fr,Zoé\n".as_bytes()).unwrap();
        assert_eq!(f.encoding, TextEncoding::Utf8);
        let f = parse("\u{feff}email,prénom\nz@exemple.fr,Zoé\n".as_bytes()).unwrap();
        assert_eq!(f.encoding, TextEncoding::Utf8Bom);
        assert_eq!(
            format_label(TextEncoding::Windows1252, ';'),
            "Encodage : Windows-1252 (Excel) · Séparateur : point-virgule"
        );
    }

    #[test]
    fn a_file_is_bounded_in_rows() {
        let mut text = String::from("email\n");
        for i in 0..=MAX_ROWS {
            text.push_str(&format!("a{i}@exemple.fr\n"));
        }
        assert_eq!(
            check_file(text.as_bytes()).unwrap_err(),
            FileError::TooManyRows
        );
        let at_most: usize = text.match_indices('\n').nth(MAX_ROWS).unwrap().0 + 1;
        assert_eq!(check_file(&text.as_bytes()[..at_most]).unwrap(), MAX_ROWS);
    }

    #[test]
    fn neutralised_cells_come_back_as_they_were() {
        assert_eq!(clean("'=SOMME(A1)"), "=SOMME(A1)");
        assert_eq!(clean("'-dupont@exemple.fr"), "-dupont@exemple.fr");
        assert_eq!(clean("l'Isle-Jourdain"), "l'Isle-Jourdain");
        assert_eq!(clean("  Jean \t Pierre "), "Jean Pierre");
    }

    #[test]
    fn fold_removes_case_accents_and_punctuation() {
        assert_eq!(fold("Base légale"), "baselegale");
        assert_eq!(fold("base_legale"), "baselegale");
        assert_eq!(fold("Œuvre"), "oeuvre");
        assert_eq!(fold("E-mail"), "email");
    }
}
