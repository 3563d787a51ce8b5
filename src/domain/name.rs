use super::Invalid;

/// A first or last name: trimmed, inner white space folded, 1 to 100 characters, no control
/// characters. Stored exactly as typed otherwise (escaping is the renderer's job).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonName(String);

impl PersonName {
    pub fn parse(input: &str, what: &str) -> Result<Self, Invalid> {
        let folded = input.split_whitespace().collect::<Vec<_>>().join(" ");
        if folded.is_empty() {
            return Err(Invalid::new(format!("Indiquez votre {what}.")));
        }
        if folded.chars().count() > 100 {
            return Err(Invalid::new(format!(
                "Votre {what} est trop long : 100 caractères au plus."
            )));
        }
        if folded.chars().any(char::is_control) {
            return Err(Invalid::new(format!(
                "Votre {what} contient un caractère invisible : retapez-le."
            )));
        }
        Ok(PersonName(folded))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Free text (a message): line breaks kept, other control characters removed, length bounded.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FreeText(String);

impl FreeText {
    pub fn parse(input: &str, max_chars: usize) -> Result<Self, Invalid> {
        let cleaned: String = input
            .replace("\r\n", "\n")
            .chars()
            .filter(|c| *c == '\n' || *c == '\t' || !c.is_control())
            .collect();
        let cleaned = cleaned.trim().to_owned();
        let count = cleaned.chars().count();
        if count > max_chars {
            return Err(Invalid::new(format!(
                "Votre message compte {count} caractères ; raccourcissez-le à {max_chars} au plus."
            )));
        }
        Ok(FreeText(cleaned))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_folded_and_hostile_text_is_kept_as_typed() {
        assert_eq!(
            PersonName::parse("  Jean   Pierre ", "prénom")
                .unwrap()
                .as_str(),
            "Jean Pierre"
        );
        let hostile = "<script>alert(1)</script> {{x}} '; DROP TABLE candidates; --";
        assert_eq!(PersonName::parse(hostile, "nom").unwrap().as_str(), hostile);
    }

    #[test]
    fn empty_and_overlong_names_are_refused() {
        assert!(PersonName::parse("   ", "nom").is_err());
        assert!(PersonName::parse(&"a".repeat(101), "nom").is_err());
    }
}
