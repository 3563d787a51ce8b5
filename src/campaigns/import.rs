//! CSV import of contacts into a list, shared by the staff pages and the command line, and the
//! export in the same columns (so that an export imports again as it was).
//!
//! The file: a header row with French column names (case and accents ignored): `email`
//! (required), `prenom`, `nom`, `organisation`, `type`, `etiquettes`, `ville`, `base_legale`;
//! `,` or `;` as delimiter (detected); UTF-8 with or without a byte-order mark.
//!
//! Each row ends up in the report as added, already known (added to the list, or already in
//! it), or rejected with the reason. A known address is never overwritten: only its empty fields
//! are filled and tags added; its status never changes. A suppressed address is never brought
//! back. The file is read row by row and checked against the database in chunks of 5,000 rows
//! (a handful of queries each, writes batched with `unnest` arrays), all in one transaction: a
//! preview runs the same code without writing. 100,000 rows take seconds, in little memory.

use std::collections::{HashMap, HashSet};

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bytea, Nullable, Text, Timestamptz};
use serde::{Deserialize, Serialize};

use crate::db::enums::{ContactKind, LegalBasis, SuppressionReason};

use crate::db::schema::{
    contact_imports, contact_lists, contacts, list_members, organisations, staff_users,
};
use crate::domain::EmailAddress;
use crate::staff::auth::audit;

/// The columns of the format, in the order the export writes them.
pub const COLUMNS: [&str; 8] = [
    "email",
    "prenom",
    "nom",
    "organisation",
    "type",
    "etiquettes",
    "ville",
    "base_legale",
];

/// Longest text accepted in a name, organisation, city or tag.
pub const MAX_TEXT: usize = 200;
/// Most tags on one contact.
pub const MAX_TAGS: usize = 30;
/// Accepted rows a report keeps (the others are counted).
const KEPT_SAMPLE: usize = 100;
/// Rows checked against the database and written together.
const CHUNK: usize = 5_000;
/// Rejected rows kept in a stored report (the counts stay exact beyond).
const MAX_STORED_REJECTED: usize = 10_000;
/// Serialises imports: an address is looked up and inserted under this lock.
const IMPORT_LOCK: i64 = 861_370_112;
/// Unapplied uploads older than this are dropped when a new one arrives.
const STALE_UPLOAD_HOURS: i64 = 24;
/// Separates tags inside the one text passed per row to PostgreSQL (a control character,
/// removed from every cell).
const TAG_SEPARATOR: char = '\u{1f}';

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

/// A kind written as its code or its French label, accents and case ignored.
pub fn parse_kind(s: &str) -> Option<ContactKind> {
    let f = fold(s);
    ContactKind::ALL
        .iter()
        .copied()
        .find(|k| fold(k.code()) == f || fold(k.label()) == f)
}

/// A legal basis written as its code or its French label, accents and case ignored.
pub fn parse_legal_basis(s: &str) -> Option<LegalBasis> {
    let f = fold(s);
    LegalBasis::ALL
        .iter()
        .copied()
        .find(|b| fold(b.code()) == f || fold(b.label()) == f)
}

/// Tags written in one cell, separated by `;`, `|` or `,`; duplicates (case ignored) dropped.
pub fn split_tags(cell: &str) -> Vec<String> {
    let mut tags: Vec<String> = Vec::new();
    for t in cell.split([';', '|', ',']) {
        let t = t.split_whitespace().collect::<Vec<_>>().join(" ");
        if !t.is_empty() && !tags.iter().any(|x| x.to_lowercase() == t.to_lowercase()) {
            tags.push(t);
        }
    }
    tags
}

/// What rows that omit the kind or the legal basis get.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Defaults {
    pub kind: Option<ContactKind>,
    pub legal_basis: Option<LegalBasis>,
}

impl Defaults {
    pub fn to_json(self) -> String {
        serde_json::json!({
            "type": self.kind.map(|k| k.code()),
            "base_legale": self.legal_basis.map(|b| b.code()),
        })
        .to_string()
    }

    pub fn from_json(text: &str) -> Defaults {
        let v: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
        Defaults {
            kind: v["type"].as_str().and_then(ContactKind::from_code),
            legal_basis: v["base_legale"].as_str().and_then(LegalBasis::from_code),
        }
    }
}

/// A row whose every value is acceptable on its own (the database may still refuse it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedRow {
    pub line: u64,
    pub email: EmailAddress,
    pub first_name: String,
    pub last_name: String,
    pub organisation: Option<String>,
    pub kind: ContactKind,
    pub tags: Vec<String>,
    pub city: String,
    pub legal_basis: LegalBasis,
}

fn kind_list() -> String {
    ContactKind::ALL
        .iter()
        .map(|k| k.code())
        .collect::<Vec<_>>()
        .join(", ")
}

fn legal_basis_list() -> String {
    LegalBasis::ALL
        .iter()
        .map(|b| b.code())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Checks one row on its own; the French reason when it is rejected.
pub fn check_row(raw: RawRow, defaults: Defaults) -> Result<CheckedRow, String> {
    if raw.email.is_empty() {
        return Err("Adresse électronique manquante.".to_owned());
    }
    let email = EmailAddress::parse(&raw.email).map_err(|e| format!("Adresse invalide. {e}"))?;
    let kind = if raw.kind.is_empty() {
        defaults.kind.ok_or_else(|| {
            "Type manquant : remplissez la colonne « type » ou choisissez un type par défaut."
                .to_owned()
        })?
    } else {
        parse_kind(&raw.kind).ok_or_else(|| {
            format!(
                "Type « {} » inconnu : {} (ou leur libellé).",
                raw.kind,
                kind_list()
            )
        })?
    };
    let legal_basis = if raw.legal_basis.is_empty() {
        defaults.legal_basis.ok_or_else(|| {
            "Base légale manquante : remplissez la colonne « base_legale » ou choisissez une base \
             légale par défaut."
                .to_owned()
        })?
    } else {
        parse_legal_basis(&raw.legal_basis).ok_or_else(|| {
            format!(
                "Base légale « {} » inconnue : {} (ou leur libellé).",
                raw.legal_basis,
                legal_basis_list()
            )
        })?
    };
    for (value, what) in [
        (&raw.first_name, "Prénom"),
        (&raw.last_name, "Nom"),
        (&raw.organisation, "Organisation"),
        (&raw.city, "Ville"),
    ] {
        if value.chars().count() > MAX_TEXT {
            return Err(format!("{what} trop long ({MAX_TEXT} caractères au plus)."));
        }
    }
    let tags = split_tags(&raw.tags);
    if tags.len() > MAX_TAGS {
        return Err(format!("Trop d'étiquettes ({MAX_TAGS} au plus)."));
    }
    if tags.iter().any(|t| t.chars().count() > MAX_TEXT) {
        return Err(format!(
            "Étiquette trop longue ({MAX_TEXT} caractères au plus)."
        ));
    }
    Ok(CheckedRow {
        line: raw.line,
        email,
        first_name: raw.first_name,
        last_name: raw.last_name,
        organisation: (!raw.organisation.is_empty()).then_some(raw.organisation),
        kind,
        tags,
        city: raw.city,
        legal_basis,
    })
}

/// What happened, or would happen, to a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A new contact, put in the list.
    Added,
    /// A known address, put in the list.
    AddedToList,
    /// A known address already in the list.
    AlreadyInList,
    Rejected,
}

impl Outcome {
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Added => "Ajouté",
            Outcome::AddedToList => "Déjà connu, ajouté à la liste",
            Outcome::AlreadyInList => "Déjà connu et déjà dans la liste",
            Outcome::Rejected => "Refusé",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowReport {
    pub line: u64,
    /// The address as written in the file.
    pub email: String,
    pub outcome: Outcome,
    /// In French: why rejected, what was completed.
    pub reason: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub rows: usize,
    pub added: usize,
    pub added_to_list: usize,
    pub already_in_list: usize,
    pub rejected: usize,
    /// Known contacts whose empty fields were filled (or tags added).
    pub completed: usize,
    pub organisations_created: usize,
}

/// What an import did, or would do: its counts, every rejected row with the reason, and the
/// first rows kept (those of a large file are only counted).
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub counts: Counts,
    /// Every rejected row, in file order.
    pub rejected: Vec<RowReport>,
    /// The first rows kept, in file order.
    pub kept: Vec<RowReport>,
    pub ignored_columns: Vec<String>,
    pub new_organisations: Vec<String>,
}

/// What is kept of an applied import: counts and rejected rows (not the accepted addresses).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StoredReport {
    pub counts: Counts,
    pub rejected: Vec<RowReport>,
    /// Rejected rows left out of `rejected` (beyond the limit kept).
    #[serde(default)]
    pub rejected_not_kept: usize,
    #[serde(default)]
    pub ignored_columns: Vec<String>,
    #[serde(default)]
    pub new_organisations: Vec<String>,
}

impl Report {
    /// The report as the command line prints it: counts, then every rejected row.
    pub fn text(&self, list_name: &str, list_created: bool) -> String {
        use std::fmt::Write;
        let c = self.counts;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Liste « {list_name} »{}.",
            if list_created { " (créée)" } else { "" }
        );
        let _ = writeln!(
            out,
            "{} lignes lues : {} ajoutés, {} déjà connus ajoutés à la liste, {} déjà dans la \
             liste, {} refusés.",
            c.rows, c.added, c.added_to_list, c.already_in_list, c.rejected
        );
        if c.completed > 0 {
            let _ = writeln!(
                out,
                "{} contacts déjà connus complétés (champs vides remplis, étiquettes ajoutées).",
                c.completed
            );
        }
        if !self.new_organisations.is_empty() {
            let _ = writeln!(
                out,
                "Organisations créées : {}.",
                self.new_organisations.join(", ")
            );
        }
        if !self.ignored_columns.is_empty() {
            let _ = writeln!(
                out,
                "Colonnes ignorées : {}.",
                self.ignored_columns.join(", ")
            );
        }
        if c.rejected > 0 {
            let _ = writeln!(out, "Lignes refusées :");
            for r in &self.rejected {
                let email = if r.email.is_empty() {
                    "(sans adresse)"
                } else {
                    &r.email
                };
                let _ = writeln!(out, "  ligne {} – {email} : {}", r.line, r.reason);
            }
        }
        out
    }

    /// Counts a row and keeps it if it is rejected or among the first kept.
    fn record(&mut self, row: RowReport) {
        self.counts.rows += 1;
        match row.outcome {
            Outcome::Added => self.counts.added += 1,
            Outcome::AddedToList => self.counts.added_to_list += 1,
            Outcome::AlreadyInList => self.counts.already_in_list += 1,
            Outcome::Rejected => self.counts.rejected += 1,
        }
        if row.outcome == Outcome::Rejected {
            self.rejected.push(row);
        } else if self.kept.len() < KEPT_SAMPLE {
            self.kept.push(row);
        }
    }

    pub fn stored(&self) -> StoredReport {
        let rejected: Vec<RowReport> = self
            .rejected
            .iter()
            .take(MAX_STORED_REJECTED)
            .cloned()
            .collect();
        StoredReport {
            counts: self.counts,
            rejected_not_kept: self.counts.rejected - rejected.len(),
            rejected,
            ignored_columns: self.ignored_columns.clone(),
            new_organisations: self.new_organisations.clone(),
        }
    }
}

/// A known contact as the plan needs it.
struct Known {
    id: i64,
    first_name: String,
    last_name: String,
    organisation_id: Option<i64>,
    city: String,
    tags: Vec<String>,
}

/// An organisation a row names: one that exists, or one the import creates.
#[derive(Debug, Clone, Copy)]
enum OrgRef {
    Existing(i64),
    New(usize),
}

struct NewContact {
    row: CheckedRow,
    org: Option<OrgRef>,
}

/// Empty fields of a known contact to fill, and tags to add.
struct Fill {
    id: i64,
    first_name: String,
    last_name: String,
    city: String,
    org: Option<OrgRef>,
    tags: Vec<String>,
}

fn suppressed_reason(reason: SuppressionReason, on: chrono::DateTime<chrono::Utc>) -> String {
    let day = on
        .with_timezone(&chrono_tz::Europe::Paris)
        .format("%d/%m/%Y");
    match reason {
        SuppressionReason::Unsubscribed => {
            format!("Adresse désinscrite le {day} : elle n'est jamais réimportée.")
        }
        SuppressionReason::UnknownMailbox => format!(
            "Adresse inconnue du serveur de messagerie (rejet définitif le {day}) : elle n'est \
             jamais réimportée."
        ),
        SuppressionReason::Manual => format!(
            "Adresse exclue de tout envoi le {day} (liste des désinscriptions) : elle n'est \
             jamais réimportée."
        ),
    }
}

/// An import while its rows go through, chunk by chunk.
struct Run {
    list_id: i64,
    /// False for a preview: nothing is written.
    write: bool,
    report: Report,
    /// Addresses (normalised) already kept, with their line: a later row with one is a duplicate.
    claimed: HashMap<String, u64>,
    /// Organisations named so far, by lower-cased name.
    orgs: HashMap<String, OrgRef>,
    /// The ids of the organisations the import creates (`report.new_organisations`), once
    /// created.
    created: Vec<Option<i64>>,
}

/// Reads the rows and works out each one's outcome against the database; with `write`, applies
/// them (contacts, organisations, list membership) chunk by chunk. Call inside a transaction.
fn run(
    conn: &mut PgConnection,
    list_id: i64,
    rows: Rows<'_>,
    defaults: Defaults,
    write: bool,
) -> QueryResult<Result<Report, FileError>> {
    let mut run = Run {
        list_id,
        write,
        report: Report {
            ignored_columns: rows.ignored_columns.clone(),
            ..Report::default()
        },
        claimed: HashMap::new(),
        orgs: HashMap::new(),
        created: Vec::new(),
    };
    let mut chunk: Vec<CheckedRow> = Vec::with_capacity(CHUNK);
    for raw in rows {
        let raw = match raw {
            Ok(raw) => raw,
            Err(e) => return Ok(Err(e)),
        };
        let (line, email) = (raw.line, raw.email.clone());
        match check_row(raw, defaults) {
            Ok(row) => {
                chunk.push(row);
                if chunk.len() == CHUNK {
                    run.chunk(
                        conn,
                        std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK)),
                    )?;
                }
            }
            Err(reason) => run.report.record(RowReport {
                line,
                email,
                outcome: Outcome::Rejected,
                reason,
            }),
        }
    }
    run.chunk(conn, chunk)?;
    let mut report = run.report;
    // Rows refused on their own were recorded before those of their chunk.
    report.rejected.sort_by_key(|r| r.line);
    report.counts.organisations_created = report.new_organisations.len();
    Ok(Ok(report))
}

impl Run {
    /// The organisation of that name: a known one, or one the import creates.
    fn org_for(&mut self, name: &str) -> OrgRef {
        let (report, created) = (&mut self.report, &mut self.created);
        *self.orgs.entry(name.to_lowercase()).or_insert_with(|| {
            report.new_organisations.push(name.to_owned());
            created.push(None);
            OrgRef::New(report.new_organisations.len() - 1)
        })
    }

    fn chunk(&mut self, conn: &mut PgConnection, rows: Vec<CheckedRow>) -> QueryResult<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let keys: Vec<String> = rows
            .iter()
            .map(|r| r.email.normalized().to_owned())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        // Plain SQL with one index probe per key. Not `= ANY($1)` through diesel's statement
        // cache: reused on a pooled connection, that prepared statement got a generic plan
        // comparing every row with every key (164 s instead of 8 for 100,000 rows); planned
        // afresh, it still chose a sequential scan of all contacts for each chunk.
        #[derive(QueryableByName)]
        struct Suppressed {
            #[diesel(sql_type = Text)]
            email: String,
            #[diesel(sql_type = Text)]
            reason: SuppressionReason,
            #[diesel(sql_type = Timestamptz)]
            created_at: chrono::DateTime<chrono::Utc>,
        }
        let suppressed: HashMap<String, (SuppressionReason, chrono::DateTime<chrono::Utc>)> =
            diesel::sql_query(
                "SELECT s.email, s.reason, s.created_at FROM unnest($1::text[]) AS k(key) \
                 CROSS JOIN LATERAL \
                   (SELECT * FROM suppressions WHERE email = k.key LIMIT 1) AS s",
            )
            .bind::<Array<Text>, _>(&keys)
            .load::<Suppressed>(conn)?
            .into_iter()
            .map(|r| (r.email, (r.reason, r.created_at)))
            .collect();
        #[derive(QueryableByName)]
        struct KnownRow {
            #[diesel(sql_type = BigInt)]
            id: i64,
            #[diesel(sql_type = Text)]
            key: String,
            #[diesel(sql_type = Text)]
            first_name: String,
            #[diesel(sql_type = Text)]
            last_name: String,
            #[diesel(sql_type = Nullable<BigInt>)]
            organisation_id: Option<i64>,
            #[diesel(sql_type = Text)]
            city: String,
            #[diesel(sql_type = Array<Text>)]
            tags: Vec<String>,
        }
        let known_rows: Vec<KnownRow> = diesel::sql_query(
            "SELECT c.id, lower(c.email) AS key, c.first_name, c.last_name, c.organisation_id, \
                    c.city, c.tags \
             FROM unnest($1::text[]) AS k(key) \
             CROSS JOIN LATERAL (SELECT * FROM contacts WHERE lower(email) = k.key LIMIT 1) AS c",
        )
        .bind::<Array<Text>, _>(&keys)
        .load(conn)?;
        let mut known: HashMap<String, Known> = HashMap::with_capacity(known_rows.len());
        for r in known_rows {
            known.insert(
                r.key,
                Known {
                    id: r.id,
                    first_name: r.first_name,
                    last_name: r.last_name,
                    organisation_id: r.organisation_id,
                    city: r.city,
                    tags: r.tags,
                },
            );
        }
        let known_ids: Vec<i64> = known.values().map(|k| k.id).collect();
        #[derive(QueryableByName)]
        struct Member {
            #[diesel(sql_type = BigInt)]
            contact_id: i64,
        }
        let members: HashSet<i64> = if known_ids.is_empty() {
            HashSet::new()
        } else {
            diesel::sql_query(
                "SELECT m.contact_id FROM unnest($2::bigint[]) AS k(id) \
                 CROSS JOIN LATERAL (SELECT contact_id FROM list_members \
                                     WHERE list_id = $1 AND contact_id = k.id LIMIT 1) AS m",
            )
            .bind::<BigInt, _>(self.list_id)
            .bind::<Array<BigInt>, _>(&known_ids)
            .load::<Member>(conn)?
            .into_iter()
            .map(|m| m.contact_id)
            .collect()
        };
        let org_keys: Vec<String> = rows
            .iter()
            .filter_map(|r| r.organisation.as_ref())
            .map(|o| o.to_lowercase())
            .filter(|k| !self.orgs.contains_key(k))
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        if !org_keys.is_empty() {
            // Ordered by id descending: the oldest organisation of a name wins.
            for r in diesel::sql_query(
                "SELECT id, lower(name) AS key FROM organisations WHERE lower(name) = ANY($1) \
                 ORDER BY id DESC",
            )
            .bind::<Array<Text>, _>(&org_keys)
            .load::<IdKey>(conn)?
            {
                self.orgs.insert(r.key, OrgRef::Existing(r.id));
            }
        }

        let mut new_contacts = Vec::new();
        let mut fills = Vec::new();
        let mut new_members = Vec::new();
        for row in rows {
            let key = row.email.normalized().to_owned();
            let outcome = |outcome: Outcome, reason: String| RowReport {
                line: row.line,
                email: row.email.as_str().to_owned(),
                outcome,
                reason,
            };
            if let Some((reason, on)) = suppressed.get(&key) {
                let r = outcome(Outcome::Rejected, suppressed_reason(*reason, *on));
                self.report.record(r);
                continue;
            }
            if let Some(first) = self.claimed.get(&key) {
                let r = outcome(
                    Outcome::Rejected,
                    format!(
                        "Doublon de la ligne {first} du fichier (même adresse, majuscules et \
                         minuscules confondues)."
                    ),
                );
                self.report.record(r);
                continue;
            }
            self.claimed.insert(key.clone(), row.line);
            let Some(contact) = known.get(&key) else {
                let org = row.organisation.as_deref().map(|o| self.org_for(o));
                let reason = match org {
                    Some(OrgRef::New(i)) => format!(
                        "Nouveau contact ; organisation « {} » créée.",
                        self.report.new_organisations[i]
                    ),
                    _ => "Nouveau contact.".to_owned(),
                };
                let r = outcome(Outcome::Added, reason);
                self.report.record(r);
                new_contacts.push(NewContact { row, org });
                continue;
            };
            let mut fill = Fill {
                id: contact.id,
                first_name: String::new(),
                last_name: String::new(),
                city: String::new(),
                org: None,
                tags: Vec::new(),
            };
            let mut completed: Vec<&str> = Vec::new();
            if contact.first_name.is_empty() && !row.first_name.is_empty() {
                fill.first_name = row.first_name.clone();
                completed.push("prénom");
            }
            if contact.last_name.is_empty() && !row.last_name.is_empty() {
                fill.last_name = row.last_name.clone();
                completed.push("nom");
            }
            if let (None, Some(name)) = (contact.organisation_id, row.organisation.as_deref()) {
                fill.org = Some(self.org_for(name));
                completed.push("organisation");
            }
            if contact.city.is_empty() && !row.city.is_empty() {
                fill.city = row.city.clone();
                completed.push("ville");
            }
            let have: HashSet<String> = contact.tags.iter().map(|t| t.to_lowercase()).collect();
            fill.tags = row
                .tags
                .iter()
                .filter(|t| !have.contains(&t.to_lowercase()))
                .cloned()
                .collect();
            if !fill.tags.is_empty() {
                completed.push("étiquettes ajoutées");
            }
            let in_list = members.contains(&contact.id);
            let mut reason = if in_list {
                "Adresse déjà connue et déjà dans la liste".to_owned()
            } else {
                "Adresse déjà connue : ajoutée à la liste".to_owned()
            };
            if completed.is_empty() {
                reason.push_str(" ; rien d'autre n'est modifié.");
            } else {
                reason.push_str(&format!(
                    " ; complété : {} (rien d'autre n'est modifié).",
                    completed.join(", ")
                ));
                self.report.counts.completed += 1;
                fills.push(fill);
            }
            let r = if in_list {
                outcome(Outcome::AlreadyInList, reason)
            } else {
                new_members.push(contact.id);
                outcome(Outcome::AddedToList, reason)
            };
            self.report.record(r);
        }
        if self.write {
            self.execute(conn, new_contacts, fills, new_members)?;
        }
        Ok(())
    }
}

#[derive(QueryableByName)]
struct IdKey {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    key: String,
}

fn join_tags(tags: &[String]) -> String {
    tags.join(&TAG_SEPARATOR.to_string())
}

impl Run {
    /// Writes what a chunk's rows need. Only empty fields of known contacts change.
    fn execute(
        &mut self,
        conn: &mut PgConnection,
        new_contacts: Vec<NewContact>,
        fills: Vec<Fill>,
        new_members: Vec<i64>,
    ) -> QueryResult<()> {
        let list_id = self.list_id;
        // Organisations named by the file and not known yet, of kind « autre ».
        let to_create: Vec<usize> = (0..self.created.len())
            .filter(|i| self.created[*i].is_none())
            .collect();
        if !to_create.is_empty() {
            let names: Vec<&str> = to_create
                .iter()
                .map(|i| self.report.new_organisations[*i].as_str())
                .collect();
            diesel::sql_query(
                "INSERT INTO organisations (name, kind) \
                 SELECT n, 'autre' FROM unnest($1::text[]) AS n ON CONFLICT DO NOTHING",
            )
            .bind::<Array<Text>, _>(&names)
            .execute(conn)?;
            #[derive(QueryableByName)]
            struct OrgId {
                #[diesel(sql_type = Nullable<BigInt>)]
                id: Option<i64>,
            }
            // Matched with PostgreSQL's lower() on both sides, as the unique index does.
            let ids = diesel::sql_query(
                "SELECT (SELECT o.id FROM organisations o WHERE lower(o.name) = lower(n.name) \
                         ORDER BY o.id LIMIT 1) AS id \
                 FROM unnest($1::text[]) WITH ORDINALITY AS n(name, ord) ORDER BY n.ord",
            )
            .bind::<Array<Text>, _>(&names)
            .load::<OrgId>(conn)?;
            for (i, r) in to_create.iter().zip(ids) {
                self.created[*i] = Some(r.id.ok_or(diesel::result::Error::NotFound)?);
            }
        }
        let created = &self.created;
        let resolve = |org: Option<OrgRef>| match org {
            None => None,
            Some(OrgRef::Existing(id)) => Some(id),
            Some(OrgRef::New(i)) => created.get(i).copied().flatten(),
        };

        let mut member_ids = new_members;
        if !new_contacts.is_empty() {
            let n = new_contacts.len();
            let (mut emails, mut firsts, mut lasts, mut orgs, mut kinds) = (
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
            );
            let (mut tags, mut cities, mut bases) = (
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
            );
            let mut keys = Vec::with_capacity(n);
            for c in new_contacts {
                emails.push(c.row.email.as_str().to_owned());
                keys.push(c.row.email.normalized().to_owned());
                firsts.push(c.row.first_name);
                lasts.push(c.row.last_name);
                orgs.push(resolve(c.org));
                kinds.push(c.row.kind.code());
                tags.push(join_tags(&c.row.tags));
                cities.push(c.row.city);
                bases.push(c.row.legal_basis.code());
            }
            let inserted: Vec<IdKey> = diesel::sql_query(
                "INSERT INTO contacts \
                   (email, first_name, last_name, organisation_id, kind, tags, city, legal_basis) \
                 SELECT e, f, l, o, k, string_to_array(t, chr(31)), c, b \
                 FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], \
                             $6::text[], $7::text[], $8::text[]) AS v(e, f, l, o, k, t, c, b) \
                 ON CONFLICT DO NOTHING \
                 RETURNING id, lower(email) AS key",
            )
            .bind::<Array<Text>, _>(&emails)
            .bind::<Array<Text>, _>(&firsts)
            .bind::<Array<Text>, _>(&lasts)
            .bind::<Array<Nullable<BigInt>>, _>(&orgs)
            .bind::<Array<Text>, _>(&kinds)
            .bind::<Array<Text>, _>(&tags)
            .bind::<Array<Text>, _>(&cities)
            .bind::<Array<Text>, _>(&bases)
            .load(conn)?;
            if inserted.len() < n {
                // Created by hand meanwhile (imports themselves are serialised): still listed.
                let got: HashSet<&str> = inserted.iter().map(|r| r.key.as_str()).collect();
                let missing: Vec<String> = keys
                    .iter()
                    .filter(|k| !got.contains(k.as_str()))
                    .cloned()
                    .collect();
                #[derive(QueryableByName)]
                struct Id {
                    #[diesel(sql_type = BigInt)]
                    id: i64,
                }
                member_ids.extend(
                    diesel::sql_query(
                        "SELECT id FROM contacts \
                         WHERE lower(email) IN (SELECT lower(x) FROM unnest($1::text[]) AS x)",
                    )
                    .bind::<Array<Text>, _>(missing)
                    .load::<Id>(conn)?
                    .into_iter()
                    .map(|r| r.id),
                );
            }
            member_ids.extend(inserted.iter().map(|r| r.id));
        }

        if !fills.is_empty() {
            let n = fills.len();
            let mut ids = Vec::with_capacity(n);
            let (mut firsts, mut lasts, mut orgs, mut tags, mut cities) = (
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
            );
            for f in fills {
                ids.push(f.id);
                firsts.push(f.first_name);
                lasts.push(f.last_name);
                orgs.push(resolve(f.org));
                tags.push(join_tags(&f.tags));
                cities.push(f.city);
            }
            // Only empty fields change, whatever happened since the plan was made.
            diesel::sql_query(
                "UPDATE contacts AS c SET \
                   first_name = CASE WHEN c.first_name = '' THEN v.f ELSE c.first_name END, \
                   last_name = CASE WHEN c.last_name = '' THEN v.l ELSE c.last_name END, \
                   city = CASE WHEN c.city = '' THEN v.c ELSE c.city END, \
                   organisation_id = COALESCE(c.organisation_id, v.o), \
                   tags = c.tags || ARRAY(SELECT x FROM unnest(string_to_array(v.t, chr(31))) AS x \
                                          WHERE lower(x) <> ALL (SELECT lower(y) FROM unnest(c.tags) AS y)), \
                   updated_at = now() \
                 FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::text[], \
                             $6::text[]) AS v(id, f, l, o, t, c) \
                 WHERE c.id = v.id",
            )
            .bind::<Array<BigInt>, _>(&ids)
            .bind::<Array<Text>, _>(&firsts)
            .bind::<Array<Text>, _>(&lasts)
            .bind::<Array<Nullable<BigInt>>, _>(&orgs)
            .bind::<Array<Text>, _>(&tags)
            .bind::<Array<Text>, _>(&cities)
            .execute(conn)?;
        }

        if !member_ids.is_empty() {
            diesel::sql_query(
                "INSERT INTO list_members (list_id, contact_id) \
                 SELECT $1, unnest($2::bigint[]) ON CONFLICT DO NOTHING",
            )
            .bind::<BigInt, _>(list_id)
            .bind::<Array<BigInt>, _>(&member_ids)
            .execute(conn)?;
        }
        Ok(())
    }
}

/// An upload kept between its preview and its confirmation, or an applied import.
#[derive(Debug, Clone)]
pub struct ImportRecord {
    pub id: i64,
    pub list_id: i64,
    pub list_name: String,
    pub uploaded_by: Option<String>,
    pub filename: String,
    pub defaults: Defaults,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub applied_at: Option<chrono::DateTime<chrono::Utc>>,
    pub report: Option<StoredReport>,
}

/// Keeps an upload for its preview; its id. Unapplied uploads left for a day are dropped.
pub fn stage(
    conn: &mut PgConnection,
    list_id: i64,
    actor: Option<i64>,
    filename: &str,
    content: &[u8],
    defaults: Defaults,
) -> QueryResult<i64> {
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = BigInt)]
        id: i64,
    }
    diesel::sql_query(format!(
        "DELETE FROM contact_imports WHERE applied_at IS NULL \
         AND created_at < now() - interval '{STALE_UPLOAD_HOURS} hours'"
    ))
    .execute(conn)?;
    let filename: String = filename.chars().take(200).collect();
    diesel::sql_query(
        "INSERT INTO contact_imports (list_id, uploaded_by, filename, content, defaults) \
         VALUES ($1, $2, $3, $4, $5::jsonb) RETURNING id",
    )
    .bind::<BigInt, _>(list_id)
    .bind::<Nullable<BigInt>, _>(actor)
    .bind::<Text, _>(filename)
    .bind::<Bytea, _>(content)
    .bind::<Text, _>(defaults.to_json())
    .get_result::<Id>(conn)
    .map(|r| r.id)
}

/// An import and what is kept of it (without its content).
pub fn find(conn: &mut PgConnection, id: i64) -> QueryResult<Option<ImportRecord>> {
    imports(conn, Some(id), None).map(|mut v| v.pop())
}

/// The imports into a list, newest first.
pub fn history(conn: &mut PgConnection, list_id: i64) -> QueryResult<Vec<ImportRecord>> {
    imports(conn, None, Some(list_id))
}

fn imports(
    conn: &mut PgConnection,
    id: Option<i64>,
    list_id: Option<i64>,
) -> QueryResult<Vec<ImportRecord>> {
    use diesel::dsl::sql;
    let mut query = contact_imports::table
        .inner_join(contact_lists::table)
        .left_join(staff_users::table)
        .select((
            contact_imports::id,
            contact_imports::list_id,
            contact_lists::name,
            staff_users::display_name.nullable(),
            contact_imports::filename,
            sql::<Text>("contact_imports.defaults::text"),
            contact_imports::created_at,
            contact_imports::applied_at,
            // The whole report for one import, only its counts for a list's history.
            sql::<Nullable<Text>>(if id.is_some() {
                "contact_imports.report::text"
            } else {
                "jsonb_build_object('counts', contact_imports.report->'counts', 'rejected', '[]'::jsonb)::text"
            }),
        ))
        .order(contact_imports::id.desc())
        .into_boxed();
    if let Some(id) = id {
        query = query.filter(contact_imports::id.eq(id));
    }
    if let Some(list_id) = list_id {
        query = query
            .filter(contact_imports::list_id.eq(list_id))
            .filter(contact_imports::applied_at.is_not_null());
    }
    #[allow(clippy::type_complexity)]
    let rows: Vec<(
        i64,
        i64,
        String,
        Option<String>,
        String,
        String,
        chrono::DateTime<chrono::Utc>,
        Option<chrono::DateTime<chrono::Utc>>,
        Option<String>,
    )> = query.load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(id, list_id, list_name, by, filename, defaults, created_at, applied_at, report)| {
                ImportRecord {
                    id,
                    list_id,
                    list_name,
                    uploaded_by: by,
                    filename,
                    defaults: Defaults::from_json(&defaults),
                    created_at,
                    applied_at,
                    report: report.and_then(|r| serde_json::from_str(&r).ok()),
                }
            },
        )
        .collect())
}

/// The content of an upload not applied yet.
pub fn content(conn: &mut PgConnection, id: i64) -> QueryResult<Option<Vec<u8>>> {
    contact_imports::table
        .find(id)
        .filter(contact_imports::applied_at.is_null())
        .select(contact_imports::content)
        .first(conn)
        .optional()
}

/// The report an upload would give if confirmed now. None when it is unknown or applied.
pub fn preview(conn: &mut PgConnection, id: i64) -> QueryResult<Option<Result<Report, FileError>>> {
    let Some(record) = find(conn, id)? else {
        return Ok(None);
    };
    let Some(bytes) = content(conn, id)? else {
        return Ok(None);
    };
    let rows = match read(&bytes) {
        Ok(rows) => rows,
        Err(e) => return Ok(Some(Err(e))),
    };
    run(conn, record.list_id, rows, record.defaults, false).map(Some)
}

/// An import, and for one not applied yet the report it would give; None when it is unknown.
pub fn find_with_preview(
    conn: &mut PgConnection,
    id: i64,
) -> QueryResult<Option<(ImportRecord, Option<Result<Report, FileError>>)>> {
    let Some(record) = find(conn, id)? else {
        return Ok(None);
    };
    let preview = if record.applied_at.is_none() {
        preview(conn, id)?
    } else {
        None
    };
    Ok(Some((record, preview)))
}

/// Why a staged import was not applied.
#[derive(Debug)]
pub enum ApplyError {
    NotFound,
    /// Applied before (a second click): its report.
    AlreadyApplied(StoredReport),
    File(FileError),
}

/// Applies a staged upload in one transaction: contacts, organisations, list membership, the
/// kept report (the file's content is dropped) and the audit entry.
pub fn apply(
    conn: &mut PgConnection,
    id: i64,
    actor: Option<i64>,
) -> QueryResult<Result<Report, ApplyError>> {
    conn.transaction(|conn| {
        diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
            .bind::<BigInt, _>(IMPORT_LOCK)
            .execute(conn)?;
        let row: Option<(i64, Vec<u8>, String, bool)> = contact_imports::table
            .find(id)
            .select((
                contact_imports::list_id,
                contact_imports::content,
                diesel::dsl::sql::<Text>("contact_imports.defaults::text"),
                contact_imports::applied_at.is_not_null(),
            ))
            .for_update()
            .first(conn)
            .optional()?;
        let Some((list_id, bytes, defaults, applied)) = row else {
            return Ok(Err(ApplyError::NotFound));
        };
        if applied {
            let report = find(conn, id)?.and_then(|r| r.report).unwrap_or_default();
            return Ok(Err(ApplyError::AlreadyApplied(report)));
        }
        // Read through first, so that an unreadable file writes nothing.
        if let Err(e) = check_file(&bytes) {
            return Ok(Err(ApplyError::File(e)));
        }
        let rows = read(&bytes).map_err(|_| diesel::result::Error::RollbackTransaction)?;
        let report = run(conn, list_id, rows, Defaults::from_json(&defaults), true)?
            .map_err(|_| diesel::result::Error::RollbackTransaction)?;
        drop(bytes);
        let stored = serde_json::to_string(&report.stored())
            .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
        diesel::sql_query(
            "UPDATE contact_imports SET applied_at = now(), report = $2::jsonb, \
             content = ''::bytea WHERE id = $1",
        )
        .bind::<BigInt, _>(id)
        .bind::<Text, _>(stored)
        .execute(conn)?;
        let list_name: String = contact_lists::table
            .find(list_id)
            .select(contact_lists::name)
            .first(conn)?;
        let c = report.counts;
        audit(
            conn,
            actor,
            "import_contacts",
            "contact_list",
            Some(list_id),
            &format!(
                "liste « {list_name} », import n° {id} : {} lignes, {} ajoutés, {} déjà connus \
                 ajoutés à la liste, {} déjà dans la liste, {} refusés",
                c.rows, c.added, c.added_to_list, c.already_in_list, c.rejected
            ),
        )?;
        Ok(Ok(report))
    })
}

/// Stages and applies a file at once (the command line); the import's id and its report.
pub fn import_file(
    conn: &mut PgConnection,
    list_id: i64,
    actor: Option<i64>,
    filename: &str,
    content: &[u8],
    defaults: Defaults,
) -> QueryResult<Result<(i64, Report), ApplyError>> {
    if let Err(e) = check_file(content) {
        return Ok(Err(ApplyError::File(e)));
    }
    conn.transaction(|conn| {
        let id = stage(conn, list_id, actor, filename, content, defaults)?;
        Ok(apply(conn, id, actor)?.map(|r| (id, r)))
    })
}

/// One contact as exported.
#[derive(Debug, Clone, Queryable)]
pub struct ExportRow {
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub organisation: Option<String>,
    pub kind: ContactKind,
    pub tags: Vec<String>,
    pub city: String,
    pub legal_basis: LegalBasis,
}

/// Every contact (of one list when given), oldest first.
pub fn export_rows(conn: &mut PgConnection, list_id: Option<i64>) -> QueryResult<Vec<ExportRow>> {
    let mut query = contacts::table
        .left_join(organisations::table)
        .select((
            contacts::email,
            contacts::first_name,
            contacts::last_name,
            organisations::name.nullable(),
            contacts::kind,
            contacts::tags,
            contacts::city,
            contacts::legal_basis,
        ))
        .order(contacts::id)
        .into_boxed();
    if let Some(list_id) = list_id {
        query = query.filter(
            contacts::id.eq_any(
                list_members::table
                    .filter(list_members::list_id.eq(list_id))
                    .select(list_members::contact_id),
            ),
        );
    }
    query.load(conn)
}

/// The contacts to export (every one, or those of one list) with the list's name, the export
/// written in the audit log; None when the list does not exist.
pub fn export(
    conn: &mut PgConnection,
    actor: i64,
    list_id: Option<i64>,
) -> QueryResult<Option<(Vec<ExportRow>, Option<String>)>> {
    let name = match list_id {
        None => None,
        Some(id) => match crate::campaigns::contacts::find_list(conn, id)? {
            Some(list) => Some(list.name),
            None => return Ok(None),
        },
    };
    let rows = export_rows(conn, list_id)?;
    audit(
        conn,
        Some(actor),
        "export_contacts",
        "contact_list",
        list_id,
        &format!(
            "{} : {} contacts",
            name.as_deref()
                .map(|n| format!("liste « {n} »"))
                .unwrap_or_else(|| "tous les contacts".to_owned()),
            rows.len()
        ),
    )?;
    Ok(Some((rows, name)))
}

/// Writes contacts in the import's columns, `;`-separated, tags joined by `|`, cells that a
/// spreadsheet would take for a formula neutralised (the import undoes it).
pub fn write_csv<W: std::io::Write>(
    rows: &[ExportRow],
    out: W,
    byte_order_mark: bool,
) -> csv::Result<()> {
    let mut out = out;
    if byte_order_mark {
        out.write_all("\u{feff}".as_bytes())?;
    }
    let mut w = csv::WriterBuilder::new().delimiter(b';').from_writer(out);
    w.write_record(COLUMNS)?;
    for r in rows {
        let cells = [
            r.email.as_str(),
            &r.first_name,
            &r.last_name,
            r.organisation.as_deref().unwrap_or_default(),
            r.kind.code(),
            &r.tags.join("|"),
            &r.city,
            r.legal_basis.code(),
        ];
        w.write_record(cells.iter().map(|c| crate::pipeline::neutralize_cell(c)))?;
    }
    w.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> Defaults {
        Defaults {
            kind: Some(ContactKind::Doctor),
            legal_basis: Some(LegalBasis::LegitimateInterest),
        }
    }

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
    fn kinds_and_legal_bases_are_read_from_codes_or_labels() {
        assert_eq!(
            parse_kind("medecin_retraite"),
            Some(ContactKind::RetiredDoctor)
        );
        assert_eq!(
            parse_kind("Médecin retraité"),
            Some(ContactKind::RetiredDoctor)
        );
        assert_eq!(parse_kind("FACULTÉ"), Some(ContactKind::Faculty));
        assert_eq!(
            parse_kind("Faculté de médecine"),
            Some(ContactKind::Faculty)
        );
        assert_eq!(parse_kind("pharmacien"), None);
        assert_eq!(
            parse_legal_basis("Intérêt légitime"),
            Some(LegalBasis::LegitimateInterest)
        );
        assert_eq!(
            parse_legal_basis("mission_publique"),
            Some(LegalBasis::PublicTask)
        );
        assert_eq!(parse_legal_basis("contrat"), None);
    }

    #[test]
    fn tags_split_on_any_usual_separator_without_duplicates() {
        assert_eq!(
            split_tags("Gers ; salon 2026|gers, MG ,"),
            ["Gers", "salon 2026", "MG"]
        );
        assert!(split_tags(" ").is_empty());
    }

    #[test]
    fn rows_are_checked_with_a_french_reason() {
        let row = |email: &str, kind: &str, basis: &str| RawRow {
            line: 2,
            email: email.into(),
            kind: kind.into(),
            legal_basis: basis.into(),
            ..RawRow::default()
        };
        let ok = check_row(row("A.B@Exemple.fr", "", ""), defaults()).unwrap();
        assert_eq!(ok.email.normalized(), "a.b@exemple.fr");
        assert_eq!(ok.kind, ContactKind::Doctor);
        assert_eq!(ok.legal_basis, LegalBasis::LegitimateInterest);

        let e = check_row(row("", "", ""), defaults()).unwrap_err();
        assert!(e.contains("manquante"), "{e}");
        let e = check_row(row("jean.exemple.fr", "", ""), defaults()).unwrap_err();
        assert!(e.starts_with("Adresse invalide") && e.contains("@"), "{e}");
        let e = check_row(row("a@exemple.fr", "dentiste", ""), defaults()).unwrap_err();
        assert!(e.contains("« dentiste » inconnu"), "{e}");
        let e = check_row(row("a@exemple.fr", "", "contrat"), defaults()).unwrap_err();
        assert!(e.contains("« contrat » inconnue"), "{e}");
        let e = check_row(row("a@exemple.fr", "", ""), Defaults::default()).unwrap_err();
        assert!(e.contains("Type manquant"), "{e}");
    }

    #[test]
    fn fold_removes_case_accents_and_punctuation() {
        assert_eq!(fold("Base légale"), "baselegale");
        assert_eq!(fold("base_legale"), "baselegale");
        assert_eq!(fold("Œuvre"), "oeuvre");
        assert_eq!(fold("E-mail"), "email");
    }

    #[test]
    fn an_export_reads_back_as_the_same_rows() {
        let rows = vec![ExportRow {
            email: "-x@exemple.fr".into(),
            first_name: "=Jean".into(),
            last_name: "Dupont; fils".into(),
            organisation: Some("CHU d'Auch".into()),
            kind: ContactKind::Intern,
            tags: vec!["a".into(), "b c".into()],
            city: "Auch".into(),
            legal_basis: LegalBasis::Consent,
        }];
        let mut out = Vec::new();
        write_csv(&rows, &mut out, true).unwrap();
        let f = parse(&out).unwrap();
        let r = &f.rows[0];
        assert_eq!(r.email, "-x@exemple.fr");
        assert_eq!(r.first_name, "=Jean");
        assert_eq!(r.last_name, "Dupont; fils");
        assert_eq!(r.organisation, "CHU d'Auch");
        assert_eq!(split_tags(&r.tags), ["a", "b c"]);
        assert_eq!(parse_kind(&r.kind), Some(ContactKind::Intern));
        assert_eq!(parse_legal_basis(&r.legal_basis), Some(LegalBasis::Consent));
        assert!(f.ignored_columns.is_empty());
    }
}
