use super::Invalid;

/// A telephone number as typed, with its E.164 form (+33612345678) used to find the same person
/// again. French numbers may be written with spaces, dots or dashes, with 0, +33 or 0033; other
/// countries need their international prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneNumber {
    raw: String,
    e164: String,
}

impl PhoneNumber {
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let raw = input.trim();
        if raw.is_empty() {
            return Err(Invalid::new(
                "Indiquez un numéro de téléphone où vous joindre, par exemple 06 12 34 56 78.",
            ));
        }
        let mut compact = String::with_capacity(raw.len());
        for (i, c) in raw.chars().enumerate() {
            match c {
                '0'..='9' => compact.push(c),
                '+' if i == 0 => compact.push('+'),
                ' ' | '.' | '-' | '(' | ')' | '/' | '\u{a0}' => {}
                _ => {
                    return Err(Invalid::new(
                        "Le numéro de téléphone ne contient que des chiffres (et + pour l'international), par exemple 06 12 34 56 78.",
                    ))
                }
            }
        }
        let international = if let Some(rest) = compact.strip_prefix('+') {
            rest.to_owned()
        } else if let Some(rest) = compact.strip_prefix("00") {
            rest.to_owned()
        } else if compact.len() == 10 && compact.starts_with('0') {
            format!("33{}", &compact[1..])
        } else {
            return Err(Invalid::new(
                "Saisissez un numéro français à 10 chiffres (06 12 34 56 78) ou un numéro international commençant par + (+32 470 12 34 56).",
            ));
        };
        if let Some(national) = international.strip_prefix("33") {
            // +33 0 6… is a common way of writing it: drop the trunk zero.
            let national = national.strip_prefix('0').unwrap_or(national);
            if national.len() != 9 || national.starts_with('0') {
                return Err(Invalid::new(
                    "Un numéro français compte 10 chiffres, par exemple 06 12 34 56 78 ou +33 6 12 34 56 78.",
                ));
            }
            return Ok(PhoneNumber {
                raw: raw.to_owned(),
                e164: format!("+33{national}"),
            });
        }
        if !(8..=15).contains(&international.len()) || international.starts_with('0') {
            return Err(Invalid::new(
                "Ce numéro international n'est pas valide : indiquez l'indicatif du pays puis le numéro, par exemple +32 470 12 34 56.",
            ));
        }
        Ok(PhoneNumber {
            raw: raw.to_owned(),
            e164: format!("+{international}"),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.raw
    }

    pub fn e164(&self) -> &str {
        &self.e164
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn french_numbers_in_every_usual_writing_are_one_number() {
        for written in [
            "06 12 34 56 78",
            "06.12.34.56.78",
            "0612345678",
            "+33 6 12 34 56 78",
            "+33 (0)6 12 34 56 78",
            "0033612345678",
        ] {
            assert_eq!(
                PhoneNumber::parse(written).unwrap().e164(),
                "+33612345678",
                "{written}"
            );
        }
    }

    #[test]
    fn foreign_numbers_keep_their_country_code() {
        assert_eq!(
            PhoneNumber::parse("+32 470 12 34 56").unwrap().e164(),
            "+32470123456"
        );
    }

    #[test]
    fn wrong_numbers_are_refused() {
        for bad in [
            "",
            "06 12 34",
            "06 12 34 56 78 90",
            "abc",
            "612345678",
            "+33 12",
        ] {
            assert!(PhoneNumber::parse(bad).is_err(), "{bad}");
        }
    }
}
