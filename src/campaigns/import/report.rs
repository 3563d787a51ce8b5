//! What an import did or would do: each row's outcome, the counts, the report shown and the
//! part of it kept once applied.

use serde::{Deserialize, Serialize};

use super::*;

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

    /// As a preview says it: what the import would do, not what it did.
    pub fn preview_label(self) -> &'static str {
        match self {
            Outcome::Added => "À ajouter",
            Outcome::AddedToList => "Déjà connu, à ajouter à la liste",
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
    /// The row's values in the order of [`COLUMNS`] (for its names in the preview and the
    /// download of the rejected rows); empty in reports kept before they were.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cells: Vec<String>,
}

impl RowReport {
    /// « Prénom Nom » as the file gives them.
    pub fn name(&self) -> String {
        let part = |i: usize| self.cells.get(i).map(String::as_str).unwrap_or("");
        format!("{} {}", part(1), part(2)).trim().to_owned()
    }
}

impl RawRow {
    /// The values in the order of [`COLUMNS`].
    pub fn cells(&self) -> Vec<String> {
        [
            &self.email,
            &self.first_name,
            &self.last_name,
            &self.organisation,
            &self.kind,
            &self.tags,
            &self.city,
            &self.legal_basis,
            &self.address.complement,
            &self.address.building,
            &self.address.street,
            &self.address.locality,
            &self.address.postcode,
            &self.address.town,
            &self.address.country,
        ]
        .iter()
        .map(|c| c.chars().take(MAX_KEPT_CELL).collect())
        .collect()
    }
}

impl CheckedRow {
    /// The values in the order of [`COLUMNS`], as the file could give them again.
    pub fn cells(&self) -> Vec<String> {
        let mut cells = vec![
            self.email
                .as_ref()
                .map(|e| e.as_str().to_owned())
                .unwrap_or_default(),
            self.first_name.clone(),
            self.last_name.clone(),
            self.organisation.clone().unwrap_or_default(),
            self.kind.code().to_owned(),
            self.tags.join("|"),
            self.city.clone(),
            self.legal_basis.code().to_owned(),
        ];
        cells.extend(crate::domain::postal::columns(self.address.as_ref()));
        cells
    }
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
    /// How the file was read (« Encodage : … · Séparateur : … »).
    pub format: String,
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
    /// How the file was read (empty in reports kept before it was).
    #[serde(default)]
    pub format: String,
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
    pub(super) fn record(&mut self, row: RowReport) {
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
            format: self.format.clone(),
            counts: self.counts,
            rejected_not_kept: self.counts.rejected - rejected.len(),
            rejected,
            ignored_columns: self.ignored_columns.clone(),
            new_organisations: self.new_organisations.clone(),
        }
    }
}
