//! What the print shop gets from a produced letter campaign: the letters in postal order
//! (postcode, then commune, then name; addresses abroad last), as one merged PDF written by
//! [`crate::print::write_letters`] and as a CSV of the address blocks in the same order; and
//! one contact's letter on its own (the preview).
//!
//! The rows are read once (a few hundred bytes each: 10,000 letters are a few MB); each letter
//! is rendered from its template only when the PDF writer asks for it, and the PDF goes to the
//! writer given (a pipe to the HTTP response), never into one buffer.

use std::cell::RefCell;
use std::io::Write;

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use super::{block, code, AddressColumns, LetterCampaign};
use crate::campaigns::template::{Compiled, Personalisation};
use crate::print::{Letter, Sender};

/// One letter of a run, as the database gives it.
#[derive(Debug, Clone, QueryableByName)]
pub struct LetterRow {
    #[diesel(sql_type = BigInt)]
    pub delivery_id: i64,
    #[diesel(sql_type = Text)]
    pub code: String,
    #[diesel(sql_type = BigInt)]
    pub contact_id: i64,
    #[diesel(sql_type = Text)]
    pub first_name: String,
    #[diesel(sql_type = Text)]
    pub last_name: String,
    #[diesel(sql_type = Text)]
    pub organisation: String,
    #[diesel(sql_type = Text)]
    pub city: String,
    #[diesel(embed)]
    pub address: AddressColumns,
}

impl LetterRow {
    /// The address block (None when the contact's address has since become unusable).
    pub fn block(&self) -> Option<Vec<String>> {
        block(
            &self.first_name,
            &self.last_name,
            &self.organisation,
            &self.address.input(),
        )
        .ok()
        .flatten()
    }
}

/// The run's letters whose contact still exists and may still be written to, in postal order.
const LETTERS: &str = "SELECT d.id AS delivery_id, d.letter_code AS code, c.id AS contact_id, \
        c.first_name, c.last_name, coalesce(o.name, '') AS organisation, c.city, \
        c.address_complement, c.address_building, c.address_street, c.address_locality, \
        c.postcode, c.postal_town, c.country \
    FROM deliveries d \
    JOIN campaign_runs r ON r.id = d.run_id \
    JOIN contacts c ON c.id = d.contact_id \
    LEFT JOIN organisations o ON o.id = c.organisation_id \
    WHERE r.campaign_id = $1 AND d.letter_code IS NOT NULL \
      AND NOT c.deceased AND c.no_letters_at IS NULL \
      AND ($2 = 0 OR d.id = $2) \
    ORDER BY (c.country <> ''), c.postcode, c.postal_town, c.last_name, c.first_name, d.id";

/// The letters of a campaign in postal order. A contact whose address no longer fits the
/// envelope (changed since the production) is left out rather than cut.
pub fn letters(conn: &mut PgConnection, campaign_id: i64) -> QueryResult<Vec<LetterRow>> {
    let mut rows: Vec<LetterRow> = diesel::sql_query(LETTERS)
        .bind::<BigInt, _>(campaign_id)
        .bind::<BigInt, _>(0i64)
        .load(conn)?;
    rows.retain(|r| r.block().is_some());
    Ok(rows)
}

/// One letter of a campaign.
pub fn letter(
    conn: &mut PgConnection,
    campaign_id: i64,
    delivery_id: i64,
) -> QueryResult<Option<LetterRow>> {
    if delivery_id <= 0 {
        return Ok(None);
    }
    Ok(diesel::sql_query(LETTERS)
        .bind::<BigInt, _>(campaign_id)
        .bind::<BigInt, _>(delivery_id)
        .get_result::<LetterRow>(conn)
        .optional()?
        .filter(|r| r.block().is_some()))
}

/// The personal short link of a code.
pub fn link(public_url: &str, code: &str) -> String {
    format!("{}/c/{code}", public_url.trim_end_matches('/'))
}

/// The page where the recipient asks to receive no more letters.
pub fn stop_link(public_url: &str, code: &str) -> String {
    format!(
        "{}/c/{code}/ne-plus-ecrire",
        public_url.trim_end_matches('/')
    )
}

/// The sender as configured.
pub fn sender(settings: &crate::config::LetterSettings) -> Sender {
    Sender {
        name: settings.sender_name.clone(),
        service: settings.service.clone(),
        address_lines: settings.address_lines.clone(),
        place: settings.place.clone(),
    }
}

/// The date a letter carries: the day it was produced, in Paris.
pub fn letter_date(produced_at: DateTime<Utc>) -> NaiveDate {
    produced_at
        .with_timezone(&chrono_tz::Europe::Paris)
        .date_naive()
}

/// Renders letters one at a time for the PDF writer.
pub struct Composer {
    compiled: Compiled,
    public_url: String,
    date: NaiveDate,
}

impl Composer {
    pub fn new(
        campaign: &LetterCampaign,
        public_url: &str,
        date: NaiveDate,
    ) -> Result<Composer, String> {
        Composer::from_source(&campaign.source(), public_url, date)
    }

    /// A composer for a letter's subject and body as typed (before they are saved).
    pub fn from_source(
        source: &crate::campaigns::template::TemplateSource,
        public_url: &str,
        date: NaiveDate,
    ) -> Result<Composer, String> {
        let compiled = Compiled::compile(source).map_err(|e| {
            e.0.into_iter()
                .map(|(_, m)| m)
                .collect::<Vec<_>>()
                .join(" ; ")
        })?;
        Ok(Composer {
            compiled,
            public_url: public_url.trim_end_matches('/').to_owned(),
            date,
        })
    }

    /// The letter for a row, or why it cannot be written.
    pub fn compose(&self, row: &LetterRow) -> Result<Letter, String> {
        let address = row
            .block()
            .ok_or_else(|| format!("lettre n° {} : adresse inutilisable", row.delivery_id))?;
        self.compose_for(
            address,
            &row.first_name,
            &row.last_name,
            &row.organisation,
            &row.city,
            &row.code,
        )
    }

    /// The sample letter (a made-up contact) the preview shows and the form checks.
    pub fn sample(&self) -> Result<Letter, String> {
        self.compose_for(
            vec![
                "Camille Durand".to_owned(),
                "12 rue des Écoles".to_owned(),
                "31000 TOULOUSE".to_owned(),
            ],
            "Camille",
            "Durand",
            "Faculté de santé de Toulouse",
            "Toulouse",
            "00000000",
        )
    }

    /// A letter for given values (a real contact, or the sample of the preview).
    pub fn compose_for(
        &self,
        address: Vec<String>,
        first_name: &str,
        last_name: &str,
        organisation: &str,
        city: &str,
        letter_code: &str,
    ) -> Result<Letter, String> {
        let link = link(&self.public_url, letter_code);
        let values = Personalisation::new(
            first_name,
            last_name,
            organisation,
            city,
            link.clone(),
            stop_link(&self.public_url, letter_code),
        );
        let parts = self.compiled.render_parts(&values)?;
        Ok(Letter {
            address,
            date: self.date,
            subject: parts.subject,
            body: parts.text,
            link,
            code: code::display(letter_code),
        })
    }
}

/// Writes the letters of `rows`, in their order, as one PDF into `out`; the number of pages.
/// A letter that cannot be composed stops the file with an error (it would be incomplete).
pub fn write_pdf<W: Write>(
    sender: &Sender,
    composer: &Composer,
    rows: &[LetterRow],
    out: W,
) -> std::io::Result<u32> {
    let failure: RefCell<Option<String>> = RefCell::new(None);
    let letters = rows.iter().map_while(|row| match composer.compose(row) {
        Ok(letter) => Some(letter),
        Err(why) => {
            *failure.borrow_mut() = Some(why);
            None
        }
    });
    let pages = crate::print::write_letters(sender, letters, out)?;
    match failure.into_inner() {
        Some(why) => Err(std::io::Error::new(std::io::ErrorKind::InvalidData, why)),
        None => Ok(pages),
    }
}

/// The CSV for the print shop: one row per letter in the same postal order, the code and the
/// six address lines (empty cells when fewer), UTF-8 with a byte-order mark, `;` separated,
/// formula-looking cells neutralised.
pub fn write_csv<W: Write>(rows: &[LetterRow], out: W) -> csv::Result<()> {
    let mut w = csv::WriterBuilder::new().delimiter(b';').from_writer(out);
    w.write_record([
        "ordre",
        "code",
        "ligne_1",
        "ligne_2",
        "ligne_3",
        "ligne_4",
        "ligne_5",
        "ligne_6",
        "code_postal",
        "pays",
    ])?;
    for (i, row) in rows.iter().enumerate() {
        let Some(lines) = row.block() else { continue };
        let mut record = vec![(i + 1).to_string(), code::display(&row.code)];
        for n in 0..crate::domain::postal::MAX_LINES {
            record.push(crate::pipeline::neutralize_cell(
                lines.get(n).map(String::as_str).unwrap_or(""),
            ));
        }
        record.push(crate::pipeline::neutralize_cell(&row.address.postcode));
        record.push(crate::pipeline::neutralize_cell(&row.address.country));
        w.write_record(&record)?;
    }
    w.flush()?;
    Ok(())
}
