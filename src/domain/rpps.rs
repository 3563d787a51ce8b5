use super::Invalid;

/// An RPPS number (Répertoire partagé des professionnels de santé): 11 digits whose last digit
/// is a Luhn key computed over the whole number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rpps(String);

impl Rpps {
    /// Parses an RPPS number; spaces, dots and dashes people type between groups are ignored.
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let digits: String = input
            .chars()
            .filter(|c| !matches!(c, ' ' | '.' | '-' | '\u{a0}'))
            .collect();
        if digits.chars().any(|c| !c.is_ascii_digit()) {
            return Err(Invalid::new(
                "Le numéro RPPS ne contient que des chiffres (11 chiffres, par exemple 10101234567).",
            ));
        }
        if digits.len() != 11 {
            return Err(Invalid::new(format!(
                "Le numéro RPPS compte 11 chiffres ; vous en avez saisi {}. Il figure sur votre carte CPS.",
                digits.len()
            )));
        }
        if !luhn_valid(&digits) {
            return Err(Invalid::new(
                "Ce numéro RPPS n'est pas valide (la clé de contrôle ne correspond pas) : vérifiez chaque chiffre sur votre carte CPS.",
            ));
        }
        Ok(Rpps(digits))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The Luhn (mod 10) check over every digit, the last being the key.
fn luhn_valid(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 {
                    doubled - 9
                } else {
                    doubled
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shared test vectors, copied from ../shared/data/rpps_vectors.txt.
    const VECTORS: &str = include_str!("../../tests/data/rpps_vectors.txt");

    #[test]
    fn the_shared_vectors_are_classified_correctly() {
        let mut seen = 0;
        for line in VECTORS
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            seen += 1;
            match line.strip_prefix('!') {
                Some(bad) => assert!(Rpps::parse(bad).is_err(), "{bad} must be rejected"),
                None => assert_eq!(Rpps::parse(line).unwrap().as_str(), line),
            }
        }
        assert!(seen >= 10);
    }

    #[test]
    fn separators_are_ignored() {
        assert_eq!(
            Rpps::parse("101 3243 7004").unwrap().as_str(),
            "10132437004"
        );
    }

    #[test]
    fn the_message_says_how_many_digits_were_typed() {
        let e = Rpps::parse("1013243700").unwrap_err();
        assert!(e.0.contains("10"), "{e}");
    }
}
