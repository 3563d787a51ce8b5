//! CSV import of contacts into a list, shared by the staff pages and the command line, and the
//! export in the same columns (so that an export imports again as it was).
//!
//! The file: a header row with French column names (case and accents ignored): `email`
//! (required), `prenom`, `nom`, `organisation`, `type`, `etiquettes`, `ville`, `base_legale`,
//! and the postal address (issue 19): `adresse_complement`, `adresse_batiment`, `adresse_voie`,
//! `adresse_lieu_dit`, `code_postal`, `commune_postale`, `pays` (checked by
//! [`crate::domain::postal`]: a line over 38 characters, more than 6 lines or a French address
//! without a valid postcode rejects the row, nothing is cut);
//! `,`, `;` or a tab as delimiter (detected); UTF-8 with or without a byte-order mark, UTF-16
//! with its mark, or Windows-1252 (what Excel writes by default on a French Windows), detected
//! and shown in the preview. At most [`MAX_ROWS`] rows.
//!
//! Each row ends up in the report as added, already known (added to the list, or already in
//! it), or rejected with the reason. A known address is never overwritten: only its empty fields
//! are filled and tags added; its status never changes. A suppressed address is never brought
//! back. The file is read row by row and checked against the database in chunks of 5,000 rows
//! (a handful of queries each, writes batched with `unnest` arrays), all in one transaction: a
//! preview runs the same code without writing. 100,000 rows take seconds, in little memory.

mod chunks;
mod export;
mod file;
mod report;
mod rows;
mod staging;

use chunks::run;
pub use export::*;
pub use file::*;
pub use report::*;
pub use rows::*;
pub use staging::*;

/// The columns of the format, in the order the export writes them.
pub const COLUMNS: [&str; 15] = [
    "email",
    "prenom",
    "nom",
    "organisation",
    "type",
    "etiquettes",
    "ville",
    "base_legale",
    "adresse_complement",
    "adresse_batiment",
    "adresse_voie",
    "adresse_lieu_dit",
    "code_postal",
    "commune_postale",
    "pays",
];

/// Most data rows in one file (a larger one is refused: split it).
pub const MAX_ROWS: usize = 100_000;
/// Longest cell kept in a stored report's rejected row (a longer one is rejected anyway).
const MAX_KEPT_CELL: usize = 300;
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
