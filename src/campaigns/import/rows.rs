//! One row on its own: kinds, legal bases and tags as people write them, the defaults for
//! rows that omit them, and the French reason a row is rejected.

use super::*;
use crate::db::enums::{ContactKind, LegalBasis};
use crate::domain::EmailAddress;

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
    /// None: a contact known only by post (then `address` is set and the last name given).
    pub email: Option<EmailAddress>,
    pub first_name: String,
    pub last_name: String,
    pub organisation: Option<String>,
    pub kind: ContactKind,
    pub tags: Vec<String>,
    pub city: String,
    pub legal_basis: LegalBasis,
    /// None: the row gives no postal address.
    pub address: Option<crate::domain::PostalAddress>,
}

impl CheckedRow {
    /// What identifies the row's contact: its e-mail address (normalised); without one, its
    /// last name, first name (lower case, spaces collapsed) and postcode, marked so that it
    /// never equals an address.
    pub fn key(&self) -> String {
        match &self.email {
            Some(e) => e.normalized().to_owned(),
            None => {
                let (last, first, postcode) = self.postal_key();
                format!("\u{1f}{last}\u{1f}{first}\u{1f}{postcode}")
            }
        }
    }

    /// Last name, first name (lower case, spaces collapsed) and postcode: how a contact
    /// without an e-mail address is recognised.
    pub fn postal_key(&self) -> (String, String, String) {
        let norm = |s: &str| {
            s.split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase()
        };
        let postcode = self
            .address
            .as_ref()
            .map(|a| a.as_input().postcode)
            .unwrap_or_default();
        (norm(&self.last_name), norm(&self.first_name), postcode)
    }
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
    // Optional: a row with a postal address and no e-mail address is a contact known only by
    // post (checked below, once the address is read).
    let email = if raw.email.is_empty() {
        None
    } else {
        Some(EmailAddress::parse(&raw.email).map_err(|e| format!("Adresse invalide. {e}"))?)
    };
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
    let address = raw.address.parse().map_err(|problems| {
        let what: Vec<String> = problems
            .into_iter()
            .map(|(column, message)| format!("{column} : {message}"))
            .collect();
        format!(
            "Adresse postale refusée (rien n'est coupé). {}",
            what.join(" ")
        )
    })?;
    if email.is_none() {
        if address.is_none() {
            return Err(
                "Ni adresse électronique ni adresse postale : on ne pourrait pas écrire \
                        à ce contact."
                    .to_owned(),
            );
        }
        if raw.last_name.trim().is_empty() {
            return Err(
                "Sans adresse électronique, le nom est nécessaire : avec le prénom et le \
                        code postal, il reconnaît le contact à un nouvel import."
                    .to_owned(),
            );
        }
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
        address,
    })
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
        assert_eq!(
            ok.email.as_ref().map(EmailAddress::normalized),
            Some("a.b@exemple.fr")
        );
        assert_eq!(ok.kind, ContactKind::Doctor);
        assert_eq!(ok.legal_basis, LegalBasis::LegitimateInterest);

        let e = check_row(row("", "", ""), defaults()).unwrap_err();
        assert!(
            e.contains("Ni adresse électronique ni adresse postale"),
            "{e}"
        );
        // Known only by post: a postal address and a last name are enough; the key ignores
        // case and spaces and never equals an e-mail address.
        let by_post = |first: &str, last: &str| RawRow {
            line: 3,
            first_name: first.into(),
            last_name: last.into(),
            address: crate::domain::AddressInput {
                street: "4 rue Dessoles".into(),
                postcode: "32000".into(),
                town: "Auch".into(),
                ..Default::default()
            },
            ..RawRow::default()
        };
        let a = check_row(by_post("Jeanne", "Abadie"), defaults()).unwrap();
        assert!(a.email.is_none());
        let b = check_row(by_post("JEANNE", "abadie"), defaults()).unwrap();
        assert_eq!(a.key(), b.key());
        assert!(!a.key().contains('@'));
        let e = check_row(by_post("Jeanne", ""), defaults()).unwrap_err();
        assert!(e.contains("le nom est nécessaire"), "{e}");
        let e = check_row(row("jean.exemple.fr", "", ""), defaults()).unwrap_err();
        assert!(e.starts_with("Adresse invalide") && e.contains("@"), "{e}");
        let e = check_row(row("a@exemple.fr", "dentiste", ""), defaults()).unwrap_err();
        assert!(e.contains("« dentiste » inconnu"), "{e}");
        let e = check_row(row("a@exemple.fr", "", "contrat"), defaults()).unwrap_err();
        assert!(e.contains("« contrat » inconnue"), "{e}");
        let e = check_row(row("a@exemple.fr", "", ""), Defaults::default()).unwrap_err();
        assert!(e.contains("Type manquant"), "{e}");
    }
}
