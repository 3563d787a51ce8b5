//! The export, in the import's columns so that it imports again as it was.

use diesel::prelude::*;

use super::*;
use crate::db::enums::{ContactKind, LegalBasis};
use crate::db::schema::{contacts, list_members, organisations};
use crate::staff::audit::audit;

/// One contact as exported.
#[derive(Debug, Clone, Queryable)]
pub struct ExportRow {
    /// Empty for a contact known only by post.
    pub email: Option<String>,
    pub first_name: String,
    pub last_name: String,
    pub organisation: Option<String>,
    pub kind: ContactKind,
    pub tags: Vec<String>,
    pub city: String,
    pub legal_basis: LegalBasis,
    /// complement, building, street, lieu-dit, postcode, commune, country.
    pub address: (String, String, String, String, String, String, String),
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
            (
                contacts::address_complement,
                contacts::address_building,
                contacts::address_street,
                contacts::address_locality,
                contacts::postcode,
                contacts::postal_town,
                contacts::country,
            ),
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
            r.email.as_deref().unwrap_or_default(),
            &r.first_name,
            &r.last_name,
            r.organisation.as_deref().unwrap_or_default(),
            r.kind.code(),
            &r.tags.join("|"),
            &r.city,
            r.legal_basis.code(),
            &r.address.0,
            &r.address.1,
            &r.address.2,
            &r.address.3,
            &r.address.4,
            &r.address.5,
            &r.address.6,
        ];
        w.write_record(cells.iter().map(|c| crate::pipeline::neutralize_cell(c)))?;
    }
    w.flush()?;
    Ok(())
}

/// Writes rejected rows to correct and import again: the import's columns and a « motif »
/// column (ignored by the import), UTF-8 with a byte-order mark and `;` so that Excel opens
/// it, formula-looking cells neutralised (the import undoes it).
pub fn write_rejected_csv<W: std::io::Write>(rows: &[RowReport], out: W) -> csv::Result<()> {
    let mut out = out;
    out.write_all("\u{feff}".as_bytes())?;
    let mut w = csv::WriterBuilder::new().delimiter(b';').from_writer(out);
    w.write_record(COLUMNS.iter().copied().chain(["motif"]))?;
    for r in rows {
        let mut cells: Vec<&str> = r.cells.iter().map(String::as_str).collect();
        if cells.is_empty() {
            // A report kept before the rows' values were: the address at least.
            cells.push(&r.email);
        }
        cells.resize(COLUMNS.len(), "");
        cells.push(&r.reason);
        w.write_record(cells.iter().map(|c| crate::pipeline::neutralize_cell(c)))?;
    }
    w.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_export_reads_back_as_the_same_rows() {
        let rows = vec![ExportRow {
            email: Some("-x@exemple.fr".into()),
            first_name: "=Jean".into(),
            last_name: "Dupont; fils".into(),
            organisation: Some("CHU d'Auch".into()),
            kind: ContactKind::Intern,
            tags: vec!["a".into(), "b c".into()],
            city: "Auch".into(),
            legal_basis: LegalBasis::Consent,
            address: (
                "Appt 3".into(),
                String::new(),
                "=12 rue des Écoles".into(),
                String::new(),
                "32000".into(),
                "AUCH".into(),
                String::new(),
            ),
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
        assert_eq!(r.address.complement, "Appt 3");
        assert_eq!(r.address.street, "=12 rue des Écoles");
        assert_eq!(
            (r.address.postcode.as_str(), r.address.town.as_str()),
            ("32000", "AUCH")
        );
        assert!(f.ignored_columns.is_empty());
    }

    #[test]
    fn rejected_rows_read_back_with_their_reason_in_an_ignored_column() {
        let rows = vec![RowReport {
            line: 3,
            email: "=cmd|' /C calc'!A0".into(),
            outcome: Outcome::Rejected,
            reason: "Adresse invalide.".into(),
            cells: vec![
                "=cmd|' /C calc'!A0".into(),
                "Élise".into(),
                "@Dupont".into(),
            ],
        }];
        let mut out = Vec::new();
        write_rejected_csv(&rows, &mut out).unwrap();
        assert!(out.starts_with("\u{feff}email;prenom;nom;".as_bytes()));
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(text.contains("'=cmd"), "{text}");
        assert!(text.contains(";'@Dupont;"), "{text}");
        let f = parse(&out).unwrap();
        assert_eq!(f.ignored_columns, ["motif"]);
        assert_eq!(f.rows[0].email, "=cmd|' /C calc'!A0");
        assert_eq!(f.rows[0].first_name, "Élise");
        assert_eq!(f.rows[0].last_name, "@Dupont");
    }
}
