//! Reading an import file: encoding, byte-order mark, delimiter, the header's columns (French
//! names, case and accents ignored, usual synonyms) and the rows one at a time.

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
    #[error("La première ligne doit être l'en-tête des colonnes et contenir une colonne « email » (trouvé : « {found} »). Colonnes reconnues : email, prenom, nom, organisation, type, etiquettes, ville, base_legale.")]
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
}

/// A whole file read at once (small files, tests). Imports read theirs row by row: [`read`].
#[derive(Debug, Clone)]
pub struct ParsedFile {
    pub delimiter: char,
    /// Header cells that name no known column (their values are ignored).
    pub ignored_columns: Vec<String>,
    pub rows: Vec<RawRow>,
}

/// `,` unless the header line has more `;` than `,` outside quotes.
fn detect_delimiter(text: &str) -> u8 {
    let (mut commas, mut semicolons, mut quoted) = (0, 0, false);
    for c in text.chars() {
        match c {
            '"' => quoted = !quoted,
            '\n' if !quoted => break,
            ',' if !quoted => commas += 1,
            ';' if !quoted => semicolons += 1,
            _ => {}
        }
    }
    if semicolons > commas {
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
fn first_line_of(text: &str, p: &csv::Position) -> u64 {
    let mut line = p.line();
    let start = usize::try_from(p.byte()).unwrap_or(usize::MAX);
    for b in text.as_bytes().iter().skip(start) {
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
    text: &'a str,
    reader: csv::Reader<&'a [u8]>,
    record: csv::StringRecord,
    columns: Vec<Option<Column>>,
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
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| FileError::NotUtf8 {
        line: 1 + bytes[..e.valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count() as u64,
    })?;
    if text.trim().is_empty() {
        return Err(FileError::Empty);
    }
    let delimiter = detect_delimiter(text);
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
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
        text,
        reader,
        record,
        columns,
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
            let mut row = RawRow {
                line: self
                    .record
                    .position()
                    .map(|p| first_line_of(self.text, p))
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
        assert_eq!(
            parse(b"email\na@exemple.fr\nb\xE9@exemple.fr\n").unwrap_err(),
            FileError::NotUtf8 { line: 3 }
        );
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
