use validator::ValidateEmail;

use super::Invalid;

/// An e-mail address as typed (trimmed), with its normalised form (lower case) used to find
/// the same person again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailAddress {
    raw: String,
    normalized: String,
}

impl EmailAddress {
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let raw = input.trim();
        if raw.is_empty() {
            return Err(Invalid::new(
                "Indiquez votre adresse électronique, par exemple prenom.nom@exemple.fr.",
            ));
        }
        if raw.chars().count() > 254 {
            return Err(Invalid::new(
                "Cette adresse électronique est trop longue (254 caractères au plus).",
            ));
        }
        if raw.contains(char::is_whitespace) {
            return Err(Invalid::new(
                "Une adresse électronique ne contient pas d'espace : vérifiez la saisie, par exemple prenom.nom@exemple.fr.",
            ));
        }
        if !raw.contains('@') {
            return Err(Invalid::new(
                "Il manque le « @ » : saisissez une adresse au format prenom.nom@exemple.fr.",
            ));
        }
        let domain = raw.rsplit('@').next().unwrap_or_default();
        if !raw.validate_email() || !domain.contains('.') {
            return Err(Invalid::new(
                "Cette adresse électronique n'est pas valide : saisissez-la au format prenom.nom@exemple.fr.",
            ));
        }
        Ok(EmailAddress {
            raw: raw.to_owned(),
            normalized: raw.to_lowercase(),
        })
    }

    /// [`parse`](Self::parse) for someone else's address, typed by a member of staff: the
    /// message for an empty field says "l'adresse", not "votre adresse".
    pub fn parse_for_someone(input: &str) -> Result<Self, Invalid> {
        Self::parse(input)
            .map_err(|e| Invalid(e.0.replace("Indiquez votre adresse", "Indiquez l'adresse")))
    }

    pub fn as_str(&self) -> &str {
        &self.raw
    }

    pub fn normalized(&self) -> &str {
        &self.normalized
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_trimmed_and_normalised() {
        let e = EmailAddress::parse("  Claire.Martin@Exemple.FR ").unwrap();
        assert_eq!(e.as_str(), "Claire.Martin@Exemple.FR");
        assert_eq!(e.normalized(), "claire.martin@exemple.fr");
    }

    #[test]
    fn malformed_addresses_are_refused_with_a_hint() {
        for bad in [
            "",
            "claire",
            "claire@",
            "claire@exemple",
            "a b@c.fr",
            "@exemple.fr",
        ] {
            let e = EmailAddress::parse(bad).unwrap_err();
            assert!(e.0.contains("exemple.fr"), "{bad}: {e}");
        }
    }
}
