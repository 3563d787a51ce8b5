//! A postal address as La Poste's standard NF Z10-011 lays it out: at most six lines of at most
//! 38 characters, in this order (empty lines left out):
//!
//! 1. the recipient (built from the contact's name, not stored here);
//! 2. a complement about the delivery point (« Appartement 12, chez … »);
//! 3. a complement about the building (« Bâtiment B, Résidence des Pins »);
//! 4. the number and the street (« 12 rue des Écoles »);
//! 5. a special distribution mention or the lieu-dit (« BP 40 », « Lieu-dit Le Bourg »);
//! 6. the postcode and the commune in capitals (« 32000 AUCH »);
//!
//! and, for an address abroad, the country in capitals on the last line. A French address needs
//! a valid postcode (five digits of an existing département number); nothing is ever cut: a line
//! too long or a seventh line is an error, reported at the field with its French message.

use super::has_control;

/// Longest line on an envelope (NF Z10-011).
pub const MAX_LINE: usize = 38;
/// Most lines in an address block, the recipient's name included (NF Z10-011).
pub const MAX_LINES: usize = 6;

/// The address as typed, field by field (form fields and CSV columns alike).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressInput {
    pub complement: String,
    pub building: String,
    pub street: String,
    pub locality: String,
    pub postcode: String,
    pub town: String,
    pub country: String,
}

/// A checked address (without the recipient line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostalAddress {
    complement: String,
    building: String,
    street: String,
    locality: String,
    postcode: String,
    town: String,
    /// Empty for France.
    country: String,
}

/// A field and what is wrong with it, in French. Field names are those of the contact form.
pub type AddressError = (&'static str, String);

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn is_france(country: &str) -> bool {
    country.is_empty() || matches!(country.to_uppercase().as_str(), "FRANCE" | "FR")
}

/// A French postcode: five digits, the first two naming a département of metropolitan France
/// (01–95, Corsica being 20) or an overseas one (971–976, 98 for Monaco and the Pacific).
pub fn valid_french_postcode(code: &str) -> bool {
    if code.len() != 5 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let dep: u32 = code[..2].parse().unwrap_or(0);
    match dep {
        1..=95 => true,
        97 => matches!(&code[2..3], "1" | "2" | "3" | "4" | "5" | "6"),
        98 => true,
        _ => false,
    }
}

impl AddressInput {
    /// True when nothing was typed: the contact has no postal address.
    pub fn is_empty(&self) -> bool {
        [
            &self.complement,
            &self.building,
            &self.street,
            &self.locality,
            &self.postcode,
            &self.town,
            &self.country,
        ]
        .iter()
        .all(|v| v.trim().is_empty())
    }

    /// Checks the address: `Ok(None)` when empty, every problem found otherwise.
    pub fn parse(&self) -> Result<Option<PostalAddress>, Vec<AddressError>> {
        if self.is_empty() {
            return Ok(None);
        }
        let mut errors: Vec<AddressError> = Vec::new();
        let fields = [
            ("adresse_complement", &self.complement),
            ("adresse_batiment", &self.building),
            ("adresse_voie", &self.street),
            ("adresse_lieu_dit", &self.locality),
            ("code_postal", &self.postcode),
            ("commune_postale", &self.town),
            ("pays", &self.country),
        ];
        for (field, value) in fields {
            if has_control(value) {
                errors.push((
                    field,
                    "Ce champ contient un caractère invisible : retapez-le.".to_owned(),
                ));
            }
        }
        let complement = one_line(&self.complement);
        let building = one_line(&self.building);
        let street = one_line(&self.street);
        let locality = one_line(&self.locality);
        let postcode = one_line(&self.postcode).to_uppercase();
        let town = one_line(&self.town).to_uppercase();
        let country = one_line(&self.country).to_uppercase();
        let france = is_france(&country);
        if town.is_empty() {
            errors.push((
                "commune_postale",
                "Indiquez la commune (ou le bureau distributeur).".to_owned(),
            ));
        }
        if france {
            if postcode.is_empty() {
                errors.push((
                    "code_postal",
                    "Indiquez le code postal (cinq chiffres, par exemple 32000).".to_owned(),
                ));
            } else if !valid_french_postcode(&postcode) {
                errors.push((
                    "code_postal",
                    format!(
                        "« {} » n'est pas un code postal français : cinq chiffres, par exemple \
                         32000.",
                        postcode.chars().take(20).collect::<String>()
                    ),
                ));
            }
        }
        if street.is_empty() && locality.is_empty() {
            errors.push((
                "adresse_voie",
                "Indiquez le numéro et la voie, ou le lieu-dit ou la boîte postale.".to_owned(),
            ));
        }
        let address = PostalAddress {
            complement,
            building,
            street,
            locality,
            postcode,
            town,
            country: if france { String::new() } else { country },
        };
        let checks = [
            ("adresse_complement", &address.complement),
            ("adresse_batiment", &address.building),
            ("adresse_voie", &address.street),
            ("adresse_lieu_dit", &address.locality),
            ("pays", &address.country),
        ];
        for (field, value) in checks {
            let n = value.chars().count();
            if n > MAX_LINE {
                errors.push((
                    field,
                    format!(
                        "Une ligne d'adresse compte {MAX_LINE} caractères au plus (celle-ci en \
                         a {n}) : abrégez-la (« bd », « av », « bât »…)."
                    ),
                ));
            }
        }
        let last = address.town_line().chars().count();
        if last > MAX_LINE {
            errors.push((
                "commune_postale",
                format!(
                    "La ligne « code postal et commune » compte {MAX_LINE} caractères au plus \
                     (celle-ci en a {last}) : abrégez la commune (« ST » pour « SAINT »)."
                ),
            ));
        }
        // The recipient's name takes the first line.
        let lines = 1 + address.lines().len();
        if lines > MAX_LINES {
            errors.push((
                "adresse_complement",
                format!(
                    "Une adresse compte {MAX_LINES} lignes au plus, nom compris (celle-ci en \
                     aurait {lines}) : regroupez les compléments sur une ligne."
                ),
            ));
        }
        if errors.is_empty() {
            Ok(Some(address))
        } else {
            Err(errors)
        }
    }
}

impl PostalAddress {
    /// The « code postal commune » line.
    fn town_line(&self) -> String {
        if self.postcode.is_empty() {
            self.town.clone()
        } else {
            format!("{} {}", self.postcode, self.town)
        }
    }

    /// The address lines after the recipient's, as printed.
    pub fn lines(&self) -> Vec<String> {
        let mut lines: Vec<String> = [
            &self.complement,
            &self.building,
            &self.street,
            &self.locality,
        ]
        .into_iter()
        .filter(|l| !l.is_empty())
        .cloned()
        .collect();
        lines.push(self.town_line());
        if !self.country.is_empty() {
            lines.push(self.country.clone());
        }
        lines
    }

    /// The whole block, recipient first; refused (with a French reason) when the name line
    /// is too long, since nothing is cut.
    pub fn block(&self, recipient: &str) -> Result<Vec<String>, String> {
        let name = one_line(recipient);
        let n = name.chars().count();
        if n > MAX_LINE {
            return Err(format!(
                "le nom compte {n} caractères, {MAX_LINE} au plus sur une enveloppe"
            ));
        }
        let mut block = Vec::with_capacity(MAX_LINES);
        if !name.is_empty() {
            block.push(name);
        }
        block.extend(self.lines());
        Ok(block)
    }

    pub fn as_input(&self) -> AddressInput {
        AddressInput {
            complement: self.complement.clone(),
            building: self.building.clone(),
            street: self.street.clone(),
            locality: self.locality.clone(),
            postcode: self.postcode.clone(),
            town: self.town.clone(),
            country: self.country.clone(),
        }
    }

    pub fn complement(&self) -> &str {
        &self.complement
    }
    pub fn building(&self) -> &str {
        &self.building
    }
    pub fn street(&self) -> &str {
        &self.street
    }
    pub fn locality(&self) -> &str {
        &self.locality
    }
    pub fn postcode(&self) -> &str {
        &self.postcode
    }
    pub fn town(&self) -> &str {
        &self.town
    }
    pub fn country(&self) -> &str {
        &self.country
    }
}

/// The address as the seven CSV columns of contacts (import report, export): complement,
/// building, street, locality, postcode, town, country; all empty without an address.
pub fn columns(a: Option<&PostalAddress>) -> [String; 7] {
    let i = a.map(PostalAddress::as_input).unwrap_or_default();
    [
        i.complement,
        i.building,
        i.street,
        i.locality,
        i.postcode,
        i.town,
        i.country,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(street: &str, postcode: &str, town: &str) -> AddressInput {
        AddressInput {
            street: street.into(),
            postcode: postcode.into(),
            town: town.into(),
            ..AddressInput::default()
        }
    }

    #[test]
    fn a_french_address_is_laid_out_as_la_poste_asks() {
        let a = AddressInput {
            complement: "Appartement  12".into(),
            ..input(" 12 rue des Écoles ", "32000", "Auch")
        }
        .parse()
        .unwrap()
        .unwrap();
        assert_eq!(
            a.block("Claire Martin").unwrap(),
            [
                "Claire Martin",
                "Appartement 12",
                "12 rue des Écoles",
                "32000 AUCH"
            ]
        );
        assert_eq!(AddressInput::default().parse(), Ok(None));
    }

    #[test]
    fn postcodes_are_checked_for_france_only() {
        for bad in ["3200", "320000", "00100", "96000", "99000", "AB123", ""] {
            let e = input("1 rue A", bad, "Auch").parse().unwrap_err();
            assert!(e.iter().any(|(f, _)| *f == "code_postal"), "{bad}: {e:?}");
        }
        for good in ["01000", "20000", "32000", "97400", "98000"] {
            assert!(input("1 rue A", good, "X").parse().is_ok(), "{good}");
        }
        let abroad = AddressInput {
            country: "Belgique".into(),
            ..input("Rue Haute 5", "B-1000", "Bruxelles")
        }
        .parse()
        .unwrap()
        .unwrap();
        assert_eq!(
            abroad.lines(),
            ["Rue Haute 5", "B-1000 BRUXELLES", "BELGIQUE"]
        );
    }

    #[test]
    fn nothing_is_cut_long_lines_and_a_seventh_line_are_errors() {
        let long = "x".repeat(MAX_LINE + 1);
        let e = input(&long, "32000", "Auch").parse().unwrap_err();
        assert!(e
            .iter()
            .any(|(f, m)| *f == "adresse_voie" && m.contains("38")));
        let seven = AddressInput {
            complement: "Appt 1".into(),
            building: "Bât A".into(),
            locality: "BP 12".into(),
            country: "Espagne".into(),
            ..input("1 calle Mayor", "28001", "Madrid")
        };
        let e = seven.parse().unwrap_err();
        assert!(e.iter().any(|(_, m)| m.contains("6 lignes")), "{e:?}");
        let ok = input("1 rue A", "32000", "Auch").parse().unwrap().unwrap();
        assert!(ok.block(&"N".repeat(39)).is_err());
        let e = input("1 rue\u{0}A", "32000", "Auch").parse().unwrap_err();
        assert!(e.iter().any(|(f, _)| *f == "adresse_voie"));
    }
}
